//! Issuance, delegation and renewal (DESIGN §6).
//!
//! A holder delegates by issuing a credential itself, signed by its own instance key, whose
//! `delegation.parent` is the credential it holds and whose capabilities are a subset of that
//! credential's. Attenuation is checked twice: here, when the credential is made, and by
//! [`check_link`] at verification, which trusts nothing the delegator said about itself.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::capability::{AttenuationError, Capability};
use crate::credential::{
    AgentCapabilityCredential, CredentialError, CredentialId, Delegation, MAX_DEPTH_CAP, Renewal,
};
use crate::did::Did;
use crate::did::DidUrl;
use crate::did::document::Relationship;
use crate::key::KeyPair;
use crate::proof::{self, Cryptosuite, ProofError, ProofOptions};
use crate::report::Reason;

/// Why a credential could not be delegated or renewed.
#[derive(Debug, thiserror::Error)]
pub enum DelegationError {
    /// The parent credential is malformed.
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// A requested capability exceeds every capability of the parent.
    #[error("capability {index} exceeds the parent: {cause}")]
    Escalation {
        /// Its position.
        index: usize,
        /// How it exceeds.
        cause: AttenuationError,
    },
    /// The chain would be deeper than the parent allows.
    #[error("delegation depth {depth} exceeds the maximum {max}")]
    TooDeep {
        /// The depth the child would have.
        depth: u32,
        /// The parent's maximum.
        max: u32,
    },
    /// The requested validity is outside the parent's.
    #[error("the delegated credential must end by the parent's validUntil {0}")]
    OutlivesParent(DateTime<Utc>),
    /// The parent has expired.
    #[error("the parent credential expired at {0}")]
    ParentExpired(DateTime<Utc>),
    /// The signing key is not the parent's holder.
    #[error("only the parent's holder {0} can delegate it")]
    NotHolder(Did),
    /// The delegate is not an agent instance.
    #[error("a credential is issued to an agent instance's did:key")]
    NotAnInstance,
    /// The credential could not be signed.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// A renewal rule is broken.
    #[error("renewal refused: {0}")]
    Renewal(String),
}

/// Signs a credential with the issuer's key.
pub fn sign_credential(
    credential: &AgentCapabilityCredential,
    key: &KeyPair,
    verification_method: DidUrl,
    cryptosuite: Cryptosuite,
    created: DateTime<Utc>,
) -> Result<Value, ProofError> {
    let options = ProofOptions {
        cryptosuite,
        created,
        verification_method,
        purpose: Relationship::AssertionMethod,
        challenge: None,
        domain: None,
        expires: None,
    };
    proof::sign(&credential.to_json(), &options, key)
}

/// Checks that each of `capabilities` is covered by one of `parent`'s.
pub fn check_attenuation(
    capabilities: &[Capability],
    parent: &[Capability],
) -> Result<(), (usize, AttenuationError)> {
    capabilities
        .iter()
        .enumerate()
        .try_for_each(|(index, c)| c.is_covered_by(parent).map_err(|e| (index, e)))
}

fn parse_all(values: &[Value]) -> Result<Vec<Capability>, DelegationError> {
    values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            Capability::from_json(value).map_err(|cause| {
                DelegationError::Credential(CredentialError::Capability { index, cause })
            })
        })
        .collect()
}

