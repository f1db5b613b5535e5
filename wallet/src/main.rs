//! `vouch`: the agent's command line. Thin: it parses arguments, reads files and stdin, calls
//! `vouch-core` and `vouch-wallet`, and maps results to output and exit codes.
//!
//! Exit codes: 0 success (or verified), 1 verification failed (the report says why), 2 unusable
//! input or arguments.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Duration, Utc};
use clap::{Parser, Subcommand};
use serde_json::Value;
use vouch_core::capability::Action;
use vouch_core::credential::{
    AgentCapabilityCredential, AgentDescription, DefinitionHash, MAX_CREDENTIAL_BYTES, Multihash,
    Task,
};
use vouch_core::delegation::{self, RootGrant};
use vouch_core::did::document::Relationship;
use vouch_core::did::resolve::{DocumentMetadata, ResolutionResult};
use vouch_core::did::vouch::{self, DidLog, DocumentContent, VersionSelector};
use vouch_core::did::{Did, DidUrl, ResolveError, key as did_key};
use vouch_core::key::{KeyPair, PublicKey};
use vouch_core::proof::{self, Cryptosuite, ProofOptions};
use vouch_core::report::Report;
use vouch_core::verify::{self, TrustList, Verifier};

/// The largest presentation read: its credentials and some room for the envelope.
const MAX_PRESENTATION_BYTES: usize =
    vouch_core::presentation::MAX_CREDENTIALS * MAX_CREDENTIAL_BYTES;
use vouch_wallet::sources::{HttpResolver, MAX_RESPONSE_BYTES, Sources};
use vouch_wallet::{didlog, keyfile};

/// The largest status list credential read from a file: as large as a resolver's answer.
const MAX_STATUS_LIST_BYTES: usize = MAX_RESPONSE_BYTES as usize;

#[derive(Parser)]
#[command(
    name = "vouch",
    version,
    about = "Keys, credentials and presentations for AI agents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Key pairs.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Verifiable credentials.
    #[command(subcommand)]
    Credential(CredentialCommand),
    /// Verifiable presentations.
    #[command(subcommand)]
    Presentation(PresentationCommand),
    /// DIDs.
    #[command(subcommand)]
    Did(DidCommand),
}

/// Options every verification takes.
#[derive(clap::Args)]
struct VerifyArgs {
    /// Verify as of this time (RFC 3339); now by default.
    #[arg(long, value_parser = parse_time)]
    now: Option<DateTime<Utc>>,
    /// Trust this issuer DID for every action (repeatable). A verifier told nothing trusts
    /// nothing: without a trusted issuer, no credential verifies.
    #[arg(long = "trust", value_name = "DID")]
    trust: Vec<Did>,
    /// DANGER: check proofs, validity and chain structure only. Issuer trust and status are then
    /// reported as skipped, so an untrusted or revoked credential verifies. Never for a decision.
    #[arg(long)]
    danger_proofs_only: bool,
    /// The agent definition digest (zQm…) every credential must describe; else
    /// definition_mismatch.
    #[arg(long, value_name = "DIGEST", value_parser = parse_multihash)]
    expect_definition: Option<Multihash>,
    /// A did:vouch log (JSON Lines) to resolve that DID from (repeatable); did:key needs none.
    /// Two logs of one DID must agree: the longer is used.
    #[arg(long = "did-log", value_name = "FILE")]
    did_logs: Vec<PathBuf>,
    /// A signed status list credential to check status entries against (repeatable).
    #[arg(long = "status-list", value_name = "FILE")]
    status_lists: Vec<PathBuf>,
    /// A Vouch node's HTTP resolver (`http://host:port`): DID documents that no --did-log gives,
    /// and the status lists credentials name, come from it. Status lists are verified here.
    #[arg(long, value_name = "URL")]
    resolver: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Reads a time as RFC 3339 writes it: years 0000 to 9999, so that no time given can overflow
/// what is computed from it.
fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("not an RFC 3339 time (YYYY-MM-DDTHH:MM:SSZ, years 0000 to 9999): {e}")
        })
}

fn parse_multihash(s: &str) -> Result<Multihash, String> {
    Multihash::parse(s).ok_or_else(|| "not a SHA-256 multihash (zQm…)".to_owned())
}

