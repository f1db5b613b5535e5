//! Credential verification: every check a verifier makes on one credential, recorded in a
//! [`Report`].
//!
//! Trust and status come from the caller through [`IssuerPolicy`] and [`StatusSource`]: the node
//! answers from the consortium genesis and its replicated status lists; a verifier without them
//! sees those checks reported as skipped, never silently passed.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::capability::{Action, Capability};
use crate::credential::{AgentCapabilityCredential, DEFAULT_MAX_DEPTH, StatusEntry};
use crate::did::document::Relationship;
use crate::did::{Did, DidResolver};
use crate::proof::{self, ProofError};
use crate::report::{Outcome, Reason, Report, check};

/// Which issuers are trusted for which actions (the consortium's trusted-issuer policy, §7).
pub trait IssuerPolicy {
    /// Whether `issuer` may attest capabilities for `action`.
    fn trusts(&self, issuer: &Did, action: &Action) -> bool;
    /// Whether `issuer` may attest anything at all: for credentials that attest no action.
    fn knows(&self, issuer: &Did) -> bool;
}

/// A policy for capabilities, and issuers trusted besides it for credentials that attest no
/// action (a partner's employee credential, a licence): never for a capability.
pub struct WithOthers<'a> {
    /// Who is trusted for which actions.
    pub capabilities: &'a dyn IssuerPolicy,
    /// Who else is trusted, for credentials that attest no action.
    pub others: &'a [Did],
}

impl IssuerPolicy for WithOthers<'_> {
    fn trusts(&self, issuer: &Did, action: &Action) -> bool {
        self.capabilities.trusts(issuer, action)
    }

    fn knows(&self, issuer: &Did) -> bool {
        self.capabilities.knows(issuer) || self.others.contains(issuer)
    }
}

/// A list of `(issuer, action pattern)` pairs.
#[derive(Debug, Clone, Default)]
pub struct TrustList(pub Vec<(Did, Action)>);

impl IssuerPolicy for TrustList {
    fn trusts(&self, issuer: &Did, action: &Action) -> bool {
        self.0
            .iter()
            .any(|(trusted, pattern)| trusted == issuer && action.is_subset_of(pattern))
    }

    fn knows(&self, issuer: &Did) -> bool {
        self.0.iter().any(|(trusted, _)| trusted == issuer)
    }
}

/// The status of a credential's status entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryStatus {
    /// The bit is clear.
    Clear,
    /// The bit is set: revoked or suspended, by the entry's purpose.
    Set,
    /// The value of an entry of several bits (`statusSize`).
    Value(u64),
    /// The list is too old to tell: past its `validUntil`, or signed longer ago than the
    /// verifier accepts. Why.
    Stale(String),
}

/// Where credential status comes from.
pub trait StatusSource {
    /// The status of an entry of a credential issued by `issuer`, or why it is unknown. A list
    /// issued by anyone but `issuer` must not answer for its credentials.
    fn status(&self, issuer: &Did, entry: &StatusEntry) -> Result<EntryStatus, String>;

    /// How old the state the source answered `entry` from is, in seconds, if it knows: reported
    /// with the check, so that a verifier sees how fresh its revocation state was.
    fn age(&self, _entry: &StatusEntry) -> Option<i64> {
        None
    }
}

