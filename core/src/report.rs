//! Verification reports: one result per check, with the machine-readable reason codes of
//! DESIGN §8, never a bare bool.

use serde::{Deserialize, Serialize};

/// Why a check failed (DESIGN §8). Serialized in `snake_case`, the codes partners match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// The status list used is too old to tell: past its `validUntil`, or older than the
    /// verifier accepts.
    StatusStale,
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
    /// No capability of a chain the verifier asked for covers the requested action on the
    /// resource.
    NotGranted,
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
    /// The presentation answers another request than the one decided: the capabilities, their
    /// arguments, the query, the domain or the verifier were changed on the way, or it was made
    /// for another exchange.
    RequestMismatch,
    /// The credential carries no status entry: it could never be revoked or suspended, so it is
    /// not taken (a delegation made by hand and never registered with its org's node).
    StatusMissing,
    /// A capability permits the request only with its owner's approval of this exact request,
    /// and no valid, unused approval was presented: ask the agent's org for one.
    NeedsApproval,
}

impl Reason {
    /// The reason's code, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::InvalidProof => "invalid_proof",
            Reason::UnresolvableDid => "unresolvable_did",
            Reason::UntrustedIssuer => "untrusted_issuer",
            Reason::Revoked => "revoked",
            Reason::Suspended => "suspended",
            Reason::StatusUnknown => "status_unknown",
            Reason::StatusStale => "status_stale",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::NotHolder => "not_holder",
            Reason::ScopeExceedsParent => "scope_exceeds_parent",
            Reason::ConstraintViolated => "constraint_violated",
            Reason::DefinitionMismatch => "definition_mismatch",
            Reason::UnknownConstraint => "unknown_constraint",
            Reason::Replayed => "replayed",
            Reason::DomainMismatch => "domain_mismatch",
            Reason::BrokenChain => "broken_chain",
            Reason::DepthExceeded => "depth_exceeded",
            Reason::RenewalInvalid => "renewal_invalid",
            Reason::AudienceMismatch => "audience_mismatch",
            Reason::RequestMismatch => "request_mismatch",
            Reason::StatusMissing => "status_missing",
            Reason::NeedsApproval => "needs_approval",
            Reason::NotGranted => "not_granted",
        }
    }

    /// The reason's code, as serialized, owned.
    pub fn code(self) -> String {
        self.as_str().to_owned()
    }
}

/// The names of the checks, as reports show them and partners match on them.
pub mod check {
    /// The input has the credential's or presentation's form.
    pub const SCHEMA: &str = "schema";
    /// Its proof verifies, made by its issuer (or, for a presentation, its holder).
    pub const PROOF: &str = "proof";
    /// It is within its validity window.
    pub const VALIDITY: &str = "validity";
    /// The agent's definition is the one the verifier expects.
    pub const DEFINITION: &str = "definition";
    /// A capability is well-formed and has only known constraints.
    pub const CAPABILITY: &str = "capability";
    /// The chain's root issuer is trusted for a capability's action.
    pub const ISSUER_TRUST: &str = "issuer_trust";
    /// Neither revoked nor suspended.
    pub const STATUS: &str = "status";
    /// The credential lies on a whole delegation chain from a root, every link attenuated.
    pub const CHAIN: &str = "chain";
    /// The credential is bound to who presents it (a leaf) or to who delegated from it.
    pub const HOLDER: &str = "holder";
    /// The credential may be presented to this verifier's domain.
    pub const AUDIENCE: &str = "audience";
    /// The credential keeps the renewal rules it can be checked against alone.
    pub const RENEWAL: &str = "renewal";
    /// The presentation answers this verifier's challenge.
    pub const CHALLENGE: &str = "challenge";
    /// The presentation was made for this verifier's domain.
    pub const DOMAIN: &str = "domain";

