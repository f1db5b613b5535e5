//! Approvals by a human (DESIGN §8): an agent whose capability `requiresApproval` asks its
//! org's node for an approval of one exact request; the node keeps it pending for the agent's
//! accountable owner — a registered person with a key of their own — who approves or refuses
//! it; an approval given is a `VouchApprovalCredential` (`vouch_core::approval`) signed by the
//! org, bound to the request's hash and to the agent, valid minutes, with status entries (so it
//! is revocable like any credential, and by revoking what it was asked under), and every step is
//! written to the audit log: asked, given, refused.
//!
//! An owner approves with an **owner key** (Ed25519, its did:key registered with the owner) by
//! signing [`vouch_api::node::public::decision_statement`], or with a **passkey** (WebAuthn) on the node's
//! approval page (`super::passkeys`). Both ways end in [`Issuer::decide`].

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use vouch_api::ErrorCode;
use vouch_core::approval::{self, Approval};
use vouch_core::audit::{Decision, Event};
use vouch_core::capability::Request;
use vouch_core::credential::CredentialId;
use vouch_core::did::Did;
use vouch_core::hash::Multihash;
use vouch_core::key::PublicKey;
use vouch_core::report::Reason;

use super::keys::{self, Kind};
use super::owners::Owner;
use super::{Issued, Issuer, IssuerError, Refusal};
use crate::store::Batch;

/// How long an approval request waits for its owner.
pub const PENDING_FOR: Duration = Duration::minutes(10);
/// How long an approval given is valid.
pub const APPROVAL_LIFETIME: Duration = approval::MAX_LIFETIME;
/// The most approval requests one agent instance has pending at once.
pub const MAX_PENDING_PER_AGENT: usize = 16;

use vouch_api::node::public::OwnerVerdict;
pub use vouch_api::node::public::{ApprovalAsk, OwnerDecision, Pending, Standing};

impl Issuer {
    /// Records an agent's request for its owner's approval of one exact request: the agent
    /// presents its chain over a challenge of this node; a chain of this org must permit the
    /// request save for the approval; its owner must be registered with a way to approve.
    pub fn ask_approval(
        &self,
        ask: ApprovalAsk,
        now: DateTime<Utc>,
    ) -> Result<Pending, IssuerError> {
        let mut wanted = Request::from_json(&ask.request)
            .map_err(|e| Refusal::malformed(format!("the request: {e}")))?;
        let (agent, chains) = self.verify_to_me(&ask.presentation, now)?;
        wanted.approved = false;
        let needs = |chain: &vouch_core::presentation::Chain| {
            chain
                .permits(&wanted, now)
                .is_err_and(|d| d.reason() == Reason::NeedsApproval)
        };
        let chain = chains
            .iter()
            .filter(|c| c.credentials[0].issuer == *self.org.did())
            .find(|c| needs(c))
            .ok_or_else(|| {
                Refusal::of(
                    Reason::NotGranted,
                    "no chain of this org presented permits the request save for an approval: nothing to approve",
                )
            })?;
        let leaf = chain.credentials.last().expect("a chain is never empty");
        // A sub-agent's approval is its root owner's (DESIGN §5): the person accountable for
        // the agent this org issued to, whatever a delegation says of the sub-agent.
        let owner = chain.credentials[0].credential_subject.agent.owner.clone();
        let registered = self.owner(&owner)?.ok_or_else(|| {
            Refusal::new(
                ErrorCode::NoOwner,
                format!("the agent's owner {owner} is not registered with a way to approve"),
            )
        })?;
        let _guard = self.guard();
        self.refuse_if_stopped(&[(Kind::Owner, owner.as_str())])?;
        let waiting = self.pending_of(&agent, now)?;
        if waiting >= MAX_PENDING_PER_AGENT {
            return Err(Refusal::new(
                ErrorCode::TooMany,
                format!("{agent} has {MAX_PENDING_PER_AGENT} approval requests waiting"),
            )
            .into());
        }
        let pending = Pending {
            id: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
            org: self.org.did().clone(),
            request_hash: approval::request_hash(&wanted),
            request: ask.request,
            agent: agent.clone(),
            credential: leaf.id.clone(),
            owner: registered.id,
            asked: now,
            expires: now + PENDING_FOR,
            standing: Standing::Pending,
            approval: None,
            page: None,
        };
        let mut batch = Batch::default();
        self.put_pending(&mut batch, &pending);
        self.store
            .put_issuance(&mut batch, &keys::agent_approval(&agent, &pending.id), b"");
        let mut audit = self.audit.writer()?;
        audit.append(
            &mut batch,
            self.approval_entry(Event::ApprovalAsked, &pending, None)?,
            now,
        )?;
        self.store.commit(batch)?;
        drop(audit);
        Ok(pending)
    }

