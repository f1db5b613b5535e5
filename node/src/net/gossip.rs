//! Gossip: the fast path. Gossipsub carries each did:vouch operation and status list once to
//! every member; each message is judged off the swarm task (size, form, hash links, signatures,
//! through the registry or the status lists) before it is stored or forwarded, and the verdict
//! goes back to gossipsub, which forwards only what was accepted.

use std::collections::VecDeque;
use std::time::Duration;

use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageId};
use libp2p::{PeerId, identity};
use sha2::{Digest, Sha256};
use tokio::sync::OwnedSemaphorePermit;
use tracing::debug;
use vouch_core::did_vouch::MAX_OPERATION_BYTES;
use vouch_core::revocation::MAX_EVENT_BYTES;
use vouch_core::sync::Collection;

use super::SwarmTask;
use super::witness::MAX_WAITING;
use super::worker::Done;
use crate::consortium::MAX_AMENDMENT_BYTES;
use crate::fault::{Judgement, PeerMisbehaved};
use crate::status_lists::MAX_STATUS_LIST_BYTES;
use crate::witness::MAX_CHECKPOINT_BYTES;

/// The gossipsub topic of did:vouch operations.
pub const DID_OPS_TOPIC: &str = "/vouch/did-ops/1";
/// The gossipsub topic of status list credentials.
pub const STATUS_LISTS_TOPIC: &str = "/vouch/status-lists/1";
/// The gossipsub topic of the consortium's membership amendments.
pub const AMENDMENTS_TOPIC: &str = "/vouch/consortium/1";
/// The gossipsub topic of the members' signed revocation events.
pub const REVOCATIONS_TOPIC: &str = "/vouch/revocations/1";
/// The gossipsub topic of the members' audit log checkpoints, and their witnesses' cosignatures.
pub const CHECKPOINTS_TOPIC: &str = "/vouch/checkpoints/1";
/// The largest gossip message: one operation or one status list. Each topic has its own bound
/// too, checked before anything else.
pub const MAX_GOSSIP_BYTES: usize = if MAX_OPERATION_BYTES > MAX_STATUS_LIST_BYTES {
    MAX_OPERATION_BYTES
} else {
    MAX_STATUS_LIST_BYTES
};

/// Which topic a message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Topic {
    DidOps,
    StatusLists,
    Amendments,
    Revocations,
    Checkpoints,
}

/// The topics, as gossipsub knows them.
#[derive(Debug, Clone)]
pub(super) struct Topics {
    did_ops: IdentTopic,
    status_lists: IdentTopic,
    amendments: IdentTopic,
    revocations: IdentTopic,
    checkpoints: IdentTopic,
}

impl Topic {
    /// The anti-entropy collection that holds what the topic carries: none for checkpoints,
    /// which every log gossips again on its timer.
    pub(super) fn collection(self) -> Option<Collection> {
        match self {
            Self::DidOps => Some(Collection::DidOperations),
            Self::StatusLists => Some(Collection::StatusLists),
            Self::Amendments => Some(Collection::Amendments),
            Self::Revocations => Some(Collection::RevocationEvents),
            Self::Checkpoints => None,
        }
    }
}

impl Topics {
    pub(super) fn new() -> Self {
        Self {
            did_ops: IdentTopic::new(DID_OPS_TOPIC),
            status_lists: IdentTopic::new(STATUS_LISTS_TOPIC),
            amendments: IdentTopic::new(AMENDMENTS_TOPIC),
            revocations: IdentTopic::new(REVOCATIONS_TOPIC),
            checkpoints: IdentTopic::new(CHECKPOINTS_TOPIC),
        }
    }

    pub(super) fn get(&self, topic: Topic) -> &IdentTopic {
        match topic {
            Topic::DidOps => &self.did_ops,
            Topic::StatusLists => &self.status_lists,
            Topic::Amendments => &self.amendments,
            Topic::Revocations => &self.revocations,
            Topic::Checkpoints => &self.checkpoints,
        }
    }

    fn of(&self, hash: &gossipsub::TopicHash) -> Option<Topic> {
        if *hash == self.did_ops.hash() {
            Some(Topic::DidOps)
        } else if *hash == self.status_lists.hash() {
            Some(Topic::StatusLists)
        } else if *hash == self.amendments.hash() {
            Some(Topic::Amendments)
        } else if *hash == self.revocations.hash() {
            Some(Topic::Revocations)
        } else if *hash == self.checkpoints.hash() {
            Some(Topic::Checkpoints)
        } else {
            None
        }
    }

    fn all(&self) -> [&IdentTopic; 5] {
        [
            &self.did_ops,
            &self.status_lists,
            &self.amendments,
            &self.revocations,
            &self.checkpoints,
        ]
    }
}

