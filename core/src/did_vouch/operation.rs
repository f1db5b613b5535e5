//! did:vouch operations: their wire form, the DID document content they carry, and how one is
//! signed and read; `super::make` makes them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{LogError, METHOD};
use crate::agent::AgentDescription;
use crate::did::document::{
    DID_CONTEXT_V1, DidDocument, MULTIKEY_CONTEXT_V1, Relationship, Service, VerificationMethod,
};
use crate::did::resolve::Timestamp;
use crate::did::{Did, DidUrl, key as did_key};
use crate::hash::Multihash;
use crate::key::{KeyPair, PublicKey, X25519PublicKey};
use crate::proof::{self, Cryptosuite, ProofOptions};

/// The largest operation accepted, in bytes of JSON.
pub const MAX_OPERATION_BYTES: usize = 32 * 1024;
/// The most verification methods (and, separately, services) a document may have.
pub const MAX_ENTRIES: usize = 16;
/// The most next-key commitments an operation may make.
pub const MAX_NEXT_KEYS: usize = 8;
/// The longest service endpoint, service type or `alsoKnownAs` entry.
const MAX_TEXT_LEN: usize = 2048;
/// The longest fragment, without `#`.
const MAX_FRAGMENT_LEN: usize = 64;

/// The proof purpose of operation signatures: the update key invokes the capability to change
/// the DID.
pub(super) const OPERATION_PURPOSE: Relationship = Relationship::CapabilityInvocation;

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationType {
    /// The genesis operation; its hash names the DID.
    Create,
    /// Replaces the document and rotates the update key.
    Update,
    /// Ends the DID for good.
    Deactivate,
}

/// One signed entry of a DID's operation log (DESIGN §3).
///
/// Every operation reveals the `updateKey` that signs it (with `eddsa-jcs-2022`) and commits to
/// the hashes of the keys that may sign the next one (`nextKeyHashes`: pre-rotation). An update is
/// authorized only when the hash of its `updateKey` is among its predecessor's `nextKeyHashes`, so
/// a stolen current key cannot be used to take the DID over once it has been used.
///
/// Reading an operation accepts only its canonical spelling (see [`Timestamp`]), so the hash of the
/// typed value is the hash of what was signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Operation {
    /// What the operation does.
    #[serde(rename = "type")]
    pub kind: OperationType,
    /// The DID changed; absent on `create`, whose hash is the DID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did: Option<Did>,
    /// 1 for `create`, then one more than the predecessor's.
    pub version: u64,
    /// The hash of the predecessor, proof included; absent on `create`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Multihash>,
    /// When the operation was made; never before its predecessor.
    pub created: Timestamp,
    /// The key that signs this operation.
    pub update_key: PublicKey,
    /// Hashes of the keys that may sign the next operation; empty only on `deactivate`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next_key_hashes: Vec<Multihash>,
    /// The DID document from this version on; absent on `deactivate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<DocumentContent>,
    /// The Data Integrity proof by `updateKey`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub proof: Map<String, Value>,
}

/// The DID document an operation sets, with ids relative to the DID (`#key-1`): the DID is the hash
/// of the genesis operation, so the genesis cannot contain it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DocumentContent {
    /// Other identifiers of the subject.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_known_as: Vec<String>,
    /// The keys, each a `Multikey`.
    pub verification_method: Vec<MethodContent>,
    /// Keys that authenticate as the DID.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authentication: Vec<Fragment>,
    /// Keys that issue credentials.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assertion_method: Vec<Fragment>,
    /// Keys that invoke capabilities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capability_invocation: Vec<Fragment>,
    /// Keys that delegate capabilities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capability_delegation: Vec<Fragment>,
    /// X25519 keys for key agreement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_agreement: Vec<Fragment>,
    /// Service endpoints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service: Vec<ServiceContent>,
    /// For an agent-definition DID: the agent's name, version, owner and per-part definition
    /// hashes. Never a raw prompt or manifest: only their hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentDescription>,
}

