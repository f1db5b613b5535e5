//! The node as its org's OAuth 2.0 authorization server over HTTP (docs/OAUTH.md): metadata
//! (RFC 8414), the org's keys, token exchange (RFC 8693, with DPoP) and introspection
//! (RFC 7662). Requests are forms; OAuth's refusals are its error objects (`400`,
//! `{error, error_description}`), the node's own failures problems as everywhere else. Answers
//! that carry a token are never cached (`Cache-Control: no-store`).

use std::sync::Arc;

use chrono::Utc;
use vouch_api::node::oauth::{Introspect, OAuthRefusal, TokenRequest};
use vouch_core::oauth::OAuthError;
use warp::Rejection;
use warp::http::{HeaderMap, HeaderValue, StatusCode, header};
use warp::reply::Response;

use super::errors::{internal, issuer_error};
use super::{ApiState, blocking, json};
use crate::issuer::TokenRefusal;

/// The largest poll of Security Event Tokens taken: a thousand acknowledgements.
pub(super) const MAX_POLL_BYTES: u64 = 256 * 1024;
/// How long a poll that asks to wait waits for an event (RFC 8936 long polling).
const LONG_POLL: std::time::Duration = std::time::Duration::from_secs(10);

/// The largest form taken: a presentation with its chain and approvals.
pub(super) const MAX_FORM_BYTES: u64 = super::verify::MAX_VERIFY_BODY_BYTES;

/// An answer no cache keeps.
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// OAuth's refusal (RFC 6749 §5.2): `400` and the error object.
fn refused(error: &OAuthError) -> Response {
    no_store(json(
        StatusCode::BAD_REQUEST,
        &OAuthRefusal {
            error: error.code.as_str().into(),
            error_description: Some(error.description.clone()),
        },
    ))
}

fn invalid_request(why: impl Into<String>) -> Response {
    refused(&OAuthError::new(
        vouch_core::oauth::OAuthCode::InvalidRequest,
        why,
    ))
}

/// `GET /.well-known/oauth-authorization-server`.
pub(super) async fn metadata(state: Arc<ApiState>) -> Result<Response, Rejection> {
    Ok(json(StatusCode::OK, &state.issuer.oauth_metadata()))
}

/// `GET /1.0/oauth/jwks`.
pub(super) async fn keys(state: Arc<ApiState>) -> Result<Response, Rejection> {
    let issuer = state.issuer.clone();
    let keys = blocking(move || issuer.oauth_keys())
        .await?
        .map_err(issuer_error)?;
    Ok(json(StatusCode::OK, &keys))
}

/// `POST /1.0/oauth/token`: token exchange, with exactly one `DPoP` header field.
pub(super) async fn token(
    headers: HeaderMap,
    body: bytes::Bytes,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let request: TokenRequest = match serde_urlencoded::from_bytes(&body) {
        Ok(request) => request,
        Err(e) => {
            return Ok(invalid_request(format!(
                "the form (each parameter once): {e}"
            )));
        }
    };
    let mut proofs = headers.get_all("dpop").iter();
    let proof = match (proofs.next(), proofs.next()) {
        (Some(one), None) => match one.to_str() {
            Ok(proof) => Some(proof.to_owned()),
            Err(_) => return Ok(invalid_request("the DPoP header field is not text")),
        },
        (None, _) => None,
        (Some(_), Some(_)) => return Ok(invalid_request("one DPoP header field, not more")),
    };
    let turn = state.verifying.turn().await?;
    let issuer = state.issuer.clone();
    let answer = blocking(move || {
        let _turn = turn;
        Ok::<_, std::convert::Infallible>(issuer.exchange_token(
            &request,
            proof.as_deref(),
            Utc::now(),
        ))
    })
    .await?
    .unwrap_or_else(|never| match never {});
    match answer {
        Ok(issued) => Ok(no_store(json(StatusCode::OK, &issued))),
        Err(TokenRefusal::OAuth(error)) => {
            record_refusal(&state, &error);
            Ok(refused(&error))
        }
        Err(TokenRefusal::Issuer(error)) => Err(issuer_error(error)),
    }
}

/// A refused exchange in the audit log, counted with the other refusals of parties that did
/// not authenticate.
fn record_refusal(state: &ApiState, error: &OAuthError) {
    use vouch_core::audit::Event;
    let reason = error
        .description
        .split(':')
        .next()
        .and_then(|code| serde_json::from_value(serde_json::Value::String(code.into())).ok());
    let entry =
        vouch_core::exchange::audit::refusal_entry(Event::VerificationRefused, None, reason, &[]);
    if let Err(e) = state.record_refusal(entry, Utc::now()) {
        tracing::warn!(error = %e, "a refused token exchange could not be written to the audit log");
    }
}

/// `POST /1.0/oauth/introspect`.
pub(super) async fn introspect(
    body: bytes::Bytes,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let request: Introspect = match serde_urlencoded::from_bytes(&body) {
        Ok(request) => request,
        Err(e) => {
            return Ok(invalid_request(format!(
                "the form (each parameter once): {e}"
            )));
        }
    };
    let issuer = state.issuer.clone();
    let answer = blocking(move || {
        Ok::<_, std::convert::Infallible>(issuer.introspect(&request.token, Utc::now()))
    })
    .await?
    .map_err(internal)?;
    Ok(no_store(json(StatusCode::OK, &answer)))
}

/// `POST /1.0/oauth/events`: the events receiver polls for Security Event Tokens (RFC 8936),
/// with its bearer token (`[http] events_token_file`, read at each poll; only hashes are
/// compared); without `returnImmediately`, an empty
/// answer waits up to 10 s for an event to arrive.
pub(super) async fn poll_events(
    authorization: Option<String>,
    poll: vouch_api::node::oauth::SetPoll,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    use vouch_api::ErrorCode;
    let given = ApiState::bearer_hash(authorization.as_deref());
    let path = state.events_token_file.clone();
    let expected =
        blocking(move || Ok::<_, std::convert::Infallible>(std::fs::read_to_string(path)))
            .await?
            .unwrap_or_else(|never| match never {})
            .ok()
            .map(|token| token.trim().to_owned())
            .filter(|token| !token.is_empty())
            .map(|token| ApiState::hash_token(&token));
    if expected.is_none() || given != expected {
        return Err(super::errors::reject(
            ErrorCode::Unauthorized,
            "the events receiver's bearer token is missing or wrong (none is configured without [http] events_token_file)",
        ));
    }
    let mut changes = state.registry.metrics().changes();
    let deadline = tokio::time::Instant::now() + LONG_POLL;
    let mut asked = poll;
    loop {
        let issuer = state.issuer.clone();
        let events = state.events.clone();
        let this = asked.clone();
        let answer = blocking(move || issuer.poll_security_events(&events, &this))
            .await?
            .map_err(issuer_error)?;
        if !answer.sets.is_empty() || asked.return_immediately || asked.max_events == Some(0) {
            return Ok(no_store(json(StatusCode::OK, &answer)));
        }
        // Acknowledged once: the next round only looks for new events.
        asked.ack.clear();
        asked.set_errs.clear();
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => continue,
            _ => return Ok(no_store(json(StatusCode::OK, &answer))),
        }
    }
}
