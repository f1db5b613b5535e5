//! Differential test of `eddsa-rdfc-2022` canonicalization: the canonical N-Quads Vouch signs,
//! for a generated corpus of its credentials, presentations and proof configurations, must be
//! byte for byte those of jsonld.js (Digital Bazaar's, with rdf-canonize), an independent JSON-LD
//! implementation (installed by `scripts/test.sh`, run offline against the bundled contexts).
//! Interoperability is only real when someone else's code agrees.
//!
//! pyld 3.3 would do too, but for one thing: it writes control characters in literals raw, where
//! RDFC-1.0's canonical N-Quads escape them (`\u0007`); rdf-canon and jsonld.js agree on the spec.

use std::io::Write;
use std::process::{Command, Stdio};

use chrono::Duration;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};
use vouch_core::credential::{AgentCapabilityCredential, DefinitionHash, StatusEntry};
use vouch_core::delegation;
use vouch_core::did::key::did_of;
use vouch_core::key::KeyPair;
use vouch_core::presentation;
use vouch_core::proof::Cryptosuite;
use vouch_core::proof::rdfc::canonical_nquads;

use crate::fixtures::{now, root_grant};
use crate::flows::sign_as;

/// Strings that stress N-Quads escaping and Unicode.
const AWKWARD: [&str; 8] = [
    "plain",
    "tab\there",
    "new\nline and \r return",
    "quote \" and back\\slash",
    "caf\u{e9} \u{1F916}",
    "bell \u{7} and del \u{7f}",
    "\u{feff}bom",
    "urn:like:a:term",
];

/// A capability; `unknown` allows a constraint Vouch does not know (which nothing can be
/// delegated from).
fn capability(rng: &mut StdRng, unknown: bool) -> Value {
    let mut constraints = Map::new();
    if rng.gen_bool(0.5) {
        constraints.insert(
            "maxAmount".into(),
            json!({"value": rng.gen_range(0..1_000_000u64), "unit": "EUR"}),
        );
    }
    if rng.gen_bool(0.3) {
        constraints.insert("requiresApproval".into(), json!(rng.gen_bool(0.5)));
    }
    if rng.gen_bool(0.3) {
        constraints.insert(
            "validUntil".into(),
            json!(vouch_core::proof::format_time(
                &(now() + Duration::minutes(5))
            )),
        );
    }
    if unknown && rng.gen_bool(0.5) {
        // An unknown constraint, nested: `@json` keeps any JSON as one literal, in JCS form.
        constraints.insert(
            "someday".into(),
            json!({"nested": [1, 2.5, -3, 1e21, 0.1, {"z": false, "a": true}], "s": AWKWARD[rng.gen_range(0..AWKWARD.len())]}),
        );
    }
    let action = ["call:billing_api:refund", "read:tickets", "write:*"][rng.gen_range(0..3)];
    let resource = [
        "https://billing.acme.example/refunds/**",
        "https://h.example/t/*/x",
        "https://h.example/a%20b",
    ][rng.gen_range(0..3)];
    json!({"action": action, "resource": resource, "constraints": constraints})
}

/// A root credential with every optional field chosen at random.
fn root(
    rng: &mut StdRng,
    org: &KeyPair,
    agent: &KeyPair,
    unknown: bool,
) -> AgentCapabilityCredential {
    let count = rng.gen_range(1..4);
    let capabilities = (0..count).map(|_| capability(rng, unknown)).collect();
    let mut grant = root_grant(org, agent, capabilities);
    grant.agent.name = AWKWARD[rng.gen_range(0..AWKWARD.len())].to_owned();
    grant.agent.owner = AWKWARD[rng.gen_range(0..AWKWARD.len())].to_owned();
    grant.agent.definition_hash = DefinitionHash::compute(
        AWKWARD[rng.gen_range(0..AWKWARD.len())],
        "prompt",
        &json!([{"name": "t", "n": rng.gen_range(0..9)}]),
        &json!({}),
    )
    .expect("hashes");
    grant.audience = (0..rng.gen_range(0..4))
        .map(|i| format!("partner-{i}.example"))
        .collect();
    grant.max_renewals = rng.gen_range(0..10);
    if rng.gen_bool(0.3) {
        grant.status = Vec::new();
    } else if rng.gen_bool(0.5) {
        grant.status.push(StatusEntry::bit(
            "https://node.acme.example/status/2#7".to_owned(),
            "suspension",
            7,
            "https://node.acme.example/status/2",
        ));
    }
    let mut credential = grant.build().expect("builds");
    credential.credential_subject.resources = (0..rng.gen_range(0..3))
        .map(|i| format!("https://api-{i}.acme.example/v1"))
        .collect();
    AgentCapabilityCredential::from_json(&credential.to_json()).expect("well-formed")
}

