//! The node's state in RocksDB: the only module that names it.
//!
//! Column families, one per kind of data:
//! - `meta`: the stored format version.
//! - `did_ops`: `<did> 0x00 <version, u64 big-endian>` → the accepted operation.
//! - `did_evidence`: `<did> 0x00 <version> <operation hash>` → an operation that equivocates.
//! - `did_heads`: `<did>` → the DID's latest resolution (`registry::Head`), kept with every write
//!   so that resolving the current version reads one value.
//! - `status_lists`: `<issuer DID>/<list name>` → the newest signed status list credential held.
//! - `amendments`: `<sequence, u64 big-endian>` → an applied amendment of the consortium.
//! - `status_indexes`: `<list name>` → the bitset of the indexes of one of the org's lists ever
//!   given to a credential (never given again); `meta` `status_list/<purpose>` → the number of
//!   the list indexes are given from now.
//! - `issuance`: the org's issuer state, keyed by the issuer module (`issuer::keys`): agent
//!   definitions and instances, the credentials issued and registered with their status slots,
//!   the indexes the revocation fan-out reads (`<index>/<key> 0x00 <credential id>` → nothing),
//!   suspensions.
//! - `revocation_events`: `<issuer DID> 0x00 <event id>` → a member's signed revocation event.
//! - `audit_entries`: `<seq, u64 big-endian>` → an audit entry, its canonical JSON; `meta`
//!   `audit/size` → how many there are.
//! - `audit_hashes`: `<stored hash index, u64 big-endian>` → a hash of the audit log's Merkle tree
//!   (`vouch_core::audit`), written with the entry that completes it.
//! - `sync_items`: `<collection> <timestamp, ms, u64 big-endian> <id>` → `<family> <key>`: the set
//!   anti-entropy reconciles, in negentropy's order, and where each item is stored.
//! - `sync_ids`: `<collection> <id>` → `<timestamp>`: an item by id, for a peer's fetch.
//!
//! An item's id is the SHA-256 of its bytes as stored (`vouch_core::sync::item_id`). The sync
//! index is written in the same batch as the item; a database written before it existed gets it
//! built once, when it is opened.
//!
//! Every value starts with a one-byte format tag. Everything one change writes goes in one
//! [`Batch`] (a page of items from a peer is one change), written with `sync`, so a change is on
//! disk before it is acknowledged and a crash never leaves half of one. RocksDB is synchronous:
//! async callers go through `spawn_blocking`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options,
    WriteBatch, WriteBufferManager, WriteOptions,
};
use vouch_core::audit::log::LogStore;
use vouch_core::did::Did;
use vouch_core::did_vouch::{Applied, DidLog, LogError, Operation};
use vouch_core::status::StatusListCredential;
use vouch_core::sync::{Collection, ID_BYTES, ItemId, item_id};

/// The format of the database as a whole; a node refuses a database of another format.
const FORMAT_VERSION: u32 = 1;
/// The tag every stored value starts with.
const VALUE_FORMAT: u8 = 1;

