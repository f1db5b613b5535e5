//! The node as the verifier of a capability exchange over HTTP (DESIGN §8), for partners
//! without a libp2p stack, in the shape of the W3C VC API's exchanges: the partner opens an
//! exchange for the capabilities it wants decided and gets the node's request; its wallet
//! answers with a presentation; the node decides each capability and answers with a signed
//! `CapabilityDecision`.
//!
//! The node verifies as an agent instance of its org does: its instance key is the node key
//! (its did:key is the node's peer id), and it authenticates to provers with a credential its
//! org issues it through the same issuer as any agent's — a definition `vouch-node-verifier`,
//! the node key bound to it, a credential for `verify:exchange` with status entries, issued
//! again when it nears its end. So it can be revoked like any agent's.
//!
//! Open exchanges live in memory (a restart forgets them; the partner opens another), each
//! answered once, at most [`MAX_OPEN`] at once; decisions are kept for `GET` (at most
//! [`MAX_DECIDED`], the oldest forgotten first).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use vouch_core::did::Did;
use vouch_core::exchange::flow::{MAX_OPEN, MAX_REQUEST_AGE};
use vouch_core::exchange::{self, Ask, Asked, Judgement, Once};
use vouch_core::hash::Multihash;
use vouch_core::key::KeyPair;
use vouch_core::verify::Verifier;

use crate::issuer::{DefinitionRequest, IssueRequest, Issuer, IssuerError, TaskRequest};
use vouch_core::lock::MutexExt as _;

/// The name of the agent definition the node verifies as.
pub const DEFINITION_NAME: &str = "vouch-node-verifier";
/// The most decisions kept for `GET /1.0/exchanges/{id}`.
pub const MAX_DECIDED: usize = 10_000;
/// The bytes of decisions kept for `GET` (their JSON text); the oldest are forgotten first.
pub const DECIDED_BUDGET: usize = 8 << 20;
/// How long a decision is kept for `GET`: as long as it is valid.
const DECIDED_FOR: Duration = Duration::minutes(5);
/// The bytes of open exchanges' requests (the capabilities and the query, as JSON text) held at
/// once, and one client's share of them.
pub const OPEN_BUDGET: usize = 8 << 20;
/// One client's share of [`OPEN_BUDGET`].
pub const OPEN_SHARE: usize = 512 << 10;
/// How long before its end the node's credential is issued again.
const RENEW_BEFORE: Duration = Duration::minutes(2);
/// The most approvals remembered as used (each until it expires: at most 5 minutes).
const MAX_APPROVALS_USED: usize = 65_536;
/// The most signed requests' nonces remembered at once (each for a minute at most).
const MAX_SIGNED_NONCES: usize = 65_536;
/// The most sessions of signed requests whose chain is remembered at once: a chain is a few
/// credentials (each at most `MAX_CREDENTIAL_BYTES` as JSON, less typed), so this is tens of
/// megabytes at most; a session forgotten costs its agent one presentation more.
const MAX_SIGNED_SESSIONS: usize = 4_096;

/// What the node publishes after issuing itself an identity: a definition's genesis, the
/// status lists opened.
#[derive(Debug, Default)]
pub struct ToPublish {
    /// A new definition's genesis operation.
    pub genesis: Option<vouch_core::did_vouch::Operation>,
    /// Status lists signed for the first time.
    pub lists: Vec<Value>,
}

/// The node's exchanges.
#[derive(Clone)]
pub struct NodeExchanges {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for NodeExchanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeExchanges")
            .field("did", &self.inner.did)
            .field("open", &self.inner.open.len())
            .finish_non_exhaustive()
    }
}

struct Inner {
    key: KeyPair,
    did: Did,
    /// The node's verifier credential and its end.
    identity: Mutex<Option<(Value, DateTime<Utc>)>>,
    /// The exchanges awaiting their answers: each its request as compact JSON text — the
    /// smallest form it has; read again once, at its answer — and when it was asked.
    open: Once<(Vec<u8>, DateTime<Utc>)>,
    decided: Mutex<Decided>,
    /// The approvals decided on, each until it expires: an approval is used once.
    approvals_used: Once<()>,
    /// The nonces of the signed requests checked, each once (`POST /1.0/requests/verify`).
    signed_nonces: Once<()>,
    /// The chains of the signed requests' sessions: only a session's first request presents.
    signed_sessions: vouch_core::signed_request::Sessions,
}

/// The decisions kept for `GET`, oldest first, within [`MAX_DECIDED`] and [`DECIDED_BUDGET`],
/// each for [`DECIDED_FOR`].
#[derive(Default)]
struct Decided {
    /// By exchange id: the decision as compact JSON text, and its size.
    by_id: BTreeMap<String, (Vec<u8>, usize)>,
    order: VecDeque<(DateTime<Utc>, String)>,
    bytes: usize,
}

