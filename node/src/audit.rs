//! The node's audit log (DESIGN §9): entries appended in the same batch as the change they
//! record, each chained to the one before and a leaf of the RFC 6962 tree whose hashes are
//! stored with it (`vouch_core::audit`). One writer at a time: a writer holds the log from reading
//! its head until the batch it filled is written, so two changes never take the same place.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use vouch_core::audit::{self, AuditError, Entry, Hash, HashReader, Tamper};
use vouch_core::did::Did;
use vouch_core::key::KeyPair;

use crate::store::{Batch, Store, StoreError};

/// The most entries read at once.
const PAGE: usize = 4096;

/// Why the audit log failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditLogError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An entry or the tree is not what it should be.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The stored log does not verify.
    #[error("the audit log is damaged at entry {}: {}", .0.at, .0.what)]
    Tampered(Tamper),
}

/// The node's audit log.
#[derive(Debug, Clone)]
pub struct AuditLog {
    store: Arc<Store>,
    writer: String,
    lock: Arc<Mutex<()>>,
    appended: Arc<tokio::sync::Notify>,
}

/// Reads the tree's hashes from the store, and those a writer has put in its batch.
struct Reader<'a> {
    store: &'a Store,
    pending: &'a HashMap<u64, Hash>,
}

impl HashReader for Reader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let stored = self
            .store
            .audit_hashes(indexes)
            .map_err(|e| tlog_tiles::Error::InvalidInput(e.to_string()))?;
        indexes
            .iter()
            .zip(stored)
            .map(|(index, stored)| {
                self.pending
                    .get(index)
                    .copied()
                    .or(stored.map(Hash))
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

/// The log held for appending, until the batch is written: see [`AuditLog::writer`].
pub struct AuditWriter<'a> {
    log: &'a AuditLog,
    _guard: MutexGuard<'a, ()>,
    start: u64,
    size: u64,
    previous: Option<Hash>,
    pending: HashMap<u64, Hash>,
}

impl AuditLog {
    /// The audit log of the node of `writer` (its org's DID).
    pub fn new(store: Arc<Store>, writer: &Did) -> Self {
        Self {
            store,
            writer: writer.to_string(),
            lock: Arc::new(Mutex::new(())),
            appended: Arc::default(),
        }
    }

    /// Holds the log for appending: keep the writer until the batch its entries went into is
    /// written (or dropped).
    pub fn writer(&self) -> Result<AuditWriter<'_>, AuditLogError> {
        let guard = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let size = self.store.audit_size()?;
        let previous = match size.checked_sub(1) {
            None => None,
            Some(last) => {
                let bytes = self.store.audit_entry(last)?.ok_or_else(|| {
                    AuditLogError::Tampered(Tamper {
                        at: last,
                        what: "missing".into(),
                    })
                })?;
                Some(Entry::from_bytes(&bytes)?.leaf_hash())
            }
        };
        Ok(AuditWriter {
            log: self,
            _guard: guard,
            start: size,
            size,
            previous,
            pending: HashMap::new(),
        })
    }

    /// Appends one entry on its own, for a decision that changes nothing else (a verification
    /// by the service): written and synced before it returns. Its sequence number.
    pub fn record(&self, entry: Entry, now: DateTime<Utc>) -> Result<u64, AuditLogError> {
        let mut writer = self.writer()?;
        let mut batch = Batch::default();
        let seq = writer.append(&mut batch, entry, now)?;
        self.store.commit(batch)?;
        Ok(seq)
    }

    /// Notified whenever a writer that appended is done (its batch written, or dropped).
    pub fn appended(&self) -> Arc<tokio::sync::Notify> {
        self.appended.clone()
    }

    /// How many entries the log has.
    pub fn size(&self) -> Result<u64, AuditLogError> {
        Ok(self.store.audit_size()?)
    }

    /// The log's size and root, as stored.
    pub fn root(&self) -> Result<(u64, Hash), AuditLogError> {
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let size = self.store.audit_size()?;
        let pending = HashMap::new();
        let reader = Reader {
            store: &self.store,
            pending: &pending,
        };
        Ok((size, audit::root(size, &reader)?))
    }

    /// Entries from `from`, at most 4,096.
    pub fn entries(&self, from: u64) -> Result<Vec<Entry>, AuditLogError> {
        self.store
            .audit_entries(from, PAGE)?
            .iter()
            .map(|bytes| Entry::from_bytes(bytes).map_err(AuditLogError::from))
            .collect()
    }

    /// Verifies the whole stored log: the chain of entries from the first, and the tree they
    /// make against the root of the hashes stored. Returns its size and root.
    pub fn verify(&self) -> Result<(u64, Hash), AuditLogError> {
        let (size, root) = self.root()?;
        let mut entries = Vec::new();
        while (entries.len() as u64) < size {
            let page = self.store.audit_entries(entries.len() as u64, PAGE)?;
            if page.is_empty() {
                break;
            }
            for bytes in page {
                entries.push(Entry::from_bytes(&bytes)?);
            }
        }
        let leaves = audit::verify_entries(&entries).map_err(AuditLogError::Tampered)?;
        if leaves.len() as u64 != size {
            return Err(AuditLogError::Tampered(Tamper {
                at: leaves.len() as u64,
                what: format!("{} entries for a log of {size}", leaves.len()),
            }));
        }
        let recomputed = audit::MemoryHashes::of(&leaves)?;
        if audit::root(size, &recomputed)? != root {
            return Err(AuditLogError::Tampered(Tamper {
                at: size.saturating_sub(1),
                what: "the entries do not make the stored tree".into(),
            }));
        }
        Ok((size, root))
    }
}

