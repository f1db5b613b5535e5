//! The node as its org's OAuth authorization server: an agent's daemon exchanges its capability
//! for a DPoP-bound access token, every node of the consortium introspects it until what it
//! rests on is revoked, and each way a token exchange must fail does, with OAuth's error.

use chrono::Utc;
use serde_json::{Value, json};
use vouch_api::daemon::TokenAsk;
use vouch_api::node::oauth::{Introspect, TokenIssued, TokenRequest};
use vouch_api::node::{NodeClient, NodeError};
use vouch_core::did::DidUrl;
use vouch_core::key::KeyPair;
use vouch_core::oauth;
use vouch_core::proof::Cryptosuite;
use vouch_core::revocation::Level;
use vouch_wallet::daemon::Request;

use crate::common::{
    TestNode, agent_credential, consortium_of, eventually, revocation_request, wait_connected,
};
use crate::exchange::{add, daemon, handled};

const BILLING: &str = "https://billing.b.example";

fn ask(resource: &str) -> Request {
    Request::AccessToken(TokenAsk {
        resource: resource.into(),
        credential: None,
        approved: Vec::new(),
    })
}

fn active(client: &NodeClient, token: &str) -> bool {
    client
        .introspect(&Introspect {
            token: token.into(),
            token_type_hint: None,
        })
        .expect("introspected")
        .active
}

