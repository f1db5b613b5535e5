//! The verification service for partners without a node, in the shape of the W3C VC API:
//! `POST /1.0/credentials/verify` and `POST /1.0/presentations/verify`. Every check of
//! `vouch_core::verify` and `vouch_core::presentation` runs with what this node holds: the DID
//! documents it replicates, the status lists it holds (each verified again before use), and the
//! consortium's trusted-issuer policy (this org alone, for a node without a consortium). Nothing
//! is cached: every request is verified from scratch.
//!
//! Any W3C credential is verified, not only agent credentials: proof, validity window, each
//! status entry, and — as a check of its own — whether its issuer is trusted (the consortium's
//! members, and `[verification] trusted_issuers` for credentials that attest no action). An
//! agent credential keeps every Vouch rule on top. `options.checks` restricts what counts
//! towards `verified` for other credentials (the VC API's option): the checks not asked for are
//! shown as not asked.

use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;
use vouch_core::presentation::{
    MAX_CREDENTIALS, carries_vouch_credentials, verify_generic_presentation, verify_presentation,
};
use vouch_core::report::{Report, check};
use vouch_core::verify::{
    Verifier, WithOthers, is_agent_credential, verify_credential, verify_generic_credential,
};
use warp::Rejection;
use warp::http::StatusCode;
use warp::reply::Response;

use super::errors::{internal, reject};
use super::foreign;
use super::{ApiState, blocking};
use crate::status_lists::Knowledge;
use vouch_api::ErrorCode;
use vouch_api::node::public::{
    CheckRequest, RequestPermitted, Verified, VerifyCredential, VerifyPresentation,
};
use vouch_core::signed_request::{self, Permitted, Refused, Signed};

/// The largest request: a presentation of [`MAX_CREDENTIALS`] credentials and its envelope.
pub(super) const MAX_VERIFY_BODY_BYTES: u64 =
    (MAX_CREDENTIALS * vouch_core::credential::MAX_CREDENTIAL_BYTES + 64 * 1024) as u64;

/// The checks `options.checks` may name, and what each is in the report: the VC API's names
/// and ours.
const CHECK_NAMES: [(&str, &str); 8] = [
    ("proof", check::PROOF),
    ("validity", check::VALIDITY),
    ("expiration", check::VALIDITY),
    ("status", check::STATUS),
    ("credentialStatus", check::STATUS),
    ("issuer", check::ISSUER_TRUST),
    ("issuer_trust", check::ISSUER_TRUST),
    ("schema", check::SCHEMA),
];

/// The report's checks `options.checks` names, or which name is not one.
fn asked_checks(names: &[String]) -> Result<Vec<&'static str>, String> {
    if names.is_empty() || names.len() > 16 {
        return Err("options.checks names 1 to 16 checks".into());
    }
    names
        .iter()
        .map(|name| {
            CHECK_NAMES
                .iter()
                .find(|(known, _)| known == name)
                .map(|(_, check)| *check)
                .ok_or_else(|| {
                    format!(
                        "options.checks: {name:.64} is not a check this verifier makes (proof, validity, status, issuer)"
                    )
                })
        })
        .collect()
}

