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

#[test]
fn the_proof_set_and_proof_chain_vectors_verify_every_proof_and_nothing_else() {
    let resolver = DidKeyResolver;
    for (vector, proofs) in [
        ("signedProofSet1.json", 1),
        ("signedProofSet2.json", 2),
        ("signedProofChain1.json", 3),
        ("signedProofChain2.json", 4),
    ] {
        let signed = common::json(&format!("vc-di-eddsa/proof-set-chain/{vector}"));
        let verified = proof::verify_set(&signed, Relationship::AssertionMethod, &resolver)
            .unwrap_or_else(|e| panic!("{vector}: {e}"));
        assert_eq!(verified.len(), proofs, "{vector}");
        // One claim changed: every proof fails.
        let mut tampered = signed.clone();
        tampered["credentialSubject"]["alumniOf"] = "Another School".into();
        assert!(
            proof::verify_set(&tampered, Relationship::AssertionMethod, &resolver).is_err(),
            "{vector}"
        );
    }
    let chain = common::json("vc-di-eddsa/proof-set-chain/signedProofChain2.json");
    let verify =
        |document: &Value| proof::verify_set(document, Relationship::AssertionMethod, &resolver);
    // A proof of the chain taken out: the one that named it has nothing to stand on.
    let mut broken = chain.clone();
    broken["proof"].as_array_mut().expect("a set").remove(0);
    assert!(matches!(
        verify(&broken),
        Err(ProofError::Malformed("previousProof"))
    ));
    // A proof that names itself, or an id twice: refused.
    let mut itself = chain.clone();
    itself["proof"][2]["previousProof"] = itself["proof"][2]["id"].clone();
    assert!(verify(&itself).is_err());
    let mut twice = chain.clone();
    twice["proof"][1]["id"] = twice["proof"][0]["id"].clone();
    assert!(matches!(verify(&twice), Err(ProofError::Malformed("id"))));
    // The last link alone is no proof: verified as a single proof, a chain's member is refused.
    let mut last = chain.clone();
    last["proof"] = chain["proof"][3].clone();
    assert!(matches!(
        proof::verify(&last, Relationship::AssertionMethod, &resolver),
        Err(ProofError::ProofSet)
    ));
    // A relative proof id is refused: it would drop the proof's configuration from what rdfc signs.
    let mut relative = chain.clone();
    relative["proof"][0]["id"] = "#p1".into();
    assert!(verify(&relative).is_err());
}
