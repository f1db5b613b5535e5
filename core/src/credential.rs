//! The `AgentCapabilityCredential` (DESIGN §4): a short-lived W3C VC 2.0 credential issued to one
//! agent instance's key, saying what the agent is and what it may do.
//!
//! The typed model here is the only way Vouch reads a credential: [`AgentCapabilityCredential::from_json`]
//! refuses unknown fields, wrong types and out-of-range values, so the checks that follow work on
//! values that are already well-formed. The signed JSON is kept as received, because the proof
//! covers those bytes, not our re-serialization.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

pub use crate::agent::{AgentDescription, DefinitionHash};
use crate::capability::{Capability, CapabilityError, ResourcePattern};
use crate::did::Did;
pub use crate::hash::Multihash;

/// The credential's `@context`.
pub const CONTEXTS: [&str; 2] = [
    vouch_schemas::CREDENTIALS_V2,
    vouch_schemas::VOUCH_CONTEXT_V1,
];
/// The credential's `type`.
pub const TYPES: [&str; 2] = ["VerifiableCredential", "AgentCapabilityCredential"];
/// Default lifetime of a credential (DESIGN §4: minutes, not days).
pub const DEFAULT_LIFETIME: Duration = Duration::minutes(15);
/// Default cap on the delegation depth (DESIGN §6).
pub const DEFAULT_MAX_DEPTH: u32 = 5;
/// Hard cap on the delegation depth, whatever a credential says.
pub const MAX_DEPTH_CAP: u32 = 16;
/// The most capabilities one credential may carry.
pub const MAX_CAPABILITIES: usize = 64;
/// The most renewals a lineage may have (the schema's `maxCount` maximum).
pub const MAX_RENEWALS: u32 = 10_000;
/// The largest credential, in bytes of JSON, that Vouch reads.
pub const MAX_CREDENTIAL_BYTES: usize = 64 * 1024;

/// Why a credential could not be read or built.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The JSON does not match the credential model.
    #[error("not an AgentCapabilityCredential: {0}")]
    Schema(String),
    /// A capability is malformed.
    #[error("capability {index}: {cause}")]
    Capability {
        /// Its position in the list.
        index: usize,
        /// What is wrong with it.
        cause: CapabilityError,
    },
}

/// A credential identifier: `urn:uuid:` and a lowercase UUID.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialId(String);

impl CredentialId {
    /// A fresh random identifier.
    pub fn generate() -> Self {
        Self(format!("urn:uuid:{}", uuid::Uuid::new_v4()))
    }

    /// Parses an identifier.
    pub fn parse(s: &str) -> Result<Self, CredentialError> {
        let uuid = s
            .strip_prefix("urn:uuid:")
            .and_then(|u| uuid::Uuid::try_parse(u).ok())
            .ok_or_else(|| {
                CredentialError::Schema("credential id must be urn:uuid:<uuid>".into())
            })?;
        Ok(Self(format!("urn:uuid:{uuid}")))
    }

    /// The identifier as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl Serialize for CredentialId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CredentialId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let id = Self::parse(&s).map_err(serde::de::Error::custom)?;
        if id.0 != s {
            return Err(serde::de::Error::custom(
                "credential id must be a lowercase UUID",
            ));
        }
        Ok(id)
    }
}

/// Date-times as `YYYY-MM-DDTHH:MM:SSZ`, the form Vouch writes.
pub mod timestamp {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes a time.
    pub fn serialize<S: Serializer>(time: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Secs, true))
    }

    /// Reads an RFC 3339 time in UTC (`Z`), as the credential schema requires.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if !s.ends_with('Z') {
            return Err(serde::de::Error::custom(
                "times are written in UTC, ending in Z",
            ));
        }
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// The task the agent works on: the `act` of RFC 8693.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Task {
    /// The task's identifier.
    pub id: String,
    /// Hash of the task's purpose.
    pub purpose_hash: Multihash,
}

/// Renewal state (DESIGN §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Renewal {
    /// The id of the lineage's first credential.
    pub lineage: CredentialId,
    /// How many renewals led to this credential (0 for the first).
    pub count: u32,
    /// How many renewals the lineage may have.
    pub max_count: u32,
    /// No credential of the lineage may be valid after this.
    #[serde(with = "timestamp")]
    pub not_after: DateTime<Utc>,
}

/// Delegation state (DESIGN §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Delegation {
    /// The credential this one was delegated from; none for a root credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<CredentialId>,
    /// Every credential above this one, root first.
    pub ancestors: Vec<CredentialId>,
    /// Hops from the root (0 for a root credential).
    pub depth: u32,
    /// The deepest a chain through this credential may go.
    pub max_depth: u32,
}

