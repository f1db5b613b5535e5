//! Nodes started in temporary folders on ephemeral loopback ports, in this process or as
//! `vouch-node` processes, consortia of them, and an HTTP client.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use vouch_api::node::routes::IDENTIFIERS;

use chrono::Utc;
use serde_json::Value;
use vouch_node::{Config, Node, setup};

/// A running node, stopped when dropped.
pub(crate) struct TestNode {
    pub(crate) config: Config,
    pub(crate) node: Option<Node>,
    pub(crate) runtime: tokio::runtime::Runtime,
}

impl TestNode {
    /// Initializes a node in `dir` and starts it.
    pub(crate) fn init(dir: &Path) -> Self {
        let mut config = Config {
            data_dir: dir.join("data"),
            ..Config::default()
        };
        config.http.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        setup::init(&config, Utc::now()).expect("initializes");
        Self::start(config)
    }

    /// Starts a node on an initialized data folder.
    pub(crate) fn start(config: Config) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let node = runtime.block_on(Node::start(&config)).expect("starts");
        Self {
            config,
            node: Some(node),
            runtime,
        }
    }

    pub(crate) fn node(&self) -> &Node {
        self.node.as_ref().expect("running")
    }

    /// Stops the node and starts it again on the same folder.
    pub(crate) fn restart(mut self) -> Self {
        let config = self.config.clone();
        self.stop();
        Self::start(config)
    }

    fn stop(&mut self) {
        if let Some(node) = self.node.take() {
            self.runtime.block_on(node.shutdown());
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.node().http_addr)
    }

    /// The node's base URL, as a wallet reaches it.
    pub(crate) fn node_url(&self) -> vouch_wallet::sources::NodeUrl {
        vouch_wallet::sources::Reach::new()
            .node(&self.url(""))
            .expect("a loopback URL")
    }

    /// The hash of the node's consortium genesis, what its wallets are configured with; `None`
    /// for a node alone.
    pub(crate) fn genesis(&self) -> Option<String> {
        let path = self.config.in_data_dir(&self.config.p2p.consortium);
        path.exists().then(|| {
            vouch_node::consortium::read_genesis(&path)
                .expect("a genesis")
                .hash()
        })
    }

    /// The node's public endpoints, through the typed client.
    pub(crate) fn client(&self) -> vouch_api::node::NodeClient {
        vouch_api::node::NodeClient::new(self.node_url())
    }

    /// The node's operator endpoints, with its admin token.
    pub(crate) fn admin(&self) -> vouch_api::node::AdminClient {
        vouch_api::node::AdminClient::new(self.node_url(), Some(self.admin_token()))
    }

    pub(crate) fn admin_token(&self) -> String {
        std::fs::read_to_string(self.config.in_data_dir(&self.config.http.admin_token_file))
            .expect("the token file")
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An HTTP answer: status, content type, body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) body: String,
    pub(crate) headers: ureq::http::HeaderMap,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn answer(response: ureq::http::Response<ureq::Body>) -> Answer {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .read_to_string()
        .expect("a readable body");
    Answer {
        status,
        content_type,
        body,
        headers,
    }
}

/// Any request: a method, headers, and a body.
pub(crate) fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(body.to_owned()).expect("a valid request");
    agent().run(request).map(answer).expect("the node answers")
}

/// `GET url`, with an `Accept` header when given.
pub(crate) fn get(url: &str, accept: Option<&str>) -> Answer {
    try_get(url, accept).expect("the node answers")
}

/// `GET url`, or `None` when the node does not answer.
pub(crate) fn try_get(url: &str, accept: Option<&str>) -> Option<Answer> {
    let mut request = agent().get(url);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    request.call().ok().map(answer)
}

/// `POST url` with a body, and a bearer token when given.
pub(crate) fn post(url: &str, body: &str, token: Option<&str>) -> Answer {
    try_post(url, body, token).expect("the node answers")
}

/// `POST url`, or `None` when the node does not answer.
pub(crate) fn try_post(url: &str, body: &str, token: Option<&str>) -> Option<Answer> {
    let mut request = agent().post(url).header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", &format!("Bearer {token}"));
    }
    request.send(body).ok().map(answer)
}

/// A credential of `node`'s org for the agent instance of `key` (bound to a new agent
/// definition), for `task`, with `capabilities`: the org's admin API, as an operator uses it.
pub(crate) fn agent_credential(
    node: &TestNode,
    key: &vouch_core::key::KeyPair,
    task: &str,
    capabilities: Value,
) -> Value {
    let admin = node.admin();
    let registered = admin
        .register_definition(&definition_request("support"))
        .expect("registered");
    let definition = registered.definition.did;
    let proof = vouch_wallet::node::OrgNode::new(node.node_url())
        .binding_proof(key, &definition, Utc::now())
        .expect("a proof");
    admin.bind(&definition, &proof).expect("bound");
    issue_to(node, key, task, capabilities)
}

