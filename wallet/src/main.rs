//! `vouch`: the agent's command line. Thin: it parses arguments, reads files and stdin, calls
//! `vouch-core` and `vouch-wallet`, and maps results to output and exit codes.
//!
//! Exit codes: 0 success (or verified), 1 verification failed (the report says why), 2 unusable
//! input or arguments.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use serde_json::Value;
use vouch_core::credential::MAX_CREDENTIAL_BYTES;
use vouch_core::did::document::Relationship;
use vouch_core::did::resolve::DidKeyResolver;
use vouch_core::did::{Did, key as did_key};
use vouch_core::key::KeyPair;
use vouch_core::proof::{self, Cryptosuite, ProofOptions};
use vouch_core::report::Report;
use vouch_core::verify::{self, Verifier};
use vouch_wallet::keyfile;

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
    /// DIDs.
    #[command(subcommand)]
    Did(DidCommand),
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
        #[arg(long)]
        created: Option<DateTime<Utc>>,
    },
    /// Verifies the credential on stdin.
    Verify {
        /// Verify as of this time (RFC 3339); now by default.
        #[arg(long)]
        now: Option<DateTime<Utc>>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum DidCommand {
    /// Resolves a DID to its DID document.
    Resolve {
        /// The DID.
        did: String,
    },
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
        Command::Did(command) => did(command),
    };
    result.map_err(Unusable)
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
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
                println!("{did}");
            }
        }
        KeyCommand::Did { key, json } => {
            let did = did_key::did_of(&keyfile::read(&key)?.public());
            if json {
                print_json(&serde_json::json!({ "did": did }))?;
            } else {
                println!("{did}");
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
    let mut text = String::new();
    reader
        .take(MAX_CREDENTIAL_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("reading {name}"))?;
    if text.len() > MAX_CREDENTIAL_BYTES {
        bail!("{name} is larger than {MAX_CREDENTIAL_BYTES} bytes");
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
            };
            print_json(&proof::sign(&unsigned, &options, &pair)?)?;
            Ok(ExitCode::SUCCESS)
        }
        CredentialCommand::Verify { now, json } => {
            let credential = read_stdin_json()?;
            let verifier = Verifier::new(&DidKeyResolver, now.unwrap_or_else(Utc::now));
            let report = if verify::is_agent_credential(&credential) {
                verify::verify_credential(&credential, &verifier).0
            } else {
                verify::verify_generic_credential(&credential, &verifier)
            };
            print_report(&report, json)
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
            println!("{outcome} {}{subject}{reason}{detail}", check.check);
        }
        println!(
            "{}",
            if report.verified {
                "verified"
            } else {
                "NOT verified"
            }
        );
    }
    Ok(if report.verified {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn did(command: DidCommand) -> Result<ExitCode> {
    match command {
        DidCommand::Resolve { did } => {
            let did = Did::parse(&did)?;
            let document = did_key::resolve(&did, did_key::KeyFormat::Multikey)?;
            print_json(&document)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
