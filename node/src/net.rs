//! The libp2p network: the only module that names libp2p.
//!
//! One task owns the `Swarm`; the rest of the node holds a [`Network`] handle that sends it
//! commands over a bounded channel. Transports are TCP and QUIC, with Noise and Yamux on TCP.
//! Behaviours:
//! - an allow list of the consortium's member peers: no other peer gets a connection;
//! - identify;
//! - gossipsub on [`DID_OPS_TOPIC`]: every did:vouch operation is validated (size, schema, hash
//!   links, signatures, through the registry) before it is stored or forwarded; an invalid one is
//!   rejected, which lowers the sender's gossipsub score, and the sender is disconnected;
//! - gossipsub on [`STATUS_LISTS_TOPIC`]: status list credentials, validated the same way (size,
//!   form, member issuer, the issuer's signature) and kept only if newer than the version held;
//! - request-response on [`SYNC_PROTOCOL`] (CBOR): a node that joins late or restarts asks each
//!   member for its inventories (DIDs and status lists), then for what it lacks.
//!
//! A node's libp2p identity is its node key, so the Noise handshake authenticates the same key that
//! the consortium genesis lists.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use libp2p::futures::StreamExt;
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, allow_block_list, gossipsub, identify, identity,
    noise, request_response, tcp, yamux,
};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument, Span, debug, info, info_span, warn};
use vouch_core::did::Did;
use vouch_core::did::vouch::{MAX_OPERATION_BYTES, Operation};
use vouch_core::key::KeyPair;
use vouch_core::sync::{InventoryEntry, StatusListEntry, SyncRequest, SyncResponse};

use crate::consortium::Consortium;
use crate::fault::{Judgement, PeerMisbehaved};
use crate::registry::Registry;
use crate::status_lists::{MAX_STATUS_LIST_BYTES, StatusLists};

/// The gossipsub topic of did:vouch operations.
pub const DID_OPS_TOPIC: &str = "/vouch/did-ops/1";
/// The gossipsub topic of status list credentials.
pub const STATUS_LISTS_TOPIC: &str = "/vouch/status-lists/1";
/// The catch-up protocol.
pub const SYNC_PROTOCOL: &str = "/vouch/sync/1.0.0";
/// The identify protocol version.
const IDENTIFY_VERSION: &str = "/vouch/1.0.0";
/// The largest gossip message: one operation or one status list. Each topic has its own bound
/// too, checked before anything else.
pub const MAX_GOSSIP_BYTES: usize = if MAX_OPERATION_BYTES > MAX_STATUS_LIST_BYTES {
    MAX_OPERATION_BYTES
} else {
    MAX_STATUS_LIST_BYTES
};
/// The largest sync request.
const MAX_SYNC_REQUEST_BYTES: u64 = 4 * 1024;
/// The largest sync response: an inventory or a page of operations.
const MAX_SYNC_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;
/// The most operations one sync response carries.
pub const MAX_OPERATIONS_PER_PAGE: usize = 256;
/// The most commands waiting for the swarm task.
const COMMAND_QUEUE: usize = 256;
/// A peer whose gossipsub score falls below this is disconnected. One invalid message costs
/// 100 points (gossipsub's own checks, such as a message over its topic's size, included).
const DISCONNECT_SCORE: f64 = -50.0;
/// How often peers' scores are checked.
const SCORE_CHECK: Duration = Duration::from_millis(500);

/// Gossipsub scoring: nothing earns a member points, and every invalid message on a topic costs
/// 100 points (the count of invalid messages squared, times -100), decaying by a tenth a second.
/// Members all share one address on a testnet, so address colocation is not held against them.
fn score_params(topics: &[&gossipsub::IdentTopic]) -> gossipsub::PeerScoreParams {
    let topic = gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.0,
        first_message_deliveries_weight: 0.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: -100.0,
        invalid_message_deliveries_decay: 0.9,
        ..Default::default()
    };
    gossipsub::PeerScoreParams {
        topics: topics.iter().map(|t| (t.hash(), topic.clone())).collect(),
        ip_colocation_factor_weight: 0.0,
        ..Default::default()
    }
}

