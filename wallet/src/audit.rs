//! Checking an audit log (DESIGN §9) from outside: its entries, from the first, must chain and
//! make exactly the tree a checkpoint signed by the log's key commits to. Used by `vouch audit
//! verify` on a live node or on an export.

use vouch_api::node::NodeClient;

use vouch_core::audit::{self, Entry, Hash, checkpoint};
use vouch_core::key::PublicKey;

/// The most entries read from a node or an export.
pub const MAX_ENTRIES: usize = 10_000_000;

/// What a check found.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// The entries make the checkpoint's tree.
    Verified {
        /// The checkpoint's size.
        size: u64,
        /// Its root.
        root: Hash,
    },
    /// The first change, deletion, insertion or reordering found.
    Tampered {
        /// The index of the first entry found changed.
        at: u64,
        /// What was found there.
        what: String,
    },
}

/// Why a check could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The checkpoint is not signed by the log's key, or not of its origin.
    #[error("the checkpoint: {0}")]
    Checkpoint(String),
    /// The node could not be read.
    #[error("{0}")]
    Node(String),
    /// An export line is not an entry.
    #[error("line {line}: {why}")]
    Export {
        /// Which line (from 1).
        line: usize,
        /// What is wrong with the line.
        why: String,
    },
}

/// Checks `entries` (from the first) against a signed checkpoint of `origin` by `key`.
pub fn check(
    entries: &[Entry],
    note: &[u8],
    origin: &str,
    key: &PublicKey,
) -> Result<Finding, CheckError> {
    let signed =
        checkpoint::open(note, origin, key).map_err(|e| CheckError::Checkpoint(e.to_string()))?;
    let size = usize::try_from(signed.size).unwrap_or(usize::MAX);
    // The chain first, of every entry given (those after the checkpoint too: a log that does
    // not chain is damaged wherever it is): a break shows where; then whether any is missing.
    let mut leaves = match audit::verify_entries(entries) {
        Ok(leaves) => leaves,
        Err(tamper) => {
            return Ok(Finding::Tampered {
                at: tamper.at,
                what: tamper.what,
            });
        }
    };
    if entries.len() < size {
        return Ok(Finding::Tampered {
            at: entries.len() as u64,
            what: format!(
                "{} entries, the checkpoint commits to {}: deleted",
                entries.len(),
                signed.size
            ),
        });
    }
    leaves.truncate(size);
    let tree = audit::MemoryHashes::of(&leaves).map_err(|e| CheckError::Node(e.to_string()))?;
    let root = audit::root(signed.size, &tree).map_err(|e| CheckError::Node(e.to_string()))?;
    if root != signed.root {
        return Ok(Finding::Tampered {
            at: signed.size.saturating_sub(1),
            what: "the entries do not make the checkpoint's tree: the last one changed".into(),
        });
    }
    Ok(Finding::Verified {
        size: signed.size,
        root,
    })
}

/// Reads an export: one entry per line, as the node serves them.
pub fn read_export(text: &str) -> Result<Vec<Entry>, CheckError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .take(MAX_ENTRIES)
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| CheckError::Export {
                line: i + 1,
                why: e.to_string(),
            })
        })
        .collect()
}

/// The node at `base`, reached as any node is ([`vouch_api::reach::Reach`]: HTTPS, or plain
/// HTTP to this machine).
fn node(base: &str) -> Result<NodeClient, CheckError> {
    let url = vouch_api::reach::Reach::new()
        .node(base)
        .map_err(|e| CheckError::Node(e.to_string()))?;
    Ok(NodeClient::new(url))
}

fn unreachable(e: vouch_api::node::NodeError) -> CheckError {
    CheckError::Node(e.to_string())
}

/// A node's audit log: its checkpoint now, then its entries up to it.
pub fn fetch(base: &str) -> Result<(Vec<u8>, Vec<Entry>), CheckError> {
    let node = node(base)?;
    let note = node.audit_checkpoint().map_err(unreachable)?.into_bytes();
    let mut entries: Vec<Entry> = Vec::new();
    loop {
        let from = u64::try_from(entries.len()).unwrap_or(u64::MAX);
        let page = node.audit_entries(from).map_err(unreachable)?;
        if page.entries.is_empty() || entries.len() >= MAX_ENTRIES {
            break;
        }
        entries.extend(page.entries);
    }
    Ok((note, entries))
}

/// A checkpoint and the witnesses whose cosignature on it verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Cosigned {
    /// The checkpoint, as a signed note with those cosignatures.
    pub note: Vec<u8>,
    /// Its size.
    pub size: u64,
    /// The witnesses that cosigned it.
    pub cosigners: Vec<String>,
}

