//! The agent's side of its org's node (DESIGN §3, §6): an instance proves possession of its key
//! to be bound to its definition, registers the delegations it makes, and renews its
//! credentials — each by signing over a fresh challenge of the node, never by handing over a key.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use vouch_core::credential::AgentCapabilityCredential;
use vouch_core::delegation;
use vouch_core::did::{Did, key as did_key};
use vouch_core::key::KeyPair;
use vouch_core::proof::Cryptosuite;
use vouch_core::{possession, presentation};

use crate::sources::NodeUrl;
use vouch_api::ErrorCode;

/// The largest answer read from a node.
const MAX_ANSWER_BYTES: u64 = 1024 * 1024;

/// Why a request to the node failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The node could not be reached, or answered something unreadable.
    #[error("{url}: {reason}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// The transport's error, or what was unreadable in the answer.
        reason: String,
    },
    /// The node refused, with its code.
    #[error("the node refused ({status} {code}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// What went wrong, for programs (`unknown` for a code this build does not know).
        code: ErrorCode,
        /// The node's message (its problem's detail).
        message: String,
    },
    /// What was to be sent could not be made.
    #[error("{0}")]
    Local(String),
}

/// The node's refusal, from its problem object: its status, code and detail.
fn refused(status: u16, answer: &Value) -> NodeError {
    NodeError::Refused {
        status,
        code: answer["code"]
            .as_str()
            .map_or(ErrorCode::Unknown, ErrorCode::parse),
        message: answer["detail"]
            .as_str()
            .or(answer["message"].as_str())
            .unwrap_or_default()
            .to_owned(),
    }
}

/// An org's node, at its HTTP base URL.
pub struct NodeClient {
    node: NodeUrl,
}

