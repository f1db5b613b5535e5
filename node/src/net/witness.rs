//! The witness on the network: checkpoints gossiped are judged by [`Witness`] off the swarm task;
//! what it asks for (a consistency proof of the log's node) is asked here, over the sync
//! protocol, and what it cosigns is sent to the log's node alone, over the same protocol. Only a
//! log's node gossips its checkpoints, with the cosignatures it gathered: a round costs each
//! member one message per log (n² in all), where gossiping every cosignature cost n³.

use std::collections::{HashMap, HashSet, VecDeque};

use libp2p::PeerId;
use libp2p::gossipsub::MessageId;
use libp2p::request_response::{OutboundRequestId, ResponseChannel};
use tokio::sync::OwnedSemaphorePermit;
use tracing::debug;
use vouch_core::audit::Hash;
use vouch_core::sync::{SyncRequest, SyncResponse};

use super::SwarmTask;
use super::sync::answer;
use super::worker::Done;
use crate::fault::PeerMisbehaved;
use crate::witness::{Answer, MAX_PROOFS_IN_FLIGHT, Outcome, ToLog};

/// The most hashes in a consistency proof: twice the height of a tree of 2^64 leaves.
const MAX_PROOF_HASHES: usize = 128;
/// The witness's own jobs at once.
pub(super) const JOBS: usize = 2;
/// The most gossiped checkpoints, and answered proofs, waiting for a worker.
pub(super) const MAX_WAITING: usize = 1024;
/// How many times a proof is asked of a busy or unreachable log's node.
const TRIES: u8 = 3;

/// A checkpoint gossiped: the peer that published it (signed the message), and the note.
pub(super) type Gossiped = (Option<PeerId>, Vec<u8>);

/// A consistency proof asked of a log's node, for a checkpoint.
pub(super) struct Asked {
    log: PeerId,
    old: u64,
    new: u64,
    note: Vec<u8>,
    tries: u8,
}

/// What the witness waits for on the network.
#[derive(Default)]
pub(super) struct Queues {
    /// Proofs asked, by request.
    pub(super) asked: HashMap<OutboundRequestId, Asked>,
    /// Proofs to ask again (the log's node was busy or away), at the next retry tick.
    again: VecDeque<Asked>,
    /// Cosignatures sent to logs' nodes, by request: at most [`MAX_PROOFS_IN_FLIGHT`].
    pub(super) sent: HashSet<OutboundRequestId>,
    /// Witnesses' requests of this node's log (proofs, cosignatures) waiting for a worker.
    pub(super) requests: VecDeque<(PeerId, SyncRequest, ResponseChannel<SyncResponse>)>,
    /// Gossiped checkpoints waiting for a worker: sender, message id, and what was gossiped.
    pub(super) checkpoints: VecDeque<(PeerId, MessageId, Gossiped)>,
    /// Proofs answered, waiting for a worker: the checkpoint, the sizes asked and the answer.
    answers: VecDeque<(Vec<u8>, (u64, u64), Answer)>,
}

impl SwarmTask {
    /// Judges a gossiped checkpoint off the swarm task.
    pub(super) fn judge_checkpoint(
        &mut self,
        permit: OwnedSemaphorePermit,
        peer: PeerId,
        message_id: MessageId,
        (publisher, note): Gossiped,
    ) {
        let witness = self.witness.clone();
        self.witness_worker.run(permit, move || {
            let publisher = publisher.map(|p| p.to_string());
            let outcome = witness.gossiped(&note, publisher.as_deref(), chrono::Utc::now());
            Done::Checkpoint {
                peer,
                message_id,
                note,
                outcome,
            }
        });
    }

