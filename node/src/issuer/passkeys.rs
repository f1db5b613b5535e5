//! Owners' passkeys (DESIGN §8): an owner registers a passkey through a link the node gives
//! when their agent's definition (or the owner) is registered, and decides approval requests
//! with it on the node's approval page. The WebAuthn ceremonies themselves (challenges, the
//! browser's answers) are the HTTP API's; here is what is stored: the enrolment link's hash,
//! one at a time per owner, and each passkey's public key and counter, indexed by credential id
//! so that one passkey never stands for two owners.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore as _;
use serde_json::Value;
use vouch_api::ErrorCode;
use vouch_core::audit::Event;
use vouch_core::hash::Multihash;
use webauthn_rs::prelude::{AuthenticationResult, Passkey};

use super::approvals::Pending;
use super::keys::{self, Kind};
use super::owners::{Enrolment, Owner, check_owner_id};
use super::{Issuer, IssuerError, Refusal};
use crate::store::Batch;

/// How long an enrolment link stays open.
pub const ENROLMENT_FOR: Duration = Duration::hours(24);
/// The most passkeys one owner has.
pub const MAX_PASSKEYS: usize = 8;

/// A link's token as handed out, once: the owner it is for and until when.
#[derive(Debug, Clone)]
pub struct EnrolmentToken {
    /// The owner.
    pub owner: String,
    /// The secret part of the link (base64url, 256 bits).
    pub token: String,
    /// Until when it is open.
    pub expires: DateTime<Utc>,
}

/// The owner about to register a passkey: who, under which user handle, with the passkeys
/// they already have (not to be registered twice).
#[derive(Debug, Clone)]
pub struct Enrolling {
    /// The owner's id.
    pub owner: String,
    /// Their WebAuthn user handle.
    pub handle: uuid::Uuid,
    /// The passkeys they already have.
    pub passkeys: Vec<Passkey>,
}

fn token_hash(token: &str) -> Multihash {
    Multihash::of(token.as_bytes())
}

