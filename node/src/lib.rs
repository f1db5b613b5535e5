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
    use super::LAYERS;
    use std::path::Path;

    fn layer(module: &str) -> usize {
        LAYERS
            .iter()
            .position(|layer| layer.contains(&module))
            .unwrap_or_else(|| panic!("module {module} is in no layer"))
    }

    /// Every `crate::<module>` a file names.
    fn used(text: &str) -> Vec<String> {
        text.match_indices("crate::")
            .map(|(at, _)| {
                text[at + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect()
            })
            .filter(|name: &String| !name.is_empty() && name.chars().all(|c| !c.is_uppercase()))
            .collect()
    }

    fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn no_module_uses_one_above_it() {
        // Where cargo runs the test from, not where it was built (a reused build may differ).
        let crate_dir = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
        let src = Path::new(&crate_dir).join("src");
        let mut all = Vec::new();
        files(&src, &mut all);
        let mut checked = 0;
        for path in all {
            let relative = path.strip_prefix(&src).unwrap();
            let module = relative
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_str()
                .unwrap()
                .trim_end_matches(".rs");
            if module == "lib" || module == "main" {
                continue;
            }
            let own = layer(module);
            for other in used(&std::fs::read_to_string(&path).unwrap()) {
                if other == module {
                    continue;
                }
                assert!(
                    layer(&other) < own,
                    "{} uses crate::{other}, which is not below it",
                    relative.display()
                );
                checked += 1;
            }
        }
        assert!(
            checked > 20,
            "only {checked} uses found: is the scan broken?"
        );
    }
}
