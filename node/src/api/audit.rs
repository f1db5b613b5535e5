//! The node's audit log over HTTP, open to anyone (it holds DIDs, pseudonyms, task ids and
//! hashes, never personal data): the signed checkpoint now, inclusion and consistency proofs, and
//! the entries, so that an auditor can check the log from its first entry to a checkpoint.

use std::sync::Arc;

use warp::Rejection;
use warp::reply::Response;

use super::errors::{internal, reject};
use super::{ApiState, blocking};
use crate::audit::AuditLogError;
use crate::datadir;
use vouch_api::ErrorCode;
use vouch_api::node::public;

fn audit_error(error: AuditLogError) -> Rejection {
    match error {
        AuditLogError::Audit(e @ vouch_core::audit::AuditError::OutOfRange(_)) => {
            reject(ErrorCode::Malformed, e.to_string())
        }
        other => internal(other),
    }
}

/// One integer query parameter.
fn number(query: &[(String, String)], name: &str) -> Result<u64, Rejection> {
    let mut found = query.iter().filter(|(k, _)| k == name);
    match (found.next(), found.next()) {
        (Some((_, value)), None) => value.parse().map_err(|_| {
            reject(
                ErrorCode::Malformed,
                format!("{name} is a non-negative integer"),
            )
        }),
        _ => Err(reject(ErrorCode::Malformed, format!("give {name} once"))),
    }
}

fn only(query: &[(String, String)], names: &[&str]) -> Result<(), Rejection> {
    match query.iter().find(|(k, _)| !names.contains(&k.as_str())) {
        Some((k, _)) => Err(reject(
            ErrorCode::Malformed,
            format!(
                "unknown parameter {:?}",
                k.chars().take(64).collect::<String>()
            ),
        )),
        None => Ok(()),
    }
}

fn json_reply(body: &impl serde::Serialize) -> Response {
    use warp::Reply as _;
    warp::reply::json(body).into_response()
}

/// `GET /1.0/audit/checkpoint`: the log's checkpoint now, a C2SP signed note by the node key.
pub(super) async fn checkpoint(state: Arc<ApiState>) -> Result<Response, Rejection> {
    let work = move || -> Result<Vec<u8>, String> {
        let key = datadir::node_key(&state.data_dir).map_err(|e| e.to_string())?;
        state.audit.checkpoint(&key).map_err(|e| e.to_string())
    };
    let note = blocking(work).await?.map_err(internal)?;
    let mut response = Response::new(note.into());
    response.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}

/// `GET /1.0/audit/proof/inclusion?index=I&size=S`.
pub(super) async fn inclusion(
    query: Vec<(String, String)>,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    only(&query, &["index", "size"])?;
    let (index, size) = (number(&query, "index")?, number(&query, "size")?);
    let (entry, proof) = blocking(move || state.audit.prove_inclusion(index, size))
        .await?
        .map_err(audit_error)?;
    let proof: Vec<String> = proof.iter().map(ToString::to_string).collect();
    Ok(json_reply(&public::InclusionProof {
        index,
        size,
        entry,
        proof,
    }))
}

/// `GET /1.0/audit/proof/consistency?old=O&new=N`.
pub(super) async fn consistency(
    query: Vec<(String, String)>,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    only(&query, &["old", "new"])?;
    let (old, new) = (number(&query, "old")?, number(&query, "new")?);
    let proof = blocking(move || state.audit.prove_consistency(old, new))
        .await?
        .map_err(audit_error)?;
    let proof: Vec<String> = proof.iter().map(ToString::to_string).collect();
    Ok(json_reply(&public::ConsistencyProof { old, new, proof }))
}

/// `GET /1.0/audit/entries?from=N`: at most 4,096 entries from `from`.
pub(super) async fn entries(
    query: Vec<(String, String)>,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    only(&query, &["from"])?;
    let from = if query.is_empty() {
        0
    } else {
        number(&query, "from")?
    };
    let entries = blocking(move || state.audit.entries(from))
        .await?
        .map_err(audit_error)?;
    Ok(json_reply(&public::AuditEntries { from, entries }))
}

/// `GET /1.0/audit/witnessed`: the newest checkpoint this node holds of every member's log, its
/// own included, with the cosignatures gathered.
pub(super) async fn witnessed(state: Arc<ApiState>) -> Result<Response, Rejection> {
    let held = blocking(move || match &state.witness {
        Some(witness) => witness.held_checkpoints().map_err(|e| e.to_string()),
        None => Ok(Vec::new()),
    })
    .await?
    .map_err(internal)?;
    Ok(json_reply(&public::Witnessed { checkpoints: held }))
}

/// `GET /1.0/audit/evidence`: the forks this node found in members' logs, each as the two
/// signed checkpoints that contradict each other.
pub(super) async fn evidence(state: Arc<ApiState>) -> Result<Response, Rejection> {
    let evidence = blocking(move || match &state.witness {
        Some(witness) => witness.evidence().map_err(|e| e.to_string()),
        None => Ok(Vec::new()),
    })
    .await?
    .map_err(internal)?;
    Ok(json_reply(&public::EvidenceHeld { evidence }))
}

/// `POST /admin/audit/checkpoint`: signs a checkpoint of the log now if it grew since the last
/// one, and gossips the newest to the witnesses (before an audit, say). Answers the note.
pub(super) async fn sign_checkpoint(state: Arc<ApiState>) -> Result<Response, Rejection> {
    let (Some(witness), Some(network)) = (state.witness.clone(), state.network.clone()) else {
        return Err(reject(
            ErrorCode::NoConsortium,
            "this node has no consortium: nobody witnesses its log",
        ));
    };
    let audit = state.audit.clone();
    let made = blocking(move || witness.checkpoint_own(&audit))
        .await?
        .map_err(|e| internal(e.to_string()))?;
    let Some((note, _)) = made else {
        return Err(reject(
            ErrorCode::EmptyLog,
            "the audit log has no entries yet",
        ));
    };
    network.publish_checkpoint(note.clone()).await;
    let mut response = Response::new(note.into());
    response.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}
