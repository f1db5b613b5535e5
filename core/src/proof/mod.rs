//! Data Integrity proofs with the EdDSA cryptosuites
//! ([VC Data Integrity](https://www.w3.org/TR/vc-data-integrity/),
//! [Data Integrity EdDSA Cryptosuites v1.0](https://www.w3.org/TR/vc-di-eddsa/)).
//!
//! Both suites share one shape (§3.2.4–3.2.6 and §3.3.4–3.3.6 of the cryptosuite spec): the
//! document without its proof and the proof configuration are each canonicalized and hashed with
//! SHA-256, the proof configuration's hash first, and the 64 bytes are signed with Ed25519. They
//! differ only in canonicalization: RDF Dataset Canonicalization of the JSON-LD for
//! `eddsa-rdfc-2022` ([`rdfc`]), the JSON Canonicalization Scheme for `eddsa-jcs-2022` ([`jcs`]).

pub mod jcs;
pub mod rdfc;

use std::{fmt, str::FromStr};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::did::document::{KeyLookupError, Relationship};
use crate::did::{Did, DidResolver, DidUrl, ResolveError};
use crate::key::{KeyPair, PublicKey};

/// The proof type of every Data Integrity proof.
pub const DATA_INTEGRITY_PROOF: &str = "DataIntegrityProof";

/// A Data Integrity cryptosuite Vouch signs and verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Cryptosuite {
    /// `eddsa-rdfc-2022`: RDF canonicalization, the interoperable default.
    #[default]
    EddsaRdfc2022,
    /// `eddsa-jcs-2022`: JSON canonicalization, the fast path.
    EddsaJcs2022,
}

impl Cryptosuite {
    /// The suite's name in a proof's `cryptosuite`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EddsaRdfc2022 => "eddsa-rdfc-2022",
            Self::EddsaJcs2022 => "eddsa-jcs-2022",
        }
    }
}

impl fmt::Display for Cryptosuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Cryptosuite {
    type Err = ProofError;
    fn from_str(s: &str) -> Result<Self, ProofError> {
        match s {
            "eddsa-rdfc-2022" => Ok(Self::EddsaRdfc2022),
            "eddsa-jcs-2022" => Ok(Self::EddsaJcs2022),
            other => Err(ProofError::UnsupportedCryptosuite(truncate(other))),
        }
    }
}

/// Why a proof could not be made or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The document is not a JSON object.
    #[error("the document is not a JSON object")]
    NotAnObject,
    /// The document has no `proof`.
    #[error("the document has no proof")]
    MissingProof,
    /// The document to sign already has a `proof`.
    #[error("the document already has a proof")]
    AlreadySigned,
    /// `proof` is a set or chain of proofs; Vouch accepts exactly one.
    #[error("proof sets and chains are not supported: exactly one proof is expected")]
    ProofSet,
    /// A proof property is missing or of the wrong type.
    #[error("proof property {0} is missing or malformed")]
    Malformed(&'static str),
    /// The proof has a member these suites do not define.
    #[error("proof member {0:?} is not allowed")]
    UnknownMember(String),
    /// The proof type is not `DataIntegrityProof`.
    #[error("proof type must be DataIntegrityProof")]
    UnsupportedType,
    /// The cryptosuite is neither of the EdDSA suites.
    #[error("unsupported cryptosuite {0:?}")]
    UnsupportedCryptosuite(String),
    /// The proof's purpose is not the one the verifier requires.
    #[error("proof purpose is {found:?}, expected {expected:?}")]
    WrongPurpose {
        /// The purpose required.
        expected: &'static str,
        /// The purpose in the proof.
        found: String,
    },
    /// The proof's `@context` is not a prefix of the document's.
    #[error("the proof's @context does not match the document's")]
    ContextMismatch,
    /// The `proofValue` is not a base58btc 64-byte signature.
    #[error("proofValue is not a base58btc Ed25519 signature")]
    BadProofValue,
    /// The document could not be canonicalized.
    #[error("canonicalization failed: {0}")]
    Canonicalization(String),
    /// The verification method's DID could not be resolved.
    #[error("cannot resolve the verification method's DID: {0}")]
    Resolve(#[from] ResolveError),
    /// The verification method is absent, unauthorized or has no Ed25519 key.
    #[error(transparent)]
    Key(#[from] KeyLookupError),
    /// The signature does not verify: the document or proof was changed, or the key is not the
    /// signer's.
    #[error("the signature does not verify")]
    InvalidSignature,
}

/// Keeps error messages bounded when they quote peer input.
fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// What a new proof says besides its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofOptions {
    /// The suite to sign with.
    pub cryptosuite: Cryptosuite,
    /// When the proof is made.
    pub created: DateTime<Utc>,
    /// The signing key's DID URL.
    pub verification_method: DidUrl,
    /// What the signature is for.
    pub purpose: Relationship,
    /// The verifier's challenge, for presentations.
    pub challenge: Option<String>,
    /// The verifier's domain, for presentations.
    pub domain: Option<String>,
    /// When the proof stops verifying, if it should before the document does.
    pub expires: Option<DateTime<Utc>>,
}

/// A proof that verified, and what it said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The suite it was made with.
    pub cryptosuite: Cryptosuite,
    /// The key that made it.
    pub verification_method: DidUrl,
    /// When the signer says it was made.
    pub created: Option<DateTime<Utc>>,
    /// The challenge it was made over, if any.
    pub challenge: Option<String>,
    /// The domain it was made for, if any.
    pub domain: Option<String>,
    /// When the proof stops verifying, if the signer set an end; the caller compares it with its
    /// clock.
    pub expires: Option<DateTime<Utc>>,
}