/// The corpus: roots, chains up to 5 deep (long `ancestors` lists), presentations of them, in
/// both suites, each with its proof configuration.
fn corpus() -> Vec<Value> {
    corpus_from(0x0076_6f75_6368, 0..12)
}

fn corpus_from(seed: u64, rounds: std::ops::Range<usize>) -> Vec<Value> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut documents = Vec::new();
    for round in rounds {
        let suite = if round % 2 == 0 {
            Cryptosuite::EddsaRdfc2022
        } else {
            Cryptosuite::EddsaJcs2022
        };
        let org = KeyPair::generate();
        let mut holders = vec![KeyPair::generate()];
        let hops = round % 6;
        let mut chain = vec![root(&mut rng, &org, &holders[0], hops == 0)];
        let mut signed = vec![sign_as(&chain[0], &org, suite)];
        for _ in 0..hops {
            let parent = chain.last().expect("a root");
            let to = KeyPair::generate();
            let capabilities = parent.credential_subject.capabilities.clone();
            let child = delegation::delegate(
                parent,
                did_of(&to.public()),
                capabilities,
                parent.valid_until,
                now(),
            )
            .expect("delegates");
            signed.push(sign_as(&child, holders.last().expect("a holder"), suite));
            chain.push(child);
            holders.push(to);
        }
        let vp = presentation::create(
            holders.last().expect("a holder"),
            signed.clone(),
            AWKWARD[round % AWKWARD.len()],
            "partner.example",
            suite,
            now(),
        )
        .expect("presents");
        for document in signed.into_iter().chain([vp]) {
            let (unsecured, config) = split(&document);
            documents.push(unsecured);
            documents.push(config);
        }
    }
    documents
}

/// The document without its proof, and the proof configuration as `eddsa-rdfc-2022` hashes it
/// (without `proofValue`, with the document's context).
fn split(secured: &Value) -> (Value, Value) {
    let mut document = secured.clone();
    let proof = document
        .as_object_mut()
        .expect("object")
        .remove("proof")
        .expect("signed");
    let mut config = proof;
    let config_object = config.as_object_mut().expect("object");
    config_object.remove("proofValue");
    config_object.insert("@context".into(), document["@context"].clone());
    (document, config)
}

fn jsonld_js(documents: &[Value]) -> Vec<Value> {
    let contexts: Map<String, Value> = vouch_schemas::CONTEXTS
        .iter()
        .map(|(url, text)| ((*url).to_owned(), Value::from(*text)))
        .collect();
    let request = json!({"contexts": contexts, "documents": documents});
    node_script("jsonld_nquads.js", &request)
}

/// Runs `tests/interop/<script>` under Node.js with `request` on stdin; its JSON answer.
/// (scripts/test.sh installs jsonld.js for the scripts that need it: `npm ci --prefix
/// core/tests/interop`.)
fn node_script(script: &str, request: &Value) -> Vec<Value> {
    // The folder as cargo runs the test, not as it was built: a build reused from another
    // checkout of the same sources would point there.
    let crate_dir =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let path = format!("{crate_dir}/tests/interop/{script}");
    let mut child = Command::new("node")
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("written");
    let out = child.wait_with_output().expect("node answers");
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON list")
}

