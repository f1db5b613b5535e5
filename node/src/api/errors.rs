//! Errors of the API outside resolution: one rejection type, one handler, and RFC 9457 problem
//! objects (`application/problem+json`) that keep the `code` and `message` members older clients
//! read. Client faults are logged at DEBUG, failures of the node at ERROR; internal details are
//! logged, never returned.

use std::convert::Infallible;

use serde::Serialize;
use tracing::{debug, error};
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Rejection, Reply};

use vouch_core::did::ResolveError;

use crate::datadir;
use crate::issuer::IssuerError;
use crate::org::OrgError;
use crate::registry::RegistryError;
use crate::status_lists::StatusListError;

/// The media type of an RFC 9457 problem object.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An API error: an HTTP status and a stable code, with a message for people.
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// When to ask again, in seconds (`Retry-After`), for a refusal that passes with time.
    retry_after: Option<u64>,
}

impl warp::reject::Reject for ApiError {}

/// A rejection with a status, a stable code and a message.
pub(super) fn reject(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> Rejection {
    warp::reject::custom(ApiError {
        status,
        code,
        message: message.into(),
        retry_after: None,
    })
}

/// The node is at its bound of work or memory for anyone (`what`): `503` with `Retry-After`.
pub(super) fn busy(wait: std::time::Duration, what: &str) -> Rejection {
    let seconds = wait.as_secs().max(1);
    warp::reject::custom(ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: "busy",
        message: format!("{what}: ask again in {seconds} s"),
        retry_after: Some(seconds),
    })
}

/// A client beyond its share: `429` with `Retry-After` (RFC 6585 §4), in whole seconds, at
/// least one.
pub(super) fn too_many(wait: std::time::Duration) -> Rejection {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    warp::reject::custom(ApiError {
        status: StatusCode::TOO_MANY_REQUESTS,
        code: "too_many_requests",
        message: format!("this client's share is used up: ask again in {seconds} s"),
        retry_after: Some(seconds.max(1)),
    })
}

/// A failure of the node itself: logged with its cause, answered without it.
pub(super) fn internal(error: impl std::fmt::Display) -> Rejection {
    error!(%error, "node failure");
    reject(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error",
    )
}

/// An RFC 9457 problem object, with Vouch's `code` and `message` members.
#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
    message: &'a str,
}

/// An error answer: a problem object with its status.
pub(super) fn problem(status: StatusCode, code: &str, message: &str) -> Response {
    let body = Problem {
        kind: "about:blank",
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        detail: message,
        code,
        message,
    };
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
        ["1.0", "credentials" | "presentations", "verify"] => Some("POST"),
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
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
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
        let mut response = problem(e.status, e.code, &e.message);
        if let Some(seconds) = e.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        return Ok(response);
    }
    let (status, code, message) = if rejection.is_not_found() {
        (StatusCode::NOT_FOUND, "not_found", "no such endpoint")
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the body is too large",
        )
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        (
            StatusCode::LENGTH_REQUIRED,
            "length_required",
            "send the body's Content-Length",
        )
    } else if rejection
        .find::<warp::filters::body::BodyDeserializeError>()
        .is_some()
    {
        (
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the body is not what this endpoint takes",
        )
    } else if rejection.find::<warp::reject::InvalidQuery>().is_some() {
        (StatusCode::BAD_REQUEST, "bad_request", "invalid query")
    } else if rejection.find::<warp::reject::MissingHeader>().is_some()
        || rejection.find::<warp::reject::InvalidHeader>().is_some()
    {
        (
            StatusCode::BAD_REQUEST,
            "bad_request",
            "a header is missing or invalid",
        )
    } else if rejection
        .find::<warp::reject::UnsupportedMediaType>()
        .is_some()
    {
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send JSON",
        )
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        // Last: beside another rejection it only says that a route of the same path takes
        // another method (GET and POST /admin/agents); the other one is the answer.
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed",
        )
    } else {
        error!(?rejection, "unhandled rejection");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    };
    debug!(%status, code, "request refused");
    Ok(problem(status, code, message))
}

/// The HTTP status of a refusal's code.
fn status_of(code: &str) -> StatusCode {
    match code {
        "malformed" => StatusCode::BAD_REQUEST,
        "untrusted_issuer" | "invalid_proof" | "not_holder" | "replayed" | "domain_mismatch"
        | "unresolvable_did" | "request_mismatch" => StatusCode::FORBIDDEN,
        "busy" => StatusCode::SERVICE_UNAVAILABLE,
        "too_many" => StatusCode::PAYLOAD_TOO_LARGE,
        "internal" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::CONFLICT,
    }
}

pub(super) fn issuer_error(error: IssuerError) -> Rejection {
    match error {
        IssuerError::Refused(refusal) => {
            reject(status_of(refusal.code), refusal.code, refusal.message)
        }
        IssuerError::NotFound(what) => reject(StatusCode::NOT_FOUND, "not_found", what),
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
            reject(StatusCode::CONFLICT, "conflict", e.to_string())
        }
        OrgError::Unresolvable(e @ ResolveError::Deactivated(_)) => {
            reject(StatusCode::CONFLICT, "deactivated", e.to_string())
        }
        OrgError::Registry(e @ RegistryError::Removed { .. }) => {
            reject(StatusCode::CONFLICT, "removed", e.to_string())
        }
        OrgError::Did(e) | OrgError::Registry(RegistryError::Invalid(e)) => reject(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_operation",
            e.to_string(),
        ),
        e => internal(e),
    }
}