/// The members a proof may have. Anything else, and any member that is not a string, is refused:
/// under `eddsa-rdfc-2022`, JSON-LD drops a `null` and maps unknown terms by `@vocab`, so extra
/// members would give one signed proof several spellings, or carry a graph to canonicalize.
///
/// An `id` must be an absolute URL: a relative one would drop every triple of the proof
/// configuration from what `eddsa-rdfc-2022` signs. Vouch never writes one; proofs of a chain
/// name each other by it (`previousProof`: one id or a list of them).
const PROOF_MEMBERS: [&str; 12] = [
    "id",
    "previousProof",
    "@context",
    "type",
    "cryptosuite",
    "created",
    "expires",
    "verificationMethod",
    "proofPurpose",
    "proofValue",
    "challenge",
    "domain",
];

/// Checks that every member of a proof is one Data Integrity defines for these suites, with a
/// string value (`@context`: a string or a list of strings).
fn check_members(proof: &Map<String, Value>) -> Result<(), ProofError> {
    for (name, value) in proof {
        let Some(member) = PROOF_MEMBERS.iter().find(|m| **m == name.as_str()) else {
            return Err(ProofError::UnknownMember(truncate(name)));
        };
        let ok = match (*member, value) {
            ("id", Value::String(id)) => crate::iri::is_url(id),
            (_, Value::String(_)) => true,
            ("@context" | "previousProof", Value::Array(items)) => {
                items.len() <= MAX_PROOFS && items.iter().all(Value::is_string)
            }
            _ => false,
        };
        if !ok {
            return Err(ProofError::Malformed(member));
        }
    }
    Ok(())
}

fn optional_time(
    proof: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<DateTime<Utc>>, ProofError> {
    optional_string(proof, name)?
        .map(|time| {
            DateTime::parse_from_rfc3339(&time)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| ProofError::Malformed(name))
        })
        .transpose()
}

/// Formats a time as the `dateTimeStamp` Data Integrity uses (seconds, `Z`).
pub fn format_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl ProofOptions {
    /// The proof configuration (§3.x.5 "Proof Configuration") without `proofValue`.
    fn configuration(&self, document: &Map<String, Value>) -> Map<String, Value> {
        let mut config = Map::new();
        config.insert("type".into(), DATA_INTEGRITY_PROOF.into());
        config.insert("cryptosuite".into(), self.cryptosuite.as_str().into());
        config.insert("created".into(), format_time(&self.created).into());
        config.insert(
            "verificationMethod".into(),
            self.verification_method.as_str().into(),
        );
        config.insert("proofPurpose".into(), self.purpose.proof_purpose().into());
        if let Some(challenge) = &self.challenge {
            config.insert("challenge".into(), challenge.as_str().into());
        }
        if let Some(domain) = &self.domain {
            config.insert("domain".into(), domain.as_str().into());
        }
        if let Some(expires) = &self.expires {
            config.insert("expires".into(), format_time(expires).into());
        }
        if self.cryptosuite == Cryptosuite::EddsaJcs2022 {
            // eddsa-jcs-2022 §3.3.5: the proof configuration carries the document's context.
            if let Some(context) = document.get("@context") {
                config.insert("@context".into(), context.clone());
            }
        }
        config
    }
}