/// The credential's subject: the agent instance, by its did:key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentSubject {
    /// The agent instance's DID; its key must sign presentations.
    pub id: Did,
    /// What the agent is.
    pub agent: AgentDescription,
    /// Who the agent acts for, pseudonymously: the `sub` of RFC 8693.
    pub principal: String,
    /// The task.
    pub task: Task,
    /// What it may do. Kept as JSON so one malformed capability fails alone (DESIGN §5 rule 7).
    pub capabilities: Vec<Value>,
    /// Who the credential may be presented to (RFC 8707 style); empty for anyone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audience: Vec<String>,
    /// The resource servers it is pinned to (RFC 8707 resource indicators: absolute URIs, no
    /// wildcards); a request's resource must lie under one of them. Empty for any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Renewal state.
    pub renewal: Renewal,
    /// Delegation state.
    pub delegation: Delegation,
}

/// A `BitstringStatusListEntry` ([Bitstring Status List v1.0 §2.1](https://www.w3.org/TR/vc-bitstring-status-list/#bitstringstatuslistentry)),
/// with every member the specification defines: the entries Vouch issues have an `id` and one
/// bit; others may have no `id`, several bits (`statusSize`) with a message for each value, and
/// references. What it says is checked by [`StatusEntry::check`] before it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusEntry {
    /// The entry's id, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Always `BitstringStatusListEntry`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `revocation`, `suspension`, `refresh` or `message`.
    pub status_purpose: String,
    /// The entry's index, as a decimal string.
    pub status_list_index: String,
    /// The URL of the status list credential.
    pub status_list_credential: String,
    /// How many bits the entry has (1 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_size: Option<u32>,
    /// What each value of the entry means: one message per value when it has more than one bit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status_message: Vec<StatusMessage>,
    /// Where the issuer says more of what the values mean: a URL or a list of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reference: Option<Value>,
}

/// One value of a status entry and what it means (`statusMessage`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusMessage {
    /// The value, in hexadecimal (`0x0`, `0x1`, …).
    pub status: String,
    /// What it means.
    pub message: String,
}

/// The most bits one status entry may have: 2^8 messages at most.
pub const MAX_STATUS_SIZE: u32 = 8;

impl StatusEntry {
    /// An entry of one bit, as Vouch issues them.
    pub fn bit(id: String, purpose: &str, index: usize, list: &str) -> Self {
        Self {
            id: Some(id),
            type_: "BitstringStatusListEntry".to_owned(),
            status_purpose: purpose.to_owned(),
            status_list_index: index.to_string(),
            status_list_credential: list.to_owned(),
            status_size: None,
            status_message: Vec::new(),
            status_reference: None,
        }
    }

    /// How many bits the entry has.
    pub fn size(&self) -> u32 {
        self.status_size.unwrap_or(1)
    }

    /// The entry's first bit in its list: its index times its size.
    pub fn position(&self) -> Result<usize, String> {
        let index: usize = self
            .status_list_index
            .parse()
            .ok()
            .filter(|_| self.status_list_index.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                format!(
                    "statusListIndex {:.32} is not a decimal index",
                    self.status_list_index
                )
            })?;
        index
            .checked_mul(self.size() as usize)
            .ok_or_else(|| "statusListIndex is out of range".to_owned())
    }

    /// The rules of Bitstring Status List §2.1: the type; an index; a URL; a size of 1 to
    /// [`MAX_STATUS_SIZE`] bits; when more than one, a message for each of its 2^size values,
    /// each value once, in hexadecimal; references that are URLs.
    pub fn check(&self) -> Result<(), String> {
        if self.type_ != "BitstringStatusListEntry" {
            return Err(format!(
                "a status entry of type {:.64}: only BitstringStatusListEntry is known",
                self.type_
            ));
        }
        self.position()?;
        let url = &self.status_list_credential;
        if url.len() > 2048 || !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err("statusListCredential must be an http(s) URL".into());
        }
        let size = self.size();
        if !(1..=MAX_STATUS_SIZE).contains(&size) {
            return Err(format!("statusSize is 1 to {MAX_STATUS_SIZE}, not {size}"));
        }
        if size > 1 || !self.status_message.is_empty() {
            let values = 1usize << size;
            if self.status_message.len() != values {
                return Err(format!(
                    "an entry of {size} bits has a statusMessage for each of its {values} values, not {}",
                    self.status_message.len()
                ));
            }
            let mut seen = vec![false; values];
            for message in &self.status_message {
                let value = message
                    .status
                    .strip_prefix("0x")
                    .and_then(|hex| u64::from_str_radix(hex, 16).ok())
                    .filter(|v| (*v as usize) < values)
                    .ok_or_else(|| {
                        format!("statusMessage status {:.32} is not a value of the entry in hexadecimal (0x…)", message.status)
                    })?;
                if std::mem::replace(&mut seen[value as usize], true) {
                    return Err(format!(
                        "statusMessage has the value {} twice",
                        message.status
                    ));
                }
            }
        }
        if let Some(reference) = &self.status_reference {
            let urls: Vec<&Value> = match reference {
                Value::Array(urls) => urls.iter().collect(),
                one => vec![one],
            };
            if urls.is_empty()
                || urls.len() > 16
                || !urls
                    .iter()
                    .all(|u| u.as_str().is_some_and(|u| u.contains(':')))
            {
                return Err("statusReference is a URL or a list of URLs".into());
            }
        }
        Ok(())
    }

    /// The message the issuer gave for `value`, if any.
    pub fn message(&self, value: u64) -> Option<&str> {
        self.status_message
            .iter()
            .find(|m| {
                m.status
                    .strip_prefix("0x")
                    .and_then(|hex| u64::from_str_radix(hex, 16).ok())
                    == Some(value)
            })
            .map(|m| m.message.as_str())
    }
}

