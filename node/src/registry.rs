//! The DID registry: did:vouch operations from the admin API and from peers, verified and stored,
//! and resolution of did:vouch and did:key.
//!
//! All of it is blocking (it calls the store); async code calls it through `spawn_blocking`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use vouch_core::did::document::DidDocument;
use vouch_core::did::key as did_key;
use vouch_core::did::resolve::{DidKeyResolver, DidResolver, DocumentMetadata, ResolutionResult};
use vouch_core::did::{Did, ResolveError};
use vouch_core::did_vouch::{self, Applied, DidLog, LogError, Operation, VersionSelector};
use vouch_core::sync::{Collection, ItemId};

use crate::consortium::Members;
use crate::fault::{Judgement, PeerMisbehaved};
use crate::metrics::Metrics;
use crate::store::{Batch, Store, StoreError};
use vouch_core::lock::MutexExt as _;

use bytes::Bytes;
use chrono::{DateTime, Timelike, Utc};

/// Why an operation was not accepted, or a DID not resolved.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The operation is invalid: the sender's fault.
    #[error(transparent)]
    Invalid(#[from] LogError),
    /// The store failed: the node's fault.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The DID is a removed member's, and the operation was made after its removal.
    #[error("{did} was removed from the consortium; its later operations are refused")]
    Removed {
        /// The former member's DID.
        did: Did,
    },
    /// The operation is dated later than this node's clock allows: it would decide which version
    /// is in force at times that have not come yet.
    #[error(
        "the operation is dated {created}, more than {MAX_CLOCK_SKEW_SECS} s ahead of this node's clock"
    )]
    FromTheFuture {
        /// Its date.
        created: String,
    },
}

impl RegistryError {
    /// What an operation from a peer that failed so comes to.
    pub fn judgement(&self) -> Judgement {
        match self {
            // A gap is not misbehaviour: gossip can overtake; sync fills it.
            Self::Invalid(LogError::OutOfOrder { .. }) => Judgement::Behind,
            Self::Invalid(
                e @ (LogError::TooLarge(_)
                | LogError::TooManyOperations
                | LogError::Malformed(_)
                | LogError::AtLine { .. }),
            ) => PeerMisbehaved::Malformed(e.to_string()).into(),
            Self::Invalid(e) => PeerMisbehaved::InvalidOperation(e.to_string()).into(),
            Self::FromTheFuture { created } => {
                PeerMisbehaved::FromTheFuture(created.clone()).into()
            }
            // An honest peer may not have the amendment yet.
            Self::Removed { .. } => Judgement::Known,
            Self::Store(e) => {
                tracing::warn!(error = %e, "could not store an operation");
                Judgement::Unjudged
            }
        }
    }
}

/// How far ahead of the node's clock an operation may be dated.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// The DIDs this node holds.
#[derive(Debug, Clone)]
pub struct Registry {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    /// The consortium's membership: a removed member's later operations are refused.
    members: Members,
    /// Serializes read-verify-write of logs, so that two operations on one DID never both build
    /// on the same stored state and one is lost; and keeps the logs it verified last, so that an
    /// operation is checked against its predecessor without verifying the whole log again. Held
    /// only around blocking store calls, never across an `.await`.
    writer: Arc<Mutex<HashMap<Did, DidLog>>>,
    /// The latest resolutions served last: what the HTTP resolver answers from without touching
    /// the store.
    resolutions: Arc<Mutex<Resolutions>>,
}

/// A bounded cache of latest resolutions (did:vouch heads and did:key documents), least recently
/// used out first, kept true by the writer: a write of a DID drops its entry, and a reader that
/// read the store while a write was committed does not put what it read (the epoch moved).
#[derive(Debug)]
struct Resolutions {
    /// How many writes have been committed: an entry read from the store is kept only if none
    /// was committed while it was read.
    epoch: u64,
    latest: hashlink::LruCache<Did, Resolved>,
    /// Bytes of resolution results held.
    bytes: usize,
}

/// At most this many latest resolutions are kept for the HTTP resolver…
const CACHED_RESOLUTIONS: usize = 8192;
/// …and at most this many bytes of them.
const CACHED_RESOLUTION_BYTES: usize = 8 << 20;

