//! What the wallet daemon verifies exchanges with: DID documents, status lists and the
//! trusted-issuer policy, from its org's node (the node an agent trusts for resolution, DESIGN
//! §1), each kept for a short, bounded time so that an exchange does not wait on HTTP.
//!
//! - Status lists are verified (signed by their issuer) before they are kept, and fetched again
//!   when the copy is older than [`Freshness::lists`] (half a second by default), so a
//!   revocation reaches the wallet's decisions at most that long after it reached the node. A
//!   copy that cannot be refreshed is used no longer than [`Freshness::max_copy_age`]; past it,
//!   the status is unknown and the capability rejected: fail closed.
//! - DID documents (and the node's answers that there is none) are kept
//!   [`Freshness::documents`]; did:key is computed.
//! - The policy is kept [`Freshness::trust`]; one that cannot be fetched trusts no one.
//!
//! Every table is bounded; nothing is a verdict: each exchange is decided from scratch.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use vouch_core::did::document::DidDocument;
use vouch_core::did::resolve::DidKeyResolver;
use vouch_core::did::{Did, DidResolver, ResolveError};
use vouch_core::status::{HeldLists, StatusListCredential, list_urls};
use vouch_core::verify::TrustList;

use crate::sources::NodeHttp;

/// The most DID documents and status lists kept.
pub const MAX_KEPT: usize = 4096;

/// How long what was fetched is used.
#[derive(Debug, Clone, Copy)]
pub struct Freshness {
    /// A DID document (or the error resolving it).
    pub documents: Duration,
    /// A status list, before it is fetched again.
    pub lists: Duration,
    /// A status list that cannot be fetched again, at most.
    pub max_copy_age: Duration,
    /// The trusted-issuer policy.
    pub trust: Duration,
}

impl Default for Freshness {
    fn default() -> Self {
        Self {
            documents: Duration::from_secs(30),
            lists: Duration::from_millis(500),
            max_copy_age: Duration::from_secs(30),
            trust: Duration::from_secs(30),
        }
    }
}

/// What was fetched, and when.
type Kept<T> = (Instant, T);

/// The node's knowledge, kept briefly.
pub struct NodeKnowledge {
    node: NodeHttp,
    freshness: Freshness,
    documents: Mutex<HashMap<Did, Kept<Result<DidDocument, ResolveError>>>>,
    lists: Mutex<HashMap<String, Kept<StatusListCredential>>>,
    trust: Mutex<Option<(Instant, TrustList)>>,
}

/// What one verification uses.
pub struct Known {
    /// The status lists of the credentials verified.
    pub lists: HeldLists,
    /// The trusted-issuer policy.
    pub trust: TrustList,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl NodeKnowledge {
    /// Knowledge from the node at `node`.
    pub fn new(node: NodeHttp, freshness: Freshness) -> Self {
        Self {
            node,
            freshness,
            documents: Mutex::new(HashMap::new()),
            lists: Mutex::new(HashMap::new()),
            trust: Mutex::new(None),
        }
    }

    /// What verifying `credentials` at `now` needs: their status lists (fetched again when
    /// older than [`Freshness::lists`]) and the policy. Blocking (HTTP).
    pub fn known(&self, credentials: &[&Value], now: chrono::DateTime<chrono::Utc>) -> Known {
        let mut lists = HeldLists::new(now);
        for url in list_urls(credentials.iter().copied()) {
            if let Some(list) = self.list(url) {
                lists.insert(list);
            }
        }
        Known {
            lists,
            trust: self.trust(),
        }
    }

    fn list(&self, url: &str) -> Option<StatusListCredential> {
        let kept = lock(&self.lists).get(url).cloned();
        if let Some((at, list)) = &kept
            && at.elapsed() < self.freshness.lists
        {
            return Some(list.clone());
        }
        let fetched = self
            .node
            .fetch_status_list(url)
            .ok()
            .and_then(|raw| StatusListCredential::verify(&raw, self).ok())
            .filter(|list| list.id == url);
        match (fetched, kept) {
            (Some(list), kept) => {
                // A version older than the one kept is a rollback: the kept one stays.
                let list = match kept {
                    Some((_, held)) if !list.supersedes(&held) && list != held => held,
                    _ => list,
                };
                let mut lists = lock(&self.lists);
                if lists.len() >= MAX_KEPT && !lists.contains_key(url) {
                    lists.clear();
                }
                lists.insert(url.to_owned(), (Instant::now(), list.clone()));
                Some(list)
            }
            (None, Some((at, list))) if at.elapsed() < self.freshness.max_copy_age => Some(list),
            (None, _) => None,
        }
    }

    fn trust(&self) -> TrustList {
        if let Some((at, trust)) = lock(&self.trust).as_ref()
            && at.elapsed() < self.freshness.trust
        {
            return trust.clone();
        }
        match self.node.fetch_trust() {
            Ok(trust) => {
                *lock(&self.trust) = Some((Instant::now(), trust.clone()));
                trust
            }
            Err(_) => TrustList::default(),
        }
    }
}

impl DidResolver for NodeKnowledge {
    fn resolve(&self, did: &Did) -> Result<DidDocument, ResolveError> {
        if did.method() == "key" {
            return DidKeyResolver.resolve(did);
        }
        if let Some((at, kept)) = lock(&self.documents).get(did)
            && at.elapsed() < self.freshness.documents
        {
            return kept.clone();
        }
        let resolved = self.node.fetch_document(did);
        if matches!(resolved, Err(ResolveError::Unavailable(_))) {
            // The node could not be asked: asked again next time.
            return resolved;
        }
        let mut documents = lock(&self.documents);
        if documents.len() >= MAX_KEPT {
            documents.clear();
        }
        documents.insert(did.clone(), (Instant::now(), resolved.clone()));
        resolved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_unreachable_node_gives_no_trust_and_no_status() {
        // A port nothing listens on: bound, then closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a port")
            .port();
        let node = NodeHttp::new(&format!("http://127.0.0.1:{port}")).expect("a URL");
        let knowledge = NodeKnowledge::new(node, Freshness::default());
        let credential = json!({"credentialStatus": [{
            "id": "https://n.example/1.0/status-lists/did:vouch:zQmX/revocation-1#1",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": "1",
            "statusListCredential": "https://n.example/1.0/status-lists/did:vouch:zQmX/revocation-1",
        }]});
        let known = knowledge.known(&[&credential], chrono::Utc::now());
        // No one trusted, no list held: every capability is rejected (`untrusted_issuer`,
        // `status_unknown`), never accepted for want of knowledge.
        assert!(known.trust.0.is_empty());
        let entry: vouch_core::credential::StatusEntry =
            serde_json::from_value(credential["credentialStatus"][0].clone()).expect("an entry");
        let did = Did::parse("did:vouch:zQmX").expect("a DID");
        assert!(vouch_core::verify::StatusSource::status(&known.lists, &did, &entry).is_err());
        // Not remembered: the node is asked again next time.
        assert!(matches!(
            knowledge.resolve(&did),
            Err(ResolveError::Unavailable(_))
        ));
        assert!(lock(&knowledge.documents).is_empty());
    }
}
