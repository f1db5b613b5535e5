//! `vouch-node`: a consortium member's node. Thin: it reads the configuration, sets up logging,
//! and starts or initializes a node; `vouch_node` does the work.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::{Parser, Subcommand};
use vouch_api::node::AdminClient;
use vouch_api::node::admin::{self, DefinitionRequest, IssueRequest, RevocationRequest};
use vouch_core::consortium::Change;
use vouch_node::{Config, Node, setup};

/// jemalloc, not the system's malloc: it gives memory back to the system a few seconds after it
/// was freed, where glibc's keeps what a burst took in its per-thread arenas — so the node's
/// memory comes back after an anonymous flood ends (DESIGN §10), not at its next restart.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(name = "vouch-node", version, about = "A Vouch consortium node")]
struct Cli {
    /// The configuration file (TOML); every key has a default, so it may be absent.
    #[arg(long, short, default_value = "vouch-node.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates the node: its key, the org's did:vouch and the admin token, in the data folder.
    Init {
        /// Print the identity as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Runs the node until SIGINT or SIGTERM.
    Run,
    /// Prints the configuration in force, every key written out.
    Config,
    /// Prints this node's member entry (org DID, node key, peer id, listen addresses, every
    /// action), for a consortium genesis or an amendment that adds it.
    Member,
    /// Asks the running node, through its admin API, to change the org's DID or status lists.
    Admin {
        #[command(subcommand)]
        action: Admin,
    },
    /// Forms a consortium of nodes on this machine: signs the genesis with every member's node
    /// key and writes it into each member's data folder.
    FormConsortium {
        /// The consortium's name.
        #[arg(long)]
        name: String,
        /// How many members must sign an amendment (add or remove a member); all by default.
        #[arg(long)]
        threshold: Option<usize>,
        /// The members' configuration files (their data folders must be initialized).
        #[arg(required = true)]
        members: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ConsortiumAction {
    /// Proposes a change of membership, signed by this node; prints the amendment (applied at
    /// once when this node's signature is all it needs).
    Propose {
        /// A member entry to add (JSON, as `vouch-node member` prints it).
        #[arg(long, conflicts_with = "remove", required_unless_present = "remove")]
        add: Option<PathBuf>,
        /// The org DID of a member to remove.
        #[arg(long)]
        remove: Option<String>,
        /// Also write the amendment alone to this file, for the next member to sign.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Signs another member's proposal; it is applied and gossiped once it has the signatures it
    /// needs.
    Sign {
        /// The amendment (JSON).
        amendment: PathBuf,
        /// Also write the amendment with this node's signature to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Prints the membership in force.
    Show {
        /// Print the amendments applied instead, one JSON per line: a new member's
        /// `amendments.jsonl`.
        #[arg(long)]
        amendments: bool,
    },
}

#[derive(Subcommand)]
enum AgentAction {
    /// Registers an agent definition as a did:vouch whose document carries the hash of each
    /// part; the system prompt is hashed here and never sent.
    Register {
        /// The agent's name.
        #[arg(long)]
        name: String,
        /// Its version.
        #[arg(long)]
        version: String,
        /// The accountable human.
        #[arg(long)]
        owner: String,
        /// The model identifier.
        #[arg(long)]
        model: String,
        /// The system prompt's file: only its hash leaves this machine.
        #[arg(long)]
        prompt: PathBuf,
        /// The tool manifest (JSON file).
        #[arg(long)]
        tools: Option<PathBuf>,
        /// The configuration (JSON file).
        #[arg(long)]
        configuration: Option<PathBuf>,
    },
    /// Binds an instance to a definition, on its proof of possession (`vouch agent
    /// binding-proof`).
    Bind {
        /// The definition's did:vouch.
        definition: String,
        /// The instance's proof file.
        proof: PathBuf,
    },
    /// Lists the org's agent definitions.
    List {
        /// Only the agents no one is accountable for: their owner is gone (revoked at the
        /// `owner` level) or unset.
        #[arg(long)]
        orphaned: bool,
    },
}

#[derive(Subcommand)]
enum Admin {
    /// Agent definitions and instances.
    Agent {
        #[command(subcommand)]
        action: AgentAction,
    },
    /// Issues a task credential to a bound instance, and prints it.
    Issue {
        /// The instance's did:key.
        #[arg(long)]
        instance: String,
        /// The task's id.
        #[arg(long)]
        task: String,
        /// The task's purpose, in words (only its hash enters the credential).
        #[arg(long)]
        purpose: String,
        /// Who the agent acts for (only the org's pseudonym of it enters the credential).
        #[arg(long)]
        principal: String,
        /// A capability as JSON (`{"action": …, "resource": …}`), repeatable.
        #[arg(long, required = true)]
        capability: Vec<String>,
        /// Who it may be presented to (repeatable); anyone when absent.
        #[arg(long)]
        audience: Vec<String>,
        /// Its lifetime in seconds; the node's default when absent.
        #[arg(long)]
        ttl_secs: Option<u64>,
    },
    /// What the node recorded of a credential it issued or registered.
    Credential {
        /// The credential's id.
        id: String,
    },
    /// Revokes for good, at a level: `credential` (with its renewals), `agent` (an instance's
    /// did:key, or a definition's did:vouch), `task`, or `chain` (a credential and its whole
    /// delegation subtree).
    Revoke {
        /// The level.
        #[arg(long)]
        level: String,
        /// The credential id, DID or task id.
        subject: String,
        /// Why (no personal data: it is published in the revocation event).
        #[arg(long)]
        reason: Option<String>,
        /// A task or instance no credential names yet: refuse it any from now on (else a
        /// revocation that reaches nothing is an error).
        #[arg(long)]
        preemptive: bool,
    },
    /// Suspends at a level, until lifted; prints the suspension's id.
    Suspend {
        /// The level.
        #[arg(long)]
        level: String,
        /// The credential id, DID or task id.
        subject: String,
        /// The operator's reason, kept in the audit log with the change.
        #[arg(long)]
        reason: Option<String>,
        /// A task or instance no credential names yet: suspended from now on.
        #[arg(long)]
        preemptive: bool,
    },
    /// Lifts a suspension.
    Lift {
        /// The suspension's id.
        suspension: String,
        /// The operator's reason, kept in the audit log with the change.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Sets the org DID's document (JSON, ids relative to the DID: `#key-1`).
    DidUpdate {
        /// The document content.
        document: PathBuf,
    },
    /// Replaces the org's signing key by a new one.
    DidRotate,
    /// Signs a checkpoint of the audit log now (if it grew) and gossips it to the witnesses;
    /// prints it.
    AuditCheckpoint,
    /// Deactivates the org's DID for good.
    DidDeactivate {
        /// The org's DID, as a confirmation.
        #[arg(long)]
        confirm: String,
    },
    /// Submits signed did:vouch operations, one JSON per line: for instance the log of an agent
    /// definition's DID, made with `vouch did create`.
    Submit {
        /// The operations (a `.jsonl` log).
        operations: PathBuf,
    },
    /// Refuses members' nodes for a while: their connections are closed and refused both ways
    /// until they are admitted again (maintenance, an incident, a rehearsed partition).
    Refuse {
        /// The nodes' peer ids.
        #[arg(required = true)]
        peers: Vec<String>,
    },
    /// Admits members' nodes refused before.
    Admit {
        /// The nodes' peer ids.
        #[arg(required = true)]
        peers: Vec<String>,
    },
    /// Changes the consortium's membership: propose, sign, show.
    Consortium {
        #[command(subcommand)]
        action: ConsortiumAction,
    },
    /// Registers an agents' owner (as definitions name them), with the owner key (a did:key)
    /// they approve requests with from the command line (`vouch agent approve`), if any; prints
    /// the link (`enrol.url`, open 24 hours, once) where they register a passkey to approve on
    /// the node's approval page.
    Owner {
        /// Who they are.
        id: String,
        /// Their owner key's did:key.
        #[arg(long)]
        key: Option<String>,
        /// Forget every passkey they registered (a lost device); they register anew from the
        /// link printed.
        #[arg(long)]
        drop_passkeys: bool,
    },
    /// Sets and clears bits of one of the org's status lists, creating it on first use.
    Status {
        /// The list's name (`a-z 0-9 -`).
        name: String,
        /// `revocation` (final) or `suspension`.
        #[arg(long)]
        purpose: String,
        /// Indexes to set.
        #[arg(long, value_delimiter = ',')]
        set: Vec<usize>,
        /// Indexes to clear (suspension lists only).
        #[arg(long, value_delimiter = ',')]
        clear: Vec<usize>,
    },
}

/// The admin client of the node of a configuration: on its HTTP address (loopback when it
/// listens on every address), with its admin token.
fn admin_client(config: &Config) -> Result<AdminClient> {
    let mut listen = config.http.listen;
    if listen.ip().is_unspecified() {
        listen.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let path = config.in_data_dir(&config.http.admin_token_file);
    let token = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the admin token {}", path.display()))?;
    let node = vouch_api::reach::Reach::new()
        .allowing_plain_http(&listen.to_string())
        .node(&format!("http://{listen}"))?;
    Ok(AdminClient::new(node, Some(token.trim().to_owned())))
}

/// Prints an answer as JSON.
fn print(answer: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(answer)?);
    Ok(())
}

/// A JSON file, read as `T`.
fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    serde_json::from_str(&text).with_context(|| path.display().to_string())
}

/// A revocation or suspension as the command line names it.
fn revocation(
    level: &str,
    subject: String,
    reason: Option<String>,
    preemptive: bool,
) -> Result<RevocationRequest> {
    Ok(RevocationRequest {
        level: serde_json::from_value(serde_json::Value::from(level)).with_context(|| {
            format!("--level {level}: credential, chain, task, agent, definition or owner")
        })?,
        subject,
        reason,
        preemptive,
    })
}

/// Writes the amendment of a proposal or signature to `out`, when asked.
fn keep_amendment(signed: &admin::Signed, out: Option<PathBuf>) -> Result<()> {
    if let Some(out) = out {
        std::fs::write(&out, serde_json::to_vec_pretty(&signed.amendment)?)
            .with_context(|| out.display().to_string())?;
    }
    Ok(())
}

/// Runs one admin command against the node.
fn admin(client: &AdminClient, action: Admin) -> Result<()> {
    match action {
        Admin::Agent { action } => match action {
            AgentAction::Register {
                name,
                version,
                owner,
                model,
                prompt,
                tools,
                configuration,
            } => {
                let prompt =
                    std::fs::read(&prompt).with_context(|| prompt.display().to_string())?;
                print(
                    &client.register_definition(&DefinitionRequest {
                        name,
                        version,
                        owner,
                        model,
                        system_prompt_hash: vouch_core::hash::multihash(&prompt),
                        tools: tools
                            .as_deref()
                            .map(read_json)
                            .transpose()?
                            .unwrap_or_else(|| serde_json::json!([])),
                        configuration: configuration
                            .as_deref()
                            .map(read_json)
                            .transpose()?
                            .unwrap_or_else(|| serde_json::json!({})),
                    })?,
                )
            }
            AgentAction::Bind { definition, proof } => {
                let definition = vouch_core::did::Did::parse(&definition)
                    .with_context(|| format!("--definition {definition}"))?;
                let proof: serde_json::Value = read_json(&proof)?;
                print(&client.bind(&definition, &proof)?)
            }
            AgentAction::List { orphaned } => {
                print(&client.definitions(admin::Listing { orphaned })?)
            }
        },
        Admin::Issue {
            instance,
            task,
            purpose,
            principal,
            capability,
            audience,
            ttl_secs,
        } => {
            let capabilities = capability
                .iter()
                .map(|c| serde_json::from_str(c).with_context(|| format!("--capability {c}")))
                .collect::<Result<Vec<serde_json::Value>>>()?;
            let issued = client.issue(&IssueRequest {
                instance: vouch_core::did::Did::parse(&instance)
                    .with_context(|| format!("--instance {instance}"))?,
                task: admin::TaskRequest { id: task, purpose },
                principal,
                capabilities,
                audience,
                resources: Vec::new(),
                ttl_secs,
                max_renewals: None,
                lineage_secs: None,
                max_depth: None,
            })?;
            print(&issued.credential)
        }
        Admin::Credential { id } => {
            let id = vouch_core::credential::CredentialId::parse(&id)
                .with_context(|| format!("credential id {id}"))?;
            print(&client.issued(&id)?)
        }
        Admin::Revoke {
            level,
            subject,
            reason,
            preemptive,
        } => print(&client.revoke(&revocation(&level, subject, reason, preemptive)?)?),
        Admin::Suspend {
            level,
            subject,
            reason,
            preemptive,
        } => print(&client.suspend(&revocation(&level, subject, reason, preemptive)?)?),
        Admin::Lift { suspension, reason } => {
            print(&client.lift(&suspension, &admin::Lift { reason })?)
        }
        Admin::DidUpdate { document } => print(&client.update_did(&read_json(&document)?)?),
        Admin::DidRotate => print(&client.rotate()?),
        Admin::AuditCheckpoint => {
            print!("{}", client.checkpoint()?);
            Ok(())
        }
        Admin::DidDeactivate { confirm } => {
            print(&client.deactivate(&admin::Confirm { did: confirm })?)
        }
        Admin::Submit { operations } => {
            let text = std::fs::read_to_string(&operations)
                .with_context(|| operations.display().to_string())?;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                print(&client.submit_operation(line)?)?;
            }
            Ok(())
        }
        Admin::Refuse { peers } => print(&client.peers(true, &admin::Peers { peers })?),
        Admin::Admit { peers } => print(&client.peers(false, &admin::Peers { peers })?),
        Admin::Consortium { action } => match action {
            ConsortiumAction::Propose { add, remove, out } => {
                let change = match (add, remove) {
                    (Some(member), _) => Change::Add(Box::new(read_json(&member)?)),
                    (None, Some(did)) => Change::Remove {
                        did: vouch_core::did::Did::parse(&did)
                            .with_context(|| format!("--remove {did}"))?,
                    },
                    (None, None) => anyhow::bail!("--add or --remove"),
                };
                let signed = client.propose(&change)?;
                print(&signed)?;
                keep_amendment(&signed, out)
            }
            ConsortiumAction::Sign { amendment, out } => {
                let signed = client.sign_amendment(&read_json(&amendment)?)?;
                print(&signed)?;
                keep_amendment(&signed, out)
            }
            ConsortiumAction::Show { amendments } => {
                let view = client.membership()?;
                if amendments {
                    for amendment in &view.amendments {
                        println!("{}", serde_json::to_string(amendment)?);
                    }
                    Ok(())
                } else {
                    print(&view)
                }
            }
        },
        Admin::Owner {
            id,
            key,
            drop_passkeys,
        } => print(&client.register_owner(&admin::OwnerRequest {
            id,
            key,
            drop_passkeys,
        })?),
        Admin::Status {
            name,
            purpose,
            set,
            clear,
        } => print(&client.change_status(
            &name,
            &admin::StatusChange {
                purpose,
                set,
                clear,
            },
        )?),
    }
}

fn read_config(path: &std::path::Path) -> Result<Config> {
    if path.exists() {
        Ok(Config::read(path)?)
    } else {
        let mut config = Config::default();
        if let Some(dir) = path.parent() {
            config.data_dir = dir.join(&config.data_dir);
        }
        Ok(config)
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    // jemalloc gives freed memory back on a thread of its own: without it, it does so only as
    // the next allocations come, and a node left idle after a flood would keep what it took.
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(error = %e, "jemalloc's background thread could not be started");
    }
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vouch-node: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let config = read_config(&cli.config)?;
    match cli.command {
        Command::Init { json } => {
            let identity = setup::init(&config, Utc::now())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&identity)?);
            } else {
                println!("did      {}\npeer id  {}", identity.did, identity.peer_id);
            }
            Ok(())
        }
        Command::FormConsortium {
            name,
            threshold,
            members,
        } => {
            let configs = members
                .iter()
                .map(|path| read_config(path))
                .collect::<Result<Vec<_>>>()?;
            let consortium = setup::form_local(&name, &configs, threshold)?;
            for member in &consortium.members {
                println!("{}  {}", member.did, member.peer_id);
            }
            Ok(())
        }
        Command::Admin { action } => admin(&admin_client(&config)?, action),
        Command::Config => {
            print!("{}", config.to_toml());
            Ok(())
        }
        Command::Member => {
            let member = setup::member_entry(&config)?;
            println!("{}", serde_json::to_string_pretty(&member)?);
            Ok(())
        }
        Command::Run => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?
            .block_on(async {
                let node = Node::start(&config).await?;
                shutdown_signal().await?;
                node.shutdown().await;
                Ok(())
            }),
    }
}

/// Waits for SIGINT or SIGTERM.
async fn shutdown_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("listening for SIGINT")?,
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
    Ok(())
}
