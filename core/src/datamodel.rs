//! The rules of the [W3C Verifiable Credentials Data Model 2.0](https://www.w3.org/TR/vc-data-model-2.0/)
//! a credential must keep before it is signed: what an issuer refuses to sign, so that nothing it
//! issues is a document conforming verifiers must reject. Each refusal names the property, by its
//! path, and the rule (§7.2 `MALFORMED_VALUE_ERROR`).
//!
//! The rules on the JSON are here; that every term and type is defined by a context in effect
//! (no term dropped from what is signed) is JSON-LD's, held when the document is expanded
//! ([`crate::proof::rdfc`]), which signing does under either suite.

use chrono::DateTime;
use serde_json::{Map, Value};
use sha2::Digest as _;

use crate::iri::is_url;

/// The base context, first of every VC 2.0 document.
pub const CREDENTIALS_V2: &str = vouch_schemas::CREDENTIALS_V2;
/// The base context of VC 1.1, whose credentials are still issued and verified.
pub const CREDENTIALS_V1: &str = vouch_schemas::CREDENTIALS_V1;
/// The digests of the VC 2.0 context as W3C publishes it (SHA-384 SRI, SHA-256 multibase), as
/// the VC 2.0 test suite gives them.
const PUBLISHED_V2_SRI: &str =
    "sha384-NSOcNpmdIVUxIJGvGUoe22FjTWrXiaXlsZ8q6912LdnR3KraQO2n75Ica4wK4Qeg";
const PUBLISHED_V2_MULTIBASE: &str = "uJKGMkOmFbVJhEfKTduMC2XCyvRAYLjOVmZWwIH1wQ7k";
/// The most items a list of one property may have.
const MAX_ITEMS: usize = 256;

/// A rule a credential breaks: where, and what the rule is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {rule}")]
pub struct Malformed {
    /// The property, as a JSON path (`credentialSubject[1]`, `issuer.id`).
    pub path: String,
    /// The rule it breaks.
    pub rule: String,
}

impl Malformed {
    /// The problem type of VC Data Model 2.0 §7.2.
    pub const TYPE: &'static str = "https://www.w3.org/TR/vc-data-model#MALFORMED_VALUE_ERROR";
}

fn broken(path: impl Into<String>, rule: impl Into<String>) -> Malformed {
    Malformed {
        path: path.into(),
        rule: rule.into(),
    }
}

/// The values of a property that may be one or a list of them.
fn one_or_many<'a>(path: &str, value: &'a Value) -> Result<Vec<&'a Value>, Malformed> {
    match value {
        Value::Array(items) if items.is_empty() => Err(broken(
            path,
            "a list of none: give at least one, or leave the property out",
        )),
        Value::Array(items) if items.len() > MAX_ITEMS => {
            Err(broken(path, format!("more than {MAX_ITEMS} items")))
        }
        Value::Array(items) => Ok(items.iter().collect()),
        one => Ok(vec![one]),
    }
}

/// §4.4: an `id`, if present, is a single URL.
fn check_id(path: &str, object: &Map<String, Value>, required: bool) -> Result<(), Malformed> {
    match object.get("id") {
        None if required => Err(broken(format!("{path}.id"), "is required: a URL")),
        None => Ok(()),
        Some(Value::String(id)) if is_url(id) => Ok(()),
        Some(_) => Err(broken(format!("{path}.id"), "must be a single URL")),
    }
}

/// §4.5: `type` is one or more terms or absolute URLs.
fn types<'a>(path: &str, value: Option<&'a Value>) -> Result<Vec<&'a str>, Malformed> {
    let path = format!("{path}.type");
    let value = value.ok_or_else(|| broken(&path, "is required"))?;
    one_or_many(&path, value)?
        .into_iter()
        .map(|t| match t.as_str() {
            Some(t) if !t.is_empty() && !t.contains(char::is_whitespace) => Ok(t),
            _ => Err(broken(&path, "must be terms or absolute URLs (strings)")),
        })
        .collect()
}

