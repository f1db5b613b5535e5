//! The org as issuer (DESIGN §3, §4, §6): agent definitions and their instances, credentials
//! issued to instances, delegations registered by the agents that made them, renewals, and the
//! four levels of revocation and suspension fanned out into status bits, each recorded as a
//! signed revocation event.
//!
//! What the node knows of every credential it issued or registered is an [`Issued`] record, and
//! indexes from each instance, definition, task, parent and lineage to the credentials below it,
//! each index entry carrying the credential's two status slots: a revocation at any level reads
//! indexes only, and sets every affected bit, signs the next versions of the lists touched and
//! stores them, the records and the event in one atomic batch.
//!
//! Every change of issuer state runs under one lock, from its checks to its write: a renewal
//! and a revocation of the same credential are ordered, so no renewal is ever stored after the
//! revocation that should have refused it. The node never holds an agent's key: instances prove
//! possession of theirs over a fresh node challenge. The raw principal id is never stored or
//! logged, only the org's pseudonym of it; a prompt only ever arrives as its hash.
//!
//! All of it is blocking (RocksDB, key files); async callers use `spawn_blocking`.

mod agents;
mod approvals;
mod challenges;
mod credentials;
mod events;
mod keys;
mod oauth;
mod owners;
mod passkeys;
mod revoke;
mod w3c;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use vouch_api::ErrorCode;
use vouch_core::credential::CredentialId;
use vouch_core::did::Did;
use vouch_core::report::Reason;

pub use agents::{Definition, DefinitionRequest, Instance};
pub use approvals::{
    APPROVAL_LIFETIME, ApprovalAsk, MAX_PENDING_PER_AGENT, OwnerDecision, PENDING_FOR, Pending,
    Standing,
};
pub use challenges::{CHALLENGE_TTL_SECS, Challenge};
pub use credentials::{DelegationRequest, Issuance, IssueRequest, RenewalRequest, TaskRequest};
pub use events::{EventError, Events};
pub use oauth::TokenRefusal;
pub use owners::{Enrolment, Owner, OwnerRequest};
pub use passkeys::{ENROLMENT_FOR, Enrolling, EnrolmentToken, MAX_PASSKEYS};
pub use revoke::{Revocation, RevocationRequest, Suspension};
pub use w3c::{StatusAsked, W3cIssueOptions, W3cIssueRequest};

use crate::audit::AuditLog;
use crate::config::IssuanceConfig;
use crate::org::{Org, OrgError};
use crate::registry::{Registry, RegistryError};
use crate::status_lists::{Slot, StatusListError, StatusLists};
use crate::store::{Store, StoreError};
use vouch_core::lock::MutexExt as _;

/// The most credentials one revocation or suspension may reach.
pub const MAX_FANOUT: usize = 1_000_000;
/// The longest task id.
pub const MAX_TASK_ID_LEN: usize = 256;

/// Why the issuer refused a request: a code of the one vocabulary (DESIGN §8's reason where one
/// fits) and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The machine-readable code.
    pub code: ErrorCode,
    /// The human-readable reason.
    pub message: String,
}

impl Refusal {
    /// A refusal with a code of its own.
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A refusal for one of DESIGN §8's reasons.
    pub(crate) fn of(reason: Reason, message: impl Into<String>) -> Self {
        Self::new(reason.into(), message)
    }

    /// A `malformed` refusal.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::of(Reason::Malformed, message)
    }
}

/// Why an issuer operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    /// The request is refused, with its reason.
    #[error("{}: {}", .0.code, .0.message)]
    Refused(Refusal),
    /// What the request names is not known here.
    #[error("{0}")]
    NotFound(String),
    /// The org's keys or DID are unusable.
    #[error(transparent)]
    Org(#[from] OrgError),
    /// A key file could not be written.
    #[error(transparent)]
    Keys(#[from] crate::datadir::DataDirError),
    /// The audit log could not record the change: nothing of it was stored.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditLogError),
    /// The status lists could not be changed.
    #[error(transparent)]
    StatusLists(#[from] StatusListError),
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A record in the store is unreadable.
    #[error("corrupt issuer record {key}: {reason}")]
    Corrupt {
        /// The store key of the record.
        key: String,
        /// What failed to read in it.
        reason: String,
    },
}

impl From<Refusal> for IssuerError {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal)
    }
}

pub use vouch_api::node::admin::Issued;

/// Where a credential's bits are, as the fan-out indexes keep them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Slots {
    #[serde(rename = "r")]
    revocation: Slot,
    #[serde(rename = "s")]
    suspension: Slot,
}

/// The org's issuer.
#[derive(Debug, Clone)]
pub struct Issuer {
    store: Arc<Store>,
    registry: Registry,
    org: Org,
    status_lists: StatusLists,
    audit: AuditLog,
    data_dir: PathBuf,
    config: IssuanceConfig,
    /// What proofs of possession name as their domain: this node's public URL.
    domain: String,
    /// The key challenges are sealed with, and those answered.
    challenges: Arc<challenges::Challenges>,
    /// The DPoP proofs and approvals token exchange used.
    tokens: Arc<oauth::Tokens>,
    /// Serializes every change of issuer state, from its checks to its write.
    lock: Arc<Mutex<()>>,
}

impl Issuer {
    /// The issuer of the node in `data_dir`, reached at `public_url`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<Store>,
        registry: Registry,
        org: Org,
        status_lists: StatusLists,
        audit: AuditLog,
        data_dir: PathBuf,
        config: IssuanceConfig,
        public_url: &str,
    ) -> Self {
        Self {
            store,
            registry,
            org,
            status_lists,
            audit,
            data_dir,
            config,
            domain: public_url.trim_end_matches('/').to_owned(),
            challenges: Arc::new(challenges::Challenges::default()),
            tokens: Arc::new(oauth::Tokens::default()),
            lock: Arc::new(Mutex::new(())),
        }
    }

    /// The org's DID.
    pub fn org(&self) -> &Did {
        self.org.did()
    }

    /// The domain proofs of possession must name.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The configuration.
    pub fn config(&self) -> &IssuanceConfig {
        &self.config
    }

    fn guard(&self) -> MutexGuard<'_, ()> {
        self.lock.locked()
    }

    /// Reads a JSON record.
    fn read<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, IssuerError> {
        match self.store.issuance(key)? {
            None => Ok(None),
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| IssuerError::Corrupt {
                        key: String::from_utf8_lossy(key).into_owned(),
                        reason: e.to_string(),
                    })
            }
        }
    }

    /// The record of a credential issued or registered here.
    pub fn issued(&self, id: &CredentialId) -> Result<Option<Issued>, IssuerError> {
        self.read(&keys::credential(id))
    }
}

/// Checks a task id: 1 to [`MAX_TASK_ID_LEN`] printable characters, no control character.
fn check_task_id(id: &str) -> Result<(), Refusal> {
    if id.is_empty() || id.len() > MAX_TASK_ID_LEN || id.chars().any(char::is_control) {
        return Err(Refusal::malformed(format!(
            "a task id is 1 to {MAX_TASK_ID_LEN} bytes without control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