#[derive(Subcommand)]
enum PresentationCommand {
    /// Presents credentials, signed by the holder's key over a verifier's challenge and domain.
    Create {
        /// The holder's key file.
        #[arg(long)]
        key: PathBuf,
        /// The verifier's challenge.
        #[arg(long)]
        challenge: String,
        /// The verifier's domain.
        #[arg(long)]
        domain: String,
        /// The cryptosuite.
        #[arg(long, default_value = "eddsa-rdfc-2022")]
        suite: Cryptosuite,
        /// The credential files: the holder's, and their delegation parents.
        #[arg(required = true)]
        credentials: Vec<PathBuf>,
    },
    /// Verifies the presentation on stdin against a challenge and domain.
    Verify {
        /// The challenge the presentation must answer.
        #[arg(long)]
        challenge: String,
        /// The domain it must be made for.
        #[arg(long)]
        domain: String,
        #[command(flatten)]
        verify: VerifyArgs,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Generates an Ed25519 key pair into a new file (mode 0600).
    Generate {
        /// The file to create; never overwritten.
        #[arg(long)]
        out: PathBuf,
        /// Print the DID as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Prints the did:key of a key pair.
    Did {
        /// The key file.
        #[arg(long)]
        key: PathBuf,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum CredentialCommand {
    /// Signs the unsigned credential on stdin and prints it signed.
    Sign {
        /// The signing key file.
        #[arg(long)]
        key: PathBuf,
        /// The cryptosuite.
        #[arg(long, default_value = "eddsa-rdfc-2022")]
        suite: Cryptosuite,
        /// The proof's `created` time (RFC 3339); now by default.
        #[arg(long, value_parser = parse_time)]
        created: Option<DateTime<Utc>>,
    },
    /// Verifies the credential on stdin.
    Verify {
        #[command(flatten)]
        verify: VerifyArgs,
    },
    /// Issues an AgentCapabilityCredential to an agent instance and prints it signed.
    Issue {
        /// The issuer's key file.
        #[arg(long)]
        key: PathBuf,
        /// Issue as the did:vouch of this log, whose current document lists `--key` as an
        /// assertion method; as the key's did:key without it.
        #[arg(long)]
        issuer_log: Option<PathBuf>,
        /// The agent instance's did:key.
        #[arg(long)]
        to: Did,
        /// A JSON file with the list of capabilities.
        #[arg(long)]
        capabilities: PathBuf,
        /// A JSON file describing the agent: name, version, owner, model, systemPrompt, tools,
        /// configuration. Only their hashes enter the credential.
        #[arg(long)]
        agent: PathBuf,
        /// The principal's pseudonym (`urn:vouch:principal:…`).
        #[arg(long)]
        principal: String,
        /// The task id.
        #[arg(long)]
        task: String,
        /// The task's purpose; only its hash enters the credential.
        #[arg(long)]
        purpose: String,
        /// Lifetime in minutes.
        #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=1440))]
        minutes: u32,
        /// Renewals allowed.
        #[arg(long, default_value_t = 4,
              value_parser = clap::value_parser!(u32).range(0..=i64::from(vouch_core::credential::MAX_RENEWALS)))]
        max_renewals: u32,
        /// Delegation depth allowed below the agent.
        #[arg(long, default_value_t = vouch_core::credential::DEFAULT_MAX_DEPTH,
              value_parser = clap::value_parser!(u32).range(0..=i64::from(vouch_core::credential::MAX_DEPTH_CAP)))]
        max_depth: u32,
        /// Pin to this audience (repeatable).
        #[arg(long)]
        audience: Vec<String>,
        /// The cryptosuite.
        #[arg(long, default_value = "eddsa-rdfc-2022")]
        suite: Cryptosuite,
        /// Issue as of this time (RFC 3339); now by default.
        #[arg(long, value_parser = parse_time)]
        now: Option<DateTime<Utc>>,
    },
    /// Delegates a narrower credential to a sub-agent, signed by the holder's key.
    Delegate {
        /// The holder's key file: the subject of the parent credential.
        #[arg(long)]
        key: PathBuf,
        /// The credential held.
        #[arg(long)]
        parent: PathBuf,
        /// The sub-agent's did:key.
        #[arg(long)]
        to: Did,
        /// A JSON file with the delegated capabilities; each must be within the parent's.
        #[arg(long)]
        capabilities: PathBuf,
        /// End of validity (RFC 3339); the parent's end by default.
        #[arg(long, value_parser = parse_time)]
        valid_until: Option<DateTime<Utc>>,
        /// The cryptosuite.
        #[arg(long, default_value = "eddsa-rdfc-2022")]
        suite: Cryptosuite,
        /// Delegate as of this time (RFC 3339); now by default.
        #[arg(long, value_parser = parse_time)]
        now: Option<DateTime<Utc>>,
    },
}

