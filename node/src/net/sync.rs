//! Anti-entropy (`/vouch/sync/2.0.0`): range-based set reconciliation with negentropy, one
//! session per peer and collection, started when a member connects, on every tick of the sync
//! interval, and at once when a gossip message shows this node is behind its sender.
//!
//! A session: this node (the initiator) sends a negentropy message over the ids of its
//! collection; rounds go back and forth (each message at most [`MAX_RECONCILE_BYTES`]) until the
//! initiator knows which ids it lacks; it then fetches them a page at a time, each page's items
//! checked against the ids asked for, judged off the swarm task and stored in one batch. Per
//! peer, at most one session per collection and one request per session is in flight; a session
//! has at most [`MAX_ROUNDS`] rounds, learns at most [`MAX_NEED`] ids, and ends after
//! [`SESSION_TIMEOUT`]; what it leaves, the next session finds. Pages are served from the store
//! as verified when stored: nothing is verified again to serve a peer.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libp2p::PeerId;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use negentropy::{Id, Negentropy, NegentropyStorageVector};
use tracing::{debug, warn};
use vouch_core::sync::{
    Collection, ItemId, MAX_RECONCILE_BYTES, SyncRequest, SyncResponse, item_id, join_ids,
    split_ids,
};

use super::SwarmTask;
use super::snapshot::Snapshot;
use super::worker::Done;
use crate::audit::AuditLog;
use crate::consortium::Amendments;
use crate::fault::{Judgement, PeerMisbehaved};
use crate::issuer::Events;
use crate::registry::Registry;
use crate::status_lists::StatusLists;
use vouch_core::lock::MutexExt as _;

/// The anti-entropy protocol.
pub const SYNC_PROTOCOL: &str = "/vouch/sync/2.0.0";
/// The largest request: a reconciliation message, or a page of ids.
pub(super) const MAX_SYNC_REQUEST_BYTES: u64 = 2 * MAX_RECONCILE_BYTES as u64;
/// The largest response: a page of items (256 operations of at most 32 KiB, or 32 status lists
/// of at most 256 KiB).
pub(super) const MAX_SYNC_RESPONSE_BYTES: u64 = 9 * 1024 * 1024;
/// The most rounds of one session.
pub(super) const MAX_ROUNDS: u32 = 64;
/// The most ids one session fetches.
pub(super) const MAX_NEED: usize = 1 << 16;
/// How long a session may last.
pub(super) const SESSION_TIMEOUT: Duration = Duration::from_secs(120);

/// Where the items of each collection come from, and the newest snapshot of each.
#[derive(Debug, Clone)]
pub(super) struct Sources {
    registry: Registry,
    status_lists: StatusLists,
    amendments: Amendments,
    events: Events,
    audit: AuditLog,
    snapshots: Arc<Mutex<HashMap<Collection, (u64, Snapshot)>>>,
}

impl Sources {
    pub(super) fn new(
        registry: Registry,
        status_lists: StatusLists,
        amendments: Amendments,
        events: Events,
        audit: AuditLog,
    ) -> Self {
        Self {
            registry,
            status_lists,
            amendments,
            events,
            audit,
            snapshots: Arc::default(),
        }
    }

    /// The revocation events held.
    pub(super) fn events(&self) -> Events {
        self.events.clone()
    }

    /// The ids of a collection now: the cached snapshot, unless the set changed since.
    /// Blocking.
    fn snapshot(&self, collection: Collection) -> Result<Snapshot, String> {
        let generation = self.registry.sync_generation(collection);
        if let Some((at, snapshot)) = self.snapshots.locked().get(&collection)
            && *at == generation
        {
            return Ok(snapshot.clone());
        }
        let items = match collection {
            Collection::DidOperations => self.registry.sync_items().map_err(|e| e.to_string()),
            Collection::StatusLists => self.status_lists.sync_items().map_err(|e| e.to_string()),
            Collection::Amendments => self.amendments.sync_items().map_err(|e| e.to_string()),
            Collection::RevocationEvents => self.events.sync_items().map_err(|e| e.to_string()),
        }?;
        let mut storage = NegentropyStorageVector::with_capacity(items.len());
        for (timestamp, id) in items {
            storage
                .insert(timestamp, Id::from_byte_array(id))
                .map_err(|e| e.to_string())?;
        }
        storage.seal().map_err(|e| e.to_string())?;
        let snapshot = Snapshot(Arc::new(storage));
        self.snapshots
            .locked()
            .insert(collection, (generation, snapshot.clone()));
        Ok(snapshot)
    }

