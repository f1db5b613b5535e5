//! The HTTP API (warp): the only module that knows HTTP.
//!
//! - `GET /1.0/identifiers/{did}`: DID resolution in the DIF Universal Resolver's form, with
//!   `versionId` / `versionTime` and `Accept` negotiation. Its errors are resolution results with
//!   the DID Resolution error codes and their HTTP statuses.
//! - `GET /1.0/status-lists/{issuer DID}/{name}`: a status list credential, at the URL credentials
//!   name in `statusListCredential`.
//! - `GET /health`, and `GET /metrics` (OpenMetrics text).
//! - Behind the bearer token: `POST /admin/did/operations` (submit any signed did:vouch operation,
//!   such as an agent definition's), `POST /admin/did/update`, `/admin/did/rotate` and
//!   `/admin/did/deactivate` (the org's DID, signed with the keys the node holds), and
//!   `POST /admin/status-lists/{name}` (set and clear bits of one of the org's status lists).
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
use crate::org::{Org, OrgError};
use crate::registry::{Registry, RegistryError, Standing};
use crate::status_lists::{StatusListError, StatusLists};

/// The media type of a DID resolution result.
pub const DID_RESOLUTION: &str = "application/did-resolution";
/// The media type of a DID document in JSON-LD.
pub const DID_LD_JSON: &str = "application/did+ld+json";
/// The media type of a DID document in plain JSON.
pub const DID_JSON: &str = "application/did+json";
/// The media type of a verifiable credential secured with an embedded proof (VC Data Model 2.0
/// §6.3).
pub const VC: &str = "application/vc";
/// The largest admin request body other than an operation.
const MAX_ADMIN_BODY_BYTES: u64 = 1024 * 1024;

/// What the HTTP handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The DIDs.
    pub registry: Registry,
    /// The status lists.
    pub status_lists: StatusLists,
    /// The org's DID and keys.
    pub org: Org,
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

/// Runs blocking work off the async threads; a failure of the node itself is logged and
/// answered as an internal error.
async fn blocking<T: Send + 'static, E: Send + 'static>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<Result<T, E>, Rejection> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        error!(error = %e, "registry task failed");
        reject(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    })
}

fn internal(error: impl std::fmt::Display) -> Rejection {
    error!(%error, "node failure");
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
        ResolveError::Unavailable(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
        let resolved = match resolved {
            Ok(resolved) => resolved,
            Err(error) => return Ok(resolution_error(&error)),
        };
        let status = match resolved.standing {
            Standing::Active => StatusCode::OK,
            Standing::Deactivated => StatusCode::GONE,
            Standing::Equivocation => StatusCode::CONFLICT,
        };
        let mut result: Value = serde_json::from_slice(&resolved.result).map_err(|e| {
            error!(error = %e, "a stored resolution result is not JSON");
            reject(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
        })?;
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
    if applied.is_new()
        && let Some(network) = &state.network
    {
        network.publish(&gossiped).await;
    }
    let applied = match applied {
        Applied::Appended => "appended",
        Applied::Duplicate => "duplicate",
        Applied::Equivocation => "equivocation",
        Applied::EvidenceFull => "evidence_full",
    };
    debug!(%did, version, applied, "operation submitted");
    Ok(warp::reply::json(&OperationAccepted {
        did,
        version_id: version.to_string(),
        applied,
    })
    .into_response())
}

/// `GET /1.0/status-lists/{did}/{name}`: the signed credential as stored.
async fn status_list(
    did: String,
    name: String,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let lists = state.status_lists.clone();
    let key = format!("{did}/{name}");
    match blocking(move || lists.get(&key)).await?.map_err(internal)? {
        Some(json) => {
            let mut response = warp::reply::with_status(json, StatusCode::OK).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(VC));
            Ok(response)
        }
        None => Err(reject(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such status list",
        )),
    }
}

/// The body of `POST /admin/status-lists/{name}`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    /// `revocation` or `suspension`: the list's purpose, fixed when it is created.
    purpose: String,
    /// Indexes to set.
    #[serde(default)]
    set: Vec<usize>,
    /// Indexes to clear (suspension lists only: a revocation is final).
    #[serde(default)]
    clear: Vec<usize>,
}

/// What `POST /admin/status-lists/{name}` answers.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusChanged {
    id: Value,
    valid_from: Value,
}