/// What a verifier knows and decides with.
///
/// A verifier that was told nothing trusts nothing: without a trusted-issuer policy every
/// `issuer_trust` check fails (`untrusted_issuer`), and without a status source every status entry
/// is `status_unknown`. Only [`Verifier::danger_proofs_only`] turns both into visible skips.
pub struct Verifier<'a> {
    /// Resolves issuer and holder DIDs.
    pub resolver: &'a dyn DidResolver,
    /// The time to verify at.
    pub now: DateTime<Utc>,
    /// How far a `validFrom` may be in the future, for clocks that disagree.
    pub clock_skew: Duration,
    /// The trusted-issuer policy; none trusts nothing.
    pub issuers: Option<&'a dyn IssuerPolicy>,
    /// The status source; without one, a credential with status entries is `status_unknown`.
    pub status: Option<&'a dyn StatusSource>,
    /// DANGER: check proofs, windows and structure only. Issuer trust and status are then reported
    /// as skipped instead of failing when no policy or source is given, so a report may verify
    /// with no trusted root. For debugging and tests of the proof layer, never for a decision.
    pub danger_proofs_only: bool,
    /// The deepest delegation chain accepted.
    pub max_depth: u32,
    /// The agent definition digest the verifier expects, if it pins one.
    pub expected_definition: Option<crate::credential::Multihash>,
    /// Whether a credential of a chain without any status entry fails (`status_missing`): one
    /// that no revocation could ever reach. On by default; off only for credentials that are
    /// known never to be registered (a verifier of signatures alone).
    pub require_status: bool,
    /// Where the approvals decided on are remembered; without one, no approval counts (a
    /// capability with `requiresApproval` is `needs_approval`).
    pub approvals: Option<&'a dyn ApprovalLedger>,
}

impl<'a> Verifier<'a> {
    /// A verifier at `now` with no trust policy or status source: it trusts nothing until given a
    /// policy.
    pub fn new(resolver: &'a dyn DidResolver, now: DateTime<Utc>) -> Self {
        Self {
            resolver,
            now,
            clock_skew: Duration::seconds(60),
            issuers: None,
            status: None,
            danger_proofs_only: false,
            max_depth: DEFAULT_MAX_DEPTH,
            expected_definition: None,
            require_status: true,
            approvals: None,
        }
    }

    /// Whether `issuer` is trusted for `action`, as a check result.
    pub(crate) fn check_trust(&self, issuer: &Did, action: &Action) -> Trusted {
        match self.issuers {
            Some(policy) if policy.trusts(issuer, action) => Trusted::Yes,
            Some(_) => Trusted::No(format!("{issuer} may not attest {action}")),
            None if self.danger_proofs_only => Trusted::NotChecked,
            None => Trusted::No(format!(
                "no trusted-issuer policy: a verifier that was told nothing trusts nothing ({issuer})"
            )),
        }
    }
}

/// The answer of a trust check.
pub(crate) enum Trusted {
    Yes,
    No(String),
    /// Proofs only: not checked.
    NotChecked,
}

/// Why a proof that was made for proofs-only verification skips what it skips.
pub(crate) const PROOFS_ONLY: &str = "DANGER: proofs only; issuer trust and status not checked";

pub(crate) fn proof_reason(error: &ProofError) -> Reason {
    match error {
        ProofError::Resolve(_) => Reason::UnresolvableDid,
        ProofError::NotAnObject
        | ProofError::MissingProof
        | ProofError::ProofSet
        | ProofError::Malformed(_)
        | ProofError::UnknownMember(_)
        | ProofError::UnsupportedType
        | ProofError::UnsupportedCryptosuite(_)
        | ProofError::BadProofValue
        | ProofError::Canonicalization(_) => Reason::Malformed,
        _ => Reason::InvalidProof,
    }
}

