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
        <&[u8; 64]>::try_from(sig).is_ok_and(|sig| self.key.verify(msg, sig))
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
                .verify(&cosigned_message(u64::from_be_bytes(*time), msg), sig)
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
        let origin = "vouch.id/audit/zQmOrg";
        let root = tlog_tiles::record_hash(b"root");
        let note = sign(origin, 42, root, &log).expect("signed");
        let text = String::from_utf8(note.clone()).expect("UTF-8");
        assert!(text.starts_with(&format!("{origin}\n42\n")), "{text}");
        let opened = open(&note, origin, &log.public()).expect("opens");
        assert_eq!((opened.size, opened.root), (42, root));
        // Another key, another origin, a changed size: refused.
        assert!(open(&note, origin, &KeyPair::generate().public()).is_err());
        assert!(open(&note, "vouch.id/audit/other", &log.public()).is_err());
        let changed = text.replacen("\n42\n", "\n43\n", 1);
        assert!(open(changed.as_bytes(), origin, &log.public()).is_err());

        let (w1, w2) = (KeyPair::generate(), KeyPair::generate());
        let now = DateTime::from_timestamp(1_796_040_000, 0).expect("a time");
        let cosigned = cosign(&note, "vouch.id/witness/w1", &w1, now).expect("cosigned");
        let cosigned = cosign(&cosigned, "vouch.id/witness/w2", &w2, now).expect("cosigned");
        // Still the log's checkpoint.
        assert_eq!(
            open(&cosigned, origin, &log.public()).expect("opens").size,
            42
        );
        let known = vec![
            ("vouch.id/witness/w1".to_owned(), w1.public()),
            ("vouch.id/witness/w2".to_owned(), w2.public()),
        ];
        let witnessed = cosignatures(&cosigned, &known).expect("cosignatures");
        assert_eq!(witnessed.len(), 2);
        assert!(witnessed.iter().all(|(_, time)| *time == now));
        // A cosignature line under a known witness's name and key ID, made by another key:
        // forged.
        let forged = cosign(&note, "vouch.id/witness/w1", &KeyPair::generate(), now).expect("made");
        let lying = vec![("vouch.id/witness/w1".to_owned(), w1.public())];
        assert_eq!(cosignatures(&forged, &lying).expect("no match").len(), 0);
        // Unknown witnesses are ignored, not trusted.
        assert!(
            cosignatures(
                &cosigned,
                &[("vouch.id/witness/w3".into(), KeyPair::generate().public())]
            )
            .expect("ignored")
            .is_empty()
        );
    }
}