    /// Judges the checkpoints and proofs that waited for a worker, while there is room, and
    /// asks again the proofs a busy log's node could not give.
    pub(super) fn witness_waiting(&mut self) {
        for asked in std::mem::take(&mut self.witnessing.again) {
            self.ask(asked);
        }
        // A witness that stopped waiting (its request timed out) asks again: no work for it.
        self.witnessing
            .requests
            .retain(|(_, _, channel)| channel.is_open());
        while !self.witnessing.requests.is_empty()
            || !self.witnessing.checkpoints.is_empty()
            || !self.witnessing.answers.is_empty()
        {
            let Some(permit) = self.witness_worker.reserve() else {
                return;
            };
            // Witnesses waiting on this node first: a log answers before it judges others.
            if let Some((peer, request, channel)) = self.witnessing.requests.pop_front() {
                self.answer_witness(permit, peer, request, channel);
            } else if let Some((peer, message_id, gossiped)) =
                self.witnessing.checkpoints.pop_front()
            {
                self.judge_checkpoint(permit, peer, message_id, gossiped);
            } else if let Some((note, sizes, answer)) = self.witnessing.answers.pop_front() {
                self.judge_proof(permit, note, sizes, answer);
            }
        }
    }

    /// Asks the log's node for a consistency proof.
    fn ask(&mut self, asked: Asked) {
        if self.witnessing.asked.len() >= MAX_PROOFS_IN_FLIGHT {
            debug!(log = %asked.log, "too many consistency proofs asked: the next checkpoint will do");
            return;
        }
        let request = SyncRequest::Consistency {
            old: asked.old,
            new: asked.new,
        };
        let id = self
            .swarm
            .behaviour_mut()
            .sync
            .send_request(&asked.log, request);
        self.witnessing.asked.insert(id, asked);
    }

    /// A proof that could not be had (the log's node busy or away): asked again at the next
    /// retry tick, a few times; then the next checkpoint will do.
    pub(super) fn proof_failed(&mut self, mut asked: Asked) {
        asked.tries += 1;
        if asked.tries < TRIES && self.witnessing.again.len() < MAX_WAITING {
            self.witnessing.again.push_back(asked);
        }
    }

    /// A gossiped checkpoint, judged: the verdict goes to gossipsub, and what the witness asks
    /// for is done.
    pub(super) fn checkpoint_judged(
        &mut self,
        peer: PeerId,
        message_id: MessageId,
        note: Vec<u8>,
        outcome: Outcome,
    ) {
        self.gossip_judged(peer, message_id, outcome.judgement());
        self.witnessed(note, outcome);
    }

    /// Acts on what the witness decided about `note`.
    pub(super) fn witnessed(&mut self, note: Vec<u8>, outcome: Outcome) {
        match outcome {
            Outcome::Stored { send: Some(to) } | Outcome::Relay { send: Some(to) } => {
                self.send_cosignature(to);
            }
            Outcome::Prove { peer, old, new } => {
                if let Ok(log) = peer.parse::<PeerId>() {
                    self.ask(Asked {
                        log,
                        old,
                        new,
                        note,
                        tries: 0,
                    });
                }
            }
            Outcome::Stored { send: None }
            | Outcome::Relay { send: None }
            | Outcome::Known
            | Outcome::Fork
            | Outcome::Misbehaved(_)
            | Outcome::Unjudged => {}
        }
    }

    /// Sends this node's cosignature to the log's node, and to it alone: the log gossips its
    /// witnesses' cosignatures with its note. One that cannot be sent now (too many in flight,
    /// the log's node away) is sent again when the log's note shows it lacks it.
    fn send_cosignature(&mut self, to: ToLog) {
        let Ok(log) = to.peer.parse::<PeerId>() else {
            return;
        };
        if self.witnessing.sent.len() >= MAX_PROOFS_IN_FLIGHT {
            debug!(%log, "too many cosignatures in flight: sent again when the log lacks it");
            return;
        }
        let id = self
            .swarm
            .behaviour_mut()
            .sync
            .send_request(&log, SyncRequest::Cosignature { note: to.note });
        self.witnessing.sent.insert(id);
    }

