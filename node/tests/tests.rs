//! vouch-node's integration tests: real nodes in temporary folders, real RocksDB, real HTTP on
//! loopback.

mod common;
mod crash;
mod network;
mod resolver;
mod status;