const META: &str = "meta";
const DID_OPS: &str = "did_ops";
const DID_EVIDENCE: &str = "did_evidence";
const DID_HEADS: &str = "did_heads";
const STATUS_LISTS: &str = "status_lists";
const AMENDMENTS: &str = "amendments";
const STATUS_INDEXES: &str = "status_indexes";
const SYNC_ITEMS: &str = "sync_items";
const SYNC_IDS: &str = "sync_ids";
const ISSUANCE: &str = "issuance";
const REVOCATION_EVENTS: &str = "revocation_events";
const AUDIT_ENTRIES: &str = "audit_entries";
const AUDIT_HASHES: &str = "audit_hashes";
const WITNESS: &str = "witness";
const COLUMN_FAMILIES: [&str; 14] = [
    META,
    DID_OPS,
    DID_EVIDENCE,
    DID_HEADS,
    STATUS_LISTS,
    AMENDMENTS,
    STATUS_INDEXES,
    SYNC_ITEMS,
    SYNC_IDS,
    ISSUANCE,
    REVOCATION_EVENTS,
    AUDIT_ENTRIES,
    AUDIT_HASHES,
    WITNESS,
];
/// The families items are stored in, by their tag in `sync_items` values.
const ITEM_FAMILIES: [&str; 5] = [
    DID_OPS,
    DID_EVIDENCE,
    STATUS_LISTS,
    AMENDMENTS,
    REVOCATION_EVENTS,
];
/// How many collections anti-entropy reconciles.
const COLLECTIONS: usize = Collection::ALL.len();
/// The `meta` key whose presence says the sync index is complete.
const SYNC_INDEX_BUILT: &[u8] = b"sync_index";

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB reported an error.
    #[error("database: {0}")]
    Db(#[from] rocksdb::Error),
    /// The database was written by another format version.
    #[error("the database has format version {found}, this node reads {FORMAT_VERSION}")]
    Format {
        /// The version found.
        found: u32,
    },
    /// A batch could not be written: nothing of it was stored.
    #[error("not stored: {0}")]
    Unwritten(String),
    /// A stored value is unreadable: the database is damaged.
    #[error("corrupt value under {key}: {reason}")]
    Corrupt {
        /// The key of the value, in its column family.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// The node's database.
pub struct Store {
    db: DB,
    /// Per collection, a count of the changes to its set: who caches a view of the set knows
    /// when it is stale.
    generations: [AtomicU64; COLLECTIONS],
}

/// Changes written together, atomically: see [`Store::commit`].
#[derive(Default)]
pub struct Batch {
    batch: WriteBatch,
    /// The collections whose set the batch changes.
    changed: [bool; COLLECTIONS],
}

/// The millisecond timestamp of an item: its sort key in reconciliation (before 1970: 0).
pub fn timestamp(time: DateTime<Utc>) -> u64 {
    u64::try_from(time.timestamp_millis()).unwrap_or(0)
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.db.path())
            .finish()
    }
}

fn encode(json: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(json.len() + 1);
    value.push(VALUE_FORMAT);
    value.extend_from_slice(json);
    value
}

fn decode<'a>(key: &[u8], value: &'a [u8]) -> Result<&'a [u8], StoreError> {
    match value.split_first() {
        Some((&VALUE_FORMAT, json)) => Ok(json),
        _ => Err(StoreError::Corrupt {
            key: String::from_utf8_lossy(key).into_owned(),
            reason: "unknown value format".into(),
        }),
    }
}

/// `<did> 0x00`: DIDs never contain a NUL, so this prefix selects exactly one DID.
fn did_prefix(did: &Did) -> Vec<u8> {
    let mut key = did.as_str().as_bytes().to_vec();
    key.push(0);
    key
}

fn op_key(did: &Did, version: u64) -> Vec<u8> {
    let mut key = did_prefix(did);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

/// The memory RocksDB may use: its block cache, shared by every column family, and its
/// memtables, all column families together. RocksDB's defaults (64 MiB of memtable per column
/// family, a cache per column family) would let a node holding a large registry grow to several
/// hundred MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// The block cache, in bytes.
    pub block_cache: usize,
    /// The memtables, in bytes.
    pub write_buffers: usize,
}

impl Default for Memory {
    fn default() -> Self {
        Self {
            block_cache: 32 << 20,
            write_buffers: 32 << 20,
        }
    }
}

