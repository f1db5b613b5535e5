//! The wallet daemon's socket protocol (JSON Lines on a Unix socket, mode 0600, its owner's uid
//! only): one [`Request`] a line, one answer a line — `{"ok": …}` or `{"error": `[`Refusal`]`}` —
//! in order, and [`DaemonClient`], the client every Rust program of Vouch speaks it with.

use std::io::{BufRead as _, Read as _, Write as _};
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use vouch_core::report::Reason;

use crate::ErrorCode;

/// The longest request line, in bytes, its newline included.
pub const MAX_LINE: usize = 1024 * 1024;
/// The longest answer line a client reads: a wallet's credentials with their chains.
pub const MAX_ANSWER: u64 = 64 * 1024 * 1024;

/// A request of the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// The credentials held, for a task or all.
    Credentials {
        /// Only this task's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task: Option<String>,
    },
    /// Keeps a credential issued to the instance, with the credentials above it when it is a
    /// delegation (its chain, presented with it).
    AddCredential {
        /// The credential.
        credential: Value,
        /// Its ancestors.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        chain: Vec<Value>,
    },
    /// The instance's DID, and where it listens for exchanges. It takes no member (`{}`, not a
    /// unit variant: serde lets a unit variant of a tagged enum take any member).
    Identity {},
    /// The instance's A2A agent card, with the Vouch identity extension (docs/A2A.md).
    AgentCard(CardAsk),
    /// Asks a peer instance to prove capabilities, decides each, and answers with the signed
    /// decision (the verifier's side of the exchange).
    Exchange(ExchangeAsk),
    /// Answers a capability request that came another way (HTTP) with a presentation of what
    /// its query selects, if the verifier authenticates (the prover's side).
    Answer {
        /// The request.
        request: Value,
    },
    /// Takes the verifier's decision on a request answered with `answer`.
    Accept {
        /// The signed decision.
        decision: Value,
    },
    /// The instance's proof of possession for its binding to an agent definition of its org:
    /// the fixed binding statement, signed over a fresh challenge of the org's node, for the
    /// operator to bind (`vouch-node admin agent bind`). How an instance whose key lives only
    /// in this daemon gets bound.
    BindingProof {
        /// The definition's did:vouch.
        definition: String,
    },
    /// Delegates a narrower right to a sub-agent: a credential the wallet holds is the parent,
    /// the capabilities must be within it; signed with the instance's key, recorded in the
    /// wallet's audit log, and answered (the sub-agent's to keep).
    Delegate {
        /// The parent credential's id.
        parent: String,
        /// The sub-agent's did:key.
        to: String,
        /// The capabilities delegated.
        capabilities: Vec<Value>,
        /// The end of validity; the parent's by default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        valid_until: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Renews a credential held through the org's node, for as long as it lasted: the renewed
    /// one is kept beside it, and recorded in the wallet's audit log.
    Renew {
        /// The credential's id.
        id: String,
    },
    /// Asks the agent's owner, through the org's node, to approve one exact request that a
    /// capability held permits only with an approval (`needs_approval`): the credentials that
    /// name it are presented to the node with their chains. Answers the pending request (its
    /// id: the owner approves it with `vouch agent approve` or on the node's page).
    RequestApproval {
        /// The request: `{action, resource, arguments}`.
        request: Value,
    },
    /// Where an approval request stands at the node; an approval given is kept, and presented
    /// from then on with the request it approves.
    ApprovalStatus {
        /// The request's id.
        id: String,
    },
    /// Signs an HTTP request the agent is about to send (RFC 9421), under a capability of a
    /// credential held: the daemon builds what it signs from the request's parts.
    SignRequest(SignAsk),
    /// Makes a DPoP proof (RFC 9449) of an HTTP request the agent is about to send with a token
    /// bound to the instance key: the daemon builds the proof from the request's parts.
    DpopProof(DpopAsk),
    /// Gets an OAuth access token from the org's node by token exchange (RFC 8693): the
    /// credential that reaches the resource is presented with its chain over a fresh challenge
    /// of the node, with a DPoP proof of the exchange, so the token is bound to the instance key.
    AccessToken(TokenAsk),
}

/// What the agent says of itself on its card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CardAsk {
    /// The agent's name.
    pub name: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The agent's own A2A endpoint (JSON-RPC), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The agent's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// What the agent asks its daemon to verify of a peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeAsk {
    /// The peer instance's address, ending in `/p2p/<peer id>`.
    pub peer: String,
    /// The capabilities to decide: concrete `{action, resource, arguments}`.
    pub capabilities: Vec<Value>,
    /// A DCQL query; every capability credential by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<Value>,
    /// The domain; the instance's did:key by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The ids of the credentials the daemon presents to authenticate itself; every credential
    /// held by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present: Option<Vec<String>>,
}