/// Records a document that could not be read: its schema check failed with `why`, and each of
/// `rest` skipped for that, under its `id` (or `label` without one).
fn unreadable(
    report: &mut Report,
    raw: &Value,
    label: &str,
    why: String,
    rest: &[&'static str],
    skipped: &str,
) {
    let subject = raw.get("id").and_then(Value::as_str).unwrap_or(label);
    report.fail(check::SCHEMA, Some(subject), Reason::Malformed, why);
    report.skip_all(rest, Some(subject), skipped);
}

/// Checks the proof, that it was made by `signer`, and that it has not expired
/// ([VC Data Integrity §4.3](https://www.w3.org/TR/vc-data-integrity/#verify-proof): a proof
/// past its `expires` does not verify).
pub(crate) fn check_proof(
    verifier: &Verifier<'_>,
    raw: &Value,
    signer: &Did,
    purpose: Relationship,
) -> Result<proof::VerifiedProof, (Reason, String)> {
    judge_proof(
        verifier,
        proof::verify(raw, purpose, verifier.resolver),
        signer,
    )
}

/// [`check_proof`] on a proof verified already (in a batch, by [`proof::check_all`]).
pub(crate) fn judge_proof(
    verifier: &Verifier<'_>,
    verified: Result<proof::VerifiedProof, proof::ProofError>,
    signer: &Did,
) -> Result<proof::VerifiedProof, (Reason, String)> {
    let verified = verified.map_err(|e| (proof_reason(&e), e.to_string()))?;
    if &verified.verification_method.did() != signer {
        return Err((
            Reason::InvalidProof,
            format!(
                "signed by {}, not by {signer}",
                verified.verification_method.did()
            ),
        ));
    }
    if let Some(expires) = verified.expires.filter(|expires| verifier.now >= *expires) {
        return Err((Reason::Expired, format!("the proof expired at {expires}")));
    }
    Ok(verified)
}

fn check_window(
    verifier: &Verifier<'_>,
    valid_from: Option<DateTime<Utc>>,
    valid_until: Option<DateTime<Utc>>,
) -> Result<(), (Reason, String)> {
    // `valid_from - skew`, not `now + skew`: `now` comes from the user and may be the last
    // representable time; a credential's times were read, so they are far from the edges.
    let early = valid_from.filter(|from| {
        from.checked_sub_signed(verifier.clock_skew)
            .is_none_or(|earliest| verifier.now < earliest)
    });
    if let Some(from) = early {
        return Err((Reason::NotYetValid, format!("valid from {from}")));
    }
    if let Some(until) = valid_until.filter(|until| verifier.now >= *until) {
        return Err((Reason::Expired, format!("expired at {until}")));
    }
    Ok(())
}

/// Where a verifier remembers the approvals it decided on, so that each is used once.
pub trait ApprovalLedger: Send + Sync {
    /// Whether the approval `id` was used already.
    fn is_used(&self, id: &str, now: DateTime<Utc>) -> bool;
    /// Marks it used until `until` (its end); false if it was used already.
    fn use_once(&self, id: &str, until: DateTime<Utc>, now: DateTime<Utc>) -> bool;
}

/// Checks an approval presented beside the capability credentials (`crate::approval`): its
/// form, its issuer's proof, its window, that it was given for `holder`, and its status in the
/// issuer's lists (it must have entries). The approval if every check passed; whether it
/// counts for a request, and was not used before, is for the decision to say.
pub(crate) fn check_approval(
    raw: &Value,
    verifier: &Verifier<'_>,
    label: &str,
    holder: &Did,
    report: &mut Report,
    proof: Result<proof::VerifiedProof, proof::ProofError>,
) -> Option<crate::approval::Approval> {
    let approval = match crate::approval::Approval::from_json(raw) {
        Ok(approval) => approval,
        Err(e) => {
            unreadable(
                report,
                raw,
                label,
                e.to_string(),
                &[check::PROOF, check::VALIDITY, check::HOLDER, check::STATUS],
                "the approval could not be read",
            );
            return None;
        }
    };
    let subject = Some(approval.id.as_str());
    report.pass(check::SCHEMA, subject);
    let proof = judge_proof(verifier, proof, &approval.issuer).map(|_| ());
    report.record(check::PROOF, subject, proof);
    report.record(
        check::VALIDITY,
        subject,
        check_window(
            verifier,
            Some(approval.valid_from),
            Some(approval.valid_until),
        ),
    );
    report.record(
        check::HOLDER,
        subject,
        if approval.subject == *holder {
            Ok(())
        } else {
            Err((
                Reason::NotHolder,
                format!("approved for {}, presented by {holder}", approval.subject),
            ))
        },
    );
    check_status(
        verifier,
        &approval.issuer,
        &approval.status,
        subject,
        true,
        report,
    );
    let failed = report
        .checks
        .iter()
        .any(|c| c.outcome == Outcome::Failed && c.subject.as_deref() == subject);
    (!failed).then_some(approval)
}

/// A credential that could be read, whatever its checks said.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The typed credential.
    pub credential: AgentCapabilityCredential,
    /// Its capabilities that parse and have no unknown constraint.
    pub capabilities: Vec<Capability>,
    /// Each of its capabilities as read once, in order: `None` for one that could not be.
    read: Vec<Option<Capability>>,
}