/// A verification method with an id relative to the DID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MethodContent {
    /// `#fragment`.
    pub id: Fragment,
    /// Always `Multikey`.
    #[serde(rename = "type")]
    pub type_: String,
    /// An Ed25519 (`z6Mk…`) or, for key agreement only, an X25519 (`z6LS…`) Multikey.
    pub public_key_multibase: String,
}

/// A service with an id relative to the DID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceContent {
    /// `#fragment`.
    pub id: Fragment,
    /// The service type.
    #[serde(rename = "type")]
    pub type_: String,
    /// Where the service is.
    pub service_endpoint: String,
}

/// A relative DID URL `#fragment`: `#` then 1 to 64 of `A-Z a-z 0-9 . _ -`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Fragment(String);

impl Fragment {
    /// Reads `#fragment`.
    pub fn parse(s: &str) -> Result<Self, LogError> {
        let name = s
            .strip_prefix('#')
            .ok_or_else(|| LogError::InvalidDocument("ids are relative: #fragment".into()))?;
        let ok = !name.is_empty()
            && name.len() <= MAX_FRAGMENT_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        match ok {
            true => Ok(Self(s.to_owned())),
            false => Err(LogError::InvalidDocument(format!(
                "fragment must be 1 to {MAX_FRAGMENT_LEN} of A-Z a-z 0-9 . _ -"
            ))),
        }
    }

    /// The fragment with its `#`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(super) fn on(&self, did: &Did) -> DidUrl {
        DidUrl::of_fragment(did, &self.0)
    }
}

impl<'de> Deserialize<'de> for Fragment {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The key a method carries.
enum MethodKey {
    Ed25519,
    X25519,
}

impl DocumentContent {
    /// The usual document of an organization or agent definition: one Ed25519 key (`#key-1`) for
    /// authentication, assertion and capabilities, and its X25519 form (`#key-agreement-1`).
    pub fn single_key(key: &PublicKey) -> Self {
        let fragment = |s: &str| Fragment(s.to_owned());
        let key_1 = fragment("#key-1");
        Self {
            verification_method: vec![
                MethodContent {
                    id: key_1.clone(),
                    type_: "Multikey".into(),
                    public_key_multibase: key.to_multibase(),
                },
                MethodContent {
                    id: fragment("#key-agreement-1"),
                    type_: "Multikey".into(),
                    public_key_multibase: key.to_x25519().to_multibase(),
                },
            ],
            authentication: vec![key_1.clone()],
            assertion_method: vec![key_1.clone()],
            capability_invocation: vec![key_1.clone()],
            capability_delegation: vec![key_1],
            key_agreement: vec![fragment("#key-agreement-1")],
            ..Self::default()
        }
    }