impl Decided {
    /// Forgets the decisions whose time is up at `now`.
    fn expire(&mut self, now: DateTime<Utc>) {
        while self.order.front().is_some_and(|(until, _)| *until <= now) {
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) {
        if let Some((_, id)) = self.order.pop_front()
            && let Some((_, size)) = self.by_id.remove(&id)
        {
            self.bytes -= size;
        }
    }
}

/// An exchange's state, for `GET`.
#[derive(Debug, Clone)]
pub enum State {
    /// Awaiting the prover's presentation; or expired, or unknown.
    Unknown,
    /// Decided: the signed decision.
    Decided(Value),
}

impl NodeExchanges {
    /// The exchanges of the node whose key is `key`.
    pub fn new(key: KeyPair) -> Self {
        let did = vouch_core::did::key::did_of(&key.public());
        Self {
            inner: Arc::new(Inner {
                key,
                did,
                identity: Mutex::new(None),
                open: Once::with_shares(MAX_OPEN, OPEN_BUDGET, OPEN_SHARE),
                decided: Mutex::new(Decided::default()),
                approvals_used: Once::new(MAX_APPROVALS_USED),
                signed_nonces: Once::new(MAX_SIGNED_NONCES),
                signed_sessions: vouch_core::signed_request::Sessions::new(MAX_SIGNED_SESSIONS),
            }),
        }
    }

    /// The nonces of the signed requests the node checked: each is used once.
    pub fn signed_nonces(&self) -> &Once<()> {
        &self.inner.signed_nonces
    }

    /// The chains the signed requests checked here presented, by session.
    pub fn signed_sessions(&self) -> &vouch_core::signed_request::Sessions {
        &self.inner.signed_sessions
    }

    /// Where the approvals the node decided on are remembered: each is used once.
    pub fn approvals_used(&self) -> &Once<()> {
        &self.inner.approvals_used
    }

    /// The node's did:key as a verifier.
    pub fn did(&self) -> &Did {
        &self.inner.did
    }