/// The subject of a capability's checks.
pub(crate) fn capability_label(id: &str, index: usize) -> String {
    format!("{id} capability {index}")
}

/// The checks on one `AgentCapabilityCredential` that need nothing but the credential and the
/// verifier: schema, proof by the issuer, validity window, definition and each capability.
/// Chain, trust, status (against the chain's root issuer), holder and audience depend on where
/// it is presented, and are the caller's. `label` names the credential in the report if its id cannot be read.
pub(crate) fn check_credential(
    raw: &Value,
    verifier: &Verifier<'_>,
    label: &str,
    report: &mut Report,
) -> Option<Checked> {
    check_credential_with(raw, verifier, label, report, || {
        proof::verify(raw, Relationship::AssertionMethod, verifier.resolver)
    })
}

/// [`check_credential`] with its proof's verification given (from a batch).
pub(crate) fn check_credential_with(
    raw: &Value,
    verifier: &Verifier<'_>,
    label: &str,
    report: &mut Report,
    proof: impl FnOnce() -> Result<proof::VerifiedProof, proof::ProofError>,
) -> Option<Checked> {
    let credential = match AgentCapabilityCredential::from_json(raw) {
        Ok(credential) => credential,
        Err(e) => {
            unreadable(
                report,
                raw,
                label,
                e.to_string(),
                &check::CREDENTIAL[1..],
                "the credential could not be read",
            );
            return None;
        }
    };
    let id = credential.id.to_string();
    let subject = Some(id.as_str());
    report.pass(check::SCHEMA, subject);
    report.record(
        check::PROOF,
        subject,
        judge_proof(verifier, proof(), &credential.issuer).map(|_| ()),
    );
    record_window(verifier, &credential, subject, report);

    report.record(
        check::RENEWAL,
        subject,
        crate::delegation::check_renewal_state(&credential),
    );

    match &verifier.expected_definition {
        None => report.skip(check::DEFINITION, subject, "no expected definition given"),
        Some(expected) => {
            let found = &credential.credential_subject.agent.definition_hash.digest;
            report.record(
                check::DEFINITION,
                subject,
                if found == expected {
                    Ok(())
                } else {
                    Err((
                        Reason::DefinitionMismatch,
                        format!(
                            "definition {}, expected {}",
                            found.as_str(),
                            expected.as_str()
                        ),
                    ))
                },
            );
        }
    }

    let mut capabilities = Vec::new();
    let mut read = Vec::new();
    for (index, parsed) in credential.capabilities().into_iter().enumerate() {
        let label = capability_label(&id, index);
        read.push(parsed.as_ref().ok().cloned());
        match parsed {
            Err(e) => report.fail(
                check::CAPABILITY,
                Some(&label),
                Reason::Malformed,
                e.to_string(),
            ),
            Ok(capability) => match capability.constraints.unknown.first() {
                Some(name) => report.fail(
                    check::CAPABILITY,
                    Some(&label),
                    Reason::UnknownConstraint,
                    format!("unknown constraint {name}"),
                ),
                None => {
                    report.pass(check::CAPABILITY, Some(&label));
                    capabilities.push(capability);
                }
            },
        }
    }

    Some(Checked {
        credential,
        capabilities,
        read,
    })
}

