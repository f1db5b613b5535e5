//! The audit log's pure logic (DESIGN §9): entries, their chain, and the RFC 6962 / RFC 9162
//! Merkle tree they are the leaves of, with inclusion and consistency proofs.
//!
//! An entry is hashed as its canonical JSON (JCS): its leaf is `SHA-256(0x00 || JCS(entry))`, and
//! its `previous` is the leaf hash of the entry before it, so the log is a hash chain *and* a
//! Merkle tree. The tree arithmetic is the Go checksum database's, as ported by Cloudflare
//! (`tlog_tiles`): the hashes to store when a leaf is appended, the root of any size, and the
//! proofs; this module fixes the entry format, bounds what it is given, and checks a sequence of
//! entries for the first change, deletion, insertion or reordering.
//!
//! No raw prompt, argument or personal data is ever an entry's field: only DIDs, pseudonyms, task
//! ids, actions, the hash of a resource, reason codes and credential ids.

pub mod checkpoint;
pub mod log;
pub mod tally;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
pub use tlog_tiles::{EMPTY_HASH, Hash, HashReader};

use crate::hash::Multihash;

/// The most hashes a proof may have: a tree of 2^64 leaves needs 64.
pub const MAX_PROOF_HASHES: usize = 64;
/// The most credential ids an entry names.
pub const MAX_CREDENTIALS: usize = 64;
/// The longest text field of an entry.
pub const MAX_TEXT: usize = 2048;

/// Why an audit operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// An entry is not one this log takes.
    #[error("malformed entry: {0}")]
    Malformed(String),
    /// A proof does not prove what it claims.
    #[error("the proof does not verify")]
    InvalidProof,
    /// The tree cannot answer: a size or index beyond it.
    #[error("{0}")]
    OutOfRange(String),
    /// The stored hashes could not be read.
    #[error("reading the tree: {0}")]
    Storage(String),
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A credential was issued.
    Issued,
    /// A credential was renewed.
    Renewed,
    /// A delegation was registered.
    Delegated,
    /// Credentials were revoked.
    Revoked,
    /// Credentials were suspended.
    Suspended,
    /// A suspension was lifted.
    Reinstated,
    /// An exchange was asked for.
    ExchangeRequested,
    /// A capability was decided on.
    Decided,
    /// A verification refused something.
    VerificationRefused,
    /// An agent asked its owner's approval of one request.
    ApprovalAsked,
    /// The owner approved it: an approval credential was issued.
    Approved,
    /// The owner refused it.
    ApprovalRefused,
    /// An owner registered a passkey to decide approvals with.
    PasskeyRegistered,
    /// An agent instance signed an HTTP request under a capability (RFC 9421): the hash of
    /// what it signed, never the request.
    RequestSigned,
    /// A node issued an OAuth access token by token exchange: the agent, the credentials it
    /// rests on, the hash of the resource it is for; never the token.
    TokenIssued,
}

/// A decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Accepted.
    Accepted,
    /// Rejected, with a reason.
    Rejected,
}

/// One entry of an audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Entry {
    // Fields in the order of their JSON names: serde then writes the canonical (JCS) form
    // directly (`to_bytes`), without building and sorting a `Value`.
    /// The action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The agent concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// How many events this entry stands for, when more than one: repeated refusals of one
    /// party are counted and written as one entry ([`tally::Tally`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The credentials concerned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<String>,
    /// The decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// What happened.
    pub event: Event,
    /// The leaf hash of the entry before it (base64); none for the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// The principal's pseudonym.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The reason code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The hash of the resource, never the resource itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_hash: Option<Multihash>,
    /// Its position, from 0.
    pub seq: u64,
    /// The task's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// When it was written.
    #[serde(with = "crate::credential::timestamp")]
    pub time: DateTime<Utc>,
    /// Who wrote it: a node's org DID or an agent instance's did:key.
    pub writer: String,
}

