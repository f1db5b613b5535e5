//! Instance keys at rest, sealed: Argon2id (from a passphrase) or a raw 32-byte key (from a file
//! or a systemd credential) derives the key of an XChaCha20-Poly1305 box holding the Ed25519
//! seed, with the instance's DID and the envelope's parameters as associated data. The envelope
//! is JSON, versioned:
//!
//! ```json
//! { "version": 1, "did": "did:key:z6Mk…",
//!   "kdf": { "name": "argon2id", "memoryKib": 65536, "iterations": 3, "parallelism": 1,
//!            "salt": "<base64, 16 bytes>" },        // or { "name": "raw" }
//!   "cipher": { "name": "xchacha20poly1305", "nonce": "<base64, 24 bytes>" },
//!   "check": "<base64, 16 bytes>",
//!   "ciphertext": "<base64, 32 + 16 bytes>" }
//! ```
//!
//! `check` is an HMAC-SHA256 of a fixed label under the derived key (its first 16 bytes): a
//! wrong passphrase is told from a tampered box. It tells an attacker nothing the box itself
//! does not (both test a guess at the same cost, Argon2id's). Files are written mode 0600 and
//! never over another; a file readable by others is refused.

use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use vouch_core::did::Did;
use vouch_core::did::key::did_of;
use vouch_core::key::KeyPair;
use zeroize::Zeroizing;

/// The envelope's version.
const VERSION: u32 = 1;
/// The largest envelope read.
const MAX_ENVELOPE_BYTES: u64 = 4096;
/// The most memory a file may ask Argon2id for, in KiB (1 GiB): a file is input too.
const MAX_MEMORY_KIB: u32 = 1 << 20;
/// The most iterations and lanes a file may ask for.
const MAX_ITERATIONS: u32 = 16;
const MAX_PARALLELISM: u32 = 8;
/// The label the check value is computed over.
const CHECK_LABEL: &[u8] = b"vouch-keystore/1 check";

/// What opens a sealed key.
pub enum Secret {
    /// A passphrase, stretched with Argon2id.
    Passphrase(Zeroizing<String>),
    /// A raw 32-byte key (a key file, a systemd credential), used as it is.
    Raw(Zeroizing<[u8; 32]>),
}

impl Secret {
    /// A raw key from a file of exactly 32 bytes, or of 64 hex digits (and a newline).
    pub fn raw_from_file(path: &Path) -> Result<Self, KeystoreError> {
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| KeystoreError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?);
        let raw = match bytes.len() {
            32 => <[u8; 32]>::try_from(&bytes[..]).ok(),
            64 | 65 => std::str::from_utf8(&bytes)
                .ok()
                .and_then(|text| hex_32(text.trim_end())),
            _ => None,
        }
        .ok_or(KeystoreError::BadRawKey)?;
        Ok(Self::Raw(Zeroizing::new(raw)))
    }
}

fn hex_32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Why a sealed key could not be written or opened.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// The file could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error, as the system gave it.
        reason: String,
    },
    /// The file may be read by others than its owner.
    #[error(
        "{path} has mode {mode:o}: a sealed key must be readable by its owner only (chmod 600)"
    )]
    Mode {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is not an envelope of this version (truncated, another format).
    #[error("not a sealed key: {0}")]
    Malformed(String),
    /// The envelope asks for more work than this wallet gives a file.
    #[error("the key derivation asks for {0}: more than a sealed key may")]
    TooCostly(String),
    /// The passphrase or raw key is not the one the key was sealed with.
    #[error("wrong passphrase or key")]
    WrongSecret,
    /// The secret is right but the box does not open: the ciphertext, the DID or the
    /// parameters were changed, or the box is another file's.
    #[error("the sealed key was tampered with, or belongs to another DID than {0}")]
    Tampered(String),
    /// The key opened is not the DID's, or not the DID expected.
    #[error("the sealed key is {found}'s, not {expected}'s")]
    OtherDid {
        /// The DID found.
        found: String,
        /// The DID expected.
        expected: String,
    },
    /// A raw key file is not 32 bytes (or 64 hex digits).
    #[error("a raw key is 32 bytes, or 64 hex digits")]
    BadRawKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase", deny_unknown_fields)]
enum Kdf {
    #[serde(rename_all = "camelCase")]
    Argon2id {
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
        salt: String,
    },
    Raw,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase", deny_unknown_fields)]
enum Cipher {
    Xchacha20poly1305 { nonce: String },
}

/// A sealed instance key: the JSON envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    version: u32,
    did: String,
    kdf: Kdf,
    cipher: Cipher,
    check: String,
    ciphertext: String,
}

/// Argon2id's cost, for new envelopes.
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    /// Memory, in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Cost {
    /// 64 MiB, 3 passes, 1 lane: RFC 9106's second recommended option.
    fn default() -> Self {
        Self {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        }
    }
}

