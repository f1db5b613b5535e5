//! Signed checkpoints of an audit log (C2SP `tlog-checkpoint` in a `signed-note`), and the
//! cosignatures of the members that witness them (C2SP `tlog-cosignature`, `cosignature/v1`).
//!
//! The checkpoint body and the note format are `tlog_tiles`' and `signed_note`'s. The log's own
//! signature is an ordinary Ed25519 note signature (key ID over `0x01 || key`). Cosignatures are
//! ours on top of `signed_note`'s `Signer`/`Verifier` traits: neither crate has `cosignature/v1`,
//! whose signature is `timestamp (8 bytes, big-endian) || Ed25519(cosignature/v1 \n time <t> \n
//! <checkpoint text>)` under the key ID over `0x04 || key`.

use chrono::{DateTime, Utc};
use signed_note::{Note, Signer, Verifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

use super::AuditError;
use crate::key::{KeyPair, PublicKey};

/// The note signature algorithm byte of Ed25519.
const ALG_ED25519: u8 = 0x01;
/// The note signature algorithm byte of a `cosignature/v1`.
const ALG_COSIGNATURE_V1: u8 = 0x04;

fn key_id(name: &str, alg: u8, key: &PublicKey) -> u32 {
    let mut encoded = vec![alg];
    encoded.extend_from_slice(key.as_bytes());
    signed_note::key_id(name, &encoded)
}

/// The log's key, as a note signer: its name is the log's origin.
struct LogSigner<'a> {
    name: &'a str,
    key: &'a KeyPair,
}

impl Signer for LogSigner<'_> {
    fn name(&self) -> &str {
        self.name
    }

    fn key_id(&self) -> u32 {
        key_id(self.name, ALG_ED25519, &self.key.public())
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(self.key.sign(msg).to_vec())
    }
}

/// The log's public key, as a note verifier.
struct LogVerifier {
    name: String,
    key: PublicKey,
}

impl Verifier for LogVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        key_id(&self.name, ALG_ED25519, &self.key)
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        // Remembered: a log's checkpoint comes back with every cosignature gathered.
        <&[u8; 64]>::try_from(sig).is_ok_and(|sig| self.key.verify_remembered(msg, sig))
    }
}

/// A witness's key, cosigning at `time`.
struct Cosigner<'a> {
    name: &'a str,
    key: &'a KeyPair,
    time: u64,
}

fn cosigned_message(time: u64, checkpoint: &[u8]) -> Vec<u8> {
    let mut message = format!("cosignature/v1\ntime {time}\n").into_bytes();
    message.extend_from_slice(checkpoint);
    message
}

impl Signer for Cosigner<'_> {
    fn name(&self) -> &str {
        self.name
    }

    fn key_id(&self) -> u32 {
        key_id(self.name, ALG_COSIGNATURE_V1, &self.key.public())
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let mut sig = self.time.to_be_bytes().to_vec();
        sig.extend_from_slice(&self.key.sign(&cosigned_message(self.time, msg)));
        Ok(sig)
    }
}

/// A witness's public key, checking its cosignatures.
struct CosignatureVerifier {
    name: String,
    key: PublicKey,
}

impl Verifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        key_id(&self.name, ALG_COSIGNATURE_V1, &self.key)
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Some((time, sig)) = sig.split_first_chunk::<8>() else {
            return false;
        };
        <&[u8; 64]>::try_from(sig).is_ok_and(|sig| {
            self.key
                .verify_remembered(&cosigned_message(u64::from_be_bytes(*time), msg), sig)
        })
    }
}

/// A checkpoint whose log signature verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The log's origin.
    pub origin: String,
    /// Its size.
    pub size: u64,
    /// Its root.
    pub root: Hash,
}

fn malformed(what: impl std::fmt::Display) -> AuditError {
    AuditError::Malformed(format!("checkpoint: {what}"))
}

/// Signs the checkpoint of the log `origin` at `size` leaves with root `root`: a signed note.
pub fn sign(origin: &str, size: u64, root: Hash, key: &KeyPair) -> Result<Vec<u8>, AuditError> {
    let checkpoint = Checkpoint::new(origin, size, root, "").map_err(malformed)?;
    let mut note = Note::new(&checkpoint.to_bytes(), &[]).map_err(malformed)?;
    note.add_sigs(&[&LogSigner { name: origin, key }])
        .map_err(malformed)?;
    Ok(note.to_bytes())
}

