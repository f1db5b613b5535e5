//! A running node: its store, its registry and its servers, started together and stopped together.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::api::{self, ApiState};
use crate::config::Config;
use crate::consortium::{Consortium, ConsortiumError};
use crate::datadir::{self, DataDirError, Identity};
use crate::net::{self, NetConfig, NetError, Network};
use crate::org::Org;
use crate::registry::Registry;
use crate::status_lists::StatusLists;
use crate::store::Store;

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data folder is not a node's, or is unreadable.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The admin token could not be read.
    #[error("{path}: {source}")]
    AdminToken {
        /// The token file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The consortium genesis is unusable.
    #[error(transparent)]
    Consortium(#[from] ConsortiumError),
    /// This node is not among the consortium's members.
    #[error("this node ({0}) is not a member of the consortium")]
    NotAMember(String),
    /// The network could not start.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The HTTP address could not be bound.
    #[error("HTTP listen address {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A started node. Dropping it does not stop it: call [`Node::shutdown`].
#[derive(Debug)]
pub struct Node {
    /// Who the node is.
    pub identity: Identity,
    /// Where its HTTP server listens (the port is known even when the configuration said 0).
    pub http_addr: SocketAddr,
    /// The registry, for in-process callers such as tests and the CLI.
    pub registry: Registry,
    /// The status lists.
    pub status_lists: StatusLists,
    /// The network, when the node belongs to a consortium.
    pub network: Option<Network>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Node {
    /// Opens the data folder and starts serving.
    pub async fn start(config: &Config) -> Result<Self, StartError> {
        let identity = datadir::identity(&config.data_dir)?;
        let db = config.data_dir.join(datadir::DB);
        let store = Arc::new(
            tokio::task::spawn_blocking(move || Store::open(&db))
                .await
                .expect("opening the store does not panic")?,
        );
        let registry = Registry::new(store.clone(), crate::metrics::Metrics::new());
        let org = Org::new(
            config.data_dir.clone(),
            identity.did.clone(),
            registry.clone(),
        );
        let listener = tokio::net::TcpListener::bind(config.http.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.http.listen,
                source,
            })?;
        let http_addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.http.listen,
            source,
        })?;
        let public_url = config
            .http
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{http_addr}"));

        let admin_token_hash = if config.http.danger_disable_admin_auth {
            warn!(
                "DANGER: danger_disable_admin_auth is set: the admin API is open to anyone who can \
                 reach {http_addr}; use this for local development only"
            );
            None
        } else {
            let path = config.in_data_dir(&config.http.admin_token_file);
            let token =
                std::fs::read_to_string(&path).map_err(|source| StartError::AdminToken {
                    path: path.display().to_string(),
                    source,
                })?;
            Some(ApiState::hash_token(&token))
        };
        let (shutdown, stop) = watch::channel(false);
        let mut tasks = Vec::new();
        let consortium_path = config.in_data_dir(&config.p2p.consortium);
        let consortium = if consortium_path.exists() {
            let consortium = Consortium::read(&consortium_path)?;
            if consortium.member_by_peer(&identity.peer_id).is_none() {
                return Err(StartError::NotAMember(identity.peer_id.clone()));
            }
            Some(consortium)
        } else {
            warn!(path = %consortium_path.display(), "no consortium genesis: running alone, without a network");
            None
        };
        // Whose status lists are accepted: the members', or this org's alone.
        let issuers: std::collections::HashSet<vouch_core::did::Did> = match &consortium {
            Some(consortium) => consortium.members.iter().map(|m| m.did.clone()).collect(),
            None => std::iter::once(identity.did.clone()).collect(),
        };
        let status_lists =
            StatusLists::new(store, registry.clone(), org.clone(), &public_url, issuers);
        // A key rotation acknowledged just before a crash may have left lists signed with the
        // old key: sign them anew before peers ask for them.
        let resigning = status_lists.clone();
        match tokio::task::spawn_blocking(move || resigning.resign_stale(chrono::Utc::now())).await
        {
            Ok(Ok(resigned)) if !resigned.is_empty() => {
                info!(
                    lists = resigned.len(),
                    "status lists signed anew with the org's key"
                );
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => warn!(error = %e, "the org's status lists could not be signed anew"),
            Err(e) => warn!(error = %e, "signing the status lists anew failed"),
        }
        let network = if let Some(consortium) = consortium {
            let key = datadir::node_key(&config.data_dir)?;
            let (network, task) = net::start(
                NetConfig {
                    key,
                    listen: config.p2p.listen.clone(),
                    consortium,
                    sync_interval: std::time::Duration::from_secs(
                        config.p2p.sync_interval_secs.max(1),
                    ),
                },
                registry.clone(),
                status_lists.clone(),
                stop.clone(),
            )?;
            tasks.push(task);
            Some(network)
        } else {
            None
        };

        let state = Arc::new(ApiState {
            registry: registry.clone(),
            status_lists: status_lists.clone(),
            org,
            network: network.clone(),
            admin_token_hash,
        });
        let mut stop_http = stop;
        tasks.push(tokio::spawn(api::serve(listener, state, async move {
            // Either a shutdown or the sender dropped: stop in both cases.
            let _ = stop_http.wait_for(|stop| *stop).await;
        })));
        info!(did = %identity.did, peer = %identity.peer_id, http = %http_addr, "node started");
        Ok(Self {
            identity,
            http_addr,
            registry,
            status_lists,
            network,
            shutdown,
            tasks,
        })
    }

    /// Stops the servers, letting requests in flight finish.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            if let Err(e) = task.await {
                error!(error = %e, "a node task failed");
            }
        }
        info!("node stopped");
    }
}
