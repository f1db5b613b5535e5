//! Hostile clients (DESIGN §7, open surfaces): an anonymous caller with nothing but HTTP and
//! self-made keys tries to take the node's memory, service and disk, and every attempt is
//! refused or bounded. Strangers come from other loopback addresses (127.0.0.2, …) than the
//! honest client (127.0.0.1), as they would from other hosts.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{TestNode, get, post};

/// A connection from `from` (a loopback address of the test's choosing) to `to`.
fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("a socket");
    socket
        .bind(&SocketAddr::from((from, 0)).into())
        .expect("bound to the stranger's address");
    socket.connect(&to.into()).expect("connects");
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("a read timeout");
    stream
}

/// An HTTP/1.1 answer read off a raw connection.
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request on `stream` (kept alive) and reads its answer; `None` when the node closed
/// the connection instead.
fn request(stream: &mut TcpStream, method: &str, path: &str, body: &str) -> Option<Raw> {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: node\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    read_answer(stream)
}

fn read_answer(stream: &mut TcpStream) -> Option<Raw> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let status = line.split(' ').nth(1)?.parse().ok()?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some(Raw {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Whether the node closed `stream` (a read ends, with nothing or an error) rather than keep it.
fn closed_by_node(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// A node configured by `http`. What the tests wait for is an event (the node closing a
/// connection, an answer), never a time.
fn node_with(
    dir: &std::path::Path,
    http: impl FnOnce(&mut vouch_node::config::HttpConfig),
) -> TestNode {
    let mut config = vouch_node::Config {
        data_dir: dir.join("data"),
        ..vouch_node::Config::default()
    };
    config.http.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    http(&mut config.http);
    vouch_node::setup::init(&config, chrono::Utc::now()).expect("initializes");
    TestNode::start(config)
}

#[test]
fn half_headers_cost_their_sender_the_connection_and_one_client_cannot_hold_them_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = node_with(dir.path(), |http| {
        http.idle_timeout_secs = 5;
        http.max_connections_per_client = 8;
    });
    let addr = node.node().http_addr;
    // A stranger opens its share of connections, each holding half a request head.
    let mut held: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut stream = connect_from([127, 0, 0, 2], addr);
            stream
                .write_all(b"GET /health HTTP/1.1\r\nhost: no")
                .expect("half a head");
            stream
        })
        .collect();
    // One more from the same client is refused at once: 429, with when to come back.
    let mut extra = connect_from([127, 0, 0, 2], addr);
    let refused = read_answer(&mut extra).expect("an answer before any request");
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(
        refused.body.contains("too_many_requests"),
        "{}",
        refused.body
    );
    // Another client is served meanwhile.
    let health = get(&node.url("/health"), None);
    assert_eq!(health.status, 200);
    let mut other = connect_from([127, 0, 0, 3], addr);
    assert_eq!(
        request(&mut other, "GET", "/health", "")
            .expect("served")
            .status,
        200
    );
    // The half heads are never finished: the node closes each connection.
    for stream in &mut held {
        assert!(closed_by_node(stream), "a half head was kept open");
    }
    // Its share is free again once they are closed.
    let mut again = connect_from([127, 0, 0, 2], addr);
    assert_eq!(
        request(&mut again, "GET", "/health", "")
            .expect("served")
            .status,
        200
    );
}

#[test]
fn a_client_past_its_share_of_work_gets_429_and_others_keep_theirs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = node_with(dir.path(), |http| {
        http.client_requests_per_sec = 1;
        http.client_burst = 5;
    });
    let addr = node.node().http_addr;
    let mut stranger = connect_from([127, 0, 0, 2], addr);
    let answers: Vec<Raw> = (0..50)
        .map(|_| request(&mut stranger, "POST", "/1.0/challenges", "").expect("an answer"))
        .collect();
    let given = answers.iter().filter(|a| a.status == 201).count();
    let refused: Vec<&Raw> = answers.iter().filter(|a| a.status == 429).collect();
    // The burst, and what the rate gave back while the requests were made.
    assert!(
        given >= 5 && !refused.is_empty(),
        "{given} challenges given"
    );
    assert_eq!(given + refused.len(), 50);
    let retry: u64 = refused[0]
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!(retry >= 1);
    assert_eq!(
        serde_json::from_str::<Value>(&refused[0].body).expect("a problem")["code"],
        "too_many_requests"
    );
    // The org's own agent, elsewhere, still gets its challenge.
    let own = post(&node.url("/1.0/challenges"), "", None);
    assert_eq!(own.status, 201, "{}", own.body);
    // Reading is not rationed: the resolver answers the stranger still.
    assert_eq!(
        request(&mut stranger, "GET", "/health", "")
            .expect("served")
            .status,
        200
    );
}

