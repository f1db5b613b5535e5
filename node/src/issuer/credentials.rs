//! Credentials: issued by the org to a bound instance, registered by an agent that delegated
//! one to a sub-agent, and renewed by their holder (DESIGN §4, §6). Every credential gets a
//! revocation and a suspension bit at random unused indexes of the org's lists, and a record
//! with its fan-out indexes, written in one batch with the first version of any list it opens.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;
use vouch_api::ErrorCode;
use vouch_core::audit::{Decision, Event};
use vouch_core::credential::{
    AgentCapabilityCredential, CredentialId, DEFAULT_MAX_DEPTH, MAX_CAPABILITIES, MAX_DEPTH_CAP,
    StatusEntry, Task,
};
use vouch_core::delegation::{self, RootGrant};
use vouch_core::did::Did;
use vouch_core::hash::Multihash;
use vouch_core::presentation::{Chain, verify_presentation};
use vouch_core::report::Reason;
use vouch_core::status::Purpose;
use vouch_core::verify::Verifier;

pub use vouch_api::node::admin::{IssueRequest, TaskRequest};
pub use vouch_api::node::public::{DelegationRequest, RenewalRequest};

use super::keys::{self, Kind};
use super::{Issued, Issuer, IssuerError, Refusal, Slots, check_task_id};
use crate::registry::MAX_CLOCK_SKEW_SECS;
use crate::status_lists::{ListChange, Slot};
use crate::store::Batch;

/// The longest principal id taken (it is hashed into a pseudonym, never kept).
const MAX_PRINCIPAL_LEN: usize = 1024;
/// The longest task purpose taken (it is hashed, never kept).
const MAX_PURPOSE_LEN: usize = 64 * 1024;

/// A credential issued, registered or renewed, and the status lists to publish with it (those
/// it opened).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Issuance {
    /// The credential: signed by the org, or, for a delegation, to be signed by the delegating
    /// agent as it is.
    pub credential: Value,
    /// The status lists signed for the first time, to publish.
    #[serde(skip)]
    pub lists: Vec<Value>,
}

