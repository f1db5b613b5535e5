//! The capability exchange, both sides, sans I/O: mutual authentication, holder binding, each
//! capability decided on its own, replays, and a query that selects only what it asks for.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use vouch_core::capability::Action;
use vouch_core::credential::StatusEntry;
use vouch_core::delegation;
use vouch_core::did::Did;
use vouch_core::did::key::{did_of, verification_method_of};
use vouch_core::did::resolve::DidKeyResolver;
use vouch_core::exchange::flow::MAX_REQUEST_AGE;
use vouch_core::exchange::wire::{Reply, Unavailable};
use vouch_core::exchange::{
    self, Answered, Ask, Asked, DecisionError, Holdings, Once, Unanswered, Verdict, answer, ask,
};
use vouch_core::key::KeyPair;
use vouch_core::proof::Cryptosuite;
use vouch_core::report::Reason;
use vouch_core::verify::{EntryStatus, StatusSource, TrustList, Verifier};

use crate::fixtures::{now, root_grant};

/// A status source where the entries at the listed indexes are set.
struct Revoked(Vec<u32>);

impl StatusSource for Revoked {
    fn status(&self, _: &Did, entry: &StatusEntry) -> Result<EntryStatus, String> {
        let index: u32 = entry.status_list_index.parse().map_err(|_| "an index")?;
        Ok(if self.0.contains(&index) {
            EntryStatus::Set
        } else {
            EntryStatus::Clear
        })
    }
}

/// Two consortium members (A, the prover's org; B, the verifier's) and a stranger.
struct World {
    org_a: KeyPair,
    org_b: KeyPair,
    stranger: KeyPair,
    prover: KeyPair,
    verifier: KeyPair,
    trust: TrustList,
}

fn world() -> World {
    let (org_a, org_b) = (KeyPair::generate(), KeyPair::generate());
    let trust = TrustList(vec![
        // A may attest billing and reading tickets; B is trusted to run exchanges.
        (
            did_of(&org_a.public()),
            Action::parse("call:billing_api:*").expect("a pattern"),
        ),
        (
            did_of(&org_a.public()),
            Action::parse("read:tickets").expect("a pattern"),
        ),
        (
            did_of(&org_b.public()),
            Action::parse("*").expect("a pattern"),
        ),
    ]);
    World {
        org_a,
        org_b,
        stranger: KeyPair::generate(),
        prover: KeyPair::generate(),
        verifier: KeyPair::generate(),
        trust,
    }
}

fn refund(max: u64) -> Value {
    json!({"action": "call:billing_api:refund", "resource": "https://billing.acme.example/refunds/**",
           "constraints": {"maxAmount": {"value": max, "unit": "EUR"}}})
}

fn wanted(action: &str, amount: u64) -> Value {
    json!({"action": action, "resource": "https://billing.acme.example/refunds/42",
           "arguments": {"amount": {"value": amount, "unit": "EUR"}}})
}

/// A credential from `org` to `holder`, for `task`, with its status at list index `index`.
fn credential(
    org: &KeyPair,
    holder: &KeyPair,
    capabilities: Vec<Value>,
    task: &str,
    index: u32,
) -> Value {
    let mut grant = root_grant(org, holder, capabilities);
    grant.task.id = task.into();
    grant.status[0].status_list_index = index.to_string();
    grant.status[0].id = Some(format!("https://node.acme.example/status/1#{index}"));
    let built = grant.build().expect("a root credential");
    delegation::sign_credential(
        &built,
        org,
        verification_method_of(&org.public()),
        Cryptosuite::EddsaJcs2022,
        now(),
    )
    .expect("signs")
}

/// What a prover holds: leaves, ancestors and approvals.
#[derive(Default)]
struct Wallet {
    held: Vec<Value>,
    ancestors: Vec<Value>,
    approvals: Vec<Value>,
}

impl Holdings for Wallet {
    fn held(&self) -> Vec<Value> {
        self.held.clone()
    }

    fn ancestor(&self, id: &str) -> Option<Value> {
        self.ancestors.iter().find(|c| c["id"] == id).cloned()
    }

    fn approvals(&self) -> Vec<Value> {
        self.approvals.clone()
    }
}

