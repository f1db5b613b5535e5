//! The wallet daemon (the ssh-agent model): a process that holds the agent instance's key and
//! credentials and answers its agent on a Unix socket, mode 0600, only to a caller of its own
//! uid (checked on every connection with `SO_PEERCRED`). It offers structured operations only —
//! never "sign these bytes": the agent's process never sees the key.
//!
//! The protocol is JSON Lines: one request object per line (`{"op": "credentials", …}`), one
//! answer per line, `{"ok": …}` or `{"error": {"code", "message"}}`; a line is at most 1 MiB.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use vouch_core::did::Did;
use vouch_core::key::KeyPair;

use crate::knowledge::{Freshness, NodeKnowledge};
use crate::store::{WalletLog, WalletStore};
use vouch_api::ErrorCode;
use vouch_api::daemon::{Accepted, Added, Answer, Delegated, Identity};
pub use vouch_api::daemon::{MAX_LINE, Refusal, Request};
use vouch_api::node::public::Standing;
use vouch_core::exchange::{Answered, Once};
use vouch_core::lock::MutexExt as _;

mod card;
mod exchange;
mod signing;
mod token;

pub use card::{CardAsk, EXTENSION as A2A_EXTENSION};
pub use exchange::{ExchangeAsk, default_query};

/// The most connections served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a connection may wait for its next request before it is closed; a client
/// reconnects when it needs to.
pub const IDLE: std::time::Duration = std::time::Duration::from_secs(300);
/// The most agent cards made at once for HTTP requests.
const CARDS_AT_ONCE: usize = 2;

/// A credential due for renewal, by id, and whether the node renewed it.
pub type Renewed = (String, Result<(), Refusal>);

/// The daemon's state.
pub struct Daemon {
    store: Arc<WalletStore>,
    log: WalletLog,
    /// Signs what the structured operations make (delegations): never handed out.
    key: Arc<KeyPair>,
    instance: Did,
    uid: u32,
    node: Option<crate::node::OrgNode>,
    /// What exchanges are verified with: the org's node's documents, lists and policy.
    knowledge: Option<Arc<NodeKnowledge>>,
    /// The challenges of the requests answered (a request is answered once).
    seen: Once<()>,
    /// The exchanges answered, awaiting their decisions, by challenge.
    open: Once<Answered>,
    /// The approvals this daemon decided on as verifier, each until it expires: used once.
    approvals_used: Once<()>,
    /// The owner's approvals given to this instance, presented with what they approve. In
    /// memory only: each lives minutes (a restart asks the owner again).
    approvals: std::sync::Mutex<Vec<(chrono::DateTime<chrono::Utc>, Value)>>,
    /// The exchange network, once started.
    network: std::sync::OnceLock<crate::p2p::Exchanges>,
    /// Refusals of verifiers that did not authenticate, counted instead of written one by one.
    refusals: vouch_core::audit::tally::Tally,
    /// The credentials signed under lately, read and parsed once (`signing::Prepared`).
    prepared: signing::PreparedCache,
}

impl Daemon {
    /// A daemon over the wallet in `dir`, for the instance whose key is `key`, answering callers
    /// of `uid` only.
    pub fn open(
        dir: &Path,
        key: KeyPair,
        uid: u32,
    ) -> Result<Self, crate::store::WalletStoreError> {
        let instance = vouch_core::did::key::did_of(&key.public());
        let store = Arc::new(WalletStore::open(dir, &instance)?);
        let log = store.log(&instance);
        Ok(Self {
            store,
            log,
            key: Arc::new(key),
            instance,
            uid,
            node: None,
            knowledge: None,
            seen: Once::default(),
            open: Once::default(),
            approvals_used: Once::default(),
            approvals: std::sync::Mutex::new(Vec::new()),
            network: std::sync::OnceLock::new(),
            refusals: vouch_core::audit::tally::Tally::new(chrono::Duration::seconds(60), 16, 256),
            prepared: signing::PreparedCache::default(),
        })
    }

