//! Errors of the API outside resolution: one rejection type, one handler, and RFC 9457 problem
//! objects (`application/problem+json`) that keep the `code` and `message` members older clients
//! read. Client faults are logged at DEBUG, failures of the node at ERROR; internal details are
//! logged, never returned.

use std::convert::Infallible;

use tracing::{debug, error};
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Rejection, Reply};

use vouch_api::{ErrorCode, Problem};
use vouch_core::did::ResolveError;

use crate::datadir;
use crate::issuer::IssuerError;
use crate::org::OrgError;
use crate::registry::RegistryError;
use crate::status_lists::StatusListError;

pub use vouch_api::error::PROBLEM_JSON;

/// An API error: a code of the one vocabulary (its HTTP status with it), with a message for
/// people.
#[derive(Debug)]
pub(super) struct ApiError {
    code: ErrorCode,
    message: String,
    /// When to ask again, in seconds (`Retry-After`), for a refusal that passes with time.
    retry_after: Option<u64>,
}

impl warp::reject::Reject for ApiError {}

/// A rejection with a code (and so its status) and a message.
pub(super) fn reject(code: ErrorCode, message: impl Into<String>) -> Rejection {
    warp::reject::custom(ApiError {
        code,
        message: message.into(),
        retry_after: None,
    })
}

/// The node is at its bound of work or memory for anyone (`what`): `503` with `Retry-After`.
pub(super) fn busy(wait: std::time::Duration, what: &str) -> Rejection {
    let seconds = wait.as_secs().max(1);
    warp::reject::custom(ApiError {
        code: ErrorCode::Busy,
        message: format!("{what}: ask again in {seconds} s"),
        retry_after: Some(seconds),
    })
}

/// A client beyond its share: `429` with `Retry-After` (RFC 6585 §4), in whole seconds, at
/// least one.
pub(super) fn too_many(wait: std::time::Duration) -> Rejection {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    warp::reject::custom(ApiError {
        code: ErrorCode::TooManyRequests,
        message: format!("this client's share is used up: ask again in {seconds} s"),
        retry_after: Some(seconds.max(1)),
    })
}

/// A failure of the node itself: logged with its cause, answered without it.
pub(super) fn internal(error: impl std::fmt::Display) -> Rejection {
    error!(%error, "node failure");
    reject(ErrorCode::Internal, "internal error")
}