/// A header field of an HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderField {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// `{"op": "sign_request"}`: an HTTP request the agent is about to send, to be signed by the
/// instance (RFC 9421) under a capability of a credential it holds. The daemon builds what it
/// signs from these parts; it signs nothing else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignAsk {
    /// The method (`POST`).
    pub method: String,
    /// The target URI, absolute (`https://billing.example/refunds/42`).
    pub url: String,
    /// Header fields of the request to cover besides those the daemon sets (`content-type`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderField>,
    /// The body, base64 (standard, padded); none for a request without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The id of the credential whose capability the request relies on.
    pub credential: String,
    /// The action performed (`call:billing_api:refund`): the request is `{action, resource: the
    /// URL without its query, arguments}`, and the credential must permit it.
    pub action: String,
    /// The arguments its constraints are checked against (`{"amount": {…}}`).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub arguments: serde_json::Map<String, Value>,
    /// Whether to carry the credential and its chain (`Vouch-Presentation`, a presentation over
    /// the signature's nonce for the URL's origin): the first request to a service does.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub present: bool,
    /// Sign in the Web Bot Auth profile too: the URL of this instance's key directory
    /// (`https://…/.well-known/http-message-signatures-directory`, served by the daemon's card
    /// server), sent as `Signature-Agent`; the signature is then tagged `web-bot-auth`, its
    /// `keyid` the key's JWK thumbprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_agent: Option<String>,
}

/// `{"op": "dpop_proof"}`: the HTTP request a DPoP proof is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DpopAsk {
    /// The method (`POST`).
    pub method: String,
    /// The target URI; its query and fragment are left out of the proof (`htu`).
    pub url: String,
    /// The access token the request carries, if it carries one (the proof then binds it: `ath`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// The nonce the server asked for (`DPoP-Nonce`), if it asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// `{"op": "access_token"}`: the resource server a token is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenAsk {
    /// The resource server (RFC 8707): an absolute URI, no query or fragment.
    pub resource: String,
    /// The credential to present; the one credential held that reaches the resource by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// Requests its owner approved, `{action, resource, arguments}`, to be carried in the token
    /// with their approvals (held by the daemon).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approved: Vec<Value>,
}

/// `{"op": "dpop_proof"}`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DpopProof {
    /// The `DPoP` header field's value.
    pub proof: String,
    /// The thumbprint (RFC 7638) of the instance key: the `cnf.jkt` of a token bound to it.
    pub jkt: String,
}

/// `{"op": "sign_request"}`'s answer: the header fields to add to the request as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedRequest {
    /// `Content-Digest` (with a body), `Vouch-Capability`, `Vouch-Presentation` (when asked),
    /// `Signature-Input`, `Signature`.
    pub headers: Vec<HeaderField>,
}

/// `{"op": "identity"}`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// The instance's did:key.
    pub did: String,
    /// Where it listens for exchanges (multiaddrs ending in `/p2p/<peer id>`); none when the
    /// daemon is not on the network.
    pub addresses: Vec<String>,
}

/// `{"op": "add_credential"}`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Added {
    /// Whether it was new (false: held already).
    pub added: bool,
}

/// `{"op": "delegate"}`'s answer: the sub-agent's credential, signed, and the credentials above
/// it (its parent first), for the sub-agent's wallet to keep and present with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Delegated {
    /// The delegated credential.
    pub credential: Value,
    /// Its ancestors.
    pub chain: Vec<Value>,
}

/// `{"op": "accept"}`'s answer: the decision taken, each capability's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Accepted {
    /// Per capability, accepted or rejected with its reason.
    #[schemars(with = "Vec<Value>")]
    pub decisions: Vec<vouch_core::exchange::Decided>,
}

/// `{"op": "exchange"}`'s answer: the decision made on the peer's presentation and sent to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exchanged {
    /// The peer instance that presented.
    pub prover: String,
    /// Per capability asked, in order: accepted, or rejected with its reason.
    #[schemars(with = "Vec<Value>")]
    pub decisions: Vec<vouch_core::exchange::Decided>,
    /// The signed `CapabilityDecision` credential, as sent.
    pub decision: Value,
    /// Whether the prover took the decision.
    pub acknowledged: bool,
    /// Why not, when it did not: its refusal (`refused`, with its §8 reason), or that it could
    /// not judge it (`busy`, `peer_failed`). Absent when it took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
}

/// A refused request: a code of the one vocabulary and what happened (`malformed`, `too_large`,
/// `refused`, `busy`, `internal`), with the DESIGN §8 reason when a check refused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// What happened, for people.
    pub message: String,
    /// The DESIGN §8 reason code, for an exchange refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<ErrorCode>")]
    pub reason: Option<Reason>,
}

impl Refusal {
    /// A refusal with `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            reason: None,
        }
    }

    /// A `refused` refusal: the daemon will not do it.
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Refused, message)
    }

    /// An `internal` refusal: the daemon failed.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

