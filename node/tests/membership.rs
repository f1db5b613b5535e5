//! Membership changes on a running network (DESIGN §7): a member added by an amendment that
//! every member signed is accepted and catches up; a member removed is disconnected and its later
//! operations refused, while what it published before stays resolvable; forged and replayed
//! amendments change nothing.

use chrono::Utc;
use serde_json::Value;
use vouch_api::node::routes;
use vouch_core::did_vouch::{self, DocumentContent};
use vouch_core::key::KeyPair;
use vouch_node::{datadir, setup};

use crate::common::{
    TestNode, consortium_with, eventually, node_config, post, send, version_at, wait_connected,
};

fn membership(node: &TestNode) -> Value {
    let token = format!("Bearer {}", node.admin_token().trim());
    let answer = send(
        "GET",
        &node.url(routes::MEMBERSHIP.path),
        &[("authorization", &token)],
        "",
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()
}

fn admin(node: &TestNode, path: &str, body: &Value) -> crate::common::Answer {
    post(
        &node.url(path),
        &body.to_string(),
        Some(&node.admin_token()),
    )
}

#[test]
fn a_member_added_by_every_member_joins_and_catches_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let configs = consortium_with(dir.path(), 3, None);
    let nodes: Vec<TestNode> = configs.iter().cloned().map(TestNode::start).collect();
    let dids: Vec<String> = nodes
        .iter()
        .map(|n| n.node().identity.did.to_string())
        .collect();

    // The newcomer: initialized, given the genesis, not yet a member.
    let newcomer = node_config(dir.path(), 3);
    std::fs::copy(
        configs[0].in_data_dir(&configs[0].p2p.consortium),
        newcomer.in_data_dir(&newcomer.p2p.consortium),
    )
    .expect("the genesis copied");
    let entry = serde_json::to_value(setup::member_entry(&newcomer).expect("an entry")).unwrap();

    let proposed = admin(
        &nodes[0],
        routes::PROPOSALS.path,
        &serde_json::json!({ "add": entry }),
    );
    assert_eq!(proposed.status, 200, "{}", proposed.body);
    let proposed = proposed.json();
    assert_eq!(
        (proposed["applied"].as_bool(), proposed["signed"].as_u64()),
        (Some(false), Some(1))
    );
    let signed = admin(&nodes[1], routes::SIGNATURES.path, &proposed["amendment"]).json();
    assert_eq!(
        (signed["applied"].as_bool(), signed["signed"].as_u64()),
        (Some(false), Some(2))
    );

    // A forged signature (a member's key, another's bytes): refused, nothing changes.
    let mut forged = signed["amendment"].clone();
    forged["signatures"][1]["signature"] = forged["signatures"][0]["signature"].clone();
    let refused = admin(&nodes[2], routes::SIGNATURES.path, &forged);
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(membership(&nodes[2])["sequence"], 0);

    // The last signature applies it; it is gossiped to the others.
    let applied = admin(&nodes[2], routes::SIGNATURES.path, &signed["amendment"]).json();
    assert_eq!(applied["applied"], true);
    for node in &nodes {
        eventually(node, "every member to apply the amendment", || {
            membership(node)["sequence"] == 1
        });
    }
    // Replayed: known, and still one amendment.
    let replayed = admin(&nodes[0], routes::SIGNATURES.path, &applied["amendment"]);
    assert_eq!(
        (replayed.status, replayed.json()["applied"].as_bool()),
        (200, Some(true))
    );
    assert_eq!(membership(&nodes[0])["sequence"], 1);

    // The newcomer starts with the genesis and the amendment, is accepted and catches up.
    let amendments: Vec<String> = membership(&nodes[0])["amendments"]
        .as_array()
        .expect("amendments")
        .iter()
        .map(Value::to_string)
        .collect();
    std::fs::write(
        newcomer.in_data_dir(&newcomer.p2p.amendments),
        amendments.join("\n"),
    )
    .expect("written");
    let joined = TestNode::start(newcomer);
    for did in &dids {
        eventually(&joined, "the newcomer to catch up", || {
            version_at(&joined, did).is_some()
        });
    }
    let did_new = joined.node().identity.did.to_string();
    for node in &nodes {
        eventually(node, "every member to hold the newcomer's DID", || {
            version_at(node, &did_new).is_some()
        });
    }
    wait_connected(&joined, 3);
}

#[test]
fn a_removed_member_is_disconnected_and_its_later_operations_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let configs = consortium_with(dir.path(), 3, Some(2));
    let nodes: Vec<TestNode> = configs.iter().cloned().map(TestNode::start).collect();
    let did_c = nodes[2].node().identity.did.to_string();
    for node in &nodes[..2] {
        eventually(node, "c's DID everywhere", || {
            version_at(node, &did_c).is_some()
        });
        wait_connected(node, 2);
    }

    let removal = serde_json::json!({ "remove": { "did": did_c } });
    let proposed = admin(&nodes[0], routes::PROPOSALS.path, &removal).json();
    assert_eq!(proposed["applied"], false);
    let applied = admin(&nodes[1], routes::SIGNATURES.path, &proposed["amendment"]).json();
    assert_eq!(applied["applied"], true);
    eventually(&nodes[0], "a to apply the removal", || {
        membership(&nodes[0])["sequence"] == 1
    });
    wait_connected(&nodes[0], 1);
    wait_connected(&nodes[1], 1);

    // c goes on: a later version of its DID, signed with its update key, is refused by the
    // members. (c's own node refuses it too once the amendment reached it: a 409, not a failure.)
    let log = nodes[2]
        .node()
        .registry
        .log(&nodes[2].node().identity.did)
        .expect("the store answers")
        .expect("c's DID");
    let (current, next) = datadir::update_keys(&configs[2].data_dir, &log).expect("c's keys");
    let later = did_vouch::update(
        &log,
        DocumentContent::single_key(&KeyPair::generate().public()),
        &current,
        &[next.public()],
        Utc::now(),
    )
    .expect("an update")
    .to_json();
    let rotated = post(
        &nodes[2].url(routes::DID_ROTATE.path),
        "",
        Some(&nodes[2].admin_token()),
    );
    assert!([200, 409].contains(&rotated.status), "{}", rotated.body);
    let refused = post(
        &nodes[0].url(routes::DID_OPERATIONS.path),
        &later,
        Some(&nodes[0].admin_token()),
    );
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.json()["code"], "removed");
    // What it published before stays resolvable.
    for node in &nodes[..2] {
        assert_eq!(version_at(node, &did_c).as_deref(), Some("1"));
    }
}
