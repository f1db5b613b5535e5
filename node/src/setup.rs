//! `vouch-node init`: a new node's data folder, with the node key, the org's did:vouch (its first
//! two update keys pre-rotated) and the admin token.
//!
//! Layout of the data folder:
//! - `node.key.json`: the node key (0600): the org DID's key and the libp2p identity.
//! - `keys/update-N.key.json`: the org DID's update keys (0600). The one that signs the next
//!   operation is the one the DID's last operation commits to: it is read off the log, never
//!   kept apart from it, so a crash between writing a key and storing an operation loses nothing.
//! - `keys/org-N.key.json`: the org's signing keys after a rotation (0600); before the first, the
//!   node key is the org's key.
//! - `identity.json`: the org's DID and the node's peer id.
//! - `admin.token`: the admin API's bearer token (0600).
//! - `db/`: RocksDB.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vouch_core::did::document::{DidDocument, Relationship};
use vouch_core::did::vouch::{self, DocumentContent};
use vouch_core::did::{Did, DidUrl};
use vouch_core::key::{KeyPair, PublicKey};
use vouch_wallet::keyfile;

use crate::config::Config;
use crate::net;
use crate::registry::Registry;
use crate::store::Store;

/// The node key's file in the data folder.
pub const NODE_KEY: &str = "node.key.json";
/// The identity file in the data folder.
pub const IDENTITY: &str = "identity.json";
/// The database folder in the data folder.
pub const DB: &str = "db";

/// Who this node is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Identity {
    /// The org's did:vouch.
    pub did: Did,
    /// The node's libp2p peer id.
    pub peer_id: String,
}

