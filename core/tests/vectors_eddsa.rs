//! W3C Data Integrity EdDSA vectors: signing `unsigned.json` with `keyPair.json` at the vector's
//! `created` must give exactly the vector's `proofValue`, and the signed vectors must verify.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use vouch_core::did::document::Relationship;
use vouch_core::did::resolve::DidKeyResolver;
use vouch_core::did::{Did, DidUrl};
use vouch_core::key::{KeyPair, KeyPairJson};
use vouch_core::proof::{self, Cryptosuite, ProofError, ProofOptions};

use crate::common;

fn key_pair() -> KeyPair {
    let json: KeyPairJson =
        serde_json::from_value(common::json("vc-di-eddsa/keyPair.json")).expect("keyPair.json");
    KeyPair::from_json(&json).expect("vector key pair is consistent")
}

fn options(suite: Cryptosuite, config_path: &str) -> ProofOptions {
    let config = common::json(config_path);
    let created: DateTime<Utc> = config["created"]
        .as_str()
        .expect("created")
        .parse()
        .expect("time");
    ProofOptions {
        cryptosuite: suite,
        created,
        verification_method: DidUrl::parse(config["verificationMethod"].as_str().expect("vm"))
            .expect("vm"),
        purpose: Relationship::AssertionMethod,
        challenge: None,
        domain: None,
        expires: None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_suite(suite: Cryptosuite, dir: &str, tag: &str) {
    let unsigned = common::json("vc-di-eddsa/unsigned.json");
    let options = options(suite, &format!("{dir}/proofConfig{tag}.json"));
    let signed = proof::sign(&unsigned, &options, &key_pair()).expect("signs");
    let expected = common::json(&format!("{dir}/signed{tag}.json"));
    assert_eq!(
        signed["proof"]["proofValue"],
        common::read(&format!("{dir}/sigBTC58{tag}.txt")).trim()
    );
    assert_eq!(
        signed, expected,
        "the whole signed document equals the vector"
    );

    // Our proof and the vector's verify, and their intermediate hashes are the vector's.
    for document in [&signed, &expected] {
        let verified = proof::verify(document, Relationship::AssertionMethod, &DidKeyResolver)
            .expect("verifies");
        assert_eq!(verified.cryptosuite, suite);
    }
    let proof_hash = common::read(&format!("{dir}/proofHash{tag}.txt"));
    let doc_hash = common::read(&format!("{dir}/docHash{tag}.txt"));
    let canon_doc = common::read(&format!("{dir}/canonDoc{tag}.txt"));
    assert_eq!(hex(&Sha256::digest(canon_doc.as_bytes())), doc_hash.trim());
    let canon_proof = common::read(&format!("{dir}/proofCanon{tag}.txt"));
    assert_eq!(
        hex(&Sha256::digest(canon_proof.as_bytes())),
        proof_hash.trim()
    );
}

#[test]
fn eddsa_jcs_2022_reproduces_the_vector() {
    check_suite(
        Cryptosuite::EddsaJcs2022,
        "vc-di-eddsa/eddsa-jcs-2022",
        "JCS",
    );
}

#[test]
fn eddsa_rdfc_2022_reproduces_the_vector() {
    check_suite(
        Cryptosuite::EddsaRdfc2022,
        "vc-di-eddsa/eddsa-rdfc-2022",
        "DataInt",
    );
}

#[test]
fn canonical_forms_are_the_vectors() {
    let unsigned = common::json("vc-di-eddsa/unsigned.json");
    let object = unsigned.as_object().expect("object");
    let jcs = proof::jcs::canonicalize(object).expect("jcs");
    assert_eq!(
        String::from_utf8(jcs).expect("utf-8"),
        common::read("vc-di-eddsa/eddsa-jcs-2022/canonDocJCS.txt").trim_end()
    );
    let nquads = proof::rdfc::canonical_nquads(object)
        .expect("rdfc")
        .concat();
    assert_eq!(
        nquads,
        common::read("vc-di-eddsa/eddsa-rdfc-2022/canonDocDataInt.txt")
    );
}

#[test]
fn tampering_breaks_both_suites() {
    for (path, suite) in [
        (
            "vc-di-eddsa/eddsa-jcs-2022/signedJCS.json",
            Cryptosuite::EddsaJcs2022,
        ),
        (
            "vc-di-eddsa/eddsa-rdfc-2022/signedDataInt.json",
            Cryptosuite::EddsaRdfc2022,
        ),
    ] {
        let signed = common::json(path);
        // Another key claiming the proof.
        let other = vouch_core::did::key::verification_method_of(&KeyPair::generate().public());
        for (pointer, value) in [
            ("/credentialSubject/alumniOf", "The School of Forgeries"),
            ("/proof/created", "2023-02-24T23:36:39Z"),
            ("/proof/verificationMethod", other.as_str()),
        ] {
            let mut changed = signed.clone();
            *changed.pointer_mut(pointer).expect("field exists") = Value::from(value);
            assert_eq!(
                proof::verify(&changed, Relationship::AssertionMethod, &DidKeyResolver),
                Err(ProofError::InvalidSignature),
                "{suite}: {pointer}"
            );
        }
        // The right proof for the wrong purpose.
        assert!(matches!(
            proof::verify(&signed, Relationship::Authentication, &DidKeyResolver),
            Err(ProofError::WrongPurpose { .. })
        ));
    }
    let _ = Did::parse("did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2").expect("did");
}