/// The 64 bytes a proof signs: SHA-256 of the canonical proof configuration, then SHA-256 of the
/// canonical document.
fn hash_data(
    suite: Cryptosuite,
    document: &Map<String, Value>,
    config: &Map<String, Value>,
) -> Result<[u8; 64], ProofError> {
    let (config, document) = match suite {
        Cryptosuite::EddsaJcs2022 => (jcs::canonicalize(config)?, jcs::canonicalize(document)?),
        Cryptosuite::EddsaRdfc2022 => rdfc::canonicalize_pair(document, config)?,
    };
    Ok(hash_pair(&config, &document))
}

/// The hash data of a proof: SHA-256 of the canonical proof configuration, then of the
/// canonical document.
fn hash_pair(config: &[u8], document: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&Sha256::digest(config));
    out[32..].copy_from_slice(&Sha256::digest(document));
    out
}

/// Signs a document as a statement of the signer's DID (a status list, a revocation event):
/// `eddsa-jcs-2022`, purpose `assertionMethod`, by `method`, at `created`.
pub fn sign_assertion(
    unsecured: &Value,
    key: &KeyPair,
    method: DidUrl,
    created: DateTime<Utc>,
) -> Result<Value, ProofError> {
    let options = ProofOptions {
        cryptosuite: Cryptosuite::EddsaJcs2022,
        created,
        verification_method: method,
        purpose: Relationship::AssertionMethod,
        challenge: None,
        domain: None,
        expires: None,
    };
    sign(unsecured, &options, key)
}

/// Verifies a document's proof by an assertion key, and returns the DID whose key it is: the
/// caller compares it with whom the document names as its issuer.
pub fn assertion_signer(secured: &Value, resolver: &dyn DidResolver) -> Result<Did, ProofError> {
    Ok(verify(secured, Relationship::AssertionMethod, resolver)?
        .verification_method
        .did())
}

/// Signs a document (a credential or a presentation) and returns it with its `proof`.
pub fn sign(unsecured: &Value, options: &ProofOptions, key: &KeyPair) -> Result<Value, ProofError> {
    let document = unsecured.as_object().ok_or(ProofError::NotAnObject)?;
    if document.contains_key("proof") {
        return Err(ProofError::AlreadySigned);
    }
    let mut config = options.configuration(document);
    let signature = if options.cryptosuite == Cryptosuite::EddsaRdfc2022 {
        // eddsa-rdfc-2022 §3.2.5: the configuration is canonicalized with the document's context,
        // which the published proof does not repeat.
        let hashed = with_document_context(config.clone(), document);
        key.sign(&hash_data(options.cryptosuite, document, &hashed)?)
    } else {
        key.sign(&hash_data(options.cryptosuite, document, &config)?)
    };
    config.insert("proofValue".into(), encode_signature(&signature).into());
    let mut secured = document.clone();
    secured.insert("proof".into(), Value::Object(config));
    Ok(Value::Object(secured))
}

fn with_document_context(
    mut config: Map<String, Value>,
    document: &Map<String, Value>,
) -> Map<String, Value> {
    if let Some(context) = document.get("@context") {
        config.insert("@context".into(), context.clone());
    }
    config
}

fn encode_signature(signature: &[u8; 64]) -> String {
    multibase::encode(multibase::Base::Base58Btc, signature)
}

fn decode_signature(value: &str) -> Result<[u8; 64], ProofError> {
    // A 64-byte signature is at most 88 base58 characters; refuse longer input before decoding.
    if value.len() > 90 {
        return Err(ProofError::BadProofValue);
    }
    let encoded = value.strip_prefix('z').ok_or(ProofError::BadProofValue)?;
    let bytes = bs58::decode(encoded)
        .into_vec()
        .map_err(|_| ProofError::BadProofValue)?;
    bytes.try_into().map_err(|_| ProofError::BadProofValue)
}