impl Store {
    /// Opens (or creates) the database in `path`, with the default memory bounds.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, Memory::default())
    }

    /// Opens (or creates) the database in `path`, using at most `memory` for its cache and
    /// memtables.
    pub fn open_with(path: &Path, memory: Memory) -> Result<Self, StoreError> {
        let cache = Cache::new_lru_cache(memory.block_cache);
        let memtables = WriteBufferManager::new_write_buffer_manager(memory.write_buffers, false);
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_write_buffer_manager(&memtables);
        let family_options = || {
            let mut table = BlockBasedOptions::default();
            table.set_block_cache(&cache);
            let mut family = Options::default();
            family.set_block_based_table_factory(&table);
            // A memtable is flushed at a quarter of the budget: many families share it.
            family.set_write_buffer_size((memory.write_buffers / 4).max(1 << 20));
            family
        };
        let families = COLUMN_FAMILIES
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, family_options()));
        let db = DB::open_cf_descriptors(&options, path, families)?;
        let store = Self {
            db,
            generations: Default::default(),
        };
        let meta = store.cf(META);
        match store.db.get_cf(meta, b"format_version")? {
            None => store
                .db
                .put_cf(meta, b"format_version", FORMAT_VERSION.to_be_bytes())?,
            Some(bytes) => {
                let found = <[u8; 4]>::try_from(bytes.as_slice())
                    .map(u32::from_be_bytes)
                    .unwrap_or(u32::MAX);
                if found != FORMAT_VERSION {
                    return Err(StoreError::Format { found });
                }
            }
        }
        if store.db.get_cf(meta, SYNC_INDEX_BUILT)?.is_none() {
            store.build_sync_index()?;
        }
        Ok(store)
    }

    /// Indexes every item held for reconciliation: for a database written before the index.
    fn build_sync_index(&self) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        for family in [DID_OPS, DID_EVIDENCE] {
            for item in self.db.iterator_cf(self.cf(family), IteratorMode::Start) {
                let (key, value) = item?;
                let json = decode(&key, &value)?;
                let operation = Operation::from_json(json).map_err(|e| corrupt_because(&key, e))?;
                self.index(
                    &mut batch,
                    Collection::DidOperations,
                    timestamp(operation.created.time()),
                    json,
                    family,
                    &key,
                );
            }
        }
        for (key, json) in self.status_lists()? {
            let list = serde_json::from_slice(&json)
                .map_err(|e| e.to_string())
                .and_then(|raw| StatusListCredential::parse(&raw).map_err(|e| e.to_string()))
                .map_err(|e| corrupt_because(key.as_str().as_bytes(), e))?;
            self.index(
                &mut batch,
                Collection::StatusLists,
                timestamp(list.valid_from),
                &json,
                STATUS_LISTS,
                key.as_str().as_bytes(),
            );
        }
        batch.batch.put_cf(self.cf(META), SYNC_INDEX_BUILT, [1]);
        self.commit(batch)
    }

    /// Adds an item to the sync index, in `batch`.
    fn index(
        &self,
        batch: &mut Batch,
        collection: Collection,
        timestamp: u64,
        bytes: &[u8],
        family: &str,
        key: &[u8],
    ) {
        let id = item_id(bytes);
        let family_tag = ITEM_FAMILIES
            .iter()
            .position(|f| *f == family)
            .expect("items are stored in ITEM_FAMILIES") as u8;
        let mut location = vec![family_tag];
        location.extend_from_slice(key);
        batch.batch.put_cf(
            self.cf(SYNC_ITEMS),
            sync_item_key(collection, timestamp, &id),
            location,
        );
        batch.batch.put_cf(
            self.cf(SYNC_IDS),
            sync_id_key(collection, &id),
            timestamp.to_be_bytes(),
        );
        batch.changed[collection.tag() as usize] = true;
    }

    /// Removes an item from the sync index, in `batch`.
    fn unindex(&self, batch: &mut Batch, collection: Collection, timestamp: u64, bytes: &[u8]) {
        let id = item_id(bytes);
        batch.batch.delete_cf(
            self.cf(SYNC_ITEMS),
            sync_item_key(collection, timestamp, &id),
        );
        batch
            .batch
            .delete_cf(self.cf(SYNC_IDS), sync_id_key(collection, &id));
        batch.changed[collection.tag() as usize] = true;
    }

    /// Writes a batch, synced: all of it or nothing.
    pub fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        let Batch { batch, changed } = batch;
        self.write(batch)?;
        for (generation, changed) in self.generations.iter().zip(changed) {
            if changed {
                generation.fetch_add(1, Ordering::Release);
            }
        }
        Ok(())
    }

    /// How many times the set of a collection has changed since the store was opened.
    pub fn sync_generation(&self, collection: Collection) -> u64 {
        self.generations[collection.tag() as usize].load(Ordering::Acquire)
    }

    /// Every item of a collection, as `(timestamp, id)`, in order.
    pub fn sync_items(&self, collection: Collection) -> Result<Vec<(u64, ItemId)>, StoreError> {
        let prefix = [collection.tag()];
        let mut items = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf(SYNC_ITEMS),
            IteratorMode::From(&prefix, Direction::Forward),
        );
        for item in iter {
            let (key, _) = item?;
            if !key.starts_with(&prefix) {
                break;
            }
            if key.len() != 1 + 8 + ID_BYTES {
                return Err(corrupt_because(&key, "not a sync item key"));
            }
            let timestamp = u64::from_be_bytes(key[1..9].try_into().expect("8 bytes"));
            let id = key[9..].try_into().expect("ID_BYTES");
            items.push((timestamp, id));
        }
        Ok(items)
    }

    /// The items of a collection with these ids, as stored; those not held are left out.
    pub fn sync_fetch(
        &self,
        collection: Collection,
        ids: &[ItemId],
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(timestamp) = self
                .db
                .get_pinned_cf(self.cf(SYNC_IDS), sync_id_key(collection, id))?
            else {
                continue;
            };
            let timestamp = <[u8; 8]>::try_from(&timestamp[..])
                .map(u64::from_be_bytes)
                .map_err(|_| corrupt_because(id, "not a timestamp"))?;
            let item_key = sync_item_key(collection, timestamp, id);
            let Some(location) = self.db.get_pinned_cf(self.cf(SYNC_ITEMS), &item_key)? else {
                return Err(corrupt_because(&item_key, "indexed by id, not by time"));
            };
            let (family, key) = location
                .split_first()
                .and_then(|(tag, key)| Some((*ITEM_FAMILIES.get(usize::from(*tag))?, key)))
                .ok_or_else(|| corrupt_because(&item_key, "no such family"))?;
            let Some(value) = self.db.get_pinned_cf(self.cf(family), key)? else {
                return Err(corrupt_because(key, "indexed but not stored"));
            };
            items.push(decode(key, &value)?.to_vec());
        }
        Ok(items)
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("every column family is created when the database is opened")
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut options = WriteOptions::default();
        options.set_sync(true);
        Ok(self.db.write_opt(batch, &options)?)
    }

    /// The operations stored for a DID, in version order, then its equivocation evidence.
    fn operations(&self, did: &Did) -> Result<Vec<Operation>, StoreError> {
        let prefix = did_prefix(did);
        let mut operations = Vec::new();
        for family in [DID_OPS, DID_EVIDENCE] {
            let iter = self.db.iterator_cf(
                self.cf(family),
                IteratorMode::From(&prefix, Direction::Forward),
            );
            for item in iter {
                let (key, value) = item?;
                if !key.starts_with(&prefix) {
                    break;
                }
                let json = decode(&key, &value)?;
                let operation = Operation::from_json(json).map_err(|e| StoreError::Corrupt {
                    key: String::from_utf8_lossy(&key).into_owned(),
                    reason: e.to_string(),
                })?;
                operations.push(operation);
            }
        }
        Ok(operations)
    }

    /// The verified log of a DID, if the node has it. The log is verified again from its genesis:
    /// the database is not trusted more than a peer.
    pub fn did_log(&self, did: &Did) -> Result<Option<DidLog>, StoreError> {
        let operations = self.operations(did)?;
        if operations.is_empty() {
            return Ok(None);
        }
        DidLog::verify(operations)
            .map(Some)
            .map_err(|e: LogError| StoreError::Corrupt {
                key: did.to_string(),
                reason: e.to_string(),
            })
    }

    /// Records what [`DidLog::apply`] did with `operation` (already applied to `log`), together
    /// with the DID's new head, in `batch`.
    pub fn record(
        &self,
        batch: &mut Batch,
        log: &DidLog,
        operation: &Operation,
        applied: Applied,
        head: &[u8],
    ) {
        let did = log.did();
        let json = operation.to_json();
        let (family, key) = match applied {
            Applied::Duplicate | Applied::EvidenceFull => return,
            Applied::Appended => (DID_OPS, op_key(did, operation.version)),
            Applied::Equivocation => {
                let mut key = op_key(did, operation.version);
                key.extend_from_slice(operation.hash().as_str().as_bytes());
                (DID_EVIDENCE, key)
            }
        };
        self.index(
            batch,
            Collection::DidOperations,
            timestamp(operation.created.time()),
            json.as_bytes(),
            family,
            &key,
        );
        batch
            .batch
            .put_cf(self.cf(family), key, encode(json.as_bytes()));
        batch
            .batch
            .put_cf(self.cf(DID_HEADS), did.as_str(), encode(head));
    }

    /// The stored head of a DID: its latest resolution result as JSON.
    pub fn did_head(&self, did: &Did) -> Result<Option<Vec<u8>>, StoreError> {
        let key = did.as_str().as_bytes();
        match self.db.get_pinned_cf(self.cf(DID_HEADS), key)? {
            None => Ok(None),
            Some(value) => Ok(Some(decode(key, &value)?.to_vec())),
        }
    }

    /// Replaces the stored head of a DID (one of an older format, computed again).
    pub fn put_did_head(&self, did: &Did, head: &[u8]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(DID_HEADS), did.as_str(), encode(head));
        self.write(batch)
    }

    /// Every DID held.
    pub fn dids(&self) -> Result<Vec<Did>, StoreError> {
        let mut dids: Vec<Did> = Vec::new();
        for item in self.db.iterator_cf(self.cf(DID_HEADS), IteratorMode::Start) {
            let (key, _) = item?;
            dids.push(did_of_key(&key, key.len())?);
        }
        Ok(dids)
    }
}

