//! Where a verification on the command line gets what it knows besides its input: DID documents
//! (did:key by computation, did:vouch from logs given as files or from a node's HTTP resolver)
//! and status lists (files, or the resolver), each verified before it is used.
//!
//! The resolver is a node the user chose to trust for DID resolution, as a partner without a
//! node does (DESIGN §1). Status lists from it are not trusted: each is verified, signed by its
//! issuer, like a list from a file. Only the node's resolver paths are fetched, never a URL taken
//! from the input.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use vouch_api::node::client::STATUS_LISTS;
use vouch_api::node::{NodeClient, NodeError};
pub use vouch_api::reach::{NodeUrl, Reach, ReachError};
use vouch_core::consortium::Published;
use vouch_core::did::document::DidDocument;
use vouch_core::did::resolve::DidKeyResolver;
use vouch_core::did::{Did, DidResolver, ResolveError};
use vouch_core::did_vouch::{DidLog, LogError, LogResolver};
use vouch_core::status::{HeldLists, StatusError, StatusListCredential};

pub use vouch_api::node::client::MAX_READ_BYTES as MAX_RESPONSE_BYTES;
/// The largest did:vouch log read from a node: thousands of operations.
pub const MAX_LOG_BYTES: u64 = 4 * 1024 * 1024;

