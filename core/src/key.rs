//! Ed25519 keys and their Multikey encodings.
//!
//! A Multikey is a multicodec-prefixed key, multibase-encoded in base58btc
//! ([Controlled Identifiers §2.2.2](https://www.w3.org/TR/cid-1.0/#Multikey)). Vouch uses three codecs:
//! `ed25519-pub` (0xed), `ed25519-priv` (0x1300) and `x25519-pub` (0xec). The key pair's JSON form is the
//! one of the W3C Data Integrity EdDSA test vectors (`keyPair.json`).

use crate::lock::MutexExt as _;
use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

/// Varint of the multicodec `ed25519-pub` (0xed).
const ED25519_PUB: [u8; 2] = [0xed, 0x01];
/// Varint of the multicodec `ed25519-priv` (0x1300).
const ED25519_PRIV: [u8; 2] = [0x80, 0x26];
/// Varint of the multicodec `x25519-pub` (0xec).
const X25519_PUB: [u8; 2] = [0xec, 0x01];

/// Longest Multikey string we decode: a 32-byte key with a 2-byte codec is 48 characters in
/// base58btc; anything far longer is not a key and is refused before decoding.
const MAX_MULTIKEY_LEN: usize = 128;

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The string is not base58btc multibase (it must start with `z`).
    #[error("not a base58btc multibase string")]
    NotBase58Btc,
    /// The string is longer than any key.
    #[error("multikey is {0} characters, longer than any key")]
    TooLong(usize),
    /// The multicodec prefix names another kind of key.
    #[error("expected a {expected} multikey")]
    WrongCodec {
        /// The codec that was expected.
        expected: &'static str,
    },
    /// The key bytes have the wrong length.
    #[error("key is {0} bytes, expected 32")]
    WrongLength(usize),
    /// The bytes are not a valid Ed25519 public key (not a curve point).
    #[error("not a valid Ed25519 public key")]
    InvalidPoint,
    /// The public key in a key pair is not the one derived from its secret key.
    #[error("the public key does not belong to the secret key")]
    Mismatch,
}

fn decode_multikey(s: &str, codec: [u8; 2], expected: &'static str) -> Result<[u8; 32], KeyError> {
    if s.len() > MAX_MULTIKEY_LEN {
        return Err(KeyError::TooLong(s.len()));
    }
    let rest = s.strip_prefix('z').ok_or(KeyError::NotBase58Btc)?;
    let bytes = bs58::decode(rest)
        .into_vec()
        .map_err(|_| KeyError::NotBase58Btc)?;
    let key = bytes
        .strip_prefix(&codec[..])
        .ok_or(KeyError::WrongCodec { expected })?;
    key.try_into().map_err(|_| KeyError::WrongLength(key.len()))
}

fn encode_multikey(codec: [u8; 2], key: &[u8; 32]) -> String {
    let mut bytes = Vec::with_capacity(34);
    bytes.extend_from_slice(&codec);
    bytes.extend_from_slice(key);
    multibase::encode(multibase::Base::Base58Btc, bytes)
}

/// An Ed25519 public key, always a valid curve point.
///
/// # How signatures are verified
///
/// With the **cofactored** equation `[8][s]B = [8]R + [8][k]A` (RFC 8032 §5.1.7 allows it), for
/// one signature and for a batch alike, plus the strict rules: `s` canonical (`s < ℓ`, so a
/// signature is not malleable), the key `A` and the signature's `R` canonically encoded and not
/// of small order. The cofactorless equation (ed25519-dalek's `verify_strict`) cannot be batched
/// soundly: a random linear combination of cofactorless equations accepts, for one combination
/// in eight or more, a signature whose `R` carries a small-order component that the equation
/// alone refuses, so batch and single verification would disagree on the same bytes. "Taming
/// the many EdDSAs" (Chalkias, Garillot, Nikolaenko, 2020) recommends exactly this set of rules
/// for that reason, and Zcash's ZIP 215 verifies the same way (without the strict rules).
/// Signatures the two equations judge differently can only be made by the key's holder, who
/// can as well make a proper one.
///
/// The equations are written here on curve25519-dalek's points, not taken from a crate that
/// does them (`ed25519-zebra`), because they reuse the key's decompressed point and decompress
/// `R` once for the strict rule and the equation alike: the crate decompresses both again, a
/// fifth of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey {
    key: VerifyingKey,
    /// Whether the key is canonically encoded and not of small order: no signature verifies by
    /// a key that is not.
    strict: bool,
}

