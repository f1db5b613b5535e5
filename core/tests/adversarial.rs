//! The holes an adversarial review found (issue 9), each held by a test that failed before its
//! fix: an attacker's credentials and presentations, signed with real keys, refused with the
//! reason code the rule gives. `docs/THREAT-MODEL.md` names each rule and its test here.

use chrono::Duration;
use serde_json::{Value, json};
use vouch_core::capability::{Denial, Request};
use vouch_core::credential::{AgentCapabilityCredential, CredentialId, Multihash};
use vouch_core::delegation;
use vouch_core::did::key::{did_of, verification_method_of};
use vouch_core::did::resolve::DidKeyResolver;
use vouch_core::key::KeyPair;
use vouch_core::presentation::{self, VerifiedPresentation};
use vouch_core::proof::{self, Cryptosuite, ProofOptions};
use vouch_core::report::{Outcome, Reason, Report, check};
use vouch_core::verify::{self, Verifier};

use crate::fixtures::{now, trust_of, verifier_at};
use crate::flows::{World, delegated, delegation_of, present, refund_capability, sign_as, world};

const SUITE: Cryptosuite = Cryptosuite::EddsaJcs2022;

fn at() -> chrono::DateTime<chrono::Utc> {
    now() + Duration::minutes(1)
}

fn verify_vp(vp: &Value, verifier: &Verifier<'_>) -> VerifiedPresentation {
    presentation::verify_presentation(vp, "c-1", "partner.example", verifier)
}

/// Signs any JSON as a credential of `key`'s did:key, bypassing every builder's checks.
fn sign_raw(unsigned: &Value, key: &KeyPair) -> Value {
    let options = ProofOptions {
        cryptosuite: SUITE,
        created: now(),
        verification_method: verification_method_of(&key.public()),
        purpose: vouch_core::did::document::Relationship::AssertionMethod,
        challenge: None,
        domain: None,
        expires: None,
    };
    proof::sign(unsigned, &options, key).expect("signs")
}

/// A credential issued by `issuer` to `subject`, delegated (it says) from `parent`.
fn claiming_parent(
    w: &World,
    issuer: &KeyPair,
    subject: &KeyPair,
    id: &CredentialId,
    parent: &CredentialId,
) -> Value {
    let mut credential = w.root.to_json();
    credential["id"] = json!(id);
    credential["issuer"] = json!(did_of(&issuer.public()));
    credential["credentialSubject"]["id"] = json!(did_of(&subject.public()));
    credential["credentialSubject"]["renewal"]["lineage"] = json!(id);
    credential["credentialSubject"]["delegation"] =
        json!({"parent": parent, "ancestors": [parent], "depth": 1, "maxDepth": 5});
    credential
        .as_object_mut()
        .expect("object")
        .remove("credentialStatus");
    AgentCapabilityCredential::from_json(&credential).expect("well-formed");
    sign_raw(&credential, issuer)
}

/// Every credential of the input has every check of `check::CREDENTIAL`, every capability of a
/// credential that reads both capability checks, and the presentation its own: none is missing,
/// whatever failed before it.
fn assert_every_check_named(report: &Report, credentials: &[&Value], presentation: bool) {
    if presentation {
        let holder = report.checks.first().and_then(|c| c.subject.clone());
        for name in check::PRESENTATION {
            assert!(
                report.has(name, holder.as_deref()),
                "presentation check {name} missing: {report:#?}"
            );
        }
    }
    for credential in credentials {
        let id = credential["id"]
            .as_str()
            .expect("test credentials have ids");
        for name in check::CREDENTIAL {
            assert!(
                report.has(name, Some(id)),
                "{name} missing for {id}: {report:#?}"
            );
        }
        if AgentCapabilityCredential::from_json(credential).is_err() {
            continue;
        }
        let count = credential["credentialSubject"]["capabilities"]
            .as_array()
            .map_or(0, Vec::len);
        for index in 0..count {
            let subject = format!("{id} capability {index}");
            for name in check::CAPABILITY_CHECKS {
                assert!(
                    report.has(name, Some(&subject)),
                    "{name} missing for {subject}: {report:#?}"
                );
            }
        }
    }
    if !report.verified {
        assert!(
            report.checks.iter().any(|c| c.outcome == Outcome::Failed),
            "a report that does not verify names a failed check"
        );
    }
}

