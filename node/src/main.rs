//! `vouch-node`: a consortium member's node. Thin: it reads the configuration, sets up logging,
//! and starts or initializes a node; `vouch_node` does the work.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::{Parser, Subcommand};
use vouch_node::{Config, Node, setup};

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
    /// Forms a consortium of nodes on this machine: signs the genesis with every member's node
    /// key and writes it into each member's data folder.
    FormConsortium {
        /// The consortium's name.
        #[arg(long)]
        name: String,
        /// The members' configuration files (their data folders must be initialized).
        #[arg(required = true)]
        members: Vec<PathBuf>,
    },
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
        Command::FormConsortium { name, members } => {
            let configs = members
                .iter()
                .map(|path| read_config(path))
                .collect::<Result<Vec<_>>>()?;
            let consortium = vouch_node::consortium::form_local(&name, &configs)?;
            for member in &consortium.members {
                println!("{}  {}", member.did, member.peer_id);
            }
            Ok(())
        }
        Command::Config => {
            print!("{}", config.to_toml());
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
