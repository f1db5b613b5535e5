//! The exchange's two sides, sans I/O: what the verifier asks and decides, what the prover checks
//! and answers, and what each remembers so that nothing is used twice.
//!
//! 1. The verifier [`ask`]s: a fresh challenge, its domain, a DCQL query, the capabilities it
//!    needs decided, and its own presentation over the same challenge and domain.
//! 2. The prover [`answer`]s only a verifier it can authenticate and trusts: the verifier's
//!    presentation verifies (proofs, trusted issuer, status), was made by the peer the transport
//!    authenticated, is fresh, its challenge was never seen, and the domain names the verifier.
//!    It presents exactly the credentials the query selects, with their delegation chains.
//! 3. The verifier decides each capability on its own ([`Asked::decide`]) and signs a
//!    `CapabilityDecision`; the prover [`Answered::accept`]s a decision made for its exchange
//!    only, once.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use rand::RngCore as _;
use serde_json::{Value, json};

use super::{CapabilityRequest, Decided, Decision, DecisionError, Expected, RequestError, Verdict};
use crate::capability::Request;
use crate::credential::{AgentCapabilityCredential, MAX_CREDENTIAL_BYTES, MAX_DEPTH_CAP};
use crate::did::Did;
use crate::key::KeyPair;
use crate::lock::MutexExt as _;
use crate::presentation::{self, Chain, MAX_CREDENTIALS, VerifiedPresentation};
use crate::proof::{Cryptosuite, ProofError};
use crate::report::{Outcome, Reason};
use crate::verify::{ApprovalLedger, Verifier};

/// How old a request may be when the prover answers it (by its verifier presentation's
/// `created`), and how long the verifier waits for the answer.
pub const MAX_REQUEST_AGE: Duration = Duration::seconds(60);
/// How far ahead of the prover's clock a request may be dated.
pub const CLOCK_SKEW: Duration = Duration::seconds(5);
/// The most exchanges one side holds open or remembers at once.
pub const MAX_OPEN: usize = 65_536;
/// The largest response: a presentation of [`MAX_CREDENTIALS`] credentials and its envelope.
pub const MAX_RESPONSE_BYTES: usize = MAX_CREDENTIALS * MAX_CREDENTIAL_BYTES + 64 * 1024;

/// Why the verifier could not ask, or could not decide at all.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The request it would send is not one Vouch reads.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// Its presentation or decision could not be signed.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// The decision could not be made: the response names no prover to decide for.
    #[error("no decision can be made: {0}")]
    Undecidable(&'static str),
    /// The verifier holds as many exchanges awaiting answers as it may: ask again once some
    /// are answered or expired.
    #[error("busy: {0}")]
    Busy(String),
    /// The verifier holds as many exchanges awaiting answers as it may for this client.
    #[error("{0}")]
    Share(String),
}

/// Why the prover refuses to answer a request: a DESIGN §8 reason and what happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} ({message})", reason.code())]
pub struct Refused {
    /// The reason code.
    pub reason: Reason,
    /// What happened.
    pub message: String,
}

impl Refused {
    fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

/// Why the prover did not answer a message: it refused it, or it did not judge it at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unanswered {
    /// Refused, with its DESIGN §8 reason: the verifier's message does not pass.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// Not judged: the prover is at its bound of work (ask again).
    #[error("busy: {0}")]
    Busy(String),
    /// Not judged: the prover failed (its audit log could not be written), so nothing was given
    /// or taken. The cause is the prover's own: it is not sent.
    #[error("failed: {0}")]
    Failed(String),
}

impl Unanswered {
    fn refused(reason: Reason, message: impl Into<String>) -> Self {
        Self::Refused(Refused::new(reason, message))
    }

    /// The reason, when it was refused.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Self::Refused(refused) => Some(refused.reason),
            Self::Busy(_) | Self::Failed(_) => None,
        }
    }
}

/// Why [`Once`] did not keep a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotKept {
    /// Its key is held already: a replay.
    #[error("seen before")]
    Replayed,
    /// The table is at its bound (values, bytes, or the owner's share) with unexpired values.
    #[error("{0}: busy")]
    Full(String),
}

/// Values used once each — challenges, exchanges awaiting their next message — each remembered
/// until it expires and forgotten then, not when the table is full: at most `capacity` at once,
/// at most `budget` bytes of them (by the size each was given with), and at most `share` bytes
/// of one owner's (a client, as the caller counts clients), so that no one owner fills the
/// table for the others.
pub struct Once<T> {
    table: Mutex<OnceTable<T>>,
    capacity: usize,
    budget: usize,
    share: usize,
}

