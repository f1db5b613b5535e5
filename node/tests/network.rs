//! Nodes of a consortium on loopback: replication by gossip, catch-up by sync for a late joiner and
//! a restarted node, and non-members refused.

use std::net::SocketAddr;
use vouch_api::node::client::STATUS_LISTS;
use vouch_api::node::routes::IDENTIFIERS;

use chrono::Utc;
use vouch_core::did_vouch::{self, DocumentContent};
use vouch_core::key::KeyPair;
use vouch_keyfile as keyfile;
use vouch_node::{Config, datadir, setup};

use crate::common::{TestNode, consortium_of, eventually, free_port, get, version_at};

use crate::common::rotate as update_org_did;

#[test]
fn operations_replicate_and_late_and_restarted_nodes_catch_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let configs = consortium_of(dir.path(), 3);
    let a = TestNode::start(configs[0].clone());
    let b = TestNode::start(configs[1].clone());
    let did_a = a.node().identity.did.to_string();
    let did_b = b.node().identity.did.to_string();

    // Each learns the other's DID by sync on connection.
    eventually(&b, "b to hold a's DID", || version_at(&b, &did_a).is_some());
    eventually(&a, "a to hold b's DID", || version_at(&a, &did_b).is_some());

    // An update at a reaches b.
    update_org_did(&a);
    eventually(&b, "the update to reach b", || {
        version_at(&b, &did_a).as_deref() == Some("2")
    });

    // c joins late and catches up with everything.
    let c = TestNode::start(configs[2].clone());
    eventually(&c, "c to catch up", || {
        version_at(&c, &did_a).as_deref() == Some("2") && version_at(&c, &did_b).is_some()
    });

    // b is down while a updates again; on restart it catches up.
    drop(b);
    update_org_did(&a);
    eventually(&c, "the update to reach c", || {
        version_at(&c, &did_a).as_deref() == Some("3")
    });
    let b = TestNode::start(configs[1].clone());
    eventually(&b, "b to catch up after its restart", || {
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
    setup::form_local("rogue", &[a_elsewhere, outsider.clone()], None).expect("forms");
    let a = TestNode::start(configs[0].clone());
    let did_a = a.node().identity.did.to_string();
    let mut outsider_config = outsider.clone();
    outsider_config.p2p.sync_interval_secs = 1;
    let lonely = TestNode::start(outsider_config);
    // Once a has refused the outsider's connection, the outsider has no way to a's data.
    let refused = |node: &TestNode| node.node().registry.metrics().connections_refused.get() >= 1;
    eventually(&a, "a to refuse the outsider", || refused(&a));
    assert_eq!(version_at(&lonely, &did_a), None);
    assert_eq!(version_at(&a, &did_a).as_deref(), Some("1"));
}

/// A member that misbehaves: its own libp2p swarm, with the member's key, publishing what it likes.
mod rogue {
    use std::time::Duration;

    use libp2p::futures::StreamExt;
    use libp2p::swarm::SwarmEvent;
    use libp2p::{Multiaddr, PeerId, Swarm, gossipsub};
    use vouch_core::key::KeyPair;

    pub(crate) struct Rogue {
        swarm: Swarm<gossipsub::Behaviour>,
        runtime: tokio::runtime::Runtime,
    }

    impl Rogue {
        pub(crate) fn new(key: &KeyPair) -> Self {
            let runtime = tokio::runtime::Runtime::new().expect("runtime");
            let _guard = runtime.enter();
            let swarm = crate::common::member_swarm(key, |key| {
                let config = gossipsub::ConfigBuilder::default()
                    .max_transmit_size(1024 * 1024)
                    .build()
                    .expect("config");
                gossipsub::Behaviour::new(
                    gossipsub::MessageAuthenticity::Signed(key.clone()),
                    config,
                )
                .expect("gossipsub")
            });
            let mut rogue = Self { swarm, runtime };
            for topic in [
                vouch_node::net::DID_OPS_TOPIC,
                vouch_node::net::STATUS_LISTS_TOPIC,
            ] {
                rogue
                    .swarm
                    .behaviour_mut()
                    .subscribe(&gossipsub::IdentTopic::new(topic))
                    .expect("subscribes");
            }
            rogue
        }

        /// Connects to `node` and waits until it has subscribed to the operations topic.
        pub(crate) fn connect(&mut self, address: &str, node: PeerId) {
            let address: Multiaddr = format!("{address}/p2p/{node}").parse().expect("address");
            let _guard = self.runtime.enter();
            self.swarm.dial(address).expect("dials");
            let swarm = &mut self.swarm;
            self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(30), async {
                    loop {
                        if let SwarmEvent::Behaviour(gossipsub::Event::Subscribed {
                            peer_id, ..
                        }) = swarm.select_next_some().await
                            && peer_id == node
                        {
                            return;
                        }
                    }
                })
                .await
                .expect("the node subscribes in time");
            });
        }

        /// Publishes `data` to the node on `topic`.
        pub(crate) fn publish(&mut self, topic: &str, data: Vec<u8>) {
            let topic = gossipsub::IdentTopic::new(topic);
            let _guard = self.runtime.enter();
            self.swarm
                .behaviour_mut()
                .publish(topic, data)
                .expect("published");
        }

        /// Waits until the node closes the connection; fails after 30 s.
        pub(crate) fn wait_disconnected(&mut self) {
            let swarm = &mut self.swarm;
            self.runtime
                .block_on(async {
                    tokio::time::timeout(Duration::from_secs(30), async {
                        loop {
                            if let SwarmEvent::ConnectionClosed { .. } =
                                swarm.select_next_some().await
                            {
                                return;
                            }
                        }
                    })
                    .await
                })
                .expect("the node disconnects the rogue");
        }
    }
}

