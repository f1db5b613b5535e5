//! The daemon's signature of an HTTP request (`{"op": "sign_request"}`, RFC 9421), in process —
//! the socket excluded: the credential read from the wallet, its chain checked against the call,
//! the signature base built and signed, the audit entry written (RocksDB, synced); the same with
//! the presentation made too. Also the header bytes a signed request carries, with and without
//! the presentation. What the signing costs without the disk is `core/benches/signed_request.rs`.
//!
//! Run with `cargo bench -p vouch-wallet --bench sign`; figures are recorded in
//! `docs/BENCHMARKS.md`.

// criterion's macros define the entry points, without doc comments.
#![allow(missing_docs)]

use std::hint::black_box;

use base64::Engine as _;
use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use vouch_api::daemon::{HeaderField, SignAsk, SignedRequest};
use vouch_core::delegation;
use vouch_core::did::key::verification_method_of;
use vouch_core::key::KeyPair;
use vouch_core::proof::Cryptosuite;
use vouch_wallet::daemon::{Daemon, Request};

#[path = "../../core/tests/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;

fn ask(credential: &str, present: bool) -> SignAsk {
    SignAsk {
        method: "POST".into(),
        url: "https://billing.b.example/refunds/42".into(),
        headers: vec![HeaderField {
            name: "content-type".into(),
            value: "application/json".into(),
        }],
        body: Some(base64::engine::general_purpose::STANDARD.encode(br#"{"amount": 50}"#)),
        credential: credential.into(),
        action: "call:billing_api:refund".into(),
        arguments: json!({"amount": {"value": 50, "unit": "EUR"}})
            .as_object()
            .expect("an object")
            .clone(),
        present,
        signature_agent: None,
    }
}

/// The bytes the fields add to a request on the wire: `name: value\r\n` each.
fn header_bytes(signed: &SignedRequest) -> usize {
    signed
        .headers
        .iter()
        .map(|h| h.name.len() + 2 + h.value.len() + 2)
        .sum()
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a folder");
    let (org, agent) = (KeyPair::from_seed(&[1; 32]), KeyPair::from_seed(&[2; 32]));
    let mut grant = fixtures::root_grant(
        &org,
        &agent,
        vec![
            json!({"action": "call:billing_api:refund", "resource": "https://billing.b.example/refunds/**",
                    "constraints": {"maxAmount": {"value": 100, "unit": "EUR"}}}),
        ],
    );
    grant.valid_from = Utc::now() - Duration::minutes(1);
    grant.lifetime = Duration::hours(1);
    grant.not_after = Utc::now() + Duration::hours(2);
    let built = grant.build().expect("a credential");
    let credential = delegation::sign_credential(
        &built,
        &org,
        verification_method_of(&org.public()),
        Cryptosuite::EddsaJcs2022,
        Utc::now(),
    )
    .expect("signed");
    let id = built.id.to_string();
    let daemon = Daemon::open(&dir.path().join("wallet"), agent, 0).expect("opens");
    daemon
        .handle(Request::AddCredential {
            credential,
            chain: vec![],
        })
        .expect("added");

    let sign = |present: bool| -> SignedRequest {
        serde_json::from_value(
            daemon
                .handle(Request::SignRequest(ask(&id, present)))
                .expect("signed"),
        )
        .expect("an answer")
    };
    let (bare, presented) = (sign(false), sign(true));
    eprintln!(
        "header bytes: {} naming the credential, {} with the presentation (of which {} the presentation)",
        header_bytes(&bare),
        header_bytes(&presented),
        presented
            .headers
            .iter()
            .find(|h| h.name == "vouch-presentation")
            .map_or(0, |h| h.name.len() + 4 + h.value.len()),
    );

    let mut group = c.benchmark_group("daemon");
    group.bench_function("sign_request (audit entry synced)", |b| {
        b.iter(|| black_box(daemon.handle(Request::SignRequest(ask(&id, false)))))
    });
    group.bench_function("sign_request with presentation (audit entry synced)", |b| {
        b.iter(|| black_box(daemon.handle(Request::SignRequest(ask(&id, true)))))
    });
    group.bench_function("the audit entry alone (synced)", |b| {
        b.iter(|| {
            let mut recorded =
                vouch_core::audit::log::entry(vouch_core::audit::Event::RequestSigned);
            recorded.action = Some("call:billing_api:refund".into());
            recorded.credentials = vec![id.clone()];
            black_box(daemon.log().record(recorded, Utc::now()).is_ok())
        })
    });
    group.finish();
}

criterion_group!(all, benches);
criterion_main!(all);
