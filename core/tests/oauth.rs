//! The OAuth bridge's rules (`vouch_core::oauth`): what a verified chain grants at a resource as
//! an access token, and how a token is read back.

use chrono::Duration;
use serde_json::{Value, json};
use vouch_core::approval::{Approval, request_hash};
use vouch_core::capability::Request;
use vouch_core::did::key::{did_of, verification_method_of};
use vouch_core::jwt::JwtError;
use vouch_core::key::KeyPair;
use vouch_core::oauth::{
    self, APPROVED_REQUEST_DETAIL, Ask, CAPABILITY_DETAIL, Grant, Issuance, OAuthCode, OAuthError,
};
use vouch_core::presentation::{self, Chain};
use vouch_core::proof::Cryptosuite;

use crate::fixtures::{now, root_grant, status_entry, trust_of, verifier_at};
use crate::flows::sign_as;

const BILLING: &str = "https://billing.acme.example";

/// An org, its agent holding a root credential, and the agent's sub-agent holding a delegation
/// of `delegated` (its chain verified, as the node verifies a presentation over its challenge).
struct World {
    org: KeyPair,
    sub: KeyPair,
    chain: Chain,
}

fn world(root: Vec<Value>, delegated: Vec<Value>, pinned: Vec<String>) -> World {
    let (org, agent, sub) = (
        KeyPair::generate(),
        KeyPair::generate(),
        KeyPair::generate(),
    );
    let mut root = root_grant(&org, &agent, root)
        .build()
        .expect("a root credential");
    root.credential_subject.resources = pinned.clone();
    let mut child = vouch_core::delegation::delegate(
        &root,
        did_of(&sub.public()),
        delegated,
        now() + Duration::minutes(10),
        now(),
    )
    .expect("delegates");
    child.credential_status = vec![status_entry(43)];
    child.credential_subject.resources = pinned;
    let credentials = vec![
        sign_as(&root, &org, Cryptosuite::EddsaJcs2022),
        sign_as(&child, &agent, Cryptosuite::EddsaJcs2022),
    ];
    let vp = presentation::create(
        &sub,
        credentials,
        "c-1",
        "https://node.acme.example",
        Cryptosuite::EddsaJcs2022,
        now(),
    )
    .expect("presents");
    let trust = trust_of(&org);
    let verified = presentation::verify_presentation(
        &vp,
        "c-1",
        "https://node.acme.example",
        &verifier_at(&trust, now()),
    );
    assert!(verified.report.verified, "{:?}", verified.report.reasons());
    let [chain] = &verified.chains[..] else {
        panic!("one chain")
    };
    World {
        org,
        sub,
        chain: chain.clone(),
    }
}

fn refund(origin: &str, max: u64) -> Value {
    json!({"action": "call:billing_api:refund", "resource": format!("{origin}/refunds/**"),
           "constraints": {"maxAmount": {"value": max, "unit": "EUR"}}})
}

fn read(origin: &str) -> Value {
    json!({"action": "read:orders", "resource": format!("{origin}/orders/*")})
}

fn ask(resource: &str, details: Option<Value>) -> Ask {
    Ask::read(resource, details.map(|d| d.to_string()).as_deref()).expect("a well-formed ask")
}

fn grant_at(w: &World, ask: &Ask, approvals: &[Approval]) -> Result<Grant, OAuthError> {
    oauth::grant(&w.chain, &did_of(&w.sub.public()), ask, approvals, now())
}

fn code(result: Result<Grant, OAuthError>) -> OAuthCode {
    result.expect_err("refused").code
}

