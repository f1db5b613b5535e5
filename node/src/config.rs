//! The node's configuration: one TOML file, every key optional with the default documented here
//! and in `docs/node.example.toml`.
//!
//! Paths that are relative are taken from the data folder, so a node is one self-contained folder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The largest configuration file read.
const MAX_CONFIG_BYTES: u64 = 64 * 1024;

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error reading it.
        source: std::io::Error,
    },
    /// The file is larger than any configuration.
    #[error("{0}: larger than {MAX_CONFIG_BYTES} bytes")]
    TooLarge(String),
    /// The file is not valid TOML for this configuration.
    #[error("{path}: {source}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, with its line.
        source: Box<toml::de::Error>,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The data folder: RocksDB, the node's keys, the org's DID log. Default `vouch-data`, relative
    /// to the configuration file's folder.
    pub data_dir: PathBuf,
    /// The HTTP server.
    pub http: HttpConfig,
    /// The libp2p network.
    pub p2p: P2pConfig,
    /// The org's issuer: credential lifetimes, renewal bounds, status list freshness.
    pub issuance: IssuanceConfig,
    /// The audit log's checkpoints.
    pub audit: AuditConfig,
    /// The database's memory.
    pub store: StoreConfig,
    /// The verification service (`/1.0/credentials/verify`, `/1.0/presentations/verify`).
    pub verification: VerificationConfig,
}

/// The verification service for partners: whom it trusts besides the consortium.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerificationConfig {
    /// Issuers (DIDs) trusted for credentials that attest no action — a partner's employee
    /// credential, a licence — besides the consortium's members. Never for an agent's
    /// capability: that trust is the consortium's alone. Default none.
    pub trusted_issuers: Vec<String>,
    /// JSON-LD contexts known besides the bundled ones: each URL and the file of its document,
    /// relative to the data folder. Read at start and never fetched; trusted as the bundled ones
    /// are — vet each, for a context may define any term. Default none.
    pub contexts: std::collections::BTreeMap<String, PathBuf>,
}

impl VerificationConfig {
    /// Reads each configured context's file (in `data_dir`) and adds it to those the node
    /// knows, for this process.
    pub fn add_contexts(&self, data_dir: &Path) -> Result<usize, String> {
        for (url, file) in &self.contexts {
            let path = data_dir.join(file);
            let size = std::fs::metadata(&path)
                .map_err(|e| format!("verification.contexts: {}: {e}", path.display()))?
                .len();
            if size > vouch_core::proof::rdfc::MAX_CONTEXT_BYTES as u64 {
                return Err(format!(
                    "verification.contexts: {} is larger than a context may be",
                    path.display()
                ));
            }
            let document = std::fs::read_to_string(&path)
                .map_err(|e| format!("verification.contexts: {}: {e}", path.display()))?;
            vouch_core::proof::rdfc::add_context(url, &document)
                .map_err(|e| format!("verification.contexts: {e}"))?;
        }
        Ok(self.contexts.len())
    }

    /// The trusted issuers, each checked to be a DID.
    pub fn issuers(&self) -> Result<Vec<vouch_core::did::Did>, String> {
        self.trusted_issuers
            .iter()
            .map(|did| {
                vouch_core::did::Did::parse(did)
                    .map_err(|e| format!("verification.trusted_issuers: {did:.128}: {e}"))
            })
            .collect()
    }
}

/// The database's memory bounds (RocksDB).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// The block cache, shared by every column family, in MiB. Default 32.
    pub block_cache_mib: u32,
    /// The memtables, all column families together, in MiB. Default 32.
    pub write_buffer_mib: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            block_cache_mib: 32,
            write_buffer_mib: 32,
        }
    }
}

/// The audit log's checkpoints (DESIGN §9): signed by the node key, gossiped to the members
/// that witness them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// How often to sign a checkpoint when the log grew, and gossip the newest one again, in
    /// seconds. Default 10.
    pub checkpoint_interval_secs: u64,
    /// Sign a checkpoint as soon as the log grew by this many entries since the last one.
    /// Default 1000.
    pub checkpoint_every: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            checkpoint_interval_secs: 10,
            checkpoint_every: 1000,
        }
    }
}

