//! The `did:vouch` method (DESIGN §3): self-certifying DIDs for organizations and long-lived agent
//! definitions, with a verifiable history.
//!
//! A DID is `did:vouch:<scid>`, where `scid` is the SHA-256 multihash of the canonical (JCS) genesis
//! operation without its proof. Its history is a log of [`Operation`]s (`create`, `update`,
//! `deactivate`): each has a version number, the hash of its predecessor, and an `eddsa-jcs-2022`
//! proof by an update key. Keys rotate by pre-rotation: each operation commits to the hashes of the
//! keys allowed to sign the next, and reveals the key that signs itself.
//!
//! Everything here is a pure function of the log: [`DidLog`] verifies it from the genesis alone,
//! trusting no node, and resolves it at the latest version, a `versionId` or a `versionTime`. Two
//! valid operations with the same predecessor are an equivocation: both are kept as evidence and
//! the DID resolves only to an error that says so.
//!
//! Invariants, each enforced by [`DidLog::apply`] before an operation is accepted:
//! - the first operation is a `create` and is the only one; its hash names the DID;
//! - operation `n + 1` names the DID, links to the hash of operation `n` (proof included), is not
//!   older than it, and is signed by a key whose hash operation `n` committed to;
//! - nothing follows a `deactivate`;
//! - an operation is read only in its canonical spelling, and its proof holds exactly the fields the
//!   suite defines, so one operation has one hash.

mod log;
mod make;
mod operation;
#[cfg(test)]
mod tests;

pub use log::{
    Applied, DidLog, Equivocation, LogResolver, MAX_EVIDENCE_PER_VERSION, MAX_LOG_OPERATIONS,
    Resolution, VersionSelector, check_did,
};
pub use make::{create, deactivate, update};
pub use operation::{
    DocumentContent, Fragment, MAX_ENTRIES, MAX_NEXT_KEYS, MAX_OPERATION_BYTES, MethodContent,
    Operation, OperationType, ServiceContent, next_key_hash,
};

pub use crate::did::resolve::Timestamp;

/// The method name.
pub const METHOD: &str = "vouch";

/// Why an operation or a log is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// The operation is larger than [`MAX_OPERATION_BYTES`].
    #[error("operation is {0} bytes, more than the {MAX_OPERATION_BYTES} allowed")]
    TooLarge(usize),
    /// The log would exceed [`MAX_LOG_OPERATIONS`].
    #[error("the log holds the {MAX_LOG_OPERATIONS} operations allowed")]
    TooManyOperations,
    /// The operation is not well-formed JSON of an operation, or lacks what its type requires.
    #[error("malformed operation: {0}")]
    Malformed(String),
    /// The document an operation sets is invalid.
    #[error("invalid DID document: {0}")]
    InvalidDocument(String),
    /// The log does not start with a `create`, or is empty.
    #[error("a log starts with its create operation")]
    NotGenesis,
    /// The operation belongs to another DID (expected, found).
    #[error("operation is for {}, not {}", .0.1, .0.0)]
    WrongDid(Box<(crate::did::Did, crate::did::Did)>),
    /// The operation skips versions: it was reordered, or its predecessors are missing.
    #[error("expected version {expected}, found {found}")]
    OutOfOrder {
        /// The next version the log can take.
        expected: u64,
        /// The version of the operation.
        found: u64,
    },
    /// Two logs of one DID disagree: neither is a prefix of the other.
    #[error("two logs of {0} diverge: keep the evidence, and resolve neither")]
    Diverged(crate::did::Did),
    /// The log lists an operation twice.
    #[error("version {version} appears twice: replayed")]
    Replayed {
        /// The version of the repeated operation.
        version: u64,
    },
    /// `previous` is not the hash of the predecessor.
    #[error("version {version} does not link to the hash of its predecessor")]
    BrokenLink {
        /// The version of the operation.
        version: u64,
    },
    /// The operation is dated before its predecessor.
    #[error("version {version} is dated before its predecessor")]
    TimeWentBack {
        /// The version of the operation.
        version: u64,
    },
    /// The update key is not one the previous state committed to.
    #[error("version {version} is signed by a key the previous state did not authorize")]
    UnauthorizedKey {
        /// The version of the operation.
        version: u64,
    },
    /// The proof is missing, malformed or does not verify.
    #[error("version {version} has an invalid proof: {reason}")]
    BadSignature {
        /// The version of the operation.
        version: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The DID is deactivated; nothing may follow.
    #[error("the DID is deactivated")]
    Deactivated,
    /// A line of a JSON Lines log is refused.
    #[error("line {line}: {error}")]
    AtLine {
        /// The line number, from 1.
        line: usize,
        /// The rule the line's operation breaks.
        error: Box<LogError>,
    },
}
