//! The typed clients of a node: [`NodeClient`] for its public endpoints, [`AdminClient`] for its
//! operator's. One method per route, the route's types in and out: what the node answers that
//! is not its type is an error here, never a `Value` read by hand somewhere else.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use vouch_core::consortium::{Amendment, Change, Published};
use vouch_core::credential::CredentialId;
use vouch_core::did::Did;

use super::admin::*;
use super::oauth::*;
use super::public::*;
use super::routes::{self, Json, Nothing, Prose, ProseSchema, Route, prose};
use crate::ErrorCode;
use crate::reach::NodeUrl;

/// The largest answer read from a node's public endpoints (a presentation's report, a page of
/// audit entries).
pub const MAX_ANSWER_BYTES: u64 = 16 * 1024 * 1024;
/// The largest answer read from its operator's endpoints (a listing of every definition).
pub const MAX_ADMIN_ANSWER_BYTES: u64 = 64 * 1024 * 1024;

/// The largest DID resolution result or status list credential read from a node: a list of a
/// million entries, with room.
pub const MAX_READ_BYTES: u64 = 1024 * 1024;

/// The most characters of a node's refusal message kept.
pub const MAX_MESSAGE_CHARS: usize = 1024;

/// The path below which a node serves its status lists.
pub const STATUS_LISTS: &str = "/1.0/status-lists/";

/// Why a request to a node failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The node could not be reached, or answered something that is not the route's answer.
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

impl NodeError {
    /// The node's code when it refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }
}

pub use super::routes::segment;

/// A request's body.
enum Body<'a> {
    None,
    Json(Vec<u8>),
    Raw(&'a [u8]),
    /// An HTML form, with a DPoP proof when there is one.
    Form(Vec<u8>, Option<&'a str>),
}

/// What a route's request [`routes::Content`] is made from: the body a route takes is its
/// type's, or the client does not build.
trait Sends<T: ?Sized> {
    fn body(sent: &T) -> Result<Body<'_>, NodeError>;
}

impl<T: Serialize + ?Sized> Sends<T> for Json<T> {
    fn body(sent: &T) -> Result<Body<'_>, NodeError> {
        Transport::json(sent)
    }
}

impl Sends<()> for Nothing {
    fn body(_: &()) -> Result<Body<'_>, NodeError> {
        Ok(Body::None)
    }
}

impl<P: ProseSchema> Sends<Value> for Prose<P> {
    fn body(sent: &Value) -> Result<Body<'_>, NodeError> {
        Transport::json(sent)
    }
}

impl Sends<Change> for Prose<prose::Change> {
    fn body(sent: &Change) -> Result<Body<'_>, NodeError> {
        Transport::json(sent)
    }
}

impl Sends<Amendment> for Prose<prose::Amendment> {
    fn body(sent: &Amendment) -> Result<Body<'_>, NodeError> {
        Transport::json(sent)
    }
}

/// A signed operation goes as its own text: the signature is over its JCS form, and the
/// node reads it with core's parser.
impl Sends<str> for Prose<prose::Operation> {
    fn body(sent: &str) -> Result<Body<'_>, NodeError> {
        Ok(Body::Raw(sent.as_bytes()))
    }
}

/// One HTTP exchange with a node: the transport both clients share.
#[derive(Clone)]
struct Transport {
    node: NodeUrl,
    token: Option<String>,
    limit: u64,
    /// Shorter than the agent's, for reads on a path that must not wait long.
    timeout: Option<std::time::Duration>,
}

