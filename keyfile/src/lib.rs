//! # vouch-keyfile
//!
//! Key files: one Ed25519 key pair in the JSON form of the W3C vectors' `keyPair.json`, readable by
//! its owner only. A crate of its own so that the node, which writes its keys, does not build the
//! wallet to do so.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use vouch_core::key::{KeyError, KeyPair, KeyPairJson};
use zeroize::Zeroizing;

/// The largest key file read; a key pair is about 150 bytes.
const MAX_KEY_FILE: u64 = 4096;

/// Why a key file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be created, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is readable by others than its owner.
    #[error("{path}: key file is readable by group or others (mode {mode:o}); run chmod 600")]
    TooOpen {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is too large to be a key file.
    #[error("{0}: too large to be a key file")]
    TooLarge(String),
    /// The file is not a key pair in the expected JSON form.
    #[error("{path}: not a key pair: {reason}")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong with its JSON.
        reason: String,
    },
    /// The key pair is inconsistent.
    #[error("{path}: {source}")]
    Key {
        /// The file.
        path: String,
        /// How its public key disagrees with its secret key.
        source: KeyError,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `bytes` to a new file readable by its owner only (mode 0600), and syncs it; an
/// existing file is never overwritten.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Writes a key pair to a new file with mode 0600; an existing file is never overwritten.
pub fn write(path: &Path, pair: &KeyPair) -> Result<(), KeyFileError> {
    let mut json = Zeroizing::new(
        serde_json::to_string_pretty(&pair.to_json()).expect("a key pair always serializes"),
    );
    json.push('\n');
    write_private(path, json.as_bytes()).map_err(io(path))
}

/// Reads a key pair, refusing a file that others can read.
pub fn read(path: &Path) -> Result<KeyPair, KeyFileError> {
    let name = || path.display().to_string();
    let metadata = std::fs::metadata(path).map_err(io(path))?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::TooOpen { path: name(), mode });
    }
    if metadata.len() > MAX_KEY_FILE {
        return Err(KeyFileError::TooLarge(name()));
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io(path))?);
    let json: KeyPairJson = serde_json::from_str(&text).map_err(|e| KeyFileError::Malformed {
        path: name(),
        // serde's message may quote the input: keep only where it failed.
        reason: format!("invalid JSON at line {} column {}", e.line(), e.column()),
    })?;
    KeyPair::from_json(&json).map_err(|source| KeyFileError::Key {
        path: name(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_owner_only_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.key.json");
        let pair = KeyPair::generate();
        write(&path, &pair).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read(&path).unwrap().public(), pair.public());
        // Never overwritten.
        assert!(matches!(
            write(&path, &KeyPair::generate()),
            Err(KeyFileError::Io { .. })
        ));
    }

    #[test]
    fn refuses_open_and_malformed_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        write(&path, &KeyPair::generate()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(read(&path), Err(KeyFileError::TooOpen { .. })));
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"publicKeyMultibase\": 1}").unwrap();
        std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(read(&bad), Err(KeyFileError::Malformed { .. })));
    }
}
