//! What the wallet daemon verifies exchanges with: the consortium's membership (its
//! trusted-issuer policy), did:vouch logs and status lists, fetched from its org's node and each
//! checked here before it counts — nothing the daemon decides rests on the node's word (DESIGN
//! §8). Each is kept for a short, bounded time so that an exchange does not wait on HTTP.
//!
//! - The membership comes from the signed genesis and amendments the node publishes
//!   (`GET /1.0/consortium`), checked against the genesis hash the daemon was configured with:
//!   the genesis signed by every member, each amendment by the members of the state it amends.
//!   Once held, it only moves forward: an answer with fewer amendments changes nothing, a fork is
//!   refused. It is fetched again after [`Freshness::trust`]; without a configured hash, or
//!   before any answer checked, no one is trusted.
//! - DID documents are resolved from did:vouch logs (`GET /1.0/logs/{did}`), verified from their
//!   genesis (the DID is the hash of it); a shorter log never replaces a longer one held, two that
//!   diverge leave the DID resolving to neither. Logs are fetched again after
//!   [`Freshness::documents`]; did:key is computed.
//! - Status lists are verified (signed by their issuer, under its log's keys) before they are
//!   kept, and fetched again when the copy is older than [`Freshness::lists`] (half a second by
//!   default), so a revocation reaches the wallet's decisions at most that long after it reached
//!   the node. A copy that cannot be refreshed is used no longer than
//!   [`Freshness::max_copy_age`]; past it, the status is unknown and the capability rejected:
//!   fail closed.
//!
//! Every table is bounded; nothing is a verdict: each exchange is decided from scratch.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use vouch_core::capability::Action;
use vouch_core::consortium::Membership;
use vouch_core::did::document::DidDocument;
use vouch_core::did::resolve::DidKeyResolver;
use vouch_core::did::{Did, DidResolver, ResolveError};
use vouch_core::did_vouch::LogResolver;
use vouch_core::status::{HeldLists, StatusListCredential, list_urls};
use vouch_core::verify::TrustList;

use crate::sources::NodeHttp;
use vouch_core::lock::MutexExt as _;

/// The most DIDs and status lists kept.
pub const MAX_KEPT: usize = 4096;
/// The most bytes of did:vouch logs kept.
pub const MAX_LOG_BYTES_KEPT: usize = 64 * 1024 * 1024;

