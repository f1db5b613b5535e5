//! The Digital Credentials Query Language of OpenID for Verifiable Presentations 1.0 (§6, §7),
//! as the capability exchange uses it: which of the credentials a holder has does a verifier's
//! query select. No Rust crate evaluates DCQL, so this is written here, for the subset Vouch
//! needs, and it fails closed: a query with a feature it does not implement (another format,
//! `trusted_authorities`, an unknown member anywhere) is refused, never half-read. Every list
//! in a query is bounded, and so is what a claims path may select.
//!
//! Supported: `credentials` (format `ldp_vc`, `meta.type_values` over the types' expanded IRIs,
//! `multiple`, `require_cryptographic_holder_binding`, `claims` with `path` and `values`,
//! `claim_sets`) and `credential_sets` (`options`, `required`). A W3C credential is sent whole
//! (`ldp_vc` has no selective disclosure): claims only select.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Deserialize;
use serde_json::Value;

/// The most credential queries, claims per query, claim sets, credential sets, options, values
/// and path elements a query may hold.
pub const MAX_ITEMS: usize = 64;
/// The longest claims path.
pub const MAX_PATH: usize = 16;
/// The longest id.
pub const MAX_ID: usize = 64;
/// The most JSON values a claims path may select in one credential.
pub const MAX_SELECTED: usize = 4096;

/// The expanded IRIs of the credential types Vouch knows (from the bundled contexts); a type
/// not listed expands to nothing, so a `type_values` naming it matches no credential.
const TYPE_IRIS: [(&str, &str); 2] = [
    (
        "VerifiableCredential",
        "https://www.w3.org/2018/credentials#VerifiableCredential",
    ),
    (
        "AgentCapabilityCredential",
        "https://w3id.org/vouch#AgentCapabilityCredential",
    ),
];

/// Why a query is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DcqlError {
    /// Not a DCQL query: a member missing, of the wrong type, or unknown.
    #[error("not a DCQL query: {0}")]
    Malformed(String),
    /// A DCQL feature this evaluator does not implement: refused, not ignored.
    #[error("unsupported DCQL: {0}")]
    Unsupported(String),
    /// Over a bound.
    #[error("the query is too large: {0}")]
    TooLarge(String),
}

/// One element of a claims path: a key, an index, or every element of an array (`null`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathElement {
    /// An object member.
    Key(String),
    /// An array element.
    Index(usize),
    /// Every element of an array.
    All,
}

impl<'de> Deserialize<'de> for PathElement {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(key) => Ok(Self::Key(key)),
            Value::Null => Ok(Self::All),
            Value::Number(n) => n
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .map(Self::Index)
                .ok_or_else(|| serde::de::Error::custom("a path index is a non-negative integer")),
            _ => Err(serde::de::Error::custom(
                "a path element is a string, a non-negative integer or null",
            )),
        }
    }
}

/// A value a claim must have: a string, an integer or a boolean.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ClaimValue {
    /// A string.
    String(String),
    /// An integer.
    Integer(i64),
    /// A boolean.
    Boolean(bool),
}

impl ClaimValue {
    fn matches(&self, value: &Value) -> bool {
        match (self, value) {
            (Self::String(want), Value::String(got)) => want == got,
            (Self::Integer(want), Value::Number(got)) => got.as_i64() == Some(*want),
            (Self::Boolean(want), Value::Bool(got)) => want == got,
            _ => false,
        }
    }
}

/// A claims query.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimsQuery {
    /// Its id, which claim sets name.
    #[serde(default)]
    pub id: Option<String>,
    /// Where the claim is.
    pub path: Vec<PathElement>,
    /// The values it may have; any, when absent.
    #[serde(default)]
    pub values: Option<Vec<ClaimValue>>,
}

/// `meta` of an `ldp_vc` credential query.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdpMeta {
    /// Acceptable sets of types, as expanded IRIs: a credential matches when its types include
    /// every IRI of one set.
    pub type_values: Vec<Vec<String>>,
}