#[test]
fn an_exchange_is_opened_for_small_capabilities_only_and_one_client_cannot_fill_the_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = node_with(dir.path(), |http| http.client_burst = 1000);
    let addr = node.node().http_addr;
    let capability = |arguments: Value| {
        json!({"action": "call:billing:refund", "resource": "https://billing.example/refunds/1",
               "arguments": arguments})
    };
    // 230 KiB of arguments: refused on its announced length, before anything is read, parsed
    // or kept (the node closes that connection: the body is never read).
    let mut huge = connect_from([127, 0, 0, 2], addr);
    huge.write_all(
        format!(
            "POST /1.0/exchanges HTTP/1.1\r\nhost: node\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            230 * 1024
        )
        .as_bytes(),
    )
    .expect("a head");
    let answer = read_answer(&mut huge).expect("an answer");
    assert_eq!(answer.status, 413, "{}", answer.body);
    let mut stranger = connect_from([127, 0, 0, 2], addr);
    // Opened until its share of the table is used up (512 KiB of requests): then 429.
    let body = json!({"capabilities": (0..16)
        .map(|i| capability(json!({"note": format!("{i}{}", "y".repeat(3000))})))
        .collect::<Vec<_>>()})
    .to_string();
    let mut opened = 0;
    let last = loop {
        let answer = request(&mut stranger, "POST", "/1.0/exchanges", &body).expect("an answer");
        if answer.status != 201 {
            break answer;
        }
        opened += 1;
        assert!(opened < 1000, "the stranger's share never ran out");
    };
    assert_eq!(last.status, 429, "{}", last.body);
    assert!(last.header("retry-after").is_some());
    assert!(
        opened * body.len() <= 512 * 1024 && opened > 0,
        "{opened} opened"
    );
    // Another client opens its exchange.
    let own = post(&node.url("/1.0/exchanges"), &body, None);
    assert_eq!(own.status, 201, "{}", own.body);
}

/// The node's audit entries, from its public log.
fn audit_entries(node: &TestNode) -> Vec<Value> {
    let answer = get(&node.url("/1.0/audit/entries"), None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()["entries"]
        .as_array()
        .expect("entries")
        .clone()
}

#[test]
fn refused_verifications_write_one_bounded_entry_of_hashes_and_count_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = node_with(dir.path(), |http| http.client_burst = 1000);
    let before = audit_entries(&node).len();
    let planted = "planted-id-";
    let credentials: Vec<Value> = (0..64)
        .map(|i| json!({"id": format!("{planted}{i}-{}", "r".repeat(2048))}))
        .collect();
    let body = json!({
        "verifiablePresentation": {"holder": format!("did:example:{}", "h".repeat(4000)),
                                   "verifiableCredential": credentials},
        "options": {"challenge": "c", "domain": "d"},
    })
    .to_string();
    for _ in 0..50 {
        let answer = post(&node.url("/1.0/presentations/verify"), &body, None);
        assert_eq!(answer.status, 400, "{}", answer.body);
    }
    let entries = audit_entries(&node);
    let new = &entries[before..];
    assert_eq!(
        new.len(),
        1,
        "the first refusal alone is written now: {new:?}"
    );
    let text = serde_json::to_string(new).expect("JSON");
    assert!(
        !text.contains(planted),
        "a caller's text in the log: {text}"
    );
    assert!(text.len() < 1024, "{} bytes", text.len());
    assert_eq!(new[0]["credentials"].as_array().map(Vec::len), Some(1));
}