/// A signature read for the equation: `R` decompressed, canonically encoded and not of small
/// order; `s` canonical; `k = H(R ‖ A ‖ M)`. `None` if the strict rules refuse it.
struct Parts {
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

impl Parts {
    fn of(key: &PublicKey, message: &[u8], signature: &[u8; 64]) -> Option<Self> {
        if !key.strict {
            return None;
        }
        let (r_bytes, s_bytes) = signature.split_at(32);
        let encoded = CompressedEdwardsY::from_slice(r_bytes).ok()?;
        if !canonical(&encoded) {
            return None;
        }
        let r = encoded.decompress()?;
        if r.is_small_order() {
            return None;
        }
        let s = Option::from(Scalar::from_canonical_bytes(s_bytes.try_into().ok()?))?;
        let k = Scalar::from_hash(
            Sha512::new()
                .chain_update(r_bytes)
                .chain_update(key.as_bytes())
                .chain_update(message),
        );
        Some(Self { r, s, k })
    }
}

/// Whether a point's encoding is canonical: its `y` is below p = 2²⁵⁵ − 19 (RFC 8032 §5.1.3).
/// The other non-canonical encodings, `x = 0` with the sign bit set, are of `y = ±1`, the
/// identity and the point of order 2, which are of small order and refused as such.
fn canonical(encoded: &CompressedEdwardsY) -> bool {
    let y = encoded.as_bytes();
    let at_least_p =
        y[31] & 0x7f == 0x7f && y[1..31].iter().all(|&byte| byte == 0xff) && y[0] >= 0xed;
    !at_least_p
}

/// The most signatures one batch takes; a longer list is checked in batches of this size.
const MAX_BATCH: usize = 64;

/// Verifies signatures together: true only if every one verifies by [`PublicKey::verify`]'s
/// rules, up to the 2⁻¹²⁸ chance of the random coefficients, drawn from the operating system's
/// generator so that no signer can predict them. One multiscalar multiplication for the lot,
/// `[8]([-Σzᵢsᵢ]B + Σ[zᵢ]Rᵢ + Σ[zᵢkᵢ]Aᵢ) = 0`, instead of one double-scalar multiplication each.
/// False says *some* signature does not verify, not which: the caller checks them one by one
/// to name it.
pub fn verify_batch(items: &[(&PublicKey, &[u8], &[u8; 64])]) -> bool {
    items.chunks(MAX_BATCH).all(|chunk| {
        let mut scalars = Vec::with_capacity(1 + 2 * chunk.len());
        let mut points = Vec::with_capacity(1 + 2 * chunk.len());
        let mut b = Scalar::ZERO;
        scalars.push(Scalar::ZERO);
        points.push(ED25519_BASEPOINT_POINT);
        for (key, message, signature) in chunk {
            let Some(parts) = Parts::of(key, message, signature) else {
                return false;
            };
            let z = Scalar::from(rand::rngs::OsRng.r#gen::<u128>());
            b -= z * parts.s;
            scalars.extend([z, z * parts.k]);
            points.extend([parts.r, key.key.to_edwards()]);
        }
        scalars[0] = b;
        EdwardsPoint::vartime_multiscalar_mul(&scalars, &points)
            .mul_by_cofactor()
            .is_identity()
    })
}

impl PublicKey {
    /// Reads a `z6Mk…` Multikey.
    pub fn from_multibase(s: &str) -> Result<Self, KeyError> {
        let bytes = decode_multikey(s, ED25519_PUB, "ed25519-pub")?;
        Self::from_bytes(&bytes)
    }

    /// Reads 32 raw bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidPoint)?;
        let strict = !key.to_edwards().is_small_order() && canonical(&CompressedEdwardsY(*bytes));
        Ok(Self { key, strict })
    }

    /// Reads raw bytes, which must be 32.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let bytes: &[u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError::WrongLength(bytes.len()))?;
        Self::from_bytes(bytes)
    }