    /// The node's verifier credential, issued by its org when none is held that lasts a few
    /// minutes more; with what to publish when it was made now. Blocking.
    pub fn identity(
        &self,
        issuer: &Issuer,
        now: DateTime<Utc>,
    ) -> Result<(Value, ToPublish), IssuerError> {
        let mut identity = self.inner.identity.locked();
        if let Some((credential, until)) = identity.as_ref()
            && *until - RENEW_BEFORE > now
        {
            return Ok((credential.clone(), ToPublish::default()));
        }
        let mut publish = ToPublish::default();
        let definition = match issuer
            .definitions()?
            .into_iter()
            .find(|(d, revoked)| d.agent.name == DEFINITION_NAME && !revoked)
        {
            Some((definition, _)) => definition.did,
            None => {
                let (definition, genesis) = issuer.register_definition(
                    DefinitionRequest {
                        name: DEFINITION_NAME.into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        owner: issuer.org().to_string(),
                        model: "none".into(),
                        system_prompt_hash: Multihash::of(b"").as_str().to_owned(),
                        tools: json!([]),
                        configuration: json!({}),
                    },
                    now,
                )?;
                publish.genesis = Some(genesis);
                definition.did
            }
        };
        if issuer.instance(&self.inner.did)?.is_none() {
            let challenge = issuer.challenge(now)?;
            let statement = Issuer::binding_statement(&self.inner.did, &definition);
            let proof = vouch_core::possession::prove(
                &self.inner.key,
                &statement,
                &challenge.challenge,
                &challenge.domain,
                now,
            )
            .map_err(|e| crate::issuer::Refusal::malformed(e.to_string()))?;
            issuer.bind(&definition, &proof, now)?;
        }
        let issued = issuer.issue(
            IssueRequest {
                instance: self.inner.did.clone(),
                task: TaskRequest {
                    id: "exchanges".into(),
                    purpose: "verify capability exchanges".into(),
                },
                principal: issuer.org().to_string(),
                capabilities: vec![json!({
                    "action": "verify:exchange",
                    "resource": format!("{}/1.0/exchanges/**", issuer.domain()),
                })],
                audience: Vec::new(),
                resources: Vec::new(),
                ttl_secs: None,
                max_renewals: None,
                lineage_secs: None,
                max_depth: Some(0),
            },
            now,
        )?;
        publish.lists = issued.lists;
        let until = issued.credential["validUntil"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or(now, |t| t.with_timezone(&Utc));
        *identity = Some((issued.credential.clone(), until));
        Ok((issued.credential, publish))
    }

    /// Opens an exchange for `owner` (a client, as the API counts them): the node's request for
    /// `capabilities`, signed, for the relying party whose resources they name as its domain
    /// (their common origin: one exchange is for one relying party). Its id and the request.
    /// What is kept until the answer is what deciding needs, counted against the owner's share.
    pub fn open(
        &self,
        credential: Value,
        query: Value,
        capabilities: Vec<Value>,
        owner: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<(String, Value), exchange::ExchangeError> {
        let malformed =
            |why: String| exchange::ExchangeError::Request(exchange::RequestError::Malformed(why));
        let requests = capabilities
            .iter()
            .map(vouch_core::capability::Request::from_json)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| malformed(format!("a capability: {e}")))?;
        let domain = exchange::relying_party(&requests).ok_or_else(|| {
            malformed(
                "one exchange is for one relying party: the resources asked for have more than one origin, or none"
                    .into(),
            )
        })?;
        let asked = exchange::ask(
            &self.inner.key,
            Ask {
                credentials: vec![credential],
                domain,
                query,
                capabilities,
            },
            now,
        )?;
        let id = uuid::Uuid::new_v4().to_string();
        let request = asked.raw.clone();
        let kept = serde_json::to_vec(&request).map_err(|e| {
            exchange::ExchangeError::Request(exchange::RequestError::Malformed(e.to_string()))
        })?;
        let size = kept.len();
        if let Some(owner) = owner
            && self.inner.open.exceeds_share(owner, size, now)
        {
            return Err(exchange::ExchangeError::Share(format!(
                "this client holds {OPEN_SHARE} bytes of open exchanges: answer some, or wait until they expire"
            )));
        }
        self.inner
            .open
            .insert_owned(
                id.clone(),
                now + MAX_REQUEST_AGE,
                (kept, asked.at),
                size,
                owner,
                now,
            )
            .map_err(|not_kept| exchange::ExchangeError::Busy(not_kept.to_string()))?;
        Ok((id, request))
    }

    /// Takes an open exchange, once: none if unknown, decided already or expired.
    pub fn take(&self, id: &str, now: DateTime<Utc>) -> Option<Asked> {
        let (kept, at) = self.inner.open.take(id, now)?;
        // The node wrote it and read it once already: it reads again.
        let raw: Value = serde_json::from_slice(&kept).ok()?;
        let request = exchange::CapabilityRequest::parse(&raw).ok()?;
        Some(
            Asked {
                raw,
                request,
                verifier: self.inner.did.clone(),
                at,
            }
            .slim(),
        )
    }

    /// Decides an exchange taken on the prover's response, with the node's knowledge.
    pub fn decide(
        &self,
        asked: &Asked,
        response: &Value,
        verifier: &Verifier<'_>,
    ) -> Result<Judgement, exchange::ExchangeError> {
        asked.decide(response, None, verifier, &self.inner.key)
    }

    /// Keeps a decision for `GET`, for as long as it is valid, within the table's bounds.
    pub fn keep(&self, id: String, decision: &Value, now: DateTime<Utc>) {
        let decision = decision.to_string().into_bytes();
        let size = id.len() + decision.len();
        if size > DECIDED_BUDGET {
            return;
        }
        let mut decided = self.decided();
        decided.expire(now);
        while decided.by_id.len() >= MAX_DECIDED
            || (!decided.order.is_empty() && decided.bytes + size > DECIDED_BUDGET)
        {
            decided.forget_oldest();
        }
        decided.bytes += size;
        decided.order.push_back((now + DECIDED_FOR, id.clone()));
        decided.by_id.insert(id, (decision, size));
    }

    /// What the exchanges hold, once what expired by `now` is forgotten: open ones and their
    /// bytes, decisions kept and theirs. A timer calls it, so that what expired is forgotten on
    /// time even when nothing else comes.
    pub fn held(&self, now: DateTime<Utc>) -> (usize, usize, usize, usize) {
        let (open, open_bytes) = self.inner.open.held(now);
        let mut decided = self.decided();
        decided.expire(now);
        (open, open_bytes, decided.by_id.len(), decided.bytes)
    }

    fn decided(&self) -> std::sync::MutexGuard<'_, Decided> {
        self.inner.decided.locked()
    }

    /// An exchange's state.
    pub fn state(&self, id: &str) -> State {
        let decided = self.decided();
        match decided.by_id.get(id) {
            Some((decision, _)) => serde_json::from_slice(decision)
                .map(State::Decided)
                .unwrap_or(State::Unknown),
            None => State::Unknown,
        }
    }
}
