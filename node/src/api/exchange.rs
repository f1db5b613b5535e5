//! The capability exchange over HTTP, with the node as verifier (`crate::exchanges`):
//!
//! - `POST /1.0/exchanges` `{capabilities, query?}`: opens an exchange; `201` with its id and
//!   the node's request (challenge, domain — the relying party whose resources are asked, their
//!   common origin —, DCQL query, capabilities, and the node's own presentation over the
//!   request's intent, for the prover to authenticate it and see what it agrees to).
//! - `POST /1.0/exchanges/{id}` `{verifiablePresentation}`: the prover's response; `200` with
//!   the signed `CapabilityDecision` and each capability's decision, recorded in the node's
//!   audit log first. An exchange is answered once: again, or expired, is `409 replayed`.
//! - `GET /1.0/exchanges/{id}`: the decision, once made.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};
use vouch_core::verify::Verifier;
use warp::Rejection;
use warp::http::StatusCode;
use warp::reply::Response;

use super::errors::{internal, reject};
use super::{ApiState, blocking};
use crate::exchanges::State;
use vouch_api::ErrorCode;
use vouch_api::node::public::{
    ExchangeDecided, ExchangeOpened, ExchangeStanding, ExchangeState, OpenExchange,
};

fn json_reply(status: StatusCode, body: &impl serde::Serialize) -> Response {
    use warp::Reply as _;
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

/// The query asked when the partner names none: every capability credential.
fn default_query() -> Value {
    json!({"credentials": [{
        "id": "capabilities",
        "format": "ldp_vc",
        "multiple": true,
        "meta": {"type_values": [["https://w3id.org/vouch#AgentCapabilityCredential"]]},
    }]})
}

/// `POST /1.0/exchanges`.
pub(super) async fn open(
    body: OpenExchange,
    client: Option<vouch_serve::Client>,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let work_state = state.clone();
    let (credential, publish) = blocking(move || {
        work_state
            .exchanges
            .identity(&work_state.issuer, Utc::now())
    })
    .await?
    .map_err(super::errors::issuer_error)?;
    if let Some(network) = &state.network {
        if let Some(genesis) = &publish.genesis {
            network.publish(genesis).await;
        }
        for list in &publish.lists {
            network.publish_status_list(list).await;
        }
    }
    let work_state = state.clone();
    let opened = blocking(move || {
        work_state.exchanges.open(
            credential,
            body.query.unwrap_or_else(default_query),
            body.capabilities,
            client.map(|c| c.owner()),
            Utc::now(),
        )
    })
    .await?;
    match opened {
        Ok((id, request)) => Ok(json_reply(
            StatusCode::CREATED,
            &ExchangeOpened {
                exchange_id: id,
                request,
            },
        )),
        // The exchanges expire within their minute: by then there is room again.
        Err(vouch_core::exchange::ExchangeError::Share(_)) => Err(super::errors::too_many(
            vouch_core::exchange::flow::MAX_REQUEST_AGE
                .to_std()
                .unwrap_or(std::time::Duration::from_secs(60)),
        )),
        Err(vouch_core::exchange::ExchangeError::Busy(_)) => Err(super::errors::busy(
            vouch_core::exchange::flow::MAX_REQUEST_AGE
                .to_std()
                .unwrap_or(std::time::Duration::from_secs(60)),
            "the node holds as many open exchanges as it may",
        )),
        Err(e) => Err(reject(ErrorCode::Malformed, e.to_string())),
    }
}

/// `POST /1.0/exchanges/{id}`.
pub(super) async fn participate(
    id: String,
    response: Value,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let turn = state.verifying.turn().await?;
    let work = move || -> Result<Result<ExchangeDecided, Rejection>, String> {
        let _turn = turn;
        let now = Utc::now();
        let Some(asked) = state.exchanges.take(&id, now) else {
            return Ok(Err(reject(
                ErrorCode::Replayed,
                "no such exchange awaits a response: answered already, expired, or never opened",
            )));
        };
        let credentials: Vec<&Value> = response["verifiablePresentation"]["verifiableCredential"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let known = state
            .status_lists
            .knowledge(&credentials, now)
            .map_err(|e| e.to_string())?;
        let mut verifier = Verifier::new(&state.registry, now);
        verifier.issuers = Some(known.policy());
        verifier.status = Some(&known.lists);
        verifier.approvals = Some(state.exchanges.approvals_used());
        let judged = match state.exchanges.decide(&asked, &response, &verifier) {
            Ok(judged) => judged,
            Err(e) => {
                return Ok(Err(reject(ErrorCode::Malformed, e.to_string())));
            }
        };
        // Recorded before it is answered: a decision the log does not show is not given. A
        // prover that did not authenticate is one entry, counted with its others in the minute.
        let entries = vouch_core::exchange::audit::judged_entries(&judged, &response);
        let recorded = if judged.verified.report.verified {
            state.audit.record_all(entries, now).map(|_| ())
        } else {
            entries
                .into_iter()
                .try_for_each(|entry| state.record_refusal(entry, now))
        };
        recorded.map_err(|e| format!("the decision could not be written to the audit log: {e}"))?;
        state.exchanges.keep(id, &judged.signed, now);
        Ok(Ok(ExchangeDecided {
            decision: judged.signed,
            decisions: judged.decision.decided,
        }))
    };
    let body = blocking(work).await?.map_err(internal)??;
    Ok(json_reply(StatusCode::OK, &body))
}

/// `GET /1.0/exchanges/{id}`.
pub(super) async fn get(id: String, state: Arc<ApiState>) -> Result<Response, Rejection> {
    match state.exchanges.state(&id) {
        State::Decided(decision) => Ok(json_reply(
            StatusCode::OK,
            &ExchangeStanding {
                state: ExchangeState::Decided,
                decision,
            },
        )),
        State::Unknown => Err(reject(
            ErrorCode::NotFound,
            "no decision on such an exchange: open, expired, or never opened",
        )),
    }
}
