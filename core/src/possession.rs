//! Proofs of possession: an agent instance shows that it holds the key of its did:key by signing
//! a statement over a verifier's fresh challenge, for the verifier's domain — how an instance is
//! bound to its agent definition on the org's node (DESIGN §3), when it has no credential to
//! present yet.
//!
//! The proof is an `eddsa-jcs-2022` Data Integrity proof with purpose `authentication`, as a
//! presentation's is. The statement is a small JSON object of the verifier's choosing; the signer
//! must be a did:key, resolved from the key itself, never from a document someone supplies.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::did::document::Relationship;
use crate::did::resolve::DidKeyResolver;
use crate::did::{Did, key as did_key};
use crate::key::KeyPair;
use crate::proof::{self, Cryptosuite, ProofError, ProofOptions};

/// The most members a statement has.
const MAX_MEMBERS: usize = 16;

/// Why a proof of possession is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PossessionError {
    /// The statement is not a small JSON object.
    #[error("the statement must be a JSON object of at most {MAX_MEMBERS} members")]
    Malformed,
    /// The proof does not verify.
    #[error("the proof does not verify: {0}")]
    Proof(#[from] ProofError),
    /// The signer is not a did:key.
    #[error("the signer must be a did:key")]
    NotAnInstanceKey,
    /// The proof answers another challenge, or none.
    #[error("the proof answers another challenge")]
    WrongChallenge,
    /// The proof was made for another domain, or none.
    #[error("the proof was made for another domain")]
    WrongDomain,
}

/// Signs `statement` (a JSON object) with `key`, over `challenge`, for `domain`.
pub fn prove(
    key: &KeyPair,
    statement: &Value,
    challenge: &str,
    domain: &str,
    now: DateTime<Utc>,
) -> Result<Value, PossessionError> {
    if !statement
        .as_object()
        .is_some_and(|o| o.len() <= MAX_MEMBERS && !o.contains_key("proof"))
    {
        return Err(PossessionError::Malformed);
    }
    let options = ProofOptions {
        cryptosuite: Cryptosuite::EddsaJcs2022,
        created: now,
        verification_method: did_key::verification_method_of(&key.public()),
        purpose: Relationship::Authentication,
        challenge: Some(challenge.to_owned()),
        domain: Some(domain.to_owned()),
        expires: None,
    };
    Ok(proof::sign(statement, &options, key)?)
}

/// Checks a signed statement: a valid proof by a did:key over exactly `challenge` and `domain`.
/// Returns the did:key that signed it.
pub fn verify(signed: &Value, challenge: &str, domain: &str) -> Result<Did, PossessionError> {
    if signed.as_object().is_none_or(|o| o.len() > MAX_MEMBERS + 1) {
        return Err(PossessionError::Malformed);
    }
    let verified = proof::verify(signed, Relationship::Authentication, &DidKeyResolver)?;
    let signer = verified.verification_method.did();
    if signer.method() != "key" {
        return Err(PossessionError::NotAnInstanceKey);
    }
    if verified.challenge.as_deref() != Some(challenge) {
        return Err(PossessionError::WrongChallenge);
    }
    if verified.domain.as_deref() != Some(domain) {
        return Err(PossessionError::WrongDomain);
    }
    Ok(signer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_proof_binds_its_key_challenge_and_domain() {
        let key = KeyPair::generate();
        let did = did_key::did_of(&key.public());
        let statement = json!({"type": "InstanceBinding", "instance": did});
        let signed = prove(&key, &statement, "c-1", "https://node.example", Utc::now()).unwrap();
        assert_eq!(verify(&signed, "c-1", "https://node.example").unwrap(), did);
        assert_eq!(
            verify(&signed, "c-2", "https://node.example"),
            Err(PossessionError::WrongChallenge)
        );
        assert_eq!(
            verify(&signed, "c-1", "https://other.example"),
            Err(PossessionError::WrongDomain)
        );
        let mut changed = signed.clone();
        changed["instance"] = json!("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK");
        assert!(matches!(
            verify(&changed, "c-1", "https://node.example"),
            Err(PossessionError::Proof(_))
        ));
        assert_eq!(
            prove(&key, &json!([1]), "c", "d", Utc::now()),
            Err(PossessionError::Malformed)
        );
    }
}