// Hole 1: trust is never skipped for delegated credentials.

#[test]
fn a_credential_claiming_a_parent_never_verifies_alone() {
    let w = world(SUITE);
    let trust = w.trust();
    let verifier = verifier_at(&trust, at());
    let forger = KeyPair::generate();
    let forged = claiming_parent(
        &w,
        &forger,
        &forger,
        &CredentialId::generate(),
        &CredentialId::generate(),
    );
    let (report, _) = verify::verify_credential(&forged, &verifier);
    assert!(!report.verified, "{report:#?}");
    assert!(report.reasons().contains(&Reason::BrokenChain));
    assert_every_check_named(&report, &[&forged], false);

    // Even a genuine delegated credential is verified with its chain, never alone.
    let child = delegated(&w, vec![refund_capability(100)], SUITE);
    let (report, _) = verify::verify_credential(&child, &verifier);
    assert_eq!(report.reasons(), [Reason::BrokenChain]);
}

#[test]
fn cycles_self_parents_orphans_and_strangers_are_refused() {
    let w = world(SUITE);
    let trust = w.trust();
    let verifier = verifier_at(&trust, at());
    let legit = delegated(&w, vec![refund_capability(100)], SUITE);
    let (a, b) = (CredentialId::generate(), CredentialId::generate());

    // Two credentials that name each other as parent, held and issued by the presenter.
    let cycle = vec![
        claiming_parent(&w, &w.sub, &w.sub, &a, &b),
        claiming_parent(&w, &w.sub, &w.sub, &b, &a),
    ];
    // A credential that names itself.
    let own = claiming_parent(&w, &w.sub, &w.sub, &a, &a);
    // A parent that is not presented.
    let orphan = claiming_parent(&w, &w.sub, &w.sub, &a, &b);
    // A root for someone else, presented beside a legitimate chain.
    let stranger = {
        let other = KeyPair::generate();
        let mut grant = crate::fixtures::root_grant(&w.org, &other, vec![refund_capability(1)]);
        grant.status = Vec::new();
        sign_as(&grant.build().expect("builds"), &w.org, SUITE)
    };
    let chain = vec![w.root_signed.clone(), legit.clone()];
    let cases: Vec<(&str, Vec<Value>, Reason)> = vec![
        ("cycle", cycle.clone(), Reason::BrokenChain),
        (
            "cycle beside a chain",
            [chain.clone(), cycle].concat(),
            Reason::BrokenChain,
        ),
        ("self-parent", vec![own.clone()], Reason::BrokenChain),
        (
            "self-parent beside a chain",
            [chain.clone(), vec![own]].concat(),
            Reason::BrokenChain,
        ),
        ("orphan", vec![orphan], Reason::BrokenChain),
        (
            "stranger beside a chain",
            [chain.clone(), vec![stranger]].concat(),
            Reason::NotHolder,
        ),
    ];
    for (name, credentials, reason) in cases {
        let vp = present(&w.sub, credentials.clone(), SUITE);
        let verified = verify_vp(&vp, &verifier);
        assert!(!verified.report.verified, "{name}: {:#?}", verified.report);
        assert!(
            verified.report.reasons().contains(&reason),
            "{name}: {:?}",
            verified.report.reasons()
        );
        let refs: Vec<&Value> = credentials.iter().collect();
        assert_every_check_named(&verified.report, &refs, true);
    }
    // The legitimate chain alone verifies.
    let vp = present(&w.sub, chain, SUITE);
    assert!(verify_vp(&vp, &verifier).report.verified);
}

