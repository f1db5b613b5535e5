//! A service's check of a signed request (`vouch_core::signed_request`): the first request of a
//! session presents the chain, later ones name it; what is kept is bound to the origin, the
//! signer and the credential, and checked again for what changes.

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Duration;
use serde_json::{Map, Value, json};
use url::Url;
use vouch_core::credential::StatusEntry;
use vouch_core::did::Did;
use vouch_core::http_signature::Request;
use vouch_core::key::KeyPair;
use vouch_core::proof::Cryptosuite;
use vouch_core::report::Reason;
use vouch_core::signed_request::{self, PRESENTATION_FIELD, Refused, Sessions};
use vouch_core::verify::{EntryStatus, StatusSource, Verifier};

use crate::fixtures::{Signer, now, root_grant, signed_headers, trust_of};
use crate::flows::sign_as;

/// Status entries all clear until `revoked` is set.
#[derive(Default)]
struct Lists {
    revoked: AtomicBool,
}

impl StatusSource for Lists {
    fn status(&self, _: &Did, _: &StatusEntry) -> Result<EntryStatus, String> {
        Ok(match self.revoked.load(Ordering::SeqCst) {
            true => EntryStatus::Set,
            false => EntryStatus::Clear,
        })
    }
}

const BILLING: &str = "https://billing.acme.example";
const LEDGER: &str = "https://ledger.acme.example";

/// An agent of `org` with one refund capability at each of two services, its credential pinned
/// to the first (its audience).
struct Agent {
    key: KeyPair,
    credential: Value,
    id: String,
}

fn agent(org: &KeyPair) -> Agent {
    let key = KeyPair::generate();
    let capability = |origin: &str| {
        json!({"action": "call:billing_api:refund", "resource": format!("{origin}/refunds/**"),
               "constraints": {"maxAmount": {"value": 100, "unit": "EUR"}}})
    };
    let mut grant = root_grant(org, &key, vec![capability(BILLING), capability(LEDGER)]);
    grant.audience = vec![BILLING.into()];
    let typed = grant.build().expect("a root credential");
    let credential = sign_as(&typed, org, Cryptosuite::EddsaJcs2022);
    let id = typed.id.to_string();
    Agent {
        key,
        credential,
        id,
    }
}

/// A request to `url` signed by `agent` at `at` (seconds), presenting its credential or not.
fn signed(agent: &Agent, url: &str, present: bool, at: i64) -> (Url, Vec<(String, String)>) {
    let target = Url::parse(url).expect("a URL");
    let signer = Signer {
        key: &agent.key,
        credential: &agent.id,
        credentials: std::slice::from_ref(&agent.credential),
        action: "call:billing_api:refund",
    };
    let headers = signed_headers(&signer, &target, None, present, at);
    (target, headers)
}

fn arguments(amount: u64) -> Map<String, Value> {
    json!({"amount": {"value": amount, "unit": "EUR"}})
        .as_object()
        .expect("an object")
        .clone()
}

/// The check of a request at `now() + minutes`, with `lists` and `sessions`.
fn check(
    org: &KeyPair,
    lists: &Lists,
    sessions: &Sessions,
    (target, headers): &(Url, Vec<(String, String)>),
    amount: u64,
    minutes: i64,
) -> Result<signed_request::Permitted, Refused> {
    let trust = trust_of(org);
    let mut verifier = Verifier::new(
        &vouch_core::did::resolve::DidKeyResolver,
        now() + Duration::minutes(minutes),
    );
    verifier.issuers = Some(&trust);
    verifier.status = Some(lists);
    let request = Request {
        method: "POST",
        target,
        headers,
        body: None,
    };
    signed_request::check(&request, &arguments(amount), &verifier, sessions, |_, _| {
        true
    })
}

fn at(minutes: i64) -> i64 {
    (now() + Duration::minutes(minutes)).timestamp()
}

