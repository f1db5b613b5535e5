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
use std::io::Read;
use std::time::Duration;

use serde_json::Value;
use vouch_core::capability::Action;
use vouch_core::did::document::DidDocument;
use vouch_core::did::resolve::DidKeyResolver;
use vouch_core::did::vouch::{DidLog, LogError, LogResolver};
use vouch_core::did::{Did, DidResolver, ResolveError};
use vouch_core::status::{HeldLists, StatusError, StatusListCredential};
use vouch_core::verify::TrustList;

/// The largest answer read from a resolver: a status list credential of a million entries, or a
/// DID resolution result, with room.
pub const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;
/// The path below which a node serves status lists (the node's `status_lists::PATH`).
const STATUS_LISTS_PATH: &str = "/1.0/status-lists/";

/// Why a source could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Two logs of one DID diverge, or a log is invalid.
    #[error(transparent)]
    Log(#[from] LogError),
    /// A status list does not verify.
    #[error("status list: {0}")]
    StatusList(#[from] StatusError),
    /// The resolver's URL is not `http://host[:port]`.
    #[error("--resolver must be an http:// URL without a path: {0}")]
    BadResolverUrl(String),
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
    /// A resolver at `base`, such as `http://127.0.0.1:8080`.
    pub fn new(base: &str) -> Result<Self, SourceError> {
        Ok(Self {
            node: NodeHttp::new(base)?,
            resolved: RefCell::new(BTreeMap::new()),
        })
    }

    /// The status list credential a credential names, fetched at the same path of this resolver.
    pub fn fetch_status_list(&self, url: &str) -> Result<Value, SourceError> {
        self.node.fetch_status_list(url)
    }
}

/// The public read paths of a node: DID resolution, status lists, the trusted-issuer policy.
/// Shared between threads; it remembers nothing.
#[derive(Clone)]
pub struct NodeHttp {
    base: String,
    agent: ureq::Agent,
}

impl NodeHttp {
    /// The node at `base`, such as `http://127.0.0.1:8080`.
    pub fn new(base: &str) -> Result<Self, SourceError> {
        let base = base.trim_end_matches('/');
        let authority = base
            .strip_prefix("http://")
            .ok_or_else(|| SourceError::BadResolverUrl(base.to_owned()))?;
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
            return Err(SourceError::BadResolverUrl(base.to_owned()));
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        Ok(Self {
            base: base.to_owned(),
            agent,
        })
    }

    /// GETs a path of the resolver: its status and JSON body, bounded in size.
    fn get(&self, path: &str) -> Result<(u16, Value), String> {
        let url = format!("{}{path}", self.base);
        let mut response = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status().as_u16();
        let mut text = String::new();
        response
            .body_mut()
            .as_reader()
            .take(MAX_RESPONSE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("{url}: {e}"))?;
        if text.len() as u64 > MAX_RESPONSE_BYTES {
            return Err(format!(
                "{url}: answer larger than {MAX_RESPONSE_BYTES} bytes"
            ));
        }
        let json = serde_json::from_str(&text).map_err(|e| format!("{url}: not JSON: {e}"))?;
        Ok((status, json))
    }

    /// Resolves a DID at the node.
    pub fn fetch_document(&self, did: &Did) -> Result<DidDocument, ResolveError> {
        let unavailable = |why: String| ResolveError::Unavailable(why);
        let (status, result) = self
            .get(&format!("/1.0/identifiers/{did}"))
            .map_err(unavailable)?;
        if status != 200 {
            let code = result["didResolutionMetadata"]["error"]
                .as_str()
                .unwrap_or("no error code");
            return Err(match code {
                "notFound" => ResolveError::NotFound(did.clone()),
                "deactivated" => ResolveError::Deactivated(did.clone()),
                other => unavailable(format!("HTTP {status}: {other}")),
            });
        }
        if result["didDocumentMetadata"]["deactivated"] == true {
            return Err(ResolveError::Deactivated(did.clone()));
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
        let path = url
            .find(STATUS_LISTS_PATH)
            .map(|at| &url[at..])
            .ok_or_else(|| {
                SourceError::Resolver(format!("{url} is not a Vouch node's status list URL"))
            })?;
        match self.get(path).map_err(SourceError::Resolver)? {
            (200, list) => Ok(list),
            (status, body) => Err(SourceError::Resolver(format!(
                "{path}: HTTP {status} {}",
                body["code"].as_str().unwrap_or_default()
            ))),
        }
    }
}

impl NodeHttp {
    /// The node's trusted-issuer policy (`GET /1.0/trust`).
    pub fn fetch_trust(&self) -> Result<TrustList, SourceError> {
        let bad = |why: &str| SourceError::Resolver(format!("/1.0/trust: {why}"));
        let (status, body) = self.get("/1.0/trust").map_err(SourceError::Resolver)?;
        if status != 200 {
            return Err(bad(&format!("HTTP {status}")));
        }
        let mut pairs = Vec::new();
        for issuer in body["issuers"]
            .as_array()
            .ok_or_else(|| bad("no issuers"))?
        {
            let did = issuer["did"]
                .as_str()
                .and_then(|d| Did::parse(d).ok())
                .ok_or_else(|| bad("an issuer without a DID"))?;
            for action in issuer["actions"]
                .as_array()
                .ok_or_else(|| bad("no actions"))?
            {
                let action = action
                    .as_str()
                    .and_then(|a| Action::parse(a).ok())
                    .ok_or_else(|| bad("an action that is no pattern"))?;
                pairs.push((did.clone(), action));
            }
        }
        Ok(TrustList(pairs))
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
#[derive(Default)]
pub struct Sources {
    logs: LogResolver,
    http: Option<HttpResolver>,
    /// The status lists, each verified when added.
    pub lists: HeldLists,
}

impl Sources {
    /// Nothing known yet.
    pub fn new() -> Self {
        Self::default()
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