/// An error answer: a problem object with its code's status.
pub(super) fn problem(code: ErrorCode, message: &str) -> Response {
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = Problem::new(code, status.canonical_reason().unwrap_or("Error"), message);
    let mut response = warp::reply::with_status(
        serde_json::to_vec(&body).expect("a problem always serializes"),
        status,
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

/// The methods a path of this API takes, if it is one of its paths.
pub(super) fn allowed_methods(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let nonempty = |s: &&str| !s.is_empty();
    match segments.as_slice() {
        ["health"] | ["metrics"] => Some("GET"),
        ["1.0", "identifiers", did] if nonempty(did) => Some("GET"),
        ["1.0", "status-lists", did, name] if nonempty(did) && nonempty(name) => Some("GET"),
        [
            "admin",
            "did",
            "operations" | "update" | "rotate" | "deactivate",
        ] => Some("POST"),
        ["admin", "status-lists", name] if nonempty(name) => Some("POST"),
        ["admin", "peers", "refuse" | "admit"] => Some("POST"),
        ["admin", "audit", "checkpoint"] => Some("POST"),
        [
            "1.0",
            "credentials" | "presentations" | "requests",
            "verify",
        ] => Some("POST"),
        [".well-known", "oauth-authorization-server"] | ["1.0", "oauth", "jwks"] => Some("GET"),
        ["1.0", "oauth", "token" | "introspect" | "events"] => Some("POST"),
        ["credentials" | "presentations", "verify"] | ["credentials", "issue"] => Some("POST"),
        ["admin", "consortium"] => Some("GET"),
        ["admin", "consortium", "proposals" | "signatures"] => Some("POST"),
        ["admin", "agents"] => Some("GET, POST"),
        ["admin", "agents", did, "instances"] if nonempty(did) => Some("POST"),
        ["admin", "credentials" | "revocations" | "suspensions"] => Some("POST"),
        ["admin", "credentials", id] if nonempty(id) => Some("GET"),
        ["admin", "suspensions", id, "lift"] if nonempty(id) => Some("POST"),
        ["1.0", "challenges" | "delegations" | "renewals"] => Some("POST"),
        ["1.0", "revocations" | "trust"] => Some("GET"),
        ["1.0", "exchanges"] => Some("POST"),
        ["1.0", "approvals"] | ["1.0", "passkeys", "enrolments"] => Some("POST"),
        ["1.0", "approvals", id] if nonempty(id) => Some("GET"),
        ["1.0", "approvals", id, "decision" | "passkey"] if nonempty(id) => Some("POST"),
        ["1.0", "approvals", id, "passkey", c] if nonempty(id) && nonempty(c) => Some("POST"),
        ["1.0", "passkeys", "enrolments", c] if nonempty(c) => Some("POST"),
        ["admin", "owners"] => Some("POST"),
        ["owners", "enrol"] | ["assets", "passkey.js" | "vouch.css"] => Some("GET"),
        ["approve", id] if nonempty(id) => Some("GET"),
        ["1.0", "exchanges", id] if nonempty(id) => Some("GET, POST"),
        [
            "1.0",
            "audit",
            "checkpoint" | "entries" | "witnessed" | "evidence",
        ] => Some("GET"),
        ["1.0", "audit", "proof", "inclusion" | "consistency"] => Some("GET"),
        _ => None,
    }
}

/// A `405` with the `Allow` header of the path.
pub(super) fn method_not_allowed(allow: &'static str) -> Response {
    let mut response = problem(
        ErrorCode::MethodNotAllowed,
        &format!("this path takes {allow}"),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// The one rejection handler: every rejection becomes a problem object with its status.
pub async fn rejection(rejection: Rejection) -> Result<Response, Infallible> {
    if let Some(e) = rejection.find::<ApiError>() {
        let mut response = problem(e.code, &e.message);
        if let Some(seconds) = e.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        return Ok(response);
    }
    let (code, message) = if rejection.is_not_found() {
        (ErrorCode::NotFound, "no such endpoint")
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        (ErrorCode::TooLarge, "the body is too large")
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        (ErrorCode::LengthRequired, "send the body's Content-Length")
    } else if rejection
        .find::<warp::filters::body::BodyDeserializeError>()
        .is_some()
    {
        (
            ErrorCode::BadRequest,
            "the body is not what this endpoint takes",
        )
    } else if rejection.find::<warp::reject::InvalidQuery>().is_some() {
        (ErrorCode::BadRequest, "invalid query")
    } else if rejection.find::<warp::reject::MissingHeader>().is_some()
        || rejection.find::<warp::reject::InvalidHeader>().is_some()
    {
        (ErrorCode::BadRequest, "a header is missing or invalid")
    } else if rejection
        .find::<warp::reject::UnsupportedMediaType>()
        .is_some()
    {
        (ErrorCode::UnsupportedMediaType, "send JSON")
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        // Last: beside another rejection it only says that a route of the same path takes
        // another method (GET and POST /admin/agents); the other one is the answer.
        (ErrorCode::MethodNotAllowed, "method not allowed")
    } else {
        error!(?rejection, "unhandled rejection");
        (ErrorCode::Internal, "internal error")
    };
    debug!(%code, "request refused");
    Ok(problem(code, message))
}

pub(super) fn issuer_error(error: IssuerError) -> Rejection {
    match error {
        // A refusal the issuer counts as its own failure: logged, never answered.
        IssuerError::Refused(refusal) if refusal.code == ErrorCode::Internal => {
            internal(refusal.message)
        }
        IssuerError::Refused(refusal) => reject(refusal.code, refusal.message),
        IssuerError::NotFound(what) => reject(ErrorCode::NotFound, what),
        // A deactivated org DID, or one whose keys the node does not hold: nothing can be
        // signed, and the operator made it so.
        IssuerError::Org(e) | IssuerError::StatusLists(StatusListError::Org(e)) => org_error(e),
        other => internal(other),
    }
}

/// An operation on the org's DID that failed: the client's doing (a deactivated DID, a document
/// the method refuses) or the node's.
pub(super) fn org_error(error: OrgError) -> Rejection {
    match error {
        // The org's document names no key this node holds (set so through the admin API): a
        // state the operator made, not a failure of the node.
        OrgError::Keys(e @ datadir::DataDirError::NoKey(_)) => {
            reject(ErrorCode::Conflict, e.to_string())
        }
        OrgError::Unresolvable(e @ ResolveError::Deactivated(_)) => {
            reject(ErrorCode::Deactivated, e.to_string())
        }
        OrgError::Registry(e @ RegistryError::Removed { .. }) => {
            reject(ErrorCode::Removed, e.to_string())
        }
        OrgError::Did(e) | OrgError::Registry(RegistryError::Invalid(e)) => {
            reject(ErrorCode::InvalidOperation, e.to_string())
        }
        e => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issuer::Refusal;

    fn refused(error: IssuerError) -> (ErrorCode, String) {
        let rejection = issuer_error(error);
        let found = rejection.find::<ApiError>().expect("an API error");
        (found.code, found.message.clone())
    }

    /// A refusal the issuer counts as its own failure is answered without its cause (a path, a
    /// store error): the cause is logged, never sent.
    #[test]
    fn an_internal_failure_is_answered_without_its_cause() {
        let cause = "/var/lib/vouch/store: Corruption: block checksum mismatch";
        let (code, message) = refused(IssuerError::Refused(Refusal::new(
            ErrorCode::Internal,
            cause,
        )));
        assert_eq!(
            (code, message.as_str()),
            (ErrorCode::Internal, "internal error")
        );
        // Any other refusal says what it is about.
        let (code, message) = refused(IssuerError::Refused(Refusal::new(
            ErrorCode::AlreadyLifted,
            "s-1 is lifted",
        )));
        assert_eq!(
            (code, message.as_str()),
            (ErrorCode::AlreadyLifted, "s-1 is lifted")
        );
    }

    /// The answer's status is its code's, whichever way the rejection was made.
    #[test]
    fn a_problem_has_its_codes_status() {
        for code in ErrorCode::ALL {
            let response = problem(*code, "x");
            assert_eq!(response.status().as_u16(), code.status(), "{code}");
        }
        assert_eq!(
            method_not_allowed("GET").status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
