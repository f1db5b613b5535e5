//! The node's audit log (DESIGN §9), in its RocksDB: `vouch_core::audit::log` over the store's
//! `audit_entries` and `audit_hashes` families. Changes append their entry in the same batch as
//! the change itself; the verification service records its decisions on their own.

use vouch_core::audit::log::{Log, LogError, LogWriter};

use crate::store::{Store, StoreError};

pub use vouch_core::audit::log::entry;

/// The node's audit log.
pub type AuditLog = Log<Store>;
/// Why the node's audit log failed.
pub type AuditLogError = LogError<StoreError>;
/// The node's audit log held for appending, until the batch is written.
pub type AuditWriter<'a> = LogWriter<'a, Store>;
