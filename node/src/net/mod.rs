//! The libp2p network: the only module that names libp2p.
//!
//! One task owns the `Swarm` and only routes; the rest of the node holds a [`Network`] handle
//! that sends it commands over a bounded channel. Transports are TCP and QUIC, with Noise and
//! Yamux on TCP. Behaviours:
//! - an allow list of the consortium's member peers: no other peer gets a connection (a member
//!   can be refused for a while: [`Network::refuse`]);
//! - identify;
//! - [`gossip`]: gossipsub of did:vouch operations and status lists, the fast path;
//! - [`sync`]: anti-entropy by range-based set reconciliation, which heals what gossip missed
//!   (a partition, a late joiner, a restart) with traffic bounded by the difference.
//!
//! Whatever a peer's message costs in CPU or disk runs in the bounded [`worker`]; what it comes
//! to is one [`Judgement`], mapped to gossip acceptance and to the sender's [`score`] in one place
//! ([`SwarmTask::follow`]).
//!
//! A node's libp2p identity is its node key, so the Noise handshake authenticates the same key
//! that the consortium genesis lists.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libp2p::futures::StreamExt;
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, Swarm, allow_block_list, gossipsub, identify, identity, noise,
    request_response, tcp, yamux,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument, Span, debug, info, info_span, warn};
use vouch_core::did_vouch::Operation;
use vouch_core::key::KeyPair;
use vouch_core::sync::{SyncRequest, SyncResponse};

use crate::audit::AuditLog;
use crate::consortium::{Amendment, Amendments};
use crate::fault::Judgement;
use crate::issuer::Events;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::status_lists::StatusLists;
use crate::witness::Witness;

mod gossip;
mod score;
mod snapshot;
mod sync;
mod witness;
mod worker;

pub use gossip::{
    AMENDMENTS_TOPIC, CHECKPOINTS_TOPIC, DID_OPS_TOPIC, MAX_GOSSIP_BYTES, REVOCATIONS_TOPIC,
    STATUS_LISTS_TOPIC,
};
pub use sync::SYNC_PROTOCOL;

use gossip::{Topic, Topics};
use worker::{Done, Worker};

/// The identify protocol version.
const IDENTIFY_VERSION: &str = "/vouch/1.0.0";
/// The most commands waiting for the swarm task.
const COMMAND_QUEUE: usize = 256;
/// How often peers' scores are checked.
const SCORE_CHECK: Duration = Duration::from_millis(500);
/// How often sessions that found no worker (here or at the peer: `Busy`) are tried again.
const RETRY: Duration = Duration::from_millis(100);

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

/// Why the network could not start, or a command could not be carried out.
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
        /// What the transport said when the address was parsed or bound.
        reason: String,
    },
    /// A peer id is malformed.
    #[error("{0} is not a peer id")]
    PeerId(String),
    /// The network has stopped.
    #[error("the network has stopped")]
    Stopped,
}

enum Command {
    Publish(Topic, Vec<u8>),
    ConnectedMembers(oneshot::Sender<usize>),
    Refuse(Vec<PeerId>, oneshot::Sender<()>),
    Admit(Vec<PeerId>, oneshot::Sender<()>),
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

    /// Gossips a membership amendment this node applied, and acts on it: members added are
    /// admitted and dialled, members removed are disconnected and refused.
    pub async fn publish_amendment(&self, amendment: &Amendment) {
        self.send(Topic::Amendments, amendment.to_json().into_bytes())
            .await;
    }

    /// Gossips a status list credential that this node signed and stored.
    pub async fn publish_status_list(&self, signed: &serde_json::Value) {
        let data = serde_json::to_vec(signed).expect("JSON values always serialize");
        self.send(Topic::StatusLists, data).await;
    }

    /// Gossips a checkpoint of this node's audit log.
    pub async fn publish_checkpoint(&self, note: Vec<u8>) {
        self.send(Topic::Checkpoints, note).await;
    }

