//! Nodes of a consortium on loopback: replication by gossip, catch-up by sync for a late joiner and
//! a restarted node, and non-members refused.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use vouch_core::did::vouch::{self, DocumentContent};
use vouch_core::key::KeyPair;
use vouch_node::{Config, consortium, setup};
use vouch_wallet::keyfile;

use crate::common::{TestNode, get, post};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Configurations of `n` initialized nodes, in a consortium, with fast sync.
fn consortium_of(dir: &Path, n: usize) -> Vec<Config> {
    let configs: Vec<Config> = (0..n)
        .map(|i| {
            let mut config = Config {
                data_dir: dir.join(format!("node-{i}")),
                ..Config::default()
            };
            config.http.listen = SocketAddr::from(([127, 0, 0, 1], 0));
            config.p2p.listen = vec![format!("/ip4/127.0.0.1/tcp/{}", free_port())];
            config.p2p.sync_interval_secs = 1;
            setup::init(&config, Utc::now()).expect("initializes");
            config
        })
        .collect();
    consortium::form_local("test", &configs).expect("forms");
    configs
}

/// Polls `check` until it holds; fails after 30 s.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn version_at(node: &TestNode, did: &str) -> Option<String> {
    let answer = get(&node.url(&format!("/1.0/identifiers/{did}")), None);
    (answer.status == 200).then(|| {
        answer.json()["didDocumentMetadata"]["versionId"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    })
}

/// Updates the node's org DID through its admin API, rotating its update key.
fn update_org_did(node: &TestNode, rotation: &mut u32) {
    let dir = &node.config.data_dir;
    let log = node
        .node()
        .registry
        .log(&node.node().identity.did)
        .expect("the store answers")
        .expect("held");
    let current = keyfile::read(&setup::update_key_path(dir, *rotation)).expect("update key");
    let next = KeyPair::generate();
    *rotation += 1;
    keyfile::write(&setup::update_key_path(dir, *rotation), &next).expect("written");
    let operation = vouch::update(
        &log,
        DocumentContent::single_key(&KeyPair::generate().public()),
        &current,
        &[next.public()],
        Utc::now(),
    )
    .expect("an update");
    let answer = post(
        &node.url("/admin/did/operations"),
        &operation.to_json(),
        Some(&node.admin_token()),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[test]
fn operations_replicate_and_late_and_restarted_nodes_catch_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let configs = consortium_of(dir.path(), 3);
    let a = TestNode::start(configs[0].clone());
    let b = TestNode::start(configs[1].clone());
    let did_a = a.node().identity.did.to_string();
    let did_b = b.node().identity.did.to_string();

    // Each learns the other's DID by sync on connection.
    eventually("b to hold a's DID", || version_at(&b, &did_a).is_some());
    eventually("a to hold b's DID", || version_at(&a, &did_b).is_some());

    // An update at a reaches b.
    let mut rotation = a.node().identity.update_key;
    update_org_did(&a, &mut rotation);
    eventually("the update to reach b", || {
        version_at(&b, &did_a).as_deref() == Some("2")
    });

    // c joins late and catches up with everything.
    let c = TestNode::start(configs[2].clone());
    eventually("c to catch up", || {
        version_at(&c, &did_a).as_deref() == Some("2") && version_at(&c, &did_b).is_some()
    });

    // b is down while a updates again; on restart it catches up.
    drop(b);
    update_org_did(&a, &mut rotation);
    eventually("the update to reach c", || {
        version_at(&c, &did_a).as_deref() == Some("3")
    });
    let b = TestNode::start(configs[1].clone());
    eventually("b to catch up after its restart", || {
        version_at(&b, &did_a).as_deref() == Some("3")
    });
}

#[test]
fn a_node_outside_the_consortium_gets_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let configs = consortium_of(dir.path(), 2);
    // An outsider with a genesis of its own naming both members, but signed only by itself: it
    // cannot even start, since it is no member of the genuine genesis and its own is unsigned.
    let mut outsider = Config {
        data_dir: dir.path().join("outsider"),
        ..Config::default()
    };
    outsider.http.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    outsider.p2p.listen = vec![format!("/ip4/127.0.0.1/tcp/{}", free_port())];
    setup::init(&outsider, Utc::now()).expect("initializes");
    std::fs::copy(
        configs[0].in_data_dir(&configs[0].p2p.consortium),
        outsider.in_data_dir(&outsider.p2p.consortium),
    )
    .expect("copied");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let refused = runtime.block_on(vouch_node::Node::start(&outsider));
    assert!(
        matches!(refused, Err(vouch_node::node::StartError::NotAMember(_))),
        "{refused:?}"
    );

    // A rogue genesis naming the outsider and member a, signed by both (as if a's key had signed
    // something else once), kept only by the outsider: a's genuine genesis does not list the
    // outsider, so a refuses its connections, and the outsider learns nothing.
    let mut a_elsewhere = configs[0].clone();
    a_elsewhere.p2p.consortium = "rogue-consortium.json".into();
    consortium::form_local("rogue", &[a_elsewhere, outsider.clone()]).expect("forms");
    let a = TestNode::start(configs[0].clone());
    let did_a = a.node().identity.did.to_string();
    let mut outsider_config = outsider.clone();
    outsider_config.p2p.sync_interval_secs = 1;
    let lonely = TestNode::start(outsider_config);
    // Give it time to try: a's DID must stay unknown to the outsider while a serves it.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        assert_eq!(version_at(&lonely, &did_a), None);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(version_at(&a, &did_a).as_deref(), Some("1"));
}