    /// Checks the bounds, that ids are unique, that every relationship names a method, and that
    /// each method's key suits its relationships (X25519 for key agreement only).
    pub fn validate(&self) -> Result<(), LogError> {
        let invalid = |why: String| Err(LogError::InvalidDocument(why));
        if self.verification_method.is_empty() {
            return invalid("a document needs at least one verification method".into());
        }
        if self.verification_method.len() > MAX_ENTRIES || self.service.len() > MAX_ENTRIES {
            return invalid(format!(
                "at most {MAX_ENTRIES} methods and {MAX_ENTRIES} services"
            ));
        }
        if self.also_known_as.len() > MAX_ENTRIES
            || self.also_known_as.iter().any(|s| s.len() > MAX_TEXT_LEN)
            || self
                .service
                .iter()
                .any(|s| s.type_.len() > MAX_TEXT_LEN || s.service_endpoint.len() > MAX_TEXT_LEN)
        {
            return invalid("alsoKnownAs or a service is too long".into());
        }
        let mut ids = BTreeSet::new();
        let mut keys = Vec::new();
        for method in &self.verification_method {
            if method.type_ != "Multikey" {
                return invalid(format!("{}: the method type must be Multikey", method.id.0));
            }
            let key = if PublicKey::from_multibase(&method.public_key_multibase).is_ok() {
                MethodKey::Ed25519
            } else if X25519PublicKey::from_multibase(&method.public_key_multibase).is_ok() {
                MethodKey::X25519
            } else {
                return invalid(format!(
                    "{}: not an Ed25519 or X25519 Multikey",
                    method.id.0
                ));
            };
            if !ids.insert(&method.id) {
                return invalid(format!("{} is used twice", method.id.0));
            }
            keys.push((&method.id, key));
        }
        if let Some(agent) = &self.agent {
            let texts = [&agent.name, &agent.version, &agent.owner];
            if texts.iter().any(|t| t.is_empty() || t.len() > MAX_TEXT_LEN) {
                return invalid(format!(
                    "the agent's name, version and owner are 1 to {MAX_TEXT_LEN} bytes"
                ));
            }
            if !agent.definition_hash.is_consistent() {
                return invalid("the agent's definition digest is not that of its parts".into());
            }
        }
        for service in &self.service {
            if !ids.insert(&service.id) {
                return invalid(format!("{} is used twice", service.id.0));
            }
        }
        let signing = [
            &self.authentication,
            &self.assertion_method,
            &self.capability_invocation,
            &self.capability_delegation,
        ];
        for (refs, agreement) in signing
            .into_iter()
            .map(|refs| (refs, false))
            .chain([(&self.key_agreement, true)])
        {
            for fragment in refs {
                match keys.iter().find(|(id, _)| *id == fragment) {
                    None => return invalid(format!("{} names no verification method", fragment.0)),
                    Some((_, MethodKey::X25519)) if !agreement => {
                        return invalid(format!("{}: an X25519 key cannot sign", fragment.0));
                    }
                    Some((_, MethodKey::Ed25519)) if agreement => {
                        return invalid(format!(
                            "{}: key agreement needs an X25519 key",
                            fragment.0
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    /// The full DID document of `did`.
    pub fn to_document(&self, did: &Did) -> DidDocument {
        let urls = |refs: &[Fragment]| refs.iter().map(|f| f.on(did)).collect();
        let mut context: Vec<String> = vec![DID_CONTEXT_V1.into(), MULTIKEY_CONTEXT_V1.into()];
        if self.agent.is_some() {
            context.push(vouch_schemas::VOUCH_CONTEXT_V1.into());
        }
        DidDocument {
            context,
            id: did.clone(),
            also_known_as: self.also_known_as.clone(),
            verification_method: self
                .verification_method
                .iter()
                .map(|method| VerificationMethod {
                    id: method.id.on(did),
                    type_: method.type_.clone(),
                    controller: did.clone(),
                    public_key_multibase: Some(method.public_key_multibase.clone()),
                    public_key_base58: None,
                    public_key_jwk: None,
                })
                .collect(),
            authentication: urls(&self.authentication),
            assertion_method: urls(&self.assertion_method),
            capability_invocation: urls(&self.capability_invocation),
            capability_delegation: urls(&self.capability_delegation),
            key_agreement: urls(&self.key_agreement),
            service: self
                .service
                .iter()
                .map(|service| Service {
                    id: service.id.on(did).as_str().to_owned(),
                    type_: service.type_.clone(),
                    service_endpoint: service.service_endpoint.clone(),
                })
                .collect(),
            agent: self.agent.clone(),
        }
    }
}

/// The commitment to a future update key: the hash of its Multikey.
pub fn next_key_hash(key: &PublicKey) -> Multihash {
    Multihash::of(key.to_multibase().as_bytes())
}

impl Operation {
    /// Reads an operation from JSON, refusing anything larger than [`MAX_OPERATION_BYTES`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, LogError> {
        if bytes.len() > MAX_OPERATION_BYTES {
            return Err(LogError::TooLarge(bytes.len()));
        }
        serde_json::from_slice(bytes).map_err(|e| LogError::Malformed(e.to_string()))
    }

    /// The operation's JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an operation is plain JSON and always serializes")
    }

    /// The hash later operations link to: over the canonical JSON, proof included.
    pub fn hash(&self) -> Multihash {
        Multihash::of_jcs(self).expect("an operation is plain JSON and always serializes")
    }

    /// The DID a `create` operation names: `did:vouch:` and the hash of the genesis without its
    /// proof.
    pub fn genesis_did(&self) -> Result<Did, LogError> {
        if self.kind != OperationType::Create {
            return Err(LogError::NotGenesis);
        }
        let unsigned = Self {
            proof: Map::new(),
            ..self.clone()
        };
        let scid =
            Multihash::of_jcs(&unsigned).expect("an operation is plain JSON and always serializes");
        Ok(Did::of_method(METHOD, &scid.to_string()))
    }

    /// Checks what can be checked of the operation alone: the fields its type requires, the
    /// document's shape, and the commitments' bounds.
    pub(super) fn check_shape(&self) -> Result<(), LogError> {
        let malformed = |why: &str| Err(LogError::Malformed(why.to_owned()));
        let create = self.kind == OperationType::Create;
        let deactivate = self.kind == OperationType::Deactivate;
        if create != self.did.is_none() || create != self.previous.is_none() {
            return malformed(
                "did and previous are required, except on create where they are absent",
            );
        }
        if create && self.version != 1 || !create && self.version < 2 {
            return malformed("create is version 1 and every later operation above it");
        }
        if deactivate != self.document.is_none() {
            return malformed("document is required, except on deactivate where it is absent");
        }
        if deactivate != self.next_key_hashes.is_empty() {
            return malformed("nextKeyHashes is required, except on deactivate where it is absent");
        }
        if self.next_key_hashes.len() > MAX_NEXT_KEYS {
            return malformed("too many nextKeyHashes");
        }
        if let Some(did) = &self.did
            && did.method() != METHOD
        {
            return malformed("did must be a did:vouch");
        }
        self.document
            .as_ref()
            .map_or(Ok(()), DocumentContent::validate)
    }

    /// Checks the proof: a valid `eddsa-jcs-2022` signature by `updateKey`.
    pub(super) fn check_signature(&self) -> Result<(), LogError> {
        let signed = serde_json::to_value(self).expect("an operation is plain JSON");
        let verified = proof::verify(
            &signed,
            OPERATION_PURPOSE,
            &crate::did::resolve::DidKeyResolver,
        )
        .map_err(|e| LogError::BadSignature {
            version: self.version,
            reason: e.to_string(),
        })?;
        // The proof must hold only the fields the suite defines, dated as the operation: any
        // other field would give one operation several valid spellings, and hashes.
        let exact_fields = self.proof.len() == 6
            && self.proof.get("created").and_then(Value::as_str)
                == Some(self.created.to_string().as_str());
        if !exact_fields
            || verified.cryptosuite != Cryptosuite::EddsaJcs2022
            || verified.verification_method != did_key::verification_method_of(&self.update_key)
        {
            return Err(LogError::BadSignature {
                version: self.version,
                reason: "not an eddsa-jcs-2022 proof by the revealed updateKey, with exactly the suite's fields".into(),
            });
        }
        Ok(())
    }

    pub(super) fn sign(mut self, update_key: &KeyPair) -> Result<Self, LogError> {
        self.proof = Map::new();
        self.check_shape()?;
        let options = ProofOptions {
            cryptosuite: Cryptosuite::EddsaJcs2022,
            created: self.created.time(),
            verification_method: did_key::verification_method_of(&update_key.public()),
            purpose: OPERATION_PURPOSE,
            challenge: None,
            domain: None,
            expires: None,
        };
        let unsigned = serde_json::to_value(&self).expect("an operation is plain JSON");
        let signed =
            proof::sign(&unsigned, &options, update_key).map_err(|e| LogError::BadSignature {
                version: self.version,
                reason: e.to_string(),
            })?;
        serde_json::from_value(signed).map_err(|e| LogError::Malformed(e.to_string()))
    }
}
