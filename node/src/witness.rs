//! Witnessing the members' audit logs (DESIGN §9), the way Certificate Transparency's and Go's
//! checksum database's witnesses do. Each node signs checkpoints of its own log and gossips them;
//! every other member checks each one against the newest checkpoint it holds of that log — the
//! log's consistency proof between the two, asked of the log's node — and, if it holds, cosigns
//! it (C2SP `tlog-cosignature`), keeps it and sends the cosignature to the log's node, which
//! gathers its witnesses' cosignatures and gossips them with its next note. Two checkpoints of one log with no consistency
//! between them (same size and another root, a proof that fails, a log that no longer has a tree
//! it signed) are kept as evidence and reported: API, metrics, log.
//!
//! Layout of the store's `witness` family:
//!
//! - `held/<origin>`: the newest checkpoint of the log, as a signed note with the cosignatures
//!   of the known witnesses gathered so far (for this node's own log, its newest checkpoint);
//! - `cosigned/<own origin>`: this node's newest checkpoint that a witness cosigned, with the
//!   cosignatures gathered;
//! - `evidence/<origin>/<detected, nanoseconds, 20 digits>`: an [`Evidence`], JSON.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tracing::{info, warn};
use vouch_core::audit::checkpoint::{self, Witnessed};
use vouch_core::audit::{self as core_audit, Hash};
use vouch_core::key::{KeyPair, PublicKey};

use crate::audit::{AuditLog, AuditLogError};
use crate::consortium::{Member, Members};
use crate::fault::{Judgement, PeerMisbehaved};
use crate::metrics::Metrics;
use crate::store::{Batch, Store, StoreError};
use vouch_core::lock::MutexExt as _;

/// The largest checkpoint note: the checkpoint and a hundred signature lines.
pub const MAX_CHECKPOINT_BYTES: usize = 32 * 1024;
/// The most pieces of evidence kept per log.
pub const MAX_EVIDENCE_PER_LOG: usize = 16;
/// How long a witness waits before it gossips its cosignature of a checkpoint again for a log
/// whose node showed it lacks it.
const RESEND_AFTER: Duration = Duration::from_secs(5);
/// The most consistency proofs asked of members' nodes at once.
pub const MAX_PROOFS_IN_FLIGHT: usize = 256;
/// How many checkpoints of each log, known consistent with the one held, are remembered so that
/// one arriving again (with other cosignatures, or late) costs no proof.
const REMEMBERED: usize = 32;

/// The origin of a member's audit log in its checkpoints.
pub fn origin_of(member: &Member) -> String {
    format!("{}/audit", member.did)
}

/// A member's name as a witness, in its cosignatures.
pub fn witness_name(member: &Member) -> String {
    format!("{}/witness", member.did)
}