fn string_field<'a>(
    proof: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, ProofError> {
    proof
        .get(name)
        .and_then(Value::as_str)
        .ok_or(ProofError::Malformed(name))
}

fn optional_string(
    proof: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, ProofError> {
    match proof.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ProofError::Malformed(name)),
    }
}

/// Verifies the single proof of a secured document, made for `purpose` by a key that the
/// verification method's DID document authorizes for it.
///
/// This checks the proof only: validity windows, status and trust are the caller's.
pub fn verify(
    secured: &Value,
    purpose: Relationship,
    resolver: &dyn DidResolver,
) -> Result<VerifiedProof, ProofError> {
    prepare(secured, purpose, resolver)?.check()
}

/// A proof read, its key found and its document hashed: all of [`verify`] but the signature
/// check, so that several can be checked in one batch ([`check_all`]).
#[derive(Debug)]
pub struct Pending {
    proof: VerifiedProof,
    key: PublicKey,
    hash: [u8; 64],
    signature: [u8; 64],
}

impl Pending {
    /// The signature checked alone.
    pub fn check(self) -> Result<VerifiedProof, ProofError> {
        if self.key.verify(&self.hash, &self.signature) {
            Ok(self.proof)
        } else {
            Err(ProofError::InvalidSignature)
        }
    }
}

/// The signatures of several proofs checked in one Ed25519 batch ([`crate::key::verify_batch`],
/// which verifies by exactly the rules of one verification). When the batch fails, each
/// signature is checked alone, so every proof gets its own answer and a failing one is named;
/// a proof that could not be prepared keeps its error.
pub fn check_all(
    pending: Vec<Result<Pending, ProofError>>,
) -> Vec<Result<VerifiedProof, ProofError>> {
    let ready: Vec<(&PublicKey, &[u8], &[u8; 64])> = pending
        .iter()
        .flatten()
        .map(|p| (&p.key, &p.hash[..], &p.signature))
        .collect();
    if ready.len() > 1 && crate::key::verify_batch(&ready) {
        return pending.into_iter().map(|p| p.map(|p| p.proof)).collect();
    }
    pending
        .into_iter()
        .map(|p| p.and_then(Pending::check))
        .collect()
}

/// [`verify`] up to the signature check.
pub fn prepare(
    secured: &Value,
    purpose: Relationship,
    resolver: &dyn DidResolver,
) -> Result<Pending, ProofError> {
    let secured = secured.as_object().ok_or(ProofError::NotAnObject)?;
    let proof = match secured.get("proof") {
        None => return Err(ProofError::MissingProof),
        Some(Value::Object(proof)) => proof,
        Some(Value::Array(_)) => return Err(ProofError::ProofSet),
        Some(_) => return Err(ProofError::Malformed("proof")),
    };
    // A proof that names previous proofs was made over them: it is one of a chain.
    if proof.contains_key("previousProof") {
        return Err(ProofError::ProofSet);
    }
    prepare_over(secured, Some("proof"), proof, purpose, resolver)
}

/// The most proofs of one proof set.
pub const MAX_PROOFS: usize = 8;