    /// Renews through the org's node `node`, and verifies exchanges with what it publishes,
    /// checked here: the membership of the consortium whose genesis has the hash `genesis`
    /// (without one, no issuer is trusted), DID logs and status lists, kept as fresh as
    /// `freshness` says.
    pub fn with_node(
        mut self,
        node: crate::sources::NodeUrl,
        genesis: Option<String>,
        freshness: Freshness,
    ) -> Self {
        let http = crate::sources::NodeHttp::new(node.clone());
        self.node = Some(crate::node::OrgNode::new(node));
        self.knowledge = Some(Arc::new(NodeKnowledge::new(http, genesis, freshness)));
        self
    }

    /// Joins the exchange network: listens on `listen`, answers peers until `stop` resolves.
    /// Its addresses.
    pub async fn join(
        self: &Arc<Self>,
        listen: &[crate::p2p::Multiaddr],
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<Vec<crate::p2p::Multiaddr>, crate::p2p::P2pError> {
        let answerer: Arc<dyn crate::p2p::Answerer> = self.clone();
        let (network, _task) = crate::p2p::start(&self.key, listen, answerer, stop).await?;
        let addresses = network.addresses.clone();
        self.network
            .set(network)
            .map_err(|_| crate::p2p::P2pError::Start("joined already".into()))?;
        Ok(addresses)
    }

    /// Where the daemon takes exchanges, once it joined the network.
    fn addresses(&self) -> Vec<String> {
        self.network
            .get()
            .map(|n| n.addresses.iter().map(ToString::to_string).collect())
            .unwrap_or_default()
    }

    /// The instance's A2A agent card (docs/A2A.md), or why `ask` cannot make one. Blocking.
    pub fn card(&self, ask: CardAsk) -> Result<Value, Refusal> {
        self.handle(Request::AgentCard(ask))
    }

    /// The instance's key directory (Web Bot Auth), answering a request for `target`: the JWK
    /// Set of the instance key, signed by it over the authority asked and the body's digest.
    pub fn key_directory(
        &self,
        target: &url::Url,
    ) -> Result<vouch_core::http_signature::Directory, Refusal> {
        vouch_core::http_signature::key_directory(
            &self.key,
            target,
            chrono::Utc::now().timestamp(),
            vouch_core::http_signature::LABEL,
        )
        .map_err(|e| Refusal::internal(e.to_string()))
    }

    /// The instance's DID.
    pub fn instance(&self) -> &Did {
        &self.instance
    }

    /// The instance's audit log.
    pub fn log(&self) -> &WalletLog {
        &self.log
    }

    /// Answers one request. Blocking (the store).
    pub fn handle(&self, request: Request) -> Result<Value, Refusal> {
        let internal = |e: crate::store::WalletStoreError| Refusal::internal(e.to_string());
        match request {
            Request::Identity {} => as_json(&Identity {
                did: self.instance.to_string(),
                addresses: self.addresses(),
            }),
            Request::AgentCard(ask) => card::card(
                ask,
                &self.instance,
                &self.addresses(),
                &self.store.credentials(None).map_err(internal)?,
                chrono::Utc::now(),
            ),
            Request::Exchange(_) => Err(Refusal::internal(
                "an exchange is asked on the daemon's runtime",
            )),
            Request::Answer { request } => Ok(self.answer_request(&request, None)?),
            Request::Accept { decision } => {
                let decision = self.accept_decision(&decision, None)?;
                as_json(&Accepted {
                    decisions: decision.decided,
                })
            }
            Request::Credentials { task } => {
                let held = self.store.credentials(task.as_deref()).map_err(internal)?;
                Ok(Value::Array(
                    held.into_iter().map(|h| h.credential).collect(),
                ))
            }
            Request::Delegate {
                parent,
                to,
                capabilities,
                valid_until,
            } => self.delegate(&parent, &to, capabilities, valid_until),
            Request::Renew { id } => self.renew(&id),
            Request::RequestApproval { request } => self.request_approval(&request),
            Request::SignRequest(ask) => self.sign_request(ask),
            Request::DpopProof(ask) => self.dpop_proof(ask),
            Request::AccessToken(ask) => self.access_token(ask),
            Request::ApprovalStatus { id } => {
                let node = self
                    .node
                    .as_ref()
                    .ok_or_else(|| Refusal::refused("this daemon knows no node (--node)"))?;
                let pending = node.client().approval(&id)?;
                if pending.agent != self.instance {
                    return Err(Refusal::refused(
                        "that approval request is another instance's",
                    ));
                }
                if pending.standing == Standing::Approved {
                    let approval = pending.approval.clone().ok_or_else(|| {
                        Refusal::new(
                            ErrorCode::NodeUnreachable,
                            "the node answered an approved request without its approval",
                        )
                    })?;
                    self.add_approval(approval)?;
                }
                as_json(&pending)
            }
            Request::BindingProof { definition } => {
                let node = self
                    .node
                    .as_ref()
                    .ok_or_else(|| Refusal::refused("this wallet knows no node to be bound by"))?;
                let definition = Did::parse(&definition)
                    .map_err(|e| Refusal::refused(format!("definition: {e}")))?;
                Ok(node.binding_proof(&self.key, &definition, chrono::Utc::now())?)
            }
            Request::AddCredential { credential, .. }
                if vouch_core::approval::is_approval(&credential) =>
            {
                self.add_approval(credential)
            }
            Request::AddCredential { credential, chain } => {
                // A chain read for signing may grow an ancestor: read again.
                self.prepared.clear();
                for ancestor in &chain {
                    match self.store.put_ancestor(ancestor) {
                        Ok(_) => {}
                        Err(crate::store::WalletStoreError::Refused(message)) => {
                            return Err(Refusal::refused(message));
                        }
                        Err(e) => return Err(internal(e)),
                    }
                }
                match self.store.put_credential(&credential, &self.instance) {
                    Ok(added) => as_json(&Added { added }),
                    Err(crate::store::WalletStoreError::Refused(message)) => {
                        Err(Refusal::refused(message))
                    }
                    Err(e) => Err(internal(e)),
                }
            }
        }
    }
}

/// The most approvals a daemon holds at once.
const MAX_APPROVALS_HELD: usize = 64;

impl Daemon {
    /// `credential` and the credentials above it that the wallet holds, leaf first.
    fn chain_above(&self, credential: Value) -> Result<Vec<Value>, Refusal> {
        let mut chain = vec![credential];
        while chain.len() <= vouch_core::credential::MAX_DEPTH_CAP as usize {
            let Some(above) = chain
                .last()
                .and_then(|c| c["credentialSubject"]["delegation"]["parent"].as_str())
                .map(str::to_owned)
            else {
                break;
            };
            match self.store.ancestor(&above) {
                Ok(Some(ancestor)) => chain.push(ancestor),
                Ok(None) => break,
                Err(e) => return Err(Refusal::internal(e.to_string())),
            }
        }
        Ok(chain)
    }

