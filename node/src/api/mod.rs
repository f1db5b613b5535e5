//! The HTTP API (warp, on hyper): the only module that knows HTTP.
//!
//! - `GET /1.0/identifiers/{did}`: DID resolution in the DIF Universal Resolver's form, with
//!   `versionId` / `versionTime` and `Accept` negotiation. Its errors are resolution results with
//!   the DID Resolution error codes and their HTTP statuses.
//! - `GET /1.0/status-lists/{issuer DID}/{name}`: a status list credential, at the URL credentials
//!   name in `statusListCredential`.
//! - `GET /1.0/trust`: the trusted-issuer policy the node verifies with (the consortium's), for
//!   reading; a wallet trusts only what it checks: `GET /1.0/consortium` (the signed genesis and
//!   amendments) and `GET /1.0/logs/{did}` (a did:vouch's operation log, JSON Lines).
//! - `GET /health`, and `GET /metrics` (OpenMetrics text).
//! - Behind the bearer token: `POST /admin/did/operations` (submit any signed did:vouch operation,
//!   such as an agent definition's), `POST /admin/did/update`, `/admin/did/rotate` and
//!   `/admin/did/deactivate` (the org's DID, signed with the keys the node holds), and
//!   `POST /admin/status-lists/{name}` (set and clear bits of one of the org's status lists), and
//!   `POST /admin/peers/refuse` / `admit` (keep members' nodes away for a while, or let them
//!   back), `GET /admin/consortium`, `POST /admin/consortium/proposals` and `/signatures`
//!   (membership amendments: proposed, signed by each member's node, applied and gossiped once
//!   they have the signatures they need).
//!
//! - `POST /1.0/credentials/verify` and `/1.0/presentations/verify`: the verification service
//!   for partners without a node (the W3C VC API's shape), with the node's documents, lists and
//!   the consortium's trusted-issuer policy.
//!
//! Split by audience: [`resolver`] (public, read-only), `verify` (public), [`admin`] (behind the
//! token) and
//! [`errors`] (every error outside resolution goes through one rejection handler and is an RFC
//! 9457 problem object with a stable `code`; internal details are logged, never returned). A
//! path the API has, asked with a method it does not take, is a `405` with `Allow`.
//!
//! Each request is handled in its `request{method path}` span and logged once answered: at
//! ERROR only when the node failed (a 5xx other than 501), else at INFO. A connection that
//! fails (a client sending something that is not HTTP) is logged at DEBUG.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tracing::{Instrument, debug, error, info, info_span};
use warp::http::{HeaderValue, StatusCode, header};
use warp::{Filter, Rejection, Reply};

use crate::consortium::{Amendments, MAX_AMENDMENT_BYTES};
use crate::issuer::{Events, Issuer};
use crate::net::Network;
use crate::org::Org;
use crate::registry::Registry;
use crate::status_lists::StatusLists;
use vouch_api::ErrorCode;

mod admin;
mod audit;
mod errors;
mod exchange;
mod foreign;
mod issuer;
mod oauth;
mod passkeys;
mod resolver;
mod verify;

pub use errors::{PROBLEM_JSON, rejection};
pub use foreign::{ForeignLists, KEEP, MAX_FETCHES, MAX_KEPT, MAX_KEPT_BYTES, MAX_LIST_BYTES};
pub use passkeys::{CEREMONY_FOR, MAX_ANSWER_BYTES, MAX_CEREMONIES, Passkeys, RelyingParty};
pub use resolver::{DID, DID_JSON, DID_LD_JSON, DID_RESOLUTION, VC};

/// The most clients whose share of the public endpoints is remembered at once (~100 bytes each).
pub const MAX_CLIENTS_REMEMBERED: usize = 65_536;
/// The largest request opening an exchange: the capabilities to decide (at most 64, each small)
/// and a DCQL query.
const MAX_OPEN_EXCHANGE_BYTES: u64 = 64 * 1024;

/// The largest admin request body other than an operation.
const MAX_ADMIN_BODY_BYTES: u64 = 1024 * 1024;
/// The largest operation submitted.
const MAX_OPERATION_BODY_BYTES: u64 = vouch_core::did_vouch::MAX_OPERATION_BYTES as u64;
/// The longest path taken; a longer one is a `414` (hyper answers `414` itself, without a body,
/// past 64 KiB), except a resolution's, whose DID is then too long: `400 invalidDid`.
const MAX_PATH_BYTES: usize = 16 * 1024;

