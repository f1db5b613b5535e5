//! # vouch-node
//!
//! The consortium node (DESIGN §2). A member organization runs one: it holds its org's did:vouch
//! and every other member's, verified operation by operation, in RocksDB, and serves them to anyone
//! over HTTP.
//!
//! Modules and what only they may do:
//! - [`store`]: the only module that names RocksDB.
//! - [`net`]: the only module that names libp2p.
//! - [`api`]: the only module that knows HTTP (warp).
//! - [`registry`]: did:vouch operations verified and stored, and resolution.
//! - [`status_lists`]: status list credentials, the org's own and the members'.
//! - [`org`]: the org's DID and the keys the node holds for it.
//! - [`consortium`]: the signed membership genesis.
//! - [`config`], [`setup`] (the data folder), [`node`] (a running node).

pub mod api;
pub mod config;
pub mod consortium;
pub mod metrics;
pub mod net;
pub mod node;
pub mod org;
pub mod registry;
pub mod setup;
pub mod status_lists;
pub mod store;

pub use config::Config;
pub use node::Node;
