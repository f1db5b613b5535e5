//! The node's metrics, served at `/metrics` in the OpenMetrics text format that Prometheus scrapes.

use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

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
        })
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String never fails");
        text
    }
}