    /// The `z6Mk…` Multikey of this key.
    pub fn to_multibase(&self) -> String {
        encode_multikey(ED25519_PUB, self.key.as_bytes())
    }

    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// The X25519 key agreement key derived from this key (the birational map from Edwards to
    /// Montgomery form), as did:key derives it.
    pub fn to_x25519(&self) -> X25519PublicKey {
        X25519PublicKey(self.key.to_montgomery().to_bytes())
    }

    /// Verifies a signature strictly: the cofactored equation, `s` canonical, the key and `R`
    /// canonical and not of small order (see the type's documentation), so a signature is never
    /// malleable and one verification agrees with a batch ([`verify_batch`]).
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let Some(Parts { r, s, k }) = Parts::of(self, message, signature) else {
            return false;
        };
        // [8](R - ([s]B - [k]A)) = 0
        let expected =
            EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &-self.key.to_edwards(), &s);
        (r - expected).mul_by_cofactor().is_identity()
    }

    /// [`PublicKey::verify`], remembering the signatures that verified: one seen again costs a
    /// SHA-256 of what it covers instead of a verification. For what the same signatures come
    /// back in again and again, a checkpoint's cosignatures gossiped among every member, each
    /// time with a few more. Only signatures that verified are remembered (a bounded table,
    /// emptied when full), by the SHA-256 of key, message and signature: another message or
    /// signature cannot take their place without a collision.
    pub fn verify_remembered(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        use std::collections::HashSet;
        use std::sync::{Mutex, OnceLock};
        const MAX_REMEMBERED: usize = 65_536;
        static VERIFIED: OnceLock<Mutex<HashSet<[u8; 32]>>> = OnceLock::new();
        let digest: [u8; 32] = sha2::Sha256::new()
            .chain_update(self.as_bytes())
            .chain_update((message.len() as u64).to_be_bytes())
            .chain_update(message)
            .chain_update(signature)
            .finalize()
            .into();
        let table = VERIFIED.get_or_init(Default::default);
        let lock = || table.locked();
        if lock().contains(&digest) {
            return true;
        }
        if !self.verify(message, signature) {
            return false;
        }
        let mut verified = lock();
        if verified.len() >= MAX_REMEMBERED {
            verified.clear();
        }
        verified.insert(digest);
        true
    }

    /// Verifies a signature with the plain (cofactorless, RFC 8032) equation; the floor in
    /// benchmarks.
    pub fn verify_plain(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.key
            .verify(message, &Signature::from_bytes(signature))
            .is_ok()
    }
}

/// A public key is written as its Multikey; base58btc has one spelling per byte string, so reading
/// and writing round-trips exactly.
impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_multibase())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::from_multibase(&s).map_err(serde::de::Error::custom)
    }
}

/// An X25519 public key, derived from an Ed25519 key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct X25519PublicKey(pub [u8; 32]);

impl X25519PublicKey {
    /// The `z6LS…` Multikey of this key.
    pub fn to_multibase(&self) -> String {
        encode_multikey(X25519_PUB, &self.0)
    }

    /// Reads a `z6LS…` Multikey.
    pub fn from_multibase(s: &str) -> Result<Self, KeyError> {
        decode_multikey(s, X25519_PUB, "x25519-pub").map(Self)
    }
}

/// An Ed25519 key pair. The secret is zeroized when dropped and never printed by `Debug`.
#[derive(Clone)]
pub struct KeyPair {
    secret: SigningKey,
    /// The public half, made once.
    public: PublicKey,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public().to_multibase())
            .finish_non_exhaustive()
    }
}

/// The JSON form of a key pair, as in the W3C vectors' `keyPair.json`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyPairJson {
    /// The public key as a `z6Mk…` Multikey.
    pub public_key_multibase: String,
    /// The 32-byte seed with the `ed25519-priv` codec, base58btc.
    pub private_key_multibase: Zeroizing<String>,
}

