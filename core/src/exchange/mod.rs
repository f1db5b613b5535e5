//! The capability exchange's messages (DESIGN §8), sans I/O.
//!
//! - The verifier's request: a W3C VC API (VCALM) `verifiablePresentationRequest` — a fresh
//!   `challenge`, its `domain`, one query of type `DCQLQuery` (OpenID4VP 1.0's DCQL, read by
//!   [`crate::dcql`]) — with the capabilities it needs decided (`{action, resource,
//!   arguments}`, concrete) and its own presentation, for mutual authentication.
//! - The verifier's `CapabilityDecision`, a credential signed with `eddsa-jcs-2022` by the
//!   verifier's instance key, short-lived, bound to the exchange (the prover, the challenge, the
//!   domain and the hash of the presentation it decides on), with each requested capability
//!   `accepted`, or `rejected` with a DESIGN §8 reason code. The prover verifies it before it
//!   acts on it.

pub mod audit;
pub mod flow;
pub mod wire;

pub use flow::{
    Answered, Ask, Asked, ExchangeError, Holdings, Judgement, NotKept, Once, Refused, Unanswered,
    answer, ask,
};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::did::Did;
use crate::did::resolve::DidKeyResolver;
use crate::hash::Multihash;
use crate::key::KeyPair;
use crate::proof::{self, ProofError};
use crate::report::Reason;

/// How long a decision is valid by default.
pub const DECISION_LIFETIME: Duration = Duration::seconds(60);
/// The longest a decision may be valid.
pub const MAX_DECISION_LIFETIME: Duration = Duration::minutes(5);
/// The most capabilities one decision decides.
pub const MAX_DECISIONS: usize = 64;
/// The largest capability, challenge or domain, as JSON.
pub const MAX_TEXT: usize = 4096;
/// The credential type of a decision.
pub const DECISION_TYPE: &str = "CapabilityDecision";

/// The shortest challenge: 128 bits in base64url.
pub const MIN_CHALLENGE: usize = 22;
/// The largest request, as JSON.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// Why a request is refused.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Not a request of the form Vouch reads.
    #[error("not a capability request: {0}")]
    Malformed(String),
    /// Its query is refused.
    #[error(transparent)]
    Query(#[from] crate::dcql::DcqlError),
}

/// A verifier's request.
#[derive(Debug, Clone)]
pub struct CapabilityRequest {
    /// The exchange's challenge.
    pub challenge: String,
    /// The verifier's domain.
    pub domain: String,
    /// What it asks to be presented.
    pub query: crate::dcql::Query,
    /// The capabilities it needs decided, as sent.
    pub capabilities: Vec<Value>,
    /// The same, read.
    pub requests: Vec<crate::capability::Request>,
    /// Its own presentation over the request's intent and domain (checked by the prover).
    pub verifier_presentation: Value,
    /// The hash of everything the request asks — the whole request but the verifier's
    /// presentation: the capabilities with their arguments, the query, the challenge, the domain.
    pub content: String,
}

/// The type the intent hashes under: what is hashed as an exchange's intent is never anything
/// else.
const INTENT_TYPE: &str = "VouchExchangeIntent/1";

/// The hash of a request's content: its canonical JSON (RFC 8785) without the verifier's
/// presentation.
pub(crate) fn content_of(raw: &Value) -> String {
    let mut content = raw.clone();
    if let Some(object) = content.as_object_mut() {
        object.remove("verifierPresentation");
    }
    crate::hash::multihash_jcs(&content).expect("JSON values serialize")
}

impl CapabilityRequest {
    /// The challenge both presentations of the exchange sign (DESIGN §8, "intent is bound"):
    /// the hash of the request's content — the verifier's fresh nonce among it — and of the
    /// verifier (its instance's did:key). A presentation over it answers this very request and
    /// nothing else: a request rewritten on its way, or a response to another exchange, does not
    /// verify against it (`request_mismatch`).
    pub fn intent(&self, verifier: &Did) -> String {
        intent_of(&self.content, verifier)
    }
}

/// The intent of a request whose content hashes to `content`, asked by `verifier`.
pub(crate) fn intent_of(content: &str, verifier: &Did) -> String {
    crate::hash::multihash_jcs(&json!({
        "type": INTENT_TYPE,
        "request": content,
        "verifier": verifier,
    }))
    .expect("JSON values serialize")
}