    /// Asks the org's node for the owner's approval of `request`, presenting the credentials
    /// held now that name it, each with its chain.
    fn request_approval(&self, request: &Value) -> Result<Value, Refusal> {
        use vouch_core::credential::AgentCapabilityCredential;
        let node = self
            .node
            .as_ref()
            .ok_or_else(|| Refusal::refused("this daemon knows no node (--node)"))?;
        let wanted = vouch_core::capability::Request::from_json(request)
            .map_err(|e| Refusal::refused(format!("the request: {e}")))?;
        let now = chrono::Utc::now();
        let mut presented = Vec::new();
        let held = self
            .store
            .credentials(None)
            .map_err(|e| Refusal::internal(e.to_string()))?;
        for held in held.into_iter().filter(|h| h.valid_until > now) {
            let names = AgentCapabilityCredential::from_json(&held.credential).is_ok_and(|c| {
                c.capabilities()
                    .iter()
                    .flatten()
                    .any(|capability| wanted.names(capability))
            });
            if names {
                for credential in self.chain_above(held.credential)? {
                    if !presented.contains(&credential) {
                        presented.push(credential);
                    }
                }
            }
        }
        if presented.is_empty() {
            return Err(Refusal::from(vouch_core::exchange::Refused {
                reason: vouch_core::report::Reason::NotGranted,
                message: "no credential held names the request: nothing to approve".into(),
            }));
        }
        as_json(&node.ask_approval(&self.key, presented, request, now)?)
    }

