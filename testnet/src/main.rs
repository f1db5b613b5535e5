//! `vouch-testnet`: `up --nodes N` forms a consortium of N nodes on loopback and starts them as
//! separate `vouch-node` processes; `measure` publishes DID updates and revocations on the first
//! node, through its admin API, and times their arrival everywhere; `partition` cuts nodes off
//! (each side refuses the other's peers), publishes on both sides, heals, and measures the time
//! to converge and the anti-entropy traffic; `witness` times the audit logs' witnessing;
//! `exchange` times the capability exchange between two orgs' wallet daemons; `down` stops them.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use chrono::Utc;
use clap::{Parser, Subcommand};
use serde::{Deserialize, Serialize};
use vouch_core::lock::MutexExt as _;
use vouch_core::status::StatusListCredential;
use vouch_node::{Config, datadir, setup};

mod exchange;
mod fill;
mod flood;
mod levels;
mod witness;

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
        /// The suite the nodes sign their agents' credentials with (`[issuance] suite`).
        #[arg(long, default_value = "eddsa-rdfc-2022")]
        suite: String,
    },
    /// Publishes DID updates (key rotations) and revocations on the first node and reports how
    /// long each takes to be visible on every node; then, for each revocation level (credential,
    /// agent, task, chain), how long until every node's verification service refuses a
    /// presentation that depends on what was revoked.
    Measure {
        /// How many updates, how many revocations, and how many of each level.
        #[arg(long, default_value_t = 100)]
        updates: u32,
        /// Skip the four revocation levels.
        #[arg(long)]
        no_levels: bool,
    },
    /// Cuts the last `--cut` nodes off from the others (both sides refuse each other's peers
    /// through the admin API), publishes DID updates and a revocation on each side, heals, and
    /// reports how long every node takes to hold everything, and the anti-entropy bytes sent.
    Partition {
        /// How many nodes are cut off.
        #[arg(long, default_value_t = 3)]
        cut: usize,
        /// How many partitions, one after the other.
        #[arg(long, default_value_t = 5)]
        rounds: u32,
        /// How many DID updates each side makes while cut off.
        #[arg(long, default_value_t = 10)]
        updates: u32,
    },
    /// Grows every node's audit log, has each sign a checkpoint and gossip it, and reports how
    /// long until every other member has checked (by the log's consistency proof) and cosigned
    /// it, and until the log's node holds all their cosignatures; no node may hold evidence
    /// against another.
    Witness {
        /// How many rounds.
        #[arg(long, default_value_t = 3)]
        rounds: u32,
    },
    /// The capability exchange between two wallet daemons of two orgs (nodes 0 and 1) over
    /// libp2p: round-trip latency one at a time, exchanges per second from `--concurrency`
    /// clients, and how long after a revocation at node 0 the verifier's decisions say
    /// `revoked`.
    Exchange {
        /// How many exchanges in each measurement.
        #[arg(long, default_value_t = 2000)]
        exchanges: u32,
        /// How many clients at once for the throughput.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// Fills node 0 through its admin API with `--dids` new did:vouch DIDs and `--lists` status
    /// lists of 131,072 entries, then reports its resident memory, its data folder's size and
    /// DID resolution latency at that size.
    Fill {
        /// How many DIDs.
        #[arg(long, default_value_t = 100_000)]
        dids: u32,
        /// How many status lists (131,072 entries each).
        #[arg(long, default_value_t = 8)]
        lists: u32,
        /// How many of the DIDs are resolved for the latency.
        #[arg(long, default_value_t = 1000)]
        samples: u32,
    },
    /// Floods an open surface of node 0 as anonymous clients would, from many loopback
    /// addresses at once, and reports node 0's resident memory idle, at the flood's peak and
    /// `--settle` seconds after it, with what the flooders were answered (DESIGN §10: at most
    /// 64 MiB over idle, back within 16 MiB a minute after).
    Flood {
        /// What to flood; every surface in turn when none is named.
        #[arg(long = "target", value_enum)]
        targets: Vec<flood::Target>,
        /// How long each flood lasts.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// How many clients, each from a loopback address of its own.
        #[arg(long, default_value_t = 32)]
        clients: u32,
        /// How long to watch the memory after each flood.
        #[arg(long, default_value_t = 60)]
        settle: u64,
    },
    /// Starts two agents for integrations and leaves them running (until `down`): a prover of
    /// node 0's org, holding a credential for refunds up to 5,000 EUR, and a verifier of node 1's
    /// org; each a `vouch wallet serve` daemon on its own socket. Writes their sockets, DIDs and
    /// exchange addresses to `agents.json` in the testnet's folder.
    Agents,
    /// Stops every node, and the agents.
    Down,
}