/// Why witnessing failed.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The node's own log failed.
    #[error(transparent)]
    Audit(#[from] AuditLogError),
    /// A checkpoint could not be made or read.
    #[error(transparent)]
    Checkpoint(#[from] core_audit::AuditError),
}

pub use vouch_api::node::public::{Evidence, HeldCheckpoint};

/// What to do with a checkpoint received.
#[derive(Debug)]
pub enum Outcome {
    /// Nothing new: dropped, at no cost to the sender.
    Known,
    /// Stored: a first checkpoint cosigned, a consistent one cosigned, or cosignatures gathered.
    /// Forwarded; `send` is this node's cosigned note, for the log's node.
    Stored {
        /// This node's cosignature, for the log's node.
        send: Option<ToLog>,
    },
    /// Nothing new to this node, but cosignatures of the checkpoint it holds, which others may
    /// lack: forwarded, not stored; `send` is this node's cosigned note again, when the log's
    /// node showed it lacks it.
    Relay {
        /// This node's cosignature again, for the log's node.
        send: Option<ToLog>,
    },
    /// It is consistent with the one held only if the log proves it: ask the log's node for the
    /// proof from `old` to `new` entries, then call [`Witness::proved`]. Forwarded meanwhile:
    /// it is the log's, signed.
    Prove {
        /// The log's node, as a libp2p peer id.
        peer: String,
        /// The smaller size.
        old: u64,
        /// The larger size.
        new: u64,
    },
    /// It contradicts the checkpoint held: the evidence is stored. Forwarded, so that every
    /// witness sees the fork.
    Fork,
    /// The sender misbehaved (no signature of the log, a forged cosignature, not a checkpoint).
    Misbehaved(PeerMisbehaved),
    /// This node could not judge it (its store failed).
    Unjudged,
}

impl Outcome {
    /// The verdict for gossip.
    pub fn judgement(&self) -> Judgement {
        match self {
            Self::Known => Judgement::Known,
            Self::Stored { .. } | Self::Relay { .. } | Self::Prove { .. } | Self::Fork => {
                Judgement::Accepted
            }
            Self::Misbehaved(misbehaved) => Judgement::Misbehaved(misbehaved.clone()),
            Self::Unjudged => Judgement::Unjudged,
        }
    }
}

/// A witness's cosignature, for the log's node alone: sent to it directly, never gossiped. The
/// log gathers its witnesses' cosignatures and gossips them with its note on its timer, so that a
/// round of checkpoints costs each member one message per log, not one per log and witness.
#[derive(Debug)]
pub struct ToLog {
    /// The log's node, as a libp2p peer id.
    pub peer: String,
    /// The checkpoint, with this node's cosignature.
    pub note: Vec<u8>,
}

/// What the log's node answered when asked for a consistency proof.
#[derive(Debug)]
pub enum Answer {
    /// The proof.
    Proof(Vec<Hash>),
    /// The log holds only this many entries: fewer than a checkpoint it signed.
    Lacks(u64),
}

/// This node's witness of the members' audit logs, and the keeper of its own log's checkpoints.
#[derive(Clone)]
pub struct Witness {
    store: Arc<Store>,
    members: Members,
    key: Arc<KeyPair>,
    own: String,
    name: String,
    metrics: Arc<Metrics>,
    /// Held across a read and the write it leads to: checkpoints are judged on several threads.
    lock: Arc<Mutex<Memory>>,
}

/// What the witness remembers between checkpoints, per member's log (so bounded by the
/// membership).
#[derive(Debug, Default)]
struct Memory {
    /// Sizes and roots known consistent with the checkpoint held.
    consistent: HashMap<String, VecDeque<(u64, Hash)>>,
    /// When this node last gossiped its cosigned checkpoint again.
    resent: HashMap<String, Instant>,
}

/// A member's log: its origin, its node's key and peer id.
struct Log {
    origin: String,
    key: PublicKey,
    peer: String,
}

/// The members' logs and the witnesses' names and keys, as of now.
struct Roster {
    logs: Vec<Log>,
    witnesses: Vec<(String, PublicKey)>,
}

impl Roster {
    fn log(&self, origin: &str) -> Option<&Log> {
        self.logs.iter().find(|log| log.origin == origin)
    }
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("own", &self.own)
            .finish_non_exhaustive()
    }
}

fn held_key(origin: &str) -> Vec<u8> {
    format!("held/{origin}").into_bytes()
}

fn cosigned_key(origin: &str) -> Vec<u8> {
    format!("cosigned/{origin}").into_bytes()
}

fn evidence_prefix(origin: &str) -> Vec<u8> {
    format!("evidence/{origin}/").into_bytes()
}

/// The origin a note names: its first line.
fn origin_line(note: &[u8]) -> Option<&str> {
    let end = note.iter().position(|b| *b == b'\n')?;
    std::str::from_utf8(&note[..end]).ok()
}

