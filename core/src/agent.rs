//! What an agent is (DESIGN §5): its name, version and accountable owner, and the hash of its
//! definition — model, system prompt, tools and configuration, each hashed apart. A credential
//! attests it (`credential`), and an agent definition's did:vouch document carries it
//! (`did::document`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::hash::Multihash;

/// The definition hash of an agent: each part hashed separately, then a digest over the four
/// hashes. Raw prompts and manifests never appear in a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DefinitionHash {
    /// Hash of the model identifier.
    pub model: Multihash,
    /// Hash of the system prompt.
    pub system_prompt: Multihash,
    /// Hash of the canonical JSON of the tool manifest.
    pub tools: Multihash,
    /// Hash of the canonical JSON of the configuration.
    pub configuration: Multihash,
    /// Hash of the canonical JSON of the four hashes above; what verifiers compare.
    pub digest: Multihash,
}

impl DefinitionHash {
    /// Hashes an agent definition.
    pub fn compute(
        model: &str,
        system_prompt: &str,
        tools: &Value,
        configuration: &Value,
    ) -> Result<Self, serde_json::Error> {
        Self::with_prompt_hash(
            model,
            Multihash::of(system_prompt.as_bytes()),
            tools,
            configuration,
        )
    }

    /// Hashes an agent definition whose system prompt is given as its hash only: what an org
    /// registers on its node, which never sees the prompt.
    pub fn with_prompt_hash(
        model: &str,
        system_prompt: Multihash,
        tools: &Value,
        configuration: &Value,
    ) -> Result<Self, serde_json::Error> {
        let model = Multihash::of(model.as_bytes());
        let tools = Multihash::of(&serde_jcs::to_vec(tools)?);
        let configuration = Multihash::of(&serde_jcs::to_vec(configuration)?);
        let digest = Self::digest_of(&model, &system_prompt, &tools, &configuration)?;
        Ok(Self {
            model,
            system_prompt,
            tools,
            configuration,
            digest,
        })
    }

    fn digest_of(
        model: &Multihash,
        system_prompt: &Multihash,
        tools: &Multihash,
        configuration: &Multihash,
    ) -> Result<Multihash, serde_json::Error> {
        let parts = serde_json::json!({
            "model": model, "systemPrompt": system_prompt, "tools": tools, "configuration": configuration
        });
        Multihash::of_jcs(&parts)
    }

    /// Whether `digest` is the digest of the four part hashes.
    pub fn is_consistent(&self) -> bool {
        Self::digest_of(
            &self.model,
            &self.system_prompt,
            &self.tools,
            &self.configuration,
        )
        .is_ok_and(|d| d == self.digest)
    }
}

/// What the agent is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentDescription {
    /// The agent's name.
    pub name: String,
    /// The agent's version.
    pub version: String,
    /// The hash of its definition.
    pub definition_hash: DefinitionHash,
    /// The accountable human.
    pub owner: String,
}
