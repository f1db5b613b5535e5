//! `witness`: every node's audit log grows by an entry, each node signs a checkpoint through its
//! admin API and gossips it, and the command times how long until every other member has
//! checked and cosigned it and the log's node holds all their cosignatures; then it checks that
//! no node holds evidence against another.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};

use super::{State, agent, alive, metric, percentile, tokens};

/// The size of a checkpoint note (its second line).
fn size_of(note: &str) -> Option<u64> {
    note.lines().nth(1)?.parse().ok()
}

/// Polls node `i` until it holds every other log's checkpoint of at least `sizes[j]` entries,
/// and its own cosigned by all its witnesses: when it held each, when its own was complete, and
/// that note's length.
fn poll(
    node: &super::NodeState,
    i: usize,
    origins: &[String],
    sizes: &[u64],
    started: Instant,
    witnesses: usize,
) -> Result<(Vec<Duration>, Duration, usize)> {
    let agent = agent();
    let mut seen: Vec<Option<Duration>> = vec![None; origins.len()];
    let deadline = started + Duration::from_secs(60);
    loop {
        let held = crate::levels::client(&agent, &node.http)?
            .witnessed()
            .context("the checkpoints held")?;
        let now = started.elapsed();
        for checkpoint in &held.checkpoints {
            let Some(j) = origins.iter().position(|o| checkpoint.origin == *o) else {
                continue;
            };
            let complete = if i == j {
                checkpoint.cosigners.len() == witnesses
            } else {
                true
            };
            if seen[j].is_none() && checkpoint.size >= sizes[j] && complete {
                seen[j] = Some(now);
            }
        }
        if seen.iter().all(Option::is_some) {
            let own = held
                .checkpoints
                .iter()
                .find(|c| c.origin == origins[i])
                .map_or(0, |c| c.checkpoint.len());
            let gathered = seen[i].unwrap_or_default();
            let cosigned = seen
                .into_iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .filter_map(|(_, at)| at)
                .collect();
            return Ok((cosigned, gathered, own));
        }
        ensure!(
            Instant::now() < deadline,
            "{}: not every checkpoint witnessed within 60 s",
            node.http
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

pub(super) fn witness(dir: &std::path::Path, rounds: u32) -> Result<()> {
    let state: State = super::read_state(dir)?;
    ensure!(
        state.nodes.iter().all(|n| alive(n.pid)),
        "not every node is running; run `vouch-testnet up`"
    );
    let tokens = tokens(&state)?;
    let agent = agent();
    let witnesses = state.nodes.len() - 1;
    let (mut witnessed, mut gathered, mut bytes) = (Vec::new(), Vec::new(), Vec::new());
    let mut full_bytes = 0;
    // An agent of every org, to issue to: each issuance is an entry of the org's log. (Refusals
    // of an anonymous caller would not do: those of a minute are counted in one entry.)
    let orgs = state
        .nodes
        .iter()
        .zip(&tokens)
        .map(|(node, token)| {
            let org = crate::levels::Org::register(&agent, &node.http, token.trim(), "witnessed")?;
            let instance = org.instance()?;
            Ok((org, instance))
        })
        .collect::<Result<Vec<_>>>()?;
    for _ in 0..rounds {
        // Every log grows by one entry: a credential issued.
        for (org, instance) in &orgs {
            org.issue(instance, "witnessed")?;
        }
        // Each node signs its checkpoint now and gossips it; all are timed from here.
        let started = Instant::now();
        let mut sizes = Vec::new();
        for (node, token) in state.nodes.iter().zip(&tokens) {
            let note = crate::levels::admin(&agent, &node.http, token)?
                .checkpoint()
                .with_context(|| node.http.clone())?;
            bytes.push(note.len());
            sizes.push(size_of(&note).context("a checkpoint's size")?);
        }
        // Each node polled from its own thread: when it held each other log's new checkpoint
        // (it checked and cosigned it), and when its own carried all its witnesses'
        // cosignatures.
        let origins: Vec<String> = state
            .nodes
            .iter()
            .map(|n| format!("{}/audit", n.did))
            .collect();
        let polls: Vec<Result<(Vec<Duration>, Duration, usize)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = state
                .nodes
                .iter()
                .enumerate()
                .map(|(i, node)| {
                    let (origins, sizes) = (&origins, &sizes);
                    scope.spawn(move || poll(node, i, origins, sizes, started, witnesses))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a poller panicked")))
                })
                .collect()
        });
        for poll in polls {
            let (cosigned, all, length) = poll?;
            witnessed.extend(cosigned);
            gathered.push(all);
            full_bytes = full_bytes.max(length);
        }
    }
    witnessed.sort();
    gathered.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "witnessing on {} nodes, {rounds} round(s) of {} checkpoints signed at once: a witness \
         held a checkpoint checked and cosigned p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms after \
         the signing; the log's node held all {witnesses} cosignatures p50 {:.1} ms, p99 {:.1} ms",
        state.nodes.len(),
        state.nodes.len(),
        ms(percentile(&witnessed, 50.0)),
        ms(percentile(&witnessed, 99.0)),
        ms(*witnessed.last().context("a round")?),
        ms(percentile(&gathered, 50.0)),
        ms(percentile(&gathered, 99.0)),
    );
    let (mut cosigned, mut forks) = (0, 0);
    for node in &state.nodes {
        cosigned +=
            metric(&agent, &node.http, "vouch_audit_checkpoints_cosigned_total").unwrap_or(0);
        forks += metric(&agent, &node.http, "vouch_audit_forks_total").unwrap_or(0);
        let held = crate::levels::client(&agent, &node.http)?
            .evidence()
            .context("the evidence")?;
        ensure!(
            held.evidence.is_empty(),
            "{} holds evidence against an honest node: {:?}",
            node.http,
            held.evidence
        );
    }
    ensure!(forks == 0, "{forks} forks reported among honest nodes");
    let max_bytes = bytes.iter().max().copied().unwrap_or(0);
    println!(
        "{cosigned} cosignatures made in all; no evidence anywhere; a checkpoint note as signed is \
         at most {max_bytes} bytes, {full_bytes} with all {witnesses} cosignatures"
    );
    Ok(())
}