impl Transport {
    fn json<B: Serialize + ?Sized>(body: &B) -> Result<Body<'static>, NodeError> {
        serde_json::to_vec(body)
            .map(Body::Json)
            .map_err(|e| NodeError::Local(format!("the request does not serialize: {e}")))
    }

    /// The status and text of the answer to `method path`.
    fn send(&self, method: &str, path: &str, body: Body<'_>) -> Result<(u16, String), NodeError> {
        self.send_at_most(method, path, body, self.limit)
    }

    /// The same, the answer read to at most `limit` bytes.
    fn send_at_most(
        &self,
        method: &str,
        path: &str,
        body: Body<'_>,
        limit: u64,
    ) -> Result<(u16, String), NodeError> {
        let url = format!("{}{path}", self.node.base());
        let unreachable = |reason: String| NodeError::Unreachable {
            url: url.clone(),
            reason,
        };
        let agent = self.node.agent();
        let bearer = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let sent = if method == "GET" {
            let mut request = agent.get(&url);
            if let Some(bearer) = &bearer {
                request = request.header("authorization", bearer);
            }
            match self.timeout {
                Some(timeout) => request
                    .config()
                    .timeout_global(Some(timeout))
                    .build()
                    .call(),
                None => request.call(),
            }
        } else {
            let mut request = agent.post(&url);
            if let Some(bearer) = &bearer {
                request = request.header("authorization", bearer);
            }
            if let Some(timeout) = self.timeout {
                request = request.config().timeout_global(Some(timeout)).build();
            }
            match body {
                Body::Json(bytes) => request
                    .header("content-type", "application/json")
                    .send(bytes.as_slice()),
                Body::Raw(bytes) => request.send(bytes),
                Body::Form(bytes, dpop) => {
                    if let Some(proof) = dpop {
                        request = request.header("dpop", proof);
                    }
                    request
                        .header("content-type", "application/x-www-form-urlencoded")
                        .send(bytes.as_slice())
                }
                Body::None => request.send_empty(),
            }
        };
        let mut response = sent.map_err(|e| unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_string()
            .map_err(|e| unreachable(e.to_string()))?;
        Ok((status, text))
    }

    /// The answer to `method path`, read as `A` when its status is one of `ok`, as the node's
    /// refusal otherwise.
    fn call<A: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Body<'_>,
        ok: &[u16],
    ) -> Result<A, NodeError> {
        let (status, text) = self.send(method, path, body)?;
        if !ok.contains(&status) {
            return Err(self.refused(path, status, &text));
        }
        serde_json::from_str(&text).map_err(|e| NodeError::Unreachable {
            url: format!("{}{path}", self.node.base()),
            reason: format!("not the route's answer: {e}"),
        })
    }

    /// `route`'s answer to `sent`, at its path with `segments` filled (and `query`).
    fn ask<Q: Sends<T>, T: ?Sized, A: DeserializeOwned>(
        &self,
        route: &Route<Q, Json<A>>,
        segments: &[&str],
        query: Option<String>,
        sent: &T,
    ) -> Result<A, NodeError> {
        let path = Self::path(route, segments, query);
        self.call(route.method.as_str(), &path, Q::body(sent)?, &[route.ok])
    }

    /// `route`'s signed note.
    fn note(&self, route: &Route<Nothing, routes::Note>) -> Result<String, NodeError> {
        self.text(route.method.as_str(), route.path, Body::None)
    }

    fn path<Q, A>(route: &Route<Q, A>, segments: &[&str], query: Option<String>) -> String {
        let mut path = route.at(segments);
        if let Some(query) = query {
            path.push('?');
            path.push_str(&query);
        }
        path
    }

    /// The text answer to `method path` (a signed note, JSON Lines).
    fn text(&self, method: &str, path: &str, body: Body<'_>) -> Result<String, NodeError> {
        match self.send(method, path, body)? {
            (200, text) => Ok(text),
            (status, text) => Err(self.refused(path, status, &text)),
        }
    }

    /// The node's refusal, from its problem object: its status, code and detail. An answer that
    /// is no problem is still a refusal, of an unknown code.
    fn refused(&self, path: &str, status: u16, text: &str) -> NodeError {
        match serde_json::from_str::<crate::Problem>(text) {
            Ok(problem) => NodeError::Refused {
                status,
                code: problem.code,
                // A node's words reach the agent through the daemon: a page of them, not more.
                message: problem.detail.chars().take(MAX_MESSAGE_CHARS).collect(),
            },
            Err(_) if (200..300).contains(&status) => NodeError::Unreachable {
                url: format!("{}{path}", self.node.base()),
                reason: format!("an unexpected status {status}"),
            },
            Err(_) => NodeError::Refused {
                status,
                code: ErrorCode::Unknown,
                message: text.chars().take(MAX_MESSAGE_CHARS).collect(),
            },
        }
    }
}