/// Opens a signed checkpoint of the log `origin` whose key is `key`: the note must carry a valid
/// signature by that key, and its body must be a checkpoint of that origin. Other signature
/// lines (cosignatures) are left for [`cosignatures`].
pub fn open(note: &[u8], origin: &str, key: &PublicKey) -> Result<Verified, AuditError> {
    let parsed = Note::from_bytes(note).map_err(malformed)?;
    let verifiers = VerifierList::new(vec![Box::new(LogVerifier {
        name: origin.to_owned(),
        key: *key,
    })]);
    parsed
        .verify(&verifiers)
        .map_err(|_| AuditError::InvalidProof)?;
    let checkpoint = Checkpoint::from_bytes(parsed.text()).map_err(malformed)?;
    if checkpoint.origin() != origin {
        return Err(malformed("another log's origin"));
    }
    Ok(Verified {
        origin: origin.to_owned(),
        size: checkpoint.size(),
        root: *checkpoint.hash(),
    })
}

/// A checkpoint whose log signature verified, with the cosignatures of known witnesses that
/// verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Witnessed {
    /// The checkpoint.
    pub checkpoint: Verified,
    /// The witnesses that cosigned it, and when.
    pub cosigners: Vec<(String, DateTime<Utc>)>,
    /// The note with those signatures only: the log's and the known witnesses'.
    pub note: Vec<u8>,
}

/// Opens a signed checkpoint of the log `origin` whose key is `key`, with the cosignatures of
/// the witnesses in `witnesses`. Signature lines of other keys are dropped; a line under the
/// log's or a known witness's name and key ID that does not verify refuses the whole note.
pub fn open_witnessed(
    note: &[u8],
    origin: &str,
    key: &PublicKey,
    witnesses: &[(String, PublicKey)],
) -> Result<Witnessed, AuditError> {
    let parsed = Note::from_bytes(note).map_err(malformed)?;
    let log = LogVerifier {
        name: origin.to_owned(),
        key: *key,
    };
    let log_id = log.key_id();
    let mut verifiers: Vec<Box<dyn Verifier>> = vec![Box::new(log)];
    verifiers.extend(witnesses.iter().map(|(name, key)| {
        Box::new(CosignatureVerifier {
            name: name.clone(),
            key: *key,
        }) as Box<dyn Verifier>
    }));
    let (verified, _) = parsed
        .verify(&VerifierList::new(verifiers))
        .map_err(|_| AuditError::InvalidProof)?;
    if !verified
        .iter()
        .any(|sig| sig.name() == origin && sig.id() == log_id)
    {
        return Err(AuditError::InvalidProof);
    }
    let checkpoint = Checkpoint::from_bytes(parsed.text()).map_err(malformed)?;
    if checkpoint.origin() != origin {
        return Err(malformed("another log's origin"));
    }
    let cosigners = verified
        .iter()
        .filter(|sig| sig.id() != log_id || sig.name() != origin)
        .filter_map(|sig| {
            let time = sig.signature().first_chunk::<8>()?;
            let time = i64::try_from(u64::from_be_bytes(*time)).ok()?;
            Some((sig.name().to_owned(), DateTime::from_timestamp(time, 0)?))
        })
        .collect();
    let note = Note::new(parsed.text(), &verified)
        .map_err(malformed)?
        .to_bytes();
    Ok(Witnessed {
        checkpoint: Verified {
            origin: origin.to_owned(),
            size: checkpoint.size(),
            root: *checkpoint.hash(),
        },
        cosigners,
        note,
    })
}

