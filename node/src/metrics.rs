//! The node's metrics, served at `/metrics` in the OpenMetrics text format that Prometheus scrapes.

use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::sync::watch;

/// Every metric the node keeps. The handles are cheap clones of shared atomics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Member nodes connected now.
    pub peers: Gauge,
    /// Gossip messages received.
    pub gossip_received: Counter,
    /// Gossip messages rejected as invalid (their senders were disconnected).
    pub gossip_rejected: Counter,
    /// did:vouch operations stored, from any source.
    pub operations_stored: Counter,
    /// Resolutions answered over HTTP.
    pub resolutions: Counter,
    /// How long resolutions took, in seconds.
    pub resolution_seconds: Histogram,
    /// Connections refused because the peer is not a member.
    pub connections_refused: Counter,
    /// Status list versions stored, from any source.
    pub status_lists_stored: Counter,
    /// Peers disconnected for misbehaving (their score fell below the bar).
    pub peers_disconnected: Counter,
    /// Gossip messages left to anti-entropy because the worker was full.
    pub gossip_deferred: Counter,
    /// Anti-entropy payload bytes sent (reconciliation messages, ids, items).
    pub sync_bytes_sent: Counter,
    /// Anti-entropy payload bytes received.
    pub sync_bytes_received: Counter,
    /// Anti-entropy sessions this node completed.
    pub sync_sessions: Counter,
    /// Items that anti-entropy fetched and stored.
    pub sync_items_stored: Counter,
    /// Checkpoints of other members' audit logs this node cosigned as their witness.
    pub audit_cosigned: Counter,
    /// Forks of members' audit logs this node found: two checkpoints of one log with no
    /// consistency between them, kept as evidence.
    pub audit_forks: Counter,
    /// Ticks whenever the node's state changes (an operation or a status list stored, a gossip
    /// message judged, a member connected or gone, a connection refused), so that waiters (tests, long polls) wait on an
    /// event, not on time.
    changes: watch::Sender<u64>,
}

impl Metrics {
    /// A fresh set of metrics, registered under the `vouch_` prefix.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("vouch");
        let peers = Gauge::default();
        let gossip_received = Counter::default();
        let gossip_rejected = Counter::default();
        let operations_stored = Counter::default();
        let resolutions = Counter::default();
        // 50 µs to about 1.6 s.
        let resolution_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        registry.register("peers", "Member nodes connected", peers.clone());
        registry.register(
            "gossip_received",
            "Gossip messages received",
            gossip_received.clone(),
        );
        registry.register(
            "gossip_rejected",
            "Gossip messages rejected as invalid",
            gossip_rejected.clone(),
        );
        registry.register(
            "operations_stored",
            "did:vouch operations stored",
            operations_stored.clone(),
        );
        registry.register(
            "resolutions",
            "DID resolutions answered",
            resolutions.clone(),
        );
        let connections_refused = Counter::default();
        registry.register(
            "connections_refused",
            "Connections refused: the peer is not a consortium member",
            connections_refused.clone(),
        );
        let status_lists_stored = Counter::default();
        registry.register(
            "status_lists_stored",
            "Status list versions stored",
            status_lists_stored.clone(),
        );
        let peers_disconnected = Counter::default();
        registry.register(
            "peers_disconnected",
            "Peers disconnected for misbehaving",
            peers_disconnected.clone(),
        );
        let gossip_deferred = Counter::default();
        registry.register(
            "gossip_deferred",
            "Gossip messages left to anti-entropy because the worker was full",
            gossip_deferred.clone(),
        );
        let sync_bytes_sent = Counter::default();
        registry.register(
            "sync_bytes_sent",
            "Anti-entropy payload bytes sent",
            sync_bytes_sent.clone(),
        );
        let sync_bytes_received = Counter::default();
        registry.register(
            "sync_bytes_received",
            "Anti-entropy payload bytes received",
            sync_bytes_received.clone(),
        );
        let sync_sessions = Counter::default();
        registry.register(
            "sync_sessions",
            "Anti-entropy sessions completed",
            sync_sessions.clone(),
        );
        let sync_items_stored = Counter::default();
        registry.register(
            "sync_items_stored",
            "Items fetched by anti-entropy and stored",
            sync_items_stored.clone(),
        );
        let audit_cosigned = Counter::default();
        registry.register(
            "audit_checkpoints_cosigned",
            "Checkpoints of members' audit logs cosigned as their witness",
            audit_cosigned.clone(),
        );
        let audit_forks = Counter::default();
        registry.register(
            "audit_forks",
            "Forks of members' audit logs found and kept as evidence",
            audit_forks.clone(),
        );
        registry.register(
            "resolution_seconds",
            "Time to answer a DID resolution",
            resolution_seconds.clone(),
        );
        Arc::new(Self {
            registry,
            peers,
            gossip_received,
            gossip_rejected,
            operations_stored,
            resolutions,
            resolution_seconds,
            connections_refused,
            status_lists_stored,
            peers_disconnected,
            gossip_deferred,
            sync_bytes_sent,
            sync_bytes_received,
            sync_sessions,
            sync_items_stored,
            audit_cosigned,
            audit_forks,
            changes: watch::channel(0).0,
        })
    }

    /// A receiver that sees every later change of the node's state.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Counts an operation stored.
    pub fn record_stored(&self) {
        self.operations_stored.inc();
        self.changes.send_modify(|n| *n += 1);
    }

    /// Counts a status list version stored.
    pub fn record_status_list_stored(&self) {
        self.status_lists_stored.inc();
        self.changes.send_modify(|n| *n += 1);
    }

    /// Counts a gossip message received (before it is judged).
    pub fn record_gossip_received(&self) {
        self.gossip_received.inc();
        self.changes.send_modify(|n| *n += 1);
    }

    /// Sets the number of member nodes connected.
    pub fn set_peers(&self, connected: usize) {
        self.peers.set(connected as i64);
        self.changes.send_modify(|n| *n += 1);
    }

    /// Counts a connection refused.
    pub fn record_refused(&self) {
        self.connections_refused.inc();
        self.changes.send_modify(|n| *n += 1);
    }

    /// Counts a checkpoint cosigned.
    pub fn record_cosigned(&self) {
        self.audit_cosigned.inc();
        self.changes.send_modify(|n| *n += 1);
    }

    /// Counts a fork of a member's audit log found.
    pub fn record_fork(&self) {
        self.audit_forks.inc();
        self.changes.send_modify(|n| *n += 1);
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String never fails");
        text
    }
}