/// A credential query.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialQuery {
    /// Its id.
    pub id: String,
    /// The format: `ldp_vc` only.
    pub format: String,
    /// Whether several credentials may answer it.
    #[serde(default)]
    pub multiple: bool,
    /// The types wanted.
    pub meta: LdpMeta,
    /// Refused if present: not implemented.
    #[serde(default)]
    pub trusted_authorities: Option<Value>,
    /// Whether the holder must prove possession of the credential's key (Vouch always does).
    #[serde(default = "yes")]
    pub require_cryptographic_holder_binding: bool,
    /// The claims wanted.
    #[serde(default)]
    pub claims: Option<Vec<ClaimsQuery>>,
    /// Acceptable sets of claims, by id, in order of preference.
    #[serde(default)]
    pub claim_sets: Option<Vec<Vec<String>>>,
}

fn yes() -> bool {
    true
}

/// A credential set query.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialSetQuery {
    /// Acceptable sets of credential queries, by id.
    pub options: Vec<Vec<String>>,
    /// Whether the set must be satisfied.
    #[serde(default = "yes")]
    pub required: bool,
}

/// A DCQL query.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// The credential queries.
    pub credentials: Vec<CredentialQuery>,
    /// How they combine; every one is required when absent.
    #[serde(default)]
    pub credential_sets: Option<Vec<CredentialSetQuery>>,
}

fn malformed(what: impl Into<String>) -> DcqlError {
    DcqlError::Malformed(what.into())
}

fn bounded<T>(what: &str, items: &[T], max: usize) -> Result<(), DcqlError> {
    if items.is_empty() {
        return Err(malformed(format!("{what} is empty")));
    }
    if items.len() > max {
        return Err(DcqlError::TooLarge(format!(
            "{} {what}, at most {max}",
            items.len()
        )));
    }
    Ok(())
}

fn check_id(id: &str) -> Result<(), DcqlError> {
    if id.is_empty()
        || id.len() > MAX_ID
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(malformed(format!(
            "the id {id:?} is not 1 to {MAX_ID} letters, digits, '_' or '-'"
        )));
    }
    Ok(())
}

impl Query {
    /// Reads and checks a query: well formed, within bounds, every feature implemented.
    pub fn parse(raw: &Value) -> Result<Self, DcqlError> {
        let query: Self =
            serde_json::from_value(raw.clone()).map_err(|e| malformed(e.to_string()))?;
        query.check()?;
        Ok(query)
    }