/// What `up` leaves for `measure` and `down`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct State {
    nodes: Vec<NodeState>,
    /// The hash of the consortium's genesis: what the agents' daemons check it against.
    consortium: String,
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
        Cmd::Up { nodes, suite } => up(&cli.dir, nodes.into(), &suite),
        Cmd::Measure { updates, no_levels } => measure(&cli.dir, updates, !no_levels),
        Cmd::Partition {
            cut,
            rounds,
            updates,
        } => partition(&cli.dir, cut, rounds, updates),
        Cmd::Witness { rounds } => witness::witness(&cli.dir, rounds),
        Cmd::Fill {
            dids,
            lists,
            samples,
        } => fill::fill(&read_state(&cli.dir)?, dids, lists, samples),
        Cmd::Exchange {
            exchanges,
            concurrency,
        } => exchange::exchange(&read_state(&cli.dir)?, &cli.dir, exchanges, concurrency),
        Cmd::Flood {
            targets,
            seconds,
            clients,
            settle,
        } => flood::flood(&read_state(&cli.dir)?, &targets, seconds, clients, settle),
        Cmd::Agents => {
            let agents = exchange::agents(&read_state(&cli.dir)?, &cli.dir)?;
            for (role, agent) in [("prover", &agents.prover), ("verifier", &agents.verifier)] {
                println!(
                    "{role:8} {}  socket {}  org {}",
                    agent.did,
                    agent.socket.display(),
                    agent.org
                );
            }
            println!("written to {}", cli.dir.join(exchange::AGENTS).display());
            Ok(())
        }
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

/// Ports for the nodes to listen on: free when chosen, never twice, and below the kernel's range
/// of ephemeral ports. A port the kernel hands out as ephemeral, free a moment ago, may by the
/// time a node starts be the local end of another node's outgoing connection, and the node
/// cannot listen (seen: a 10-node testnet whose seventh node never joined).
struct Ports {
    taken: std::collections::HashSet<u16>,
    next: u16,
}

/// The lowest port considered.
const LOWEST_PORT: u16 = 10_000;

impl Ports {
    fn new() -> Self {
        // Start somewhere of this process's own, so that testnets started at once (the tests)
        // seldom try the same ports.
        let span = ephemeral_low().saturating_sub(LOWEST_PORT).max(1);
        let seed = std::process::id() ^ rand::random::<u32>();
        Self {
            taken: Default::default(),
            next: LOWEST_PORT + (seed % u32::from(span)) as u16,
        }
    }

    fn next(&mut self) -> Result<u16> {
        let low = ephemeral_low();
        for _ in LOWEST_PORT..low {
            let port = self.next;
            self.next = if port + 1 >= low {
                LOWEST_PORT
            } else {
                port + 1
            };
            if !self.taken.contains(&port)
                && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
            {
                self.taken.insert(port);
                return Ok(port);
            }
        }
        bail!("no free port between {LOWEST_PORT} and {low}")
    }
}

/// The first ephemeral port (`/proc/sys/net/ipv4/ip_local_port_range`; Linux's default when
/// it cannot be read).
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .filter(|&low| low > LOWEST_PORT)
        .unwrap_or(32_768)
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
        // Connections kept to every node of a large testnet (ureq keeps 10 in all by default):
        // a new connection per poll would measure TCP set-up, and a lost SYN costs a second.
        .max_idle_connections(1024)
        .max_idle_connections_per_host(8)
        .build()
        .into()
}