/// A node's public endpoints: what an agent of its org, or anyone, asks of it.
#[derive(Clone)]
pub struct NodeClient {
    http: Transport,
}

impl std::fmt::Debug for NodeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("NodeClient").field(&self.http.node).finish()
    }
}

impl NodeClient {
    /// The node at `node` (see [`crate::reach::Reach`]).
    pub fn new(node: NodeUrl) -> Self {
        Self {
            http: Transport {
                node,
                token: None,
                limit: MAX_ANSWER_BYTES,
                timeout: None,
            },
        }
    }

    /// The same client, whose requests each take at most `timeout` (a source of what a
    /// verifier knows must not hold a decision up for the agent's 30 s).
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.http.timeout = Some(timeout);
        self
    }

    /// The node's base URL.
    pub fn node(&self) -> &NodeUrl {
        &self.http.node
    }

    /// `GET /1.0/identifiers/{did}`: the DID resolution result and its status. Resolution
    /// answers its errors as results (`didResolutionMetadata.error`), not problems, so every
    /// status comes back with its body.
    pub fn resolve(&self, did: &Did) -> Result<(u16, Value), NodeError> {
        let path = format!("{}{}", routes::IDENTIFIERS, segment(did.as_str()));
        let (status, text) = self
            .http
            .send_at_most("GET", &path, Body::None, MAX_READ_BYTES)?;
        match serde_json::from_str(&text) {
            Ok(result) => Ok((status, result)),
            Err(_) => Err(self.http.refused(&path, status, &text)),
        }
    }

    /// `GET /1.0/logs/{did}`: the operation log of a did:vouch, as JSON Lines of at most
    /// `limit` bytes (unchecked: the reader verifies it from its genesis).
    pub fn log(&self, did: &Did, limit: u64) -> Result<String, NodeError> {
        let path = format!("{}{}", routes::LOGS, segment(did.as_str()));
        match self.http.send_at_most("GET", &path, Body::None, limit)? {
            (200, text) => Ok(text),
            (status, text) => Err(self.http.refused(&path, status, &text)),
        }
    }

    /// `GET /1.0/status-lists/{did}/{name}`, by the path a credential's status entry names
    /// (below [`STATUS_LISTS`]): the signed list credential, unchecked.
    pub fn status_list(&self, path: &str) -> Result<Value, NodeError> {
        if !path.starts_with(STATUS_LISTS) || path.contains(['?', '#']) {
            return Err(NodeError::Local(format!(
                "{path:.256} is not below {STATUS_LISTS}"
            )));
        }
        match self
            .http
            .send_at_most("GET", path, Body::None, MAX_READ_BYTES)?
        {
            (200, text) => serde_json::from_str(&text).map_err(|e| NodeError::Unreachable {
                url: format!("{}{path}", self.http.node.base()),
                reason: format!("not JSON: {e}"),
            }),
            (status, text) => Err(self.http.refused(path, status, &text)),
        }
    }

    /// `GET /health`.
    pub fn health(&self) -> Result<Health, NodeError> {
        self.http.ask(&routes::HEALTH, &[], None, &())
    }

    /// `POST /1.0/challenges`: a fresh challenge, and the domain proofs must name.
    pub fn challenge(&self) -> Result<Challenge, NodeError> {
        self.http.ask(&routes::CHALLENGES, &[], None, &())
    }

    /// `POST /1.0/delegations`: registers a delegation; the child with the status entries the
    /// node gave it.
    pub fn register_delegation(&self, request: &DelegationRequest) -> Result<Issuance, NodeError> {
        self.http.ask(&routes::DELEGATIONS, &[], None, request)
    }

    /// `POST /1.0/renewals`: the renewal, signed.
    pub fn renew(&self, request: &RenewalRequest) -> Result<Issuance, NodeError> {
        self.http.ask(&routes::RENEWALS, &[], None, request)
    }

    /// `POST /1.0/approvals`: asks the owner's approval of a request.
    pub fn ask_approval(&self, ask: &ApprovalAsk) -> Result<Pending, NodeError> {
        self.http.ask(&routes::APPROVALS, &[], None, ask)
    }

    /// `GET /1.0/approvals/{id}`: an approval request, as it stands.
    pub fn approval(&self, id: &str) -> Result<Pending, NodeError> {
        self.http.ask(&routes::APPROVAL, &[id], None, &())
    }

    /// `POST /1.0/approvals/{id}/decision`: the owner's signed decision.
    pub fn decide_approval(
        &self,
        id: &str,
        decision: &OwnerDecision,
    ) -> Result<Pending, NodeError> {
        self.http
            .ask(&routes::APPROVAL_DECISION, &[id], None, decision)
    }

    /// `POST /1.0/approvals/{id}/passkey`: opens a passkey ceremony for the owner's decision.
    pub fn passkey_decision(
        &self,
        id: &str,
        decision: &PasskeyDecision,
    ) -> Result<DecisionCeremony, NodeError> {
        self.http
            .ask(&routes::PASSKEY_DECISION, &[id], None, decision)
    }

    /// `POST /1.0/passkeys/enrolments`: opens a passkey registration for an enrolment link.
    pub fn enrol(&self, enrolment: &Enrolment) -> Result<EnrolmentCeremony, NodeError> {
        self.http.ask(&routes::ENROLMENTS, &[], None, enrolment)
    }

    /// `POST /1.0/exchanges`: opens a capability exchange with the node as the verifier.
    pub fn open_exchange(&self, open: &OpenExchange) -> Result<ExchangeOpened, NodeError> {
        self.http.ask(&routes::EXCHANGES, &[], None, open)
    }

    /// `POST /1.0/exchanges/{id}`: answers the exchange with the wallet's response (the VC
    /// API's `{verifiablePresentation}`); the node's signed decision and each capability's.
    pub fn answer_exchange(
        &self,
        id: &str,
        response: &Value,
    ) -> Result<ExchangeDecided, NodeError> {
        self.http
            .ask(&routes::EXCHANGE_ANSWER, &[id], None, response)
    }

    /// `GET /1.0/exchanges/{id}`: the decision made on an exchange.
    pub fn exchange(&self, id: &str) -> Result<ExchangeStanding, NodeError> {
        self.http.ask(&routes::EXCHANGE, &[id], None, &())
    }

    /// `POST /1.0/credentials/verify`: the report, verified or not (the VC API answers a failed
    /// verification with 400 and the report).
    pub fn verify_credential(&self, request: &VerifyCredential) -> Result<Verified, NodeError> {
        self.verified(&routes::VERIFY_CREDENTIAL, request)
    }

    /// `POST /1.0/presentations/verify`: the report, verified or not.
    pub fn verify_presentation(&self, request: &VerifyPresentation) -> Result<Verified, NodeError> {
        self.verified(&routes::VERIFY_PRESENTATION, request)
    }

    /// `POST /1.0/requests/verify`: whether a request an agent signed may be acted on.
    pub fn verify_request(&self, request: &CheckRequest) -> Result<RequestPermitted, NodeError> {
        self.http.ask(&routes::VERIFY_REQUEST, &[], None, request)
    }

    fn verified<Q: Serialize>(
        &self,
        route: &Route<Json<Q>, Json<Verified>>,
        request: &Q,
    ) -> Result<Verified, NodeError> {
        let body = Transport::json(request)?;
        let (status, text) = self.http.send(route.method.as_str(), route.path, body)?;
        match (status, serde_json::from_str::<Verified>(&text)) {
            (200 | 400, Ok(report)) => Ok(report),
            _ => Err(self.http.refused(route.path, status, &text)),
        }
    }

    /// `GET /.well-known/oauth-authorization-server`: the node's OAuth metadata.
    pub fn oauth_metadata(&self) -> Result<AuthorizationServerMetadata, NodeError> {
        self.http.ask(&routes::OAUTH_METADATA, &[], None, &())
    }

    /// `GET /1.0/oauth/jwks`: the keys the org signs tokens with.
    pub fn oauth_keys(&self) -> Result<Jwks, NodeError> {
        self.http.ask(&routes::OAUTH_JWKS, &[], None, &())
    }

    /// `POST /1.0/oauth/token`: an access token by token exchange, with the DPoP proof of this
    /// request. An OAuth refusal is [`NodeError::Refused`], its code the Vouch reason its
    /// description begins with (`unknown` when none), its message `error: description`.
    pub fn exchange_token(
        &self,
        request: &TokenRequest,
        dpop: &str,
    ) -> Result<TokenIssued, NodeError> {
        self.oauth_form(&routes::OAUTH_TOKEN, request, Some(dpop))
    }

    /// `POST /1.0/oauth/introspect`: whether a token stands.
    pub fn introspect(&self, request: &Introspect) -> Result<Introspection, NodeError> {
        self.oauth_form(&routes::OAUTH_INTROSPECT, request, None)
    }

    /// `POST /1.0/oauth/events`: Security Event Tokens (RFC 8936 poll), with the events
    /// receiver's bearer token.
    pub fn poll_security_events(
        &self,
        token: &str,
        poll: &SetPoll,
    ) -> Result<SetPollAnswer, NodeError> {
        let transport = Transport {
            token: Some(token.to_owned()),
            ..self.http.clone()
        };
        transport.ask(&routes::OAUTH_EVENTS, &[], None, poll)
    }

    fn oauth_form<Q: Serialize, A: DeserializeOwned>(
        &self,
        route: &Route<routes::Form<Q>, Json<A>>,
        request: &Q,
        dpop: Option<&str>,
    ) -> Result<A, NodeError> {
        let form = serde_urlencoded::to_string(request)
            .map_err(|e| NodeError::Local(format!("the form does not serialize: {e}")))?;
        let (status, text) = self.http.send(
            route.method.as_str(),
            route.path,
            Body::Form(form.into_bytes(), dpop),
        )?;
        if status == route.ok {
            return serde_json::from_str(&text).map_err(|e| NodeError::Unreachable {
                url: format!("{}{}", self.http.node.base(), route.path),
                reason: format!("not the route's answer: {e}"),
            });
        }
        match serde_json::from_str::<OAuthRefusal>(&text) {
            Ok(refusal) => {
                let description = refusal.error_description.unwrap_or_default();
                let reason = description.split(':').next().unwrap_or_default();
                let code = serde_json::from_value(Value::String(reason.to_owned()))
                    .unwrap_or(ErrorCode::Unknown);
                Err(NodeError::Refused {
                    status,
                    code,
                    message: format!("{}: {description}", refusal.error)
                        .chars()
                        .take(MAX_MESSAGE_CHARS)
                        .collect(),
                })
            }
            Err(_) => Err(self.http.refused(route.path, status, &text)),
        }
    }

    /// `GET /1.0/trust`: the issuers the node trusts, and for what.
    pub fn trust(&self) -> Result<Trust, NodeError> {
        self.http.ask(&routes::TRUST, &[], None, &())
    }

    /// `GET /1.0/consortium`: the consortium's genesis and amendments, unchecked (the reader
    /// checks them against the genesis hash it knows).
    pub fn consortium(&self) -> Result<Published, NodeError> {
        let route = &routes::CONSORTIUM;
        let limit = vouch_core::consortium::MAX_PUBLISHED_BYTES as u64;
        let (method, path) = (route.method.as_str(), route.path);
        match self.http.send_at_most(method, path, Body::None, limit)? {
            (200, text) => {
                Published::from_json(text.as_bytes()).map_err(|e| NodeError::Unreachable {
                    url: format!("{}{path}", self.http.node.base()),
                    reason: e.to_string(),
                })
            }
            (status, text) => Err(self.http.refused(path, status, &text)),
        }
    }

    /// `GET /1.0/revocations[?issuer=]`: the signed revocation events, of one issuer or all.
    pub fn revocations(&self, issuer: Option<&Did>) -> Result<RevocationEvents, NodeError> {
        let query = issuer.map(|issuer| format!("issuer={}", segment(issuer.as_str())));
        self.http.ask(&routes::REVOCATIONS, &[], query, &())
    }

    /// `GET /1.0/audit/checkpoint`: the log's signed checkpoint (a C2SP signed note).
    pub fn audit_checkpoint(&self) -> Result<String, NodeError> {
        self.http.note(&routes::AUDIT_CHECKPOINT)
    }

    /// `GET /1.0/audit/entries?from=`: entries from `from` on (a page).
    pub fn audit_entries(&self, from: u64) -> Result<AuditEntries, NodeError> {
        let query = Some(format!("from={from}"));
        self.http.ask(&routes::AUDIT_ENTRIES, &[], query, &())
    }

    /// `GET /1.0/audit/proof/inclusion`: entry `index` is in the tree of `size`.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<InclusionProof, NodeError> {
        let query = Some(format!("index={index}&size={size}"));
        self.http.ask(&routes::INCLUSION_PROOF, &[], query, &())
    }

    /// `GET /1.0/audit/proof/consistency`: the tree of `old` is a prefix of the tree of `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<ConsistencyProof, NodeError> {
        let query = Some(format!("old={old}&new={new}"));
        self.http.ask(&routes::CONSISTENCY_PROOF, &[], query, &())
    }

    /// `GET /1.0/audit/witnessed`: the newest checkpoint held of each log.
    pub fn witnessed(&self) -> Result<Witnessed, NodeError> {
        self.http.ask(&routes::WITNESSED, &[], None, &())
    }

    /// `GET /1.0/audit/evidence`: the logs caught forking or going back.
    pub fn evidence(&self) -> Result<EvidenceHeld, NodeError> {
        self.http.ask(&routes::EVIDENCE, &[], None, &())
    }
}

