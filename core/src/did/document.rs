//! The DID document data model ([DID Core §5](https://www.w3.org/TR/did-core/#core-properties)),
//! restricted to what Vouch reads and writes.

use serde::{Deserialize, Serialize};

use super::{Did, DidUrl};
use crate::key::{KeyError, PublicKey};

/// The DID Core v1 context.
pub const DID_CONTEXT_V1: &str = "https://www.w3.org/ns/did/v1";
/// The Multikey context ([Controlled Identifiers §2.2.2](https://www.w3.org/TR/cid-1.0/#Multikey)).
pub const MULTIKEY_CONTEXT_V1: &str = "https://w3id.org/security/multikey/v1";

/// A DID document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DidDocument {
    /// The JSON-LD contexts.
    #[serde(rename = "@context")]
    pub context: Vec<String>,
    /// The DID this document describes.
    pub id: Did,
    /// Other identifiers of the same subject.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_known_as: Vec<String>,
    /// The keys of the DID.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verification_method: Vec<VerificationMethod>,
    /// Keys that authenticate as the DID (sign presentations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authentication: Vec<DidUrl>,
    /// Keys that issue credentials.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assertion_method: Vec<DidUrl>,
    /// Keys that invoke capabilities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capability_invocation: Vec<DidUrl>,
    /// Keys that delegate capabilities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capability_delegation: Vec<DidUrl>,
    /// Keys for key agreement (encryption).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_agreement: Vec<DidUrl>,
    /// Service endpoints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service: Vec<Service>,
    /// For an agent-definition DID: what the agent is, each part of its definition as a hash
    /// (the Vouch context's `agent`, as in an `AgentCapabilityCredential`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<crate::agent::AgentDescription>,
}

/// A verification method: a public key and who controls it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMethod {
    /// The key's DID URL.
    pub id: DidUrl,
    /// `Multikey`, or a legacy type such as `Ed25519VerificationKey2018`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The DID that controls the key.
    pub controller: Did,
    /// The key as a Multikey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_multibase: Option<String>,
    /// The raw key in base58btc, for the 2018/2019 legacy types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_base58: Option<String>,
    /// The key as a JSON Web Key, for `JsonWebKey2020`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_jwk: Option<Jwk>,
}

/// An octet key pair JWK ([RFC 8037](https://www.rfc-editor.org/rfc/rfc8037)), public part only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Jwk {
    /// Always `OKP`.
    pub kty: String,
    /// `Ed25519` or `X25519`.
    pub crv: String,
    /// The key, base64url without padding.
    pub x: String,
}

/// A service endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// The service's id (a DID URL or a relative `#fragment`).
    pub id: String,
    /// The service type.
    #[serde(rename = "type")]
    pub type_: String,
    /// Where the service is.
    pub service_endpoint: String,
}

/// A verification relationship: what a key may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relationship {
    /// Signing presentations and authenticating as the DID.
    Authentication,
    /// Issuing credentials.
    AssertionMethod,
    /// Invoking capabilities.
    CapabilityInvocation,
    /// Delegating capabilities.
    CapabilityDelegation,
}

impl Relationship {
    /// The proof purpose that uses this relationship
    /// ([Data Integrity §2.1](https://www.w3.org/TR/vc-data-integrity/#proof-purposes)).
    pub fn proof_purpose(self) -> &'static str {
        match self {
            Self::Authentication => "authentication",
            Self::AssertionMethod => "assertionMethod",
            Self::CapabilityInvocation => "capabilityInvocation",
            Self::CapabilityDelegation => "capabilityDelegation",
        }
    }

    /// The relationship of a proof purpose.
    pub fn from_proof_purpose(purpose: &str) -> Option<Self> {
        [
            Self::Authentication,
            Self::AssertionMethod,
            Self::CapabilityInvocation,
            Self::CapabilityDelegation,
        ]
        .into_iter()
        .find(|r| r.proof_purpose() == purpose)
    }
}

/// Why a key could not be taken from a DID document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyLookupError {
    /// The document has no verification method with that id.
    #[error("no verification method {0}")]
    NoSuchMethod(DidUrl),
    /// The method exists but is not authorized for the relationship.
    #[error("{method} is not authorized for {purpose}")]
    NotAuthorized {
        /// The method.
        method: DidUrl,
        /// The proof purpose asked for.
        purpose: &'static str,
    },
    /// The method's key cannot be read as an Ed25519 key.
    #[error("verification method {method} has no usable Ed25519 key: {source}")]
    BadKey {
        /// The method.
        method: DidUrl,
        /// Why its key is unusable.
        source: KeyError,
    },
}

impl DidDocument {
    /// The Ed25519 key of `method`, if the document authorizes it for `relationship`.
    ///
    /// Relationship entries are DID URLs referring to `verificationMethod` entries; embedded
    /// methods are not used by Vouch.
    pub fn key_for(
        &self,
        method: &DidUrl,
        relationship: Relationship,
    ) -> Result<PublicKey, KeyLookupError> {
        let authorized = match relationship {
            Relationship::Authentication => &self.authentication,
            Relationship::AssertionMethod => &self.assertion_method,
            Relationship::CapabilityInvocation => &self.capability_invocation,
            Relationship::CapabilityDelegation => &self.capability_delegation,
        };
        let vm = self
            .verification_method
            .iter()
            .find(|vm| &vm.id == method)
            .ok_or_else(|| KeyLookupError::NoSuchMethod(method.clone()))?;
        if !authorized.contains(method) {
            return Err(KeyLookupError::NotAuthorized {
                method: method.clone(),
                purpose: relationship.proof_purpose(),
            });
        }
        vm.ed25519_key().map_err(|source| KeyLookupError::BadKey {
            method: method.clone(),
            source,
        })
    }
}

impl VerificationMethod {
    /// The method's Ed25519 key, from either encoding.
    pub fn ed25519_key(&self) -> Result<PublicKey, KeyError> {
        match (
            self.type_.as_str(),
            &self.public_key_multibase,
            &self.public_key_base58,
        ) {
            ("Multikey", Some(multibase), _) => PublicKey::from_multibase(multibase),
            ("Ed25519VerificationKey2018", _, Some(base58)) => {
                let bytes = bs58::decode(base58)
                    .into_vec()
                    .map_err(|_| KeyError::NotBase58Btc)?;
                PublicKey::from_slice(&bytes)
            }
            ("JsonWebKey2020", _, _) => match &self.public_key_jwk {
                Some(jwk) if jwk.kty == "OKP" && jwk.crv == "Ed25519" => {
                    use base64::Engine as _;
                    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(&jwk.x)
                        .map_err(|_| KeyError::NotBase58Btc)?;
                    PublicKey::from_slice(&bytes)
                }
                _ => Err(KeyError::WrongCodec {
                    expected: "ed25519-pub",
                }),
            },
            _ => Err(KeyError::WrongCodec {
                expected: "ed25519-pub",
            }),
        }
    }
}