#[test]
fn a_session_presents_once_and_is_held_to_its_chain_after() {
    let org = KeyPair::generate();
    let agent = agent(&org);
    let (lists, sessions) = (Lists::default(), Sessions::new(16));
    let url = format!("{BILLING}/refunds/42");
    let reason = |r: Result<_, Refused>| r.map(|_| ()).expect_err("refused").reason;

    // Nothing shown yet: the signer must present.
    let bare = signed(&agent, &url, false, at(1));
    assert_eq!(
        reason(check(&org, &lists, &sessions, &bare, 50, 1)),
        Reason::NotHolder
    );
    // Presented: permitted, and the chain kept for this origin, signer and credential.
    let first = signed(&agent, &url, true, at(1));
    let permitted = check(&org, &lists, &sessions, &first, 50, 1).expect("permitted");
    assert_eq!(permitted.credential, agent.id);
    assert_eq!(sessions.len(), 1);
    // Later: the reference alone, held to the same capability.
    let later = signed(&agent, &url, false, at(2));
    check(&org, &lists, &sessions, &later, 50, 2).expect("permitted by the kept chain");
    assert_eq!(
        reason(check(&org, &lists, &sessions, &later, 500, 2)),
        Reason::ConstraintViolated
    );
    // The kept chain is not taken at another service, whose origin the presentation did not
    // name (and where the credential's audience would refuse it): it must be presented there.
    let elsewhere = signed(&agent, &format!("{LEDGER}/refunds/42"), false, at(2));
    assert_eq!(
        reason(check(&org, &lists, &sessions, &elsewhere, 50, 2)),
        Reason::NotHolder
    );
    let presented_elsewhere = signed(&agent, &format!("{LEDGER}/refunds/42"), true, at(2));
    assert_eq!(
        reason(check(&org, &lists, &sessions, &presented_elsewhere, 50, 2)),
        Reason::AudienceMismatch
    );
    // Another agent naming the same credential: its signature is its own, no session is.
    let thief = Agent {
        key: KeyPair::generate(),
        credential: agent.credential.clone(),
        id: agent.id.clone(),
    };
    let stolen = signed(&thief, &url, false, at(2));
    assert_eq!(
        reason(check(&org, &lists, &sessions, &stolen, 50, 2)),
        Reason::NotHolder
    );
    // Revoked: the kept chain's status is read again at each request.
    lists.revoked.store(true, Ordering::SeqCst);
    let after = signed(&agent, &url, false, at(3));
    assert_eq!(
        reason(check(&org, &lists, &sessions, &after, 50, 3)),
        Reason::Revoked
    );
    lists.revoked.store(false, Ordering::SeqCst);
    // Past the credential's end (15 minutes), the session is over.
    let late = signed(&agent, &url, false, at(16));
    assert_eq!(
        reason(check(&org, &lists, &sessions, &late, 50, 16)),
        Reason::NotHolder
    );
}

#[test]
fn a_presentation_the_signature_does_not_cover_is_refused() {
    let org = KeyPair::generate();
    let agent = agent(&org);
    let (lists, sessions) = (Lists::default(), Sessions::new(16));
    let url = format!("{BILLING}/refunds/42");
    // A presentation added on the way beside a signature that covers none.
    let (target, mut headers) = signed(&agent, &url, false, at(1));
    let (_, presented) = signed(&agent, &url, true, at(1));
    let field = presented
        .into_iter()
        .find(|(name, _)| name == PRESENTATION_FIELD)
        .expect("a presentation");
    headers.push(field);
    let refused = check(&org, &lists, &sessions, &(target, headers), 50, 1)
        .map(|_| ())
        .expect_err("refused");
    assert_eq!(refused.reason, Reason::RequestMismatch, "{refused}");
    assert!(sessions.is_empty());
}

#[test]
fn sessions_are_bounded_the_least_recently_used_forgotten_first() {
    let org = KeyPair::generate();
    let (lists, sessions) = (Lists::default(), Sessions::new(2));
    let url = format!("{BILLING}/refunds/42");
    let agents: Vec<Agent> = (0..3).map(|_| agent(&org)).collect();
    for agent in &agents {
        check(
            &org,
            &lists,
            &sessions,
            &signed(agent, &url, true, at(1)),
            50,
            1,
        )
        .expect("permitted");
    }
    assert_eq!(sessions.len(), 2);
    let reason = |agent: &Agent| {
        check(
            &org,
            &lists,
            &sessions,
            &signed(agent, &url, false, at(2)),
            50,
            2,
        )
        .map(|_| ())
        .err()
        .map(|r| r.reason)
    };
    assert_eq!(reason(&agents[0]), Some(Reason::NotHolder));
    assert_eq!(reason(&agents[1]), None);
    assert_eq!(reason(&agents[2]), None);
}

