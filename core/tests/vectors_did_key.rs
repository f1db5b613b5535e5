//! did:key vectors of the w3c-ccg did-method-key repository: every Ed25519 entry must match.

use vouch_core::did::Did;
use vouch_core::did::key::{self, KeyFormat};
use vouch_core::key::{KeyPair, PublicKey};

use crate::common;

fn hex32(s: &str) -> [u8; 32] {
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex seed"))
        .collect();
    bytes.try_into().expect("32-byte seed")
}

#[test]
fn every_ed25519_vector_matches() {
    let vectors = common::json("did-key/ed25519-x25519.json");
    let vectors = vectors
        .as_object()
        .expect("vectors are an object keyed by DID");
    assert_eq!(vectors.len(), 5);
    let mut checked_secrets = 0;
    for (did, vector) in vectors {
        let pair = KeyPair::from_seed(&hex32(vector["seed"].as_str().expect("seed")));
        // Key to DID.
        assert_eq!(key::did_of(&pair.public()).as_str(), did);
        // DID back to key.
        let parsed = Did::parse(did).expect("vector DID parses");
        assert_eq!(key::key_of(&parsed).expect("did:key"), pair.public());

        // The vector's own form is reproduced exactly.
        let format = match vector["didDocument"]["verificationMethod"][0]["type"].as_str() {
            Some("Ed25519VerificationKey2018") => KeyFormat::Legacy2018,
            Some("JsonWebKey2020") => KeyFormat::JsonWebKey2020,
            other => panic!("unexpected vector type {other:?}"),
        };
        let same_form = key::resolve(&parsed, format).expect("resolves");
        assert_eq!(
            serde_json::to_value(&same_form).expect("serializes"),
            vector["didDocument"],
            "{did}"
        );

        // The Multikey form carries the same keys under the same ids.
        let doc = key::resolve(&parsed, KeyFormat::Multikey).expect("resolves");
        let expected = &vector["didDocument"]["verificationMethod"];
        for (vm, expected) in doc
            .verification_method
            .iter()
            .zip(expected.as_array().expect("list"))
        {
            assert_eq!(vm.type_, "Multikey");
            assert_eq!(vm.id.as_str(), expected["id"]);
            let raw = match expected["publicKeyBase58"].as_str() {
                Some(base58) => bs58::decode(base58).into_vec().expect("base58 decodes"),
                None => {
                    use base64::Engine as _;
                    let x = expected["publicKeyJwk"]["x"].as_str().expect("jwk x");
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(x)
                        .expect("base64url")
                }
            };
            let multibase = vm.public_key_multibase.as_deref().expect("multibase");
            let decoded = bs58::decode(&multibase[1..])
                .into_vec()
                .expect("multibase decodes");
            assert_eq!(&decoded[2..], &raw[..], "{did}: key of {}", vm.id);
        }
        assert_eq!(
            doc.key_agreement[0].as_str(),
            vector["didDocument"]["keyAgreement"][0]
        );
        assert_eq!(
            doc.verification_method.len(),
            expected.as_array().expect("list").len()
        );

        // The derived X25519 secret is the vector's.
        if let Some(secret) = vector["keyAgreementKeyPair"]["privateKeyBase58"].as_str() {
            let x_secret = bs58::decode(secret).into_vec().expect("base58");
            assert_eq!(&pair.x25519_secret()[..], &x_secret[..], "{did}");
            checked_secrets += 1;
        }
    }
    assert!(
        checked_secrets >= 4,
        "the X25519 secrets of the vectors were checked"
    );
}

#[test]
fn vector_public_keys_parse_from_multibase() {
    let vectors = common::json("did-key/ed25519-x25519.json");
    for did in vectors.as_object().expect("object").keys() {
        let multikey = did.trim_start_matches("did:key:");
        let key = PublicKey::from_multibase(multikey).expect("vector key parses");
        assert_eq!(key.to_multibase(), multikey);
    }
}