#[test]
fn a_chain_grants_at_a_resource_exactly_the_capabilities_that_reach_under_it() {
    const LEDGER: &str = "https://ledger.acme.example";
    let w = world(
        vec![refund(BILLING, 5000), read(BILLING), refund(LEDGER, 50)],
        vec![refund(BILLING, 100), read(BILLING)],
        Vec::new(),
    );
    let granted = grant_at(&w, &ask(BILLING, None), &[]).expect("granted");
    // The delegation's two capabilities, as they are: the root's are not the holder's.
    assert_eq!(granted.details.len(), 2);
    assert_eq!(granted.details[0]["type"], CAPABILITY_DETAIL);
    assert_eq!(
        granted.details[0]["locations"],
        json!([format!("{BILLING}/refunds/**")])
    );
    assert_eq!(granted.details[0]["constraints"]["maxAmount"]["value"], 100);
    assert_eq!(
        granted.details[0]["identifier"],
        w.chain.credentials[1].id.as_str()
    );
    // Under `/refunds`: the refund alone. At the ledger the holder has nothing (the root's
    // capability there was not delegated).
    let under = grant_at(&w, &ask(&format!("{BILLING}/refunds"), None), &[]).expect("granted");
    assert_eq!(under.details.len(), 1);
    assert_eq!(
        code(grant_at(&w, &ask(LEDGER, None), &[])),
        OAuthCode::InvalidTarget
    );
    // A path that only shares a prefix of characters is another resource.
    assert_eq!(
        code(grant_at(
            &w,
            &ask(&format!("{BILLING}/refundsx"), None),
            &[]
        )),
        OAuthCode::InvalidTarget
    );

    // Who acts for whom: the principal, then the sub-agent, and nested the agent above it.
    assert_eq!(granted.subject, "urn:vouch:principal:p-7f3a");
    let agent = w.chain.credentials[0].credential_subject.id.as_str();
    assert_eq!(
        granted.actors,
        json!({"sub": did_of(&w.sub.public()).as_str(), "act": {"sub": agent}})
    );
    // It ends with the delegation, the earliest end of the chain, and rests on every status.
    assert_eq!(granted.ends, now() + Duration::minutes(10));
    let indices: Vec<_> = granted
        .status
        .iter()
        .map(|s| s.status_list_index.as_str())
        .collect();
    assert_eq!(indices, ["42", "43"]);
}

#[test]
fn a_chain_pinned_to_other_resource_servers_or_presented_by_another_grants_nothing() {
    let w = world(
        vec![refund(BILLING, 5000)],
        vec![refund(BILLING, 100)],
        vec![format!("{BILLING}/refunds")],
    );
    grant_at(&w, &ask(&format!("{BILLING}/refunds"), None), &[]).expect("under the pin");
    // The origin itself lies above the pin.
    let refused = grant_at(&w, &ask(BILLING, None), &[]).expect_err("above the pin");
    assert_eq!(refused.code, OAuthCode::InvalidTarget);
    assert!(
        refused.description.starts_with("audience_mismatch"),
        "{refused}"
    );
    // Only the chain's holder gets a token of it.
    let stranger = did_of(&KeyPair::generate().public());
    let refused = oauth::grant(&w.chain, &stranger, &ask(BILLING, None), &[], now())
        .expect_err("not the holder");
    assert_eq!(refused.code, OAuthCode::InvalidGrant);
    assert!(refused.description.starts_with("not_holder"));
}

fn approval(w: &World, request: &Value, until: Duration) -> Approval {
    let request = Request::from_json(request).expect("a request");
    let approval = Approval {
        id: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        issuer: did_of(&w.org.public()),
        subject: did_of(&w.sub.public()),
        request: request_hash(&request),
        owner: "urn:vouch:owner:alice".into(),
        method: "owner-key".into(),
        valid_from: now(),
        valid_until: now() + until,
        status: vec![status_entry(44)],
    };
    // Signed and read back, as a verified presentation gives it.
    let signed = approval
        .sign(&w.org, verification_method_of(&w.org.public()))
        .expect("signs");
    Approval::from_json(&signed).expect("reads")
}

