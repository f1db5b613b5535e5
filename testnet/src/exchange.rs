//! `exchange`: the capability exchange between two wallet daemons of two orgs of the testnet —
//! `vouch wallet serve` processes built like this tool (release with `--release`), each
//! verifying with its own org's node — over libp2p on loopback (DESIGN §8, §10).
//!
//! Node 0's org issues a credential to agent A, node 1's to agent B; each key is sealed (a raw
//! key) and opened by its daemon. B's agent asks its daemon, on its socket, to exchange with A:
//! B's daemon sends its request (with its presentation) to A's daemon, which authenticates B and
//! presents; B decides, records, and sends its signed decision, which A checks and records.
//! One round trip is that, timed from B's socket: one at a time (latency), then from many
//! clients at once (exchanges per second). Last, node 0 revokes A's task and the time until
//! B's decisions say `revoked` is taken.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use vouch_api::daemon::{DaemonClient, DaemonConnection, ExchangeAsk, Exchanged, Request};
use vouch_core::key::KeyPair;

use crate::levels::Org;
use crate::{State, agent, percentile, tokens};

/// A running daemon, killed when dropped unless left running ([`Daemon::leave_running`]).
struct Daemon {
    child: Option<Child>,
    /// Its instance's did:key.
    did: String,
    socket: PathBuf,
    address: String,
    /// Where it serves its A2A agent card, when asked to.
    card: Option<String>,
}