impl Issuer {
    /// Opens a link for `owner` to register a passkey, registering them (with no key) when
    /// they are not yet; the link opened before is closed. `None` when they have a passkey
    /// already: a new one is added through a link of `POST /admin/owners`.
    pub fn enrolment_for_new(
        &self,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<EnrolmentToken>, IssuerError> {
        if self
            .owner(owner)?
            .is_some_and(|known| !known.passkeys.is_empty())
        {
            return Ok(None);
        }
        self.enrolment(owner, now).map(Some)
    }

    /// Opens a link for `owner` to register a passkey (registering them, with no key, when
    /// they are not yet); the link opened before is closed.
    pub fn enrolment(
        &self,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<EnrolmentToken, IssuerError> {
        check_owner_id(owner)?;
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let token = URL_SAFE_NO_PAD.encode(secret);
        let _guard = self.guard();
        let mut record = self
            .owner(owner)?
            .unwrap_or_else(|| Owner::new(owner.to_owned(), None, now));
        let mut batch = Batch::default();
        if let Some(before) = &record.enrolment {
            self.store
                .delete_issuance(&mut batch, &keys::enrolment(before.token.as_str()));
        }
        let enrolment = Enrolment {
            token: token_hash(&token),
            expires: now + ENROLMENT_FOR,
        };
        self.store.put_issuance(
            &mut batch,
            &keys::enrolment(enrolment.token.as_str()),
            owner.as_bytes(),
        );
        record.handle.get_or_insert_with(uuid::Uuid::new_v4);
        record.enrolment = Some(enrolment.clone());
        self.put_owner(&mut batch, &record);
        self.store.commit(batch)?;
        Ok(EnrolmentToken {
            owner: owner.to_owned(),
            token,
            expires: enrolment.expires,
        })
    }

    /// The owner whose open link `token` is: 404 for a token never given or replaced since,
    /// `expired` past its time.
    pub fn enrolling(&self, token: &str, now: DateTime<Utc>) -> Result<Enrolling, IssuerError> {
        let unknown = || IssuerError::NotFound("no open enrolment link with this token".into());
        if token.is_empty() || token.len() > 64 {
            return Err(unknown());
        }
        let hash = token_hash(token);
        let owner = self
            .store
            .issuance(&keys::enrolment(hash.as_str()))?
            .ok_or_else(unknown)?;
        let owner = self
            .owner(&String::from_utf8_lossy(&owner))?
            .ok_or_else(unknown)?;
        let open = owner.enrolment.as_ref().ok_or_else(unknown)?;
        if open.token != hash {
            return Err(unknown());
        }
        if now >= open.expires {
            return Err(Refusal::of(
                vouch_core::report::Reason::Expired,
                "this enrolment link is past its time: ask for a new one",
            )
            .into());
        }
        Ok(Enrolling {
            handle: owner.handle.ok_or_else(unknown)?,
            owner: owner.id,
            passkeys: owner.passkeys,
        })
    }

    /// Registers `passkey` for the owner of the open link `token`, which it closes: the one
    /// write of an enrolment, with its audit entry.
    pub fn add_passkey(
        &self,
        token: &str,
        passkey: Passkey,
        now: DateTime<Utc>,
    ) -> Result<Owner, IssuerError> {
        let _guard = self.guard();
        let enrolling = self.enrolling(token, now)?;
        let mut owner = self
            .owner(&enrolling.owner)?
            .ok_or_else(|| IssuerError::NotFound("the owner is no longer registered".into()))?;
        if owner.passkeys.len() >= MAX_PASSKEYS {
            return Err(Refusal::new(
                ErrorCode::TooMany,
                format!("an owner has at most {MAX_PASSKEYS} passkeys"),
            )
            .into());
        }
        let id = URL_SAFE_NO_PAD.encode(passkey.cred_id());
        if self.store.issuance(&keys::passkey(&id))?.is_some() {
            return Err(Refusal::new(
                ErrorCode::Duplicate,
                "this passkey is registered already: one passkey stands for one owner",
            )
            .into());
        }
        let mut batch = Batch::default();
        if let Some(open) = owner.enrolment.take() {
            self.store
                .delete_issuance(&mut batch, &keys::enrolment(open.token.as_str()));
        }
        owner.passkeys.push(passkey);
        self.put_owner(&mut batch, &owner);
        self.store
            .put_issuance(&mut batch, &keys::passkey(&id), owner.id.as_bytes());
        let mut entry = crate::audit::entry(Event::PasskeyRegistered);
        entry.principal = Some(self.org.owner_pseudonym(&owner.id)?);
        entry.credentials = vec![id];
        let mut audit = self.audit.writer()?;
        audit.append(&mut batch, entry, now)?;
        self.store.commit(batch)?;
        tracing::info!(
            passkeys = owner.passkeys.len(),
            "an owner registered a passkey"
        );
        Ok(owner)
    }

    /// The approval request `id`, waiting, and its owner's passkeys: what a passkey ceremony
    /// for it starts from. Refused when the owner has none.
    pub fn to_decide_by_passkey(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(Pending, Vec<Passkey>), IssuerError> {
        let pending = self.pending(id, now)?;
        let owner = self
            .owner(&pending.owner)?
            .unwrap_or_else(|| Owner::new(pending.owner.clone(), None, pending.asked));
        if owner.passkeys.is_empty() {
            return Err(Refusal::new(ErrorCode::NoPasskey,
                "the owner has no passkey registered: they decide with their owner key, or register one first",
            )
            .into());
        }
        self.refuse_if_stopped(&[(Kind::Owner, pending.owner.as_str())])?;
        Ok((pending, owner.passkeys))
    }

    /// The owner's decision on `id`, proven by a passkey: `verify` checks the browser's answer
    /// against the ceremony's challenge and gives what the authenticator reported, which must
    /// name one of the owner's passkeys as they are now; its counter is kept with the decision.
    pub fn decide_by_passkey(
        &self,
        id: &str,
        approve: bool,
        now: DateTime<Utc>,
        verify: impl FnOnce() -> Result<AuthenticationResult, Refusal>,
    ) -> Result<(Pending, Vec<Value>), IssuerError> {
        self.decide(id, approve, "webauthn", now, |_, owner| {
            let result = verify()?;
            let mut known = false;
            for passkey in &mut owner.passkeys {
                known |= passkey.update_credential(&result).is_some();
            }
            if !known {
                return Err(Refusal::of(
                    vouch_core::report::Reason::InvalidProof,
                    "the passkey that answered is not one of the owner's",
                )
                .into());
            }
            Ok(true)
        })
    }
}
