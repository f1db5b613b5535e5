//! Membership changes on a running network (DESIGN §7): a member added by an amendment that
//! every member signed is accepted and catches up; a member removed is disconnected and its later
//! operations refused, while what it published before stays resolvable; forged and replayed
//! amendments change nothing.

use chrono::Utc;
use vouch_api::ErrorCode;
use vouch_api::node::NodeError;
use vouch_api::node::admin::Membership;
use vouch_core::consortium::Change;
use vouch_core::did_vouch::{self, DocumentContent};
use vouch_core::key::KeyPair;
use vouch_node::{datadir, setup};

use crate::common::{
    TestNode, consortium_with, eventually, node_config, version_at, wait_connected,
};

fn membership(node: &TestNode) -> Membership {
    node.admin().membership().expect("the membership")
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
    let entry = setup::member_entry(&newcomer).expect("an entry");

    let proposed = nodes[0]
        .admin()
        .propose(&Change::Add(Box::new(entry)))
        .expect("proposed");
    assert_eq!((proposed.applied, proposed.signed), (false, 1));
    let signed = nodes[1]
        .admin()
        .sign_amendment(&proposed.amendment)
        .expect("signed");
    assert_eq!((signed.applied, signed.signed), (false, 2));

    // A forged signature (a member's key, another's bytes): refused, nothing changes.
    let mut forged = signed.amendment.clone();
    forged.signatures[1].signature = forged.signatures[0].signature.clone();
    match nodes[2].admin().sign_amendment(&forged) {
        Err(NodeError::Refused { status, .. }) => assert_eq!(status, 422),
        other => panic!("a forged signature: {other:?}"),
    }
    assert_eq!(membership(&nodes[2]).sequence, 0);

    // The last signature applies it; it is gossiped to the others.
    let applied = nodes[2]
        .admin()
        .sign_amendment(&signed.amendment)
        .expect("signed");
    assert!(applied.applied);
    for node in &nodes {
        eventually(node, "every member to apply the amendment", || {
            membership(node).sequence == 1
        });
    }
    // Replayed: known, and still one amendment.
    let replayed = nodes[0]
        .admin()
        .sign_amendment(&applied.amendment)
        .expect("known");
    assert!(replayed.applied);
    assert_eq!(membership(&nodes[0]).sequence, 1);

    // The newcomer starts with the genesis and the amendment, is accepted and catches up.
    let amendments: Vec<String> = membership(&nodes[0])
        .amendments
        .iter()
        .map(|a| serde_json::to_string(a).expect("JSON"))
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

    let removal = Change::Remove {
        did: nodes[2].node().identity.did.clone(),
    };
    let proposed = nodes[0].admin().propose(&removal).expect("proposed");
    assert!(!proposed.applied);
    let applied = nodes[1]
        .admin()
        .sign_amendment(&proposed.amendment)
        .expect("signed");
    assert!(applied.applied);
    eventually(&nodes[0], "a to apply the removal", || {
        membership(&nodes[0]).sequence == 1
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
    match nodes[2].admin().rotate() {
        Ok(_) | Err(NodeError::Refused { status: 409, .. }) => {}
        other => panic!("{other:?}"),
    }
    match nodes[0].admin().submit_operation(&later) {
        Err(NodeError::Refused { status, code, .. }) => {
            assert_eq!((status, code), (409, ErrorCode::Removed))
        }
        other => panic!("an operation of a removed member: {other:?}"),
    }
    // What it published before stays resolvable.
    for node in &nodes[..2] {
        assert_eq!(version_at(node, &did_c).as_deref(), Some("1"));
    }
}