/// A node's operator endpoints, with its admin token.
#[derive(Clone)]
pub struct AdminClient {
    http: Transport,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_tuple("AdminClient").field(&self.http.node).finish()
    }
}

impl AdminClient {
    /// The node at `node`, with its admin token (none for a node run with admin
    /// authentication disabled, in tests).
    pub fn new(node: NodeUrl, token: Option<String>) -> Self {
        Self {
            http: Transport {
                node,
                token,
                limit: MAX_ADMIN_ANSWER_BYTES,
                timeout: None,
            },
        }
    }

    /// The node's base URL.
    pub fn node(&self) -> &NodeUrl {
        &self.http.node
    }

    /// The node's public endpoints, reached the same way.
    pub fn public(&self) -> NodeClient {
        NodeClient::new(self.http.node.clone())
    }

    /// `POST /admin/agents`: registers an agent definition.
    pub fn register_definition(
        &self,
        request: &DefinitionRequest,
    ) -> Result<Registered, NodeError> {
        self.http
            .ask(&routes::REGISTER_DEFINITION, &[], None, request)
    }

    /// `GET /admin/agents[?orphaned=true]`: the definitions.
    pub fn definitions(&self, listing: Listing) -> Result<Definitions, NodeError> {
        let query = listing.orphaned.then(|| "orphaned=true".to_owned());
        self.http.ask(&routes::DEFINITIONS, &[], query, &())
    }

