//! A node started in a temporary folder on an ephemeral loopback port, and an HTTP client for it.

use std::net::SocketAddr;
use std::path::Path;

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
    let body = response
        .into_body()
        .read_to_string()
        .expect("a readable body");
    Answer {
        status,
        content_type,
        body,
    }
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

/// A loopback port free now, for a node to listen on.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
