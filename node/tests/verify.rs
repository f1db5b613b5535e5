//! A partner without a node verifies through a member's HTTP resolver (DESIGN §1): the DID
//! documents and status lists the `vouch` CLI's `--resolver` takes, from a real node.

use chrono::{Duration, Utc};
use serde_json::json;
use vouch_core::capability::Action;
use vouch_core::credential::{
    AgentCapabilityCredential, AgentDescription, DefinitionHash, Multihash, StatusEntry, Task,
};
use vouch_core::delegation::{RootGrant, sign_credential};
use vouch_core::did::key::did_of;
use vouch_core::key::KeyPair;
use vouch_core::proof::Cryptosuite;
use vouch_core::report::Reason;
use vouch_core::verify::{TrustList, Verifier, verify_credential};
use vouch_node::org::Org;
use vouch_wallet::sources::{HttpResolver, Sources};

use crate::common::{TestNode, post};

fn credential(issuer: &Org, list_url: &str) -> serde_json::Value {
    let now = Utc::now();
    let credential: AgentCapabilityCredential = RootGrant {
        issuer: issuer.did().clone(),
        subject: did_of(&KeyPair::generate().public()),
        agent: AgentDescription {
            name: "bot".into(),
            version: "1".into(),
            definition_hash: DefinitionHash::compute("m", "p", &json!([]), &json!({}))
                .expect("hashes"),
            owner: "o@acme.example".into(),
        },
        principal: "urn:vouch:principal:p1".into(),
        task: Task {
            id: "t1".into(),
            purpose_hash: Multihash::of(b"triage"),
        },
        capabilities: vec![json!({"action": "read:tickets", "resource": "https://h.example/t/**"})],
        audience: Vec::new(),
        valid_from: now,
        lifetime: Duration::minutes(15),
        max_renewals: 0,
        not_after: now + Duration::minutes(15),
        max_depth: 1,
        status: vec![StatusEntry {
            id: format!("{list_url}#42"),
            type_: "BitstringStatusListEntry".into(),
            status_purpose: "revocation".into(),
            status_list_index: "42".into(),
            status_list_credential: list_url.to_owned(),
        }],
    }
    .build()
    .expect("builds");
    let (key, method) = issuer.signing_key().expect("the org's key");
    sign_credential(&credential, &key, method, Cryptosuite::EddsaJcs2022, now).expect("signs")
}

/// Verifies `credential` with only what the node at `base` serves, trusting `issuer`.
fn verify_through(base: &str, credential: &serde_json::Value, trust: &TrustList) -> Vec<Reason> {
    let mut sources = Sources::new();
    sources.set_resolver(HttpResolver::new(base).expect("an http URL"));
    let url = credential["credentialStatus"][0]["statusListCredential"]
        .as_str()
        .expect("a status entry");
    assert!(sources.fetch_status_lists([url]).is_empty());
    let mut verifier = Verifier::new(&sources, Utc::now());
    verifier.issuers = Some(trust);
    verifier.status = Some(&sources.lists);
    let (report, _) = verify_credential(credential, &verifier);
    report.reasons()
}

#[test]
fn the_cli_checks_status_and_documents_through_a_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::init(dir.path());
    let did = node.node().identity.did.clone();
    let change = |body: &str| {
        let answer = post(
            &node.url("/admin/status-lists/revocation-1"),
            body,
            Some(&node.admin_token()),
        );
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.json()["id"]
            .as_str()
            .expect("the list's URL")
            .to_owned()
    };
    let list_url = change(r#"{"purpose":"revocation","set":[7]}"#);
    let org = Org::new(
        node.config.data_dir.clone(),
        did.clone(),
        node.node().registry.clone(),
    );
    let signed = credential(&org, &list_url);
    let base = node.url("");
    let trust = TrustList(vec![(did.clone(), Action::parse("*").expect("action"))]);
    // The org's did:vouch and its list, both from the node: verified.
    assert_eq!(verify_through(&base, &signed, &trust), []);
    // Revoked at the node: the next verification sees it.
    change(r#"{"purpose":"revocation","set":[42]}"#);
    assert_eq!(verify_through(&base, &signed, &trust), [Reason::Revoked]);
    // A resolver that is not an http:// base URL is refused up front.
    assert!(HttpResolver::new("https://node.example").is_err());
    assert!(HttpResolver::new(&format!("{base}/1.0")).is_err());
}