fn at(time: DateTime<Utc>, trust: &TrustList, status: &Revoked) -> Verifier<'static> {
    // The verifier borrows for the test's length: leak the small policy and source.
    let trust: &'static TrustList = Box::leak(Box::new(trust.clone()));
    let status: &'static Revoked = Box::leak(Box::new(Revoked(status.0.clone())));
    let mut verifier = Verifier::new(&DidKeyResolver, time);
    verifier.issuers = Some(trust);
    verifier.status = Some(status);
    verifier
}

/// Any credential of task `t-1`.
fn query_task(task: &str) -> Value {
    json!({"credentials": [{
        "id": "capability", "format": "ldp_vc", "multiple": true,
        "meta": {"type_values": [["https://w3id.org/vouch#AgentCapabilityCredential"]]},
        "claims": [{"path": ["credentialSubject", "task", "id"], "values": [task]}],
    }]})
}

impl World {
    fn verifier_credential(&self) -> Value {
        credential(
            &self.org_b,
            &self.verifier,
            vec![json!({"action": "verify:exchange", "resource": "https://b.example/**"})],
            "exchanges",
            900,
        )
    }

    fn ask(&self, capabilities: Vec<Value>) -> Asked {
        ask(
            &self.verifier,
            Ask {
                credentials: vec![self.verifier_credential()],
                domain: did_of(&self.verifier.public()).to_string(),
                query: query_task("t-1"),
                capabilities,
            },
            now(),
        )
        .expect("asks")
    }

    /// The prover's wallet: one credential of task `t-1` for refunds up to 50 EUR.
    fn refund_wallet(&self) -> Wallet {
        Wallet {
            held: vec![credential(
                &self.org_a,
                &self.prover,
                vec![refund(5000)],
                "t-1",
                1,
            )],
            ..Wallet::default()
        }
    }

    /// A request of the verifier for `domain`, presenting `credentials`, asking `query`.
    fn ask_as(&self, credentials: Vec<Value>, domain: String, query: Value) -> Asked {
        ask(
            &self.verifier,
            Ask {
                credentials,
                domain,
                query,
                capabilities: vec![wanted("call:billing_api:refund", 10)],
            },
            now(),
        )
        .expect("asks")
    }

    /// The verifier's decision on `response` from `peer`, checked with `verifier`.
    fn decide(
        &self,
        asked: &Asked,
        response: &Value,
        peer: &Did,
        verifier: &Verifier<'_>,
    ) -> exchange::Judgement {
        asked
            .decide(response, Some(peer), verifier, &self.verifier)
            .expect("decided")
    }

    fn prover_did(&self) -> Did {
        did_of(&self.prover.public())
    }

    fn verifier_did(&self) -> Did {
        did_of(&self.verifier.public())
    }

    fn answer(&self, asked: &Asked, wallet: &Wallet, seen: &Once<()>) -> Answered {
        answer(
            &asked.raw,
            &self.prover,
            wallet,
            Some(&self.verifier_did()),
            &at(now(), &self.trust, &Revoked(vec![])),
            seen,
        )
        .expect("answers")
    }
}

fn verdicts(decided: &[exchange::Decided]) -> Vec<Option<Reason>> {
    decided
        .iter()
        .map(|d| match d.decision {
            Verdict::Accepted => None,
            Verdict::Rejected => d.reason,
        })
        .collect()
}

#[test]
fn each_capability_is_decided_on_its_own_with_its_reason() {
    let w = world();
    let wallet = Wallet {
        held: vec![
            credential(
                &w.org_a,
                &w.prover,
                vec![
                    refund(5000),
                    json!({"action": "read:tickets", "resource": "https://billing.acme.example/**"}),
                    json!({"action": "write:tickets", "resource": "https://billing.acme.example/**"}),
                ],
                "t-1",
                1,
            ),
            credential(
                &w.org_a,
                &w.prover,
                vec![
                    json!({"action": "call:billing_api:void", "resource": "https://billing.acme.example/**"}),
                ],
                "t-1",
                2,
            ),
        ],
        ..Wallet::default()
    };
    let asked = w.ask(vec![
        wanted("call:billing_api:refund", 1200),
        wanted("call:billing_api:refund", 9000),
        wanted("delete:tickets", 0),
        wanted("write:tickets", 0),
        wanted("call:billing_api:void", 0),
        wanted("read:tickets", 0),
    ]);
    let answered = w.answer(&asked, &wallet, &Once::default());
    // The second credential's status bit is set.
    let judged = w.decide(
        &asked,
        &answered.response,
        &w.prover_did(),
        &at(now(), &w.trust, &Revoked(vec![2])),
    );
    assert_eq!(
        verdicts(&judged.decision.decided),
        vec![
            None,
            Some(Reason::ConstraintViolated),
            Some(Reason::NotGranted),
            // A may not attest writing tickets.
            Some(Reason::UntrustedIssuer),
            Some(Reason::Revoked),
            None,
        ]
    );
    // The prover takes the decision: signed by the verifier it authenticated, for it.
    let decision = answered
        .accept(&judged.signed, now())
        .expect("the prover accepts the decision");
    assert_eq!(decision.decided[1].reason, Some(Reason::ConstraintViolated));
}