    /// `POST /admin/agents/{definition}/instances`: binds an instance by its signed binding
    /// statement.
    pub fn bind(&self, definition: &Did, proof: &Value) -> Result<Instance, NodeError> {
        self.http
            .ask(&routes::INSTANCES, &[definition.as_str()], None, proof)
    }

    /// `POST /admin/credentials`: issues a capability credential to a bound instance.
    pub fn issue(&self, request: &IssueRequest) -> Result<Issuance, NodeError> {
        self.http.ask(&routes::ISSUE, &[], None, request)
    }

    /// `POST /credentials/issue`: issues any credential of the W3C data model as the org.
    pub fn issue_w3c(&self, request: &W3cIssueRequest) -> Result<W3cIssued, NodeError> {
        self.http.ask(&routes::W3C_ISSUE, &[], None, request)
    }

    /// `GET /admin/credentials/{id}`: what the node recorded of a credential.
    pub fn issued(&self, id: &CredentialId) -> Result<Issued, NodeError> {
        self.http.ask(&routes::ISSUED, &[id.as_str()], None, &())
    }

    /// `POST /admin/revocations`.
    pub fn revoke(&self, request: &RevocationRequest) -> Result<Revocation, NodeError> {
        self.http.ask(&routes::REVOKE, &[], None, request)
    }

