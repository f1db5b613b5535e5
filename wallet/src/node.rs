//! The agent's side of its org's node (DESIGN §3, §6): an instance proves possession of its key
//! to be bound to its definition, registers the delegations it makes, renews its credentials and
//! asks its owner's approval — each by signing over a fresh challenge of the node, never by
//! handing over a key. The messages are `vouch_api`'s, sent by its [`NodeClient`].

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use vouch_api::node::public::{
    ApprovalAsk, DelegationRequest, OwnerDecision, OwnerVerdict, Pending, RenewalRequest,
};
pub use vouch_api::node::{NodeClient, NodeError};
use vouch_core::credential::AgentCapabilityCredential;
use vouch_core::delegation;
use vouch_core::did::{Did, key as did_key};
use vouch_core::key::KeyPair;
use vouch_core::proof::Cryptosuite;
use vouch_core::{possession, presentation};

use crate::sources::NodeUrl;

/// The org's node, as its agents use it.
#[derive(Debug, Clone)]
pub struct OrgNode {
    client: NodeClient,
}

impl OrgNode {
    /// The node at `node` (see [`crate::sources::Reach`]).
    pub fn new(node: NodeUrl) -> Self {
        Self {
            client: NodeClient::new(node),
        }
    }

    /// The typed client of the node's public endpoints.
    pub fn client(&self) -> &NodeClient {
        &self.client
    }

    /// The proof an instance gives to be bound to `definition`: the binding statement signed
    /// by its key over a fresh challenge of the node. The operator submits it
    /// (`vouch-node admin agent bind`).
    pub fn binding_proof(
        &self,
        key: &KeyPair,
        definition: &Did,
        now: DateTime<Utc>,
    ) -> Result<Value, NodeError> {
        let challenge = self.client.challenge()?;
        let statement = json!({
            "type": "VouchInstanceBinding",
            "instance": did_key::did_of(&key.public()),
            "definition": definition,
        });
        possession::prove(
            key,
            &statement,
            &challenge.challenge,
            &challenge.domain,
            now,
        )
        .map_err(|e| NodeError::Local(e.to_string()))
    }

    /// A presentation of `credentials` by `key` over a fresh challenge of the node.
    fn present(
        &self,
        key: &KeyPair,
        credentials: Vec<Value>,
        now: DateTime<Utc>,
    ) -> Result<Value, NodeError> {
        let challenge = self.client.challenge()?;
        presentation::create(
            key,
            credentials,
            &challenge.challenge,
            &challenge.domain,
            Cryptosuite::EddsaJcs2022,
            now,
        )
        .map_err(|e| NodeError::Local(e.to_string()))
    }

    /// Registers a delegation: `chain` is the holder's credential with its ancestors (root
    /// first), `child` the delegated credential, unsigned. Returns the child with the status
    /// entries the node gave it, signed by `key` with `suite`.
    pub fn register_delegation(
        &self,
        key: &KeyPair,
        chain: Vec<Value>,
        child: &AgentCapabilityCredential,
        suite: Cryptosuite,
        now: DateTime<Utc>,
    ) -> Result<Value, NodeError> {
        let presentation = self.present(key, chain, now)?;
        let answer = self.client.register_delegation(&DelegationRequest {
            presentation,
            credential: child.to_json(),
        })?;
        let with_status = AgentCapabilityCredential::from_json(&answer.credential)
            .map_err(|e| NodeError::Local(format!("the node's answer: {e}")))?;
        let without_status = AgentCapabilityCredential {
            credential_status: Vec::new(),
            ..with_status.clone()
        };
        if with_status.credential_status.is_empty() || without_status != *child {
            return Err(NodeError::Local(
                "the node changed more than the status entries of the delegation".into(),
            ));
        }
        delegation::sign_credential(
            &with_status,
            key,
            did_key::verification_method_of(&key.public()),
            suite,
            now,
        )
        .map_err(|e| NodeError::Local(e.to_string()))
    }

