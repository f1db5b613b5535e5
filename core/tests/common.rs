//! Shared helpers: where the W3C vectors are.

use std::path::PathBuf;

/// The folder of the W3C vectors: `$VOUCH_VECTORS`, or `../shared/vectors` beside the project
/// (cargo runs tests in the package's folder; a path baked in at build time may be stale).
pub(crate) fn vectors() -> PathBuf {
    std::env::var_os("VOUCH_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../../shared/vectors"))
}

/// Reads a vector file as text.
pub(crate) fn read(path: &str) -> String {
    let path = vectors().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads a vector file as JSON.
pub(crate) fn json(path: &str) -> serde_json::Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}