#[test]
fn a_capability_becomes_a_dpop_bound_token_every_node_introspects_until_its_task_is_revoked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut configs = consortium_of(dir.path(), 2);
    let (a, b) = (
        TestNode::start(configs.remove(0)),
        TestNode::start(configs.remove(0)),
    );
    wait_connected(&a, 1);
    let agent = KeyPair::generate();
    let credential = agent_credential(
        &a,
        &agent,
        "t-token",
        json!([{"action": "call:billing_api:refund", "resource": format!("{BILLING}/refunds/**"),
                "constraints": {"maxAmount": {"value": 100, "unit": "EUR"}}},
               {"action": "read:orders", "resource": "https://orders.b.example/**"}]),
    );
    let wallet = daemon(dir.path(), "wallet", &agent, &a);
    add(&wallet, &credential);

    // The node's metadata and keys.
    let metadata = a.client().oauth_metadata().expect("metadata");
    assert_eq!(metadata.issuer, a.url(""));
    assert_eq!(
        metadata.token_endpoint,
        a.url(vouch_api::node::routes::OAUTH_TOKEN.path)
    );
    assert_eq!(metadata.grant_types_supported, vec![oauth::TOKEN_EXCHANGE]);
    assert_eq!(metadata.dpop_signing_alg_values_supported, vec!["EdDSA"]);
    let jwks = a.client().oauth_keys().expect("keys");
    let [jwk] = &jwks.keys[..] else {
        panic!("one key: {jwks:?}")
    };

    // The daemon gets a token for the billing API: the refund alone, bound to the instance.
    let issued: TokenIssued = handled(&wallet, ask(BILLING)).expect("a token");
    assert_eq!(issued.token_type, "DPoP");
    assert_eq!(issued.issued_token_type, oauth::ACCESS_TOKEN_TYPE);
    assert!(
        issued.expires_in > 0 && issued.expires_in <= oauth::MAX_LIFETIME_SECS,
        "{}",
        issued.expires_in
    );
    assert_eq!(issued.authorization_details.len(), 1);
    assert_eq!(
        issued.authorization_details[0]["actions"],
        json!(["call:billing_api:refund"])
    );
    let kid = jwk["kid"].as_str().expect("a kid");
    let key = vouch_core::jwt::public_jwk(jwk).expect("an Ed25519 JWK");
    let read = oauth::read_access_token(
        &issued.access_token,
        |k| (k == kid).then_some(key),
        Utc::now().timestamp(),
        60,
    )
    .expect("signed with the org's key");
    let instance = vouch_core::did::key::did_of(&agent.public());
    assert_eq!(
        DidUrl::parse(kid).expect("a DID URL").did().as_str(),
        credential["issuer"].as_str().expect("the org")
    );
    assert_eq!(read.claims["aud"], BILLING);
    assert_eq!(read.claims["iss"], a.url(""));
    assert_eq!(read.claims["client_id"], instance.as_str());
    assert_eq!(read.claims["act"], json!({"sub": instance.as_str()}));
    assert_eq!(
        read.claims["sub"], credential["credentialSubject"]["principal"],
        "the principal's pseudonym"
    );
    assert_eq!(
        read.claims["cnf"]["jkt"],
        vouch_core::http_signature::jwk_thumbprint(&agent.public())
    );
    // Nothing held reaches a resource the credential does not name.
    let refused = handled::<TokenIssued>(&wallet, ask("https://elsewhere.example"))
        .expect_err("no credential reaches it");
    assert_eq!(refused.reason, Some(vouch_core::report::Reason::NotGranted));

    // Both nodes say it stands; the task revoked at its org, both say it does not, at once at
    // the issuer and as soon as the list reaches the other.
    assert!(active(&a.client(), &issued.access_token));
    eventually(&b, "the token introspected at the other member", || {
        active(&b.client(), &issued.access_token)
    });
    let answer = b
        .client()
        .introspect(&Introspect {
            token: issued.access_token.clone(),
            token_type_hint: Some("access_token".into()),
        })
        .expect("introspected");
    assert_eq!(answer.aud.as_deref(), Some(BILLING));
    assert_eq!(answer.token_type.as_deref(), Some("DPoP"));
    assert_eq!(answer.client_id.as_deref(), Some(instance.as_str()));
    a.admin()
        .revoke(&revocation_request(Level::Task, "t-token", false))
        .expect("revoked");
    assert!(!active(&a.client(), &issued.access_token));
    eventually(&b, "the revocation seen at the other member", || {
        !active(&b.client(), &issued.access_token)
    });
    assert_eq!(
        serde_json::to_value(
            b.client()
                .introspect(&Introspect {
                    token: issued.access_token.clone(),
                    token_type_hint: None,
                })
                .expect("introspected")
        )
        .expect("JSON"),
        json!({"active": false}),
        "an inactive token says nothing more"
    );
    // Revoked: no new token either.
    let refused =
        handled::<TokenIssued>(&wallet, ask(BILLING)).expect_err("the credential is revoked");
    assert!(
        refused.message.contains("invalid_grant"),
        "{}",
        refused.message
    );

    // What is no token of a member is inactive, whatever it says.
    for junk in ["", "a.b.c", &"x".repeat(20_000)] {
        assert!(!active(&a.client(), junk));
    }
    // A body beyond two tokens' worth is not read.
    let huge = a.client().introspect(&Introspect {
        token: "x".repeat(40_000),
        token_type_hint: None,
    });
    assert!(
        matches!(huge, Err(NodeError::Refused { status: 413, .. })),
        "{huge:?}"
    );
}

/// A token request by hand, as a client other than the daemon would make it.
struct Asker<'a> {
    node: &'a TestNode,
    agent: &'a KeyPair,
    credential: &'a Value,
}

impl Asker<'_> {
    fn presentation(&self, domain: Option<&str>) -> String {
        let challenge = self.node.client().challenge().expect("a challenge");
        vouch_core::presentation::create(
            self.agent,
            vec![self.credential.clone()],
            &challenge.challenge,
            domain.unwrap_or(&challenge.domain),
            Cryptosuite::EddsaJcs2022,
            Utc::now(),
        )
        .expect("presents")
        .to_string()
    }

    fn proof(&self, key: &KeyPair, url: &str) -> String {
        let target = url::Url::parse(url).expect("a URL");
        vouch_core::jwt::dpop_proof(
            key,
            &vouch_core::jwt::DpopRequest {
                method: "POST",
                target: &target,
                iat: Utc::now().timestamp(),
                jti: &vouch_core::exchange::flow::challenge(),
                access_token: None,
                nonce: None,
            },
        )
    }

    fn request(&self, subject_token: String, resource: &str) -> TokenRequest {
        TokenRequest {
            grant_type: oauth::TOKEN_EXCHANGE.into(),
            subject_token,
            subject_token_type: oauth::PRESENTATION_TOKEN_TYPE.into(),
            resource: Some(resource.into()),
            authorization_details: None,
            requested_token_type: None,
        }
    }
}