/// §4.6 and §11.1: a name or description is a string, a language value object, or a list of
/// them.
fn check_text(path: &str, value: &Value) -> Result<(), Malformed> {
    for item in one_or_many(path, value)? {
        match item {
            Value::String(_) => {}
            Value::Object(object) => {
                if !object.get("@value").is_some_and(Value::is_string) {
                    return Err(broken(path, "a language value object has a string @value"));
                }
                if let Some(key) = object
                    .keys()
                    .find(|k| !["@value", "@language", "@direction"].contains(&k.as_str()))
                {
                    return Err(broken(
                        path,
                        format!(
                            "a language value object has @value, @language and @direction only, not {key:.64}"
                        ),
                    ));
                }
                for key in ["@language", "@direction"] {
                    if object.get(key).is_some_and(|v| !v.is_string()) {
                        return Err(broken(path, format!("{key} is a string")));
                    }
                }
            }
            _ => return Err(broken(path, "must be a string or a language value object")),
        }
    }
    Ok(())
}

/// §4.9: an XML Schema `dateTimeStamp`: a date, a time, and a time zone.
fn date_time_stamp(path: &str, value: &Value) -> Result<DateTime<chrono::FixedOffset>, Malformed> {
    value
        .as_str()
        .filter(|s| s.len() <= 64 && s.contains('T'))
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .ok_or_else(|| {
            broken(
                path,
                "must be an XML Schema dateTimeStamp, with its time zone (2026-12-07T10:00:00Z)",
            )
        })
}

/// The objects a property holds (one or a list), each with a `type` (§4.5's list of objects
/// that "MUST have a type"), and an `id` that is a URL when present (or required).
fn check_typed(
    object: &Map<String, Value>,
    property: &str,
    id_required: bool,
) -> Result<(), Malformed> {
    let Some(value) = object.get(property) else {
        return Ok(());
    };
    for (index, item) in one_or_many(property, value)?.into_iter().enumerate() {
        let path = match value {
            Value::Array(_) => format!("{property}[{index}]"),
            _ => property.to_owned(),
        };
        let item = item
            .as_object()
            .ok_or_else(|| broken(&path, "must be an object"))?;
        types(&path, item.get("type"))?;
        check_id(&path, item, id_required)?;
    }
    Ok(())
}

/// §5.3: related resources, each an object with a URL `id` (unique) and a digest; a digest of a
/// resource the issuer holds (a bundled context) must be the digest of it.
fn check_related(object: &Map<String, Value>) -> Result<(), Malformed> {
    let Some(value) = object.get("relatedResource") else {
        return Ok(());
    };
    let mut seen = Vec::new();
    for (index, item) in one_or_many("relatedResource", value)?
        .into_iter()
        .enumerate()
    {
        let path = format!("relatedResource[{index}]");
        let item = item
            .as_object()
            .ok_or_else(|| broken(&path, "must be an object"))?;
        check_id(&path, item, true)?;
        let id = item["id"].as_str().unwrap_or_default();
        if seen.contains(&id) {
            return Err(broken(
                &path,
                "an id must be unique among the related resources",
            ));
        }
        seen.push(id);
        let (sri, multibase) = (item.get("digestSRI"), item.get("digestMultibase"));
        if sri.is_none() && multibase.is_none() {
            return Err(broken(&path, "must have a digestSRI or a digestMultibase"));
        }
        let Some(resource) = crate::proof::rdfc::known_context(id) else {
            continue;
        };
        // The VC 2.0 context as W3C publishes it now, whose bytes differ from the bundled
        // copy (same terms): its digests are known too.
        if id == CREDENTIALS_V2
            && (sri.and_then(Value::as_str) == Some(PUBLISHED_V2_SRI)
                || multibase.and_then(Value::as_str) == Some(PUBLISHED_V2_MULTIBASE))
        {
            continue;
        }
        if let Some(sri) = sri {
            let sri = sri.as_str().unwrap_or_default();
            if !sri_matches(sri, resource.as_bytes()) {
                return Err(broken(
                    format!("{path}.digestSRI"),
                    "is not the digest of the resource",
                ));
            }
        }
        if let Some(multibase) = multibase {
            let multibase = multibase.as_str().unwrap_or_default();
            if !multibase_matches(multibase, resource.as_bytes()) {
                return Err(broken(
                    format!("{path}.digestMultibase"),
                    "is not the digest of the resource",
                ));
            }
        }
    }
    Ok(())
}

