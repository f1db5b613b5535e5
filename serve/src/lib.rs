//! # vouch-serve
//!
//! Serving HTTP to strangers (DESIGN §7, open surfaces): the node's API and the wallet daemon's
//! card server take their connections through [`serve`], so that no client can hold more than
//! its share of them, none can hold one without sending requests, and running out of file
//! descriptors slows the accept loop down instead of spinning it.
//!
//! - A connection is admitted only while fewer than [`Limits::connections`] are open, and fewer
//!   than [`Limits::per_client`] from its [`Client`] (an IPv4 address, an IPv6 /64); one beyond
//!   either is answered `429` with `Retry-After` if the socket takes it at once, and closed.
//! - A connection with no request in progress for [`Limits::idle`] is closed: it must send a
//!   whole request head within that time of being accepted or of its last answer, so half a
//!   header held open costs its sender the connection, not the server a slot for ever.
//! - A request (its body read included) that takes longer than [`Limits::request`] ends its
//!   connection.
//! - HTTP/2 connections take at most [`Limits::streams`] requests at once.
//!
//! Each request carries its [`Client`] as an extension, for per-client limits on routes.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::time::Instant;
use vouch_core::lock::MutexExt as _;

/// What one server allows.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The most connections open at once.
    pub connections: usize,
    /// The most connections open at once from one client.
    pub per_client: usize,
    /// How long a connection may stay without a request in progress (before its first request
    /// head is read, or after its last answer).
    pub idle: Duration,
    /// The longest a request may take, its body read and its answer made.
    pub request: Duration,
    /// The most requests in progress at once on one HTTP/2 connection.
    pub streams: u32,
}

impl Limits {
    /// The node's public API: partners verify through it from anywhere.
    pub const NODE: Self = Self {
        connections: 768,
        per_client: 64,
        idle: Duration::from_secs(10),
        request: Duration::from_secs(30),
        streams: 32,
    };

    /// The daemon's card server: one small document, asked rarely.
    pub const CARD: Self = Self {
        connections: 256,
        per_client: 8,
        idle: Duration::from_secs(5),
        request: Duration::from_secs(10),
        streams: 4,
    };
}

/// Who a connection comes from, for per-client limits: an IPv4 address, or the /64 of an IPv6
/// address (one host is commonly given a whole /64). An IPv4 address mapped into IPv6 is the
/// IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Client(IpAddr);

impl Client {
    /// The client `ip` counts as.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Self(IpAddr::V6(prefix.into()))
                }
            },
        }
    }
}

