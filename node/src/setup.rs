//! Setting nodes up: `vouch-node init` makes a new node's data folder (the node key, the org's
//! did:vouch with its first two update keys pre-rotated, the admin token), and
//! `vouch-node form-consortium` signs a membership genesis for nodes on one machine.

use std::os::unix::fs::DirBuilderExt;
use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use vouch_core::did_vouch::{self, DocumentContent};
use vouch_core::key::KeyPair;
use vouch_keyfile as keyfile;

use crate::config::Config;
use crate::consortium::{self, Consortium, ConsortiumError, Member};
use crate::datadir::{self, DataDirError, Identity};
use crate::registry::Registry;
use crate::store::Store;

/// Why setting up a node or a consortium failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The data folder already holds a node.
    #[error("{0} already holds a node (found identity.json)")]
    AlreadyInitialized(String),
    /// The data folder could not be written or read.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// A key could not be written.
    #[error(transparent)]
    Key(#[from] keyfile::KeyFileError),
    /// The DID could not be stored.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The DID could not be made.
    #[error(transparent)]
    Did(#[from] did_vouch::LogError),
    /// The consortium could not be formed.
    #[error(transparent)]
    Consortium(#[from] ConsortiumError),
}

/// Creates a node in the configuration's data folder.
pub fn init(config: &Config, now: DateTime<Utc>) -> Result<Identity, SetupError> {
    let dir = &config.data_dir;
    if dir.join(datadir::IDENTITY).exists() {
        return Err(SetupError::AlreadyInitialized(dir.display().to_string()));
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir.join(datadir::KEYS))
        .map_err(datadir::io(dir))?;

    let node_key = KeyPair::generate();
    keyfile::write(&dir.join(datadir::NODE_KEY), &node_key)?;
    let (first, next) = (KeyPair::generate(), KeyPair::generate());
    keyfile::write(&datadir::update_key_path(dir, 1), &first)?;
    keyfile::write(&datadir::update_key_path(dir, 2), &next)?;

    let (did, genesis) = did_vouch::create(
        DocumentContent::single_key(&node_key.public()),
        &first,
        &[next.public()],
        now,
    )?;
    let store = Arc::new(Store::open(&dir.join(datadir::DB))?);
    Registry::new(store, crate::metrics::Metrics::new()).apply(genesis, now)?;

    datadir::pseudonym_secret(dir)?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    datadir::write_private(
        &config.in_data_dir(&config.http.admin_token_file),
        token.as_bytes(),
    )?;

    // The identity file is written last: its presence means the folder is complete.
    let identity = Identity {
        did,
        peer_id: consortium::peer_id_of(&node_key.public()),
    };
    datadir::write_identity(dir, &identity)?;
    Ok(identity)
}

/// This node's entry in a consortium: its org DID, node key, peer id, the addresses it listens on
/// (`0.0.0.0` advertised as `127.0.0.1`, for a local network), and every action.
pub fn member_entry(config: &Config) -> Result<Member, SetupError> {
    let identity = datadir::identity(&config.data_dir)?;
    let key = datadir::node_key(&config.data_dir)?;
    Ok(Member {
        did: identity.did,
        node_key: key.public(),
        peer_id: identity.peer_id,
        addresses: config
            .p2p
            .listen
            .iter()
            .map(|a| a.replace("/ip4/0.0.0.0/", "/ip4/127.0.0.1/"))
            .collect(),
        actions: vec!["*".into()],
    })
}

/// Forms a consortium of nodes whose data folders are all on this machine (a local testnet, or a
/// rehearsal): each member signs with its node key, every action is allowed to every member, and
/// the genesis is written into each member's data folder. `threshold`: how many members'
/// signatures an amendment needs (all when `None`).
pub fn form_local(
    name: &str,
    configs: &[Config],
    threshold: Option<usize>,
) -> Result<Consortium, SetupError> {
    let mut members = Vec::new();
    let mut keys = Vec::new();
    for config in configs {
        members.push(member_entry(config)?);
        keys.push(datadir::node_key(&config.data_dir)?);
    }
    let consortium =
        Consortium::sign(name, members, threshold, &keys).map_err(ConsortiumError::from)?;
    for config in configs {
        consortium::write_genesis(&consortium, &config.in_data_dir(&config.p2p.consortium))?;
    }
    Ok(consortium)
}