impl Witness {
    /// The witness of the node whose org is `own` (its DID) and whose node key is `key`.
    pub fn new(
        store: Arc<Store>,
        members: Members,
        key: KeyPair,
        own: &vouch_core::did::Did,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store,
            members,
            key: Arc::new(key),
            own: format!("{own}/audit"),
            name: format!("{own}/witness"),
            metrics,
            lock: Arc::default(),
        }
    }

    fn roster(&self) -> Roster {
        let members = self
            .members
            .now()
            .map(|m| m.members().to_vec())
            .unwrap_or_default();
        Roster {
            logs: members
                .iter()
                .map(|m| Log {
                    origin: origin_of(m),
                    key: m.node_key,
                    peer: m.peer_id.clone(),
                })
                .collect(),
            witnesses: members
                .iter()
                .map(|m| (witness_name(m), m.node_key))
                .collect(),
        }
    }

    fn held(&self, origin: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.witness(&held_key(origin))
    }

    /// The checkpoint held of a member's log, as stored and opened.
    fn held_open(&self, origin: &str) -> Result<Option<(Vec<u8>, Witnessed)>, WitnessError> {
        let Some(held) = self.held(origin)? else {
            return Ok(None);
        };
        let roster = self.roster();
        let Some(log) = roster.log(origin) else {
            return Ok(None);
        };
        let opened = checkpoint::open_witnessed(&held, origin, &log.key, &roster.witnesses)?;
        Ok(Some((held, opened)))
    }

    fn keep(&self, origin: &str, note: &[u8]) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        self.store.put_witness(&mut batch, &held_key(origin), note);
        self.store.commit(batch)
    }

    /// Signs a checkpoint of this node's own log when it grew since the last one, and keeps it.
    /// Returns the newest checkpoint and its size, to gossip (again: a member that missed it
    /// sees it now); none while the log is empty.
    pub fn checkpoint_own(&self, log: &AuditLog) -> Result<Option<(Vec<u8>, u64)>, WitnessError> {
        let (size, root) = log.root()?;
        let _guard = self.lock.locked();
        let held = self.held(&self.own)?;
        let public = self.key.public();
        if let Some(held) = held {
            let opened = checkpoint::open(&held, &self.own, &public)?;
            // Unchanged. A log that changed otherwise than by growing is signed as it is: its
            // witnesses judge it.
            if (opened.size, opened.root) == (size, root) {
                return Ok(Some((held, size)));
            }
        } else if size == 0 {
            return Ok(None);
        }
        let note = checkpoint::sign(&self.own, size, root, &self.key)?;
        self.keep(&self.own, &note)?;
        Ok(Some((note, size)))
    }

    /// A witness's cosignature of this node's own checkpoint, sent to it directly: gathered into
    /// the checkpoint held. A note of another log is the sender's fault (a witness sends only to
    /// the log's node). Blocking.
    pub fn cosignature_sent(&self, note: &[u8], now: DateTime<Utc>) -> Outcome {
        self.receive_checked(note, now, |origin, _| {
            (origin == self.own).then_some(()).ok_or_else(|| {
                PeerMisbehaved::Malformed(
                    "a cosignature sent to a node that is not its log's".into(),
                )
            })
        })
    }

    /// A checkpoint gossiped, published by `publisher` (the peer that signed the gossip message):
    /// only a log's node gossips its checkpoints — its witnesses send their cosignatures to it
    /// alone — so a note published by any other peer is refused. Blocking.
    pub fn gossiped(&self, note: &[u8], publisher: Option<&str>, now: DateTime<Utc>) -> Outcome {
        self.receive_checked(note, now, |_, log| {
            (publisher == Some(log)).then_some(()).ok_or_else(|| {
                PeerMisbehaved::Malformed(
                    "a checkpoint gossiped by a peer other than its log's node".into(),
                )
            })
        })
    }

    /// Judges a checkpoint of a member's log, however it came. Blocking.
    pub fn receive(&self, note: &[u8], now: DateTime<Utc>) -> Outcome {
        self.receive_checked(note, now, |_, _| Ok(()))
    }

    /// [`Witness::receive`], once `came` accepts the note's origin and its log's node (a peer
    /// id) as the way it came.
    fn receive_checked(
        &self,
        note: &[u8],
        now: DateTime<Utc>,
        came: impl FnOnce(&str, &str) -> Result<(), PeerMisbehaved>,
    ) -> Outcome {
        if note.len() > MAX_CHECKPOINT_BYTES {
            return Outcome::Misbehaved(PeerMisbehaved::TooLarge {
                bytes: note.len(),
                limit: MAX_CHECKPOINT_BYTES,
            });
        }
        let (witnessed, log) = match self.open(note) {
            Ok(Some(opened)) => opened,
            Ok(None) => return Outcome::Known,
            Err(misbehaved) => return Outcome::Misbehaved(misbehaved),
        };
        if let Err(misbehaved) = came(&witnessed.checkpoint.origin, &log) {
            return Outcome::Misbehaved(misbehaved);
        }
        self.judge((witnessed, log), now).unwrap_or_else(|e| {
            warn!(error = %e, "a checkpoint could not be judged");
            Outcome::Unjudged
        })
    }

    /// Opens a note of a member's log: `None` for a log of no member (one removed, say).
    fn open(&self, note: &[u8]) -> Result<Option<(Witnessed, String)>, PeerMisbehaved> {
        let origin = origin_line(note)
            .ok_or_else(|| PeerMisbehaved::Malformed("a checkpoint without an origin".into()))?;
        let roster = self.roster();
        let Some(log) = roster.log(origin) else {
            return Ok(None);
        };
        let witnessed = checkpoint::open_witnessed(note, origin, &log.key, &roster.witnesses)
            .map_err(|e| {
                PeerMisbehaved::InvalidSignature(format!("a checkpoint of {origin}: {e}"))
            })?;
        Ok(Some((witnessed, log.peer.clone())))
    }

    fn judge(
        &self,
        (witnessed, peer): (Witnessed, String),
        now: DateTime<Utc>,
    ) -> Result<Outcome, WitnessError> {
        let origin = witnessed.checkpoint.origin.clone();
        let mut memory = self.lock.locked();
        let Some((held, held_checkpoint)) = self.held_open(&origin)? else {
            if origin == self.own {
                // A checkpoint of this node's log that it does not hold: not one it signed lately.
                return Ok(Outcome::Known);
            }
            // The first checkpoint seen of this log: nothing to check it against.
            info!(%origin, size = witnessed.checkpoint.size, "witnessing a member's audit log");
            return self
                .cosign(&origin, &witnessed.note, now)
                .map(sent_to(peer));
        };
        if origin == self.own {
            return self.gather(&held, &witnessed);
        }
        let (old, new) = (&held_checkpoint.checkpoint, &witnessed.checkpoint);
        if old.size == new.size {
            if old.root != new.root {
                return self.fork(
                    &origin,
                    &held,
                    &witnessed.note,
                    format!(
                        "two checkpoints of {} entries with different roots",
                        new.size
                    ),
                    now,
                );
            }
            // The same checkpoint: gather the cosignatures it brings. A note without this
            // node's cosignature (the log gossips its newest again on its timer, with those it
            // gathered) means the log's node missed it: send it again, at most every
            // RESEND_AFTER per log.
            let merged = checkpoint::merge(&held, &witnessed.note)?;
            let missed = !witnessed
                .cosigners
                .iter()
                .any(|(name, _)| *name == self.name);
            let send = (missed
                && memory
                    .resent
                    .get(&origin)
                    .is_none_or(|at| at.elapsed() >= RESEND_AFTER))
            .then(|| {
                memory.resent.insert(origin.clone(), Instant::now());
                ToLog {
                    peer,
                    note: merged.clone(),
                }
            });
            if merged != held {
                self.keep(&origin, &merged)?;
                return Ok(Outcome::Stored { send });
            }
            // Nothing new here; but its cosignatures may be news to members that missed the
            // log's gossip.
            return Ok(if send.is_some() || !witnessed.cosigners.is_empty() {
                Outcome::Relay { send }
            } else {
                Outcome::Known
            });
        }
        if new.size == 0 {
            // A log never signs its empty tree once it has entries (nor before: it signs only
            // when it has some): this one dropped them all.
            return self.fork(
                &origin,
                &held,
                &witnessed.note,
                format!("the log signed 0 entries after signing {}", old.size),
                now,
            );
        }
        if old.size == 0 {
            // Every tree extends the empty one.
            return self
                .cosign(&origin, &witnessed.note, now)
                .map(sent_to(peer));
        }
        let seen = memory.consistent.entry(origin.clone()).or_default();
        if seen.contains(&(new.size, new.root)) {
            return Ok(Outcome::Known);
        }
        Ok(Outcome::Prove {
            peer,
            old: old.size.min(new.size),
            new: old.size.max(new.size),
        })
    }

    /// Gathers the cosignatures of this node's own checkpoints: into the newest (`held`), and
    /// into the newest cosigned one, which auditors check the log against.
    fn gather(&self, held: &[u8], witnessed: &Witnessed) -> Result<Outcome, WitnessError> {
        let cosigned_key = cosigned_key(&self.own);
        let cosigned = self.store.witness(&cosigned_key)?;
        let mut batch = Batch::default();
        let mut stored = false;
        if let Ok(merged) = checkpoint::merge(held, &witnessed.note)
            && merged != held
        {
            self.store
                .put_witness(&mut batch, &held_key(&self.own), &merged);
            self.store.put_witness(&mut batch, &cosigned_key, &merged);
            stored = true;
        } else if let Some(cosigned) = cosigned
            && let Ok(merged) = checkpoint::merge(&cosigned, &witnessed.note)
            && merged != cosigned
        {
            self.store.put_witness(&mut batch, &cosigned_key, &merged);
            stored = true;
        }
        if !stored {
            return Ok(Outcome::Known);
        }
        self.store.commit(batch)?;
        Ok(Outcome::Stored { send: None })
    }

    /// Cosigns `note` and keeps it as the newest of `origin`.
    fn cosign(
        &self,
        origin: &str,
        note: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, WitnessError> {
        let cosigned = checkpoint::cosign(note, &self.name, &self.key, now)?;
        self.keep(origin, &cosigned)?;
        self.metrics.record_cosigned();
        Ok(cosigned)
    }

    /// Stores the evidence of a fork (at most [`MAX_EVIDENCE_PER_LOG`] per log, each once) and
    /// reports it.
    fn fork(
        &self,
        origin: &str,
        held: &[u8],
        conflicting: &[u8],
        reason: String,
        now: DateTime<Utc>,
    ) -> Result<Outcome, WitnessError> {
        let prefix = evidence_prefix(origin);
        let (kept, _) = self.store.witness_scan(&prefix, MAX_EVIDENCE_PER_LOG)?;
        let evidence = Evidence {
            origin: origin.to_owned(),
            held: String::from_utf8_lossy(held).into_owned(),
            conflicting: String::from_utf8_lossy(conflicting).into_owned(),
            reason,
            detected: now,
        };
        let known = kept.iter().any(|(_, value)| {
            serde_json::from_slice::<Evidence>(value)
                .is_ok_and(|e| e.conflicting == evidence.conflicting)
        });
        if known || kept.len() >= MAX_EVIDENCE_PER_LOG {
            return Ok(Outcome::Known);
        }
        let mut key = prefix;
        key.extend_from_slice(
            format!("{:020}", now.timestamp_nanos_opt().unwrap_or_default()).as_bytes(),
        );
        let mut batch = Batch::default();
        self.store.put_witness(
            &mut batch,
            &key,
            &serde_json::to_vec(&evidence).expect("evidence always serializes"),
        );
        self.store.commit(batch)?;
        self.metrics.record_fork();
        warn!(
            origin,
            reason = %evidence.reason,
            "FORK: a member's audit log contradicts a checkpoint it signed; evidence kept"
        );
        Ok(Outcome::Fork)
    }

    /// The log's answer to the proof asked for by [`Outcome::Prove`] for `note`, between the
    /// sizes `asked` (old, new): cosigns it if it extends the checkpoint held, remembers it if the
    /// checkpoint held extends it, keeps the evidence if neither. Blocking.
    pub fn proved(
        &self,
        note: &[u8],
        asked: (u64, u64),
        answer: Answer,
        now: DateTime<Utc>,
    ) -> Outcome {
        let opened = match self.open(note) {
            Ok(Some(opened)) => opened,
            Ok(None) => return Outcome::Known,
            Err(misbehaved) => return Outcome::Misbehaved(misbehaved),
        };
        self.check_proof(opened, asked, answer, now)
            .unwrap_or_else(|e| {
                warn!(error = %e, "a consistency proof could not be judged");
                Outcome::Unjudged
            })
    }

    fn check_proof(
        &self,
        (witnessed, peer): (Witnessed, String),
        asked: (u64, u64),
        answer: Answer,
        now: DateTime<Utc>,
    ) -> Result<Outcome, WitnessError> {
        let origin = witnessed.checkpoint.origin.clone();
        let mut memory = self.lock.locked();
        let Some((held, held_checkpoint)) = self.held_open(&origin)? else {
            return Ok(Outcome::Known);
        };
        let (held_size, held_root) = (
            held_checkpoint.checkpoint.size,
            held_checkpoint.checkpoint.root,
        );
        let (size, root) = (witnessed.checkpoint.size, witnessed.checkpoint.root);
        if held_size == size {
            // The checkpoint held changed while the log answered: judge it afresh next time.
            return Ok(Outcome::Known);
        }
        let ((old, old_root), (new, new_root)) = if held_size < size {
            ((held_size, held_root), (size, root))
        } else {
            ((size, root), (held_size, held_root))
        };
        let proof = match answer {
            // A proof between other sizes than the checkpoints now compared (the checkpoint held
            // changed while the log answered, another proof of this log judged first) proves
            // nothing about them: judged afresh when the log gossips its checkpoint again. Checked
            // against them, a good proof fails and an honest log looks forked.
            Answer::Proof(_) if asked != (old, new) => return Ok(Outcome::Known),
            Answer::Lacks(has) => {
                return self.fork(
                    &origin,
                    &held,
                    &witnessed.note,
                    format!("the log holds {has} entries, fewer than the {new} it signed"),
                    now,
                );
            }
            Answer::Proof(proof) => proof,
        };
        if core_audit::verify_consistency(&proof, old, old_root, new, new_root).is_err() {
            return self.fork(
                &origin,
                &held,
                &witnessed.note,
                format!("the log's proof that {new} entries extend {old} does not verify"),
                now,
            );
        }
        let seen = memory.consistent.entry(origin.clone()).or_default();
        if size < held_size {
            // An older checkpoint, consistent with the one held.
            if seen.len() == REMEMBERED {
                seen.pop_front();
            }
            seen.push_back((size, root));
            return Ok(Outcome::Known);
        }
        seen.clear();
        seen.push_back((held_size, held_root));
        self.cosign(&origin, &witnessed.note, now)
            .map(sent_to(peer))
    }

    /// The newest checkpoint held of every other member's log, cosigned by this node, and the
    /// newest cosigned checkpoint of this node's own log (its newest, until one is cosigned).
    pub fn held_checkpoints(&self) -> Result<Vec<HeldCheckpoint>, WitnessError> {
        let roster = self.roster();
        let (found, _) = self.store.witness_scan(b"held/", roster.logs.len() + 1)?;
        let mut held = Vec::new();
        for (key, mut note) in found {
            let origin = String::from_utf8_lossy(&key["held/".len()..]).into_owned();
            if origin == self.own
                && let Some(cosigned) = self.store.witness(&cosigned_key(&origin))?
            {
                note = cosigned;
            }
            let Some(log) = roster.log(&origin) else {
                continue;
            };
            let opened = checkpoint::open_witnessed(&note, &origin, &log.key, &roster.witnesses)?;
            held.push(HeldCheckpoint {
                origin,
                size: opened.checkpoint.size,
                root: opened.checkpoint.root.to_string(),
                cosigners: opened.cosigners.into_iter().map(|(name, _)| name).collect(),
                checkpoint: String::from_utf8_lossy(&opened.note).into_owned(),
            });
        }
        Ok(held)
    }

    /// The evidence kept, of every log.
    pub fn evidence(&self) -> Result<Vec<Evidence>, WitnessError> {
        let (found, _) = self
            .store
            .witness_scan(b"evidence/", MAX_EVIDENCE_PER_LOG * 256)?;
        Ok(found
            .iter()
            .filter_map(|(_, value)| serde_json::from_slice(value).ok())
            .collect())
    }
}