fn counter(node: &TestNode, name: &str) -> u64 {
    get(&node.url("/metrics"), None)
        .body
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn a_member_sending_invalid_operations_is_disconnected_and_nothing_is_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Every misbehaving session uses another member's key: a's score of a peer outlasts its
    // connection, and a peer scored down is disconnected as soon as it is back.
    let configs = consortium_of(dir.path(), 5);
    let a = TestNode::start(configs[0].clone());
    let did_a = a.node().identity.did.to_string();
    let peer_a: libp2p::PeerId = a.node().identity.peer_id.parse().expect("peer id");
    let address_a = configs[0].p2p.listen[0].clone();
    let member_key = |i: usize| {
        keyfile::read(&configs[i].data_dir.join(datadir::NODE_KEY)).expect("a member's key")
    };

    // A forged update of a's DID: well-formed, signed by a key a's DID never committed to.
    let log = a
        .node()
        .registry
        .log(&a.node().identity.did)
        .unwrap()
        .unwrap();
    let attacker = KeyPair::generate();
    let mut forged = did_vouch::update(
        &log,
        DocumentContent::single_key(&attacker.public()),
        &keyfile::read(&datadir::update_key_path(&configs[0].data_dir, 2)).expect("key"),
        &[attacker.public()],
        Utc::now(),
    )
    .expect("an update");
    forged.update_key = attacker.public();

    // Malformed; forged; and oversized: an "operation" of 40 KiB, over the topic's 32 KiB
    // bound, which gossipsub itself refuses, scoring the sender down.
    let oversized = format!("{{\"pad\": \"{}\"}}", "x".repeat(40 * 1024));
    let sessions = [
        b"{\"not\": \"an operation\"}".to_vec(),
        forged.to_json().into_bytes(),
        oversized.into_bytes(),
    ];
    for (i, data) in sessions.into_iter().enumerate() {
        let mut rogue = rogue::Rogue::new(&member_key(i + 1));
        rogue.connect(&address_a, peer_a);
        rogue.publish(vouch_node::net::DID_OPS_TOPIC, data);
        rogue.wait_disconnected();
    }
    assert_eq!(counter(&a, "vouch_gossip_rejected_total"), 3);
    assert_eq!(version_at(&a, &did_a).as_deref(), Some("1"));

    // Replaying a's own genesis is harmless: judged, ignored, no penalty, nothing changes.
    let genesis = log.operations().next().expect("genesis").to_json();
    let mut rogue = rogue::Rogue::new(&member_key(4));
    rogue.connect(&address_a, peer_a);
    let received = counter(&a, "vouch_gossip_received_total");
    rogue.publish(vouch_node::net::DID_OPS_TOPIC, genesis.into_bytes());
    eventually(&a, "a to judge the replay", || {
        counter(&a, "vouch_gossip_received_total") > received
    });
    assert_eq!(counter(&a, "vouch_gossip_rejected_total"), 3);
    assert_eq!(version_at(&a, &did_a).as_deref(), Some("1"));
}

