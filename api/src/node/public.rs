//! The node's public endpoints (`/1.0/…`): what anyone — an agent of the org, a partner, a
//! verifier with no node — sends and is answered.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use vouch_core::credential::CredentialId;
use vouch_core::did::Did;
use vouch_core::exchange::Decided;
use vouch_core::hash::Multihash;
use vouch_core::report::{Outcome, Reason};

/// `POST /1.0/challenges`'s answer: a challenge to sign over, for the domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Challenge {
    /// The challenge.
    pub challenge: String,
    /// The domain the proof must name.
    pub domain: String,
    /// Until when it may be answered.
    #[serde(with = "vouch_core::credential::timestamp")]
    #[schemars(with = "super::Timestamp")]
    pub expires: DateTime<Utc>,
}

/// `POST /1.0/delegations`: a delegation to register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DelegationRequest {
    /// A presentation by the delegating instance of its credential (with its chain), over a
    /// challenge of this node.
    pub presentation: Value,
    /// The delegated credential, unsigned and without status: the node adds its status entries.
    pub credential: Value,
}

/// `POST /1.0/renewals`: a renewal to sign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenewalRequest {
    /// A presentation by the holder of its current credential, over a challenge of this node.
    pub presentation: Value,
    /// The renewed credential as the holder proposes it (`vouch_core::delegation::renew`),
    /// unsigned; the node gives it fresh status entries and signs it if every renewal rule holds.
    pub renewal: Value,
}

/// What issuing, registering or renewing a credential answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Issuance {
    /// The credential: signed by the org, or, for a delegation, to be signed by the delegating
    /// agent as it is.
    pub credential: Value,
}

/// `POST /1.0/approvals`: an agent's presentation of its chain over a challenge of this node,
/// and the request it needs approved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalAsk {
    /// The presentation.
    pub presentation: Value,
    /// The request: `{action, resource, arguments}`.
    pub request: Value,
}

/// Where an approval request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Waiting for the owner.
    Pending,
    /// Approved: the credential is there.
    Approved,
    /// Refused by the owner.
    Refused,
}

/// An approval request, and what became of it: what the node keeps, and answers with the page
/// where its owner decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pending {
    /// Its id (`urn:uuid:…`), the approval's own if given.
    pub id: String,
    /// The org asked: the approval's issuer.
    #[schemars(with = "String")]
    pub org: Did,
    /// The request, as the agent asked it.
    pub request: Value,
    /// Its hash: what an approval binds.
    #[schemars(with = "String")]
    pub request_hash: Multihash,
    /// The agent instance that asked.
    #[schemars(with = "String")]
    pub agent: Did,
    /// The credential it would act under (the chain's leaf).
    #[schemars(with = "String")]
    pub credential: CredentialId,
    /// Its owner, who decides.
    pub owner: String,
    /// When it was asked.
    #[serde(with = "vouch_core::credential::timestamp")]
    #[schemars(with = "super::Timestamp")]
    pub asked: DateTime<Utc>,
    /// Until when the owner may decide.
    #[serde(with = "vouch_core::credential::timestamp")]
    #[schemars(with = "super::Timestamp")]
    pub expires: DateTime<Utc>,
    /// Where it stands.
    pub standing: Standing,
    /// The approval credential, once given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Value>,
    /// Where the owner approves it with a passkey, when the node serves passkeys: in answers
    /// only, never kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
}

/// The owner's decision: `POST /1.0/approvals/{id}/decision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OwnerVerdict {
    /// The owner approves the request.
    Approve,
    /// The owner refuses it.
    Refuse,
}

impl OwnerVerdict {
    /// As the signed statement names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Refuse => "refuse",
        }
    }
}

/// An owner's answer from the command line, signed with their owner key over the decision
/// statement (`{"type": "VouchApprovalDecision/1", org, approval, request, agent, decision}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerDecision {
    /// Approve or refuse.
    pub decision: OwnerVerdict,
    /// Ed25519 over the JCS form of the statement, multibase base58btc.
    pub signature: String,
}

/// What an owner signs (Ed25519 over its JCS form) to approve or refuse `pending` with their
/// owner key: exactly what is pending — the org, the request's id and hash, the agent — and the
/// decision. The wallet builds it from the request it shows the owner, the node from what it
/// holds; the two must agree for the signature to verify.
pub fn decision_statement(pending: &Pending, decision: OwnerVerdict) -> Value {
    serde_json::json!({
        "type": "VouchApprovalDecision/1",
        "org": pending.org,
        "approval": pending.id,
        "request": pending.request_hash,
        "agent": pending.agent,
        "decision": decision.as_str(),
    })
}