#[test]
fn canonical_nquads_agree_with_jsonld_js() {
    let documents = corpus();
    assert!(documents.len() > 80, "{}", documents.len());
    let theirs = jsonld_js(&documents);
    assert_eq!(theirs.len(), documents.len());
    let mut lists = 0;
    for (document, expected) in documents.iter().zip(&theirs) {
        let expected = expected
            .as_str()
            .unwrap_or_else(|| panic!("jsonld.js refused {document:#}: {expected}"));
        let ours = canonical_nquads(document.as_object().expect("object"))
            .expect("canonicalizes")
            .concat();
        assert_eq!(ours, expected, "{document:#}");
        lists += usize::from(expected.contains("22-rdf-syntax-ns#first>"));
    }
    // The corpus has delegation chains, so non-empty `ancestors` lists were compared.
    assert!(lists > 0);
}

/// Terms, IRIs and keywords a generated JSON-LD document is made of: Vouch's and the VC 2.0
/// context's (with type-scoped and property-scoped contexts, `@graph`, `@list`, `@json` and
/// `@id` coercions), absolute IRIs, compact IRIs, undefined terms and keywords.
const KEYS: [&str; 22] = [
    "id",
    "type",
    "issuer",
    "validFrom",
    "credentialSubject",
    "capabilities",
    "action",
    "resource",
    "constraints",
    "delegation",
    "ancestors",
    "depth",
    "proof",
    "verifiableCredential",
    "cryptosuite",
    "verificationMethod",
    "name",
    "description",
    "https://example.com/p",
    "xsd:string",
    "notDefinedAnywhere",
    "@value",
];
const TYPES: [&str; 7] = [
    "VerifiableCredential",
    "VerifiablePresentation",
    "AgentCapabilityCredential",
    "DataIntegrityProof",
    "BitstringStatusListEntry",
    "https://example.com/T",
    "Undefined",
];
const STRINGS: [&str; 7] = [
    "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
    "urn:uuid:2bec6d58-a2bd-45bc-9e2d-67759f7b70df",
    "2026-11-30T18:00:00Z",
    "relative/path",
    "_:b0",
    "caf\u{e9} \u{1F916}",
    "eddsa-rdfc-2022",
];

fn generated_value(depth: u32) -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        (0..STRINGS.len()).prop_map(|i| json!(STRINGS[i])),
        (0..TYPES.len()).prop_map(|i| json!(TYPES[i])),
        any::<i32>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|x| json!(x)),
        any::<bool>().prop_map(|b| json!(b)),
    ];
    leaf.prop_recursive(depth, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::btree_map(
                (0..KEYS.len()).prop_map(|i| KEYS[i].to_owned()),
                inner,
                0..4
            )
            .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

fn generated_document() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let contexts = vouch_schemas::CONTEXTS.len();
    (
        proptest::collection::vec(0..contexts, 1..4),
        proptest::collection::vec(0..TYPES.len(), 0..3),
        proptest::collection::btree_map(
            (0..KEYS.len()).prop_map(|i| KEYS[i].to_owned()),
            generated_value(3),
            0..6,
        ),
    )
        .prop_map(|(contexts, types, members)| {
            let mut document: Map<String, Value> = members.into_iter().collect();
            let urls: Vec<&str> = contexts
                .iter()
                .map(|&i| vouch_schemas::CONTEXTS[i].0)
                .collect();
            document.insert("@context".into(), json!(urls));
            if !types.is_empty() {
                let types: Vec<&str> = types.iter().map(|&i| TYPES[i]).collect();
                document.insert("type".into(), json!(types));
            }
            Value::Object(document)
        })
}

/// The same canonical form, or the same refusal, from the fast path (each top-level context
/// processed once and kept) and from the general one (every context processed on every
/// expansion, as ssi does).
fn same_on_both_paths(document: &Value) -> Result<(), proptest::test_runner::TestCaseError> {
    use vouch_core::proof::rdfc::canonical_nquads_general;
    let object = document.as_object().expect("object");
    match (canonical_nquads(object), canonical_nquads_general(object)) {
        (Ok(fast), Ok(general)) => proptest::prop_assert_eq!(fast, general, "{:#}", document),
        (Err(_), Err(_)) => {}
        (fast, general) => proptest::prop_assert!(
            false,
            "{document:#}: fast {:?}, general {:?}",
            fast.map(|q| q.len()),
            general.map(|q| q.len())
        ),
    }
    Ok(())
}

