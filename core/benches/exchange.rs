//! The capability exchange's work without I/O, step by step, against the Ed25519 floor in the
//! same run: what a round trip between two wallet daemons costs in CPU before the network, the
//! daemons and their audit logs add theirs. Credentials are signed `eddsa-jcs-2022`.
//!
//! Run with `cargo bench -p vouch-core --bench exchange`; figures are recorded in
//! `docs/BENCHMARKS.md`.

// criterion's macros define the entry points, without doc comments.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use vouch_core::delegation;
use vouch_core::did::key::{did_of, verification_method_of};
use vouch_core::exchange::{self, Ask, Holdings, Once};
use vouch_core::key::KeyPair;
use vouch_core::proof::Cryptosuite;

#[path = "../tests/fixtures.rs"]
mod fixtures;
use fixtures::now;

struct Held(Vec<Value>);

impl Holdings for Held {
    fn held(&self) -> Vec<Value> {
        self.0.clone()
    }
    fn ancestor(&self, _: &str) -> Option<Value> {
        None
    }
}

fn credential(org: &KeyPair, holder: &KeyPair, capabilities: Vec<Value>) -> Value {
    let built = fixtures::root_grant(org, holder, capabilities)
        .build()
        .expect("a credential");
    delegation::sign_credential(
        &built,
        org,
        verification_method_of(&org.public()),
        Cryptosuite::EddsaJcs2022,
        now(),
    )
    .expect("signs")
}

fn benches(c: &mut Criterion) {
    let (org_a, org_b) = (KeyPair::from_seed(&[1; 32]), KeyPair::from_seed(&[2; 32]));
    let (prover, verifier_key) = (KeyPair::from_seed(&[3; 32]), KeyPair::from_seed(&[4; 32]));
    let mut trust = fixtures::trust_of(&org_a);
    trust.0.extend(fixtures::trust_of(&org_b).0);
    let verifier = fixtures::verifier_at(&trust, now());
    let held = Held(vec![credential(
        &org_a,
        &prover,
        vec![
            json!({"action": "call:billing_api:refund", "resource": "https://billing.b.example/refunds/**",
                    "constraints": {"maxAmount": {"value": 5000, "unit": "EUR"}}}),
        ],
    )]);
    let own = credential(
        &org_b,
        &verifier_key,
        vec![json!({"action": "verify:exchange", "resource": "https://billing.b.example/**"})],
    );
    let ask = || {
        exchange::ask(
            &verifier_key,
            Ask {
                credentials: vec![own.clone()],
                domain: did_of(&verifier_key.public()).to_string(),
                query: json!({"credentials": [{"id": "c", "format": "ldp_vc", "multiple": true,
                    "meta": {"type_values": [["https://w3id.org/vouch#AgentCapabilityCredential"]]}}]}),
                capabilities: vec![json!({"action": "call:billing_api:refund",
                    "resource": "https://billing.b.example/refunds/42",
                    "arguments": {"amount": {"value": 1200, "unit": "EUR"}}})],
            },
            now(),
        )
        .expect("asks")
    };
    let (verifier_did, prover_did) = (did_of(&verifier_key.public()), did_of(&prover.public()));
    let answer = |asked: &exchange::Asked| {
        exchange::answer(
            &asked.raw,
            &prover,
            &held,
            Some(&verifier_did),
            &verifier,
            &Once::new(1 << 20),
        )
        .expect("answers")
    };

    let mut group = c.benchmark_group("exchange");
    let message = [7u8; 32];
    let signature = prover.sign(&message);
    let public = prover.public();
    group.bench_function("ed25519 verify (the floor)", |b| {
        b.iter(|| black_box(public.verify(&message, &signature)))
    });
    group.bench_function("1 ask (verifier: sign its presentation)", |b| {
        b.iter(|| black_box(ask()))
    });
    let asked = ask();
    group.bench_function(
        "2 answer (prover: verify the verifier, select, present)",
        |b| b.iter(|| black_box(answer(&asked))),
    );
    let answered = answer(&asked);
    let decide = |asked: &exchange::Asked, answered: &exchange::Answered| {
        asked
            .decide(
                &answered.response,
                Some(&prover_did),
                &verifier,
                &verifier_key,
            )
            .expect("decides")
    };
    group.bench_function("3 decide (verifier: verify, decide, sign)", |b| {
        b.iter(|| black_box(decide(&asked, &answered)))
    });
    let judged = decide(&asked, &answered);
    assert!(judged.decision.decided[0].reason.is_none(), "accepted");
    group.bench_function("4 accept (prover: verify the decision)", |b| {
        b.iter(|| black_box(answered.accept(&judged.signed, now()).expect("accepted")))
    });
    group.bench_function("all four", |b| {
        b.iter(|| {
            let asked = ask();
            let answered = answer(&asked);
            let judged = decide(&asked, &answered);
            black_box(answered.accept(&judged.signed, now()).expect("accepted"))
        })
    });
    group.finish();
}

criterion_group!(
    name = exchange;
    config = Criterion::default().sample_size(50);
    targets = benches
);
criterion_main!(exchange);
