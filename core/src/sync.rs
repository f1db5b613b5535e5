//! The messages of the node's anti-entropy protocol (`/vouch/sync/2.0.0`, CBOR over libp2p
//! request-response): range-based set reconciliation (negentropy) of one collection at a time,
//! then a fetch of the items one side lacks, by id. Plain data: the node carries them, and a
//! peer's are untrusted until every item in them has been verified on its own.
//!
//! An item's id is the SHA-256 of its bytes as stored and sent (an operation's canonical JSON, a
//! status list credential's JSON), so a fetched item is checked against the id asked for before
//! anything else; its timestamp (the negentropy sort key) is its own date, in milliseconds.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The size of an item id.
pub const ID_BYTES: usize = 32;
/// The most ids one fetch asks for.
pub const MAX_FETCH_IDS: usize = 256;
/// The largest reconciliation message (negentropy's frame size limit), and so the largest part
/// of a request or response that one is.
pub const MAX_RECONCILE_BYTES: usize = 32 * 1024;

/// An item's id: the SHA-256 of its bytes.
pub type ItemId = [u8; ID_BYTES];

/// The id of an item's bytes.
pub fn item_id(bytes: &[u8]) -> ItemId {
    Sha256::digest(bytes).into()
}

/// What is reconciled: one negentropy session each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Collection {
    /// did:vouch operations, accepted ones and equivocation evidence.
    DidOperations,
    /// The newest version held of every status list credential.
    StatusLists,
    /// The consortium's membership amendments.
    Amendments,
    /// The members' signed revocation events.
    RevocationEvents,
}

impl Collection {
    /// Every collection.
    pub const ALL: [Self; 4] = [
        Self::DidOperations,
        Self::StatusLists,
        Self::Amendments,
        Self::RevocationEvents,
    ];

    /// Its tag in stored keys.
    pub fn tag(self) -> u8 {
        match self {
            Self::DidOperations => 0,
            Self::StatusLists => 1,
            Self::Amendments => 2,
            Self::RevocationEvents => 3,
        }
    }

    /// The collection of a tag.
    pub fn from_tag(tag: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.tag() == tag)
    }

    /// The most items of this collection one fetch asks for: a page's worth (operations are at
    /// most 32 KiB, revocation events 8 KiB, status lists 256 KiB).
    pub fn page(self) -> usize {
        match self {
            Self::DidOperations | Self::RevocationEvents => MAX_FETCH_IDS,
            Self::StatusLists | Self::Amendments => 32,
        }
    }

    /// Its name, for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::DidOperations => "did_operations",
            Self::StatusLists => "status_lists",
            Self::Amendments => "amendments",
            Self::RevocationEvents => "revocation_events",
        }
    }
}

/// A request of the anti-entropy protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncRequest {
    /// A negentropy message of the initiator.
    Reconcile {
        /// The collection reconciled.
        collection: Collection,
        /// The message, at most [`MAX_RECONCILE_BYTES`].
        #[serde(with = "serde_bytes")]
        message: Vec<u8>,
    },
    /// The items with these ids.
    Fetch {
        /// The collection.
        collection: Collection,
        /// The ids, [`ID_BYTES`] each, concatenated: at most the collection's page.
        #[serde(with = "serde_bytes")]
        ids: Vec<u8>,
    },
    /// The proof that the responder's audit log of `new` entries extends its log of `old`
    /// (a witness checking a checkpoint against the one it holds).
    Consistency {
        /// The smaller size, at least 1.
        old: u64,
        /// The larger size.
        new: u64,
    },
    /// A witness's cosignature of the responder's own audit checkpoint: the signed note with it
    /// (sent to the log's node alone, never gossiped).
    Cosignature {
        /// The note, at most the node's checkpoint bound.
        #[serde(with = "serde_bytes")]
        note: Vec<u8>,
    },
}

/// A response of the anti-entropy protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncResponse {
    /// The responder's negentropy message.
    Reconcile(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The items asked for that the responder holds, each as stored (JSON).
    Items(Vec<String>),
    /// A consistency proof of the responder's audit log: its hashes, 32 bytes each,
    /// concatenated.
    Consistency(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The responder's audit log has only this many entries: fewer than the proof asked for.
    Lacks(u64),
    /// The responder is busy: ask again later. No fault.
    Busy,
    /// The cosignature sent was judged (gathered, or already held).
    Gathered,
    /// The request could not be answered.
    Refused(String),
}

/// Splits concatenated ids; `None` unless the bytes are whole ids, at most `max` of them.
pub fn split_ids(ids: &[u8], max: usize) -> Option<Vec<ItemId>> {
    if !ids.len().is_multiple_of(ID_BYTES) || ids.len() / ID_BYTES > max {
        return None;
    }
    Some(
        ids.chunks_exact(ID_BYTES)
            .map(|id| id.try_into().expect("chunks of ID_BYTES"))
            .collect(),
    )
}

/// Concatenates ids for a [`SyncRequest::Fetch`].
pub fn join_ids(ids: &[ItemId]) -> Vec<u8> {
    ids.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_split_only_whole_and_bounded() {
        let ids = [[1; 32], [2; 32]];
        assert_eq!(split_ids(&join_ids(&ids), 2), Some(ids.to_vec()));
        assert_eq!(split_ids(&join_ids(&ids), 1), None);
        assert_eq!(split_ids(&[0; 33], 10), None);
        assert_eq!(split_ids(&[], 10), Some(Vec::new()));
        for collection in Collection::ALL {
            assert_eq!(Collection::from_tag(collection.tag()), Some(collection));
        }
        assert_eq!(Collection::from_tag(9), None);
    }
}