#[test]
fn every_report_names_every_check() {
    // A corpus of inputs, good and bad in each way the verifier knows; every report, whatever
    // failed first, lists every check on every credential.
    let w = world(SUITE);
    let trust = w.trust();
    let verifier = verifier_at(&trust, at());
    let untrusting = Verifier::new(&DidKeyResolver, at());
    let child = delegated(&w, vec![refund_capability(100)], SUITE);
    let mut tampered = child.clone();
    tampered["credentialSubject"]["task"]["id"] = json!("another");
    let mut malformed = w.root_signed.clone();
    malformed["credentialSubject"]["principal"] = json!("alice");
    let expired = verifier_at(&trust, now() + Duration::hours(1));
    let credentials = [&w.root_signed, &child, &tampered, &malformed];
    for verifier in [&verifier, &untrusting, &expired] {
        for credential in credentials {
            let (report, _) = verify::verify_credential(credential, verifier);
            assert_every_check_named(&report, &[credential], false);
        }
        for (holder, set) in [
            (&w.sub, vec![w.root_signed.clone(), child.clone()]),
            (&w.sub, vec![w.root_signed.clone(), tampered.clone()]),
            (&w.agent, vec![malformed.clone()]),
            (&w.sub, vec![child.clone(), child.clone()]),
        ] {
            let vp = present(holder, set.clone(), SUITE);
            let refs: Vec<&Value> = set.iter().collect();
            assert_every_check_named(&verify_vp(&vp, verifier).report, &refs, true);
            // A presentation whose proof fails still names its challenge and domain.
            let mut forged = vp.clone();
            forged["proof"]["proofValue"] = w.root_signed["proof"]["proofValue"].clone();
            assert_every_check_named(&verify_vp(&forged, verifier).report, &refs, true);
        }
    }
}

// Hole 2: no policy, no trust.

#[test]
fn a_verifier_told_nothing_trusts_nothing() {
    let w = world(SUITE);
    let told_nothing = Verifier::new(&DidKeyResolver, at());
    let (report, _) = verify::verify_credential(&w.root_signed, &told_nothing);
    assert!(!report.verified);
    assert!(report.reasons().contains(&Reason::UntrustedIssuer));
    // Its status entries cannot be checked without a source either.
    assert!(report.reasons().contains(&Reason::StatusUnknown));
    let child = delegated(&w, vec![refund_capability(100)], SUITE);
    let vp = present(&w.sub, vec![w.root_signed.clone(), child], SUITE);
    assert!(
        verify_vp(&vp, &told_nothing)
            .report
            .reasons()
            .contains(&Reason::UntrustedIssuer)
    );
    // Only the loudly named option checks proofs alone, and says what it skipped.
    let mut proofs_only = Verifier::new(&DidKeyResolver, at());
    proofs_only.danger_proofs_only = true;
    let report = verify_vp(&vp, &proofs_only).report;
    assert!(report.verified, "{report:#?}");
    assert!(
        report
            .checks
            .iter()
            .filter(|c| c.check == check::ISSUER_TRUST)
            .all(|c| c.outcome == Outcome::Skipped)
    );
    // A generic credential from an issuer nobody named is untrusted too.
    let generic = sign_raw(
        &json!({"@context": ["https://www.w3.org/ns/credentials/v2"],
                "type": ["VerifiableCredential"], "issuer": did_of(&w.org.public()),
                "credentialSubject": {"id": "did:example:x"}}),
        &w.org,
    );
    let report = verify::verify_generic_credential(&generic, &told_nothing);
    assert_eq!(report.reasons(), [Reason::UntrustedIssuer]);
    let trust = trust_of(&w.org);
    let report = verify::verify_generic_credential(&generic, &verifier_at(&trust, at()));
    assert!(report.verified, "{report:#?}");
}

// Hole 3: resource pinning.

fn pinned_world(resources: &[&str]) -> (World, Value) {
    let mut w = world(SUITE);
    w.root.credential_subject.resources = resources.iter().map(|r| (*r).to_owned()).collect();
    let root = AgentCapabilityCredential::from_json(&w.root.to_json()).expect("well-formed");
    w.root = root;
    w.root_signed = sign_as(&w.root, &w.org, SUITE);
    let signed = w.root_signed.clone();
    (w, signed)
}

fn child_with_resources(w: &World, resources: Option<Vec<&str>>) -> Value {
    let mut child = delegation_of(w, vec![refund_capability(100)]);
    child.credential_subject.resources = resources
        .unwrap_or_default()
        .into_iter()
        .map(str::to_owned)
        .collect();
    sign_as(&child, &w.agent, SUITE)
}

