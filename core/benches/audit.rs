//! The audit log's goals (DESIGN §10): appends per second, and the verification of a log of
//! 1,000,000 entries (its chain and its tree, from the entries alone). `cargo bench -p vouch-core
//! --bench audit`; figures in docs/BENCHMARKS.md.
// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use chrono::DateTime;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use vouch_core::audit::{self, Decision, Entry, Event, MemoryHashes};
use vouch_core::hash::Multihash;

/// A log of `n` entries, chained.
fn log(n: u64) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::with_capacity(n as usize);
    let mut previous = None;
    for seq in 0..n {
        let entry = Entry {
            seq,
            previous: previous.map(|h: audit::Hash| h.to_string()),
            time: DateTime::from_timestamp(1_796_000_000 + seq as i64, 0).expect("a time"),
            writer: "did:vouch:zQmVj3a9Qf3Fd9xMRd3tnUbHLyXhGPMnAFjd1szAeWuRNHt".into(),
            event: Event::Decided,
            agent: Some("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK".into()),
            principal: Some("urn:vouch:principal:7Yf2nS1uK4w3bq9xW8v6t5r4e3w2q1a".into()),
            task: Some(format!("ticket-{}", seq % 1000)),
            action: Some("call:billing_api:refund".into()),
            resource_hash: Some(Multihash::of(b"https://billing.acme.example/refunds/42")),
            decision: Some(Decision::Accepted),
            reason: None,
            count: None,
            credentials: vec!["urn:uuid:6f1b3a44-2c8e-4f53-9a57-0c1a1d2e3f40".into()],
        };
        previous = Some(entry.leaf_hash());
        entries.push(entry);
    }
    entries
}

fn benches(c: &mut Criterion) {
    let small = log(100_000);
    let leaves = audit::verify_entries(&small).expect("intact");
    c.bench_function("append 100,000 leaves to the tree (stored hashes)", |b| {
        b.iter(|| black_box(MemoryHashes::of(&leaves).expect("a tree")))
    });
    c.bench_function("hash 100,000 entries (canonical JSON + leaf hash)", |b| {
        b.iter(|| {
            for entry in &small {
                black_box(entry.leaf_hash());
            }
        })
    });
    let hashes = MemoryHashes::of(&leaves).expect("a tree");
    let size = leaves.len() as u64;
    let root = audit::root(size, &hashes).expect("root");
    c.bench_function("inclusion proof, make and check (100,000)", |b| {
        b.iter(|| {
            let proof = audit::prove_inclusion(size / 3, size, &hashes).expect("proof");
            audit::verify_inclusion(&proof, size / 3, size, root, leaves[(size / 3) as usize])
                .expect("verifies");
        })
    });
    let old_root = audit::root(size / 3, &hashes).expect("root");
    c.bench_function(
        "consistency proof, make and check (33,333 -> 100,000)",
        |b| {
            b.iter(|| {
                let proof = audit::prove_consistency(size / 3, size, &hashes).expect("proof");
                audit::verify_consistency(&proof, size / 3, old_root, size, root)
                    .expect("verifies");
            })
        },
    );
    let big = log(1_000_000);
    let mut group = c.benchmark_group("audit");
    group.sample_size(10);
    group.bench_function("verify 1,000,000 entries: chain, tree and root", |b| {
        b.iter(|| {
            let leaves = audit::verify_entries(&big).expect("intact");
            let tree = MemoryHashes::of(&leaves).expect("a tree");
            black_box(audit::root(leaves.len() as u64, &tree).expect("root"))
        })
    });
    group.finish();
}

criterion_group!(audit_benches, benches);
criterion_main!(audit_benches);
