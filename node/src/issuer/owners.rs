//! Owners (DESIGN §8): the people accountable for agents, registered with the org's node — an
//! owner key for approvals from the command line, passkeys for the approval page, and the one
//! enrolment link open for them. Approvals (`super::approvals`) are decided by an owner; passkeys
//! (`super::passkeys`) are registered to one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vouch_core::did::Did;
use vouch_core::hash::Multihash;

use super::keys;
use super::{Issuer, IssuerError, Refusal};
use crate::store::Batch;

/// The longest owner id.
const MAX_OWNER_LEN: usize = 256;

/// A person accountable for agents, and the keys they approve with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Owner {
    /// Who they are, as agent definitions name them (`owner`).
    pub id: String,
    /// Their owner key (a did:key), for approvals from the command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Did>,
    /// When they were registered.
    #[serde(with = "vouch_core::credential::timestamp")]
    pub registered: DateTime<Utc>,
    /// Their passkeys: public keys, credential ids and signature counters, no secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passkeys: Vec<webauthn_rs::prelude::Passkey>,
    /// The WebAuthn user handle their passkeys are registered under: random, never their id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<uuid::Uuid>,
    /// The one link open for them to register a passkey, as its hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolment: Option<Enrolment>,
}

pub use vouch_api::node::admin::OwnerRequest;

/// An open enrolment link, as stored: its token's hash, never the token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Enrolment {
    /// The hash of the token.
    pub token: Multihash,
    /// Until when it is open.
    #[serde(with = "vouch_core::credential::timestamp")]
    pub expires: DateTime<Utc>,
}

impl Owner {
    /// An owner registered now, with no passkey yet.
    pub(super) fn new(id: String, key: Option<Did>, now: DateTime<Utc>) -> Self {
        Self {
            id,
            key,
            registered: now,
            passkeys: Vec::new(),
            handle: None,
            enrolment: None,
        }
    }
}

pub(super) fn check_owner_id(id: &str) -> Result<(), Refusal> {
    if id.trim().is_empty() || id.len() > MAX_OWNER_LEN || id.chars().any(char::is_control) {
        return Err(Refusal::malformed(format!(
            "an owner is 1 to {MAX_OWNER_LEN} bytes, no control characters"
        )));
    }
    Ok(())
}

impl Issuer {
    /// Registers an owner (again: their key replaced, their passkeys kept unless dropped).
    pub fn register_owner(
        &self,
        request: OwnerRequest,
        now: DateTime<Utc>,
    ) -> Result<Owner, IssuerError> {
        check_owner_id(&request.id)?;
        let key = request
            .key
            .map(|k| {
                let did = Did::parse(&k).map_err(|e| Refusal::malformed(format!("key: {e}")))?;
                vouch_core::did::key::key_of(&did).map_err(|e| {
                    Refusal::malformed(format!("key: an owner key is a did:key: {e}"))
                })?;
                Ok::<_, Refusal>(did)
            })
            .transpose()?;
        let _guard = self.guard();
        // Registered again: the key is replaced, the passkeys are kept unless dropped.
        let mut batch = Batch::default();
        let owner = match self.owner(&request.id)? {
            Some(mut known) => {
                if request.drop_passkeys {
                    for passkey in known.passkeys.drain(..) {
                        let id = URL_SAFE_NO_PAD.encode(passkey.cred_id());
                        self.store.delete_issuance(&mut batch, &keys::passkey(&id));
                    }
                }
                Owner {
                    key,
                    registered: now,
                    ..known
                }
            }
            None => Owner::new(request.id, key, now),
        };
        self.put_owner(&mut batch, &owner);
        self.store.commit(batch)?;
        Ok(owner)
    }

    pub(super) fn put_owner(&self, batch: &mut Batch, owner: &Owner) {
        self.store.put_issuance(
            batch,
            &keys::owner(&owner.id),
            &serde_json::to_vec(owner).expect("an owner serializes"),
        );
    }

    /// A registered owner.
    pub fn owner(&self, id: &str) -> Result<Option<Owner>, IssuerError> {
        self.read(&keys::owner(id))
    }
}