    /// An approval request, as it stands.
    pub fn approval(&self, id: &str) -> Result<Option<Pending>, IssuerError> {
        self.read(&keys::approval(id))
    }

    /// The owner's decision, made with their owner key: the approval credential is issued (or
    /// the refusal recorded), once, while the request waits. With the status lists it opened,
    /// to publish.
    pub fn decide_approval(
        &self,
        id: &str,
        decision: OwnerDecision,
        now: DateTime<Utc>,
    ) -> Result<(Pending, Vec<Value>), IssuerError> {
        let approve = decision.decision == OwnerVerdict::Approve;
        self.decide(id, approve, "owner-key", now, |pending, owner| {
            let key = owner
                .key
                .as_ref()
                .and_then(|did| vouch_core::did::key::key_of(did).ok())
                .ok_or_else(|| Refusal::new(ErrorCode::NoOwner, "the owner has no owner key"))?;
            check_signature(
                &key,
                &vouch_api::node::public::decision_statement(pending, decision.decision),
                &decision.signature,
            )?;
            Ok(false)
        })
    }

    /// Decides `id`, once, while it waits, after `prove` showed that its owner made this
    /// decision (`method`: how). `prove` runs under the issuer's lock with the request and the
    /// owner as stored, and says whether it changed the owner (a passkey's counter), which is
    /// then written with the decision. With the status lists the approval opened, to publish.
    pub(super) fn decide(
        &self,
        id: &str,
        approve: bool,
        method: &str,
        now: DateTime<Utc>,
        prove: impl FnOnce(&Pending, &mut Owner) -> Result<bool, IssuerError>,
    ) -> Result<(Pending, Vec<Value>), IssuerError> {
        let _guard = self.guard();
        let pending = self.pending(id, now)?;
        let mut owner = self
            .owner(&pending.owner)?
            .ok_or_else(|| Refusal::new(ErrorCode::NoOwner, "the owner is no longer registered"))?;
        let changed = prove(&pending, &mut owner)?;
        let mut batch = Batch::default();
        if changed {
            self.put_owner(&mut batch, &owner);
        }
        self.refuse_if_stopped(&[(Kind::Owner, pending.owner.as_str())])?;
        // The credential it was asked under, revoked or suspended since: nothing is given.
        let under = self.issued(&pending.credential)?.ok_or_else(|| {
            IssuerError::NotFound(format!("{} was not issued here", pending.credential))
        })?;
        let leaf = vouch_core::credential::AgentCapabilityCredential::from_json(&under.credential)
            .map_err(|e| IssuerError::Corrupt {
                key: pending.credential.to_string(),
                reason: e.to_string(),
            })?;
        self.refuse_if_chain_stopped(&[&leaf])?;
        if approve {
            self.give(pending, method, batch, now)
        } else {
            let refused = Pending {
                standing: Standing::Refused,
                ..pending
            };
            self.put_pending(&mut batch, &refused);
            self.store.delete_issuance(
                &mut batch,
                &keys::agent_approval(&refused.agent, &refused.id),
            );
            let mut audit = self.audit.writer()?;
            audit.append(
                &mut batch,
                self.approval_entry(Event::ApprovalRefused, &refused, Some(Decision::Rejected))?,
                now,
            )?;
            self.store.commit(batch)?;
            Ok((refused, Vec::new()))
        }
    }

    /// The approval request `id` while it waits for its owner: a refusal of its own once it
    /// was decided (`replayed`) or waited too long (`expired`).
    pub(super) fn pending(&self, id: &str, now: DateTime<Utc>) -> Result<Pending, IssuerError> {
        let pending = self
            .approval(id)?
            .ok_or_else(|| IssuerError::NotFound(format!("no approval request {id}")))?;
        if pending.standing != Standing::Pending {
            return Err(Refusal::of(Reason::Replayed, "this request was decided already").into());
        }
        if now >= pending.expires {
            return Err(Refusal::of(Reason::Expired, "this request waited too long").into());
        }
        Ok(pending)
    }