/// Records the status checks of `entries`. `required`: whether a credential with none fails
/// (`status_missing`) rather than skips — an agent credential of a chain, under
/// [`Verifier::require_status`]; a generic credential may carry none.
fn check_status(
    verifier: &Verifier<'_>,
    issuer: &Did,
    entries: &[StatusEntry],
    subject: Option<&str>,
    required: bool,
    report: &mut Report,
) {
    if entries.is_empty() {
        if required && verifier.require_status && !verifier.danger_proofs_only {
            report.fail(
                check::STATUS,
                subject,
                Reason::StatusMissing,
                "the credential has no status entries: no revocation could reach it",
            );
        } else {
            report.skip(
                check::STATUS,
                subject,
                "the credential has no status entries",
            );
        }
        return;
    }
    let Some(source) = verifier.status else {
        if verifier.danger_proofs_only {
            report.skip(check::STATUS, subject, PROOFS_ONLY);
        } else {
            report.fail(
                check::STATUS,
                subject,
                Reason::StatusUnknown,
                "no status source: its status entries cannot be checked",
            );
        }
        return;
    };
    for entry in entries {
        if let Err(why) = entry.check() {
            report.fail(check::STATUS, subject, Reason::Malformed, why);
            continue;
        }
        let purpose = entry.status_purpose.as_str();
        if !["revocation", "suspension", "refresh", "message"].contains(&purpose) {
            report.fail(
                check::STATUS,
                subject,
                Reason::StatusUnknown,
                format!("statusPurpose {purpose:.64} is not one this verifier knows"),
            );
            continue;
        }
        let value = match source.status(issuer, entry) {
            Ok(EntryStatus::Clear) => 0,
            Ok(EntryStatus::Set) => 1,
            Ok(EntryStatus::Value(value)) => value,
            Ok(EntryStatus::Stale(why)) => {
                report.fail(check::STATUS, subject, Reason::StatusStale, why);
                continue;
            }
            Err(why) => {
                report.fail(check::STATUS, subject, Reason::StatusUnknown, why);
                continue;
            }
        };
        let said = match entry.message(value) {
            Some(message) => format!(
                "{purpose} {value:#x} in {}: {message:.256}",
                entry.status_list_credential
            ),
            None => format!("{purpose} {value:#x} in {}", entry.status_list_credential),
        };
        match (purpose, value) {
            ("revocation", 0) | ("suspension", 0) | ("refresh", 0) => match source.age(entry) {
                Some(age) => report.pass_with(
                    check::STATUS,
                    subject,
                    format!(
                        "{purpose} clear in {} as signed {age} s ago",
                        entry.status_list_credential
                    ),
                ),
                None => report.pass(check::STATUS, subject),
            },
            ("revocation", _) => report.fail(check::STATUS, subject, Reason::Revoked, said),
            ("suspension", _) => report.fail(check::STATUS, subject, Reason::Suspended, said),
            // Neither a refresh nor a message invalidates: what they say is reported.
            _ => report.pass_with(check::STATUS, subject, said),
        }
    }
}

/// The status checks of `entries`, whose lists must be `issuer`'s, against `verifier`'s status
/// source: what a token resting on them (`crate::oauth`) is rechecked with. No entries fail
/// (`status_missing`): nothing could then be revoked.
pub fn check_status_entries(
    verifier: &Verifier<'_>,
    issuer: &Did,
    entries: &[StatusEntry],
    subject: Option<&str>,
) -> Report {
    let mut report = Report::new();
    check_status(verifier, issuer, entries, subject, true, &mut report);
    report
}

/// Records the status checks of a credential on its chain. Every list of a chain is its root
/// issuer's: the org gives the bits of the credentials delegated below the ones it issued (DESIGN
/// §6), so a list signed by anyone else (a delegating agent's did:key, another org) tells
/// nothing. With no root, the entries cannot be attributed to anyone: skipped, the chain fails.
pub(crate) fn check_chain_status(
    verifier: &Verifier<'_>,
    checked: &Checked,
    root: Option<&AgentCapabilityCredential>,
    report: &mut Report,
) {
    let id = checked.credential.id.to_string();
    match root {
        Some(root) => check_status(
            verifier,
            &root.issuer,
            &checked.credential.credential_status,
            Some(&id),
            true,
            report,
        ),
        None => report.skip(
            check::STATUS,
            Some(&id),
            "no root: the lists of a credential's status are its chain's root issuer's",
        ),
    }
}

