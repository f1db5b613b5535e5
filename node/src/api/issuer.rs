//! The org's issuer over HTTP. Behind the admin token: agent definitions and instance bindings,
//! issuance, revocation and suspension at the four levels. Open to anyone, since each proves
//! what it needs with a signature: challenges, the registration of a delegation and a renewal
//! (both by presentation over a challenge), and the members' revocation events.
//!
//! What a change signs anew (status lists, a definition's DID, a revocation event) is stored
//! before the answer and gossiped after it.

use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;
use vouch_core::credential::CredentialId;
use vouch_core::did::Did;
use warp::Rejection;
use warp::http::StatusCode;
use warp::reply::Response;

use super::errors::{internal, issuer_error, reject};
use super::{ApiState, blocking, json, publish_lists, run};
use crate::issuer::{
    DefinitionRequest, DelegationRequest, Issuance, IssueRequest, RenewalRequest, Revocation,
    RevocationRequest,
};
use vouch_api::ErrorCode;
use vouch_api::node::{admin, public};

async fn publish_revocation(state: &ApiState, revocation: &Revocation) {
    publish_lists(state, &revocation.lists).await;
    if let Some(network) = &state.network {
        network.publish_revocation_event(&revocation.event).await;
    }
}

/// A DID from a path segment, as the resolver takes it.
fn did_in_path(segment: &str) -> Result<Did, Rejection> {
    let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
    Did::parse(&decoded).map_err(|e| reject(ErrorCode::Malformed, e.to_string()))
}

/// `POST /admin/agents`.
pub(super) async fn register_definition(
    request: DefinitionRequest,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let issuer = state.issuer.clone();
    // An owner is a person who approves with a passkey: the first definition naming them
    // registers them, and gives the link to register their passkey with.
    let passkeys = state.passkeys.party().is_some();
    let (definition, genesis, enrolment) = run(move || {
        let (definition, genesis) = issuer.register_definition(request, Utc::now())?;
        let enrolment = if passkeys {
            issuer.enrolment_for_new(&definition.agent.owner, Utc::now())?
        } else {
            None
        };
        Ok((definition, genesis, enrolment))
    })
    .await?;
    if let Some(network) = &state.network {
        network.publish(&genesis).await;
    }
    let answer = admin::Registered {
        definition,
        owner_enrolment: enrolment.and_then(|e| super::passkeys::enrolment_link(&state, &e)),
    };
    Ok(json(StatusCode::CREATED, &answer))
}

/// `GET /admin/agents`.
pub(super) async fn definitions(
    listing: admin::Listing,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let issuer = state.issuer.clone();
    let definitions = if listing.orphaned {
        let orphaned = run(move || issuer.orphaned()).await?;
        orphaned.into_iter().map(|d| (d, false)).collect()
    } else {
        run(move || issuer.definitions()).await?
    };
    let definitions = definitions
        .into_iter()
        .map(|(definition, revoked)| admin::Listed {
            definition,
            revoked,
        })
        .collect();
    Ok(json(StatusCode::OK, &admin::Definitions { definitions }))
}

/// `POST /admin/agents/{definition}/instances`: the body is the instance's signed binding
/// statement.
pub(super) async fn bind(
    definition: String,
    proof: Value,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let definition = did_in_path(&definition)?;
    let issuer = state.issuer.clone();
    let instance = run(move || issuer.bind(&definition, &proof, Utc::now())).await?;
    Ok(json(StatusCode::CREATED, &instance))
}

/// `POST /admin/credentials`.
pub(super) async fn issue(
    request: IssueRequest,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let issuer = state.issuer.clone();
    let issued = run(move || issuer.issue(request, Utc::now())).await?;
    answer_issuance(&state, issued).await
}

async fn answer_issuance(state: &ApiState, issued: Issuance) -> Result<Response, Rejection> {
    publish_lists(state, &issued.lists).await;
    Ok(json(
        StatusCode::CREATED,
        &public::Issuance {
            credential: issued.credential,
        },
    ))
}

/// `POST /credentials/issue` (the W3C VC API, behind the admin token): any credential the org
/// issues, held to the data model first; `201 {verifiableCredential}`.
pub(super) async fn issue_w3c(
    request: crate::issuer::W3cIssueRequest,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let issuer = state.issuer.clone();
    let (credential, lists) = run(move || issuer.issue_w3c(request, Utc::now())).await?;
    publish_lists(&state, &lists).await;
    Ok(json(
        StatusCode::CREATED,
        &admin::W3cIssued {
            verifiable_credential: credential,
        },
    ))
}

/// `GET /admin/credentials/{id}`: what the node recorded of a credential.
pub(super) async fn issued(id: String, state: Arc<ApiState>) -> Result<Response, Rejection> {
    let decoded = percent_encoding::percent_decode_str(&id)
        .decode_utf8_lossy()
        .into_owned();
    let id =
        CredentialId::parse(&decoded).map_err(|e| reject(ErrorCode::Malformed, e.to_string()))?;
    let issuer = state.issuer.clone();
    let lookup = id.clone();
    match run(move || issuer.issued(&lookup)).await? {
        Some(record) => Ok(json(StatusCode::OK, &record)),
        None => Err(reject(
            ErrorCode::NotFound,
            format!("{id} was not issued or registered here"),
        )),
    }
}

/// `POST /admin/revocations`.
pub(super) async fn revoke(
    request: RevocationRequest,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let issuer = state.issuer.clone();
    let revocation = run(move || issuer.revoke(request, Utc::now())).await?;
    publish_revocation(&state, &revocation).await;
    Ok(json(StatusCode::OK, &revocation.answer()))
}

