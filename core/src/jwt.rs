//! JSON Web Tokens (RFC 7519) in compact JWS form (RFC 7515) with Ed25519 (`EdDSA`, RFC 8037) —
//! what the OAuth bridge issues and checks: access tokens (`at+jwt`, RFC 9068), Security Event
//! Tokens (`secevent+jwt`, RFC 8417) — and DPoP proofs (`dpop+jwt`, RFC 9449), each checked
//! against its own `typ` so that one can never be taken for another.
//!
//! Verification pins everything it does not check: `alg` must be `EdDSA` (never `none`, never
//! another algorithm the header names), `typ` must be the one expected, a `crit` header is
//! refused (nothing here understands an extension), and the signature is Vouch's strict
//! Ed25519 equation (`key::PublicKey::verify`). A token is at most [`MAX_TOKEN_BYTES`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use crate::http_signature::jwk_thumbprint;
use crate::key::{KeyPair, PublicKey};

/// The largest token read.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// The `typ` of an access token (RFC 9068).
pub const ACCESS_TOKEN: &str = "at+jwt";
/// The `typ` of a DPoP proof (RFC 9449).
pub const DPOP_PROOF: &str = "dpop+jwt";
/// The `typ` of a Security Event Token (RFC 8417).
pub const SECURITY_EVENT: &str = "secevent+jwt";
/// The algorithm: Ed25519 (RFC 8037's name, the one JOSE libraries know).
pub const ALG: &str = "EdDSA";
/// How far a DPoP proof's `iat` may be from the verifier's clock.
pub const DPOP_WINDOW_SECS: i64 = 60;
/// The longest `jti` a DPoP proof may carry (a verifier remembers each).
pub const MAX_JTI_BYTES: usize = 128;

/// Why a token is not believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not a compact JWS of JSON objects, or too large.
    #[error("malformed: {0}")]
    Malformed(String),
    /// A header that is not the one expected (`alg`, `typ`, `crit`, the key).
    #[error("refused header: {0}")]
    Header(String),
    /// No key of that `kid`.
    #[error("unknown key: {0}")]
    UnknownKey(String),
    /// The signature does not verify.
    #[error("the signature does not verify")]
    InvalidSignature,
    /// A claim that is missing or not what it must be.
    #[error("claim: {0}")]
    Claim(String),
    /// A DPoP proof's `jti` used before.
    #[error("replayed: the proof's jti was used before")]
    Replayed,
}

fn encode(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("a JSON value serializes"))
}

/// `claims` signed by `key`: `{"alg": "EdDSA", "typ": typ, "kid": kid}`, compact form.
pub fn sign(key: &KeyPair, typ: &str, kid: &str, claims: &Map<String, Value>) -> String {
    let header = json!({"alg": ALG, "typ": typ, "kid": kid});
    let input = format!(
        "{}.{}",
        encode(&header),
        encode(&Value::Object(claims.clone()))
    );
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A compact JWS read but not verified: its header, claims, signing input and signature.
struct Parts<'a> {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    input: &'a str,
    signature: [u8; 64],
}

fn parts(token: &str) -> Result<Parts<'_>, JwtError> {
    let malformed = |why: &str| JwtError::Malformed(why.to_owned());
    if token.len() > MAX_TOKEN_BYTES {
        return Err(malformed("longer than the largest token read"));
    }
    let (input, signature) = token
        .rsplit_once('.')
        .ok_or_else(|| malformed("not three parts"))?;
    let (header, claims) = input
        .split_once('.')
        .ok_or_else(|| malformed("not three parts"))?;
    if claims.contains('.') {
        return Err(malformed("more than three parts"));
    }
    let object = |part: &str, what: &str| -> Result<Map<String, Value>, JwtError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|e| JwtError::Malformed(format!("{what}: {e}")))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(JwtError::Malformed(format!("{what}: not a JSON object"))),
        }
    };
    let signature: [u8; 64] = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| JwtError::Malformed(format!("signature: {e}")))?
        .try_into()
        .map_err(|_| malformed("an Ed25519 signature is 64 bytes"))?;
    Ok(Parts {
        header: object(header, "header")?,
        claims: object(claims, "claims")?,
        input,
        signature,
    })
}