    /// Issues the approval of `pending` (under the lock): signed by the org, with status, its
    /// record indexed below the credential it was asked under.
    fn give(
        &self,
        pending: Pending,
        method: &str,
        mut batch: Batch,
        now: DateTime<Utc>,
    ) -> Result<(Pending, Vec<Value>), IssuerError> {
        let under = self.issued(&pending.credential)?.ok_or_else(|| {
            IssuerError::NotFound(format!("{} was not issued here", pending.credential))
        })?;
        let slots = self.allocate()?;
        let approval = Approval {
            id: pending.id.clone(),
            issuer: self.org.did().clone(),
            subject: pending.agent.clone(),
            request: pending.request_hash.clone(),
            owner: self.org.owner_pseudonym(&pending.owner)?,
            method: method.to_owned(),
            valid_from: now,
            valid_until: now + APPROVAL_LIFETIME,
            status: self.status_entries(&slots),
        };
        let (key, signing) = self.org.signing_key()?;
        let signed = approval
            .sign(&key, signing)
            .map_err(|e| Refusal::malformed(e.to_string()))?;
        let id = CredentialId::parse(&pending.id)
            .map_err(|e| Refusal::malformed(format!("an approval id: {e}")))?;
        let record = Issued {
            id: id.clone(),
            issuer: approval.issuer.clone(),
            instance: pending.agent.clone(),
            definition: under.definition.clone(),
            task: under.task.clone(),
            principal: under.principal.clone(),
            lineage: id,
            parent: Some(pending.credential.clone()),
            revocation: slots.revocation,
            suspension: slots.suspension,
            valid_until: approval.valid_until,
            credential: signed.clone(),
        };
        let approved = Pending {
            standing: Standing::Approved,
            approval: Some(signed),
            ..pending
        };
        self.put_pending(&mut batch, &approved);
        self.store.delete_issuance(
            &mut batch,
            &keys::agent_approval(&approved.agent, &approved.id),
        );
        let lists = self.record(&record, Event::Approved, batch, now)?;
        tracing::info!(approval = %approved.id, agent = %approved.agent, "approval given");
        Ok((approved, lists))
    }

    fn put_pending(&self, batch: &mut Batch, pending: &Pending) {
        self.store.put_issuance(
            batch,
            &keys::approval(&pending.id),
            &serde_json::to_vec(pending).expect("an approval request serializes"),
        );
    }

    /// How many approval requests `agent` has waiting now. The agent's index holds only what
    /// may still wait: what was decided is taken out then, and what expired is taken out here,
    /// so that the index stays within the bound it is read with.
    fn pending_of(&self, agent: &Did, now: DateTime<Utc>) -> Result<usize, IssuerError> {
        let prefix = keys::agent_approvals(agent);
        let (found, _) = self
            .store
            .issuance_scan(&prefix, 4 * MAX_PENDING_PER_AGENT)?;
        let mut waiting = 0;
        let mut ended = Batch::default();
        for (key, _) in found {
            let id = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            if self
                .approval(&id)?
                .is_some_and(|p| p.standing == Standing::Pending && p.expires > now)
            {
                waiting += 1;
            } else {
                self.store.delete_issuance(&mut ended, &key);
            }
        }
        self.store.commit(ended)?;
        Ok(waiting)
    }

    /// The audit entry of a step of an approval: the agent, the action, the hash of the
    /// resource, the credential it is asked under and the request's id — never the arguments or
    /// the owner.
    fn approval_entry(
        &self,
        event: Event,
        pending: &Pending,
        decision: Option<Decision>,
    ) -> Result<vouch_core::audit::Entry, IssuerError> {
        let mut entry = crate::audit::entry(event);
        entry.agent = Some(pending.agent.to_string());
        entry.action = pending.request["action"].as_str().map(str::to_owned);
        entry.resource_hash = pending.request["resource"]
            .as_str()
            .map(|r| Multihash::of(r.as_bytes()));
        entry.credentials = vec![pending.credential.to_string(), pending.id.clone()];
        entry.decision = decision;
        Ok(entry)
    }
}

/// Checks an owner's Ed25519 signature over the JCS form of `statement`.
fn check_signature(key: &PublicKey, statement: &Value, signature: &str) -> Result<(), Refusal> {
    let bad = || {
        Refusal::of(
            Reason::InvalidProof,
            "the owner's signature does not verify",
        )
    };
    if signature.len() > 128 {
        return Err(bad());
    }
    let (base, bytes) = multibase::decode(signature).map_err(|_| bad())?;
    let bytes: [u8; 64] = (base == multibase::Base::Base58Btc)
        .then_some(bytes)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    let message = serde_jcs::to_vec(statement).expect("JSON values serialize");
    if key.verify(&message, &bytes) {
        Ok(())
    } else {
        Err(bad())
    }
}