impl Entry {
    /// The entry as it is hashed and stored: its canonical JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        // The same bytes as `serde_jcs` (a property test holds it): keys in order, and serde_json
        // writes strings and integers as JCS does.
        serde_json::to_vec(self).expect("an entry always serializes")
    }

    /// Reads an entry as stored: exactly its canonical JSON, within bounds.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AuditError> {
        let entry: Self =
            serde_json::from_slice(bytes).map_err(|e| AuditError::Malformed(e.to_string()))?;
        entry.check()?;
        if entry.to_bytes() != bytes {
            return Err(AuditError::Malformed("not in canonical form".into()));
        }
        Ok(entry)
    }

    /// Its leaf hash in the tree.
    pub fn leaf_hash(&self) -> Hash {
        tlog_tiles::record_hash(&self.to_bytes())
    }

    /// The bounds an entry keeps.
    pub fn check(&self) -> Result<(), AuditError> {
        let texts = [
            Some(&self.writer),
            self.agent.as_ref(),
            self.principal.as_ref(),
            self.task.as_ref(),
            self.action.as_ref(),
            self.reason.as_ref(),
        ];
        if texts.iter().flatten().any(|t| t.len() > MAX_TEXT)
            || self.credentials.iter().any(|c| c.len() > MAX_TEXT)
        {
            return Err(AuditError::Malformed(format!(
                "a field is longer than {MAX_TEXT} bytes"
            )));
        }
        if self.credentials.len() > MAX_CREDENTIALS {
            return Err(AuditError::Malformed(format!(
                "at most {MAX_CREDENTIALS} credentials"
            )));
        }
        if self.count.is_some_and(|count| count < 2) {
            return Err(AuditError::Malformed(
                "a count is given only for two events or more".into(),
            ));
        }
        if (self.seq == 0) != self.previous.is_none() {
            return Err(AuditError::Malformed(
                "the first entry, and only it, has no previous".into(),
            ));
        }
        Ok(())
    }
}

/// What `verify_entries` found wrong first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tamper {
    /// The position in the sequence given where it was found.
    pub at: u64,
    /// What: `changed` (an entry whose hash its successor does not name), `missing or
    /// reordered` (a sequence number out of place), `malformed`.
    pub what: String,
}

/// Checks entries given in order from the first: each at its position, each naming the leaf hash
/// of the one before. Returns the leaf hashes, for the tree, or the first break: an entry changed
/// shows as its successor naming another hash (or, for the last, as a root that differs from a
/// signed checkpoint's); a deletion, an insertion or a swap as a sequence number out of place.
pub fn verify_entries(entries: &[Entry]) -> Result<Vec<Hash>, Tamper> {
    let mut leaves = Vec::with_capacity(entries.len());
    let mut previous: Option<Hash> = None;
    for (position, entry) in entries.iter().enumerate() {
        let at = position as u64;
        if let Err(e) = entry.check() {
            return Err(Tamper {
                at,
                what: e.to_string(),
            });
        }
        if entry.seq != at {
            return Err(Tamper {
                at,
                what: format!(
                    "entry {} where entry {at} should be: missing or reordered",
                    entry.seq
                ),
            });
        }
        let named = entry.previous.as_deref().map(Hash::parse_hash);
        match (previous, named) {
            (None, None) => {}
            (Some(expected), Some(Ok(named))) if named == expected => {}
            _ => {
                return Err(Tamper {
                    at: at.saturating_sub(1),
                    what: "changed: the next entry names another hash".into(),
                });
            }
        }
        let leaf = entry.leaf_hash();
        leaves.push(leaf);
        previous = Some(leaf);
    }
    Ok(leaves)
}

/// The hashes a log keeps, in `tlog_tiles`' stored-hash order: what an append writes and every
/// root and proof reads. The node keeps them in RocksDB; this one is in memory (the wallet's, and
/// verification of an export).
#[derive(Debug, Clone, Default)]
pub struct MemoryHashes(pub Vec<Hash>);

impl HashReader for MemoryHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.0.get(i).copied())
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

impl MemoryHashes {
    /// Appends leaf `n` (the tree has `n` leaves before it), storing the hashes it completes.
    pub fn append(&mut self, n: u64, leaf: Hash) -> Result<(), AuditError> {
        let stored = tlog_tiles::stored_hashes_for_record_hash(n, leaf, self)
            .map_err(|e| AuditError::Storage(e.to_string()))?;
        self.0.extend(stored);
        Ok(())
    }

    /// The tree of these leaves.
    pub fn of(leaves: &[Hash]) -> Result<Self, AuditError> {
        let mut hashes = Self::default();
        for (n, leaf) in leaves.iter().enumerate() {
            hashes.append(n as u64, *leaf)?;
        }
        Ok(hashes)
    }
}