    /// `POST /admin/suspensions`.
    pub fn suspend(&self, request: &RevocationRequest) -> Result<Revocation, NodeError> {
        self.http.ask(&routes::SUSPEND, &[], None, request)
    }

    /// `POST /admin/suspensions/{id}/lift`.
    pub fn lift(&self, suspension: &str, lift: &Lift) -> Result<Revocation, NodeError> {
        self.http.ask(&routes::LIFT, &[suspension], None, lift)
    }

    /// `POST /admin/owners`: registers an owner.
    pub fn register_owner(&self, request: &OwnerRequest) -> Result<OwnerRegistered, NodeError> {
        self.http.ask(&routes::OWNERS, &[], None, request)
    }

    /// `POST /admin/did/operations`: any signed did:vouch operation, as its JSON text.
    pub fn submit_operation(&self, operation: &str) -> Result<OperationAccepted, NodeError> {
        self.http.ask(&routes::DID_OPERATIONS, &[], None, operation)
    }

    /// `POST /admin/did/update`: the org's DID document's new content.
    pub fn update_did(&self, content: &Value) -> Result<OperationAccepted, NodeError> {
        self.http.ask(&routes::DID_UPDATE, &[], None, content)
    }

    /// `POST /admin/did/rotate`: rotates the org's key.
    pub fn rotate(&self) -> Result<OperationAccepted, NodeError> {
        self.http.ask(&routes::DID_ROTATE, &[], None, &())
    }

