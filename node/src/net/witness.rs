//! The witness on the network: checkpoints gossiped are judged by [`Witness`] off the swarm task;
//! what it asks for (a consistency proof of the log's node) is asked here, over the sync
//! protocol, and what it cosigns is gossiped back to the consortium and the log.

use std::collections::{HashMap, VecDeque};

use libp2p::PeerId;
use libp2p::gossipsub::MessageId;
use libp2p::request_response::OutboundRequestId;
use tokio::sync::OwnedSemaphorePermit;
use tracing::debug;
use vouch_core::audit::Hash;
use vouch_core::sync::{SyncRequest, SyncResponse};

use super::SwarmTask;
use super::gossip::Topic;
use super::worker::Done;
use crate::fault::PeerMisbehaved;
use crate::witness::{Answer, MAX_PROOFS_IN_FLIGHT, Outcome};

/// The most hashes in a consistency proof: twice the height of a tree of 2^64 leaves.
const MAX_PROOF_HASHES: usize = 128;
/// The witness's own jobs at once.
pub(super) const JOBS: usize = 2;
/// The most gossiped checkpoints, and answered proofs, waiting for a worker.
pub(super) const MAX_WAITING: usize = 1024;
/// How many times a proof is asked of a busy or unreachable log's node.
const TRIES: u8 = 3;

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
    /// Gossiped checkpoints waiting for a worker: sender, message id, note.
    pub(super) checkpoints: VecDeque<(PeerId, MessageId, Vec<u8>)>,
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
        note: Vec<u8>,
    ) {
        let witness = self.witness.clone();
        self.witness_worker.run(permit, move || {
            let outcome = witness.receive(&note, chrono::Utc::now());
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
        while !self.witnessing.checkpoints.is_empty() || !self.witnessing.answers.is_empty() {
            let Some(permit) = self.witness_worker.reserve() else {
                return;
            };
            if let Some((peer, message_id, note)) = self.witnessing.checkpoints.pop_front() {
                self.judge_checkpoint(permit, peer, message_id, note);
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
            Outcome::Stored {
                publish: Some(cosigned),
            }
            | Outcome::Relay {
                publish: Some(cosigned),
            } => self.publish(Topic::Checkpoints, cosigned),
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
            Outcome::Stored { publish: None }
            | Outcome::Relay { publish: None }
            | Outcome::Known
            | Outcome::Fork
            | Outcome::Misbehaved(_)
            | Outcome::Unjudged => {}
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
