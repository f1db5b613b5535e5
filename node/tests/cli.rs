//! `vouch-node admin` against a running `vouch-node run`: an agent definition's DID log
//! registered, the org's key rotated, a revocation published, and refusals reported as failures.

use std::path::Path;
use std::process::Output;

use chrono::Utc;
use vouch_core::did::vouch::{self, DocumentContent};
use vouch_core::key::KeyPair;
use vouch_node::datadir;

use crate::common::{get, node, run, write_config};

/// `vouch-node --config <config> admin <args>`.
fn admin(config: &Path, args: &[&str]) -> Output {
    node(config, "admin").args(args).output().expect("runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_admin_cli_registers_an_agent_definition_and_changes_the_org() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, http) = write_config(dir.path());
    assert!(node(&config, "init").status().expect("runs").success());
    let org = datadir::identity(&dir.path().join("data"))
        .expect("identity")
        .did
        .to_string();
    let _node = run(&config);
    let resolve = |did: &str| {
        get(
            &format!("http://127.0.0.1:{http}/1.0/identifiers/{did}"),
            None,
        )
    };

    // An agent definition's log of two operations, as `vouch did create` and `update` write it.
    let (first, second, third) = (
        KeyPair::generate(),
        KeyPair::generate(),
        KeyPair::generate(),
    );
    let (agent, genesis) = vouch::create(
        DocumentContent::single_key(&KeyPair::generate().public()),
        &first,
        &[second.public()],
        Utc::now(),
    )
    .expect("a genesis");
    let mut log = vouch::DidLog::new(genesis).expect("a log");
    let listed = KeyPair::generate();
    let update = vouch::update(
        &log,
        DocumentContent::single_key(&listed.public()),
        &second,
        &[third.public()],
        Utc::now(),
    )
    .expect("an update");
    log.apply(update).expect("applies");
    let file = dir.path().join("agent.jsonl");
    std::fs::write(&file, log.to_jsonl()).expect("written");
    let submitted = admin(&config, &["submit", file.to_str().expect("utf-8")]);
    assert!(submitted.status.success(), "{}", text(&submitted.stderr));
    assert_eq!(text(&submitted.stdout).matches("\"appended\"").count(), 2);
    let resolved = resolve(&agent.to_string());
    assert_eq!(resolved.status, 200, "{}", resolved.body);
    assert_eq!(resolved.json()["didDocumentMetadata"]["versionId"], "2");
    assert_eq!(
        resolved.json()["didDocument"]["verificationMethod"][0]["publicKeyMultibase"],
        listed.public().to_multibase()
    );

    // A forged operation (signed by a key the agent's DID never committed to) fails the command.
    let forged = vouch::update(
        &log,
        DocumentContent::single_key(&KeyPair::generate().public()),
        &KeyPair::generate(),
        &[],
        Utc::now(),
    );
    assert!(forged.is_err(), "the library refuses to sign it");
    let mut tampered: serde_json::Value =
        serde_json::from_str(&log.head().to_json()).expect("json");
    tampered["version"] = 3.into();
    std::fs::write(&file, tampered.to_string()).expect("written");
    let refused = admin(&config, &["submit", file.to_str().expect("utf-8")]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("422"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(
        resolve(&agent.to_string()).json()["didDocumentMetadata"]["versionId"],
        "2"
    );

    // The org's key is rotated: its DID moves to version 2.
    let rotated = admin(&config, &["did-rotate"]);
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    assert_eq!(
        resolve(&org).json()["didDocumentMetadata"]["versionId"],
        "2"
    );

    // A revocation on a new list: served where credentials point.
    let revoked = admin(
        &config,
        &[
            "status",
            "revocations",
            "--purpose",
            "revocation",
            "--set",
            "7",
        ],
    );
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let list = get(
        &format!("http://127.0.0.1:{http}/1.0/status-lists/{org}/revocations"),
        None,
    );
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.json()["issuer"], org);
    assert_eq!(
        list.json()["credentialSubject"]["statusPurpose"],
        "revocation"
    );

    // Deactivating asks for the DID as a confirmation; a wrong one changes nothing.
    let refused = admin(
        &config,
        &["did-deactivate", "--confirm", &agent.to_string()],
    );
    assert!(!refused.status.success());
    assert_eq!(resolve(&org).status, 200);
    let deactivated = admin(&config, &["did-deactivate", "--confirm", &org]);
    assert!(
        deactivated.status.success(),
        "{}",
        text(&deactivated.stderr)
    );
    assert_eq!(resolve(&org).status, 410);
}
