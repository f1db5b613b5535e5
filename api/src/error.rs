//! One vocabulary of error codes for everything a Vouch program answers: the reasons a check
//! fails (DESIGN §8, [`Reason`]), the refusals of the node's API and of the wallet daemon, and
//! the faults of HTTP itself. Each code has one HTTP status, whichever endpoint answers it, and
//! one meaning; clients match on the code, people read the message beside it.

use serde::{Deserialize, Serialize};
use vouch_core::report::Reason;

/// Declares [`ErrorCode`] from one table: variant, code, HTTP status, meaning.
macro_rules! codes {
    ($($(#[$attr:meta])* $variant:ident = $code:literal, $status:literal, $meaning:literal;)*) => {
        /// An error code, serialized as its `snake_case` string. A code this build does not know
        /// (from a newer peer) reads as [`ErrorCode::Unknown`], never as an error of its own.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $(
                #[doc = $meaning]
                $(#[$attr])*
                #[serde(rename = $code)]
                $variant,
            )*
            /// A code this build does not know.
            #[serde(other, rename = "unknown")]
            Unknown,
        }

        impl ErrorCode {
            /// Every code, in the order of the table.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code, as serialized.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                    ErrorCode::Unknown => "unknown",
                }
            }

            /// The HTTP status an answer with this code has.
            pub fn status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)*
                    ErrorCode::Unknown => 500,
                }
            }

            /// What the code means, for documentation and for people.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $meaning,)*
                    ErrorCode::Unknown => "A code this build does not know.",
                }
            }
        }
    };
}

