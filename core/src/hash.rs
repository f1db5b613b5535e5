//! Content hashes: SHA-256 multihashes in multibase base58btc (`zQm…`), the form of `did:vouch`
//! identifiers, operation links and every hash a credential carries.

use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

/// Multihash code of SHA-256, then the digest length.
const SHA2_256: [u8; 2] = [0x12, 0x20];

/// The `zQm…` multihash of some bytes.
pub fn multihash(bytes: &[u8]) -> String {
    let mut buf = Vec::with_capacity(34);
    buf.extend_from_slice(&SHA2_256);
    buf.extend_from_slice(&Sha256::digest(bytes));
    multibase::encode(multibase::Base::Base58Btc, buf)
}

/// The multihash of a value's canonical JSON (RFC 8785).
pub fn multihash_jcs<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    Ok(multihash(&serde_jcs::to_vec(value)?))
}

/// Whether a string is a well-formed SHA-256 multihash.
pub fn is_multihash(s: &str) -> bool {
    s.len() <= 64
        && s.strip_prefix('z')
            .and_then(|rest| bs58::decode(rest).into_vec().ok())
            .is_some_and(|bytes| bytes.len() == 34 && bytes[..2] == SHA2_256)
}

/// A `zQm…` SHA-256 multihash, well-formed by construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Multihash(String);

impl Multihash {
    /// The hash of some bytes.
    pub fn of(bytes: &[u8]) -> Self {
        Self(multihash(bytes))
    }

    /// The hash of a value's canonical JSON (RFC 8785).
    pub fn of_jcs<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        multihash_jcs(value).map(Self)
    }

    /// Reads a multihash string.
    pub fn parse(s: &str) -> Option<Self> {
        is_multihash(s).then(|| Self(s.to_owned()))
    }

    /// The hash as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Multihash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Multihash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom("expected a zQm… SHA-256 multihash"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_digest() {
        // SHA-256 of the empty string, as a multihash.
        assert_eq!(
            multihash(b""),
            "zQmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n"
        );
    }

    proptest! {
        #[test]
        fn multihashes_are_recognized(bytes in any::<Vec<u8>>()) {
            let h = multihash(&bytes);
            prop_assert!(h.starts_with("zQm"));
            prop_assert!(is_multihash(&h));
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,70}") {
            let _ = is_multihash(&s);
        }
    }
}
