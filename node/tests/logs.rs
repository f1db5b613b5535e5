//! The node's logs: what happens on a libp2p connection is logged in a span naming the
//! connection and its peer, and each HTTP request in a span naming its method and path.

use std::io::Write;
use std::sync::{Arc, Mutex};

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
fn connections_and_requests_are_logged_in_their_own_spans() {
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
        get(&b.url(&format!("/1.0/identifiers/{did_a}")), None).status == 200
    });
    let health = get(&a.url("/health"), None);
    assert_eq!(health.status, 200);

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
}
