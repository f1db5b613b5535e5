//! An audit log kept in a store (DESIGN §9): entries appended in the same batch as the change
//! they record, each chained to the one before and a leaf of the RFC 6962 tree whose hashes are
//! stored with it. One writer at a time: a writer holds the log from reading its head until the
//! batch it filled is written, so two changes never take the same place. The node keeps one in
//! its RocksDB, the wallet one in its own; both give [`LogStore`] the few reads and writes the
//! log needs.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use super::{AuditError, Entry, Event, Hash, HashReader, Tamper};
use crate::key::KeyPair;
use crate::lock::MutexExt as _;

/// The most entries read at once.
pub const PAGE: usize = 4096;

/// What an audit log needs of the store it lives in.
pub trait LogStore: Send + Sync {
    /// Changes written together, atomically.
    type Batch;
    /// Why the store failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// How many entries the log has.
    fn audit_size(&self) -> Result<u64, Self::Error>;
    /// Entry `seq`, as stored.
    fn audit_entry(&self, seq: u64) -> Result<Option<Vec<u8>>, Self::Error>;
    /// Entries from `from`, at most `limit`, in order.
    fn audit_entries(&self, from: u64, limit: usize) -> Result<Vec<Vec<u8>>, Self::Error>;
    /// The stored tree hashes at these indexes; `None` for one not stored.
    fn audit_hashes(&self, indexes: &[u64]) -> Result<Vec<Option<[u8; 32]>>, Self::Error>;
    /// Appends entry `seq` and the tree hashes it completes (from `first_hash` on), and sets the
    /// log's size to `seq + 1`, in `batch`.
    fn put_audit_entry(
        &self,
        batch: &mut Self::Batch,
        seq: u64,
        entry: &[u8],
        first_hash: u64,
        hashes: &[[u8; 32]],
    );
    /// A new, empty batch.
    fn batch(&self) -> Self::Batch;
    /// Writes a batch, synced: all of it or nothing.
    fn commit(&self, batch: Self::Batch) -> Result<(), Self::Error>;
}

/// Why an audit log failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError<E: std::error::Error + 'static> {
    /// The store failed.
    #[error(transparent)]
    Store(E),
    /// An entry or the tree is not what it should be.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The stored log does not verify.
    #[error("the audit log is damaged at entry {}: {}", .0.at, .0.what)]
    Tampered(Tamper),
}

/// An audit log in a store.
pub struct Log<S: LogStore> {
    store: Arc<S>,
    writer: String,
    lock: Arc<Mutex<()>>,
    appended: Option<Arc<dyn Fn() + Send + Sync>>,
    group: Arc<Group>,
}

/// Group commit for [`Log::record_all`]: the entries of every caller waiting while a batch is
/// being written go into the next batch together, one synced write for all of them.
#[derive(Default)]
struct Group {
    state: Mutex<GroupState>,
    written: Condvar,
}

#[derive(Default)]
struct GroupState {
    /// Callers waiting, by ticket: their entries and time.
    waiting: Vec<(u64, Vec<Entry>, DateTime<Utc>)>,
    /// Whether a caller is writing a batch now.
    writing: bool,
    /// What became of each ticket written: the last sequence number, or why it failed.
    done: HashMap<u64, Result<Option<u64>, String>>,
    next: u64,
}

impl<S: LogStore> Clone for Log<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            writer: self.writer.clone(),
            lock: self.lock.clone(),
            appended: self.appended.clone(),
            group: self.group.clone(),
        }
    }
}

impl<S: LogStore> std::fmt::Debug for Log<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("writer", &self.writer)
            .finish_non_exhaustive()
    }
}

/// Reads the tree's hashes from the store, and those a writer has put in its batch.
struct Reader<'a, S: LogStore> {
    store: &'a S,
    pending: &'a HashMap<u64, Hash>,
}

impl<S: LogStore> HashReader for Reader<'_, S> {
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

/// The log held for appending, until the batch is written: see [`Log::writer`].
pub struct LogWriter<'a, S: LogStore> {
    log: &'a Log<S>,
    _guard: MutexGuard<'a, ()>,
    start: u64,
    size: u64,
    previous: Option<Hash>,
    pending: HashMap<u64, Hash>,
}

fn missing(at: u64) -> Tamper {
    Tamper {
        at,
        what: "missing".into(),
    }
}

