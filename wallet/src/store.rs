//! The wallet's own RocksDB, in its folder: the credentials its agent instance holds (by id,
//! with indexes by task and by expiry, expired ones pruned) and its audit log (DESIGN §9),
//! signed by the instance's key; one wallet per instance, bound to it when the folder is made.

use std::path::Path;

use rocksdb::{
    ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, WriteBatch, WriteOptions,
};
use vouch_core::audit::log::{Log, LogStore};
use vouch_core::did::Did;

const META: &str = "meta";
const AUDIT_ENTRIES: &str = "audit_entries";
const AUDIT_HASHES: &str = "audit_hashes";
const CREDENTIALS: &str = "credentials";
const BY_TASK: &str = "credentials_by_task";
const BY_EXPIRY: &str = "credentials_by_expiry";
/// The credentials above the delegated ones held: presented with them, as their chains.
const ANCESTORS: &str = "ancestors";
const FAMILIES: [&str; 7] = [
    META,
    AUDIT_ENTRIES,
    AUDIT_HASHES,
    CREDENTIALS,
    BY_TASK,
    BY_EXPIRY,
    ANCESTORS,
];
/// The most credentials a wallet holds.
pub const MAX_CREDENTIALS: usize = 10_000;
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
    /// A credential the wallet will not hold.
    #[error("not held: {0}")]
    Refused(String),
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

/// A credential held: its id, task, end of validity, and the credential as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    /// Its id.
    pub id: String,
    /// Its task's id.
    pub task: String,
    /// Its `validUntil`.
    pub valid_until: chrono::DateTime<chrono::Utc>,
    /// The credential, as received.
    pub credential: serde_json::Value,
}

fn expiry_key(valid_until: chrono::DateTime<chrono::Utc>, id: &str) -> Vec<u8> {
    let mut key = valid_until.timestamp_millis().max(0).to_be_bytes().to_vec();
    key.extend_from_slice(id.as_bytes());
    key
}