/// Whether an SRI hash expression (`sha384-…`) is the digest of `bytes`.
fn sri_matches(sri: &str, bytes: &[u8]) -> bool {
    use base64::Engine as _;
    let Some((algorithm, digest)) = sri.split_once('-') else {
        return false;
    };
    let computed = match algorithm {
        "sha256" => sha2::Sha256::digest(bytes).to_vec(),
        "sha384" => sha2::Sha384::digest(bytes).to_vec(),
        "sha512" => sha2::Sha512::digest(bytes).to_vec(),
        _ => return false,
    };
    base64::engine::general_purpose::STANDARD
        .decode(digest)
        .ok()
        == Some(computed)
}

/// Whether a `digestMultibase` is the SHA-256 of `bytes`: the digest alone or as a multihash.
fn multibase_matches(encoded: &str, bytes: &[u8]) -> bool {
    let Ok((_, decoded)) = multibase::decode(encoded) else {
        return false;
    };
    let digest = sha2::Sha256::digest(bytes);
    decoded == digest.as_slice() || decoded.strip_prefix(&[0x12, 0x20]) == Some(digest.as_slice())
}

/// §4.3: `@context` is a list whose first item is the VC 2.0 base context, followed by URLs and
/// context objects.
fn check_context(object: &Map<String, Value>) -> Result<(), Malformed> {
    let contexts = match object.get("@context") {
        None => return Err(broken("@context", "is required")),
        Some(Value::Array(contexts)) => contexts,
        Some(_) => {
            return Err(broken(
                "@context",
                format!("must be a list whose first item is {CREDENTIALS_V2}"),
            ));
        }
    };
    if !matches!(
        contexts.first().and_then(Value::as_str),
        Some(CREDENTIALS_V2 | CREDENTIALS_V1)
    ) {
        return Err(broken(
            "@context[0]",
            format!("must be {CREDENTIALS_V2} (or, for VC 1.1, {CREDENTIALS_V1})"),
        ));
    }
    if contexts.len() > 16 {
        return Err(broken("@context", "more than 16 contexts"));
    }
    for (index, context) in contexts.iter().enumerate().skip(1) {
        match context {
            Value::String(url) if is_url(url) => {}
            Value::Object(_) => {}
            _ => {
                return Err(broken(
                    format!("@context[{index}]"),
                    "must be a URL or a context object",
                ));
            }
        }
    }
    Ok(())
}

/// The issuer's id: a URL, or an object with a URL `id`.
pub fn issuer_id(credential: &Value) -> Option<&str> {
    issuer_like(credential.get("issuer"))
}

/// The id of an `issuer` or a `holder`: the string, or the object's `id`.
pub fn issuer_like(value: Option<&Value>) -> Option<&str> {
    match value? {
        Value::String(id) => Some(id),
        Value::Object(object) => object.get("id")?.as_str(),
        _ => None,
    }
}

