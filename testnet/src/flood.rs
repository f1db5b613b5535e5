//! `flood`: an anonymous flood of one open surface of node 0 (DESIGN §7, §10), from many
//! loopback addresses at once — as many hosts would — with node 0's resident memory before it
//! (idle), during it (the peak), and a while after it ends, and what the flooders were answered.
//! The goal it measures: RSS at most 64 MiB over idle during any flood, and within 16 MiB of
//! idle a minute after.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vouch_api::node::public::{
    ExchangeOpened, OpenExchange, PresentationOptions, VerifyPresentation,
};

use anyhow::{Context, Result};
use serde_json::json;

use crate::State;

/// What is flooded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Target {
    /// Connections that each hold half a request head.
    Connections,
    /// `POST /1.0/challenges`.
    Challenges,
    /// `POST /1.0/exchanges` with the largest capabilities taken.
    Exchanges,
    /// `POST /1.0/exchanges`, each answered at once with a junk presentation.
    Answers,
    /// `POST /1.0/presentations/verify` with 64 credentials of random 2 KiB ids.
    Verify,
    /// `GET /1.0/identifiers/{did}` of a fresh did:key each time.
    Resolve,
}

impl Target {
    const ALL: [Target; 6] = [
        Target::Connections,
        Target::Challenges,
        Target::Exchanges,
        Target::Answers,
        Target::Verify,
        Target::Resolve,
    ];
}

