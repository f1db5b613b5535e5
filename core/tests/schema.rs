//! The JSON Schema in `vouch-schemas` and the typed credential model agree: every credential Vouch
//! makes passes the schema, and each way of breaking one fails both the schema and the model.

use jsonschema::Validator;
use serde_json::{Value, json};
use vouch_core::credential::AgentCapabilityCredential;
use vouch_core::proof::Cryptosuite;

use crate::flows::{delegated, refund_capability, world};

fn validator() -> Validator {
    let schema: Value = serde_json::from_str(vouch_schemas::AGENT_CAPABILITY_CREDENTIAL_SCHEMA)
        .expect("the schema is JSON");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema is a valid draft 2020-12 schema")
}

fn errors(validator: &Validator, credential: &Value) -> Vec<String> {
    validator
        .iter_errors(credential)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn credentials_vouch_makes_pass_the_schema() {
    let validator = validator();
    for suite in [Cryptosuite::EddsaJcs2022, Cryptosuite::EddsaRdfc2022] {
        let w = world(suite);
        let unsigned = serde_json::to_value(&w.root).expect("serializes");
        let child = delegated(&w, vec![refund_capability(100)], suite);
        for (name, credential) in [
            ("unsigned root", &unsigned),
            ("signed root", &w.root_signed),
            ("delegated", &child),
        ] {
            let found = errors(&validator, credential);
            assert!(found.is_empty(), "{suite} {name}: {found:?}");
        }
    }
}

#[test]
fn broken_credentials_fail_the_schema_and_the_model() {
    let validator = validator();
    let base = serde_json::to_value(world(Cryptosuite::EddsaJcs2022).root).expect("serializes");
    let cases: Vec<(&str, &str, Option<Value>)> = vec![
        ("no issuer", "/issuer", None),
        (
            "issuer not a DID",
            "/issuer",
            Some(json!("https://acme.example")),
        ),
        (
            "one type only",
            "/type",
            Some(json!(["VerifiableCredential"])),
        ),
        (
            "contexts swapped",
            "/@context",
            Some(json!([
                "https://w3id.org/vouch/v1",
                "https://www.w3.org/ns/credentials/v2"
            ])),
        ),
        (
            "id not a UUID URN",
            "/id",
            Some(json!("https://acme.example/vc/1")),
        ),
        (
            "subject not a did:key",
            "/credentialSubject/id",
            Some(json!("did:web:agent.example")),
        ),
        (
            "no capabilities",
            "/credentialSubject/capabilities",
            Some(json!([])),
        ),
        (
            "unknown subject field",
            "/credentialSubject/admin",
            Some(json!(true)),
        ),
        (
            "hash too short",
            "/credentialSubject/agent/definitionHash/model",
            Some(json!("zQm123")),
        ),
        (
            "principal not a pseudonym",
            "/credentialSubject/principal",
            Some(json!("alice@acme.example")),
        ),
        (
            "validFrom not a time",
            "/validFrom",
            Some(json!("yesterday")),
        ),
        (
            "validUntil with an offset",
            "/validUntil",
            Some(json!("2026-11-23T11:15:00+01:00")),
        ),
        (
            "negative depth",
            "/credentialSubject/delegation/depth",
            Some(json!(-1)),
        ),
        ("no renewal", "/credentialSubject/renewal", None),
        (
            "action wildcard not final",
            "/credentialSubject/capabilities/0/action",
            Some(json!("call:*:refund")),
        ),
        (
            "negative limit",
            "/credentialSubject/capabilities/0/constraints/maxAmount/value",
            Some(json!(-5)),
        ),
        (
            "limit without unit",
            "/credentialSubject/capabilities/0/constraints/maxAmount",
            Some(json!({"value": 5})),
        ),
        (
            "hour out of range",
            "/credentialSubject/capabilities/0/constraints/hours",
            Some(
                json!({"timeZone": "Europe/Paris", "days": ["mon"], "start": "25:00", "end": "26:00"}),
            ),
        ),
        (
            "unknown status purpose",
            "/credentialStatus/0/statusPurpose",
            Some(json!("other")),
        ),
        (
            "status index not a number",
            "/credentialStatus/0/statusListIndex",
            Some(json!("x1")),
        ),
    ];
    for (name, pointer, value) in cases {
        let mut broken = base.clone();
        match value {
            Some(value) => set(&mut broken, pointer, value),
            None => remove(&mut broken, pointer),
        }
        assert!(
            !errors(&validator, &broken).is_empty(),
            "{name}: the schema accepts it"
        );
        assert!(
            AgentCapabilityCredential::from_json(&broken).is_err(),
            "{name}: the model accepts it"
        );
    }
}

fn split(pointer: &str) -> (&str, &str) {
    pointer.rsplit_once('/').expect("a JSON pointer")
}

fn set(value: &mut Value, pointer: &str, new: Value) {
    let (parent, key) = split(pointer);
    match value.pointer_mut(parent).expect("the parent exists") {
        Value::Object(map) => {
            map.insert(key.to_owned(), new);
        }
        Value::Array(items) => items[key.parse::<usize>().expect("an index")] = new,
        other => panic!("{parent} is {other}"),
    }
}

fn remove(value: &mut Value, pointer: &str) {
    let (parent, key) = split(pointer);
    value
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .and_then(|map| map.remove(key))
        .expect("the field exists");
}
