//! A running node: its store, its registry and its servers, started together and stopped together.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::api::{self, ApiState};
use crate::audit::AuditLog;
use crate::config::{AuditConfig, Config};
use crate::consortium::{Amendment, Amendments, ConsortiumError, MAX_AMENDMENT_BYTES, Members};
use crate::datadir::{self, DataDirError, Identity};
use crate::issuer::{Events, Issuer};
use crate::net::{self, NetConfig, NetError, Network};
use crate::org::Org;
use crate::registry::Registry;
use crate::status_lists::StatusLists;
use crate::store::Store;
use crate::witness::{Witness, WitnessError};

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
        /// The I/O error the system gave.
        source: std::io::Error,
    },
    /// The consortium genesis is unusable.
    #[error(transparent)]
    Consortium(#[from] ConsortiumError),
    /// This node is not among the consortium's members.
    #[error("this node ({0}) is not a member of the consortium")]
    NotAMember(String),
    /// A setting is not what it must be.
    #[error("configuration: {0}")]
    Config(String),
    /// The network could not start.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The HTTP address could not be bound.
    #[error("HTTP listen address {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error the system gave.
        source: std::io::Error,
    },
}

/// The consortium a node belongs to: its genesis, the amendments it holds and those given to it
/// in `p2p.amendments`; `None` without a genesis (the node runs alone).
async fn load_consortium(
    config: &Config,
    identity: &Identity,
    store: Arc<Store>,
) -> Result<Option<Amendments>, StartError> {
    let genesis_path = config.in_data_dir(&config.p2p.consortium);
    if !genesis_path.exists() {
        warn!(path = %genesis_path.display(), "no consortium genesis: running alone, without a network");
        return Ok(None);
    }
    let genesis = crate::consortium::read_genesis(&genesis_path)?;
    let given_path = config.in_data_dir(&config.p2p.amendments);
    let given = if given_path.exists() {
        read_amendments(&given_path)?
    } else {
        Vec::new()
    };
    let amendments = tokio::task::spawn_blocking(move || Amendments::load(&genesis, store, &given))
        .await
        .expect("loading amendments does not panic")?;
    let membership = amendments
        .members()
        .now()
        .expect("a consortium's membership");
    if membership.member_by_peer(&identity.peer_id).is_none() {
        return Err(StartError::NotAMember(identity.peer_id.clone()));
    }
    info!(
        consortium = membership.name(),
        members = membership.members().len(),
        amendments = membership.sequence(),
        "consortium membership"
    );
    Ok(Some(amendments))
}

/// The most amendments a file gives.
const MAX_GIVEN_AMENDMENTS: usize = 4096;