/// The root of the tree of `size` leaves.
pub fn root<R: HashReader>(size: u64, hashes: &R) -> Result<Hash, AuditError> {
    tlog_tiles::tree_hash(size, hashes).map_err(|e| AuditError::Storage(e.to_string()))
}

/// The proof that leaf `index` is in the tree of `size` leaves.
pub fn prove_inclusion<R: HashReader>(
    index: u64,
    size: u64,
    hashes: &R,
) -> Result<Vec<Hash>, AuditError> {
    if index >= size {
        return Err(AuditError::OutOfRange(format!(
            "leaf {index} is not in a tree of {size}"
        )));
    }
    tlog_tiles::prove_record(size, index, hashes).map_err(|e| AuditError::Storage(e.to_string()))
}

/// The proof that the tree of `new` leaves extends the tree of `old` leaves.
pub fn prove_consistency<R: HashReader>(
    old: u64,
    new: u64,
    hashes: &R,
) -> Result<Vec<Hash>, AuditError> {
    if old > new || old == 0 {
        return Err(AuditError::OutOfRange(format!(
            "no consistency proof from {old} to {new} leaves"
        )));
    }
    tlog_tiles::prove_tree(new, old, hashes).map_err(|e| AuditError::Storage(e.to_string()))
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(
    proof: &[Hash],
    index: u64,
    size: u64,
    root: Hash,
    leaf: Hash,
) -> Result<(), AuditError> {
    if proof.len() > MAX_PROOF_HASHES || index >= size {
        return Err(AuditError::InvalidProof);
    }
    tlog_tiles::check_record(&proof.to_vec(), size, root, index, leaf)
        .map_err(|_| AuditError::InvalidProof)
}

/// Checks that the tree of `new` leaves with root `new_root` extends the tree of `old` leaves
/// with root `old_root`.
pub fn verify_consistency(
    proof: &[Hash],
    old: u64,
    old_root: Hash,
    new: u64,
    new_root: Hash,
) -> Result<(), AuditError> {
    if proof.len() > MAX_PROOF_HASHES || old > new || old == 0 {
        return Err(AuditError::InvalidProof);
    }
    tlog_tiles::check_tree(&proof.to_vec(), new, new_root, old, old_root)
        .map_err(|_| AuditError::InvalidProof)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entries(n: u64) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        for seq in 0..n {
            let entry = Entry {
                seq,
                previous: out.last().map(|e| e.leaf_hash().to_string()),
                time: DateTime::from_timestamp(1_796_000_000 + seq as i64, 0).expect("a time"),
                writer: "did:vouch:zQmWriter".into(),
                event: Event::Issued,
                agent: Some(format!("did:key:z6Mk{seq}")),
                principal: Some("urn:vouch:principal:abc".into()),
                task: Some(format!("task-{}", seq % 7)),
                action: Some("call:billing:refund".into()),
                resource_hash: Some(Multihash::of(b"https://billing.example/refunds/1")),
                decision: Some(Decision::Accepted),
                reason: None,
                count: (seq % 5 == 3).then_some(seq + 2),
                credentials: vec![format!("urn:uuid:{seq}")],
            };
            out.push(entry);
        }
        out
    }

    #[test]
    fn entries_round_trip_in_canonical_form_only() {
        let entry = entries(2).pop().expect("one");
        let bytes = entry.to_bytes();
        assert_eq!(Entry::from_bytes(&bytes).expect("reads"), entry);
        let mut spaced = b" ".to_vec();
        spaced.extend_from_slice(&bytes);
        assert!(Entry::from_bytes(&spaced).is_err(), "not canonical");
        let mut unknown: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        unknown["prompt"] = "secret".into();
        assert!(Entry::from_bytes(&serde_jcs::to_vec(&unknown).expect("jcs")).is_err());
        // A count stands for two events or more, and is part of the canonical form.
        let mut counted = entry.clone();
        counted.count = Some(299);
        let bytes = counted.to_bytes();
        assert!(String::from_utf8_lossy(&bytes).contains(r#""count":299,"#));
        assert_eq!(Entry::from_bytes(&bytes).expect("reads"), counted);
        for wrong in [0, 1] {
            counted.count = Some(wrong);
            assert!(Entry::from_bytes(&counted.to_bytes()).is_err(), "{wrong}");
        }
    }

    #[test]
    fn proofs_verify_for_every_size_and_fail_when_a_hash_changes() {
        let log = entries(2048);
        let leaves = verify_entries(&log).expect("an intact log");
        let hashes = MemoryHashes::of(&leaves).expect("a tree");
        let roots: Vec<Hash> = (0..=leaves.len() as u64)
            .map(|size| root(size, &hashes).expect("a root"))
            .collect();
        assert_eq!(roots[0], EMPTY_HASH);
        for size in 1..=leaves.len() as u64 {
            let r = roots[size as usize];
            for index in [0, size / 2, size - 1] {
                let proof = prove_inclusion(index, size, &hashes).expect("a proof");
                let leaf = leaves[index as usize];
                verify_inclusion(&proof, index, size, r, leaf).expect("verifies");
                if let Some(first) = proof.first() {
                    let mut bad = proof.clone();
                    bad[0] = tlog_tiles::node_hash(*first, *first);
                    assert!(verify_inclusion(&bad, index, size, r, leaf).is_err());
                }
                let other = tlog_tiles::record_hash(b"another entry");
                assert!(verify_inclusion(&proof, index, size, r, other).is_err());
            }
            for old in [1, size / 2, size - 1].into_iter().filter(|&o| o >= 1) {
                let proof = prove_consistency(old, size, &hashes).expect("a proof");
                verify_consistency(&proof, old, roots[old as usize], size, r).expect("verifies");
                let wrong_old = tlog_tiles::record_hash(b"a fork");
                if old != size {
                    assert!(verify_consistency(&proof, old, wrong_old, size, r).is_err());
                }
            }
        }
        // A proof longer than any tree needs is refused before it is run.
        let long = vec![EMPTY_HASH; MAX_PROOF_HASHES + 1];
        assert!(verify_inclusion(&long, 0, 2, roots[2], leaves[0]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The bytes written are exactly JCS's, whatever the strings hold.
        #[test]
        fn entries_are_written_in_jcs_form(
            seq in 0u64..(1u64 << 53),
            texts in proptest::collection::vec("\\PC{0,24}|[\\x00-\\x1f\"\\\\/\\x7f]{0,8}", 6),
            credentials in proptest::collection::vec("\\PC{0,16}", 0..4),
            count in proptest::option::of(2u64..(1u64 << 53)),
        ) {
            let entry = Entry {
                seq,
                previous: (seq > 0).then(|| texts[0].clone()),
                time: DateTime::from_timestamp(1_796_000_000, 123_000_000).expect("a time"),
                writer: texts[1].clone(),
                event: Event::Decided,
                agent: Some(texts[2].clone()),
                principal: None,
                task: Some(texts[3].clone()),
                action: Some(texts[4].clone()),
                resource_hash: Some(Multihash::of(texts[5].as_bytes())),
                decision: Some(Decision::Rejected),
                reason: Some(texts[5].clone()),
                count,
                credentials,
            };
            prop_assert_eq!(entry.to_bytes(), serde_jcs::to_vec(&entry).expect("jcs"));
        }

        /// Changing, deleting, inserting or swapping any entry is found, at its place.
        #[test]
        fn every_tampering_is_found(n in 2u64..200, at in 0usize..200, kind in 0u8..4) {
            let log = entries(n);
            let at = at % (n as usize);
            let intact = verify_entries(&log).expect("intact");
            let mut tampered = log.clone();
            match kind {
                0 => tampered[at].action = Some("call:billing:*".into()),
                1 => { tampered.remove(at); }
                2 => tampered.insert(at, log[at].clone()),
                _ => {
                    let other = (at + 1) % (n as usize);
                    tampered.swap(at, other);
                }
            }
            match verify_entries(&tampered) {
                Err(tamper) => prop_assert!(tamper.at <= at as u64 + 1, "{tamper:?} for {at}"),
                // A change of the last entry leaves the chain whole: the root shows it.
                Ok(leaves) => {
                    prop_assert!(kind == 0 || kind == 1, "kind {kind} at {at} unnoticed");
                    let hashes = MemoryHashes::of(&leaves).expect("a tree");
                    let original = MemoryHashes::of(&intact).expect("a tree");
                    prop_assert_ne!(
                        root(leaves.len() as u64, &hashes).expect("root"),
                        root(n, &original).expect("root")
                    );
                }
            }
        }
    }
}