/// Changes a's list `revocation-1`, setting `index`; returns the signed version a serves.
fn revoke(a: &TestNode, index: usize) -> serde_json::Value {
    let url = crate::common::set_bit(a, "revocation-1", index);
    get(&url, None).json()
}

/// Whether `node` holds a's list `revocation-1` with bit `index` set.
fn revoked_at(node: &TestNode, did_a: &str, index: usize) -> bool {
    let answer = get(
        &node.url(&format!("{STATUS_LISTS}{did_a}/revocation-1")),
        None,
    );
    answer.status == 200
        && vouch_core::status::StatusListCredential::verify(&answer.json(), &node.node().registry)
            .is_ok_and(|list| list.list.get(index).unwrap_or(false))
}

#[test]
fn status_lists_replicate_and_a_rollback_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let configs = consortium_of(dir.path(), 4);
    let a = TestNode::start(configs[0].clone());
    let b = TestNode::start(configs[1].clone());
    let did_a = a.node().identity.did.to_string();
    eventually(&b, "b to hold a's DID", || version_at(&b, &did_a).is_some());

    // Gossiped to b as soon as it is signed.
    let first = revoke(&a, 1);
    eventually(&b, "the revocation to reach b", || {
        revoked_at(&b, &did_a, 1)
    });
    let second = revoke(&a, 2);
    eventually(&b, "the second version to reach b", || {
        revoked_at(&b, &did_a, 2)
    });

    // c starts late and gets the newest version by sync.
    let c = TestNode::start(configs[2].clone());
    eventually(&c, "c to catch up", || {
        revoked_at(&c, &did_a, 1) && revoked_at(&c, &did_a, 2)
    });

    // A member replays the first version to b: validly signed, but older than the one b holds.
    // It is refused, b still serves the second, and the sender is not held to blame (gossip can
    // deliver versions out of order).
    let peer_b: libp2p::PeerId = b.node().identity.peer_id.parse().expect("peer id");
    let address_b = configs[1].p2p.listen[0].clone();
    let rogue_key = keyfile::read(&configs[3].data_dir.join(datadir::NODE_KEY)).expect("key");
    let mut rogue = rogue::Rogue::new(&rogue_key);
    rogue.connect(&address_b, peer_b);
    let received = counter(&b, "vouch_gossip_received_total");
    let stored = counter(&b, "vouch_status_lists_stored_total");
    // Written out differently, so that gossipsub does not drop it as a message already seen.
    rogue.publish(
        vouch_node::net::STATUS_LISTS_TOPIC,
        serde_json::to_vec_pretty(&first).expect("JSON"),
    );
    eventually(&b, "b to judge the rollback", || {
        counter(&b, "vouch_gossip_received_total") > received
    });
    assert_eq!(counter(&b, "vouch_status_lists_stored_total"), stored);
    assert_eq!(counter(&b, "vouch_gossip_rejected_total"), 0);
    let served = get(&b.url(&format!("{STATUS_LISTS}{did_a}/revocation-1")), None);
    assert_eq!(served.json(), second);

    // A forged version (a revocation lifted, dated later, the proof left as it was) costs the
    // sender its connection, and changes nothing.
    let mut forged = second.clone();
    let mut lifted = vouch_core::status::StatusListCredential::parse(&second).expect("a list");
    lifted.list.set(2, false).expect("in range");
    forged["credentialSubject"]["encodedList"] = lifted.list.encode().into();
    forged["validFrom"] = "2099-01-01T00:00:00.000Z".into();
    rogue.publish(
        vouch_node::net::STATUS_LISTS_TOPIC,
        serde_json::to_vec(&forged).expect("JSON"),
    );
    rogue.wait_disconnected();
    assert_eq!(counter(&b, "vouch_gossip_rejected_total"), 1);
    assert!(revoked_at(&b, &did_a, 2));
}

