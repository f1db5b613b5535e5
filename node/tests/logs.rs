//! The node's logs: what happens on a libp2p connection is logged in a span naming the
//! connection and its peer, each HTTP request in a span naming its method and path, and an open
//! admin API is a warning.

use std::io::Write;
use std::sync::{Arc, Mutex};
use vouch_api::node::routes::IDENTIFIERS;

use std::net::SocketAddr;

use chrono::Utc;
use vouch_node::{Config, setup};

use crate::common::{TestNode, consortium_of, eventually, get};

/// Log output kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("not poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().expect("not poisoned");
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[test]
fn connections_and_requests_are_logged_in_their_own_spans_and_an_open_admin_api_is_a_warning() {
    // The only test that sets a subscriber: it sees every test's logs, and looks only for its
    // own nodes' lines.
    let captured = Captured::default();
    let writer = captured.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .expect("no other test sets a subscriber");

    let dir = tempfile::tempdir().expect("tempdir");
    let configs = consortium_of(dir.path(), 2);
    let a = TestNode::start(configs[0].clone());
    let b = TestNode::start(configs[1].clone());
    let (peer_a, peer_b) = (&a.node().identity.peer_id, &b.node().identity.peer_id);
    let did_a = a.node().identity.did.to_string();
    eventually(&b, "b to hold a's DID", || {
        get(&b.url(&format!("{IDENTIFIERS}{did_a}")), None).status == 200
    });
    let health = get(&a.url("/health"), None);
    assert_eq!(health.status, 200);
    // Client faults: a 501 for a method this resolver does not support, a 400, and bytes that
    // are not HTTP at all. None is the node's failure.
    let unsupported = get(&a.url(&format!("{IDENTIFIERS}did:web:logs.example")), None);
    assert_eq!(unsupported.status, 501);
    let invalid = get(
        &a.url(&format!("{IDENTIFIERS}did:vouch:logs-invalid")),
        None,
    );
    assert_eq!(invalid.status, 400);
    {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(a.node().http_addr).expect("connects");
        stream
            .write_all(b"NOT HTTP AT ALL\r\n\r\n")
            .expect("written");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
    }

    // A node whose admin API needs no token, for local development: it says so.
    let mut open = Config {
        data_dir: dir.path().join("open"),
        ..Config::default()
    };
    open.http.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    open.http.danger_disable_admin_auth = true;
    setup::init(&open, Utc::now()).expect("initializes");
    let open = TestNode::start(open);
    // A node run with its admin API open takes a change without a token.
    vouch_api::node::AdminClient::new(open.node_url(), None)
        .change_status(
            "revocations",
            &vouch_api::node::admin::StatusChange {
                purpose: "revocation".into(),
                set: vec![1],
                clear: vec![],
            },
        )
        .expect("changed");

    let lines = captured.lines();
    let connected = |local: &str, remote: &str| {
        lines.iter().any(|line| {
            line.contains(&format!("net{{peer={local}}}"))
                && line.contains("connection{id=")
                && line.contains(&format!("peer={remote}"))
                && line.contains("member connected")
        })
    };
    assert!(connected(peer_a, peer_b), "{lines:#?}");
    assert!(connected(peer_b, peer_a), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|line| line.contains("request{method=GET path=/health")),
        "{lines:#?}"
    );
    let answered = |path: &str, status: u16| {
        lines.iter().any(|line| {
            line.contains(" INFO ")
                && line.contains(&format!("request{{method=GET path={path}}}"))
                && line.contains(&format!("status={status}"))
        })
    };
    assert!(
        answered(&format!("{IDENTIFIERS}did:web:logs.example"), 501),
        "{lines:#?}"
    );
    assert!(
        answered(&format!("{IDENTIFIERS}did:vouch:logs-invalid"), 400),
        "{lines:#?}"
    );
    let errors: Vec<&String> = lines
        .iter()
        .filter(|line| line.contains(" ERROR "))
        .collect();
    assert!(
        errors.is_empty(),
        "client faults logged as errors: {errors:#?}"
    );
    let warned = format!(
        "reach {}; use this for local development only",
        open.node().http_addr
    );
    assert!(
        lines.iter().any(|line| line.contains(" WARN ")
            && line.contains("DANGER")
            && line.contains(&warned)),
        "{lines:#?}"
    );
}