/// A revocation of `level` for `subject` (`preemptive`: of a task or instance nothing names
/// yet).
pub(crate) fn revocation_request(
    level: vouch_core::revocation::Level,
    subject: &str,
    preemptive: bool,
) -> vouch_api::node::admin::RevocationRequest {
    vouch_api::node::admin::RevocationRequest {
        level,
        subject: subject.to_owned(),
        reason: None,
        preemptive,
    }
}

/// Sets bit `index` of the org's list `name` (a revocation list, made if it is not there):
/// the list's URL.
pub(crate) fn set_bit(node: &TestNode, name: &str, index: usize) -> String {
    let changed = node
        .admin()
        .change_status(
            name,
            &vouch_api::node::admin::StatusChange {
                purpose: "revocation".into(),
                set: vec![index],
                clear: vec![],
            },
        )
        .expect("changed");
    changed.id.as_str().expect("the list's URL").to_owned()
}

/// Rotates the org's key through its admin API: an update of its DID.
pub(crate) fn rotate(node: &TestNode) {
    node.admin().rotate().expect("rotated");
}

/// A definition of an agent named `name`, as an operator registers one.
pub(crate) fn definition_request(name: &str) -> vouch_api::node::admin::DefinitionRequest {
    vouch_api::node::admin::DefinitionRequest {
        name: name.into(),
        version: "1".into(),
        owner: "owner@org.example".into(),
        model: "model-x".into(),
        system_prompt_hash: vouch_core::hash::Multihash::of(b"prompt").as_str().into(),
        tools: serde_json::json!([]),
        configuration: serde_json::json!({}),
    }
}

/// A credential to issue to the instance of `key` for `task`, with `capabilities` (a list).
pub(crate) fn issue_request(
    key: &vouch_core::key::KeyPair,
    task: &str,
    capabilities: Value,
) -> vouch_api::node::admin::IssueRequest {
    vouch_api::node::admin::IssueRequest {
        instance: vouch_core::did::key::did_of(&key.public()),
        task: vouch_api::node::admin::TaskRequest {
            id: task.into(),
            purpose: "triage".into(),
        },
        principal: "alice@customer.example".into(),
        capabilities: serde_json::from_value(capabilities).expect("a list of capabilities"),
        audience: vec![],
        resources: vec![],
        ttl_secs: None,
        max_renewals: None,
        lineage_secs: None,
        max_depth: None,
    }
}

/// Another credential for an instance bound already (by [`agent_credential`]).
pub(crate) fn issue_to(
    node: &TestNode,
    key: &vouch_core::key::KeyPair,
    task: &str,
    capabilities: Value,
) -> Value {
    node.admin()
        .issue(&issue_request(key, task, capabilities))
        .expect("issued")
        .credential
}

/// A loopback port free now, for a node to listen on. Taken below Linux's ephemeral range
/// (32768–60999), from a counter of this process: a port handed out by the kernel for `:0` (an
/// outgoing connection, another test's listener) can never be it, and no two tests of this
/// process get the same one. Each is checked free for TCP and UDP (QUIC) before it is given.
pub(crate) fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // A different stretch per process, so that two test binaries running at once stay apart.
    let base = 10_000 + (std::process::id() % 200) as u16 * 100;
    loop {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % 20_000;
        let port = 10_000 + (base - 10_000 + offset) % 22_000;
        let free = std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
            && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok();
        if free {
            return port;
        }
    }
}

/// Configurations of `n` initialized nodes, in a consortium, with fast sync.
pub(crate) fn consortium_of(dir: &Path, n: usize) -> Vec<Config> {
    consortium_with(dir, n, None)
}

/// Configurations of `n` initialized nodes, in a consortium whose amendments need `threshold`
/// signatures (all when `None`), with fast sync.
pub(crate) fn consortium_with(dir: &Path, n: usize, threshold: Option<usize>) -> Vec<Config> {
    let configs: Vec<Config> = (0..n).map(|i| node_config(dir, i)).collect();
    setup::form_local("test", &configs, threshold).expect("forms");
    configs
}

