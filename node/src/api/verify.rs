//! The verification service for partners without a node, in the shape of the W3C VC API:
//! `POST /1.0/credentials/verify` and `POST /1.0/presentations/verify`. Every check of
//! `vouch_core::verify` and `vouch_core::presentation` runs with what this node holds: the DID
//! documents it replicates, the status lists it holds (each verified again before use), and the
//! consortium's trusted-issuer policy (this org alone, for a node without a consortium). Nothing
//! is cached: every request is verified from scratch.

use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use vouch_core::presentation::{MAX_CREDENTIALS, verify_presentation};
use vouch_core::report::{Check, Outcome, Report};
use vouch_core::verify::{Verifier, verify_credential};
use warp::Rejection;
use warp::http::StatusCode;
use warp::reply::Response;

use super::errors::internal;
use super::{ApiState, blocking};
use crate::status_lists::Knowledge;

/// The largest request: a presentation of [`MAX_CREDENTIALS`] credentials and its envelope.
pub(super) const MAX_VERIFY_BODY_BYTES: u64 =
    (MAX_CREDENTIALS * vouch_core::credential::MAX_CREDENTIAL_BYTES + 64 * 1024) as u64;

/// `POST /1.0/credentials/verify`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct VerifyCredential {
    verifiable_credential: Value,
    #[serde(default)]
    options: Option<Value>,
}

/// `POST /1.0/presentations/verify`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct VerifyPresentation {
    verifiable_presentation: Value,
    options: PresentationOptions,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresentationOptions {
    challenge: String,
    domain: String,
}

/// The answer: the VC API's `checks`, `warnings` and `errors`, with every check's outcome and
/// reason code.
#[derive(Serialize)]
struct Verified {
    verified: bool,
    /// Every check made, passed, failed or skipped.
    checks: Vec<Check>,
    warnings: Vec<Check>,
    /// The checks that failed.
    errors: Vec<Check>,
}

impl Verified {
    fn of(report: Report) -> (StatusCode, Self) {
        let errors = report
            .checks
            .iter()
            .filter(|c| c.outcome == Outcome::Failed)
            .cloned()
            .collect();
        let warnings = report
            .checks
            .iter()
            .filter(|c| c.outcome == Outcome::Skipped)
            .cloned()
            .collect();
        let status = if report.verified {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        (
            status,
            Self {
                verified: report.verified,
                checks: report.checks,
                warnings,
                errors,
            },
        )
    }
}

fn knowledge(state: &ApiState, credentials: &[&Value]) -> Result<Knowledge, String> {
    state
        .status_lists
        .knowledge(credentials, Utc::now())
        .map_err(|e| e.to_string())
}

/// Writes the service's decision to the node's audit log: who presented (for a presentation),
/// the credentials, accepted or the first reason it was refused for. No input is kept beyond
/// those identifiers. A refusal — its caller authenticated by nothing — is one entry of a fixed
/// size with hashes of what the caller chose (`exchange::audit::refusal_entry`), written if it
/// is the party's first in the minute and counted otherwise (`ApiState::record_refusal`).
fn audit(
    state: &ApiState,
    report: &Report,
    holder: Option<String>,
    credentials: &[&Value],
) -> Result<(), String> {
    use vouch_core::audit::{Decision, Event, MAX_CREDENTIALS};
    let reason = report.checks.iter().find_map(|c| c.reason);
    let now = Utc::now();
    if !report.verified {
        let ids: Vec<&str> = credentials
            .iter()
            .filter_map(|c| c["id"].as_str())
            .take(MAX_CREDENTIALS)
            .collect();
        let entry = vouch_core::exchange::audit::refusal_entry(
            Event::VerificationRefused,
            holder.as_deref(),
            reason,
            &ids,
        );
        return state
            .record_refusal(entry, now)
            .map_err(|e| format!("the refusal could not be written to the audit log: {e}"));
    }
    let entry = {
        let mut entry = crate::audit::entry(Event::Decided);
        entry.decision = Some(Decision::Accepted);
        entry.reason = reason.map(vouch_core::report::Reason::code);
        entry.agent = holder.filter(|h| h.len() <= vouch_core::audit::MAX_TEXT);
        entry.credentials = credentials
            .iter()
            .filter_map(|c| c["id"].as_str())
            .filter(|id| id.len() <= vouch_core::audit::MAX_TEXT)
            .take(MAX_CREDENTIALS)
            .map(str::to_owned)
            .collect();
        entry
    };
    // A decision that cannot be recorded is not given: the request fails (500).
    state
        .audit
        .record(entry, now)
        .map(|_| ())
        .map_err(|e| format!("the decision could not be written to the audit log: {e}"))
}

fn reply(status: StatusCode, verified: &Verified) -> Response {
    use warp::Reply as _;
    warp::reply::with_status(warp::reply::json(verified), status).into_response()
}

/// `POST /1.0/credentials/verify`.
pub(super) async fn credential(
    body: VerifyCredential,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let _ = body.options;
    let turn = state.verifying.turn().await?;
    let work = move || -> Result<(StatusCode, Verified), String> {
        let _turn = turn;
        let credential = body.verifiable_credential;
        let known = knowledge(&state, &[&credential])?;
        let mut verifier = Verifier::new(&state.registry, Utc::now());
        verifier.issuers = Some(known.policy());
        verifier.status = Some(&known.lists);
        let (report, _) = verify_credential(&credential, &verifier);
        audit(&state, &report, None, &[&credential])?;
        Ok(Verified::of(report))
    };
    let (status, verified) = blocking(work).await?.map_err(internal)?;
    Ok(reply(status, &verified))
}

/// `POST /1.0/presentations/verify`.
pub(super) async fn presentation(
    body: VerifyPresentation,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let turn = state.verifying.turn().await?;
    let work = move || -> Result<(StatusCode, Verified), String> {
        let _turn = turn;
        let presentation = body.verifiable_presentation;
        let credentials: Vec<&Value> = presentation["verifiableCredential"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let known = knowledge(&state, &credentials)?;
        let mut verifier = Verifier::new(&state.registry, Utc::now());
        verifier.issuers = Some(known.policy());
        verifier.status = Some(&known.lists);
        let verified = verify_presentation(
            &presentation,
            &body.options.challenge,
            &body.options.domain,
            &verifier,
        );
        audit(
            &state,
            &verified.report,
            verified.holder.as_ref().map(ToString::to_string),
            &credentials,
        )?;
        Ok(Verified::of(verified.report))
    };
    let (status, verified) = blocking(work).await?.map_err(internal)?;
    Ok(reply(status, &verified))
}