/// Builds the credential that delegates `capabilities` of `parent` to the instance `to`, valid
/// from `now` until `valid_until` (at most the parent's end). The caller signs it with the
/// parent holder's key ([`sign_credential`]).
pub fn delegate(
    parent: &AgentCapabilityCredential,
    to: Did,
    capabilities: Vec<Value>,
    valid_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<AgentCapabilityCredential, DelegationError> {
    if to.method() != "key" {
        return Err(DelegationError::NotAnInstance);
    }
    if now >= parent.valid_until {
        return Err(DelegationError::ParentExpired(parent.valid_until));
    }
    if valid_until > parent.valid_until {
        return Err(DelegationError::OutlivesParent(parent.valid_until));
    }
    let parent_delegation = &parent.credential_subject.delegation;
    let depth = parent_delegation.depth + 1;
    if depth > parent_delegation.max_depth {
        return Err(DelegationError::TooDeep {
            depth,
            max: parent_delegation.max_depth,
        });
    }
    let requested = parse_all(&capabilities)?;
    check_attenuation(&requested, &parent.valid_capabilities())
        .map_err(|(index, cause)| DelegationError::Escalation { index, cause })?;

    let id = CredentialId::generate();
    let mut ancestors = parent_delegation.ancestors.clone();
    ancestors.push(parent.id.clone());
    let mut subject = parent.credential_subject.clone();
    subject.id = to;
    subject.capabilities = capabilities;
    subject.renewal = Renewal {
        lineage: id.clone(),
        count: 0,
        max_count: parent.credential_subject.renewal.max_count,
        not_after: parent.valid_until,
    };
    subject.delegation = Delegation {
        parent: Some(parent.id.clone()),
        ancestors,
        depth,
        max_depth: parent_delegation.max_depth,
    };
    let child = AgentCapabilityCredential {
        context: parent.context.clone(),
        id,
        type_: parent.type_.clone(),
        issuer: parent.credential_subject.id.clone(),
        valid_from: now.max(parent.valid_from),
        valid_until,
        credential_subject: subject,
        // Agents keep no status lists: a delegated credential is revoked through its ancestors.
        credential_status: Vec::new(),
    };
    // Round-trip through the validating reader, so that what we sign is what verifiers accept.
    Ok(AgentCapabilityCredential::from_json(&child.to_json())?)
}

/// Checks one link of a delegation chain: `child` was delegated from `parent` by its holder,
/// within its rights. Signatures and validity are checked separately, per credential.
pub fn check_link(
    parent: &AgentCapabilityCredential,
    parent_capabilities: &[Capability],
    child: &AgentCapabilityCredential,
    child_capabilities: &[Capability],
    max_depth: u32,
) -> Result<(), (Reason, String)> {
    let (p, c) = (&parent.credential_subject, &child.credential_subject);
    if child.issuer != p.id {
        return Err((
            Reason::NotHolder,
            format!(
                "{} was issued by {}, not by the parent's holder {}",
                child.id, child.issuer, p.id
            ),
        ));
    }
    let mut ancestors = p.delegation.ancestors.clone();
    ancestors.push(parent.id.clone());
    if c.delegation.parent.as_ref() != Some(&parent.id) || c.delegation.ancestors != ancestors {
        return Err((
            Reason::BrokenChain,
            format!("{} does not name its parent's lineage", child.id),
        ));
    }
    if c.delegation.depth != p.delegation.depth + 1 {
        return Err((
            Reason::BrokenChain,
            "depth does not follow the parent's".into(),
        ));
    }
    let cap = max_depth.min(p.delegation.max_depth).min(MAX_DEPTH_CAP);
    if c.delegation.depth > cap || c.delegation.max_depth > p.delegation.max_depth {
        return Err((
            Reason::DepthExceeded,
            format!("depth {} exceeds {cap}", c.delegation.depth),
        ));
    }
    if c.principal != p.principal || c.task != p.task {
        return Err((
            Reason::BrokenChain,
            "principal or task differs from the parent's".into(),
        ));
    }
    if child.valid_from < parent.valid_from || child.valid_until > parent.valid_until {
        return Err((
            Reason::ScopeExceedsParent,
            "validity is outside the parent's".into(),
        ));
    }
    let audience_widened = !p.audience.is_empty()
        && (c.audience.is_empty() || !c.audience.iter().all(|a| p.audience.contains(a)));
    if audience_widened {
        return Err((
            Reason::ScopeExceedsParent,
            "audience is wider than the parent's".into(),
        ));
    }
    check_resources(parent, child)?;
    if c.agent != p.agent {
        return Err((
            Reason::DefinitionMismatch,
            format!(
                "{} describes another agent than its parent: a delegated credential carries its root's agent description unchanged",
                child.id
            ),
        ));
    }
    if c.renewal.max_count > p.renewal.max_count || c.renewal.not_after > p.renewal.not_after {
        return Err((
            Reason::RenewalInvalid,
            "the renewal bounds are wider than the parent's".into(),
        ));
    }
    if c.capabilities.len() != child_capabilities.len() {
        return Err((
            Reason::UnknownConstraint,
            "a delegated capability is malformed or has an unknown constraint".into(),
        ));
    }
    check_attenuation(child_capabilities, parent_capabilities).map_err(|(index, e)| {
        let reason = match e {
            AttenuationError::UnknownConstraint(_) => Reason::UnknownConstraint,
            _ => Reason::ScopeExceedsParent,
        };
        (reason, format!("capability {index}: {e}"))
    })
}

/// Resource pinning attenuates like the audience (RFC 8707): each resource server the child is
/// pinned to lies under one of the parent's, and a child may be unpinned only if its parent is.
fn check_resources(
    parent: &AgentCapabilityCredential,
    child: &AgentCapabilityCredential,
) -> Result<(), (Reason, String)> {
    let (p, c) = (parent.resource_servers(), child.resource_servers());
    if p.is_empty() {
        return Ok(());
    }
    let widened = || {
        (
            Reason::ScopeExceedsParent,
            "resources are wider than the parent's".to_owned(),
        )
    };
    if c.is_empty() {
        return Err(widened());
    }
    let within = c.iter().all(|server| {
        server.as_ref().is_ok_and(|s| {
            p.iter()
                .any(|base| base.as_ref().is_ok_and(|base| s.is_under(base)))
        })
    });
    if within { Ok(()) } else { Err(widened()) }
}

/// The renewal rules one credential must keep on its own, checked at every verification: the
/// lineage starts at the credential whose count is 0 (and only there), the count stays within
/// `maxCount`, and no credential of the lineage is valid past its absolute end.
pub fn check_renewal_state(credential: &AgentCapabilityCredential) -> Result<(), (Reason, String)> {
    let renewal = &credential.credential_subject.renewal;
    let fail = |why: &str| Err((Reason::RenewalInvalid, why.to_owned()));
    if (renewal.count == 0) != (renewal.lineage == credential.id) {
        return fail("renewal.lineage is the credential's own id exactly when count is 0");
    }
    if renewal.count > renewal.max_count {
        return fail("renewal.count exceeds maxCount");
    }
    if credential.valid_until > renewal.not_after {
        return fail("valid past the lineage's notAfter");
    }
    Ok(())
}

/// Builds the renewal of `previous`, valid from `now` for `lifetime`. The issuer signs it.
pub fn renew(
    previous: &AgentCapabilityCredential,
    now: DateTime<Utc>,
    lifetime: Duration,
) -> Result<AgentCapabilityCredential, DelegationError> {
    let renewal = &previous.credential_subject.renewal;
    if renewal.count + 1 > renewal.max_count {
        return Err(DelegationError::Renewal(format!(
            "the lineage has had its {} renewals",
            renewal.max_count
        )));
    }
    let valid_until = now
        .checked_add_signed(lifetime)
        .map_or(renewal.not_after, |end| end.min(renewal.not_after));
    if valid_until <= now {
        return Err(DelegationError::Renewal("the lineage has ended".into()));
    }
    let mut next = previous.clone();
    next.id = CredentialId::generate();
    next.valid_from = now;
    next.valid_until = valid_until;
    next.credential_subject.renewal.count += 1;
    Ok(AgentCapabilityCredential::from_json(&next.to_json())?)
}

/// Checks the renewal rules: `renewed` follows `previous` in the lineage that `first` started,
/// for the same holder, definition, principal and task, with capabilities within the first's.
pub fn check_renewal(
    first: &AgentCapabilityCredential,
    previous: &AgentCapabilityCredential,
    renewed: &AgentCapabilityCredential,
) -> Result<(), (Reason, String)> {
    let fail = |why: &str| Err((Reason::RenewalInvalid, why.to_owned()));
    for credential in [first, previous, renewed] {
        check_renewal_state(credential)?;
    }
    let (f, p, r) = (
        &first.credential_subject,
        &previous.credential_subject,
        &renewed.credential_subject,
    );
    if f.renewal.lineage != first.id || f.renewal.count != 0 {
        return fail("the first credential does not start its lineage");
    }
    if p.renewal.lineage != first.id || r.renewal.lineage != first.id {
        return fail("not of the same lineage");
    }
    if r.renewal.count != p.renewal.count + 1 || r.renewal.count > f.renewal.max_count {
        return fail("renewal count does not follow, or exceeds maxCount");
    }
    if r.renewal.max_count != f.renewal.max_count || r.renewal.not_after != f.renewal.not_after {
        return fail("maxCount or notAfter changed");
    }
    if renewed.issuer != first.issuer
        || r.id != f.id
        || r.agent.definition_hash != f.agent.definition_hash
        || r.principal != f.principal
        || r.task != f.task
        || r.delegation != f.delegation
    {
        return fail("issuer, holder, definition, principal, task or delegation changed");
    }
    if renewed.valid_until > f.renewal.not_after {
        return fail("valid past the lineage's notAfter");
    }
    check_attenuation(&renewed.valid_capabilities(), &first.valid_capabilities()).map_err(
        |(index, e)| {
            (
                Reason::ScopeExceedsParent,
                format!("capability {index}: {e}"),
            )
        },
    )
}

/// What an issuer states about an agent instance in a root credential.
#[derive(Debug, Clone)]
pub struct RootGrant {
    /// The org's DID.
    pub issuer: Did,
    /// The agent instance's did:key.
    pub subject: Did,
    /// What the agent is.
    pub agent: crate::credential::AgentDescription,
    /// Who it acts for (`urn:vouch:principal:…`).
    pub principal: String,
    /// The task.
    pub task: crate::credential::Task,
    /// What it may do.
    pub capabilities: Vec<Value>,
    /// Who it may present to; empty for anyone.
    pub audience: Vec<String>,
    /// Start of validity.
    pub valid_from: DateTime<Utc>,
    /// Lifetime (DESIGN §4: minutes; default 15).
    pub lifetime: Duration,
    /// Renewals allowed, and the lineage's absolute end.
    pub max_renewals: u32,
    /// The lineage's absolute end.
    pub not_after: DateTime<Utc>,
    /// The deepest delegation allowed below it.
    pub max_depth: u32,
    /// Revocation and suspension entries.
    pub status: Vec<crate::credential::StatusEntry>,
}

impl RootGrant {
    /// The unsigned root credential; every capability must parse.
    pub fn build(self) -> Result<AgentCapabilityCredential, DelegationError> {
        parse_all(&self.capabilities)?;
        let id = CredentialId::generate();
        let credential = AgentCapabilityCredential {
            context: crate::credential::CONTEXTS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            id: id.clone(),
            type_: crate::credential::TYPES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            issuer: self.issuer,
            valid_from: self.valid_from,
            valid_until: self
                .valid_from
                .checked_add_signed(self.lifetime)
                .map_or(self.not_after, |end| end.min(self.not_after)),
            credential_subject: crate::credential::AgentSubject {
                id: self.subject,
                agent: self.agent,
                principal: self.principal,
                task: self.task,
                capabilities: self.capabilities,
                audience: self.audience,
                resources: Vec::new(),
                renewal: Renewal {
                    lineage: id,
                    count: 0,
                    max_count: self.max_renewals,
                    not_after: self.not_after,
                },
                delegation: Delegation {
                    parent: None,
                    ancestors: Vec::new(),
                    depth: 0,
                    max_depth: self.max_depth,
                },
            },
            credential_status: self.status,
        };
        Ok(AgentCapabilityCredential::from_json(&credential.to_json())?)
    }
}