/// The OAuth error of a refused exchange: `error: description`.
fn oauth_error(result: Result<TokenIssued, NodeError>) -> String {
    match result {
        Err(NodeError::Refused {
            status: 400,
            message,
            ..
        }) => message,
        other => panic!("not an OAuth refusal: {other:?}"),
    }
}

#[test]
fn a_token_exchange_is_refused_for_each_thing_it_does_not_prove() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(consortium_of(dir.path(), 1).remove(0));
    let agent = KeyPair::generate();
    let credential = agent_credential(
        &node,
        &agent,
        "t-refused",
        json!([{"action": "call:billing_api:refund", "resource": format!("{BILLING}/refunds/**")}]),
    );
    let asker = Asker {
        node: &node,
        agent: &agent,
        credential: &credential,
    };
    let client = node.client();
    let endpoint = node.url(vouch_api::node::routes::OAUTH_TOKEN.path);
    let exchange = |request: &TokenRequest, proof: &str| client.exchange_token(request, proof);

    // Made right: a token.
    let request = asker.request(asker.presentation(None), BILLING);
    let proof = asker.proof(&agent, &endpoint);
    exchange(&request, &proof).expect("a token");
    // The same again: the challenge was answered.
    let replayed = oauth_error(exchange(&request, &asker.proof(&agent, &endpoint)));
    assert!(
        replayed.starts_with("invalid_grant: replayed"),
        "{replayed}"
    );
    // A DPoP proof of another key than the presenter's, of another URL, or none that reads.
    let stranger = KeyPair::generate();
    for (proof, why) in [
        (asker.proof(&stranger, &endpoint), "another key"),
        (
            asker.proof(&agent, &format!("{endpoint}/other")),
            "another URL",
        ),
        ("not.a.proof".to_owned(), "no JWT"),
    ] {
        let refused = oauth_error(exchange(
            &asker.request(asker.presentation(None), BILLING),
            &proof,
        ));
        assert!(
            refused.starts_with("invalid_dpop_proof"),
            "{why}: {refused}"
        );
    }
    // The same proof twice (on two fresh presentations): the second is a replay.
    let proof = asker.proof(&agent, &endpoint);
    exchange(&asker.request(asker.presentation(None), BILLING), &proof).expect("a token");
    let refused = oauth_error(exchange(
        &asker.request(asker.presentation(None), BILLING),
        &proof,
    ));
    assert!(
        refused.starts_with("invalid_dpop_proof: replayed"),
        "{refused}"
    );
    // A resource the capability does not reach; none; one that is no URI.
    for resource in ["https://elsewhere.example", "billing"] {
        let refused = oauth_error(exchange(
            &asker.request(asker.presentation(None), resource),
            &asker.proof(&agent, &endpoint),
        ));
        assert!(
            refused.starts_with("invalid_target"),
            "{resource}: {refused}"
        );
    }
    let mut none = asker.request(asker.presentation(None), BILLING);
    none.resource = None;
    assert!(
        oauth_error(exchange(&none, &asker.proof(&agent, &endpoint))).starts_with("invalid_target")
    );
    // A presentation for another verifier, or of another grant or token type.
    let elsewhere = asker.request(asker.presentation(Some("https://other.example")), BILLING);
    assert!(
        oauth_error(exchange(&elsewhere, &asker.proof(&agent, &endpoint)))
            .starts_with("invalid_grant")
    );
    let mut grant = asker.request(asker.presentation(None), BILLING);
    grant.grant_type = "client_credentials".into();
    assert!(
        oauth_error(exchange(&grant, &asker.proof(&agent, &endpoint)))
            .starts_with("unsupported_grant_type")
    );
    let mut typed = asker.request(asker.presentation(None), BILLING);
    typed.subject_token_type = "urn:ietf:params:oauth:token-type:jwt".into();
    assert!(
        oauth_error(exchange(&typed, &asker.proof(&agent, &endpoint)))
            .starts_with("invalid_request")
    );
}