/// `POST /1.0/exchanges`: a capability exchange to open with the node as the verifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenExchange {
    /// The capabilities asked for.
    pub capabilities: Vec<Value>,
    /// The DCQL query the presentation answers; every capability credential when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<Value>,
}

/// `POST /1.0/exchanges`'s answer: the exchange's id and the node's signed request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExchangeOpened {
    /// Where to answer: `POST /1.0/exchanges/{exchangeId}`.
    pub exchange_id: String,
    /// The capability request (a VP request with the verifier's presentation).
    pub request: Value,
}

/// `POST /1.0/exchanges/{id}`'s answer: the signed decision, and each capability's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeDecided {
    /// The signed `CapabilityDecision` credential.
    pub decision: Value,
    /// Per capability asked, accepted or rejected with its reason.
    #[schemars(with = "Vec<Value>")]
    pub decisions: Vec<Decided>,
}

/// Where an exchange stands, once decided: `GET /1.0/exchanges/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExchangeState {
    /// A decision was made.
    Decided,
}

/// `GET /1.0/exchanges/{id}`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeStanding {
    /// Decided.
    pub state: ExchangeState,
    /// The signed decision.
    pub decision: Value,
}

/// `POST /1.0/credentials/verify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyCredential {
    /// The credential.
    pub verifiable_credential: Value,
    /// The VC API's options.
    #[serde(default)]
    pub options: CredentialOptions,
}

/// The VC API's options of a credential's verification; one this service does not know is
/// refused, never ignored: a verifier asked to enforce something it does not must say so.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialOptions {
    /// The checks to make (the VC API's `checks`): every one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<String>>,
}

/// `POST /1.0/presentations/verify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyPresentation {
    /// The presentation.
    pub verifiable_presentation: Value,
    /// What it must answer.
    pub options: PresentationOptions,
}

/// A presentation's options: the challenge and domain it must answer (both required: a
/// presentation bound to nothing could be anyone's replay), and the checks that count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PresentationOptions {
    /// The challenge.
    pub challenge: String,
    /// The domain.
    pub domain: String,
    /// The checks to make: every one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<String>>,
}

/// One check of a verification, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportedCheck {
    /// What was checked (`schema`, `proof`, `validity`, `capability`, `issuer_trust`,
    /// `status`, …).
    pub check: String,
    /// What it was checked on: a credential id, a capability, a presentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The result.
    #[schemars(with = "String")]
    pub outcome: Outcome,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub reason: Option<Reason>,
    /// A human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl From<&vouch_core::report::Check> for ReportedCheck {
    fn from(check: &vouch_core::report::Check) -> Self {
        Self {
            check: check.check.to_owned(),
            subject: check.subject.clone(),
            outcome: check.outcome,
            reason: check.reason,
            detail: check.detail.clone(),
        }
    }
}

/// What verifying answers (with 200 when verified, 400 when not): the VC API's `checks`,
/// `warnings` and `errors`, with every check's outcome and reason code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Verified {
    /// Whether no check that counts failed.
    pub verified: bool,
    /// Every check made, passed, failed or skipped.
    pub checks: Vec<ReportedCheck>,
    /// The checks that did not run.
    pub warnings: Vec<ReportedCheck>,
    /// The checks that failed.
    pub errors: Vec<ReportedCheck>,
}

impl Verified {
    /// A report as answered: every check, the skipped ones as warnings, the failed ones as
    /// errors.
    pub fn of(report: vouch_core::report::Report) -> Self {
        let all: Vec<ReportedCheck> = report.checks.iter().map(ReportedCheck::from).collect();
        let with = |outcome| {
            all.iter()
                .filter(|c| c.outcome == outcome)
                .cloned()
                .collect()
        };
        Self {
            verified: report.verified,
            errors: with(Outcome::Failed),
            warnings: with(Outcome::Skipped),
            checks: all,
        }
    }
}

/// `GET /health`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// One issuer the node trusts, and for what: `GET /1.0/trust`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuer {
    /// Its DID.
    #[schemars(with = "String")]
    pub did: Did,
    /// The actions it is trusted for (`*` for any).
    pub actions: Vec<String>,
}

/// `GET /1.0/trust`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trust {
    /// The issuers.
    pub issuers: Vec<TrustedIssuer>,
}

