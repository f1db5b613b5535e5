//! `vouch-testnet`: `up --nodes N` forms a consortium of N nodes on loopback and starts them as
//! separate `vouch-node` processes; `measure` publishes DID updates on the first node and times
//! their arrival everywhere; `down` stops them.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use chrono::Utc;
use clap::{Parser, Subcommand};
use serde::{Deserialize, Serialize};
use vouch_core::did::vouch::DocumentContent;
use vouch_core::key::KeyPair;
use vouch_node::{Config, consortium, setup};
use vouch_wallet::didlog;

#[derive(Parser)]
#[command(
    name = "vouch-testnet",
    version,
    about = "A local network of real Vouch nodes"
)]
struct Cli {
    /// The testnet's folder.
    #[arg(long, default_value = "testnet-data", global = true)]
    dir: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Forms a consortium of N nodes, starts them, and waits until they are meshed.
    Up {
        /// How many nodes.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(2..=64))]
        nodes: u16,
    },
    /// Publishes DID updates on the first node and reports how long each takes to be resolvable
    /// at its new version on every node.
    Measure {
        /// How many updates.
        #[arg(long, default_value_t = 100)]
        updates: u32,
    },
    /// Stops every node.
    Down,
}

/// What `up` leaves for `measure` and `down`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct State {
    nodes: Vec<NodeState>,
    /// The update key (`keys/update-N.key.json` of node 0) that signs node 0's next operation.
    update_key: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeState {
    config: PathBuf,
    http: String,
    did: String,
    peer_id: String,
    pid: u32,
}

const STATE: &str = "testnet.json";

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vouch-testnet: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Cmd::Up { nodes } => up(&cli.dir, nodes.into()),
        Cmd::Measure { updates } => measure(&cli.dir, updates),
        Cmd::Down => down(&cli.dir),
    }
}

fn read_state(dir: &Path) -> Result<State> {
    let path = dir.join(STATE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{}: no testnet here; run `vouch-testnet up`",
            path.display()
        )
    })?;
    Ok(serde_json::from_str(&text)?)
}

fn write_state(dir: &Path, state: &State) -> Result<()> {
    std::fs::write(dir.join(STATE), serde_json::to_vec_pretty(state)?)?;
    Ok(())
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.split_whitespace().nth(2) == Some("Z"))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

fn get_json(agent: &ureq::Agent, url: &str) -> Option<serde_json::Value> {
    let mut response = agent.get(url).call().ok()?;
    let text = response.body_mut().read_to_string().ok()?;
    serde_json::from_str(&text).ok()
}

fn version_at(agent: &ureq::Agent, http: &str, did: &str) -> Option<u64> {
    get_json(agent, &format!("{http}/1.0/identifiers/{did}"))?["didDocumentMetadata"]["versionId"]
        .as_str()?
        .parse()
        .ok()
}

fn peers_of(agent: &ureq::Agent, http: &str) -> Option<u64> {
    let mut response = agent.get(&format!("{http}/metrics")).call().ok()?;
    let text = response.body_mut().read_to_string().ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("vouch_peers "))
        .and_then(|n| n.parse().ok())
}