fn decode<const N: usize>(field: &str, text: &str) -> Result<[u8; N], KeystoreError> {
    B64.decode(text)
        .ok()
        .and_then(|bytes| <[u8; N]>::try_from(bytes).ok())
        .ok_or_else(|| KeystoreError::Malformed(format!("{field} is not {N} bytes of base64")))
}

impl Envelope {
    /// The DID whose key this is, as the envelope says (proved only once it opens).
    pub fn did(&self) -> &str {
        &self.did
    }

    /// What the box authenticates besides its content: the version, the DID and every
    /// parameter, so that none can be changed or swapped from another file.
    fn associated_data(&self) -> Vec<u8> {
        let header = serde_json::json!({
            "version": self.version,
            "did": self.did,
            "kdf": self.kdf,
            "cipher": self.cipher,
        });
        header.to_string().into_bytes()
    }

    fn derive(&self, secret: &Secret) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
        let mut key = Zeroizing::new([0u8; 32]);
        match (&self.kdf, secret) {
            (
                Kdf::Argon2id {
                    memory_kib,
                    iterations,
                    parallelism,
                    salt,
                },
                Secret::Passphrase(passphrase),
            ) => {
                if *memory_kib > MAX_MEMORY_KIB
                    || *iterations > MAX_ITERATIONS
                    || *parallelism > MAX_PARALLELISM
                {
                    return Err(KeystoreError::TooCostly(format!(
                        "{memory_kib} KiB, {iterations} passes, {parallelism} lanes"
                    )));
                }
                let salt: [u8; 16] = decode("the salt", salt)?;
                let params = Params::new(*memory_kib, *iterations, *parallelism, Some(32))
                    .map_err(|e| KeystoreError::Malformed(format!("argon2id: {e}")))?;
                Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                    .hash_password_into(passphrase.as_bytes(), &salt, &mut *key)
                    .map_err(|e| KeystoreError::Malformed(format!("argon2id: {e}")))?;
            }
            (Kdf::Raw, Secret::Raw(raw)) => key.copy_from_slice(&raw[..]),
            (Kdf::Argon2id { .. }, Secret::Raw(_)) => {
                return Err(KeystoreError::Malformed(
                    "sealed with a passphrase, not a raw key".into(),
                ));
            }
            (Kdf::Raw, Secret::Passphrase(_)) => {
                return Err(KeystoreError::Malformed(
                    "sealed with a raw key, not a passphrase".into(),
                ));
            }
        }
        Ok(key)
    }
}

fn check_value(key: &[u8; 32]) -> [u8; 16] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(CHECK_LABEL);
    let tag = mac.finalize().into_bytes();
    let mut check = [0u8; 16];
    check.copy_from_slice(&tag[..16]);
    check
}