/// Reads an amendments file: one JSON per line.
fn read_amendments(path: &std::path::Path) -> Result<Vec<Amendment>, ConsortiumError> {
    let malformed =
        |reason: String| ConsortiumError::Malformed(format!("{}: {reason}", path.display()));
    let metadata = std::fs::metadata(path).map_err(|e| malformed(e.to_string()))?;
    if metadata.len() > (MAX_GIVEN_AMENDMENTS * MAX_AMENDMENT_BYTES) as u64 {
        return Err(malformed("too large".into()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| malformed(e.to_string()))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .take(MAX_GIVEN_AMENDMENTS)
        .enumerate()
        .map(|(i, line)| {
            Amendment::from_json(line.as_bytes())
                .map_err(|e| malformed(format!("line {}: {e}", i + 1)))
        })
        .collect()
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
    /// The org's issuer.
    pub issuer: Issuer,
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
        let memory = crate::store::Memory {
            block_cache: (config.store.block_cache_mib as usize) << 20,
            write_buffers: (config.store.write_buffer_mib as usize) << 20,
        };
        let store = Arc::new(
            tokio::task::spawn_blocking(move || Store::open_with(&db, memory))
                .await
                .expect("opening the store does not panic")?,
        );
        let amendments = load_consortium(config, &identity, store.clone()).await?;
        let members = amendments
            .as_ref()
            .map_or_else(Members::alone, |a| a.members().clone());
        let registry = Registry::new(store.clone(), crate::metrics::Metrics::new())
            .with_members(members.clone());
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
        let seconds =
            |secs: u64| chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX));
        let status_lists = StatusLists::new(
            store.clone(),
            registry.clone(),
            org.clone(),
            &public_url,
            members.clone(),
        )
        .with_freshness(
            seconds(config.issuance.status_list_ttl_secs),
            seconds(config.issuance.max_status_age_secs),
        );
        let events = Events::new(
            store.clone(),
            registry.clone(),
            identity.did.clone(),
            members.clone(),
        );
        let appended = Arc::new(tokio::sync::Notify::new());
        let audit = AuditLog::new(store.clone(), &identity.did.to_string()).on_append({
            let appended = appended.clone();
            move || appended.notify_one()
        });
        let witness_store = store.clone();
        let issuer = Issuer::new(
            store,
            registry.clone(),
            org.clone(),
            status_lists.clone(),
            audit.clone(),
            config.data_dir.clone(),
            config.issuance.clone(),
            &public_url,
        );
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
        let (network, witness) = if let Some(amendments) = amendments.clone() {
            let key = datadir::node_key(&config.data_dir)?;
            let witness = Witness::new(
                witness_store,
                members.clone(),
                key.clone(),
                &identity.did,
                registry.metrics_handle(),
            );
            let (network, task) = net::start(
                NetConfig {
                    key,
                    listen: config.p2p.listen.clone(),
                    amendments,
                    sync_interval: std::time::Duration::from_secs(
                        config.p2p.sync_interval_secs.max(1),
                    ),
                    audit: audit.clone(),
                    witness: witness.clone(),
                },
                registry.clone(),
                status_lists.clone(),
                events.clone(),
                stop.clone(),
            )?;
            tasks.push(task);
            tasks.push(tokio::spawn(checkpoints(
                audit.clone(),
                appended,
                witness.clone(),
                network.clone(),
                config.audit.clone(),
                stop.clone(),
            )));
            (Some(network), Some(witness))
        } else {
            (None, None)
        };

        tasks.push(tokio::spawn(heartbeat(
            status_lists.clone(),
            network.clone(),
            stop.clone(),
        )));
        let contexts = config
            .verification
            .add_contexts(&config.data_dir)
            .map_err(StartError::Config)?;
        if contexts > 0 {
            info!(contexts, "JSON-LD contexts added to the bundled ones");
        }
        let state = Arc::new(ApiState {
            registry: registry.clone(),
            status_lists: status_lists.clone(),
            org,
            issuer: issuer.clone(),
            events,
            audit,
            witness,
            network: network.clone(),
            amendments,
            data_dir: config.data_dir.clone(),
            exchanges: crate::exchanges::NodeExchanges::new(crate::datadir::node_key(
                &config.data_dir,
            )?),
            admin_token_hash,
            events_token_file: config.in_data_dir(&config.http.events_token_file),
            refusals: Arc::new(ApiState::refusal_tally()),
            verifying: Arc::default(),
            changing: Arc::default(),
            passkeys: Arc::new(api::Passkeys::new(&public_url)),
            trusted_issuers: config.verification.issuers().map_err(StartError::Config)?,
            foreign: Arc::default(),
            shares: Arc::new(vouch_serve::Shares::new(
                config.http.client_requests_per_sec,
                config.http.client_burst,
                api::MAX_CLIENTS_REMEMBERED,
            )),
        });
        tasks.push(tokio::spawn(tidy(
            state.refusals.clone(),
            state.audit.clone(),
            state.exchanges.clone(),
            stop.clone(),
        )));
        let mut stop_http = stop;
        let limits = config.http.limits();
        tasks.push(tokio::spawn(api::serve(
            listener,
            state,
            limits,
            async move {
                // Either a shutdown or the sender dropped: stop in both cases.
                let _ = stop_http.wait_for(|stop| *stop).await;
            },
        )));
        info!(did = %identity.did, peer = %identity.peer_id, http = %http_addr, "node started");
        Ok(Self {
            identity,
            http_addr,
            registry,
            status_lists,
            issuer,
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

/// The audit log's checkpoints: signed when the log grew by `checkpoint_every` entries, and on
/// every tick of `checkpoint_interval_secs` when it grew at all; the newest is gossiped on every
/// tick, so that a member that missed it (away, or joined later) witnesses it still.
async fn checkpoints(
    audit: AuditLog,
    appended: Arc<tokio::sync::Notify>,
    witness: Witness,
    network: Network,
    config: AuditConfig,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(
        config.checkpoint_interval_secs.max(1),
    ));
    let every = config.checkpoint_every.max(1);
    let mut last = 0;
    loop {
        let ticked = tokio::select! {
            () = async { let _ = stop.wait_for(|stop| *stop).await; } => break,
            _ = tick.tick() => true,
            () = appended.notified() => false,
        };
        let (log, witnessing) = (audit.clone(), witness.clone());
        let made = tokio::task::spawn_blocking(move || -> Result<_, WitnessError> {
            if !ticked && log.size()? < last + every {
                return Ok(None);
            }
            witnessing.checkpoint_own(&log)
        })
        .await;
        match made {
            Ok(Ok(Some((note, size)))) => {
                last = size;
                network.publish_checkpoint(note).await;
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => warn!(error = %e, "the audit log's checkpoint could not be made"),
            Err(e) => warn!(error = %e, "making the audit log's checkpoint failed"),
        }
    }
}

/// Every few seconds: forgets the exchanges and decisions whose time is up (so that memory a
/// flood took comes back when it ends, not when the next request comes), and writes the counts
/// of refusals whose minute has ended (so that a party that stops leaves no count unwritten).
async fn tidy(
    tally: Arc<vouch_core::audit::tally::Tally>,
    audit: crate::audit::AuditLog,
    exchanges: crate::exchanges::NodeExchanges,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    let mut stopping = false;
    while !stopping {
        tokio::select! {
            () = async { let _ = stop.wait_for(|stop| *stop).await; } => stopping = true,
            _ = tick.tick() => {}
        }
        let now = chrono::Utc::now();
        let _ = exchanges.held(now);
        let ended = if stopping {
            tally.drain(now)
        } else {
            tally.ended(now)
        };
        if ended.is_empty() {
            continue;
        }
        let audit = audit.clone();
        match tokio::task::spawn_blocking(move || audit.record_all(ended, now)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                warn!(error = %e, "counted refusals could not be written to the audit log")
            }
            Err(e) => warn!(error = %e, "writing counted refusals failed"),
        }
    }
}

/// The status lists' heartbeat: signs the org's lists anew before they expire and gossips them,
/// so that every verifier always holds a version that is still valid, and knows how old it is.
async fn heartbeat(lists: StatusLists, network: Option<Network>, mut stop: watch::Receiver<bool>) {
    let period = (lists.ttl() / 4)
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(1))
        .max(std::time::Duration::from_millis(500));
    let mut tick = tokio::time::interval(period);
    loop {
        tokio::select! {
            () = async { let _ = stop.wait_for(|stop| *stop).await; } => break,
            _ = tick.tick() => {
                let due = lists.clone();
                match tokio::task::spawn_blocking(move || due.refresh(chrono::Utc::now())).await {
                    Ok(Ok(signed)) => {
                        if let Some(network) = &network {
                            for list in &signed {
                                network.publish_status_list(list).await;
                            }
                        }
                    }
                    Ok(Err(e)) => warn!(error = %e, "the status lists could not be signed anew"),
                    Err(e) => warn!(error = %e, "signing the status lists anew failed"),
                }
            }
        }
    }
}
