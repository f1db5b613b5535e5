//! `vouch-node admin` against a running `vouch-node run`: an agent definition's DID log
//! registered, the org's key rotated, a revocation published, and refusals reported as failures.

use std::path::Path;
use std::process::Output;
use vouch_api::node::client::STATUS_LISTS;
use vouch_api::node::routes::IDENTIFIERS;

use chrono::Utc;
use vouch_core::did_vouch::{self, DocumentContent};
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
    let resolve = |did: &str| get(&format!("http://127.0.0.1:{http}{IDENTIFIERS}{did}"), None);

    // An agent definition's log of two operations, as `vouch did create` and `update` write it.
    let (first, second, third) = (
        KeyPair::generate(),
        KeyPair::generate(),
        KeyPair::generate(),
    );
    let (agent, genesis) = did_vouch::create(
        DocumentContent::single_key(&KeyPair::generate().public()),
        &first,
        &[second.public()],
        Utc::now(),
    )
    .expect("a genesis");
    let mut log = did_vouch::DidLog::new(genesis).expect("a log");
    let listed = KeyPair::generate();
    let update = did_vouch::update(
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
    let forged = did_vouch::update(
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
        &format!("http://127.0.0.1:{http}{STATUS_LISTS}{org}/revocations"),
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

#[test]
fn the_admin_cli_changes_the_consortium_membership() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Two members as processes (amendments need both), and a third node to add.
    let mut configs = Vec::new();
    for i in 0..3 {
        let folder = dir.path().join(format!("n{i}"));
        std::fs::create_dir_all(&folder).expect("a folder");
        let (config, _) = write_config(&folder);
        assert!(node(&config, "init").status().expect("runs").success());
        configs.push(config);
    }
    let formed = node(&configs[0], "form-consortium")
        .args(["--name", "cli"])
        .arg(&configs[0])
        .arg(&configs[1])
        .output()
        .expect("runs");
    assert!(formed.status.success(), "{}", text(&formed.stderr));
    let _nodes = [run(&configs[0]), run(&configs[1])];

    let member = node(&configs[2], "member").output().expect("runs");
    assert!(member.status.success(), "{}", text(&member.stderr));
    let entry = dir.path().join("member.json");
    std::fs::write(&entry, &member.stdout).expect("written");

    let proposal = dir.path().join("proposal.json");
    let proposed = admin(
        &configs[0],
        &[
            "consortium",
            "propose",
            "--add",
            entry.to_str().expect("utf-8"),
            "--out",
            proposal.to_str().expect("utf-8"),
        ],
    );
    assert!(proposed.status.success(), "{}", text(&proposed.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&proposed.stdout).expect("JSON");
    assert_eq!(
        (answer["applied"].as_bool(), answer["signed"].as_u64()),
        (Some(false), Some(1))
    );

    let complete = dir.path().join("complete.json");
    let signed = admin(
        &configs[1],
        &[
            "consortium",
            "sign",
            proposal.to_str().expect("utf-8"),
            "--out",
            complete.to_str().expect("utf-8"),
        ],
    );
    assert!(signed.status.success(), "{}", text(&signed.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&signed.stdout).expect("JSON");
    assert_eq!(answer["applied"], true);

    // The complete amendment, handed to node 0: in force there too, whether node 1's gossip
    // came first (known) or not (applied now); node 0 writes the newcomer's file.
    let handed = admin(
        &configs[0],
        &["consortium", "sign", complete.to_str().expect("utf-8")],
    );
    assert!(handed.status.success(), "{}", text(&handed.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&handed.stdout).expect("JSON");
    assert_eq!(answer["applied"], true);
    let shown = admin(&configs[0], &["consortium", "show", "--amendments"]);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    assert_eq!(text(&shown.stdout).lines().count(), 1);
    let shown = admin(&configs[0], &["consortium", "show"]);
    let view: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    assert_eq!(view["members"].as_array().map(Vec::len), Some(3));

    // Signing it again is harmless; a proposal that removes no member is refused, exit 1.
    let again = admin(
        &configs[1],
        &["consortium", "sign", proposal.to_str().expect("utf-8")],
    );
    assert!(again.status.success(), "{}", text(&again.stderr));
    let bad = admin(
        &configs[0],
        &["consortium", "propose", "--remove", "did:vouch:zQmNobody"],
    );
    assert!(!bad.status.success());
}
