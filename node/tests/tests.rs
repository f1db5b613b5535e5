//! vouch-node's integration tests: real nodes in temporary folders, real RocksDB, real HTTP on
//! loopback.

// The tests' channels carry a few signals each (a node started, a write acknowledged): the bound
// on queues (clippy.toml) is for what strangers can fill.
#![allow(clippy::disallowed_methods)]

mod cli;
mod common;
mod crash;
mod exchange;
mod hostile;
mod http;
mod issuer;
mod logs;
mod membership;
mod network;
mod oauth;
mod partition;
mod passkeys;
mod resolver;
mod status;
mod sync_rogue;
mod verify;
mod web_bot_auth;
mod witness;