/// How long what was fetched is used.
#[derive(Debug, Clone, Copy)]
pub struct Freshness {
    /// A DID's log (or the node's answer that it has none), before it is fetched again.
    pub documents: Duration,
    /// A status list, before it is fetched again.
    pub lists: Duration,
    /// A status list or a DID's log that cannot be fetched again, at most.
    pub max_copy_age: Duration,
    /// The consortium's membership, before it is fetched again.
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

/// The did:vouch logs held: verified, merged (a longer log extends a shorter one; two that
/// diverge are both kept as evidence), and when each was last fetched.
#[derive(Default)]
struct Logs {
    resolver: LogResolver,
    fetched: HashMap<Did, Instant>,
    /// DIDs the node has no log of, and when it said so.
    missing: HashMap<Did, Instant>,
    bytes: usize,
}

/// The node's knowledge, checked, kept briefly.
pub struct NodeKnowledge {
    node: NodeHttp,
    freshness: Freshness,
    /// The hash of the consortium's genesis: the root of every trusted issuer.
    genesis: Option<String>,
    logs: Mutex<Logs>,
    lists: Mutex<HashMap<String, Kept<StatusListCredential>>>,
    membership: Mutex<Option<Kept<Membership>>>,
}

/// What one verification uses.
pub struct Known {
    /// The status lists of the credentials verified.
    pub lists: HeldLists,
    /// The trusted-issuer policy.
    pub trust: TrustList,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.locked()
}

impl NodeKnowledge {
    /// Knowledge from the node `node`, whose consortium's genesis has the hash `genesis` (see
    /// `vouch_core::consortium::Consortium::hash`); without one, no issuer is trusted.
    pub fn new(node: NodeHttp, genesis: Option<String>, freshness: Freshness) -> Self {
        Self {
            node,
            freshness,
            genesis,
            logs: Mutex::new(Logs::default()),
            lists: Mutex::new(HashMap::new()),
            membership: Mutex::new(None),
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

    /// The consortium's trusted-issuer policy: its members and the actions each may attest.
    fn trust(&self) -> TrustList {
        self.membership()
            .map(|membership| {
                TrustList(
                    membership
                        .members()
                        .iter()
                        .flat_map(|m| {
                            m.actions
                                .iter()
                                .filter_map(|a| Action::parse(a).ok())
                                .map(|a| (m.did.clone(), a))
                        })
                        .collect(),
                )
            })
            .unwrap_or_default()
    }

    /// The membership in force, as checked: fetched again when older than
    /// [`Freshness::trust`], moving only forward.
    pub fn membership(&self) -> Option<Membership> {
        let genesis = self.genesis.as_deref()?;
        let held = lock(&self.membership).clone();
        if let Some((at, membership)) = &held
            && at.elapsed() < self.freshness.trust
        {
            return Some(membership.clone());
        }
        let checked = self
            .node
            .fetch_consortium()
            .map_err(|e| e.to_string())
            .and_then(|published| published.membership(genesis).map_err(|e| e.to_string()));
        let next = match (checked, held) {
            (Ok(fetched), None) => fetched,
            (Ok(fetched), Some((_, mut membership))) => {
                // What is held stays unless the node's amendments extend it.
                if let Err(e) = membership.apply_all(fetched.amendments()) {
                    crate::log_line!("the node's consortium forks the one held: {e}");
                }
                membership
            }
            (Err(e), held) => {
                crate::log_line!("the node's consortium is not trusted: {e}");
                // A membership checked before stays in force: it is signed, and only an
                // amendment changes it.
                let (_, membership) = held?;
                membership
            }
        };
        *lock(&self.membership) = Some((Instant::now(), next.clone()));
        Some(next)
    }

    /// Resolves a did:vouch from its log: the one held while fresh, else fetched again and
    /// merged into it; held longer only while the node cannot be asked, up to
    /// [`Freshness::max_copy_age`].
    fn resolve_vouch(&self, did: &Did) -> Result<DidDocument, ResolveError> {
        {
            let logs = lock(&self.logs);
            if let Some(at) = logs.missing.get(did)
                && at.elapsed() < self.freshness.documents
            {
                return Err(ResolveError::NotFound(did.clone()));
            }
            if logs
                .fetched
                .get(did)
                .is_some_and(|at| at.elapsed() < self.freshness.documents)
            {
                return logs.resolver.resolve(did);
            }
        }
        let fetched = self.node.fetch_log(did);
        let mut logs = lock(&self.logs);
        match fetched {
            Ok((log, bytes)) => {
                if logs.fetched.len() + logs.missing.len() >= MAX_KEPT
                    || logs.bytes + bytes > MAX_LOG_BYTES_KEPT
                {
                    *logs = Logs::default();
                }
                logs.bytes += bytes;
                // Two logs that diverge: both kept as evidence, the DID resolves to neither.
                let _ = logs.resolver.insert(log);
                logs.missing.remove(did);
                logs.fetched.insert(did.clone(), Instant::now());
                logs.resolver.resolve(did)
            }
            // A log held is not given up because the node says it has none.
            Err(ResolveError::NotFound(_)) if logs.resolver.log(did).is_none() => {
                if logs.missing.len() >= MAX_KEPT {
                    logs.missing.clear();
                }
                logs.missing.insert(did.clone(), Instant::now());
                Err(ResolveError::NotFound(did.clone()))
            }
            Err(error) => match logs.fetched.get(did) {
                Some(at) if at.elapsed() < self.freshness.max_copy_age => {
                    logs.resolver.resolve(did)
                }
                _ => Err(error),
            },
        }
    }
}

impl DidResolver for NodeKnowledge {
    fn resolve(&self, did: &Did) -> Result<DidDocument, ResolveError> {
        match did.method() {
            "key" => DidKeyResolver.resolve(did),
            "vouch" => self.resolve_vouch(did),
            other => Err(ResolveError::MethodNotSupported(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use vouch_core::consortium::{
        Amendment, Change, Consortium, Member, MemberSignature, Published, peer_id_of,
    };
    use vouch_core::key::KeyPair;

    #[test]
    fn an_unreachable_node_gives_no_trust_and_no_status() {
        // A port nothing listens on: bound, then closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a port")
            .port();
        let node = crate::sources::Reach::new()
            .node(&format!("http://127.0.0.1:{port}"))
            .expect("a URL");
        let genesis = Some("zQmSomeGenesis".to_owned());
        let knowledge = NodeKnowledge::new(NodeHttp::new(node), genesis, Freshness::default());
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
        let logs = lock(&knowledge.logs);
        assert!(logs.fetched.is_empty() && logs.missing.is_empty());
    }

    /// A hostile node: answers each path with what the test put there, anything else `404`.
    struct Hostile {
        base: String,
        answers: std::sync::Arc<Mutex<HashMap<String, String>>>,
    }

    impl Hostile {
        fn start() -> Self {
            use std::io::{BufRead, Write};
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
            let base = format!("http://{}", listener.local_addr().expect("an address"));
            let answers = std::sync::Arc::new(Mutex::new(HashMap::<String, String>::new()));
            let served = answers.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let mut reader = std::io::BufReader::new(&stream);
                    let mut line = String::new();
                    let _ = reader.read_line(&mut line);
                    let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {}
                    let (status, body) = match lock(&served).get(&path) {
                        Some(body) => ("200 OK", body.clone()),
                        None => ("404 Not Found", "{}".to_owned()),
                    };
                    let _ = write!(
                        &stream,
                        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            });
            Self { base, answers }
        }

        fn set(&self, path: &str, body: impl Into<String>) {
            lock(&self.answers).insert(path.to_owned(), body.into());
        }

        /// Knowledge from this node, fetched again on every use.
        fn knowledge(&self, genesis: Option<String>) -> NodeKnowledge {
            let node = crate::sources::Reach::new()
                .node(&self.base)
                .expect("a loopback URL");
            let freshness = Freshness {
                documents: Duration::ZERO,
                lists: Duration::ZERO,
                trust: Duration::ZERO,
                ..Freshness::default()
            };
            NodeKnowledge::new(NodeHttp::new(node), genesis, freshness)
        }
    }

    fn member(key: &KeyPair) -> Member {
        let did = vouch_core::did_vouch::create(
            vouch_core::did_vouch::DocumentContent::single_key(&key.public()),
            key,
            &[KeyPair::generate().public()],
            chrono::Utc::now(),
        )
        .expect("a DID")
        .0;
        Member {
            did,
            node_key: key.public(),
            peer_id: peer_id_of(&key.public()),
            addresses: Vec::new(),
            actions: vec!["*".into()],
        }
    }

    fn published(genesis: &Consortium, amendments: &[Amendment]) -> String {
        serde_json::to_string(&Published {
            genesis: genesis.clone(),
            amendments: amendments.to_vec(),
        })
        .expect("JSON")
    }

    fn trusts(knowledge: &NodeKnowledge, did: &Did) -> bool {
        let action = Action::parse("call:billing_api:refund").expect("an action");
        vouch_core::verify::IssuerPolicy::trusts(&knowledge.trust(), did, &action)
    }

    #[test]
    fn the_members_trusted_are_the_configured_genesis_and_its_signed_amendments_moving_forward() {
        let keys: Vec<KeyPair> = (0..3).map(|_| KeyPair::generate()).collect();
        let members: Vec<Member> = keys.iter().map(member).collect();
        let genesis = Consortium::sign("c", members.clone(), None, &keys).expect("signed");
        let node = Hostile::start();
        node.set("/1.0/consortium", published(&genesis, &[]));
        let knowledge = node.knowledge(Some(genesis.hash()));
        assert!(members.iter().all(|m| trusts(&knowledge, &m.did)));

        // The node adds a member of its own, signed by it and one member of the three needed:
        // refused, the membership held stays.
        let rogue_key = KeyPair::generate();
        let rogue = member(&rogue_key);
        let held = Membership::new(&genesis);
        let mut admission = held
            .propose(
                Change::Add(Box::new(rogue.clone())),
                &keys[0],
                chrono::Utc::now(),
            )
            .expect("proposed");
        admission.signatures.push(MemberSignature {
            node_key: rogue_key.public(),
            signature: admission.signatures[0].signature.clone(),
        });
        node.set("/1.0/consortium", published(&genesis, &[admission]));
        assert!(!trusts(&knowledge, &rogue.did));
        assert!(members.iter().all(|m| trusts(&knowledge, &m.did)));

        // A removal every member signed: the removed member is trusted no more...
        let mut removal = held
            .propose(
                Change::Remove {
                    did: members[2].did.clone(),
                },
                &keys[0],
                chrono::Utc::now(),
            )
            .expect("proposed");
        for key in &keys[1..] {
            held.sign(&mut removal, key).expect("signed");
        }
        node.set("/1.0/consortium", published(&genesis, &[removal]));
        assert!(!trusts(&knowledge, &members[2].did));
        // ...even when the node answers with the genesis alone again (a rollback).
        node.set("/1.0/consortium", published(&genesis, &[]));
        assert!(!trusts(&knowledge, &members[2].did));
        assert!(trusts(&knowledge, &members[0].did));

        // Another genesis, well signed, naming the rogue: not the one configured.
        let theirs =
            Consortium::sign("c", vec![rogue.clone()], None, &[rogue_key]).expect("signed");
        node.set("/1.0/consortium", published(&theirs, &[]));
        let fresh = node.knowledge(Some(genesis.hash()));
        assert!(!trusts(&fresh, &rogue.did));
        assert!(
            !trusts(&fresh, &members[0].did),
            "nothing checked yet: no one trusted"
        );
        // And a daemon given no genesis hash trusts no one, whatever is published.
        node.set("/1.0/consortium", published(&genesis, &[]));
        assert!(!trusts(&node.knowledge(None), &members[0].did));
    }

    #[test]
    fn did_documents_come_from_logs_checked_here_and_never_roll_back() {
        use vouch_core::did_vouch::{DidLog, DocumentContent, VersionSelector, create, update};
        let (update_1, update_2) = (KeyPair::generate(), KeyPair::generate());
        let (key_1, key_2) = (KeyPair::generate(), KeyPair::generate());
        let now = chrono::Utc::now();
        let (did, genesis) = create(
            DocumentContent::single_key(&key_1.public()),
            &update_1,
            &[update_2.public()],
            now,
        )
        .expect("a DID");
        let mut log = DidLog::new(genesis).expect("a log");
        let version_1 = log.to_jsonl();
        let document_1 = log.resolve(VersionSelector::Latest).expect("v1").document;
        log.apply(
            update(
                &log,
                DocumentContent::single_key(&key_2.public()),
                &update_2,
                &[KeyPair::generate().public()],
                now,
            )
            .expect("rotated"),
        )
        .expect("applied");
        let version_2 = log.to_jsonl();
        let document_2 = log.resolve(VersionSelector::Latest).expect("v2").document;

        let node = Hostile::start();
        let knowledge = node.knowledge(None);
        // The node's word — a resolution result naming an attacker's key — counts for nothing;
        // a log of another DID is not this DID's.
        let attacker = KeyPair::generate();
        let forged = DocumentContent::single_key(&attacker.public()).to_document(&did);
        node.set(
            &format!("/1.0/identifiers/{did}"),
            serde_json::json!({"didDocument": forged, "didDocumentMetadata": {}, "didResolutionMetadata": {}}).to_string(),
        );
        let (_, elsewhere) = create(
            DocumentContent::single_key(&attacker.public()),
            &attacker,
            &[attacker.public()],
            now,
        )
        .expect("a DID");
        node.set(
            &format!("/1.0/logs/{did}"),
            DidLog::new(elsewhere).expect("a log").to_jsonl(),
        );
        assert!(matches!(
            knowledge.resolve(&did),
            Err(ResolveError::Unavailable(_))
        ));
        // Its own log: checked from its genesis.
        node.set(&format!("/1.0/logs/{did}"), version_1.clone());
        assert_eq!(knowledge.resolve(&did), Ok(document_1));
        node.set(&format!("/1.0/logs/{did}"), version_2);
        assert_eq!(knowledge.resolve(&did), Ok(document_2.clone()));
        // The node rolls back to the key rotated away: the longer log held stays.
        node.set(&format!("/1.0/logs/{did}"), version_1.clone());
        assert_eq!(knowledge.resolve(&did), Ok(document_2.clone()));
        // A log tampered with (the document of version 1 swapped): refused, the log held stays.
        let tampered = version_1.replace(
            &key_1.public().to_multibase(),
            &attacker.public().to_multibase(),
        );
        assert_ne!(tampered, version_1);
        node.set(&format!("/1.0/logs/{did}"), tampered);
        assert_eq!(knowledge.resolve(&did), Ok(document_2));
    }
}