/// Consortium amendments.
impl Store {
    /// Stores an applied amendment, numbered `sequence`, made at `created`, in `batch`.
    pub fn put_amendment(
        &self,
        batch: &mut Batch,
        sequence: u64,
        json: &[u8],
        created: DateTime<Utc>,
    ) {
        let key = sequence.to_be_bytes();
        self.index(
            batch,
            Collection::Amendments,
            timestamp(created),
            json,
            AMENDMENTS,
            &key,
        );
        batch.batch.put_cf(self.cf(AMENDMENTS), key, encode(json));
    }

    /// Every amendment applied, in order.
    pub fn amendments(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut amendments = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(AMENDMENTS), IteratorMode::Start)
        {
            let (key, value) = item?;
            amendments.push(decode(&key, &value)?.to_vec());
        }
        Ok(amendments)
    }
}

/// The indexes given out in the org's status lists.
impl Store {
    /// The bitset of the indexes of list `name` ever given out, if any were.
    pub fn status_indexes(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self
            .db
            .get_pinned_cf(self.cf(STATUS_INDEXES), name.as_bytes())?
        {
            None => Ok(None),
            Some(value) => Ok(Some(decode(name.as_bytes(), &value)?.to_vec())),
        }
    }

    /// Records the bitset of list `name`, in `batch`.
    pub fn put_status_indexes(&self, batch: &mut Batch, name: &str, bits: &[u8]) {
        batch
            .batch
            .put_cf(self.cf(STATUS_INDEXES), name.as_bytes(), encode(bits));
    }

