//! A real browser for the owner's side of Vouch: Debian's Chromium, headless, driven over the
//! Chrome DevTools protocol, with a virtual WebAuthn authenticator standing for the owner's
//! device. The node's tests open its passkey pages with it, and the demo's owner approves on
//! the page with it.
//!
//! The protocol runs over a pipe (`--remote-debugging-pipe`): Chromium reads commands from its
//! file descriptor 3 and writes answers and events to its descriptor 4, each message JSON
//! ended by a NUL byte. Commands to the page carry the `sessionId` of a flat session attached
//! to it. Every wait has a deadline.

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use command_fds::{CommandFdExt as _, FdMapping};
use serde_json::{Value, json};

/// How long one command or one page load may take.
pub const WAIT: Duration = Duration::from_secs(30);
/// The largest message taken from the browser.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// The most messages from Chromium waiting to be read.
const MAX_QUEUED_MESSAGES: usize = 1024;

/// Where Chromium is: `$VOUCH_CHROMIUM`, else the first of Debian's names on the `PATH`.
pub fn chromium() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("VOUCH_CHROMIUM") {
        return Ok(path.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    bail!(
        "no Chromium: apt-get install chromium (scripts/test.sh and scripts/demo.sh do), or set VOUCH_CHROMIUM"
    )
}

/// A headless Chromium with one page, attached.
pub struct Browser {
    child: Child,
    commands: std::io::PipeWriter,
    messages: mpsc::Receiver<Result<Value, String>>,
    /// Events read while waiting for an answer, in order.
    events: VecDeque<Value>,
    next: u64,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium headless on a fresh profile, with one blank page attached.
    pub fn start() -> Result<Self> {
        let profile = tempfile::tempdir().context("a profile folder")?;
        let (their_commands, commands) = std::io::pipe().context("a pipe")?;
        let (answers, their_answers) = std::io::pipe().context("a pipe")?;
        let mut command = Command::new(chromium()?);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
            .fd_mappings(vec![
                FdMapping {
                    parent_fd: their_commands.into(),
                    child_fd: 3,
                },
                FdMapping {
                    parent_fd: their_answers.into(),
                    child_fd: 4,
                },
            ])
            .context("the DevTools pipe's descriptors")?;
        let child = command.spawn().context("starting Chromium")?;
        // The child's ends are closed here (dropped with `command`): a browser that exits ends
        // the stream of answers.
        drop(command);
        // Bounded: a page that floods events holds Chromium back, not this process's memory.
        let (sender, messages) = mpsc::sync_channel(MAX_QUEUED_MESSAGES);
        std::thread::spawn(move || read_messages(answers, &sender));
        let mut browser = Self {
            child,
            commands,
            messages,
            events: VecDeque::new(),
            next: 0,
            session: String::new(),
            _profile: profile,
        };
        let target = browser.send(None, "Target.createTarget", json!({"url": "about:blank"}))?;
        let target = target["targetId"].clone();
        let attached = browser.send(
            None,
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        )?;
        browser.session = attached["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("no session: {attached}"))?
            .to_owned();
        browser.call("Page.enable", json!({}))?;
        browser.call("Runtime.enable", json!({}))?;
        Ok(browser)
    }

    /// Sends a command to the browser (`session: None`) or to a page, and waits for its answer.
    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> Result<Value> {
        self.next += 1;
        let id = self.next;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = session.into();
        }
        let mut bytes = serde_json::to_vec(&message)?;
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .with_context(|| format!("sending {method}: the browser is gone"))?;
        let deadline = Instant::now() + WAIT;
        loop {
            let message = self.receive(deadline, method)?;
            if message["id"] == id {
                if let Some(error) = message.get("error") {
                    bail!("{method}: {error}");
                }
                return Ok(message["result"].clone());
            }
            if message.get("method").is_some() {
                self.events.push_back(message);
            }
        }
    }

    fn receive(&mut self, deadline: Instant, waiting_for: &str) -> Result<Value> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.messages.recv_timeout(left) {
            Ok(Ok(message)) => Ok(message),
            Ok(Err(why)) => bail!("waiting for {waiting_for}: {why}"),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                bail!(
                    "waiting for {waiting_for}: no answer in {} s",
                    WAIT.as_secs()
                )
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                bail!("waiting for {waiting_for}: the browser is gone")
            }
        }
    }

    /// Sends a command to the page and waits for its answer.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value> {
        let session = self.session.clone();
        self.send(Some(&session), method, params)
    }

    /// Waits for the page's event `method`, past or to come.
    fn event(&mut self, method: &str) -> Result<Value> {
        if let Some(at) = self.events.iter().position(|e| e["method"] == method) {
            return Ok(self.events.remove(at).expect("found"));
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let message = self.receive(deadline, method)?;
            if message["method"] == method {
                return Ok(message);
            }
        }
    }

    /// Gives the page a virtual authenticator, as a platform passkey provider with user
    /// verification (a fingerprint, a PIN) that always succeeds: its id.
    pub fn add_authenticator(&mut self) -> Result<String> {
        self.call("WebAuthn.enable", json!({"enableUI": false}))?;
        let added = self.call(
            "WebAuthn.addVirtualAuthenticator",
            json!({"options": {
                "protocol": "ctap2",
                "ctap2Version": "ctap2_1",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserVerified": true,
                "automaticPresenceSimulation": true,
            }}),
        )?;
        added["authenticatorId"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no authenticator: {added}"))
    }

    /// The credentials an authenticator holds, private keys included: what a device file keeps.
    pub fn credentials(&mut self, authenticator: &str) -> Result<Vec<Value>> {
        let held = self.call(
            "WebAuthn.getCredentials",
            json!({"authenticatorId": authenticator}),
        )?;
        Ok(held["credentials"].as_array().cloned().unwrap_or_default())
    }

    /// Puts a credential (as [`Browser::credentials`] gave it) in an authenticator.
    pub fn add_credential(&mut self, authenticator: &str, credential: &Value) -> Result<()> {
        self.call(
            "WebAuthn.addCredential",
            json!({"authenticatorId": authenticator, "credential": credential}),
        )?;
        Ok(())
    }

    /// Opens `url` in the page, anew (from a blank page: a link that differs from the page
    /// shown only by its fragment is loaded too), and waits until it has loaded.
    pub fn open(&mut self, url: &str) -> Result<()> {
        for url in ["about:blank", url] {
            self.events.retain(|e| e["method"] != "Page.loadEventFired");
            let navigated = self.call("Page.navigate", json!({"url": url}))?;
            if let Some(error) = navigated.get("errorText") {
                bail!("opening {url}: {error}");
            }
            self.event("Page.loadEventFired")?;
        }
        Ok(())
    }

    /// Evaluates `expression` in the page, as a user's gesture, awaiting a promise: its value.
    pub fn eval(&mut self, expression: &str) -> Result<Value> {
        let result = self.call(
            "Runtime.evaluate",
            json!({
                "expression": expression,
                "awaitPromise": true,
                "returnByValue": true,
                "userGesture": true,
            }),
        )?;
        if let Some(exception) = result.get("exceptionDetails") {
            let text = exception["exception"]["description"]
                .as_str()
                .or_else(|| exception["text"].as_str())
                .unwrap_or("an exception");
            bail!("{text}");
        }
        Ok(result["result"]["value"].clone())
    }

    /// Clicks the element `selector` selects, as the user would.
    pub fn click(&mut self, selector: &str) -> Result<()> {
        let selector = serde_json::to_string(selector)?;
        let clicked = self.eval(&format!(
            "(() => {{ const e = document.querySelector({selector}); \
             if (!e || e.disabled) return false; e.click(); return true; }})()"
        ))?;
        if clicked != true {
            bail!("nothing to click at {selector}");
        }
        Ok(())
    }

    /// Waits until the page's `#outcome` says how an action ended (its `data-kind` other than
    /// `busy`): the kind and the text. The page tells, through a mutation observer: nothing is
    /// polled; the wait is the protocol's, [`WAIT`] at most.
    pub fn outcome(&mut self) -> Result<(String, String)> {
        let seen = self.eval(
            "new Promise((resolve) => {
               const outcome = document.getElementById('outcome');
               if (!outcome) { resolve(['', '']); return; }
               const said = () => outcome.dataset.kind && outcome.dataset.kind !== 'busy';
               const answer = () => resolve([outcome.dataset.kind, outcome.textContent]);
               if (said()) { answer(); return; }
               new MutationObserver((_, observer) => {
                 if (said()) { observer.disconnect(); answer(); }
               }).observe(outcome, { attributes: true, childList: true, characterData: true, subtree: true });
             })",
        )?;
        let kind = seen[0].as_str().unwrap_or_default();
        if kind.is_empty() {
            bail!("the page has no outcome to tell");
        }
        Ok((
            kind.to_owned(),
            seen[1].as_str().unwrap_or_default().to_owned(),
        ))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the browser's NUL-ended messages until it closes its end, each bounded.
