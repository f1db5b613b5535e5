//! # vouch-api
//!
//! The messages that cross a process boundary between Vouch's programs — the node's HTTP API and
//! the wallet daemon's socket protocol — as types that serialize both ways, so that a change to
//! one breaks the build of every program that speaks it rather than a user. The server's types
//! and the clients live together (the pattern of lighthouse's `common/eth2`).
//!
//! - [`error`]: one vocabulary of error codes, [`ErrorCode`] — DESIGN §8's reason codes and the
//!   HTTP problem codes — each with its HTTP status and its meaning, and the RFC 9457
//!   [`Problem`] object the node answers with.
//! - [`daemon`]: the wallet daemon's socket protocol ([`daemon::Request`], [`daemon::Refusal`],
//!   [`daemon::Answer`]) and its client, [`daemon::DaemonClient`].
//! - [`node`]: the node's HTTP API ([`node::public`], [`node::admin`]) and its clients,
//!   [`node::NodeClient`] and [`node::AdminClient`].
//! - [`reach`]: how a program reaches a node over HTTP ([`reach::Reach`], [`reach::NodeUrl`]).

pub mod daemon;
pub mod error;
pub mod node;
pub mod reach;

pub use error::{ErrorCode, Problem};

/// The crate's folder, for the tests that compare the checked-in documents: where cargo runs the
/// test from, over where it was built (a reused build may have been made in another clone).
#[cfg(test)]
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())
}