#[test]
fn the_events_receiver_polls_each_revocation_as_a_security_event_token_until_it_acknowledges_it() {
    use vouch_api::node::oauth::SetPoll;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = consortium_of(dir.path(), 1).remove(0);
    std::fs::write(config.data_dir.join("events.token"), "receiver-secret\n").expect("written");
    let node = TestNode::start(config);
    let agent = KeyPair::generate();
    agent_credential(
        &node,
        &agent,
        "t-events",
        json!([{"action": "call:billing_api:refund", "resource": format!("{BILLING}/refunds/**")}]),
    );
    let client = node.client();
    let now = |ack: Vec<String>| SetPoll {
        return_immediately: true,
        ack,
        ..SetPoll::default()
    };
    // Only the receiver: no token, another token.
    for token in ["", "another"] {
        let refused = client
            .poll_security_events(token, &now(Vec::new()))
            .expect_err("not the receiver");
        assert_eq!(refused.code(), Some(vouch_api::ErrorCode::Unauthorized));
    }
    assert!(
        client
            .poll_security_events("receiver-secret", &now(Vec::new()))
            .expect("polled")
            .sets
            .is_empty()
    );

    node.admin()
        .revoke(&revocation_request(Level::Task, "t-events", false))
        .expect("revoked");
    let polled = client
        .poll_security_events("receiver-secret", &now(Vec::new()))
        .expect("polled");
    assert!(!polled.more_available);
    let [(jti, set)] = polled.sets.iter().collect::<Vec<_>>()[..] else {
        panic!("one SET: {polled:?}")
    };
    // A secevent+jwt under the org's key, never an access token.
    let jwks = client.oauth_keys().expect("keys");
    let jwk = &jwks.keys[0];
    let key = vouch_core::jwt::public_jwk(jwk).expect("a key");
    let kid = jwk["kid"].as_str().expect("kid");
    let claims = vouch_core::jwt::verify(set, vouch_core::jwt::SECURITY_EVENT, |k| {
        (k == kid).then_some(key)
    })
    .expect("a SET");
    assert!(vouch_core::jwt::verify(set, vouch_core::jwt::ACCESS_TOKEN, |_| Some(key)).is_err());
    assert_eq!(claims["jti"], jti.as_str());
    assert_eq!(claims["iss"], node.url(""));
    assert_eq!(
        claims["aud"],
        node.url(vouch_api::node::routes::OAUTH_EVENTS.path)
    );
    assert!(claims.get("exp").is_none() && claims.get("sub").is_none());
    let event = &claims["events"]["https://w3id.org/vouch/events/revoked"];
    assert_eq!(event["level"], "task");
    assert_eq!(event["org"], node.node().identity.did.as_str());

    // Given again until acknowledged; acknowledged, never again, also after a restart.
    let again = client
        .poll_security_events("receiver-secret", &now(Vec::new()))
        .expect("polled");
    assert_eq!(again.sets.keys().collect::<Vec<_>>(), vec![jti]);
    let acked = client
        .poll_security_events("receiver-secret", &now(vec![jti.clone()]))
        .expect("polled");
    assert!(acked.sets.is_empty(), "{acked:?}");
    let node = node.restart();
    let client = node.client();
    assert!(
        client
            .poll_security_events("receiver-secret", &now(Vec::new()))
            .expect("polled")
            .sets
            .is_empty()
    );
    // A poll that waits gets the next event.
    let waiting = {
        let client = client.clone();
        std::thread::spawn(move || {
            client.poll_security_events("receiver-secret", &SetPoll::default())
        })
    };
    // Whether the poll is waiting yet or not, the next event is its answer.
    node.admin()
        .revoke(&revocation_request(
            Level::Agent,
            vouch_core::did::key::did_of(&agent.public()).as_str(),
            false,
        ))
        .expect("revoked");
    let woke = waiting.join().expect("the poll").expect("polled");
    assert_eq!(woke.sets.len(), 1, "{woke:?}");
    assert!(!woke.sets.contains_key(jti));
    // Too many acknowledgements at once: refused, nothing stored; an acknowledgement of no event
    // held stores nothing either (the receiver cannot grow the node's disk with made-up ids).
    let flood = client.poll_security_events("receiver-secret", &now(vec!["x".into(); 1001]));
    assert!(flood.is_err());
    let before = node.node().issuer.acknowledged_events().expect("read");
    client
        .poll_security_events("receiver-secret", &now(vec!["urn:uuid:made-up".into()]))
        .expect("polled");
    assert_eq!(
        node.node().issuer.acknowledged_events().expect("read"),
        before
    );
}