    /// `POST /admin/did/deactivate`: deactivates the org's DID, for good.
    pub fn deactivate(&self, confirm: &Confirm) -> Result<OperationAccepted, NodeError> {
        self.http.ask(&routes::DID_DEACTIVATE, &[], None, confirm)
    }

    /// `POST /admin/audit/checkpoint`: signs a checkpoint of the log now, for the witnesses.
    pub fn checkpoint(&self) -> Result<String, NodeError> {
        self.http.note(&routes::SIGN_CHECKPOINT)
    }

    /// `POST /admin/peers/refuse` (`refuse`) or `/admin/peers/admit`.
    pub fn peers(&self, refuse: bool, peers: &Peers) -> Result<PeersChanged, NodeError> {
        let action = if refuse { "refuse" } else { "admit" };
        self.http.ask(&routes::PEERS, &[action], None, peers)
    }

    /// `GET /admin/consortium`: the membership in force.
    pub fn membership(&self) -> Result<Membership, NodeError> {
        self.http.ask(&routes::MEMBERSHIP, &[], None, &())
    }

    /// `POST /admin/consortium/proposals`: proposes and signs an amendment.
    pub fn propose(&self, change: &Change) -> Result<Signed, NodeError> {
        self.http.ask(&routes::PROPOSALS, &[], None, change)
    }

    /// `POST /admin/consortium/signatures`: signs another member's amendment.
    pub fn sign_amendment(&self, amendment: &Amendment) -> Result<Signed, NodeError> {
        self.http.ask(&routes::SIGNATURES, &[], None, amendment)
    }

    /// `POST /admin/status-lists/{name}`: sets or clears bits of one of the org's lists.
    pub fn change_status(
        &self,
        name: &str,
        change: &StatusChange,
    ) -> Result<StatusChanged, NodeError> {
        self.http
            .ask(&routes::STATUS_LIST_CHANGE, &[name], None, change)
    }
}
