//! Issue, delegate, present and verify, and every way that must fail, with its reason code.

use chrono::Duration;
use serde_json::{Value, json};
use vouch_core::credential::{AgentCapabilityCredential, Multihash, StatusEntry};
use vouch_core::delegation::{self, DelegationError};
use vouch_core::did::Did;
use vouch_core::did::key::{did_of, verification_method_of};
use vouch_core::did::resolve::DidKeyResolver;
use vouch_core::key::KeyPair;
use vouch_core::presentation;
use vouch_core::proof::Cryptosuite;
use vouch_core::report::{Outcome, Reason};
use vouch_core::verify::{self, EntryStatus, StatusSource, TrustList, Verifier};

use crate::fixtures::{now, root_grant, trust_of, verifier_at};

pub(crate) struct World {
    pub(crate) org: KeyPair,
    pub(crate) agent: KeyPair,
    pub(crate) sub: KeyPair,
    pub(crate) root: AgentCapabilityCredential,
    pub(crate) root_signed: Value,
}

fn root_credential(
    org: &KeyPair,
    agent: &KeyPair,
    capabilities: Vec<Value>,
) -> AgentCapabilityCredential {
    root_grant(org, agent, capabilities)
        .build()
        .expect("a well-formed root credential")
}

pub(crate) fn refund_capability(max: u64) -> Value {
    json!({"action": "call:billing_api:refund", "resource": "https://billing.acme.example/refunds/**",
           "constraints": {"maxAmount": {"value": max, "unit": "EUR"}}})
}

pub(crate) fn world(suite: Cryptosuite) -> World {
    let (org, agent, sub) = (
        KeyPair::generate(),
        KeyPair::generate(),
        KeyPair::generate(),
    );
    let root = root_credential(&org, &agent, vec![refund_capability(5000)]);
    let root_signed = sign_as(&root, &org, suite);
    World {
        org,
        agent,
        sub,
        root,
        root_signed,
    }
}

/// The root's delegation of `capabilities` to the sub-agent for 10 minutes, unsigned.
/// Registered, as a delegation is with its org's node: with a status entry of the org's list.
pub(crate) fn delegation_of(w: &World, capabilities: Vec<Value>) -> AgentCapabilityCredential {
    let mut child = delegation::delegate(
        &w.root,
        did_of(&w.sub.public()),
        capabilities,
        now() + Duration::minutes(10),
        now(),
    )
    .expect("delegates");
    child.credential_status = vec![crate::fixtures::status_entry(43)];
    child
}

/// The same, signed by the agent.
pub(crate) fn delegated(w: &World, capabilities: Vec<Value>, suite: Cryptosuite) -> Value {
    sign_as(&delegation_of(w, capabilities), &w.agent, suite)
}

pub(crate) fn sign_as(
    credential: &AgentCapabilityCredential,
    key: &KeyPair,
    suite: Cryptosuite,
) -> Value {
    delegation::sign_credential(
        credential,
        key,
        verification_method_of(&key.public()),
        suite,
        now(),
    )
    .expect("signs")
}

/// A presentation over the challenge `c-1` for `partner.example`.
pub(crate) fn present(holder: &KeyPair, credentials: Vec<Value>, suite: Cryptosuite) -> Value {
    presentation::create(holder, credentials, "c-1", "partner.example", suite, now())
        .expect("presents")
}

fn reasons(report: &vouch_core::report::Report) -> Vec<Reason> {
    report.reasons()
}

impl World {
    /// The org's trust list.
    pub(crate) fn trust(&self) -> TrustList {
        trust_of(&self.org)
    }
}

#[test]
fn issue_delegate_present_verify_in_both_suites() {
    for suite in [Cryptosuite::EddsaJcs2022, Cryptosuite::EddsaRdfc2022] {
        let w = world(suite);
        let trust = w.trust();
        let verifier = verifier_at(&trust, now() + Duration::minutes(1));
        let (report, _) = verify::verify_credential(&w.root_signed, &verifier);
        assert!(report.verified, "{suite}: {report:?}");

        let child = delegated(&w, vec![refund_capability(100)], suite);
        let vp = presentation::create(
            &w.sub,
            vec![w.root_signed.clone(), child],
            "c-123",
            "partner.example",
            suite,
            now(),
        )
        .expect("presents");
        let verified =
            presentation::verify_presentation(&vp, "c-123", "partner.example", &verifier);
        assert!(verified.report.verified, "{suite}: {:#?}", verified.report);
        assert_eq!(verified.chains.len(), 1);
        assert_eq!(verified.chains[0].credentials.len(), 2);
        // The request is checked along the whole chain.
        let request = vouch_core::capability::Request::from_json(&json!({
            "action": "call:billing_api:refund", "resource": "https://billing.acme.example/refunds/r1",
            "arguments": {"amount": {"value": 100, "unit": "EUR"}}})).expect("request");
        assert_eq!(verified.chains[0].permits(&request, now()), Ok(()));
        let over = vouch_core::capability::Request::from_json(&json!({
            "action": "call:billing_api:refund", "resource": "https://billing.acme.example/refunds/r1",
            "arguments": {"amount": {"value": 101, "unit": "EUR"}}})).expect("request");
        assert!(verified.chains[0].permits(&over, now()).is_err());
    }
}

