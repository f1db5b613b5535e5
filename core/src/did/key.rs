//! The `did:key` method for Ed25519 keys
//! ([did:key v0.9](https://w3c-ccg.github.io/did-key-spec/)).
//!
//! The method-specific identifier is the key's Multikey (`z6Mk…`). Resolution is a pure function of
//! the identifier: the document holds the Ed25519 key for authentication, assertion and capability
//! use, and the X25519 key derived from it for key agreement.

use base64::Engine as _;

use super::document::{DID_CONTEXT_V1, DidDocument, Jwk, MULTIKEY_CONTEXT_V1, VerificationMethod};
use super::{Did, DidUrl};
use crate::key::{KeyError, PublicKey};
use crate::lock::MutexExt as _;

/// Why a DID could not be read as an Ed25519 did:key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DidKeyError {
    /// The DID is of another method.
    #[error("not a did:key")]
    NotDidKey,
    /// The identifier is not an Ed25519 Multikey.
    #[error("did:key identifier is not an Ed25519 key: {0}")]
    Key(#[from] KeyError),
}

/// How the verification methods of a resolved document are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyFormat {
    /// `Multikey` with `publicKeyMultibase`: the current did:key form, and Vouch's.
    #[default]
    Multikey,
    /// `Ed25519VerificationKey2018` and `X25519KeyAgreementKey2019` with `publicKeyBase58`: the form
    /// of most did:key test vectors and of older verifiers.
    Legacy2018,
    /// `JsonWebKey2020` with `publicKeyJwk`, for JOSE-based verifiers.
    JsonWebKey2020,
}

/// The did:key of an Ed25519 key.
pub fn did_of(key: &PublicKey) -> Did {
    Did(format!("did:key:{}", key.to_multibase()))
}

/// The verification method `did:key:z…#z…` of an Ed25519 key.
pub fn verification_method_of(key: &PublicKey) -> DidUrl {
    let multikey = key.to_multibase();
    DidUrl {
        did_len: "did:key:".len() + multikey.len(),
        url: format!("did:key:{multikey}#{multikey}"),
    }
}

/// The Ed25519 key a did:key names.
pub fn key_of(did: &Did) -> Result<PublicKey, DidKeyError> {
    if did.method() != "key" {
        return Err(DidKeyError::NotDidKey);
    }
    Ok(PublicKey::from_multibase(did.method_specific_id())?)
}

/// The key of a did:key verification method in its one canonical form, `did:key:z6Mk…#z6Mk…`:
/// the method a did:key document lists first and authorizes for authentication, assertion and
/// both capability relationships — every purpose a proof names — so no document need be built.
/// `None` for anything else (another method, fragment, path or query; a key that does not
/// read): resolve that in full.
pub fn canonical_method_key(method: &DidUrl) -> Option<PublicKey> {
    let url = method.as_str();
    let rest = url.strip_prefix("did:key:")?;
    let (id, fragment) = rest.split_once('#')?;
    if id != fragment || id.contains(['/', '?', '#', ':']) {
        return None;
    }
    read_key(id)
}

/// The most did:key keys kept read.
const MAX_READ_KEYS: usize = 4096;

/// A `z6Mk…` key, read once: decoding base58 and decompressing the curve point is a third of
/// an Ed25519 verification, and a verifier sees the same few keys again and again. The table
/// is bounded (emptied when full); a key that does not read is never kept.
fn read_key(multikey: &str) -> Option<PublicKey> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static READ: OnceLock<Mutex<HashMap<String, PublicKey>>> = OnceLock::new();
    let table = READ.get_or_init(|| Mutex::new(HashMap::new()));
    let lock = || table.locked();
    if let Some(key) = lock().get(multikey) {
        return Some(*key);
    }
    let key = PublicKey::from_multibase(multikey).ok()?;
    let mut read = lock();
    if read.len() >= MAX_READ_KEYS {
        read.clear();
    }
    read.insert(multikey.to_owned(), key);
    Some(key)
}