async fn change_status(
    name: String,
    change: StatusChange,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    use vouch_core::status::Purpose;
    let purpose = match change.purpose.as_str() {
        "revocation" => Purpose::Revocation,
        "suspension" => Purpose::Suspension,
        _ => {
            return Err(reject(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "purpose is revocation or suspension",
            ));
        }
    };
    let lists = state.status_lists.clone();
    let work = move || lists.change(&name, purpose, &change.set, &change.clear, Utc::now());
    let signed = match blocking(work).await? {
        Ok(signed) => signed,
        Err(e @ (StatusListError::BadName | StatusListError::TooManyChanges)) => {
            return Err(reject(
                StatusCode::BAD_REQUEST,
                "bad_request",
                e.to_string(),
            ));
        }
        Err(e @ StatusListError::Invalid(_)) => {
            return Err(reject(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_change",
                e.to_string(),
            ));
        }
        Err(e @ (StatusListError::PurposeMismatch { .. } | StatusListError::Irreversible(_))) => {
            return Err(reject(StatusCode::CONFLICT, "conflict", e.to_string()));
        }
        Err(StatusListError::Org(e)) => return Err(org_error(e)),
        Err(e) => return Err(internal(e)),
    };
    if let Some(network) = &state.network {
        network.publish_status_list(&signed).await;
    }
    debug!(id = %signed["id"], "status list changed");
    Ok(warp::reply::json(&StatusChanged {
        id: signed["id"].clone(),
        valid_from: signed["validFrom"].clone(),
    })
    .into_response())
}

/// An operation on the org's DID that failed.
fn org_error(error: OrgError) -> Rejection {
    match error {
        OrgError::Unresolvable(e @ ResolveError::Deactivated(_)) => {
            reject(StatusCode::CONFLICT, "deactivated", e.to_string())
        }
        OrgError::Did(e) | OrgError::Registry(RegistryError::Invalid(e)) => reject(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_operation",
            e.to_string(),
        ),
        e => internal(e),
    }
}

/// What the org's DID admin endpoints do.
enum OrgAction {
    Update(vouch_core::did::vouch::DocumentContent),
    Rotate,
    Deactivate,
}

/// The body of `POST /admin/did/deactivate`: the org's DID, as a confirmation.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Confirm {
    did: String,
}

async fn org_operation(action: OrgAction, state: Arc<ApiState>) -> Result<Response, Rejection> {
    let org = state.org.clone();
    let lists = state.status_lists.clone();
    let work = move || {
        let (operation, rekeyed) = match action {
            OrgAction::Update(document) => (org.update(document, Utc::now()), true),
            OrgAction::Rotate => (org.rotate(Utc::now()), true),
            OrgAction::Deactivate => (org.deactivate(Utc::now()), false),
        };
        let operation = operation?;
        // Lists signed with a key the document no longer lists are signed anew. Should this
        // fail, the operation stands, and the node tries again when it next starts.
        let resigned = if rekeyed {
            lists.resign_stale(Utc::now()).unwrap_or_else(|e| {
                warn!(error = %e, "the org's status lists could not be signed anew");
                Vec::new()
            })
        } else {
            Vec::new()
        };
        Ok::<_, OrgError>((operation, resigned))
    };
    let (operation, resigned) = blocking(work).await?.map_err(org_error)?;
    if let Some(network) = &state.network {
        network.publish(&operation).await;
        for list in &resigned {
            network.publish_status_list(list).await;
        }
    }
    debug!(did = %state.org.did(), version = operation.version, "org DID operation");
    Ok(warp::reply::json(&OperationAccepted {
        did: state.org.did().clone(),
        version_id: operation.version.to_string(),
        applied: "appended",
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
    let status_lists = warp::path!("1.0" / "status-lists" / String / String)
        .and(warp::get())
        .and(with_state.clone())
        .and_then(status_list);
    let admin = admin(state);
    let operations = warp::path!("admin" / "did" / "operations")
        .and(warp::post())
        .and(admin.clone())
        .and(warp::body::content_length_limit(MAX_OPERATION_BYTES as u64))
        .and(warp::body::bytes())
        .and(with_state.clone())
        .and_then(submit_operation);
    let update = warp::path!("admin" / "did" / "update")
        .and(warp::post())
        .and(admin.clone())
        .and(warp::body::content_length_limit(MAX_OPERATION_BYTES as u64))
        .and(warp::body::json())
        .map(OrgAction::Update);
    let rotate = warp::path!("admin" / "did" / "rotate")
        .and(warp::post())
        .and(admin.clone())
        .map(|| OrgAction::Rotate);
    let deactivate = warp::path!("admin" / "did" / "deactivate")
        .and(warp::post())
        .and(admin.clone())
        .and(warp::body::content_length_limit(MAX_ADMIN_BODY_BYTES))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(|confirm: Confirm, state: Arc<ApiState>| async move {
            if confirm.did == state.org.did().as_str() {
                Ok(OrgAction::Deactivate)
            } else {
                Err(reject(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "confirm with the org's DID: {\"did\": \"<the org DID>\"}",
                ))
            }
        });
    let org = update
        .or(rotate)
        .unify()
        .or(deactivate)
        .unify()
        .and(with_state.clone())
        .and_then(org_operation);
    let status_changes = warp::path!("admin" / "status-lists" / String)
        .and(warp::post())
        .and(admin)
        .and(warp::body::content_length_limit(MAX_ADMIN_BODY_BYTES))
        .and(warp::body::json())
        .and(with_state)
        .and_then(change_status);
    health
        .or(metrics)
        .unify()
        .or(resolver)
        .unify()
        .or(status_lists)
        .unify()
        .or(operations)
        .unify()
        .or(org)
        .unify()
        .or(status_changes)
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