codes! {
    // DESIGN §8: why a check failed (`vouch_core::report::Reason`, every one).
    Malformed = "malformed", 400,
        "The input does not match the model it must follow (a credential, a presentation, a request's body).";
    InvalidProof = "invalid_proof", 403,
        "A signature does not verify, or was made by a key its DID does not authorize for it.";
    UnresolvableDid = "unresolvable_did", 403, "A DID could not be resolved.";
    UntrustedIssuer = "untrusted_issuer", 403, "The issuer is not trusted for what it attests.";
    Revoked = "revoked", 409, "The credential is revoked.";
    Suspended = "suspended", 409, "The credential is suspended.";
    StatusUnknown = "status_unknown", 409,
        "The credential's status could not be established (its list is not held or could not be read).";
    StatusStale = "status_stale", 409,
        "The status list is too old to tell: past its validUntil, or older than the verifier accepts.";
    Expired = "expired", 409, "The credential, capability or approval has expired.";
    NotYetValid = "not_yet_valid", 409, "The credential is not valid yet.";
    NotHolder = "not_holder", 403,
        "The credential's subject is not the presenter, or a delegation was not issued by the parent's holder.";
    ScopeExceedsParent = "scope_exceeds_parent", 409,
        "A delegated or renewed capability exceeds its parent's.";
    ConstraintViolated = "constraint_violated", 409, "A request breaks a capability's constraints.";
    DefinitionMismatch = "definition_mismatch", 409,
        "The agent's definition hash is not the one expected.";
    UnknownConstraint = "unknown_constraint", 409, "A capability has a constraint Vouch does not know.";
    NotGranted = "not_granted", 409,
        "No capability of the chains asked for covers the requested action on the resource.";
    Replayed = "replayed", 403,
        "The presentation answers another challenge, or one already used; or the exchange was answered already.";
    DomainMismatch = "domain_mismatch", 403, "The presentation was made for another domain.";
    BrokenChain = "broken_chain", 409,
        "A delegation chain is broken: a parent is missing, or ids, principal or task disagree.";
    DepthExceeded = "depth_exceeded", 409, "A delegation chain is deeper than allowed.";
    RenewalInvalid = "renewal_invalid", 409, "A renewal breaks the renewal rules.";
    AudienceMismatch = "audience_mismatch", 409, "The credential is pinned to another audience.";
    RequestMismatch = "request_mismatch", 403,
        "The presentation answers another request than the one decided: changed on the way, or made for another exchange.";
    StatusMissing = "status_missing", 409,
        "The credential carries no status entry: it could never be revoked or suspended, so it is not taken.";
    NeedsApproval = "needs_approval", 409,
        "The capability permits the request only with its owner's approval of this exact request: ask the agent's org for one.";

    // The node's API and the wallet daemon: refusals of what was asked.
    NotFound = "not_found", 404, "Nothing is known by that name or path.";
    BadRequest = "bad_request", 400,
        "The request could not be read: its body, query or a header is not what the endpoint takes.";
    TooLarge = "too_large", 413, "The request (or a line of the daemon's protocol) is larger than allowed.";
    TooMany = "too_many", 413,
        "A bound on what is kept was reached (pending approvals, passkeys, levels of one revocation).";
    LengthRequired = "length_required", 411, "The request has a body without a Content-Length.";
    UnsupportedMediaType = "unsupported_media_type", 415, "The body is not of a media type the endpoint takes.";
    MethodNotAllowed = "method_not_allowed", 405, "The path does not take that method (Allow names those it takes).";
    UriTooLong = "uri_too_long", 414, "The request's target is longer than allowed.";
    Unauthorized = "unauthorized", 401, "The admin token is missing or wrong.";
    TooManyRequests = "too_many_requests", 429,
        "This client's share is used up: ask again after Retry-After.";
    Busy = "busy", 503,
        "The node or wallet is at its bound of work or memory for everyone: ask again after Retry-After.";
    Internal = "internal", 500, "The node or wallet failed; its cause is logged, never answered.";
    Refused = "refused", 403,
        "The wallet daemon refused the operation; the message says why, and `reason` when a check failed.";
    Conflict = "conflict", 409,
        "The node's state does not allow it: its org's document names no key it holds, or an amendment is for another state of the consortium.";
    Duplicate = "duplicate", 409, "It exists already (a credential id issued, a passkey registered).";
    AlreadyBound = "already_bound", 409, "The instance is bound to another definition.";
    AlreadyRegistered = "already_registered", 409, "The delegation is registered already.";
    AlreadyLifted = "already_lifted", 409, "The suspension was lifted already.";
    NoOwner = "no_owner", 409, "The agent has no registered owner, or its owner no way to approve.";
    NoPasskey = "no_passkey", 409, "The owner has no passkey to approve with.";
    PasskeysUnavailable = "passkeys_unavailable", 501,
        "This node has no passkeys: its public URL is not a domain name.";
    NodeUnreachable = "node_unreachable", 502,
        "The wallet's node could not be reached, or answered something that is not what its route answers.";
    PeerFailed = "peer_failed", 502,
        "The peer instance did not judge the message through no fault of this side (it could not write its audit log): nothing was given or taken.";

    // The node's DID registry, consortium and network.
    InvalidDid = "invalid_did", 400, "The DID is not a DID.";
    InvalidOperation = "invalid_operation", 422, "The did:vouch operation is not valid on its log.";
    Removed = "removed", 409, "The member was removed from the consortium.";
    Deactivated = "deactivated", 409, "The DID is deactivated.";
    InvalidChange = "invalid_change", 422, "The membership change is not one the consortium can make.";
    InvalidAmendment = "invalid_amendment", 422, "The amendment is not valid on the consortium's history.";
    NoConsortium = "no_consortium", 404, "This node is in no consortium.";
    NoNetwork = "no_network", 409, "This node runs without a network.";
    EmptyLog = "empty_log", 409, "The audit log has no entry to sign a checkpoint over.";
}

