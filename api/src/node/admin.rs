//! The node's operator endpoints (`/admin/…` and the VC API's `/credentials/issue`), behind the
//! admin token.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use vouch_core::agent::AgentDescription;
use vouch_core::consortium::{Amendment, Member};
use vouch_core::credential::CredentialId;
use vouch_core::did::Did;
use vouch_core::revocation::Level;

/// `POST /admin/agents`: an agent definition to register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DefinitionRequest {
    /// The agent's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The accountable human (an email address or an employee id).
    pub owner: String,
    /// The model identifier.
    pub model: String,
    /// The system prompt's multihash: the prompt itself never reaches the node.
    pub system_prompt_hash: String,
    /// The tool manifest.
    pub tools: Value,
    /// The configuration.
    pub configuration: Value,
}

/// A registered definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Definition {
    /// Its DID.
    #[schemars(with = "String")]
    pub did: Did,
    /// What its document states.
    #[schemars(with = "Value")]
    pub agent: AgentDescription,
    /// When it was registered.
    #[serde(with = "vouch_core::credential::timestamp")]
    #[schemars(with = "super::Timestamp")]
    pub registered: DateTime<Utc>,
}

/// A link that is open for a while: where an owner registers a passkey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// The URL (the token travels in its fragment).
    pub url: String,
    /// Until when it is open.
    pub expires: String,
}

/// `POST /admin/agents`' answer: the definition, and the link its owner registers a passkey
/// at when they have none yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Registered {
    /// The definition.
    #[serde(flatten)]
    pub definition: Definition,
    /// The owner's enrolment link, when the node serves passkeys and the owner has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_enrolment: Option<Link>,
}

/// `GET /admin/agents`' query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Listing {
    /// Only the definitions whose owner is gone (revoked at the owner level) or unset.
    #[serde(default)]
    pub orphaned: bool,
}

/// One definition listed, and whether it is revoked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Listed {
    /// The definition.
    #[serde(flatten)]
    pub definition: Definition,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// `GET /admin/agents`' answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Definitions {
    /// The definitions.
    pub definitions: Vec<Listed>,
}

/// An instance bound to a definition: `POST /admin/agents/{definition}/instances`' answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Instance {
    /// Its did:key.
    #[schemars(with = "String")]
    pub did: Did,
    /// Its definition.
    #[schemars(with = "String")]
    pub definition: Did,
    /// When it was bound.
    #[serde(with = "vouch_core::credential::timestamp")]
    #[schemars(with = "super::Timestamp")]
    pub bound: DateTime<Utc>,
}

/// `POST /admin/credentials`: a credential to issue to a bound instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueRequest {
    /// The instance's did:key.
    #[schemars(with = "String")]
    pub instance: Did,
    /// The task.
    pub task: TaskRequest,
    /// Who the agent acts for: written into the credential only as the org's pseudonym.
    pub principal: String,
    /// What it may do.
    pub capabilities: Vec<Value>,
    /// Who it may be presented to; empty for anyone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audience: Vec<String>,
    /// The resource servers it is pinned to; empty for any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Its lifetime in seconds (default and maximum configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
    /// How many renewals its lineage may have (at most the configured maximum, which is the
    /// default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_renewals: Option<u32>,
    /// How long its lineage may last, in seconds from now (at most the configured maximum,
    /// which is the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage_secs: Option<u64>,
    /// The deepest delegation below it (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u32>,
}

/// A task as an issuance request names it: its purpose is hashed by the node and forgotten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskRequest {
    /// The task's id.
    pub id: String,
    /// What the task is for, in words.
    pub purpose: String,
}

/// Where a credential's status bit is: one of the org's lists, and an index in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Slot {
    /// The list's name (`issued-revocation-1`).
    pub name: String,
    /// The index.
    pub index: usize,
}

/// What the node records of a credential it issued or registered: `GET
/// /admin/credentials/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Issued {
    /// The credential's id.
    #[schemars(with = "String")]
    pub id: CredentialId,
    /// Who signed it: the org, or the delegating instance.
    #[schemars(with = "String")]
    pub issuer: Did,
    /// The instance it was issued to.
    #[schemars(with = "String")]
    pub instance: Did,
    /// The agent definition of its chain's root.
    #[schemars(with = "String")]
    pub definition: Did,
    /// Its task's id.
    pub task: String,
    /// The principal's pseudonym.
    pub principal: String,
    /// The first credential of its lineage (itself, unless a renewal).
    #[schemars(with = "String")]
    pub lineage: CredentialId,
    /// The credential it was delegated from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub parent: Option<CredentialId>,
    /// Its revocation bit.
    pub revocation: Slot,
    /// Its suspension bit.
    pub suspension: Slot,
    /// When it stops being valid.
    #[serde(with = "vouch_core::credential::timestamp")]
    #[schemars(with = "super::Timestamp")]
    pub valid_until: DateTime<Utc>,
    /// The signed credential.
    pub credential: Value,
}

/// `POST /admin/revocations` and `POST /admin/suspensions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevocationRequest {
    /// The level.
    #[schemars(with = "String")]
    pub level: Level,
    /// A credential id (`credential`, `chain`), an instance or definition DID (`agent`), a task
    /// id (`task`), an owner (`owner`).
    pub subject: String,
    /// Why, for the event; never personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For a task or an agent instance that no credential names yet: it gets none from now on.
    /// Without it, a revocation that reaches nothing is refused (`404`), so that a mistyped
    /// subject is never answered as revoked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preemptive: bool,
}