fn version_at(agent: &ureq::Agent, http: &str, did: &str) -> Option<u64> {
    let did = vouch_core::did::Did::parse(did).ok()?;
    let (_, result) = levels::client(agent, http).ok()?.resolve(&did).ok()?;
    result["didDocumentMetadata"]["versionId"]
        .as_str()?
        .parse()
        .ok()
}

fn peers_of(agent: &ureq::Agent, http: &str) -> Option<u64> {
    metric(agent, http, "vouch_peers")
}

/// A counter or gauge of a node's `/metrics`.
fn metric(agent: &ureq::Agent, http: &str, name: &str) -> Option<u64> {
    let mut response = agent.get(&format!("{http}/metrics")).call().ok()?;
    let text = response.body_mut().read_to_string().ok()?;
    let prefix = format!("{name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.parse().ok())
}

fn up(dir: &Path, count: usize, suite: &str) -> Result<()> {
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
    let mut ports = Ports::new();
    for i in 0..count {
        let node_dir = dir.join(format!("node-{i}"));
        std::fs::create_dir_all(&node_dir)?;
        let path = node_dir.join("node.toml");
        std::fs::write(
            &path,
            format!(
                "data_dir = \"data\"\n\n[http]\nlisten = \"127.0.0.1:{}\"\n\n[p2p]\nlisten = [\"/ip4/127.0.0.1/tcp/{}\"]\nsync_interval_secs = 2\n\n[issuance]\nsuite = \"{suite}\"\n",
                ports.next()?,
                ports.next()?
            ),
        )?;
        let config = Config::read(&path)?;
        setup::init(&config, Utc::now())?;
        configs.push(config);
        paths.push(path);
    }
    let consortium = setup::form_local("testnet", &configs, None)?.hash();

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
        let identity = datadir::identity(&config.data_dir)?;
        nodes.push(NodeState {
            config: path.clone(),
            http: format!("http://{}", config.http.listen),
            did: identity.did.to_string(),
            peer_id: identity.peer_id,
            pid: child.id(),
        });
    }
    let state = State { nodes, consortium };
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

/// Polls every node at once, each from its own thread, until `arrived` holds there; returns how
/// long after `started` it held on each.
fn arrivals(
    state: &State,
    started: Instant,
    arrived: impl Fn(&str) -> bool + Sync,
) -> Result<Vec<Duration>> {
    arrivals_every(state, started, Duration::from_micros(500), arrived)
}

/// [`arrivals`], polling every `every`: a heavier check polled less often leaves the nodes the
/// CPU they are measured on.
fn arrivals_every(
    state: &State,
    started: Instant,
    every: Duration,
    arrived: impl Fn(&str) -> bool + Sync,
) -> Result<Vec<Duration>> {
    std::thread::scope(|scope| {
        let polls: Vec<_> = state
            .nodes
            .iter()
            .map(|node| {
                let arrived = &arrived;
                scope.spawn(move || {
                    let deadline = started + Duration::from_secs(30);
                    loop {
                        if arrived(&node.http) {
                            return Some(started.elapsed());
                        }
                        if Instant::now() > deadline {
                            return None;
                        }
                        std::thread::sleep(every);
                    }
                })
            })
            .collect();
        every_node(polls.into_iter().map(|p| p.join().ok().flatten()).collect())
    })
}

/// Each node's time, or an error naming the nodes that have none.
fn every_node(times: Vec<Option<Duration>>) -> Result<Vec<Duration>> {
    let missing: Vec<String> = times
        .iter()
        .enumerate()
        .filter(|(_, time)| time.is_none())
        .map(|(i, _)| format!("node-{i}"))
        .collect();
    ensure!(
        missing.is_empty(),
        "a change did not reach every node within 30 s: not {}",
        missing.join(", ")
    );
    Ok(times.into_iter().flatten().collect())
}

/// Polls the nodes in turn, from `pollers` threads that share one queue of the nodes still
/// waiting, until `arrived` holds on each; returns how long after `started` it held on each. For
/// a check that costs the nodes real work (a verification, an audit write): at most `pollers` run
/// at once across the whole testnet, however many nodes it has, so the measuring never takes the
/// CPU the nodes are measured on. The figures' resolution is one round of the waiting nodes.
fn arrivals_in_turn(
    state: &State,
    started: Instant,
    pollers: usize,
    arrived: impl Fn(&str) -> bool + Sync,
) -> Result<Vec<Duration>> {
    let deadline = started + Duration::from_secs(30);
    // The nodes still waiting, and how many a poller is asking now: a poller with nothing to
    // ask waits for one to come back, and stops when none is waiting or being asked.
    let turn = std::sync::Mutex::new(((0..state.nodes.len()).collect::<VecDeque<usize>>(), 0usize));
    let returned = std::sync::Condvar::new();
    let times = std::sync::Mutex::new(vec![None; state.nodes.len()]);
    let lock = || turn.locked();
    std::thread::scope(|scope| {
        for _ in 0..pollers.max(1) {
            scope.spawn(|| {
                loop {
                    let node = {
                        let mut guard = lock();
                        loop {
                            let now = Instant::now();
                            if now > deadline {
                                return;
                            }
                            if let Some(node) = guard.0.pop_front() {
                                guard.1 += 1;
                                break node;
                            }
                            if guard.1 == 0 {
                                return;
                            }
                            guard = returned
                                .wait_timeout(guard, deadline - now)
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .0;
                        }
                    };
                    let arrived_now = arrived(&state.nodes[node].http);
                    if arrived_now {
                        times.locked()[node] = Some(started.elapsed());
                    }
                    let mut guard = lock();
                    guard.1 -= 1;
                    if !arrived_now {
                        guard.0.push_back(node);
                    }
                    returned.notify_all();
                }
            });
        }
    });
    every_node(
        times
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

/// Rotates the org key of the node at `http`: the DID's version after.
fn rotate(agent: &ureq::Agent, http: &str, token: &str) -> Result<u64> {
    let accepted = levels::admin(agent, http, token)?.rotate()?;
    accepted
        .version_id
        .parse()
        .with_context(|| format!("{http} answered the version {}", accepted.version_id))
}

/// Sets bits of the revocation list `name` of the node at `http`.
fn set_bits(
    agent: &ureq::Agent,
    http: &str,
    token: &str,
    name: &str,
    set: Vec<usize>,
) -> Result<()> {
    levels::admin(agent, http, token)?.change_status(
        name,
        &vouch_api::node::admin::StatusChange {
            purpose: "revocation".into(),
            set,
            clear: Vec::new(),
        },
    )?;
    Ok(())
}

/// Whether the status list at `url` has bit `index` set (its proof is not checked: this only
/// times arrival; the nodes verified it).
fn revoked_at(agent: &ureq::Agent, http: &str, did: &str, name: &str, index: usize) -> bool {
    let path = format!("{}{did}/{name}", vouch_api::node::client::STATUS_LISTS);
    levels::client(agent, http)
        .and_then(|node| Ok(node.status_list(&path)?))
        .ok()
        .and_then(|raw| StatusListCredential::parse(&raw).ok())
        .is_some_and(|list| list.list.get(index).unwrap_or(false))
}

fn measure(dir: &Path, updates: u32, levels: bool) -> Result<()> {
    ensure!(updates > 0, "measure at least one update");
    let state = read_state(dir)?;
    ensure!(
        state.nodes.iter().all(|n| alive(n.pid)),
        "not every node is running; run `vouch-testnet up`"
    );
    let first = Config::read(&state.nodes[0].config)?;
    let token = std::fs::read_to_string(first.in_data_dir(&first.http.admin_token_file))?;
    let agent = agent();
    let did = state.nodes[0].did.clone();
    let http = state.nodes[0].http.clone();

    let (mut updated, mut updated_each) = (Vec::new(), Vec::new());
    for _ in 0..updates {
        let started = Instant::now();
        let version = rotate(&agent, &http, &token)?;
        let times = arrivals(&state, started, |node| {
            version_at(&agent, node, &did).is_some_and(|v| v >= version)
        })?;
        updated.push(*times.iter().max().expect("at least two nodes"));
        updated_each.extend(times);
    }

    // Revocations: a bit set in node 0's list, then the list fetched from every node. The list's
    // path is the same on every node.
    let (mut revoked, mut revoked_each) = (Vec::new(), Vec::new());
    for index in 0..updates as usize {
        let started = Instant::now();
        set_bits(&agent, &http, &token, "testnet-revocations", vec![index])?;
        let times = arrivals(&state, started, |node| {
            revoked_at(&agent, node, &did, "testnet-revocations", index)
        })?;
        revoked.push(*times.iter().max().expect("at least two nodes"));
        revoked_each.extend(times);
    }

    let n = state.nodes.len();
    report(
        &format!(
            "{updates} DID updates on node 0, each resolvable at its new version on all {n} nodes after:"
        ),
        updated,
        updated_each,
    );
    report(
        &format!(
            "{updates} revocations on node 0, each in the status list served by all {n} nodes after:"
        ),
        revoked,
        revoked_each,
    );
    if levels {
        levels::measure(&state, &agent, &token, updates)?;
    }
    Ok(())
}

/// Every node's admin token.
fn tokens(state: &State) -> Result<Vec<String>> {
    state
        .nodes
        .iter()
        .map(|node| {
            let config = Config::read(&node.config)?;
            Ok(std::fs::read_to_string(
                config.in_data_dir(&config.http.admin_token_file),
            )?)
        })
        .collect()
}

/// Waits until each node has `want(i)` member connections.
fn wait_peers(agent: &ureq::Agent, state: &State, want: impl Fn(usize) -> u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    for (i, node) in state.nodes.iter().enumerate() {
        while peers_of(agent, &node.http) != Some(want(i)) {
            ensure!(
                Instant::now() < deadline,
                "node {i} never had {} member connections",
                want(i)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(())
}

fn partition(dir: &Path, cut: usize, rounds: u32, updates: u32) -> Result<()> {
    let state = read_state(dir)?;
    let n = state.nodes.len();
    ensure!(
        (1..n).contains(&cut),
        "cut off 1 to {} of the {n} nodes",
        n - 1
    );
    ensure!(
        state.nodes.iter().all(|n| alive(n.pid)),
        "not every node is running; run `vouch-testnet up`"
    );
    let tokens = tokens(&state)?;
    let agent = agent();
    let side: Vec<usize> = (n - cut..n).collect();
    let rest: Vec<usize> = (0..n - cut).collect();
    let peers = |of: &[usize]| -> Vec<String> {
        of.iter().map(|&i| state.nodes[i].peer_id.clone()).collect()
    };
    let both = |action: &str| -> Result<()> {
        for (members, others) in [(&side, &rest), (&rest, &side)] {
            let body = vouch_api::node::admin::Peers {
                peers: peers(others),
            };
            for &i in members.iter() {
                let node = &state.nodes[i];
                levels::admin(&agent, &node.http, &tokens[i])?.peers(action == "refuse", &body)?;
            }
        }
        Ok(())
    };
    let (publishers, lists) = ([0, n - 1], "testnet-partition");
    let total_bytes = || -> u64 {
        state
            .nodes
            .iter()
            .map(|node| metric(&agent, &node.http, "vouch_sync_bytes_sent_total").unwrap_or(0))
            .sum()
    };
    let (mut converged, mut converged_each, mut bytes) = (Vec::new(), Vec::new(), Vec::new());
    let mut after_reconnecting = Vec::new();
    wait_peers(&agent, &state, |_| (n - 1) as u64)?;
    for round in 0..rounds as usize {
        both("refuse")?;
        wait_peers(&agent, &state, |i| {
            (if side.contains(&i) {
                cut - 1
            } else {
                n - cut - 1
            }) as u64
        })?;
        let mut versions = Vec::new();
        for &p in &publishers {
            let node = &state.nodes[p];
            let mut version = 0;
            for _ in 0..updates {
                version = rotate(&agent, &node.http, &tokens[p])?;
            }
            set_bits(&agent, &node.http, &tokens[p], lists, vec![round])?;
            versions.push(version);
        }
        // Each side holds its own side's work before the cut heals.
        let own = |i: usize| if side.contains(&i) { 1 } else { 0 };
        for (i, node) in state.nodes.iter().enumerate() {
            let p = own(i);
            let (did, version) = (&state.nodes[publishers[p]].did, versions[p]);
            let deadline = Instant::now() + Duration::from_secs(30);
            while version_at(&agent, &node.http, did) < Some(version) {
                ensure!(
                    Instant::now() < deadline,
                    "node {i} never caught up with its side"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let before = total_bytes();
        let started = Instant::now();
        both("admit")?;
        // Each node: when it is connected to every member again, and when it holds everything.
        let full = (n - 1) as u64;
        let reconnected: Vec<std::sync::Mutex<Option<Duration>>> =
            state.nodes.iter().map(|_| Default::default()).collect();
        let times = arrivals_every(&state, started, Duration::from_millis(50), |http| {
            let i = state
                .nodes
                .iter()
                .position(|node| node.http == http)
                .expect("a node of the testnet");
            let mut seen = reconnected[i].lock().expect("not poisoned");
            if seen.is_none() && peers_of(&agent, http) == Some(full) {
                *seen = Some(started.elapsed());
            }
            publishers.iter().zip(&versions).all(|(&p, &version)| {
                let did = &state.nodes[p].did;
                version_at(&agent, http, did).is_some_and(|v| v >= version)
                    && revoked_at(&agent, http, did, lists, round)
            })
        })?;
        bytes.push(total_bytes() - before);
        for (time, seen) in times.iter().zip(&reconnected) {
            // Converged before its last connection came back: nothing left after reconnecting.
            let seen = seen.lock().expect("not poisoned").unwrap_or(*time);
            after_reconnecting.push(time.saturating_sub(seen));
        }
        converged.push(*times.iter().max().expect("at least two nodes"));
        converged_each.extend(times);
        wait_peers(&agent, &state, |_| (n - 1) as u64)?;
    }
    report(
        &format!(
            "{rounds} partitions of {cut} of {n} nodes, {updates} DID updates and a revocation on each side; every node holding everything after the heal:"
        ),
        converged,
        converged_each,
    );
    after_reconnecting.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  each node, after it is connected to every member again: p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        ms(percentile(&after_reconnecting, 50.0)),
        ms(percentile(&after_reconnecting, 99.0)),
        ms(*after_reconnecting.last().expect("one arrival at least"))
    );
    bytes.sort_unstable();
    println!(
        "  anti-entropy payload sent by all nodes from the heal to convergence: median {} bytes, max {} bytes",
        bytes[bytes.len() / 2],
        bytes.last().expect("one round at least")
    );
    Ok(())
}

fn report(title: &str, mut everywhere: Vec<Duration>, mut per_node: Vec<Duration>) {
    everywhere.sort();
    per_node.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("{title}");
    println!(
        "  all nodes   p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        ms(percentile(&everywhere, 50.0)),
        ms(percentile(&everywhere, 99.0)),
        ms(*everywhere.last().expect("one change at least"))
    );
    println!(
        "  each node   p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  ({} arrivals)",
        ms(percentile(&per_node, 50.0)),
        ms(percentile(&per_node, 99.0)),
        ms(*per_node.last().expect("one arrival at least")),
        per_node.len()
    );
}

fn down(dir: &Path) -> Result<()> {
    let state = read_state(dir)?;
    if let Ok(text) = std::fs::read_to_string(dir.join(exchange::AGENTS))
        && let Ok(agents) = serde_json::from_str::<exchange::Agents>(&text)
    {
        for pid in [agents.prover.pid, agents.verifier.pid] {
            if pid != 0 && alive(pid) {
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
        }
        let _ = std::fs::remove_file(dir.join(exchange::AGENTS));
    }
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