#[test]
fn every_reason_code_is_reachable() {
    let suite = Cryptosuite::EddsaJcs2022;
    let w = world(suite);
    let at = now() + Duration::minutes(1);
    let trust = w.trust();
    let verifier = verifier_at(&trust, at);

    // malformed
    let mut broken = w.root_signed.clone();
    broken["credentialSubject"]["principal"] = json!("alice");
    assert_eq!(
        reasons(&verify::verify_credential(&broken, &verifier).0),
        [Reason::Malformed]
    );

    // invalid_proof: tampered
    let mut tampered = w.root_signed.clone();
    tampered["credentialSubject"]["capabilities"][0]["constraints"]["maxAmount"]["value"] =
        json!(9_000_000);
    assert!(
        reasons(&verify::verify_credential(&tampered, &verifier).0).contains(&Reason::InvalidProof)
    );

    // invalid_proof: signed by someone other than the issuer
    let impostor = KeyPair::generate();
    let forged = sign_as(&w.root, &impostor, suite);
    assert!(
        reasons(&verify::verify_credential(&forged, &verifier).0).contains(&Reason::InvalidProof)
    );

    // expired / not_yet_valid
    let late = verifier_at(&trust, now() + Duration::minutes(15));
    assert!(
        reasons(&verify::verify_credential(&w.root_signed, &late).0).contains(&Reason::Expired)
    );
    let early = verifier_at(&trust, now() - Duration::minutes(5));
    assert!(
        reasons(&verify::verify_credential(&w.root_signed, &early).0)
            .contains(&Reason::NotYetValid)
    );

    // untrusted_issuer
    let narrow = TrustList(vec![(
        did_of(&w.org.public()),
        vouch_core::capability::Action::parse("read:*").expect("action"),
    )]);
    let strict = verifier_at(&narrow, at);
    assert!(
        reasons(&verify::verify_credential(&w.root_signed, &strict).0)
            .contains(&Reason::UntrustedIssuer)
    );

    // revoked / suspended / status_unknown
    struct Fixed(Result<EntryStatus, String>);
    impl StatusSource for Fixed {
        fn status(&self, _: &Did, _: &StatusEntry) -> Result<EntryStatus, String> {
            self.0.clone()
        }
    }
    for (answer, reason) in [
        (Ok(EntryStatus::Set), Reason::Revoked),
        (Err("list unavailable".to_owned()), Reason::StatusUnknown),
    ] {
        let source = Fixed(answer);
        let mut with_status = verifier_at(&trust, at);
        with_status.status = Some(&source);
        assert!(
            reasons(&verify::verify_credential(&w.root_signed, &with_status).0).contains(&reason)
        );
    }
    let mut suspended = w.root.clone();
    suspended.credential_status[0].status_purpose = "suspension".into();
    let suspended = sign_as(&suspended, &w.org, suite);
    let source = Fixed(Ok(EntryStatus::Set));
    let mut with_status = verifier_at(&trust, at);
    with_status.status = Some(&source);
    assert!(
        reasons(&verify::verify_credential(&suspended, &with_status).0)
            .contains(&Reason::Suspended)
    );

    // unknown_constraint
    let odd = root_credential(
        &w.org,
        &w.agent,
        vec![json!({"action": "read:x", "resource": "https://h/x", "constraints": {"tokens": 3}})],
    );
    let odd = sign_as(&odd, &w.org, suite);
    assert_eq!(
        reasons(&verify::verify_credential(&odd, &verifier).0),
        [Reason::UnknownConstraint]
    );

    // replayed, domain_mismatch, not_holder, broken_chain, scope_exceeds_parent
    let child = delegated(&w, vec![refund_capability(100)], suite);
    let vp = present(&w.sub, vec![w.root_signed.clone(), child.clone()], suite);
    let check = |vp: &Value, challenge: &str, domain: &str| {
        reasons(&presentation::verify_presentation(vp, challenge, domain, &verifier).report)
    };
    assert_eq!(check(&vp, "c-2", "partner.example"), [Reason::Replayed]);
    assert_eq!(check(&vp, "c-1", "evil.example"), [Reason::DomainMismatch]);
    let stolen = present(&impostor, vec![w.root_signed.clone(), child.clone()], suite);
    assert_eq!(
        check(&stolen, "c-1", "partner.example"),
        [Reason::NotHolder]
    );
    let orphan = present(&w.sub, vec![child.clone()], suite);
    assert_eq!(
        check(&orphan, "c-1", "partner.example"),
        [Reason::BrokenChain]
    );

    // An escalated delegation, signed by the real holder's key, bypassing `delegate`'s check.
    let mut escalated: Value = child.clone();
    escalated.as_object_mut().expect("object").remove("proof");
    escalated["credentialSubject"]["capabilities"] = json!([refund_capability(50_000)]);
    let escalated = AgentCapabilityCredential::from_json(&escalated).expect("well-formed");
    let escalated = sign_as(&escalated, &w.agent, suite);
    let vp = present(&w.sub, vec![w.root_signed.clone(), escalated], suite);
    assert_eq!(
        check(&vp, "c-1", "partner.example"),
        [Reason::ScopeExceedsParent]
    );

    // audience_mismatch
    let mut pinned = w.root.clone();
    pinned.credential_subject.audience = vec!["bank.example".into()];
    let pinned = sign_as(&pinned, &w.org, suite);
    let vp = present(&w.agent, vec![pinned], suite);
    assert_eq!(
        check(&vp, "c-1", "partner.example"),
        [Reason::AudienceMismatch]
    );

    // unresolvable_did: a verification method of a method we cannot resolve
    let mut unresolvable = w.root_signed.clone();
    unresolvable["proof"]["verificationMethod"] = json!("did:web:acme.example#key-1");
    assert!(
        reasons(&verify::verify_credential(&unresolvable, &verifier).0)
            .contains(&Reason::UnresolvableDid)
    );

    // definition_mismatch
    let mut pinned_definition = verifier_at(&trust, at);
    pinned_definition.expected_definition = Some(Multihash::of(b"another agent"));
    assert_eq!(
        reasons(&verify::verify_credential(&w.root_signed, &pinned_definition).0),
        [Reason::DefinitionMismatch]
    );

    // Proofs only: the trust and status checks are visible as skipped.
    let mut proofs_only = Verifier::new(&DidKeyResolver, at);
    proofs_only.danger_proofs_only = true;
    let (report, _) = verify::verify_credential(&w.root_signed, &proofs_only);
    assert!(report.verified, "{report:#?}");
    for name in ["issuer_trust", "status"] {
        assert!(
            report
                .checks
                .iter()
                .any(|c| c.check == name && c.outcome == Outcome::Skipped),
            "{name}"
        );
    }
}

