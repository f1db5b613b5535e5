//! The node's audit log through its RocksDB store (DESIGN §10): appends per second, batched as the
//! issuer batches them and one at a time as the verification service writes them, and the
//! inclusion and consistency proofs read back from the store, with their sizes.
//! `cargo bench -p vouch-node --bench audit_store`; figures in docs/BENCHMARKS.md.
// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vouch_core::audit::{Decision, Entry, Event};
use vouch_core::hash::Multihash;
use vouch_node::audit::{self, AuditLog};
use vouch_node::store::{Batch, Store};

/// A decision as the verification service records it.
fn decision(n: u64) -> Entry {
    let mut entry = audit::entry(Event::Decided);
    entry.agent = Some("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK".into());
    entry.principal = Some("urn:vouch:principal:7Yf2nS1uK4w3bq9xW8v6t5r4e3w2q1a".into());
    entry.task = Some(format!("ticket-{}", n % 1000));
    entry.action = Some("call:billing_api:refund".into());
    entry.resource_hash = Some(Multihash::of(b"https://billing.acme.example/refunds/42"));
    entry.decision = Some(Decision::Accepted);
    entry.credentials = vec!["urn:uuid:6f1b3a44-2c8e-4f53-9a57-0c1a1d2e3f40".into()];
    entry
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(dir.path()).expect("opens"));
    let log = AuditLog::new(
        store.clone(),
        "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
    );
    let template = decision(7);

    let mut group = c.benchmark_group("audit log in the store");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(1000));
    group.bench_function("append 1,000 entries in one batch, synced", |b| {
        b.iter(|| {
            let mut appending = log.writer().expect("the log");
            let mut batch = Batch::default();
            let now = Utc::now();
            for _ in 0..1000 {
                appending
                    .append(&mut batch, template.clone(), now)
                    .expect("appended");
            }
            store.commit(batch).expect("written");
        });
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("record one entry, synced", |b| {
        b.iter(|| log.record(template.clone(), Utc::now()).expect("recorded"));
    });
    group.finish();

    let size = log.size().expect("the size");
    let (_, proof) = log.prove_inclusion(size / 2, size).expect("a proof");
    let consistency = log.prove_consistency(size / 2, size).expect("a proof");
    eprintln!(
        "at {size} entries: an inclusion proof is {} hashes ({} bytes), a consistency proof {} \
         hashes ({} bytes)",
        proof.len(),
        proof.len() * 32,
        consistency.len(),
        consistency.len() * 32
    );
    let mut proofs = c.benchmark_group("proofs from the store");
    proofs.bench_function(format!("inclusion proof at {size}"), |b| {
        b.iter(|| black_box(log.prove_inclusion(size / 3, size).expect("a proof")));
    });
    proofs.bench_function(format!("consistency proof at {size}"), |b| {
        b.iter(|| black_box(log.prove_consistency(size / 3, size).expect("a proof")));
    });
    proofs.finish();
}

criterion_group!(audit_store, benches);
criterion_main!(audit_store);