/// Checks an unsigned credential against the data model's rules.
pub fn check_credential(credential: &Value) -> Result<(), Malformed> {
    let object = credential
        .as_object()
        .ok_or_else(|| broken("$", "a credential is a JSON object"))?;
    check_context(object)?;
    check_id("$", object, false).map_err(|e| broken("id", e.rule))?;
    let kinds = types("$", object.get("type")).map_err(|e| broken("type", e.rule))?;
    if !kinds.contains(&"VerifiableCredential") {
        return Err(broken("type", "must include VerifiableCredential"));
    }
    match object.get("issuer") {
        None => return Err(broken("issuer", "is required")),
        Some(Value::String(id)) if is_url(id) => {}
        Some(Value::Object(issuer)) => {
            check_id("issuer", issuer, true)?;
            for text in ["name", "description"] {
                if let Some(value) = issuer.get(text) {
                    check_text(&format!("issuer.{text}"), value)?;
                }
            }
        }
        Some(_) => {
            return Err(broken("issuer", "must be a URL or an object with a URL id"));
        }
    }
    let subjects = object
        .get("credentialSubject")
        .ok_or_else(|| broken("credentialSubject", "is required"))?;
    for (index, subject) in one_or_many("credentialSubject", subjects)?
        .into_iter()
        .enumerate()
    {
        let path = format!("credentialSubject[{index}]");
        let subject = subject
            .as_object()
            .ok_or_else(|| broken(&path, "must be an object"))?;
        if subject.is_empty() {
            return Err(broken(&path, "must make at least one claim"));
        }
        check_id(&path, subject, false)?;
    }
    for text in ["name", "description"] {
        if let Some(value) = object.get(text) {
            check_text(text, value)?;
        }
    }
    // VC 1.1 names the window `issuanceDate` (required there) and `expirationDate`.
    let v1 = object["@context"][0] == CREDENTIALS_V1;
    let (from_name, until_name) = if v1 {
        ("issuanceDate", "expirationDate")
    } else {
        ("validFrom", "validUntil")
    };
    if v1 && !object.contains_key(from_name) {
        return Err(broken(from_name, "is required in a VC 1.1 credential"));
    }
    let from = object
        .get(from_name)
        .map(|v| date_time_stamp(from_name, v))
        .transpose()?;
    let until = object
        .get(until_name)
        .map(|v| date_time_stamp(until_name, v))
        .transpose()?;
    if let (Some(from), Some(until)) = (from, until)
        && from > until
    {
        return Err(broken(
            until_name,
            format!("must not be earlier than {from_name}"),
        ));
    }
    for property in [
        "credentialStatus",
        "termsOfUse",
        "evidence",
        "refreshService",
    ] {
        check_typed(object, property, false)?;
    }
    check_typed(object, "credentialSchema", true)?;
    check_related(object)?;
    if object.contains_key("proof") {
        return Err(broken("proof", "an unsigned credential has no proof"));
    }
    Ok(())
}