/// What the node knows for these credentials: its lists and policy, and the lists it fetched
/// for the credentials that are none of Vouch's, whose proof verifies and whose issuer it trusts
/// (`foreign`).
fn knowledge(state: &ApiState, credentials: &[&Value]) -> Result<Knowledge, String> {
    let mut known = state
        .status_lists
        .knowledge(credentials, Utc::now())
        .map_err(|e| e.to_string())?;
    let mut fetched = 0;
    for credential in credentials.iter().take(MAX_CREDENTIALS) {
        if is_agent_credential(credential) || vouch_core::approval::is_approval(credential) {
            continue;
        }
        let missing: Vec<&str> = vouch_core::status::list_urls([*credential])
            .into_iter()
            .filter(|url| !known.lists.holds(url))
            .collect();
        if missing.is_empty() || fetched >= foreign::MAX_FETCHES {
            continue;
        }
        let Some(issuer) = vouch_core::datamodel::issuer_id(credential)
            .and_then(|id| vouch_core::did::Did::parse(id).ok())
        else {
            continue;
        };
        if !(known.policy().knows(&issuer) || state.trusted_issuers.contains(&issuer)) {
            continue;
        }
        let signed_by_issuer = vouch_core::proof::verify_set(
            credential,
            vouch_core::did::document::Relationship::AssertionMethod,
            &state.registry,
        )
        .is_ok_and(|proofs| proofs.iter().any(|p| p.verification_method.did() == issuer));
        if !signed_by_issuer {
            continue;
        }
        for url in missing {
            if fetched >= foreign::MAX_FETCHES {
                break;
            }
            fetched += 1;
            match state.foreign.get(url, &issuer, &state.registry) {
                Ok(list) => known.lists.insert(list),
                Err(why) => tracing::debug!(%why, "a status list could not be fetched"),
            }
        }
    }
    Ok(known)
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

/// The answer to a report: 200 when verified, 400 when not (the VC API's way).
fn verified(report: Report) -> (StatusCode, Verified) {
    let status = if report.verified {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    (status, Verified::of(report))
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
    let asked = match &body.options.checks {
        None => None,
        Some(names) => Some(asked_checks(names).map_err(|why| reject(ErrorCode::Malformed, why))?),
    };
    let turn = state.verifying.turn().await?;
    let work = move || -> Result<(StatusCode, Verified), String> {
        let _turn = turn;
        let credential = body.verifiable_credential;
        let known = knowledge(&state, &[&credential])?;
        let mut verifier = Verifier::new(&state.registry, Utc::now());
        verifier.status = Some(&known.lists);
        let report = if is_agent_credential(&credential) {
            // Every Vouch rule, whatever was asked: the capabilities' trust is the consortium's.
            verifier.issuers = Some(known.policy());
            verify_credential(&credential, &verifier).0
        } else {
            let policy = WithOthers {
                capabilities: known.policy(),
                others: &state.trusted_issuers,
            };
            verifier.issuers = Some(&policy);
            let report = verify_generic_credential(&credential, &verifier);
            match &asked {
                Some(asked) => report.only(asked),
                None => report,
            }
        };
        audit(&state, &report, None, &[&credential])?;
        Ok(verified(report))
    };
    let (status, verified) = blocking(work).await?.map_err(internal)?;
    Ok(reply(status, &verified))
}

/// `POST /1.0/presentations/verify`.
pub(super) async fn presentation(
    body: VerifyPresentation,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let asked = match &body.options.checks {
        None => None,
        Some(names) => Some(asked_checks(names).map_err(|why| reject(ErrorCode::Malformed, why))?),
    };
    let turn = state.verifying.turn().await?;
    let work = move || -> Result<(StatusCode, Verified), String> {
        let _turn = turn;
        let presentation = body.verifiable_presentation;
        let credentials: Vec<&Value> = match &presentation["verifiableCredential"] {
            Value::Array(items) => items.iter().collect(),
            Value::Object(_) => vec![&presentation["verifiableCredential"]],
            _ => Vec::new(),
        };
        let known = knowledge(&state, &credentials)?;
        let mut verifier = Verifier::new(&state.registry, Utc::now());
        verifier.status = Some(&known.lists);
        let (challenge, domain) = (&body.options.challenge, &body.options.domain);
        let (report, holder) = if carries_vouch_credentials(&presentation) {
            // Every Vouch rule, whatever was asked.
            verifier.issuers = Some(known.policy());
            let verified = verify_presentation(&presentation, challenge, domain, &verifier);
            (
                verified.report,
                verified.holder.as_ref().map(ToString::to_string),
            )
        } else {
            let policy = WithOthers {
                capabilities: known.policy(),
                others: &state.trusted_issuers,
            };
            verifier.issuers = Some(&policy);
            let report = verify_generic_presentation(&presentation, challenge, domain, &verifier);
            let report = match &asked {
                // The presentation's own binding counts whatever was asked.
                Some(asked) => {
                    report.only(&[asked.as_slice(), &[check::CHALLENGE, check::DOMAIN]].concat())
                }
                None => report,
            };
            let holder =
                vouch_core::datamodel::issuer_like(presentation.get("holder")).map(str::to_owned);
            (report, holder)
        };
        audit(&state, &report, holder, &credentials)?;
        Ok(verified(report))
    };
    let (status, verified) = blocking(work).await?.map_err(internal)?;
    Ok(reply(status, &verified))
}

/// `POST /1.0/requests/verify`: whether a request an agent signed may be acted on
/// (`vouch_core::signed_request::check`), with what this node holds.
pub(super) async fn signed_request(
    body: CheckRequest,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    use base64::Engine as _;
    let target = url::Url::parse(&body.url)
        .map_err(|e| reject(ErrorCode::Malformed, format!("url: {e}")))?;
    let raw_body = body
        .body
        .as_deref()
        .map(|b| base64::engine::general_purpose::STANDARD.decode(b))
        .transpose()
        .map_err(|e| reject(ErrorCode::Malformed, format!("body: {e}")))?;
    let headers: Vec<(String, String)> = body
        .headers
        .into_iter()
        .map(|h| (h.name, h.value))
        .collect();
    let turn = state.verifying.turn().await?;
    let work = move || -> Result<Result<RequestPermitted, Rejection>, String> {
        let _turn = turn;
        let request = vouch_core::http_signature::Request {
            method: &body.method,
            target: &target,
            headers: &headers,
            body: raw_body.as_deref(),
        };
        let now = Utc::now();
        let outcome = check_signed(&state, &request, &body.arguments, now)?;
        request_audit(&state, &outcome, &target, now)?;
        Ok(outcome
            .map(|permitted| RequestPermitted {
                signer: permitted.signer,
                credential: permitted.credential,
                action: permitted.action,
            })
            .map_err(|(_, refused)| reject(ErrorCode::from(refused.reason), refused.message)))
    };
    let permitted = blocking(work).await?.map_err(internal)??;
    Ok(super::json(StatusCode::OK, &permitted))
}

/// A signed request checked: permitted, or refused — with the signer and credential it named
/// when its signature verified.
type Checked = Result<Permitted, (Option<Signed>, Refused)>;

/// `vouch_core::signed_request`'s three steps, with the status lists of the credentials
/// concerned — the presentation's, or the chain remembered for the session — gathered between
/// them.
fn check_signed(
    state: &ApiState,
    request: &vouch_core::http_signature::Request<'_>,
    arguments: &serde_json::Map<String, Value>,
    now: chrono::DateTime<Utc>,
) -> Result<Checked, String> {
    let sessions = state.exchanges.signed_sessions();
    let signed = match signed_request::read(request, now, sessions) {
        Ok(signed) => signed,
        Err(refused) => return Ok(Err((None, refused))),
    };
    let remembered = match &signed.presentation {
        Some(_) => None,
        None => sessions.recall(&signed, now),
    };
    let known = match (&signed.presentation, &remembered) {
        (Some(presentation), _) => {
            let credentials: Vec<&Value> = presentation["verifiableCredential"]
                .as_array()
                .map(|c| c.iter().collect())
                .unwrap_or_default();
            knowledge(state, &credentials)?
        }
        (None, chain) => state
            .status_lists
            .knowledge_of_lists(
                chain
                    .iter()
                    .flat_map(|chain| &chain.credentials)
                    .flat_map(|c| &c.credential_status)
                    .map(|entry| entry.status_list_credential.as_str()),
                now,
            )
            .map_err(|e| e.to_string())?,
    };
    let mut verifier = Verifier::new(&state.registry, now);
    verifier.status = Some(&known.lists);
    verifier.issuers = Some(known.policy());
    let chain = match signed.permit(request, arguments, &verifier, remembered.as_ref()) {
        Ok(chain) => chain,
        Err(refused) => return Ok(Err((Some(signed), refused))),
    };
    let nonces = state.exchanges.signed_nonces();
    let first_use = |nonce: &str, until: i64| {
        let until = chrono::DateTime::from_timestamp(until, 0).unwrap_or(now);
        nonces.insert(nonce.to_owned(), until, (), now).is_ok()
    };
    let kept = signed.clone();
    Ok(signed
        .settle(chain, sessions, first_use)
        .map_err(|refused| (Some(kept), refused)))
}

/// Writes the node's decision on a signed request to its audit log: permitted — the signer,
/// the action, the credential and the hash of the URL (without its query) — or refused, as
/// every refusal of an unauthenticated caller is (`exchange::audit::refusal_entry`, counted
/// when repeated within the minute). A decision that cannot be recorded is not given.
fn request_audit(
    state: &ApiState,
    outcome: &Checked,
    target: &url::Url,
    now: chrono::DateTime<Utc>,
) -> Result<(), String> {
    use vouch_core::audit::{Decision, Event, MAX_TEXT};
    use vouch_core::hash::Multihash;
    match outcome {
        Ok(permitted) => {
            let mut resource = target.clone();
            resource.set_query(None);
            resource.set_fragment(None);
            let mut entry = crate::audit::entry(Event::Decided);
            entry.decision = Some(Decision::Accepted);
            entry.agent = Some(permitted.signer.to_string());
            entry.action = Some(permitted.action.clone()).filter(|a| a.len() <= MAX_TEXT);
            entry.credentials = std::iter::once(permitted.credential.clone())
                .filter(|id| id.len() <= MAX_TEXT)
                .collect();
            entry.resource_hash = Some(Multihash::of(resource.as_str().as_bytes()));
            state
                .audit
                .record(entry, now)
                .map(|_| ())
                .map_err(|e| format!("the decision could not be written to the audit log: {e}"))
        }
        Err((signed, refused)) => {
            let signer = signed.as_ref().map(|s| s.signer.to_string());
            let credential = signed.as_ref().map(|s| s.credential.as_str());
            let entry = vouch_core::exchange::audit::refusal_entry(
                Event::VerificationRefused,
                signer.as_deref(),
                Some(refused.reason),
                credential.as_slice(),
            );
            state
                .record_refusal(entry, now)
                .map_err(|e| format!("the refusal could not be written to the audit log: {e}"))
        }
    }
}