/// Resolves a did:key to its DID document.
pub fn resolve(did: &Did, format: KeyFormat) -> Result<DidDocument, DidKeyError> {
    let key = key_of(did)?;
    let ed_multikey = key.to_multibase();
    let x = key.to_x25519();
    let x_multikey = x.to_multibase();
    let url = |fragment: &str| DidUrl {
        did_len: did.as_str().len(),
        url: format!("{did}#{fragment}"),
    };
    let ed_id = url(&ed_multikey);
    let x_id = url(&x_multikey);
    let method = |id: &DidUrl, key: &[u8; 32], multikey: String, legacy_type: &str, crv: &str| {
        let (type_, multibase, base58, jwk) = match format {
            KeyFormat::Multikey => ("Multikey", Some(multikey), None, None),
            KeyFormat::Legacy2018 => (
                legacy_type,
                None,
                Some(bs58::encode(key).into_string()),
                None,
            ),
            KeyFormat::JsonWebKey2020 => (
                "JsonWebKey2020",
                None,
                None,
                Some(Jwk {
                    kty: "OKP".to_owned(),
                    crv: crv.to_owned(),
                    x: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key),
                }),
            ),
        };
        VerificationMethod {
            id: id.clone(),
            type_: type_.to_owned(),
            controller: did.clone(),
            public_key_multibase: multibase,
            public_key_base58: base58,
            public_key_jwk: jwk,
        }
    };
    let verification_method = vec![
        method(
            &ed_id,
            key.as_bytes(),
            ed_multikey,
            "Ed25519VerificationKey2018",
            "Ed25519",
        ),
        method(
            &x_id,
            &x.0,
            x_multikey,
            "X25519KeyAgreementKey2019",
            "X25519",
        ),
    ];
    let context = match format {
        KeyFormat::Multikey => vec![MULTIKEY_CONTEXT_V1],
        KeyFormat::Legacy2018 => vec![
            "https://w3id.org/security/suites/ed25519-2018/v1",
            "https://w3id.org/security/suites/x25519-2019/v1",
        ],
        KeyFormat::JsonWebKey2020 => vec!["https://w3id.org/security/suites/jws-2020/v1"],
    };
    let context = std::iter::once(DID_CONTEXT_V1)
        .chain(context)
        .map(str::to_owned)
        .collect();
    Ok(DidDocument {
        context,
        id: did.clone(),
        also_known_as: Vec::new(),
        verification_method,
        authentication: vec![ed_id.clone()],
        assertion_method: vec![ed_id.clone()],
        capability_invocation: vec![ed_id.clone()],
        capability_delegation: vec![ed_id],
        key_agreement: vec![x_id],
        service: Vec::new(),
        agent: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::did::document::Relationship;
    use crate::key::KeyPair;
    use proptest::prelude::*;

    #[test]
    fn the_canonical_method_key_is_what_the_document_authorizes() {
        use crate::did::DidUrl;
        for _ in 0..32 {
            let key = KeyPair::generate().public();
            let did = did_of(&key);
            let document = resolve(&did, KeyFormat::Multikey).unwrap();
            let x = key.to_x25519().to_multibase();
            let ed = key.to_multibase();
            for url in [
                format!("{did}#{ed}"),
                format!("{did}#{x}"),
                format!("{did}#other"),
                format!("{did}?versionId=1#{ed}"),
                format!("{did}/path#{ed}"),
            ] {
                let Ok(method) = DidUrl::parse(&url) else {
                    continue;
                };
                for relationship in [
                    Relationship::Authentication,
                    Relationship::AssertionMethod,
                    Relationship::CapabilityInvocation,
                    Relationship::CapabilityDelegation,
                ] {
                    let full = document.key_for(&method, relationship).ok();
                    match canonical_method_key(&method) {
                        // Where the shortcut answers, it answers as the document does.
                        Some(fast) => assert_eq!(Some(fast), full, "{url}"),
                        // Elsewhere the document is resolved: nothing is decided here.
                        None => assert_ne!(url, format!("{did}#{ed}")),
                    }
                }
            }
        }
        // Another method's DID, a key that is no curve point: resolved in full.
        assert!(canonical_method_key(&DidUrl::parse("did:web:e.example#k").unwrap()).is_none());
    }

    #[test]
    fn other_methods_are_refused() {
        let did = Did::parse("did:web:example.com").unwrap();
        assert_eq!(key_of(&did).unwrap_err(), DidKeyError::NotDidKey);
        let x = KeyPair::generate().public().to_x25519().to_multibase();
        let did = Did::parse(&format!("did:key:{x}")).unwrap();
        assert!(matches!(key_of(&did), Err(DidKeyError::Key(_))));
    }

    proptest! {
        #[test]
        fn did_key_round_trips(seed in any::<[u8; 32]>()) {
            let key = KeyPair::from_seed(&seed).public();
            let did = did_of(&key);
            prop_assert_eq!(key_of(&Did::parse(did.as_str()).unwrap()).unwrap(), key);
            let vm = verification_method_of(&key);
            prop_assert_eq!(DidUrl::parse(vm.as_str()).unwrap(), vm.clone());
            for format in [KeyFormat::Multikey, KeyFormat::Legacy2018, KeyFormat::JsonWebKey2020] {
                let doc = resolve(&did, format).unwrap();
                prop_assert_eq!(doc.key_for(&vm, Relationship::AssertionMethod).unwrap(), key);
            }
        }
    }
}