impl From<Reason> for ErrorCode {
    fn from(reason: Reason) -> Self {
        match reason {
            Reason::Malformed => Self::Malformed,
            Reason::InvalidProof => Self::InvalidProof,
            Reason::UnresolvableDid => Self::UnresolvableDid,
            Reason::UntrustedIssuer => Self::UntrustedIssuer,
            Reason::Revoked => Self::Revoked,
            Reason::Suspended => Self::Suspended,
            Reason::StatusUnknown => Self::StatusUnknown,
            Reason::StatusStale => Self::StatusStale,
            Reason::Expired => Self::Expired,
            Reason::NotYetValid => Self::NotYetValid,
            Reason::NotHolder => Self::NotHolder,
            Reason::ScopeExceedsParent => Self::ScopeExceedsParent,
            Reason::ConstraintViolated => Self::ConstraintViolated,
            Reason::DefinitionMismatch => Self::DefinitionMismatch,
            Reason::UnknownConstraint => Self::UnknownConstraint,
            Reason::NotGranted => Self::NotGranted,
            Reason::Replayed => Self::Replayed,
            Reason::DomainMismatch => Self::DomainMismatch,
            Reason::BrokenChain => Self::BrokenChain,
            Reason::DepthExceeded => Self::DepthExceeded,
            Reason::RenewalInvalid => Self::RenewalInvalid,
            Reason::AudienceMismatch => Self::AudienceMismatch,
            Reason::RequestMismatch => Self::RequestMismatch,
            Reason::StatusMissing => Self::StatusMissing,
            Reason::NeedsApproval => Self::NeedsApproval,
        }
    }
}

impl ErrorCode {
    /// The DESIGN §8 reason this code is, when it is one (a check's failure, not a refusal of
    /// the API's).
    pub fn reason(self) -> Option<Reason> {
        // Reason's serde form is its code: the one spelling both share.
        serde_json::from_value(serde_json::Value::from(self.as_str())).ok()
    }

    /// The code spelled `code`, or [`ErrorCode::Unknown`].
    pub fn parse(code: &str) -> Self {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|known| known.as_str() == code)
            .unwrap_or(ErrorCode::Unknown)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The media type of a [`Problem`].
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem object, as the node answers every error outside DID resolution, with
/// Vouch's `code` and `message` members (which older clients read) beside `status` and `detail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Problem {
    /// `about:blank`: the status says what kind of problem it is, `code` which.
    #[serde(rename = "type", default = "about_blank")]
    #[schemars(schema_with = "about_blank_only")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    /// The HTTP status: the code's.
    pub status: u16,
    /// What went wrong, for people; the same as `message`.
    pub detail: String,
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// What went wrong, for people (kept for clients that read it).
    pub message: String,
}

fn about_blank() -> String {
    "about:blank".into()
}

fn about_blank_only(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "string", "const": "about:blank"})
}

impl Problem {
    /// A problem with `code`, its status and `message`; `title` is the status's reason phrase.
    pub fn new(code: ErrorCode, title: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            kind: about_blank(),
            title: title.into(),
            status: code.status(),
            detail: message.clone(),
            code,
            message,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reason of DESIGN §8 is a code of the same spelling, and every code reads back as
    /// itself: a code renamed on one side fails here.
    #[test]
    fn every_reason_is_a_code_and_every_code_reads_back() {
        let mut reasons = 0;
        for code in ErrorCode::ALL {
            let text = serde_json::to_value(code).expect("a code serializes");
            assert_eq!(text, code.as_str());
            assert_eq!(serde_json::from_value::<ErrorCode>(text).ok(), Some(*code));
            assert!((400..600).contains(&code.status()), "{code}");
            if let Ok(reason) = serde_json::from_value::<Reason>(code.as_str().into()) {
                assert_eq!(ErrorCode::from(reason), *code);
                assert_eq!(reason.as_str(), code.as_str());
                reasons += 1;
            }
        }
        // `From<Reason>` is exhaustive: each of the 25 reasons has its code, spelled alike.
        assert_eq!(reasons, 25);
        let mut seen = std::collections::HashSet::new();
        assert!(
            ErrorCode::ALL.iter().all(|c| seen.insert(c.as_str())),
            "a code twice"
        );
        assert_eq!(
            serde_json::from_value::<ErrorCode>("from_a_newer_node".into()).ok(),
            Some(ErrorCode::Unknown)
        );
    }

    #[test]
    fn a_problem_reads_back_and_carries_its_codes_status() {
        let problem = Problem::new(ErrorCode::Busy, "Service Unavailable", "ask again in 1 s");
        assert_eq!(problem.status, 503);
        let text = serde_json::to_string(&problem).expect("a problem serializes");
        assert_eq!(serde_json::from_str::<Problem>(&text).ok(), Some(problem));
    }
}