/// Why a source could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Two logs of one DID diverge, or a log is invalid.
    #[error(transparent)]
    Log(#[from] LogError),
    /// A status list does not verify.
    #[error("status list: {0}")]
    StatusList(#[from] StatusError),
    /// A node cannot be reached as asked (its URL, plain HTTP, root certificates).
    #[error(transparent)]
    Reach(#[from] ReachError),
    /// The resolver could not be asked, or answered with something else than asked.
    #[error("resolver: {0}")]
    Resolver(String),
}

/// A node's HTTP resolver, for one verification: each DID resolved once.
pub struct HttpResolver {
    node: NodeHttp,
    /// What was resolved during this one verification; a verification resolves each DID once
    /// (single-threaded: the CLI verifies one input).
    resolved: RefCell<BTreeMap<Did, Result<DidDocument, ResolveError>>>,
}

impl HttpResolver {
    /// The resolver of the node at `node`.
    pub fn new(node: NodeUrl) -> Self {
        Self {
            node: NodeHttp::new(node),
            resolved: RefCell::new(BTreeMap::new()),
        }
    }

    /// The status list credential a credential names, fetched at the same path of this resolver.
    pub fn fetch_status_list(&self, url: &str) -> Result<Value, SourceError> {
        self.node.fetch_status_list(url)
    }
}

/// The public read paths of a node: DID logs and resolution, status lists, the consortium.
/// Shared between threads; it remembers nothing.
#[derive(Clone, Debug)]
pub struct NodeHttp {
    client: NodeClient,
}

/// How long one read of a node may take, at most.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

impl NodeHttp {
    /// The node at `node`.
    pub fn new(node: NodeUrl) -> Self {
        Self {
            client: NodeClient::new(node).with_timeout(READ_TIMEOUT),
        }
    }

    /// The node's base URL.
    pub fn base(&self) -> &str {
        self.client.node().base()
    }

    /// The consortium as the node publishes it (`GET /1.0/consortium`), unchecked: the reader
    /// checks it against the genesis hash it knows.
    pub fn fetch_consortium(&self) -> Result<Published, SourceError> {
        self.client
            .consortium()
            .map_err(|e| SourceError::Resolver(e.to_string()))
    }

    /// The operation log of a did:vouch (`GET /1.0/logs/{did}`), verified from its genesis and
    /// checked to be that DID's, and its size in bytes: what the node says about the DID counts
    /// for nothing else.
    pub fn fetch_log(&self, did: &Did) -> Result<(DidLog, usize), ResolveError> {
        let text = match self.client.log(did, MAX_LOG_BYTES) {
            Ok(text) => text,
            Err(NodeError::Refused { status: 404, .. }) => {
                return Err(ResolveError::NotFound(did.clone()));
            }
            Err(e) => return Err(ResolveError::Unavailable(e.to_string())),
        };
        let log = DidLog::from_jsonl(&text)
            .map_err(|e| ResolveError::Unavailable(format!("the log of {did}: {e}")))?;
        if log.did() != did {
            return Err(ResolveError::Unavailable(format!(
                "asked for the log of {did}, answered the log of {}",
                log.did()
            )));
        }
        Ok((log, text.len()))
    }

    /// Resolves a DID at the node.
    pub fn fetch_document(&self, did: &Did) -> Result<DidDocument, ResolveError> {
        let unavailable = |why: String| ResolveError::Unavailable(why);
        let (status, result) = self
            .client
            .resolve(did)
            .map_err(|e| unavailable(e.to_string()))?;
        if status == 410 || result["didDocumentMetadata"]["deactivated"] == true {
            return Err(ResolveError::Deactivated(did.clone()));
        }
        if status != 200 {
            // The error is an RFC 9457 problem object (DID Resolution); a node of before said a
            // code.
            let error = &result["didResolutionMetadata"]["error"];
            let kind = error["type"]
                .as_str()
                .or_else(|| error.as_str())
                .unwrap_or("no error type");
            return Err(match kind {
                "https://www.w3.org/ns/did#NOT_FOUND" | "notFound" => {
                    ResolveError::NotFound(did.clone())
                }
                other => unavailable(format!("HTTP {status}: {other:.128}")),
            });
        }
        let document: DidDocument = serde_json::from_value(result["didDocument"].clone())
            .map_err(|e| unavailable(format!("not a DID document: {e}")))?;
        if &document.id != did {
            return Err(unavailable(format!(
                "asked for {did}, answered with {}",
                document.id
            )));
        }
        Ok(document)
    }

    /// The status list credential a credential names, fetched at the same path of the node:
    /// only the path below the node's status-list path is taken from the URL.
    pub fn fetch_status_list(&self, url: &str) -> Result<Value, SourceError> {
        let path = url.find(STATUS_LISTS).map(|at| &url[at..]).ok_or_else(|| {
            SourceError::Resolver(format!("{url} is not a Vouch node's status list URL"))
        })?;
        self.client
            .status_list(path)
            .map_err(|e| SourceError::Resolver(e.to_string()))
    }
}

impl DidResolver for HttpResolver {
    fn resolve(&self, did: &Did) -> Result<DidDocument, ResolveError> {
        if let Some(known) = self.resolved.borrow().get(did) {
            return known.clone();
        }
        let answer = self.node.fetch_document(did);
        self.resolved
            .borrow_mut()
            .insert(did.clone(), answer.clone());
        answer
    }
}

/// What a verification knows: DID logs, an optional resolver, and the status lists held.
pub struct Sources {
    logs: LogResolver,
    http: Option<HttpResolver>,
    /// The status lists, each verified when added.
    pub lists: HeldLists,
}

impl Sources {
    /// Nothing known yet; status lists are judged as of `now`.
    pub fn new(now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            logs: LogResolver::default(),
            http: None,
            lists: HeldLists::new(now),
        }
    }

    /// Adds a did:vouch log; two logs of one DID that diverge are refused.
    pub fn add_log(&mut self, log: DidLog) -> Result<(), SourceError> {
        Ok(self.logs.insert(log)?)
    }

    /// Asks this node's resolver for what no file gave.
    pub fn set_resolver(&mut self, resolver: HttpResolver) {
        self.http = Some(resolver);
    }

    /// Verifies a signed status list credential and holds it.
    pub fn add_status_list(&mut self, raw: &Value) -> Result<(), SourceError> {
        let list = StatusListCredential::verify(raw, self)?;
        self.lists.insert(list);
        Ok(())
    }

    /// Fetches from the resolver every status list these URLs name, also those a file gave: of
    /// two versions the newer is kept, so a stale file never hides a revocation. A list that
    /// cannot be fetched or does not verify is left out: the status check then reports it unknown,
    /// with the error given here for the message.
    pub fn fetch_status_lists<'a>(
        &mut self,
        urls: impl IntoIterator<Item = &'a str>,
    ) -> Vec<SourceError> {
        let mut errors = Vec::new();
        for url in urls {
            let Some(http) = &self.http else {
                return errors;
            };
            match http
                .fetch_status_list(url)
                .and_then(|raw| self.add_status_list(&raw))
            {
                Ok(()) => {}
                Err(e) => errors.push(e),
            }
        }
        errors
    }
}

impl DidResolver for Sources {
    fn resolve(&self, did: &Did) -> Result<DidDocument, ResolveError> {
        if did.method() == "key" {
            return DidKeyResolver.resolve(did);
        }
        match (self.logs.log(did), &self.http) {
            (None, Some(http)) => http.resolve(did),
            _ => self.logs.resolve(did),
        }
    }
}