    /// Keeps an approval given to this instance, while it is valid.
    fn add_approval(&self, credential: Value) -> Result<Value, Refusal> {
        let approval = vouch_core::approval::Approval::from_json(&credential)
            .map_err(|e| Refusal::refused(e.to_string()))?;
        if approval.subject != self.instance {
            return Err(Refusal::refused(format!(
                "the approval is given to {}, not this instance",
                approval.subject
            )));
        }
        let now = chrono::Utc::now();
        let mut held = self.approvals.locked();
        held.retain(|(until, _)| *until > now);
        if held.iter().any(|(_, a)| a["id"] == credential["id"]) {
            return as_json(&Added { added: false });
        }
        if held.len() >= MAX_APPROVALS_HELD {
            return Err(Refusal::refused(format!(
                "this daemon holds {MAX_APPROVALS_HELD} approvals already"
            )));
        }
        held.push((approval.valid_until, credential));
        as_json(&Added { added: true })
    }

    /// The approvals held now.
    pub(crate) fn approvals_held(&self) -> Vec<Value> {
        let now = chrono::Utc::now();
        self.approvals
            .locked()
            .iter()
            .filter(|(until, _)| *until > now)
            .map(|(_, a)| a.clone())
            .collect()
    }

    /// Writes the counts of refusals whose minute has ended (all of them when `stopping`).
    /// Blocking.
    fn write_counted_refusals(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        stopping: bool,
    ) -> Result<(), String> {
        let counted = if stopping {
            self.refusals.drain(now)
        } else {
            self.refusals.ended(now)
        };
        if counted.is_empty() {
            return Ok(());
        }
        self.log
            .record_all(counted, now)
            .map(|_| ())
            .map_err(|e| format!("the audit log: {e}"))
    }

    /// Renews, through the node, every credential held that has less than a third of its life
    /// left at `at` (and is still valid then) and no later credential of its lineage held, so
    /// that a long task never stalls on an expired credential. The ids renewed, and the
    /// refusals. Blocking.
    pub fn renew_due(&self, at: chrono::DateTime<chrono::Utc>) -> Result<Vec<Renewed>, Refusal> {
        use vouch_core::credential::AgentCapabilityCredential;
        let held = self
            .store
            .credentials(None)
            .map_err(|e| Refusal::internal(e.to_string()))?;
        let typed: Vec<AgentCapabilityCredential> = held
            .iter()
            .filter_map(|h| AgentCapabilityCredential::from_json(&h.credential).ok())
            .collect();
        // A credential is renewed already when a later one of its lineage is held.
        let superseded = |c: &AgentCapabilityCredential| {
            let renewal = &c.credential_subject.renewal;
            typed.iter().any(|other| {
                let later = &other.credential_subject.renewal;
                later.lineage == renewal.lineage && later.count > renewal.count
            })
        };
        let due: Vec<String> = typed
            .iter()
            .filter(|c| {
                let life = c.valid_until - c.valid_from;
                let left = c.valid_until - at;
                left > chrono::Duration::zero() && left * 3 < life && !superseded(c)
            })
            .map(|c| c.id.to_string())
            .collect();
        Ok(due
            .into_iter()
            .map(|id| {
                let result = self.renew(&id).map(|_| ());
                (id, result)
            })
            .collect())
    }

    fn renew(&self, id: &str) -> Result<Value, Refusal> {
        let (refused, internal) = (Refusal::refused, Refusal::internal);
        let node = self
            .node
            .as_ref()
            .ok_or_else(|| refused("this wallet knows no node to renew through".into()))?;
        let held = self
            .store
            .credential(id)
            .map_err(|e| internal(e.to_string()))?
            .ok_or_else(|| refused(format!("no credential {id} is held")))?;
        let typed = vouch_core::credential::AgentCapabilityCredential::from_json(&held.credential)
            .map_err(|e| internal(e.to_string()))?;
        let now = chrono::Utc::now();
        let renewed = node.renew(
            &self.key,
            &held.credential,
            typed.valid_until - typed.valid_from,
            now,
        )?;
        self.store
            .put_credential(&renewed, &self.instance)
            .map_err(|e| internal(e.to_string()))?;
        self.log
            .record(
                crate::records::renewal_entry(&held.id, &held.task, &renewed),
                now,
            )
            .map_err(|e| internal(format!("the audit log: {e}")))?;
        Ok(renewed)
    }