/// Seals `key` with `secret` (Argon2id at `cost` for a passphrase).
pub fn seal(key: &KeyPair, secret: &Secret, cost: Cost) -> Result<Envelope, KeystoreError> {
    let mut rng = rand::rngs::OsRng;
    let mut nonce = [0u8; 24];
    rng.fill_bytes(&mut nonce);
    let kdf = match secret {
        Secret::Passphrase(_) => {
            let mut salt = [0u8; 16];
            rng.fill_bytes(&mut salt);
            Kdf::Argon2id {
                memory_kib: cost.memory_kib,
                iterations: cost.iterations,
                parallelism: cost.parallelism,
                salt: B64.encode(salt),
            }
        }
        Secret::Raw(_) => Kdf::Raw,
    };
    let mut envelope = Envelope {
        version: VERSION,
        did: did_of(&key.public()).to_string(),
        kdf,
        cipher: Cipher::Xchacha20poly1305 {
            nonce: B64.encode(nonce),
        },
        check: String::new(),
        ciphertext: String::new(),
    };
    let derived = envelope.derive(secret)?;
    envelope.check = B64.encode(check_value(&derived));
    let cipher = XChaCha20Poly1305::new((&*derived).into());
    let aad = envelope.associated_data();
    let seed = key.seed();
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &seed[..],
                aad: &aad,
            },
        )
        .map_err(|_| KeystoreError::Malformed("the box could not be made".into()))?;
    envelope.ciphertext = B64.encode(sealed);
    Ok(envelope)
}

/// Opens an envelope with `secret`; with `expected`, the key must be that DID's.
pub fn open(
    envelope: &Envelope,
    secret: &Secret,
    expected: Option<&Did>,
) -> Result<KeyPair, KeystoreError> {
    if envelope.version != VERSION {
        return Err(KeystoreError::Malformed(format!(
            "version {}, this wallet reads {VERSION}",
            envelope.version
        )));
    }
    if let Some(expected) = expected
        && envelope.did != expected.to_string()
    {
        return Err(KeystoreError::OtherDid {
            found: envelope.did.clone(),
            expected: expected.to_string(),
        });
    }
    let Cipher::Xchacha20poly1305 { nonce } = &envelope.cipher;
    let nonce: [u8; 24] = decode("the nonce", nonce)?;
    let check: [u8; 16] = decode("the check", &envelope.check)?;
    let ciphertext = B64
        .decode(&envelope.ciphertext)
        .map_err(|_| KeystoreError::Malformed("the ciphertext is not base64".into()))?;
    let derived = envelope.derive(secret)?;
    if check_value(&derived) != check {
        return Err(KeystoreError::WrongSecret);
    }
    let cipher = XChaCha20Poly1305::new((&*derived).into());
    let aad = envelope.associated_data();
    let seed = Zeroizing::new(
        cipher
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| KeystoreError::Tampered(envelope.did.clone()))?,
    );
    let seed: &[u8; 32] = seed[..]
        .try_into()
        .map_err(|_| KeystoreError::Tampered(envelope.did.clone()))?;
    let key = KeyPair::from_seed(seed);
    let found = did_of(&key.public()).to_string();
    if found != envelope.did {
        return Err(KeystoreError::OtherDid {
            found,
            expected: envelope.did.clone(),
        });
    }
    Ok(key)
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> KeystoreError + '_ {
    move |e| KeystoreError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Writes a sealed key to a new file, mode 0600; an existing file is never overwritten.
pub fn write(path: &Path, envelope: &Envelope) -> Result<(), KeystoreError> {
    let mut text = serde_json::to_string_pretty(envelope).expect("an envelope always serializes");
    text.push('\n');
    vouch_keyfile::write_private(path, text.as_bytes()).map_err(io(path))
}