impl Client {
    /// The client as a number, for tables that count what each client holds (a keyed hash:
    /// another process gives other numbers).
    pub fn owner(self) -> u64 {
        use std::hash::BuildHasher as _;
        static KEYS: std::sync::OnceLock<std::collections::hash_map::RandomState> =
            std::sync::OnceLock::new();
        KEYS.get_or_init(std::collections::hash_map::RandomState::new)
            .hash_one(self)
    }
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// The connections open, overall and per client.
#[derive(Debug)]
struct Admission {
    limits: Limits,
    /// Held only to count, never across an `.await`.
    open: Mutex<(usize, HashMap<Client, usize>)>,
}

/// A connection admitted: counted until dropped.
struct Admitted {
    admission: Arc<Admission>,
    client: Client,
}

impl Admission {
    fn admit(self: &Arc<Self>, client: Client) -> Option<Admitted> {
        let mut open = self.open.locked();
        let (total, by_client) = &mut *open;
        let mine = by_client.get(&client).copied().unwrap_or(0);
        if *total >= self.limits.connections || mine >= self.limits.per_client {
            return None;
        }
        *total += 1;
        by_client.insert(client, mine + 1);
        Some(Admitted {
            admission: self.clone(),
            client,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.admission.open.locked();
        let (total, by_client) = &mut *open;
        *total = total.saturating_sub(1);
        if let Some(mine) = by_client.get_mut(&self.client) {
            *mine -= 1;
            if *mine == 0 {
                by_client.remove(&self.client);
            }
        }
    }
}

/// A connection's requests in progress, and when it last had none.
struct Activity {
    in_flight: AtomicUsize,
    /// When the last request ended (or the connection was accepted). Held only to read or set.
    since: Mutex<Instant>,
}

/// A request in progress: counted until dropped, even when its connection is dropped under it.
struct InFlight(Arc<Activity>);

impl Activity {
    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    fn since(&self) -> Instant {
        *self.since.locked()
    }

    /// Completes when the connection has had no request in progress for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let deadline = self.since() + idle;
            tokio::time::sleep_until(deadline).await;
            if self.in_flight.load(Ordering::SeqCst) == 0 && self.since() + idle <= Instant::now() {
                return;
            }
            if self.in_flight.load(Ordering::SeqCst) > 0 {
                // A request is in progress: its own deadline bounds it; look again later.
                tokio::time::sleep(idle).await;
            }
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.since.locked() = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The answer to a connection refused for its client's share: a `429` with `Retry-After`, in the
/// problem shape of the node's API, written only if the socket takes it at once.
fn refused() -> &'static [u8] {
    static REFUSED: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    REFUSED.get_or_init(|| {
        let body = r#"{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"too many connections are open: close one and try again","code":"too_many_requests","message":"too many connections are open: close one and try again"}"#;
        format!(
            "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    })
}

/// Serves `handler` on `listener` within `limits` until `shutdown` completes, then finishes the
/// requests in flight. Each request is given its [`Client`] as an extension.
pub async fn serve<H, F, B>(
    listener: TcpListener,
    limits: Limits,
    handler: H,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let admission = Arc::new(Admission {
        limits,
        open: Mutex::new((0, HashMap::new())),
    });
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut backoff = Duration::ZERO;
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => {
                    backoff = Duration::ZERO;
                    accepted
                }
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some to be closed, longer
                    // each time it happens again, instead of spinning on the error.
                    backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                    tracing::warn!(error = %e, backoff_ms = backoff.as_millis() as u64, "accepting a connection failed");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        let client = Client::of(remote.ip());
        let Some(admitted) = admission.admit(client) else {
            tracing::debug!(%remote, %client, "a connection beyond the client's share was refused");
            let _ = stream.try_write(refused());
            continue;
        };
        let activity = Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            since: Mutex::new(Instant::now()),
        });
        let watch = activity.clone();
        let handler = handler.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(client);
            let in_flight = activity.begin();
            let answer = handler(request);
            async move {
                let answered = tokio::time::timeout(limits.request, answer).await;
                drop(in_flight);
                answered.map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "the request took too long")
                })
            }
        });
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.idle);
            builder
                .http2()
                .timer(TokioTimer::new())
                .max_concurrent_streams(limits.streams);
            let mut connection =
                Box::pin(watcher.watch(builder.serve_connection(TokioIo::new(stream), service)));
            tokio::select! {
                served = &mut connection => {
                    if let Err(e) = served {
                        tracing::debug!(%remote, error = %e, "connection ended with an error");
                    }
                }
                () = watch.idle_for(limits.idle) => {
                    tracing::debug!(%remote, "an idle connection was closed");
                }
            }
            // The client's share is given back before its socket is closed: once it sees the
            // connection end, it may open another.
            drop(admitted);
            drop(connection);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Per-client shares of a rate: a token bucket per client (`per_sec` a second, at most `burst`
/// saved up), in a table of at most `clients` buckets. The client seen least recently is
/// forgotten first (its bucket full again when it returns): a table that a stranger with many
/// addresses fills costs a bounded amount of memory and gives none of them more than `burst`.
#[derive(Debug)]
pub struct Shares {
    per_sec: f64,
    burst: f64,
    /// Buckets by client: tokens left, and when they were counted. Held only to count, never
    /// across an `.await`.
    buckets: Mutex<hashlink::LruCache<Client, (f64, std::time::Instant)>>,
}

impl Shares {
    /// `per_sec` requests a second for each client, `burst` at once, for at most `clients` at a
    /// time.
    pub fn new(per_sec: u32, burst: u32, clients: usize) -> Self {
        Self {
            per_sec: f64::from(per_sec.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(hashlink::LruCache::new(clients.max(1))),
        }
    }

    /// Takes one request from `client`'s share at `now`, or says how long until one is free.
    pub fn take(&self, client: Client, now: std::time::Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.locked();
        let (tokens, at) = buckets.get(&client).copied().unwrap_or((self.burst, now));
        let elapsed = now.saturating_duration_since(at).as_secs_f64();
        let tokens = (tokens + elapsed * self.per_sec).min(self.burst);
        if tokens >= 1.0 {
            buckets.insert(client, (tokens - 1.0, now));
            Ok(())
        } else {
            buckets.insert(client, (tokens, now));
            Err(Duration::from_secs_f64((1.0 - tokens) / self.per_sec))
        }
    }
}

/// A handler that cannot fail, for [`serve`]: a `Result<_, Infallible>` made plain.
pub fn infallible<T>(result: Result<T, Infallible>) -> T {
    match result {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

/// The client a request came from: the address [`serve`] accepted it from.
pub fn client_of<B>(request: &Request<B>) -> Option<Client> {
    request.extensions().get::<Client>().copied()
}

/// The address of a request's client as [`serve`] counts it.
pub fn client_addr(addr: SocketAddr) -> Client {
    Client::of(addr.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_addresses_and_ipv6_prefixes() {
        let v4: IpAddr = "192.0.2.7".parse().expect("ip");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        assert_eq!(Client::of(v4), Client::of(mapped));
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(Client::of(a), Client::of(b));
        assert_ne!(Client::of(a), Client::of(c));
        assert_eq!(Client::of(a).to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn each_client_has_its_own_share_and_it_refills_with_time() {
        let shares = Shares::new(2, 3, 2);
        let t0 = std::time::Instant::now();
        let a = Client::of("127.0.0.2".parse().expect("ip"));
        let b = Client::of("127.0.0.3".parse().expect("ip"));
        for _ in 0..3 {
            shares.take(a, t0).expect("within the burst");
        }
        let wait = shares.take(a, t0).expect_err("beyond the burst");
        assert_eq!(wait, Duration::from_millis(500));
        // Another client is not held back by the first.
        shares.take(b, t0).expect("b's own share");
        // Half a second later one request is free again, and only one.
        let later = t0 + Duration::from_millis(500);
        shares.take(a, later).expect("refilled");
        assert!(shares.take(a, later).is_err());
        // A third client pushes out the least recently seen: the table holds 2.
        let c = Client::of("127.0.0.4".parse().expect("ip"));
        shares.take(c, later).expect("c");
        assert_eq!(shares.buckets.lock().expect("lock").len(), 2);
    }

    #[test]
    fn admission_counts_per_client_and_overall_and_forgets_on_drop() {
        let admission = Arc::new(Admission {
            limits: Limits {
                connections: 3,
                per_client: 2,
                ..Limits::CARD
            },
            open: Mutex::new((0, HashMap::new())),
        });
        let a = Client::of("127.0.0.2".parse().expect("ip"));
        let b = Client::of("127.0.0.3".parse().expect("ip"));
        let first = admission.admit(a).expect("admitted");
        let _second = admission.admit(a).expect("admitted");
        assert!(admission.admit(a).is_none(), "a third from one client");
        let _third = admission.admit(b).expect("another client");
        assert!(admission.admit(b).is_none(), "beyond the total");
        drop(first);
        assert!(admission.admit(a).is_some(), "room again once one closed");
        assert!(admission.open.lock().expect("lock").1.len() <= 2);
    }
}