impl NodeClient {
    /// The node at `node` (see [`crate::sources::Reach`]).
    pub fn new(node: NodeUrl) -> Self {
        Self { node }
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value, NodeError> {
        match self.answer(path, Some(body))? {
            (200..300, answer) => Ok(answer),
            (status, answer) => Err(refused(status, &answer)),
        }
    }

    /// Verifies a presentation with the node's verification service: its report, verified or
    /// not (the VC API answers a failed verification with 400 and the report).
    pub fn verify_presentation(
        &self,
        presentation: &Value,
        challenge: &str,
        domain: &str,
    ) -> Result<Value, NodeError> {
        let body = json!({
            "verifiablePresentation": presentation,
            "options": {"challenge": challenge, "domain": domain},
        });
        match self.answer("/1.0/presentations/verify", Some(&body))? {
            (200 | 400, report) if report.get("verified").is_some() => Ok(report),
            (status, answer) => Err(refused(status, &answer)),
        }
    }

    /// The status and JSON answer of a request to the node: a POST of `body`, or a GET.
    fn answer(&self, path: &str, body: Option<&Value>) -> Result<(u16, Value), NodeError> {
        let url = format!("{}{path}", self.node.base());
        let unreachable = |reason: String| NodeError::Unreachable {
            url: url.clone(),
            reason,
        };
        let agent = self.node.agent();
        let sent = match body {
            Some(body) => agent
                .post(&url)
                .header("content-type", "application/json")
                .send(
                    serde_json::to_vec(body)
                        .expect("JSON values serialize")
                        .as_slice(),
                ),
            None => agent.get(&url).call(),
        };
        let mut response = sent.map_err(|e| unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string()
            .map_err(|e| unreachable(e.to_string()))?;
        let answer: Value =
            serde_json::from_str(&text).map_err(|e| unreachable(format!("not JSON: {e}")))?;
        Ok((status, answer))
    }

    /// A fresh challenge of the node, and the domain proofs must name.
    pub fn challenge(&self) -> Result<(String, String), NodeError> {
        let answer = self.post("/1.0/challenges", &json!({}))?;
        match (answer["challenge"].as_str(), answer["domain"].as_str()) {
            (Some(challenge), Some(domain)) => Ok((challenge.to_owned(), domain.to_owned())),
            _ => Err(NodeError::Unreachable {
                url: self.node.base().to_owned(),
                reason: "a challenge answer without challenge or domain".into(),
            }),
        }
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
        let (challenge, domain) = self.challenge()?;
        let statement = json!({
            "type": "VouchInstanceBinding",
            "instance": did_key::did_of(&key.public()),
            "definition": definition,
        });
        possession::prove(key, &statement, &challenge, &domain, now)
            .map_err(|e| NodeError::Local(e.to_string()))
    }

    /// A presentation of `credentials` by `key` over a fresh challenge of the node.
    fn present(
        &self,
        key: &KeyPair,
        credentials: Vec<Value>,
        now: DateTime<Utc>,
    ) -> Result<Value, NodeError> {
        let (challenge, domain) = self.challenge()?;
        presentation::create(
            key,
            credentials,
            &challenge,
            &domain,
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
        let answer = self.post(
            "/1.0/delegations",
            &json!({"presentation": presentation, "credential": child.to_json()}),
        )?;
        let with_status = AgentCapabilityCredential::from_json(&answer["credential"])
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
        let answer = self.post(
            "/1.0/renewals",
            &json!({"presentation": presentation, "renewal": proposal.to_json()}),
        )?;
        Ok(answer["credential"].clone())
    }
}

impl NodeClient {
    /// Asks the owner's approval of `request` (`POST /1.0/approvals`), presenting `credentials`
    /// (the ones that name it, with their chains) over a fresh challenge of the node.
    pub fn ask_approval(
        &self,
        key: &KeyPair,
        credentials: Vec<Value>,
        request: &Value,
        now: DateTime<Utc>,
    ) -> Result<Value, NodeError> {
        let presentation = self.present(key, credentials, now)?;
        self.post(
            "/1.0/approvals",
            &json!({"presentation": presentation, "request": request}),
        )
    }

    /// An approval request, as it stands (`GET /1.0/approvals/{id}`).
    pub fn approval(&self, id: &str) -> Result<Value, NodeError> {
        match self.answer(&format!("/1.0/approvals/{id}"), None)? {
            (200, answer) => Ok(answer),
            (status, answer) => Err(refused(status, &answer)),
        }
    }

    /// The owner's decision on `pending` (`approve` or `refuse`), signed with their owner key
    /// over exactly what is pending: the org, the request's id and hash, the agent.
    pub fn decide_approval(
        &self,
        owner: &KeyPair,
        pending: &Value,
        decision: &str,
    ) -> Result<Value, NodeError> {
        // The hash signed is the hash of the request shown, computed here: never the node's word.
        let shown = vouch_core::capability::Request::from_json(&pending["request"])
            .map_err(|e| NodeError::Local(format!("the request shown: {e}")))?;
        let hash = vouch_core::approval::request_hash(&shown);
        if pending["requestHash"] != hash.as_str() {
            return Err(NodeError::Local(
                "the request's hash is not the hash of the request shown: not signed".into(),
            ));
        }
        let statement = json!({
            "type": "VouchApprovalDecision/1",
            "org": pending["org"],
            "approval": pending["id"],
            "request": hash.as_str(),
            "agent": pending["agent"],
            "decision": decision,
        });
        let bytes = serde_jcs::to_vec(&statement).map_err(|e| NodeError::Local(e.to_string()))?;
        let signature = multibase::encode(multibase::Base::Base58Btc, owner.sign(&bytes));
        let id = pending["id"]
            .as_str()
            .ok_or_else(|| NodeError::Local("the request has no id".into()))?;
        self.post(
            &format!("/1.0/approvals/{id}/decision"),
            &json!({"decision": decision, "signature": signature}),
        )
    }

    /// Opens a capability exchange with the node as the verifier (`POST /1.0/exchanges`): its
    /// id and the node's request.
    pub fn open_exchange(
        &self,
        capabilities: &[Value],
        query: Option<&Value>,
    ) -> Result<(String, Value), NodeError> {
        let mut body = json!({ "capabilities": capabilities });
        if let Some(query) = query {
            body["query"] = query.clone();
        }
        let answer = self.post("/1.0/exchanges", &body)?;
        match answer["exchangeId"].as_str() {
            Some(id) if answer["request"].is_object() => {
                Ok((id.to_owned(), answer["request"].clone()))
            }
            _ => Err(NodeError::Unreachable {
                url: self.node.base().to_owned(),
                reason: "the node answered no exchange".into(),
            }),
        }
    }

    /// Answers the node's exchange `id` with the wallet's response: the node's answer, its
    /// signed decision (`decision`) and each capability's (`decisions`).
    pub fn answer_exchange(&self, id: &str, response: &Value) -> Result<Value, NodeError> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(NodeError::Local(format!("not an exchange id: {id}")));
        }
        self.post(&format!("/1.0/exchanges/{id}"), response)
    }
}