/// Opens a checkpoint of `origin` signed by `key` and counts the cosignatures of `witnesses`
/// on it: fewer than `quorum` is an error.
pub fn check_cosigned(
    note: &[u8],
    origin: &str,
    key: &PublicKey,
    witnesses: &[(String, PublicKey)],
    quorum: usize,
) -> Result<Cosigned, CheckError> {
    let opened = checkpoint::open_witnessed(note, origin, key, witnesses)
        .map_err(|e| CheckError::Checkpoint(e.to_string()))?;
    let cosigners: Vec<String> = opened.cosigners.into_iter().map(|(name, _)| name).collect();
    if cosigners.len() < quorum {
        return Err(CheckError::Checkpoint(format!(
            "cosigned by {} of the {} witnesses known, {quorum} needed",
            cosigners.len(),
            witnesses.len()
        )));
    }
    Ok(Cosigned {
        note: opened.note,
        size: opened.checkpoint.size,
        cosigners,
    })
}

/// The members of a consortium now — each one's DID and node key — from its genesis, checked
/// (every member signed exactly it), and its `amendments` (JSON Lines), each applied only if
/// the members of the state it amends signed it: a removed member is no member, and no witness,
/// from its removal on. A genesis or amendment that does not check is an error, never skipped.
pub fn members(genesis: &str, amendments: &str) -> Result<Vec<(String, PublicKey)>, CheckError> {
    use vouch_core::consortium::{Amendment, Consortium, Membership};
    let bad = |what: String| CheckError::Checkpoint(what);
    let genesis = Consortium::from_json(genesis.as_bytes())
        .map_err(|e| bad(format!("the consortium genesis: {e}")))?;
    let amendments = amendments
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(n, line)| {
            Amendment::from_json(line.as_bytes())
                .map_err(|e| bad(format!("amendment {}: {e}", n + 1)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut membership = Membership::new(&genesis);
    membership
        .apply_all(&amendments)
        .map_err(|e| bad(e.to_string()))?;
    Ok(membership
        .members()
        .iter()
        .map(|m| (m.did.to_string(), m.node_key))
        .collect())
}

/// The newest checkpoint of `origin` that the node at `base` holds cosigned
/// (`GET /1.0/audit/witnessed`).
pub fn fetch_witnessed(base: &str, origin: &str) -> Result<Vec<u8>, CheckError> {
    node(base)?
        .witnessed()
        .map_err(unreachable)?
        .checkpoints
        .into_iter()
        .find(|c| c.origin == origin)
        .map(|c| c.checkpoint.into_bytes())
        .ok_or_else(|| CheckError::Node(format!("{base} holds no checkpoint of {origin}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_core::consortium::{Change, Consortium, Member, Membership, peer_id_of};
    use vouch_core::key::KeyPair;

    fn member(key: &KeyPair, n: u8) -> Member {
        let org = vouch_core::hash::multihash(&[n]);
        Member {
            did: vouch_core::did::Did::parse(&format!("did:vouch:{org}")).expect("a DID"),
            node_key: key.public(),
            peer_id: peer_id_of(&key.public()),
            addresses: Vec::new(),
            actions: vec!["*".into()],
        }
    }

    #[test]
    fn the_auditor_checks_the_genesis_and_applies_its_amendments() {
        let keys: Vec<KeyPair> = (0..3).map(|_| KeyPair::generate()).collect();
        let members_of = |keys: &[KeyPair]| {
            keys.iter()
                .enumerate()
                .map(|(n, k)| member(k, n as u8))
                .collect::<Vec<_>>()
        };
        let genesis = Consortium::sign("audited", members_of(&keys), None, &keys).expect("signed");
        let text = serde_json::to_string(&genesis).expect("JSON");
        assert_eq!(members(&text, "").expect("members").len(), 3);

        // Signatures removed, replaced by junk, or a member changed after signing: refused.
        let mut unsigned = genesis.clone();
        unsigned.signatures.clear();
        let mut junk = genesis.clone();
        junk.signatures[1].signature = "zJunk".into();
        let mut changed = genesis.clone();
        changed.members[2].actions = vec!["call:*".into()];
        for bad in [unsigned, junk, changed] {
            let bad = serde_json::to_string(&bad).expect("JSON");
            assert!(members(&bad, "").is_err(), "{bad}");
        }

        // An amendment that removes the third member, signed by all: it is no witness after.
        let membership = Membership::new(&genesis);
        let removed = genesis.members[2].did.clone();
        let mut amendment = membership
            .propose(
                Change::Remove {
                    did: removed.clone(),
                },
                &keys[0],
                chrono::Utc::now(),
            )
            .expect("proposed");
        for key in &keys[1..] {
            membership.sign(&mut amendment, key).expect("signed");
        }
        let now = members(&text, &amendment.to_json()).expect("members");
        assert_eq!(now.len(), 2);
        assert!(now.iter().all(|(did, _)| *did != removed.to_string()));
        // One short of signatures: refused, not skipped.
        let mut short = amendment.clone();
        short.signatures.pop();
        assert!(members(&text, &short.to_json()).is_err());
    }
}
