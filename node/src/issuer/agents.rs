//! Agent definitions and instances (DESIGN §3). A definition is a long-lived did:vouch whose
//! document carries the agent's name, version, accountable owner and the hash of each part of
//! its definition — model, system prompt, tools, configuration — never the parts themselves: the
//! prompt arrives as its hash and the rest is hashed here and forgotten. An instance is an agent
//! process's did:key, bound to one definition once it has proved that it holds the key.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use vouch_api::ErrorCode;
use vouch_core::credential::{AgentDescription, DefinitionHash};
use vouch_core::did::Did;
use vouch_core::did_vouch::{self, DocumentContent};
use vouch_core::hash::Multihash;
use vouch_core::key::KeyPair;
use vouch_core::possession;
use vouch_core::report::Reason;
use vouch_keyfile as keyfile;

pub use vouch_api::node::admin::{Definition, DefinitionRequest, Instance};

use super::keys::{self, Kind};
use super::{Issuer, IssuerError, Refusal};
use crate::datadir;
use crate::store::Batch;

/// The longest name, version or owner.
const MAX_TEXT: usize = 256;
/// The largest tool manifest or configuration, as JSON.
const MAX_PART_BYTES: usize = 256 * 1024;
/// The most definitions one listing returns.
const MAX_LISTED: usize = 10_000;
/// The most definitions looked through for an owner's.
const MAX_OWNED_SCAN: usize = 100_000;

fn text(name: &str, value: &str) -> Result<(), Refusal> {
    if value.trim().is_empty() || value.len() > MAX_TEXT || value.chars().any(char::is_control) {
        return Err(Refusal::malformed(format!(
            "{name} is 1 to {MAX_TEXT} bytes, no control characters"
        )));
    }
    Ok(())
}

impl Issuer {
    /// Registers an agent definition: a new did:vouch whose document states it, published like
    /// any DID. Returns the definition; the caller gossips its genesis operation.
    pub fn register_definition(
        &self,
        request: DefinitionRequest,
        now: DateTime<Utc>,
    ) -> Result<(Definition, did_vouch::Operation), IssuerError> {
        text("name", &request.name)?;
        text("version", &request.version)?;
        text("owner", &request.owner)?;
        text("model", &request.model)?;
        let prompt = Multihash::parse(&request.system_prompt_hash).ok_or_else(|| {
            Refusal::malformed("systemPromptHash must be a multihash (base58btc SHA-256): the node takes the prompt's hash, never the prompt")
        })?;
        for (name, part) in [
            ("tools", &request.tools),
            ("configuration", &request.configuration),
        ] {
            if serde_json::to_vec(part).map_or(true, |b| b.len() > MAX_PART_BYTES) {
                return Err(Refusal::malformed(format!(
                    "{name} is larger than {MAX_PART_BYTES} bytes"
                ))
                .into());
            }
        }
        let definition_hash = DefinitionHash::with_prompt_hash(
            &request.model,
            prompt,
            &request.tools,
            &request.configuration,
        )
        .map_err(|e| Refusal::malformed(format!("tools or configuration: {e}")))?;
        let agent = AgentDescription {
            name: request.name,
            version: request.version,
            definition_hash,
            owner: request.owner,
        };
        let (signing, _) = self.org.signing_key()?;
        let document = DocumentContent {
            agent: Some(agent.clone()),
            ..DocumentContent::single_key(&signing.public())
        };
        let (first, next) = (KeyPair::generate(), KeyPair::generate());
        let (did, genesis) = did_vouch::create(document, &first, &[next.public()], now)
            .map_err(|e| Refusal::malformed(e.to_string()))?;
        // The keys first: a crash before the operation is stored leaves an unused folder, never
        // a DID whose keys are lost.
        let dir = datadir::definition_keys(&self.data_dir, &did)?;
        for (n, key) in [(1, &first), (2, &next)] {
            keyfile::write(&dir.join(format!("update-{n}.key.json")), key)
                .map_err(datadir::DataDirError::from)?;
        }
        let definition = Definition {
            did: did.clone(),
            agent,
            registered: now,
        };
        let _guard = self.guard();
        self.registry.apply(genesis.clone(), now)?;
        let mut batch = Batch::default();
        self.store.put_issuance(
            &mut batch,
            &keys::definition(&did),
            &serde_json::to_vec(&definition).expect("a definition serializes"),
        );
        self.store.commit(batch)?;
        tracing::info!(definition = %did, name = %definition.agent.name, "agent definition registered");
        Ok((definition, genesis))
    }

    /// A registered definition.
    pub fn definition(&self, did: &Did) -> Result<Option<Definition>, IssuerError> {
        self.read(&keys::definition(did))
    }