    /// Items by id, as stored. Blocking.
    fn fetch(&self, collection: Collection, ids: &[ItemId]) -> Result<Vec<Vec<u8>>, String> {
        match collection {
            Collection::DidOperations => self.registry.fetch(ids).map_err(|e| e.to_string()),
            Collection::StatusLists => self.status_lists.fetch(ids).map_err(|e| e.to_string()),
            Collection::Amendments => self.amendments.fetch(ids).map_err(|e| e.to_string()),
            Collection::RevocationEvents => self.events.fetch(ids).map_err(|e| e.to_string()),
        }
    }

    /// Judges a page of items; stores the good ones in one batch. Blocking.
    fn judge(&self, collection: Collection, items: &[String]) -> Vec<Judgement> {
        let items: Vec<&[u8]> = items.iter().map(|i| i.as_bytes()).collect();
        let now = chrono::Utc::now();
        match collection {
            Collection::DidOperations => self.registry.receive_all(&items, now),
            Collection::StatusLists => self.status_lists.receive_all(&items, now),
            Collection::Amendments => self.amendments.receive_all(&items),
            Collection::RevocationEvents => self.events.receive_all(&items, now),
        }
    }
}

/// The frame size limit given to negentropy.
const FRAME: u64 = MAX_RECONCILE_BYTES as u64;

/// The first message of a session over `snapshot`.
fn initiate(snapshot: Snapshot) -> Result<(Snapshot, Vec<u8>), String> {
    let mut negentropy = Negentropy::owned(snapshot.clone(), FRAME).map_err(|e| e.to_string())?;
    let message = negentropy.initiate().map_err(|e| e.to_string())?;
    Ok((snapshot, message))
}

/// The responder's answer to a peer's message.
fn respond(snapshot: Snapshot, message: &[u8]) -> Result<Vec<u8>, PeerMisbehaved> {
    let mut negentropy =
        Negentropy::owned(snapshot, FRAME).map_err(|e| PeerMisbehaved::Malformed(e.to_string()))?;
    negentropy
        .reconcile(message)
        .map_err(|e| PeerMisbehaved::Malformed(format!("reconciliation: {e}")))
}

/// The initiator's next message, and the ids it lacks.
fn next_round(
    snapshot: Snapshot,
    message: &[u8],
) -> Result<(Option<Vec<u8>>, Vec<ItemId>), PeerMisbehaved> {
    let mut negentropy =
        Negentropy::owned(snapshot, FRAME).map_err(|e| PeerMisbehaved::Malformed(e.to_string()))?;
    negentropy.set_initiator();
    let (mut have, mut need) = (Vec::new(), Vec::new());
    let next = negentropy
        .reconcile_with_ids(message, &mut have, &mut need)
        .map_err(|e| PeerMisbehaved::Malformed(format!("reconciliation: {e}")))?;
    Ok((next, need.into_iter().map(|id| id.to_bytes()).collect()))
}

/// Where a session stands.
#[derive(Debug)]
enum Stage {
    /// Its first message is being computed.
    Starting,
    /// A reconciliation message is in flight.
    Reconciling,
    /// The answer to a round is being computed.
    Rounding,
    /// A fetch of these ids is in flight.
    Fetching(Vec<ItemId>),
    /// A fetched page is being judged.
    Judging,
}

#[derive(Debug)]
struct Session {
    stage: Stage,
    started: Instant,
    snapshot: Option<Snapshot>,
    rounds: u32,
    /// Ids this node lacks, still to fetch.
    need: Vec<ItemId>,
}

