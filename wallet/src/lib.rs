//! # vouch-wallet
//!
//! The agent side of Vouch: key files, did:vouch log files, credential signing and delegation, presentations, and the
//! `vouch` command line that drives them.
pub mod audit;
pub mod daemon;
pub mod didlog;
pub mod keyfile;
pub mod keystore;
pub mod knowledge;
pub mod mcp;
pub mod node;
pub mod p2p;
pub mod records;
pub mod server;
pub mod sources;
pub mod store;
