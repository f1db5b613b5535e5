//! The HTTP API (warp): the only module that knows HTTP.
//!
//! - `GET /1.0/identifiers/{did}`: DID resolution in the DIF Universal Resolver's form, with
//!   `versionId` / `versionTime` and `Accept` negotiation. Its errors are resolution results with
//!   the DID Resolution error codes and their HTTP statuses.
//! - `GET /health`, and `GET /metrics` (OpenMetrics text).
//! - `POST /admin/did/operations`: submit a signed did:vouch operation; behind the bearer token.
//!
//! Every other error goes through [`rejection`], one handler with a stable body
//! `{"code", "message"}`; internal details are logged, never returned.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tracing::{Instrument, debug, error, info_span, warn};
use vouch_core::did::vouch::{Applied, MAX_OPERATION_BYTES, Operation, VersionSelector};
use vouch_core::did::{Did, ResolveError};
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::net::Network;
use crate::registry::{Registry, RegistryError};

/// The media type of a DID resolution result.
pub const DID_RESOLUTION: &str = "application/did-resolution";
/// The media type of a DID document in JSON-LD.
pub const DID_LD_JSON: &str = "application/did+ld+json";
/// The media type of a DID document in plain JSON.
pub const DID_JSON: &str = "application/did+json";

/// What the HTTP handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The DIDs.
    pub registry: Registry,
    /// The network, to gossip what the admin API accepts; `None` for a node alone.
    pub network: Option<Network>,
    /// SHA-256 of the admin bearer token; `None` when admin authentication is disabled
    /// (`danger_disable_admin_auth`). Only the hash is kept, and compared, so the comparison says
    /// nothing about the token.
    pub admin_token_hash: Option<[u8; 32]>,
}

impl ApiState {
    /// Hashes a bearer token for [`ApiState::admin_token_hash`].
    pub fn hash_token(token: &str) -> [u8; 32] {
        Sha256::digest(token.trim().as_bytes()).into()
    }
}

/// An API error: an HTTP status and a stable code, with a message for people.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl warp::reject::Reject for ApiError {}

fn reject(status: StatusCode, code: &'static str, message: impl Into<String>) -> Rejection {
    warp::reject::custom(ApiError {
        status,
        code,
        message: message.into(),
    })
}

/// The body of every error outside resolution.
#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

fn error_reply(status: StatusCode, code: &str, message: &str) -> Response {
    warp::reply::with_status(warp::reply::json(&ErrorBody { code, message }), status)
        .into_response()
}

/// The one rejection handler: every rejection becomes `{"code", "message"}` with its status.
pub async fn rejection(rejection: Rejection) -> Result<Response, Infallible> {
    if let Some(e) = rejection.find::<ApiError>() {
        return Ok(error_reply(e.status, e.code, &e.message));
    }
    let (status, code, message) = if rejection.is_not_found() {
        (StatusCode::NOT_FOUND, "not_found", "no such endpoint")
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the body is too large",
        )
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed",
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
    } else {
        error!(?rejection, "unhandled rejection");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    };
    Ok(error_reply(status, code, message))
}

/// Runs blocking registry work off the async threads; a failure of the node itself is logged and
/// answered as an internal error.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RegistryError> + Send + 'static,
) -> Result<Result<T, RegistryError>, Rejection> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        error!(error = %e, "registry task failed");
        reject(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    })
}

fn internal(error: RegistryError) -> Rejection {
    error!(%error, "registry failure");
    reject(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error",
    )
}

/// The representation a client asked for in `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Representation {
    /// The whole resolution result.
    Resolution,
    /// The document, JSON-LD.
    DocumentLd,
    /// The document, plain JSON (no `@context`).
    Document,
}

/// Picks the first representation in `Accept` this server has; an absent header or `*/*` means
/// the resolution result. `None` when nothing acceptable is offered.
fn negotiate(accept: Option<&str>) -> Option<Representation> {
    let Some(accept) = accept else {
        return Some(Representation::Resolution);
    };
    for item in accept.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let params: Vec<&str> = parts.collect();
        if params.iter().any(|p| p.replace(' ', "") == "q=0") {
            continue;
        }
        let profile_is_resolution = params
            .iter()
            .any(|p| p.contains("https://w3id.org/did-resolution"));
        match media.as_str() {
            DID_RESOLUTION | "application/json" | "*/*" | "application/*" => {
                return Some(Representation::Resolution);
            }
            "application/ld+json" if profile_is_resolution => {
                return Some(Representation::Resolution);
            }
            DID_LD_JSON | "application/ld+json" => return Some(Representation::DocumentLd),
            DID_JSON => return Some(Representation::Document),
            _ => {}
        }
    }
    None
}