/// The libp2p identity of a node key.
pub fn identity_of(key: &KeyPair) -> identity::Keypair {
    let mut seed = key.seed();
    identity::Keypair::ed25519_from_bytes(&mut seed[..])
        .expect("a 32-byte Ed25519 seed is always a valid libp2p key")
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    members: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    identify: identify::Behaviour,
    gossipsub: gossipsub::Behaviour,
    sync: request_response::cbor::Behaviour<SyncRequest, SyncResponse>,
}

/// Why the network could not start.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The transport or a behaviour could not be built.
    #[error("building the libp2p swarm: {0}")]
    Build(String),
    /// A listen address is invalid or could not be bound.
    #[error("listening on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
}

/// Which gossipsub topic a message goes to.
#[derive(Debug, Clone, Copy)]
enum Topic {
    DidOps,
    StatusLists,
}

enum Command {
    Publish(Topic, Vec<u8>),
    ConnectedMembers(oneshot::Sender<usize>),
}

/// The handle the rest of the node holds.
#[derive(Debug, Clone)]
pub struct Network {
    commands: mpsc::Sender<Command>,
}

impl Network {
    /// Gossips an operation that the registry accepted.
    pub async fn publish(&self, operation: &Operation) {
        self.send(Topic::DidOps, operation.to_json().into_bytes())
            .await;
    }

    /// Gossips a status list credential that this node signed and stored.
    pub async fn publish_status_list(&self, signed: &serde_json::Value) {
        let data = serde_json::to_vec(signed).expect("JSON values always serialize");
        self.send(Topic::StatusLists, data).await;
    }

    async fn send(&self, topic: Topic, data: Vec<u8>) {
        if self
            .commands
            .send(Command::Publish(topic, data))
            .await
            .is_err()
        {
            debug!("network stopped; peers will get it by sync");
        }
    }

    /// How many member nodes this node is connected to.
    pub async fn connected_members(&self) -> usize {
        let (reply, answer) = oneshot::channel();
        if self
            .commands
            .send(Command::ConnectedMembers(reply))
            .await
            .is_err()
        {
            return 0;
        }
        answer.await.unwrap_or(0)
    }
}

/// What the network is started with.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// The node key.
    pub key: KeyPair,
    /// Multiaddresses to listen on.
    pub listen: Vec<String>,
    /// The consortium.
    pub consortium: Consortium,
    /// How often to sync with and redial members.
    pub sync_interval: Duration,
}