#[test]
fn a_sub_agent_is_accepted_for_its_narrower_right_and_rejected_beyond_it() {
    let w = world();
    let sub = KeyPair::generate();
    let parent = credential(&w.org_a, &w.prover, vec![refund(5000)], "t-1", 1);
    let typed =
        vouch_core::credential::AgentCapabilityCredential::from_json(&parent).expect("reads");
    let mut child = delegation::delegate(
        &typed,
        did_of(&sub.public()),
        vec![refund(1000)],
        now() + Duration::minutes(10),
        now(),
    )
    .expect("delegates");
    // Registered with the org's node: a status entry of its list.
    child.credential_status = vec![crate::fixtures::status_entry(2)];
    let child = delegation::sign_credential(
        &child,
        &w.prover,
        verification_method_of(&w.prover.public()),
        Cryptosuite::EddsaJcs2022,
        now(),
    )
    .expect("signs");
    let wallet = Wallet {
        held: vec![child],
        ancestors: vec![parent],
        ..Wallet::default()
    };
    let asked = w.ask(vec![
        wanted("call:billing_api:refund", 800),
        wanted("call:billing_api:refund", 3000),
    ]);
    let answered = answer(
        &asked.raw,
        &sub,
        &wallet,
        Some(&w.verifier_did()),
        &at(now(), &w.trust, &Revoked(vec![])),
        &Once::default(),
    )
    .expect("answers");
    // Its chain goes with it.
    assert_eq!(answered.presented.len(), 2);
    let judged = w.decide(
        &asked,
        &answered.response,
        &did_of(&sub.public()),
        &at(now(), &w.trust, &Revoked(vec![])),
    );
    assert_eq!(
        verdicts(&judged.decision.decided),
        vec![None, Some(Reason::ConstraintViolated)]
    );

    // Its parent revoked: everything below is rejected `revoked`.
    let judged = w.decide(
        &asked,
        &answered.response,
        &did_of(&sub.public()),
        &at(now(), &w.trust, &Revoked(vec![1])),
    );
    assert_eq!(
        verdicts(&judged.decision.decided),
        vec![Some(Reason::Revoked), Some(Reason::Revoked)]
    );
}

#[test]
fn a_prover_whose_transport_identity_is_not_the_holder_is_rejected_not_holder() {
    let w = world();
    let wallet = w.refund_wallet();
    let asked = w.ask(vec![wanted("call:billing_api:refund", 10)]);
    let answered = w.answer(&asked, &wallet, &Once::default());
    // A peer relays the prover's presentation as its own.
    let relay = did_of(&KeyPair::generate().public());
    let judged = w.decide(
        &asked,
        &answered.response,
        &relay,
        &at(now(), &w.trust, &Revoked(vec![])),
    );
    assert_eq!(
        verdicts(&judged.decision.decided),
        vec![Some(Reason::NotHolder)]
    );
    // And the request of a verifier whose presentation another peer sends is refused.
    let refused = answer(
        &asked.raw,
        &w.prover,
        &wallet,
        Some(&relay),
        &at(now(), &w.trust, &Revoked(vec![])),
        &Once::default(),
    )
    .expect_err("refused");
    assert_eq!(refused.reason(), Some(Reason::NotHolder));
}