    /// Every check a report makes on each credential, whatever happens: one that could not be
    /// made is recorded as skipped, with why.
    pub const CREDENTIAL: [&str; 9] = [
        SCHEMA, PROOF, VALIDITY, RENEWAL, DEFINITION, STATUS, CHAIN, HOLDER, AUDIENCE,
    ];
    /// Every check a report makes on each capability of a credential it could read.
    pub const CAPABILITY_CHECKS: [&str; 2] = [CAPABILITY, ISSUER_TRUST];
    /// Every check a report makes on the presentation itself.
    pub const PRESENTATION: [&str; 4] = [SCHEMA, PROOF, CHALLENGE, DOMAIN];
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

    /// Records a passed check, with what it found.
    pub fn pass_with(&mut self, check: &'static str, subject: Option<&str>, detail: String) {
        self.push(check, subject, Outcome::Passed, None, Some(detail));
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

    /// Records each of `checks` as skipped, because of one cause.
    pub fn skip_all(&mut self, checks: &[&'static str], subject: Option<&str>, why: &str) {
        for check in checks {
            self.skip(check, subject, why);
        }
    }

    /// Whether a check of this name was recorded on this subject.
    pub fn has(&self, check: &str, subject: Option<&str>) -> bool {
        self.checks
            .iter()
            .any(|c| c.check == check && c.subject.as_deref() == subject)
    }

    /// Appends another report's checks.
    pub fn merge(&mut self, other: Report) {
        self.verified &= other.verified;
        self.checks.extend(other.checks);
    }

    /// The report as a verifier that was asked for `asked` checks only gives it (the VC API's
    /// `options.checks`): every other check but `schema` — a document that cannot be read is
    /// never verified — is shown as not asked, whatever it found, and counts for nothing.
    pub fn only(self, asked: &[&str]) -> Report {
        let mut only = Report::new();
        for check in self.checks {
            if check.check == check::SCHEMA || asked.contains(&check.check) {
                only.push(
                    check.check,
                    check.subject.as_deref(),
                    check.outcome,
                    check.reason,
                    check.detail,
                );
            } else {
                let found = match (check.outcome, &check.reason) {
                    (Outcome::Failed, Some(reason)) => {
                        format!("it would have failed: {}", reason.as_str())
                    }
                    (Outcome::Passed, _) => "it would have passed".to_owned(),
                    _ => "it was not made either".to_owned(),
                };
                only.skip(
                    check.check,
                    check.subject.as_deref(),
                    format!("not asked (options.checks); {found}"),
                );
            }
        }
        only
    }

    /// The reasons of the failed checks, in order.
    pub fn reasons(&self) -> Vec<Reason> {
        self.checks.iter().filter_map(|c| c.reason).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_restricted_to_the_checks_asked_counts_only_them_and_the_schema() {
        let mut report = Report::new();
        report.pass(check::SCHEMA, None);
        report.pass(check::PROOF, None);
        report.fail(check::VALIDITY, None, Reason::Expired, "ended");
        assert!(!report.verified);
        let only = report.clone().only(&[check::PROOF]);
        assert!(only.verified);
        assert_eq!(only.checks[2].outcome, Outcome::Skipped);
        assert!(
            only.checks[2]
                .detail
                .as_deref()
                .unwrap()
                .contains("expired")
        );
        assert!(!report.clone().only(&[check::VALIDITY]).verified);
        // The schema always counts.
        let mut unreadable = Report::new();
        unreadable.fail(check::SCHEMA, None, Reason::Malformed, "no issuer");
        assert!(!unreadable.only(&[check::PROOF]).verified);
    }

    #[test]
    fn every_code_is_the_serialized_reason() {
        for code in [
            "malformed",
            "invalid_proof",
            "unresolvable_did",
            "untrusted_issuer",
            "revoked",
            "suspended",
            "status_unknown",
            "status_stale",
            "expired",
            "not_yet_valid",
            "not_holder",
            "scope_exceeds_parent",
            "constraint_violated",
            "definition_mismatch",
            "unknown_constraint",
            "replayed",
            "domain_mismatch",
            "broken_chain",
            "depth_exceeded",
            "renewal_invalid",
            "audience_mismatch",
            "not_granted",
        ] {
            let reason: Reason = serde_json::from_value(serde_json::json!(code)).expect(code);
            assert_eq!(reason.as_str(), code);
            assert_eq!(serde_json::to_value(reason).expect("serializes"), code);
        }
    }
}
