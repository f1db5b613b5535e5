//! The org's own DID, held by the node: updates, key rotation and deactivation signed with the
//! node-held, pre-rotated update keys, and the key that signs the org's status lists.
//!
//! Every operation on the org's DID goes through one lock, from reading the log to storing the
//! new operation: two at once would both build on the same version and, both being validly
//! signed, be an equivocation that poisons the DID for good.
//!
//! All of it is blocking (keys are files, the registry is RocksDB); async callers go through
//! `spawn_blocking`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use vouch_core::did::resolve::DidResolver;
use vouch_core::did::{Did, DidUrl, ResolveError};
use vouch_core::did_vouch::{self, DidLog, DocumentContent, LogError, Operation, OperationType};
use vouch_core::key::KeyPair;

use crate::datadir::{self, DataDirError};
use crate::registry::{Registry, RegistryError};
use vouch_core::lock::MutexExt as _;

/// Why an operation on the org's DID failed.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    /// A key file is missing or unusable.
    #[error(transparent)]
    Keys(#[from] DataDirError),
    /// The operation could not be made from the log held.
    #[error(transparent)]
    Did(#[from] LogError),
    /// The registry refused the operation or failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The org's DID does not resolve (deactivated, or never stored).
    #[error("the org DID does not resolve: {0}")]
    Unresolvable(#[from] ResolveError),
}

/// The org's DID and the keys the node holds for it.
#[derive(Debug, Clone)]
pub struct Org {
    data_dir: PathBuf,
    did: Did,
    registry: Registry,
    lock: Arc<Mutex<()>>,
}

impl Org {
    /// The org of the node in `data_dir`.
    pub fn new(data_dir: PathBuf, did: Did, registry: Registry) -> Self {
        Self {
            data_dir,
            did,
            registry,
            lock: Arc::new(Mutex::new(())),
        }
    }

    /// The org's DID.
    pub fn did(&self) -> &Did {
        &self.did
    }

    fn log(&self) -> Result<DidLog, OrgError> {
        self.registry
            .log(&self.did)?
            .ok_or_else(|| OrgError::Unresolvable(ResolveError::NotFound(self.did.clone())))
    }

    /// Builds an operation from the org's log and stores it, under the lock.
    fn operate(
        &self,
        build: impl FnOnce(&DidLog) -> Result<Operation, OrgError>,
        now: DateTime<Utc>,
    ) -> Result<Operation, OrgError> {
        let _guard = self.lock.locked();
        let log = self.log()?;
        if log.is_deactivated() {
            return Err(ResolveError::Deactivated(self.did.clone()).into());
        }
        let operation = build(&log)?;
        self.registry.apply(operation.clone(), now)?;
        Ok(operation)
    }

    /// Sets the org DID's document, signed with the current update key, committing to the next.
    pub fn update(
        &self,
        document: DocumentContent,
        now: DateTime<Utc>,
    ) -> Result<Operation, OrgError> {
        self.operate(|log| self.next_update(log, document, now), now)
    }

    /// Replaces the org's signing key by a new one (`keys/org-N.key.json`), keeping the
    /// document's other identifiers and services. Credentials signed before no longer verify
    /// against the DID's current document: re-issue what must stay valid. (The node signs its
    /// status lists anew itself: `StatusLists::resign_stale`.)
    pub fn rotate(&self, now: DateTime<Utc>) -> Result<Operation, OrgError> {
        self.operate(
            |log| {
                let current = log
                    .operations()
                    .filter(|op| op.kind != OperationType::Deactivate)
                    .filter_map(|op| op.document.clone())
                    .last()
                    .unwrap_or_default();
                let key = datadir::new_org_key(&self.data_dir)?;
                let document = DocumentContent {
                    also_known_as: current.also_known_as,
                    service: current.service,
                    ..DocumentContent::single_key(&key.public())
                };
                self.next_update(log, document, now)
            },
            now,
        )
    }

    /// Ends the org's DID: it resolves as deactivated from then on, and nothing can undo it.
    pub fn deactivate(&self, now: DateTime<Utc>) -> Result<Operation, OrgError> {
        self.operate(
            |log| {
                let key = datadir::last_update_key(&self.data_dir, log)?;
                Ok(did_vouch::deactivate(log, &key, now)?)
            },
            now,
        )
    }

    /// The pseudonym under which the org's credentials name a principal (DESIGN §4):
    /// `urn:vouch:principal:<base58btc HMAC-SHA256>` keyed by the org's pseudonym key, so that the
    /// same principal always gets the same pseudonym from this org, another org's differs, and
    /// nobody without the key can tell whose it is. The raw principal id is never written.
    pub fn pseudonym(&self, principal: &str) -> Result<String, OrgError> {
        self.keyed_pseudonym(b"vouch principal pseudonym v1\0", "principal", principal)
    }

    /// The pseudonym under which the org's revocation events name an agent's owner
    /// (`urn:vouch:owner:…`), made as a principal's is under another label: an event never names
    /// a person, and an owner's pseudonym is no principal's.
    pub fn owner_pseudonym(&self, owner: &str) -> Result<String, OrgError> {
        self.keyed_pseudonym(b"vouch owner pseudonym v1\0", "owner", owner)
    }

    fn keyed_pseudonym(&self, label: &[u8], kind: &str, name: &str) -> Result<String, OrgError> {
        use hmac::Mac as _;
        let secret = datadir::pseudonym_secret(&self.data_dir)?;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&secret)
            .expect("HMAC takes a key of any length");
        mac.update(label);
        mac.update(name.as_bytes());
        let tag = mac.finalize().into_bytes();
        Ok(format!(
            "urn:vouch:{kind}:{}",
            bs58::encode(tag).into_string()
        ))
    }

    /// The key the org signs with now, and its verification method.
    pub fn signing_key(&self) -> Result<(KeyPair, DidUrl), OrgError> {
        let document = DidResolver::resolve(&self.registry, &self.did)?;
        Ok(datadir::org_signing_key(&self.data_dir, &document)?)
    }

    /// An update setting `document`, signed by the update key the log's head commits to and
    /// committing to the next one (written before the operation is made).
    fn next_update(
        &self,
        log: &DidLog,
        document: DocumentContent,
        now: DateTime<Utc>,
    ) -> Result<Operation, OrgError> {
        let (current, next) = datadir::update_keys(&self.data_dir, log)?;
        Ok(did_vouch::update(
            log,
            document,
            &current,
            &[next.public()],
            now,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(dir: &std::path::Path) -> Org {
        std::fs::create_dir_all(dir.join(datadir::KEYS)).unwrap();
        // A store of its own: the pseudonym key is a file of the data folder, not of the store.
        let db = dir.join(format!("db-{}", rand::random::<u64>()));
        let store = Arc::new(crate::store::Store::open(&db).unwrap());
        let registry = Registry::new(store, crate::metrics::Metrics::new());
        let did = Did::parse("did:vouch:zQmTestTestTestTestTestTestTestTestTestTestTest").unwrap();
        Org::new(dir.to_path_buf(), did, registry)
    }

    #[test]
    fn pseudonyms_are_stable_per_org_and_tell_nothing_of_the_principal() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (org_a, org_b) = (org(a.path()), org(b.path()));
        let principal = "alice@customer.example";
        let p = org_a.pseudonym(principal).unwrap();
        assert_eq!(org_a.pseudonym(principal).unwrap(), p, "stable");
        assert_eq!(
            org(a.path()).pseudonym(principal).unwrap(),
            p,
            "stable across restarts"
        );
        assert_ne!(org_a.pseudonym("bob@customer.example").unwrap(), p);
        assert_ne!(org_b.pseudonym(principal).unwrap(), p, "another org's key");
        assert!(!p.contains("alice") && !p.contains("customer"));
        // What a credential takes: urn:vouch:principal:, then 1 to 128 of [A-Za-z0-9._~-].
        let tail = p.strip_prefix("urn:vouch:principal:").unwrap();
        assert!((1..=128).contains(&tail.len()));
        assert!(tail.bytes().all(|c| c.is_ascii_alphanumeric()));
        // The key file: owner-only.
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(datadir::pseudonym_secret_path(a.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