/// Why setting up or reading a data folder failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The data folder already holds a node.
    #[error("{0} already holds a node (found {IDENTITY})")]
    AlreadyInitialized(String),
    /// The data folder holds no node.
    #[error("{0} holds no node: run `vouch-node init` first")]
    NotInitialized(String),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A key file is unusable.
    #[error(transparent)]
    Key(#[from] keyfile::KeyFileError),
    /// The identity file is unreadable.
    #[error("{path}: {reason}")]
    Identity {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The DID could not be made or stored.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The DID could not be made.
    #[error(transparent)]
    Did(#[from] vouch::LogError),
    /// A key the org DID needs is not in the data folder.
    #[error("{0}")]
    NoKey(&'static str),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SetupError + '_ {
    move |source| SetupError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The file of update key `n`.
pub fn update_key_path(data_dir: &Path, n: u32) -> PathBuf {
    data_dir.join("keys").join(format!("update-{n}.key.json"))
}

/// Writes a new file readable by its owner only; never overwrites.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SetupError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    file.write_all(bytes).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// Creates a node in the configuration's data folder.
pub fn init(config: &Config, now: DateTime<Utc>) -> Result<Identity, SetupError> {
    let dir = &config.data_dir;
    if dir.join(IDENTITY).exists() {
        return Err(SetupError::AlreadyInitialized(dir.display().to_string()));
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir.join("keys"))
        .map_err(io(dir))?;

    let node_key = KeyPair::generate();
    keyfile::write(&dir.join(NODE_KEY), &node_key)?;
    let (first, next) = (KeyPair::generate(), KeyPair::generate());
    keyfile::write(&update_key_path(dir, 1), &first)?;
    keyfile::write(&update_key_path(dir, 2), &next)?;

    let (did, genesis) = vouch::create(
        DocumentContent::single_key(&node_key.public()),
        &first,
        &[next.public()],
        now,
    )?;
    let store = std::sync::Arc::new(Store::open(&dir.join(DB))?);
    Registry::new(store, crate::metrics::Metrics::new()).apply(genesis, now)?;

    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    write_private(
        &config.in_data_dir(&config.http.admin_token_file),
        token.as_bytes(),
    )?;

    // The identity file is written last: its presence means the folder is complete.
    let identity = Identity {
        did,
        peer_id: net::peer_id_of(&node_key),
    };
    let json = serde_json::to_vec_pretty(&identity).expect("an identity always serializes");
    write_private(&dir.join(IDENTITY), &json)?;
    Ok(identity)
}

/// Reads the identity of the node in a data folder.
pub fn identity(data_dir: &Path) -> Result<Identity, SetupError> {
    let path = data_dir.join(IDENTITY);
    let text = match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SetupError::NotInitialized(data_dir.display().to_string()));
        }
        other => other.map_err(io(&path))?,
    };
    serde_json::from_str(&text).map_err(|e| SetupError::Identity {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// The number N of the update key `keys/update-N.key.json` that the last operation of `log`
/// commits to: the key that signs the next operation.
pub fn current_update_key(data_dir: &Path, log: &vouch::DidLog) -> Result<u32, SetupError> {
    let committed = &log.head().next_key_hashes;
    // Newest first: the key in force is one of the last two written.
    for n in numbered_keys(data_dir, "update-")?.into_iter().rev() {
        let key = keyfile::read(&update_key_path(data_dir, n))?;
        if committed.contains(&vouch::next_key_hash(&key.public())) {
            return Ok(n);
        }
    }
    Err(SetupError::NoKey(
        "no update key in keys/ is the one the org DID's last operation commits to",
    ))
}

/// The next operation of the org's DID: an update setting `document`, signed by the update key
/// that the log's head commits to, committing to a new key (written before the operation is
/// returned). The caller submits the operation.
pub fn next_update(
    data_dir: &Path,
    log: &vouch::DidLog,
    document: DocumentContent,
    now: DateTime<Utc>,
) -> Result<vouch::Operation, SetupError> {
    let n = current_update_key(data_dir, log)?;
    let current = keyfile::read(&update_key_path(data_dir, n))?;
    let next_path = update_key_path(data_dir, n + 1);
    if !next_path.exists() {
        keyfile::write(&next_path, &KeyPair::generate())?;
    }
    let next = keyfile::read(&next_path)?;
    Ok(vouch::update(
        log,
        document,
        &current,
        &[next.public()],
        now,
    )?)
}

/// The operation that deactivates the org's DID, signed by its current update key.
pub fn deactivation(
    data_dir: &Path,
    log: &vouch::DidLog,
    now: DateTime<Utc>,
) -> Result<vouch::Operation, SetupError> {
    let n = current_update_key(data_dir, log)?;
    let current = keyfile::read(&update_key_path(data_dir, n))?;
    Ok(vouch::deactivate(log, &current, now)?)
}

/// The numbers N of the files `keys/<prefix>N.key.json`, in increasing order.
fn numbered_keys(data_dir: &Path, prefix: &str) -> Result<Vec<u32>, SetupError> {
    let keys = data_dir.join("keys");
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir(&keys).map_err(io(&keys))? {
        let name = entry.map_err(io(&keys))?.file_name();
        if let Some(n) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|n| n.strip_suffix(".key.json"))
            .and_then(|n| n.parse().ok())
        {
            numbers.push(n);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

fn org_key_path(data_dir: &Path, n: u32) -> PathBuf {
    data_dir.join("keys").join(format!("org-{n}.key.json"))
}

/// Writes a new org signing key as `keys/org-N.key.json`, N one more than the highest.
pub fn new_org_key(data_dir: &Path) -> Result<KeyPair, SetupError> {
    let key = KeyPair::generate();
    let n = numbered_keys(data_dir, "org-")?.last().map_or(1, |n| n + 1);
    keyfile::write(&org_key_path(data_dir, n), &key)?;
    Ok(key)
}

/// The org key that `document` names as an assertion method, with its method: the node key or
/// a key made by [`new_org_key`].
pub fn org_signing_key(
    data_dir: &Path,
    document: &DidDocument,
) -> Result<(KeyPair, DidUrl), SetupError> {
    let assertion: Vec<(PublicKey, &DidUrl)> = document
        .assertion_method
        .iter()
        .filter_map(|m| Some((document.key_for(m, Relationship::AssertionMethod).ok()?, m)))
        .collect();
    // Newest first: after a rotation the key in force is the last one written.
    let candidates = numbered_keys(data_dir, "org-")?
        .into_iter()
        .rev()
        .map(|n| org_key_path(data_dir, n))
        .chain(std::iter::once(data_dir.join(NODE_KEY)));
    for path in candidates {
        let key = keyfile::read(&path)?;
        if let Some((_, method)) = assertion.iter().find(|(public, _)| *public == key.public()) {
            return Ok((key, (*method).clone()));
        }
    }
    Err(SetupError::NoKey(
        "the node holds none of the org DID's assertion keys",
    ))
}