struct OnceTable<T> {
    /// The values by key: until when, their size and owner, the value.
    open: HashMap<String, Held<T>>,
    /// The keys in the order they were given, with their ends: what has expired is found at the
    /// front. A key taken stays here until it is reached (at most twice the capacity are kept:
    /// beyond, the taken are dropped at once).
    order: std::collections::VecDeque<(DateTime<Utc>, String)>,
    /// The sizes of the values held, summed.
    bytes: usize,
    /// The same, per owner that holds any.
    owners: HashMap<u64, usize>,
}

/// A value held, with what it counts for.
struct Held<T> {
    until: DateTime<Utc>,
    size: usize,
    owner: Option<u64>,
    value: T,
}

impl<T> OnceTable<T> {
    /// Forgets what has expired at `now`, from the front of the order, and keeps the order
    /// within twice the capacity. An end later than one given after it waits for it: the ends
    /// of one table are all "now plus its one lifetime", give or take the clock.
    fn expire(&mut self, now: DateTime<Utc>, capacity: usize) {
        while let Some((until, _)) = self.order.front() {
            if *until > now {
                break;
            }
            let Some((_, key)) = self.order.pop_front() else {
                break;
            };
            if self.open.get(&key).is_some_and(|held| held.until <= now) {
                self.remove(&key);
            }
        }
        if self.order.len() > capacity.saturating_mul(2) {
            let open = &self.open;
            self.order.retain(|(_, key)| open.contains_key(key));
        }
    }

    /// Forgets every value expired at `now`, wherever it is in the order: the ends given to
    /// one table may come out of order (a challenge remembered at its answer, with the end it was
    /// sealed with; a request's end from its signed `created`), and one held behind a later end
    /// must not take room once expired. Linear: done only when the table is full.
    fn sweep(&mut self, now: DateTime<Utc>) {
        let expired: Vec<String> = self
            .open
            .iter()
            .filter(|(_, held)| held.until <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for key in expired {
            self.remove(&key);
        }
        let open = &self.open;
        self.order.retain(|(_, key)| open.contains_key(key));
    }

    /// Removes a value and its bytes from the counts.
    fn remove(&mut self, key: &str) -> Option<Held<T>> {
        let held = self.open.remove(key)?;
        self.bytes -= held.size;
        if let Some(owner) = held.owner
            && let Some(bytes) = self.owners.get_mut(&owner)
        {
            *bytes -= held.size;
            if *bytes == 0 {
                self.owners.remove(&owner);
            }
        }
        Some(held)
    }
}

impl<T> Default for Once<T> {
    fn default() -> Self {
        Self::new(MAX_OPEN)
    }
}

impl<T> Once<T> {
    /// Remembers at most `capacity` values at once, of any size.
    pub fn new(capacity: usize) -> Self {
        Self::with_budget(capacity, usize::MAX)
    }

    /// Remembers at most `capacity` values and `budget` bytes of them at once.
    pub fn with_budget(capacity: usize, budget: usize) -> Self {
        Self::with_shares(capacity, budget, budget)
    }