    fn delegate(
        &self,
        parent: &str,
        to: &str,
        capabilities: Vec<Value>,
        valid_until: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Value, Refusal> {
        use vouch_core::credential::AgentCapabilityCredential;
        use vouch_core::delegation;
        let (refused, internal) = (Refusal::refused, Refusal::internal);
        // The sub-agent is an instance: a did:key whose key reads, nothing else.
        let to = Did::parse(to).map_err(|e| refused(format!("to: {e}")))?;
        vouch_core::did::key::key_of(&to)
            .map_err(|e| refused(format!("to: a sub-agent is a did:key instance: {e}")))?;
        let held = self
            .store
            .credential(parent)
            .map_err(|e| internal(e.to_string()))?
            .ok_or_else(|| refused(format!("no credential {parent} is held")))?;
        let parent = AgentCapabilityCredential::from_json(&held.credential)
            .map_err(|e| internal(e.to_string()))?;
        // Registered with the org's node before it is handed out, so that every level of
        // revocation reaches it: without a node, no delegation.
        let node = self.node.as_ref().ok_or_else(|| {
            refused(
                "a delegation is registered with the org's node before it is handed out, and this daemon knows no node (--node)"
                    .into(),
            )
        })?;
        let now = chrono::Utc::now();
        let child = delegation::delegate(
            &parent,
            to,
            capabilities,
            valid_until.unwrap_or(parent.valid_until),
            now,
        )
        .map_err(|e| refused(e.to_string()))?;
        // The sub-agent presents it with its chain: the parent and the parent's ancestors.
        let chain = self.chain_above(held.credential)?;
        let root_first: Vec<Value> = chain.iter().rev().cloned().collect();
        let signed = node.register_delegation(
            &self.key,
            root_first,
            &child,
            vouch_core::proof::Cryptosuite::EddsaJcs2022,
            now,
        )?;
        // Recorded before it is answered: a delegation the log does not show is not made.
        self.log
            .record(crate::records::delegation_entry(&parent, &signed), now)
            .map_err(|e| internal(format!("the audit log: {e}")))?;
        as_json(&Delegated {
            credential: signed,
            chain,
        })
    }
}

/// Writes a line to the daemon's log (stderr), never failing: a daemon whose log was closed
/// keeps serving (the standard macro would panic on a closed pipe).
#[macro_export]
macro_rules! log_line {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Tends the wallet every `every` until `stop` resolves: prunes the expired credentials and,
/// with a node, renews those due, so that a long task never holds an expired one.
pub async fn tend(
    daemon: Arc<Daemon>,
    every: std::time::Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut tick = tokio::time::interval(every);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => {
                let daemon = daemon.clone();
                let written = tokio::task::spawn_blocking(move || {
                    daemon.write_counted_refusals(chrono::Utc::now(), true)
                })
                .await;
                if let Ok(Err(e)) = written {
                    crate::log_line!("writing the counted refusals failed: {e}");
                }
                return;
            }
            _ = tick.tick() => {
                let daemon = daemon.clone();
                let tended = tokio::task::spawn_blocking(move || {
                    let now = chrono::Utc::now();
                    daemon.write_counted_refusals(now, false)?;
                    let pruned = daemon.store.prune(now).map_err(|e| e.to_string())?;
                    let renewed = match daemon.node {
                        Some(_) => daemon.renew_due(now).map_err(|e| e.message)?,
                        None => Vec::new(),
                    };
                    Ok::<_, String>((pruned, renewed))
                })
                .await;
                match tended {
                    Ok(Ok((pruned, renewed))) => {
                        for (id, result) in renewed {
                            match result {
                                Ok(()) => crate::log_line!("renewed {id}"),
                                Err(refusal) => crate::log_line!("could not renew {id}: {}", refusal.message),
                            }
                        }
                        if pruned > 0 {
                            crate::log_line!("pruned {pruned} expired credential(s)");
                        }
                    }
                    Ok(Err(e)) => crate::log_line!("tending the wallet failed: {e}"),
                    Err(e) => crate::log_line!("tending the wallet failed: {e}"),
                }
            }
        }
    }
}

/// Binds the daemon's socket at `path`, readable and writable by its owner only. A socket file
/// left behind by a daemon that died (nothing listens behind it) is removed first; a live
/// daemon's socket is never taken, and a path that is not a socket is never removed.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_socket() => {
            match std::os::unix::net::UnixStream::connect(path) {
                Ok(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::AddrInUse,
                        "a wallet daemon is listening on this socket already",
                    ));
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    // Nothing listens: the file of a daemon that died. Another daemon binding
                    // the same path at this very moment would find it gone or its own.
                    std::fs::remove_file(path)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket",
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Serves the instance's A2A agent card at `GET /.well-known/agent-card.json` on `listener`
/// until `stop` (docs/A2A.md): made afresh on each request from what the wallet holds then, with
/// what `ask` says of the agent; and its Web Bot Auth key directory at `GET
/// /.well-known/http-message-signatures-directory`, signed for the authority asked. Nothing
/// else is served; the card was checked when `ask` was given (see [`Daemon::card`]).
pub async fn serve_card(
    daemon: Arc<Daemon>,
    listener: tokio::net::TcpListener,
    ask: CardAsk,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    use warp::Filter as _;
    // Cards made at once: a flood of requests waits its turn, never taking the blocking threads
    // the daemon's own work needs.
    let building = Arc::new(tokio::sync::Semaphore::new(CARDS_AT_ONCE));
    let keys = daemon.clone();
    let route = warp::get()
        .and(warp::path!(".well-known" / "agent-card.json"))
        .then(move || {
            let (daemon, ask, building) = (daemon.clone(), ask.clone(), building.clone());
            async move {
                let card = match building.acquire_owned().await {
                    Ok(permit) => {
                        tokio::task::spawn_blocking(move || {
                            let card = daemon.card(ask);
                            drop(permit);
                            card
                        })
                        .await
                    }
                    Err(_) => {
                        return warp::reply::with_status(
                            warp::reply::json(&json!({"error": "the daemon is stopping"})),
                            warp::http::StatusCode::SERVICE_UNAVAILABLE,
                        );
                    }
                };
                match card {
                    Ok(Ok(card)) => warp::reply::with_status(
                        warp::reply::json(&card),
                        warp::http::StatusCode::OK,
                    ),
                    _ => warp::reply::with_status(
                        warp::reply::json(&json!({"error": "the card could not be made"})),
                        warp::http::StatusCode::INTERNAL_SERVER_ERROR,
                    ),
                }
            }
        });
    let directory = warp::get()
        .and(warp::path!(
            ".well-known" / "http-message-signatures-directory"
        ))
        .and(warp::header::optional::<String>("host"))
        .map(move |host: Option<String>| key_directory_reply(&keys, host));
    let route = route.map(warp::Reply::into_response).or(directory).unify();
    let service = warp::service(route);
    let handler = move |request: hyper::Request<hyper::body::Incoming>| {
        let mut service = service.clone();
        async move { vouch_serve::infallible(tower_service::Service::call(&mut service, request).await) }
    };
    vouch_serve::serve(listener, vouch_serve::Limits::CARD, handler, stop).await;
}

/// The key directory's answer to a request whose `Host` is `host`: signed for that authority
/// (a directory is signed afresh for each request: one Ed25519 signature, no state).
fn key_directory_reply(daemon: &Daemon, host: Option<String>) -> warp::reply::Response {
    use warp::Reply as _;
    let bad = |why: &str| {
        warp::reply::with_status(
            warp::reply::json(&json!({"error": why})),
            warp::http::StatusCode::BAD_REQUEST,
        )
        .into_response()
    };
    let Some(host) = host.filter(|h| h.len() <= 255) else {
        return bad("a Host of at most 255 bytes");
    };
    let target = match url::Url::parse(&format!(
        "http://{host}{}",
        vouch_core::http_signature::DIRECTORY_PATH
    )) {
        Ok(target) if target.path() == vouch_core::http_signature::DIRECTORY_PATH => target,
        _ => return bad("Host is no authority"),
    };
    match daemon.key_directory(&target) {
        Ok(directory) => {
            let mut response = warp::reply::Response::new(directory.body.into());
            for (name, value) in directory.headers {
                if let (Ok(name), Ok(value)) = (
                    warp::http::header::HeaderName::from_bytes(name.as_bytes()),
                    warp::http::HeaderValue::from_str(&value),
                ) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Err(_) => warp::reply::with_status(
            warp::reply::json(&json!({"error": "the directory could not be signed"})),
            warp::http::StatusCode::INTERNAL_SERVER_ERROR,
        )
        .into_response(),
    }
}

/// The connections open on the socket: each with its close signal, whether it is answering a
/// request, and since when it has been waiting for one.
#[derive(Default)]
struct Connections {
    /// By connection number. Held only to look or change, never across an `.await`.
    open: std::sync::Mutex<std::collections::HashMap<u64, Arc<Open>>>,
}

/// One open connection.
struct Open {
    close: tokio::sync::Notify,
    busy: std::sync::atomic::AtomicBool,
    /// When it last finished a request (or was accepted). Held only to read or set.
    since: std::sync::Mutex<tokio::time::Instant>,
}

impl Open {
    fn since(&self) -> tokio::time::Instant {
        *self.since.locked()
    }
}

impl Connections {
    /// Makes room for a new connection: when [`MAX_CONNECTIONS`] are open, the one waiting
    /// longest for a request is closed (its client reconnects when it needs to). `None` when
    /// every connection is answering a request.
    fn admit(&self, number: u64) -> Option<Arc<Open>> {
        use std::sync::atomic::Ordering;
        let mut open = self.open.locked();
        if open.len() >= MAX_CONNECTIONS {
            let idlest = open
                .iter()
                .filter(|(_, c)| !c.busy.load(Ordering::SeqCst))
                .min_by_key(|(_, c)| c.since())
                .map(|(n, _)| *n)?;
            if let Some(closed) = open.remove(&idlest) {
                closed.close.notify_one();
            }
        }
        let connection = Arc::new(Open {
            close: tokio::sync::Notify::new(),
            busy: std::sync::atomic::AtomicBool::new(false),
            since: std::sync::Mutex::new(tokio::time::Instant::now()),
        });
        open.insert(number, connection.clone());
        Some(connection)
    }

    fn remove(&self, number: u64) {
        self.open.locked().remove(&number);
    }
}

/// Serves connections until `stop` resolves: at most [`MAX_CONNECTIONS`] at once, the one
/// waiting longest for a request closed to make room for a new one, and any connection waiting
/// for a request longer than [`IDLE`] closed.
pub async fn serve(
    listener: UnixListener,
    daemon: Arc<Daemon>,
    stop: impl std::future::Future<Output = ()>,
) {
    let connections = Arc::new(Connections::default());
    let mut backoff = std::time::Duration::ZERO;
    tokio::pin!(stop);
    for number in 0u64.. {
        let stream = tokio::select! {
            () = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    backoff = std::time::Duration::ZERO;
                    stream
                }
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some to be closed instead
                    // of spinning on the error.
                    backoff = (backoff * 2).clamp(
                        std::time::Duration::from_millis(10),
                        std::time::Duration::from_secs(1),
                    );
                    crate::log_line!("accepting a connection failed: {e}");
                    tokio::select! {
                        () = &mut stop => return,
                        () = tokio::time::sleep(backoff) => continue,
                    }
                }
            },
        };
        let Some(open) = connections.admit(number) else {
            let mut stream = stream;
            let _ = answer(
                &mut stream,
                Err(Refusal::new(
                    ErrorCode::Busy,
                    format!("{MAX_CONNECTIONS} requests are being answered: try again"),
                )),
            )
            .await;
            continue;
        };
        let (daemon, connections) = (daemon.clone(), connections.clone());
        tokio::spawn(async move {
            connection(stream, daemon, &open).await;
            connections.remove(number);
        });
    }
}

