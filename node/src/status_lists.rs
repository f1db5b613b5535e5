//! Status lists: the org's own Bitstring Status List credentials, changed through the admin API
//! and signed by the org's key, and every member's, received from peers, verified and kept at
//! their newest version.
//!
//! A list's URL, its credential's `id`, is `<public URL>/1.0/status-lists/<issuer DID>/<name>`:
//! any node serves any member's list at the same path, and the path names the issuer, so one
//! issuer can never publish a list in another's place. A version replaces the one held only if it
//! is dated strictly later (`validFrom`): an older one is a rollback and is refused.
//!
//! All of it is blocking (it calls the store); async code calls it through `spawn_blocking`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::Value;
use vouch_core::capability::Action;
use vouch_core::did::document::DidDocument;
use vouch_core::did::resolve::DidResolver;
use vouch_core::did::{Did, ResolveError};
use vouch_core::status::{
    HeldLists, MIN_ENTRIES, Purpose, StatusError, StatusList, StatusListCredential, list_urls,
};
use vouch_core::sync::{Collection, ItemId};
use vouch_core::verify::{IssuerPolicy, TrustList};

use crate::consortium::Members;
use crate::fault::{Judgement, PeerMisbehaved};
use crate::org::{Org, OrgError};
use crate::registry::{MAX_CLOCK_SKEW_SECS, Registry, RegistryError};
use crate::store::{Batch, ListKey, Store, StoreError};
use vouch_core::lock::MutexExt as _;

/// The largest status list credential taken from a peer: a list of about a million entries,
/// however random its bits.
pub const MAX_STATUS_LIST_BYTES: usize = 256 * 1024;
/// The path below which status lists are served.
pub const PATH: &str = vouch_api::node::client::STATUS_LISTS;
/// The most bits one admin request may change.
pub const MAX_CHANGES: usize = 100_000;
/// How long a version of the org's lists is valid by default, in seconds.
pub const DEFAULT_TTL_SECS: i64 = 300;
/// The longest list name.
const MAX_NAME_LEN: usize = 64;