    /// The number of the list of `purpose` that indexes are given from (1 before any).
    pub fn current_status_list(&self, purpose: &str) -> Result<u32, StoreError> {
        let key = format!("status_list/{purpose}");
        match self.db.get_pinned_cf(self.cf(META), key.as_bytes())? {
            None => Ok(1),
            Some(value) => <[u8; 4]>::try_from(&value[..])
                .map(u32::from_be_bytes)
                .map_err(|_| corrupt_because(key.as_bytes(), "not a list number")),
        }
    }

    /// Records the number of the list of `purpose` that indexes are given from, in `batch`.
    pub fn put_current_status_list(&self, batch: &mut Batch, purpose: &str, n: u32) {
        let key = format!("status_list/{purpose}");
        batch
            .batch
            .put_cf(self.cf(META), key.as_bytes(), n.to_be_bytes());
    }
}

/// The key a status list is held under: `<issuer DID>/<list name>`, made from an issuer and a
/// name (checked by `status_lists`) or read back from the store, so that no other string is taken
/// for one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListKey(String);

impl ListKey {
    /// The key of `issuer`'s list `name`.
    pub fn new(issuer: &Did, name: &str) -> Self {
        Self(format!("{issuer}/{name}"))
    }

    /// The key, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ListKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Status lists.
impl Store {
    /// The signed status list credential held under `key`, as JSON.
    pub fn status_list(&self, key: &ListKey) -> Result<Option<Vec<u8>>, StoreError> {
        let key = key.as_str();
        match self
            .db
            .get_pinned_cf(self.cf(STATUS_LISTS), key.as_bytes())?
        {
            None => Ok(None),
            Some(value) => Ok(Some(decode(key.as_bytes(), &value)?.to_vec())),
        }
    }

    /// Stores a signed status list credential under `key`, dated `valid_from`, in `batch`,
    /// replacing the version held (`held`: its JSON and date), which the caller has checked it
    /// supersedes. One version per key per batch.
    pub fn put_status_list(
        &self,
        batch: &mut Batch,
        key: &ListKey,
        json: &[u8],
        valid_from: DateTime<Utc>,
        held: Option<(&[u8], DateTime<Utc>)>,
    ) {
        let key = key.as_str();
        if let Some((held, held_from)) = held {
            self.unindex(batch, Collection::StatusLists, timestamp(held_from), held);
        }
        self.index(
            batch,
            Collection::StatusLists,
            timestamp(valid_from),
            json,
            STATUS_LISTS,
            key.as_bytes(),
        );
        batch
            .batch
            .put_cf(self.cf(STATUS_LISTS), key.as_bytes(), encode(json));
    }