/// A rotation signs the org's lists anew. A node that has the new list before the rotation
/// (gossip on two topics, from two peers) cannot check it yet: that is no fault of the sender.
/// The node keeps what it had, and has both once it catches up.
#[test]
fn a_list_signed_with_a_key_not_received_yet_is_no_fault_and_arrives_by_sync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let configs = consortium_of(dir.path(), 3);
    let a = TestNode::start(configs[0].clone());
    let did_a = a.node().identity.did.to_string();
    let list_at = |node: &TestNode| {
        get(
            &node.url(&format!("{STATUS_LISTS}{did_a}/revocation-1")),
            None,
        )
        .json()
    };
    let first = revoke(&a, 1);
    let b = TestNode::start(configs[1].clone());
    eventually(&b, "the list to reach b", || revoked_at(&b, &did_a, 1));

    // While b is down, a rotates its key, which signs the list anew.
    drop(b);
    update_org_did(&a);
    let resigned = list_at(&a);
    assert_ne!(resigned, first);
    drop(a);

    // Back, b gets the new list from another member before the rotation.
    let b = TestNode::start(configs[1].clone());
    let peer_b: libp2p::PeerId = b.node().identity.peer_id.parse().expect("peer id");
    let rogue_key = keyfile::read(&configs[2].data_dir.join(datadir::NODE_KEY)).expect("key");
    let mut relay = rogue::Rogue::new(&rogue_key);
    relay.connect(&configs[1].p2p.listen[0], peer_b);
    let received = counter(&b, "vouch_gossip_received_total");
    relay.publish(
        vouch_node::net::STATUS_LISTS_TOPIC,
        serde_json::to_vec(&resigned).expect("JSON"),
    );
    eventually(&b, "b to judge the list", || {
        counter(&b, "vouch_gossip_received_total") > received
    });
    assert_eq!(counter(&b, "vouch_gossip_rejected_total"), 0);
    assert_eq!(list_at(&b), first);
    assert_eq!(version_at(&b, &did_a).as_deref(), Some("1"));

    // a is back: b learns the rotation, then the list.
    let a = TestNode::start(configs[0].clone());
    eventually(&b, "b to catch up with a", || {
        version_at(&b, &did_a).as_deref() == Some("2") && list_at(&b) == resigned
    });
    assert!(revoked_at(&b, &did_a, 1));
    drop(a);
}

/// A long-lived agent definition's DID (DESIGN §3), made and signed by its owner with its own
/// keys, registered through one member's admin API: every member resolves it, and its later
/// operations, submitted at any member, reach all of them.
#[test]
fn an_agent_definition_did_registered_at_one_node_resolves_everywhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let configs = consortium_of(dir.path(), 3);
    let nodes: Vec<TestNode> = configs.into_iter().map(TestNode::start).collect();
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let submit = |node: &TestNode, operation: &did_vouch::Operation| {
        node.admin()
            .submit_operation(&operation.to_json())
            .expect("accepted")
    };

    let (first_key, next_key) = (KeyPair::generate(), KeyPair::generate());
    let (did, genesis) = did_vouch::create(
        DocumentContent::single_key(&KeyPair::generate().public()),
        &first_key,
        &[next_key.public()],
        Utc::now(),
    )
    .expect("a genesis");
    let registered = submit(a, &genesis);
    assert_eq!(registered.did, did);
    assert_eq!(
        registered.applied,
        vouch_api::node::admin::Applied::Appended
    );
    let did = did.to_string();
    for node in [b, c] {
        eventually(node, "the agent definition to reach every node", || {
            version_at(node, &did).as_deref() == Some("1")
        });
    }

    // Its owner lists a new key, through another member.
    let log = did_vouch::DidLog::new(genesis).expect("a log");
    let agent_key = KeyPair::generate();
    let update = did_vouch::update(
        &log,
        DocumentContent::single_key(&agent_key.public()),
        &next_key,
        &[KeyPair::generate().public()],
        Utc::now(),
    )
    .expect("an update");
    submit(b, &update);
    for node in [a, c] {
        eventually(node, "the update to reach every node", || {
            version_at(node, &did).as_deref() == Some("2")
        });
        let resolved = get(&node.url(&format!("{IDENTIFIERS}{did}")), None).json();
        assert_eq!(
            resolved["didDocument"]["verificationMethod"][0]["publicKeyMultibase"],
            agent_key.public().to_multibase()
        );
    }
}
