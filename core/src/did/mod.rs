//! Decentralized identifiers: the `Did` and `DidUrl` newtypes, DID documents, and the two methods
//! Vouch speaks, `did:key` ([`key`]) and `did:vouch` ([`vouch`]).
//!
//! Syntax follows [DID Core §3.1](https://www.w3.org/TR/did-core/#did-syntax) and
//! [§3.2](https://www.w3.org/TR/did-core/#did-url-syntax). Values are made only by validating
//! constructors, so a `Did` in hand is always well-formed.

pub mod document;
pub mod key;
pub mod resolve;

pub use document::{DidDocument, VerificationMethod};
pub use resolve::{DidResolver, ResolveError};

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest DID or DID URL accepted. DID Core sets no limit; ours keeps every parser bounded.
pub const MAX_DID_LEN: usize = 2048;

/// Why a string is not a DID or DID URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DidError {
    /// Longer than [`MAX_DID_LEN`].
    #[error("DID is {0} bytes, longer than the {MAX_DID_LEN} allowed")]
    TooLong(usize),
    /// Does not start with `did:`.
    #[error("a DID starts with \"did:\"")]
    NoScheme,
    /// The method name is empty or has characters other than lowercase letters and digits.
    #[error("the method name must be lowercase letters and digits")]
    BadMethod,
    /// The method-specific identifier is empty, ends with `:`, or has a character outside `idchar`.
    #[error("invalid method-specific identifier")]
    BadMethodSpecificId,
    /// A percent sign not followed by two hex digits.
    #[error("invalid percent-encoding")]
    BadPercentEncoding,
    /// The path, query or fragment of a DID URL has a character DID URLs do not allow.
    #[error("invalid character in DID URL")]
    BadUrlCharacter,
}

/// A DID: `did:<method>:<method-specific-id>`, without path, query or fragment.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Did(String);

/// A DID URL: a DID followed by an optional path, query and fragment.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DidUrl {
    url: String,
    /// Length of the DID at the start of `url`.
    did_len: usize,
}

fn is_pct(bytes: &[u8], i: usize) -> bool {
    bytes.len() > i + 2 && bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit()
}

/// Scans `did:method:msid` at the start of `s` and returns where it ends.
fn scan_did(s: &str) -> Result<usize, DidError> {
    if s.len() > MAX_DID_LEN {
        return Err(DidError::TooLong(s.len()));
    }
    let rest = s.strip_prefix("did:").ok_or(DidError::NoScheme)?;
    let method_len = rest.find(':').ok_or(DidError::BadMethod)?;
    let method = &rest[..method_len];
    if method.is_empty()
        || !method
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err(DidError::BadMethod);
    }
    let start = 4 + method_len + 1;
    let bytes = s.as_bytes();
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b':' => i += 1,
            b'%' if is_pct(bytes, i) => i += 3,
            b'%' => return Err(DidError::BadPercentEncoding),
            b'/' | b'?' | b'#' => break,
            _ => return Err(DidError::BadMethodSpecificId),
        }
    }
    if i == start || bytes[i - 1] == b':' {
        return Err(DidError::BadMethodSpecificId);
    }
    Ok(i)
}

impl Did {
    /// A DID a method made from what it computed itself (did:vouch's hash of its genesis): not
    /// parsed, so only for ids made of characters a DID allows.
    pub(crate) fn of_method(method: &str, id: &str) -> Self {
        Self(format!("did:{method}:{id}"))
    }

    /// Parses a DID.
    pub fn parse(s: &str) -> Result<Self, DidError> {
        match scan_did(s)? {
            end if end == s.len() => Ok(Self(s.to_owned())),
            _ => Err(DidError::BadMethodSpecificId),
        }
    }

    /// The method name (`key`, `vouch`).
    pub fn method(&self) -> &str {
        let rest = &self.0[4..];
        rest.split(':').next().unwrap_or_default()
    }

    /// The method-specific identifier.
    pub fn method_specific_id(&self) -> &str {
        &self.0[4 + self.method().len() + 1..]
    }

    /// The DID as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The DID URL `<did>#<fragment>`.
    pub fn with_fragment(&self, fragment: &str) -> Result<DidUrl, DidError> {
        DidUrl::parse(&format!("{}#{fragment}", self.0))
    }
}

/// DID URL characters after the DID: RFC 3986 `pchar`, `/`, `?`, and percent-encoding.
fn is_url_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&b)
}