/// Why a status list was refused or could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum StatusListError {
    /// Larger than any status list the network carries.
    #[error("{0} bytes: larger than {MAX_STATUS_LIST_BYTES}")]
    TooLarge(usize),
    /// Not JSON.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// Not a valid status list credential.
    #[error(transparent)]
    Invalid(#[from] StatusError),
    /// Its proof verifies against no version of its issuer's DID held.
    #[error("the proof does not verify: {0}")]
    BadProof(StatusError),
    /// The `id` is not a status list URL of its issuer.
    #[error("the id must be <base>{PATH}<issuer DID>/<name>: {0}")]
    BadUrl(&'static str),
    /// A list name is not 1 to 64 of `a-z 0-9 -`.
    #[error("a list name is 1 to {MAX_NAME_LEN} of a-z, 0-9 and -")]
    BadName,
    /// The issuer is no consortium member.
    #[error("{0} is not a consortium member")]
    NotAMember(Did),
    /// The issuer was a member, and was removed.
    #[error("{0} is no longer a consortium member")]
    FormerMember(Did),
    /// The issuer's DID is not held yet: the list cannot be checked now.
    #[error("the issuer {0} is not known yet")]
    IssuerUnknown(Did),
    /// Not verifiable against the issuer's DID as held, and dated after its last version: it
    /// may be signed with a key of a version this node does not hold yet.
    #[error("not verifiable against {0} as held; it may be signed with a key of a later version")]
    IssuerAhead(Did),
    /// Dated later than this node's clock allows.
    #[error("the list is dated {0}, more than {MAX_CLOCK_SKEW_SECS} s ahead of this node's clock")]
    FromTheFuture(String),
    /// The list held has another purpose.
    #[error("the list has purpose {held}")]
    PurposeMismatch {
        /// The purpose of the list held.
        held: &'static str,
    },
    /// A revocation cannot be undone.
    #[error("entry {0} is revoked: a revocation cannot be undone")]
    Irreversible(usize),
    /// Too many changes in one request.
    #[error("at most {MAX_CHANGES} changes at once")]
    TooManyChanges,
    /// The org's key or DID is unusable.
    #[error(transparent)]
    Org(#[from] OrgError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

impl StatusListError {
    /// What a list from a peer that failed so comes to.
    pub fn judgement(&self) -> Judgement {
        match self {
            Self::TooLarge(bytes) => PeerMisbehaved::TooLarge {
                bytes: *bytes,
                limit: MAX_STATUS_LIST_BYTES,
            }
            .into(),
            Self::NotJson(why) => PeerMisbehaved::Malformed(why.clone()).into(),
            Self::Invalid(e) => PeerMisbehaved::Malformed(e.to_string()).into(),
            Self::BadProof(e) => PeerMisbehaved::InvalidSignature(e.to_string()).into(),
            Self::BadUrl(why) => PeerMisbehaved::WrongUrl(why).into(),
            Self::NotAMember(did) => PeerMisbehaved::NotAMember(did.to_string()).into(),
            Self::FromTheFuture(when) => PeerMisbehaved::FromTheFuture(when.clone()).into(),
            Self::FormerMember(_) => Judgement::Known,
            Self::IssuerUnknown(_) | Self::IssuerAhead(_) => {
                tracing::debug!(error = %self, "a status list cannot be checked yet");
                Judgement::Behind
            }
            // Failures of this node, and errors only the admin API meets.
            Self::Store(_)
            | Self::Registry(_)
            | Self::Org(_)
            | Self::BadName
            | Self::PurposeMismatch { .. }
            | Self::Irreversible(_)
            | Self::TooManyChanges => {
                tracing::warn!(error = %self, "could not judge a status list");
                Judgement::Unjudged
            }
        }
    }
}

/// A list a page brings: the newest version so far (its JSON, as stored), and the version
/// stored before the page.
struct Pending {
    current: Option<(Vec<u8>, StatusListCredential)>,
    stored: Option<(Vec<u8>, StatusListCredential)>,
    changed: bool,
}

/// A list from a peer that passed every check but the comparison with the version held.
enum Checked {
    /// Valid now: `json` as it is stored.
    Valid {
        key: ListKey,
        json: Vec<u8>,
        list: StatusListCredential,
    },
    /// Validly signed with a key its issuer has since rotated away.
    SignedBeforeRotation,
}

/// What a peer's list came to.
fn judge(received: Result<Received, StatusListError>) -> Judgement {
    match received {
        Ok(Received::Stored) => Judgement::Accepted,
        Ok(Received::Duplicate) => Judgement::Known,
        Ok(Received::Stale) => {
            tracing::debug!("refused a status list older than the one held");
            Judgement::Known
        }
        Ok(Received::SignedBeforeRotation) => {
            tracing::debug!("refused a status list signed with a key since rotated away");
            Judgement::Known
        }
        Err(e) => e.judgement(),
    }
}

/// The most indexes one allocation gives.
pub const MAX_ALLOCATION: usize = 1024;

pub use vouch_api::node::admin::Slot;

/// A change of the bits of one of the org's lists: see [`StatusLists::change_all`].
#[derive(Debug, Clone)]
pub struct ListChange {
    /// The list's name.
    pub name: String,
    /// What its bits mean.
    pub purpose: Purpose,
    /// Bits to set.
    pub set: Vec<usize>,
    /// Bits to clear (before those set are set).
    pub clear: Vec<usize>,
}

/// What became of a list from a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Received {
    /// Newer than the one held (or the first): stored, to be forwarded.
    Stored,
    /// The version held already.
    Duplicate,
    /// Older than the one held, or another version of the same date: a rollback, refused.
    Stale,
    /// Validly signed with a key the issuer has since rotated away: genuine but superseded (the
    /// issuer signs its lists anew after a rotation). Not stored.
    SignedBeforeRotation,
}

/// The key of the status list at a list URL, with the issuer's DID.
pub fn key_of(id: &str) -> Result<(Did, ListKey), StatusListError> {
    let (_, rest) = id
        .split_once(PATH)
        .ok_or(StatusListError::BadUrl("no status list path"))?;
    if !(id.starts_with("https://") || id.starts_with("http://")) {
        return Err(StatusListError::BadUrl("not an http(s) URL"));
    }
    let (did, name) = rest
        .rsplit_once('/')
        .ok_or(StatusListError::BadUrl("no list name"))?;
    check_name(name).map_err(|_| StatusListError::BadUrl("bad list name"))?;
    let did = Did::parse(did).map_err(|_| StatusListError::BadUrl("no issuer DID"))?;
    let key = ListKey::new(&did, name);
    Ok((did, key))
}

fn check_name(name: &str) -> Result<(), StatusListError> {
    let valid = (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(StatusListError::BadName)
    }
}

/// The status lists this node holds.
#[derive(Debug, Clone)]
pub struct StatusLists {
    store: Arc<Store>,
    registry: Registry,
    org: Org,
    /// Where this node's HTTP server is reached from outside, without a trailing `/`.
    public_url: String,
    /// Whose lists are accepted: the consortium's members now (this org alone without one).
    members: Members,
    /// Serializes read-compare-write of a list.
    writer: Arc<Mutex<()>>,
    /// How long each version of the org's lists is valid (`validUntil`).
    ttl: Duration,
    /// The oldest list a verification here uses.
    max_age: Duration,
}

impl StatusLists {
    /// The status lists of a node.
    pub fn new(
        store: Arc<Store>,
        registry: Registry,
        org: Org,
        public_url: &str,
        members: Members,
    ) -> Self {
        Self {
            store,
            registry,
            org,
            public_url: public_url.trim_end_matches('/').to_owned(),
            members,
            writer: Arc::new(Mutex::new(())),
            ttl: Duration::seconds(DEFAULT_TTL_SECS),
            max_age: Duration::seconds(DEFAULT_TTL_SECS),
        }
    }

    /// Signs the org's lists valid for `ttl`, and uses no list older than `max_age` in a
    /// verification here.
    pub fn with_freshness(mut self, ttl: Duration, max_age: Duration) -> Self {
        self.ttl = ttl.max(Duration::seconds(2));
        self.max_age = max_age;
        self
    }

    /// How long each version of the org's lists is valid.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The heartbeat: signs anew, as their next versions with the same bits, the org's lists
    /// that are valid for less than half their lifetime more, so that a verifier always finds a
    /// version that has not expired. Returns them, to publish.
    pub fn refresh(&self, now: DateTime<Utc>) -> Result<Vec<Value>, StatusListError> {
        let prefix = format!("{}/", self.org.did());
        let mut due = Vec::new();
        for (key, json) in self.store.status_lists()? {
            let Some(name) = key.as_str().strip_prefix(&prefix) else {
                continue;
            };
            let list = held(&key, &json)?;
            if list
                .valid_until
                .is_none_or(|until| until - now < self.ttl / 2)
            {
                due.push(ListChange {
                    name: name.to_owned(),
                    purpose: list.purpose,
                    set: Vec::new(),
                    clear: Vec::new(),
                });
            }
        }
        if due.is_empty() {
            return Ok(Vec::new());
        }
        self.change_all(&due, Batch::default(), now)
    }

    /// The URL of the org's list `name`.
    pub fn url_of(&self, name: &str) -> String {
        format!("{}{PATH}{}/{name}", self.public_url, self.org.did())
    }

    /// The signed credential held under `key`, as JSON.
    pub fn get(&self, key: &ListKey) -> Result<Option<Vec<u8>>, StatusListError> {
        Ok(self.store.status_list(key)?)
    }

    /// Every list held: its URL and the date of its version.
    pub fn inventory(&self) -> Result<Vec<(String, DateTime<Utc>)>, StatusListError> {
        let mut inventory = Vec::new();
        for (key, json) in self.store.status_lists()? {
            let held = held(&key, &json)?;
            inventory.push((held.id, held.valid_from));
        }
        Ok(inventory)
    }

    /// Judges a status list credential from a peer: verified, and kept if it is newer than the
    /// version held. An older version is no fault of the sender: gossip may reorder.
    pub fn receive(&self, data: &[u8], now: DateTime<Utc>) -> Judgement {
        self.receive_all(&[data], now)
            .pop()
            .expect("one judgement per list")
    }

    /// Judges status lists from a peer (a page of a sync), stored in one batch. One judgement
    /// per item, in the order given.
    pub fn receive_all(&self, items: &[&[u8]], now: DateTime<Utc>) -> Vec<Judgement> {
        let checked: Vec<Result<Checked, StatusListError>> =
            items.iter().map(|data| self.check(data, now)).collect();
        let _guard = self.writer.locked();
        // Each list this page brings, compared with the newest version so far: one version per
        // key per batch.
        let mut pending: HashMap<ListKey, Pending> = HashMap::new();
        let mut received: Vec<Result<Received, StatusListError>> = Vec::with_capacity(items.len());
        for result in checked {
            received.push(result.and_then(|checked| match checked {
                Checked::SignedBeforeRotation => Ok(Received::SignedBeforeRotation),
                Checked::Valid { key, json, list } => {
                    if !pending.contains_key(&key) {
                        let stored = match self.store.status_list(&key)? {
                            Some(json) => Some((json.clone(), held(&key, &json)?)),
                            None => None,
                        };
                        let current = stored.clone();
                        pending.insert(
                            key.clone(),
                            Pending {
                                current,
                                stored,
                                changed: false,
                            },
                        );
                    }
                    let p = pending.get_mut(&key).expect("inserted above");
                    Ok(match &p.current {
                        Some((held_json, _)) if *held_json == json => Received::Duplicate,
                        Some((_, held)) if !list.supersedes(held) => Received::Stale,
                        _ => {
                            p.current = Some((json, list));
                            p.changed = true;
                            Received::Stored
                        }
                    })
                }
            }));
        }
        let mut batch = Batch::default();
        let mut stored = 0;
        for (key, p) in &pending {
            let (Some((json, list)), true) = (&p.current, p.changed) else {
                continue;
            };
            self.store.put_status_list(
                &mut batch,
                key,
                json,
                list.valid_from,
                p.stored
                    .as_ref()
                    .map(|(json, list)| (json.as_slice(), list.valid_from)),
            );
            stored += 1;
        }
        if stored > 0 {
            if let Err(e) = self.store.commit(batch) {
                let e = StatusListError::Store(e);
                return received
                    .into_iter()
                    .map(|r| match r {
                        Ok(Received::Stored) => e.judgement(),
                        other => judge(other),
                    })
                    .collect();
            }
            for _ in 0..stored {
                self.registry.metrics().record_status_list_stored();
            }
        }
        received.into_iter().map(judge).collect()
    }

    /// The checks of a list from a peer before it is compared with the version held; cheap ones
    /// before the proof: size, form, member issuer, URL.
    fn check(&self, data: &[u8], now: DateTime<Utc>) -> Result<Checked, StatusListError> {
        if data.len() > MAX_STATUS_LIST_BYTES {
            return Err(StatusListError::TooLarge(data.len()));
        }
        let raw: Value =
            serde_json::from_slice(data).map_err(|e| StatusListError::NotJson(e.to_string()))?;
        let (did, key) = key_of(raw["id"].as_str().unwrap_or_default())?;
        if raw["issuer"].as_str() != Some(did.as_str()) {
            return Err(StatusListError::BadUrl("the path names another issuer"));
        }
        match self.members.is_member(&did) {
            Some(true) => {}
            // A member removed since: an honest peer may not have the amendment yet.
            Some(false) if self.members.removed_at(&did).is_some() => {
                return Err(StatusListError::FormerMember(did));
            }
            None if did == *self.org.did() => {}
            _ => return Err(StatusListError::NotAMember(did)),
        }
        let Some(issuer_updated) = self.registry.latest_version_time(&did)? else {
            return Err(StatusListError::IssuerUnknown(did));
        };
        let list = StatusListCredential::parse(&raw)?;
        if list.valid_from > now + Duration::seconds(MAX_CLOCK_SKEW_SECS) {
            return Err(StatusListError::FromTheFuture(list.valid_from.to_rfc3339()));
        }
        if let Err(error) = StatusListCredential::verify(&raw, &self.registry) {
            // Signed with a key in force when it was made, since rotated away: genuine, and
            // superseded by the version the issuer signed anew.
            if self.verifies_at(&raw, &did, list.valid_from)? {
                return Ok(Checked::SignedBeforeRotation);
            }
            // Dated at or after the issuer's last version held, it may be signed with a key of
            // a version still on its way (a rotation gossiped on the other topic): not checkable
            // now, and not the sender's fault. Anti-entropy brings both.
            if list.valid_from >= issuer_updated {
                return Err(StatusListError::IssuerAhead(did));
            }
            return Err(StatusListError::BadProof(error));
        }
        let json = serde_json::to_vec(&raw).expect("JSON values always serialize");
        Ok(Checked::Valid { key, json, list })
    }

    /// The status lists held, for anti-entropy: `(timestamp, id)` in order.
    pub fn sync_items(&self) -> Result<Vec<(u64, ItemId)>, StatusListError> {
        Ok(self.store.sync_items(Collection::StatusLists)?)
    }

    /// Lists held, by id, as stored.
    pub fn fetch(&self, ids: &[ItemId]) -> Result<Vec<Vec<u8>>, StatusListError> {
        Ok(self.store.sync_fetch(Collection::StatusLists, ids)?)
    }

    /// Gives `count` indexes of the org's lists of `purpose` never given before, each chosen at
    /// random among the unused ones of the list in use (herd privacy: an index tells nothing of
    /// when or to whom it was given); a full list is followed by the next (`issued-<purpose>-<n>`).
    /// The indexes are stored as given before they are returned: none is given twice, whatever
    /// crashes.
    pub fn allocate(&self, purpose: Purpose, count: usize) -> Result<Vec<Slot>, StatusListError> {
        self.allocate_in(purpose, count, MIN_ENTRIES)
    }

    fn allocate_in(
        &self,
        purpose: Purpose,
        count: usize,
        capacity: usize,
    ) -> Result<Vec<Slot>, StatusListError> {
        use rand::Rng as _;
        if count > MAX_ALLOCATION {
            return Err(StatusListError::TooManyChanges);
        }
        let _guard = self.writer.locked();
        let mut n = self.store.current_status_list(purpose.as_str())?;
        let name = |n: u32| format!("issued-{}-{n}", purpose.as_str());
        let mut bits = self
            .store
            .status_indexes(&name(n))?
            .unwrap_or_else(|| vec![0; capacity.div_ceil(8)]);
        let mut used = bits.iter().map(|b| b.count_ones() as usize).sum::<usize>();
        let mut rng = rand::thread_rng();
        let mut batch = Batch::default();
        let mut slots = Vec::with_capacity(count);
        let is_set = |bits: &[u8], i: usize| bits[i / 8] & (1 << (i % 8)) != 0;
        for _ in 0..count {
            if used >= capacity {
                self.store.put_status_indexes(&mut batch, &name(n), &bits);
                n += 1;
                bits = vec![0; capacity.div_ceil(8)];
                used = 0;
            }
            // Random tries first; when the list is nearly full, the first free index after a
            // random start.
            let mut index = (0..64)
                .map(|_| rng.gen_range(0..capacity))
                .find(|&i| !is_set(&bits, i));
            if index.is_none() {
                let start = rng.gen_range(0..capacity);
                index = (0..capacity)
                    .map(|k| (start + k) % capacity)
                    .find(|&i| !is_set(&bits, i));
            }
            let index = index.expect("a list not full has a free index");
            bits[index / 8] |= 1 << (index % 8);
            used += 1;
            slots.push(Slot {
                name: name(n),
                index,
            });
        }
        self.store.put_status_indexes(&mut batch, &name(n), &bits);
        self.store
            .put_current_status_list(&mut batch, purpose.as_str(), n);
        self.store.commit(batch)?;
        Ok(slots)
    }

    /// Whether `raw` verifies against its issuer's DID document as it was at `time`: signed with
    /// a key in force then.
    fn verifies_at(
        &self,
        raw: &Value,
        issuer: &Did,
        time: DateTime<Utc>,
    ) -> Result<bool, StatusListError> {
        Ok(self
            .registry
            .documents_at(issuer, time)?
            .into_iter()
            .any(|then| StatusListCredential::verify(raw, &DocumentAt(then)).is_ok()))
    }

    /// Changes bits of the org's list `name`, creating it (with [`MIN_ENTRIES`] entries) if
    /// it is new, and signs and stores its next version. Returns the signed credential, to be
    /// published. Bits in `clear` are cleared, then bits in `set` are set. Revocations are
    /// final: clearing a revocation bit is refused, and so is every change of a request with a
    /// bad index.
    pub fn change(
        &self,
        name: &str,
        purpose: Purpose,
        set: &[usize],
        clear: &[usize],
        now: DateTime<Utc>,
    ) -> Result<Value, StatusListError> {
        if set.len() + clear.len() > MAX_CHANGES {
            return Err(StatusListError::TooManyChanges);
        }
        let change = ListChange {
            name: name.to_owned(),
            purpose,
            set: set.to_vec(),
            clear: clear.to_vec(),
        };
        let mut signed = self.change_all(&[change], Batch::default(), now)?;
        Ok(signed.pop().expect("one list changed"))
    }

    /// Changes several of the org's lists as [`change`](Self::change) does one, and writes their
    /// next versions together with `batch` — what the caller records of the same change — in
    /// one atomic write: all of it is stored, or nothing. Returns the signed lists, to be
    /// published. Each list appears once.
    pub fn change_all(
        &self,
        changes: &[ListChange],
        mut batch: Batch,
        now: DateTime<Utc>,
    ) -> Result<Vec<Value>, StatusListError> {
        // Times are kept to the millisecond, as they are written.
        let now = now.trunc_subsecs(3);
        let _guard = self.writer.locked();
        let (key_pair, method) = self.org.signing_key()?;
        let mut signed = Vec::with_capacity(changes.len());
        let mut seen = std::collections::HashSet::new();
        for change in changes {
            check_name(&change.name)?;
            if !seen.insert(change.name.as_str()) {
                return Err(StatusListError::BadName);
            }
            let key = ListKey::new(self.org.did(), &change.name);
            let stored = self.store.status_list(&key)?;
            let mut held_version = None;
            let mut next = match stored {
                Some(stored) => {
                    let held = held(&key, &stored)?;
                    held_version = Some((stored, held.valid_from));
                    if held.purpose != change.purpose {
                        return Err(StatusListError::PurposeMismatch {
                            held: held.purpose.as_str(),
                        });
                    }
                    // Strictly later than the version it replaces, whatever the clock says.
                    let valid_from = now.max(held.valid_from + Duration::milliseconds(1));
                    StatusListCredential {
                        valid_from,
                        valid_until: Some(valid_from + self.ttl),
                        ..held
                    }
                }
                None => StatusListCredential {
                    id: self.url_of(&change.name),
                    issuer: self.org.did().clone(),
                    valid_from: now,
                    valid_until: Some(now + self.ttl),
                    purpose: change.purpose,
                    list: StatusList::new(MIN_ENTRIES)?,
                },
            };
            for &index in &change.clear {
                if change.purpose == Purpose::Revocation && next.list.get(index)? {
                    return Err(StatusListError::Irreversible(index));
                }
                next.list.set(index, false)?;
            }
            for &index in &change.set {
                next.list.set(index, true)?;
            }
            let list = next.sign(&key_pair, method.clone())?;
            let json = serde_json::to_vec(&list).expect("JSON values always serialize");
            self.store.put_status_list(
                &mut batch,
                &key,
                &json,
                next.valid_from,
                held_version
                    .as_ref()
                    .map(|(json, from)| (json.as_slice(), *from)),
            );
            signed.push(list);
        }
        self.store.commit(batch)?;
        for _ in &signed {
            self.registry.metrics().record_status_list_stored();
        }
        Ok(signed)
    }

    /// Whether the org's list `name` has been signed and stored.
    pub fn exists(&self, name: &str) -> Result<bool, StatusListError> {
        Ok(self
            .store
            .status_list(&ListKey::new(self.org.did(), name))?
            .is_some())
    }

    /// Signs the org's lists that no longer verify against its DID (after a rotation, their
    /// proofs name a key the document no longer lists) anew with the key in force, each as its
    /// next version with the same bits. Returns the new versions, to be published.
    pub fn resign_stale(&self, now: DateTime<Utc>) -> Result<Vec<Value>, StatusListError> {
        let prefix = format!("{}/", self.org.did());
        let mut signed = Vec::new();
        for (key, json) in self.store.status_lists()? {
            let Some(name) = key.as_str().strip_prefix(&prefix) else {
                continue;
            };
            let raw: Value = serde_json::from_slice(&json).map_err(|e| StoreError::Corrupt {
                key: key.to_string(),
                reason: e.to_string(),
            })?;
            if StatusListCredential::verify(&raw, &self.registry).is_ok() {
                continue;
            }
            let purpose = held(&key, &json)?.purpose;
            signed.push(self.change(name, purpose, &[], &[], now)?);
        }
        Ok(signed)
    }
}

/// What a verification on this node knows: the lists it holds for the credentials to verify, each
/// verified again, and the trusted-issuer policy in force.
pub struct Knowledge {
    /// The status lists the credentials name that this node holds and that verify now.
    pub lists: HeldLists,
    policy: Box<dyn IssuerPolicy + Send + Sync>,
}

impl Knowledge {
    /// The trusted-issuer policy: the consortium's, or this org alone for a node alone.
    pub fn policy(&self) -> &dyn IssuerPolicy {
        self.policy.as_ref()
    }
}

impl StatusLists {
    /// The trusted-issuer policy as pairs of an issuer and the action patterns it may attest:
    /// the consortium's members now, or this org alone (for everything) without a consortium.
    pub fn trusted_issuers(&self) -> Vec<(Did, Vec<String>)> {
        match self.members.now() {
            Some(membership) => membership
                .members()
                .iter()
                .map(|m| (m.did.clone(), m.actions.clone()))
                .collect(),
            None => vec![(self.org.did().clone(), vec!["*".to_owned()])],
        }
    }

    /// What a verification of `credentials` here needs: the lists they name that this node holds
    /// (stored because they verified; verified again against the documents held now), and the
    /// consortium's trusted-issuer policy. Nothing is cached between verifications.
    pub fn knowledge(
        &self,
        credentials: &[&Value],
        now: DateTime<Utc>,
    ) -> Result<Knowledge, StatusListError> {
        self.knowledge_of_lists(list_urls(credentials.iter().copied()), now)
    }

    /// The same for the lists at `urls`.
    pub fn knowledge_of_lists<'a>(
        &self,
        urls: impl IntoIterator<Item = &'a str>,
        now: DateTime<Utc>,
    ) -> Result<Knowledge, StatusListError> {
        let mut lists = HeldLists::new(now).with_max_age(self.max_age);
        for url in urls {
            let Ok((_, key)) = key_of(url) else {
                continue;
            };
            let Some(json) = self.get(&key)? else {
                continue;
            };
            let Ok(raw) = serde_json::from_slice::<Value>(&json) else {
                continue;
            };
            if let Ok(list) = StatusListCredential::verify(&raw, &self.registry) {
                lists.insert(list);
            }
        }
        let policy: Box<dyn IssuerPolicy + Send + Sync> = match self.members.now() {
            Some(membership) => Box::new(membership),
            None => Box::new(TrustList(vec![(
                self.org.did().clone(),
                Action::parse("*").expect("`*` is an action pattern"),
            )])),
        };
        Ok(Knowledge { lists, policy })
    }
}

/// One DID document, as it was at some version: the resolver a document signed then is checked
/// against.
pub struct DocumentAt(pub DidDocument);

impl DidResolver for DocumentAt {
    fn resolve(&self, did: &Did) -> Result<DidDocument, ResolveError> {
        if *did == self.0.id {
            Ok(self.0.clone())
        } else {
            Err(ResolveError::NotFound(did.clone()))
        }
    }
}

/// Reads a list as stored: it was verified before it was stored.
fn held(key: &ListKey, json: &[u8]) -> Result<StatusListCredential, StatusListError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        key: key.to_string(),
        reason,
    };
    let raw: Value = serde_json::from_slice(json).map_err(|e| corrupt(e.to_string()))?;
    Ok(StatusListCredential::parse(&raw).map_err(|e| corrupt(e.to_string()))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn list_urls_name_their_issuer() {
        let did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";
        let (issuer, key) =
            key_of(&format!("https://node.example{PATH}{did}/revocation-1")).unwrap();
        assert_eq!(issuer.as_str(), did);
        assert_eq!(key.as_str(), format!("{did}/revocation-1"));
        for bad in [
            format!("https://node.example/status/{did}/revocation-1"),
            format!("ftp://node.example{PATH}{did}/revocation-1"),
            format!("https://node.example{PATH}{did}/Revocation"),
            format!("https://node.example{PATH}{did}/"),
            format!("https://node.example{PATH}not-a-did/revocation-1"),
            format!("https://node.example{PATH}{did}"),
        ] {
            assert!(key_of(&bad).is_err(), "{bad}");
        }
    }

    fn lists(dir: &std::path::Path) -> StatusLists {
        let store = Arc::new(Store::open(dir).unwrap());
        let registry = Registry::new(store.clone(), crate::metrics::Metrics::new());
        let did = Did::parse("did:vouch:zQmTestTestTestTestTestTestTestTestTestTestTest").unwrap();
        let org = Org::new(dir.to_path_buf(), did, registry.clone());
        StatusLists::new(
            store,
            registry,
            org,
            "http://node.example",
            Members::alone(),
        )
    }

    #[test]
    fn indexes_are_random_never_given_twice_and_a_full_list_is_followed_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let capacity = 300;
        let mut given = HashSet::new();
        {
            let lists = lists(dir.path());
            for _ in 0..5 {
                for slot in lists
                    .allocate_in(Purpose::Revocation, 100, capacity)
                    .unwrap()
                {
                    assert!(slot.index < capacity);
                    assert!(given.insert(slot), "an index given twice");
                }
            }
        }
        // Reopened: the store remembers, nothing is given again.
        let lists = lists(dir.path());
        for slot in lists
            .allocate_in(Purpose::Revocation, 100, capacity)
            .unwrap()
        {
            assert!(given.insert(slot), "an index given twice after a restart");
        }
        let per_list = |name: &str| given.iter().filter(|s| s.name == name).count();
        assert_eq!(per_list("issued-revocation-1"), capacity);
        assert_eq!(per_list("issued-revocation-2"), capacity);
        assert_eq!(per_list("issued-revocation-3"), 0);
        // Random, not in order: the first hundred of a fresh list are not 0..100.
        let first: Vec<usize> = lists
            .allocate_in(Purpose::Suspension, 100, 131_072)
            .unwrap()
            .into_iter()
            .map(|s| s.index)
            .collect();
        assert_ne!(first, (0..100).collect::<Vec<_>>());
        assert!(
            lists
                .allocate_in(Purpose::Suspension, MAX_ALLOCATION + 1, capacity)
                .is_err()
        );
    }
}
