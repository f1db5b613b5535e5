//! Token exchange at a node (issue 29, DESIGN §10): an agent's presentation over the node's
//! challenge, with its DPoP proof, exchanged for an access token — the presentation verified, the
//! proof checked, the chain's markers read under the issuer's lock, the token signed with the
//! org's key and its audit entry written and synced — one at a time (the latency) and from two
//! threads (exchanges per second on the machine's cores). What the client makes (the challenge,
//! the presentation, the proof) is made before the clock runs. A real node, its RocksDB in a
//! temporary folder; the exchange called as its HTTP handler calls it.
//! `cargo bench -p vouch-node --bench token_exchange`; figures in docs/BENCHMARKS.md.
// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use vouch_api::node::AdminClient;
use vouch_api::node::admin::{DefinitionRequest, IssueRequest, TaskRequest};
use vouch_api::node::oauth::TokenRequest;
use vouch_core::did::key::did_of;
use vouch_core::hash::Multihash;
use vouch_core::key::KeyPair;
use vouch_core::oauth;
use vouch_core::proof::Cryptosuite;
use vouch_node::config::Config;
use vouch_node::issuer::Issuer;
use vouch_node::node::Node;

const RESOURCE: &str = "https://api.example/refunds";

/// How many agents exchange in turn: a holder answers at most 1,024 of the node's challenges in
/// five minutes (and uses as many DPoP proofs), more than any agent needs, fewer than a
/// benchmark makes.
const AGENTS: usize = 160;

/// A node with agent instances each holding one credential for `RESOURCE`.
struct World {
    _dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
    node: Node,
    agents: Vec<(KeyPair, Value)>,
    next: std::sync::atomic::AtomicUsize,
}

impl World {
    /// The next agent's request.
    fn ask(&self) -> (TokenRequest, String) {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (agent, credential) = &self.agents[n % self.agents.len()];
        ask(&self.node.issuer, agent, credential)
    }
}

fn world(suite: Cryptosuite) -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    config.issuance.suite = suite;
    config.http.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    vouch_node::setup::init(&config, Utc::now()).expect("initializes");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let node = runtime.block_on(Node::start(&config)).expect("starts");
    let token = std::fs::read_to_string(config.in_data_dir(&config.http.admin_token_file))
        .expect("the admin token");
    let url = vouch_api::reach::Reach::new()
        .node(&format!("http://{}", node.http_addr))
        .expect("a node URL");
    let admin = AdminClient::new(url, Some(token.trim().to_owned()));
    let definition = admin
        .register_definition(&DefinitionRequest {
            name: "bench".into(),
            version: "1".into(),
            owner: "bench@vouch.example".into(),
            model: "bench-model".into(),
            system_prompt_hash: Multihash::of(b"bench prompt").as_str().to_owned(),
            tools: json!([]),
            configuration: json!({}),
        })
        .expect("registered")
        .definition
        .did;
    let agents = (0..AGENTS)
        .map(|i| {
            let agent = KeyPair::generate();
            let challenge = node.issuer.challenge(Utc::now()).expect("a challenge");
            let statement = json!({"type": "VouchInstanceBinding", "instance": did_of(&agent.public()),
                                   "definition": definition});
            let proof = vouch_core::possession::prove(
                &agent,
                &statement,
                &challenge.challenge,
                &challenge.domain,
                Utc::now(),
            )
            .expect("a proof");
            admin.bind(&definition, &proof).expect("bound");
            let credential = admin
                .issue(&IssueRequest {
                    instance: did_of(&agent.public()),
                    task: TaskRequest {
                        id: format!("bench-{i}"),
                        purpose: "measured".into(),
                    },
                    principal: "bench-principal".into(),
                    capabilities: vec![json!({"action": "call:api:refund", "resource": format!("{RESOURCE}/**"),
                                              "constraints": {"maxAmount": {"value": 100, "unit": "EUR"}}})],
                    audience: Vec::new(),
                    resources: Vec::new(),
                    ttl_secs: None,
                    max_renewals: None,
                    lineage_secs: None,
                    max_depth: None,
                })
                .expect("issued")
                .credential;
            (agent, credential)
        })
        .collect();
    World {
        _dir: dir,
        _runtime: runtime,
        node,
        agents,
        next: std::sync::atomic::AtomicUsize::new(0),
    }
}

/// What the agent sends: a presentation over a fresh challenge, and the DPoP proof.
fn ask(issuer: &Issuer, agent: &KeyPair, credential: &Value) -> (TokenRequest, String) {
    let now = Utc::now();
    let challenge = issuer.challenge(now).expect("a challenge");
    let presentation = vouch_core::presentation::create(
        agent,
        vec![credential.clone()],
        &challenge.challenge,
        &challenge.domain,
        Cryptosuite::EddsaJcs2022,
        now,
    )
    .expect("presents");
    let endpoint = url::Url::parse(&issuer.oauth_metadata().token_endpoint).expect("a URL");
    let proof = vouch_core::jwt::dpop_proof(
        agent,
        &vouch_core::jwt::DpopRequest {
            method: "POST",
            target: &endpoint,
            iat: now.timestamp(),
            jti: &vouch_core::exchange::flow::challenge(),
            access_token: None,
            nonce: None,
        },
    );
    let request = TokenRequest {
        grant_type: oauth::TOKEN_EXCHANGE.into(),
        subject_token: presentation.to_string(),
        subject_token_type: oauth::PRESENTATION_TOKEN_TYPE.into(),
        resource: Some(RESOURCE.into()),
        authorization_details: None,
        requested_token_type: None,
    };
    (request, proof)
}

fn exchange(issuer: &Issuer, (request, proof): &(TokenRequest, String)) {
    let issued = issuer
        .exchange_token(request, Some(proof), Utc::now())
        .unwrap_or_else(|e| panic!("exchanged: {e:?}"));
    assert_eq!(issued.token_type, "DPoP");
}

fn benches(c: &mut Criterion) {
    for (name, suite) in [
        ("jcs", Cryptosuite::EddsaJcs2022),
        ("rdfc", Cryptosuite::EddsaRdfc2022),
    ] {
        bench_suite(c, name, suite);
    }
}

/// The org's credentials and status lists signed with `suite`.
fn bench_suite(c: &mut Criterion, name: &str, suite: Cryptosuite) {
    let w = world(suite);
    let issuer = &w.node.issuer;
    let mut group = c.benchmark_group(format!("token_exchange/{name}"));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("one", |b| {
        b.iter_batched(
            || w.ask(),
            |asked| exchange(issuer, &asked),
            BatchSize::SmallInput,
        )
    });
    // Two threads exchanging at once: each iteration is two exchanges.
    group.throughput(Throughput::Elements(2));
    group.bench_function("two_threads", |b| {
        b.iter_custom(|iterations| {
            let made: Vec<Vec<_>> = (0..2)
                .map(|_| (0..iterations).map(|_| w.ask()).collect())
                .collect();
            let started = Instant::now();
            std::thread::scope(|scope| {
                for asked in &made {
                    scope.spawn(move || {
                        for one in asked {
                            exchange(issuer, one);
                        }
                    });
                }
            });
            started.elapsed()
        })
    });
    group.finish();
}

criterion_group!(token_exchange, benches);
criterion_main!(token_exchange);