impl Resolutions {
    fn new() -> Self {
        Self {
            epoch: 0,
            latest: hashlink::LruCache::new_unbounded(),
            bytes: 0,
        }
    }

    fn get(&mut self, did: &Did) -> Option<Resolved> {
        self.latest.get(did).cloned()
    }

    /// Keeps `resolved`, read from the store at `epoch`, unless a write was committed since.
    fn put(&mut self, epoch: u64, did: &Did, resolved: &Resolved) {
        if epoch != self.epoch || resolved.result.len() > CACHED_RESOLUTION_BYTES / 64 {
            return;
        }
        self.bytes += resolved.result.len();
        if let Some(old) = self.latest.insert(did.clone(), resolved.clone()) {
            self.bytes -= old.result.len();
        }
        while self.latest.len() > CACHED_RESOLUTIONS || self.bytes > CACHED_RESOLUTION_BYTES {
            let Some((_, evicted)) = self.latest.remove_lru() else {
                break;
            };
            self.bytes -= evicted.result.len();
        }
    }

    /// A write was committed for these DIDs.
    fn written(&mut self, dids: &[Did]) {
        self.epoch += 1;
        for did in dids {
            if let Some(old) = self.latest.remove(did) {
                self.bytes -= old.result.len();
            }
        }
    }
}

/// How many verified logs the writer keeps in memory.
const CACHED_LOGS: usize = 1024;

/// Where a DID stands at the version resolved: what the HTTP binding answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// It resolves to a document.
    Active,
    /// It resolves, deactivated (the document keeps only its `id`).
    Deactivated,
    /// Its log forked: it resolves to the `equivocation` error at every version.
    Equivocation,
}

/// A resolution the registry answers with: where the DID stands, and the DID Resolution result
/// as JSON (a failure's too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Where the DID stands.
    pub standing: Standing,
    /// The resolution result, JSON; shared, not copied, by the caches.
    pub result: Bytes,
}

/// A DID's latest resolution as the store keeps it, computed once whenever the DID changes so
/// that resolving the current version reads one value: `[format 1] [standing] [time of the last
/// operation: ms since the epoch, i64 big-endian] [resolution result JSON]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Head {
    resolved: Resolved,
    /// When the last operation held was made.
    updated: DateTime<Utc>,
}

/// The format of a stored head: 2 since resolution errors are problem objects and results say
/// `application/did`; a head of format 1 (or JSON, before it) is made again from its log.
const HEAD_FORMAT: u8 = 2;
const HEAD_HEADER: usize = 10;

impl Head {
    fn of(log: &DidLog) -> Self {
        let (standing, result) = match log.resolve(VersionSelector::Latest) {
            Ok(resolution) => {
                let standing = if resolution.metadata.deactivated {
                    Standing::Deactivated
                } else {
                    Standing::Active
                };
                (
                    standing,
                    ResolutionResult::found(resolution.document, resolution.metadata),
                )
            }
            // The only way the latest version fails to resolve.
            Err(error) => (Standing::Equivocation, ResolutionResult::failed(&error)),
        };
        Self {
            resolved: Resolved {
                standing,
                result: serde_json::to_vec(&result)
                    .expect("a resolution result always serializes")
                    .into(),
            },
            updated: log.head().created.time(),
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(HEAD_HEADER + self.resolved.result.len());
        bytes.push(HEAD_FORMAT);
        bytes.push(match self.resolved.standing {
            Standing::Active => 0,
            Standing::Deactivated => 1,
            Standing::Equivocation => 2,
        });
        bytes.extend_from_slice(&self.updated.timestamp_millis().to_be_bytes());
        bytes.extend_from_slice(&self.resolved.result);
        bytes
    }

    /// Reads a stored head; `None` for one written before heads had a format (the bare JSON of
    /// format 1 databases), which the caller computes again.
    fn decode(did: &Did, bytes: Vec<u8>) -> Result<Option<Self>, StoreError> {
        let corrupt = |reason: &str| StoreError::Corrupt {
            key: did.to_string(),
            reason: reason.to_owned(),
        };
        match bytes.first() {
            Some(b'{' | 1) => return Ok(None),
            Some(&HEAD_FORMAT) if bytes.len() > HEAD_HEADER => {}
            _ => return Err(corrupt("a DID head of an unknown format")),
        }
        let standing = match bytes[1] {
            0 => Standing::Active,
            1 => Standing::Deactivated,
            2 => Standing::Equivocation,
            _ => return Err(corrupt("a DID head with an unknown standing")),
        };
        let millis = i64::from_be_bytes(bytes[2..HEAD_HEADER].try_into().expect("8 bytes"));
        let updated = DateTime::from_timestamp_millis(millis)
            .ok_or_else(|| corrupt("a DID head with an impossible time"))?;
        Ok(Some(Self {
            resolved: Resolved {
                standing,
                result: Bytes::from(bytes).slice(HEAD_HEADER..),
            },
            updated,
        }))
    }
}

impl Registry {
    /// A registry over a store.
    pub fn new(store: Arc<Store>, metrics: Arc<Metrics>) -> Self {
        Self {
            store,
            metrics,
            members: Members::alone(),
            writer: Arc::new(Mutex::new(HashMap::new())),
            resolutions: Arc::new(Mutex::new(Resolutions::new())),
        }
    }

