//! did:vouch log files: the operations of one DID in JSON Lines, verified on every read.
//!
//! A log file is rewritten whole, through a temporary file that is synced and then renamed over the
//! old one, so a crash leaves either the old log or the new one, never half of one.

use std::io::{Read, Write};
use std::path::Path;

use vouch_core::did_vouch::{Applied, DidLog, LogError};

/// Why a log file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LogFileError {
    /// The file could not be created, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is larger than any valid log.
    #[error("{0}: larger than any valid log")]
    TooLarge(String),
    /// The log does not verify.
    #[error("{path}: {source}")]
    Invalid {
        /// The file.
        path: String,
        /// The first rule an operation of the log breaks.
        source: LogError,
    },
}

/// The largest log file read. A typical operation is 1.5 KiB, so this holds tens of thousands of
/// versions while keeping a hostile file from exhausting memory.
const MAX_LOG_FILE: u64 = 256 * 1024 * 1024;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LogFileError + '_ {
    move |source| LogFileError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Reads and verifies a log from its genesis.
pub fn read(path: &Path) -> Result<DidLog, LogFileError> {
    let file = std::fs::File::open(path).map_err(io(path))?;
    let mut text = String::new();
    file.take(MAX_LOG_FILE + 1)
        .read_to_string(&mut text)
        .map_err(io(path))?;
    if text.len() as u64 > MAX_LOG_FILE {
        return Err(LogFileError::TooLarge(path.display().to_string()));
    }
    DidLog::from_jsonl(&text).map_err(|source| LogFileError::Invalid {
        path: path.display().to_string(),
        source,
    })
}

/// Writes a log to a new file; an existing file is never overwritten.
pub fn create(path: &Path, log: &DidLog) -> Result<(), LogFileError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io(path))?;
    file.write_all(log.to_jsonl().as_bytes())
        .map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// Applies an operation to the log in `path` and replaces the file atomically.
pub fn append(
    path: &Path,
    log: &mut DidLog,
    operation: vouch_core::did_vouch::Operation,
) -> Result<Applied, LogFileError> {
    let invalid = |source| LogFileError::Invalid {
        path: path.display().to_string(),
        source,
    };
    let applied = log.apply(operation).map_err(invalid)?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = Path::new(&temporary);
    let mut file = std::fs::File::create(temporary).map_err(io(temporary))?;
    file.write_all(log.to_jsonl().as_bytes())
        .map_err(io(temporary))?;
    file.sync_all().map_err(io(temporary))?;
    std::fs::rename(temporary, path).map_err(io(path))?;
    // The rename is durable only once the directory is synced.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use vouch_core::did_vouch::{DocumentContent, create as create_did, update};
    use vouch_core::key::KeyPair;

    #[test]
    fn logs_round_trip_and_corruption_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("org.did.jsonl");
        let (k1, k2, k3, doc) = (
            KeyPair::generate(),
            KeyPair::generate(),
            KeyPair::generate(),
            KeyPair::generate(),
        );
        let content = DocumentContent::single_key(&doc.public());
        let (_, genesis) = create_did(content.clone(), &k1, &[k2.public()], Utc::now()).unwrap();
        let mut log = DidLog::new(genesis).unwrap();
        create(&path, &log).unwrap();
        assert!(matches!(create(&path, &log), Err(LogFileError::Io { .. })));

        let next = update(&log, content, &k2, &[k3.public()], Utc::now()).unwrap();
        assert_eq!(append(&path, &mut log, next).unwrap(), Applied::Appended);
        assert_eq!(read(&path).unwrap(), log);

        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("\"version\":2", "\"version\":3", 1)).unwrap();
        assert!(matches!(read(&path), Err(LogFileError::Invalid { .. })));
    }
}