/// Reads a sealed key file (mode 0600 or stricter, at most 4 KiB) and opens it.
pub fn read(
    path: &Path,
    secret: &Secret,
    expected: Option<&Did>,
) -> Result<KeyPair, KeystoreError> {
    use std::io::Read as _;
    use std::os::unix::fs::PermissionsExt as _;
    let file = std::fs::File::open(path).map_err(io(path))?;
    let mode = file.metadata().map_err(io(path))?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeystoreError::Mode {
            path: path.display().to_string(),
            mode,
        });
    }
    let mut text = String::new();
    file.take(MAX_ENVELOPE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(io(path))?;
    if text.len() as u64 > MAX_ENVELOPE_BYTES {
        return Err(KeystoreError::Malformed("larger than 4 KiB".into()));
    }
    let envelope: Envelope =
        serde_json::from_str(&text).map_err(|e| KeystoreError::Malformed(e.to_string()))?;
    open(&envelope, secret, expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap Argon2id for tests: the cost does not change what is checked.
    const TEST_COST: Cost = Cost {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    };

    fn passphrase(text: &str) -> Secret {
        Secret::Passphrase(Zeroizing::new(text.to_owned()))
    }

    #[test]
    fn a_sealed_key_opens_only_with_its_secret_and_every_change_is_named() {
        let key = KeyPair::generate();
        let did = did_of(&key.public());
        let sealed = seal(&key, &passphrase("correct horse"), TEST_COST).expect("sealed");
        let opened = open(&sealed, &passphrase("correct horse"), Some(&did)).expect("opens");
        assert_eq!(opened.public(), key.public());

        assert!(matches!(
            open(&sealed, &passphrase("wrong horse"), None),
            Err(KeystoreError::WrongSecret)
        ));
        // A flipped ciphertext byte: the passphrase is right, the box does not open.
        let mut tampered = sealed.clone();
        let mut bytes = B64.decode(&tampered.ciphertext).expect("base64");
        bytes[3] ^= 1;
        tampered.ciphertext = B64.encode(&bytes);
        assert!(matches!(
            open(&tampered, &passphrase("correct horse"), None),
            Err(KeystoreError::Tampered(_))
        ));
        // Truncated.
        let mut truncated = sealed.clone();
        truncated.ciphertext = B64.encode(&bytes[..20]);
        assert!(open(&truncated, &passphrase("correct horse"), None).is_err());
        // The box of one DID under another's name (files swapped and edited): refused.
        let other = seal(
            &KeyPair::generate(),
            &passphrase("correct horse"),
            TEST_COST,
        )
        .expect("sealed");
        let mut swapped = other.clone();
        swapped.did = sealed.did.clone();
        assert!(open(&swapped, &passphrase("correct horse"), None).is_err());
        // Another DID's envelope where this one's is expected.
        assert!(matches!(
            open(&other, &passphrase("correct horse"), Some(&did)),
            Err(KeystoreError::OtherDid { .. })
        ));
        // A weakened cost (a downgraded parameter) no longer opens it.
        let mut cheaper = sealed.clone();
        if let Kdf::Argon2id { iterations, .. } = &mut cheaper.kdf {
            *iterations = 2;
        }
        assert!(open(&cheaper, &passphrase("correct horse"), None).is_err());
        // A file asking for absurd work is refused before any is done.
        let mut costly = sealed;
        if let Kdf::Argon2id { memory_kib, .. } = &mut costly.kdf {
            *memory_kib = u32::MAX;
        }
        assert!(matches!(
            open(&costly, &passphrase("correct horse"), None),
            Err(KeystoreError::TooCostly(_))
        ));
    }

    #[test]
    fn files_are_private_never_overwritten_and_raw_keys_work_too() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let key = KeyPair::generate();
        let raw_path = dir.path().join("raw.key");
        std::fs::write(&raw_path, [7u8; 32]).expect("written");
        let secret = Secret::raw_from_file(&raw_path).expect("a raw key");
        let sealed = seal(&key, &secret, Cost::default()).expect("sealed");
        let path = dir.path().join("instance.sealed.json");
        write(&path, &sealed).expect("written");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(write(&path, &sealed).is_err(), "never overwritten");
        assert_eq!(
            read(&path, &secret, None).expect("opens").public(),
            key.public()
        );
        // The same key as hex digits.
        let hex: String = [7u8; 32].iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(&raw_path, format!("{hex}\n")).expect("written");
        let secret = Secret::raw_from_file(&raw_path).expect("a raw key");
        assert!(read(&path, &secret, None).is_ok());
        // A passphrase where a raw key sealed it: a clear error.
        assert!(matches!(
            read(&path, &passphrase("x"), None),
            Err(KeystoreError::Malformed(_))
        ));
        // Readable by the group: refused, whatever it holds.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        assert!(matches!(
            read(&path, &secret, None),
            Err(KeystoreError::Mode { .. })
        ));
        // Truncated file.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, &text[..text.len() / 2]).expect("written");
        assert!(matches!(
            read(&path, &secret, None),
            Err(KeystoreError::Malformed(_))
        ));
        // A raw key of the wrong length.
        std::fs::write(&raw_path, [1u8; 31]).expect("written");
        assert!(matches!(
            Secret::raw_from_file(&raw_path),
            Err(KeystoreError::BadRawKey)
        ));
    }
}