#[test]
fn delegation_refuses_escalation_depth_and_lifetime() {
    let w = world(Cryptosuite::EddsaJcs2022);
    let to = did_of(&w.sub.public());
    let escalate = delegation::delegate(
        &w.root,
        to.clone(),
        vec![refund_capability(5001)],
        now() + Duration::minutes(5),
        now(),
    );
    assert!(matches!(escalate, Err(DelegationError::Escalation { .. })));
    let outlive = delegation::delegate(
        &w.root,
        to.clone(),
        vec![refund_capability(1)],
        now() + Duration::hours(1),
        now(),
    );
    assert!(matches!(outlive, Err(DelegationError::OutlivesParent(_))));
    let mut shallow = w.root.clone();
    shallow.credential_subject.delegation.max_depth = 0;
    let deep = delegation::delegate(
        &shallow,
        to,
        vec![refund_capability(1)],
        now() + Duration::minutes(5),
        now(),
    );
    assert!(matches!(deep, Err(DelegationError::TooDeep { .. })));
}

#[test]
fn depth_exceeded_and_renewal_rules() {
    let suite = Cryptosuite::EddsaJcs2022;
    let w = world(suite);
    let trust = w.trust();
    let verifier = verifier_at(&trust, now() + Duration::minutes(1));
    // A chain of 3 verifies under the default cap and fails under a cap of 1.
    let child = delegation_of(&w, vec![refund_capability(100)]);
    let child_signed = sign_as(&child, &w.agent, suite);
    let third = KeyPair::generate();
    let mut grandchild = delegation::delegate(
        &child,
        did_of(&third.public()),
        vec![refund_capability(10)],
        now() + Duration::minutes(5),
        now(),
    )
    .expect("delegates");
    grandchild.credential_status = vec![crate::fixtures::status_entry(44)];
    let grandchild = sign_as(&grandchild, &w.sub, suite);
    let vp = presentation::create(
        &third,
        vec![w.root_signed.clone(), child_signed, grandchild],
        "c",
        "d",
        suite,
        now(),
    )
    .expect("presents");
    assert!(
        presentation::verify_presentation(&vp, "c", "d", &verifier)
            .report
            .verified
    );
    let mut capped = verifier_at(&trust, now() + Duration::minutes(1));
    capped.max_depth = 1;
    assert!(
        presentation::verify_presentation(&vp, "c", "d", &capped)
            .report
            .reasons()
            .contains(&Reason::DepthExceeded)
    );

    // Renewal: allowed to maxCount, then refused; changed subjects are refused.
    let mut previous = w.root.clone();
    for _ in 0..4 {
        let next = delegation::renew(
            &previous,
            now() + Duration::minutes(10),
            Duration::minutes(15),
        )
        .expect("renews");
        assert_eq!(delegation::check_renewal(&w.root, &previous, &next), Ok(()));
        previous = next;
    }
    assert!(delegation::renew(&previous, now(), Duration::minutes(15)).is_err());
    let mut next = delegation::renew(&w.root, now(), Duration::minutes(15)).expect("renews");
    next.credential_subject.id = did_of(&KeyPair::generate().public());
    assert_eq!(
        delegation::check_renewal(&w.root, &w.root, &next).map_err(|e| e.0),
        Err(Reason::RenewalInvalid)
    );
    let mut wider = delegation::renew(&w.root, now(), Duration::minutes(15)).expect("renews");
    wider.credential_subject.capabilities = vec![refund_capability(6000)];
    assert_eq!(
        delegation::check_renewal(&w.root, &w.root, &wider).map_err(|e| e.0),
        Err(Reason::ScopeExceedsParent)
    );
}

