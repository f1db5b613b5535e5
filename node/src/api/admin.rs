//! The admin API, behind the node's bearer token: signed did:vouch operations from anyone the
//! operator trusts (an agent definition's), the org's DID operated with the keys the node holds,
//! and the org's status lists.

use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use tracing::{debug, warn};
use vouch_core::did_vouch::{Applied, DocumentContent, Operation};
use vouch_core::status::Purpose;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::errors::{internal, org_error, reject};
use super::{ApiState, blocking};
use crate::consortium::{Amendment, AmendmentError, Amendments, Change};
use crate::datadir;
use crate::org::OrgError;
use crate::registry::RegistryError;
use crate::status_lists::StatusListError;
use vouch_api::ErrorCode;
use vouch_api::node::admin;

/// Checks the admin bearer token (RFC 6750; the scheme's case does not matter).
pub(super) fn authorized(
    state: Arc<ApiState>,
) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and_then(move |authorization: Option<String>| {
            let state = state.clone();
            async move {
                let Some(expected) = state.admin_token_hash else {
                    return Ok(());
                };
                let given = ApiState::bearer_hash(authorization.as_deref());
                if given == Some(expected) {
                    Ok(())
                } else {
                    warn!("admin request refused: missing or wrong bearer token");
                    Err(reject(
                        ErrorCode::Unauthorized,
                        "the admin API needs the node's bearer token",
                    ))
                }
            }
        })
        .untuple_one()
}

/// `POST /admin/did/operations`: any signed did:vouch operation.
pub(super) async fn submit_operation(
    body: warp::hyper::body::Bytes,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let operation =
        Operation::from_json(&body).map_err(|e| reject(ErrorCode::Malformed, e.to_string()))?;
    let version = operation.version;
    let registry = state.registry.clone();
    let gossiped = operation.clone();
    let (did, applied) = match blocking(move || registry.apply(operation, Utc::now())).await? {
        Ok(done) => done,
        Err(e @ RegistryError::Removed { .. }) => {
            return Err(reject(ErrorCode::Removed, e.to_string()));
        }
        Err(e @ (RegistryError::FromTheFuture { .. } | RegistryError::Invalid(_))) => {
            return Err(reject(ErrorCode::InvalidOperation, e.to_string()));
        }
        Err(e) => return Err(internal(e)),
    };
    if applied.is_new()
        && let Some(network) = &state.network
    {
        network.publish(&gossiped).await;
    }
    let applied = match applied {
        Applied::Appended => admin::Applied::Appended,
        Applied::Duplicate => admin::Applied::Duplicate,
        Applied::Equivocation => admin::Applied::Equivocation,
        Applied::EvidenceFull => admin::Applied::EvidenceFull,
    };
    debug!(%did, version, ?applied, "operation submitted");
    Ok(warp::reply::json(&admin::OperationAccepted {
        did,
        version_id: version.to_string(),
        applied,
    })
    .into_response())
}

/// `POST /admin/status-lists/{name}`.
pub(super) async fn change_status(
    name: String,
    change: admin::StatusChange,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let purpose = match change.purpose.as_str() {
        "revocation" => Purpose::Revocation,
        "suspension" => Purpose::Suspension,
        _ => {
            return Err(reject(
                ErrorCode::BadRequest,
                "purpose is revocation or suspension",
            ));
        }
    };
    let lists = state.status_lists.clone();
    let work = move || lists.change(&name, purpose, &change.set, &change.clear, Utc::now());
    let signed = match blocking(work).await? {
        Ok(signed) => signed,
        Err(e @ (StatusListError::BadName | StatusListError::TooManyChanges)) => {
            return Err(reject(ErrorCode::BadRequest, e.to_string()));
        }
        Err(e @ StatusListError::Invalid(_)) => {
            return Err(reject(ErrorCode::InvalidChange, e.to_string()));
        }
        Err(e @ (StatusListError::PurposeMismatch { .. } | StatusListError::Irreversible(_))) => {
            return Err(reject(ErrorCode::Conflict, e.to_string()));
        }
        Err(StatusListError::Org(e)) => return Err(org_error(e)),
        Err(e) => return Err(internal(e)),
    };
    if let Some(network) = &state.network {
        network.publish_status_list(&signed).await;
    }
    debug!(id = %signed["id"], "status list changed");
    Ok(warp::reply::json(&admin::StatusChanged {
        id: signed["id"].clone(),
        valid_from: signed["validFrom"].clone(),
    })
    .into_response())
}

/// What the org's DID admin endpoints do.
pub(super) enum OrgAction {
    /// `POST /admin/did/update`.
    Update(Box<DocumentContent>),
    /// `POST /admin/did/rotate`.
    Rotate,
    /// `POST /admin/did/deactivate`.
    Deactivate,
}

/// Checks a deactivation's confirmation.
pub(super) async fn confirm_deactivation(
    confirm: admin::Confirm,
    state: Arc<ApiState>,
) -> Result<OrgAction, Rejection> {
    if confirm.did == state.org.did().as_str() {
        Ok(OrgAction::Deactivate)
    } else {
        Err(reject(
            ErrorCode::BadRequest,
            "confirm with the org's DID: {\"did\": \"<the org DID>\"}",
        ))
    }
}

