//! `vouch`: the agent's command line. Thin: it parses arguments, reads files and stdin, calls
//! `vouch-core` and `vouch-wallet`, and maps results to output and exit codes.
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
use vouch_wallet::node::NodeClient;
use vouch_wallet::sources::{HttpResolver, MAX_RESPONSE_BYTES, NodeUrl, Reach, Sources};

/// The largest status list credential read from a file: as large as a resolver's answer.
const MAX_STATUS_LIST_BYTES: usize = MAX_RESPONSE_BYTES as usize;

mod cli;

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
        Command::Key(command) => key(command),
        Command::Credential(command) => credential(command),
        Command::Presentation(command) => presentation(command),
        Command::Did(command) => did(command),
        Command::Agent(command) => agent(command),
        Command::Audit(command) => audit(command),
        Command::Wallet(command) => wallet(command),
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

fn audit(command: AuditCommand) -> Result<ExitCode> {
    use vouch_wallet::audit::{self, Finding};
    match command {
        AuditCommand::Verify {
            node,
            export,
            checkpoint,
            origin,
            log_key,
            consortium,
            amendments,
            witnesses,
            quorum,
        } => {
            let (note, entries) = match (&node, export, checkpoint) {
                (Some(node), _, _) => audit::fetch(node)?,
                (None, Some(export), Some(checkpoint)) => {
                    let text = std::fs::read_to_string(&export)
                        .with_context(|| export.display().to_string())?;
                    let note = std::fs::read(&checkpoint)
                        .with_context(|| checkpoint.display().to_string())?;
                    (note, audit::read_export(&text)?)
                }
                _ => bail!("--node, or --export with --checkpoint"),
            };
            let origin = match origin {
                Some(origin) => origin,
                None => {
                    String::from_utf8_lossy(note.split(|b| *b == b'\n').next().unwrap_or_default())
                        .into_owned()
                }
            };
            let members = match &consortium {
                Some(path) => {
                    let amendments = match &amendments {
                        Some(path) => std::fs::read_to_string(path)
                            .with_context(|| path.display().to_string())?,
                        None => String::new(),
                    };
                    audit::members(
                        &std::fs::read_to_string(path)
                            .with_context(|| path.display().to_string())?,
                        &amendments,
                    )?
                }
                None if amendments.is_some() => bail!("--amendments amend a --consortium genesis"),
                None => Vec::new(),
            };
            let log_key = match (
                log_key,
                members
                    .iter()
                    .find(|(did, _)| format!("{did}/audit") == origin),
            ) {
                (Some(key), _) => vouch_core::key::PublicKey::from_multibase(&key)
                    .map_err(|e| anyhow::anyhow!("--log-key: {e}"))?,
                (None, Some((_, key))) => *key,
                (None, None) => bail!("--log-key, or --consortium naming the log's member"),
            };
            let mut known: Vec<(String, vouch_core::key::PublicKey)> = members
                .iter()
                .filter(|(did, _)| format!("{did}/audit") != origin)
                .map(|(did, key)| (format!("{did}/witness"), *key))
                .collect();
            for witness in &witnesses {
                let (name, key) = witness
                    .split_once('=')
                    .with_context(|| format!("--witness {witness}: NAME=KEY"))?;
                let key = vouch_core::key::PublicKey::from_multibase(key)
                    .map_err(|e| anyhow::anyhow!("--witness {name}: {e}"))?;
                known.push((name.to_owned(), key));
            }
            // The log up to the checkpoint its witnesses cosigned, then all of it.
            if !known.is_empty() {
                let node = node
                    .as_deref()
                    .context("witnesses are checked on a live node (--node)")?;
                let quorum = quorum.unwrap_or(known.len() / 2 + 1);
                let cosigned = audit::check_cosigned(
                    &audit::fetch_witnessed(node, &origin)?,
                    &origin,
                    &log_key,
                    &known,
                    quorum,
                )?;
                match audit::check(&entries, &cosigned.note, &origin, &log_key)? {
                    Finding::Verified { size, root } => println!(
                        "witnessed: {size} entries, root {root}, cosigned by {} of {} witnesses",
                        cosigned.cosigners.len(),
                        known.len()
                    ),
                    Finding::Tampered { at, what } => {
                        println!(
                            "NOT verified against the checkpoint {} witnesses cosigned: entry {at}: {what}",
                            cosigned.cosigners.len()
                        );
                        return Ok(ExitCode::from(1));
                    }
                }
            }
            match audit::check(&entries, &note, &origin, &log_key)? {
                Finding::Verified { size, root } => {
                    println!("verified: {size} entries, root {root}");
                    Ok(ExitCode::SUCCESS)
                }
                Finding::Tampered { at, what } => {
                    println!("NOT verified: entry {at}: {what}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        AuditCommand::Export {
            wallet,
            key,
            checkpoint,
        } => {
            let pair = keyfile::read(&key)?;
            let log = wallet_log(&wallet, &pair)?;
            let note = log.checkpoint(&pair)?;
            let mut out = std::io::stdout().lock();
            let mut from = 0;
            loop {
                let page = log.entries(from)?;
                if page.is_empty() {
                    break;
                }
                from += page.len() as u64;
                for entry in page {
                    writeln!(out, "{}", serde_json::to_string(&entry)?)?;
                }
            }
            std::fs::write(&checkpoint, note).with_context(|| checkpoint.display().to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Show { node, task, agent } => {
            let (_, entries) = audit::fetch(&node)?;
            for entry in entries.iter().filter(|e| {
                task.as_ref().is_none_or(|t| e.task.as_ref() == Some(t))
                    && agent.as_ref().is_none_or(|a| e.agent.as_ref() == Some(a))
            }) {
                println!("{}", serde_json::to_string(entry)?);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn agent(command: AgentCommand) -> Result<ExitCode> {
    match command {
        AgentCommand::BindingProof {
            key,
            definition,
            node,
        } => {
            let pair = keyfile::read(&key)?;
            let proof =
                NodeClient::new(node_url(&node)?).binding_proof(&pair, &definition, Utc::now())?;
            print_json(&proof)?;
            Ok(ExitCode::SUCCESS)
        }
        AgentCommand::Approve {
            owner_key,
            id,
            node,
            refuse,
        } => {
            let pair = keyfile::read(&owner_key)?;
            let client = NodeClient::new(node_url(&node)?);
            let pending = client.approval(&id)?;
            // What is approved, shown before it is signed.
            eprintln!(
                "{} asks {} on {} with {} (under {})",
                pending["agent"].as_str().unwrap_or("?"),
                pending["request"]["action"].as_str().unwrap_or("?"),
                pending["request"]["resource"].as_str().unwrap_or("?"),
                pending["request"]["arguments"],
                pending["credential"].as_str().unwrap_or("?"),
            );
            let decided = client.decide_approval(
                &pair,
                &pending,
                if refuse { "refuse" } else { "approve" },
            )?;
            print_json(&decided)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn key(command: KeyCommand) -> Result<ExitCode> {
    match command {
        KeyCommand::Generate { out, json } => {
            let pair = KeyPair::generate();
            keyfile::write(&out, &pair)?;
            let did = did_key::did_of(&pair.public());
            if json {
                print_json(&serde_json::json!({ "did": did, "file": out }))?;
            } else {
                say(did.as_str())?;
            }
        }
        KeyCommand::Did { key, json } => {
            let did = did_key::did_of(&keyfile::read(&key)?.public());
            if json {
                print_json(&serde_json::json!({ "did": did }))?;
            } else {
                say(did.as_str())?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
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

fn credential(command: CredentialCommand) -> Result<ExitCode> {
    match command {
        CredentialCommand::Sign {
            key,
            suite,
            created,
        } => {
            let pair = keyfile::read(&key)?;
            let unsigned = read_stdin_json()?;
            // Nothing is signed that conforming verifiers must reject (VC Data Model 2.0), nor
            // a term no context defines (under either suite).
            vouch_core::datamodel::check_credential(&unsigned)
                .and_then(|()| vouch_core::datamodel::check_terms(&unsigned))
                .map_err(|e| anyhow::anyhow!("not signed: {e}"))?;
            let options = ProofOptions {
                cryptosuite: suite,
                created: created.unwrap_or_else(Utc::now),
                verification_method: did_key::verification_method_of(&pair.public()),
                purpose: Relationship::AssertionMethod,
                challenge: None,
                domain: None,
                expires: None,
            };
            print_json(&proof::sign(&unsigned, &options, &pair)?)?;
            Ok(ExitCode::SUCCESS)
        }
        CredentialCommand::Verify { verify: args } => {
            let credential = read_stdin_json()?;
            let known = Known::read(&args, &[&credential])?;
            let verifier = known.verifier(&args);
            let report = if verify::is_agent_credential(&credential) {
                verify::verify_credential(&credential, &verifier).0
            } else {
                verify::verify_generic_credential(&credential, &verifier)
            };
            print_report(&report, args.json)
        }
        CredentialCommand::Issue {
            key,
            issuer_log,
            to,
            capabilities,
            agent,
            principal,
            task,
            purpose,
            minutes,
            max_renewals,
            max_depth,
            audience,
            suite,
            now,
        } => {
            let pair = keyfile::read(&key)?;
            let (issuer, vm) = issuer_of(&pair, issuer_log.as_deref())?;
            let now = now.unwrap_or_else(Utc::now);
            let lifetime = Duration::minutes(minutes.into());
            // Every credential of the lineage may be valid for `lifetime`; the lineage ends after
            // the first and each renewal, or at the last representable time.
            let not_after = lifetime
                .checked_mul(max_renewals.saturating_add(1).try_into().unwrap_or(i32::MAX))
                .and_then(|span| now.checked_add_signed(span))
                .with_context(|| {
                    format!("--now {now} with {max_renewals} renewals ends past the last representable time")
                })?;
            let credential = RootGrant {
                issuer,
                subject: to,
                agent: read_agent(&agent)?,
                principal,
                task: Task {
                    id: task,
                    purpose_hash: Multihash::of(purpose.as_bytes()),
                },
                capabilities: read_capabilities(&capabilities)?,
                audience,
                valid_from: now,
                lifetime,
                max_renewals,
                not_after,
                max_depth,
                status: Vec::new(),
            }
            .build()?;
            print_json(&delegation::sign_credential(
                &credential,
                &pair,
                vm,
                suite,
                now,
            )?)?;
            Ok(ExitCode::SUCCESS)
        }
        CredentialCommand::Delegate {
            key,
            parent,
            to,
            capabilities,
            valid_until,
            suite,
            now,
            node,
            ancestor,
            wallet,
        } => {
            let pair = keyfile::read(&key)?;
            let now = now.unwrap_or_else(Utc::now);
            let parent_json = read_json_file(&parent)?;
            let parent = AgentCapabilityCredential::from_json(&parent_json)?;
            let holder = did_key::did_of(&pair.public());
            if parent.credential_subject.id != holder {
                bail!(
                    "{holder} does not hold the parent credential; its holder is {}",
                    parent.credential_subject.id
                );
            }
            let valid_until = valid_until.unwrap_or(parent.valid_until);
            let child = delegation::delegate(
                &parent,
                to,
                read_capabilities(&capabilities)?,
                valid_until,
                now,
            )?;
            if let Some(node) = node {
                let mut chain = ancestor
                    .iter()
                    .map(|path| read_json_file(path))
                    .collect::<Result<Vec<_>>>()?;
                chain.push(parent_json);
                let signed = NodeClient::new(node_url(&node)?)
                    .register_delegation(&pair, chain, &child, suite, now)?;
                record_delegation(wallet.as_deref(), &pair, &parent, &signed, now)?;
                print_json(&signed)?;
                return Ok(ExitCode::SUCCESS);
            }
            let vm = did_key::verification_method_of(&pair.public());
            let signed = delegation::sign_credential(&child, &pair, vm, suite, now)?;
            record_delegation(wallet.as_deref(), &pair, &parent, &signed, now)?;
            eprintln!(
                "vouch: not registered with a node (--node): no status entry, so no revocation reaches it, and verifiers refuse it (status_missing) unless told otherwise"
            );
            print_json(&signed)?;
            Ok(ExitCode::SUCCESS)
        }
        CredentialCommand::Renew {
            key,
            credential,
            node,
            minutes,
            wallet,
        } => {
            let pair = keyfile::read(&key)?;
            let current = read_json_file(&credential)?;
            let now = Utc::now();
            let renewed = NodeClient::new(node_url(&node)?).renew(
                &pair,
                &current,
                Duration::minutes(minutes.into()),
                now,
            )?;
            if let Some(wallet) = wallet {
                let entry = vouch_wallet::records::renewal_entry(
                    current["id"].as_str().unwrap_or_default(),
                    renewed["credentialSubject"]["task"]["id"]
                        .as_str()
                        .unwrap_or_default(),
                    &renewed,
                );
                wallet_log(&wallet, &pair)?.record(entry, now)?;
            }
            print_json(&renewed)?;
            Ok(ExitCode::SUCCESS)
        }
    }
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

fn presentation(command: PresentationCommand) -> Result<ExitCode> {
    match command {
        PresentationCommand::Create {
            key,
            challenge,
            domain,
            suite,
            credentials,
        } => {
            let pair = keyfile::read(&key)?;
            let credentials = credentials
                .iter()
                .map(|path| read_json_file(path))
                .collect::<Result<Vec<_>>>()?;
            let vp = vouch_core::presentation::create(
                &pair,
                credentials,
                &challenge,
                &domain,
                suite,
                Utc::now(),
            )?;
            print_json(&vp)?;
            Ok(ExitCode::SUCCESS)
        }
        PresentationCommand::Verify {
            challenge,
            domain,
            verify: args,
        } => {
            let vp = read_json_limited(std::io::stdin().lock(), "stdin", MAX_PRESENTATION_BYTES)?;
            let presented: Vec<&Value> = vp["verifiableCredential"]
                .as_array()
                .map(|list| list.iter().collect())
                .unwrap_or_default();
            let known = Known::read(&args, &presented)?;
            let verifier = known.verifier(&args);
            let verified =
                vouch_core::presentation::verify_presentation(&vp, &challenge, &domain, &verifier);
            print_report(&verified.report, args.json)
        }
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

fn did(command: DidCommand) -> Result<ExitCode> {
    match command {
        DidCommand::Resolve {
            did,
            log,
            version_id,
            version_time,
        } => {
            let did = Did::parse(&did)?;
            let selector = match (version_id, version_time) {
                (Some(id), _) => VersionSelector::Id(id),
                (None, Some(time)) => VersionSelector::Time(time),
                (None, None) => VersionSelector::Latest,
            };
            let resolved = match (did.method(), log) {
                ("key", None) if selector == VersionSelector::Latest => {
                    let document = did_key::resolve(&did, did_key::KeyFormat::Multikey)
                        .map_err(|e| ResolveError::InvalidDid(e.to_string()));
                    document.map(|d| ResolutionResult::found(d, DocumentMetadata::default()))
                }
                ("key", None) => bail!("a did:key has a single version"),
                (did_vouch::METHOD, Some(path)) => {
                    let log = didlog::read(&path)?;
                    did_vouch::check_did(&did)
                        .and_then(|()| match log.did() == &did {
                            true => log.resolve(selector),
                            false => Err(ResolveError::NotFound(did.clone())),
                        })
                        .map(|r| ResolutionResult::found(r.document, r.metadata))
                }
                (did_vouch::METHOD, None) => {
                    bail!("resolving a did:vouch needs its log: --log FILE")
                }
                (_, Some(_)) => bail!("--log is for did:vouch only"),
                (method, None) => Err(ResolveError::MethodNotSupported(method.to_owned())),
            };
            // A malformed DID is unusable input; a well-formed one that does not resolve is a
            // negative answer.
            let code = match &resolved {
                Ok(_) => ExitCode::SUCCESS,
                Err(ResolveError::InvalidDid(_)) => ExitCode::from(2),
                Err(_) => ExitCode::from(1),
            };
            print_json(&resolved.unwrap_or_else(|e| ResolutionResult::failed(&e)))?;
            Ok(code)
        }
        DidCommand::Create(change) => {
            let op = &change.operation;
            let (did, genesis) = did_vouch::create(
                change.document()?,
                &op.update_key()?,
                &change.next_update_keys()?,
                op.created(),
            )?;
            didlog::create(&op.log, &DidLog::new(genesis)?)?;
            print_did_change(&did, 1, op.json)
        }
        DidCommand::Update(change) => {
            let op = &change.operation;
            let mut log = didlog::read(&op.log)?;
            let operation = did_vouch::update(
                &log,
                change.document()?,
                &op.update_key()?,
                &change.next_update_keys()?,
                op.created(),
            )?;
            didlog::append(&op.log, &mut log, operation)?;
            print_did_change(log.did(), log.version(), op.json)
        }
        DidCommand::Deactivate(op) => {
            let mut log = didlog::read(&op.log)?;
            let operation = did_vouch::deactivate(&log, &op.update_key()?, op.created())?;
            didlog::append(&op.log, &mut log, operation)?;
            print_did_change(log.did(), log.version(), op.json)
        }
    }
}

fn print_did_change(did: &Did, version: u64, json: bool) -> Result<ExitCode> {
    if json {
        print_json(&serde_json::json!({ "did": did, "versionId": version.to_string() }))?;
    } else {
        say(&format!("{did} version {version}"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The audit log of the wallet in `dir`, whose instance `pair` is.
fn wallet_log(dir: &std::path::Path, pair: &KeyPair) -> Result<vouch_wallet::store::WalletLog> {
    let instance = did_key::did_of(&pair.public());
    let store = vouch_wallet::store::WalletStore::open(dir, &instance)
        .with_context(|| dir.display().to_string())?;
    Ok(std::sync::Arc::new(store).log(&instance))
}

/// Records a delegation in the wallet's audit log, when there is one.
fn record_delegation(
    wallet: Option<&std::path::Path>,
    pair: &KeyPair,
    parent: &AgentCapabilityCredential,
    signed: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(wallet) = wallet else {
        return Ok(());
    };
    let entry = vouch_wallet::records::delegation_entry(parent, signed);
    wallet_log(wallet, pair)?.record(entry, now)?;
    Ok(())
}

fn secret_of(args: &SecretArgs) -> Result<vouch_wallet::keystore::Secret> {
    use vouch_wallet::keystore::Secret;
    match (&args.passphrase_file, &args.raw_key_file) {
        (Some(path), _) => {
            let text = zeroize::Zeroizing::new(
                std::fs::read_to_string(path).with_context(|| path.display().to_string())?,
            );
            let line = text.lines().next().unwrap_or_default();
            if line.is_empty() {
                bail!("{}: an empty passphrase", path.display());
            }
            Ok(Secret::Passphrase(zeroize::Zeroizing::new(line.to_owned())))
        }
        (None, Some(path)) => Ok(Secret::raw_from_file(path)?),
        (None, None) => bail!("--passphrase-file or --raw-key-file"),
    }
}

/// The capabilities given as JSON arguments.
fn capabilities_of(arguments: &[String]) -> Result<Vec<Value>> {
    arguments
        .iter()
        .map(|c| serde_json::from_str::<Value>(c).with_context(|| format!("--capability {c}")))
        .collect()
}

/// Prints each capability's decision, one per line: `accepted <action> <resource>` or
/// `rejected <action> <resource>: <reason>`. Success only if every one was accepted.
fn print_decisions(decisions: &Value) -> ExitCode {
    let mut all = true;
    for decided in decisions.as_array().into_iter().flatten() {
        let capability = &decided["capability"];
        let (action, resource) = (
            capability["action"].as_str().unwrap_or("?"),
            capability["resource"].as_str().unwrap_or("?"),
        );
        match decided["reason"].as_str() {
            None => println!("accepted {action} {resource}"),
            Some(reason) => {
                all = false;
                println!("rejected {action} {resource}: {reason}");
            }
        }
    }
    if all {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Sends one request to the daemon at `socket`; its answer's `ok`, or its refusal.
fn ask_daemon(socket: &Path, request: Request) -> Result<Value> {
    Ok(DaemonClient::new(socket).ask(&request)?)
}

fn wallet(command: WalletCommand) -> Result<ExitCode> {
    use vouch_wallet::{daemon, keystore};
    match command {
        WalletCommand::Seal { key, out, secret } => {
            let pair = keyfile::read(&key)?;
            let sealed = keystore::seal(&pair, &secret_of(&secret)?, keystore::Cost::default())?;
            keystore::write(&out, &sealed)?;
            println!("{}", sealed.did());
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::Serve {
            wallet,
            sealed_key,
            secret,
            ephemeral,
            socket,
            node,
            consortium,
            listen,
            status_refresh_ms,
            card_listen,
            card_name,
            card_description,
            card_url,
        } => {
            let card = card_name.map(|name| daemon::CardAsk {
                name,
                description: card_description,
                url: card_url,
                version: None,
            });
            let listen = listen
                .iter()
                .map(|a| {
                    a.parse::<vouch_wallet::p2p::Multiaddr>()
                        .with_context(|| format!("--listen {a}"))
                })
                .collect::<Result<Vec<_>>>()?;
            let pair = match (ephemeral, &sealed_key) {
                (true, _) => {
                    let pair = KeyPair::generate();
                    vouch_wallet::log_line!(
                        "ephemeral instance {} (its key in memory only)",
                        did_key::did_of(&pair.public())
                    );
                    pair
                }
                (false, Some(sealed)) => keystore::read(sealed, &secret_of(&secret)?, None)?,
                (false, None) => bail!("--sealed-key or --ephemeral"),
            };
            // The daemon's own uid (Linux: the owner of /proc/self): the one caller it answers.
            let uid =
                std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m))?;
            let mut state = daemon::Daemon::open(&wallet, pair, uid)?;
            if let Some(node) = &node {
                let freshness = vouch_wallet::knowledge::Freshness {
                    lists: std::time::Duration::from_millis(status_refresh_ms),
                    ..Default::default()
                };
                if consortium.is_none() {
                    vouch_wallet::log_line!(
                        "no --consortium: no issuer is trusted; capabilities shown to this agent are rejected untrusted_issuer"
                    );
                }
                state = state.with_node(node_url(node)?, consortium, freshness);
            }
            let state = std::sync::Arc::new(state);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(async {
                // The card is checked, and its port taken, before the socket is: a bad flag
                // leaves nothing behind.
                let card_listener = match (card_listen, card) {
                    (Some(at), Some(card)) => {
                        state
                            .card(card.clone())
                            .map_err(|e| anyhow::anyhow!("the agent card: {}", e.message))?;
                        let listener = tokio::net::TcpListener::bind(at)
                            .await
                            .with_context(|| format!("--card-listen {at}"))?;
                        Some((listener, card))
                    }
                    _ => None,
                };
                let listener =
                    daemon::bind(&socket).with_context(|| socket.display().to_string())?;
                let (stop, stopped) = tokio::sync::watch::channel(false);
                let mut network_stop = stopped.clone();
                let addresses = state
                    .join(&listen, async move {
                        let _ = network_stop.wait_for(|s| *s).await;
                    })
                    .await?;
                vouch_wallet::log_line!("wallet daemon listening on {}", socket.display());
                for address in addresses {
                    vouch_wallet::log_line!("exchanges at {address}");
                }
                if let Some((listener, card)) = card_listener {
                    let bound = listener.local_addr()?;
                    let mut card_stop = stopped.clone();
                    tokio::spawn(daemon::serve_card(
                        state.clone(),
                        listener,
                        card,
                        async move {
                            let _ = card_stop.wait_for(|s| *s).await;
                        },
                    ));
                    vouch_wallet::log_line!(
                        "agent card at http://{bound}/.well-known/agent-card.json"
                    );
                }
                let mut tending_stop = stopped.clone();
                let tending = tokio::spawn(daemon::tend(
                    state.clone(),
                    std::time::Duration::from_secs(30),
                    async move {
                        let _ = tending_stop.wait_for(|s| *s).await;
                    },
                ));
                // Until SIGINT or SIGTERM: then the socket is removed and the database closed.
                let mut terminate =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                daemon::serve(listener, state, async move {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = terminate.recv() => {}
                    }
                })
                .await;
                let _ = stop.send(true);
                let _ = tending.await;
                anyhow::Ok(())
            })?;
            let _ = std::fs::remove_file(&socket);
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::Credentials { socket, task } => {
            let held = ask_daemon(&socket, Request::Credentials { task })?;
            for credential in held.as_array().into_iter().flatten() {
                println!("{credential}");
            }
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::Add {
            socket,
            credential,
            chain,
        } => {
            let mut credential = read_json_file(&credential)?;
            let mut chain = chain
                .iter()
                .map(|path| read_json_file(path))
                .collect::<Result<Vec<_>>>()?;
            // A delegation as `vouch wallet delegate` prints it: the credential and its chain.
            if let Some(bundle) = credential.as_object()
                && bundle.len() == 2
                && let (Some(inner), Some(Value::Array(above))) =
                    (bundle.get("credential"), bundle.get("chain"))
            {
                chain.extend(above.iter().cloned());
                credential = inner.clone();
            }
            let answer = ask_daemon(&socket, Request::AddCredential { credential, chain })?;
            println!("{answer}");
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::Delegate {
            socket,
            parent,
            to,
            capabilities,
        } => {
            let capabilities = serde_json::from_value(read_json_file(&capabilities)?)
                .context("the capabilities are a JSON list")?;
            let delegated = ask_daemon(
                &socket,
                Request::Delegate {
                    parent,
                    to,
                    capabilities,
                    valid_until: None,
                },
            )?;
            println!("{delegated}");
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::BindingProof { socket, definition } => {
            let proof = ask_daemon(&socket, Request::BindingProof { definition })?;
            print_json(&proof)?;
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::RequestApproval { socket, request } => {
            let request: serde_json::Value =
                serde_json::from_str(&request).context("--request is a JSON object")?;
            let pending = ask_daemon(&socket, Request::RequestApproval { request })?;
            print_json(&pending)?;
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::Approval { socket, id } => {
            let pending = ask_daemon(&socket, Request::ApprovalStatus { id })?;
            print_json(&pending)?;
            Ok(if pending["standing"] == "approved" {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        WalletCommand::Identity { socket } => {
            println!("{}", ask_daemon(&socket, Request::Identity {})?);
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::Exchange {
            socket,
            peer,
            capabilities,
            query,
            present,
        } => {
            let capabilities = capabilities_of(&capabilities)?;
            let query = query.as_deref().map(read_json_file).transpose()?;
            let answer = ask_daemon(
                &socket,
                Request::Exchange(ExchangeAsk {
                    peer,
                    capabilities,
                    query,
                    domain: None,
                    present: (!present.is_empty()).then_some(present),
                }),
            )?;
            println!("{}", answer["decision"]);
            Ok(print_decisions(&answer["decisions"]))
        }
        WalletCommand::Prove {
            socket,
            node,
            capabilities,
            query,
        } => {
            let capabilities = capabilities_of(&capabilities)?;
            let query = query.as_deref().map(read_json_file).transpose()?;
            let client = vouch_wallet::node::NodeClient::new(node_url(&node)?);
            let (id, request) = client.open_exchange(&capabilities, query.as_ref())?;
            let response = ask_daemon(&socket, Request::Answer { request })?;
            let decided = client.answer_exchange(&id, &response)?;
            // The daemon checks the decision (signed by the node it authenticated, for this
            // exchange, once) before it is believed.
            let checked = ask_daemon(
                &socket,
                Request::Accept {
                    decision: decided["decision"].clone(),
                },
            )?;
            println!("{}", decided["decision"]);
            Ok(print_decisions(&checked["decisions"]))
        }
    }
}