/// Starts the swarm task. It runs until `shutdown` turns true.
pub fn start(
    config: NetConfig,
    registry: Registry,
    status_lists: StatusLists,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(Network, JoinHandle<()>), NetError> {
    let keypair = identity_of(&config.key);
    let local = keypair.public().to_peer_id();
    let topic = gossipsub::IdentTopic::new(DID_OPS_TOPIC);
    let status_topic = gossipsub::IdentTopic::new(STATUS_LISTS_TOPIC);
    let build = |e: &dyn std::fmt::Display| NetError::Build(e.to_string());
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| build(&e))?
        .with_quic()
        .with_behaviour(|key| {
            let gossip_config = gossipsub::ConfigBuilder::default()
                .max_transmit_size(MAX_GOSSIP_BYTES)
                .validation_mode(gossipsub::ValidationMode::Strict)
                .validate_messages()
                .heartbeat_interval(Duration::from_millis(500))
                .max_transmit_size_for_topic(MAX_OPERATION_BYTES, topic.hash())
                .max_transmit_size_for_topic(MAX_STATUS_LIST_BYTES, status_topic.hash())
                .message_id_fn(|message| {
                    gossipsub::MessageId::from(Sha256::digest(&message.data).to_vec())
                })
                .build()
                .map_err(|e| e.to_string())?;
            let mut gossipsub = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Signed(key.clone()),
                gossip_config,
            )?;
            gossipsub.with_peer_score(
                score_params(&[&topic, &status_topic]),
                gossipsub::PeerScoreThresholds::default(),
            )?;
            let codec = request_response::cbor::codec::Codec::default()
                .set_request_size_maximum(MAX_SYNC_REQUEST_BYTES)
                .set_response_size_maximum(MAX_SYNC_RESPONSE_BYTES);
            let sync = request_response::Behaviour::with_codec(
                codec,
                [(
                    StreamProtocol::new(SYNC_PROTOCOL),
                    request_response::ProtocolSupport::Full,
                )],
                request_response::Config::default().with_request_timeout(Duration::from_secs(30)),
            );
            Ok(Behaviour {
                members: allow_block_list::Behaviour::default(),
                identify: identify::Behaviour::new(identify::Config::new(
                    IDENTIFY_VERSION.into(),
                    key.public(),
                )),
                gossipsub,
                sync,
            })
        })
        .map_err(|e| build(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
        .build();

    for t in [&topic, &status_topic] {
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(t)
            .map_err(|e| build(&e))?;
    }
    let mut members = Vec::new();
    for member in &config.consortium.members {
        let Ok(peer) = member.peer_id.parse::<PeerId>() else {
            continue;
        };
        if peer == local {
            continue;
        }
        swarm.behaviour_mut().members.allow_peer(peer);
        let addresses: Vec<Multiaddr> = member
            .addresses
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect();
        members.push((peer, addresses));
    }
    for addr in &config.listen {
        let parsed: Multiaddr =
            addr.parse()
                .map_err(|e: libp2p::multiaddr::Error| NetError::Listen {
                    addr: addr.clone(),
                    reason: e.to_string(),
                })?;
        swarm.listen_on(parsed).map_err(|e| NetError::Listen {
            addr: addr.clone(),
            reason: e.to_string(),
        })?;
    }

    let (commands, mut queue) = mpsc::channel(COMMAND_QUEUE);
    let mut task = SwarmTask {
        swarm,
        registry,
        status_lists,
        topic,
        status_topic,
        members,
        connected: HashSet::new(),
        spans: HashMap::new(),
    };
    let span = info_span!("net", peer = %local);
    let handle = tokio::spawn(
        async move {
            task.dial_members();
            let mut tick = tokio::time::interval(config.sync_interval);
            let mut score_check = tokio::time::interval(SCORE_CHECK);
            loop {
                tokio::select! {
                    // The guard `wait_for` returns is not `Send`: drop it inside.
                    () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => break,
                    Some(command) = queue.recv() => task.command(command),
                    event = task.swarm.select_next_some() => task.event(event).await,
                    _ = tick.tick() => {
                        task.dial_members();
                        task.sync_all();
                    }
                    _ = score_check.tick() => task.check_scores(),
                }
            }
            info!("network stopped");
        }
        .instrument(span),
    );
    Ok((Network { commands }, handle))
}

/// The state of the swarm task: its only owner.
struct SwarmTask {
    swarm: Swarm<Behaviour>,
    registry: Registry,
    status_lists: StatusLists,
    topic: gossipsub::IdentTopic,
    status_topic: gossipsub::IdentTopic,
    /// The other members' peers and addresses.
    members: Vec<(PeerId, Vec<Multiaddr>)>,
    /// Members connected now.
    connected: HashSet<PeerId>,
    /// A tracing span per open connection: what happens on it is logged inside.
    spans: HashMap<ConnectionId, (PeerId, Span)>,
}

impl SwarmTask {
    fn dial_members(&mut self) {
        for (peer, addresses) in &self.members {
            if self.connected.contains(peer) {
                continue;
            }
            for address in addresses {
                let address = address.clone().with_p2p(*peer).unwrap_or_else(|a| a);
                if let Err(e) = self.swarm.dial(address.clone()) {
                    debug!(%peer, %address, error = %e, "dial failed");
                }
            }
        }
    }

    fn sync_all(&mut self) {
        let peers: Vec<PeerId> = self.connected.iter().copied().collect();
        for peer in peers {
            self.sync_with(peer);
        }
    }

    /// Asks `peer` for its inventories.
    fn sync_with(&mut self, peer: PeerId) {
        let sync = &mut self.swarm.behaviour_mut().sync;
        sync.send_request(&peer, SyncRequest::Inventory);
        sync.send_request(&peer, SyncRequest::StatusLists);
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Publish(topic, data) => {
                let topic = match topic {
                    Topic::DidOps => self.topic.clone(),
                    Topic::StatusLists => self.status_topic.clone(),
                };
                if let Err(e) = self.swarm.behaviour_mut().gossipsub.publish(topic, data) {
                    debug!(error = %e, "not gossiped now; peers will get it by sync");
                }
            }
            Command::ConnectedMembers(reply) => {
                let _ = reply.send(self.connected.len());
            }
        }
    }

    /// Disconnects peers that gossipsub scored down, for invalid messages that never reached
    /// this task (gossipsub refuses a message over its topic's size itself).
    fn check_scores(&mut self) {
        let low: Vec<(PeerId, f64)> = self
            .connected
            .iter()
            .filter_map(|peer| {
                let score = self.swarm.behaviour().gossipsub.peer_score(peer)?;
                (score < DISCONNECT_SCORE).then_some((*peer, score))
            })
            .collect();
        for (peer, score) in low {
            self.penalize(peer, &format!("gossip score {score:.0}"));
        }
    }

    /// What a judgement of a peer's message costs it: the one place where faults meet scoring.
    /// A sender that misbehaved is disconnected; one that is ahead of this node is synced with.
    fn follow(&mut self, peer: PeerId, judgement: Judgement) {
        match judgement {
            Judgement::Misbehaved(misbehaved) => self.penalize(peer, &misbehaved.to_string()),
            Judgement::Behind => self.sync_with(peer),
            Judgement::Accepted | Judgement::Known | Judgement::Unjudged => {}
        }
    }

    fn penalize(&mut self, peer: PeerId, reason: &str) {
        if !self.connected.remove(&peer) {
            return;
        }
        self.registry
            .metrics()
            .peers
            .set(self.connected.len() as i64);
        self.registry.metrics().gossip_rejected.inc();
        warn!(%peer, reason, "peer sent invalid data: disconnecting");
        let _ = self.swarm.disconnect_peer_id(peer);
    }

    /// Handles a swarm event inside the span of the connection it came on.
    async fn event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        if let SwarmEvent::ConnectionEstablished {
            peer_id,
            connection_id,
            endpoint,
            ..
        } = &event
        {
            let direction = if endpoint.is_dialer() { "out" } else { "in" };
            let span = info_span!(
                "connection",
                id = %connection_id,
                peer = %peer_id,
                remote = %endpoint.get_remote_address(),
                direction,
            );
            self.spans.insert(*connection_id, (*peer_id, span));
        }
        let span = self.span_of(&event);
        let closed = match &event {
            SwarmEvent::ConnectionClosed { connection_id, .. } => Some(*connection_id),
            _ => None,
        };
        self.handle(event).instrument(span).await;
        if let Some(connection_id) = closed {
            self.spans.remove(&connection_id);
        }
    }

    /// The span of the connection an event came on: by its id where the event names it, else
    /// one of the peer's connections.
    fn span_of(&self, event: &SwarmEvent<BehaviourEvent>) -> Span {
        let by_id = |id: &ConnectionId| self.spans.get(id).map(|(_, span)| span.clone());
        let found = match event {
            SwarmEvent::ConnectionEstablished { connection_id, .. }
            | SwarmEvent::ConnectionClosed { connection_id, .. }
            | SwarmEvent::Behaviour(BehaviourEvent::Sync(
                request_response::Event::Message { connection_id, .. }
                | request_response::Event::OutboundFailure { connection_id, .. }
                | request_response::Event::InboundFailure { connection_id, .. },
            )) => by_id(connection_id),
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source: peer,
                ..
            })) => self
                .spans
                .values()
                .find(|(owner, _)| owner == peer)
                .map(|(_, span)| span.clone()),
            _ => None,
        };
        found.unwrap_or_else(Span::current)
    }

    async fn handle(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => info!(%address, "listening"),
            SwarmEvent::ConnectionEstablished { peer_id, .. } if self.connected.insert(peer_id) => {
                info!("member connected");
                self.registry
                    .metrics()
                    .peers
                    .set(self.connected.len() as i64);
                self.sync_with(peer_id);
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.connected.remove(&peer_id);
                self.registry
                    .metrics()
                    .peers
                    .set(self.connected.len() as i64);
                debug!("member disconnected");
            }
            SwarmEvent::IncomingConnectionError {
                error: libp2p::swarm::ListenError::Denied { .. },
                send_back_addr,
                ..
            } => {
                self.registry.metrics().record_refused();
                debug!(%send_back_addr, "refused a connection from a non-member");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => {
                let judgement = if message.topic == self.status_topic.hash() {
                    judge_status_list(self.status_lists.clone(), message.data).await
                } else if message.topic == self.topic.hash() {
                    judge(self.registry.clone(), message.data).await
                } else {
                    PeerMisbehaved::UnknownTopic(message.topic.to_string()).into()
                };
                let acceptance = match &judgement {
                    Judgement::Accepted => gossipsub::MessageAcceptance::Accept,
                    Judgement::Known | Judgement::Behind | Judgement::Unjudged => {
                        gossipsub::MessageAcceptance::Ignore
                    }
                    Judgement::Misbehaved(_) => gossipsub::MessageAcceptance::Reject,
                };
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &propagation_source, acceptance);
                self.follow(propagation_source, judgement);
                // Counted last: a waiter woken by it sees the verdict's effects.
                self.registry.metrics().record_gossip_received();
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                peer,
                message,
                ..
            })) => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    let response =
                        answer(self.registry.clone(), self.status_lists.clone(), request).await;
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .sync
                        .send_response(channel, response);
                }
                request_response::Message::Response { response, .. } => {
                    self.receive(peer, response).await;
                }
            },
            SwarmEvent::Behaviour(BehaviourEvent::Sync(
                request_response::Event::OutboundFailure { peer, error, .. },
            )) => debug!(%peer, %error, "sync request failed"),
            _ => {}
        }
    }

    async fn receive(&mut self, peer: PeerId, response: SyncResponse) {
        match response {
            SyncResponse::Inventory(entries) => {
                let registry = self.registry.clone();
                let ours = match tokio::task::spawn_blocking(move || registry.inventory()).await {
                    Ok(Ok(ours)) => ours,
                    _ => return,
                };
                for entry in entries {
                    let (version, evidence) = ours
                        .iter()
                        .find(|(did, _, _)| did.as_str() == entry.did)
                        .map(|(_, v, e)| (*v, *e))
                        .unwrap_or((0, 0));
                    if entry.version > version || entry.evidence > evidence {
                        let after = if entry.evidence > evidence {
                            0
                        } else {
                            version
                        };
                        self.swarm.behaviour_mut().sync.send_request(
                            &peer,
                            SyncRequest::Operations {
                                did: entry.did,
                                after,
                            },
                        );
                    }
                }
            }
            SyncResponse::Operations(operations) => {
                let full_page = operations.len() >= MAX_OPERATIONS_PER_PAGE;
                // The highest version received: where the next page starts.
                let mut highest: Option<(Did, u64)> = None;
                for json in operations {
                    let data = json.into_bytes();
                    if let Ok(Operation {
                        did: Some(did),
                        version,
                        ..
                    }) = Operation::from_json(&data)
                        && highest.as_ref().is_none_or(|(_, v)| version > *v)
                    {
                        highest = Some((did, version));
                    }
                    let judgement = judge(self.registry.clone(), data).await;
                    if let Judgement::Misbehaved(_) = judgement {
                        self.follow(peer, judgement);
                        return;
                    }
                }
                if let (true, Some((did, version))) = (full_page, highest) {
                    self.swarm.behaviour_mut().sync.send_request(
                        &peer,
                        SyncRequest::Operations {
                            did: did.to_string(),
                            after: version,
                        },
                    );
                }
            }
            SyncResponse::StatusLists(entries) => {
                let lists = self.status_lists.clone();
                let ours = match tokio::task::spawn_blocking(move || lists.inventory()).await {
                    Ok(Ok(ours)) => ours,
                    _ => return,
                };
                for entry in entries {
                    let Ok(theirs) = chrono::DateTime::parse_from_rfc3339(&entry.valid_from) else {
                        self.follow(
                            peer,
                            PeerMisbehaved::Malformed(
                                "a status list inventory entry has a bad date".into(),
                            )
                            .into(),
                        );
                        return;
                    };
                    let newer = ours
                        .iter()
                        .find(|(id, _)| *id == entry.id)
                        .is_none_or(|(_, held)| theirs > *held);
                    if newer {
                        self.swarm
                            .behaviour_mut()
                            .sync
                            .send_request(&peer, SyncRequest::StatusList { id: entry.id });
                    }
                }
            }
            SyncResponse::StatusList(json) => {
                let judgement =
                    judge_status_list(self.status_lists.clone(), json.into_bytes()).await;
                self.follow(peer, judgement);
            }
            SyncResponse::Refused(reason) => debug!(%peer, reason, "sync refused"),
        }
    }
}