/// Operates the org's DID; after a change of keys, signs the org's lists anew.
pub(super) async fn org_operation(
    action: OrgAction,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let org = state.org.clone();
    let lists = state.status_lists.clone();
    let work = move || {
        let (operation, rekeyed) = match action {
            OrgAction::Update(document) => (org.update(*document, Utc::now()), true),
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
    Ok(warp::reply::json(&admin::OperationAccepted {
        did: state.org.did().clone(),
        version_id: operation.version.to_string(),
        applied: admin::Applied::Appended,
    })
    .into_response())
}

/// The most peers one request names (a consortium has at most 256 members).
const MAX_PEERS: usize = crate::consortium::MAX_MEMBERS;

/// `POST /admin/peers/refuse` (`refuse`) and `/admin/peers/admit`: members' nodes refused for a
/// while (their connections closed and refused both ways), or admitted again.
pub(super) async fn peers(
    refuse: bool,
    body: admin::Peers,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let Some(network) = &state.network else {
        return Err(reject(
            ErrorCode::NoNetwork,
            "this node runs alone, without a consortium",
        ));
    };
    if body.peers.len() > MAX_PEERS {
        return Err(reject(
            ErrorCode::BadRequest,
            format!("at most {MAX_PEERS} peers"),
        ));
    }
    let done = if refuse {
        network.refuse(&body.peers).await
    } else {
        network.admit(&body.peers).await
    };
    match done {
        Ok(()) => Ok(warp::reply::json(&admin::PeersChanged {
            refused: refuse,
            peers: body.peers,
        })
        .into_response()),
        Err(e @ crate::net::NetError::PeerId(_)) => {
            Err(reject(ErrorCode::BadRequest, e.to_string()))
        }
        Err(e) => Err(internal(e)),
    }
}

fn consortium_of(state: &ApiState) -> Result<&Amendments, Rejection> {
    state.amendments.as_ref().ok_or_else(|| {
        reject(
            ErrorCode::NoNetwork,
            "this node runs alone, without a consortium",
        )
    })
}

fn amendment_error(error: AmendmentError) -> Rejection {
    // Invalid in itself, or valid but for another state than this node's.
    let code = match error {
        AmendmentError::Malformed(_)
        | AmendmentError::BadChange(_)
        | AmendmentError::BadSignature
        | AmendmentError::Unsigned { .. } => ErrorCode::InvalidAmendment,
        AmendmentError::OtherConsortium(_)
        | AmendmentError::Ahead { .. }
        | AmendmentError::Fork(_)
        | AmendmentError::WrongPrevious { .. }
        | AmendmentError::NotAMember => ErrorCode::Conflict,
    };
    reject(code, error.to_string())
}

/// `GET /admin/consortium`: the membership in force and the amendments that made it.
pub(super) async fn consortium(state: Arc<ApiState>) -> Result<Response, Rejection> {
    let amendments = consortium_of(&state)?;
    let membership = amendments
        .members()
        .now()
        .expect("a consortium's membership");
    Ok(warp::reply::json(&admin::Membership {
        name: membership.name().to_owned(),
        genesis: amendments.genesis().hash(),
        sequence: membership.sequence(),
        head: membership.head().to_owned(),
        needed: membership.needed(),
        members: membership.members().to_vec(),
        amendments: membership.amendments().to_vec(),
    })
    .into_response())
}

/// Signs `amendment` with the node key (if this node has not), applies it once it has the
/// signatures it needs, and gossips it then.
async fn sign_and_apply(
    state: Arc<ApiState>,
    mut amendment: Amendment,
) -> Result<Response, Rejection> {
    let amendments = consortium_of(&state)?.clone();
    let data_dir = state.data_dir.clone();
    let work = move || -> Result<Result<admin::Signed, AmendmentError>, String> {
        let membership = amendments
            .members()
            .now()
            .expect("a consortium's membership");
        let needed = membership.needed();
        let answer = |applied, signed, amendment| admin::Signed {
            applied,
            signed,
            needed,
            amendment,
        };
        // Applied already: say so, whatever its signatures.
        if (1..=membership.sequence()).contains(&amendment.sequence) {
            let submitted = amendments.submit(&amendment).map_err(|e| e.to_string())?;
            return Ok(submitted.map(|_| answer(true, 0, amendment)));
        }
        let key = datadir::node_key(&data_dir).map_err(|e| e.to_string())?;
        if let Err(e) = membership.sign(&mut amendment, &key) {
            return Ok(Err(e));
        }
        let signed = match membership.signers(&amendment) {
            Ok(signed) => signed,
            Err(e) => return Ok(Err(e)),
        };
        if signed < needed {
            return Ok(Ok(answer(false, signed, amendment)));
        }
        let submitted = amendments.submit(&amendment).map_err(|e| e.to_string())?;
        Ok(submitted.map(|_| answer(true, signed, amendment)))
    };
    let answer = blocking(work)
        .await?
        .map_err(internal)?
        .map_err(amendment_error)?;
    let (applied, amendment) = (answer.applied, &answer.amendment);
    if applied && let Some(network) = &state.network {
        network.publish_amendment(amendment).await;
    }
    debug!(
        sequence = amendment.sequence,
        applied,
        signed = answer.signed,
        needed = answer.needed,
        "amendment signed"
    );
    Ok(warp::reply::json(&answer).into_response())
}

/// `POST /admin/consortium/proposals`: a change of membership, proposed and signed by this node.
pub(super) async fn propose(change: Change, state: Arc<ApiState>) -> Result<Response, Rejection> {
    let membership = consortium_of(&state)?
        .members()
        .now()
        .expect("a consortium's membership");
    let amendment = Amendment {
        consortium: membership.name().to_owned(),
        sequence: membership.sequence() + 1,
        previous: membership.head().to_owned(),
        change,
        created: Utc::now().trunc_subsecs(3),
        signatures: Vec::new(),
    };
    sign_and_apply(state, amendment).await
}

/// `POST /admin/consortium/signatures`: another member's proposal, signed by this node too;
/// applied once it has the signatures it needs.
pub(super) async fn sign(
    amendment: Amendment,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    sign_and_apply(state, amendment).await
}