/// Found by the generated-document test: a top-level value object with a `@context` is refused
/// by json-ld's expansion; the fast path, which expands without the `@context`, accepted it (no
/// quads) until it sent value, list and set objects the general way.
#[test]
fn a_top_level_value_list_or_set_object_is_refused_on_both_paths() {
    let did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";
    for keyword in ["@value", "@list", "@set"] {
        let value = if keyword == "@value" {
            json!(did)
        } else {
            json!([did])
        };
        let document =
            json!({keyword: value, "@context": ["https://www.w3.org/ns/credentials/v2"]});
        same_on_both_paths(&document).expect("the same on both paths");
    }
    let value = json!({"@value": did, "@context": ["https://www.w3.org/ns/credentials/v2"]});
    assert!(canonical_nquads(value.as_object().expect("object")).is_err());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    #[test]
    fn the_fast_path_canonicalizes_generated_credentials_as_the_general_one(
        seed in proptest::prelude::any::<u64>(),
        round in 0usize..12,
    ) {
        for document in corpus_from(seed, round..round + 1) {
            same_on_both_paths(&document)?;
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    #[test]
    fn the_fast_path_canonicalizes_generated_json_ld_as_the_general_one(
        document in generated_document(),
    ) {
        same_on_both_paths(&document)?;
    }
}

/// Runs `note_verify.js` over a note and the keys it may be signed with.
fn note_verify(note: &[u8], keys: &[(&str, u8, &KeyPair)]) -> Vec<Value> {
    use base64::Engine as _;
    let keys: Vec<Value> = keys
        .iter()
        .map(|(name, kind, key)| {
            json!({
                "name": name,
                "type": kind,
                "key": base64::engine::general_purpose::STANDARD.encode(key.public().as_bytes()),
            })
        })
        .collect();
    let request = json!({"note": String::from_utf8(note.to_vec()).expect("UTF-8"), "keys": keys});
    node_script("note_verify.js", &request)
}

#[test]
fn checkpoints_and_cosignatures_verify_as_the_c2sp_specifications_describe_them() {
    use vouch_core::audit::checkpoint;
    let (log, w1, w2) = (
        KeyPair::generate(),
        KeyPair::generate(),
        KeyPair::generate(),
    );
    let origin = "did:vouch:zQmOrg/audit";
    let root = tlog_tiles::record_hash(b"a root");
    let note = checkpoint::sign(origin, 1042, root, &log).expect("signed");
    let time = chrono::DateTime::from_timestamp(1_796_040_000, 0).expect("a time");
    let note = checkpoint::cosign(&note, "did:vouch:zQmW1/witness", &w1, time).expect("cosigned");
    let note = checkpoint::cosign(&note, "did:vouch:zQmW2/witness", &w2, time).expect("cosigned");
    let keys = [
        (origin, 1, &log),
        ("did:vouch:zQmW1/witness", 4, &w1),
        ("did:vouch:zQmW2/witness", 4, &w2),
    ];
    let answers = note_verify(&note, &keys);
    assert_eq!(answers.len(), 3, "{answers:?}");
    for answer in &answers {
        assert_eq!(answer["known"], true, "{answer}");
        assert_eq!(answer["verified"], true, "{answer}");
    }
    assert_eq!(answers[1]["time"], 1_796_040_000);

    // The other side refuses what it should: a changed size, a key of another name.
    let text = String::from_utf8(note.clone()).expect("UTF-8");
    let changed = text.replacen("\n1042\n", "\n1043\n", 1);
    for answer in note_verify(changed.as_bytes(), &keys) {
        assert_eq!(answer["verified"], false, "{answer}");
    }
    let renamed = [(origin, 4, &log), ("did:vouch:zQmW3/witness", 4, &w1)];
    for answer in note_verify(&note, &renamed) {
        assert_eq!(answer["known"], false, "{answer}");
    }
}