/// What the HTTP handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The DIDs.
    pub registry: Registry,
    /// The status lists.
    pub status_lists: StatusLists,
    /// The org's DID and keys.
    pub org: Org,
    /// The org's issuer: agents, credentials, revocation.
    pub issuer: Issuer,
    /// The members' revocation events.
    pub events: Events,
    /// The node's audit log.
    pub audit: crate::audit::AuditLog,
    /// The node's witness of the members' audit logs (none without a consortium).
    pub witness: Option<crate::witness::Witness>,
    /// The network, to gossip what the admin API accepts; `None` for a node alone.
    pub network: Option<Network>,
    /// The consortium's membership and its amendments; `None` for a node alone.
    pub amendments: Option<Amendments>,
    /// The data folder: the node key signs membership amendments.
    pub data_dir: std::path::PathBuf,
    /// The node's exchanges, as a verifier over HTTP.
    pub exchanges: crate::exchanges::NodeExchanges,
    /// SHA-256 of the admin bearer token; `None` when admin authentication is disabled
    /// (`danger_disable_admin_auth`). Only the hash is kept, and compared, so the comparison says
    /// nothing about the token.
    pub admin_token_hash: Option<[u8; 32]>,
    /// The file of the events receiver's bearer token (`[http] events_token_file`), read at each
    /// poll (so the operator writes or changes it without a restart); without it, the poll of
    /// Security Event Tokens refuses everyone.
    pub events_token_file: std::path::PathBuf,
    /// Each client's share of the public endpoints that do work for anyone.
    pub shares: Arc<vouch_serve::Shares>,
    /// Refusals of parties that did not authenticate, counted instead of written one by one.
    pub refusals: Arc<vouch_core::audit::tally::Tally>,
    /// The verifications made for anyone, bounded.
    pub verifying: Arc<Verifications>,
    /// The changes holders ask for (delegations, renewals), bounded apart from the
    /// verifications: neither queues behind the other.
    pub changing: Arc<Verifications>,
    /// The owners' passkeys: the relying party and the ceremonies open.
    pub passkeys: Arc<Passkeys>,
    /// Issuers the verification service trusts besides the consortium, for credentials that
    /// attest no action (`[verification] trusted_issuers`).
    pub trusted_issuers: Vec<vouch_core::did::Did>,
    /// The status lists of issuers outside the consortium, fetched and kept a while.
    pub foreign: Arc<foreign::ForeignLists>,
}

/// The verifications the node makes for anyone (the verification service, exchanges over
/// HTTP), bounded: at most as many at once as the machine has cores, at most
/// [`Verifications::MAX_WAITING`] waiting for their turn, and beyond that `503` with
/// `Retry-After`. So a flood of verifications never holds the blocking threads, the cores and
/// the audit log's writer that issuer changes (issuance, revocation) need: a change waits
/// behind at most a core's worth of verifications, never behind a queue of them.
#[derive(Debug)]
pub struct Verifications {
    permits: Arc<tokio::sync::Semaphore>,
    waiting: std::sync::atomic::AtomicUsize,
}

impl Default for Verifications {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            permits: Arc::new(tokio::sync::Semaphore::new(cores)),
            waiting: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

impl Verifications {
    /// The most verifications waiting for their turn.
    pub const MAX_WAITING: usize = 64;

    /// A turn to verify, or `503` when too many are waiting already.
    pub(crate) async fn turn(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Rejection> {
        use std::sync::atomic::Ordering;
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        /// One waiting: counted until dropped, also when the request is dropped while waiting
        /// (its client gone, its time up).
        struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let waiting = Waiting(&self.waiting);
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= Self::MAX_WAITING {
            return Err(errors::busy(
                std::time::Duration::from_secs(1),
                "the node is verifying as much as it may",
            ));
        }
        let permit = self.permits.clone().acquire_owned().await;
        drop(waiting);
        permit.map_err(errors::internal)
    }
}

impl ApiState {
    /// A new tally of refusals: windows of a minute, at most 64 refusals written one by one in
    /// each and 1,024 parties counted by name.
    pub fn refusal_tally() -> vouch_core::audit::tally::Tally {
        vouch_core::audit::tally::Tally::new(chrono::Duration::seconds(60), 64, 1024)
    }