#[test]
fn a_prover_refuses_a_verifier_it_cannot_authenticate_or_does_not_trust() {
    let w = world();
    let wallet = w.refund_wallet();
    let refuse = |raw: &Value, status: Vec<u32>, time: DateTime<Utc>| {
        answer(
            raw,
            &w.prover,
            &wallet,
            Some(&w.verifier_did()),
            &at(time, &w.trust, &Revoked(status)),
            &Once::default(),
        )
        .expect_err("refused")
        .reason()
        .expect("refused with a reason")
    };
    let asked = w.ask(vec![wanted("call:billing_api:refund", 10)]);

    // No presentation of the verifier: nothing to authenticate.
    let mut bare = asked.raw.clone();
    bare.as_object_mut()
        .expect("an object")
        .remove("verifierPresentation");
    assert_eq!(refuse(&bare, vec![], now()), Reason::Malformed);
    // A verifier whose credential comes from an org the prover's consortium does not know.
    let untrusted = w.ask_as(
        vec![credential(
            &w.stranger,
            &w.verifier,
            vec![json!({"action": "verify:exchange", "resource": "https://b.example/**"})],
            "exchanges",
            900,
        )],
        w.verifier_did().to_string(),
        query_task("t-1"),
    );
    assert_eq!(
        refuse(&untrusted.raw, vec![], now()),
        Reason::UntrustedIssuer
    );
    // A verifier whose credential was revoked.
    assert_eq!(refuse(&asked.raw, vec![900], now()), Reason::Revoked);
    // A request that names someone else's domain (a relay of another verifier's exchange).
    let elsewhere = w.ask_as(
        vec![w.verifier_credential()],
        did_of(&w.org_a.public()).to_string(),
        query_task("t-1"),
    );
    assert_eq!(
        refuse(&elsewhere.raw, vec![], now()),
        Reason::DomainMismatch
    );
    // The verifier's org's DID names it too.
    let org_domain = w.ask_as(
        vec![w.verifier_credential()],
        did_of(&w.org_b.public()).to_string(),
        query_task("t-1"),
    );
    w.answer(&org_domain, &wallet, &Once::default());
    // An old request: replayed.
    assert_eq!(
        refuse(
            &asked.raw,
            vec![],
            now() + MAX_REQUEST_AGE + Duration::seconds(1)
        ),
        Reason::Replayed
    );
}

