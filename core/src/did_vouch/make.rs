//! The three functions that make did:vouch operations: [`create`] a DID, [`update`] its
//! document and keys, [`deactivate`] it — the last two as the successor of a log's head, signed
//! by a key the head committed to.

use chrono::{DateTime, Utc};
use serde_json::Map;

use super::LogError;
use super::log::DidLog;
use super::operation::{DocumentContent, Operation, OperationType, next_key_hash};
use crate::did::Did;
use crate::did::resolve::Timestamp;
use crate::key::{KeyPair, PublicKey};

/// Makes the genesis operation of a new DID, and returns the DID with it.
///
/// `update_key` signs the genesis; `next_update_keys` are the keys, kept apart, one of which will
/// sign the first update.
pub fn create(
    document: DocumentContent,
    update_key: &KeyPair,
    next_update_keys: &[PublicKey],
    created: DateTime<Utc>,
) -> Result<(Did, Operation), LogError> {
    let operation = Operation {
        kind: OperationType::Create,
        did: None,
        version: 1,
        previous: None,
        created: Timestamp::new(created),
        update_key: update_key.public(),
        next_key_hashes: next_update_keys.iter().map(next_key_hash).collect(),
        document: Some(document),
        proof: Map::new(),
    }
    .sign(update_key)?;
    Ok((operation.genesis_did()?, operation))
}

/// Makes the operation that follows `head`, the last operation of `log`, checking that
/// `update_key` is the one `head` committed to.
fn successor(
    log: &DidLog,
    kind: OperationType,
    document: Option<DocumentContent>,
    update_key: &KeyPair,
    next_update_keys: &[PublicKey],
    created: DateTime<Utc>,
) -> Result<Operation, LogError> {
    if log.is_deactivated() {
        return Err(LogError::Deactivated);
    }
    let head = log.head();
    let version = head.version + 1;
    if !head
        .next_key_hashes
        .contains(&next_key_hash(&update_key.public()))
    {
        return Err(LogError::UnauthorizedKey { version });
    }
    Operation {
        kind,
        did: Some(log.did().clone()),
        version,
        previous: Some(head.hash()),
        created: Timestamp::new(created),
        update_key: update_key.public(),
        next_key_hashes: next_update_keys.iter().map(next_key_hash).collect(),
        document,
        proof: Map::new(),
    }
    .sign(update_key)
}

/// Makes the next operation of `log`: sets `document`, signed by `update_key` (which the log's head
/// must have committed to), committing to `next_update_keys` for the one after.
pub fn update(
    log: &DidLog,
    document: DocumentContent,
    update_key: &KeyPair,
    next_update_keys: &[PublicKey],
    created: DateTime<Utc>,
) -> Result<Operation, LogError> {
    successor(
        log,
        OperationType::Update,
        Some(document),
        update_key,
        next_update_keys,
        created,
    )
}

/// Makes the operation that ends `log`'s DID, signed by `update_key`.
pub fn deactivate(
    log: &DidLog,
    update_key: &KeyPair,
    created: DateTime<Utc>,
) -> Result<Operation, LogError> {
    successor(
        log,
        OperationType::Deactivate,
        None,
        update_key,
        &[],
        created,
    )
}
