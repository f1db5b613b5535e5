//! # vouch-node
//!
//! The consortium node (DESIGN §2). A member organization runs one: it holds its org's did:vouch
//! and every other member's, verified operation by operation, in RocksDB, and serves them to anyone
//! over HTTP.
//!
//! The modules form layers, each using only those below it (a test holds it):
//!
//! 1. [`config`], [`store`] (the only module that names RocksDB), [`metrics`], [`fault`]
//! 2. [`datadir`]: file names, the node's identity, key files; [`audit`]: the node's audit log
//! 3. [`consortium`]: the signed membership genesis
//! 4. [`registry`]: did:vouch operations verified and stored, and resolution; [`witness`]: the
//!    members' audit logs witnessed, and this node's own checkpoints
//! 5. [`org`]: the org's DID and the keys the node holds for it
//! 6. [`status_lists`]: status list credentials, the org's own and the members'
//! 7. [`issuer`]: agents, credentials issued and registered, renewal, revocation at four levels
//!    and the members' revocation events
//! 8. [`exchanges`]: the node as the verifier of capability exchanges over HTTP, with a
//!    credential its issuer gives it
//! 9. [`net`] (the only module that names libp2p)
//! 10. [`api`] (the only module that knows HTTP)
//! 11. [`setup`]: `init` and `form-consortium`
//! 12. [`node`]: a running node

pub mod api;
pub mod audit;
pub mod config;
pub mod consortium;
pub mod datadir;
pub mod exchanges;
pub mod fault;
pub mod issuer;
pub mod metrics;
pub mod net;
pub mod node;
pub mod org;
pub mod registry;
pub mod setup;
pub mod status_lists;
pub mod store;
pub mod witness;

pub use config::Config;
pub use node::Node;

/// The layers of the crate's modules, lowest first: a module may use those of lower layers only.
#[cfg(test)]
const LAYERS: &[&[&str]] = &[
    &["config", "store", "metrics", "fault"],
    &["datadir", "audit"],
    &["consortium"],
    &["registry", "witness"],
    &["org"],
    &["status_lists"],
    &["issuer"],
    &["exchanges"],
    &["net"],
    &["api"],
    &["setup"],
    &["node"],
];

#[cfg(test)]
mod tests {
    #[test]
    fn no_module_uses_one_above_it() {
        vouch_layering::assert_layered(env!("CARGO_MANIFEST_DIR"), super::LAYERS, 100);
    }

    #[test]
    fn rocksdb_libp2p_and_warp_are_each_named_by_one_module() {
        let here = env!("CARGO_MANIFEST_DIR");
        vouch_layering::assert_named_only_by(here, "rocksdb", &["store"]);
        vouch_layering::assert_named_only_by(here, "libp2p", &["net"]);
        vouch_layering::assert_named_only_by(here, "warp", &["api"]);
    }
}