/// The org's issuer (DESIGN §4, §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IssuanceConfig {
    /// A credential's lifetime when the request names none, in seconds. Default 900 (15 min).
    pub credential_ttl_secs: u64,
    /// The longest lifetime a request may ask for, in seconds. Default 3600.
    pub max_credential_ttl_secs: u64,
    /// The longest a lineage of renewals may last from its first credential, in seconds: its
    /// absolute end. Default 86400 (a day).
    pub max_lineage_secs: u64,
    /// The most renewals a lineage may have. Default 96.
    pub max_renewals: u32,
    /// How long a signed version of a status list is valid (`validUntil`), in seconds; the node
    /// signs its lists anew at half of it, as a heartbeat. Default 300.
    pub status_list_ttl_secs: u64,
    /// The oldest status list the verification service uses, in seconds since it was signed:
    /// past it, a credential's status is `status_stale`. Default 300.
    pub max_status_age_secs: u64,
    /// The suite the org signs its agents' credentials with: `eddsa-rdfc-2022` (the default,
    /// for verifiers that canonicalize JSON-LD) or `eddsa-jcs-2022` (the fast path, for
    /// verifiers that take it, as every Vouch verifier does).
    #[serde(with = "suite")]
    pub suite: vouch_core::proof::Cryptosuite,
}

/// A cryptosuite as its name.
mod suite {
    use serde::{Deserialize, Deserializer, Serializer};
    use vouch_core::proof::Cryptosuite;

    pub(super) fn serialize<S: Serializer>(
        suite: &Cryptosuite,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(suite.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Cryptosuite, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl Default for IssuanceConfig {
    fn default() -> Self {
        Self {
            credential_ttl_secs: 900,
            max_credential_ttl_secs: 3600,
            max_lineage_secs: 86_400,
            max_renewals: 96,
            status_list_ttl_secs: 300,
            max_status_age_secs: 300,
            suite: vouch_core::proof::Cryptosuite::EddsaRdfc2022,
        }
    }
}

/// The HTTP server: the resolver, status lists, health, metrics and the admin API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Where to listen. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// The file holding the admin API's bearer token, relative to the data folder. Default
    /// `admin.token` (written by `vouch-node init`, mode 0600).
    pub admin_token_file: PathBuf,
    /// Serve the admin API without authentication. For local development only: anyone who can
    /// reach the port can change the org's DID. Default `false`; logged loudly when `true`.
    pub danger_disable_admin_auth: bool,
    /// The file holding the bearer token of the receiver of the org's Security Event Tokens
    /// (RFC 8936 poll, `POST /1.0/oauth/events`), relative to the data folder. Default
    /// `events.token`; without the file, the poll refuses every receiver.
    pub events_token_file: PathBuf,
    /// The URL at which others reach this server, without a trailing `/`: the org's status lists
    /// are published under it. Default `http://<the address listened on>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// The most connections open at once: below the usual limit of 1,024 open files a process
    /// starts with, less what the database and the network take. Default 768.
    pub max_connections: usize,
    /// The most connections open at once from one client (an IPv4 address, an IPv6 /64).
    /// Default 64.
    pub max_connections_per_client: usize,
    /// How long a connection may stay without a request in progress — a request's head must
    /// arrive within it — in seconds. Default 10.
    pub idle_timeout_secs: u64,
    /// The longest a request may take, its body read, in seconds. Default 30.
    pub request_timeout_secs: u64,
    /// Each client's share of the public endpoints that do work for anyone (challenges,
    /// exchanges, the verification service, delegations, renewals): requests per second.
    /// Default 100.
    pub client_requests_per_sec: u32,
    /// How many of those requests a client may make at once before its rate applies. Default
    /// 200.
    pub client_burst: u32,
}

impl HttpConfig {
    /// The connection limits of the server.
    pub fn limits(&self) -> vouch_serve::Limits {
        vouch_serve::Limits {
            connections: self.max_connections.max(1),
            per_client: self.max_connections_per_client.max(1),
            idle: std::time::Duration::from_secs(self.idle_timeout_secs.max(1)),
            request: std::time::Duration::from_secs(self.request_timeout_secs.max(1)),
            ..vouch_serve::Limits::NODE
        }
    }
}

/// The libp2p network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct P2pConfig {
    /// Multiaddresses to listen on. Default TCP and QUIC on port 4001 of every interface.
    pub listen: Vec<String>,
    /// The consortium genesis file, relative to the data folder. Default `consortium.json`.
    pub consortium: PathBuf,
    /// Membership amendments (JSON Lines) for a node that joined after the genesis, relative to
    /// the data folder; verified and stored when the node starts. Default `amendments.jsonl`.
    pub amendments: PathBuf,
    /// How often to reconcile with every connected member (anti-entropy), and redial the
    /// others, in seconds. Default 30.
    pub sync_interval_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("vouch-data"),
            http: HttpConfig::default(),
            p2p: P2pConfig::default(),
            issuance: IssuanceConfig::default(),
            audit: AuditConfig::default(),
            store: StoreConfig::default(),
            verification: VerificationConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_token_file: PathBuf::from("admin.token"),
            danger_disable_admin_auth: false,
            events_token_file: PathBuf::from("events.token"),
            public_url: None,
            max_connections: 768,
            max_connections_per_client: 64,
            idle_timeout_secs: 10,
            request_timeout_secs: 30,
            client_requests_per_sec: 100,
            client_burst: 200,
        }
    }
}