/// An `AgentCapabilityCredential` without its proof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentCapabilityCredential {
    /// Always [`CONTEXTS`].
    #[serde(rename = "@context")]
    pub context: Vec<String>,
    /// The credential's id.
    pub id: CredentialId,
    /// Always [`TYPES`].
    #[serde(rename = "type")]
    pub type_: Vec<String>,
    /// The org DID for a root credential, the delegating agent's did:key for a delegated one.
    pub issuer: Did,
    /// Start of validity.
    #[serde(with = "timestamp")]
    pub valid_from: DateTime<Utc>,
    /// End of validity.
    #[serde(with = "timestamp")]
    pub valid_until: DateTime<Utc>,
    /// The subject.
    pub credential_subject: AgentSubject,
    /// Revocation and suspension entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credential_status: Vec<StatusEntry>,
}

/// Whether a status entry's URL is absolute (`http(s)://` or `urn:`): JSON-LD drops a triple
/// whose IRI is relative, so a relative one would leave the entry out of what is signed.
fn is_absolute_url(url: &str) -> bool {
    ["https://", "http://", "urn:"]
        .iter()
        .any(|scheme| url.len() > scheme.len() && url.starts_with(scheme))
        && !url.contains(char::is_whitespace)
}

fn schema_error(message: impl Into<String>) -> CredentialError {
    CredentialError::Schema(message.into())
}

impl AgentCapabilityCredential {
    /// Reads a credential, signed or not, from JSON; the proof, if any, is ignored here.
    pub fn from_json(value: &Value) -> Result<Self, CredentialError> {
        use serde::Deserialize as _;
        let object: &Map<String, Value> = value
            .as_object()
            .ok_or_else(|| schema_error("a credential is a JSON object"))?;
        // Read where it is, without its proof: no copy of the document first.
        let members = object
            .iter()
            .filter(|(key, _)| key.as_str() != "proof")
            .map(|(key, value)| (key.as_str(), value));
        let credential = Self::deserialize(
            serde::de::value::MapDeserializer::<_, serde_json::Error>::new(members),
        )
        .map_err(|e| schema_error(e.to_string()))?;
        credential.validate()?;
        Ok(credential)
    }