/// `headers` signed again in the Web Bot Auth profile: `tag="web-bot-auth"`, `keyid` the key's
/// JWK thumbprint, over the same components.
fn as_web_bot_auth(
    key: &KeyPair,
    (target, headers): &(Url, Vec<(String, String)>),
    at: i64,
) -> (Url, Vec<(String, String)>) {
    use vouch_core::http_signature::{
        self, CAPABILITY_FIELD, Component, LABEL, MAX_LIFETIME_SECS, Parameters,
    };
    let mut kept: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| n != "signature" && n != "signature-input")
        .cloned()
        .collect();
    let mut covered = vec![
        Component::Method,
        Component::TargetUri,
        Component::Field(CAPABILITY_FIELD.into()),
    ];
    if kept.iter().any(|(n, _)| n == PRESENTATION_FIELD) {
        covered.push(Component::Field(PRESENTATION_FIELD.into()));
    }
    // The presentation was made over the first signature's nonce: the same nonce again.
    let nonce = headers
        .iter()
        .find(|(n, _)| n == "signature-input")
        .and_then(|(_, v)| v.split("nonce=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("a nonce")
        .to_owned();
    let parameters = Parameters {
        created: Some(at),
        expires: Some(at + MAX_LIFETIME_SECS),
        nonce: Some(nonce),
        keyid: Some(http_signature::jwk_thumbprint(&key.public())),
        alg: Some("ed25519".into()),
        tag: Some(http_signature::WEB_BOT_AUTH_TAG.into()),
    };
    let request = Request {
        method: "POST",
        target,
        headers: &kept,
        body: None,
    };
    let made = http_signature::sign(key, &request, &covered, &parameters, LABEL).expect("signs");
    kept.push(("signature-input".into(), made.input));
    kept.push(("signature".into(), made.signature));
    (target.clone(), kept)
}

#[test]
fn a_thumbprint_names_only_a_key_the_verifier_already_has() {
    let org = KeyPair::generate();
    let agent = agent(&org);
    let (lists, sessions) = (Lists::default(), Sessions::new(16));
    let url = format!("{BILLING}/refunds/42");
    let reason = |r: Result<_, Refused>| r.map(|_| ()).expect_err("refused").reason;

    // A thumbprint no presentation and no session names: the key is unknown, nothing is fetched.
    let bare = as_web_bot_auth(&agent.key, &signed(&agent, &url, false, at(1)), at(1));
    assert_eq!(
        reason(check(&org, &lists, &sessions, &bare, 50, 1)),
        Reason::UnresolvableDid
    );
    // With the presentation, the thumbprint is its holder's key's: permitted, the signer kept.
    let first = as_web_bot_auth(&agent.key, &signed(&agent, &url, true, at(1)), at(1));
    check(&org, &lists, &sessions, &first, 50, 1).expect("permitted");
    let later = as_web_bot_auth(&agent.key, &signed(&agent, &url, false, at(2)), at(2));
    check(&org, &lists, &sessions, &later, 50, 2).expect("the session's signer");
    // A presentation whose holder is not the thumbprint's key: unknown key.
    let stranger = KeyPair::generate();
    let forged = as_web_bot_auth(&stranger, &signed(&agent, &url, true, at(2)), at(2));
    assert_eq!(
        reason(check(&org, &lists, &sessions, &forged, 50, 2)),
        Reason::UnresolvableDid
    );
}

#[test]
fn a_signature_agent_the_signature_does_not_cover_is_refused() {
    let org = KeyPair::generate();
    let agent = agent(&org);
    let (lists, sessions) = (Lists::default(), Sessions::new(16));
    let url = format!("{BILLING}/refunds/42");
    // A directory named beside a signature that does not cover it: anyone could have put it there.
    let (target, mut headers) = signed(&agent, &url, true, at(1));
    headers.push((
        "signature-agent".into(),
        "vouch=\"https://elsewhere.example/.well-known/http-message-signatures-directory\"".into(),
    ));
    let refused = check(&org, &lists, &sessions, &(target, headers), 50, 1)
        .map(|_| ())
        .expect_err("refused");
    assert_eq!(refused.reason, Reason::RequestMismatch, "{refused}");
}