#[test]
fn a_capability_that_needs_approval_is_carried_only_as_the_request_approved() {
    let gated = json!({"action": "call:billing_api:refund", "resource": format!("{BILLING}/refunds/**"),
                       "constraints": {"maxAmount": {"value": 5000, "unit": "EUR"}, "requiresApproval": true}});
    let w = world(
        vec![gated.clone(), read(BILLING)],
        vec![gated, read(BILLING)],
        Vec::new(),
    );
    // Without asking: the read alone; the gated capability never travels as a capability.
    let granted = grant_at(&w, &ask(BILLING, None), &[]).expect("granted");
    assert_eq!(granted.details.len(), 1);
    assert_eq!(granted.details[0]["actions"], json!(["read:orders"]));

    let request = json!({"action": "call:billing_api:refund", "resource": format!("{BILLING}/refunds/42"),
                         "arguments": {"amount": {"value": 1200, "unit": "EUR"}}});
    let detail = json!([{"type": APPROVED_REQUEST_DETAIL, "actions": [request["action"]],
                         "locations": [request["resource"]], "arguments": request["arguments"]}]);
    // Asked without its approval: refused, and saying why.
    let refused = grant_at(&w, &ask(BILLING, Some(detail.clone())), &[]).expect_err("no approval");
    assert_eq!(refused.code, OAuthCode::InvalidGrant);
    assert!(
        refused.description.starts_with("needs_approval"),
        "{refused}"
    );
    // An approval of other arguments is no approval of these.
    let other = approval(
        &w,
        &json!({"action": request["action"], "resource": request["resource"],
                "arguments": {"amount": {"value": 9000, "unit": "EUR"}}}),
        Duration::minutes(5),
    );
    assert_eq!(
        code(grant_at(&w, &ask(BILLING, Some(detail.clone())), &[other])),
        OAuthCode::InvalidGrant
    );
    // With it: the exact request, named by the approval, the token ending with the approval.
    let given = approval(&w, &request, Duration::minutes(3));
    let granted = grant_at(
        &w,
        &ask(BILLING, Some(detail.clone())),
        std::slice::from_ref(&given),
    )
    .expect("granted");
    assert_eq!(granted.details.len(), 2);
    let carried = &granted.details[1];
    assert_eq!(carried["type"], APPROVED_REQUEST_DETAIL);
    assert_eq!(carried["arguments"], request["arguments"]);
    assert_eq!(carried["identifier"], given.id.as_str());
    assert_eq!(granted.ends, now() + Duration::minutes(3));
    assert_eq!(granted.approvals.len(), 1);
    assert!(granted.status.iter().any(|s| s.status_list_index == "44"));
    // An approved request beyond the capability is still refused, approval or not.
    let beyond = json!({"action": request["action"], "resource": request["resource"],
                        "arguments": {"amount": {"value": 6000, "unit": "EUR"}}});
    let approved_beyond = approval(&w, &beyond, Duration::minutes(3));
    let asked = json!([{"type": APPROVED_REQUEST_DETAIL, "actions": [beyond["action"]],
                        "locations": [beyond["resource"]], "arguments": beyond["arguments"]}]);
    let refused = grant_at(&w, &ask(BILLING, Some(asked)), &[approved_beyond]).expect_err("beyond");
    assert!(
        refused.description.starts_with("constraint_violated"),
        "{refused}"
    );
    // An approved request must lie under the resource the token is for.
    assert_eq!(
        code(grant_at(
            &w,
            &ask(&format!("{BILLING}/orders"), Some(detail)),
            &[given]
        )),
        OAuthCode::InvalidTarget
    );
}

