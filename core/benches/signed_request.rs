//! A signed HTTP request (RFC 9421) checked by a service, against the Ed25519 floor in the same
//! run: the signature and the capability, with the chain kept from the session's first request
//! (what each later request costs) and with the presentation verified in full (the first
//! request); and the signing itself (base and signature, no I/O).
//!
//! Run with `cargo bench -p vouch-core --bench signed_request`; figures are recorded in
//! `docs/BENCHMARKS.md`.

// criterion's macros define the entry points, without doc comments.
#![allow(missing_docs)]

use std::hint::black_box;

use chrono::Duration;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use url::Url;
use vouch_core::delegation;
use vouch_core::did::key::verification_method_of;
use vouch_core::http_signature::{
    self, CAPABILITY_FIELD, Component, LABEL, MAX_LIFETIME_SECS, Parameters, Request, TAG,
};
use vouch_core::key::KeyPair;
use vouch_core::proof::Cryptosuite;
use vouch_core::signed_request::{self, Sessions};

#[path = "../tests/fixtures.rs"]
mod fixtures;
use fixtures::now;

fn benches(c: &mut Criterion) {
    let (org, agent) = (KeyPair::from_seed(&[1; 32]), KeyPair::from_seed(&[2; 32]));
    let built = fixtures::root_grant(
        &org,
        &agent,
        vec![json!({"action": "call:billing_api:refund", "resource": "https://billing.b.example/refunds/**",
                    "constraints": {"maxAmount": {"value": 100, "unit": "EUR"}}})],
    )
    .build()
    .expect("a credential");
    let credential = delegation::sign_credential(
        &built,
        &org,
        verification_method_of(&org.public()),
        Cryptosuite::EddsaJcs2022,
        now(),
    )
    .expect("signed");
    let trust = fixtures::trust_of(&org);
    let at = now() + Duration::minutes(1);
    let verifier = fixtures::verifier_at(&trust, at);
    let target = Url::parse("https://billing.b.example/refunds/42").expect("a URL");
    let body = br#"{"amount": 50}"#.to_vec();
    let arguments = json!({"amount": {"value": 50, "unit": "EUR"}})
        .as_object()
        .expect("an object")
        .clone();

    let id = built.id.to_string();
    let signer = fixtures::Signer {
        key: &agent,
        credential: &id,
        credentials: std::slice::from_ref(&credential),
        action: "call:billing_api:refund",
    };
    let signed = |present: bool| {
        fixtures::signed_headers(&signer, &target, Some(&body), present, at.timestamp())
    };
    let first = signed(true);
    let later = signed(false);
    let request = |headers| Request {
        method: "POST",
        target: &target,
        headers,
        body: Some(&body),
    };
    let sessions = Sessions::new(16);
    signed_request::check(
        &request(&first),
        &arguments,
        &verifier,
        &sessions,
        |_, _| true,
    )
    .expect("the first request permitted");

    let mut group = c.benchmark_group("signed_request");
    let message = vec![7u8; 512];
    let signature = agent.sign(&message);
    let public = agent.public();
    group.bench_function("ed25519/verify (512 bytes)", |b| {
        b.iter(|| black_box(public.verify(black_box(&message), &signature)))
    });
    group.bench_function("check, the chain kept (a later request)", |b| {
        b.iter(|| {
            black_box(
                signed_request::check(
                    &request(&later),
                    &arguments,
                    &verifier,
                    &sessions,
                    |_, _| true,
                )
                .expect("permitted"),
            )
        })
    });
    group.bench_function("check, the chain presented (the first request)", |b| {
        let fresh = Sessions::new(16);
        b.iter(|| {
            black_box(
                signed_request::check(&request(&first), &arguments, &verifier, &fresh, |_, _| true)
                    .expect("permitted"),
            )
        })
    });
    let headers = later[..3].to_vec();
    let covered = [
        Component::Method,
        Component::TargetUri,
        Component::Field("content-type".into()),
        Component::Field("content-digest".into()),
        Component::Field(CAPABILITY_FIELD.into()),
    ];
    group.bench_function("http_signature::sign (base and signature)", |b| {
        b.iter(|| {
            let parameters = Parameters {
                created: Some(at.timestamp()),
                expires: Some(at.timestamp() + MAX_LIFETIME_SECS),
                nonce: Some("0123456789abcdefghijklmnopqrstuv".into()),
                keyid: Some(verification_method_of(&agent.public()).to_string()),
                alg: Some("ed25519".into()),
                tag: Some(TAG.into()),
            };
            black_box(
                http_signature::sign(&agent, &request(&headers), &covered, &parameters, LABEL)
                    .expect("signs"),
            )
        })
    });
    group.finish();
}

criterion_group!(all, benches);
criterion_main!(all);
