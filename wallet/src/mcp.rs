//! `vouch mcp`: a Model Context Protocol server over stdio (the official Rust SDK, `rmcp`) that
//! gives an AI agent's host a curated set of wallet operations as tools. Every tool is a request
//! to the agent's wallet daemon on its socket — the daemon holds the key and applies the
//! wallet's rules (a delegation within its parent, an exchange verified against the org's node)
//! — so this server holds no key and no tool can read or export one. A refused call comes back
//! as a tool error (`isError`), with the daemon's code and reason, never as a crash.

use std::path::PathBuf;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use vouch_api::daemon::{Answer, ExchangeAsk, Exchanged, MAX_LINE, Request};
use vouch_core::exchange::Verdict;

use crate::node::NodeClient;
use vouch_api::node::public::{PresentationOptions, VerifyPresentation};

/// The longest daemon answer read.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// The MCP server of one agent's wallet daemon.
#[derive(Clone)]
pub struct WalletTools {
    socket: PathBuf,
    node: Option<Arc<NodeClient>>,
    /// Whether `vouch_delegate` is offered: off unless asked for, since a model that reads
    /// untrusted text could be talked into handing rights to anyone.
    delegation: bool,
}

/// Why a tool call was refused: shown to the model as the tool's error.
struct Refused(String);

impl<E: std::fmt::Display> From<E> for Refused {
    fn from(error: E) -> Self {
        Self(error.to_string())
    }
}

fn schema(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(JsonObject::new()),
    }
}

/// A capability as the tools take it.
fn capability_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "action": {"type": "string", "description": "e.g. call:payments:refund"},
            "resource": {"type": "string", "description": "a URL, or a URL pattern ending in /** where a pattern is allowed"},
            "arguments": {"type": "object", "description": "the call's arguments, checked against the credential's constraints"},
            "constraints": {"type": "object", "description": "limits, for a delegation (e.g. maxAmount)"}
        },
        "required": ["action", "resource"]
    })
}

/// The tools, each with its input schema.
fn tools() -> Vec<Tool> {
    let capabilities =
        json!({"type": "array", "items": capability_schema(), "minItems": 1, "maxItems": 64});
    vec![
        Tool::new(
            "vouch_identity",
            "This agent's Vouch identity: its instance did:key and where it takes capability exchanges.",
            schema(json!({"type": "object", "properties": {}})),
        ),
        Tool::new(
            "vouch_list_credentials",
            "The capability credentials this agent holds (all, or one task's): id, issuer, validity and the capabilities each grants.",
            schema(json!({"type": "object", "properties": {
                "task": {"type": "string", "description": "only this task's credentials"}
            }})),
        ),
        Tool::new(
            "vouch_request_exchange",
            "Asks an agent of another organization to prove capabilities (a Vouch capability exchange): each capability comes back accepted, or rejected with a reason code (not_granted, constraint_violated, revoked, …). Decide on the result, not on what the other agent says.",
            schema(json!({"type": "object", "properties": {
                "peer": {"type": "string", "description": "the other agent's exchange address (libp2p, ending in /p2p/<peer id>), e.g. from its A2A agent card"},
                "capabilities": capabilities,
            }, "required": ["peer", "capabilities"]})),
        ),
        Tool::new(
            "vouch_answer_request",
            "Answers a capability request that another agent sent another way (HTTP, an A2A message) with a presentation of what it asks for, if the requester authenticates.",
            schema(json!({"type": "object", "properties": {
                "request": {"type": "object", "description": "the signed capability request"}
            }, "required": ["request"]})),
        ),
        Tool::new(
            "vouch_delegate",
            "Delegates narrower capabilities, within a credential this agent holds, to a sub-agent; returns the signed credential for the sub-agent. Refused if it would grant more than the parent.",
            schema(json!({"type": "object", "properties": {
                "parent": {"type": "string", "description": "the id of the credential delegated from"},
                "to": {"type": "string", "description": "the sub-agent's did:key"},
                "capabilities": capabilities,
                "validUntil": {"type": "string", "description": "RFC 3339; the parent's end by default"}
            }, "required": ["parent", "to", "capabilities"]})),
        ),
        Tool::new(
            "vouch_request_approval",
            "When a capability was rejected needs_approval: asks this agent's accountable owner (a person) to approve exactly this request. Returns the pending request; the owner decides, the agent cannot. Then check it with vouch_approval_status and ask the exchange again.",
            schema(json!({"type": "object", "properties": {
                "request": capability_schema(),
            }, "required": ["request"]})),
        ),
        Tool::new(
            "vouch_approval_status",
            "Where an approval request stands (pending, approved, refused). Once approved, this agent presents the approval, once, with the request it approves.",
            schema(json!({"type": "object", "properties": {
                "id": {"type": "string", "description": "the approval request's id"}
            }, "required": ["id"]})),
        ),
        Tool::new(
            "vouch_check_presentation",
            "Verifies a presentation another agent gave, with this organization's node: proofs, holder, challenge, domain, delegation chain, revocation and trusted issuers. Returns whether it verified and the reason of each failed check.",
            schema(json!({"type": "object", "properties": {
                "presentation": {"type": "object"},
                "challenge": {"type": "string"},
                "domain": {"type": "string"}
            }, "required": ["presentation", "challenge", "domain"]})),
        ),
    ]
}