impl DidUrl {
    /// Parses a DID URL.
    pub fn parse(s: &str) -> Result<Self, DidError> {
        let did_len = scan_did(s)?;
        let bytes = s.as_bytes();
        let mut i = did_len;
        let mut in_fragment = false;
        while i < bytes.len() {
            match bytes[i] {
                b'#' if !in_fragment => {
                    in_fragment = true;
                    i += 1;
                }
                b'%' if is_pct(bytes, i) => i += 3,
                b'%' => return Err(DidError::BadPercentEncoding),
                b if is_url_char(b) => i += 1,
                _ => return Err(DidError::BadUrlCharacter),
            }
        }
        Ok(Self {
            url: s.to_owned(),
            did_len,
        })
    }

    /// `did` with a fragment a method checked itself (`#` and the fragment).
    pub(crate) fn of_fragment(did: &Did, fragment: &str) -> Self {
        Self {
            url: format!("{did}{fragment}"),
            did_len: did.as_str().len(),
        }
    }

    /// The DID this URL starts with.
    pub fn did(&self) -> Did {
        Did(self.url[..self.did_len].to_owned())
    }

    /// The fragment, without `#`.
    pub fn fragment(&self) -> Option<&str> {
        self.url[self.did_len..]
            .split_once('#')
            .map(|(_, fragment)| fragment)
    }

    /// The DID URL as a string.
    pub fn as_str(&self) -> &str {
        &self.url
    }
}

macro_rules! string_newtype {
    ($ty:ty, $as_str:expr) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($as_str(self))
            }
        }
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", $as_str(self))
            }
        }
        impl FromStr for $ty {
            type Err = DidError;
            fn from_str(s: &str) -> Result<Self, DidError> {
                Self::parse(s)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str($as_str(self))
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
string_newtype!(Did, Did::as_str);
string_newtype!(DidUrl, DidUrl::as_str);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_dids() {
        let did = Did::parse("did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2").unwrap();
        assert_eq!(did.method(), "key");
        assert_eq!(
            did.method_specific_id(),
            "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
        );
        assert!(Did::parse("did:web:example.com:user%20a").is_ok());
    }

    #[test]
    fn refuses_bad_dids() {
        for (input, error) in [
            ("", DidError::NoScheme),
            ("DID:key:z6Mk", DidError::NoScheme),
            ("did:KEY:z6Mk", DidError::BadMethod),
            ("did::z6Mk", DidError::BadMethod),
            ("did:key", DidError::BadMethod),
            ("did:key:", DidError::BadMethodSpecificId),
            ("did:key:abc:", DidError::BadMethodSpecificId),
            ("did:key:a b", DidError::BadMethodSpecificId),
            ("did:key:a%2", DidError::BadPercentEncoding),
            ("did:key:a#frag", DidError::BadMethodSpecificId),
            ("did:key:é", DidError::BadMethodSpecificId),
        ] {
            assert_eq!(Did::parse(input).unwrap_err(), error, "{input:?}");
        }
        let long = format!("did:key:{}", "a".repeat(MAX_DID_LEN));
        assert!(matches!(Did::parse(&long), Err(DidError::TooLong(_))));
    }

    #[test]
    fn parses_did_urls() {
        let url = DidUrl::parse("did:vouch:zQm1#key-1").unwrap();
        assert_eq!(url.did().as_str(), "did:vouch:zQm1");
        assert_eq!(url.fragment(), Some("key-1"));
        let url = DidUrl::parse("did:vouch:zQm1/path?versionId=3").unwrap();
        assert_eq!(url.fragment(), None);
        assert!(DidUrl::parse("did:vouch:zQm1#a#b").is_err());
        assert!(DidUrl::parse("did:vouch:zQm1#a b").is_err());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,64}") {
            let _ = Did::parse(&s);
            let _ = DidUrl::parse(&s);
        }

        #[test]
        fn round_trips(method in "[a-z0-9]{1,8}", id in "[A-Za-z0-9._-]{1,20}(:[A-Za-z0-9._-]{1,10}){0,3}",
                       fragment in "[A-Za-z0-9_-]{0,12}") {
            let text = format!("did:{method}:{id}");
            let did = Did::parse(&text).unwrap();
            prop_assert_eq!(did.as_str(), text.as_str());
            prop_assert_eq!(did.method(), method.as_str());
            prop_assert_eq!(did.method_specific_id(), id.as_str());
            let json = serde_json::to_string(&did).unwrap();
            prop_assert_eq!(serde_json::from_str::<Did>(&json).unwrap(), did.clone());
            let url = did.with_fragment(&fragment).unwrap();
            prop_assert_eq!(url.did(), did);
            prop_assert_eq!(url.fragment(), Some(fragment.as_str()));
        }
    }
}