/// A checkpoint cosigned now and stored: this node's cosignature goes to the log's node.
fn sent_to(peer: String) -> impl FnOnce(Vec<u8>) -> Outcome {
    move |note| Outcome::Stored {
        send: Some(ToLog { peer, note }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consortium::{Consortium, Membership, peer_id_of};
    use vouch_core::audit::MemoryHashes;

    fn member(key: &KeyPair) -> Member {
        let did = vouch_core::did_vouch::create(
            vouch_core::did_vouch::DocumentContent::single_key(&key.public()),
            &KeyPair::generate(),
            &[KeyPair::generate().public()],
            Utc::now(),
        )
        .expect("a did:vouch")
        .0;
        Member {
            did,
            node_key: key.public(),
            peer_id: peer_id_of(&key.public()),
            addresses: Vec::new(),
            actions: vec!["*".into()],
        }
    }

    /// A log's tree of `n` leaves (`tag` makes another history), its root and hashes.
    fn tree(n: u64, tag: &str) -> MemoryHashes {
        let leaves: Vec<Hash> = (0..n)
            .map(|i| tlog_tiles::record_hash(format!("{tag}{i}").as_bytes()))
            .collect();
        MemoryHashes::of(&leaves).expect("a tree")
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        witness: Witness,
        log: KeyPair,
        origin: String,
    }

    fn fixture() -> Fixture {
        let (log, own) = (KeyPair::generate(), KeyPair::generate());
        let consortium = Consortium::sign(
            "test",
            vec![member(&log), member(&own)],
            None,
            &[log.clone(), own.clone()],
        )
        .expect("a genesis");
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(dir.path()).expect("a store"));
        let witness = Witness::new(
            store,
            Members::of(Membership::new(&consortium)),
            own.clone(),
            &consortium.members[1].did,
            Metrics::new(),
        );
        let origin = origin_of(&consortium.members[0]);
        Fixture {
            _dir: dir,
            witness,
            log,
            origin,
        }
    }

    impl Fixture {
        fn signed(&self, n: u64, tag: &str) -> Vec<u8> {
            let root = core_audit::root(n, &tree(n, tag)).expect("a root");
            checkpoint::sign(&self.origin, n, root, &self.log).expect("signed")
        }

        fn held_size(&self) -> u64 {
            self.witness
                .held_checkpoints()
                .expect("held")
                .iter()
                .find(|c| c.origin == self.origin)
                .map_or(0, |c| c.size)
        }
    }

    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    #[test]
    fn only_a_log_gossips_its_checkpoints_and_cosignatures_go_to_it_alone() {
        let f = fixture();
        let first = f.signed(4, "a");
        let log_peer = peer_id_of(&f.log.public());
        let witness_peer = peer_id_of(&f.witness.key.public());
        // Gossiped by another peer than the log's node (a witness flooding its cosignature, or
        // a publisher not named): refused, and nothing held.
        for publisher in [Some(witness_peer.as_str()), None] {
            assert!(matches!(
                f.witness.gossiped(&first, publisher, now()),
                Outcome::Misbehaved(_)
            ));
        }
        assert_eq!(f.held_size(), 0);
        // Gossiped by the log's node: cosigned, and the cosignature is for the log's node.
        let Outcome::Stored {
            send: Some(ToLog { peer, note }),
        } = f.witness.gossiped(&first, Some(&log_peer), now())
        else {
            panic!("cosigned, for the log");
        };
        assert_eq!(peer, log_peer);
        assert_eq!(f.held_size(), 4);
        // Sent to a node whose log it is not: the sender's fault.
        assert!(matches!(
            f.witness.cosignature_sent(&note, now()),
            Outcome::Misbehaved(_)
        ));
    }

    #[test]
    fn each_way_a_log_can_contradict_itself_is_a_fork_and_growth_is_cosigned() {
        let f = fixture();
        // First sight: cosigned.
        let first = f.signed(4, "a");
        assert!(matches!(
            f.witness.receive(&first, now()),
            Outcome::Stored { send: Some(_) }
        ));
        assert_eq!(f.held_size(), 4);
        // Growth: the witness asks for the proof from 4 to 6; a good one is cosigned.
        let grown = f.signed(6, "a");
        let Outcome::Prove { old, new, .. } = f.witness.receive(&grown, now()) else {
            panic!("a proof is asked for");
        };
        assert_eq!((old, new), (4, 6));
        let proof = core_audit::prove_consistency(4, 6, &tree(6, "a")).expect("a proof");
        assert!(matches!(
            f.witness
                .proved(&grown, (4, 6), Answer::Proof(proof), now()),
            Outcome::Stored { send: Some(_) }
        ));
        assert_eq!(f.held_size(), 6);

        // A rewritten history of 8: its proof from 6 cannot hold.
        let forked = f.signed(8, "b");
        assert!(matches!(
            f.witness.receive(&forked, now()),
            Outcome::Prove { .. }
        ));
        let lying = core_audit::prove_consistency(6, 8, &tree(8, "b")).expect("a proof");
        assert!(matches!(
            f.witness
                .proved(&forked, (6, 8), Answer::Proof(lying), now()),
            Outcome::Fork
        ));
        // The same size with another root; a log that lacks a tree it signed; an empty tree
        // after entries: each a fork, each kept once.
        assert!(matches!(
            f.witness.receive(&f.signed(6, "c"), now()),
            Outcome::Fork
        ));
        let smaller = f.signed(3, "a");
        assert!(matches!(
            f.witness.receive(&smaller, now()),
            Outcome::Prove { .. }
        ));
        assert!(matches!(
            f.witness.proved(&smaller, (3, 6), Answer::Lacks(3), now()),
            Outcome::Fork
        ));
        assert!(matches!(
            f.witness.receive(&f.signed(0, "a"), now()),
            Outcome::Fork
        ));
        assert!(matches!(
            f.witness.receive(&f.signed(6, "c"), now()),
            Outcome::Known
        ));
        let evidence = f.witness.evidence().expect("evidence");
        assert_eq!(evidence.len(), 4, "{evidence:?}");
        assert!(evidence.iter().all(|e| e.held.contains("\n6\n")));
        // The witness still holds what it cosigned.
        assert_eq!(f.held_size(), 6);
    }

    #[test]
    fn a_proof_for_a_checkpoint_no_longer_held_proves_nothing() {
        // Seen on a 30-node testnet under load: two checkpoints of one log in flight, the proof
        // of the first judged after the second was cosigned. Checked against the checkpoint now
        // held, the good proof failed and an honest log was reported forked.
        let f = fixture();
        f.witness.receive(&f.signed(4, "a"), now());
        let (six, eight) = (f.signed(6, "a"), f.signed(8, "a"));
        assert!(matches!(
            f.witness.receive(&six, now()),
            Outcome::Prove { .. }
        ));
        assert!(matches!(
            f.witness.receive(&eight, now()),
            Outcome::Prove { .. }
        ));
        let four_to_eight = core_audit::prove_consistency(4, 8, &tree(8, "a")).expect("a proof");
        assert!(matches!(
            f.witness
                .proved(&eight, (4, 8), Answer::Proof(four_to_eight), now()),
            Outcome::Stored { .. }
        ));
        assert_eq!(f.held_size(), 8);
        // The answer for 4 → 6 arrives now: it says nothing of 6 against 8.
        let four_to_six = core_audit::prove_consistency(4, 6, &tree(6, "a")).expect("a proof");
        assert!(matches!(
            f.witness
                .proved(&six, (4, 6), Answer::Proof(four_to_six), now()),
            Outcome::Known
        ));
        assert!(f.witness.evidence().expect("evidence").is_empty());
        assert_eq!(f.held_size(), 8);
    }

    #[test]
    fn an_older_consistent_checkpoint_is_no_fork_and_forgeries_are_refused() {
        let f = fixture();
        f.witness.receive(&f.signed(6, "a"), now());
        let older = f.signed(4, "a");
        assert!(matches!(
            f.witness.receive(&older, now()),
            Outcome::Prove { .. }
        ));
        let proof = core_audit::prove_consistency(4, 6, &tree(6, "a")).expect("a proof");
        assert!(matches!(
            f.witness
                .proved(&older, (4, 6), Answer::Proof(proof), now()),
            Outcome::Known
        ));
        // Remembered: no second proof for it.
        assert!(matches!(f.witness.receive(&older, now()), Outcome::Known));
        assert!(f.witness.evidence().expect("evidence").is_empty());

        // Signed by another key under the log's origin: the sender misbehaved.
        let root = core_audit::root(7, &tree(7, "a")).expect("a root");
        let forged = checkpoint::sign(&f.origin, 7, root, &KeyPair::generate()).expect("signed");
        assert!(matches!(
            f.witness.receive(&forged, now()),
            Outcome::Misbehaved(_)
        ));
        // A log of no member: dropped.
        let stranger = KeyPair::generate();
        let other = origin_of(&member(&stranger));
        let note = checkpoint::sign(&other, 7, root, &stranger).expect("signed");
        assert!(matches!(f.witness.receive(&note, now()), Outcome::Known));
        assert_eq!(f.held_size(), 6);
    }
}