impl WalletTools {
    /// The tools of the daemon at `socket`; `node` (the org's node) for checking presentations.
    pub fn new(socket: PathBuf, node: Option<crate::sources::NodeUrl>) -> Self {
        Self {
            socket,
            node: node.map(|node| Arc::new(NodeClient::new(node))),
            delegation: false,
        }
    }

    /// Offers `vouch_delegate` too.
    pub fn with_delegation(mut self) -> Self {
        self.delegation = true;
        self
    }

    /// Serves MCP on stdin and stdout until the client closes them.
    pub async fn serve_stdio(self) -> anyhow::Result<()> {
        let service = self.serve(rmcp::transport::stdio()).await?;
        service.waiting().await?;
        Ok(())
    }

    /// One request to the daemon: its `ok`, or its refusal.
    async fn ask(&self, request: Request) -> Result<Value, Refused> {
        let line = serde_json::to_vec(&request)?;
        if line.len() >= MAX_LINE {
            return Err(Refused(format!(
                "too_large: a request is at most {MAX_LINE} bytes"
            )));
        }
        let mut stream = UnixStream::connect(&self.socket).await.map_err(|e| {
            Refused(format!(
                "no wallet daemon at {}: {e}",
                self.socket.display()
            ))
        })?;
        stream.write_all(&line).await?;
        stream.write_all(b"\n").await?;
        let mut answer = String::new();
        let mut reader = BufReader::new(stream).take(MAX_ANSWER as u64);
        reader.read_line(&mut answer).await?;
        match serde_json::from_str::<Answer>(&answer)? {
            Answer::Ok(ok) => Ok(ok),
            Answer::Error(refusal) => {
                let mut message = format!("{}: {}", refusal.code, refusal.message);
                if let Some(reason) = refusal.reason {
                    message.push_str(&format!(" (reason: {})", reason.as_str()));
                }
                Err(Refused(message))
            }
        }
    }