/// Verifies every proof of a secured document: one proof, a proof set (a list), and chains in
/// it (Data Integrity §2.1.2, §4.3: a proof with `previousProof` was made over the document with
/// the proofs it names as its `proof`). Each proof is checked for `purpose`; all must verify, and
/// each previous proof named must be in the set, by its `id`, and not be the proof itself.
/// Returns what each proof said, in order; who must have signed is the caller's.
pub fn verify_set(
    secured: &Value,
    purpose: Relationship,
    resolver: &dyn DidResolver,
) -> Result<Vec<VerifiedProof>, ProofError> {
    let object = secured.as_object().ok_or(ProofError::NotAnObject)?;
    let proofs: Vec<&Map<String, Value>> = match object.get("proof") {
        None => return Err(ProofError::MissingProof),
        Some(Value::Object(proof)) => vec![proof],
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= MAX_PROOFS => items
            .iter()
            .map(|item| item.as_object().ok_or(ProofError::Malformed("proof")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(ProofError::Malformed("proof")),
    };
    let ids: Vec<Option<&str>> = proofs
        .iter()
        .map(|p| p.get("id").and_then(Value::as_str))
        .collect();
    if ids
        .iter()
        .enumerate()
        .any(|(i, id)| id.is_some() && ids[..i].contains(id))
    {
        return Err(ProofError::Malformed("id"));
    }
    let mut bare = object.clone();
    bare.remove("proof");
    let mut verified = Vec::with_capacity(proofs.len());
    for (index, proof) in proofs.iter().enumerate() {
        let previous: Vec<&str> = match proof.get("previousProof") {
            None => Vec::new(),
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            Some(_) => return Err(ProofError::Malformed("previousProof")),
        };
        let outcome = if previous.is_empty() {
            prepare_over(&bare, None, proof, purpose, resolver)
        } else {
            let mut matching = Vec::new();
            for name in &previous {
                match ids.iter().position(|id| *id == Some(*name)) {
                    Some(at) if at != index => matching.push(Value::Object(proofs[at].clone())),
                    _ => return Err(ProofError::Malformed("previousProof")),
                }
            }
            let mut document = bare.clone();
            document.insert("proof".into(), Value::Array(matching));
            prepare_over(&document, None, proof, purpose, resolver)
        };
        verified.push(outcome?.check()?);
    }
    Ok(verified)
}

/// A proof's checks over `document` — less its member `without`, where the proof itself sits —
/// up to the signature check.
fn prepare_over(
    secured: &Map<String, Value>,
    without: Option<&str>,
    proof: &Map<String, Value>,
    purpose: Relationship,
    resolver: &dyn DidResolver,
) -> Result<Pending, ProofError> {
    check_members(proof)?;
    if string_field(proof, "type")? != DATA_INTEGRITY_PROOF {
        return Err(ProofError::UnsupportedType);
    }
    let cryptosuite: Cryptosuite = string_field(proof, "cryptosuite")?.parse()?;
    let found_purpose = string_field(proof, "proofPurpose")?;
    if found_purpose != purpose.proof_purpose() {
        return Err(ProofError::WrongPurpose {
            expected: purpose.proof_purpose(),
            found: truncate(found_purpose),
        });
    }
    let verification_method = DidUrl::parse(string_field(proof, "verificationMethod")?)
        .map_err(|_| ProofError::Malformed("verificationMethod"))?;
    let created = optional_time(proof, "created")?;
    let expires = optional_time(proof, "expires")?;
    let signature = decode_signature(string_field(proof, "proofValue")?)?;

    if let Some(proof_context) = proof.get("@context") {
        // Data Integrity §4.2 step 4: the proof's context must be the start of the document's.
        if !context_is_prefix(proof_context, secured.get("@context")) {
            return Err(ProofError::ContextMismatch);
        }
    }

    // A did:key method in its one canonical form needs no document: the key is in the DID,
    // and its document authorizes it for every purpose a proof names.
    let key = match crate::did::key::canonical_method_key(&verification_method) {
        Some(key) => key,
        None => resolver
            .resolve(&verification_method.did())?
            .key_for(&verification_method, purpose)?,
    };
    let hash = match cryptosuite {
        // Canonicalized where they are: the document without its proof, the proof without its
        // value.
        Cryptosuite::EddsaJcs2022 => hash_pair(
            &jcs::canonicalize_without(proof, "proofValue")?,
            &match without {
                Some(member) => jcs::canonicalize_without(secured, member)?,
                None => jcs::canonicalize(secured)?,
            },
        ),
        Cryptosuite::EddsaRdfc2022 => {
            let mut document = secured.clone();
            if let Some(member) = without {
                document.remove(member);
            }
            let mut config = proof.clone();
            config.remove("proofValue");
            let config = with_document_context(config, &document);
            hash_data(cryptosuite, &document, &config)?
        }
    };
    Ok(Pending {
        proof: VerifiedProof {
            cryptosuite,
            verification_method,
            created,
            challenge: optional_string(proof, "challenge")?,
            domain: optional_string(proof, "domain")?,
            expires,
        },
        key,
        hash,
        signature,
    })
}

fn as_list(context: &Value) -> Vec<&Value> {
    match context {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

fn context_is_prefix(proof_context: &Value, document_context: Option<&Value>) -> bool {
    let Some(document_context) = document_context else {
        return false;
    };
    let (proof, document) = (as_list(proof_context), as_list(document_context));
    proof.len() <= document.len() && proof.iter().zip(&document).all(|(a, b)| a == b)
}
