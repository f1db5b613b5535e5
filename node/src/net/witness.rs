//! The witness on the network: checkpoints gossiped are judged by [`Witness`] off the swarm task;
//! what it asks for (a consistency proof of the log's node) is asked here, over the sync
//! protocol, and what it cosigns is gossiped back to the consortium and the log.

use libp2p::PeerId;
use libp2p::gossipsub::MessageId;
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

impl SwarmTask {
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
            } => self.publish(Topic::Checkpoints, cosigned),
            Outcome::Prove { peer, old, new } => {
                let Ok(log) = peer.parse::<PeerId>() else {
                    return;
                };
                if self.proofs.len() >= MAX_PROOFS_IN_FLIGHT || note.is_empty() {
                    debug!(%log, "too many consistency proofs asked: the next checkpoint will do");
                    return;
                }
                let request = SyncRequest::Consistency { old, new };
                let id = self.swarm.behaviour_mut().sync.send_request(&log, request);
                self.proofs.insert(id, note);
            }
            Outcome::Stored { publish: None }
            | Outcome::Known
            | Outcome::Fork
            | Outcome::Misbehaved(_)
            | Outcome::Unjudged => {}
        }
    }

    /// The log's node answered a request for a consistency proof: judged off the swarm task.
    pub(super) fn proof_received(&mut self, note: Vec<u8>, response: SyncResponse) {
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
            other => {
                debug!(response = ?other, "no consistency proof: the next checkpoint will do");
                return;
            }
        };
        let Some(permit) = self.worker.reserve() else {
            return;
        };
        let witness = self.witness.clone();
        self.worker.run(permit, move || Done::Proved {
            outcome: witness.proved(&note, answer, chrono::Utc::now()),
        });
    }
}
