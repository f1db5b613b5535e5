//! A member whose anti-entropy answers lie: a node takes from a page only what it asked for.

use std::time::Duration;

use libp2p::futures::StreamExt;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, StreamProtocol};
use negentropy::{Id, Negentropy, NegentropyStorageVector};
use vouch_core::sync::{SyncRequest, SyncResponse};
use vouch_keyfile as keyfile;
use vouch_node::datadir;

use crate::common::{TestNode, consortium_of};

/// A set with one item the node does not have: the node will ask for it.
fn bait() -> NegentropyStorageVector {
    let mut storage = NegentropyStorageVector::new();
    storage
        .insert(1_700_000_000_000, Id::from_byte_array([7; 32]))
        .expect("inserted");
    storage.seal().expect("sealed");
    storage
}

#[test]
fn a_peer_answering_with_what_was_not_asked_is_disconnected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let configs = consortium_of(dir.path(), 2);
    let a = TestNode::start(configs[0].clone());
    let peer_a: PeerId = a.node().identity.peer_id.parse().expect("peer id");
    let key = keyfile::read(&configs[1].data_dir.join(datadir::NODE_KEY)).expect("a member's key");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let fetched = runtime.block_on(async {
        let mut swarm = crate::common::member_swarm(&key, |_| {
            request_response::cbor::Behaviour::<SyncRequest, SyncResponse>::new(
                [(
                    StreamProtocol::new(vouch_node::net::SYNC_PROTOCOL),
                    ProtocolSupport::Full,
                )],
                request_response::Config::default(),
            )
        });
        let address: Multiaddr = format!("{}/p2p/{peer_a}", configs[0].p2p.listen[0])
            .parse()
            .expect("address");
        swarm.dial(address).expect("dials");
        let mut fetched = 0;
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                match swarm.select_next_some().await {
                    SwarmEvent::Behaviour(request_response::Event::Message {
                        message:
                            request_response::Message::Request {
                                request, channel, ..
                            },
                        ..
                    }) => {
                        let response = match request {
                            SyncRequest::Reconcile { message, .. } => {
                                let mut responder =
                                    Negentropy::owned(bait(), 32 * 1024).expect("negentropy");
                                SyncResponse::Reconcile(
                                    responder.reconcile(&message).expect("a valid message"),
                                )
                            }
                            // Asked for the bait, it answers with something else.
                            SyncRequest::Fetch { .. } => {
                                fetched += 1;
                                SyncResponse::Items(vec!["{\"not\": \"what was asked\"}".into()])
                            }
                            SyncRequest::Consistency { .. } | SyncRequest::Cosignature { .. } => {
                                SyncResponse::Busy
                            }
                        };
                        let _ = swarm.behaviour_mut().send_response(channel, response);
                    }
                    SwarmEvent::ConnectionClosed { peer_id, .. } if peer_id == peer_a => return,
                    _ => {}
                }
            }
        })
        .await
        .expect("the node disconnects the liar");
        fetched
    });
    assert!(fetched >= 1, "the node asked for the bait");
    let metrics = a.node().registry.metrics();
    assert_eq!(metrics.peers_disconnected.get(), 1);
    assert_eq!(metrics.sync_items_stored.get(), 0);
}
