//! # vouch-wallet
//!
//! The agent side of Vouch: the wallet daemon that holds an agent instance's key and credentials
//! and answers its agent on a Unix socket, the capability exchange with other agents' daemons,
//! the MCP server, and the `vouch` command line (`src/bin/vouch`) that drives them.
//!
//! Key files (`vouch-keyfile`) and serving HTTP to strangers (`vouch-serve`) are crates of their
//! own, below the wallet and the node alike. The modules form layers, each using only those
//! below it (a test holds it):
//!
//! 1. [`store`] the wallet's RocksDB (held credentials, its audit log); [`records`] what the
//!    audit log says of what the instance does; [`audit`] checking an audit log from outside;
//!    [`didlog`] did:vouch log files; [`sources`] what a verification on the command line
//!    knows; [`p2p`] the exchange over libp2p
//! 2. [`keystore`] instance keys sealed at rest; [`node`] the agent's side of its org's node;
//!    [`knowledge`] what the daemon verifies exchanges with
//! 3. [`daemon`] the wallet daemon
//! 4. [`mcp`] the MCP server over the daemon's socket

pub mod audit;
pub mod daemon;
pub mod didlog;
pub mod keystore;
pub mod knowledge;
pub mod mcp;
pub mod node;
pub mod p2p;
pub mod records;
pub mod sources;
pub mod store;

/// The layers of the crate's modules, lowest first: a module may use those of lower layers only.
#[cfg(test)]
const LAYERS: &[&[&str]] = &[
    &["store", "sources", "audit", "didlog", "records", "p2p"],
    &["keystore", "node", "knowledge"],
    &["daemon"],
    &["mcp"],
];

#[cfg(test)]
mod tests {
    #[test]
    fn no_module_uses_one_above_it() {
        vouch_layering::assert_layered(env!("CARGO_MANIFEST_DIR"), super::LAYERS, 20);
    }

    #[test]
    fn rocksdb_and_libp2p_are_each_named_by_one_module() {
        let here = env!("CARGO_MANIFEST_DIR");
        vouch_layering::assert_named_only_by(here, "rocksdb", &["store"]);
        vouch_layering::assert_named_only_by(here, "libp2p", &["p2p"]);
    }
}
