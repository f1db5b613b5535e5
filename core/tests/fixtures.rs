//! The root grant every test and benchmark starts from: an org's support agent with a status entry,
//! valid for 15 minutes from a fixed time. Shared by the integration tests and `benches/` (through
//! `#[path]`), so both exercise the same credential.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use vouch_core::capability::Action;
use vouch_core::credential::{AgentDescription, DefinitionHash, Multihash, StatusEntry, Task};
use vouch_core::delegation::RootGrant;
use vouch_core::did::Did;
use vouch_core::did::key::did_of;
use vouch_core::did::resolve::DidKeyResolver;
use vouch_core::key::KeyPair;
use vouch_core::verify::{EntryStatus, StatusSource, TrustList, Verifier};

/// The fixed "now" of tests and benchmarks.
pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
        .single()
        .expect("a valid time")
}

/// The grant of `capabilities` from `org` to `agent`; callers adjust fields before `build`.
pub(crate) fn root_grant(org: &KeyPair, agent: &KeyPair, capabilities: Vec<Value>) -> RootGrant {
    RootGrant {
        issuer: did_of(&org.public()),
        subject: did_of(&agent.public()),
        agent: AgentDescription {
            name: "support-bot".into(),
            version: "1.4.2".into(),
            definition_hash: DefinitionHash::compute(
                "model-x-2026-10",
                "You are a support agent.",
                &json!([{"name": "refund", "schema": {}}]),
                &json!({"temperature": 0}),
            )
            .expect("hashes"),
            owner: "alice@acme.example".into(),
        },
        principal: "urn:vouch:principal:p-7f3a".into(),
        task: Task {
            id: "ticket-4711".into(),
            purpose_hash: Multihash::of(b"refund a duplicate charge"),
        },
        capabilities,
        audience: Vec::new(),
        valid_from: now(),
        lifetime: Duration::minutes(15),
        max_renewals: 4,
        not_after: now() + Duration::hours(2),
        max_depth: 5,
        status: vec![status_entry(42)],
    }
}

/// A revocation entry of the org's list at `index`.
pub(crate) fn status_entry(index: u32) -> StatusEntry {
    StatusEntry::bit(
        format!("https://node.acme.example/status/1#{index}"),
        "revocation",
        index as usize,
        "https://node.acme.example/status/1",
    )
}

/// A status source that finds every entry clear.
pub(crate) struct AllClear;

impl StatusSource for AllClear {
    fn status(&self, _: &Did, _: &StatusEntry) -> Result<EntryStatus, String> {
        Ok(EntryStatus::Clear)
    }
}

/// Trusts `org` for every action.
pub(crate) fn trust_of(org: &KeyPair) -> TrustList {
    TrustList(vec![(
        did_of(&org.public()),
        Action::parse("*").expect("`*` is an action pattern"),
    )])
}

/// A verifier at `at` that trusts `trust` and finds every status entry clear.
pub(crate) fn verifier_at(trust: &TrustList, at: DateTime<Utc>) -> Verifier<'_> {
    let mut verifier = Verifier::new(&DidKeyResolver, at);
    verifier.issuers = Some(trust);
    verifier.status = Some(&AllClear);
    verifier
}