/// What a revocation, suspension or reinstatement did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Revocation {
    /// The signed revocation event.
    pub event: Value,
    /// How many credentials' bits were set or cleared.
    pub credentials: usize,
    /// The suspension's id, to lift it with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspension: Option<String>,
}

/// `POST /admin/suspensions/{id}/lift`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lift {
    /// Why, for the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /admin/owners`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerRequest {
    /// Who they are.
    pub id: String,
    /// Their owner key, a did:key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Forget every passkey they registered (a device lost): they register anew from the link
    /// this registration gives.
    #[serde(
        default,
        rename = "dropPasskeys",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub drop_passkeys: bool,
}

/// `POST /admin/owners`' answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerRegistered {
    /// Who they are.
    pub id: String,
    /// When they were registered.
    pub registered: String,
    /// How many passkeys they have.
    pub passkeys: usize,
    /// Their owner key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Where they register a passkey, when the node serves passkeys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrol: Option<Link>,
}

/// `POST /credentials/issue`: the credential and the VC API's options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct W3cIssueRequest {
    /// The unsigned credential.
    pub credential: Value,
    /// How to issue it.
    #[serde(default)]
    pub options: W3cIssueOptions,
}

/// The VC API's issue options this issuer takes; any other is refused, never ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct W3cIssueOptions {
    /// The proof's type: `DataIntegrityProof`, the only one.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub proof_type: Option<String>,
    /// `eddsa-rdfc-2022` or `eddsa-jcs-2022`; the org's configured suite when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cryptosuite: Option<String>,
    /// A status entry of the org's lists to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_status: Option<StatusAsked>,
}

/// The status entry asked for: `{"type": "BitstringStatusListEntry", "statusPurpose"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusAsked {
    /// `BitstringStatusListEntry`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `revocation` or `suspension`.
    pub status_purpose: String,
}

/// `POST /credentials/issue`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct W3cIssued {
    /// The signed credential.
    pub verifiable_credential: Value,
}

/// What became of a did:vouch operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Applied {
    /// It extends the log.
    Appended,
    /// The log held it already.
    Duplicate,
    /// It forks the log: kept as evidence, the DID answered as equivocating.
    Equivocation,
    /// It forks the log, and the evidence kept for it is full.
    EvidenceFull,
}

/// What `POST /admin/did/operations` and the org's DID endpoints (`/admin/did/update`,
/// `rotate`, `deactivate`) answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperationAccepted {
    /// The DID.
    #[schemars(with = "String")]
    pub did: Did,
    /// Its version after the operation.
    pub version_id: String,
    /// What became of the operation.
    pub applied: Applied,
}

/// The body of `POST /admin/did/deactivate`: the org's DID, as a confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    /// The org's DID.
    pub did: String,
}

/// The body of `POST /admin/peers/refuse` and `/admin/peers/admit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Peers {
    /// The members' libp2p peer ids.
    pub peers: Vec<String>,
}

/// What `POST /admin/peers/…` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PeersChanged {
    /// Whether they are refused now (or admitted).
    pub refused: bool,
    /// The peers.
    pub peers: Vec<String>,
}

/// What the consortium endpoints answer: the membership in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Membership {
    /// The consortium's name.
    pub name: String,
    /// The genesis's hash: what a wallet daemon is configured with (`--consortium`).
    pub genesis: String,
    /// The amendments in force.
    pub sequence: u64,
    /// The hash of the membership in force.
    pub head: String,
    /// How many members' signatures an amendment needs.
    pub needed: usize,
    /// The members.
    #[schemars(with = "Vec<Value>")]
    pub members: Vec<Member>,
    /// The amendments proposed and not yet in force.
    #[schemars(with = "Vec<Value>")]
    pub amendments: Vec<Amendment>,
}

/// What proposing or signing an amendment answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Signed {
    /// Whether the amendment is in force now.
    pub applied: bool,
    /// How many members signed it.
    pub signed: usize,
    /// How many it needs.
    pub needed: usize,
    /// The amendment, with its signatures.
    #[schemars(with = "Value")]
    pub amendment: Amendment,
}

/// The body of `POST /admin/status-lists/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// `revocation` or `suspension`: the list's purpose, fixed when it is created.
    pub purpose: String,
    /// Indexes to set.
    #[serde(
        default,
        deserialize_with = "indexes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub set: Vec<usize>,
    /// Indexes to clear (suspension lists only: a revocation is final).
    #[serde(
        default,
        deserialize_with = "indexes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub clear: Vec<usize>,
}

/// List indexes: JSON integers, `7` or `7.0` alike (JSON Schema's `integer` takes both).
fn indexes<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<usize>, D::Error> {
    let numbers = Vec::<serde_json::Number>::deserialize(deserializer)?;
    numbers
        .into_iter()
        .map(|n| {
            n.as_u64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 9.0e15)
                        .map(|f| f as u64)
                })
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a list index")))
        })
        .collect()
}

/// What `POST /admin/status-lists/{name}` answers: the list signed anew.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusChanged {
    /// The list credential's id.
    pub id: Value,
    /// When the new list is valid from.
    pub valid_from: Value,
}
