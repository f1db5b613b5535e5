//! The node's state in RocksDB: the only module that names it.
//!
//! Column families, one per kind of data:
//! - `meta`: the stored format version.
//! - `did_ops`: `<did> 0x00 <version, u64 big-endian>` → the accepted operation.
//! - `did_evidence`: `<did> 0x00 <version> <operation hash>` → an operation that equivocates.
//! - `did_heads`: `<did>` → the DID's latest resolution (`registry::Head`), kept with every write
//!   so that resolving the current version reads one value.
//! - `status_lists`: `<issuer DID>/<list name>` → the newest signed status list credential held.
//!
//! Every value starts with a one-byte format tag. Everything one change writes goes in one
//! `WriteBatch`, written with `sync`, so a change is on disk before it is acknowledged and a crash
//! never leaves half of one. RocksDB is synchronous: async callers go through `spawn_blocking`.

use std::path::Path;

use rocksdb::{
    ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, WriteBatch, WriteOptions,
};
use vouch_core::did::Did;
use vouch_core::did::vouch::{Applied, DidLog, LogError, Operation};

/// The format of the database as a whole; a node refuses a database of another format.
const FORMAT_VERSION: u32 = 1;
/// The tag every stored value starts with.
const VALUE_FORMAT: u8 = 1;

const META: &str = "meta";
const DID_OPS: &str = "did_ops";
const DID_EVIDENCE: &str = "did_evidence";
const DID_HEADS: &str = "did_heads";
const STATUS_LISTS: &str = "status_lists";
const COLUMN_FAMILIES: [&str; 5] = [META, DID_OPS, DID_EVIDENCE, DID_HEADS, STATUS_LISTS];

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
    /// A stored value is unreadable: the database is damaged.
    #[error("corrupt value under {key}: {reason}")]
    Corrupt {
        /// Where.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// The node's database.
pub struct Store {
    db: DB,
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

impl Store {
    /// Opens (or creates) the database in `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let families = COLUMN_FAMILIES
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db = DB::open_cf_descriptors(&options, path, families)?;
        let store = Self { db };
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
        Ok(store)
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
    /// with the DID's new head, in one atomic write.
    pub fn record(
        &self,
        log: &DidLog,
        operation: &Operation,
        applied: Applied,
        head: &[u8],
    ) -> Result<(), StoreError> {
        let did = log.did();
        let mut batch = WriteBatch::default();
        let json = encode(operation.to_json().as_bytes());
        match applied {
            Applied::Duplicate | Applied::EvidenceFull => return Ok(()),
            Applied::Appended => {
                batch.put_cf(self.cf(DID_OPS), op_key(did, operation.version), json)
            }
            Applied::Equivocation => {
                let mut key = op_key(did, operation.version);
                key.extend_from_slice(operation.hash().as_str().as_bytes());
                batch.put_cf(self.cf(DID_EVIDENCE), key, json);
            }
        }
        batch.put_cf(self.cf(DID_HEADS), did.as_str(), encode(head));
        self.write(batch)
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

    /// Every DID the node holds, with the number of its last accepted version and of its
    /// equivocation evidence.
    pub fn inventory(&self) -> Result<Vec<(Did, u64, u64)>, StoreError> {
        let mut inventory: Vec<(Did, u64, u64)> = Vec::new();
        for item in self.db.iterator_cf(self.cf(DID_OPS), IteratorMode::Start) {
            let (key, _) = item?;
            let (did, version) = split_key(&key)?;
            match inventory.last_mut() {
                Some((last, v, _)) if *last == did => *v = version,
                _ => inventory.push((did, version, 0)),
            }
        }
        for item in self
            .db
            .iterator_cf(self.cf(DID_EVIDENCE), IteratorMode::Start)
        {
            let (key, _) = item?;
            let did = split_evidence_key(&key)?;
            if let Some(entry) = inventory.iter_mut().find(|(d, _, _)| *d == did) {
                entry.2 += 1;
            }
        }
        Ok(inventory)
    }
}

/// Status lists.
impl Store {
    /// The signed status list credential held under `key` (`<issuer DID>/<name>`), as JSON.
    pub fn status_list(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self
            .db
            .get_pinned_cf(self.cf(STATUS_LISTS), key.as_bytes())?
        {
            None => Ok(None),
            Some(value) => Ok(Some(decode(key.as_bytes(), &value)?.to_vec())),
        }
    }

    /// Stores a signed status list credential under `key`, replacing the version held. The
    /// caller has verified that it supersedes that version.
    pub fn put_status_list(&self, key: &str, json: &[u8]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(STATUS_LISTS), key.as_bytes(), encode(json));
        self.write(batch)
    }

    /// Every status list held: its key and its signed credential as JSON.
    pub fn status_lists(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
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
            lists.push((key, json));
        }
        Ok(lists)
    }
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

/// Reads `<did> 0x00 <version>`.
fn split_key(key: &[u8]) -> Result<(Did, u64), StoreError> {
    let split = key.len().checked_sub(9).ok_or_else(|| corrupt(key))?;
    let version = <[u8; 8]>::try_from(&key[split + 1..])
        .map(u64::from_be_bytes)
        .map_err(|_| corrupt(key))?;
    Ok((did_of_key(key, split)?, version))
}

/// Reads the DID of `<did> 0x00 <version> <hash>`.
fn split_evidence_key(key: &[u8]) -> Result<Did, StoreError> {
    let end = key
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| corrupt(key))?;
    did_of_key(key, end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use vouch_core::did::vouch::{DocumentContent, create, update};
    use vouch_core::key::KeyPair;

    #[test]
    fn logs_survive_reopening_and_other_formats_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<KeyPair> = (0..4).map(|_| KeyPair::generate()).collect();
        let content = DocumentContent::single_key(&keys[0].public());
        let (did, genesis) =
            create(content.clone(), &keys[1], &[keys[2].public()], Utc::now()).unwrap();
        let mut log = DidLog::new(genesis.clone()).unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            assert!(store.did_log(&did).unwrap().is_none());
            store
                .record(&log, &genesis, Applied::Appended, b"{\"v\":1}")
                .unwrap();
            let next = update(&log, content, &keys[2], &[keys[3].public()], Utc::now()).unwrap();
            let applied = log.apply(next.clone()).unwrap();
            store.record(&log, &next, applied, b"{\"v\":2}").unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.did_log(&did).unwrap(), Some(log));
        assert_eq!(
            store.did_head(&did).unwrap().as_deref(),
            Some(&b"{\"v\":2}"[..])
        );
        assert_eq!(store.inventory().unwrap(), vec![(did, 2, 0)]);
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
}
