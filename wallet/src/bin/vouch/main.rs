//! `vouch`: the agent's command line. Thin: it parses arguments, reads files and stdin, calls
//! `vouch-core` and `vouch-wallet`, and maps results to output and exit codes. `cli` defines
//! the arguments, `commands` has one module per command; what they share (reading input,
//! writing output, reaching a node, what a verification knows) is here.
//!
//! Exit codes: 0 success (or verified), 1 verification failed (the report says why), 2 unusable
//! input or arguments.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Duration, Utc};
use clap::Parser;
use serde_json::Value;
use vouch_core::capability::Action;
use vouch_core::credential::{
    AgentCapabilityCredential, AgentDescription, DefinitionHash, MAX_CREDENTIAL_BYTES, Multihash,
    Task,
};
use vouch_core::delegation::{self, RootGrant};
use vouch_core::did::document::Relationship;
use vouch_core::did::resolve::{DocumentMetadata, ResolutionResult};
use vouch_core::did::{Did, DidUrl, ResolveError, key as did_key};
use vouch_core::did_vouch::{self, DidLog, VersionSelector};
use vouch_core::key::KeyPair;
use vouch_core::proof::{self, ProofOptions};
use vouch_core::report::Report;
use vouch_core::verify::{self, TrustList, Verifier};

/// The largest presentation read: its credentials and some room for the envelope.
const MAX_PRESENTATION_BYTES: usize =
    vouch_core::presentation::MAX_CREDENTIALS * MAX_CREDENTIAL_BYTES;
use vouch_api::daemon::{DaemonClient, ExchangeAsk, Request};
use vouch_keyfile as keyfile;
use vouch_wallet::didlog;
use vouch_wallet::node::OrgNode;
use vouch_wallet::sources::{HttpResolver, MAX_RESPONSE_BYTES, NodeUrl, Reach, Sources};

/// The largest status list credential read from a file: as large as a resolver's answer.
const MAX_STATUS_LIST_BYTES: usize = MAX_RESPONSE_BYTES as usize;

mod cli;
mod commands;

use cli::*;

/// A failure that is the input's fault: exit code 2.
struct Unusable(anyhow::Error);

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vouch: {:#}", e.0);
            ExitCode::from(2)
        }
    }
}

/// How this run reaches nodes (`--allow-plain-http`, `--node-ca`), set once at the start.
static REACH: std::sync::OnceLock<Reach> = std::sync::OnceLock::new();

/// The node at `base`, reached as this run's options say.
fn node_url(base: &str) -> Result<NodeUrl> {
    let reach = REACH.get_or_init(Reach::new);
    Ok(reach.node(base)?)
}

fn reach(cli: &Cli) -> Result<Reach> {
    let mut reach = Reach::new();
    if let Some(path) = &cli.node_ca {
        let pem = std::fs::read(path).with_context(|| format!("--node-ca {}", path.display()))?;
        reach = reach
            .with_roots_pem(&pem)
            .with_context(|| format!("--node-ca {}", path.display()))?;
    }
    for authority in &cli.allow_plain_http {
        reach = reach.allowing_plain_http(authority);
    }
    Ok(reach)
}

fn run(cli: Cli) -> Result<ExitCode, Unusable> {
    let reach = reach(&cli).map_err(Unusable)?;
    REACH.set(reach).ok();
    let result = match cli.command {
        Command::Key(command) => commands::key::key(command),
        Command::Credential(command) => commands::credential::credential(command),
        Command::Presentation(command) => commands::presentation::presentation(command),
        Command::Did(command) => commands::did::did(command),
        Command::Agent(command) => commands::agent::agent(command),
        Command::Audit(command) => commands::audit::audit(command),
        Command::Wallet(command) => commands::wallet::wallet(command),
        Command::Mcp {
            socket,
            node,
            allow_delegation,
        } => mcp(socket, node, allow_delegation),
    };
    result.map_err(Unusable)
}

/// `vouch mcp`: serves until the client closes stdin. Logs go to stderr: stdout is the protocol's.
fn mcp(socket: std::path::PathBuf, node: Option<String>, delegation: bool) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut tools =
        vouch_wallet::mcp::WalletTools::new(socket, node.as_deref().map(node_url).transpose()?);
    if delegation {
        tools = tools.with_delegation();
    }
    runtime.block_on(tools.serve_stdio())?;
    Ok(ExitCode::SUCCESS)
}

/// Writes a line to stdout. A reader that went away (`vouch … | head`) is no error: the rest of
/// the output is dropped, and the exit code still tells the result.
fn say(line: &str) -> Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("writing to stdout"))
        }
        _ => Ok(()),
    }
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    say(&serde_json::to_string_pretty(value)?)
}

/// Reads one JSON document from stdin, bounded in size.
fn read_stdin_json() -> Result<Value> {
    read_json(std::io::stdin().lock(), "stdin")
}

fn read_json(reader: impl Read, name: &str) -> Result<Value> {
    read_json_limited(reader, name, MAX_CREDENTIAL_BYTES)
}

fn read_json_limited(reader: impl Read, name: &str, limit: usize) -> Result<Value> {
    let mut text = String::new();
    reader
        .take(limit as u64 + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("reading {name}"))?;
    if text.len() > limit {
        bail!("{name} is larger than {limit} bytes");
    }
    serde_json::from_str(&text).with_context(|| format!("{name} is not JSON"))
}