/// Floods `targets` (all when none) of node 0 in turn, each for `seconds` from `clients`
/// addresses, and reports node 0's memory; `settle` seconds are waited after each.
pub(crate) fn flood(
    state: &State,
    targets: &[Target],
    seconds: u64,
    clients: u32,
    settle: u64,
) -> Result<()> {
    let node = state.nodes.first().context("no node")?;
    let addr: SocketAddr = node
        .http
        .trim_start_matches("http://")
        .parse()
        .context("node 0's HTTP address")?;
    let targets = if targets.is_empty() {
        &Target::ALL[..]
    } else {
        targets
    };
    for &target in targets {
        let idle = crate::fill::resident_kib(node.pid).context("node 0's memory")?;
        let peak = Arc::new(AtomicU64::new(idle));
        let stop = Arc::new(AtomicBool::new(false));
        let answers: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
        let sampler = {
            let (peak, stop, pid) = (peak.clone(), stop.clone(), node.pid);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(kib) = crate::fill::resident_kib(pid) {
                        peak.fetch_max(kib, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        let until = Instant::now() + Duration::from_secs(seconds);
        let flooders: Vec<_> = (0..clients)
            .map(|i| {
                let answers = answers.clone();
                // 127.1.x.y: a loopback address of its own per client.
                let from = [127, 1, (i / 250) as u8, (i % 250 + 1) as u8];
                std::thread::spawn(move || {
                    let seen = flood_from(from, addr, target, until);
                    let mut all = answers.lock().unwrap_or_else(|e| e.into_inner());
                    for (answer, n) in seen {
                        *all.entry(answer).or_default() += n;
                    }
                })
            })
            .collect();
        for flooder in flooders {
            let _ = flooder.join();
        }
        let ended = Instant::now();
        let mut after = idle;
        while ended.elapsed() < Duration::from_secs(settle) {
            std::thread::sleep(Duration::from_millis(500));
            after = crate::fill::resident_kib(node.pid).unwrap_or(after);
        }
        stop.store(true, Ordering::Relaxed);
        let _ = sampler.join();
        let peak = peak.load(Ordering::Relaxed);
        let mib = |kib: u64| kib as f64 / 1024.0;
        let delta = |kib: u64| (kib as f64 - idle as f64) / 1024.0;
        let answers = answers.lock().unwrap_or_else(|e| e.into_inner());
        let total: u64 = answers.values().sum();
        let listed: Vec<String> = answers.iter().map(|(a, n)| format!("{a} ×{n}")).collect();
        println!(
            "flood {target:?} ({clients} clients, {seconds} s): idle {:.1} MiB, peak {:.1} MiB ({:+.1}), {settle} s after {:.1} MiB ({:+.1}); {total} answers: {}",
            mib(idle),
            mib(peak),
            delta(peak),
            mib(after),
            delta(after),
            listed.join(", ")
        );
    }
    Ok(())
}

/// A connection from `from` to `to`.
fn connect(from: [u8; 4], to: SocketAddr) -> Option<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
    socket.bind(&SocketAddr::from((from, 0)).into()).ok()?;
    socket.connect(&to.into()).ok()?;
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    Some(stream)
}

/// Reads one answer: its status, or `closed`.
fn status_of(stream: &mut TcpStream) -> Option<(u16, String)> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let status: u16 = line.split(' ').nth(1)?.parse().ok()?;
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}

fn post(stream: &mut TcpStream, path: &str, body: &str) -> Option<(u16, String)> {
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: node\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    status_of(stream)
}

fn get(stream: &mut TcpStream, path: &str) -> Option<(u16, String)> {
    let head = format!("GET {path} HTTP/1.1\r\nhost: node\r\n\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    status_of(stream)
}

fn random_text(bytes: usize) -> String {
    use rand::Rng as _;
    rand::thread_rng()
        .sample_iter(rand::distributions::Alphanumeric)
        .take(bytes)
        .map(char::from)
        .collect()
}

/// The largest exchange a stranger can open: capabilities filling the body's bound.
fn exchange_body() -> String {
    let capabilities: Vec<_> = (0..16)
        .map(|_| {
            json!({"action": "call:billing:refund", "resource": "https://billing.example/refunds/1",
                   "arguments": {"note": random_text(3800)}})
        })
        .collect();
    serde_json::to_string(&OpenExchange {
        capabilities,
        query: None,
    })
    .expect("an exchange serializes")
}

/// A presentation of 64 credentials whose ids are 2 KiB of random text.
fn junk_presentation() -> serde_json::Value {
    let credentials: Vec<_> = (0..64).map(|_| json!({"id": random_text(2048)})).collect();
    json!({"holder": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
           "verifiableCredential": credentials})
}

/// One client's flood until `until`: how often each answer came.
fn flood_from(
    from: [u8; 4],
    to: SocketAddr,
    target: Target,
    until: Instant,
) -> BTreeMap<String, u64> {
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    let mut count = |answer: Option<(u16, String)>| {
        let key = answer.map_or("closed".to_owned(), |(status, _)| status.to_string());
        *seen.entry(key).or_default() += 1;
    };
    if target == Target::Connections {
        // Half heads, as many as the node keeps; one opened again whenever one is closed.
        let mut held: Vec<TcpStream> = Vec::new();
        while Instant::now() < until {
            held.retain_mut(|s| {
                s.set_nonblocking(true).ok();
                let mut byte = [0u8; 1];
                let open = matches!(s.read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
                if !open {
                    count(None);
                }
                open
            });
            while held.len() < 256 {
                match connect(from, to) {
                    Some(mut s) => {
                        if s.write_all(b"GET /health HTTP/1.1\r\nhost: no").is_err() {
                            break;
                        }
                        held.push(s);
                    }
                    None => break,
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        *seen.entry("held".to_owned()).or_default() += held.len() as u64;
        return seen;
    }
    let exchange = exchange_body();
    let mut stream = None;
    while Instant::now() < until {
        if stream.is_none() {
            stream = connect(from, to);
        }
        let Some(s) = stream.as_mut() else {
            count(None);
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let answer = match target {
            Target::Challenges => post(s, "/1.0/challenges", ""),
            Target::Exchanges => post(s, "/1.0/exchanges", &exchange),
            Target::Answers => match post(s, "/1.0/exchanges", &exchange) {
                Some((201, body)) => {
                    let id = serde_json::from_str::<ExchangeOpened>(&body)
                        .map(|opened| opened.exchange_id)
                        .unwrap_or_default();
                    let response = json!({"verifiablePresentation": junk_presentation()});
                    post(s, &format!("/1.0/exchanges/{id}"), &response.to_string())
                }
                other => other,
            },
            Target::Verify => {
                let body = VerifyPresentation {
                    verifiable_presentation: junk_presentation(),
                    options: PresentationOptions {
                        challenge: "c".into(),
                        domain: "d".into(),
                        checks: None,
                    },
                };
                let body = serde_json::to_string(&body).expect("a request serializes");
                post(s, "/1.0/presentations/verify", &body)
            }
            Target::Resolve => {
                let key = vouch_core::key::KeyPair::generate();
                let did = vouch_core::did::key::did_of(&key.public());
                get(s, &format!("/1.0/identifiers/{did}"))
            }
            Target::Connections => unreachable!("handled above"),
        };
        if answer.is_none() {
            stream = None;
        }
        count(answer);
    }
    seen
}