/// The sessions this node runs, and its requests in flight.
#[derive(Debug, Default)]
pub(super) struct Sessions {
    sessions: HashMap<(PeerId, Collection), Session>,
    requests: HashMap<OutboundRequestId, (PeerId, Collection)>,
    /// The ids some session is fetching, and from whom: what several peers lack in common is
    /// fetched once, from one of them.
    claimed: HashMap<(Collection, ItemId), PeerId>,
    /// Sessions that could not start for want of a worker, in order: at most one per peer and
    /// collection.
    waiting: VecDeque<(PeerId, Collection)>,
    /// Sessions to start again as soon as the one running ends: something new was announced
    /// after it took its snapshot.
    again: HashSet<(PeerId, Collection)>,
}

impl Sessions {
    /// Ends a session, releasing the ids it had claimed.
    fn remove(&mut self, peer: PeerId, collection: Collection) -> Option<Session> {
        self.claimed
            .retain(|(c, _), owner| !(*c == collection && *owner == peer));
        self.sessions.remove(&(peer, collection))
    }
}

impl SwarmTask {
    /// Starts a session with `peer` for every collection that has none.
    pub(super) fn reconcile(&mut self, peer: PeerId) {
        for collection in Collection::ALL {
            self.start_session(peer, collection);
        }
    }

    /// Reconciles a collection with a peer as soon as possible: now, or, if a session with it
    /// is running (its snapshot may be older than what is missing), again right after it.
    pub(super) fn resync(&mut self, peer: PeerId, collection: Collection) {
        if self.sync.sessions.contains_key(&(peer, collection)) {
            self.sync.again.insert((peer, collection));
        } else {
            self.start_session(peer, collection);
        }
    }

    pub(super) fn start_session(&mut self, peer: PeerId, collection: Collection) {
        if !self.connected.contains(&peer) || self.sync.sessions.contains_key(&(peer, collection)) {
            return;
        }
        // No room now: it starts as soon as a job ends.
        let Some(permit) = self.worker.reserve() else {
            if !self.sync.waiting.contains(&(peer, collection)) {
                self.sync.waiting.push_back((peer, collection));
            }
            return;
        };
        self.sync.sessions.insert(
            (peer, collection),
            Session {
                stage: Stage::Starting,
                started: Instant::now(),
                snapshot: None,
                rounds: 0,
                need: Vec::new(),
            },
        );
        let sources = self.sources.clone();
        self.worker.run(permit, move || Done::Initiated {
            peer,
            collection,
            result: sources.snapshot(collection).and_then(initiate),
        });
    }

    /// Starts the sessions that waited for a worker, while there is room.
    pub(super) fn start_waiting(&mut self) {
        self.witness_waiting();
        self.gossip_waiting();
        while let Some((peer, collection)) = self.sync.waiting.pop_front() {
            self.start_session(peer, collection);
            if self.sync.waiting.back() == Some(&(peer, collection)) {
                // Still no room.
                break;
            }
        }
    }

    /// Ends the sessions that took too long (a job that never reported, a peer that stalls).
    pub(super) fn expire_sessions(&mut self) {
        let now = Instant::now();
        let expired: Vec<(PeerId, Collection)> = self
            .sync
            .sessions
            .iter()
            .filter(|(_, s)| now.duration_since(s.started) >= SESSION_TIMEOUT)
            .map(|(key, _)| *key)
            .collect();
        for (peer, collection) in expired {
            self.sync.remove(peer, collection);
        }
        let sessions = &self.sync.sessions;
        self.sync
            .requests
            .retain(|_, key| sessions.contains_key(key));
    }

    /// Ends every session with a peer that is gone.
    pub(super) fn end_sessions(&mut self, peer: PeerId) {
        for collection in Collection::ALL {
            self.sync.remove(peer, collection);
        }
        self.sync.waiting.retain(|(p, _)| *p != peer);
        self.sync.again.retain(|(p, _)| *p != peer);
        self.sync.requests.retain(|_, (p, _)| *p != peer);
    }

    fn end_session(&mut self, peer: PeerId, collection: Collection) {
        if let Some(session) = self.sync.remove(peer, collection) {
            self.metrics.sync_sessions.inc();
            debug!(%peer, collection = collection.name(), rounds = session.rounds, "sync session ended");
        }
        if self.sync.again.remove(&(peer, collection)) {
            self.start_session(peer, collection);
        }
    }