impl From<vouch_core::exchange::Refused> for Refusal {
    fn from(refused: vouch_core::exchange::Refused) -> Self {
        Self {
            code: ErrorCode::Refused,
            message: refused.message,
            reason: Some(refused.reason),
        }
    }
}

impl From<vouch_core::exchange::Unanswered> for Refusal {
    /// The prover's side of an exchange asked over the socket: its refusal with its reason,
    /// `busy`, or `internal`.
    fn from(unanswered: vouch_core::exchange::Unanswered) -> Self {
        use vouch_core::exchange::Unanswered;
        match unanswered {
            Unanswered::Refused(refused) => Self::from(refused),
            Unanswered::Busy(message) => Self::new(ErrorCode::Busy, message),
            Unanswered::Failed(cause) => Self::internal(cause),
        }
    }
}

impl From<crate::node::NodeError> for Refusal {
    /// The node's refusal passes through with its code (and its reason, when it is one of
    /// DESIGN §8's), so an agent learns `revoked` or `needs_approval`, not only that the node said
    /// no; a node out of reach is `node_unreachable`; a request that could not be made is the
    /// daemon's refusal.
    fn from(error: crate::node::NodeError) -> Self {
        use crate::node::NodeError;
        match error {
            NodeError::Refused { code, message, .. } => Self {
                code,
                reason: code.reason(),
                message: format!("the node refused: {message}"),
            },
            unreachable @ NodeError::Unreachable { .. } => {
                Self::new(ErrorCode::NodeUnreachable, unreachable.to_string())
            }
            NodeError::Local(message) => Self::refused(message),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the wallet refused ({}): {}", self.code, self.message)?;
        match self.reason {
            Some(reason) => write!(f, " ({})", reason.as_str()),
            None => Ok(()),
        }
    }
}

/// One answer line: `{"ok": …}` or `{"error": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Answer {
    /// What was asked for.
    Ok(Value),
    /// Why it was not done.
    Error(Refusal),
}

impl Answer {
    /// The answer as one line, its newline included.
    pub fn line(result: Result<Value, Refusal>) -> Vec<u8> {
        let answer = match result {
            Ok(ok) => Answer::Ok(ok),
            Err(refusal) => Answer::Error(refusal),
        };
        let mut bytes = serde_json::to_vec(&answer).expect("an answer always serializes");
        bytes.push(b'\n');
        bytes
    }
}

/// Why a call of the daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The daemon could not be reached, or the line not written or read.
    #[error("{path}: {reason} (is the daemon running?)")]
    Unreachable {
        /// The socket.
        path: String,
        /// The system's error.
        reason: String,
    },
    /// The daemon answered something that is no answer.
    #[error("the daemon's answer is unreadable: {0}")]
    Unreadable(String),
    /// The daemon refused.
    #[error("{0}")]
    Refused(Refusal),
}

/// A client of the daemon at a socket: one connection a request.
#[derive(Debug, Clone)]
pub struct DaemonClient {
    socket: PathBuf,
}

impl DaemonClient {
    /// The daemon listening at `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
        }
    }

    /// The socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends `request` on a connection of its own and reads its answer: what was asked for, or
    /// why not.
    pub fn ask(&self, request: &Request) -> Result<Value, DaemonError> {
        self.connect()?.ask(request)
    }

    /// Sends `request` and reads its answer as `A`, the operation's (an answer of another shape
    /// is unreadable, not taken).
    pub fn ask_as<A: serde::de::DeserializeOwned>(
        &self,
        request: &Request,
    ) -> Result<A, DaemonError> {
        self.connect()?.ask_as(request)
    }

    /// A connection to ask on again and again (the daemon serves its requests in order).
    pub fn connect(&self) -> Result<DaemonConnection, DaemonError> {
        let path = self.socket.display().to_string();
        let stream = std::os::unix::net::UnixStream::connect(&self.socket)
            .map_err(|e| unreachable(&path, e))?;
        let writer = stream.try_clone().map_err(|e| unreachable(&path, e))?;
        Ok(DaemonConnection {
            path,
            reader: std::io::BufReader::new(stream),
            writer,
        })
    }
}