/// Judges an operation from a peer off the async threads. A free function: the swarm task is
/// not `Sync`, so nothing awaited may borrow it.
async fn judge(registry: Registry, data: Vec<u8>) -> Judgement {
    tokio::task::spawn_blocking(move || registry.receive(&data, chrono::Utc::now()))
        .await
        .unwrap_or_else(|e| {
            warn!(error = %e, "registry task failed");
            Judgement::Unjudged
        })
}

/// Judges a status list from a peer off the async threads.
async fn judge_status_list(status_lists: StatusLists, data: Vec<u8>) -> Judgement {
    tokio::task::spawn_blocking(move || status_lists.receive(&data, chrono::Utc::now()))
        .await
        .unwrap_or_else(|e| {
            warn!(error = %e, "status list task failed");
            Judgement::Unjudged
        })
}

/// Answers a sync request from the registry and the status lists.
async fn answer(
    registry: Registry,
    status_lists: StatusLists,
    request: SyncRequest,
) -> SyncResponse {
    let work = move || -> Result<SyncResponse, String> {
        let internal = |e: &dyn std::fmt::Display| e.to_string();
        Ok(match request {
            SyncRequest::Inventory => SyncResponse::Inventory(
                registry
                    .inventory()
                    .map_err(|e| internal(&e))?
                    .into_iter()
                    .map(|(did, version, evidence)| InventoryEntry {
                        did: did.to_string(),
                        version,
                        evidence,
                    })
                    .collect(),
            ),
            SyncRequest::Operations { did, after } => match Did::parse(&did) {
                Err(e) => SyncResponse::Refused(e.to_string()),
                Ok(did) => SyncResponse::Operations(
                    registry
                        .operations_after(&did, after, MAX_OPERATIONS_PER_PAGE)
                        .map_err(|e| internal(&e))?
                        .iter()
                        .map(Operation::to_json)
                        .collect(),
                ),
            },
            SyncRequest::StatusLists => SyncResponse::StatusLists(
                status_lists
                    .inventory()
                    .map_err(|e| internal(&e))?
                    .into_iter()
                    .map(|(id, valid_from)| StatusListEntry {
                        id,
                        valid_from: valid_from.to_rfc3339(),
                    })
                    .collect(),
            ),
            SyncRequest::StatusList { id } => match crate::status_lists::key_of(&id) {
                Err(e) => SyncResponse::Refused(e.to_string()),
                Ok((_, key)) => match status_lists.get(&key).map_err(|e| internal(&e))? {
                    Some(json) => {
                        SyncResponse::StatusList(String::from_utf8(json).map_err(|e| internal(&e))?)
                    }
                    None => SyncResponse::Refused("no such status list".into()),
                },
            },
        })
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            warn!(error = %e, "could not answer a sync request");
            SyncResponse::Refused("internal error".into())
        }
        Err(_) => SyncResponse::Refused("internal error".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_id_is_the_node_key() {
        let key = KeyPair::from_seed(&[3; 32]);
        let public = identity_of(&key).public();
        let ed = public.clone().try_into_ed25519().unwrap();
        assert_eq!(&ed.to_bytes(), key.public().as_bytes());
        // `consortium` computes peer ids without libp2p: both must agree.
        for seed in [[0; 32], [3; 32], [255; 32]] {
            let key = KeyPair::from_seed(&seed);
            let libp2p = identity_of(&key).public().to_peer_id();
            let ours = crate::consortium::peer_id_of(&key.public());
            assert_eq!(ours, libp2p.to_string());
            assert_eq!(ours.parse::<PeerId>().unwrap(), libp2p);
            assert!(ours.starts_with("12D3KooW"));
        }
    }
}