fn task_key(task: &str, id: &str) -> Vec<u8> {
    let mut key = task.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(id.as_bytes());
    key
}

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

    /// Keeps a credential its instance holds (read completely, its subject the instance), with
    /// its indexes; the same id again replaces nothing. Returns whether it was new.
    pub fn put_credential(
        &self,
        credential: &serde_json::Value,
        instance: &Did,
    ) -> Result<bool, WalletStoreError> {
        let typed = vouch_core::credential::AgentCapabilityCredential::from_json(credential)
            .map_err(|e| WalletStoreError::Refused(e.to_string()))?;
        if typed.credential_subject.id != *instance {
            return Err(WalletStoreError::Refused(format!(
                "its subject is {}, not this wallet's instance",
                typed.credential_subject.id
            )));
        }
        let id = typed.id.to_string();
        if self
            .db
            .get_cf(self.cf(CREDENTIALS), id.as_bytes())?
            .is_some()
        {
            return Ok(false);
        }
        if self.count_credentials()? >= MAX_CREDENTIALS {
            return Err(WalletStoreError::Refused(format!(
                "the wallet holds {MAX_CREDENTIALS} credentials already"
            )));
        }
        let mut batch = WalletBatch::default();
        let bytes = serde_json::to_vec(credential).expect("JSON values always serialize");
        batch.0.put_cf(self.cf(CREDENTIALS), id.as_bytes(), bytes);
        batch.0.put_cf(
            self.cf(BY_TASK),
            task_key(&typed.credential_subject.task.id, &id),
            [],
        );
        batch
            .0
            .put_cf(self.cf(BY_EXPIRY), expiry_key(typed.valid_until, &id), []);
        self.write(batch)?;
        Ok(true)
    }

    fn count_credentials(&self) -> Result<usize, WalletStoreError> {
        self.count(CREDENTIALS)
    }

    fn count(&self, family: &str) -> Result<usize, WalletStoreError> {
        let mut n = 0;
        for item in self.db.iterator_cf(self.cf(family), IteratorMode::Start) {
            item?;
            n += 1;
        }
        Ok(n)
    }

    /// Keeps a credential above a delegated one the instance holds (read completely): it is
    /// presented with it, as its chain. Returns whether it was new.
    pub fn put_ancestor(&self, credential: &serde_json::Value) -> Result<bool, WalletStoreError> {
        let typed = vouch_core::credential::AgentCapabilityCredential::from_json(credential)
            .map_err(|e| WalletStoreError::Refused(format!("an ancestor: {e}")))?;
        let id = typed.id.to_string();
        if self.db.get_cf(self.cf(ANCESTORS), id.as_bytes())?.is_some() {
            return Ok(false);
        }
        if self.count(ANCESTORS)? >= MAX_CREDENTIALS {
            return Err(WalletStoreError::Refused(format!(
                "the wallet holds {MAX_CREDENTIALS} ancestors already"
            )));
        }
        let mut batch = WalletBatch::default();
        let bytes = serde_json::to_vec(credential).expect("JSON values always serialize");
        batch.0.put_cf(self.cf(ANCESTORS), id.as_bytes(), bytes);
        self.write(batch)?;
        Ok(true)
    }

    /// A credential above a delegated one, by id: an ancestor kept, or a credential held (a
    /// sub-agent's parent may be the instance's own).
    pub fn ancestor(&self, id: &str) -> Result<Option<serde_json::Value>, WalletStoreError> {
        if let Some(bytes) = self.db.get_cf(self.cf(ANCESTORS), id.as_bytes())? {
            return serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| WalletStoreError::Corrupt(format!("an ancestor: {e}")));
        }
        Ok(self.credential(id)?.map(|held| held.credential))
    }

    fn held(&self, id: &[u8]) -> Result<Option<Held>, WalletStoreError> {
        Ok(self.held_typed(id)?.map(|(held, _)| held))
    }

    /// A credential held, and its typed form (read once).
    fn held_typed(
        &self,
        id: &[u8],
    ) -> Result<Option<(Held, vouch_core::credential::AgentCapabilityCredential)>, WalletStoreError>
    {
        let Some(bytes) = self.db.get_cf(self.cf(CREDENTIALS), id)? else {
            return Ok(None);
        };
        let credential: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| WalletStoreError::Corrupt(format!("a credential: {e}")))?;
        let typed = vouch_core::credential::AgentCapabilityCredential::from_json(&credential)
            .map_err(|e| WalletStoreError::Corrupt(format!("a credential: {e}")))?;
        let held = Held {
            id: typed.id.to_string(),
            task: typed.credential_subject.task.id.clone(),
            valid_until: typed.valid_until,
            credential,
        };
        Ok(Some((held, typed)))
    }

    /// A credential by id.
    pub fn credential(&self, id: &str) -> Result<Option<Held>, WalletStoreError> {
        self.held(id.as_bytes())
    }

    /// A credential by id, with its typed form.
    pub fn credential_typed(
        &self,
        id: &str,
    ) -> Result<Option<(Held, vouch_core::credential::AgentCapabilityCredential)>, WalletStoreError>
    {
        self.held_typed(id.as_bytes())
    }

    /// The credentials held for a task, or all, by id.
    pub fn credentials(&self, task: Option<&str>) -> Result<Vec<Held>, WalletStoreError> {
        let mut found = Vec::new();
        match task {
            Some(task) => {
                let prefix = task_key(task, "");
                let iter = self.db.iterator_cf(
                    self.cf(BY_TASK),
                    IteratorMode::From(&prefix, Direction::Forward),
                );
                for item in iter {
                    let (key, _) = item?;
                    if !key.starts_with(&prefix) {
                        break;
                    }
                    found.extend(self.held(&key[prefix.len()..])?);
                }
            }
            None => {
                for item in self
                    .db
                    .iterator_cf(self.cf(CREDENTIALS), IteratorMode::Start)
                {
                    let (key, _) = item?;
                    found.extend(self.held(&key)?);
                }
            }
        }
        Ok(found)
    }

    /// The credentials whose `validUntil` is before `time`, soonest first: those to renew
    /// before it, or (with now) the expired.
    pub fn expiring_before(
        &self,
        time: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Held>, WalletStoreError> {
        let end = time.timestamp_millis().max(0).to_be_bytes();
        let mut found = Vec::new();
        for item in self.db.iterator_cf(self.cf(BY_EXPIRY), IteratorMode::Start) {
            let (key, _) = item?;
            if key.len() < 8 || key[..8] >= end[..] {
                break;
            }
            found.extend(self.held(&key[8..])?);
        }
        Ok(found)
    }

    /// Removes the credentials (and ancestors) expired at `now`, with their indexes, in one
    /// batch: how many credentials.
    pub fn prune(&self, now: chrono::DateTime<chrono::Utc>) -> Result<usize, WalletStoreError> {
        let expired = self.expiring_before(now)?;
        let mut batch = WalletBatch::default();
        for item in self.db.iterator_cf(self.cf(ANCESTORS), IteratorMode::Start) {
            let (id, bytes) = item?;
            let ended = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|c| vouch_core::credential::AgentCapabilityCredential::from_json(&c).ok())
                .is_none_or(|c| c.valid_until <= now);
            if ended {
                batch.0.delete_cf(self.cf(ANCESTORS), id);
            }
        }
        for held in &expired {
            batch.0.delete_cf(self.cf(CREDENTIALS), held.id.as_bytes());
            batch
                .0
                .delete_cf(self.cf(BY_TASK), task_key(&held.task, &held.id));
            batch
                .0
                .delete_cf(self.cf(BY_EXPIRY), expiry_key(held.valid_until, &held.id));
        }
        self.write(batch)?;
        Ok(expired.len())
    }

    /// The wallet's audit log, in this store, written by its instance.
    pub fn log(self: &std::sync::Arc<Self>, instance: &Did) -> WalletLog {
        Log::new(self.clone(), &instance.to_string())
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
    fn callers_recording_at_once_each_get_their_entries_together_and_the_log_verifies() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = KeyPair::generate();
        let instance = did_of(&key.public());
        let log = std::sync::Arc::new(WalletStore::open(dir.path(), &instance).expect("made"))
            .log(&instance);
        let (threads, each) = (8, 25);
        let recorded: Vec<Vec<(u64, String)>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let log = &log;
                    scope.spawn(move || {
                        (0..each)
                            .map(|i| {
                                // Two entries per call, which must stay together.
                                let task = format!("t{t}-{i}");
                                let entries = ["a", "b"]
                                    .map(|part| {
                                        let mut decided = entry(Event::Decided);
                                        decided.task = Some(task.clone());
                                        decided.action = Some(part.into());
                                        decided
                                    })
                                    .to_vec();
                                let last = log
                                    .record_all(entries, chrono::Utc::now())
                                    .expect("recorded")
                                    .expect("two entries");
                                (last, task)
                            })
                            .collect()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("no panic"))
                .collect()
        });
        let (size, _) = log.verify().expect("the log verifies");
        assert_eq!(size, threads * each * 2);
        let entries = log.entries(0).expect("entries");
        for (last, task) in recorded.into_iter().flatten() {
            let last = usize::try_from(last).expect("small");
            assert_eq!(entries[last].task.as_deref(), Some(task.as_str()));
            assert_eq!(entries[last].action.as_deref(), Some("b"));
            assert_eq!(entries[last - 1].task.as_deref(), Some(task.as_str()));
            assert_eq!(entries[last - 1].action.as_deref(), Some("a"));
        }
        // An entry that could never be written is refused alone, before it joins anyone.
        let mut long = entry(Event::Decided);
        long.task = Some("x".repeat(vouch_core::audit::MAX_TEXT + 1));
        assert!(log.record(long, chrono::Utc::now()).is_err());
        assert_eq!(log.size().expect("a size"), threads * each * 2);
    }

    #[test]
    fn a_wallets_log_is_its_instances_and_survives_a_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = KeyPair::generate();
        let instance = did_of(&key.public());
        let log = std::sync::Arc::new(WalletStore::open(dir.path(), &instance).expect("made"))
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
        let log = std::sync::Arc::new(WalletStore::open(dir.path(), &instance).expect("reopened"))
            .log(&instance);
        assert_eq!(log.verify().expect("whole").0, 3);
        let entries = log.entries(0).expect("entries");
        assert_eq!(entries[2].task.as_deref(), Some("t3"));
        assert!(entries.iter().all(|e| e.writer == instance.to_string()));
    }

    /// A credential of `task` for `holder`, issued by a fresh key at `from`, for `minutes`.
    fn credential(
        holder: &Did,
        task: &str,
        from: chrono::DateTime<chrono::Utc>,
        minutes: i64,
    ) -> serde_json::Value {
        use vouch_core::credential::{AgentDescription, DefinitionHash, Task};
        use vouch_core::delegation::{self, RootGrant};
        use vouch_core::hash::Multihash;
        let org = KeyPair::generate();
        let lifetime = chrono::Duration::minutes(minutes);
        let grant = RootGrant {
            issuer: did_of(&org.public()),
            subject: holder.clone(),
            agent: AgentDescription {
                name: "bot".into(),
                version: "1".into(),
                owner: "o@x.example".into(),
                definition_hash: DefinitionHash::compute(
                    "m",
                    "p",
                    &serde_json::json!([]),
                    &serde_json::json!({}),
                )
                .expect("a hash"),
            },
            principal: "urn:vouch:principal:p1".into(),
            task: Task {
                id: task.into(),
                purpose_hash: Multihash::of(b"triage"),
            },
            capabilities: vec![serde_json::json!({
                "action": "read:tickets", "resource": "https://h.example/t/**"
            })],
            audience: Vec::new(),
            valid_from: from,
            lifetime,
            max_renewals: 0,
            not_after: from + lifetime,
            max_depth: 2,
            status: Vec::new(),
        }
        .build()
        .expect("a credential");
        delegation::sign_credential(
            &grant,
            &org,
            vouch_core::did::key::verification_method_of(&org.public()),
            vouch_core::proof::Cryptosuite::EddsaJcs2022,
            from,
        )
        .expect("signed")
    }

    #[test]
    fn credentials_are_held_by_id_task_and_expiry_and_the_expired_are_pruned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let instance = did_of(&KeyPair::generate().public());
        let store = WalletStore::open(dir.path(), &instance).expect("made");
        let now = chrono::Utc::now();
        let early = credential(&instance, "t1", now - chrono::Duration::minutes(20), 15);
        let t1 = credential(&instance, "t1", now, 15);
        let t2 = credential(&instance, "t2", now, 60);
        for c in [&early, &t1, &t2] {
            assert!(store.put_credential(c, &instance).expect("held"));
        }
        // The same again is not new; another instance's is refused; so is a non-credential.
        assert!(!store.put_credential(&t1, &instance).expect("held"));
        let other = did_of(&KeyPair::generate().public());
        assert!(matches!(
            store.put_credential(&credential(&other, "t1", now, 15), &instance),
            Err(WalletStoreError::Refused(_))
        ));
        assert!(
            store
                .put_credential(&serde_json::json!({"id": "x"}), &instance)
                .is_err()
        );

        assert_eq!(store.credentials(None).expect("all").len(), 3);
        assert_eq!(store.credentials(Some("t1")).expect("t1").len(), 2);
        assert_eq!(
            store.credentials(Some("t")).expect("no prefix match").len(),
            0
        );
        let id = t2["id"].as_str().expect("an id");
        assert_eq!(
            store.credential(id).expect("read").expect("held").task,
            "t2"
        );
        // Expiring within 30 minutes: t1 (and the expired one), soonest first.
        let soon = store
            .expiring_before(now + chrono::Duration::minutes(30))
            .expect("due");
        assert_eq!(soon.len(), 2);
        assert!(soon[0].valid_until <= soon[1].valid_until);
        // Pruned: only the expired one, indexes and all.
        assert_eq!(store.prune(now).expect("pruned"), 1);
        assert_eq!(store.credentials(Some("t1")).expect("t1").len(), 1);
        assert_eq!(store.expiring_before(now).expect("none").len(), 0);
        assert_eq!(store.prune(now).expect("pruned"), 0);
    }
}