    /// Every status list held: its key and its signed credential as JSON.
    pub fn status_lists(&self) -> Result<Vec<(ListKey, Vec<u8>)>, StoreError> {
        let mut lists = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(STATUS_LISTS), IteratorMode::Start)
        {
            let (key, value) = item?;
            let json = decode(&key, &value)?.to_vec();
            let key = String::from_utf8(key.to_vec()).map_err(|_| StoreError::Corrupt {
                key: String::from_utf8_lossy(&key).into_owned(),
                reason: "a status list key is not UTF-8".into(),
            })?;
            lists.push((ListKey(key), json));
        }
        Ok(lists)
    }
}

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

const AUDIT_SIZE: &[u8] = b"audit/size";

/// The node's audit log, as `vouch_core::audit::log` keeps it.
impl LogStore for Store {
    type Batch = Batch;
    type Error = StoreError;

    fn audit_size(&self) -> Result<u64, StoreError> {
        match self.db.get_pinned_cf(self.cf(META), AUDIT_SIZE)? {
            None => Ok(0),
            Some(value) => <[u8; 8]>::try_from(&value[..])
                .map(u64::from_be_bytes)
                .map_err(|_| corrupt_because(AUDIT_SIZE, "not a size")),
        }
    }

    fn audit_entry(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let key = seq.to_be_bytes();
        match self.db.get_pinned_cf(self.cf(AUDIT_ENTRIES), key)? {
            None => Ok(None),
            Some(value) => Ok(Some(decode(&key, &value)?.to_vec())),
        }
    }

    fn audit_entries(&self, from: u64, limit: usize) -> Result<Vec<Vec<u8>>, StoreError> {
        let start = from.to_be_bytes();
        let mut entries = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf(AUDIT_ENTRIES),
            IteratorMode::From(&start, Direction::Forward),
        );
        for item in iter.take(limit) {
            let (key, value) = item?;
            entries.push(decode(&key, &value)?.to_vec());
        }
        Ok(entries)
    }

    fn audit_hashes(&self, indexes: &[u64]) -> Result<Vec<Option<[u8; 32]>>, StoreError> {
        let keys: Vec<[u8; 8]> = indexes.iter().map(|i| i.to_be_bytes()).collect();
        let cf = self.cf(AUDIT_HASHES);
        self.db
            .batched_multi_get_cf(cf, keys.iter(), false)
            .into_iter()
            .zip(&keys)
            .map(|(found, key)| match found? {
                None => Ok(None),
                Some(value) => <[u8; 32]>::try_from(decode(key, &value)?)
                    .map(Some)
                    .map_err(|_| corrupt_because(key, "not a hash")),
            })
            .collect()
    }

    fn put_audit_entry(
        &self,
        batch: &mut Batch,
        seq: u64,
        entry: &[u8],
        first_hash: u64,
        hashes: &[[u8; 32]],
    ) {
        batch
            .batch
            .put_cf(self.cf(AUDIT_ENTRIES), seq.to_be_bytes(), encode(entry));
        for (i, hash) in hashes.iter().enumerate() {
            batch.batch.put_cf(
                self.cf(AUDIT_HASHES),
                (first_hash + i as u64).to_be_bytes(),
                encode(hash),
            );
        }
        batch
            .batch
            .put_cf(self.cf(META), AUDIT_SIZE, (seq + 1).to_be_bytes());
    }

    fn batch(&self) -> Batch {
        Batch::default()
    }

    fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        Store::commit(self, batch)
    }
}

/// The org's issuer state: plain keys and values, laid out by the issuer module.
impl Store {
    /// The value under `key`.
    pub fn issuance(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_in(ISSUANCE, key)
    }

    /// The keys and values starting with `prefix`, in key order, at most `limit` of them and
    /// whether there were more.
    pub fn issuance_scan(
        &self,
        prefix: &[u8],
        limit: usize,
    ) -> Result<(Vec<Entry>, bool), StoreError> {
        self.scan_in(ISSUANCE, prefix, limit)
    }