    /// A witness's request of this node as a log's node (a consistency proof, a cosignature):
    /// answered by the witness's workers, or, when they are full, kept (bounded) until one is
    /// free — a witness that found the log busy would wait for the log's next checkpoint.
    pub(super) fn witness_request(
        &mut self,
        peer: PeerId,
        request: SyncRequest,
        channel: ResponseChannel<SyncResponse>,
    ) {
        match self.witness_worker.reserve() {
            Some(permit) => self.answer_witness(permit, peer, request, channel),
            None if self.witnessing.requests.len() < MAX_WAITING => {
                self.witnessing.requests.push_back((peer, request, channel));
            }
            None => {
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_response(channel, SyncResponse::Busy);
            }
        }
    }

    fn answer_witness(
        &mut self,
        permit: OwnedSemaphorePermit,
        peer: PeerId,
        request: SyncRequest,
        channel: ResponseChannel<SyncResponse>,
    ) {
        let (witness, sources) = (self.witness.clone(), self.sources.clone());
        self.witness_worker.run(permit, move || {
            let (response, misbehaved) = match request {
                SyncRequest::Cosignature { note } => {
                    match witness.cosignature_sent(&note, chrono::Utc::now()) {
                        Outcome::Misbehaved(misbehaved) => (
                            SyncResponse::Refused(misbehaved.to_string()),
                            Some(misbehaved),
                        ),
                        Outcome::Unjudged => (SyncResponse::Refused("internal error".into()), None),
                        _ => (SyncResponse::Gathered, None),
                    }
                }
                other => answer(&sources, other),
            };
            Done::Answer {
                peer,
                channel,
                response,
                misbehaved,
            }
        });
    }

    /// What a log's node answered to a cosignature sent to it.
    pub(super) fn cosignature_answered(&mut self, peer: PeerId, response: SyncResponse) {
        match response {
            SyncResponse::Gathered => {}
            SyncResponse::Busy => {
                debug!(%peer, "the log's node was busy: sent again when its note lacks it");
            }
            SyncResponse::Refused(reason) => debug!(%peer, reason, "cosignature refused"),
            _ => self.follow(
                peer,
                PeerMisbehaved::Unsolicited("a sync response of the wrong kind").into(),
            ),
        }
    }

    /// The log's node answered a request for a consistency proof: judged off the swarm task.
    pub(super) fn proof_received(&mut self, asked: Asked, response: SyncResponse) {
        let answer = match response {
            SyncResponse::Consistency(bytes) => {
                if !bytes.len().is_multiple_of(32) || bytes.len() / 32 > MAX_PROOF_HASHES {
                    debug!(
                        reason = %PeerMisbehaved::Malformed("a proof of partial hashes".into()),
                        "consistency proof refused"
                    );
                    return;
                }
                Answer::Proof(
                    bytes
                        .chunks_exact(32)
                        .map(|h| Hash(h.try_into().expect("chunks of 32")))
                        .collect(),
                )
            }
            SyncResponse::Lacks(size) => Answer::Lacks(size),
            SyncResponse::Busy => {
                self.proof_failed(asked);
                return;
            }
            other => {
                debug!(response = ?other, "no consistency proof: the next checkpoint will do");
                return;
            }
        };
        let sizes = (asked.old, asked.new);
        match self.witness_worker.reserve() {
            Some(permit) => self.judge_proof(permit, asked.note, sizes, answer),
            None if self.witnessing.answers.len() < MAX_WAITING => {
                self.witnessing
                    .answers
                    .push_back((asked.note, sizes, answer));
            }
            None => {}
        }
    }

    fn judge_proof(
        &mut self,
        permit: OwnedSemaphorePermit,
        note: Vec<u8>,
        sizes: (u64, u64),
        answer: Answer,
    ) {
        let witness = self.witness.clone();
        self.witness_worker.run(permit, move || Done::Proved {
            outcome: witness.proved(&note, sizes, answer, chrono::Utc::now()),
        });
    }
}
