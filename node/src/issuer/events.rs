//! The members' signed revocation events, as this node holds them: its own, written with the
//! change they record, and every member's, received by gossip or anti-entropy and verified
//! before they are stored. An event is kept under its issuer and id, for good: a second event
//! with the same id is refused, whatever it says.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use vouch_core::did::Did;
use vouch_core::revocation::{EventError as Invalid, MAX_EVENT_BYTES, RevocationEvent};
use vouch_core::sync::{Collection, ItemId};

use crate::consortium::Members;
use crate::fault::{Judgement, PeerMisbehaved};
use crate::registry::{MAX_CLOCK_SKEW_SECS, Registry, RegistryError};
use crate::status_lists::DocumentAt;
use crate::store::{Batch, Store, StoreError};

/// The most events one listing returns.
pub(crate) const MAX_LISTED: usize = 10_000;

/// Why an event from a peer was refused.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// Larger than any event.
    #[error("{0} bytes: larger than {MAX_EVENT_BYTES}")]
    TooLarge(usize),
    /// Not JSON.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// Not an event, or its proof does not verify.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The issuer is no member.
    #[error("{0} is not a consortium member")]
    NotAMember(Did),
    /// The issuer was removed from the consortium.
    #[error("{0} is no longer a consortium member")]
    FormerMember(Did),
    /// The issuer's DID is not held, or not at the version that signed.
    #[error("the issuer {0} is not known yet, or not at the version that signed")]
    IssuerAhead(Did),
    /// Dated later than this node's clock allows.
    #[error("the event is dated {0}, ahead of this node's clock")]
    FromTheFuture(String),
    /// Another event with this id is held.
    #[error("another event {0} is held")]
    Conflict(String),
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EventError {
    /// What an event from a peer that failed so comes to.
    pub fn judgement(&self) -> Judgement {
        match self {
            Self::TooLarge(bytes) => PeerMisbehaved::TooLarge {
                bytes: *bytes,
                limit: MAX_EVENT_BYTES,
            }
            .into(),
            Self::NotJson(why) => PeerMisbehaved::Malformed(why.clone()).into(),
            Self::Invalid(Invalid::Malformed(why)) => {
                PeerMisbehaved::Malformed((*why).to_owned()).into()
            }
            Self::Invalid(e) => PeerMisbehaved::InvalidSignature(e.to_string()).into(),
            Self::NotAMember(did) => PeerMisbehaved::NotAMember(did.to_string()).into(),
            Self::FromTheFuture(when) => PeerMisbehaved::FromTheFuture(when.clone()).into(),
            // Signed by its issuer: the relaying peer did nothing wrong. Kept out, and logged.
            Self::Conflict(id) => {
                tracing::warn!(event = %id, "refused a second revocation event with a held id");
                Judgement::Known
            }
            Self::FormerMember(_) => Judgement::Known,
            Self::IssuerAhead(_) => Judgement::Behind,
            Self::Registry(_) | Self::Store(_) => {
                tracing::warn!(error = %self, "could not judge a revocation event");
                Judgement::Unjudged
            }
        }
    }
}

/// The revocation events this node holds.
#[derive(Debug, Clone)]
pub struct Events {
    store: Arc<Store>,
    registry: Registry,
    org: Did,
    members: Members,
}

impl Events {
    /// The events of a node of `org`.
    pub fn new(store: Arc<Store>, registry: Registry, org: Did, members: Members) -> Self {
        Self {
            store,
            registry,
            org,
            members,
        }
    }

    /// Judges an event from a peer.
    pub fn receive(&self, data: &[u8], now: DateTime<Utc>) -> Judgement {
        self.receive_all(&[data], now)
            .pop()
            .expect("one judgement per event")
    }

    /// Judges events from a peer (a page of a sync), the new ones stored in one batch.
    pub fn receive_all(&self, items: &[&[u8]], now: DateTime<Utc>) -> Vec<Judgement> {
        let mut batch = Batch::default();
        let mut judgements = Vec::with_capacity(items.len());
        let mut new = std::collections::HashMap::new();
        for data in items {
            let judgement = match self.check(data, now) {
                Err(e) => e.judgement(),
                Ok(event) => match self.held(&event, data, &new) {
                    Err(e) => e.judgement(),
                    Ok(true) => Judgement::Known,
                    Ok(false) => {
                        self.store.put_revocation_event(
                            &mut batch,
                            &event.issuer,
                            &event.id,
                            data,
                            event.issued,
                        );
                        new.insert((event.issuer.clone(), event.id.clone()), data.to_vec());
                        Judgement::Accepted
                    }
                },
            };
            judgements.push(judgement);
        }
        if !new.is_empty()
            && let Err(e) = self.store.commit(batch)
        {
            let failed = EventError::Store(e).judgement();
            return judgements
                .into_iter()
                .map(|j| {
                    if j == Judgement::Accepted {
                        failed.clone()
                    } else {
                        j
                    }
                })
                .collect();
        }
        judgements
    }