    /// Sets `key` to `value`, in `batch`.
    pub fn put_issuance(&self, batch: &mut Batch, key: &[u8], value: &[u8]) {
        batch.batch.put_cf(self.cf(ISSUANCE), key, encode(value));
    }

    /// Removes `key`, in `batch`.
    pub fn delete_issuance(&self, batch: &mut Batch, key: &[u8]) {
        batch.batch.delete_cf(self.cf(ISSUANCE), key);
    }
}

/// What this node witnessed of the members' audit logs: plain keys and values, laid out by the
/// witness module.
impl Store {
    /// The value under `key`.
    pub fn witness(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_in(WITNESS, key)
    }

    /// The keys and values starting with `prefix`, in key order, at most `limit` of them and
    /// whether there were more.
    pub fn witness_scan(
        &self,
        prefix: &[u8],
        limit: usize,
    ) -> Result<(Vec<Entry>, bool), StoreError> {
        self.scan_in(WITNESS, prefix, limit)
    }

    /// Sets `key` to `value`, in `batch`.
    pub fn put_witness(&self, batch: &mut Batch, key: &[u8], value: &[u8]) {
        batch.batch.put_cf(self.cf(WITNESS), key, encode(value));
    }
}

impl Store {
    fn get_in(&self, family: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.db.get_pinned_cf(self.cf(family), key)? {
            None => Ok(None),
            Some(value) => Ok(Some(decode(key, &value)?.to_vec())),
        }
    }

    fn scan_in(
        &self,
        family: &str,
        prefix: &[u8],
        limit: usize,
    ) -> Result<(Vec<Entry>, bool), StoreError> {
        let mut found = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf(family),
            IteratorMode::From(prefix, Direction::Forward),
        );
        for item in iter {
            let (key, value) = item?;
            if !key.starts_with(prefix) {
                break;
            }
            if found.len() == limit {
                return Ok((found, true));
            }
            let value = decode(&key, &value)?.to_vec();
            found.push((key.to_vec(), value));
        }
        Ok((found, false))
    }
}

/// Revocation events.
impl Store {
    /// The event `id` of `issuer`, as stored.
    pub fn revocation_event(&self, issuer: &Did, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = event_key(issuer, id);
        match self.db.get_pinned_cf(self.cf(REVOCATION_EVENTS), &key)? {
            None => Ok(None),
            Some(value) => Ok(Some(decode(&key, &value)?.to_vec())),
        }
    }

    /// Stores a verified event, dated `issued`, in `batch`.
    pub fn put_revocation_event(
        &self,
        batch: &mut Batch,
        issuer: &Did,
        id: &str,
        json: &[u8],
        issued: DateTime<Utc>,
    ) {
        let key = event_key(issuer, id);
        self.index(
            batch,
            Collection::RevocationEvents,
            timestamp(issued),
            json,
            REVOCATION_EVENTS,
            &key,
        );
        batch
            .batch
            .put_cf(self.cf(REVOCATION_EVENTS), &key, encode(json));
    }

    /// The events of `issuer` (of every issuer: `None`), as stored, at most `limit`.
    pub fn revocation_events(
        &self,
        issuer: Option<&Did>,
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let prefix = issuer.map(did_prefix).unwrap_or_default();
        let mut events = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf(REVOCATION_EVENTS),
            IteratorMode::From(&prefix, Direction::Forward),
        );
        for item in iter.take(limit) {
            let (key, value) = item?;
            if !key.starts_with(&prefix) {
                break;
            }
            events.push(decode(&key, &value)?.to_vec());
        }
        Ok(events)
    }
}

/// `<issuer DID> 0x00 <event id>`.
fn event_key(issuer: &Did, id: &str) -> Vec<u8> {
    let mut key = did_prefix(issuer);
    key.extend_from_slice(id.as_bytes());
    key
}

fn corrupt_because(key: &[u8], reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: reason.to_string(),
    }
}

/// `<collection> <timestamp> <id>`.
fn sync_item_key(collection: Collection, timestamp: u64, id: &ItemId) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + 8 + ID_BYTES);
    key.push(collection.tag());
    key.extend_from_slice(&timestamp.to_be_bytes());
    key.extend_from_slice(id);
    key
}

/// `<collection> <id>`.
fn sync_id_key(collection: Collection, id: &ItemId) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + ID_BYTES);
    key.push(collection.tag());
    key.extend_from_slice(id);
    key
}