fn up(dir: &Path, count: usize) -> Result<()> {
    if dir.join(STATE).exists() {
        let state = read_state(dir)?;
        ensure!(
            !state.nodes.iter().any(|n| alive(n.pid)),
            "a testnet is already up in {}; run `vouch-testnet down` first",
            dir.display()
        );
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    } else if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!("{} exists and is not a testnet's folder", dir.display());
    }
    let node_bin = std::env::current_exe()?
        .parent()
        .context("the executable's folder")?
        .join("vouch-node");
    ensure!(
        node_bin.exists(),
        "{} not found: build the workspace first",
        node_bin.display()
    );

    let mut configs = Vec::new();
    let mut paths = Vec::new();
    for i in 0..count {
        let node_dir = dir.join(format!("node-{i}"));
        std::fs::create_dir_all(&node_dir)?;
        let path = node_dir.join("node.toml");
        std::fs::write(
            &path,
            format!(
                "data_dir = \"data\"\n\n[http]\nlisten = \"127.0.0.1:{}\"\n\n[p2p]\nlisten = [\"/ip4/127.0.0.1/tcp/{}\"]\nsync_interval_secs = 2\n",
                free_port()?,
                free_port()?
            ),
        )?;
        let config = Config::read(&path)?;
        setup::init(&config, Utc::now())?;
        configs.push(config);
        paths.push(path);
    }
    consortium::form_local("testnet", &configs)?;
    // Node 0's DID log, kept beside it so that `measure` can sign its updates.
    let first = &configs[0];
    let identity = setup::identity(&first.data_dir)?;
    {
        let store = vouch_node::store::Store::open(&first.data_dir.join(setup::DB))?;
        let registry = vouch_node::registry::Registry::new(
            Arc::new(store),
            vouch_node::metrics::Metrics::new(),
        );
        let log = registry
            .log(&identity.did)?
            .context("node 0 holds its DID")?;
        didlog::create(&dir.join("node-0").join("org.did.jsonl"), &log)?;
    }

    let mut nodes = Vec::new();
    for (config, path) in configs.iter().zip(&paths) {
        let log = std::fs::File::create(path.with_file_name("node.log"))?;
        let child = Command::new(&node_bin)
            .args(["--config", &path.display().to_string(), "run"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", node_bin.display()))?;
        let identity = setup::identity(&config.data_dir)?;
        nodes.push(NodeState {
            config: path.clone(),
            http: format!("http://{}", config.http.listen),
            did: identity.did.to_string(),
            peer_id: identity.peer_id,
            pid: child.id(),
        });
    }
    let state = State {
        nodes,
        update_key: identity.update_key,
    };
    write_state(dir, &state)?;

    let agent = agent();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    let peers = (count - 1) as u64;
    loop {
        let meshed = state.nodes.iter().all(|node| {
            peers_of(&agent, &node.http) == Some(peers)
                && state
                    .nodes
                    .iter()
                    .all(|other| version_at(&agent, &node.http, &other.did).is_some())
        });
        if meshed {
            break;
        }
        if Instant::now() > deadline {
            down(dir)?;
            bail!(
                "the nodes did not mesh within 60 s; see {}/node-*/node.log",
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "testnet up: {count} nodes meshed in {} ms, each resolving every member's DID",
        started.elapsed().as_millis()
    );
    for (i, node) in state.nodes.iter().enumerate() {
        println!("node-{i}  {}  {}  {}", node.http, node.did, node.peer_id);
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn measure(dir: &Path, updates: u32) -> Result<()> {
    ensure!(updates > 0, "measure at least one update");
    let mut state = read_state(dir)?;
    ensure!(
        state.nodes.iter().all(|n| alive(n.pid)),
        "not every node is running; run `vouch-testnet up`"
    );
    let first = Config::read(&state.nodes[0].config)?;
    let token = std::fs::read_to_string(first.in_data_dir(&first.http.admin_token_file))?;
    let log_path = dir.join("node-0").join("org.did.jsonl");
    let mut log = didlog::read(&log_path)?;
    let agent = agent();
    let did = state.nodes[0].did.clone();
    let mut everywhere = Vec::new();
    let mut per_node = Vec::new();
    for _ in 0..updates {
        let operation = setup::next_update(
            &first.data_dir,
            &log,
            state.update_key,
            DocumentContent::single_key(&KeyPair::generate().public()),
            Utc::now(),
        )?;
        let version = operation.version;
        let started = Instant::now();
        let mut response = agent
            .post(&format!("{}/admin/did/operations", state.nodes[0].http))
            .header("authorization", &format!("Bearer {}", token.trim()))
            .send(operation.to_json())?;
        ensure!(
            response.status() == 200,
            "node 0 refused the update: {}",
            response.body_mut().read_to_string().unwrap_or_default()
        );
        didlog::append(&log_path, &mut log, operation)?;
        state.update_key += 1;
        write_state(dir, &state)?;
        // Every node polled at once, each by its own thread.
        let arrivals: Vec<Duration> = std::thread::scope(|scope| {
            let polls: Vec<_> = state
                .nodes
                .iter()
                .map(|node| {
                    let (agent, did) = (&agent, &did);
                    scope.spawn(move || {
                        let deadline = started + Duration::from_secs(30);
                        loop {
                            if version_at(agent, &node.http, did).is_some_and(|v| v >= version) {
                                return Some(started.elapsed());
                            }
                            if Instant::now() > deadline {
                                return None;
                            }
                            std::thread::sleep(Duration::from_micros(500));
                        }
                    })
                })
                .collect();
            polls
                .into_iter()
                .map(|p| p.join().ok().flatten())
                .collect::<Option<Vec<_>>>()
        })
        .context("an update did not reach every node within 30 s")?;
        everywhere.push(*arrivals.iter().max().expect("at least two nodes"));
        per_node.extend(arrivals);
    }
    everywhere.sort();
    per_node.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{updates} DID updates on node 0, each resolvable at its new version on all {} nodes after:",
        state.nodes.len()
    );
    println!(
        "  all nodes   p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        ms(percentile(&everywhere, 50.0)),
        ms(percentile(&everywhere, 99.0)),
        ms(*everywhere.last().expect("one update at least"))
    );
    println!(
        "  each node   p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  ({} arrivals)",
        ms(percentile(&per_node, 50.0)),
        ms(percentile(&per_node, 99.0)),
        ms(*per_node.last().expect("one arrival at least")),
        per_node.len()
    );
    Ok(())
}

fn down(dir: &Path) -> Result<()> {
    let state = read_state(dir)?;
    for node in &state.nodes {
        if alive(node.pid) {
            let _ = Command::new("kill")
                .args(["-TERM", &node.pid.to_string()])
                .status();
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while state.nodes.iter().any(|n| alive(n.pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    for node in state.nodes.iter().filter(|n| alive(n.pid)) {
        let _ = Command::new("kill")
            .args(["-KILL", &node.pid.to_string()])
            .status();
    }
    println!("testnet down: {} nodes stopped", state.nodes.len());
    Ok(())
}
