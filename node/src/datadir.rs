//! The data folder: its file names, the node's identity, and the key files the node holds.
//!
//! Layout:
//! - `node.key.json`: the node key (0600): the org DID's first key and the libp2p identity.
//! - `keys/update-N.key.json`: the org DID's update keys (0600). The one that signs the next
//!   operation is the one the DID's last operation commits to: it is read off the log, never
//!   kept apart from it, so a crash between writing a key and storing an operation loses nothing.
//! - `keys/org-N.key.json`: the org's signing keys after a rotation (0600); before the first, the
//!   node key is the org's key.
//! - `keys/pseudonym.secret`: the key of the org's principal pseudonyms (0600): 32 random bytes,
//!   base64url. Made by `init`, or on first use in a folder made before it existed.
//! - `keys/definitions/<method-specific id>/update-N.key.json`: the update keys of each agent
//!   definition DID the org registered (0600), as the org DID's.
//! - `identity.json`: the org's DID and the node's peer id, written last by `vouch-node init`.
//! - `admin.token`: the admin API's bearer token (0600; its name is configurable).
//! - `consortium.json`: the signed membership genesis (its name is configurable).
//! - `db/`: RocksDB.
//!
//! Nothing here knows what the keys are for beyond their names; `setup` makes them, `org` signs
//! with them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vouch_core::did::Did;
use vouch_core::did::document::{DidDocument, Relationship};
use vouch_core::did_vouch::{self, DidLog};
use vouch_core::key::{KeyPair, PublicKey};
use vouch_keyfile as keyfile;

/// The node key's file.
pub const NODE_KEY: &str = "node.key.json";
/// The identity file.
pub const IDENTITY: &str = "identity.json";
/// The database folder.
pub const DB: &str = "db";
/// The folder of the org's update and signing keys.
pub const KEYS: &str = "keys";

/// Who a node is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Identity {
    /// The org's did:vouch.
    pub did: Did,
    /// The node's libp2p peer id.
    pub peer_id: String,
}

/// Why a data folder could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// The data folder holds no node.
    #[error("{0} holds no node: run `vouch-node init` first")]
    NotInitialized(String),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error reading or writing it.
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
        /// What is wrong with its JSON.
        reason: String,
    },
    /// A key the org DID needs is not in the data folder.
    #[error("{0}")]
    NoKey(&'static str),
}

/// An I/O error on `path`.
pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes a new file readable by its owner only, and syncs it; never overwrites.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), DataDirError> {
    vouch_keyfile::write_private(path, bytes).map_err(io(path))
}

/// Writes the identity file: the last file `init` writes, whose presence means the folder is
/// complete.
pub fn write_identity(data_dir: &Path, identity: &Identity) -> Result<(), DataDirError> {
    let json = serde_json::to_vec_pretty(identity).expect("an identity always serializes");
    write_private(&data_dir.join(IDENTITY), &json)
}

/// Reads the identity of the node in a data folder.
pub fn identity(data_dir: &Path) -> Result<Identity, DataDirError> {
    let path = data_dir.join(IDENTITY);
    let text = match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(DataDirError::NotInitialized(data_dir.display().to_string()));
        }
        other => other.map_err(io(&path))?,
    };
    serde_json::from_str(&text).map_err(|e| DataDirError::Identity {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// The node key.
pub fn node_key(data_dir: &Path) -> Result<KeyPair, DataDirError> {
    Ok(keyfile::read(&data_dir.join(NODE_KEY))?)
}

/// The file of the pseudonym key.
pub fn pseudonym_secret_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEYS).join("pseudonym.secret")
}

/// The key of the org's principal pseudonyms, made (and synced) on first use.
pub fn pseudonym_secret(data_dir: &Path) -> Result<[u8; 32], DataDirError> {
    use base64::Engine as _;
    let path = pseudonym_secret_path(data_dir);
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    if !path.exists() {
        let secret: [u8; 32] = rand::random();
        match write_private(&path, engine.encode(secret).as_bytes()) {
            Ok(()) => return Ok(secret),
            // Made meanwhile by another caller: read theirs.
            Err(DataDirError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    engine
        .decode(text.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or(DataDirError::NoKey(
            "keys/pseudonym.secret is not 32 bytes, base64url",
        ))
}

/// The folder of the update keys of the agent definition `did`: made (0700) if it is not yet.
pub fn definition_keys(data_dir: &Path, did: &Did) -> Result<PathBuf, DataDirError> {
    use std::os::unix::fs::DirBuilderExt as _;
    let dir = data_dir
        .join(KEYS)
        .join("definitions")
        .join(did.method_specific_id());
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(io(&dir))?;
    Ok(dir)
}

/// The file of update key `n`.
pub fn update_key_path(data_dir: &Path, n: u32) -> PathBuf {
    data_dir.join(KEYS).join(format!("update-{n}.key.json"))
}

fn org_key_path(data_dir: &Path, n: u32) -> PathBuf {
    data_dir.join(KEYS).join(format!("org-{n}.key.json"))
}

/// The numbers N of the files `keys/<prefix>N.key.json`, in increasing order.
fn numbered_keys(data_dir: &Path, prefix: &str) -> Result<Vec<u32>, DataDirError> {
    let keys = data_dir.join(KEYS);
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

/// The number N of the update key `keys/update-N.key.json` that the last operation of `log`
/// commits to: the key that signs the next operation.
pub fn current_update_key(data_dir: &Path, log: &DidLog) -> Result<u32, DataDirError> {
    let committed = &log.head().next_key_hashes;
    // Newest first: the key in force is one of the last two written.
    for n in numbered_keys(data_dir, "update-")?.into_iter().rev() {
        let key = keyfile::read(&update_key_path(data_dir, n))?;
        if committed.contains(&did_vouch::next_key_hash(&key.public())) {
            return Ok(n);
        }
    }
    Err(DataDirError::NoKey(
        "no update key in keys/ is the one the org DID's last operation commits to",
    ))
}

/// The update key that signs the org DID's next operation, and the one after it (written now if
/// it is not yet), which that operation commits to.
pub fn update_keys(data_dir: &Path, log: &DidLog) -> Result<(KeyPair, KeyPair), DataDirError> {
    let n = current_update_key(data_dir, log)?;
    let current = keyfile::read(&update_key_path(data_dir, n))?;
    let next_path = update_key_path(data_dir, n + 1);
    if !next_path.exists() {
        keyfile::write(&next_path, &KeyPair::generate())?;
    }
    Ok((current, keyfile::read(&next_path)?))
}

/// The update key the org DID's last operation commits to, alone: for a deactivation, which
/// commits to nothing.
pub fn last_update_key(data_dir: &Path, log: &DidLog) -> Result<KeyPair, DataDirError> {
    let n = current_update_key(data_dir, log)?;
    Ok(keyfile::read(&update_key_path(data_dir, n))?)
}

/// Writes a new org signing key as `keys/org-N.key.json`, N one more than the highest.
pub fn new_org_key(data_dir: &Path) -> Result<KeyPair, DataDirError> {
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
) -> Result<(KeyPair, vouch_core::did::DidUrl), DataDirError> {
    let assertion: Vec<(PublicKey, &vouch_core::did::DidUrl)> = document
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
    Err(DataDirError::NoKey(
        "the node holds none of the org DID's assertion keys",
    ))
}