fn corrupt(key: &[u8]) -> StoreError {
    StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: "not <did> 0 <version>".into(),
    }
}

fn did_of_key(key: &[u8], end: usize) -> Result<Did, StoreError> {
    std::str::from_utf8(&key[..end])
        .ok()
        .and_then(|s| Did::parse(s).ok())
        .ok_or_else(|| corrupt(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use vouch_core::did_vouch::{DocumentContent, create, update};
    use vouch_core::key::KeyPair;

    fn record(store: &Store, log: &DidLog, operation: &Operation, applied: Applied, head: &[u8]) {
        let mut batch = Batch::default();
        store.record(&mut batch, log, operation, applied, head);
        store.commit(batch).unwrap();
    }

    #[test]
    fn logs_survive_reopening_and_other_formats_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<KeyPair> = (0..4).map(|_| KeyPair::generate()).collect();
        let content = DocumentContent::single_key(&keys[0].public());
        let (did, genesis) =
            create(content.clone(), &keys[1], &[keys[2].public()], Utc::now()).unwrap();
        let mut log = DidLog::new(genesis.clone()).unwrap();
        let next;
        {
            let store = Store::open(dir.path()).unwrap();
            assert!(store.did_log(&did).unwrap().is_none());
            record(&store, &log, &genesis, Applied::Appended, b"{\"v\":1}");
            let later = Utc::now() + chrono::Duration::seconds(1);
            next = update(&log, content, &keys[2], &[keys[3].public()], later).unwrap();
            let applied = log.apply(next.clone()).unwrap();
            record(&store, &log, &next, applied, b"{\"v\":2}");
            assert_eq!(store.sync_generation(Collection::DidOperations), 2);
            assert_eq!(store.sync_generation(Collection::StatusLists), 0);
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.did_log(&did).unwrap(), Some(log));
        assert_eq!(
            store.did_head(&did).unwrap().as_deref(),
            Some(&b"{\"v\":2}"[..])
        );
        assert_eq!(store.dids().unwrap(), vec![did]);
        // Both operations are in the sync index, in time order, and fetch by id as stored.
        let items = store.sync_items(Collection::DidOperations).unwrap();
        let ids: Vec<ItemId> = [&genesis, &next]
            .iter()
            .map(|op| item_id(op.to_json().as_bytes()))
            .collect();
        assert_eq!(items.iter().map(|(_, id)| *id).collect::<Vec<_>>(), ids);
        let fetched = store
            .sync_fetch(Collection::DidOperations, &[ids[1], [7; 32], ids[0]])
            .unwrap();
        assert_eq!(
            fetched,
            vec![next.to_json().into_bytes(), genesis.to_json().into_bytes()]
        );
        assert!(
            store
                .sync_items(Collection::StatusLists)
                .unwrap()
                .is_empty()
        );

        store
            .db
            .put_cf(store.cf(META), b"format_version", 7u32.to_be_bytes())
            .unwrap();
        drop(store);
        assert!(matches!(
            Store::open(dir.path()),
            Err(StoreError::Format { found: 7 })
        ));
    }

    #[test]
    fn a_database_written_before_the_sync_index_gets_it_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<KeyPair> = (0..3).map(|_| KeyPair::generate()).collect();
        let (_, genesis) = create(
            DocumentContent::single_key(&keys[0].public()),
            &keys[1],
            &[keys[2].public()],
            Utc::now(),
        )
        .unwrap();
        let log = DidLog::new(genesis.clone()).unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            record(&store, &log, &genesis, Applied::Appended, b"{}");
            // As an older node left it: no index.
            for family in [SYNC_ITEMS, SYNC_IDS] {
                let keys: Vec<Box<[u8]>> = store
                    .db
                    .iterator_cf(store.cf(family), IteratorMode::Start)
                    .map(|item| item.unwrap().0)
                    .collect();
                for key in keys {
                    store.db.delete_cf(store.cf(family), key).unwrap();
                }
            }
            store
                .db
                .delete_cf(store.cf(META), SYNC_INDEX_BUILT)
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let items = store.sync_items(Collection::DidOperations).unwrap();
        assert_eq!(
            items,
            vec![(
                timestamp(genesis.created.time()),
                item_id(genesis.to_json().as_bytes())
            )]
        );
    }
}