    /// Every registered definition, with whether it is revoked.
    pub fn definitions(&self) -> Result<Vec<(Definition, bool)>, IssuerError> {
        let (entries, _) = self.store.issuance_scan(keys::DEFINITIONS, MAX_LISTED)?;
        let mut definitions = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let definition: Definition =
                serde_json::from_slice(&value).map_err(|e| IssuerError::Corrupt {
                    key: String::from_utf8_lossy(&key).into_owned(),
                    reason: e.to_string(),
                })?;
            let revoked = self.is_revoked(Kind::Definition, definition.did.as_str())?;
            definitions.push((definition, revoked));
        }
        Ok(definitions)
    }

    /// The definitions that name `owner` as their accountable owner; more than any revocation
    /// reaches is `too_many`.
    pub(super) fn definitions_owned_by(&self, owner: &str) -> Result<Vec<Did>, IssuerError> {
        let (entries, more) = self
            .store
            .issuance_scan(keys::DEFINITIONS, MAX_OWNED_SCAN)?;
        if more {
            return Err(Refusal::new(
                ErrorCode::TooMany,
                format!("more than {MAX_OWNED_SCAN} definitions to look through"),
            )
            .into());
        }
        let mut owned = Vec::new();
        for (key, value) in entries {
            let definition: Definition =
                serde_json::from_slice(&value).map_err(|e| IssuerError::Corrupt {
                    key: String::from_utf8_lossy(&key).into_owned(),
                    reason: e.to_string(),
                })?;
            if definition.agent.owner == owner {
                owned.push(definition.did);
            }
        }
        Ok(owned)
    }

    /// The definitions whose owner is gone (revoked at the owner level) or unset: agents no one
    /// is accountable for.
    pub fn orphaned(&self) -> Result<Vec<Definition>, IssuerError> {
        let mut orphaned = Vec::new();
        for (definition, _) in self.definitions()? {
            let owner = definition.agent.owner.trim();
            if owner.is_empty() || self.is_revoked(Kind::Owner, owner)? {
                orphaned.push(definition);
            }
        }
        Ok(orphaned)
    }

    /// The statement an instance signs to be bound to `definition`.
    pub fn binding_statement(instance: &Did, definition: &Did) -> Value {
        json!({
            "type": "VouchInstanceBinding",
            "instance": instance,
            "definition": definition,
        })
    }

    /// Binds an instance to a definition, on its proof of possession: the binding statement
    /// signed by the instance's key over a challenge of this node. An instance is bound once, to
    /// one definition; a revoked instance or definition takes no binding.
    pub fn bind(
        &self,
        definition: &Did,
        proof: &Value,
        now: DateTime<Utc>,
    ) -> Result<Instance, IssuerError> {
        let challenge = proof["proof"]["challenge"]
            .as_str()
            .ok_or_else(|| Refusal::malformed("the proof names no challenge"))?;
        let expires = self.check_challenge(challenge, now)?;
        let instance = possession::verify(proof, challenge, &self.domain)
            .map_err(|e| Refusal::of(Reason::InvalidProof, e.to_string()))?;
        let mut statement = proof.clone();
        if let Some(object) = statement.as_object_mut() {
            object.remove("proof");
        }
        if statement != Self::binding_statement(&instance, definition) {
            return Err(Refusal::malformed(
                "the proof must sign {type: VouchInstanceBinding, instance: <its did:key>, definition: <the definition>}",
            )
            .into());
        }
        // The proof verified: only now is the challenge remembered, answered.
        self.redeem_challenge(challenge, expires, &instance, now)?;
        let _guard = self.guard();
        if self.definition(definition)?.is_none() {
            return Err(IssuerError::NotFound(format!(
                "{definition} is not an agent definition of this org"
            )));
        }
        let owner = self
            .definition(definition)?
            .map(|d| d.agent.owner)
            .unwrap_or_default();
        self.refuse_if_stopped(&[
            (Kind::Definition, definition.as_str()),
            (Kind::Instance, instance.as_str()),
            (Kind::Owner, owner.as_str()),
        ])?;
        if let Some(bound) = self.instance(&instance)? {
            if bound.definition == *definition {
                return Ok(bound);
            }
            return Err(Refusal::new(
                ErrorCode::AlreadyBound,
                format!("{instance} is bound to {}", bound.definition),
            )
            .into());
        }
        let record = Instance {
            did: instance.clone(),
            definition: definition.clone(),
            bound: now,
        };
        let mut batch = Batch::default();
        self.store.put_issuance(
            &mut batch,
            &keys::instance(&instance),
            &serde_json::to_vec(&record).expect("an instance serializes"),
        );
        self.store.put_issuance(
            &mut batch,
            &keys::definition_instance(definition, &instance),
            b"",
        );
        self.store.commit(batch)?;
        tracing::info!(%instance, %definition, "agent instance bound");
        Ok(record)
    }

    /// A bound instance.
    pub fn instance(&self, did: &Did) -> Result<Option<Instance>, IssuerError> {
        self.read(&keys::instance(did))
    }

    /// Whether a subject is revoked.
    pub(super) fn is_revoked(&self, kind: Kind, subject: &str) -> Result<bool, IssuerError> {
        Ok(self
            .store
            .issuance(&keys::revoked(kind, subject))?
            .is_some())
    }

    /// Whether a subject has a suspension in force.
    pub(super) fn is_suspended(&self, kind: Kind, subject: &str) -> Result<bool, IssuerError> {
        let (found, _) = self
            .store
            .issuance_scan(&keys::suspended_prefix(kind, subject), 1)?;
        Ok(!found.is_empty())
    }

    /// Refuses if any of these subjects is revoked (`revoked`) or suspended (`suspended`).
    pub(super) fn refuse_if_stopped(&self, subjects: &[(Kind, &str)]) -> Result<(), IssuerError> {
        for &(kind, subject) in subjects {
            if self.is_revoked(kind, subject)? {
                return Err(Refusal::of(Reason::Revoked, format!("{subject} is revoked")).into());
            }
            if self.is_suspended(kind, subject)? {
                return Err(
                    Refusal::of(Reason::Suspended, format!("{subject} is suspended")).into(),
                );
            }
        }
        Ok(())
    }
}