#[test]
fn resource_pinning_attenuates_and_is_enforced_at_use() {
    let (w, root) = pinned_world(&["https://billing.acme.example/refunds"]);
    let trust = w.trust();
    let verifier = verifier_at(&trust, at());
    // Inherited unchanged, or narrowed to a subtree: verifies.
    for resources in [
        vec!["https://billing.acme.example/refunds"],
        vec!["https://billing.acme.example/refunds/eu"],
    ] {
        let child = child_with_resources(&w, Some(resources.clone()));
        let vp = present(&w.sub, vec![root.clone(), child], SUITE);
        let verified = verify_vp(&vp, &verifier);
        assert!(
            verified.report.verified,
            "{resources:?}: {:#?}",
            verified.report
        );
    }
    // Dropped or widened: refused.
    for resources in [
        None,
        Some(vec!["https://billing.acme.example/"]),
        Some(vec!["https://billing.acme.example/refundsX"]),
        Some(vec!["https://evil.example/refunds"]),
    ] {
        let child = child_with_resources(&w, resources.clone());
        let vp = present(&w.sub, vec![root.clone(), child], SUITE);
        assert_eq!(
            verify_vp(&vp, &verifier).report.reasons(),
            [Reason::ScopeExceedsParent],
            "{resources:?}"
        );
    }
    // At use: a request outside the pinned servers is denied even where a capability names it.
    let child = child_with_resources(&w, Some(vec!["https://billing.acme.example/refunds/eu"]));
    let vp = present(&w.sub, vec![root, child], SUITE);
    let verified = verify_vp(&vp, &verifier);
    let chain = &verified.chains[0];
    let request = |resource: &str| {
        Request::from_json(
            &json!({"action": "call:billing_api:refund", "resource": resource,
            "arguments": {"amount": {"value": 10, "unit": "EUR"}}}),
        )
        .expect("request")
    };
    assert_eq!(
        chain.permits(
            &request("https://billing.acme.example/refunds/eu/r1"),
            now()
        ),
        Ok(())
    );
    assert_eq!(
        chain.permits(
            &request("https://billing.acme.example/refunds/us/r1"),
            now()
        ),
        Err(Denial::ResourceNotPinned { hop: 1 })
    );
    // A pin that is not a resource server URI makes the credential malformed.
    let mut bad = w.root.to_json();
    bad["credentialSubject"]["resources"] = json!(["https://h.example/**"]);
    assert!(AgentCapabilityCredential::from_json(&bad).is_err());
}

// Hole 4: the agent description along a chain.

#[test]
fn a_delegated_credential_describes_its_roots_agent() {
    let w = world(SUITE);
    let trust = w.trust();
    let verifier = verifier_at(&trust, at());
    let child = delegation_of(&w, vec![refund_capability(100)]);
    let mut other_definition = child.clone();
    other_definition.credential_subject.agent.definition_hash =
        vouch_core::credential::DefinitionHash::compute(
            "another-model",
            "Do anything.",
            &json!([]),
            &json!({}),
        )
        .expect("hashes");
    let mut other_owner = child.clone();
    other_owner.credential_subject.agent.owner = "mallory@evil.example".into();
    let mut other_name = child;
    other_name.credential_subject.agent.name = "admin-bot".into();
    for (name, changed) in [
        ("definition", other_definition),
        ("owner", other_owner),
        ("name", other_name),
    ] {
        let vp = present(
            &w.sub,
            vec![w.root_signed.clone(), sign_as(&changed, &w.agent, SUITE)],
            SUITE,
        );
        assert_eq!(
            verify_vp(&vp, &verifier).report.reasons(),
            [Reason::DefinitionMismatch],
            "{name}"
        );
    }
    // An expected definition is checked on every credential of the chain.
    let child = delegated(&w, vec![refund_capability(100)], SUITE);
    let vp = present(&w.sub, vec![w.root_signed.clone(), child], SUITE);
    let mut pinned = verifier_at(&trust, at());
    pinned.expected_definition = Some(
        w.root
            .credential_subject
            .agent
            .definition_hash
            .digest
            .clone(),
    );
    assert!(verify_vp(&vp, &pinned).report.verified);
    pinned.expected_definition = Some(Multihash::of(b"another agent"));
    let reasons = verify_vp(&vp, &pinned).report.reasons();
    assert_eq!(
        reasons,
        [Reason::DefinitionMismatch, Reason::DefinitionMismatch]
    );
}

