//! Consortium membership as a node keeps it (DESIGN §7): the genesis and its amendments
//! (`vouch_core::consortium`, pure: signed, chained, applied) read from the data folder, the
//! membership in force shared by every part of the node ([`Members`]), and the amendments stored
//! and judged when they come from peers ([`Amendments`]). Nodes speak the registry protocols only
//! with the members' nodes.

use std::path::Path;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use vouch_core::sync::{Collection, ItemId};

use crate::fault::{Judgement, PeerMisbehaved};
use crate::store::{Batch, Store, StoreError};
use vouch_core::did::Did;
use vouch_core::lock::RwLockExt as _;

pub use vouch_core::consortium::{
    Amended, Amendment, AmendmentError, Change, Consortium, MAX_AMENDMENT_BYTES, MAX_MEMBERS,
    Member, MemberSignature, Membership, Published, peer_id_of,
};

/// Why a consortium's genesis or amendments could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConsortiumError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error reading or writing it.
        source: std::io::Error,
    },
    /// The genesis is refused.
    #[error(transparent)]
    Genesis(#[from] vouch_core::consortium::ConsortiumError),
    /// An amendment held or given is refused.
    #[error("malformed consortium data: {0}")]
    Malformed(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads and verifies a genesis file.
pub fn read_genesis(path: &Path) -> Result<Consortium, ConsortiumError> {
    let io = |source| ConsortiumError::Io {
        path: path.display().to_string(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(io)?;
    if metadata.len() > vouch_core::consortium::MAX_CONSORTIUM_BYTES as u64 {
        return Err(
            vouch_core::consortium::ConsortiumError::Malformed("file too large".into()).into(),
        );
    }
    let bytes = std::fs::read(path).map_err(io)?;
    Ok(Consortium::from_json(&bytes)?)
}

/// Writes a genesis to a file.
pub fn write_genesis(consortium: &Consortium, path: &Path) -> Result<(), ConsortiumError> {
    let json = serde_json::to_vec_pretty(consortium).expect("a consortium always serializes");
    std::fs::write(path, json).map_err(|source| ConsortiumError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// The membership in force, shared by every part of a running node; `None` for a node alone.
#[derive(Debug, Clone, Default)]
pub struct Members(Arc<RwLock<Option<Membership>>>);

impl Members {
    /// A node without a consortium.
    pub fn alone() -> Self {
        Self::default()
    }

    /// A consortium's membership.
    pub fn of(membership: Membership) -> Self {
        Self(Arc::new(RwLock::new(Some(membership))))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Option<Membership>> {
        self.0.read_locked()
    }

    /// The membership now.
    pub fn now(&self) -> Option<Membership> {
        self.read().clone()
    }

    /// How many amendments are applied (0 without a consortium).
    pub fn sequence(&self) -> u64 {
        self.read().as_ref().map_or(0, Membership::sequence)
    }

    /// Whether `did` is a member now; `None` without a consortium.
    pub fn is_member(&self, did: &Did) -> Option<bool> {
        self.read().as_ref().map(|m| m.is_member(did))
    }

    /// When `did` stopped being a member, if it did.
    pub fn removed_at(&self, did: &Did) -> Option<DateTime<Utc>> {
        self.read().as_ref().and_then(|m| m.removed_at(did))
    }

    /// Applies a complete amendment, with `persist` storing it first: the membership changes
    /// only once the amendment is on disk.
    pub fn apply<E>(
        &self,
        amendment: &Amendment,
        persist: impl FnOnce(&Amendment) -> Result<(), E>,
    ) -> Result<Result<Amended, AmendmentError>, E> {
        let mut guard = self.0.write_locked();
        let Some(held) = guard.as_ref() else {
            return Ok(Err(AmendmentError::OtherConsortium(
                amendment.consortium.clone(),
            )));
        };
        let mut next = held.clone();
        match next.apply(amendment) {
            Ok(Amended::Applied) => {
                persist(amendment)?;
                *guard = Some(next);
                Ok(Ok(Amended::Applied))
            }
            other => Ok(other),
        }
    }
}

/// The consortium's amendments as a running node keeps them: the membership in force, and the
/// store that holds what was applied.
#[derive(Debug, Clone)]
pub struct Amendments {
    genesis: Arc<Consortium>,
    members: Members,
    store: Arc<Store>,
}

impl Amendments {
    /// The membership of `genesis` with the amendments the store holds, then those of `given`
    /// (an amendments file handed to a new member): each verified, the new ones stored.
    pub fn load(
        genesis: &Consortium,
        store: Arc<Store>,
        given: &[Amendment],
    ) -> Result<Self, ConsortiumError> {
        let mut membership = Membership::new(genesis);
        for json in store.amendments()? {
            let amendment = Amendment::from_json(&json)
                .map_err(|e| ConsortiumError::Malformed(format!("a stored amendment: {e}")))?;
            membership
                .apply(&amendment)
                .map_err(|e| ConsortiumError::Malformed(format!("a stored amendment: {e}")))?;
        }
        let amendments = Self {
            genesis: Arc::new(genesis.clone()),
            members: Members::of(membership),
            store,
        };
        for amendment in given {
            amendments
                .submit(amendment)?
                .map_err(|e| ConsortiumError::Malformed(format!("a given amendment: {e}")))?;
        }
        Ok(amendments)
    }

    /// The genesis.
    pub fn genesis(&self) -> &Consortium {
        &self.genesis
    }

    /// The genesis and the amendments applied, as published for wallets to check
    /// (`GET /1.0/consortium`).
    pub fn published(&self) -> Published {
        Published {
            genesis: self.genesis().clone(),
            amendments: self
                .members
                .now()
                .map(|m| m.amendments().to_vec())
                .unwrap_or_default(),
        }
    }

    /// The membership in force.
    pub fn members(&self) -> &Members {
        &self.members
    }

    /// Applies a complete amendment, stored before the membership changes.
    pub fn submit(
        &self,
        amendment: &Amendment,
    ) -> Result<Result<Amended, AmendmentError>, StoreError> {
        self.members.apply(amendment, |amendment| {
            let mut batch = Batch::default();
            self.store.put_amendment(
                &mut batch,
                amendment.sequence,
                amendment.to_json().as_bytes(),
                amendment.created,
            );
            self.store.commit(batch)
        })
    }

    /// Judges amendments from a peer, in the order of their numbers.
    pub fn receive_all(&self, items: &[&[u8]]) -> Vec<Judgement> {
        let mut judgements = vec![Judgement::Unjudged; items.len()];
        let mut parsed = Vec::with_capacity(items.len());
        for (at, data) in items.iter().enumerate() {
            match Amendment::from_json(data) {
                Ok(amendment) => parsed.push((at, amendment)),
                Err(e) => judgements[at] = PeerMisbehaved::InvalidAmendment(e.to_string()).into(),
            }
        }
        parsed.sort_by_key(|(_, a)| a.sequence);
        for (at, amendment) in parsed {
            judgements[at] = match self.submit(&amendment) {
                Ok(Ok(Amended::Applied)) => Judgement::Accepted,
                Ok(Ok(Amended::Known)) => Judgement::Known,
                Ok(Err(AmendmentError::Ahead { .. })) => Judgement::Behind,
                Ok(Err(e)) => PeerMisbehaved::InvalidAmendment(e.to_string()).into(),
                Err(e) => {
                    tracing::warn!(error = %e, "could not store an amendment");
                    Judgement::Unjudged
                }
            };
        }
        judgements
    }

    /// Judges an amendment from a peer.
    pub fn receive(&self, data: &[u8]) -> Judgement {
        self.receive_all(&[data])
            .pop()
            .expect("one judgement per amendment")
    }

    /// The amendments held, for anti-entropy.
    pub fn sync_items(&self) -> Result<Vec<(u64, ItemId)>, StoreError> {
        self.store.sync_items(Collection::Amendments)
    }

    /// Amendments held, by id, as stored.
    pub fn fetch(&self, ids: &[ItemId]) -> Result<Vec<Vec<u8>>, StoreError> {
        self.store.sync_fetch(Collection::Amendments, ids)
    }
}