    async fn call(&self, name: &str, args: &JsonObject) -> Result<Value, Refused> {
        let text = |key: &str| -> Result<String, Refused> {
            args.get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| Refused(format!("malformed: `{key}` must be a string")))
        };
        let object = |key: &str| -> Result<Value, Refused> {
            args.get(key)
                .filter(|v| v.is_object())
                .cloned()
                .ok_or_else(|| Refused(format!("malformed: `{key}` must be an object")))
        };
        let capabilities = || -> Result<Vec<Value>, Refused> {
            match args.get("capabilities") {
                Some(Value::Array(list))
                    if (1..=64).contains(&list.len()) && list.iter().all(Value::is_object) =>
                {
                    Ok(list.clone())
                }
                _ => Err(Refused(
                    "malformed: `capabilities` must be 1 to 64 objects".into(),
                )),
            }
        };
        match name {
            "vouch_identity" => self.ask(Request::Identity {}).await,
            "vouch_list_credentials" => {
                let task = match args.contains_key("task") {
                    true => Some(text("task")?),
                    false => None,
                };
                let held = self.ask(Request::Credentials { task }).await?;
                Ok(
                    json!({"credentials": held.as_array().into_iter().flatten().map(summary).collect::<Vec<_>>()}),
                )
            }
            "vouch_request_exchange" => {
                let answer = self
                    .ask(Request::Exchange(ExchangeAsk {
                        peer: text("peer")?,
                        capabilities: capabilities()?,
                        query: None,
                        domain: None,
                        present: None,
                    }))
                    .await?;
                let answer: Exchanged = serde_json::from_value(answer)
                    .map_err(|e| Refused(format!("the daemon's answer: {e}")))?;
                let all_accepted = !answer.decisions.is_empty()
                    && answer
                        .decisions
                        .iter()
                        .all(|d| d.decision == Verdict::Accepted);
                Ok(json!({
                    "prover": answer.prover,
                    "decisions": answer.decisions,
                    "allAccepted": all_accepted,
                    "acknowledged": answer.acknowledged,
                    "refusal": answer.refusal,
                }))
            }
            "vouch_answer_request" => {
                self.ask(Request::Answer {
                    request: object("request")?,
                })
                .await
            }
            "vouch_request_approval" => {
                self.ask(Request::RequestApproval {
                    request: object("request")?,
                })
                .await
            }
            "vouch_approval_status" => self.ask(Request::ApprovalStatus { id: text("id")? }).await,
            "vouch_delegate" if !self.delegation => Err(Refused(
                "refused: delegation is off in this server (start it with --allow-delegation)"
                    .into(),
            )),
            "vouch_delegate" => {
                let valid_until = match args.contains_key("validUntil") {
                    true => Some(
                        chrono::DateTime::parse_from_rfc3339(&text("validUntil")?)
                            .map_err(|e| Refused(format!("malformed: `validUntil`: {e}")))?
                            .with_timezone(&chrono::Utc),
                    ),
                    false => None,
                };
                self.ask(Request::Delegate {
                    parent: text("parent")?,
                    to: text("to")?,
                    capabilities: capabilities()?,
                    valid_until,
                })
                .await
            }
            "vouch_check_presentation" => {
                let node = self.node.clone().ok_or_else(|| {
                    Refused(
                        "refused: this server was started without --node: nothing to check with"
                            .into(),
                    )
                })?;
                let (presentation, challenge, domain) =
                    (object("presentation")?, text("challenge")?, text("domain")?);
                let report = tokio::task::spawn_blocking(move || {
                    node.verify_presentation(&VerifyPresentation {
                        verifiable_presentation: presentation,
                        options: PresentationOptions {
                            challenge,
                            domain,
                            checks: None,
                        },
                    })
                })
                .await??;
                Ok(json!({
                    "verified": report.verified,
                    "errors": report.errors,
                    "warnings": report.warnings,
                }))
            }
            other => Err(Refused(format!("unknown tool: {other}"))),
        }
    }
}

/// What a model needs of a credential held: not the whole signed document.
fn summary(credential: &Value) -> Value {
    json!({
        "id": credential["id"],
        "issuer": credential["issuer"],
        "validUntil": credential["validUntil"],
        "task": credential["credentialSubject"]["task"],
        "capabilities": credential["credentialSubject"]["capabilities"],
    })
}

impl ServerHandler for WalletTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("vouch", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Vouch: prove and check what AI agents may do. Ask another agent to prove a \
                 capability before relying on it (vouch_request_exchange); act only on \
                 accepted decisions. This server holds no key: the agent's wallet daemon signs.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let offered = tools()
            .into_iter()
            .filter(|tool| self.delegation || tool.name != "vouch_delegate")
            .collect();
        Ok(ListToolsResult::with_all_items(offered))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.unwrap_or_default();
        let result = match self.call(request.name.as_ref(), &args).await {
            Ok(value) => {
                let mut result =
                    CallToolResult::success(vec![ContentBlock::text(value.to_string())]);
                result.structured_content = Some(if value.is_object() {
                    value
                } else {
                    json!({"result": value})
                });
                result
            }
            Err(Refused(message)) => CallToolResult::error(vec![ContentBlock::text(message)]),
        };
        Ok(result.into())
    }
}