/// The HTTP status of a resolution error (DID Resolution §8, HTTP(S) binding). An equivocating
/// DID is a conflict: the node holds two valid histories.
fn status_of(error: &ResolveError) -> StatusCode {
    match error {
        ResolveError::InvalidDid(_) => StatusCode::BAD_REQUEST,
        ResolveError::NotFound(_) => StatusCode::NOT_FOUND,
        ResolveError::MethodNotSupported(_) => StatusCode::NOT_IMPLEMENTED,
        ResolveError::Deactivated(_) => StatusCode::GONE,
        ResolveError::Equivocation { .. } => StatusCode::CONFLICT,
    }
}

fn json_reply(status: StatusCode, content_type: &'static str, body: &Value) -> Response {
    let mut response = warp::reply::with_status(
        serde_json::to_vec(body).expect("JSON values always serialize"),
        status,
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A resolution error as a resolution result, whatever representation was asked for: a document
/// representation has nothing to show.
fn resolution_error(error: &ResolveError) -> Response {
    let result = serde_json::to_value(vouch_core::did::resolve::ResolutionResult::failed(error))
        .expect("a resolution result always serializes");
    json_reply(status_of(error), DID_RESOLUTION, &result)
}

/// `versionId` and `versionTime`, each at most once.
fn selector(query: &[(String, String)]) -> Result<VersionSelector, String> {
    let mut selector = VersionSelector::Latest;
    for (name, value) in query {
        let next = match name.as_str() {
            "versionId" => value
                .parse()
                .map(VersionSelector::Id)
                .map_err(|_| "versionId is a version number".to_owned())?,
            "versionTime" => DateTime::parse_from_rfc3339(value)
                .map(|t| VersionSelector::Time(t.with_timezone(&Utc)))
                .map_err(|_| "versionTime is an RFC 3339 time".to_owned())?,
            _ => continue,
        };
        if selector != VersionSelector::Latest {
            return Err("give one of versionId and versionTime, once".into());
        }
        selector = next;
    }
    Ok(selector)
}

async fn resolve(
    did: String,
    query: Vec<(String, String)>,
    accept: Option<String>,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let span = info_span!("resolve", did = %did);
    let started = std::time::Instant::now();
    let metrics_state = state.clone();
    let response = async move {
        let Some(representation) = negotiate(accept.as_deref()) else {
            let body = serde_json::json!({
                "didDocument": null,
                "didResolutionMetadata": {"error": "representationNotSupported"},
                "didDocumentMetadata": {}
            });
            return Ok(json_reply(
                StatusCode::NOT_ACCEPTABLE,
                DID_RESOLUTION,
                &body,
            ));
        };
        let did = match Did::parse(&did) {
            Ok(did) => did,
            Err(e) => {
                return Ok(resolution_error(&ResolveError::InvalidDid(e.to_string())));
            }
        };
        let selector = match selector(&query) {
            Ok(selector) => selector,
            Err(message) => {
                let body = serde_json::json!({
                    "didDocument": null,
                    "didResolutionMetadata": {"error": "invalidOptions", "errorMessage": message},
                    "didDocumentMetadata": {}
                });
                return Ok(json_reply(StatusCode::BAD_REQUEST, DID_RESOLUTION, &body));
            }
        };
        let registry = state.registry.clone();
        let lookup = did.clone();
        let resolved = blocking(move || registry.resolve(&lookup, selector))
            .await?
            .map_err(internal)?;
        let bytes = match resolved {
            Ok(bytes) => bytes,
            Err(error) => return Ok(resolution_error(&error)),
        };
        let mut result: Value = serde_json::from_slice(&bytes).map_err(|e| {
            error!(error = %e, "a stored resolution result is not JSON");
            reject(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
        })?;
        // A stored head may itself be a failure (an equivocation): answer with its status.
        let status = match result["didResolutionMetadata"]["error"].as_str() {
            Some("equivocation") => StatusCode::CONFLICT,
            Some(_) => StatusCode::INTERNAL_SERVER_ERROR,
            None if result["didDocumentMetadata"]["deactivated"] == true => StatusCode::GONE,
            None => StatusCode::OK,
        };
        debug!(%status, "resolved");
        Ok(match representation {
            Representation::Resolution => json_reply(status, DID_RESOLUTION, &result),
            Representation::DocumentLd => json_reply(status, DID_LD_JSON, &result["didDocument"]),
            Representation::Document => {
                let mut document = result["didDocument"].take();
                if let Some(object) = document.as_object_mut() {
                    object.remove("@context");
                }
                json_reply(status, DID_JSON, &document)
            }
        })
    }
    .instrument(span)
    .await;
    let metrics = metrics_state.registry.metrics();
    metrics.resolutions.inc();
    metrics
        .resolution_seconds
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Checks the admin bearer token.
fn admin(state: Arc<ApiState>) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and_then(move |authorization: Option<String>| {
            let state = state.clone();
            async move {
                let Some(expected) = state.admin_token_hash else {
                    return Ok(());
                };
                let given = authorization
                    .as_deref()
                    .and_then(|a| a.strip_prefix("Bearer "))
                    .map(ApiState::hash_token);
                if given == Some(expected) {
                    Ok(())
                } else {
                    warn!("admin request refused: missing or wrong bearer token");
                    Err(reject(
                        StatusCode::UNAUTHORIZED,
                        "unauthorized",
                        "the admin API needs the node's bearer token",
                    ))
                }
            }
        })
        .untuple_one()
}

/// What `POST /admin/did/operations` answers.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OperationAccepted {
    did: Did,
    version_id: String,
    applied: &'static str,
}

async fn submit_operation(
    body: warp::hyper::body::Bytes,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let operation = Operation::from_json(&body)
        .map_err(|e| reject(StatusCode::BAD_REQUEST, "invalid_operation", e.to_string()))?;
    let version = operation.version;
    let registry = state.registry.clone();
    let gossiped = operation.clone();
    let (did, applied) = match blocking(move || registry.apply(operation, Utc::now())).await? {
        Ok(done) => done,
        Err(e @ RegistryError::FromTheFuture { .. }) => {
            return Err(reject(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_operation",
                e.to_string(),
            ));
        }
        Err(RegistryError::Invalid(e)) => {
            return Err(reject(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_operation",
                e.to_string(),
            ));
        }
        Err(e) => return Err(internal(e)),
    };
    if applied != Applied::Duplicate
        && let Some(network) = &state.network
    {
        network.publish(&gossiped).await;
    }
    let applied = match applied {
        Applied::Appended => "appended",
        Applied::Duplicate => "duplicate",
        Applied::Equivocation => "equivocation",
    };
    debug!(%did, version, applied, "operation submitted");
    Ok(warp::reply::json(&OperationAccepted {
        did,
        version_id: version.to_string(),
        applied,
    })
    .into_response())
}

/// Every route, with the rejection handler.
pub fn routes(
    state: Arc<ApiState>,
) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    let with_state = {
        let state = state.clone();
        warp::any().map(move || state.clone())
    };
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with_state.clone())
        .map(|state: Arc<ApiState>| {
            let mut response = state.registry.metrics().encode().into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            response
        });
    let health = warp::path!("health")
        .and(warp::get())
        .map(|| warp::reply::json(&serde_json::json!({"status": "ok"})).into_response());
    let resolver = warp::path!("1.0" / "identifiers" / String)
        .and(warp::get())
        .and(warp::query::<Vec<(String, String)>>())
        .and(warp::header::optional::<String>("accept"))
        .and(with_state.clone())
        .and_then(resolve);
    let operations = warp::path!("admin" / "did" / "operations")
        .and(warp::post())
        .and(admin(state))
        .and(warp::body::content_length_limit(MAX_OPERATION_BYTES as u64))
        .and(warp::body::bytes())
        .and(with_state)
        .and_then(submit_operation);
    health
        .or(metrics)
        .unify()
        .or(resolver)
        .unify()
        .or(operations)
        .unify()
        .recover(rejection)
        .unify()
        .with(warp::trace::request())
}

/// Serves the API on `listener` until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: Arc<ApiState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    warp::serve(routes(state))
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
}
