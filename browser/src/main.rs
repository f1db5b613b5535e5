//! `vouch-browser`: the owner's browser of the demo. Opens a page of a Vouch node in headless
//! Chromium with the owner's device (a virtual authenticator whose passkeys live in a file),
//! presses the page's button as the owner would, and prints what the page answered.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vouch_browser::Device;

/// The owner's browser: a node's passkey pages, in headless Chromium.
#[derive(Parser)]
#[command(name = "vouch-browser", version)]
struct Cli {
    /// The owner's device: a file of passkeys (private keys: mode 0600), created when missing.
    #[arg(long, global = true, default_value = "owner-device.json")]
    device: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Registers a passkey through an enrolment link (`…/owners/enrol#token`).
    Enrol {
        /// The link the node gave.
        link: String,
    },
    /// Approves the request of an approval page (`…/approve/{id}`).
    Approve {
        /// The page.
        page: String,
    },
    /// Refuses the request of an approval page.
    Refuse {
        /// The page.
        page: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (url, button, done) = match &cli.cmd {
        Cmd::Enrol { link } => (link, "#enrol", "enrolled"),
        Cmd::Approve { page } => (page, "#approve", "approved"),
        Cmd::Refuse { page } => (page, "#refuse", "refused"),
    };
    let run = || -> anyhow::Result<(String, String)> {
        let mut device = Device::open(&cli.device)?;
        let browser = device.browser();
        browser.open(url)?;
        browser.click(button)?;
        let outcome = browser.outcome()?;
        device.save()?;
        Ok(outcome)
    };
    match run() {
        Ok((kind, text)) if kind == done => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Ok((_, text)) => {
            eprintln!("vouch-browser: the page answered: {text}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("vouch-browser: {e:#}");
            ExitCode::FAILURE
        }
    }
}