impl Default for P2pConfig {
    fn default() -> Self {
        Self {
            listen: vec![
                "/ip4/0.0.0.0/tcp/4001".into(),
                "/ip4/0.0.0.0/udp/4001/quic-v1".into(),
            ],
            consortium: PathBuf::from("consortium.json"),
            amendments: PathBuf::from("amendments.jsonl"),
            sync_interval_secs: 30,
        }
    }
}

impl Config {
    /// Reads a configuration file; relative paths in it are taken from the file's folder.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let name = || path.display().to_string();
        let io = |source| ConfigError::Io {
            path: name(),
            source,
        };
        let metadata = std::fs::metadata(path).map_err(io)?;
        if metadata.len() > MAX_CONFIG_BYTES {
            return Err(ConfigError::TooLarge(name()));
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        let mut config: Self = toml::from_str(&text).map_err(|source| ConfigError::Invalid {
            path: name(),
            source: Box::new(source),
        })?;
        if let Some(dir) = path.parent() {
            config.data_dir = dir.join(&config.data_dir);
        }
        Ok(config)
    }

    /// A path named in the configuration, resolved against the data folder.
    pub fn in_data_dir(&self, path: &Path) -> PathBuf {
        self.data_dir.join(path)
    }

    /// The configuration as TOML, every key written out.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("the configuration is plain data and always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_gives_the_defaults_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, "").unwrap();
        let config = Config::read(&path).unwrap();
        assert_eq!(config.data_dir, dir.path().join("vouch-data"));
        assert_eq!(config.http, HttpConfig::default());

        std::fs::write(
            &path,
            "[http]\nlisten = \"127.0.0.1:9\"\nadmin_tokn = \"x\"\n",
        )
        .unwrap();
        let error = Config::read(&path).unwrap_err().to_string();
        assert!(error.contains("admin_tokn"), "{error}");
    }

    #[test]
    fn the_documented_example_is_the_defaults() {
        // Cargo runs tests in the package's folder.
        let path = Path::new("../docs/node.example.toml");
        let example = Config::read(path).unwrap();
        let defaults = Config::default();
        assert_eq!(example.http, defaults.http);
        assert_eq!(example.p2p, defaults.p2p);
        assert_eq!(example.issuance, defaults.issuance);
        assert_eq!(example.audit, defaults.audit);
        assert!(example.data_dir.ends_with(&defaults.data_dir));
    }

    #[test]
    fn written_configurations_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        let mut config = Config::default();
        config.http.listen = SocketAddr::from(([127, 0, 0, 1], 18080));
        config.p2p.listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
        std::fs::write(&path, config.to_toml()).unwrap();
        let read = Config::read(&path).unwrap();
        assert_eq!(read.http, config.http);
        assert_eq!(read.p2p, config.p2p);
    }
}
