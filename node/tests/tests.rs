//! vouch-node's integration tests: real nodes in temporary folders, real RocksDB, real HTTP on
//! loopback.

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
mod partition;
mod passkeys;
mod resolver;
mod status;
mod sync_rogue;
mod verify;
mod witness;