/// The relying party whose resources every request names: their common origin
/// (`https://billing.example`), as the domain of an exchange a node opens for it. `None` when
/// they name more than one.
pub fn relying_party(requests: &[crate::capability::Request]) -> Option<String> {
    let mut origins = requests.iter().map(|r| r.resource.origin());
    let first = origins.next()?;
    origins.all(|o| o == first).then_some(first)
}

/// The challenge a presentation's proof signs, when it has one proof.
pub fn signed_challenge(presentation: &Value) -> Option<&str> {
    presentation.get("proof")?.get("challenge")?.as_str()
}

impl CapabilityRequest {
    /// Reads a request: its form, its bounds, its query (every feature implemented) and the
    /// capabilities (concrete). The verifier's presentation is the prover's to verify.
    pub fn parse(raw: &Value) -> Result<Self, RequestError> {
        let malformed = |what: &str| RequestError::Malformed(what.to_owned());
        if raw.to_string().len() > MAX_REQUEST_BYTES {
            return Err(malformed("larger than 256 KiB"));
        }
        let object = raw.as_object().ok_or_else(|| malformed("not an object"))?;
        let known = [
            "verifiablePresentationRequest",
            "capabilities",
            "verifierPresentation",
        ];
        if object.keys().any(|k| !known.contains(&k.as_str())) {
            return Err(malformed("an unknown member"));
        }
        let vpr = raw["verifiablePresentationRequest"]
            .as_object()
            .ok_or_else(|| malformed("verifiablePresentationRequest"))?;
        if vpr
            .keys()
            .any(|k| !["query", "challenge", "domain"].contains(&k.as_str()))
        {
            return Err(malformed("an unknown verifiablePresentationRequest member"));
        }
        let challenge = vpr
            .get("challenge")
            .and_then(Value::as_str)
            .filter(|c| (MIN_CHALLENGE..=256).contains(&c.len()))
            .ok_or_else(|| malformed("challenge: 22 to 256 characters"))?
            .to_owned();
        let domain = vpr
            .get("domain")
            .and_then(Value::as_str)
            .filter(|d| !d.is_empty() && d.len() <= 256)
            .ok_or_else(|| malformed("domain: 1 to 256 characters"))?
            .to_owned();
        let [query] = vpr
            .get("query")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        else {
            return Err(malformed("query: exactly one"));
        };
        let query = query.as_object().ok_or_else(|| malformed("query"))?;
        if query.get("type").and_then(Value::as_str) != Some("DCQLQuery") || query.len() != 2 {
            return Err(RequestError::Query(crate::dcql::DcqlError::Unsupported(
                "a query other than one DCQLQuery".into(),
            )));
        }
        let query = crate::dcql::Query::parse(
            query
                .get("dcqlQuery")
                .ok_or_else(|| malformed("a DCQLQuery without its dcqlQuery"))?,
        )?;
        let capabilities = raw["capabilities"]
            .as_array()
            .filter(|c| !c.is_empty() && c.len() <= MAX_DECISIONS)
            .ok_or_else(|| malformed("capabilities: 1 to 64"))?
            .clone();
        let requests = capabilities
            .iter()
            .map(|c| {
                crate::capability::Request::from_json(c)
                    .map_err(|e| RequestError::Malformed(format!("a capability: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let verifier_presentation = raw["verifierPresentation"].clone();
        if !verifier_presentation.is_object() {
            return Err(malformed("verifierPresentation"));
        }
        Ok(Self {
            challenge,
            domain,
            query,
            capabilities,
            requests,
            verifier_presentation,
            content: content_of(raw),
        })
    }
}

/// Accepted, or rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The prover may act on it.
    Accepted,
    /// It may not, for the reason given.
    Rejected,
}

/// The decision on one requested capability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Decided {
    /// The capability as requested (an action, a resource, constraints).
    pub capability: Value,
    /// Accepted or rejected.
    pub decision: Verdict,
    /// Why it was rejected; none when accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// With `needs_approval`: the hash of the request the owner is to approve
    /// (`crate::approval::request_hash`), for the prover to ask its org for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_request: Option<Multihash>,
}

/// A verifier's decision on a prover's presentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Its id (`urn:uuid:…`).
    pub id: String,
    /// The verifier: the deciding agent instance's did:key.
    pub verifier: Did,
    /// The prover: the presenting agent instance's did:key.
    pub prover: Did,
    /// The exchange's challenge.
    pub challenge: String,
    /// The exchange's domain.
    pub domain: String,
    /// The hash of the presentation decided on.
    pub presentation: Multihash,
    /// Per capability, the decision.
    pub decided: Vec<Decided>,
    /// When it was made.
    pub valid_from: DateTime<Utc>,
    /// When it stops counting.
    pub valid_until: DateTime<Utc>,
}

/// Why a decision is refused.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// Not a decision of the form Vouch writes.
    #[error("not a capability decision: {0}")]
    Malformed(&'static str),
    /// Its proof does not verify.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// Signed by someone else than the verifier of this exchange.
    #[error("signed by {signer}, not by the verifier {verifier}")]
    NotVerifier {
        /// Who signed.
        signer: Did,
        /// Who should have.
        verifier: Did,
    },
    /// Made for another exchange: another prover, challenge, domain or presentation.
    #[error("made for another exchange: its {0} differs")]
    OtherExchange(&'static str),
    /// Outside its validity window, or valid for longer than a decision may be.
    #[error("not valid now: {0}")]
    NotValid(&'static str),
}

/// What a prover expects of the decision on its presentation.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// The verifier it exchanged with (the peer it authenticated).
    pub verifier: &'a Did,
    /// Itself.
    pub prover: &'a Did,
    /// The exchange's challenge.
    pub challenge: &'a str,
    /// The exchange's domain.
    pub domain: &'a str,
    /// Its presentation, as sent.
    pub presentation: &'a Value,
}

/// The hash of a presentation, as a decision names it: of its canonical JSON (JCS).
pub fn presentation_hash(presentation: &Value) -> Multihash {
    let canonical = serde_jcs::to_vec(presentation).expect("JSON values always serialize");
    Multihash::of(&canonical)
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Decision {
    /// The decision's unsecured credential.
    pub fn to_json(&self) -> Value {
        json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": self.id,
            "type": ["VerifiableCredential", DECISION_TYPE],
            "issuer": self.verifier,
            "validFrom": time(self.valid_from),
            "validUntil": time(self.valid_until),
            "credentialSubject": {
                "id": self.prover,
                "challenge": self.challenge,
                "domain": self.domain,
                "presentation": self.presentation.as_str(),
                "decisions": self.decided,
            },
        })
    }

    /// Signs the decision with the verifier's instance key.
    pub fn sign(&self, key: &KeyPair) -> Result<Value, DecisionError> {
        let method = crate::did::key::verification_method_of(&key.public());
        Ok(proof::sign_assertion(
            &self.to_json(),
            key,
            method,
            self.valid_from,
        )?)
    }

    /// Verifies a decision as the prover of `expected` at `now`: its form, a proof by the
    /// verifier's key, made for this exchange, valid now and for at most five minutes.
    pub fn verify(
        raw: &Value,
        expected: &Expected<'_>,
        now: DateTime<Utc>,
    ) -> Result<Self, DecisionError> {
        let decision = Self::parse(raw)?;
        let signer = proof::assertion_signer(raw, &DidKeyResolver)?;
        if signer != decision.verifier || decision.verifier != *expected.verifier {
            return Err(DecisionError::NotVerifier {
                signer,
                verifier: expected.verifier.clone(),
            });
        }
        if decision.prover != *expected.prover {
            return Err(DecisionError::OtherExchange("prover"));
        }
        if decision.challenge != expected.challenge {
            return Err(DecisionError::OtherExchange("challenge"));
        }
        if decision.domain != expected.domain {
            return Err(DecisionError::OtherExchange("domain"));
        }
        if decision.presentation != presentation_hash(expected.presentation) {
            return Err(DecisionError::OtherExchange("presentation"));
        }
        if decision.valid_until - decision.valid_from > MAX_DECISION_LIFETIME {
            return Err(DecisionError::NotValid(
                "valid for longer than five minutes",
            ));
        }
        if now < decision.valid_from || now >= decision.valid_until {
            return Err(DecisionError::NotValid("outside its validity window"));
        }
        Ok(decision)
    }

    /// Reads a decision's form, without its proof.
    pub fn parse(raw: &Value) -> Result<Self, DecisionError> {
        use DecisionError::Malformed;
        let object = raw.as_object().ok_or(Malformed("not an object"))?;
        let known = [
            "@context",
            "id",
            "type",
            "issuer",
            "validFrom",
            "validUntil",
            "credentialSubject",
            "proof",
        ];
        if object.keys().any(|k| !known.contains(&k.as_str())) {
            return Err(Malformed("an unknown member"));
        }
        if raw["@context"] != json!(["https://www.w3.org/ns/credentials/v2"]) {
            return Err(Malformed("@context"));
        }
        if raw["type"] != json!(["VerifiableCredential", DECISION_TYPE]) {
            return Err(Malformed("type"));
        }
        let id = raw["id"]
            .as_str()
            .filter(|s| s.starts_with("urn:uuid:") && s.len() <= 64)
            .ok_or(Malformed("id must be a urn:uuid"))?
            .to_owned();
        let did = |v: &Value, what| {
            v.as_str()
                .and_then(|s| Did::parse(s).ok())
                .filter(|d| d.method() == "key")
                .ok_or(Malformed(what))
        };
        let verifier = did(&raw["issuer"], "issuer must be a did:key")?;
        let at = |v: &Value, what| {
            v.as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc))
                .ok_or(Malformed(what))
        };
        let valid_from = at(&raw["validFrom"], "validFrom")?;
        let valid_until = at(&raw["validUntil"], "validUntil")?;
        let subject: &Map<String, Value> = raw["credentialSubject"]
            .as_object()
            .ok_or(Malformed("credentialSubject"))?;
        let subject_known = ["id", "challenge", "domain", "presentation", "decisions"];
        if subject.keys().any(|k| !subject_known.contains(&k.as_str())) {
            return Err(Malformed("an unknown credentialSubject member"));
        }
        let prover = did(
            &raw["credentialSubject"]["id"],
            "credentialSubject.id must be a did:key",
        )?;
        let text = |key: &str, what| {
            subject
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && s.len() <= MAX_TEXT)
                .map(str::to_owned)
                .ok_or(Malformed(what))
        };
        let challenge = text("challenge", "challenge")?;
        let domain = text("domain", "domain")?;
        let presentation = subject
            .get("presentation")
            .and_then(Value::as_str)
            .and_then(Multihash::parse)
            .ok_or(Malformed("presentation must be a multihash"))?;
        let decided: Vec<Decided> = subject
            .get("decisions")
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or(Malformed("decisions"))?;
        if decided.is_empty() || decided.len() > MAX_DECISIONS {
            return Err(Malformed("decisions: 1 to 64"));
        }
        for one in &decided {
            if one.capability.to_string().len() > MAX_TEXT {
                return Err(Malformed("a capability is larger than 4 KiB"));
            }
            match (one.decision, one.reason) {
                (Verdict::Accepted, None) | (Verdict::Rejected, Some(_)) => {}
                (Verdict::Accepted, Some(_)) => {
                    return Err(Malformed("an accepted capability has no reason"));
                }
                (Verdict::Rejected, None) => {
                    return Err(Malformed("a rejected capability has its reason"));
                }
            }
        }
        Ok(Self {
            id,
            verifier,
            prover,
            challenge,
            domain,
            presentation,
            decided,
            valid_from,
            valid_until,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::did::key::did_of;

    struct Exchange {
        verifier: KeyPair,
        prover: KeyPair,
        presentation: Value,
        now: DateTime<Utc>,
    }

    fn exchange() -> Exchange {
        Exchange {
            verifier: KeyPair::generate(),
            prover: KeyPair::generate(),
            presentation: json!({"type": ["VerifiablePresentation"], "holder": "did:key:z6Mk"}),
            now: DateTime::from_timestamp(1_796_040_000, 0).expect("a time"),
        }
    }

    impl Exchange {
        fn decision(&self) -> Decision {
            Decision {
                id: "urn:uuid:7b0c9e4e-0c55-4b8e-9e0e-0b4d1a2f3c11".into(),
                verifier: did_of(&self.verifier.public()),
                prover: did_of(&self.prover.public()),
                challenge: "c-1".into(),
                domain: "partner.example".into(),
                presentation: presentation_hash(&self.presentation),
                decided: vec![
                    Decided {
                        capability: json!({"action": "read:tickets"}),
                        decision: Verdict::Accepted,
                        reason: None,
                        approval_request: None,
                    },
                    Decided {
                        capability: json!({"action": "call:billing:refund"}),
                        decision: Verdict::Rejected,
                        reason: Some(Reason::Revoked),
                        approval_request: None,
                    },
                ],
                valid_from: self.now,
                valid_until: self.now + DECISION_LIFETIME,
            }
        }

        fn verify(&self, raw: &Value, now: DateTime<Utc>) -> Result<Decision, DecisionError> {
            let (verifier, prover) = (
                did_of(&self.verifier.public()),
                did_of(&self.prover.public()),
            );
            Decision::verify(
                raw,
                &Expected {
                    verifier: &verifier,
                    prover: &prover,
                    challenge: "c-1",
                    domain: "partner.example",
                    presentation: &self.presentation,
                },
                now,
            )
        }
    }

    #[test]
    fn a_decision_verifies_for_its_exchange_only_and_each_capability_keeps_its_reason() {
        let x = exchange();
        let signed = x.decision().sign(&x.verifier).expect("signed");
        let decision = x.verify(&signed, x.now).expect("verifies");
        assert_eq!(decision.decided[1].reason, Some(Reason::Revoked));
        assert_eq!(
            signed["credentialSubject"]["decisions"][1]["reason"],
            "revoked"
        );

        // Signed by another key (the prover forging an acceptance): refused.
        let forged = x.decision().sign(&x.prover).expect("signed");
        assert!(matches!(
            x.verify(&forged, x.now),
            Err(DecisionError::NotVerifier { .. } | DecisionError::Proof(_))
        ));
        // Any change: the proof fails.
        let mut changed = signed.clone();
        changed["credentialSubject"]["decisions"][1]["decision"] = json!("accepted");
        changed["credentialSubject"]["decisions"][1]
            .as_object_mut()
            .expect("an object")
            .remove("reason");
        assert!(x.verify(&changed, x.now).is_err());
        // Another exchange: another challenge, domain, presentation or prover.
        for (field, value) in [
            ("challenge", json!("c-2")),
            ("domain", json!("elsewhere.example")),
            ("presentation", json!(Multihash::of(b"another").as_str())),
            ("id", json!(did_of(&KeyPair::generate().public()))),
        ] {
            let mut other = x.decision().to_json();
            other["credentialSubject"][field] = value;
            let resigned = proof::sign_assertion(
                &other,
                &x.verifier,
                crate::did::key::verification_method_of(&x.verifier.public()),
                x.now,
            )
            .expect("signed");
            assert!(
                matches!(
                    x.verify(&resigned, x.now),
                    Err(DecisionError::OtherExchange(_))
                ),
                "{field}"
            );
        }
        // Expired, or not yet valid; valid for too long.
        assert!(matches!(
            x.verify(&signed, x.now + DECISION_LIFETIME),
            Err(DecisionError::NotValid(_))
        ));
        assert!(matches!(
            x.verify(&signed, x.now - Duration::seconds(1)),
            Err(DecisionError::NotValid(_))
        ));
        let mut long = x.decision();
        long.valid_until = x.now + Duration::hours(1);
        let long = long.sign(&x.verifier).expect("signed");
        assert!(matches!(
            x.verify(&long, x.now),
            Err(DecisionError::NotValid(_))
        ));
    }

    #[test]
    fn a_decision_of_another_form_is_refused() {
        let x = exchange();
        let base = x.decision().to_json();
        let refused = |mutate: &dyn Fn(&mut Value)| {
            let mut raw = base.clone();
            mutate(&mut raw);
            Decision::parse(&raw).is_err()
        };
        assert!(refused(&|d| d["extra"] = json!(1)));
        assert!(refused(&|d| d["credentialSubject"]["extra"] = json!(1)));
        assert!(refused(&|d| d["type"] = json!(["VerifiableCredential"])));
        assert!(refused(&|d| d["issuer"] = json!("did:vouch:zQmX")));
        assert!(refused(&|d| d["credentialSubject"]["decisions"] = json!([])));
        assert!(refused(
            &|d| d["credentialSubject"]["decisions"][0]["reason"] = json!("revoked")
        ));
        assert!(refused(&|d| {
            d["credentialSubject"]["decisions"][1]
                .as_object_mut()
                .expect("an object")
                .remove("reason");
        }));
        assert!(refused(
            &|d| d["credentialSubject"]["decisions"][1]["reason"] = json!("because")
        ));
        assert!(refused(&|d| d["credentialSubject"]["decisions"] =
            json!(vec![
                json!({"capability": {}, "decision": "accepted"});
                MAX_DECISIONS + 1
            ])));
        assert!(Decision::parse(&base).is_ok());
    }

    fn request() -> Value {
        json!({
            "verifiablePresentationRequest": {
                "query": [{"type": "DCQLQuery", "dcqlQuery": {"credentials": [{
                    "id": "refund", "format": "ldp_vc",
                    "meta": {"type_values": [["https://w3id.org/vouch#AgentCapabilityCredential"]]},
                }]}}],
                "challenge": "q2Ljd2FsbGV0LXRlc3QtY2hhbGxlbmdl",
                "domain": "billing.acme.example",
            },
            "capabilities": [{
                "action": "call:billing_api:refund",
                "resource": "https://billing.acme.example/refunds/42",
                "arguments": {"amount": 1200},
            }],
            "verifierPresentation": {"type": ["VerifiablePresentation"]},
        })
    }

    #[test]
    fn a_request_is_read_whole_or_refused() {
        let read = CapabilityRequest::parse(&request()).expect("a request");
        assert_eq!(read.domain, "billing.acme.example");
        assert_eq!(read.requests.len(), 1);
        let refused = |mutate: &dyn Fn(&mut Value)| {
            let mut raw = request();
            mutate(&mut raw);
            CapabilityRequest::parse(&raw).is_err()
        };
        assert!(refused(&|r| r["extra"] = json!(1)));
        assert!(refused(
            &|r| r["verifiablePresentationRequest"]["extra"] = json!(1)
        ));
        // A short challenge: guessable, so replayable.
        assert!(refused(
            &|r| r["verifiablePresentationRequest"]["challenge"] = json!("short")
        ));
        assert!(refused(
            &|r| r["verifiablePresentationRequest"]["domain"] = json!("")
        ));
        // Another query language, two queries, a DCQL feature not implemented.
        assert!(refused(
            &|r| r["verifiablePresentationRequest"]["query"][0]["type"] = json!("QueryByExample")
        ));
        assert!(refused(&|r| {
            let q = r["verifiablePresentationRequest"]["query"][0].clone();
            r["verifiablePresentationRequest"]["query"]
                .as_array_mut()
                .expect("a list")
                .push(q);
        }));
        assert!(refused(&|r| r["verifiablePresentationRequest"]["query"]
            [0]["dcqlQuery"]["credentials"][0]["trusted_authorities"] =
            json!([])));
        // A wildcard where a concrete capability is needed; none at all; too many.
        assert!(refused(
            &|r| r["capabilities"][0]["action"] = json!("call:billing_api:*")
        ));
        assert!(refused(&|r| r["capabilities"] = json!([])));
        assert!(refused(
            &|r| r["capabilities"] = json!(vec![r["capabilities"][0].clone(); MAX_DECISIONS + 1])
        ));
        // A query of two members, neither of them `dcqlQuery` (found by the fuzzer: it was a
        // panic).
        assert!(refused(&|r| {
            let query = &mut r["verifiablePresentationRequest"]["query"][0];
            let dcql = query["dcqlQuery"].take();
            let object = query.as_object_mut().expect("an object");
            object.remove("dcqlQuery");
            object.insert("dcqlQuer".into(), dcql);
        }));
        // No verifier presentation: no mutual authentication.
        assert!(refused(&|r| {
            r.as_object_mut()
                .expect("an object")
                .remove("verifierPresentation");
        }));
    }
}