impl KeyPair {
    /// A fresh key pair from the operating system's random source.
    pub fn generate() -> Self {
        Self::of(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// The key pair of a 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self::of(SigningKey::from_bytes(seed))
    }

    fn of(secret: SigningKey) -> Self {
        let public = PublicKey::from_bytes(secret.verifying_key().as_bytes())
            .expect("a key derived from a secret is a curve point");
        Self { secret, public }
    }

    /// The 32-byte seed, for handing the same key to another library (libp2p's identity).
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.to_bytes())
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// Signs a message.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.secret.sign(message).to_bytes()
    }

    /// The X25519 secret scalar derived from this key (SHA-512 of the seed, first half, clamped),
    /// as did:key derives its key agreement key.
    pub fn x25519_secret(&self) -> Zeroizing<[u8; 32]> {
        let mut scalar = Zeroizing::new(self.secret.to_scalar_bytes());
        scalar[0] &= 248;
        scalar[31] &= 127;
        scalar[31] |= 64;
        scalar
    }

    /// The JSON form.
    pub fn to_json(&self) -> KeyPairJson {
        let seed = Zeroizing::new(self.secret.to_bytes());
        let mut bytes = Zeroizing::new(Vec::with_capacity(34));
        bytes.extend_from_slice(&ED25519_PRIV);
        bytes.extend_from_slice(&seed[..]);
        KeyPairJson {
            public_key_multibase: self.public().to_multibase(),
            private_key_multibase: Zeroizing::new(multibase::encode(
                multibase::Base::Base58Btc,
                &bytes[..],
            )),
        }
    }

    /// Reads the JSON form, checking that the public key belongs to the secret key.
    pub fn from_json(json: &KeyPairJson) -> Result<Self, KeyError> {
        let seed = Zeroizing::new(decode_multikey(
            &json.private_key_multibase,
            ED25519_PRIV,
            "ed25519-priv",
        )?);
        let pair = Self::from_seed(&seed);
        if pair.public() != PublicKey::from_multibase(&json.public_key_multibase)? {
            return Err(KeyError::Mismatch);
        }
        Ok(pair)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT as B, EIGHT_TORSION};
    use proptest::prelude::*;

    /// A signature made by hand from a secret scalar `a`, a nonce point `R` and its scalar `r`
    /// (`R` may carry a small-order part the equation's `[8]` removes): `s = r + k·a`.
    fn forged(a: Scalar, r: Scalar, big_r: EdwardsPoint, message: &[u8]) -> (PublicKey, [u8; 64]) {
        let big_a = B * a;
        let k = Scalar::from_hash(
            Sha512::new()
                .chain_update(big_r.compress().as_bytes())
                .chain_update(big_a.compress().as_bytes())
                .chain_update(message),
        );
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(big_r.compress().as_bytes());
        signature[32..].copy_from_slice((r + k * a).as_bytes());
        (
            PublicKey::from_bytes(big_a.compress().as_bytes()).unwrap(),
            signature,
        )
    }

    #[test]
    fn a_small_order_nonce_is_refused_alone_and_in_a_batch() {
        // R of order 4, s = k·a: the cofactored equation holds ([8]R = 0), the strict rule refuses.
        let a = Scalar::from(7u64);
        let (key, signature) = forged(a, Scalar::ZERO, EIGHT_TORSION[2], b"m");
        assert!(!key.verify(b"m", &signature));
        assert!(!verify_batch(&[(&key, b"m", &signature)]));
    }

    #[test]
    fn encodings_at_or_above_p_are_not_canonical() {
        let p_bytes = {
            let mut p = [0xffu8; 32];
            p[0] = 0xed;
            p[31] = 0x7f;
            p
        };
        let below = {
            let mut b = p_bytes;
            b[0] = 0xec;
            b
        };
        for (bytes, expected) in [(p_bytes, false), (below, true), ([0u8; 32], true)] {
            for sign in [0, 0x80] {
                let mut encoded = bytes;
                encoded[31] |= sign;
                assert_eq!(
                    canonical(&CompressedEdwardsY(encoded)),
                    expected,
                    "{encoded:?}"
                );
            }
        }
        let mut above = p_bytes;
        above[0] = 0xee; // p + 1, which reduces to y = 1
        assert!(!canonical(&CompressedEdwardsY(above)));
        // Every point a key pair makes is canonical.
        for seed in 0..32u8 {
            assert!(KeyPair::from_seed(&[seed; 32]).public().strict);
        }
    }

    #[test]
    fn a_remembered_signature_covers_only_its_own_message_and_key() {
        let (pair, other) = (KeyPair::from_seed(&[8; 32]), KeyPair::from_seed(&[9; 32]));
        let signature = pair.sign(b"checkpoint");
        assert!(pair.public().verify_remembered(b"checkpoint", &signature));
        assert!(pair.public().verify_remembered(b"checkpoint", &signature));
        assert!(!pair.public().verify_remembered(b"checkpoinT", &signature));
        assert!(!other.public().verify_remembered(b"checkpoint", &signature));
        let mut tampered = signature;
        tampered[5] ^= 1;
        assert!(!pair.public().verify_remembered(b"checkpoint", &tampered));
        // A refused one is not remembered as refused either: it is checked every time.
        assert!(!pair.public().verify_remembered(b"checkpoint", &tampered));
    }

    #[test]
    fn a_small_order_key_verifies_nothing() {
        // A = the identity: [8][s]B = [8]R holds for R = [s]B whatever the message.
        let identity =
            PublicKey::from_bytes(EdwardsPoint::default().compress().as_bytes()).unwrap();
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice((B * Scalar::ONE).compress().as_bytes());
        signature[32..].copy_from_slice(Scalar::ONE.as_bytes());
        assert!(!identity.verify(b"anything", &signature));
        assert!(!verify_batch(&[(&identity, b"anything", &signature)]));
    }

    #[test]
    fn a_non_canonical_s_is_refused() {
        let pair = KeyPair::from_seed(&[3; 32]);
        let mut signature = pair.sign(b"m");
        // s + ℓ: the same scalar mod ℓ, another encoding (fits: s < ℓ < 2^253).
        let s = Scalar::from_canonical_bytes(signature[32..].try_into().unwrap()).unwrap();
        let l_minus_one = -Scalar::ONE;
        let mut sum = [0u16; 33];
        let (x, y) = (s.as_bytes(), l_minus_one.as_bytes());
        let mut carry = 1u16; // s + (ℓ - 1) + 1
        for i in 0..32 {
            let v = u16::from(x[i]) + u16::from(y[i]) + carry;
            sum[i] = v & 0xff;
            carry = v >> 8;
        }
        assert_eq!(carry, 0);
        for i in 0..32 {
            signature[32 + i] = sum[i] as u8;
        }
        assert!(!pair.public().verify(b"m", &signature));
        assert!(!verify_batch(&[(&pair.public(), b"m", &signature)]));
    }

    #[test]
    fn a_nonce_with_a_small_order_part_verifies_alone_and_in_a_batch_alike() {
        // R = [r]B + T, T of order 8: only the key's holder can make it. The cofactored equation
        // accepts it, one by one and in a batch, every time; the cofactorless one does not.
        let (a, r) = (Scalar::from(11u64), Scalar::from(5u64));
        let (key, signature) = forged(a, r, B * r + EIGHT_TORSION[1], b"m");
        assert!(!key.verify_plain(b"m", &signature));
        assert!(key.verify(b"m", &signature));
        let good = KeyPair::from_seed(&[4; 32]);
        let other = good.sign(b"n");
        for _ in 0..32 {
            assert!(verify_batch(&[
                (&key, b"m", &signature),
                (&good.public(), b"n", &other)
            ]));
        }
    }

    #[test]
    fn a_batch_verifies_exactly_when_every_signature_does() {
        let pairs: Vec<KeyPair> = (1..=5).map(|i| KeyPair::from_seed(&[i; 32])).collect();
        let publics: Vec<PublicKey> = pairs.iter().map(KeyPair::public).collect();
        let messages: Vec<[u8; 64]> = (0..5u8).map(|i| [i; 64]).collect();
        let signatures: Vec<[u8; 64]> = pairs
            .iter()
            .zip(&messages)
            .map(|(p, m)| p.sign(m))
            .collect();
        let items = |signatures: &[[u8; 64]]| -> Vec<(&PublicKey, &[u8], [u8; 64])> {
            (0..5)
                .map(|i| (&publics[i], &messages[i][..], signatures[i]))
                .collect()
        };
        let batch = |items: &[(&PublicKey, &[u8], [u8; 64])]| {
            verify_batch(
                &items
                    .iter()
                    .map(|(k, m, s)| (*k, *m, s))
                    .collect::<Vec<_>>(),
            )
        };
        assert!(batch(&items(&signatures)));
        assert!(verify_batch(&[]));
        for bad in 0..5 {
            for byte in [0, 31, 32, 63] {
                let mut tampered = signatures.clone();
                tampered[bad][byte] ^= 1;
                assert!(!batch(&items(&tampered)), "{bad} {byte}");
                // One by one, exactly the tampered one fails.
                for (i, (key, message, signature)) in items(&tampered).iter().enumerate() {
                    assert_eq!(key.verify(message, signature), i != bad);
                }
            }
        }
        // A signature moved to another key's message fails the batch too.
        let mut swapped = signatures.clone();
        swapped.swap(0, 1);
        assert!(!batch(&items(&swapped)));
    }

    #[test]
    fn vector_key_pair_round_trips() {
        let json: KeyPairJson = serde_json::from_str(
            r#"{"publicKeyMultibase": "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
                "privateKeyMultibase": "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"}"#,
        )
        .unwrap();
        let pair = KeyPair::from_json(&json).unwrap();
        let back = pair.to_json();
        assert_eq!(back.public_key_multibase, json.public_key_multibase);
        assert_eq!(*back.private_key_multibase, *json.private_key_multibase);
    }

    #[test]
    fn mismatched_pair_is_refused() {
        let a = KeyPair::generate().to_json();
        let b = KeyPair::generate().to_json();
        let mixed = KeyPairJson {
            public_key_multibase: a.public_key_multibase,
            private_key_multibase: b.private_key_multibase,
        };
        assert_eq!(KeyPair::from_json(&mixed).unwrap_err(), KeyError::Mismatch);
    }

    #[test]
    fn debug_hides_the_secret() {
        let pair = KeyPair::generate();
        let secret = pair.to_json().private_key_multibase;
        assert!(!format!("{pair:?}").contains(secret.as_str()));
    }

    #[test]
    fn bad_multikeys_are_refused() {
        let x = KeyPair::generate().public().to_x25519().to_multibase();
        assert_eq!(
            PublicKey::from_multibase(&x).unwrap_err(),
            KeyError::WrongCodec {
                expected: "ed25519-pub"
            }
        );
        assert_eq!(
            PublicKey::from_multibase("u6Mk").unwrap_err(),
            KeyError::NotBase58Btc
        );
        assert_eq!(
            PublicKey::from_multibase("z0OIl").unwrap_err(),
            KeyError::NotBase58Btc
        );
        let long = format!("z{}", "1".repeat(200));
        assert_eq!(
            PublicKey::from_multibase(&long).unwrap_err(),
            KeyError::TooLong(201)
        );
        let short = multibase::encode(multibase::Base::Base58Btc, [0xed, 0x01, 7, 7, 7]);
        assert_eq!(
            PublicKey::from_multibase(&short).unwrap_err(),
            KeyError::WrongLength(3)
        );
    }

    proptest! {
        #[test]
        fn multikey_round_trips(seed in any::<[u8; 32]>()) {
            let public = KeyPair::from_seed(&seed).public();
            prop_assert_eq!(PublicKey::from_multibase(&public.to_multibase()).unwrap(), public);
            let x = public.to_x25519();
            prop_assert_eq!(X25519PublicKey::from_multibase(&x.to_multibase()).unwrap(), x);
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,80}") {
            let _ = PublicKey::from_multibase(&s);
            let _ = X25519PublicKey::from_multibase(&s);
        }
    }
}