/// Records the validity window of an agent credential at `verifier.now`.
fn record_window(
    verifier: &Verifier<'_>,
    credential: &AgentCapabilityCredential,
    subject: Option<&str>,
    report: &mut Report,
) {
    report.record(
        check::VALIDITY,
        subject,
        check_window(
            verifier,
            Some(credential.valid_from),
            Some(credential.valid_until),
        ),
    );
}

/// Records whether `issuer` is trusted for `action`.
fn record_trust(
    verifier: &Verifier<'_>,
    issuer: &Did,
    action: &Action,
    subject: Option<&str>,
    report: &mut Report,
) {
    match verifier.check_trust(issuer, action) {
        Trusted::Yes => report.pass(check::ISSUER_TRUST, subject),
        Trusted::No(why) => report.fail(check::ISSUER_TRUST, subject, Reason::UntrustedIssuer, why),
        Trusted::NotChecked => report.skip(check::ISSUER_TRUST, subject, PROOFS_ONLY),
    }
}

/// Records the checks a chain verified earlier must pass again at each use: each credential's
/// validity window at `verifier.now`, its status (under the chain's root issuer, as
/// [`check_chain_status`]) and the trust of each of its usable capabilities. Proofs, structure
/// and holder do not change: they were checked when the chain was presented.
pub(crate) fn recheck_chain_credential(
    verifier: &Verifier<'_>,
    credential: &AgentCapabilityCredential,
    capabilities: &[Capability],
    root: &AgentCapabilityCredential,
    report: &mut Report,
) {
    let id = credential.id.to_string();
    let subject = Some(id.as_str());
    record_window(verifier, credential, subject, report);
    check_status(
        verifier,
        &root.issuer,
        &credential.credential_status,
        subject,
        true,
        report,
    );
    for (index, capability) in capabilities.iter().enumerate() {
        let label = capability_label(&id, index);
        let subject = Some(label.as_str());
        record_trust(verifier, &root.issuer, &capability.action, subject, report);
    }
}

/// Records the trust checks of a credential's capabilities: each must be attested by `root`'s
/// issuer, or, with no root, cannot be trusted at all.
pub(crate) fn check_capability_trust(
    verifier: &Verifier<'_>,
    checked: &Checked,
    root: Option<&AgentCapabilityCredential>,
    report: &mut Report,
) {
    let id = checked.credential.id.to_string();
    for (index, read) in checked.read.iter().enumerate() {
        let label = capability_label(&id, index);
        let subject = Some(label.as_str());
        let (Some(root), Some(capability)) = (root, read) else {
            let why = match root {
                None => "no root: the credential does not lie on a whole chain",
                Some(_) => "the capability could not be read",
            };
            report.skip(check::ISSUER_TRUST, subject, why);
            continue;
        };
        record_trust(verifier, &root.issuer, &capability.action, subject, report);
    }
}

/// Verifies one `AgentCapabilityCredential` on its own: schema, proof by the issuer, validity
/// window, definition, each capability, issuer trust and status. Returns the report and, when it
/// could be read, the typed credential.
///
/// A root credential can verify alone. A delegated one never does: its trust comes from a root
/// that is not given, so its `chain` check fails (`broken_chain`); verify it in a presentation
/// with its ancestors. A credential alone proves nothing of who holds it: `holder` and `audience`
/// are listed as skipped.
pub fn verify_credential(raw: &Value, verifier: &Verifier<'_>) -> (Report, Option<Checked>) {
    let mut report = Report::new();
    let Some(checked) = check_credential(raw, verifier, "credential", &mut report) else {
        return (report, None);
    };
    let credential = &checked.credential;
    let id = credential.id.to_string();
    let subject = Some(id.as_str());
    let root = match &credential.credential_subject.delegation.parent {
        None => {
            report.pass(check::CHAIN, subject);
            Some(credential)
        }
        Some(parent) => {
            report.fail(
                check::CHAIN,
                subject,
                Reason::BrokenChain,
                format!(
                    "delegated from {parent}: a delegated credential verifies only with its chain, presented with its ancestors"
                ),
            );
            None
        }
    };
    check_capability_trust(verifier, &checked, root, &mut report);
    check_chain_status(verifier, &checked, root, &mut report);
    let not_presented = "a credential alone is not presented: present it to bind it to its holder";
    report.skip(check::HOLDER, subject, not_presented);
    report.skip(check::AUDIENCE, subject, not_presented);
    (report, Some(checked))
}