    /// Whether this very event is held (`true`), or none with its id (`false`); another with its
    /// id is a conflict.
    fn held(
        &self,
        event: &RevocationEvent,
        data: &[u8],
        new: &std::collections::HashMap<(Did, String), Vec<u8>>,
    ) -> Result<bool, EventError> {
        let held = match new.get(&(event.issuer.clone(), event.id.clone())) {
            Some(bytes) => Some(bytes.clone()),
            None => self.store.revocation_event(&event.issuer, &event.id)?,
        };
        match held {
            None => Ok(false),
            Some(bytes) if bytes == data => Ok(true),
            Some(_) => Err(EventError::Conflict(event.id.clone())),
        }
    }

    /// The checks of an event, cheap ones first: size, form, member issuer, date, proof.
    fn check(&self, data: &[u8], now: DateTime<Utc>) -> Result<RevocationEvent, EventError> {
        if data.len() > MAX_EVENT_BYTES {
            return Err(EventError::TooLarge(data.len()));
        }
        let raw: Value =
            serde_json::from_slice(data).map_err(|e| EventError::NotJson(e.to_string()))?;
        let event = RevocationEvent::parse(&raw)?;
        let did = &event.issuer;
        match self.members.is_member(did) {
            Some(true) => {}
            Some(false) if self.members.removed_at(did).is_some() => {
                return Err(EventError::FormerMember(did.clone()));
            }
            None if *did == self.org => {}
            _ => return Err(EventError::NotAMember(did.clone())),
        }
        if event.issued > now + Duration::seconds(MAX_CLOCK_SKEW_SECS) {
            return Err(EventError::FromTheFuture(event.issued.to_rfc3339()));
        }
        // Signed in another's name: forged, whatever versions of the issuer's DID are held.
        let signer = raw["proof"]["verificationMethod"]
            .as_str()
            .and_then(|m| vouch_core::did::DidUrl::parse(m).ok())
            .map(|m| m.did());
        match signer {
            Some(signer) if signer == *did => {}
            Some(signer) => return Err(Invalid::NotIssuer { signer }.into()),
            None => return Err(Invalid::Malformed("proof.verificationMethod").into()),
        }
        match RevocationEvent::verify(&raw, &self.registry) {
            Ok(event) => Ok(event),
            Err(error) => {
                // Signed with a key in force when it was made, since rotated away: an event is
                // a record for good, and stays valid.
                let then = self.registry.documents_at(did, event.issued)?;
                if then
                    .into_iter()
                    .any(|document| RevocationEvent::verify(&raw, &DocumentAt(document)).is_ok())
                {
                    return Ok(event);
                }
                let latest = self.registry.latest_version_time(did)?;
                if latest.is_none_or(|latest| event.issued >= latest) {
                    return Err(EventError::IssuerAhead(did.clone()));
                }
                Err(error.into())
            }
        }
    }

    /// The events held, of `issuer` or of all, as stored, at most [`MAX_LISTED`].
    pub fn list(&self, issuer: Option<&Did>) -> Result<Vec<Value>, EventError> {
        let mut events = Vec::new();
        for bytes in self.store.revocation_events(issuer, MAX_LISTED)? {
            let value = serde_json::from_slice(&bytes).map_err(|e| {
                EventError::Store(StoreError::Corrupt {
                    key: "revocation event".into(),
                    reason: e.to_string(),
                })
            })?;
            events.push(value);
        }
        Ok(events)
    }

    /// The events held, for anti-entropy: `(timestamp, id)` in order.
    pub fn sync_items(&self) -> Result<Vec<(u64, ItemId)>, StoreError> {
        self.store.sync_items(Collection::RevocationEvents)
    }

    /// Events held, by id, as stored.
    pub fn fetch(&self, ids: &[ItemId]) -> Result<Vec<Vec<u8>>, StoreError> {
        self.store.sync_fetch(Collection::RevocationEvents, ids)
    }
}