    fn send(&mut self, peer: PeerId, collection: Collection, request: SyncRequest) {
        self.metrics.sync_bytes_sent.inc_by(request_bytes(&request));
        let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
        self.sync.requests.insert(id, (peer, collection));
    }

    /// What a job of the sync reported.
    pub(super) fn sync_done(&mut self, done: Done) {
        match done {
            Done::Initiated {
                peer,
                collection,
                result,
            } => {
                let Some(session) = self.sync.sessions.get_mut(&(peer, collection)) else {
                    return;
                };
                match result {
                    Ok((snapshot, message)) => {
                        session.snapshot = Some(snapshot);
                        self.round(peer, collection, message);
                    }
                    Err(error) => {
                        warn!(%error, "could not start a sync session");
                        self.sync.remove(peer, collection);
                    }
                }
            }
            Done::Reconciled {
                peer,
                collection,
                result,
            } => match result {
                Err(misbehaved) => {
                    self.sync.remove(peer, collection);
                    self.follow(peer, misbehaved.into());
                }
                Ok((next, need)) => {
                    let Some(session) = self.sync.sessions.get_mut(&(peer, collection)) else {
                        return;
                    };
                    session.rounds += 1;
                    let room = MAX_NEED.saturating_sub(session.need.len());
                    let claimed = &mut self.sync.claimed;
                    session.need.extend(
                        need.into_iter()
                            .filter(|id| match claimed.entry((collection, *id)) {
                                std::collections::hash_map::Entry::Occupied(_) => false,
                                std::collections::hash_map::Entry::Vacant(free) => {
                                    free.insert(peer);
                                    true
                                }
                            })
                            .take(room),
                    );
                    match next {
                        Some(message) if session.rounds < MAX_ROUNDS && room > 0 => {
                            self.round(peer, collection, message);
                        }
                        _ => self.fetch_next(peer, collection),
                    }
                }
            },
            Done::Page {
                peer,
                collection,
                judgements,
            } => {
                let accepted = judgements
                    .iter()
                    .filter(|j| **j == Judgement::Accepted)
                    .count();
                self.metrics.sync_items_stored.inc_by(accepted as u64);
                let behind = judgements.contains(&Judgement::Behind);
                if let Some(misbehaved) = judgements.into_iter().find_map(|j| match j {
                    Judgement::Misbehaved(m) => Some(m),
                    _ => None,
                }) {
                    self.sync.remove(peer, collection);
                    self.follow(peer, misbehaved.into());
                    return;
                }
                self.fetch_next(peer, collection);
                // Some items build on what this node lacks (a list signed with a key of a DID
                // version not held yet): reconcile the other collections now, and this one again
                // shortly, once they have brought it.
                if behind {
                    self.reconcile(peer);
                    if !self.sync.sessions.contains_key(&(peer, collection))
                        && !self.sync.waiting.contains(&(peer, collection))
                    {
                        self.sync.waiting.push_back((peer, collection));
                    }
                }
            }
            Done::Answer {
                peer,
                channel,
                response,
                misbehaved,
            } => {
                self.metrics
                    .sync_bytes_sent
                    .inc_by(response_bytes(&response));
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_response(channel, response);
                if let Some(misbehaved) = misbehaved {
                    self.follow(peer, misbehaved.into());
                }
            }
            Done::Gossip { .. } | Done::Checkpoint { .. } | Done::Proved { .. } => {
                unreachable!("gossip reports go to the gossip handler")
            }
        }
    }

    /// Sends a session's next reconciliation message.
    fn round(&mut self, peer: PeerId, collection: Collection, message: Vec<u8>) {
        if let Some(session) = self.sync.sessions.get_mut(&(peer, collection)) {
            session.stage = Stage::Reconciling;
        }
        let request = SyncRequest::Reconcile {
            collection,
            message,
        };
        self.send(peer, collection, request);
    }

    /// Fetches the next page a session lacks, or ends it.
    fn fetch_next(&mut self, peer: PeerId, collection: Collection) {
        let Some(session) = self.sync.sessions.get_mut(&(peer, collection)) else {
            return;
        };
        if session.need.is_empty() {
            self.end_session(peer, collection);
            return;
        }
        let take = session.need.len().min(collection.page());
        let page: Vec<ItemId> = session.need.drain(..take).collect();
        let ids = join_ids(&page);
        session.stage = Stage::Fetching(page);
        self.send(peer, collection, SyncRequest::Fetch { collection, ids });
    }

