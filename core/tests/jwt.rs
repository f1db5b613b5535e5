//! JSON Web Tokens against an implementation that is not ours: ssi's JWS (`ssi::claims::jws`)
//! verifies what `vouch_core::jwt` signs, Vouch verifies what ssi signs, and a DPoP proof ssi
//! makes is checked by Vouch with the key its header carries; the thumbprints agree.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use ssi::JWK;
use ssi::claims::jws::{self, Header};
use vouch_core::http_signature::jwk_thumbprint;
use vouch_core::jwt::{self, ACCESS_TOKEN, DPOP_PROOF};
use vouch_core::key::KeyPair;

/// The same key as ssi's JWK: public, or with its private part.
fn jwk_of(key: &KeyPair, private: bool) -> JWK {
    let mut jwk = json!({"kty": "OKP", "crv": "Ed25519",
        "x": URL_SAFE_NO_PAD.encode(key.public().as_bytes())});
    if private {
        jwk["d"] = json!(URL_SAFE_NO_PAD.encode(*key.seed()));
    }
    serde_json::from_value(jwk).expect("a JWK")
}

#[test]
fn what_vouch_signs_verifies_in_ssi_and_back() {
    let key = KeyPair::from_seed(&[21; 32]);
    let claims = json!({"iss": "https://node.example", "sub": "p-1", "exp": 1_800_000_300})
        .as_object()
        .expect("an object")
        .clone();
    let token = jwt::sign(&key, ACCESS_TOKEN, "k1", &claims);
    let (header, payload) = jws::decode_verify(&token, &jwk_of(&key, false)).expect("ssi verifies");
    assert_eq!(header.type_.as_deref(), Some(ACCESS_TOKEN));
    assert_eq!(header.key_id.as_deref(), Some("k1"));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&payload).expect("JSON")["sub"],
        "p-1"
    );
    // ssi's thumbprint of the key is ours.
    assert_eq!(
        jwk_of(&key, false).thumbprint().expect("a thumbprint"),
        jwk_thumbprint(&key.public())
    );

    // What ssi signs, Vouch verifies; another key's, it refuses.
    let header = Header {
        algorithm: ssi::jwk::Algorithm::EdDSA,
        key_id: Some("k1".into()),
        type_: Some(ACCESS_TOKEN.into()),
        ..Header::default()
    };
    let theirs = jws::encode_sign_custom_header(r#"{"sub":"p-2"}"#, &jwk_of(&key, true), &header)
        .expect("ssi signs");
    let keys = |kid: &str| (kid == "k1").then(|| key.public());
    assert_eq!(
        jwt::verify(&theirs, ACCESS_TOKEN, keys).expect("verifies")["sub"],
        "p-2"
    );
    let other = KeyPair::from_seed(&[22; 32]);
    assert!(jwt::verify(&theirs, ACCESS_TOKEN, |_| Some(other.public())).is_err());
}

#[test]
fn a_dpop_proof_ssi_makes_is_checked_here() {
    let key = KeyPair::from_seed(&[23; 32]);
    let header = Header {
        algorithm: ssi::jwk::Algorithm::EdDSA,
        type_: Some(DPOP_PROOF.into()),
        jwk: Some(jwk_of(&key, false)),
        ..Header::default()
    };
    let now = 1_800_000_000;
    let token = "an.access.token";
    let claims = json!({"jti": "p-1", "htm": "POST", "htu": "https://api.example/refunds/42",
        "iat": now, "ath": URL_SAFE_NO_PAD.encode(Sha256::digest(token))});
    let proof = jws::encode_sign_custom_header(&claims.to_string(), &jwk_of(&key, true), &header)
        .expect("ssi signs");
    let target = url::Url::parse("https://api.example/refunds/42").expect("a URL");
    let proved =
        jwt::check_dpop(&proof, "POST", &target, now, Some(token), |_, _| true).expect("checked");
    assert_eq!(proved.jkt, jwk_thumbprint(&key.public()));
    assert!(jwt::check_dpop(&proof, "GET", &target, now, Some(token), |_, _| true).is_err());
}