    /// The registry of a consortium member: removed members' later operations are refused.
    pub fn with_members(mut self, members: Members) -> Self {
        self.members = members;
        self
    }

    /// The node's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The node's metrics, shared.
    pub fn metrics_handle(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Verifies an operation against what the node holds of its DID and stores it. Returns the DID
    /// and what was done; a duplicate changes nothing. `now` is the node's clock.
    pub fn apply(
        &self,
        operation: Operation,
        now: DateTime<Utc>,
    ) -> Result<(Did, Applied), RegistryError> {
        self.apply_all(vec![operation], now)
            .pop()
            .expect("one result per operation")
    }

    /// Verifies operations one after the other, each against the logs as the ones before it left
    /// them, and stores every one that is new in one atomic batch. One result per operation, in
    /// the order given; if the batch cannot be written, nothing of it is stored and every new one
    /// fails.
    pub fn apply_all(
        &self,
        operations: Vec<Operation>,
        now: DateTime<Utc>,
    ) -> Vec<Result<(Did, Applied), RegistryError>> {
        let mut cache = self.writer.locked();
        let mut batch = Batch::default();
        let mut touched = Vec::new();
        let mut results: Vec<_> = operations
            .into_iter()
            .map(|operation| {
                let result = self.apply_one(&mut cache, &mut batch, operation, now);
                if let Ok((did, applied)) = &result
                    && applied.is_new()
                {
                    touched.push(did.clone());
                }
                result
            })
            .collect();
        if touched.is_empty() {
            return results;
        }
        let committed = self.store.commit(batch);
        // Whether or not it was written, what readers hold of these DIDs may be stale.
        self.resolutions().written(&touched);
        match committed {
            Ok(()) => {
                for _ in &touched {
                    self.metrics.record_stored();
                }
            }
            Err(error) => {
                // The cached logs hold what was not written: read them again next time.
                for did in &touched {
                    cache.remove(did);
                }
                let reason = error.to_string();
                for result in &mut results {
                    if matches!(result, Ok((_, applied)) if applied.is_new()) {
                        *result = Err(StoreError::Unwritten(reason.clone()).into());
                    }
                }
            }
        }
        results
    }

    /// Verifies one operation against the cached or stored log, and records it in `batch`.
    fn apply_one(
        &self,
        cache: &mut HashMap<Did, DidLog>,
        batch: &mut Batch,
        operation: Operation,
        now: DateTime<Utc>,
    ) -> Result<(Did, Applied), RegistryError> {
        if operation.created.time() > now + chrono::Duration::seconds(MAX_CLOCK_SKEW_SECS) {
            return Err(RegistryError::FromTheFuture {
                created: operation.created.to_string(),
            });
        }
        let did = match &operation.did {
            Some(did) => did.clone(),
            None => operation.genesis_did()?,
        };
        // Operations are dated to the second: one made in the second of the removal cannot be
        // told from one made after it, and is refused too.
        if self.members.removed_at(&did).is_some_and(|removed| {
            operation.created.time() >= removed.with_nanosecond(0).unwrap_or(removed)
        }) {
            return Err(RegistryError::Removed { did });
        }
        let held = match cache.remove(&did) {
            Some(log) => Some(log),
            None => self.store.did_log(&did)?,
        };
        let (log, applied) = match held {
            // An update of a DID not held yet: its genesis has not arrived.
            None if operation.did.is_some() => {
                return Err(LogError::OutOfOrder {
                    expected: 1,
                    found: operation.version,
                }
                .into());
            }
            None => (DidLog::new(operation.clone())?, Applied::Appended),
            Some(mut log) => match log.apply(operation.clone()) {
                Ok(applied) => (log, applied),
                // A refused operation leaves the log as it was: keep it, so that invalid input
                // never costs a full verification.
                Err(error) => {
                    cache.insert(did, log);
                    return Err(error.into());
                }
            },
        };
        if applied.is_new() {
            self.store
                .record(batch, &log, &operation, applied, &Head::of(&log).encode());
        }
        if cache.len() >= CACHED_LOGS
            && let Some(evicted) = cache.keys().find(|d| **d != did).cloned()
        {
            cache.remove(&evicted);
        }
        cache.insert(did.clone(), log);
        Ok((did, applied))
    }

    /// Judges an operation from a peer: verified against the log held and stored when new.
    pub fn receive(&self, data: &[u8], now: DateTime<Utc>) -> Judgement {
        self.receive_all(&[data], now)
            .pop()
            .expect("one judgement per operation")
    }

    /// Judges operations from a peer (a page of a sync), applied in version order per DID and
    /// stored in one batch. One judgement per item, in the order given.
    pub fn receive_all(&self, items: &[&[u8]], now: DateTime<Utc>) -> Vec<Judgement> {
        let mut judgements = vec![Judgement::Unjudged; items.len()];
        let mut parsed = Vec::with_capacity(items.len());
        for (at, data) in items.iter().enumerate() {
            match Operation::from_json(data) {
                Ok(operation) => parsed.push((at, operation)),
                Err(e) => judgements[at] = RegistryError::Invalid(e).judgement(),
            }
        }
        // A DID's operations before its later ones, whatever order they came in.
        parsed.sort_by(|(_, a), (_, b)| {
            let did = |op: &Operation| op.did.as_ref().map(|d| d.as_str().to_owned());
            (did(a), a.version).cmp(&(did(b), b.version))
        });
        let (places, operations): (Vec<usize>, Vec<Operation>) = parsed.into_iter().unzip();
        for (at, result) in places.into_iter().zip(self.apply_all(operations, now)) {
            judgements[at] = match result {
                Ok((_, Applied::Appended | Applied::Equivocation)) => Judgement::Accepted,
                // Evidence beyond the cap is the equivocator's doing, not the forwarder's.
                Ok((_, Applied::Duplicate | Applied::EvidenceFull)) => Judgement::Known,
                Err(e) => e.judgement(),
            };
        }
        judgements
    }

    /// How many times the set of a collection has changed: a cached view of it is stale when
    /// this moved.
    pub fn sync_generation(&self, collection: Collection) -> u64 {
        self.store.sync_generation(collection)
    }

    /// The DID operations held, for anti-entropy: `(timestamp, id)` in order.
    pub fn sync_items(&self) -> Result<Vec<(u64, ItemId)>, RegistryError> {
        Ok(self.store.sync_items(Collection::DidOperations)?)
    }

    /// Operations held, by id, as stored (verified before they were stored: nothing is verified
    /// again to serve them).
    pub fn fetch(&self, ids: &[ItemId]) -> Result<Vec<Vec<u8>>, RegistryError> {
        Ok(self.store.sync_fetch(Collection::DidOperations, ids)?)
    }

    /// When the latest version held of a did:vouch was made, if the DID is held: from the
    /// verified log when cached, else from its stored head. Cheap: no log is verified for it.
    pub fn latest_version_time(&self, did: &Did) -> Result<Option<DateTime<Utc>>, RegistryError> {
        {
            let cache = self.writer.locked();
            if let Some(log) = cache.get(did) {
                return Ok(Some(log.head().created.time()));
            }
        }
        Ok(self.head(did)?.map(|head| head.updated))
    }

    /// The stored head of a DID. One stored by an older node, without a format, is computed
    /// again from the verified log and stored in the current format.
    fn head(&self, did: &Did) -> Result<Option<Head>, RegistryError> {
        let Some(bytes) = self.store.did_head(did)? else {
            return Ok(None);
        };
        if let Some(head) = Head::decode(did, bytes)? {
            return Ok(Some(head));
        }
        let Some(log) = self.store.did_log(did)? else {
            return Ok(None);
        };
        let head = Head::of(&log);
        self.store.put_did_head(did, &head.encode())?;
        Ok(Some(head))
    }

    /// The documents of `did` that may have been in force at `time`, newest first: versions are
    /// dated to the second, so each version of `time`'s own second (made before it or after),
    /// then the newest of an earlier second. For what was signed then with a key since rotated
    /// away.
    pub fn documents_at(
        &self,
        did: &Did,
        time: DateTime<Utc>,
    ) -> Result<Vec<DidDocument>, RegistryError> {
        let Some(log) = self.log(did)? else {
            return Ok(Vec::new());
        };
        let second = time.with_nanosecond(0).unwrap_or(time);
        let (mut earlier, mut same) = (None, Vec::new());
        // Operations come in version order, their dates never going back.
        for op in log.operations() {
            let created = op.created.time();
            if created < second {
                earlier = Some(op.version);
            } else if created == second {
                same.push(op.version);
            }
        }
        Ok(same
            .into_iter()
            .rev()
            .chain(earlier)
            .filter_map(|version| log.resolve(VersionSelector::Id(version)).ok())
            .map(|then| then.document)
            .collect())
    }

    /// The verified log of a DID, if held.
    pub fn log(&self, did: &Did) -> Result<Option<DidLog>, RegistryError> {
        Ok(self.store.did_log(did)?)
    }

    /// Resolves a DID. The latest version of a did:vouch is read as stored; other versions are
    /// resolved from its verified log.
    pub fn resolve(
        &self,
        did: &Did,
        selector: VersionSelector,
    ) -> Result<Result<Resolved, ResolveError>, RegistryError> {
        if selector != VersionSelector::Latest {
            return self.resolve_from_store(did, selector);
        }
        let epoch = self.resolutions().epoch;
        let resolved = self.resolve_from_store(did, selector)?;
        if let Ok(resolved) = &resolved {
            self.resolutions().put(epoch, did, resolved);
        }
        Ok(resolved)
    }

    /// The latest resolution of `did` if it was served lately and nothing was written to it
    /// since: no store read, no blocking. `None` means ask [`Registry::resolve`].
    pub fn resolve_cached(&self, did: &Did) -> Option<Resolved> {
        self.resolutions().get(did)
    }

    fn resolutions(&self) -> std::sync::MutexGuard<'_, Resolutions> {
        self.resolutions.locked()
    }