    /// A request of the sync protocol from a member.
    pub(super) fn sync_request(
        &mut self,
        peer: PeerId,
        request: SyncRequest,
        channel: ResponseChannel<SyncResponse>,
    ) {
        self.metrics
            .sync_bytes_received
            .inc_by(request_bytes(&request));
        if matches!(
            request,
            SyncRequest::Consistency { .. } | SyncRequest::Cosignature { .. }
        ) {
            self.witness_request(peer, request, channel);
            return;
        }
        let Some(permit) = self.worker.reserve() else {
            let _ = self
                .swarm
                .behaviour_mut()
                .sync
                .send_response(channel, SyncResponse::Busy);
            return;
        };
        let sources = self.sources.clone();
        self.worker.run(permit, move || {
            let (response, misbehaved) = answer(&sources, request);
            Done::Answer {
                peer,
                channel,
                response,
                misbehaved,
            }
        });
    }

    /// A response to a request of a session.
    pub(super) fn sync_response(
        &mut self,
        peer: PeerId,
        request_id: OutboundRequestId,
        response: SyncResponse,
    ) {
        self.metrics
            .sync_bytes_received
            .inc_by(response_bytes(&response));
        if let Some(asked) = self.witnessing.asked.remove(&request_id) {
            self.proof_received(asked, response);
            return;
        }
        if self.witnessing.sent.remove(&request_id) {
            self.cosignature_answered(peer, response);
            return;
        }
        let Some((_, collection)) = self.sync.requests.remove(&request_id) else {
            return;
        };
        let key = (peer, collection);
        let Some((stage, snapshot)) = self.sync.sessions.get_mut(&key).map(|session| {
            (
                std::mem::replace(&mut session.stage, Stage::Rounding),
                session.snapshot.clone(),
            )
        }) else {
            return;
        };
        match (stage, response) {
            (Stage::Reconciling, SyncResponse::Reconcile(message)) => {
                let Some(snapshot) = snapshot else {
                    self.sync.remove(peer, collection);
                    return;
                };
                let Some(permit) = self.worker.reserve() else {
                    self.sync.remove(peer, collection);
                    return;
                };
                self.worker.run(permit, move || Done::Reconciled {
                    peer,
                    collection,
                    result: next_round(snapshot, &message),
                });
            }
            (Stage::Fetching(requested), SyncResponse::Items(items)) => {
                if let Err(misbehaved) = check_page(&requested, &items) {
                    self.sync.remove(peer, collection);
                    self.follow(peer, misbehaved.into());
                    return;
                }
                if let Some(session) = self.sync.sessions.get_mut(&key) {
                    session.stage = Stage::Judging;
                }
                let Some(permit) = self.worker.reserve() else {
                    self.sync.remove(peer, collection);
                    return;
                };
                let sources = self.sources.clone();
                self.worker.run(permit, move || Done::Page {
                    peer,
                    collection,
                    judgements: sources.judge(collection, &items),
                });
            }
            (_, SyncResponse::Busy) => {
                debug!(%peer, "busy: syncing again shortly");
                self.sync.remove(peer, collection);
                if !self.sync.waiting.contains(&(peer, collection)) {
                    self.sync.waiting.push_back((peer, collection));
                }
            }
            (_, SyncResponse::Refused(reason)) => {
                debug!(%peer, reason, "sync refused");
                self.sync.remove(peer, collection);
            }
            (_, _) => {
                self.sync.remove(peer, collection);
                self.follow(
                    peer,
                    PeerMisbehaved::Unsolicited("a sync response of the wrong kind").into(),
                );
            }
        }
    }

    /// A request of a session that failed (timeout, connection closed).
    pub(super) fn sync_failed(&mut self, request_id: OutboundRequestId) {
        if let Some(asked) = self.witnessing.asked.remove(&request_id) {
            // Not evidence: the log's node may be away.
            self.proof_failed(asked);
            return;
        }
        if self.witnessing.sent.remove(&request_id) {
            // The log's node will show it lacks the cosignature: it is sent again then.
            return;
        }
        if let Some((peer, collection)) = self.sync.requests.remove(&request_id) {
            self.sync.remove(peer, collection);
        }
    }
}