impl Daemon {
    /// Leaves the daemon running after this tool exits; its process id.
    fn leave_running(mut self) -> u32 {
        self.child.take().map_or(0, |child| child.id())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Asks a daemon once on a new connection.
fn ask(socket: &Path, request: &Request) -> Result<Value> {
    Ok(DaemonClient::new(socket).ask(request)?)
}

/// A connection to the daemon at `socket`, to ask on again and again.
fn connect(socket: &Path) -> Result<DaemonConnection> {
    Ok(DaemonClient::new(socket).connect()?)
}

/// Seals `key` with a raw key and starts its daemon, verifying with the node at `node` under the
/// consortium whose genesis has the hash `consortium`; serving an A2A agent card under `card` (a
/// name), when given.
fn start(
    dir: &Path,
    name: &str,
    key: &KeyPair,
    (node, consortium): (&str, &str),
    card: Option<&str>,
) -> Result<Daemon> {
    let dir = dir.join(name);
    std::fs::create_dir_all(&dir)?;
    let raw = dir.join("raw.key");
    let secret: [u8; 32] = rand_bytes();
    vouch_node::datadir::write_private(&raw, &secret)?;
    let sealed = vouch_wallet::keystore::seal(
        key,
        &vouch_wallet::keystore::Secret::raw_from_file(&raw)?,
        vouch_wallet::keystore::Cost::default(),
    )?;
    let sealed_path = dir.join("key.sealed");
    vouch_wallet::keystore::write(&sealed_path, &sealed)?;
    let vouch = std::env::current_exe()?
        .parent()
        .context("the executable's folder")?
        .join("vouch");
    ensure!(
        vouch.exists(),
        "{} not found: build the workspace first",
        vouch.display()
    );
    let socket = dir.join("wallet.sock");
    // Its log goes to a file: it outlives this tool when left running.
    let log_path = dir.join("daemon.log");
    let log = std::fs::File::create(&log_path)?;
    let mut command = Command::new(vouch);
    command.args(["wallet", "serve"]);
    if let Some(card) = card {
        command.args(["--card-listen", "127.0.0.1:0", "--card-name", card]);
    }
    let child = command
        .arg("--wallet")
        .arg(dir.join("wallet"))
        .arg("--sealed-key")
        .arg(&sealed_path)
        .arg("--raw-key-file")
        .arg(&raw)
        .arg("--socket")
        .arg(&socket)
        .args(["--node", node, "--consortium", consortium])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    let mut daemon = Daemon {
        child: Some(child),
        did: vouch_core::did::key::did_of(&key.public()).to_string(),
        socket,
        address: String::new(),
        card: None,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let said = std::fs::read_to_string(&log_path)?;
        // Whole lines only: the daemon may be halfway through writing one.
        let line = |prefix: &str| {
            said.split_inclusive('\n')
                .filter_map(|line| line.strip_suffix('\n'))
                .find_map(|line| line.strip_prefix(prefix))
        };
        if let Some(at) = line("exchanges at ")
            && (card.is_none() || line("agent card at ").is_some())
        {
            daemon.address = at.to_owned();
            daemon.card = line("agent card at ").map(str::to_owned);
            return Ok(daemon);
        }
        if let Some(Some(status)) = daemon.child.as_mut().map(Child::try_wait).transpose()? {
            bail!("the daemon {name} exited ({status}): {said}");
        }
        ensure!(
            Instant::now() < deadline,
            "the daemon {name} said no address in 30 s: {said}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn rand_bytes() -> [u8; 32] {
    *KeyPair::generate().seed()
}

fn refund_capabilities() -> Value {
    json!([{"action": "call:testnet:refund", "resource": "https://testnet.example/refunds/**",
            "constraints": {"maxAmount": {"value": 5000, "unit": "EUR"}}}])
}

fn wanted() -> Value {
    json!({"action": "call:testnet:refund", "resource": "https://testnet.example/refunds/42",
           "arguments": {"amount": {"value": 1200, "unit": "EUR"}}})
}

/// One exchange on `stream`: its time and the first capability's reason (none if accepted).
fn once(stream: &mut DaemonConnection, peer: &str) -> Result<(Duration, Option<String>)> {
    let started = Instant::now();
    let answer: Exchanged = stream.ask_as(&Request::Exchange(ExchangeAsk {
        peer: peer.to_owned(),
        capabilities: vec![wanted()],
        query: None,
        domain: None,
        present: None,
    }))?;
    let took = started.elapsed();
    if let Some(refusal) = &answer.refusal {
        bail!("the prover did not take the decision: {refusal}");
    }
    let first = answer.decisions.first().context("no decision")?;
    Ok((took, first.reason.map(|r| r.as_str().to_owned())))
}

fn report(title: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{title}: n={} p50={:.3} ms p99={:.3} ms max={:.3} ms",
        times.len(),
        percentile(&times, 50.0).as_secs_f64() * 1e3,
        percentile(&times, 99.0).as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

/// Runs the measurement on the testnet in `dir`.
pub(crate) fn exchange(
    state: &State,
    dir: &Path,
    exchanges: u32,
    concurrency: usize,
) -> Result<()> {
    let agent = agent();
    let tokens = tokens(state)?;
    let Pair {
        prover_org,
        prover: daemon_a,
        verifier: daemon_b,
        task,
    } = Pair::start(state, &agent, &tokens, &dir.join("wallets"), None)?;
    println!("prover {} at {}", daemon_a.did, daemon_a.address);
    let mut stream = connect(&daemon_b.socket)?;
    // Warm up, then one at a time.
    for _ in 0..exchanges.min(200) {
        once(&mut stream, &daemon_a.address)?;
    }
    let mut sequential = Vec::with_capacity(exchanges as usize);
    for _ in 0..exchanges {
        let (took, reason) = once(&mut stream, &daemon_a.address)?;
        ensure!(reason.is_none(), "rejected: {reason:?}");
        sequential.push(took);
    }
    report("one at a time", sequential);

    // Many clients at once: the daemons' throughput.
    let started = Instant::now();
    let each = exchanges.div_ceil(concurrency as u32);
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let socket = daemon_b.socket.clone();
            let peer = daemon_a.address.clone();
            std::thread::spawn(move || -> Result<Vec<Duration>> {
                let mut stream = connect(&socket)?;
                (0..each)
                    .map(|_| {
                        let (took, reason) = once(&mut stream, &peer)?;
                        ensure!(reason.is_none(), "rejected: {reason:?}");
                        Ok(took)
                    })
                    .collect()
            })
        })
        .collect();
    let mut concurrent = Vec::new();
    for worker in workers {
        concurrent.extend(
            worker
                .join()
                .map_err(|_| anyhow::anyhow!("a client panicked"))??,
        );
    }
    let elapsed = started.elapsed();
    println!(
        "{concurrency} clients: {} exchanges in {:.2} s = {:.0} exchanges/s",
        concurrent.len(),
        elapsed.as_secs_f64(),
        concurrent.len() as f64 / elapsed.as_secs_f64()
    );
    report(&format!("{concurrency} clients"), concurrent);

    // Org A revokes the task: how long until B's decisions say so.
    let revoked_at = Instant::now();
    prover_org.revoke(vouch_core::revocation::Level::Task, &task)?;
    let deadline = revoked_at + Duration::from_secs(30);
    loop {
        match once(&mut stream, &daemon_a.address)? {
            (_, Some(reason)) if reason == "revoked" => break,
            _ => ensure!(Instant::now() < deadline, "B never saw the revocation"),
        }
    }
    println!(
        "task revoked at node 0: B's next decision rejected it `revoked` {:.1} ms later",
        revoked_at.elapsed().as_secs_f64() * 1e3
    );
    drop((daemon_a, daemon_b));
    Ok(())
}

/// Two agents of two orgs, each a running daemon holding its credential: a prover of node 0's
/// org (refunds up to 5,000 EUR, for `task`) and a verifier of node 1's; started once node 1
/// accepts the prover's capability (it knows node 0's org).
struct Pair {
    prover_org: Org,
    prover: Daemon,
    verifier: Daemon,
    task: String,
}

impl Pair {
    /// Starts them in `folder` (emptied first), serving A2A cards under `cards` names.
    fn start(
        state: &State,
        agent: &ureq::Agent,
        tokens: &[String],
        folder: &Path,
        cards: Option<(&str, &str)>,
    ) -> Result<Self> {
        ensure!(state.nodes.len() >= 2, "two agents need two nodes");
        let stamp = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let prover_org = Org::register(
            agent,
            &state.nodes[0].http,
            &tokens[0],
            &format!("refund-desk-{stamp}"),
        )?;
        let verifier_org = Org::register(
            agent,
            &state.nodes[1].http,
            &tokens[1],
            &format!("payments-{stamp}"),
        )?;
        let (a, b) = (prover_org.instance()?, verifier_org.instance()?);
        let task = format!("refunds-{stamp}");
        let credential_a = prover_org.issue_with(&a, &task, refund_capabilities())?;
        let credential_b = verifier_org.issue_with(
            &b,
            "verifier",
            json!([{"action": "verify:exchange", "resource": "https://testnet.example/**"}]),
        )?;
        if folder.exists() {
            std::fs::remove_dir_all(folder)?;
        }
        let prover = start(
            folder,
            "prover",
            &a,
            (&state.nodes[0].http, &state.consortium),
            cards.map(|c| c.0),
        )?;
        let verifier = start(
            folder,
            "verifier",
            &b,
            (&state.nodes[1].http, &state.consortium),
            cards.map(|c| c.1),
        )?;
        ask(
            &prover.socket,
            &Request::AddCredential {
                credential: credential_a,
                chain: Vec::new(),
            },
        )?;
        ask(
            &verifier.socket,
            &Request::AddCredential {
                credential: credential_b,
                chain: Vec::new(),
            },
        )?;
        // Until node 1 knows node 0's org (DID gossip), the verifier rejects.
        let mut stream = connect(&verifier.socket)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while let (_, Some(reason)) = once(&mut stream, &prover.address)? {
            ensure!(
                Instant::now() < deadline,
                "the verifier never accepted the prover's capability: {reason}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self {
            prover_org,
            prover,
            verifier,
            task,
        })
    }
}

/// An agent `agents` left running: what the clients' tests and examples need to reach it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RunningAgent {
    /// The daemon's socket.
    pub socket: PathBuf,
    /// The instance's did:key.
    pub did: String,
    /// Where the daemon takes exchanges (libp2p, ending in `/p2p/<peer id>`).
    pub address: String,
    /// Its org's did:vouch.
    pub org: String,
    /// Its org's node.
    pub node: String,
    /// The task its credential is for.
    pub task: String,
    /// Where its daemon serves its A2A agent card.
    pub card: Option<String>,
    /// The daemon's process id (`down` stops it).
    pub pid: u32,
}

/// The agents of `agents.json`: a prover of node 0's org and a verifier of node 1's.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Agents {
    pub prover: RunningAgent,
    pub verifier: RunningAgent,
}

/// Where `agents` writes what it left running.
pub(crate) const AGENTS: &str = "agents.json";

/// Starts two agents and leaves them running: a prover of node 0's org holding a refund
/// credential, and a verifier of node 1's org; waits until the verifier accepts the prover's
/// capability (node 1 knows node 0's org), then writes `agents.json`.
pub(crate) fn agents(state: &State, dir: &Path) -> Result<Agents> {
    let agent = agent();
    let tokens = tokens(state)?;
    let pair = Pair::start(
        state,
        &agent,
        &tokens,
        &dir.join("agents"),
        Some(("refund desk", "payments")),
    )?;
    let running = |daemon: Daemon, node: usize, task: &str| RunningAgent {
        socket: daemon.socket.clone(),
        did: daemon.did.clone(),
        address: daemon.address.clone(),
        org: state.nodes[node].did.clone(),
        node: state.nodes[node].http.clone(),
        task: task.to_owned(),
        card: daemon.card.clone(),
        pid: daemon.leave_running(),
    };
    let agents = Agents {
        prover: running(pair.prover, 0, &pair.task),
        verifier: running(pair.verifier, 1, "verifier"),
    };
    std::fs::write(dir.join(AGENTS), serde_json::to_vec_pretty(&agents)?)?;
    Ok(agents)
}