// Hole 8: proof expiry and one spelling per signed proof.

#[test]
fn an_expired_proof_does_not_verify_and_proofs_have_one_form() {
    let w = world(SUITE);
    let trust = w.trust();
    let verifier = verifier_at(&trust, at());
    for suite in [Cryptosuite::EddsaJcs2022, Cryptosuite::EddsaRdfc2022] {
        let options = |expires| ProofOptions {
            cryptosuite: suite,
            created: now(),
            verification_method: verification_method_of(&w.org.public()),
            purpose: vouch_core::did::document::Relationship::AssertionMethod,
            challenge: None,
            domain: None,
            expires: Some(expires),
        };
        let lapsed = proof::sign(&w.root.to_json(), &options(now()), &w.org).expect("signs");
        assert_eq!(
            verify::verify_credential(&lapsed, &verifier).0.reasons(),
            [Reason::Expired],
            "{suite}"
        );
        let later = now() + Duration::hours(1);
        let fresh = proof::sign(&w.root.to_json(), &options(later), &w.org).expect("signs");
        assert!(
            verify::verify_credential(&fresh, &verifier).0.verified,
            "{suite}"
        );

        // A presentation's proof expires too.
        let mut vp = present(&w.agent, vec![sign_as(&w.root, &w.org, suite)], suite);
        vp.as_object_mut().expect("object").remove("proof");
        let vp_options = ProofOptions {
            purpose: vouch_core::did::document::Relationship::Authentication,
            verification_method: verification_method_of(&w.agent.public()),
            challenge: Some("c-1".into()),
            domain: Some("partner.example".into()),
            ..options(now())
        };
        let vp = proof::sign(&vp, &vp_options, &w.agent).expect("signs");
        assert!(
            verify_vp(&vp, &verifier)
                .report
                .reasons()
                .contains(&Reason::Expired),
            "{suite}"
        );

        // Members added after signing, null or not, are refused: a signed proof has one form.
        let signed = sign_as(&w.root, &w.org, suite);
        for (member, value) in [
            ("expires", Value::Null),
            ("nonce", json!("x")),
            ("extra", json!({"@id": "urn:x"})),
        ] {
            let mut changed = signed.clone();
            changed["proof"][member] = value;
            let reasons = verify::verify_credential(&changed, &verifier).0.reasons();
            assert_eq!(reasons, [Reason::Malformed], "{suite} {member}");
        }
    }
}

// Hole 10: renewal rules at verification.

#[test]
fn renewal_rules_are_checked_at_verification_and_along_links() {
    let w = world(SUITE);
    let trust = w.trust();
    let verifier = verifier_at(&trust, at());
    // A first credential of a lineage must be its lineage's start.
    let mut stolen_lineage = w.root.clone();
    stolen_lineage.credential_subject.renewal.lineage = CredentialId::generate();
    let signed = sign_as(&stolen_lineage, &w.org, SUITE);
    assert_eq!(
        verify::verify_credential(&signed, &verifier).0.reasons(),
        [Reason::RenewalInvalid]
    );
    // maxCount is bounded by the schema.
    let mut many = w.root.to_json();
    many["credentialSubject"]["renewal"]["maxCount"] = json!(10_001);
    assert!(AgentCapabilityCredential::from_json(&many).is_err());
    // A delegated credential's renewal bounds stay within its parent's.
    let mut child = delegation_of(&w, vec![refund_capability(100)]);
    child.credential_subject.renewal.max_count = w.root.credential_subject.renewal.max_count + 1;
    let vp = present(
        &w.sub,
        vec![w.root_signed.clone(), sign_as(&child, &w.agent, SUITE)],
        SUITE,
    );
    assert_eq!(
        verify_vp(&vp, &verifier).report.reasons(),
        [Reason::RenewalInvalid]
    );
}

// Hole 9: arithmetic on times from input.