/// Checks that JSON-LD defines every term and type of a document: expanded strictly under its
/// contexts (the bundled ones), nothing is dropped from what would be signed.
pub fn check_terms(document: &Value) -> Result<(), Malformed> {
    let object = document
        .as_object()
        .ok_or_else(|| broken("$", "a credential is a JSON object"))?;
    crate::proof::rdfc::canonical_nquads(object)
        .map(|_| ())
        .map_err(|e| broken("@context", format!("JSON-LD: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok() -> Value {
        json!({
            "@context": [CREDENTIALS_V2],
            "type": ["VerifiableCredential"],
            "issuer": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
            "credentialSubject": {"id": "did:example:subject"},
        })
    }

    /// A change made to a valid credential.
    type Change = Box<dyn Fn(&mut Value)>;

    /// The digests of the bundled VC 2.0 context, as SRI (SHA-384) and multibase (SHA-256).
    fn v2_sri() -> String {
        use base64::Engine as _;
        let context = vouch_schemas::context(CREDENTIALS_V2).unwrap();
        let digest = sha2::Sha384::digest(context.as_bytes());
        format!(
            "sha384-{}",
            base64::engine::general_purpose::STANDARD.encode(digest)
        )
    }

    fn v2_multibase() -> String {
        let context = vouch_schemas::context(CREDENTIALS_V2).unwrap();
        multibase::encode(
            multibase::Base::Base64Url,
            sha2::Sha256::digest(context.as_bytes()),
        )
    }

    fn with(change: impl Fn(&mut Value)) -> Result<(), Malformed> {
        let mut credential = ok();
        change(&mut credential);
        check_credential(&credential)
    }

    #[test]
    fn what_the_data_model_suite_has_an_issuer_refuse_is_refused_and_what_it_accepts_is_not() {
        assert_eq!(check_credential(&ok()), Ok(()));
        let accepted: Vec<(&str, Change)> = vec![
            (
                "an id URL",
                Box::new(|c| c["id"] = json!("https://example.org/credentials/1")),
            ),
            (
                "a urn id",
                Box::new(|c| c["id"] = json!("urn:uuid:7f1e6b0e-6c25-4a4e-9e4a-3b4bb1d31c2a")),
            ),
            (
                "a second context URL",
                Box::new(|c| {
                    c["@context"] = json!([
                        CREDENTIALS_V2,
                        "https://www.w3.org/ns/credentials/examples/v2"
                    ])
                }),
            ),
            (
                "an inline context",
                Box::new(|c| {
                    c["@context"] = json!([CREDENTIALS_V2, {"Ex": "https://example.org/#Ex"}])
                }),
            ),
            (
                "types in any order",
                Box::new(|c| {
                    c["type"] = json!(["https://example.org/#Ex", "VerifiableCredential"])
                }),
            ),
            (
                "an issuer object",
                Box::new(
                    |c| c["issuer"] = json!({"id": "did:example:issuer", "name": {"@value": "Acme", "@language": "en", "@direction": "ltr"}}),
                ),
            ),
            (
                "two subjects",
                Box::new(|c| {
                    c["credentialSubject"] =
                        json!([{"id": "did:example:a"}, {"id": "did:example:b"}])
                }),
            ),
            (
                "names in languages",
                Box::new(
                    |c| c["name"] = json!([{"@value": "A", "@language": "en"}, {"@value": "B", "@language": "fr"}]),
                ),
            ),
            (
                "a window across time zones",
                Box::new(|c| {
                    c["validFrom"] = json!("2023-02-26T01:21:23Z");
                    c["validUntil"] = json!("2023-02-25T19:21:29-06:00");
                }),
            ),
            (
                "a past validUntil",
                Box::new(|c| {
                    c["validFrom"] = json!("2023-02-26T01:02:58.447Z");
                    c["validUntil"] = json!("2023-02-26T01:02:59.447Z");
                }),
            ),
            (
                "a status without id",
                Box::new(|c| c["credentialStatus"] = json!({"type": "BitstringStatusListEntry"})),
            ),
            (
                "two schemas",
                Box::new(
                    |c| c["credentialSchema"] = json!([{"id": "did:example:schemas/1", "type": "JsonSchema"}, {"id": "did:example:schemas/2", "type": "JsonSchema"}]),
                ),
            ),
            (
                "terms of use with an id",
                Box::new(|c| {
                    c["termsOfUse"] =
                        json!({"type": "OdrlPolicy2017", "id": "https://example.org/terms/1"})
                }),
            ),
            (
                "the v2 context's SRI digest",
                Box::new(|c| {
                    c["relatedResource"] = json!([{"id": CREDENTIALS_V2, "digestSRI": v2_sri()}])
                }),
            ),
            (
                "the published v2 context's SRI digest",
                Box::new(|c| {
                    c["relatedResource"] =
                        json!([{"id": CREDENTIALS_V2, "digestSRI": PUBLISHED_V2_SRI}])
                }),
            ),
            (
                "the published v2 context's multibase digest",
                Box::new(|c| {
                    c["relatedResource"] =
                        json!({"id": CREDENTIALS_V2, "digestMultibase": PUBLISHED_V2_MULTIBASE})
                }),
            ),
            (
                "an unknown resource's digest",
                Box::new(|c| {
                    c["relatedResource"] =
                        json!({"id": "https://example.org/r", "digestSRI": "sha384-x"})
                }),
            ),
            (
                "the v2 context's multibase digest",
                Box::new(|c| {
                    c["relatedResource"] =
                        json!({"id": CREDENTIALS_V2, "digestMultibase": v2_multibase()})
                }),
            ),
        ];
        for (what, change) in accepted {
            assert_eq!(with(change), Ok(()), "{what}");
        }
        let refused: Vec<(&str, Change)> = vec![
            (
                "no @context",
                Box::new(|c| {
                    c.as_object_mut().unwrap().remove("@context");
                }),
            ),
            (
                "another first context",
                Box::new(|c| {
                    c["@context"] = json!(["https://www.w3.org/ns/credentials/examples/v2"])
                }),
            ),
            (
                "a context that is no URL",
                Box::new(|c| {
                    c["@context"] =
                        json!([CREDENTIALS_V2, "https ://not-a-url/contexts/example/v1"])
                }),
            ),
            (
                "a context that is a number",
                Box::new(|c| c["@context"] = json!([CREDENTIALS_V2, 123192875])),
            ),
            ("a null id", Box::new(|c| c["id"] = Value::Null)),
            (
                "two ids",
                Box::new(|c| c["id"] = json!(["https://example.org/1", "https://example.org/2"])),
            ),
            (
                "an id with a space",
                Box::new(|c| c["id"] = json!("https ://not-a-url/vcs/1")),
            ),
            (
                "a subject with two ids",
                Box::new(|c| {
                    c["credentialSubject"]["id"] = json!(["did:example:a", "did:example:b"])
                }),
            ),
            (
                "no type",
                Box::new(|c| {
                    c.as_object_mut().unwrap().remove("type");
                }),
            ),
            (
                "no VerifiableCredential",
                Box::new(|c| c["type"] = json!(["RelationshipCredential"])),
            ),
            (
                "an issuer that is no URL",
                Box::new(|c| c["issuer"] = json!("fake-issuer")),
            ),
            ("a null issuer", Box::new(|c| c["issuer"] = Value::Null)),
            (
                "an issuer with a null id",
                Box::new(|c| c["issuer"] = json!({"id": null})),
            ),
            (
                "an issuer id that is no URL",
                Box::new(|c| c["issuer"] = json!({"id": "fake-issuer"})),
            ),
            (
                "no subject",
                Box::new(|c| {
                    c.as_object_mut().unwrap().remove("credentialSubject");
                }),
            ),
            (
                "an empty subject",
                Box::new(|c| c["credentialSubject"] = json!({})),
            ),
            (
                "an empty subject among two",
                Box::new(|c| c["credentialSubject"] = json!([{"id": "did:example:a"}, {}])),
            ),
            (
                "a name with another key",
                Box::new(|c| {
                    c["name"] =
                        json!({"@value": "A", "@language": "en", "url": "https://example.org"})
                }),
            ),
            (
                "an issuer description with another key",
                Box::new(
                    |c| c["issuer"] = json!({"id": "did:example:issuer", "description": {"@value": "A", "url": "x"}}),
                ),
            ),
            (
                "a validFrom in another format",
                Box::new(|c| c["validFrom"] = json!("Sat 25 Feb 2023 07:16:31 PM CST")),
            ),
            (
                "a validUntil in RFC 2822",
                Box::new(|c| c["validUntil"] = json!("Sun, 26 Feb 2023 01:22:14 +0000")),
            ),
            (
                "a validUntil without a time zone",
                Box::new(|c| c["validUntil"] = json!("2023-02-26T01:22:14")),
            ),
            (
                "a window backwards",
                Box::new(|c| {
                    c["validFrom"] = json!("2026-02-26T00:00:00Z");
                    c["validUntil"] = json!("2025-02-26T00:00:00Z");
                }),
            ),
            (
                "a status without type",
                Box::new(|c| c["credentialStatus"] = json!({"id": "did:example:status"})),
            ),
            (
                "a status type that is a number",
                Box::new(|c| c["credentialStatus"] = json!({"type": 2})),
            ),
            (
                "a status with two ids",
                Box::new(|c| {
                    c["credentialStatus"] =
                        json!({"type": "X", "id": ["did:example:a", "did:example:b"]})
                }),
            ),
            (
                "terms of use without type",
                Box::new(|c| c["termsOfUse"] = json!({})),
            ),
            (
                "evidence without type",
                Box::new(|c| c["evidence"] = json!({"id": "https://example.org/e/1"})),
            ),
            (
                "a refresh service without type",
                Box::new(|c| c["refreshService"] = json!({"id": "https://example.org/r"})),
            ),
            (
                "a schema without type",
                Box::new(|c| c["credentialSchema"] = json!({"id": "did:example:schemas/1"})),
            ),
            (
                "a schema without id",
                Box::new(|c| c["credentialSchema"] = json!({"type": "JsonSchema"})),
            ),
            (
                "a schema id that is no URL",
                Box::new(|c| {
                    c["credentialSchema"] =
                        json!({"type": "JsonSchema", "id": "https ://not-a-url.org/s"})
                }),
            ),
            (
                "related resources as strings",
                Box::new(|c| c["relatedResource"] = json!([CREDENTIALS_V2])),
            ),
            (
                "a related resource without id",
                Box::new(|c| {
                    c["relatedResource"] =
                        json!([{"digestMultibase": "uJKGMkOmFbVJhEfKTduMC2XCyvRAYLjOVmZWwIH1wQ7k"}])
                }),
            ),
            (
                "a related resource twice",
                Box::new(
                    |c| c["relatedResource"] = json!([{"id": "https://example.org/a", "digestSRI": "sha256-x"}, {"id": "https://example.org/a", "digestSRI": "sha256-x"}]),
                ),
            ),
            (
                "a related resource without digest",
                Box::new(|c| c["relatedResource"] = json!([{"id": "https://example.org/a"}])),
            ),
            (
                "a wrong multibase digest",
                Box::new(
                    |c| c["relatedResource"] = json!([{"id": CREDENTIALS_V2, "digestMultibase": "uM4RgWQc3RUDtjJCSgTJtTfvpZ7SPEg_LNO0ESlovQC0"}]),
                ),
            ),
            (
                "a wrong SRI digest",
                Box::new(
                    |c| c["relatedResource"] = json!([{"id": CREDENTIALS_V2, "digestSRI": "sha384-_rCVIV7fJ0qH3uXl2Lg4SFsJ4x5xWkGFkJXWzpxDtXnsQkAeLvb3Fv2uZnWUpjgE"}]),
                ),
            ),
            (
                "a proof already",
                Box::new(|c| c["proof"] = json!({"type": "DataIntegrityProof"})),
            ),
            ("not an object", Box::new(|c| *c = json!("a credential"))),
        ];
        for (what, change) in refused {
            assert!(with(change).is_err(), "{what} was not refused");
        }
        // VC 1.1: its own window's names, `issuanceDate` required.
        let v1 = json!({
            "@context": [CREDENTIALS_V1],
            "type": ["VerifiableCredential"],
            "issuer": "did:example:issuer",
            "issuanceDate": "2024-01-01T00:00:00Z",
            "credentialSubject": {"id": "did:example:subject"},
        });
        assert_eq!(check_credential(&v1), Ok(()));
        let mut undated = v1.clone();
        undated.as_object_mut().unwrap().remove("issuanceDate");
        assert_eq!(check_credential(&undated).unwrap_err().path, "issuanceDate");
        let mut backwards = v1.clone();
        backwards["expirationDate"] = json!("2023-01-01T00:00:00Z");
        assert_eq!(
            check_credential(&backwards).unwrap_err().path,
            "expirationDate"
        );
        // A term or a type no context defines: refused before anything is signed.
        assert!(check_terms(&ok()).is_ok());
        let mut undefined = ok();
        undefined["type"] = json!(["VerifiableCredential", "InvalidType"]);
        assert!(check_terms(&undefined).is_err());
        let mut undefined = ok();
        undefined["credentialSubject"]["invalidTerm"] = json!("x");
        assert!(check_terms(&undefined).is_err());
        // A refusal names where and why.
        let refusal = with(|c| c["issuer"] = json!({"id": "fake-issuer"})).unwrap_err();
        assert_eq!(refusal.path, "issuer.id");
        assert!(refusal.to_string().contains("URL"), "{refusal}");
    }
}