/// Answers a peer's request, and says whether the request was its fault. Blocking.
pub(super) fn answer(
    sources: &Sources,
    request: SyncRequest,
) -> (SyncResponse, Option<PeerMisbehaved>) {
    let refuse = |misbehaved: PeerMisbehaved| {
        (
            SyncResponse::Refused(misbehaved.to_string()),
            Some(misbehaved),
        )
    };
    let internal = |error: String| {
        warn!(%error, "could not answer a sync request");
        (SyncResponse::Refused("internal error".into()), None)
    };
    match request {
        SyncRequest::Reconcile {
            collection,
            message,
        } => {
            if message.len() > MAX_RECONCILE_BYTES {
                return refuse(PeerMisbehaved::TooLarge {
                    bytes: message.len(),
                    limit: MAX_RECONCILE_BYTES,
                });
            }
            let snapshot = match sources.snapshot(collection) {
                Ok(snapshot) => snapshot,
                Err(error) => return internal(error),
            };
            match respond(snapshot, &message) {
                Ok(message) => (SyncResponse::Reconcile(message), None),
                Err(misbehaved) => refuse(misbehaved),
            }
        }
        SyncRequest::Fetch { collection, ids } => {
            let Some(ids) = split_ids(&ids, collection.page()) else {
                return refuse(PeerMisbehaved::Malformed(format!(
                    "a fetch is 1 to {} whole ids",
                    collection.page()
                )));
            };
            match sources.fetch(collection, &ids) {
                Ok(items) => (
                    SyncResponse::Items(
                        items
                            .into_iter()
                            .filter_map(|item| String::from_utf8(item).ok())
                            .collect(),
                    ),
                    None,
                ),
                Err(error) => internal(error),
            }
        }
        SyncRequest::Consistency { old, new } => {
            if old == 0 || old > new {
                return refuse(PeerMisbehaved::Malformed(format!(
                    "no consistency proof from {old} entries to {new}"
                )));
            }
            match sources.audit.size() {
                Ok(size) if size < new => (SyncResponse::Lacks(size), None),
                Ok(_) => match sources.audit.prove_consistency(old, new) {
                    Ok(proof) => (
                        SyncResponse::Consistency(proof.iter().flat_map(|h| h.0).collect()),
                        None,
                    ),
                    Err(error) => internal(error.to_string()),
                },
                Err(error) => internal(error.to_string()),
            }
        }
        // The witness's to judge (`SwarmTask::witness_request`).
        SyncRequest::Cosignature { .. } => internal("a cosignature reached the sync worker".into()),
    }
}

/// A page answers the fetch it was asked for: only items asked for, each once.
fn check_page(requested: &[ItemId], items: &[String]) -> Result<(), PeerMisbehaved> {
    let requested: HashSet<&ItemId> = requested.iter().collect();
    let mut seen = HashSet::with_capacity(items.len());
    for item in items {
        let id = item_id(item.as_bytes());
        if !requested.contains(&id) || !seen.insert(id) {
            return Err(PeerMisbehaved::Unsolicited(
                "an item that was not asked for",
            ));
        }
    }
    Ok(())
}

/// The payload bytes of a request (what anti-entropy costs, framing aside).
fn request_bytes(request: &SyncRequest) -> u64 {
    match request {
        SyncRequest::Reconcile { message, .. } => message.len() as u64,
        SyncRequest::Fetch { ids, .. } => ids.len() as u64,
        SyncRequest::Consistency { .. } => 16,
        SyncRequest::Cosignature { note } => note.len() as u64,
    }
}

/// The payload bytes of a response.
fn response_bytes(response: &SyncResponse) -> u64 {
    match response {
        SyncResponse::Reconcile(message) => message.len() as u64,
        SyncResponse::Items(items) => items.iter().map(|i| i.len() as u64).sum(),
        SyncResponse::Consistency(proof) => proof.len() as u64,
        SyncResponse::Lacks(_) => 8,
        SyncResponse::Busy | SyncResponse::Gathered => 0,
        SyncResponse::Refused(reason) => reason.len() as u64,
    }
}

