//! The wallet's own RocksDB, in its folder: today its audit log (DESIGN §9), signed by the
//! agent instance's key; one wallet per instance, bound to it when the folder is made.

use std::path::Path;

use rocksdb::{
    ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, WriteBatch, WriteOptions,
};
use vouch_core::audit::log::{Log, LogStore};
use vouch_core::did::Did;

const META: &str = "meta";
const AUDIT_ENTRIES: &str = "audit_entries";
const AUDIT_HASHES: &str = "audit_hashes";
const FAMILIES: [&str; 3] = [META, AUDIT_ENTRIES, AUDIT_HASHES];
/// The `meta` key of the instance the wallet belongs to.
const INSTANCE: &[u8] = b"instance";
/// The `meta` key of the audit log's size.
const AUDIT_SIZE: &[u8] = b"audit/size";

/// Why the wallet's store failed.
#[derive(Debug, thiserror::Error)]
pub enum WalletStoreError {
    /// RocksDB failed (another process holds the folder, say).
    #[error("the wallet's database: {0}")]
    Db(#[from] rocksdb::Error),
    /// The folder belongs to another agent instance.
    #[error("this wallet belongs to {held}, not {given}")]
    OtherInstance {
        /// The instance it was made for.
        held: String,
        /// The instance given.
        given: String,
    },
    /// A stored value is not what it should be.
    #[error("the wallet's database is damaged: {0}")]
    Corrupt(String),
}

/// The wallet's database.
pub struct WalletStore {
    db: DB,
}

/// Changes written together, atomically.
#[derive(Default)]
pub struct WalletBatch(WriteBatch);

/// The wallet's audit log.
pub type WalletLog = Log<WalletStore>;

impl WalletStore {
    /// Opens (or makes) the wallet in `dir` for the agent instance `instance`: a wallet made
    /// for another instance is refused.
    pub fn open(dir: &Path, instance: &Did) -> Result<Self, WalletStoreError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let families = FAMILIES
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db = DB::open_cf_descriptors(&options, dir, families)?;
        let store = Self { db };
        let given = instance.to_string();
        match store.db.get_cf(store.cf(META), INSTANCE)? {
            Some(held) if held != given.as_bytes() => {
                return Err(WalletStoreError::OtherInstance {
                    held: String::from_utf8_lossy(&held).into_owned(),
                    given,
                });
            }
            Some(_) => {}
            None => {
                let mut batch = WalletBatch::default();
                batch.0.put_cf(store.cf(META), INSTANCE, given.as_bytes());
                store.write(batch)?;
            }
        }
        Ok(store)
    }

    /// The wallet's audit log, in this store, written by its instance.
    pub fn log(self, instance: &Did) -> WalletLog {
        Log::new(std::sync::Arc::new(self), &instance.to_string())
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("every column family is made when the database is opened")
    }

    fn write(&self, batch: WalletBatch) -> Result<(), WalletStoreError> {
        let mut options = WriteOptions::default();
        options.set_sync(true);
        Ok(self.db.write_opt(batch.0, &options)?)
    }
}

impl LogStore for WalletStore {
    type Batch = WalletBatch;
    type Error = WalletStoreError;

    fn audit_size(&self) -> Result<u64, WalletStoreError> {
        match self.db.get_cf(self.cf(META), AUDIT_SIZE)? {
            None => Ok(0),
            Some(value) => <[u8; 8]>::try_from(&value[..])
                .map(u64::from_be_bytes)
                .map_err(|_| WalletStoreError::Corrupt("the audit log's size".into())),
        }
    }

    fn audit_entry(&self, seq: u64) -> Result<Option<Vec<u8>>, WalletStoreError> {
        Ok(self.db.get_cf(self.cf(AUDIT_ENTRIES), seq.to_be_bytes())?)
    }

    fn audit_entries(&self, from: u64, limit: usize) -> Result<Vec<Vec<u8>>, WalletStoreError> {
        let start = from.to_be_bytes();
        let iter = self.db.iterator_cf(
            self.cf(AUDIT_ENTRIES),
            IteratorMode::From(&start, Direction::Forward),
        );
        iter.take(limit).map(|item| Ok(item?.1.to_vec())).collect()
    }

    fn audit_hashes(&self, indexes: &[u64]) -> Result<Vec<Option<[u8; 32]>>, WalletStoreError> {
        let cf = self.cf(AUDIT_HASHES);
        let keys: Vec<[u8; 8]> = indexes.iter().map(|i| i.to_be_bytes()).collect();
        self.db
            .batched_multi_get_cf(cf, keys.iter(), false)
            .into_iter()
            .map(|found| match found? {
                None => Ok(None),
                Some(value) => <[u8; 32]>::try_from(&value[..])
                    .map(Some)
                    .map_err(|_| WalletStoreError::Corrupt("a tree hash".into())),
            })
            .collect()
    }

    fn put_audit_entry(
        &self,
        batch: &mut WalletBatch,
        seq: u64,
        entry: &[u8],
        first_hash: u64,
        hashes: &[[u8; 32]],
    ) {
        batch
            .0
            .put_cf(self.cf(AUDIT_ENTRIES), seq.to_be_bytes(), entry);
        for (i, hash) in hashes.iter().enumerate() {
            batch.0.put_cf(
                self.cf(AUDIT_HASHES),
                (first_hash + i as u64).to_be_bytes(),
                hash,
            );
        }
        batch
            .0
            .put_cf(self.cf(META), AUDIT_SIZE, (seq + 1).to_be_bytes());
    }

    fn batch(&self) -> WalletBatch {
        WalletBatch::default()
    }

    fn commit(&self, batch: WalletBatch) -> Result<(), WalletStoreError> {
        self.write(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_core::audit::{Event, checkpoint, log::entry};
    use vouch_core::did::key::did_of;
    use vouch_core::key::KeyPair;

    #[test]
    fn a_wallets_log_is_its_instances_and_survives_a_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = KeyPair::generate();
        let instance = did_of(&key.public());
        let log = WalletStore::open(dir.path(), &instance)
            .expect("made")
            .log(&instance);
        for task in ["t1", "t2", "t3"] {
            let mut delegated = entry(Event::Delegated);
            delegated.task = Some(task.into());
            log.record(delegated, chrono::Utc::now()).expect("recorded");
        }
        let note = log.checkpoint(&key).expect("signed");
        let opened = checkpoint::open(&note, &log.origin(), &key.public()).expect("opens");
        assert_eq!(opened.size, 3);
        assert_eq!(log.origin(), format!("{instance}/audit"));
        drop(log);

        // Another instance's key is refused; the same instance finds its log whole.
        let other = did_of(&KeyPair::generate().public());
        assert!(matches!(
            WalletStore::open(dir.path(), &other),
            Err(WalletStoreError::OtherInstance { .. })
        ));
        let log = WalletStore::open(dir.path(), &instance)
            .expect("reopened")
            .log(&instance);
        assert_eq!(log.verify().expect("whole").0, 3);
        let entries = log.entries(0).expect("entries");
        assert_eq!(entries[2].task.as_deref(), Some("t3"));
        assert!(entries.iter().all(|e| e.writer == instance.to_string()));
    }
}