/// `POST /admin/suspensions`.
pub(super) async fn suspend(
    request: RevocationRequest,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let issuer = state.issuer.clone();
    let revocation = run(move || issuer.suspend(request, Utc::now())).await?;
    publish_revocation(&state, &revocation).await;
    Ok(json(StatusCode::OK, &revocation.answer()))
}

/// `POST /admin/suspensions/{id}/lift`.
pub(super) async fn lift(
    id: String,
    body: admin::Lift,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let id = percent_encoding::percent_decode_str(&id)
        .decode_utf8_lossy()
        .into_owned();
    let issuer = state.issuer.clone();
    let revocation = run(move || issuer.lift(&id, body.reason, Utc::now())).await?;
    publish_revocation(&state, &revocation).await;
    Ok(json(StatusCode::OK, &revocation.answer()))
}

/// `POST /1.0/challenges`.
pub(super) async fn challenge(state: Arc<ApiState>) -> Result<Response, Rejection> {
    let challenge = state
        .issuer
        .challenge(Utc::now())
        .map_err(|refusal| issuer_error(refusal.into()))?;
    Ok(json(StatusCode::CREATED, &challenge))
}

/// `POST /1.0/delegations`.
pub(super) async fn register_delegation(
    request: DelegationRequest,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let turn = state.changing.turn().await?;
    let issuer = state.issuer.clone();
    let issued = run(move || {
        let _turn = turn;
        issuer.register_delegation(request, Utc::now())
    })
    .await?;
    answer_issuance(&state, issued).await
}

/// `POST /1.0/renewals`.
pub(super) async fn renew(
    request: RenewalRequest,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let turn = state.changing.turn().await?;
    let issuer = state.issuer.clone();
    let issued = run(move || {
        let _turn = turn;
        issuer.renew(request, Utc::now())
    })
    .await?;
    answer_issuance(&state, issued).await
}

/// `GET /1.0/revocations?issuer=<DID>`: the revocation events held, of one member or of all.
pub(super) async fn events(
    query: Vec<(String, String)>,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let issuer = match &query[..] {
        [] => None,
        [(name, did)] if name == "issuer" => {
            Some(Did::parse(did).map_err(|e| reject(ErrorCode::Malformed, e.to_string()))?)
        }
        _ => {
            return Err(reject(
                ErrorCode::Malformed,
                "the one query parameter is issuer",
            ));
        }
    };
    let events = state.events.clone();
    let listed = blocking(move || events.list(issuer.as_ref()))
        .await?
        .map_err(internal)?;
    Ok(json(
        StatusCode::OK,
        &public::RevocationEvents { events: listed },
    ))
}

/// `POST /admin/owners`: registers an owner, with their owner key.
pub(super) async fn register_owner(
    request: crate::issuer::OwnerRequest,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let issuer = state.issuer.clone();
    let passkeys = state.passkeys.party().is_some();
    let (owner, enrolment) = run(move || {
        let owner = issuer.register_owner(request, Utc::now())?;
        let enrolment = if passkeys {
            Some(issuer.enrolment(&owner.id, Utc::now())?)
        } else {
            None
        };
        Ok((owner, enrolment))
    })
    .await?;
    let answer = admin::OwnerRegistered {
        registered: owner
            .registered
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        passkeys: owner.passkeys.len(),
        key: owner.key.map(|key| key.as_str().to_owned()),
        enrol: enrolment.and_then(|e| super::passkeys::enrolment_link(&state, &e)),
        id: owner.id,
    };
    Ok(json(StatusCode::CREATED, &answer))
}

/// `POST /1.0/approvals`: an agent asks its owner's approval of one request.
pub(super) async fn ask_approval(
    ask: crate::issuer::ApprovalAsk,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let turn = state.changing.turn().await?;
    let issuer = state.issuer.clone();
    let pending = run(move || {
        let _turn = turn;
        issuer.ask_approval(ask, Utc::now())
    })
    .await?;
    Ok(json(StatusCode::CREATED, &with_page(&state, pending)))
}

/// `GET /1.0/approvals/{id}`: where an approval request stands, with the approval once given.
pub(super) async fn approval(id: String, state: Arc<ApiState>) -> Result<Response, Rejection> {
    let id = percent_encoding::percent_decode_str(&id)
        .decode_utf8_lossy()
        .into_owned();
    let issuer = state.issuer.clone();
    match run(move || issuer.approval(&id)).await? {
        Some(pending) => Ok(json(StatusCode::OK, &with_page(&state, pending))),
        None => Err(reject(ErrorCode::NotFound, "no such approval request")),
    }
}

/// An approval request as answered: with the link of its page, where its owner decides with
/// a passkey.
fn with_page(state: &ApiState, mut pending: crate::issuer::Pending) -> crate::issuer::Pending {
    pending.page = super::passkeys::approval_link(state, &pending);
    pending
}

/// `POST /1.0/approvals/{id}/decision`: the owner's decision, signed with their owner key.
pub(super) async fn decide_approval(
    id: String,
    decision: crate::issuer::OwnerDecision,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let id = percent_encoding::percent_decode_str(&id)
        .decode_utf8_lossy()
        .into_owned();
    let turn = state.changing.turn().await?;
    let issuer = state.issuer.clone();
    let (pending, lists) = run(move || {
        let _turn = turn;
        issuer.decide_approval(&id, decision, Utc::now())
    })
    .await?;
    publish_lists(&state, &lists).await;
    Ok(json(StatusCode::OK, &pending))
}