/// The configuration of an initialized node `i` of a test network (not yet in any consortium).
pub(crate) fn node_config(dir: &Path, i: usize) -> Config {
    let mut config = Config {
        data_dir: dir.join(format!("node-{i}")),
        ..Config::default()
    };
    config.http.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.p2p.listen = vec![format!("/ip4/127.0.0.1/tcp/{}", free_port())];
    config.p2p.sync_interval_secs = 1;
    setup::init(&config, Utc::now()).expect("initializes");
    config
}

/// A libp2p swarm over TCP with a member's node key and `behaviour`: a member that does what
/// the test tells it to. Call inside a Tokio runtime.
pub(crate) fn member_swarm<B: libp2p::swarm::NetworkBehaviour>(
    key: &vouch_core::key::KeyPair,
    behaviour: impl FnOnce(&libp2p::identity::Keypair) -> B,
) -> libp2p::Swarm<B> {
    libp2p::SwarmBuilder::with_existing_identity(vouch_node::net::identity_of(key))
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default(),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .expect("tcp")
        .with_behaviour(|key| behaviour(key))
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}

/// The version of `did` that `node` resolves, if it does.
pub(crate) fn version_at(node: &TestNode, did: &str) -> Option<String> {
    let answer = get(&node.url(&format!("{IDENTIFIERS}{did}")), None);
    (answer.status == 200).then(|| {
        answer.json()["didDocumentMetadata"]["versionId"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    })
}

/// Waits until `node` is connected to `want` members; fails after 30 s.
pub(crate) fn wait_connected(node: &TestNode, want: usize) {
    let metrics = node.node().registry.metrics();
    eventually(node, &format!("{want} member connections"), || {
        metrics.peers.get() == want as i64
    });
}

/// Waits until `check` holds, checking again each time `node`'s state changes; fails after 30 s.
pub(crate) fn eventually(node: &TestNode, what: &str, mut check: impl FnMut() -> bool) {
    let mut changes = node.node().registry.metrics().changes();
    node.runtime
        .block_on(async {
            // The timer is made inside the runtime, which it needs.
            tokio::time::timeout(Duration::from_secs(30), async {
                while !check() {
                    changes.changed().await.expect("the node is running");
                }
            })
            .await
        })
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

/// `vouch-node --config <config> <command>`, logging warnings only.
pub(crate) fn node(config: &Path, command: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouch-node"));
    cmd.args(["--config", config.to_str().expect("utf-8"), command]);
    cmd.env("RUST_LOG", "warn");
    cmd
}

/// A `vouch-node run` process, killed (SIGKILL) and reaped when dropped, so that a failing test
/// leaves no node behind.
pub(crate) struct Running(Child);

impl Running {
    /// Spawns `command`, to be killed when dropped.
    pub(crate) fn spawned(mut command: Command) -> Self {
        Self(command.spawn().expect("starts"))
    }

    /// Its standard error, once, when it was spawned with a pipe there.
    pub(crate) fn stderr(&mut self) -> std::process::ChildStderr {
        self.0.stderr.take().expect("spawned with stderr piped")
    }

    /// `kill -9`, and wait until the process is gone.
    pub(crate) fn kill_9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill_9();
    }
}

/// Starts `vouch-node run` and waits for its "node started" log line, which it writes once its
/// HTTP server listens.
pub(crate) fn run(config: &Path) -> Running {
    let mut command = node(config, "run");
    command.env("RUST_LOG", "info").stderr(Stdio::piped());
    let mut running = Running(command.spawn().expect("starts"));
    let stderr = running.0.stderr.take().expect("piped");
    let (started, wait) = mpsc::channel();
    // Reads the log to its end, so that the node never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("node started") {
                let _ = started.send(());
            }
        }
    });
    wait.recv_timeout(Duration::from_secs(30))
        .expect("the node starts");
    running
}

/// Writes a node configuration with a data folder `data` beside it and free loopback ports;
/// returns its path and the HTTP port.
pub(crate) fn write_config(dir: &Path) -> (PathBuf, u16) {
    let (http, p2p) = (free_port(), free_port());
    let config = dir.join("node.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"data\"\n[http]\nlisten = \"127.0.0.1:{http}\"\n[p2p]\nlisten = [\"/ip4/127.0.0.1/tcp/{p2p}\"]\n"
        ),
    )
    .expect("written");
    (config, http)
}

/// Opens an exchange with the node as the verifier for `capabilities`, every capability
/// credential asked: its id and the node's request.
pub(crate) fn open(
    client: &vouch_api::node::NodeClient,
    capabilities: Vec<Value>,
) -> Result<(String, Value), vouch_api::node::NodeError> {
    let opened = client.open_exchange(&vouch_api::node::public::OpenExchange {
        capabilities,
        query: None,
    })?;
    Ok((opened.exchange_id, opened.request))
}