    /// The JSON of the credential, ready to be signed.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a credential always serializes: it has only string keys")
    }

    /// Checks what serde cannot: the fixed context and type, value ranges, and the internal
    /// consistency of renewal and delegation.
    fn validate(&self) -> Result<(), CredentialError> {
        if self.context != CONTEXTS {
            return Err(schema_error(format!("@context must be {CONTEXTS:?}")));
        }
        if self.type_ != TYPES {
            return Err(schema_error(format!("type must be {TYPES:?}")));
        }
        if self.valid_from >= self.valid_until {
            return Err(schema_error("validFrom must be before validUntil"));
        }
        let subject = &self.credential_subject;
        if subject.id.method() != "key" {
            return Err(schema_error(
                "the subject must be an agent instance's did:key",
            ));
        }
        if !subject.agent.definition_hash.is_consistent() {
            return Err(schema_error(
                "definitionHash.digest is not the digest of its parts",
            ));
        }
        let principal_ok = subject
            .principal
            .strip_prefix("urn:vouch:principal:")
            .is_some_and(|p| {
                (1..=128).contains(&p.len())
                    && p.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b))
            });
        if !principal_ok {
            return Err(schema_error(
                "principal must be urn:vouch:principal:<pseudonym>",
            ));
        }
        for (field, value, max) in [
            ("agent.name", &subject.agent.name, 128),
            ("agent.version", &subject.agent.version, 64),
            ("agent.owner", &subject.agent.owner, 256),
            ("task.id", &subject.task.id, 256),
        ] {
            if value.is_empty() || value.len() > max {
                return Err(schema_error(format!("{field} must have 1 to {max} bytes")));
            }
        }
        if subject.capabilities.is_empty() || subject.capabilities.len() > MAX_CAPABILITIES {
            return Err(schema_error(format!(
                "a credential has 1 to {MAX_CAPABILITIES} capabilities"
            )));
        }
        // A malformed capability makes the credential malformed, as the schema says; an unknown
        // constraint does not (it parses, and the capability it is on grants nothing).
        if let Some(Err(e)) = self.capabilities().into_iter().find(Result::is_err) {
            return Err(e);
        }
        if subject.audience.len() > 16 || subject.resources.len() > 16 {
            return Err(schema_error("at most 16 audiences and 16 resources"));
        }
        if let Some(Err(e)) = self.resource_servers().into_iter().find(Result::is_err) {
            return Err(schema_error(format!(
                "resources are resource server URIs (RFC 8707): {e}"
            )));
        }
        let renewal = &subject.renewal;
        if renewal.max_count > MAX_RENEWALS {
            return Err(schema_error(format!(
                "renewal.maxCount is at most {MAX_RENEWALS}"
            )));
        }

        let delegation = &subject.delegation;
        if delegation.max_depth > MAX_DEPTH_CAP || delegation.depth > delegation.max_depth {
            return Err(schema_error("delegation depth exceeds its maximum"));
        }
        let consistent = match &delegation.parent {
            None => delegation.depth == 0 && delegation.ancestors.is_empty(),
            Some(parent) => {
                delegation.depth as usize == delegation.ancestors.len()
                    && delegation.ancestors.last() == Some(parent)
            }
        };
        if !consistent {
            return Err(schema_error(
                "delegation.parent, ancestors and depth disagree",
            ));
        }
        if self.credential_status.len() > 2
            || self.credential_status.iter().any(|s| {
                // Vouch's own form: an id, one bit, revocation or suspension.
                s.type_ != "BitstringStatusListEntry"
                    || !s.id.as_deref().is_some_and(is_absolute_url)
                    || s.size() != 1
                    || !s.status_message.is_empty()
                    || !is_absolute_url(&s.status_list_credential)
                    || !["revocation", "suspension"].contains(&s.status_purpose.as_str())
                    || s.status_list_index.parse::<u32>().is_err()
            })
        {
            return Err(schema_error("malformed credentialStatus"));
        }
        Ok(())
    }

    /// The credential's capabilities, each parsed on its own.
    pub fn capabilities(&self) -> Vec<Result<Capability, CredentialError>> {
        self.credential_subject
            .capabilities
            .iter()
            .enumerate()
            .map(|(index, value)| {
                Capability::from_json(value)
                    .map_err(|cause| CredentialError::Capability { index, cause })
            })
            .collect()
    }

    /// The resource servers the credential is pinned to (`credentialSubject.resources`), each
    /// parsed as a resource without wildcards.
    pub fn resource_servers(&self) -> Vec<Result<ResourcePattern, CapabilityError>> {
        self.credential_subject
            .resources
            .iter()
            .map(|r| ResourcePattern::parse_concrete(r))
            .collect()
    }

    /// Whether the credential's resource pinning admits `resource`: it is pinned to none, or
    /// `resource` lies under one of its resource servers. A pin that cannot be read admits
    /// nothing.
    pub fn admits_resource(&self, resource: &ResourcePattern) -> bool {
        self.credential_subject.resources.is_empty()
            || self
                .resource_servers()
                .iter()
                .any(|server| server.as_ref().is_ok_and(|s| resource.is_under(s)))
    }

    /// The capabilities that parse; malformed ones grant nothing.
    pub fn valid_capabilities(&self) -> Vec<Capability> {
        self.capabilities()
            .into_iter()
            .filter_map(Result::ok)
            .collect()
    }
}
