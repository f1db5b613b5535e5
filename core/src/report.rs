//! Verification reports: one result per check, with the machine-readable reason codes of
//! DESIGN §8, never a bare bool.

use serde::Serialize;

/// Why a check failed (DESIGN §8). Serialized in `snake_case`, the codes partners match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The input does not match the credential or presentation model.
    Malformed,
    /// A signature does not verify, or was made by a key its DID does not authorize.
    InvalidProof,
    /// A DID could not be resolved.
    UnresolvableDid,
    /// The issuer is not trusted for what it attests.
    UntrustedIssuer,
    /// The credential is revoked.
    Revoked,
    /// The credential is suspended.
    Suspended,
    /// The credential's status could not be established.
    StatusUnknown,
    /// The credential or capability has expired.
    Expired,
    /// The credential is not valid yet.
    NotYetValid,
    /// The credential's subject is not the presenter, or a delegation was not issued by the
    /// parent's holder.
    NotHolder,
    /// A delegated or renewed capability exceeds its parent's.
    ScopeExceedsParent,
    /// A request breaks a capability's constraints.
    ConstraintViolated,
    /// The agent's definition hash is not the one expected.
    DefinitionMismatch,
    /// A capability has a constraint Vouch does not know.
    UnknownConstraint,
    /// The presentation answers another challenge, or one already used.
    Replayed,
    /// The presentation was made for another domain.
    DomainMismatch,
    /// A delegation chain is broken: a parent is missing, or ids, principal or task disagree.
    BrokenChain,
    /// A delegation chain is deeper than allowed.
    DepthExceeded,
    /// A renewal breaks the renewal rules.
    RenewalInvalid,
    /// The credential is pinned to another audience.
    AudienceMismatch,
}

impl Reason {
    /// The reason's code, as serialized.
    pub fn code(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The check passed.
    Passed,
    /// The check failed; the report does not verify.
    Failed,
    /// The check was not configured (no trust policy or status source given); it is shown so that
    /// its absence is visible.
    Skipped,
}

/// One check and its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked: `schema`, `proof`, `validity`, `capability`, `issuer_trust`, `status`,
    /// `challenge`, `domain`, `holder`, `chain`, `attenuation`, `renewal`.
    pub check: &'static str,
    /// What it was checked on: a credential id, a capability, a presentation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The result.
    pub outcome: Outcome,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// A human-readable detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The result of verifying a credential or presentation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Whether no check failed.
    pub verified: bool,
    /// Every check, in the order made.
    pub checks: Vec<Check>,
}

impl Report {
    /// An empty report, verified until a check fails.
    pub fn new() -> Self {
        Self {
            verified: true,
            checks: Vec::new(),
        }
    }

    /// Records a passed check.
    pub fn pass(&mut self, check: &'static str, subject: Option<&str>) {
        self.push(check, subject, Outcome::Passed, None, None);
    }

    /// Records a failed check.
    pub fn fail(
        &mut self,
        check: &'static str,
        subject: Option<&str>,
        reason: Reason,
        detail: impl Into<String>,
    ) {
        self.push(
            check,
            subject,
            Outcome::Failed,
            Some(reason),
            Some(detail.into()),
        );
    }

    /// Records a check that was not made, and why.
    pub fn skip(&mut self, check: &'static str, subject: Option<&str>, why: impl Into<String>) {
        self.push(check, subject, Outcome::Skipped, None, Some(why.into()));
    }

    /// Records the result of a check.
    pub fn record(
        &mut self,
        check: &'static str,
        subject: Option<&str>,
        result: Result<(), (Reason, String)>,
    ) -> bool {
        match result {
            Ok(()) => {
                self.pass(check, subject);
                true
            }
            Err((reason, detail)) => {
                self.fail(check, subject, reason, detail);
                false
            }
        }
    }

    fn push(
        &mut self,
        check: &'static str,
        subject: Option<&str>,
        outcome: Outcome,
        reason: Option<Reason>,
        detail: Option<String>,
    ) {
        if outcome == Outcome::Failed {
            self.verified = false;
        }
        self.checks.push(Check {
            check,
            subject: subject.map(str::to_owned),
            outcome,
            reason,
            detail,
        });
    }

    /// Appends another report's checks.
    pub fn merge(&mut self, other: Report) {
        self.verified &= other.verified;
        self.checks.extend(other.checks);
    }

    /// The reasons of the failed checks, in order.
    pub fn reasons(&self) -> Vec<Reason> {
        self.checks.iter().filter_map(|c| c.reason).collect()
    }
}