    fn resolve_from_store(
        &self,
        did: &Did,
        selector: VersionSelector,
    ) -> Result<Result<Resolved, ResolveError>, RegistryError> {
        if did.method() == "key" {
            // A did:key has one version, which has always been in force.
            if let VersionSelector::Id(version) = selector
                && version != 1
            {
                return Ok(Err(ResolveError::NotFound(did.clone())));
            }
            return Ok(did_key::resolve(did, did_key::KeyFormat::Multikey)
                .map(|document| {
                    let result = ResolutionResult::found(document, DocumentMetadata::default());
                    Resolved {
                        standing: Standing::Active,
                        result: serde_json::to_vec(&result)
                            .expect("a resolution result always serializes")
                            .into(),
                    }
                })
                .map_err(|e| ResolveError::InvalidDid(e.to_string())));
        }
        if let Err(error) = did_vouch::check_did(did) {
            return Ok(Err(error));
        }
        if selector == VersionSelector::Latest {
            return Ok(self
                .head(did)?
                .map(|head| head.resolved)
                .ok_or_else(|| ResolveError::NotFound(did.clone())));
        }
        let Some(log) = self.store.did_log(did)? else {
            return Ok(Err(ResolveError::NotFound(did.clone())));
        };
        Ok(log.resolve(selector).map(|resolution| {
            let standing = if resolution.metadata.deactivated {
                Standing::Deactivated
            } else {
                Standing::Active
            };
            let result = ResolutionResult::found(resolution.document, resolution.metadata);
            Resolved {
                standing,
                result: serde_json::to_vec(&result)
                    .expect("a resolution result always serializes")
                    .into(),
            }
        }))
    }
}

/// Resolves the DIDs the registry holds at their latest version, and did:key; for verifying what
/// members sign. A deactivated DID verifies nothing; a failure of the store reads as "not found":
/// nothing unverified gets through.
impl DidResolver for Registry {
    fn resolve(&self, did: &Did) -> Result<DidDocument, ResolveError> {
        if did.method() == "key" {
            return DidKeyResolver.resolve(did);
        }
        did_vouch::check_did(did)?;
        {
            let cache = self.writer.locked();
            if let Some(log) = cache.get(did) {
                return current_document(log);
            }
        }
        match self.store.did_log(did) {
            Ok(Some(log)) => current_document(&log),
            Ok(None) => Err(ResolveError::NotFound(did.clone())),
            Err(error) => {
                tracing::warn!(%did, %error, "could not read a DID log");
                Err(ResolveError::NotFound(did.clone()))
            }
        }
    }
}

/// The document a log's DID verifies with now: none once it is deactivated.
fn current_document(log: &DidLog) -> Result<DidDocument, ResolveError> {
    if log.is_deactivated() {
        return Err(ResolveError::Deactivated(log.did().clone()));
    }
    log.resolve(VersionSelector::Latest).map(|r| r.document)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_core::did_vouch::{DocumentContent, create, deactivate};
    use vouch_core::key::KeyPair;

    fn registry() -> (tempfile::TempDir, Registry) {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::new(Arc::new(Store::open(dir.path()).unwrap()), Metrics::new());
        (dir, registry)
    }

    /// A DID whose document holds `key`, made with `update`, `next` its next update key.
    fn genesis(
        key: &KeyPair,
        update: &KeyPair,
        next: &KeyPair,
        at: DateTime<Utc>,
    ) -> (Did, Operation) {
        create(
            DocumentContent::single_key(&key.public()),
            update,
            &[next.public()],
            at,
        )
        .unwrap()
    }

    #[test]
    fn heads_carry_their_standing_and_an_older_nodes_head_is_computed_again() {
        let (_dir, registry) = registry();
        let keys: Vec<KeyPair> = (0..3).map(|_| KeyPair::generate()).collect();
        let now = Utc::now();
        let (did, genesis) = genesis(&keys[0], &keys[1], &keys[2], now);
        registry.apply(genesis.clone(), now).unwrap();
        let active = registry
            .resolve(&did, VersionSelector::Latest)
            .unwrap()
            .unwrap();
        assert_eq!(active.standing, Standing::Active);
        assert_eq!(
            registry.latest_version_time(&did).unwrap(),
            Some(genesis.created.time())
        );

        let log = registry.log(&did).unwrap().unwrap();
        let end = deactivate(&log, &keys[2], now + chrono::Duration::seconds(1)).unwrap();
        registry
            .apply(end.clone(), now + chrono::Duration::seconds(2))
            .unwrap();
        let gone = registry
            .resolve(&did, VersionSelector::Latest)
            .unwrap()
            .unwrap();
        assert_eq!(gone.standing, Standing::Deactivated);
        // Deactivation is final: every version says so (`deactivated` in its metadata).
        let first = registry
            .resolve(&did, VersionSelector::Id(1))
            .unwrap()
            .unwrap();
        assert_eq!(first.standing, Standing::Deactivated);

        // A head as a format-1 node stored it, bare JSON: read as what the log says, and stored
        // again in the current format.
        registry
            .store
            .put_did_head(&did, br#"{"didDocument":null}"#)
            .unwrap();
        let again = registry
            .resolve(&did, VersionSelector::Latest)
            .unwrap()
            .unwrap();
        assert_eq!(again, gone);
        let stored = registry.store.did_head(&did).unwrap().unwrap();
        assert_eq!(stored[0], HEAD_FORMAT);
        assert_eq!(
            registry.latest_version_time(&did).unwrap(),
            Some(end.created.time())
        );

        // A head of an unknown format is an error, not a guess.
        registry.store.put_did_head(&did, &[9, 9, 9]).unwrap();
        assert!(registry.resolve(&did, VersionSelector::Latest).is_err());
    }

    #[test]
    fn a_page_of_operations_in_any_order_is_stored_in_one_batch() {
        use vouch_core::did_vouch::update;
        let (_dir, registry) = registry();
        let keys: Vec<KeyPair> = (0..32).map(|_| KeyPair::generate()).collect();
        let start = Utc::now() - chrono::Duration::hours(1);
        let (did, genesis) = genesis(&keys[0], &keys[0], &keys[1], start);
        let mut log = DidLog::new(genesis.clone()).unwrap();
        let mut operations = vec![genesis];
        for i in 1..31 {
            let next = update(
                &log,
                DocumentContent::single_key(&keys[i].public()),
                &keys[i],
                &[keys[i + 1].public()],
                start + chrono::Duration::seconds(i as i64),
            )
            .unwrap();
            log.apply(next.clone()).unwrap();
            operations.push(next);
        }
        // Newest first, with a forgery in the middle.
        // Re-dated after it was signed: its signature no longer holds.
        let mut forged = operations[5].clone();
        forged.created = vouch_core::did_vouch::Timestamp::new(
            forged.created.time() + chrono::Duration::milliseconds(1500),
        );
        let mut page: Vec<String> = operations.iter().rev().map(Operation::to_json).collect();
        page.insert(10, forged.to_json());
        let items: Vec<&[u8]> = page.iter().map(|p| p.as_bytes()).collect();
        let generation = registry.sync_generation(Collection::DidOperations);
        let judgements = registry.receive_all(&items, Utc::now());
        assert_eq!(
            judgements
                .iter()
                .filter(|j| **j == Judgement::Accepted)
                .count(),
            31
        );
        assert!(matches!(judgements[10], Judgement::Misbehaved(_)));
        // One batch: the set changed once.
        assert_eq!(
            registry.sync_generation(Collection::DidOperations),
            generation + 1
        );
        assert_eq!(registry.log(&did).unwrap().unwrap().version(), 31);
        assert_eq!(registry.sync_items().unwrap().len(), 31);
    }

    #[test]
    fn a_cached_resolution_is_dropped_when_its_did_is_written() {
        use vouch_core::did_vouch::update;
        let (_dir, registry) = registry();
        let keys: Vec<KeyPair> = (0..3).map(|_| KeyPair::generate()).collect();
        let now = Utc::now() - chrono::Duration::minutes(1);
        let (did, genesis) = genesis(&keys[0], &keys[1], &keys[2], now);
        registry.apply(genesis, now).unwrap();
        assert_eq!(registry.resolve_cached(&did), None, "nothing served yet");
        let first = registry
            .resolve(&did, VersionSelector::Latest)
            .unwrap()
            .unwrap();
        assert_eq!(registry.resolve_cached(&did), Some(first.clone()));

        // A reader that read the store before a write was committed keeps nothing.
        let epoch = registry.resolutions().epoch;
        let log = registry.log(&did).unwrap().unwrap();
        let next = update(
            &log,
            DocumentContent::single_key(&keys[1].public()),
            &keys[2],
            &[keys[0].public()],
            now + chrono::Duration::seconds(1),
        )
        .unwrap();
        registry.apply(next, Utc::now()).unwrap();
        assert_eq!(
            registry.resolve_cached(&did),
            None,
            "a write drops the DID's entry"
        );
        registry.resolutions().put(epoch, &did, &first);
        assert_eq!(
            registry.resolve_cached(&did),
            None,
            "what was read before the write is not kept"
        );
        let second = registry
            .resolve(&did, VersionSelector::Latest)
            .unwrap()
            .unwrap();
        assert_ne!(second, first);
        assert_eq!(registry.resolve_cached(&did), Some(second));

        // Bounded: a flood of did:keys keeps the most recent ones only, within both bounds.
        for _ in 0..CACHED_RESOLUTIONS + 10 {
            let key = did_key::did_of(&KeyPair::generate().public());
            registry
                .resolve(&key, VersionSelector::Latest)
                .unwrap()
                .unwrap();
        }
        let resolutions = registry.resolutions();
        assert!((1..=CACHED_RESOLUTIONS).contains(&resolutions.latest.len()));
        let held: usize = resolutions.latest.iter().map(|(_, r)| r.result.len()).sum();
        assert_eq!(resolutions.bytes, held);
        assert!(resolutions.bytes <= CACHED_RESOLUTION_BYTES);
    }
}