    /// Remembers at most `capacity` values and `budget` bytes of them at once, at most `share`
    /// bytes of one owner's.
    pub fn with_shares(capacity: usize, budget: usize, share: usize) -> Self {
        Self {
            table: Mutex::new(OnceTable {
                open: HashMap::new(),
                order: std::collections::VecDeque::new(),
                bytes: 0,
                owners: HashMap::new(),
            }),
            capacity,
            budget,
            share,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OnceTable<T>> {
        self.table.locked()
    }

    /// Keeps `value` under `key` until `until`. A key held already is a replay (`replayed`); a
    /// table full of unexpired values refuses more until some expire.
    pub fn insert(
        &self,
        key: String,
        until: DateTime<Utc>,
        value: T,
        now: DateTime<Utc>,
    ) -> Result<(), NotKept> {
        self.insert_sized(key, until, value, 0, now)
    }

    /// Keeps `value`, of `size` bytes, under `key` until `until`: as [`Once::insert`], and a
    /// table whose values would take more than its budget refuses it.
    pub fn insert_sized(
        &self,
        key: String,
        until: DateTime<Utc>,
        value: T,
        size: usize,
        now: DateTime<Utc>,
    ) -> Result<(), NotKept> {
        self.insert_owned(key, until, value, size, None, now)
    }

    /// Keeps `value`, of `size` bytes and `owner`'s, under `key` until `until`: as
    /// [`Once::insert_sized`], and an owner whose values would take more than its share is
    /// refused.
    pub fn insert_owned(
        &self,
        key: String,
        until: DateTime<Utc>,
        value: T,
        size: usize,
        owner: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<(), NotKept> {
        let mut table = self.lock();
        table.expire(now, self.capacity);
        if table.open.contains_key(&key) {
            return Err(NotKept::Replayed);
        }
        let owned =
            |table: &OnceTable<T>| owner.map_or(0, |o| table.owners.get(&o).copied().unwrap_or(0));
        let full = |table: &OnceTable<T>| {
            table.open.len() >= self.capacity
                || table.bytes.saturating_add(size) > self.budget
                || owned(table).saturating_add(size) > self.share
        };
        if full(&table) {
            table.sweep(now);
        }
        let owned = owned(&table);
        if full(&table) {
            return Err(NotKept::Full(format!(
                "{} are open ({} bytes, {owned} of this client's)",
                table.open.len(),
                table.bytes
            )));
        }
        table.bytes += size;
        if let Some(owner) = owner {
            *table.owners.entry(owner).or_default() += size;
        }
        table.order.push_back((until, key.clone()));
        table.open.insert(
            key,
            Held {
                until,
                size,
                owner,
                value,
            },
        );
        Ok(())
    }

    /// Takes the value under `key`: once, and only before it expires.
    pub fn take(&self, key: &str, now: DateTime<Utc>) -> Option<T> {
        let mut table = self.lock();
        table.expire(now, self.capacity);
        let held = table.remove(key)?;
        (held.until > now).then_some(held.value)
    }

    /// Whether `owner`'s values and `size` bytes more would exceed its share at `now`.
    pub fn exceeds_share(&self, owner: u64, size: usize, now: DateTime<Utc>) -> bool {
        let mut table = self.lock();
        table.expire(now, self.capacity);
        let owned = table.owners.get(&owner).copied().unwrap_or(0);
        if owned.saturating_add(size) > self.share {
            table.sweep(now);
        }
        table
            .owners
            .get(&owner)
            .copied()
            .unwrap_or(0)
            .saturating_add(size)
            > self.share
    }

    /// Whether a value is held under `key` at `now` (not expired).
    pub fn contains(&self, key: &str, now: DateTime<Utc>) -> bool {
        self.lock()
            .open
            .get(key)
            .is_some_and(|held| held.until > now)
    }

    /// How many are held (the expired forgotten at `now` first).
    pub fn held(&self, now: DateTime<Utc>) -> (usize, usize) {
        let mut table = self.lock();
        table.expire(now, self.capacity);
        (table.open.len(), table.bytes)
    }

    /// How many are held.
    pub fn len(&self) -> usize {
        self.lock().open.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The approvals a verifier used, remembered until they expire, so that one is used once.
impl ApprovalLedger for Once<()> {
    fn is_used(&self, id: &str, now: DateTime<Utc>) -> bool {
        self.contains(id, now)
    }

    fn use_once(&self, id: &str, until: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        self.insert(id.to_owned(), until, (), now).is_ok()
    }
}

/// A fresh challenge: 192 random bits, base64url.
pub fn challenge() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the verifier asks.
pub struct Ask {
    /// Its own credentials (with their chains), presented to the prover: it authenticates too.
    pub credentials: Vec<Value>,
    /// Its domain: its instance's did:key, or its org's DID.
    pub domain: String,
    /// A DCQL query.
    pub query: Value,
    /// The capabilities it needs decided: concrete `{action, resource, arguments}`.
    pub capabilities: Vec<Value>,
}

/// A request the verifier sent, awaiting its response.
#[derive(Debug, Clone)]
pub struct Asked {
    /// The request, as sent.
    pub raw: Value,
    /// The request, read.
    pub request: CapabilityRequest,
    /// The verifier (its instance's did:key).
    pub verifier: Did,
    /// When it was asked.
    pub at: DateTime<Utc>,
}

impl Asked {
    /// What deciding needs and nothing more, for a verifier that keeps requests awaiting their
    /// answers: the request as sent and the verifier's own presentation dropped (the prover
    /// was given them; the decision is made on the request as read).
    pub fn slim(mut self) -> Self {
        self.raw = Value::Null;
        self.request.verifier_presentation = Value::Null;
        self
    }
}

/// Makes a request, signed with the verifier's instance key.
/// Its own presentation signs the request's intent (the hash of everything it asks, and of
/// the verifier), so that a prover shown a changed request finds it signed by no one.
pub fn ask(key: &KeyPair, ask: Ask, now: DateTime<Utc>) -> Result<Asked, ExchangeError> {
    let verifier = crate::did::key::did_of(&key.public());
    let mut raw = json!({
        "verifiablePresentationRequest": {
            "query": [{"type": "DCQLQuery", "dcqlQuery": ask.query}],
            "challenge": challenge(),
            "domain": ask.domain,
        },
        "capabilities": ask.capabilities,
    });
    let intent = super::intent_of(&super::content_of(&raw), &verifier);
    raw["verifierPresentation"] = presentation::create(
        key,
        ask.credentials,
        &intent,
        &ask.domain,
        Cryptosuite::EddsaJcs2022,
        now,
    )?;
    let request = CapabilityRequest::parse(&raw)?;
    Ok(Asked {
        raw,
        request,
        verifier,
        at: now,
    })
}

/// A decision made, and the checks it was made on.
#[derive(Debug, Clone)]
pub struct Judgement {
    /// The decision.
    pub decision: Decision,
    /// The decision, signed: what is sent to the prover.
    pub signed: Value,
    /// The presentation's verification.
    pub verified: VerifiedPresentation,
}

/// The rank of a rejection: the reason of the chain that came closest to granting wins.
fn rank(reason: Reason) -> u8 {
    match reason {
        Reason::NotGranted => 0,
        Reason::ConstraintViolated
        | Reason::UnknownConstraint
        | Reason::AudienceMismatch
        | Reason::NeedsApproval => 1,
        Reason::UntrustedIssuer => 2,
        _ => 3,
    }
}

impl Asked {
    /// Decides each requested capability on the prover's response (`{"verifiablePresentation":
    /// …}`), made by `peer` when the transport authenticated one, and signs the decision with
    /// the verifier's key. Every fault of the prover is a rejection with its reason; only a
    /// response that names no prover at all cannot be decided.
    pub fn decide(
        &self,
        response: &Value,
        peer: Option<&Did>,
        verifier: &Verifier<'_>,
        key: &KeyPair,
    ) -> Result<Judgement, ExchangeError> {
        let presentation = response_presentation(response);
        let empty = json!({});
        // The prover signed what it agreed to: this request, as this verifier asked it.
        let intent = self.request.intent(&self.verifier);
        let bound =
            presentation.is_some_and(|p| super::signed_challenge(p) == Some(intent.as_str()));
        let verified = presentation::verify_presentation(
            presentation.unwrap_or(&empty),
            &intent,
            &self.request.domain,
            verifier,
        );
        let prover = verified
            .holder
            .clone()
            .filter(|h| h.method() == "key")
            .or_else(|| peer.cloned())
            .ok_or(ExchangeError::Undecidable(
                "the response names no did:key holder and no peer was authenticated",
            ))?;
        let decided = self
            .request
            .requests
            .iter()
            .zip(&self.request.capabilities)
            .map(|(request, raw)| {
                let verdict = if presentation.is_none() {
                    Err(Reason::Malformed)
                } else if !bound {
                    Err(Reason::RequestMismatch)
                } else {
                    judge(
                        &verified,
                        presentation,
                        &self.request,
                        peer,
                        request,
                        verifier,
                    )
                    // An approval decided on is used up: a second decision on it is a replay.
                    .and_then(|used| match (used, verifier.approvals) {
                        (None, _) => Ok(()),
                        (Some(approval), Some(ledger))
                            if ledger.use_once(
                                &approval_key(approval),
                                approval.valid_until,
                                verifier.now,
                            ) =>
                        {
                            Ok(())
                        }
                        (Some(_), _) => Err(Reason::Replayed),
                    })
                };
                match verdict {
                    Ok(()) => Decided {
                        capability: raw.clone(),
                        decision: Verdict::Accepted,
                        reason: None,
                        approval_request: None,
                    },
                    Err(reason) => Decided {
                        capability: raw.clone(),
                        decision: Verdict::Rejected,
                        reason: Some(reason),
                        // What the owner is to approve: this very request.
                        approval_request: (reason == Reason::NeedsApproval)
                            .then(|| crate::approval::request_hash(request)),
                    },
                }
            })
            .collect();
        let decision = Decision {
            id: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
            verifier: self.verifier.clone(),
            prover,
            challenge: self.request.challenge.clone(),
            domain: self.request.domain.clone(),
            presentation: super::presentation_hash(presentation.unwrap_or(&empty)),
            decided,
            valid_from: verifier.now,
            valid_until: verifier.now + super::DECISION_LIFETIME,
        };
        let signed = decision.sign(key).map_err(|e| match e {
            DecisionError::Proof(e) => ExchangeError::Proof(e),
            _ => ExchangeError::Undecidable("the decision could not be signed"),
        })?;
        Ok(Judgement {
            decision,
            signed,
            verified,
        })
    }
}

/// The presentation of a response: `{"verifiablePresentation": {…}}`, bounded, nothing else.
fn response_presentation(response: &Value) -> Option<&Value> {
    let object = response.as_object()?;
    if object.len() != 1 || response.to_string().len() > MAX_RESPONSE_BYTES {
        return None;
    }
    object
        .get("verifiablePresentation")
        .filter(|p| p.is_object())
}

/// Decides one requested capability: accepted if a chain the query asked for, whose every
/// credential passed every check, permits it and its root issuer is trusted for its action;
/// otherwise rejected with the reason of the chain that came closest. A capability that needs
/// its owner's approval is permitted with an approval of this exact request by the chain's
/// org, presented and not used before: the approval it was accepted on, to be used up.
fn judge<'v>(
    verified: &'v VerifiedPresentation,
    presentation: Option<&Value>,
    request: &CapabilityRequest,
    peer: Option<&Did>,
    wanted: &Request,
    verifier: &Verifier<'_>,
) -> Result<Option<&'v crate::approval::Approval>, Reason> {
    let failed = |subject: Option<&str>| {
        verified
            .report
            .checks
            .iter()
            .find(|c| c.outcome == Outcome::Failed && c.subject.as_deref() == subject)
            .and_then(|c| c.reason)
    };
    let Some(holder) = &verified.holder else {
        return Err(Reason::Malformed);
    };
    // The presentation itself: its form, proof, challenge and domain.
    if let Some(reason) = failed(Some(holder.as_str())).or_else(|| failed(None)) {
        return Err(reason);
    }
    if peer.is_some_and(|peer| peer != holder) {
        return Err(Reason::NotHolder);
    }
    if verifier.danger_proofs_only {
        return Err(Reason::UntrustedIssuer);
    }
    let presented = presentation
        .and_then(|p| p.get("verifiableCredential"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut best: Option<Reason> = None;
    let mut consider = |reason: Reason| {
        if best.is_none_or(|b| rank(reason) > rank(b)) {
            best = Some(reason);
        }
    };
    for chain in &verified.chains {
        if !leaf_asked_for(chain, presented, request) {
            consider(Reason::NotGranted);
            continue;
        }
        let credential_failure = chain
            .credentials
            .iter()
            .find_map(|c| failed(Some(&c.id.to_string())));
        let unknown_constraint = chain.credentials.iter().any(|c| {
            let prefix = format!("{} capability ", c.id);
            verified.report.checks.iter().any(|check| {
                check.reason == Some(Reason::UnknownConstraint)
                    && check
                        .subject
                        .as_deref()
                        .is_some_and(|s| s.starts_with(&prefix))
            })
        });
        // An approval counts only where a ledger keeps it to one use.
        let approval = verifier.approvals.and_then(|ledger| {
            let hash = crate::approval::request_hash(wanted);
            verified.approvals.iter().find(|a| {
                a.issuer == chain.credentials[0].issuer
                    && a.request == hash
                    && !ledger.is_used(&approval_key(a), verifier.now)
            })
        });
        let asked = Request {
            approved: approval.is_some(),
            ..wanted.clone()
        };
        match chain.permits(&asked, verifier.now) {
            // The chain names the action on the resource: a revoked (or otherwise failed)
            // chain is rejected for that, before its constraints.
            Err(denial) => consider(match (denial.reason(), credential_failure) {
                (Reason::NotGranted, _) if unknown_constraint => Reason::UnknownConstraint,
                (Reason::NotGranted, _) => Reason::NotGranted,
                (_, Some(failure)) => failure,
                (reason, None) => reason,
            }),
            Ok(()) => {
                let root = &chain.credentials[0];
                let trusted = verifier
                    .issuers
                    .is_some_and(|policy| policy.trusts(&root.issuer, &wanted.action));
                match (credential_failure, trusted) {
                    (Some(reason), _) => consider(reason),
                    (None, false) => consider(Reason::UntrustedIssuer),
                    (None, true) => {
                        return Ok(
                            approval.filter(|_| chain_needs_approval(chain, wanted, verifier.now))
                        );
                    }
                }
            }
        }
    }
    // No chain at all: why the credentials did not make one.
    Err(best
        .or_else(|| verified.report.checks.iter().find_map(|c| c.reason))
        .unwrap_or(Reason::NotGranted))
}

/// What a ledger remembers an approval by: its issuer and its id (an id alone could be taken
/// by another org's approval, used first, to have this one refused).
fn approval_key(approval: &crate::approval::Approval) -> String {
    format!("{} {}", approval.issuer, approval.id)
}

/// Whether the chain permits `wanted` at `now` only with the approval: without it, it does not
/// — for whatever reason, so that an approval that made the difference is always used up.
fn chain_needs_approval(chain: &Chain, wanted: &Request, now: DateTime<Utc>) -> bool {
    chain
        .permits(
            &Request {
                approved: false,
                ..wanted.clone()
            },
            now,
        )
        .is_err()
}

/// Whether the chain's leaf, as presented, is a credential the verifier's query asks for.
fn leaf_asked_for(chain: &Chain, presented: &[Value], request: &CapabilityRequest) -> bool {
    let Some(leaf) = chain.credentials.last() else {
        return false;
    };
    let id = leaf.id.to_string();
    presented
        .iter()
        .find(|c| c.get("id").and_then(Value::as_str) == Some(id.as_str()))
        .is_some_and(|raw| request.query.asks_for(raw).unwrap_or(false))
}

/// What the prover holds: its own credentials, and the ancestors of the delegated ones.
pub trait Holdings {
    /// The credentials issued to the prover.
    fn held(&self) -> Vec<Value>;
    /// A credential above one of them, by id.
    fn ancestor(&self, id: &str) -> Option<Value>;
    /// The approvals held (`crate::approval`), presented with what they approve.
    fn approvals(&self) -> Vec<Value> {
        Vec::new()
    }
}

/// An exchange the prover answered, awaiting the verifier's decision.
#[derive(Debug, Clone)]
pub struct Answered {
    /// The verifier, authenticated.
    pub verifier: Did,
    /// The prover.
    pub prover: Did,
    /// The exchange's challenge.
    pub challenge: String,
    /// The exchange's domain.
    pub domain: String,
    /// The capabilities asked, as sent.
    pub capabilities: Vec<Value>,
    /// The response sent: `{"verifiablePresentation": …}`.
    pub response: Value,
    /// The ids of the credentials presented.
    pub presented: Vec<String>,
}

/// Answers a request as the holder of `key`: only to a verifier that authenticates (its
/// presentation verifies with `verifier`, was made by `peer` when the transport authenticated
/// one, is at most [`MAX_REQUEST_AGE`] old, with a challenge never seen in `seen`, for a
/// domain that names it), with exactly what the query selects and its chains.
pub fn answer(
    raw: &Value,
    key: &KeyPair,
    holdings: &dyn Holdings,
    peer: Option<&Did>,
    verifier: &Verifier<'_>,
    seen: &Once<()>,
) -> Result<Answered, Unanswered> {
    let now = verifier.now;
    let request = CapabilityRequest::parse(raw)
        .map_err(|e| Refused::new(Reason::Malformed, e.to_string()))?;
    // The verifier signed this very request: what it asks, as shown here.
    let asker = request.verifier_presentation["holder"]
        .as_str()
        .and_then(|h| Did::parse(h).ok())
        .filter(|h| h.method() == "key")
        .ok_or_else(|| {
            Refused::new(
                Reason::NotHolder,
                "the verifier presents as no agent instance",
            )
        })?;
    let intent = request.intent(&asker);
    if super::signed_challenge(&request.verifier_presentation) != Some(intent.as_str()) {
        return Err(Unanswered::refused(
            Reason::RequestMismatch,
            "the verifier's presentation does not sign this request: changed on its way, or made for another",
        ));
    }
    let theirs = presentation::verify_presentation(
        &request.verifier_presentation,
        &intent,
        &request.domain,
        verifier,
    );
    if let Some(failed) = theirs
        .report
        .checks
        .iter()
        .find(|c| c.outcome == Outcome::Failed)
    {
        return Err(Unanswered::refused(
            failed.reason.unwrap_or(Reason::Malformed),
            format!(
                "the verifier's presentation does not verify: {} {}",
                failed.check,
                failed.detail.as_deref().unwrap_or_default()
            ),
        ));
    }
    if !theirs.report.verified || verifier.danger_proofs_only {
        return Err(Unanswered::refused(
            Reason::UntrustedIssuer,
            "the verifier's presentation was not fully checked",
        ));
    }
    let Some(verifier_did) = theirs.holder.clone().filter(|h| h.method() == "key") else {
        return Err(Unanswered::refused(
            Reason::NotHolder,
            "the verifier presents as no agent instance",
        ));
    };
    if peer.is_some_and(|peer| *peer != verifier_did) {
        return Err(Unanswered::refused(
            Reason::NotHolder,
            format!(
                "the request comes from another peer than its presentation's holder {verifier_did}"
            ),
        ));
    }
    let names_verifier = request.domain == verifier_did.as_str()
        || theirs
            .chains
            .iter()
            .any(|chain| chain.credentials[0].issuer.as_str() == request.domain)
        || super::relying_party(&request.requests).is_some_and(|rp| rp == request.domain);
    if !names_verifier {
        return Err(Unanswered::refused(
            Reason::DomainMismatch,
            "the domain names neither the verifier, nor its organization, nor the relying party whose resources it asks for",
        ));
    }
    let created = request.verifier_presentation["proof"]["created"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| Refused::new(Reason::Malformed, "the verifier's proof has no created"))?;
    if created > now + CLOCK_SKEW || now - created > MAX_REQUEST_AGE {
        return Err(Unanswered::refused(
            Reason::Replayed,
            format!("the request was made at {created}: not fresh"),
        ));
    }
    seen.insert(
        format!("{verifier_did} {}", request.challenge),
        created + MAX_REQUEST_AGE + CLOCK_SKEW,
        (),
        now,
    )
    .map_err(|not_kept| match not_kept {
        NotKept::Replayed => {
            Unanswered::refused(Reason::Replayed, "this request was answered already")
        }
        NotKept::Full(why) => Unanswered::Busy(format!("requests answered: {why}")),
    })?;

    let held = holdings.held();
    let selection = match request.query.select(&held) {
        Err(e) => return Err(Unanswered::refused(Reason::Malformed, e.to_string())),
        Ok(Err(unanswerable)) => {
            return Err(Unanswered::refused(
                Reason::NotGranted,
                unanswerable.to_string(),
            ));
        }
        Ok(Ok(selection)) => selection,
    };
    // The least that answers: of what the query selects, only credentials with a capability
    // that names something asked; none at all is a refusal, with nothing presented.
    let answers = |raw: &Value| {
        AgentCapabilityCredential::from_json(raw).is_ok_and(|typed| {
            typed
                .capabilities()
                .iter()
                .flatten()
                .any(|capability| request.requests.iter().any(|asked| asked.names(capability)))
        })
    };
    let present: Vec<usize> = selection
        .present
        .iter()
        .copied()
        .filter(|&index| answers(&held[index]))
        .collect();
    if present.is_empty() {
        return Err(Unanswered::refused(
            Reason::NotGranted,
            "no credential the query selects has a capability for what is asked",
        ));
    }
    let mut credentials: Vec<Value> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for &index in &present {
        let mut at = held[index].clone();
        for _ in 0..=MAX_DEPTH_CAP {
            let typed = AgentCapabilityCredential::from_json(&at)
                .map_err(|e| Refused::new(Reason::Malformed, format!("a credential held: {e}")))?;
            let id = typed.id.to_string();
            if ids.contains(&id) {
                break;
            }
            ids.push(id);
            credentials.push(at);
            let Some(parent) = typed.credential_subject.delegation.parent else {
                break;
            };
            at = holdings.ancestor(&parent.to_string()).ok_or_else(|| {
                Refused::new(
                    Reason::BrokenChain,
                    format!("the parent {parent} of a credential held is not held"),
                )
            })?;
        }
    }
    // The owner's approvals of exactly what is asked, given to this prover, go with them.
    let prover = crate::did::key::did_of(&key.public());
    let hashes: Vec<_> = request
        .requests
        .iter()
        .map(crate::approval::request_hash)
        .collect();
    credentials.extend(holdings.approvals().into_iter().filter(|raw| {
        crate::approval::Approval::from_json(raw).is_ok_and(|a| {
            a.subject == prover && hashes.contains(&a.request) && a.valid_until > now
        })
    }));
    if credentials.len() > MAX_CREDENTIALS {
        return Err(Unanswered::refused(
            Reason::Malformed,
            format!("the query selects more than {MAX_CREDENTIALS} credentials with their chains"),
        ));
    }
    let presentation = presentation::create(
        key,
        credentials,
        &intent,
        &request.domain,
        Cryptosuite::EddsaJcs2022,
        now,
    )
    .map_err(|e| Refused::new(Reason::Malformed, format!("the presentation: {e}")))?;
    Ok(Answered {
        verifier: verifier_did,
        prover,
        challenge: request.challenge,
        domain: request.domain,
        capabilities: request.capabilities,
        response: json!({ "verifiablePresentation": presentation }),
        presented: ids,
    })
}

impl Answered {
    /// Verifies the verifier's decision on this exchange at `now`: signed by the verifier it
    /// authenticated, for this prover, challenge, domain and presentation, deciding exactly the
    /// capabilities asked, valid now. The caller takes the exchange out of its open ones first,
    /// so that a second decision finds none.
    pub fn accept(&self, raw: &Value, now: DateTime<Utc>) -> Result<Decision, DecisionError> {
        let decision = Decision::verify(
            raw,
            &Expected {
                verifier: &self.verifier,
                prover: &self.prover,
                challenge: &self.challenge,
                domain: &self.domain,
                presentation: &self.response["verifiablePresentation"],
            },
            now,
        )?;
        let decided: Vec<&Value> = decision.decided.iter().map(|d| &d.capability).collect();
        if decided != self.capabilities.iter().collect::<Vec<_>>() {
            return Err(DecisionError::OtherExchange("capabilities"));
        }
        Ok(decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_forgets_on_time_not_when_full_and_keeps_to_its_byte_budget() {
        let t0 = Utc::now();
        let once: Once<Vec<u8>> = Once::with_budget(1_000, 10_000);
        for i in 0..100 {
            once.insert_sized(
                format!("k{i}"),
                t0 + Duration::seconds(60),
                vec![0; 64],
                64,
                t0,
            )
            .expect("room");
        }
        assert_eq!(once.held(t0), (100, 6_400));
        // A second insertion under a key held is a replay.
        assert_eq!(
            once.insert("k1".into(), t0 + Duration::seconds(60), Vec::new(), t0),
            Err(NotKept::Replayed)
        );
        // Beyond the byte budget: refused, though far from the capacity.
        let big = once.insert_sized(
            "big".into(),
            t0 + Duration::seconds(60),
            Vec::new(),
            4_000,
            t0,
        );
        assert!(
            matches!(big, Err(NotKept::Full(_))),
            "6,400 + 4,000 bytes exceed 10,000: busy, not a replay"
        );
        // Taken: its bytes are free again.
        assert!(once.take("k0", t0).is_some());
        assert_eq!(once.held(t0), (99, 6_336));
        // A minute later, with the table far from full, everything is forgotten.
        let later = t0 + Duration::seconds(61);
        assert_eq!(once.held(later), (0, 0));
        assert!(once.take("k5", later).is_none());
    }

    #[test]
    fn values_expired_behind_a_later_end_take_no_room() {
        let t0 = Utc::now();
        let once: Once<()> = Once::new(3);
        once.insert("late".into(), t0 + Duration::seconds(300), (), t0)
            .expect("room");
        for i in 0..2 {
            once.insert(format!("early{i}"), t0 + Duration::seconds(10), (), t0)
                .expect("room");
        }
        // Full at t0; at t0 + 11 s the two early ones have expired behind the late one.
        assert!(
            once.insert("x".into(), t0 + Duration::seconds(60), (), t0)
                .is_err()
        );
        let later = t0 + Duration::seconds(11);
        once.insert("x".into(), later + Duration::seconds(60), (), later)
            .expect("the expired make room");
        once.insert("y".into(), later + Duration::seconds(60), (), later)
            .expect("the expired make room");
    }

    #[test]
    fn one_owner_cannot_fill_the_table_for_the_others() {
        let t0 = Utc::now();
        let until = t0 + Duration::seconds(60);
        let once: Once<()> = Once::with_shares(1_000, 10_000, 1_000);
        for i in 0..10 {
            once.insert_owned(format!("a{i}"), until, (), 100, Some(1), t0)
                .expect("within a's share");
        }
        assert!(
            once.insert_owned("a10".into(), until, (), 100, Some(1), t0)
                .is_err(),
            "beyond a's share"
        );
        once.insert_owned("b0".into(), until, (), 100, Some(2), t0)
            .expect("b has its own share");
        // a's share comes back as its values are taken.
        assert!(once.take("a0", t0).is_some());
        once.insert_owned("a10".into(), until, (), 100, Some(1), t0)
            .expect("room in a's share again");
    }

    #[test]
    fn keys_taken_at_once_do_not_grow_the_order_without_bound() {
        let t0 = Utc::now();
        let once: Once<()> = Once::new(8);
        for i in 0..10_000 {
            let key = format!("k{i}");
            once.insert(key.clone(), t0 + Duration::seconds(60), (), t0)
                .expect("room");
            assert!(once.take(&key, t0).is_some());
        }
        assert!(once.lock().order.len() <= 16);
    }
}