    /// Records a refusal of a party that did not authenticate, through the tally: written now
    /// if it is the party's first in the window, else counted.
    fn record_refusal(
        &self,
        entry: vouch_core::audit::Entry,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), crate::audit::AuditLogError> {
        let entries = self.refusals.refused(entry, now);
        if !entries.is_empty() {
            self.audit.record_all(entries, now)?;
        }
        Ok(())
    }
}

impl ApiState {
    /// Hashes a bearer token for [`ApiState::admin_token_hash`].
    pub fn hash_token(token: &str) -> [u8; 32] {
        Sha256::digest(token.trim().as_bytes()).into()
    }

    /// The hash of the bearer token an `Authorization` field carries, if it carries one.
    fn bearer_hash(authorization: Option<&str>) -> Option<[u8; 32]> {
        let (scheme, token) = authorization?.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| Self::hash_token(token))
    }
}

/// Runs blocking work off the async threads; a failure of the node itself is logged and
/// answered as an internal error.
async fn blocking<T: Send + 'static, E: Send + 'static>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<Result<T, E>, Rejection> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(errors::internal)
}

/// Runs an issuer operation off the async threads; its refusals answered as problems.
async fn run<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, crate::issuer::IssuerError> + Send + 'static,
) -> Result<T, Rejection> {
    blocking(work).await?.map_err(errors::issuer_error)
}

/// A JSON answer with its status.
fn json(status: warp::http::StatusCode, body: &impl serde::Serialize) -> warp::reply::Response {
    use warp::Reply as _;
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

/// Gossips the status lists an operation signed anew (stored before the answer).
async fn publish_lists(state: &ApiState, lists: &[serde_json::Value]) {
    if let Some(network) = &state.network {
        for list in lists {
            network.publish_status_list(list).await;
        }
    }
}

/// Takes one request from the client's share of the public endpoints that do work for anyone,
/// or refuses it `429` with `Retry-After`. A request that reached the API some other way than
/// [`serve`] (a test's `warp::test`) has no client and no share to take from.
fn share(state: Arc<ApiState>) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::ext::optional::<vouch_serve::Client>()
        .and_then(move |client: Option<vouch_serve::Client>| {
            let state = state.clone();
            async move {
                let Some(client) = client else { return Ok(()) };
                state
                    .shares
                    .take(client, std::time::Instant::now())
                    .map_err(|wait| {
                        debug!(%client, "a client beyond its share was refused");
                        errors::too_many(wait)
                    })
            }
        })
        .untuple_one()
}