/// The issuer DID and verification method for a key: its did:key, or the did:vouch of a log whose
/// current document lists the key for assertion.
fn issuer_of(pair: &KeyPair, log: Option<&Path>) -> Result<(Did, DidUrl)> {
    let Some(path) = log else {
        let key = pair.public();
        return Ok((did_key::did_of(&key), did_key::verification_method_of(&key)));
    };
    let log = didlog::read(path)?;
    let document = log.resolve(VersionSelector::Latest)?.document;
    let method = document
        .assertion_method
        .iter()
        .find(|vm| document.key_for(vm, Relationship::AssertionMethod).ok() == Some(pair.public()))
        .with_context(|| {
            format!(
                "{} does not list this key as an assertion method",
                log.did()
            )
        })?;
    Ok((log.did().clone(), method.clone()))
}

fn read_json_file(path: &Path) -> Result<Value> {
    read_json_file_limited(path, MAX_CREDENTIAL_BYTES)
}

fn read_json_file_limited(path: &Path, limit: usize) -> Result<Value> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    read_json_limited(file, &path.display().to_string(), limit)
}

fn read_capabilities(path: &Path) -> Result<Vec<Value>> {
    match read_json_file(path)? {
        Value::Array(list) => Ok(list),
        _ => bail!("{}: expected a JSON list of capabilities", path.display()),
    }
}

/// The agent description file: the definition's parts, of which only hashes are kept.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AgentFile {
    name: String,
    version: String,
    owner: String,
    model: String,
    system_prompt: String,
    tools: Value,
    configuration: Value,
}

fn read_agent(path: &Path) -> Result<AgentDescription> {
    let file: AgentFile = serde_json::from_value(read_json_file(path)?)
        .with_context(|| format!("{}: not an agent description", path.display()))?;
    Ok(AgentDescription {
        name: file.name,
        version: file.version,
        owner: file.owner,
        definition_hash: DefinitionHash::compute(
            &file.model,
            &file.system_prompt,
            &file.tools,
            &file.configuration,
        )?,
    })
}

/// What a verification knows besides its input: the trusted issuers, DID logs, the resolver and
/// status lists given.
struct Known {
    trust: TrustList,
    sources: Sources,
    /// Whether a status source was given (files or a resolver).
    has_status: bool,
}

impl Known {
    /// Reads every source the arguments name; `input` is what will be verified, whose status
    /// lists are fetched from the resolver if one is given.
    fn read(args: &VerifyArgs, input: &[&Value]) -> Result<Self> {
        let everything = Action::parse("*").expect("`*` is a valid action pattern");
        let trust = TrustList(
            args.trust
                .iter()
                .map(|d| (d.clone(), everything.clone()))
                .collect(),
        );
        let mut sources = Sources::new(args.now.unwrap_or_else(Utc::now));
        for path in &args.did_logs {
            sources
                .add_log(didlog::read(path)?)
                .with_context(|| format!("--did-log {}", path.display()))?;
        }
        if let Some(url) = &args.resolver {
            sources.set_resolver(HttpResolver::new(node_url(url)?));
        }
        for path in &args.status_lists {
            sources
                .add_status_list(&read_json_file_limited(path, MAX_STATUS_LIST_BYTES)?)
                .with_context(|| format!("--status-list {}", path.display()))?;
        }
        if args.resolver.is_some() {
            // As many as verification reads, no more, each once: the input is not checked yet.
            let urls = vouch_core::status::list_urls(input.iter().copied());
            for error in sources.fetch_status_lists(urls) {
                eprintln!("vouch: {error}");
            }
        }
        if args.danger_proofs_only {
            eprintln!(
                "vouch: DANGER: --danger-proofs-only: issuer trust and status are NOT checked; \
                 a verified result says nothing about who may act"
            );
        }
        Ok(Self {
            trust,
            sources,
            has_status: args.resolver.is_some() || !args.status_lists.is_empty(),
        })
    }

    fn verifier(&self, args: &VerifyArgs) -> Verifier<'_> {
        let mut verifier = Verifier::new(&self.sources, args.now.unwrap_or_else(Utc::now));
        if !args.trust.is_empty() {
            verifier.issuers = Some(&self.trust);
        }
        if self.has_status {
            verifier.status = Some(&self.sources.lists);
        }
        verifier.danger_proofs_only = args.danger_proofs_only;
        verifier.require_status = !args.allow_unregistered;
        verifier.expected_definition = args.expect_definition.clone();
        verifier
    }
}

/// Prints a report and returns exit code 0 if it verified, 1 if not.
fn print_report(report: &Report, json: bool) -> Result<ExitCode> {
    if json {
        print_json(report)?;
    } else {
        for check in &report.checks {
            let outcome = match check.outcome {
                vouch_core::report::Outcome::Passed => "ok  ",
                vouch_core::report::Outcome::Failed => "FAIL",
                vouch_core::report::Outcome::Skipped => "skip",
            };
            let reason = check
                .reason
                .map(|r| format!(" [{}]", r.code()))
                .unwrap_or_default();
            let detail = check
                .detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            let subject = check
                .subject
                .as_deref()
                .map(|s| format!(" {s}"))
                .unwrap_or_default();
            say(&format!(
                "{outcome} {}{subject}{reason}{detail}",
                check.check
            ))?;
        }
        say(if report.verified {
            "verified"
        } else {
            "NOT verified"
        })?;
    }
    Ok(if report.verified {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