/// A prover at its bound of requests answered does not judge one more: it is busy, which is no
/// refusal of the verifier (no §8 reason, no strike), and the wire says so — not
/// `status_unknown`, which is a check's outcome.
#[test]
fn a_prover_at_its_bound_is_busy_not_a_refusal() {
    let w = world();
    let wallet = w.refund_wallet();
    let trust = at(now(), &w.trust, &Revoked(vec![]));
    let full: Once<()> = Once::new(1);
    w.answer(
        &w.ask(vec![wanted("call:billing_api:refund", 10)]),
        &wallet,
        &full,
    );
    let asked = w.ask(vec![wanted("call:billing_api:refund", 10)]);
    let busy = answer(
        &asked.raw,
        &w.prover,
        &wallet,
        Some(&w.verifier_did()),
        &trust,
        &full,
    )
    .expect_err("busy");
    assert!(matches!(busy, Unanswered::Busy(_)), "{busy:?}");
    assert_eq!(busy.reason(), None);
    assert!(matches!(
        Reply::of(&busy),
        Reply::Unavailable {
            why: Unavailable::Busy,
            ..
        }
    ));
    // A failure of the prover's own is not judged either, and its cause is not sent.
    let failed = Unanswered::Failed("/var/lib/vouch/wallet: disk full".into());
    match Reply::of(&failed) {
        Reply::Unavailable {
            why: Unavailable::Failed,
            message,
        } => assert!(!message.contains("/var/lib"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn requests_responses_and_decisions_are_used_once() {
    let w = world();
    let wallet = w.refund_wallet();
    let trust = at(now(), &w.trust, &Revoked(vec![]));
    let asked = w.ask(vec![wanted("call:billing_api:refund", 10)]);
    let seen = Once::default();
    let answered = w.answer(&asked, &wallet, &seen);

    // The same request again: replayed.
    let again = answer(
        &asked.raw,
        &w.prover,
        &wallet,
        Some(&w.verifier_did()),
        &trust,
        &seen,
    )
    .expect_err("refused");
    assert_eq!(again.reason(), Some(Reason::Replayed));

    // The response to another exchange's request: it signs that request's intent, not this
    // one's.
    let other = w.ask(vec![wanted("call:billing_api:refund", 10)]);
    let judged = w.decide(&other, &answered.response, &w.prover_did(), &trust);
    assert_eq!(
        verdicts(&judged.decision.decided),
        vec![Some(Reason::RequestMismatch)]
    );
    // A response made for this request but another domain.
    let vp = vouch_core::presentation::create(
        &w.prover,
        wallet.held.clone(),
        &asked.request.intent(&asked.verifier),
        "elsewhere.example",
        Cryptosuite::EddsaJcs2022,
        now(),
    )
    .expect("presents");
    let judged = w.decide(
        &asked,
        &json!({"verifiablePresentation": vp}),
        &w.prover_did(),
        &trust,
    );
    assert_eq!(
        verdicts(&judged.decision.decided),
        vec![Some(Reason::DomainMismatch)]
    );

    // A decision is taken once: the prover keeps its open exchanges by challenge.
    let open: Once<Answered> = Once::default();
    open.insert(
        answered.challenge.clone(),
        now() + MAX_REQUEST_AGE,
        answered.clone(),
        now(),
    )
    .expect("open");
    let judged = w.decide(&asked, &answered.response, &w.prover_did(), &trust);
    let challenge = judged.decision.challenge.clone();
    let first = open.take(&challenge, now()).expect("open");
    first.accept(&judged.signed, now()).expect("accepted");
    assert!(open.take(&challenge, now()).is_none(), "a second decision");
    // A decision made for another exchange does not verify for this one.
    let other_answered = w.answer(&other, &wallet, &Once::default());
    assert!(matches!(
        other_answered.accept(&judged.signed, now()),
        Err(DecisionError::OtherExchange(_))
    ));
}

#[test]
fn the_query_selects_only_what_it_asks_for() {
    let w = world();
    let asked_for = credential(&w.org_a, &w.prover, vec![refund(5000)], "t-1", 1);
    let other_task = credential(&w.org_a, &w.prover, vec![refund(9000)], "t-2", 2);
    let wallet = Wallet {
        held: vec![other_task.clone(), asked_for.clone()],
        ..Wallet::default()
    };
    let asked = w.ask(vec![wanted("call:billing_api:refund", 7000)]);
    let answered = w.answer(&asked, &wallet, &Once::default());
    // Only the credential of task t-1 is presented.
    assert_eq!(
        answered.presented,
        vec![asked_for["id"].as_str().expect("an id")]
    );
    let sent = answered.response["verifiablePresentation"]["verifiableCredential"]
        .as_array()
        .expect("credentials");
    assert_eq!(sent, &vec![asked_for.clone()]);

    // A prover that sends the other task's credential anyway gains nothing from it: the
    // verifier uses only what its query asked for.
    let vp = vouch_core::presentation::create(
        &w.prover,
        vec![asked_for, other_task],
        &asked.request.intent(&asked.verifier),
        &asked.request.domain,
        Cryptosuite::EddsaJcs2022,
        now(),
    )
    .expect("presents");
    let judged = w.decide(
        &asked,
        &json!({"verifiablePresentation": vp}),
        &w.prover_did(),
        &at(now(), &w.trust, &Revoked(vec![])),
    );
    assert_eq!(
        verdicts(&judged.decision.decided),
        vec![Some(Reason::ConstraintViolated)]
    );

    // Nothing held answers a query for task t-3: refused, nothing presented.
    let none = w.ask_as(
        vec![w.verifier_credential()],
        w.verifier_did().to_string(),
        query_task("t-3"),
    );
    let refused = answer(
        &none.raw,
        &w.prover,
        &wallet,
        Some(&w.verifier_did()),
        &at(now(), &w.trust, &Revoked(vec![])),
        &Once::default(),
    )
    .expect_err("refused");
    assert_eq!(refused.reason(), Some(Reason::NotGranted));
}

#[test]
fn what_the_prover_signs_is_the_request_it_was_shown_over_an_authenticated_transport_too() {
    // Over libp2p the peer is the verifier (Noise), but a verifier's daemon may forward what
    // its agent — or a relay behind it — gives it: the binding holds on its own.
    let w = world();
    let wallet = w.refund_wallet();
    let trust = at(now(), &w.trust, &Revoked(vec![]));
    let asked = w.ask(vec![wanted("call:billing_api:refund", 4900)]);
    let refused = |raw: &Value| {
        answer(
            raw,
            &w.prover,
            &wallet,
            Some(&w.verifier_did()),
            &trust,
            &Once::default(),
        )
        .expect_err("a changed request")
        .reason()
        .expect("refused with a reason")
    };
    // Each part of what was asked, changed after the verifier signed it.
    let mut amount = asked.raw.clone();
    amount["capabilities"][0]["arguments"]["amount"]["value"] = json!(10);
    let mut resource = asked.raw.clone();
    resource["capabilities"][0]["resource"] = json!("https://billing.acme.example/refunds/43");
    let mut query = asked.raw.clone();
    query["verifiablePresentationRequest"]["query"][0]["dcqlQuery"] = query_task("t-2");
    let mut nonce = asked.raw.clone();
    nonce["verifiablePresentationRequest"]["challenge"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    for changed in [amount, resource, query, nonce] {
        assert_eq!(refused(&changed), Reason::RequestMismatch);
    }
    // The prover's answer signs the intent, not the bare nonce: made over the nonce (as a
    // prover that signs "the challenge" would), it answers no request.
    let vp = vouch_core::presentation::create(
        &w.prover,
        wallet.held.clone(),
        &asked.request.challenge,
        &asked.request.domain,
        Cryptosuite::EddsaJcs2022,
        now(),
    )
    .expect("presents");
    let judged = w.decide(
        &asked,
        &json!({"verifiablePresentation": vp}),
        &w.prover_did(),
        &trust,
    );
    assert_eq!(
        verdicts(&judged.decision.decided),
        vec![Some(Reason::RequestMismatch)]
    );
    // The request as signed: answered and decided on.
    let answered = w.answer(&asked, &wallet, &Once::default());
    let judged = w.decide(&asked, &answered.response, &w.prover_did(), &trust);
    assert_eq!(verdicts(&judged.decision.decided), vec![None]);
}

/// An approval by `org` of `request` for `holder`, its status at list index `index`.
fn approval_of(org: &KeyPair, holder: &KeyPair, request: &Value, index: u32) -> Value {
    use vouch_core::approval::{Approval, request_hash};
    let request = vouch_core::capability::Request::from_json(request).expect("a request");
    Approval {
        id: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        issuer: did_of(&org.public()),
        subject: did_of(&holder.public()),
        request: request_hash(&request),
        owner: "urn:vouch:owner:alice".into(),
        method: "owner-key".into(),
        valid_from: now(),
        valid_until: now() + Duration::minutes(5),
        status: vec![crate::fixtures::status_entry(index)],
    }
    .sign(org, verification_method_of(&org.public()))
    .expect("signs")
}

#[test]
fn a_capability_that_needs_approval_is_accepted_once_on_the_owners_approval_of_that_request() {
    let w = world();
    let gated = json!({"action": "call:billing_api:refund", "resource": "https://billing.acme.example/refunds/**",
                       "constraints": {"maxAmount": {"value": 5000, "unit": "EUR"}, "requiresApproval": true}});
    let held = credential(&w.org_a, &w.prover, vec![gated], "t-1", 1);
    let ledger: Once<()> = Once::default();
    let mut trust = at(now(), &w.trust, &Revoked(vec![]));
    trust.approvals = Some(&ledger);
    let decide = |wallet: &Wallet, trust: &Verifier<'_>, amount: u64| {
        let asked = w.ask(vec![wanted("call:billing_api:refund", amount)]);
        let answered = w.answer(&asked, wallet, &Once::default());
        w.decide(&asked, &answered.response, &w.prover_did(), trust)
            .decision
            .decided
    };
    let bare = Wallet {
        held: vec![held.clone()],
        ..Wallet::default()
    };
    // No approval: `needs_approval`, naming the hash of the very request to approve.
    let decided = decide(&bare, &trust, 4900);
    assert_eq!(decided[0].reason, Some(Reason::NeedsApproval));
    let expected = vouch_core::approval::request_hash(
        &vouch_core::capability::Request::from_json(&wanted("call:billing_api:refund", 4900))
            .expect("a request"),
    );
    assert_eq!(decided[0].approval_request, Some(expected));
    // An "approval" the agent (or its model) wrote into the arguments is no approval.
    let asked = w.ask(vec![json!({"action": "call:billing_api:refund",
        "resource": "https://billing.acme.example/refunds/42",
        "arguments": {"amount": {"value": 4900, "unit": "EUR"}, "approval": "yes"}})]);
    let answered = w.answer(&asked, &bare, &Once::default());
    let judged = w.decide(&asked, &answered.response, &w.prover_did(), &trust);
    assert_eq!(
        verdicts(&judged.decision.decided),
        vec![Some(Reason::NeedsApproval)]
    );

    let with = |approval: Value| Wallet {
        held: vec![held.clone()],
        approvals: vec![approval],
        ..Wallet::default()
    };
    // Approvals that are not of this request, by this org, for this prover: each refused.
    let stranger = KeyPair::generate();
    for (name, approval) in [
        (
            "another request (10 EUR)",
            approval_of(
                &w.org_a,
                &w.prover,
                &wanted("call:billing_api:refund", 10),
                2,
            ),
        ),
        (
            "another org",
            approval_of(
                &w.org_b,
                &w.prover,
                &wanted("call:billing_api:refund", 4900),
                3,
            ),
        ),
        (
            "another holder",
            approval_of(
                &w.org_a,
                &stranger,
                &wanted("call:billing_api:refund", 4900),
                4,
            ),
        ),
    ] {
        assert_eq!(
            decide(&with(approval.clone()), &trust, 4900)[0].reason,
            Some(Reason::NeedsApproval),
            "{name}"
        );
        // Also when a prover sends it anyway (its own wallet would not).
        let asked = w.ask(vec![wanted("call:billing_api:refund", 4900)]);
        let vp = vouch_core::presentation::create(
            &w.prover,
            vec![held.clone(), approval],
            &asked.request.intent(&asked.verifier),
            &asked.request.domain,
            Cryptosuite::EddsaJcs2022,
            now(),
        )
        .expect("presents");
        let judged = w.decide(
            &asked,
            &json!({"verifiablePresentation": vp}),
            &w.prover_did(),
            &trust,
        );
        assert_eq!(
            verdicts(&judged.decision.decided),
            vec![Some(Reason::NeedsApproval)],
            "sent anyway: {name}"
        );
    }
    // Revoked approval: not taken.
    let revoked = with(approval_of(
        &w.org_a,
        &w.prover,
        &wanted("call:billing_api:refund", 4900),
        77,
    ));
    let mut revoking = at(now(), &w.trust, &Revoked(vec![77]));
    revoking.approvals = Some(&ledger);
    assert_eq!(
        decide(&revoked, &revoking, 4900)[0].reason,
        Some(Reason::NeedsApproval)
    );
    // The owner's approval of exactly this request: accepted, once.
    let approved = with(approval_of(
        &w.org_a,
        &w.prover,
        &wanted("call:billing_api:refund", 4900),
        5,
    ));
    // A verifier with nowhere to keep it used counts no approval.
    let forgetful = at(now(), &w.trust, &Revoked(vec![]));
    assert_eq!(
        decide(&approved, &forgetful, 4900)[0].reason,
        Some(Reason::NeedsApproval)
    );
    assert_eq!(decide(&approved, &trust, 4900)[0].reason, None);
    assert_eq!(
        decide(&approved, &trust, 4900)[0].reason,
        Some(Reason::NeedsApproval),
        "used once"
    );
    // A credential with the gated capability and a small ungated one beside it: the approval
    // is still what permits 4,900 EUR, and it is used up all the same (once, then not).
    let mixed = credential(
        &w.org_a,
        &w.prover,
        vec![
            json!({"action": "call:billing_api:refund", "resource": "https://billing.acme.example/refunds/**",
                   "constraints": {"maxAmount": {"value": 5000, "unit": "EUR"}, "requiresApproval": true}}),
            refund(100),
        ],
        "t-1",
        8,
    );
    let both = Wallet {
        held: vec![mixed],
        approvals: vec![approval_of(
            &w.org_a,
            &w.prover,
            &wanted("call:billing_api:refund", 4900),
            9,
        )],
        ..Wallet::default()
    };
    let bare_mixed = Wallet {
        held: both.held.clone(),
        ..Wallet::default()
    };
    assert_eq!(
        decide(&bare_mixed, &trust, 4900)[0].reason,
        Some(Reason::NeedsApproval),
        "needs_approval, not constraint_violated from the small one"
    );
    assert_eq!(decide(&both, &trust, 4900)[0].reason, None);
    assert_eq!(
        decide(&both, &trust, 4900)[0].reason,
        Some(Reason::NeedsApproval),
        "used once, with an ungated capability beside it"
    );
    // Above the capability's limit, an approval does not lift the limit.
    let over = with(approval_of(
        &w.org_a,
        &w.prover,
        &wanted("call:billing_api:refund", 9000),
        6,
    ));
    assert_eq!(
        decide(&over, &trust, 9000)[0].reason,
        Some(Reason::ConstraintViolated)
    );
}