    /// Renews `credential` (held by `key`) for `lifetime`: the renewal is proposed, the node
    /// checks every renewal rule and signs it with fresh status entries.
    pub fn renew(
        &self,
        key: &KeyPair,
        credential: &Value,
        lifetime: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<Value, NodeError> {
        let previous = AgentCapabilityCredential::from_json(credential)
            .map_err(|e| NodeError::Local(e.to_string()))?;
        let proposal = delegation::renew(&previous, now, lifetime)
            .map_err(|e| NodeError::Local(e.to_string()))?;
        let presentation = self.present(key, vec![credential.clone()], now)?;
        let answer = self.client.renew(&RenewalRequest {
            presentation,
            renewal: proposal.to_json(),
        })?;
        Ok(answer.credential)
    }
}

impl OrgNode {
    /// An OAuth access token for `resource` by token exchange (RFC 8693): `credentials` (a
    /// capability credential with its chain, and approvals) presented by `key` over a fresh
    /// challenge of the node, with a DPoP proof of the exchange made by the same key, so the
    /// token is bound to it. `details` are the `authorization_details` asked (approved requests).
    pub fn exchange_token(
        &self,
        key: &KeyPair,
        credentials: Vec<Value>,
        resource: &str,
        details: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<vouch_api::node::oauth::TokenIssued, NodeError> {
        use vouch_core::oauth;
        let metadata = self.client.oauth_metadata()?;
        let presentation = self.present(key, credentials, now)?;
        // The proof names the endpoint the node says it is at: under its own issuer URL, which
        // is the domain its challenges are for.
        let endpoint = url::Url::parse(&metadata.token_endpoint)
            .ok()
            .filter(|_| {
                metadata
                    .token_endpoint
                    .starts_with(&format!("{}/", metadata.issuer))
            })
            .ok_or_else(|| {
                NodeError::Local(format!(
                    "the node's token endpoint {:.256} is not under its issuer {:.256}",
                    metadata.token_endpoint, metadata.issuer
                ))
            })?;
        let jti = vouch_core::exchange::flow::challenge();
        let proof = vouch_core::jwt::dpop_proof(
            key,
            &vouch_core::jwt::DpopRequest {
                method: "POST",
                target: &endpoint,
                iat: now.timestamp(),
                jti: &jti,
                access_token: None,
                nonce: None,
            },
        );
        self.client.exchange_token(
            &vouch_api::node::oauth::TokenRequest {
                grant_type: oauth::TOKEN_EXCHANGE.into(),
                subject_token: presentation.to_string(),
                subject_token_type: oauth::PRESENTATION_TOKEN_TYPE.into(),
                resource: Some(resource.to_owned()),
                authorization_details: details,
                requested_token_type: None,
            },
            &proof,
        )
    }
}

impl OrgNode {
    /// Asks the owner's approval of `request` (`POST /1.0/approvals`), presenting `credentials`
    /// (the ones that name it, with their chains) over a fresh challenge of the node.
    pub fn ask_approval(
        &self,
        key: &KeyPair,
        credentials: Vec<Value>,
        request: &Value,
        now: DateTime<Utc>,
    ) -> Result<Pending, NodeError> {
        let presentation = self.present(key, credentials, now)?;
        self.client.ask_approval(&ApprovalAsk {
            presentation,
            request: request.clone(),
        })
    }

    /// The owner's decision on `pending`, signed with their owner key over exactly what is
    /// pending: the org, the request's id and hash, the agent.
    pub fn decide_approval(
        &self,
        owner: &KeyPair,
        pending: &Pending,
        decision: OwnerVerdict,
    ) -> Result<Pending, NodeError> {
        // The hash signed is the hash of the request shown, computed here: never the node's word.
        let shown = vouch_core::capability::Request::from_json(&pending.request)
            .map_err(|e| NodeError::Local(format!("the request shown: {e}")))?;
        let hash = vouch_core::approval::request_hash(&shown);
        if pending.request_hash != hash {
            return Err(NodeError::Local(
                "the request's hash is not the hash of the request shown: not signed".into(),
            ));
        }
        let statement = vouch_api::node::public::decision_statement(pending, decision);
        let bytes = serde_jcs::to_vec(&statement).map_err(|e| NodeError::Local(e.to_string()))?;
        let signature = multibase::encode(multibase::Base::Base58Btc, owner.sign(&bytes));
        self.client.decide_approval(
            &pending.id,
            &OwnerDecision {
                decision,
                signature,
            },
        )
    }
}