#[test]
fn a_capability_that_needs_approval_yields_a_token_only_for_the_request_its_owner_approved_once() {
    use vouch_api::node::admin::OwnerRequest;
    use vouch_api::node::public::{OwnerVerdict, Pending, Standing};
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(consortium_of(dir.path(), 1).remove(0));
    let owner_key = KeyPair::generate();
    node.admin()
        .register_owner(&OwnerRequest {
            id: "owner@org.example".into(),
            key: Some(vouch_core::did::key::did_of(&owner_key.public()).to_string()),
            drop_passkeys: false,
        })
        .expect("registered");
    let agent = KeyPair::generate();
    let credential = agent_credential(
        &node,
        &agent,
        "t-gated-token",
        json!([{"action": "call:billing_api:refund", "resource": format!("{BILLING}/refunds/**"),
                "constraints": {"maxAmount": {"value": 5000, "unit": "EUR"}, "requiresApproval": true}},
               {"action": "read:orders", "resource": format!("{BILLING}/orders/**")}]),
    );
    let wallet = daemon(dir.path(), "wallet", &agent, &node);
    add(&wallet, &credential);
    let request = json!({"action": "call:billing_api:refund",
        "resource": format!("{BILLING}/refunds/666"),
        "arguments": {"amount": {"value": 4900, "unit": "EUR"}}});
    let with_approved = |approved: Vec<Value>| {
        handled::<TokenIssued>(
            &wallet,
            Request::AccessToken(TokenAsk {
                resource: BILLING.into(),
                credential: None,
                approved,
            }),
        )
    };
    // Without an approval: the read alone; asking for the refund, refused for want of one.
    let plain = with_approved(Vec::new()).expect("a token");
    assert_eq!(plain.authorization_details.len(), 1);
    assert_eq!(
        plain.authorization_details[0]["actions"],
        json!(["read:orders"])
    );
    let refused = with_approved(vec![request.clone()]).expect_err("no approval held");
    assert_eq!(
        refused.reason,
        Some(vouch_core::report::Reason::NeedsApproval)
    );

    // The owner approves that exact request; the daemon fetches and holds the approval.
    let pending: Pending = handled(
        &wallet,
        Request::RequestApproval {
            request: request.clone(),
        },
    )
    .expect("asked");
    let approved = vouch_wallet::node::OrgNode::new(node.node_url())
        .decide_approval(&owner_key, &pending, OwnerVerdict::Approve)
        .expect("approved");
    assert_eq!(approved.standing, Standing::Approved);
    let _: Pending = handled(
        &wallet,
        Request::ApprovalStatus {
            id: pending.id.clone(),
        },
    )
    .expect("fetched");
    // Now the token carries the approved request, exactly, named by its approval...
    let token = with_approved(vec![request.clone()]).expect("a token");
    let carried = token
        .authorization_details
        .iter()
        .find(|d| d["type"] == oauth::APPROVED_REQUEST_DETAIL)
        .expect("the approved request");
    assert_eq!(carried["arguments"], request["arguments"]);
    assert_eq!(carried["locations"], json!([request["resource"]]));
    assert!(
        !token
            .authorization_details
            .iter()
            .any(|d| d["type"] == oauth::CAPABILITY_DETAIL
                && d["actions"] == json!(["call:billing_api:refund"])),
        "the gated capability itself never travels"
    );
    // ...once: the approval is used.
    let again = with_approved(vec![request]).expect_err("the approval was used");
    assert!(again.message.contains("replayed"), "{}", again.message);
}
