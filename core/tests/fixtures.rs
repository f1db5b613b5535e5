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

#[allow(dead_code)] // used by the signed-request tests and bench, not by every includer
/// What a signed request is made of: who signs, relying on which credential (held as
/// `credentials`, root first), for which call.
pub(crate) struct Signer<'a> {
    pub(crate) key: &'a KeyPair,
    pub(crate) credential: &'a str,
    pub(crate) credentials: &'a [Value],
    pub(crate) action: &'a str,
}

/// The header fields of a `POST` to `target` signed as a wallet daemon signs it, at `at`
/// (seconds): `content-type` and the body's digest when there is a body, `Vouch-Capability`,
/// the presentation over the signature's nonce when `present`, the `vouch` signature.
#[allow(dead_code)] // used by the signed-request tests and bench, not by every includer
pub(crate) fn signed_headers(
    signer: &Signer<'_>,
    target: &url::Url,
    body: Option<&[u8]>,
    present: bool,
    at: i64,
) -> Vec<(String, String)> {
    use base64::Engine as _;
    use vouch_core::http_signature::{
        self, CAPABILITY_FIELD, Component, LABEL, MAX_LIFETIME_SECS, Parameters, TAG,
    };
    use vouch_core::signed_request::PRESENTATION_FIELD;
    let nonce = vouch_core::exchange::flow::challenge();
    let mut headers = Vec::new();
    let mut covered = vec![Component::Method, Component::TargetUri];
    if let Some(body) = body {
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
        headers.push((
            "content-digest".to_owned(),
            http_signature::content_digest(body),
        ));
        covered.push(Component::Field("content-type".into()));
        covered.push(Component::Field("content-digest".into()));
    }
    headers.push((
        CAPABILITY_FIELD.to_owned(),
        format!(
            "credential=\"{}\", action=\"{}\"",
            signer.credential, signer.action
        ),
    ));
    covered.push(Component::Field(CAPABILITY_FIELD.into()));
    if present {
        let presentation = vouch_core::presentation::create(
            signer.key,
            signer.credentials.to_vec(),
            &nonce,
            &target.origin().ascii_serialization(),
            vouch_core::proof::Cryptosuite::EddsaJcs2022,
            DateTime::from_timestamp(at, 0).expect("a time"),
        )
        .expect("presents");
        let text = serde_json::to_vec(&presentation).expect("JSON");
        headers.push((
            PRESENTATION_FIELD.into(),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text),
        ));
        covered.push(Component::Field(PRESENTATION_FIELD.into()));
    }
    let parameters = Parameters {
        created: Some(at),
        expires: Some(at + MAX_LIFETIME_SECS),
        nonce: Some(nonce),
        keyid: Some(vouch_core::did::key::verification_method_of(&signer.key.public()).to_string()),
        alg: Some("ed25519".into()),
        tag: Some(TAG.into()),
    };
    let request = http_signature::Request {
        method: "POST",
        target,
        headers: &headers,
        body,
    };
    let made =
        http_signature::sign(signer.key, &request, &covered, &parameters, LABEL).expect("signs");
    headers.push(("signature-input".into(), made.input));
    headers.push(("signature".into(), made.signature));
    headers
}