#[test]
fn extreme_times_are_errors_not_panics() {
    let w = world(SUITE);
    let trust = w.trust();
    let last = chrono::DateTime::<chrono::Utc>::MAX_UTC;
    let first = chrono::DateTime::<chrono::Utc>::MIN_UTC;
    for time in [last, first] {
        let verifier = verifier_at(&trust, time);
        let (report, _) = verify::verify_credential(&w.root_signed, &verifier);
        assert!(!report.verified);
        let child = delegated(&w, vec![refund_capability(100)], SUITE);
        let vp = present(&w.sub, vec![w.root_signed.clone(), child], SUITE);
        assert!(!verify_vp(&vp, &verifier).report.verified);
        assert!(delegation::renew(&w.root, time, Duration::minutes(15)).is_err() || time == first);
    }
    let mut grant = crate::fixtures::root_grant(&w.org, &w.agent, vec![refund_capability(1)]);
    grant.valid_from = last - Duration::minutes(1);
    grant.not_after = last;
    // A lineage that would end past the last representable time is an error, not a panic.
    let _ = grant.build();
}

// Holes 5 and 6: what JSON-LD processing is given.

/// A well-formed `eddsa-rdfc-2022` proof by the org over another document: canonicalization comes
/// before the signature check, so what is refused here is refused before any signature matters.
fn foreign_rdfc_proof(w: &World) -> Value {
    let mut proof = w.root_signed["proof"].clone();
    proof["cryptosuite"] = json!("eddsa-rdfc-2022");
    proof.as_object_mut().expect("object").remove("@context");
    proof
}

/// A credential whose `n` blank nodes all know each other: a complete graph, the worst case of
/// RDFC-1.0's Hash N-Degree Quads.
fn poison(w: &World, n: usize) -> Value {
    let nodes: Vec<Value> = (0..n)
        .map(|i| {
            let others: Vec<Value> = (0..n)
                .filter(|j| *j != i)
                .map(|j| json!({"id": format!("_:b{j}")}))
                .collect();
            // Typed, so that the credentials context's type-scoped terms (`evidence`) apply.
            json!({"id": format!("_:b{i}"), "type": "VerifiableCredential", "evidence": others})
        })
        .collect();
    let proof = foreign_rdfc_proof(w);
    json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": did_of(&w.org.public()),
        "credentialSubject": nodes,
        "proof": proof,
    })
}

#[test]
fn poison_graphs_are_refused_not_canonicalized_for_ever() {
    let w = world(SUITE);
    let trust = w.trust();
    let verifier = verifier_at(&trust, at());
    for n in [8, 12] {
        let credential = poison(&w, n);
        let error = proof::verify(
            &credential,
            vouch_core::did::document::Relationship::AssertionMethod,
            &DidKeyResolver,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("Hash N-Degree Quads"),
            "K{n}: {error}"
        );
        let report = verify::verify_generic_credential(&credential, &verifier);
        assert_eq!(report.reasons(), [Reason::Malformed], "K{n}");

        // A presentation carries nothing but what Vouch puts in one: the graph in an extra
        // member, or an extra context, is refused before anything is canonicalized.
        let mut vp = present(&w.agent, vec![w.root_signed.clone()], SUITE);
        vp["evidence"] = credential["credentialSubject"].clone();
        assert_eq!(
            verify_vp(&vp, &verifier).report.reasons(),
            [Reason::Malformed]
        );
    }
    let mut vp = present(&w.agent, vec![w.root_signed.clone()], SUITE);
    vp["@context"] = json!([
        "https://www.w3.org/ns/credentials/v2",
        "https://www.w3.org/ns/credentials/examples/v2"
    ]);
    assert_eq!(
        verify_vp(&vp, &verifier).report.reasons(),
        [Reason::Malformed]
    );
}

#[test]
fn documents_define_no_context_of_their_own() {
    // `{"@vocab": "urn:x:%"}` with a term `b2` made json-ld build `urn:x:%b2`, and the IRI library
    // under it panicked. An inline context holds no `%` and defines new terms only; a context
    // scoped inside a claim is refused: both before processing.
    let w = world(SUITE);
    let trust = w.trust();
    let verifier = verifier_at(&trust, at());
    let proof = foreign_rdfc_proof(&w);
    let inline = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2", {"@vocab": "urn:x:%"}],
        "type": ["VerifiableCredential"],
        "issuer": did_of(&w.org.public()),
        "credentialSubject": {"id": "did:example:x", "b2": "x"},
        "proof": proof.clone(),
    });
    let nested = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": did_of(&w.org.public()),
        "credentialSubject": {"@context": {"@vocab": "urn:x:%"}, "id": "did:example:x", "b2": "x"},
        "proof": proof,
    });
    for document in [inline, nested] {
        let report = verify::verify_generic_credential(&document, &verifier);
        assert_eq!(report.reasons(), [Reason::Malformed], "{report:#?}");
    }
}