/// Every route, with the rejection handler.
pub fn routes(
    state: Arc<ApiState>,
) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    let with_state = {
        let state = state.clone();
        warp::any().map(move || state.clone())
    };
    let path_bound = warp::path::full()
        .and_then(|path: warp::path::FullPath| async move {
            // A DID too long is the resolver's to refuse, as DID Resolution says (`invalidDid`).
            let resolution = path.as_str().starts_with("/1.0/identifiers/");
            if path.as_str().len() > MAX_PATH_BYTES && !resolution {
                Err(errors::reject(
                    ErrorCode::UriTooLong,
                    format!("paths are at most {MAX_PATH_BYTES} bytes"),
                ))
            } else {
                Ok(())
            }
        })
        .untuple_one();
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
    let health = warp::path!("health").and(warp::get()).map(|| {
        warp::reply::json(&vouch_api::node::public::Health {
            status: "ok".into(),
        })
        .into_response()
    });
    let resolve = warp::path!("1.0" / "identifiers" / String)
        .and(warp::get())
        .and(warp::query::<Vec<(String, String)>>())
        .and(warp::header::optional::<String>("accept"))
        .and(with_state.clone())
        .and_then(resolver::resolve);
    let status_lists = warp::path!("1.0" / "status-lists" / String / String)
        .and(warp::get())
        .and(warp::header::optional::<String>("accept"))
        .and(with_state.clone())
        .and_then(resolver::status_list);
    let trust = warp::path!("1.0" / "trust")
        .and(warp::get())
        .and(with_state.clone())
        .and_then(resolver::trust);
    let shared = share(state.clone());
    let published = warp::path!("1.0" / "consortium")
        .and(warp::get())
        .and(shared.clone())
        .and(with_state.clone())
        .and_then(resolver::consortium);
    let did_log = warp::path!("1.0" / "logs" / String)
        .and(warp::get())
        .and(shared.clone())
        .and(with_state.clone())
        .and_then(resolver::log);
    let open_exchange = warp::path!("1.0" / "exchanges")
        .and(warp::post())
        .and(shared.clone())
        .and(warp::body::content_length_limit(MAX_OPEN_EXCHANGE_BYTES))
        .and(warp::body::json())
        .and(warp::ext::optional::<vouch_serve::Client>())
        .and(with_state.clone())
        .and_then(exchange::open);
    let participate = warp::path!("1.0" / "exchanges" / String)
        .and(warp::post())
        .and(shared.clone())
        .and(warp::body::content_length_limit(
            vouch_core::exchange::flow::MAX_RESPONSE_BYTES as u64,
        ))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(exchange::participate);
    let exchange_state = warp::path!("1.0" / "exchanges" / String)
        .and(warp::get())
        .and(with_state.clone())
        .and_then(exchange::get);
    // The VC API's paths too (`/credentials/verify`, `/presentations/verify`), as partners'
    // tools and the W3C suites call them.
    let verify_credential = warp::path!("1.0" / "credentials" / "verify")
        .or(warp::path!("credentials" / "verify"))
        .unify()
        .and(warp::post())
        .and(shared.clone())
        .and(warp::body::content_length_limit(
            verify::MAX_VERIFY_BODY_BYTES,
        ))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(verify::credential);
    let verify_presentation = warp::path!("1.0" / "presentations" / "verify")
        .or(warp::path!("presentations" / "verify"))
        .unify()
        .and(warp::post())
        .and(shared.clone())
        .and(warp::body::content_length_limit(
            verify::MAX_VERIFY_BODY_BYTES,
        ))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(verify::presentation);
    let verify_request = warp::path!("1.0" / "requests" / "verify")
        .and(warp::post())
        .and(shared.clone())
        .and(warp::body::content_length_limit(
            verify::MAX_VERIFY_BODY_BYTES,
        ))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(verify::signed_request);
    let oauth_metadata = warp::path!(".well-known" / "oauth-authorization-server")
        .and(warp::get())
        .and(with_state.clone())
        .and_then(oauth::metadata);
    let oauth_keys = warp::path!("1.0" / "oauth" / "jwks")
        .and(warp::get())
        .and(with_state.clone())
        .and_then(oauth::keys);
    let token = warp::path!("1.0" / "oauth" / "token")
        .and(warp::post())
        .and(shared.clone())
        .and(warp::header::headers_cloned())
        .and(warp::body::content_length_limit(oauth::MAX_FORM_BYTES))
        .and(warp::body::bytes())
        .and(with_state.clone())
        .and_then(oauth::token);
    let security_events = warp::path!("1.0" / "oauth" / "events")
        .and(warp::post())
        .and(shared.clone())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::body::content_length_limit(oauth::MAX_POLL_BYTES))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(oauth::poll_events);
    let introspect = warp::path!("1.0" / "oauth" / "introspect")
        .and(warp::post())
        .and(shared.clone())
        .and(warp::body::content_length_limit(
            2 * vouch_core::jwt::MAX_TOKEN_BYTES as u64,
        ))
        .and(warp::body::bytes())
        .and(with_state.clone())
        .and_then(oauth::introspect);
    let challenges = warp::path!("1.0" / "challenges")
        .and(warp::post())
        .and(shared.clone())
        .and(with_state.clone())
        .and_then(issuer::challenge);
    let delegations = warp::path!("1.0" / "delegations")
        .and(warp::post())
        .and(shared.clone())
        .and(warp::body::content_length_limit(
            verify::MAX_VERIFY_BODY_BYTES,
        ))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(issuer::register_delegation);
    let renewals = warp::path!("1.0" / "renewals")
        .and(warp::post())
        .and(shared.clone())
        .and(warp::body::content_length_limit(
            verify::MAX_VERIFY_BODY_BYTES,
        ))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(issuer::renew);
    let ask_approval = warp::path!("1.0" / "approvals")
        .and(warp::post())
        .and(shared.clone())
        .and(warp::body::content_length_limit(
            verify::MAX_VERIFY_BODY_BYTES,
        ))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(issuer::ask_approval);
    let approval = warp::path!("1.0" / "approvals" / String)
        .and(warp::get())
        .and(shared.clone())
        .and(with_state.clone())
        .and_then(issuer::approval);
    let decide_approval = warp::path!("1.0" / "approvals" / String / "decision")
        .and(warp::post())
        .and(shared.clone())
        .and(warp::body::content_length_limit(4096))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(issuer::decide_approval);
    let approve_page = warp::path!("approve" / String)
        .and(warp::get())
        .and(shared.clone())
        .and(with_state.clone())
        .and_then(passkeys::approval_page);
    let enrol_page = warp::path!("owners" / "enrol")
        .and(warp::get())
        .and(with_state.clone())
        .and_then(passkeys::enrol_page);
    let page_script = warp::path!("assets" / "passkey.js")
        .and(warp::get())
        .and_then(passkeys::script);
    let page_style = warp::path!("assets" / "vouch.css")
        .and(warp::get())
        .and_then(passkeys::style);
    let start_enrolment = warp::path!("1.0" / "passkeys" / "enrolments")
        .and(warp::post())
        .and(shared.clone())
        .and(warp::body::content_length_limit(1024))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(passkeys::start_enrolment);
    let finish_enrolment = warp::path!("1.0" / "passkeys" / "enrolments" / String)
        .and(warp::post())
        .and(shared.clone())
        .and(warp::body::content_length_limit(passkeys::MAX_ANSWER_BYTES))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(passkeys::finish_enrolment);
    let start_decision = warp::path!("1.0" / "approvals" / String / "passkey")
        .and(warp::post())
        .and(shared.clone())
        .and(warp::body::content_length_limit(1024))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(passkeys::start_decision);
    let finish_decision = warp::path!("1.0" / "approvals" / String / "passkey" / String)
        .and(warp::post())
        .and(shared.clone())
        .and(warp::body::content_length_limit(passkeys::MAX_ANSWER_BYTES))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(passkeys::finish_decision);
    let events = warp::path!("1.0" / "revocations")
        .and(warp::get())
        .and(warp::query::<Vec<(String, String)>>())
        .and(with_state.clone())
        .and_then(issuer::events);
    let audit_checkpoint = warp::path!("1.0" / "audit" / "checkpoint")
        .and(warp::get())
        .and(with_state.clone())
        .and_then(audit::checkpoint);
    let audit_inclusion = warp::path!("1.0" / "audit" / "proof" / "inclusion")
        .and(warp::get())
        .and(warp::query::<Vec<(String, String)>>())
        .and(with_state.clone())
        .and_then(audit::inclusion);
    let audit_consistency = warp::path!("1.0" / "audit" / "proof" / "consistency")
        .and(warp::get())
        .and(warp::query::<Vec<(String, String)>>())
        .and(with_state.clone())
        .and_then(audit::consistency);
    let audit_entries = warp::path!("1.0" / "audit" / "entries")
        .and(warp::get())
        .and(warp::query::<Vec<(String, String)>>())
        .and(with_state.clone())
        .and_then(audit::entries);
    let audit_witnessed = warp::path!("1.0" / "audit" / "witnessed")
        .and(warp::get())
        .and(with_state.clone())
        .and_then(audit::witnessed);
    let audit_evidence = warp::path!("1.0" / "audit" / "evidence")
        .and(warp::get())
        .and(with_state.clone())
        .and_then(audit::evidence);
    let authorized = admin::authorized(state);
    let register_definition = warp::path!("admin" / "agents")
        .and(warp::post())
        .and(authorized.clone())
        .and(warp::body::content_length_limit(MAX_ADMIN_BODY_BYTES))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(issuer::register_definition);
    let definitions = warp::path!("admin" / "agents")
        .and(warp::get())
        .and(authorized.clone())
        .and(warp::query::<vouch_api::node::admin::Listing>())
        .and(with_state.clone())
        .and_then(issuer::definitions);
    let owners = warp::path!("admin" / "owners")
        .and(warp::post())
        .and(authorized.clone())
        .and(warp::body::content_length_limit(4096))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(issuer::register_owner);
    let bind = warp::path!("admin" / "agents" / String / "instances")
        .and(warp::post())
        .and(authorized.clone())
        .and(warp::body::content_length_limit(MAX_ADMIN_BODY_BYTES))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(issuer::bind);
    let issue = warp::path!("admin" / "credentials")
        .and(warp::post())
        .and(authorized.clone())
        .and(warp::body::content_length_limit(MAX_ADMIN_BODY_BYTES))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(issuer::issue);
    let issue_w3c = warp::path!("credentials" / "issue")
        .and(warp::post())
        .and(authorized.clone())
        .and(warp::body::content_length_limit(MAX_ADMIN_BODY_BYTES))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(issuer::issue_w3c);
    let issued = warp::path!("admin" / "credentials" / String)
        .and(warp::get())
        .and(authorized.clone())
        .and(with_state.clone())
        .and_then(issuer::issued);
    let revoke = warp::path!("admin" / "revocations")
        .and(warp::post())
        .and(authorized.clone())
        .and(warp::body::content_length_limit(MAX_ADMIN_BODY_BYTES))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(issuer::revoke);
    let suspend = warp::path!("admin" / "suspensions")
        .and(warp::post())
        .and(authorized.clone())
        .and(warp::body::content_length_limit(MAX_ADMIN_BODY_BYTES))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(issuer::suspend);
    let lift = warp::path!("admin" / "suspensions" / String / "lift")
        .and(warp::post())
        .and(authorized.clone())
        .and(warp::body::content_length_limit(MAX_ADMIN_BODY_BYTES))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(issuer::lift);
    let operations = warp::path!("admin" / "did" / "operations")
        .and(warp::post())
        .and(authorized.clone())
        .and(warp::body::content_length_limit(MAX_OPERATION_BODY_BYTES))
        .and(warp::body::bytes())
        .and(with_state.clone())
        .and_then(admin::submit_operation);
    let update = warp::path!("admin" / "did" / "update")
        .and(warp::post())
        .and(authorized.clone())
        .and(warp::body::content_length_limit(MAX_OPERATION_BODY_BYTES))
        .and(warp::body::json())
        .map(|document| admin::OrgAction::Update(Box::new(document)));
    let rotate = warp::path!("admin" / "did" / "rotate")
        .and(warp::post())
        .and(authorized.clone())
        .map(|| admin::OrgAction::Rotate);
    let deactivate = warp::path!("admin" / "did" / "deactivate")
        .and(warp::post())
        .and(authorized.clone())
        .and(warp::body::content_length_limit(MAX_ADMIN_BODY_BYTES))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(admin::confirm_deactivation);
    let org = update
        .or(rotate)
        .unify()
        .or(deactivate)
        .unify()
        .and(with_state.clone())
        .and_then(admin::org_operation);
    let sign_checkpoint = warp::path!("admin" / "audit" / "checkpoint")
        .and(warp::post())
        .and(authorized.clone())
        .and(with_state.clone())
        .and_then(audit::sign_checkpoint);
    let peers = warp::path!("admin" / "peers" / String)
        .and(warp::post())
        .and(authorized.clone())
        .and_then(|action: String| async move {
            match action.as_str() {
                "refuse" => Ok(true),
                "admit" => Ok(false),
                _ => Err(warp::reject::not_found()),
            }
        })
        .and(warp::body::content_length_limit(MAX_ADMIN_BODY_BYTES))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(admin::peers);
    let consortium = warp::path!("admin" / "consortium")
        .and(warp::get())
        .and(authorized.clone())
        .and(with_state.clone())
        .and_then(admin::consortium);
    let proposals = warp::path!("admin" / "consortium" / "proposals")
        .and(warp::post())
        .and(authorized.clone())
        .and(warp::body::content_length_limit(MAX_AMENDMENT_BYTES as u64))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(admin::propose);
    let signatures = warp::path!("admin" / "consortium" / "signatures")
        .and(warp::post())
        .and(authorized.clone())
        .and(warp::body::content_length_limit(MAX_AMENDMENT_BYTES as u64))
        .and(warp::body::json())
        .and(with_state.clone())
        .and_then(admin::sign);
    let status_changes = warp::path!("admin" / "status-lists" / String)
        .and(warp::post())
        .and(authorized)
        .and(warp::body::content_length_limit(MAX_ADMIN_BODY_BYTES))
        .and(warp::body::json())
        .and(with_state)
        .and_then(admin::change_status);
    // Last: a path of the API asked with a method it does not take.
    let wrong_method = warp::path::full().and(warp::method()).and_then(
        |path: warp::path::FullPath, method: warp::http::Method| async move {
            match errors::allowed_methods(path.as_str()) {
                Some(allow) if !allow.split(", ").any(|m| m == method.as_str()) => {
                    Ok(errors::method_not_allowed(allow))
                }
                _ => Err(warp::reject::not_found()),
            }
        },
    );
    // Each group boxed: warp's combinators nest types, and a long chain of them costs minutes
    // of compile time; a boxed group is one type.
    let public = health
        .or(metrics)
        .unify()
        .or(resolve)
        .unify()
        .or(status_lists)
        .unify()
        .or(trust)
        .unify()
        .or(published)
        .unify()
        .or(did_log)
        .unify()
        .or(verify_credential)
        .unify()
        .or(verify_presentation)
        .unify()
        .or(verify_request)
        .unify()
        .boxed();
    let exchanges = open_exchange
        .or(participate)
        .unify()
        .or(exchange_state)
        .unify()
        .boxed();
    let audit = audit_checkpoint
        .or(audit_inclusion)
        .unify()
        .or(audit_consistency)
        .unify()
        .or(audit_entries)
        .unify()
        .or(audit_witnessed)
        .unify()
        .or(audit_evidence)
        .unify()
        .boxed();
    let oauth = oauth_metadata
        .or(oauth_keys)
        .unify()
        .or(token)
        .unify()
        .or(introspect)
        .unify()
        .or(security_events)
        .unify()
        .boxed();
    let agents = challenges
        .or(delegations)
        .unify()
        .or(ask_approval)
        .unify()
        .or(approval)
        .unify()
        .or(decide_approval)
        .unify()
        .or(renewals)
        .unify()
        .or(events)
        .unify()
        .boxed();
    let owners_pages = approve_page
        .or(enrol_page)
        .unify()
        .or(page_script)
        .unify()
        .or(page_style)
        .unify()
        .or(start_enrolment)
        .unify()
        .or(finish_enrolment)
        .unify()
        .or(start_decision)
        .unify()
        .or(finish_decision)
        .unify()
        .boxed();
    let admin = operations
        .or(org)
        .unify()
        .or(status_changes)
        .unify()
        .or(peers)
        .unify()
        .or(consortium)
        .unify()
        .or(proposals)
        .unify()
        .or(signatures)
        .unify()
        .or(sign_checkpoint)
        .unify()
        .boxed();
    let issuance = register_definition
        .or(definitions)
        .unify()
        .or(owners)
        .unify()
        .or(bind)
        .unify()
        .or(issue)
        .unify()
        .or(issue_w3c)
        .unify()
        .or(issued)
        .unify()
        .or(revoke)
        .unify()
        .or(suspend)
        .unify()
        .or(lift)
        .unify()
        .boxed();
    path_bound
        .and(
            public
                .or(exchanges)
                .unify()
                .or(audit)
                .unify()
                .or(agents)
                .unify()
                .or(oauth)
                .unify()
                .or(owners_pages)
                .unify()
                .or(admin)
                .unify()
                .or(issuance)
                .unify()
                .or(wrong_method)
                .unify(),
        )
        .recover(rejection)
        .unify()
}

/// Logs a request once answered, inside its span.
fn log_answer(status: StatusCode, started: std::time::Instant) {
    let micros = started.elapsed().as_micros() as u64;
    if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED {
        error!(status = status.as_u16(), micros, "request failed");
    } else {
        info!(status = status.as_u16(), micros, "answered");
    }
}

/// Serves the API on `listener` within `limits` (connections overall and per client, idle and
/// request timeouts: `vouch_serve`) until `shutdown` completes, then finishes the
/// requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: Arc<ApiState>,
    limits: vouch_serve::Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    use warp::hyper::Request;
    use warp::hyper::body::Incoming;

    let service = warp::service(routes(state));
    let handler = move |request: Request<Incoming>| {
        let mut service = service.clone();
        let span = info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
        );
        let started = std::time::Instant::now();
        async move {
            let response = vouch_serve::infallible(
                tower_service::Service::call(&mut service, request)
                    .instrument(span.clone())
                    .await,
            );
            span.in_scope(|| log_answer(response.status(), started));
            response
        }
    };
    vouch_serve::serve(listener, limits, handler, shutdown).await;
}