/// What the daemon answers of a node's answer.
fn as_json(answer: &impl serde::Serialize) -> Result<Value, Refusal> {
    serde_json::to_value(answer).map_err(|e| Refusal::internal(e.to_string()))
}

async fn answer(stream: &mut (impl AsyncWriteExt + Unpin), result: Result<Value, Refusal>) -> bool {
    stream.write_all(&Answer::line(result)).await.is_ok()
}

async fn connection(stream: UnixStream, daemon: Arc<Daemon>, open: &Open) {
    use std::sync::atomic::Ordering;
    let (read, mut write) = stream.into_split();
    let peer = read.as_ref().peer_cred().map(|cred| cred.uid());
    if peer.as_ref().ok() != Some(&daemon.uid) {
        let _ = answer(
            &mut write,
            Err(Refusal::refused("this wallet answers its owner's uid only")),
        )
        .await;
        return;
    }
    let mut lines = BufReader::new(read);
    loop {
        let mut line = Vec::new();
        let mut limited = (&mut lines).take(MAX_LINE as u64 + 1);
        let read = tokio::select! {
            read = limited.read_until(b'\n', &mut line) => read,
            () = open.close.notified() => return,
            () = tokio::time::sleep_until(open.since() + IDLE) => return,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        open.busy.store(true, Ordering::SeqCst);
        if line.len() > MAX_LINE {
            let _ = answer(
                &mut write,
                Err(Refusal::new(
                    ErrorCode::TooLarge,
                    format!("a request is at most {MAX_LINE} bytes"),
                )),
            )
            .await;
            return;
        }
        let result = match serde_json::from_slice::<Request>(&line) {
            Err(e) => Err(Refusal::new(ErrorCode::Malformed, e.to_string())),
            Ok(Request::Exchange(ask)) => daemon.clone().exchange(ask).await,
            Ok(request) => {
                let daemon = daemon.clone();
                tokio::task::spawn_blocking(move || daemon.handle(request))
                    .await
                    .unwrap_or_else(|e| Err(Refusal::internal(e.to_string())))
            }
        };
        let answered = answer(&mut write, result).await;
        *open.since.locked() = tokio::time::Instant::now();
        open.busy.store(false, Ordering::SeqCst);
        if !answered {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ask(path: &Path, line: &str) -> Value {
        let stream = UnixStream::connect(path).await.expect("connects");
        let (read, mut write) = stream.into_split();
        write.write_all(line.as_bytes()).await.expect("written");
        write.write_all(b"\n").await.expect("written");
        let mut answer = String::new();
        BufReader::new(read)
            .read_line(&mut answer)
            .await
            .expect("an answer");
        serde_json::from_str(&answer).expect("JSON")
    }

    #[tokio::test]
    async fn the_daemon_answers_its_owner_with_structured_operations_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let key = KeyPair::generate();
        let did = vouch_core::did::key::did_of(&key.public());
        let uid = own_uid();
        let daemon = Arc::new(Daemon::open(&dir.path().join("wallet"), key, uid).expect("opens"));
        let path = dir.path().join("wallet.sock");
        let listener = bind(&path).expect("binds");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, daemon.clone(), async {
            let _ = stopped.await;
        }));

        let identity = ask(&path, r#"{"op": "identity"}"#).await;
        assert_eq!(identity["ok"]["did"], did.to_string());
        let listed = ask(&path, r#"{"op": "credentials"}"#).await;
        assert_eq!(listed["ok"], json!([]));
        // No raw signing, nothing unknown, nothing malformed.
        for line in [
            r#"{"op": "sign", "bytes": "AAAA"}"#,
            r#"{"op": "credentials", "extra": 1}"#,
            "not json",
        ] {
            assert_eq!(
                ask(&path, line).await["error"]["code"],
                "malformed",
                "{line}"
            );
        }
        // A credential of another instance is refused with its reason.
        let refused = ask(
            &path,
            &json!({"op": "add_credential", "credential": {"id": "x"}}).to_string(),
        )
        .await;
        assert_eq!(refused["error"]["code"], "refused");

        // A caller of another uid: refused before anything is read.
        let stranger = Arc::new(
            Daemon::open(
                &dir.path().join("other"),
                KeyPair::generate(),
                uid.wrapping_add(1),
            )
            .expect("opens"),
        );
        let other_path = dir.path().join("other.sock");
        let other = bind(&other_path).expect("binds");
        let (stop_other, stopped_other) = tokio::sync::oneshot::channel::<()>();
        let other_server = tokio::spawn(serve(other, stranger, async {
            let _ = stopped_other.await;
        }));
        let answer = ask(&other_path, r#"{"op": "identity"}"#).await;
        assert_eq!(answer["error"]["code"], "refused");

        let _ = stop.send(());
        let _ = stop_other.send(());
        server.await.expect("stopped");
        other_server.await.expect("stopped");
    }

    /// The test process's uid, read as the daemon reads a caller's: through a socket pair's
    /// peer credentials.
    fn own_uid() -> u32 {
        let (a, _b) = std::os::unix::net::UnixStream::pair().expect("a pair");
        let a = UnixStream::from_std({
            a.set_nonblocking(true).expect("nonblocking");
            a
        })
        .expect("tokio");
        a.peer_cred().expect("credentials").uid()
    }
}
