//! The DID registry: did:vouch operations from the admin API and from peers, verified and stored,
//! and resolution of did:vouch and did:key.
//!
//! All of it is blocking (it calls the store); async code calls it through `spawn_blocking`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use vouch_core::did::document::DidDocument;
use vouch_core::did::key as did_key;
use vouch_core::did::resolve::{DidKeyResolver, DidResolver, DocumentMetadata, ResolutionResult};
use vouch_core::did::vouch::{self, Applied, DidLog, LogError, Operation, VersionSelector};
use vouch_core::did::{Did, ResolveError};

use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

use chrono::{DateTime, Utc};

/// Why an operation was not accepted, or a DID not resolved.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The operation is invalid: the sender's fault.
    #[error(transparent)]
    Invalid(#[from] LogError),
    /// The store failed: the node's fault.
    #[error(transparent)]
    Store(#[from] StoreError),
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

/// How far ahead of the node's clock an operation may be dated.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// The DIDs this node holds.
#[derive(Debug, Clone)]
pub struct Registry {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    /// Serializes read-verify-write of logs, so that two operations on one DID never both build
    /// on the same stored state and one is lost; and keeps the logs it verified last, so that an
    /// operation is checked against its predecessor without verifying the whole log again. Held
    /// only around blocking store calls, never across an `.await`.
    writer: Arc<Mutex<HashMap<Did, DidLog>>>,
}

/// How many verified logs the writer keeps in memory.
const CACHED_LOGS: usize = 1024;

/// The latest resolution result of a log, as the store keeps it.
fn head_of(log: &DidLog) -> Vec<u8> {
    let result = match log.resolve(VersionSelector::Latest) {
        Ok(resolution) => ResolutionResult::found(resolution.document, resolution.metadata),
        Err(error) => ResolutionResult::failed(&error),
    };
    serde_json::to_vec(&result).expect("a resolution result always serializes")
}

impl Registry {
    /// A registry over a store.
    pub fn new(store: Arc<Store>, metrics: Arc<Metrics>) -> Self {
        Self {
            store,
            metrics,
            writer: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The node's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Verifies an operation against what the node holds of its DID and stores it. Returns the DID
    /// and what was done; a duplicate changes nothing. `now` is the node's clock.
    pub fn apply(
        &self,
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
        let mut cache = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Taken out while it changes: if storing fails, the next operation reloads it.
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
                .record(&log, &operation, applied, &head_of(&log))?;
            self.metrics.record_stored();
        }
        if cache.len() >= CACHED_LOGS
            && let Some(evicted) = cache.keys().next().cloned()
        {
            cache.remove(&evicted);
        }
        cache.insert(did.clone(), log);
        Ok((did, applied))
    }

    /// Every DID held: its last version and how much equivocation evidence it has.
    pub fn inventory(&self) -> Result<Vec<(Did, u64, u64)>, RegistryError> {
        Ok(self.store.inventory()?)
    }

    /// A page of a DID's operations for a peer that holds up to version `after`: the later ones in
    /// version order, then, if the page has room, the equivocation evidence.
    pub fn operations_after(
        &self,
        did: &Did,
        after: u64,
        page: usize,
    ) -> Result<Vec<Operation>, RegistryError> {
        let Some(log) = self.store.did_log(did)? else {
            return Ok(Vec::new());
        };
        let mut operations: Vec<Operation> = log
            .operations()
            .filter(|op| op.version > after)
            .take(page)
            .cloned()
            .collect();
        let room = page - operations.len();
        operations.extend(
            log.equivocations()
                .iter()
                .take(room)
                .map(|e| e.conflicting.clone()),
        );
        Ok(operations)
    }

    /// When the latest version held of a did:vouch was made, if the DID is held: from the
    /// verified log when cached, else from its stored head. Cheap: no log is verified for it.
    pub fn latest_version_time(&self, did: &Did) -> Result<Option<DateTime<Utc>>, RegistryError> {
        {
            let cache = self
                .writer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(log) = cache.get(did) {
                return Ok(Some(log.head().created.time()));
            }
        }
        let Some(head) = self.store.did_head(did)? else {
            return Ok(None);
        };
        let corrupt = |reason: String| StoreError::Corrupt {
            key: did.to_string(),
            reason,
        };
        let head: serde_json::Value =
            serde_json::from_slice(&head).map_err(|e| corrupt(e.to_string()))?;
        let metadata = &head["didDocumentMetadata"];
        let time = metadata["updated"]
            .as_str()
            .or(metadata["created"].as_str())
            .ok_or_else(|| corrupt("a head without a time".into()))?;
        let time = DateTime::parse_from_rfc3339(time).map_err(|e| corrupt(e.to_string()))?;
        Ok(Some(time.with_timezone(&Utc)))
    }

    /// The verified log of a DID, if held.
    pub fn log(&self, did: &Did) -> Result<Option<DidLog>, RegistryError> {
        Ok(self.store.did_log(did)?)
    }

    /// Resolves a DID to its resolution result as JSON. The latest version of a did:vouch is read
    /// as stored; other versions are resolved from its verified log.
    pub fn resolve(
        &self,
        did: &Did,
        selector: VersionSelector,
    ) -> Result<Result<Vec<u8>, ResolveError>, RegistryError> {
        if did.method() == "key" {
            if selector != VersionSelector::Latest {
                return Ok(Err(ResolveError::NotFound(did.clone())));
            }
            return Ok(did_key::resolve(did, did_key::KeyFormat::Multikey)
                .map(|document| {
                    let result = ResolutionResult::found(document, DocumentMetadata::default());
                    serde_json::to_vec(&result).expect("a resolution result always serializes")
                })
                .map_err(|e| ResolveError::InvalidDid(e.to_string())));
        }
        if let Err(error) = vouch::check_did(did) {
            return Ok(Err(error));
        }
        if selector == VersionSelector::Latest {
            return Ok(self
                .store
                .did_head(did)?
                .ok_or_else(|| ResolveError::NotFound(did.clone())));
        }
        let Some(log) = self.store.did_log(did)? else {
            return Ok(Err(ResolveError::NotFound(did.clone())));
        };
        Ok(log.resolve(selector).map(|resolution| {
            let result = ResolutionResult::found(resolution.document, resolution.metadata);
            serde_json::to_vec(&result).expect("a resolution result always serializes")
        }))
    }
}

/// Resolves the DIDs the registry holds at their latest version, and did:key; for verifying what
/// members sign. A failure of the store reads as "not found": nothing unverified gets through.
impl DidResolver for Registry {
    fn resolve(&self, did: &Did) -> Result<DidDocument, ResolveError> {
        if did.method() == "key" {
            return DidKeyResolver.resolve(did);
        }
        vouch::check_did(did)?;
        {
            let cache = self
                .writer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(log) = cache.get(did) {
                return log.resolve(VersionSelector::Latest).map(|r| r.document);
            }
        }
        match self.store.did_log(did) {
            Ok(Some(log)) => log.resolve(VersionSelector::Latest).map(|r| r.document),
            Ok(None) => Err(ResolveError::NotFound(did.clone())),
            Err(error) => {
                tracing::warn!(%did, %error, "could not read a DID log");
                Err(ResolveError::NotFound(did.clone()))
            }
        }
    }
}