    /// Gossips a revocation event that this node signed and stored.
    pub async fn publish_revocation_event(&self, signed: &serde_json::Value) {
        let data = serde_json::to_vec(signed).expect("JSON values always serialize");
        self.send(Topic::Revocations, data).await;
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

    /// Refuses these members' nodes until they are admitted again: their connections are closed
    /// and new ones refused, both ways (a partition, made on purpose).
    pub async fn refuse(&self, peers: &[String]) -> Result<(), NetError> {
        self.ask(peers, Command::Refuse).await
    }

    /// Admits members' nodes refused before, and dials them.
    pub async fn admit(&self, peers: &[String]) -> Result<(), NetError> {
        self.ask(peers, Command::Admit).await
    }

    /// Sends a command about peers, and waits until the swarm task has carried it out.
    async fn ask(
        &self,
        peers: &[String],
        command: fn(Vec<PeerId>, oneshot::Sender<()>) -> Command,
    ) -> Result<(), NetError> {
        let peers = parse_peers(peers)?;
        let (reply, done) = oneshot::channel();
        self.commands
            .send(command(peers, reply))
            .await
            .map_err(|_| NetError::Stopped)?;
        done.await.map_err(|_| NetError::Stopped)
    }
}

fn parse_peers(peers: &[String]) -> Result<Vec<PeerId>, NetError> {
    peers
        .iter()
        .map(|p| p.parse().map_err(|_| NetError::PeerId(p.clone())))
        .collect()
}

/// What the network is started with.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// The node key.
    pub key: KeyPair,
    /// Multiaddresses to listen on.
    pub listen: Vec<String>,
    /// The consortium's membership, amended as the network runs.
    pub amendments: Amendments,
    /// How often to reconcile with and redial members.
    pub sync_interval: Duration,
    /// The node's audit log, whose consistency proofs it gives its witnesses.
    pub audit: AuditLog,
    /// The node's witness of the members' audit logs.
    pub witness: Witness,
}

