//! Ed25519 keys and their Multikey encodings.
//!
//! A Multikey is a multicodec-prefixed key, multibase-encoded in base58btc
//! ([Controlled Identifiers §2.2.2](https://www.w3.org/TR/cid-1.0/#Multikey)). Vouch uses three codecs:
//! `ed25519-pub` (0xed), `ed25519-priv` (0x1300) and `x25519-pub` (0xec). The key pair's JSON form is the
//! one of the W3C Data Integrity EdDSA test vectors (`keyPair.json`).

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Reads a `z6Mk…` Multikey.
    pub fn from_multibase(s: &str) -> Result<Self, KeyError> {
        let bytes = decode_multikey(s, ED25519_PUB, "ed25519-pub")?;
        Self::from_bytes(&bytes)
    }

    /// Reads 32 raw bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        VerifyingKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| KeyError::InvalidPoint)
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
        encode_multikey(ED25519_PUB, self.0.as_bytes())
    }

    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The X25519 key agreement key derived from this key (the birational map from Edwards to
    /// Montgomery form), as did:key derives it.
    pub fn to_x25519(&self) -> X25519PublicKey {
        X25519PublicKey(self.0.to_montgomery().to_bytes())
    }

    /// Verifies a signature strictly (rejecting small-order keys and non-canonical signatures, so a
    /// signature is never malleable).
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let signature = Signature::from_bytes(signature);
        self.0.verify_strict(message, &signature).is_ok()
    }

    /// Verifies a signature with the plain (cofactorless, RFC 8032) equation; the floor in
    /// benchmarks.
    pub fn verify_plain(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.0
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
        Self {
            secret: SigningKey::generate(&mut rand::rngs::OsRng),
        }
    }

    /// The key pair of a 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            secret: SigningKey::from_bytes(seed),
        }
    }

    /// The 32-byte seed, for handing the same key to another library (libp2p's identity).
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.to_bytes())
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.secret.verifying_key())
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
    use proptest::prelude::*;

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