/// The signatures of two notes of one checkpoint in one note: those of `held`, then those of
/// `other` under a name and key ID `held` lacks. Check both before: nothing is verified here.
pub fn merge(held: &[u8], other: &[u8]) -> Result<Vec<u8>, AuditError> {
    let (held, other) = (
        Note::from_bytes(held).map_err(malformed)?,
        Note::from_bytes(other).map_err(malformed)?,
    );
    if held.text() != other.text() {
        return Err(malformed("two notes of different checkpoints"));
    }
    let mut sigs = signatures(&held)?;
    let more: Vec<_> = signatures(&other)?
        .into_iter()
        .filter(|sig| {
            !sigs
                .iter()
                .any(|s| s.name() == sig.name() && s.id() == sig.id())
        })
        .collect();
    sigs.extend(more);
    let merged = Note::new(held.text(), &sigs).map_err(malformed)?.to_bytes();
    // Within the format's bound on signatures per note.
    Note::from_bytes(&merged).map_err(malformed)?;
    Ok(merged)
}

/// A note's signature lines, as parsed.
fn signatures(note: &Note) -> Result<Vec<signed_note::Signature>, AuditError> {
    let bytes = note.to_bytes();
    let text = std::str::from_utf8(&bytes).map_err(malformed)?;
    let (_, lines) = text
        .rsplit_once("\n\n")
        .ok_or_else(|| malformed("no signatures"))?;
    lines
        .lines()
        .map(|line| signed_note::Signature::from_bytes(line.as_bytes()).map_err(malformed))
        .collect()
}

/// Adds the cosignature of the witness `name` at `time` to a signed checkpoint.
pub fn cosign(
    note: &[u8],
    name: &str,
    key: &KeyPair,
    time: DateTime<Utc>,
) -> Result<Vec<u8>, AuditError> {
    let mut parsed = Note::from_bytes(note).map_err(malformed)?;
    let time = u64::try_from(time.timestamp()).map_err(|_| malformed("a time before 1970"))?;
    parsed
        .add_sigs(&[&Cosigner { name, key, time }])
        .map_err(malformed)?;
    Ok(parsed.to_bytes())
}