/// Starts the swarm task. It runs until `shutdown` turns true.
pub fn start(
    config: NetConfig,
    registry: Registry,
    status_lists: StatusLists,
    events: Events,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(Network, JoinHandle<()>), NetError> {
    let keypair = identity_of(&config.key);
    let local = keypair.public().to_peer_id();
    let topics = Topics::new();
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
            Ok(Behaviour {
                members: allow_block_list::Behaviour::default(),
                identify: identify::Behaviour::new(identify::Config::new(
                    IDENTIFY_VERSION.into(),
                    key.public(),
                )),
                gossipsub: gossip::behaviour(key, &topics)?,
                sync: sync::behaviour(),
            })
        })
        .map_err(|e| build(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
        .build();

    for addr in &config.listen {
        let parsed: Multiaddr =
            addr.parse()
                .map_err(|e: libp2p::multiaddr::Error| NetError::Listen {
                    addr: addr.clone(),
                    reason: e.to_string(),
                })?;
        swarm.listen_on(parsed).map_err(|e| NetError::Listen {
            addr: addr.clone(),
            // libp2p's transport error says nothing of its own: the cause is in its source.
            reason: std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
                .map(ToString::to_string)
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(": "),
        })?;
    }

    let (commands, mut queue) = mpsc::channel(COMMAND_QUEUE);
    let (worker, mut reports) = Worker::new();
    let witness_worker = worker.sibling(witness::JOBS);
    let metrics = registry.metrics_handle();
    let mut task = SwarmTask {
        swarm,
        sources: sync::Sources::new(
            registry.clone(),
            status_lists.clone(),
            config.amendments.clone(),
            events,
            config.audit,
        ),
        witness: config.witness,
        witnessing: witness::Queues::default(),
        witness_worker,
        gossip_waiting: Default::default(),
        registry,
        status_lists,
        amendments: config.amendments,
        membership_seen: None,
        local,
        metrics,
        topics,
        members: Vec::new(),
        refused: HashSet::new(),
        connected: HashSet::new(),
        sync_turn: 0,
        spans: HashMap::new(),
        scores: score::Scores::default(),
        worker,
        sync: sync::Sessions::default(),
    };
    let span = info_span!("net", peer = %local);
    let handle = tokio::spawn(
        async move {
            task.refresh_members();
            let mut tick = tokio::time::interval(config.sync_interval);
            let mut score_check = tokio::time::interval(SCORE_CHECK);
            let mut retry = tokio::time::interval(RETRY);
            loop {
                tokio::select! {
                    // The guard `wait_for` returns is not `Send`: drop it inside.
                    () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => break,
                    Some(command) = queue.recv() => {
                        task.command(command);
                        task.refresh_members();
                    }
                    Some(report) = reports.recv() => {
                        task.report(report);
                        task.refresh_members();
                        // A job ended: a worker is free.
                        task.start_waiting();
                    }
                    event = task.swarm.select_next_some() => task.event(event),
                    _ = tick.tick() => task.tick(),
                    _ = score_check.tick() => task.check_scores(),
                    _ = retry.tick() => task.start_waiting(),
                }
            }
            info!("network stopped");
        }
        .instrument(span),
    );
    Ok((Network { commands }, handle))
}

/// How many members each sync tick reconciles with (in turn), besides those reconciled with on
/// connecting and when a message shows this node is behind.
const SYNC_PEERS_PER_TICK: usize = 3;

/// The state of the swarm task: its only owner.
struct SwarmTask {
    swarm: Swarm<Behaviour>,
    registry: Registry,
    status_lists: StatusLists,
    sources: sync::Sources,
    amendments: Amendments,
    /// The number of amendments the member list below reflects.
    membership_seen: Option<u64>,
    local: PeerId,
    metrics: Arc<Metrics>,
    topics: Topics,
    /// The other members' peers and addresses.
    members: Vec<(PeerId, Vec<Multiaddr>)>,
    /// Members refused on purpose, until admitted again.
    refused: HashSet<PeerId>,
    /// Members connected now.
    connected: HashSet<PeerId>,
    /// Where the next sync tick's turn starts among the connected members, sorted.
    sync_turn: usize,
    /// A tracing span per open connection: what happens on it is logged inside.
    spans: HashMap<ConnectionId, (PeerId, Span)>,
    scores: score::Scores,
    worker: Worker,
    sync: sync::Sessions,
    witness: Witness,
    /// What the witness waits for: proofs asked, checkpoints and answers waiting for a worker.
    witnessing: witness::Queues,
    /// The witness's own workers (checkpoints and proofs judged, cosignatures stored).
    witness_worker: Worker,
    /// Gossip that found the worker full, judged first when a job ends.
    gossip_waiting: gossip::WaitingGossip,
}

impl SwarmTask {
    /// Brings the member list up to the membership in force, when an amendment changed it:
    /// new members are admitted and dialled, removed ones disconnected and refused.
    fn refresh_members(&mut self) {
        let sequence = self.amendments.members().sequence();
        if self.membership_seen == Some(sequence) {
            return;
        }
        self.membership_seen = Some(sequence);
        let Some(membership) = self.amendments.members().now() else {
            return;
        };
        let members: Vec<(PeerId, Vec<Multiaddr>)> = membership
            .members()
            .iter()
            .filter_map(|member| {
                let peer = member.peer_id.parse::<PeerId>().ok()?;
                let addresses = member
                    .addresses
                    .iter()
                    .filter_map(|a| a.parse().ok())
                    .collect();
                (peer != self.local).then_some((peer, addresses))
            })
            .collect();
        let gone: Vec<PeerId> = self
            .members
            .iter()
            .map(|(peer, _)| *peer)
            .filter(|peer| !members.iter().any(|(p, _)| p == peer))
            .collect();
        for peer in gone {
            info!(%peer, "no longer a member: disconnecting");
            // Closes its connections and refuses new ones.
            self.swarm.behaviour_mut().members.disallow_peer(peer);
            if self.connected.remove(&peer) {
                self.metrics.set_peers(self.connected.len());
            }
            self.end_sessions(peer);
        }
        for (peer, _) in &members {
            if !self.refused.contains(peer) {
                self.swarm.behaviour_mut().members.allow_peer(*peer);
            }
        }
        self.members = members;
        self.dial_members();
    }

    fn dial_members(&mut self) {
        let now = Instant::now();
        for (peer, addresses) in &self.members {
            if self.connected.contains(peer)
                || self.refused.contains(peer)
                || self.scores.refused(peer, None, now)
            {
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

    /// Every sync interval: redial the members away, reconcile with those here.
    fn tick(&mut self) {
        self.dial_members();
        self.expire_sessions();
        self.scores.prune(Instant::now());
        // A few members each tick, in turn, not all: with every member each tick, the sessions
        // grow as the square of the consortium (30 nodes on 2 cores spent all their time on
        // them and fell behind on gossip). Gossip is the fast path; a member that missed a
        // message finds it at one of the next few it reconciles with, as nearly all hold it.
        let mut peers: Vec<PeerId> = self.connected.iter().copied().collect();
        peers.sort_unstable();
        let count = peers.len().min(SYNC_PEERS_PER_TICK);
        for i in 0..count {
            let peer = peers[(self.sync_turn + i) % peers.len()];
            self.reconcile(peer);
        }
        self.sync_turn = (self.sync_turn + count) % peers.len().max(1);
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Publish(topic, data) => self.publish(topic, data),
            Command::ConnectedMembers(reply) => {
                let _ = reply.send(self.connected.len());
            }
            Command::Refuse(peers, reply) => {
                for peer in peers {
                    info!(%peer, "refusing a member");
                    self.refused.insert(peer);
                    // Closes its connections, and refuses new ones.
                    self.swarm.behaviour_mut().members.disallow_peer(peer);
                }
                let _ = reply.send(());
            }
            Command::Admit(peers, reply) => {
                for peer in peers {
                    let member = self.members.iter().any(|(p, _)| *p == peer);
                    if self.refused.remove(&peer) && member {
                        info!(%peer, "admitting a member again");
                        self.swarm.behaviour_mut().members.allow_peer(peer);
                    }
                }
                self.dial_members();
                let _ = reply.send(());
            }
        }
    }

    fn report(&mut self, report: Done) {
        match report {
            Done::Gossip {
                peer,
                message_id,
                judgement,
            } => self.gossip_judged(peer, message_id, judgement),
            Done::Checkpoint {
                peer,
                message_id,
                note,
                outcome,
            } => self.checkpoint_judged(peer, message_id, note, outcome),
            Done::Proved { outcome } => self.witnessed(Vec::new(), outcome),
            other => self.sync_done(other),
        }
    }

    /// Disconnects the peers whose score fell below the bar, gossipsub's included (it refuses
    /// some messages itself, such as one over its topic's size).
    fn check_scores(&mut self) {
        let now = Instant::now();
        let low: Vec<(PeerId, bool)> = self
            .connected
            .iter()
            .filter(|peer| self.scores.refused(peer, self.gossip_score(peer), now))
            .map(|peer| (*peer, !self.scores.refused(peer, None, now)))
            .collect();
        for (peer, by_gossipsub) in low {
            if by_gossipsub {
                // What gossipsub refused itself never reached `follow`: count it here.
                self.metrics.gossip_rejected.inc();
            }
            self.disconnect(peer, "score below the bar");
        }
    }

    /// What a judgement of a peer's message costs it: the one place where faults meet scoring.
    /// A sender that misbehaved is charged, and disconnected when its score falls below the
    /// bar; one that is ahead of this node is reconciled with at once.
    fn follow(&mut self, peer: PeerId, judgement: Judgement) {
        match judgement {
            Judgement::Misbehaved(misbehaved) => {
                self.metrics.gossip_rejected.inc();
                let score = self.scores.penalize(peer, Instant::now());
                warn!(%peer, reason = %misbehaved, score, "peer misbehaved");
                if self.scores.refused(&peer, None, Instant::now()) {
                    self.disconnect(peer, "misbehaved");
                }
            }
            // What it builds on is missing: reconcile with the sender now, or right after the
            // session running with it (whose snapshot predates the message).
            Judgement::Behind => {
                for collection in vouch_core::sync::Collection::ALL {
                    self.resync(peer, collection);
                }
            }
            Judgement::Accepted | Judgement::Known | Judgement::Unjudged => {}
        }
    }

    fn disconnect(&mut self, peer: PeerId, reason: &str) {
        if !self.connected.remove(&peer) {
            return;
        }
        self.metrics.set_peers(self.connected.len());
        self.metrics.peers_disconnected.inc();
        self.end_sessions(peer);
        warn!(%peer, reason, "disconnecting a peer");
        let _ = self.swarm.disconnect_peer_id(peer);
    }

    /// Handles a swarm event inside the span of the connection it came on.
    fn event(&mut self, event: SwarmEvent<BehaviourEvent>) {
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
        span.in_scope(|| self.handle(event));
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

    fn handle(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => info!(%address, "listening"),
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                if self
                    .scores
                    .refused(&peer_id, self.gossip_score(&peer_id), Instant::now())
                {
                    debug!("a peer scored below the bar connected: closing");
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                }
                if self.connected.insert(peer_id) {
                    info!("member connected");
                    self.metrics.set_peers(self.connected.len());
                    self.reconcile(peer_id);
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                if self.connected.remove(&peer_id) {
                    self.metrics.set_peers(self.connected.len());
                }
                self.end_sessions(peer_id);
                debug!("member disconnected");
            }
            SwarmEvent::IncomingConnectionError {
                error: libp2p::swarm::ListenError::Denied { .. },
                send_back_addr,
                ..
            } => {
                self.metrics.record_refused();
                debug!(%send_back_addr, "refused a connection from a non-member");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.gossip_received(propagation_source, message_id, message),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                peer,
                message,
                ..
            })) => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => self.sync_request(peer, request, channel),
                request_response::Message::Response {
                    request_id,
                    response,
                } => self.sync_response(peer, request_id, response),
            },
            SwarmEvent::Behaviour(BehaviourEvent::Sync(
                request_response::Event::OutboundFailure {
                    peer,
                    request_id,
                    error,
                    ..
                },
            )) => {
                debug!(%peer, %error, "sync request failed");
                self.sync_failed(request_id);
            }
            _ => {}
        }
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