/// `GET /1.0/revocations`' answer: the signed revocation events (SET claim sets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationEvents {
    /// The events, oldest first.
    pub events: Vec<Value>,
}

/// `GET /1.0/audit/entries`' answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditEntries {
    /// The index of the first entry.
    pub from: u64,
    /// The entries, in order.
    #[schemars(with = "Vec<Value>")]
    pub entries: Vec<vouch_core::audit::Entry>,
}

/// `GET /1.0/audit/proof/inclusion`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// The entry's index.
    pub index: u64,
    /// The size of the tree the proof is for.
    pub size: u64,
    /// The entry.
    #[schemars(with = "Value")]
    pub entry: vouch_core::audit::Entry,
    /// The proof's hashes, base64.
    pub proof: Vec<String>,
}

/// `GET /1.0/audit/proof/consistency`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// The older size.
    pub old: u64,
    /// The newer size.
    pub new: u64,
    /// The proof's hashes, base64.
    pub proof: Vec<String>,
}

/// The newest checkpoint a node holds of a log (its own or a member's), with the cosignatures
/// it carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeldCheckpoint {
    /// The log.
    pub origin: String,
    /// Its size.
    pub size: u64,
    /// Its root, base64.
    pub root: String,
    /// The witnesses whose cosignature it carries.
    pub cosigners: Vec<String>,
    /// The signed note, with those cosignatures.
    pub checkpoint: String,
}

/// `GET /1.0/audit/witnessed`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Witnessed {
    /// The checkpoints held, one per log.
    pub checkpoints: Vec<HeldCheckpoint>,
}

/// Two checkpoints of one log that cannot both be honest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Evidence {
    /// The log.
    pub origin: String,
    /// The checkpoint this node held (and had cosigned), as a signed note.
    pub held: String,
    /// The checkpoint that contradicts it, as a signed note.
    pub conflicting: String,
    /// Why they cannot both be honest.
    pub reason: String,
    /// When this node found it.
    pub detected: DateTime<Utc>,
}

/// `GET /1.0/audit/evidence`'s answer: proof that a log forked or went back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceHeld {
    /// Each piece of evidence.
    pub evidence: Vec<Evidence>,
}

/// `POST /1.0/passkeys/enrolments`: the owner's enrolment link's token, to open a passkey
/// registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Enrolment {
    /// The token of the link the operator gave the owner.
    pub token: String,
}

/// `POST /1.0/passkeys/enrolments`'s answer: a WebAuthn registration ceremony opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentCeremony {
    /// Where to answer: `POST /1.0/passkeys/enrolments/{ceremony}`.
    pub ceremony: String,
    /// The owner enrolling.
    pub owner: String,
    /// WebAuthn's `PublicKeyCredentialCreationOptions` (`{publicKey: …}`), for
    /// `navigator.credentials.create`.
    pub options: Value,
}

/// `POST /1.0/passkeys/enrolments/{ceremony}`'s answer: the passkey stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Enrolled {
    /// The owner.
    pub owner: String,
    /// How many passkeys the owner now has.
    pub passkeys: usize,
}

/// `POST /1.0/approvals/{id}/passkey`: the decision an owner is about to sign with a passkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyDecision {
    /// Approve or refuse.
    pub decision: OwnerVerdict,
}

/// `POST /1.0/approvals/{id}/passkey`'s answer: a WebAuthn authentication ceremony opened for
/// this decision on this request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionCeremony {
    /// Where to answer: `POST /1.0/approvals/{id}/passkey/{ceremony}`.
    pub ceremony: String,
    /// The hash of the request decided on.
    #[schemars(with = "String")]
    pub request: Multihash,
    /// WebAuthn's `PublicKeyCredentialRequestOptions` (`{publicKey: …}`), for
    /// `navigator.credentials.get`.
    pub options: Value,
}

/// `POST /1.0/requests/verify`: a request an agent signed (RFC 9421), as the service received
/// it, and the arguments of the call it makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The method.
    pub method: String,
    /// The target URI, absolute, as the agent addressed it.
    pub url: String,
    /// Its header fields, in order.
    pub headers: Vec<crate::daemon::HeaderField>,
    /// Its body, base64; none without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The call's arguments, against the capability's constraints.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub arguments: serde_json::Map<String, Value>,
}

/// `POST /1.0/requests/verify`'s answer: the request may be acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestPermitted {
    /// The agent instance that signed it.
    #[schemars(with = "String")]
    pub signer: Did,
    /// The credential it relies on.
    pub credential: String,
    /// The action it performs.
    pub action: String,
}