/// The witnesses among `known` whose cosignature on the checkpoint verifies, with when each
/// cosigned. A cosignature that names a known witness and does not verify is an error: someone
/// forged it.
pub fn cosignatures(
    note: &[u8],
    known: &[(String, PublicKey)],
) -> Result<Vec<(String, DateTime<Utc>)>, AuditError> {
    let parsed = Note::from_bytes(note).map_err(malformed)?;
    let verifiers = VerifierList::new(
        known
            .iter()
            .map(|(name, key)| {
                Box::new(CosignatureVerifier {
                    name: name.clone(),
                    key: *key,
                }) as Box<dyn Verifier>
            })
            .collect(),
    );
    let verified = match parsed.verify(&verifiers) {
        Ok((verified, _)) => verified,
        Err(signed_note::NoteError::UnverifiedNote) => return Ok(Vec::new()),
        Err(_) => return Err(AuditError::InvalidProof),
    };
    Ok(verified
        .iter()
        .filter_map(|sig| {
            let time = sig.signature().first_chunk::<8>()?;
            let time = i64::try_from(u64::from_be_bytes(*time)).ok()?;
            Some((sig.name().to_owned(), DateTime::from_timestamp(time, 0)?))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_opens_only_with_its_log_key_and_cosignatures_name_their_witness() {
        let log = KeyPair::generate();
        let origin = "did:vouch:zQmOrg/audit";
        let root = tlog_tiles::record_hash(b"root");
        let note = sign(origin, 42, root, &log).expect("signed");
        let text = String::from_utf8(note.clone()).expect("UTF-8");
        assert!(text.starts_with(&format!("{origin}\n42\n")), "{text}");
        let opened = open(&note, origin, &log.public()).expect("opens");
        assert_eq!((opened.size, opened.root), (42, root));
        // Another key, another origin, a changed size: refused.
        assert!(open(&note, origin, &KeyPair::generate().public()).is_err());
        assert!(open(&note, "did:vouch:zQmOther/audit", &log.public()).is_err());
        let changed = text.replacen("\n42\n", "\n43\n", 1);
        assert!(open(changed.as_bytes(), origin, &log.public()).is_err());

        let (w1, w2) = (KeyPair::generate(), KeyPair::generate());
        let now = DateTime::from_timestamp(1_796_040_000, 0).expect("a time");
        let cosigned = cosign(&note, "did:vouch:zQmW1/witness", &w1, now).expect("cosigned");
        let cosigned = cosign(&cosigned, "did:vouch:zQmW2/witness", &w2, now).expect("cosigned");
        // Still the log's checkpoint.
        assert_eq!(
            open(&cosigned, origin, &log.public()).expect("opens").size,
            42
        );
        let known = vec![
            ("did:vouch:zQmW1/witness".to_owned(), w1.public()),
            ("did:vouch:zQmW2/witness".to_owned(), w2.public()),
        ];
        let witnessed = cosignatures(&cosigned, &known).expect("cosignatures");
        assert_eq!(witnessed.len(), 2);
        assert!(witnessed.iter().all(|(_, time)| *time == now));
        // A cosignature line under a known witness's name and key ID, made by another key:
        // forged.
        let forged =
            cosign(&note, "did:vouch:zQmW1/witness", &KeyPair::generate(), now).expect("made");
        let lying = vec![("did:vouch:zQmW1/witness".to_owned(), w1.public())];
        assert_eq!(cosignatures(&forged, &lying).expect("no match").len(), 0);
        // Unknown witnesses are ignored, not trusted.
        assert!(
            cosignatures(
                &cosigned,
                &[(
                    "did:vouch:zQmW3/witness".into(),
                    KeyPair::generate().public()
                )]
            )
            .expect("ignored")
            .is_empty()
        );
    }

    #[test]
    fn a_witnessed_note_keeps_only_verified_signatures_and_merges_with_another() {
        let log = KeyPair::generate();
        let origin = "did:vouch:zQmOrg/audit";
        let note = sign(origin, 7, tlog_tiles::record_hash(b"r"), &log).expect("signed");
        let (w1, w2, stranger) = (
            KeyPair::generate(),
            KeyPair::generate(),
            KeyPair::generate(),
        );
        let now = DateTime::from_timestamp(1_796_040_000, 0).expect("a time");
        let witnesses = vec![
            ("w1/witness".to_owned(), w1.public()),
            ("w2/witness".to_owned(), w2.public()),
        ];
        let by_w1 = cosign(&note, "w1/witness", &w1, now).expect("cosigned");
        let by_w1 = cosign(&by_w1, "stranger/witness", &stranger, now).expect("cosigned");
        let opened = open_witnessed(&by_w1, origin, &log.public(), &witnesses).expect("opens");
        assert_eq!(opened.checkpoint.size, 7);
        assert_eq!(opened.cosigners, vec![("w1/witness".to_owned(), now)]);
        // The stranger's line is gone; the log's and w1's stay.
        let text = String::from_utf8(opened.note.clone()).expect("UTF-8");
        assert!(!text.contains("stranger"), "{text}");
        assert_eq!(text.matches("\n— ").count(), 2, "{text}");

        let by_w2 = cosign(&note, "w2/witness", &w2, now).expect("cosigned");
        let merged = merge(&opened.note, &by_w2).expect("merged");
        let both = open_witnessed(&merged, origin, &log.public(), &witnesses).expect("opens");
        assert_eq!(both.cosigners.len(), 2);
        // Merging again adds nothing.
        assert_eq!(merge(&merged, &by_w2).expect("merged"), merged);

        // A cosignature under w2's name and key ID by another key refuses the note; so does a
        // note without the log's signature, or with another log's.
        let parsed = Note::from_bytes(&by_w2).expect("a note");
        let mut sigs = signatures(&parsed).expect("signatures");
        let last = sigs.pop().expect("w2's");
        let mut bad = last.signature().to_vec();
        bad[20] ^= 1;
        sigs.push(signed_note::Signature::new(last.name().into(), last.id(), bad).expect("a line"));
        let forged = Note::new(parsed.text(), &sigs).expect("a note").to_bytes();
        assert!(open_witnessed(&forged, origin, &log.public(), &witnesses).is_err());
        let unsigned = format!("{origin}\n7\n{}\n\n— w2/witness AAAAAAAA\n", "x");
        assert!(open_witnessed(unsigned.as_bytes(), origin, &log.public(), &witnesses).is_err());
        let other = sign(origin, 8, tlog_tiles::record_hash(b"r"), &log).expect("signed");
        assert!(merge(&note, &other).is_err());
        assert!(open_witnessed(&note, origin, &KeyPair::generate().public(), &witnesses).is_err());
    }
}