    fn check(&self) -> Result<(), DcqlError> {
        bounded("credentials", &self.credentials, MAX_ITEMS)?;
        let mut ids = HashSet::new();
        for credential in &self.credentials {
            check_id(&credential.id)?;
            if !ids.insert(credential.id.as_str()) {
                return Err(malformed(format!(
                    "two credential queries {}",
                    credential.id
                )));
            }
            credential.check()?;
        }
        if let Some(sets) = &self.credential_sets {
            bounded("credential_sets", sets, MAX_ITEMS)?;
            for set in sets {
                bounded("options", &set.options, MAX_ITEMS)?;
                for option in &set.options {
                    bounded("an option", option, MAX_ITEMS)?;
                    if let Some(unknown) = option.iter().find(|id| !ids.contains(id.as_str())) {
                        return Err(malformed(format!(
                            "an option names {unknown}, no credential query's id"
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

impl CredentialQuery {
    fn check(&self) -> Result<(), DcqlError> {
        if self.format != "ldp_vc" {
            return Err(DcqlError::Unsupported(format!(
                "format {:?}: only ldp_vc",
                self.format
            )));
        }
        if self.trusted_authorities.is_some() {
            return Err(DcqlError::Unsupported("trusted_authorities".into()));
        }
        bounded("type_values", &self.meta.type_values, MAX_ITEMS)?;
        for types in &self.meta.type_values {
            bounded("a type_values set", types, MAX_ITEMS)?;
        }
        let mut claim_ids = HashSet::new();
        match &self.claims {
            None if self.claim_sets.is_some() => {
                return Err(malformed("claim_sets without claims"));
            }
            None => {}
            Some(claims) => {
                bounded("claims", claims, MAX_ITEMS)?;
                for claim in claims {
                    bounded("a claims path", &claim.path, MAX_PATH)?;
                    if let Some(values) = &claim.values {
                        bounded("values", values, MAX_ITEMS)?;
                    }
                    match &claim.id {
                        Some(id) => {
                            check_id(id)?;
                            if !claim_ids.insert(id.as_str()) {
                                return Err(malformed(format!("two claims {id}")));
                            }
                        }
                        None if self.claim_sets.is_some() => {
                            return Err(malformed("a claim without an id, with claim_sets"));
                        }
                        None => {}
                    }
                }
            }
        }
        if let Some(sets) = &self.claim_sets {
            bounded("claim_sets", sets, MAX_ITEMS)?;
            for set in sets {
                bounded("a claim set", set, MAX_ITEMS)?;
                if let Some(unknown) = set.iter().find(|id| !claim_ids.contains(id.as_str())) {
                    return Err(malformed(format!(
                        "a claim set names {unknown}, no claim's id"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Whether `credential` answers this query.
    pub fn matches(&self, credential: &Value) -> Result<bool, DcqlError> {
        let types: BTreeSet<&str> = match &credential["type"] {
            Value::String(t) => [t.as_str()].into(),
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => BTreeSet::new(),
        };
        let expanded: BTreeSet<&str> = types
            .iter()
            .filter_map(|t| {
                TYPE_IRIS
                    .iter()
                    .find(|(compact, _)| compact == t)
                    .map(|(_, iri)| *iri)
            })
            .collect();
        if !self
            .meta
            .type_values
            .iter()
            .any(|set| set.iter().all(|iri| expanded.contains(iri.as_str())))
        {
            return Ok(false);
        }
        let Some(claims) = &self.claims else {
            return Ok(true);
        };
        let holds = |claim: &ClaimsQuery| -> Result<bool, DcqlError> {
            let selected = select(credential, &claim.path)?;
            Ok(match &claim.values {
                None => !selected.is_empty(),
                Some(values) => selected
                    .iter()
                    .any(|value| values.iter().any(|want| want.matches(value))),
            })
        };
        match &self.claim_sets {
            None => {
                for claim in claims {
                    if !holds(claim)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Some(sets) => {
                for set in sets {
                    let mut all = true;
                    for id in set {
                        let claim = claims
                            .iter()
                            .find(|c| c.id.as_deref() == Some(id.as_str()))
                            .expect("claim set ids are checked when the query is read");
                        if !holds(claim)? {
                            all = false;
                            break;
                        }
                    }
                    if all {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
        }
    }
}

/// What a claims path selects in `root` (OpenID4VP §7): nothing when an element finds nothing
/// (a missing key, an index past the end, `null` over a non-array).
pub fn select<'a>(root: &'a Value, path: &[PathElement]) -> Result<Vec<&'a Value>, DcqlError> {
    let mut selected = vec![root];
    for element in path {
        let mut next = Vec::new();
        for value in selected {
            match (element, value) {
                (PathElement::Key(key), Value::Object(map)) => next.extend(map.get(key)),
                (PathElement::Index(i), Value::Array(items)) => next.extend(items.get(*i)),
                (PathElement::All, Value::Array(items)) => next.extend(items.iter()),
                _ => {}
            }
            if next.len() > MAX_SELECTED {
                return Err(DcqlError::TooLarge(format!(
                    "a claims path selects more than {MAX_SELECTED} values"
                )));
            }
        }
        selected = next;
    }
    Ok(selected)
}

/// What a query selects of the holder's credentials: for each credential query answered, the
/// indexes of the credentials that answer it (one unless `multiple`); and the credentials to
/// present, each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Per credential query id answered, the credentials chosen.
    pub answers: BTreeMap<String, Vec<usize>>,
    /// The credentials to present, in the holder's order.
    pub present: Vec<usize>,
}

/// Why a query cannot be answered by what the holder has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unanswerable {
    /// A credential query with no credential that answers it, where every query is required.
    #[error("no credential answers the query {0}")]
    NoCredential(String),
    /// A required credential set with no option fully answered.
    #[error("no option of a required credential set is answered (set {0})")]
    NoOption(usize),
}

impl Query {
    /// Whether `credential` answers any of the query's credential queries: a verifier uses no
    /// credential its query did not ask for.
    pub fn asks_for(&self, credential: &Value) -> Result<bool, DcqlError> {
        for query in &self.credentials {
            if query.matches(credential)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Evaluates the query over the holder's credentials.
    pub fn select(
        &self,
        credentials: &[Value],
    ) -> Result<Result<Selection, Unanswerable>, DcqlError> {
        let mut answers: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for query in &self.credentials {
            let mut found = Vec::new();
            for (i, credential) in credentials.iter().enumerate() {
                if query.matches(credential)? {
                    found.push(i);
                    if !query.multiple {
                        break;
                    }
                }
            }
            if !found.is_empty() {
                answers.insert(query.id.clone(), found);
            }
        }
        let chosen: Vec<&str> = match &self.credential_sets {
            None => {
                if let Some(missing) = self
                    .credentials
                    .iter()
                    .find(|q| !answers.contains_key(&q.id))
                {
                    return Ok(Err(Unanswerable::NoCredential(missing.id.clone())));
                }
                self.credentials.iter().map(|q| q.id.as_str()).collect()
            }
            Some(sets) => {
                let mut chosen = Vec::new();
                for (n, set) in sets.iter().enumerate() {
                    let option = set
                        .options
                        .iter()
                        .find(|option| option.iter().all(|id| answers.contains_key(id)));
                    match option {
                        Some(option) => chosen.extend(option.iter().map(String::as_str)),
                        None if set.required => return Ok(Err(Unanswerable::NoOption(n))),
                        None => {}
                    }
                }
                chosen
            }
        };
        answers.retain(|id, _| chosen.contains(&id.as_str()));
        let present: BTreeSet<usize> = answers.values().flatten().copied().collect();
        Ok(Ok(Selection {
            answers,
            present: present.into_iter().collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const VC: &str = "https://www.w3.org/2018/credentials#VerifiableCredential";
    const ACC: &str = "https://w3id.org/vouch#AgentCapabilityCredential";

    fn capability(actions: &[&str]) -> Value {
        json!({
            "type": ["VerifiableCredential", "AgentCapabilityCredential"],
            "credentialSubject": {
                "capabilities": actions.iter().map(|a| json!({"action": a})).collect::<Vec<_>>(),
                "task": {"id": "t1"}
            }
        })
    }

    fn query(claims: Value) -> Value {
        json!({"credentials": [{
            "id": "refund", "format": "ldp_vc",
            "meta": {"type_values": [[VC, ACC]]},
            "claims": claims,
        }]})
    }

    #[test]
    fn a_query_selects_exactly_the_credentials_it_asks_for() {
        let held = [
            capability(&["read:tickets"]),
            capability(&["call:billing:refund", "read:tickets"]),
            json!({"type": ["VerifiableCredential"], "credentialSubject": {}}),
            capability(&["call:billing:refund"]),
        ];
        let q = Query::parse(&query(json!([{
            "path": ["credentialSubject", "capabilities", null, "action"],
            "values": ["call:billing:refund"],
        }])))
        .expect("a query");
        let selection = q.select(&held).expect("evaluated").expect("answered");
        // One, not multiple: the first that answers.
        assert_eq!(selection.answers["refund"], vec![1]);
        assert_eq!(selection.present, vec![1]);

        let mut raw = query(json!([{
            "path": ["credentialSubject", "capabilities", null, "action"],
            "values": ["call:billing:refund"],
        }]));
        raw["credentials"][0]["multiple"] = json!(true);
        let selection = Query::parse(&raw)
            .expect("a query")
            .select(&held)
            .expect("evaluated")
            .expect("answered");
        assert_eq!(selection.present, vec![1, 3]);

        // Nothing answers: said so, nothing selected.
        let none = Query::parse(&query(
            json!([{"path": ["credentialSubject", "task", "id"], "values": ["t9"]}]),
        ))
        .expect("a query");
        assert_eq!(
            none.select(&held).expect("evaluated"),
            Err(Unanswerable::NoCredential("refund".into()))
        );
        // A type the credential lacks, or only compact type names: no match.
        let mut wrong_type = query(json!([{"path": ["type"]}]));
        wrong_type["credentials"][0]["meta"]["type_values"] =
            json!([["AgentCapabilityCredential"]]);
        let q = Query::parse(&wrong_type).expect("a query");
        assert!(q.select(&held).expect("evaluated").is_err());
    }

    #[test]
    fn claim_sets_and_credential_sets_choose_in_order_and_optional_sets_may_fail() {
        let held = [capability(&["read:tickets"])];
        let raw = json!({
            "credentials": [
                {"id": "a", "format": "ldp_vc", "meta": {"type_values": [[ACC]]},
                 "claims": [
                    {"id": "refund", "path": ["credentialSubject", "capabilities", null, "action"], "values": ["call:billing:refund"]},
                    {"id": "read", "path": ["credentialSubject", "capabilities", 0, "action"], "values": ["read:tickets"]}
                 ],
                 "claim_sets": [["refund"], ["read"]]},
                {"id": "b", "format": "ldp_vc", "meta": {"type_values": [[VC, "https://example.com/Other"]]}}
            ],
            "credential_sets": [
                {"options": [["b"], ["a"]]},
                {"options": [["b"]], "required": false}
            ]
        });
        let selection = Query::parse(&raw)
            .expect("a query")
            .select(&held)
            .expect("evaluated")
            .expect("answered");
        assert_eq!(selection.answers.keys().collect::<Vec<_>>(), vec!["a"]);
        let mut required = raw.clone();
        required["credential_sets"][1]["required"] = json!(true);
        assert_eq!(
            Query::parse(&required)
                .expect("a query")
                .select(&held)
                .expect("evaluated"),
            Err(Unanswerable::NoOption(1))
        );
    }

    #[test]
    fn what_it_does_not_implement_or_bound_is_refused_not_ignored() {
        let base = query(json!([{"path": ["credentialSubject"]}]));
        let refused = |mutate: &dyn Fn(&mut Value)| {
            let mut raw = base.clone();
            mutate(&mut raw);
            Query::parse(&raw).expect_err("refused")
        };
        assert!(matches!(
            refused(&|q| q["credentials"][0]["format"] = json!("dc+sd-jwt")),
            DcqlError::Unsupported(_)
        ));
        assert!(matches!(
            refused(&|q| q["credentials"][0]["trusted_authorities"] =
                json!([{"type": "aki", "values": ["x"]}])),
            DcqlError::Unsupported(_)
        ));
        for mutate in [
            &(|q: &mut Value| q["credentials"][0]["extra"] = json!(1)) as &dyn Fn(&mut Value),
            &|q| q["extra"] = json!(1),
            &|q| q["credentials"][0]["meta"]["vct_values"] = json!(["x"]),
            &|q| q["credentials"][0]["claims"][0]["intent_to_retain"] = json!(true),
            &|q| q["credentials"] = json!([]),
            &|q| q["credentials"][0]["id"] = json!("no spaces"),
            &|q| q["credentials"][0]["claims"][0]["path"] = json!([]),
            &|q| q["credentials"][0]["claims"][0]["path"] = json!([-1]),
            &|q| q["credentials"][0]["claims"][0]["path"] = json!([1.5]),
            &|q| q["credentials"][0]["claim_sets"] = json!([["nope"]]),
            &|q| q["credential_sets"] = json!([{"options": [["nope"]]}]),
            &|q| {
                let twice = q["credentials"][0].clone();
                q["credentials"].as_array_mut().expect("a list").push(twice);
            },
            &|q| q["credentials"][0]["claims"][0]["path"] = json!(vec!["a"; MAX_PATH + 1]),
        ] {
            let mut raw = base.clone();
            mutate(&mut raw);
            assert!(Query::parse(&raw).is_err(), "{raw}");
        }
        // A wildcard path over a huge array is bounded at evaluation.
        let wide = json!({"type": ["VerifiableCredential", "AgentCapabilityCredential"],
            "credentialSubject": {"capabilities": vec![json!({"action": "x"}); MAX_SELECTED + 1]}});
        let q = Query::parse(&query(
            json!([{"path": ["credentialSubject", "capabilities", null]}]),
        ))
        .expect("a query");
        assert!(matches!(q.select(&[wide]), Err(DcqlError::TooLarge(_))));
    }
}