fn read_messages(answers: std::io::PipeReader, sender: &mpsc::SyncSender<Result<Value, String>>) {
    let mut reader = BufReader::new(answers);
    loop {
        let mut bytes = Vec::new();
        match reader
            .by_ref()
            .take(MAX_MESSAGE_BYTES as u64)
            .read_until(0, &mut bytes)
        {
            Ok(0) => return,
            Ok(_) if bytes.last() == Some(&0) => {
                bytes.pop();
                let message = serde_json::from_slice(&bytes)
                    .map_err(|e| format!("a message that is not JSON: {e}"));
                if sender.send(message).is_err() {
                    return;
                }
            }
            Ok(_) => {
                let _ = sender.send(Err(format!(
                    "a message larger than {MAX_MESSAGE_BYTES} bytes, or cut"
                )));
                return;
            }
            Err(e) => {
                let _ = sender.send(Err(e.to_string()));
                return;
            }
        }
    }
}

/// The owner's device for the demo: a virtual authenticator whose credentials live in a file
/// (mode 0600: it holds private keys) between runs of the browser.
pub struct Device {
    browser: Browser,
    authenticator: String,
    file: PathBuf,
}

impl Device {
    /// A browser holding the credentials of `file` (none when it does not exist yet).
    pub fn open(file: &Path) -> Result<Self> {
        let mut browser = Browser::start()?;
        let authenticator = browser.add_authenticator()?;
        if file.exists() {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let held: Vec<Value> = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a device file", file.display()))?;
            for credential in &held {
                browser.add_credential(&authenticator, credential)?;
            }
        }
        Ok(Self {
            browser,
            authenticator,
            file: file.to_owned(),
        })
    }

    /// The browser.
    pub fn browser(&mut self) -> &mut Browser {
        &mut self.browser
    }

    /// Writes the authenticator's credentials back to the file (their counters moved).
    pub fn save(&mut self) -> Result<()> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let held = self.browser.credentials(&self.authenticator)?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&self.file)
            .with_context(|| format!("writing {}", self.file.display()))?;
        file.write_all(&serde_json::to_vec_pretty(&held)?)?;
        Ok(())
    }
}