impl<S: LogStore> Log<S> {
    /// The audit log of `writer` (a DID: the org's for a node, the instance's for a wallet).
    pub fn new(store: Arc<S>, writer: &str) -> Self {
        Self {
            store,
            writer: writer.to_owned(),
            lock: Arc::new(Mutex::new(())),
            appended: None,
            group: Arc::default(),
        }
    }

    /// Calls `appended` whenever a writer that appended is done (its batch written, or dropped).
    #[must_use]
    pub fn on_append(mut self, appended: impl Fn() + Send + Sync + 'static) -> Self {
        self.appended = Some(Arc::new(appended));
        self
    }

    fn hold(&self) -> MutexGuard<'_, ()> {
        self.lock.locked()
    }

    /// Holds the log for appending: keep the writer until the batch its entries went into is
    /// written (or dropped).
    pub fn writer(&self) -> Result<LogWriter<'_, S>, LogError<S::Error>> {
        let guard = self.hold();
        let size = self.size()?;
        let previous = match size.checked_sub(1) {
            None => None,
            Some(last) => {
                let bytes = self
                    .store
                    .audit_entry(last)
                    .map_err(LogError::Store)?
                    .ok_or_else(|| LogError::Tampered(missing(last)))?;
                Some(Entry::from_bytes(&bytes)?.leaf_hash())
            }
        };
        Ok(LogWriter {
            log: self,
            _guard: guard,
            start: size,
            size,
            previous,
            pending: HashMap::new(),
        })
    }

    /// Appends one entry on its own, for a decision that changes nothing else: written and
    /// synced before it returns. Its sequence number.
    pub fn record(&self, entry: Entry, now: DateTime<Utc>) -> Result<u64, LogError<S::Error>> {
        let last = self.record_all(vec![entry], now)?;
        Ok(last.expect("one entry was appended"))
    }

    /// Appends entries together, for decisions that change nothing else: written and synced
    /// before it returns, all of them or none. The sequence number of the last.
    ///
    /// Group commit: callers that arrive while a batch is being written wait, and the first of
    /// them writes all their entries in the next batch, one synced write for all (each caller's
    /// entries stay together, in the order they came). An entry that could never be written is
    /// refused before it joins a group, so that it fails no one else's.
    pub fn record_all(
        &self,
        entries: Vec<Entry>,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, LogError<S::Error>> {
        for entry in &entries {
            let mut probe = entry.clone();
            probe.seq = 1;
            probe.previous = Some(String::new());
            probe.writer.clone_from(&self.writer);
            probe.check()?;
        }
        let group = &self.group;
        let lock = || group.state.locked();
        let mut state = lock();
        let ticket = state.next;
        state.next += 1;
        state.waiting.push((ticket, entries, now));
        loop {
            if let Some(result) = state.done.remove(&ticket) {
                return result.map_err(|e| LogError::Audit(AuditError::Storage(e)));
            }
            if state.writing {
                state = group
                    .written
                    .wait(state)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            state.writing = true;
            let jobs = std::mem::take(&mut state.waiting);
            drop(state);
            let results = self.write_group(jobs);
            state = lock();
            state.writing = false;
            state.done.extend(results);
            group.written.notify_all();
        }
    }

    /// Writes the entries of a group in one batch: each ticket's last sequence number, or, for
    /// all of them, why the batch was not written.
    fn write_group(
        &self,
        jobs: Vec<(u64, Vec<Entry>, DateTime<Utc>)>,
    ) -> Vec<(u64, Result<Option<u64>, String>)> {
        let tickets: Vec<u64> = jobs.iter().map(|(ticket, _, _)| *ticket).collect();
        let failed =
            |why: String| -> Vec<_> { tickets.iter().map(|t| (*t, Err(why.clone()))).collect() };
        let mut writer = match self.writer() {
            Ok(writer) => writer,
            Err(e) => return failed(e.to_string()),
        };
        let mut batch = self.store.batch();
        let mut results = Vec::with_capacity(jobs.len());
        for (ticket, entries, now) in jobs {
            let mut last = None;
            for entry in entries {
                match writer.append(&mut batch, entry, now) {
                    Ok(seq) => last = Some(seq),
                    // Nothing of the batch is written: every caller of the group is told.
                    Err(e) => return failed(e.to_string()),
                }
            }
            results.push((ticket, Ok(last)));
        }
        match self.store.commit(batch) {
            Ok(()) => results,
            Err(e) => failed(e.to_string()),
        }
    }

    /// How many entries the log has.
    pub fn size(&self) -> Result<u64, LogError<S::Error>> {
        self.store.audit_size().map_err(LogError::Store)
    }

    /// The log's size and root, as stored.
    pub fn root(&self) -> Result<(u64, Hash), LogError<S::Error>> {
        let _guard = self.hold();
        let size = self.size()?;
        let pending = HashMap::new();
        let reader = Reader {
            store: &*self.store,
            pending: &pending,
        };
        Ok((size, super::root(size, &reader)?))
    }

    /// Entries from `from`, at most [`PAGE`].
    pub fn entries(&self, from: u64) -> Result<Vec<Entry>, LogError<S::Error>> {
        self.store
            .audit_entries(from, PAGE)
            .map_err(LogError::Store)?
            .iter()
            .map(|bytes| Entry::from_bytes(bytes).map_err(LogError::from))
            .collect()
    }

    /// Verifies the whole stored log: the chain of entries from the first, and the tree they
    /// make against the root of the hashes stored. Returns its size and root.
    pub fn verify(&self) -> Result<(u64, Hash), LogError<S::Error>> {
        let (size, root) = self.root()?;
        let mut entries = Vec::new();
        while (entries.len() as u64) < size {
            let page = self.entries(entries.len() as u64)?;
            if page.is_empty() {
                break;
            }
            entries.extend(page);
        }
        let leaves = super::verify_entries(&entries).map_err(LogError::Tampered)?;
        if leaves.len() as u64 != size {
            return Err(LogError::Tampered(Tamper {
                at: leaves.len() as u64,
                what: format!("{} entries for a log of {size}", leaves.len()),
            }));
        }
        let recomputed = super::MemoryHashes::of(&leaves)?;
        if super::root(size, &recomputed)? != root {
            return Err(LogError::Tampered(Tamper {
                at: size.saturating_sub(1),
                what: "the entries do not make the stored tree".into(),
            }));
        }
        Ok((size, root))
    }

    /// The log's origin in its checkpoints: its writer's DID, then `/audit`.
    pub fn origin(&self) -> String {
        format!("{}/audit", self.writer)
    }

    /// The log's checkpoint now, signed by `key` (the node key, or the instance key): a C2SP
    /// signed note.
    pub fn checkpoint(&self, key: &KeyPair) -> Result<Vec<u8>, LogError<S::Error>> {
        let (size, root) = self.root()?;
        Ok(super::checkpoint::sign(&self.origin(), size, root, key)?)
    }

    fn within(&self, size: u64) -> Result<(), LogError<S::Error>> {
        let held = self.size()?;
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
    ) -> Result<(Entry, Vec<Hash>), LogError<S::Error>> {
        self.within(size)?;
        let pending = HashMap::new();
        let reader = Reader {
            store: &*self.store,
            pending: &pending,
        };
        let proof = super::prove_inclusion(index, size, &reader)?;
        let bytes = self
            .store
            .audit_entry(index)
            .map_err(LogError::Store)?
            .ok_or_else(|| LogError::Tampered(missing(index)))?;
        Ok((Entry::from_bytes(&bytes)?, proof))
    }

    /// The proof that the tree of `new` entries extends the tree of `old`.
    pub fn prove_consistency(&self, old: u64, new: u64) -> Result<Vec<Hash>, LogError<S::Error>> {
        self.within(new)?;
        let pending = HashMap::new();
        let reader = Reader {
            store: &*self.store,
            pending: &pending,
        };
        Ok(super::prove_consistency(old, new, &reader)?)
    }
}

impl<S: LogStore> LogWriter<'_, S> {
    /// Appends `entry` in `batch`: it gets the next sequence number, the previous leaf's hash,
    /// the writer and `now`. Returns its sequence number.
    pub fn append(
        &mut self,
        batch: &mut S::Batch,
        mut entry: Entry,
        now: DateTime<Utc>,
    ) -> Result<u64, LogError<S::Error>> {
        entry.seq = self.size;
        entry.previous = self.previous.map(|h| h.to_string());
        entry.writer = self.log.writer.clone();
        entry.time = now;
        entry.check()?;
        let leaf = entry.leaf_hash();
        let reader = Reader {
            store: &*self.log.store,
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

impl<S: LogStore> Drop for LogWriter<'_, S> {
    fn drop(&mut self) {
        if self.size > self.start
            && let Some(appended) = &self.log.appended
        {
            appended();
        }
    }
}

/// An entry of `event` with nothing else set: the writer fills sequence, chain, writer and time.
pub fn entry(event: Event) -> Entry {
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
        count: None,
        credentials: Vec::new(),
    }
}