#[derive(Subcommand)]
enum DidCommand {
    /// Resolves a DID and prints the DID resolution result: did:key by computation, did:vouch
    /// from its operation log, verified from the genesis.
    Resolve {
        /// The DID.
        did: String,
        /// The did:vouch's operation log (JSON Lines).
        #[arg(long)]
        log: Option<PathBuf>,
        /// Resolve this version.
        #[arg(long, conflicts_with = "version_time")]
        version_id: Option<u64>,
        /// Resolve the version in force at this time (RFC 3339).
        #[arg(long, value_parser = parse_time)]
        version_time: Option<DateTime<Utc>>,
    },
    /// Creates a did:vouch: writes its genesis operation to a new log file and prints the DID.
    Create(DidChange),
    /// Updates a did:vouch to list a new key, signed by the update key its last version committed
    /// to.
    Update(DidChange),
    /// Deactivates a did:vouch for good.
    Deactivate(DidOperation),
}

/// What every did:vouch operation takes.
#[derive(clap::Args)]
struct DidOperation {
    /// The key that signs this operation: after the genesis, the one the last version committed
    /// to.
    #[arg(long)]
    update_key: PathBuf,
    /// The DID's log file (JSON Lines): created new, never overwritten, by `create`; replaced
    /// atomically by later operations.
    #[arg(long)]
    log: PathBuf,
    /// The operation's time (RFC 3339); now by default.
    #[arg(long, value_parser = parse_time)]
    created: Option<DateTime<Utc>>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// What creating or updating a did:vouch takes.
#[derive(clap::Args)]
struct DidChange {
    /// The key the document lists for authentication, assertion and capabilities (its X25519
    /// form for key agreement).
    #[arg(long)]
    key: PathBuf,
    /// The key that will sign the next operation; only its hash is published now.
    #[arg(long)]
    next_update_key: PathBuf,
    #[command(flatten)]
    operation: DidOperation,
}

impl DidChange {
    fn document(&self) -> Result<DocumentContent> {
        Ok(DocumentContent::single_key(
            &keyfile::read(&self.key)?.public(),
        ))
    }

    fn next_update_keys(&self) -> Result<[PublicKey; 1]> {
        Ok([keyfile::read(&self.next_update_key)?.public()])
    }
}

impl DidOperation {
    fn update_key(&self) -> Result<KeyPair> {
        Ok(keyfile::read(&self.update_key)?)
    }

    fn created(&self) -> DateTime<Utc> {
        self.created.unwrap_or_else(Utc::now)
    }
}

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

fn run(cli: Cli) -> Result<ExitCode, Unusable> {
    let result = match cli.command {
        Command::Key(command) => key(command),
        Command::Credential(command) => credential(command),
        Command::Presentation(command) => presentation(command),
        Command::Did(command) => did(command),
    };
    result.map_err(Unusable)
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
        } => {
            let pair = keyfile::read(&key)?;
            let now = now.unwrap_or_else(Utc::now);
            let parent = AgentCapabilityCredential::from_json(&read_json_file(&parent)?)?;
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
            let vm = did_key::verification_method_of(&pair.public());
            print_json(&delegation::sign_credential(&child, &pair, vm, suite, now)?)?;
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
        let mut sources = Sources::new();
        for path in &args.did_logs {
            sources
                .add_log(didlog::read(path)?)
                .with_context(|| format!("--did-log {}", path.display()))?;
        }
        if let Some(url) = &args.resolver {
            sources.set_resolver(HttpResolver::new(url)?);
        }
        for path in &args.status_lists {
            sources
                .add_status_list(&read_json_file_limited(path, MAX_STATUS_LIST_BYTES)?)
                .with_context(|| format!("--status-list {}", path.display()))?;
        }
        if args.resolver.is_some() {
            // As many as verification reads, no more, each once: the input is not checked yet.
            let mut urls: Vec<&str> = input
                .iter()
                .take(vouch_core::presentation::MAX_CREDENTIALS)
                .flat_map(|credential| credential["credentialStatus"].as_array())
                .flat_map(|entries| entries.iter().take(2))
                .filter_map(|entry| entry["statusListCredential"].as_str())
                .collect();
            urls.sort_unstable();
            urls.dedup();
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
                (vouch::METHOD, Some(path)) => {
                    let log = didlog::read(&path)?;
                    vouch::check_did(&did)
                        .and_then(|()| match log.did() == &did {
                            true => log.resolve(selector),
                            false => Err(ResolveError::NotFound(did.clone())),
                        })
                        .map(|r| ResolutionResult::found(r.document, r.metadata))
                }
                (vouch::METHOD, None) => bail!("resolving a did:vouch needs its log: --log FILE"),
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
            let (did, genesis) = vouch::create(
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
            let operation = vouch::update(
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
            let operation = vouch::deactivate(&log, &op.update_key()?, op.created())?;
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
