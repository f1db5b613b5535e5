//! `fill`: node 0 filled through its real ingest path — `POST /admin/did/operations` for each
//! of N new did:vouch DIDs (signed genesis operations, verified, stored and gossiped like any),
//! and `POST /admin/status-lists/{name}` for lists of 131,072 entries each with bits set — then
//! its resident memory, its data folder's size on disk, and DID resolution latency at that size
//! (DESIGN §10; issue 14).

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, ensure};
use chrono::Utc;
use vouch_api::node::admin::StatusChange;
use vouch_core::did_vouch::{self, DocumentContent};
use vouch_core::key::KeyPair;

use crate::{State, agent, percentile, tokens};

/// The resident memory of a process, in KiB (`VmRSS`).
pub(crate) fn resident_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The bytes of every file below `dir`.
fn size_of(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => size_of(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Fills node 0 and reports.
pub(crate) fn fill(state: &State, dids: u32, lists: u32, samples: u32) -> Result<()> {
    let agent = agent();
    let tokens = tokens(state)?;
    let node = &state.nodes[0];
    let client = crate::levels::admin(&agent, &node.http, &tokens[0])?;
    let config = vouch_node::Config::read(&node.config)?;
    let report = |what: &str| {
        println!(
            "{what}: node 0 resident {} MiB, data folder {} MiB",
            resident_kib(node.pid).unwrap_or_default() / 1024,
            size_of(&config.data_dir) / (1024 * 1024),
        );
    };
    report("before");

    let started = Instant::now();
    let mut created = Vec::new();
    for i in 0..dids {
        let (key, first, next) = (
            KeyPair::generate(),
            KeyPair::generate(),
            KeyPair::generate(),
        );
        let (did, genesis) = did_vouch::create(
            DocumentContent::single_key(&key.public()),
            &first,
            &[next.public()],
            Utc::now(),
        )?;
        client.submit_operation(&genesis.to_json())?;
        if i % (dids / samples.max(1)).max(1) == 0 {
            created.push(did);
        }
        if (i + 1) % 10_000 == 0 {
            println!(
                "  {} DIDs in {:.1} s",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "{dids} DIDs created through the admin API in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    for l in 0..lists {
        // A thousand bits set in each, spread over the list.
        let l = l as usize;
        let set: Vec<usize> = (0..1000).map(|n| (n * 131 + l * 7) % 131_072).collect();
        client.change_status(
            &format!("fill-{l}"),
            &StatusChange {
                purpose: "revocation".into(),
                set,
                clear: Vec::new(),
            },
        )?;
    }
    println!(
        "{lists} status lists of 131,072 entries ({} entries) in {:.1} s",
        u64::from(lists) * 131_072,
        started.elapsed().as_secs_f64()
    );
    report("filled");

    // Resolution at that size: the sampled DIDs, each asked once, one after another.
    let mut times = Vec::with_capacity(created.len());
    for did in &created {
        let asked = Instant::now();
        let (status, _) = client.public().resolve(did)?;
        times.push(asked.elapsed());
        ensure!(status == 200, "{did} did not resolve");
    }
    times.sort();
    ensure!(!times.is_empty(), "no DID sampled");
    println!(
        "resolution of {} DIDs at that size: p50 {:.3} ms, p99 {:.3} ms",
        times.len(),
        percentile(&times, 50.0).as_secs_f64() * 1e3,
        percentile(&times, 99.0).as_secs_f64() * 1e3,
    );
    report("after resolving");
    Ok(())
}