/// Verifies any W3C VC 2.0 credential that is not an `AgentCapabilityCredential`: the proof, that
/// the issuer made it and that it has not expired, its validity window if it has one, and that the
/// trusted-issuer policy knows its issuer (for any action: such a credential attests none).
pub fn verify_generic_credential(raw: &Value, verifier: &Verifier<'_>) -> Report {
    let mut report = Report::new();
    let subject = raw.get("id").and_then(Value::as_str);
    let time = |name: &str| -> Result<Option<DateTime<Utc>>, (Reason, String)> {
        raw.get(name)
            .map(|v| {
                v.as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .ok_or((Reason::Malformed, format!("{name} is not a date-time")))
            })
            .transpose()
    };
    let (issuer_text, entries) = match read_generic(raw) {
        Ok(read) => read,
        Err(why) => {
            report.fail(check::SCHEMA, subject, Reason::Malformed, why);
            report.skip_all(
                &[
                    check::PROOF,
                    check::VALIDITY,
                    check::STATUS,
                    check::ISSUER_TRUST,
                ],
                subject,
                "the credential could not be read",
            );
            return report;
        }
    };
    report.pass(check::SCHEMA, subject);
    let issuer = Did::parse(issuer_text).ok();
    let proof = match &issuer {
        Some(did) => check_generic_proof(verifier, raw, did),
        // The proof may hold, but nothing ties its key to an issuer that is not a DID.
        None => match proof::verify(raw, Relationship::AssertionMethod, verifier.resolver) {
            Err(e) => Err((proof_reason(&e), e.to_string())),
            Ok(verified) => Err((
                Reason::InvalidProof,
                format!(
                    "the proof is valid, but made by {}, which is not the issuer {}",
                    verified.verification_method.did(),
                    issuer_text.chars().take(128).collect::<String>()
                ),
            )),
        },
    };
    report.record(check::PROOF, subject, proof);
    // VC 1.1 names the window `issuanceDate` and `expirationDate`; both spellings are read, and
    // the narrower window kept: a document cannot widen its window by spelling it twice.
    let window = (|| {
        let from = time("validFrom")?
            .into_iter()
            .chain(time("issuanceDate")?)
            .max();
        let until = time("validUntil")?
            .into_iter()
            .chain(time("expirationDate")?)
            .min();
        Ok((from, until))
    })();
    report.record(
        check::VALIDITY,
        subject,
        window.and_then(|(from, until)| check_window(verifier, from, until)),
    );
    match &issuer {
        Some(did) => check_status(verifier, did, &entries, subject, false, &mut report),
        None => report.skip(check::STATUS, subject, "the issuer is not a DID"),
    }
    let trusted = match (&issuer, verifier.issuers) {
        (_, None) if verifier.danger_proofs_only => None,
        (Some(did), Some(policy)) if policy.knows(did) => Some(Ok(())),
        (Some(did), Some(_)) => Some(Err(format!("{did} is not a trusted issuer"))),
        (None, Some(_)) => Some(Err("an issuer that is not a DID is never trusted".into())),
        (_, None) => Some(Err(
            "no trusted-issuer policy: a verifier that was told nothing trusts nothing".into(),
        )),
    };
    match trusted {
        None => report.skip(check::ISSUER_TRUST, subject, PROOFS_ONLY),
        Some(result) => {
            report.record(
                check::ISSUER_TRUST,
                subject,
                result.map_err(|why| (Reason::UntrustedIssuer, why)),
            );
        }
    }
    report
}

