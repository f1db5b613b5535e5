//! The bounded worker: everything a peer's message costs in CPU or disk (verifying gossip,
//! judging a page of items, reconciling a set, reading items to serve) runs off the swarm task,
//! in blocking threads, at most [`MAX_JOBS`] at once. The swarm task only routes: it reserves a
//! permit before it takes work on, and what it cannot take now it declines (gossip is left to
//! anti-entropy, a peer's request is answered `Busy`, a session of ours waits for the next tick).
//! Each job reports back once, over a channel the swarm task drains. The witness has a sibling
//! worker of its own (`Worker::sibling`, 2 jobs): a burst of checkpoints never takes the room
//! that revocations and status lists are judged in.

use std::sync::Arc;

use libp2p::PeerId;
use libp2p::gossipsub::MessageId;
use libp2p::request_response::ResponseChannel;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use vouch_core::sync::{Collection, ItemId, SyncResponse};

use super::snapshot::Snapshot;
use crate::fault::{Judgement, PeerMisbehaved};
use crate::witness::Outcome;

/// The most jobs running at once.
pub(super) const MAX_JOBS: usize = 8;

/// What a job reports.
pub(super) enum Done {
    /// A gossip message, judged.
    Gossip {
        peer: PeerId,
        message_id: MessageId,
        judgement: Judgement,
    },
    /// A checkpoint gossiped, judged by the witness.
    Checkpoint {
        peer: PeerId,
        message_id: MessageId,
        note: Vec<u8>,
        outcome: Outcome,
    },
    /// A checkpoint judged again with the consistency proof its log gave.
    Proved { outcome: Outcome },
    /// A page of fetched items, judged (and stored in one batch).
    Page {
        peer: PeerId,
        collection: Collection,
        judgements: Vec<Judgement>,
    },
    /// A session's first reconciliation message.
    Initiated {
        peer: PeerId,
        collection: Collection,
        result: Result<(Snapshot, Vec<u8>), String>,
    },
    /// A round of a session: the next message (none when done) and the ids this node lacks.
    Reconciled {
        peer: PeerId,
        collection: Collection,
        result: Result<(Option<Vec<u8>>, Vec<ItemId>), PeerMisbehaved>,
    },
    /// An answer to a peer's request, and whether the request was the peer's fault.
    Answer {
        peer: PeerId,
        channel: ResponseChannel<SyncResponse>,
        response: SyncResponse,
        misbehaved: Option<PeerMisbehaved>,
    },
}

/// Runs jobs off the swarm task.
pub(super) struct Worker {
    permits: Arc<Semaphore>,
    done: mpsc::Sender<Done>,
}

impl Worker {
    /// A worker, and the receiver of what its jobs report. At most [`MAX_JOBS`] reports wait:
    /// a job whose report finds them waiting holds its permit until there is room, so no new
    /// job starts while the swarm task is behind.
    pub(super) fn new() -> (Self, mpsc::Receiver<Done>) {
        let (done, reports) = mpsc::channel(MAX_JOBS);
        (
            Self {
                permits: Arc::new(Semaphore::new(MAX_JOBS)),
                done,
            },
            reports,
        )
    }

    /// Another worker of `jobs` permits, reporting on the same channel: for work that must not
    /// take this one's room.
    pub(super) fn sibling(&self, jobs: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(jobs)),
            done: self.done.clone(),
        }
    }

    /// A permit for one job, if the worker has room now.
    pub(super) fn reserve(&self) -> Option<OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_owned().ok()
    }

    /// Runs a job in a blocking thread, holding its permit until it reports.
    pub(super) fn run(
        &self,
        permit: OwnedSemaphorePermit,
        job: impl FnOnce() -> Done + Send + 'static,
    ) {
        let done = self.done.clone();
        tokio::task::spawn_blocking(move || {
            let report = job();
            // The swarm task stopped: nobody is waiting.
            let _ = done.blocking_send(report);
            drop(permit);
        });
    }
}