/// The sync protocol's request-response behaviour.
pub(super) fn behaviour() -> request_response::cbor::Behaviour<SyncRequest, SyncResponse> {
    let codec = request_response::cbor::codec::Codec::default()
        .set_request_size_maximum(MAX_SYNC_REQUEST_BYTES)
        .set_response_size_maximum(MAX_SYNC_RESPONSE_BYTES);
    request_response::Behaviour::with_codec(
        codec,
        [(
            libp2p::StreamProtocol::new(SYNC_PROTOCOL),
            request_response::ProtocolSupport::Full,
        )],
        request_response::Config::default()
            .with_request_timeout(Duration::from_secs(30))
            .with_max_concurrent_streams(16),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(items: &[(u64, u8)]) -> Snapshot {
        let mut storage = NegentropyStorageVector::new();
        for (timestamp, id) in items {
            storage
                .insert(*timestamp, Id::from_byte_array([*id; 32]))
                .unwrap();
        }
        storage.seal().unwrap();
        Snapshot(Arc::new(storage))
    }

    /// Runs a whole session between two snapshots; returns what the initiator lacks.
    fn session(ours: Snapshot, theirs: Snapshot) -> Vec<ItemId> {
        let (_, mut message) = initiate(ours.clone()).unwrap();
        let mut need = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let answer = respond(theirs.clone(), &message).unwrap();
            let (next, lacking) = next_round(ours.clone(), &answer).unwrap();
            need.extend(lacking);
            match next {
                Some(next) => message = next,
                None => return need,
            }
        }
        panic!("no end in {MAX_ROUNDS} rounds");
    }

    #[test]
    fn a_session_finds_exactly_what_this_node_lacks() {
        let ours = snapshot(&[(1, 1), (2, 2), (3, 3)]);
        let theirs = snapshot(&[(1, 1), (3, 3), (4, 4), (5, 5)]);
        let mut need = session(ours, theirs);
        need.sort();
        assert_eq!(need, vec![[4; 32], [5; 32]]);

        // Thousands of items, a few apart: found in a few rounds of bounded messages.
        let many: Vec<(u64, u8)> = (0..5000u64).map(|i| (i, (i % 251) as u8)).collect();
        let mut big = NegentropyStorageVector::new();
        let mut bigger = NegentropyStorageVector::new();
        for (i, _) in &many {
            let mut id = [0u8; 32];
            id[..8].copy_from_slice(&i.to_be_bytes());
            big.insert(*i, Id::from_byte_array(id)).unwrap();
            bigger.insert(*i, Id::from_byte_array(id)).unwrap();
        }
        for extra in [10_000u64, 10_001] {
            let mut id = [1u8; 32];
            id[..8].copy_from_slice(&extra.to_be_bytes());
            bigger.insert(extra, Id::from_byte_array(id)).unwrap();
        }
        big.seal().unwrap();
        bigger.seal().unwrap();
        let need = session(Snapshot(Arc::new(big)), Snapshot(Arc::new(bigger)));
        assert_eq!(need.len(), 2);
    }

    #[test]
    fn garbage_reconciliation_messages_are_errors_not_panics() {
        let theirs = snapshot(&[(1, 1), (2, 2)]);
        for bytes in [
            &[][..],
            &[0x61],
            &[
                0x61, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
            &[0x61, 0x00, 0x20, 0x02, 0xff],
            &[0x10; 64],
        ] {
            let _ = respond(theirs.clone(), bytes);
            let _ = next_round(theirs.clone(), bytes);
        }
    }

    #[test]
    fn a_page_holds_only_what_was_asked_for_once() {
        let items = ["{\"a\":1}".to_owned(), "{\"b\":2}".to_owned()];
        let ids: Vec<ItemId> = items.iter().map(|i| item_id(i.as_bytes())).collect();
        assert!(check_page(&ids, &items).is_ok());
        assert!(check_page(&ids, &items[..1]).is_ok());
        assert!(check_page(&ids[..1], &items).is_err());
        assert!(check_page(&ids, &[items[0].clone(), items[0].clone()]).is_err());
    }
}