impl AuditLog {
    /// The log's origin in its checkpoints: its writer's DID, then `/audit`.
    pub fn origin(&self) -> String {
        format!("{}/audit", self.writer)
    }

    /// The log's checkpoint now, signed by `key` (the node key): a C2SP signed note.
    pub fn checkpoint(&self, key: &KeyPair) -> Result<Vec<u8>, AuditLogError> {
        let (size, root) = self.root()?;
        Ok(audit::checkpoint::sign(&self.origin(), size, root, key)?)
    }

    fn within(&self, size: u64) -> Result<(), AuditLogError> {
        let held = self.store.audit_size()?;
        if size > held {
            return Err(
                AuditError::OutOfRange(format!("the log has {held} entries, not {size}")).into(),
            );
        }
        Ok(())
    }

    /// The proof that entry `index` is in the tree of `size` entries, with the entry.
    pub fn prove_inclusion(
        &self,
        index: u64,
        size: u64,
    ) -> Result<(Entry, Vec<Hash>), AuditLogError> {
        self.within(size)?;
        let pending = HashMap::new();
        let reader = Reader {
            store: &self.store,
            pending: &pending,
        };
        let proof = audit::prove_inclusion(index, size, &reader)?;
        let bytes = self.store.audit_entry(index)?.ok_or_else(|| {
            AuditLogError::Tampered(Tamper {
                at: index,
                what: "missing".into(),
            })
        })?;
        Ok((Entry::from_bytes(&bytes)?, proof))
    }

    /// The proof that the tree of `new` entries extends the tree of `old`.
    pub fn prove_consistency(&self, old: u64, new: u64) -> Result<Vec<Hash>, AuditLogError> {
        self.within(new)?;
        let pending = HashMap::new();
        let reader = Reader {
            store: &self.store,
            pending: &pending,
        };
        Ok(audit::prove_consistency(old, new, &reader)?)
    }
}

impl AuditWriter<'_> {
    /// Appends `entry` in `batch`: it gets the next sequence number, the previous leaf's hash,
    /// the writer and `now`. Returns its sequence number.
    pub fn append(
        &mut self,
        batch: &mut Batch,
        mut entry: Entry,
        now: DateTime<Utc>,
    ) -> Result<u64, AuditLogError> {
        entry.seq = self.size;
        entry.previous = self.previous.map(|h| h.to_string());
        entry.writer = self.log.writer.clone();
        entry.time = now;
        entry.check()?;
        let leaf = entry.leaf_hash();
        let reader = Reader {
            store: &self.log.store,
            pending: &self.pending,
        };
        let hashes = tlog_tiles::stored_hashes_for_record_hash(self.size, leaf, &reader)
            .map_err(|e| AuditError::Storage(e.to_string()))?;
        let first = tlog_tiles::stored_hash_index(0, self.size);
        let raw: Vec<[u8; 32]> = hashes.iter().map(|h| h.0).collect();
        self.log
            .store
            .put_audit_entry(batch, entry.seq, &entry.to_bytes(), first, &raw);
        for (i, hash) in hashes.into_iter().enumerate() {
            self.pending.insert(first + i as u64, hash);
        }
        self.size += 1;
        self.previous = Some(leaf);
        Ok(entry.seq)
    }
}

impl Drop for AuditWriter<'_> {
    fn drop(&mut self) {
        if self.size > self.start {
            self.log.appended.notify_one();
        }
    }
}

/// An entry of `event` with nothing else set: the writer fills sequence, chain, writer and time.
pub fn entry(event: audit::Event) -> Entry {
    Entry {
        seq: 0,
        previous: None,
        time: DateTime::<Utc>::UNIX_EPOCH,
        writer: String::new(),
        event,
        agent: None,
        principal: None,
        task: None,
        action: None,
        resource_hash: None,
        decision: None,
        reason: None,
        credentials: Vec::new(),
    }
}
