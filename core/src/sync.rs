//! The messages of the registry's catch-up protocol (`/vouch/sync/1.0.0`, CBOR over libp2p
//! request-response): a node asks a member for its inventories of DIDs and status lists, then for
//! what it lacks. Plain data: the node carries them, and a peer's are untrusted until every
//! operation and list in them has been verified on its own.

use serde::{Deserialize, Serialize};

/// A request of the catch-up protocol.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum SyncRequest {
    /// Every DID the peer holds, with its last version and its count of equivocation evidence.
    Inventory,
    /// The operations of `did` after version `after`, and its evidence, one page at a time.
    Operations {
        /// The DID.
        did: String,
        /// The last version the asker holds (0 for none).
        after: u64,
    },
    /// Every status list the peer holds, with the date of its version.
    StatusLists,
    /// The status list at `id`.
    StatusList {
        /// Its URL.
        id: String,
    },
}

/// One status list in an inventory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusListEntry {
    /// Its URL.
    pub id: String,
    /// The `validFrom` of the version held, RFC 3339.
    pub valid_from: String,
}

/// One DID in an inventory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InventoryEntry {
    /// The DID.
    pub did: String,
    /// Its last accepted version.
    pub version: u64,
    /// How many equivocating operations are held as evidence.
    pub evidence: u64,
}

/// A response of the catch-up protocol.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum SyncResponse {
    /// The answer to [`SyncRequest::Inventory`].
    Inventory(Vec<InventoryEntry>),
    /// Operations as JSON, in version order, then evidence.
    Operations(Vec<String>),
    /// The answer to [`SyncRequest::StatusLists`].
    StatusLists(Vec<StatusListEntry>),
    /// A signed status list credential as JSON.
    StatusList(String),
    /// The request could not be answered.
    Refused(String),
}