impl Issuer {
    fn seconds(
        &self,
        asked: Option<u64>,
        default: u64,
        max: u64,
        what: &str,
    ) -> Result<Duration, Refusal> {
        let secs = asked.unwrap_or(default);
        if secs == 0 || secs > max {
            return Err(Refusal::malformed(format!("{what} is 1 to {max} seconds")));
        }
        Ok(Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX)))
    }

    /// Issues a credential to a bound instance.
    pub fn issue(
        &self,
        request: IssueRequest,
        now: DateTime<Utc>,
    ) -> Result<Issuance, IssuerError> {
        let config = &self.config;
        check_task_id(&request.task.id)?;
        if request.principal.trim().is_empty() || request.principal.len() > MAX_PRINCIPAL_LEN {
            return Err(
                Refusal::malformed(format!("principal is 1 to {MAX_PRINCIPAL_LEN} bytes")).into(),
            );
        }
        if request.task.purpose.len() > MAX_PURPOSE_LEN {
            return Err(Refusal::malformed("the task purpose is too long").into());
        }
        if request.capabilities.is_empty() || request.capabilities.len() > MAX_CAPABILITIES {
            return Err(Refusal::malformed(format!("1 to {MAX_CAPABILITIES} capabilities")).into());
        }
        let lifetime = self.seconds(
            request.ttl_secs,
            config.credential_ttl_secs,
            config.max_credential_ttl_secs,
            "ttlSecs",
        )?;
        let lineage = self.seconds(
            request.lineage_secs,
            config.max_lineage_secs,
            config.max_lineage_secs,
            "lineageSecs",
        )?;
        let max_renewals = request.max_renewals.unwrap_or(config.max_renewals);
        if max_renewals > config.max_renewals {
            return Err(Refusal::malformed(format!(
                "maxRenewals is at most {}",
                config.max_renewals
            ))
            .into());
        }
        let max_depth = request.max_depth.unwrap_or(DEFAULT_MAX_DEPTH);
        if max_depth > MAX_DEPTH_CAP {
            return Err(Refusal::malformed(format!("maxDepth is at most {MAX_DEPTH_CAP}")).into());
        }
        let principal = self.org.pseudonym(&request.principal)?;
        let task = Task {
            id: request.task.id,
            purpose_hash: Multihash::of(request.task.purpose.as_bytes()),
        };

        let _guard = self.guard();
        let instance = self.instance(&request.instance)?.ok_or_else(|| {
            IssuerError::NotFound(format!(
                "{} is not bound to an agent definition of this org: bind it first",
                request.instance
            ))
        })?;
        let definition = self
            .definition(&instance.definition)?
            .ok_or_else(|| IssuerError::NotFound(format!("{} is gone", instance.definition)))?;
        self.refuse_if_stopped(&[
            (Kind::Instance, instance.did.as_str()),
            (Kind::Definition, instance.definition.as_str()),
            (Kind::Task, task.id.as_str()),
            (Kind::Owner, definition.agent.owner.as_str()),
        ])?;
        let slots = self.allocate()?;
        let grant = RootGrant {
            issuer: self.org.did().clone(),
            subject: instance.did.clone(),
            agent: definition.agent,
            principal,
            task,
            capabilities: request.capabilities,
            audience: request.audience,
            valid_from: now,
            lifetime,
            max_renewals,
            not_after: now + lineage,
            max_depth,
            status: self.status_entries(&slots),
        };
        let mut credential = grant
            .build()
            .map_err(|e| Refusal::malformed(e.to_string()))?;
        credential.credential_subject.resources = request.resources;
        let credential = AgentCapabilityCredential::from_json(&credential.to_json())
            .map_err(|e| Refusal::malformed(e.to_string()))?;
        self.check_attestable(&credential)?;
        let signed = self.sign(&credential, now)?;
        let record = Issued {
            id: credential.id.clone(),
            issuer: credential.issuer.clone(),
            instance: instance.did,
            definition: instance.definition,
            task: credential.credential_subject.task.id.clone(),
            principal: credential.credential_subject.principal.clone(),
            lineage: credential.id.clone(),
            parent: None,
            revocation: slots.revocation,
            suspension: slots.suspension,
            valid_until: credential.valid_until,
            credential: signed.clone(),
        };
        let lists = self.record(&record, Event::Issued, Batch::default(), now)?;
        tracing::info!(credential = %record.id, instance = %record.instance, task = %record.task, "credential issued");
        Ok(Issuance {
            credential: signed,
            lists,
        })
    }

    /// Refuses a credential with a capability this org may not attest under the consortium's
    /// trusted-issuer policy (DESIGN §7), or one that does not parse.
    fn check_attestable(&self, credential: &AgentCapabilityCredential) -> Result<(), Refusal> {
        let knowledge = self
            .status_lists
            .knowledge(&[], Utc::now())
            .map_err(|e| Refusal::new(ErrorCode::Internal, e.to_string()))?;
        for (index, parsed) in credential.capabilities().into_iter().enumerate() {
            let capability =
                parsed.map_err(|e| Refusal::malformed(format!("capability {index}: {e}")))?;
            if let Some(name) = capability.constraints.unknown.first() {
                return Err(Refusal::of(
                    Reason::UnknownConstraint,
                    format!("capability {index}: unknown constraint {name}"),
                ));
            }
            if !knowledge
                .policy()
                .trusts(self.org.did(), &capability.action)
            {
                return Err(Refusal::of(
                    Reason::UntrustedIssuer,
                    format!(
                        "capability {index}: the consortium's policy does not let {} attest {}",
                        self.org.did(),
                        capability.action
                    ),
                ));
            }
        }
        Ok(())
    }

    fn sign(
        &self,
        credential: &AgentCapabilityCredential,
        now: DateTime<Utc>,
    ) -> Result<Value, IssuerError> {
        let (key, method) = self.org.signing_key()?;
        delegation::sign_credential(credential, &key, method, self.config.suite, now)
            .map_err(|e| Refusal::malformed(e.to_string()).into())
    }

    /// A revocation and a suspension slot, never given before.
    pub(super) fn allocate(&self) -> Result<Slots, IssuerError> {
        let mut revocation = self.status_lists.allocate(Purpose::Revocation, 1)?;
        let mut suspension = self.status_lists.allocate(Purpose::Suspension, 1)?;
        Ok(Slots {
            revocation: revocation.pop().expect("one slot asked for"),
            suspension: suspension.pop().expect("one slot asked for"),
        })
    }

    pub(super) fn status_entries(&self, slots: &Slots) -> Vec<StatusEntry> {
        let entry = |slot: &Slot, purpose: Purpose| {
            let url = self.status_lists.url_of(&slot.name);
            StatusEntry::bit(
                format!("{url}#{}", slot.index),
                purpose.as_str(),
                slot.index,
                &url,
            )
        };
        vec![
            entry(&slots.revocation, Purpose::Revocation),
            entry(&slots.suspension, Purpose::Suspension),
        ]
    }

    /// Writes a credential's record and fan-out indexes, with the first version of any list
    /// its slots open, in one batch. Returns those lists, to publish.
    pub(super) fn record(
        &self,
        record: &Issued,
        event: Event,
        mut batch: Batch,
        now: DateTime<Utc>,
    ) -> Result<Vec<Value>, IssuerError> {
        // Held until the batch is written: the entry takes the log's next place.
        let mut audit = self.audit.writer()?;
        let mut entry = crate::audit::entry(event);
        entry.agent = Some(record.instance.to_string());
        entry.principal = Some(record.principal.clone());
        entry.task = Some(record.task.clone());
        entry.decision = Some(Decision::Accepted);
        entry.credentials = vec![record.id.to_string()];
        audit.append(&mut batch, entry, now)?;
        let slots = serde_json::to_vec(&Slots {
            revocation: record.revocation.clone(),
            suspension: record.suspension.clone(),
        })
        .expect("slots serialize");
        self.store.put_issuance(
            &mut batch,
            &keys::credential(&record.id),
            &serde_json::to_vec(record).expect("a record serializes"),
        );
        let mut indexes = vec![
            (Kind::Instance, record.instance.as_str()),
            (Kind::Definition, record.definition.as_str()),
            (Kind::Task, record.task.as_str()),
            (Kind::Lineage, record.lineage.as_str()),
        ];
        if let Some(parent) = &record.parent {
            indexes.push((Kind::Parent, parent.as_str()));
        }
        for (kind, subject) in indexes {
            self.store
                .put_issuance(&mut batch, &keys::index(kind, subject, &record.id), &slots);
        }
        self.commit_opening(
            &Slots {
                revocation: record.revocation.clone(),
                suspension: record.suspension.clone(),
            },
            batch,
            now,
        )
    }

    /// Writes `batch` with the first version of any list `slots` open. Returns those lists, to
    /// publish.
    pub(super) fn commit_opening(
        &self,
        slots: &Slots,
        batch: Batch,
        now: DateTime<Utc>,
    ) -> Result<Vec<Value>, IssuerError> {
        let mut opened = Vec::new();
        for (slot, purpose) in [
            (&slots.revocation, Purpose::Revocation),
            (&slots.suspension, Purpose::Suspension),
        ] {
            if !self.status_lists.exists(&slot.name)? {
                opened.push(ListChange {
                    name: slot.name.clone(),
                    purpose,
                    set: Vec::new(),
                    clear: Vec::new(),
                });
            }
        }
        if opened.is_empty() {
            self.store.commit(batch)?;
            Ok(Vec::new())
        } else {
            Ok(self.status_lists.change_all(&opened, batch, now)?)
        }
    }

    /// Verifies a presentation made to this node: over one of its challenges (taken: it answers
    /// once), for its domain, and every check passed with what the node holds. Returns the
    /// presenter's chains.
    pub(super) fn verify_to_me(
        &self,
        presentation: &Value,
        now: DateTime<Utc>,
    ) -> Result<(Did, Vec<Chain>), IssuerError> {
        self.verify_to_me_with_approvals(presentation, now)
            .map(|(holder, chains, _)| (holder, chains))
    }

    /// The same, with the approvals presented beside the chains (each verified on its own).
    pub(super) fn verify_to_me_with_approvals(
        &self,
        presentation: &Value,
        now: DateTime<Utc>,
    ) -> Result<(Did, Vec<Chain>, Vec<vouch_core::approval::Approval>), IssuerError> {
        let challenge = presentation["proof"]["challenge"]
            .as_str()
            .ok_or_else(|| Refusal::malformed("the presentation's proof names no challenge"))?;
        let expires = self.check_challenge(challenge, now)?;
        let credentials: Vec<&Value> = presentation["verifiableCredential"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let knowledge = self.status_lists.knowledge(&credentials, now)?;
        let mut verifier = Verifier::new(&self.registry, now);
        verifier.issuers = Some(knowledge.policy());
        verifier.status = Some(&knowledge.lists);
        let verified = verify_presentation(presentation, challenge, &self.domain, &verifier);
        if let Some(failure) = verified.report.checks.iter().find(|c| c.reason.is_some()) {
            let reason = failure.reason.expect("a failed check has a reason");
            return Err(Refusal::of(
                reason,
                format!(
                    "the presentation does not verify: {} {}: {}",
                    failure.check,
                    failure.subject.as_deref().unwrap_or(""),
                    failure.detail.as_deref().unwrap_or("")
                ),
            )
            .into());
        }
        if !verified.report.verified {
            return Err(Refusal::of(Reason::Malformed, "the presentation does not verify").into());
        }
        let holder = verified
            .holder
            .expect("a verified presentation has a holder");
        // The presentation verified: only now is the challenge remembered, answered.
        self.redeem_challenge(challenge, expires, &holder, now)?;
        Ok((holder, verified.chains, verified.approvals))
    }

    /// Refuses if a credential, or any above it, is revoked or suspended here: checked under the
    /// lock, so a revocation stored before is never missed.
    pub(super) fn refuse_if_chain_stopped(
        &self,
        chain: &[&AgentCapabilityCredential],
    ) -> Result<(), IssuerError> {
        for credential in chain {
            let id = credential.id.as_str();
            self.refuse_if_stopped(&[(Kind::Credential, id)])?;
            let (suspended, _) = self
                .store
                .issuance_scan(&keys::credential_suspensions(&credential.id), 1)?;
            if !suspended.is_empty() {
                return Err(Refusal::of(Reason::Suspended, format!("{id} is suspended")).into());
            }
            let subject = &credential.credential_subject;
            self.refuse_if_stopped(&[
                (Kind::Instance, subject.id.as_str()),
                (Kind::Task, subject.task.id.as_str()),
                (Kind::Owner, subject.agent.owner.as_str()),
            ])?;
        }
        Ok(())
    }

    /// Registers a delegation: the delegating instance proves that it holds the parent, and the
    /// node gives the delegated credential its status entries. Returns the credential with
    /// them, for the delegating agent to sign as it is.
    pub fn register_delegation(
        &self,
        request: DelegationRequest,
        now: DateTime<Utc>,
    ) -> Result<Issuance, IssuerError> {
        let (holder, chains) = self.verify_to_me(&request.presentation, now)?;
        let child = AgentCapabilityCredential::from_json(&request.credential)
            .map_err(|e| Refusal::malformed(format!("the delegated credential: {e}")))?;
        if request.credential.get("proof").is_some() || !child.credential_status.is_empty() {
            return Err(Refusal::malformed(
                "send the delegated credential unsigned and without status: the node gives its entries, then the delegating agent signs it",
            )
            .into());
        }
        if child.issuer != holder {
            return Err(Refusal::of(
                Reason::NotHolder,
                format!(
                    "the delegation is issued by {}, the presentation made by {holder}",
                    child.issuer
                ),
            )
            .into());
        }
        let parent_id = child
            .credential_subject
            .delegation
            .parent
            .clone()
            .ok_or_else(|| Refusal::of(Reason::BrokenChain, "the credential names no parent"))?;
        let chain = chains
            .iter()
            .find(|c| {
                c.credentials
                    .last()
                    .is_some_and(|leaf| leaf.id == parent_id)
            })
            .ok_or_else(|| {
                Refusal::of(
                    Reason::BrokenChain,
                    format!("the presentation does not carry the parent {parent_id}"),
                )
            })?;
        let root = &chain.credentials[0];
        if root.issuer != *self.org.did() {
            return Err(Refusal::of(
                Reason::UntrustedIssuer,
                format!(
                    "the chain's root is issued by {}, not by this org",
                    root.issuer
                ),
            )
            .into());
        }
        let parent = chain.credentials.last().expect("a chain is never empty");
        let parent_capabilities = chain.capabilities.last().expect("one list per credential");
        delegation::check_link(
            parent,
            parent_capabilities,
            &child,
            &child.valid_capabilities(),
            root.credential_subject
                .delegation
                .max_depth
                .min(MAX_DEPTH_CAP),
        )
        .map_err(|(reason, why)| Refusal::of(reason, why))?;
        if child.credential_subject.capabilities.len() != child.valid_capabilities().len() {
            return Err(Refusal::malformed("every delegated capability must parse").into());
        }
        if child.valid_until <= now {
            return Err(
                Refusal::of(Reason::Expired, "the delegated credential has expired").into(),
            );
        }

        let _guard = self.guard();
        if self.issued(&child.id)?.is_some() {
            return Err(Refusal::new(
                ErrorCode::AlreadyRegistered,
                format!("{} is registered", child.id),
            )
            .into());
        }
        let root_record = self
            .issued(&root.id)?
            .ok_or_else(|| IssuerError::NotFound(format!("{} was not issued here", root.id)))?;
        let links: Vec<&AgentCapabilityCredential> = chain.credentials.iter().collect();
        self.refuse_if_chain_stopped(&links)?;
        self.refuse_if_stopped(&[(Kind::Instance, child.credential_subject.id.as_str())])?;
        let slots = self.allocate()?;
        let mut with_status = child.clone();
        with_status.credential_status = self.status_entries(&slots);
        let unsigned = with_status.to_json();
        let record = Issued {
            id: child.id.clone(),
            issuer: child.issuer.clone(),
            instance: child.credential_subject.id.clone(),
            definition: root_record.definition,
            task: child.credential_subject.task.id.clone(),
            principal: child.credential_subject.principal.clone(),
            lineage: child.id.clone(),
            parent: Some(parent_id),
            revocation: slots.revocation,
            suspension: slots.suspension,
            valid_until: child.valid_until,
            credential: unsigned.clone(),
        };
        let lists = self.record(&record, Event::Delegated, Batch::default(), now)?;
        tracing::info!(credential = %record.id, parent = ?record.parent, "delegation registered");
        Ok(Issuance {
            credential: unsigned,
            lists,
        })
    }

    /// Renews a credential the org issued, for its holder: the proposal must keep every renewal
    /// rule (DESIGN §6) against the lineage's first credential and the one presented, start
    /// now and last no longer than configured; it gets fresh status entries and the org's
    /// signature. Never after a revocation, never during a suspension.
    pub fn renew(
        &self,
        request: RenewalRequest,
        now: DateTime<Utc>,
    ) -> Result<Issuance, IssuerError> {
        let (_, chains) = self.verify_to_me(&request.presentation, now)?;
        let [chain] = &chains[..] else {
            return Err(Refusal::malformed("present exactly the credential to renew").into());
        };
        let [previous] = &chain.credentials[..] else {
            return Err(Refusal::of(
                Reason::RenewalInvalid,
                "only a credential issued by the org is renewed by its node; a delegated one is renewed by its delegator",
            )
            .into());
        };
        let proposal = AgentCapabilityCredential::from_json(&request.renewal)
            .map_err(|e| Refusal::malformed(format!("the renewal: {e}")))?;
        if request.renewal.get("proof").is_some() {
            return Err(Refusal::malformed("send the renewal unsigned").into());
        }
        let skew = Duration::seconds(MAX_CLOCK_SKEW_SECS);
        if (proposal.valid_from - now).abs() > skew {
            return Err(Refusal::of(Reason::RenewalInvalid, "a renewal is valid from now").into());
        }
        let max = Duration::seconds(
            i64::try_from(self.config.max_credential_ttl_secs).unwrap_or(i64::MAX),
        );
        if proposal.valid_until - proposal.valid_from > max {
            return Err(Refusal::of(
                Reason::RenewalInvalid,
                format!(
                    "a renewal lasts at most {} s",
                    self.config.max_credential_ttl_secs
                ),
            )
            .into());
        }

        let _guard = self.guard();
        let previous_record = self
            .issued(&previous.id)?
            .ok_or_else(|| IssuerError::NotFound(format!("{} was not issued here", previous.id)))?;
        let first_record = self.issued(&previous_record.lineage)?.ok_or_else(|| {
            IssuerError::NotFound(format!(
                "the lineage {} was not issued here",
                previous_record.lineage
            ))
        })?;
        let first =
            AgentCapabilityCredential::from_json(&first_record.credential).map_err(|e| {
                IssuerError::Corrupt {
                    key: first_record.id.to_string(),
                    reason: e.to_string(),
                }
            })?;
        if self.issued(&proposal.id)?.is_some() {
            return Err(Refusal::of(Reason::RenewalInvalid, "the renewal's id is taken").into());
        }
        self.refuse_if_chain_stopped(&[previous, &first])?;
        self.refuse_if_stopped(&[(Kind::Definition, previous_record.definition.as_str())])?;
        // Renewed once: a lineage is a line, never a tree of concurrent renewals.
        if let Some(next) = self.store.issuance(&keys::renewed(&previous.id))? {
            return Err(Refusal::of(
                Reason::RenewalInvalid,
                format!(
                    "{} was renewed already, as {}: renew the newest",
                    previous.id,
                    String::from_utf8_lossy(&next)
                ),
            )
            .into());
        }
        let mut renewed = proposal;
        renewed.credential_status = Vec::new();
        delegation::check_renewal(&first, previous, &renewed)
            .map_err(|(reason, why)| Refusal::of(reason, why))?;
        let slots = self.allocate()?;
        renewed.credential_status = self.status_entries(&slots);
        let signed = self.sign(&renewed, now)?;
        let record = Issued {
            id: renewed.id.clone(),
            issuer: renewed.issuer.clone(),
            instance: previous_record.instance,
            definition: previous_record.definition,
            task: previous_record.task,
            principal: previous_record.principal,
            lineage: first_record.id,
            parent: None,
            revocation: slots.revocation,
            suspension: slots.suspension,
            valid_until: renewed.valid_until,
            credential: signed.clone(),
        };
        let mut batch = Batch::default();
        self.store.put_issuance(
            &mut batch,
            &keys::renewed(&previous.id),
            record.id.as_str().as_bytes(),
        );
        let lists = self.record(&record, Event::Renewed, batch, now)?;
        tracing::info!(credential = %record.id, lineage = %record.lineage, count = renewed.credential_subject.renewal.count, "credential renewed");
        Ok(Issuance {
            credential: signed,
            lists,
        })
    }

    /// The credentials indexed under a subject, at most `limit`, and whether there were more.
    pub(super) fn indexed(
        &self,
        kind: Kind,
        subject: &str,
        limit: usize,
    ) -> Result<(Vec<(CredentialId, Slots)>, bool), IssuerError> {
        let (entries, more) = self
            .store
            .issuance_scan(&keys::index_prefix(kind, subject), limit)?;
        let mut found = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let corrupt = |reason: String| IssuerError::Corrupt {
                key: String::from_utf8_lossy(&key).into_owned(),
                reason,
            };
            let id = keys::id_of_index(&key).ok_or_else(|| corrupt("no credential id".into()))?;
            let slots = serde_json::from_slice(&value).map_err(|e| corrupt(e.to_string()))?;
            found.push((id, slots));
        }
        Ok((found, more))
    }
}