#[test]
fn a_respelled_credential_is_still_read_as_what_it_is() {
    // Under rdfc the proof covers the RDF: `vouch:AgentCapabilityCredential` or the full IRI as a
    // type, or an IRI as a key, is the same signed credential in another spelling. It is read as
    // an agent credential, or refused; never as a generic one that skips status and chains.
    let w = world(Cryptosuite::EddsaRdfc2022);
    let trust = w.trust();
    let verifier = verifier_at(&trust, at());
    for spelling in [
        "vouch:AgentCapabilityCredential",
        "https://w3id.org/vouch#AgentCapabilityCredential",
    ] {
        let mut respelled = w.root_signed.clone();
        respelled["type"] = json!(["VerifiableCredential", spelling]);
        assert!(verify::is_agent_credential(&respelled), "{spelling}");
        assert!(!verify::verify_credential(&respelled, &verifier).0.verified);
    }
    let mut hidden_end = sign_raw(
        &json!({"@context": ["https://www.w3.org/ns/credentials/v2"],
                "type": ["VerifiableCredential"], "issuer": did_of(&w.org.public()),
                "validUntil": "2026-11-23T10:00:30Z",
                "credentialSubject": {"id": "did:example:x"}}),
        &w.org,
    );
    assert_eq!(
        verify::verify_generic_credential(&hidden_end, &verifier).reasons(),
        [Reason::Expired]
    );
    let end = hidden_end
        .as_object_mut()
        .expect("object")
        .remove("validUntil")
        .expect("present");
    hidden_end["https://www.w3.org/2018/credentials#validUntil"] =
        json!({"@value": end, "@type": "http://www.w3.org/2001/XMLSchema#dateTime"});
    assert_eq!(
        verify::verify_generic_credential(&hidden_end, &verifier).reasons(),
        [Reason::Malformed]
    );
}

#[test]
fn generic_credentials_have_their_status_checked() {
    let w = world(SUITE);
    let trust = w.trust();
    let entry = json!({"id": "https://node.acme.example/status/1#3", "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation", "statusListIndex": "3",
        "statusListCredential": "https://node.acme.example/status/1"});
    let generic = sign_raw(
        &json!({"@context": ["https://www.w3.org/ns/credentials/v2"],
                "type": ["VerifiableCredential"], "issuer": did_of(&w.org.public()),
                "credentialSubject": {"id": "did:example:x"}, "credentialStatus": entry}),
        &w.org,
    );
    let mut no_source = Verifier::new(&DidKeyResolver, at());
    no_source.issuers = Some(&trust);
    assert_eq!(
        verify::verify_generic_credential(&generic, &no_source).reasons(),
        [Reason::StatusUnknown]
    );
    assert!(verify::verify_generic_credential(&generic, &verifier_at(&trust, at())).verified);
}

#[test]
fn nothing_signed_can_be_dropped_as_a_relative_iri() {
    // JSON-LD drops triples whose IRI is relative: a proof `id` or a status entry URL that is
    // relative would leave what it names out of the signature.
    let w = world(SUITE);
    let trust = w.trust();
    let mut with_id = w.root_signed.clone();
    with_id["proof"]["id"] = json!("p1");
    assert_eq!(
        verify::verify_credential(&with_id, &verifier_at(&trust, at()))
            .0
            .reasons(),
        [Reason::Malformed]
    );
    for (field, value) in [("id", "#rev-1"), ("statusListCredential", "status/1")] {
        let mut relative = w.root.to_json();
        relative["credentialStatus"][0][field] = json!(value);
        assert!(
            AgentCapabilityCredential::from_json(&relative).is_err(),
            "{field}"
        );
    }
}