/// The header's `alg` and `typ` as expected, and no `crit`.
fn check_header(header: &Map<String, Value>, typ: &str) -> Result<(), JwtError> {
    if header.get("alg").and_then(Value::as_str) != Some(ALG) {
        return Err(JwtError::Header(format!("alg must be {ALG}")));
    }
    // `typ` compares without its `application/` prefix, case-insensitively (RFC 7515 §4.1.9).
    let named = header.get("typ").and_then(Value::as_str).map(|t| {
        t.strip_prefix("application/")
            .unwrap_or(t)
            .to_ascii_lowercase()
    });
    if named.as_deref() != Some(typ) {
        return Err(JwtError::Header(format!("typ must be {typ}")));
    }
    if header.contains_key("crit") {
        return Err(JwtError::Header("crit: no extension is understood".into()));
    }
    Ok(())
}

/// The claims of `token`, a JWT of type `typ` signed with the key `keys` gives for its `kid`.
pub fn verify(
    token: &str,
    typ: &str,
    keys: impl FnOnce(&str) -> Option<PublicKey>,
) -> Result<Map<String, Value>, JwtError> {
    let parts = parts(token)?;
    check_header(&parts.header, typ)?;
    let kid = parts
        .header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or_else(|| JwtError::Header("no kid".into()))?;
    let key = keys(kid).ok_or_else(|| JwtError::UnknownKey(format!("{kid:.128}")))?;
    if !key.verify(parts.input.as_bytes(), &parts.signature) {
        return Err(JwtError::InvalidSignature);
    }
    Ok(parts.claims)
}

/// The Ed25519 key of a public OKP JWK (RFC 8037), refusing one that carries a private part.
pub fn public_jwk(jwk: &Value) -> Result<PublicKey, JwtError> {
    let header = |why: &str| JwtError::Header(format!("jwk: {why}"));
    let jwk = jwk.as_object().ok_or_else(|| header("not an object"))?;
    if jwk.contains_key("d") {
        return Err(header("it carries a private key"));
    }
    if jwk.get("kty").and_then(Value::as_str) != Some("OKP")
        || jwk.get("crv").and_then(Value::as_str) != Some("Ed25519")
    {
        return Err(header("an OKP Ed25519 key only"));
    }
    let x: [u8; 32] = jwk
        .get("x")
        .and_then(Value::as_str)
        .and_then(|x| URL_SAFE_NO_PAD.decode(x).ok())
        .and_then(|x| x.try_into().ok())
        .ok_or_else(|| header("x is not 32 bytes of base64url"))?;
    PublicKey::from_bytes(&x).map_err(|e| header(&e.to_string()))
}

/// What a DPoP proof proves: a request `method` `target`, at `iat`, once (`jti`), with the
/// access token it is sent with and the server's `nonce`, when there are.
#[derive(Debug, Clone, Copy)]
pub struct DpopRequest<'a> {
    /// The method.
    pub method: &'a str,
    /// The target URI (its query and fragment are left out of `htu`).
    pub target: &'a url::Url,
    /// When (seconds since the epoch).
    pub iat: i64,
    /// A value used once.
    pub jti: &'a str,
    /// The access token presented with it.
    pub access_token: Option<&'a str>,
    /// The nonce the server gave (`DPoP-Nonce`).
    pub nonce: Option<&'a str>,
}

/// A DPoP proof (RFC 9449 §4.2) of `request` made by `key`: `typ` `dpop+jwt`, its public key in
/// the header, `jti`, `htm`, `htu`, `iat`, and `ath`/`nonce` when there are.
pub fn dpop_proof(key: &KeyPair, request: &DpopRequest<'_>) -> String {
    let jwk = crate::http_signature::jwk(&key.public());
    let header = json!({"alg": ALG, "typ": DPOP_PROOF,
        "jwk": {"kty": "OKP", "crv": "Ed25519", "x": jwk["x"]}});
    let mut htu = request.target.clone();
    htu.set_query(None);
    htu.set_fragment(None);
    let mut claims = json!({"jti": request.jti, "htm": request.method, "htu": htu.as_str(),
        "iat": request.iat});
    if let Some(token) = request.access_token {
        claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(token)));
    }
    if let Some(nonce) = request.nonce {
        claims["nonce"] = json!(nonce);
    }
    let input = format!("{}.{}", encode(&header), encode(&claims));
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A DPoP proof checked (RFC 9449 §4.3): the thumbprint (RFC 7638) of the key that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proved {
    /// `cnf.jkt` of a token bound to that key.
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
}