#[test]
fn definition_hash_must_be_consistent() {
    let w = world(Cryptosuite::EddsaJcs2022);
    let mut json = w.root.to_json();
    json["credentialSubject"]["agent"]["definitionHash"]["model"] =
        json!(Multihash::of(b"other model").as_str());
    assert!(AgentCapabilityCredential::from_json(&json).is_err());
}

/// A presentation's signatures are checked in one batch; when one is bad, each is checked alone,
/// so the report still fails exactly the bad proof and passes the others (in both suites).
#[test]
fn a_batch_with_one_bad_signature_names_it() {
    for suite in [Cryptosuite::EddsaJcs2022, Cryptosuite::EddsaRdfc2022] {
        let w = world(suite);
        let trust = w.trust();
        let verifier = verifier_at(&trust, now() + Duration::minutes(1));
        let child = delegated(&w, vec![refund_capability(100)], suite);
        let proof_outcomes = |vp: &Value| -> Vec<(Option<String>, Outcome)> {
            presentation::verify_presentation(vp, "c-1", "partner.example", &verifier)
                .report
                .checks
                .into_iter()
                .filter(|c| c.check == "proof")
                .map(|c| (c.subject, c.outcome))
                .collect()
        };
        let good = proof_outcomes(&present(
            &w.sub,
            vec![w.root_signed.clone(), child.clone()],
            suite,
        ));
        assert_eq!(good.len(), 3, "{good:?}");
        assert!(good.iter().all(|(_, o)| *o == Outcome::Passed), "{good:?}");

        // The root's signature, one bit changed (the presentation's own proof is made over it).
        let mut tampered = w.root_signed.clone();
        let value = tampered["proof"]["proofValue"].as_str().unwrap().to_owned();
        let mut signature = multibase::decode(&value).unwrap().1;
        signature[40] ^= 1;
        tampered["proof"]["proofValue"] =
            multibase::encode(multibase::Base::Base58Btc, signature).into();
        let outcomes = proof_outcomes(&present(&w.sub, vec![tampered, child], suite));
        let root_id = w.root.id.to_string();
        for (subject, outcome) in &outcomes {
            let expected = if subject.as_deref() == Some(root_id.as_str()) {
                Outcome::Failed
            } else {
                Outcome::Passed
            };
            assert_eq!(*outcome, expected, "{suite} {subject:?}: {outcomes:?}");
        }
        assert_eq!(outcomes.len(), 3);
    }
}