/// Gossipsub's own scoring, for what it rejects before this node sees it (a message over its
/// topic's size): nothing earns a member points, nothing but an invalid message costs it any, and
/// every invalid message on a topic costs 100 points (the count of invalid messages squared,
/// times -100), decaying by a tenth a second.
/// Members all share one address on a testnet, so address colocation is not held against them.
fn score_params(topics: &Topics) -> gossipsub::PeerScoreParams {
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
        topics: topics
            .all()
            .iter()
            .map(|t| (t.hash(), topic.clone()))
            .collect(),
        ip_colocation_factor_weight: 0.0,
        // Mesh etiquette (a GRAFT within the prune backoff, which a partition that heals within a
        // minute makes every honest member commit) is no misbehaviour: a member is scored only
        // for invalid messages.
        behaviour_penalty_weight: 0.0,
        ..Default::default()
    }
}

/// The most gossip messages waiting for a worker…
const MAX_WAITING_MESSAGES: usize = 1024;
/// …and the most bytes of them; beyond either, a message is left to anti-entropy.
const MAX_WAITING_BYTES: usize = 16 << 20;

/// A gossip message waiting for a worker.
struct Waiting {
    peer: PeerId,
    message_id: MessageId,
    topic: Topic,
    data: Vec<u8>,
}

/// Gossip that found the worker full, judged first when a job ends: bounded in messages and
/// bytes.
#[derive(Default)]
pub(super) struct WaitingGossip {
    messages: VecDeque<Waiting>,
    bytes: usize,
}

impl WaitingGossip {
    /// Keeps `waiting` if there is room: whether it was kept.
    fn push(&mut self, waiting: Waiting) -> bool {
        if self.messages.len() >= MAX_WAITING_MESSAGES
            || self.bytes + waiting.data.len() > MAX_WAITING_BYTES
        {
            return false;
        }
        self.bytes += waiting.data.len();
        self.messages.push_back(waiting);
        true
    }

    fn pop(&mut self) -> Option<Waiting> {
        let waiting = self.messages.pop_front()?;
        self.bytes -= waiting.data.len();
        Some(waiting)
    }
}

/// A message's id: the SHA-256 of its data, so that the same item from several members is
/// delivered once. A checkpoint's id also names its publisher and sequence number: a log
/// gossips its newest checkpoint again on a timer, and a witness its cosignature, and each time
/// must reach the members anew.
fn message_id(message: &gossipsub::Message, checkpoints: &gossipsub::TopicHash) -> MessageId {
    let mut hash = Sha256::new();
    if message.topic == *checkpoints {
        if let Some(source) = &message.source {
            hash.update(source.to_bytes());
        }
        hash.update(message.sequence_number.unwrap_or_default().to_be_bytes());
    }
    hash.update(&message.data);
    MessageId::from(hash.finalize().to_vec())
}

/// The gossipsub behaviour, subscribed to both topics.
pub(super) fn behaviour(
    key: &identity::Keypair,
    topics: &Topics,
) -> Result<gossipsub::Behaviour, String> {
    let checkpoints = topics.checkpoints.hash();
    let config = gossipsub::ConfigBuilder::default()
        .max_transmit_size(MAX_GOSSIP_BYTES)
        .validation_mode(gossipsub::ValidationMode::Strict)
        .validate_messages()
        .heartbeat_interval(Duration::from_millis(500))
        .max_transmit_size_for_topic(MAX_OPERATION_BYTES, topics.did_ops.hash())
        .max_transmit_size_for_topic(MAX_STATUS_LIST_BYTES, topics.status_lists.hash())
        .max_transmit_size_for_topic(MAX_AMENDMENT_BYTES, topics.amendments.hash())
        .max_transmit_size_for_topic(MAX_EVENT_BYTES, topics.revocations.hash())
        .max_transmit_size_for_topic(MAX_CHECKPOINT_BYTES, topics.checkpoints.hash())
        .message_id_fn(move |message| message_id(message, &checkpoints))
        .build()
        .map_err(|e| e.to_string())?;
    let mut gossipsub =
        gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), config)?;
    gossipsub.with_peer_score(
        score_params(topics),
        gossipsub::PeerScoreThresholds::default(),
    )?;
    for topic in topics.all() {
        gossipsub.subscribe(topic).map_err(|e| e.to_string())?;
    }
    Ok(gossipsub)
}

impl SwarmTask {
    /// Publishes what this node accepted.
    pub(super) fn publish(&mut self, topic: Topic, data: Vec<u8>) {
        let topic = self.topics.get(topic).clone();
        if let Err(e) = self.swarm.behaviour_mut().gossipsub.publish(topic, data) {
            debug!(error = %e, "not gossiped now; peers will get it by sync");
        }
    }