/// Checks the DPoP proof `proof` of a request `method` `target` (its URI without query or
/// fragment) at `now` (seconds since the epoch): a `dpop+jwt` signed by the public key in its
/// own header, `htm` and `htu` this request's, `iat` within [`DPOP_WINDOW_SECS`], `ath` the
/// hash of `access_token` when one is presented with it (and none otherwise), `jti` used once
/// (`first_use`, asked only once everything else held, with the time until which to remember
/// it).
pub fn check_dpop(
    proof: &str,
    method: &str,
    target: &url::Url,
    now: i64,
    access_token: Option<&str>,
    first_use: impl FnOnce(&str, i64) -> bool,
) -> Result<Proved, JwtError> {
    let claim = |why: String| JwtError::Claim(why);
    let parts = parts(proof)?;
    check_header(&parts.header, DPOP_PROOF)?;
    let key = public_jwk(
        parts
            .header
            .get("jwk")
            .ok_or_else(|| JwtError::Header("no jwk".into()))?,
    )?;
    if !key.verify(parts.input.as_bytes(), &parts.signature) {
        return Err(JwtError::InvalidSignature);
    }
    let claims = &parts.claims;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= MAX_JTI_BYTES)
        .ok_or_else(|| claim(format!("jti: 1 to {MAX_JTI_BYTES} bytes")))?;
    if text("htm") != Some(method) {
        return Err(claim(format!("htm is not {method:.16}")));
    }
    let mut htu = target.clone();
    htu.set_query(None);
    htu.set_fragment(None);
    let named = text("htu")
        .and_then(|u| url::Url::parse(u).ok())
        .map(|mut u| {
            u.set_query(None);
            u.set_fragment(None);
            u
        });
    if named.as_ref() != Some(&htu) {
        return Err(claim("htu is not this request's URI".into()));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| claim("no iat".into()))?;
    if (iat - now).abs() > DPOP_WINDOW_SECS {
        return Err(claim(format!(
            "iat {iat} is more than {DPOP_WINDOW_SECS} s from {now}"
        )));
    }
    match (access_token, text("ath")) {
        (Some(token), Some(ath)) if ath == URL_SAFE_NO_PAD.encode(Sha256::digest(token)) => {}
        (None, None) => {}
        (Some(_), _) => return Err(claim("ath is not the access token's hash".into())),
        (None, Some(_)) => return Err(claim("ath without an access token".into())),
    }
    if !first_use(jti, iat + DPOP_WINDOW_SECS) {
        return Err(JwtError::Replayed);
    }
    Ok(Proved {
        jkt: jwk_thumbprint(&key),
        jti: jti.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().expect("an object").clone()
    }

    #[test]
    fn a_token_verifies_only_as_its_own_type_under_its_own_key() {
        let key = KeyPair::from_seed(&[7; 32]);
        let token = sign(
            &key,
            ACCESS_TOKEN,
            "k1",
            &claims(json!({"sub": "p-1", "exp": 9})),
        );
        let keys = |kid: &str| (kid == "k1").then(|| key.public());
        assert_eq!(
            verify(&token, ACCESS_TOKEN, keys).expect("verifies")["sub"],
            "p-1"
        );
        // Another type: a DPoP proof or a SET is never an access token, nor the other way.
        assert!(matches!(
            verify(&token, SECURITY_EVENT, keys),
            Err(JwtError::Header(_))
        ));
        // Another key, a changed payload, a key not known.
        let other = KeyPair::from_seed(&[8; 32]);
        assert_eq!(
            verify(&token, ACCESS_TOKEN, |_| Some(other.public())),
            Err(JwtError::InvalidSignature)
        );
        let (input, signature) = token.rsplit_once('.').expect("three parts");
        let (header, _) = input.split_once('.').expect("three parts");
        let forged = format!("{header}.{}.{signature}", encode(&json!({"sub": "p-2"})));
        assert_eq!(
            verify(&forged, ACCESS_TOKEN, keys),
            Err(JwtError::InvalidSignature)
        );
        assert!(matches!(
            verify(&token, ACCESS_TOKEN, |_| None),
            Err(JwtError::UnknownKey(_))
        ));
    }

    #[test]
    fn alg_none_another_alg_and_crit_are_refused() {
        let key = KeyPair::from_seed(&[7; 32]);
        let keys = |_: &str| Some(key.public());
        let body = encode(&json!({"sub": "p-1"}));
        for header in [
            json!({"alg": "none", "typ": ACCESS_TOKEN, "kid": "k"}),
            json!({"alg": "HS256", "typ": ACCESS_TOKEN, "kid": "k"}),
            json!({"alg": ALG, "typ": ACCESS_TOKEN, "kid": "k", "crit": ["exp"]}),
            json!({"alg": ALG, "kid": "k"}),
        ] {
            let input = format!("{}.{body}", encode(&header));
            let token = format!(
                "{input}.{}",
                URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()))
            );
            assert!(
                matches!(verify(&token, ACCESS_TOKEN, keys), Err(JwtError::Header(_))),
                "{header}"
            );
        }
        assert!(matches!(
            verify("a.b", ACCESS_TOKEN, keys),
            Err(JwtError::Malformed(_))
        ));
        assert!(matches!(
            verify(&"a.".repeat(MAX_TOKEN_BYTES), ACCESS_TOKEN, keys),
            Err(JwtError::Malformed(_))
        ));
    }

    /// A DPoP proof made by `key` for `method` `htu` at `iat`, for `token` when given.
    fn proof(key: &KeyPair, method: &str, htu: &str, iat: i64, token: Option<&str>) -> String {
        let target = url::Url::parse(htu).expect("a URL");
        let jti = format!("j-{iat}-{method}");
        dpop_proof(
            key,
            &DpopRequest {
                method,
                target: &target,
                iat,
                jti: &jti,
                access_token: token,
                nonce: None,
            },
        )
    }

    #[test]
    fn a_dpop_proof_binds_its_key_to_this_request_once() {
        let key = KeyPair::from_seed(&[9; 32]);
        let target = url::Url::parse("https://api.example/refunds/42?x=1").expect("a URL");
        let htu = "https://api.example/refunds/42";
        let now = 1_800_000_000;
        let fresh = |_: &str, _: i64| true;
        let proved = check_dpop(
            &proof(&key, "POST", htu, now, None),
            "POST",
            &target,
            now,
            None,
            fresh,
        )
        .expect("a proof");
        assert_eq!(proved.jkt, jwk_thumbprint(&key.public()));
        // With an access token: `ath` must be its hash.
        let token = "eyJ.token.here";
        check_dpop(
            &proof(&key, "POST", htu, now, Some(token)),
            "POST",
            &target,
            now,
            Some(token),
            fresh,
        )
        .expect("bound to the token");
        let refused = |proof: String, method: &str, token: Option<&str>| {
            check_dpop(&proof, method, &target, now, token, fresh).expect_err("refused")
        };
        // Another method, another URI, too old, for another token, none when one is presented.
        assert!(matches!(
            refused(proof(&key, "POST", htu, now, None), "GET", None),
            JwtError::Claim(_)
        ));
        assert!(matches!(
            refused(
                proof(&key, "POST", "https://api.example/refunds/43", now, None),
                "POST",
                None
            ),
            JwtError::Claim(_)
        ));
        assert!(matches!(
            refused(proof(&key, "POST", htu, now - 61, None), "POST", None),
            JwtError::Claim(_)
        ));
        assert!(matches!(
            refused(
                proof(&key, "POST", htu, now, Some("another")),
                "POST",
                Some(token)
            ),
            JwtError::Claim(_)
        ));
        assert!(matches!(
            refused(proof(&key, "POST", htu, now, None), "POST", Some(token)),
            JwtError::Claim(_)
        ));
        // Used before: replayed.
        assert_eq!(
            check_dpop(
                &proof(&key, "POST", htu, now, None),
                "POST",
                &target,
                now,
                None,
                |_, _| false
            ),
            Err(JwtError::Replayed)
        );
        // A proof carrying a private key, or signed by a key other than its header's.
        let mut header = json!({"alg": ALG, "typ": DPOP_PROOF, "jwk": crate::http_signature::jwk(&key.public())});
        header["jwk"]["d"] = json!("secret");
        let input = format!(
            "{}.{}",
            encode(&header),
            encode(&json!({"jti": "j", "htm": "POST", "htu": htu, "iat": now}))
        );
        let with_private = format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()))
        );
        assert!(matches!(
            refused(with_private, "POST", None),
            JwtError::Header(_)
        ));
        let other = KeyPair::from_seed(&[10; 32]);
        let genuine = proof(&key, "POST", htu, now, None);
        let (input, _) = genuine.rsplit_once('.').expect("three parts");
        let swapped = format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(other.sign(input.as_bytes()))
        );
        assert_eq!(refused(swapped, "POST", None), JwtError::InvalidSignature);
    }
}