#[test]
fn authorization_details_asked_are_only_approved_requests_and_few() {
    let malformed = |details: Value| {
        Ask::read(BILLING, Some(&details.to_string()))
            .expect_err("refused")
            .code
    };
    let one = json!({"type": APPROVED_REQUEST_DETAIL, "actions": ["call:x"],
                     "locations": [format!("{BILLING}/x")]});
    assert!(Ask::read(BILLING, Some(&json!([one]).to_string())).is_ok());
    for details in [
        json!({"not": "an array"}),
        json!([{"type": CAPABILITY_DETAIL, "actions": ["call:x"], "locations": [BILLING]}]),
        json!([{"type": APPROVED_REQUEST_DETAIL, "actions": ["call:x", "call:y"], "locations": [BILLING]}]),
        json!([{"type": APPROVED_REQUEST_DETAIL, "actions": ["call:*"], "locations": [BILLING]}]),
        json!([{"type": APPROVED_REQUEST_DETAIL, "actions": ["call:x"], "locations": [format!("{BILLING}/**")]}]),
        json!([{"type": APPROVED_REQUEST_DETAIL, "actions": ["call:x"], "locations": [BILLING], "privileges": []}]),
        Value::Array(vec![one; oauth::MAX_ASKED_DETAILS + 1]),
    ] {
        assert_eq!(malformed(details), OAuthCode::InvalidAuthorizationDetails);
    }
    for resource in [
        "billing.acme.example",
        "https://b.example/x?q=1",
        "https://b.example/#f",
        "",
    ] {
        assert_eq!(
            Ask::read(resource, None).expect_err("refused").code,
            OAuthCode::InvalidTarget,
            "{resource}"
        );
    }
}

#[test]
fn a_token_lives_at_most_five_minutes_and_never_past_its_grant_and_reads_back_only_whole() {
    let w = world(
        vec![refund(BILLING, 5000)],
        vec![refund(BILLING, 100)],
        Vec::new(),
    );
    let granted = grant_at(&w, &ask(BILLING, None), &[]).expect("granted");
    let jkt = vouch_core::http_signature::jwk_thumbprint(&w.sub.public());
    let at = |minutes: i64| Issuance {
        issuer: "https://node.acme.example",
        audience: BILLING,
        jkt: &jkt,
        jti: "t-1",
        now: now() + Duration::minutes(minutes),
    };
    let (claims, exp) = oauth::access_token_claims(&granted, &at(0)).expect("live");
    assert_eq!(exp - now().timestamp(), oauth::MAX_LIFETIME_SECS);
    for (name, value) in [
        ("iss", json!("https://node.acme.example")),
        ("aud", json!(BILLING)),
        ("sub", json!("urn:vouch:principal:p-7f3a")),
        ("client_id", json!(did_of(&w.sub.public()).as_str())),
        ("cnf", json!({"jkt": jkt})),
    ] {
        assert_eq!(claims[name], value, "{name}");
    }
    // Two minutes before the delegation ends: the token ends with it.
    let (_, exp) = oauth::access_token_claims(&granted, &at(8)).expect("live");
    assert_eq!(exp, granted.ends.timestamp());
    assert!(oauth::access_token_claims(&granted, &at(10)).is_none());

    let kid = verification_method_of(&w.org.public()).to_string();
    let token = oauth::sign_access_token(&w.org, &kid, &claims);
    let keys = |k: &str| (k == kid).then(|| w.org.public());
    let t = now().timestamp();
    let read = oauth::read_access_token(&token, keys, t + 10, 60).expect("reads");
    assert_eq!(read.kid, kid);
    assert_eq!(read.status.len(), 2);
    assert_eq!(
        oauth::read_access_token(&token, keys, exp, 60),
        Err(JwtError::Claim("expired".into()))
    );
    // Signed, but missing what a bridge token always has: refused, never read with defaults.
    for missing in ["cnf", oauth::STATUS_CLAIM, "sub", "exp"] {
        let mut without = claims.clone();
        without.remove(missing);
        let token = oauth::sign_access_token(&w.org, &kid, &without);
        assert!(
            matches!(
                oauth::read_access_token(&token, keys, t + 10, 60),
                Err(JwtError::Claim(_))
            ),
            "{missing}"
        );
    }
    // Another key under the same kid.
    let forged = oauth::sign_access_token(&KeyPair::generate(), &kid, &claims);
    assert_eq!(
        oauth::read_access_token(&forged, keys, t + 10, 60),
        Err(JwtError::InvalidSignature)
    );
}