fn unreachable(path: &str, e: std::io::Error) -> DaemonError {
    DaemonError::Unreachable {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// An open connection to the daemon.
#[derive(Debug)]
pub struct DaemonConnection {
    path: String,
    reader: std::io::BufReader<std::os::unix::net::UnixStream>,
    writer: std::os::unix::net::UnixStream,
}

impl DaemonConnection {
    /// Sends `request` and reads its answer as `A`, the operation's.
    pub fn ask_as<A: serde::de::DeserializeOwned>(
        &mut self,
        request: &Request,
    ) -> Result<A, DaemonError> {
        let answer = self.ask(request)?;
        serde_json::from_value(answer).map_err(|e| DaemonError::Unreadable(e.to_string()))
    }

    /// Sends `request` and reads its answer: what was asked for, or why not.
    pub fn ask(&mut self, request: &Request) -> Result<Value, DaemonError> {
        let mut line = serde_json::to_vec(request).expect("a request always serializes");
        line.push(b'\n');
        self.writer
            .write_all(&line)
            .map_err(|e| unreachable(&self.path, e))?;
        let mut answer = Vec::new();
        (&mut self.reader)
            .take(MAX_ANSWER)
            .read_until(b'\n', &mut answer)
            .map_err(|e| unreachable(&self.path, e))?;
        match serde_json::from_slice::<Answer>(&answer) {
            Ok(Answer::Ok(ok)) => Ok(ok),
            Ok(Answer::Error(refusal)) => Err(DaemonError::Refused(refusal)),
            Err(e) => Err(DaemonError::Unreadable(e.to_string())),
        }
    }
}

/// The protocol's JSON Schemas, as `docs/schemas/daemon.json` holds them: a request line, an
/// answer line, and what `ok` holds for each operation.
pub fn schemas() -> Value {
    use schemars::schema_for;
    let anything = schemars::json_schema!({"type": "object"});
    serde_json::json!({
        "request": schema_for!(Request),
        "answer": schema_for!(Answer),
        "ok": {
            "credentials": schema_for!(Vec<Value>),
            "add_credential": schema_for!(Added),
            "identity": schema_for!(Identity),
            "agent_card": anything,
            "exchange": schema_for!(Exchanged),
            "answer": anything,
            "accept": schema_for!(Accepted),
            "binding_proof": anything,
            "delegate": schema_for!(Delegated),
            "renew": anything,
            "request_approval": schema_for!(crate::node::public::Pending),
            "approval_status": schema_for!(crate::node::public::Pending),
            "sign_request": schema_for!(SignedRequest),
            "dpop_proof": schema_for!(DpopProof),
            "access_token": schema_for!(crate::node::oauth::TokenIssued),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The schemas checked in are the types' own: a change to a message that does not change
    /// `docs/schemas/daemon.json` fails here (`VOUCH_BLESS=1` writes them anew).
    #[test]
    fn the_checked_in_schemas_are_the_types_own() {
        let path = std::path::Path::new(&crate::manifest_dir()).join("../docs/schemas/daemon.json");
        let made = serde_json::to_string_pretty(&schemas()).expect("schemas serialize") + "\n";
        if std::env::var_os("VOUCH_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("the folder");
            std::fs::write(&path, &made).expect("the schemas written");
        }
        let held = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            held == made,
            "{} differs from the types: run the test with VOUCH_BLESS=1 and commit it",
            path.display()
        );
    }

    /// What a client writes is what the daemon reads, and the spelling agents use reads too.
    #[test]
    fn requests_and_answers_read_back_as_written() {
        let requests = [
            Request::Identity {},
            Request::Credentials { task: None },
            Request::Credentials {
                task: Some("t-1".into()),
            },
            Request::AddCredential {
                credential: json!({"id": "urn:uuid:1"}),
                chain: vec![],
            },
            Request::Delegate {
                parent: "urn:uuid:1".into(),
                to: "did:key:z6Mk".into(),
                capabilities: vec![json!({"action": "read"})],
                valid_until: None,
            },
            Request::Exchange(ExchangeAsk {
                peer: "/ip4/127.0.0.1/tcp/1/p2p/12D3".into(),
                capabilities: vec![],
                query: None,
                domain: None,
                present: None,
            }),
            Request::AgentCard(CardAsk {
                name: "a".into(),
                description: None,
                url: None,
                version: None,
            }),
        ];
        for request in requests {
            let text = serde_json::to_string(&request).expect("serializes");
            assert_eq!(
                serde_json::from_str::<Request>(&text).ok(),
                Some(request),
                "{text}"
            );
        }
        assert_eq!(
            serde_json::to_value(Request::Identity {}).ok(),
            Some(json!({"op": "identity"}))
        );
        assert!(serde_json::from_value::<Request>(json!({"op": "identity", "x": 1})).is_err());
        let refused = Refusal::from(vouch_core::exchange::Refused {
            reason: Reason::NotGranted,
            message: "no".into(),
        });
        for result in [Ok(json!({"did": "did:key:z6Mk"})), Err(refused)] {
            let line = Answer::line(result.clone());
            let read: Answer = serde_json::from_slice(&line).expect("an answer reads");
            match (read, result) {
                (Answer::Ok(a), Ok(b)) => assert_eq!(a, b),
                (Answer::Error(a), Err(b)) => assert_eq!(a, b),
                other => panic!("{other:?}"),
            }
        }
    }
}