/// The proofs of a generic credential: one, by its issuer; or a set, chains included, every one
/// valid (none expired) and one at least by its issuer — the others may be anyone's (a
/// notary's, a witness's).
fn check_generic_proof(
    verifier: &Verifier<'_>,
    raw: &Value,
    issuer: &Did,
) -> Result<(), (Reason, String)> {
    let several = match raw.get("proof") {
        Some(Value::Array(_)) => true,
        Some(proof) => proof.get("previousProof").is_some(),
        None => false,
    };
    if !several {
        return check_proof(verifier, raw, issuer, Relationship::AssertionMethod).map(|_| ());
    }
    let verified = proof::verify_set(raw, Relationship::AssertionMethod, verifier.resolver)
        .map_err(|e| (proof_reason(&e), e.to_string()))?;
    if let Some(expires) = verified
        .iter()
        .filter_map(|v| v.expires)
        .find(|expires| verifier.now >= *expires)
    {
        return Err((Reason::Expired, format!("a proof expired at {expires}")));
    }
    if verified
        .iter()
        .any(|v| v.verification_method.did() == *issuer)
    {
        Ok(())
    } else {
        Err((
            Reason::InvalidProof,
            format!(
                "none of its {} proofs is by its issuer {issuer}",
                verified.len()
            ),
        ))
    }
}

/// Reads what a generic credential's checks need: its issuer, as written, and its status entries.
/// Under eddsa-rdfc-2022 the proof covers the RDF, not the JSON: a compact or absolute IRI as a
/// key or type, or a value object, would let one signed credential be re-spelled so that this
/// reading misses its `validUntil` or its agent type. Only the plain spelling is read.
fn read_generic(raw: &Value) -> Result<(&str, Vec<StatusEntry>), &'static str> {
    let issuer = raw
        .get("issuer")
        .and_then(|i| i.as_str().or_else(|| i.get("id").and_then(Value::as_str)))
        .ok_or("no issuer")?;
    plain_spelling(raw)?;
    let entries = match raw.get("credentialStatus") {
        None => Ok(Vec::new()),
        Some(Value::Array(list)) => serde_json::from_value(Value::Array(list.clone())),
        Some(one) => serde_json::from_value(one.clone()).map(|entry| vec![entry]),
    };
    match entries {
        Ok(entries) if entries.len() <= MAX_STATUS_ENTRIES => Ok((issuer, entries)),
        _ => Err("credentialStatus is not a list of BitstringStatusListEntry"),
    }
}

/// The most status entries a generic credential may have.
const MAX_STATUS_ENTRIES: usize = 8;

/// Checks that a generic credential is spelled plainly: no key but `@context` is a keyword or an
/// IRI, and no type is an IRI.
pub(crate) fn plain_spelling(raw: &Value) -> Result<(), &'static str> {
    let object = raw.as_object().ok_or("a credential is a JSON object")?;
    if object
        .keys()
        .any(|k| k != "@context" && (k.starts_with('@') || k.contains(':')))
    {
        return Err("a top-level key is a JSON-LD keyword or an IRI; use the plain terms");
    }
    let types: Vec<&Value> = match object.get("type") {
        Some(Value::Array(types)) => types.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    if types
        .iter()
        .any(|t| t.as_str().is_none_or(|t| t.contains(':')))
    {
        return Err("a type is not a plain term");
    }
    Ok(())
}

/// Whether a JSON document claims to be an `AgentCapabilityCredential`, in any spelling: a type
/// that ends in the name (`vouch:…`, the full IRI), or a subject with the agent credential's
/// members. Such a document is read as one, never as a generic credential.
pub fn is_agent_credential(raw: &Value) -> bool {
    let named = |t: &Value| {
        t.as_str()
            .is_some_and(|t| t.ends_with("AgentCapabilityCredential"))
    };
    let typed = match raw.get("type") {
        Some(Value::Array(types)) => types.iter().any(named),
        Some(one) => named(one),
        None => false,
    };
    let subjects: Vec<&Value> = match raw.get("credentialSubject") {
        Some(Value::Array(subjects)) => subjects.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    let shaped = subjects.iter().any(|s| {
        ["agent", "capabilities", "delegation", "renewal"]
            .iter()
            .any(|member| s.get(member).is_some())
    });
    typed || shaped
}