    /// A message from a member: judged off the swarm task, or, when the worker is full, left
    /// to anti-entropy.
    pub(super) fn gossip_received(
        &mut self,
        peer: PeerId,
        message_id: MessageId,
        message: gossipsub::Message,
    ) {
        let Some(topic) = self.topics.of(&message.topic) else {
            self.gossip_judged(
                peer,
                message_id,
                PeerMisbehaved::UnknownTopic(message.topic.to_string()).into(),
            );
            return;
        };
        if topic == Topic::Checkpoints {
            // Checkpoints have their own workers, so that a burst of them (every member's, then
            // each again with the cosignatures its log gathered) never holds up a revocation;
            // and no anti-entropy: what finds no worker waits for one.
            let gossiped = (message.source, message.data);
            match self.witness_worker.reserve() {
                Some(permit) => self.judge_checkpoint(permit, peer, message_id, gossiped),
                None if self.witnessing.checkpoints.len() < MAX_WAITING => {
                    self.witnessing
                        .checkpoints
                        .push_back((peer, message_id, gossiped));
                }
                None => {
                    self.metrics.gossip_deferred.inc();
                    self.gossip_judged(peer, message_id, Judgement::Unjudged);
                }
            }
            return;
        }
        let waiting = Waiting {
            peer,
            message_id: message_id.clone(),
            topic,
            data: message.data,
        };
        let Some(permit) = self.worker.reserve() else {
            // Judged as soon as a job ends, before any sync session: gossipsub forwards it
            // only once judged, and keeps it for a few heartbeats.
            if !self.gossip_waiting.push(waiting) {
                self.metrics.gossip_deferred.inc();
                self.gossip_judged(peer, message_id, Judgement::Unjudged);
                // Gossipsub will not deliver the same message again: reconcile that collection
                // with the sender now (queued until a job ends), not at the next anti-entropy
                // tick — a revocation must not wait `sync_interval_secs` for a busy worker.
                if let Some(collection) = topic.collection() {
                    self.resync(peer, collection);
                }
            }
            return;
        };
        self.judge_gossip(permit, waiting);
    }

    /// Judges the gossip that waited for a worker, oldest first, while there is room.
    pub(super) fn gossip_waiting(&mut self) {
        while !self.gossip_waiting.messages.is_empty() {
            let Some(permit) = self.worker.reserve() else {
                return;
            };
            if let Some(waiting) = self.gossip_waiting.pop() {
                self.judge_gossip(permit, waiting);
            }
        }
    }

    /// Judges a gossip message off the swarm task.
    fn judge_gossip(&mut self, permit: OwnedSemaphorePermit, waiting: Waiting) {
        let Waiting {
            peer,
            message_id,
            topic,
            data,
        } = waiting;
        let (registry, status_lists) = (self.registry.clone(), self.status_lists.clone());
        let amendments = self.amendments.clone();
        let events = self.sources.events();
        self.worker.run(permit, move || {
            let now = chrono::Utc::now();
            let judgement = match topic {
                Topic::DidOps => registry.receive(&data, now),
                Topic::StatusLists => status_lists.receive(&data, now),
                Topic::Amendments => amendments.receive(&data),
                Topic::Revocations => events.receive(&data, now),
                Topic::Checkpoints => unreachable!("checkpoints go to the witness"),
            };
            Done::Gossip {
                peer,
                message_id,
                judgement,
            }
        });
    }

    /// Tells gossipsub what a message came to, and the sender what it costs.
    pub(super) fn gossip_judged(
        &mut self,
        peer: PeerId,
        message_id: MessageId,
        judgement: Judgement,
    ) {
        let acceptance = match &judgement {
            Judgement::Accepted => MessageAcceptance::Accept,
            Judgement::Known | Judgement::Behind | Judgement::Unjudged => MessageAcceptance::Ignore,
            Judgement::Misbehaved(_) => MessageAcceptance::Reject,
        };
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(&message_id, &peer, acceptance);
        self.follow(peer, judgement);
        // Counted last: a waiter woken by it sees the verdict's effects.
        self.metrics.record_gossip_received();
    }

    /// Gossipsub's score of a peer.
    pub(super) fn gossip_score(&self, peer: &PeerId) -> Option<f64> {
        self.swarm.behaviour().gossipsub.peer_score(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(bytes: usize) -> Waiting {
        Waiting {
            peer: PeerId::random(),
            message_id: MessageId::from(vec![0]),
            topic: Topic::Revocations,
            data: vec![0; bytes],
        }
    }

    #[test]
    fn gossip_waiting_for_a_worker_is_bounded_in_messages_and_bytes() {
        let mut waiting = WaitingGossip::default();
        for _ in 0..MAX_WAITING_MESSAGES {
            assert!(waiting.push(message(1)));
        }
        assert!(!waiting.push(message(1)), "one message too many");
        while waiting.pop().is_some() {}
        assert_eq!(waiting.bytes, 0);

        let big = MAX_WAITING_BYTES / 4;
        for _ in 0..4 {
            assert!(waiting.push(message(big)));
        }
        assert!(!waiting.push(message(1)), "one byte too many");
        assert_eq!(waiting.pop().map(|w| w.data.len()), Some(big));
        assert!(waiting.push(message(big)), "room again");
    }
}
