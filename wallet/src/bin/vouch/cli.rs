//! The `vouch` command line's arguments: every command, option and its help, and the parsers
//! of option values. `main.rs` does what they say.

use std::path::PathBuf;

use anyhow::Result;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use vouch_core::credential::Multihash;
use vouch_core::did::Did;
use vouch_core::did_vouch::DocumentContent;
use vouch_core::key::{KeyPair, PublicKey};
use vouch_core::proof::Cryptosuite;
use vouch_keyfile as keyfile;

#[derive(Parser)]
#[command(
    name = "vouch",
    version,
    about = "Keys, credentials and presentations for AI agents"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// Reaches this node (`host:port`, as its URL writes it) over plain http:// although it is
    /// not this machine; any other node is https:// (plain http:// to loopback only). Repeatable.
    #[arg(long, global = true, value_name = "HOST:PORT")]
    pub(crate) allow_plain_http: Vec<String>,
    /// Root certificates (PEM) that nodes' https:// certificates must chain to, instead of
    /// Mozilla's: nodes under a private CA.
    #[arg(long, global = true, value_name = "PEM")]
    pub(crate) node_ca: Option<PathBuf>,
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
    /// The agent instance and its org's node.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Audit logs.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The wallet daemon, and its clients.
    #[command(subcommand)]
    Wallet(WalletCommand),
    /// A Model Context Protocol server on stdin and stdout for an agent's host: the wallet
    /// daemon's operations as tools (list credentials, request and answer exchanges, delegate,
    /// check a presentation). It holds no key: every tool is a request to the daemon.
    Mcp {
        /// The agent's wallet daemon's socket.
        #[arg(long)]
        socket: PathBuf,
        /// The org's node (`http://host:port`), for checking presentations.
        #[arg(long)]
        node: Option<String>,
        /// Offers `vouch_delegate`: the model may delegate the agent's rights (within them) to
        /// any sub-agent it names. Off by default.
        #[arg(long)]
        allow_delegation: bool,
    },
}

/// What opens a sealed key: a passphrase file, or a raw 32-byte key file.
#[derive(clap::Args)]
#[group(multiple = false)]
pub(crate) struct SecretArgs {
    /// A file holding the passphrase (its first line).
    #[arg(long)]
    pub(crate) passphrase_file: Option<PathBuf>,
    /// A file holding a raw 32-byte key (binary, or 64 hex digits): a systemd credential, say.
    #[arg(long)]
    pub(crate) raw_key_file: Option<PathBuf>,
}

#[derive(Subcommand)]
pub(crate) enum WalletCommand {
    /// Seals an instance key file for the daemon (Argon2id or a raw key, XChaCha20-Poly1305).
    Seal {
        /// The key file to seal.
        #[arg(long)]
        key: PathBuf,
        /// Where to write the sealed key (a new file, mode 0600).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        secret: SecretArgs,
    },
    /// Runs the daemon: the instance's sealed key opened in memory, its wallet folder, a Unix
    /// socket answering its owner's uid only.
    Serve {
        /// The wallet folder.
        #[arg(long)]
        wallet: PathBuf,
        /// The sealed instance key.
        #[arg(
            long,
            required_unless_present = "ephemeral",
            conflicts_with = "ephemeral"
        )]
        sealed_key: Option<PathBuf>,
        #[command(flatten)]
        secret: SecretArgs,
        /// A fresh instance key, in memory only, never written: for a short-lived agent. Its
        /// did:key is printed; a new wallet folder per instance.
        #[arg(long)]
        ephemeral: bool,
        /// The socket's path.
        #[arg(long)]
        socket: PathBuf,
        /// The org's node (`https://host[:port]`, or `http://` on this machine): credentials
        /// are renewed through it, and exchanges verified with what it publishes, checked here:
        /// the consortium (against `--consortium`), DID logs and status lists.
        #[arg(long)]
        node: Option<String>,
        /// The hash of the consortium's genesis (`vouch-node admin consortium show` prints it
        /// as `genesis`): its members, checked here, are the issuers trusted. Without it, no
        /// issuer is: every capability shown to this agent is rejected `untrusted_issuer`.
        #[arg(long, requires = "node", value_name = "HASH")]
        consortium: Option<String>,
        /// Where to listen for capability exchanges (libp2p multiaddresses; repeatable).
        #[arg(long, default_value = "/ip4/127.0.0.1/tcp/0")]
        listen: Vec<String>,
        /// How long a status list fetched from the node is used before it is fetched again,
        /// in milliseconds: the longest a revocation the node knows may go unseen here.
        #[arg(long, default_value_t = 500)]
        status_refresh_ms: u64,
        /// Serves the instance's A2A agent card (docs/A2A.md) at
        /// `http://ADDR/.well-known/agent-card.json`, e.g. `127.0.0.1:8787`.
        #[arg(long, requires = "card_name")]
        card_listen: Option<std::net::SocketAddr>,
        /// The agent's name on its card.
        #[arg(long)]
        card_name: Option<String>,
        /// What the agent does, on its card.
        #[arg(long)]
        card_description: Option<String>,
        /// The agent's own A2A endpoint, on its card.
        #[arg(long)]
        card_url: Option<String>,
    },
    /// Asks the daemon for its instance's proof of possession, to be bound to an agent
    /// definition of its org (`vouch-node admin agent bind DEFINITION PROOF`).
    BindingProof {
        /// The daemon's socket.
        #[arg(long)]
        socket: PathBuf,
        /// The definition's did:vouch.
        #[arg(long)]
        definition: String,
    },
    /// Asks the agent's owner, through the org's node, to approve one exact request that a
    /// capability held permits only with an approval (`needs_approval`); prints the pending
    /// request (its `id`, for `vouch agent approve`).
    RequestApproval {
        /// The daemon's socket.
        #[arg(long)]
        socket: PathBuf,
        /// The request: `{"action": …, "resource": …, "arguments": …}`.
        #[arg(long)]
        request: String,
    },
    /// Where an approval request stands; once approved, the daemon holds the approval and
    /// presents it with the request it approves. Exit code 1 while it is not approved.
    Approval {
        /// The daemon's socket.
        #[arg(long)]
        socket: PathBuf,
        /// The request's id.
        id: String,
    },
    /// Has the daemon sign an HTTP request (RFC 9421) under a capability of a credential it
    /// holds; prints the header fields to add, one `name: value` a line.
    SignRequest {
        /// The daemon's socket.
        #[arg(long)]
        socket: PathBuf,
        /// The method.
        #[arg(long, default_value = "GET")]
        method: String,
        /// The target URI.
        #[arg(long)]
        url: String,
        /// A header field of the request to cover, `name: value` (again for more).
        #[arg(long = "header")]
        headers: Vec<String>,
        /// A file holding the body.
        #[arg(long)]
        body: Option<PathBuf>,
        /// The id of the credential relied on.
        #[arg(long)]
        credential: String,
        /// The action performed (`call:billing_api:refund`).
        #[arg(long)]
        action: String,
        /// The arguments its constraints are checked against, a JSON object.
        #[arg(long)]
        arguments: Option<String>,
        /// Carry the credential and its chain (`Vouch-Presentation`): the first request to a
        /// service does.
        #[arg(long)]
        present: bool,
        /// Sign in the Web Bot Auth profile too, naming this key directory
        /// (`https://…/.well-known/http-message-signatures-directory`) in `Signature-Agent`.
        #[arg(long)]
        signature_agent: Option<String>,
    },
    /// Asks the daemon for its instance's DID and exchange addresses.
    Identity {
        /// The daemon's socket.
        #[arg(long)]
        socket: PathBuf,
    },
    /// Asks another agent instance, through the daemon, to prove capabilities: prints the
    /// decision on each, `accepted`, or `rejected` with its reason (exit 1 if any is rejected).
    Exchange {
        /// The daemon's socket.
        #[arg(long)]
        socket: PathBuf,
        /// The other instance's address (`…/p2p/12D3KooW…`).
        #[arg(long)]
        peer: String,
        /// A capability to decide, as JSON `{action, resource, arguments}` (repeatable).
        #[arg(long = "capability", required = true)]
        capabilities: Vec<String>,
        /// A DCQL query file; every capability credential by default.
        #[arg(long)]
        query: Option<PathBuf>,
        /// The ids of the daemon's credentials to present (repeatable); all by default.
        #[arg(long)]
        present: Vec<String>,
    },
    /// Asks the daemon for the credentials held (of a task), one JSON per line.
    Credentials {
        /// The daemon's socket.
        #[arg(long)]
        socket: PathBuf,
        /// Only this task's.
        #[arg(long)]
        task: Option<String>,
    },
    /// Proves capabilities to an org's node over HTTP, through the daemon: the node's
    /// request is answered by the daemon (if the node authenticates), the node decides, and
    /// the daemon checks the decision. Prints each decision (exit 1 if any is rejected).
    Prove {
        /// The daemon's socket.
        #[arg(long)]
        socket: PathBuf,
        /// The verifying node (`http://host:port`).
        #[arg(long)]
        node: String,
        /// A capability to decide, as JSON `{action, resource, arguments}` (repeatable).
        #[arg(long = "capability", required = true)]
        capabilities: Vec<String>,
        /// A DCQL query file; every capability credential by default.
        #[arg(long)]
        query: Option<PathBuf>,
    },
    /// Has the daemon delegate a narrower right to a sub-agent, signed with the instance's key
    /// (which never leaves the daemon): prints `{credential, chain}`, the sub-agent's to add.
    Delegate {
        /// The daemon's socket.
        #[arg(long)]
        socket: PathBuf,
        /// The id of the credential held that is the parent.
        #[arg(long)]
        parent: String,
        /// The sub-agent's did:key.
        #[arg(long)]
        to: String,
        /// A JSON file with the list of capabilities delegated.
        #[arg(long)]
        capabilities: PathBuf,
    },
    /// Gives the daemon a credential issued to its instance.
    Add {
        /// The daemon's socket.
        #[arg(long)]
        socket: PathBuf,
        /// The credential file: a credential, or `{credential, chain}` as `delegate` prints.
        credential: PathBuf,
        /// A credential above it, for a delegation: its chain (repeatable).
        #[arg(long = "chain")]
        chain: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Checks an audit log from its first entry to a checkpoint signed by the log's key, and
    /// reports the first change, deletion, insertion or reordering (exit 1). With witnesses
    /// (`--consortium`, `--witness`), a live node's log is also checked against its newest
    /// checkpoint that at least `--quorum` of them cosigned: a history they saw, which the node
    /// cannot rewrite without their noticing.
    Verify {
        /// A live node (`http://host:port`): its checkpoint now and its entries.
        #[arg(long, conflicts_with_all = ["export", "checkpoint"])]
        node: Option<String>,
        /// An export: one entry per line.
        #[arg(long, requires = "checkpoint")]
        export: Option<PathBuf>,
        /// The signed checkpoint the export is checked against.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// The log's origin (`<org DID>/audit` for a node); a live node's own by default.
        #[arg(long)]
        origin: Option<String>,
        /// The log's public key (Multikey, `z6Mk…`): the node key; from `--consortium` by
        /// default.
        #[arg(long)]
        log_key: Option<String>,
        /// The consortium genesis, checked (every member signed it): the log's key is its
        /// member's node key, and every other member is a witness (`<DID>/witness`, its node
        /// key).
        #[arg(long)]
        consortium: Option<PathBuf>,
        /// The genesis's amendments, one JSON per line (`vouch-node admin consortium show
        /// --amendments`), each checked and applied in turn: a removed member is no witness.
        #[arg(long, requires = "consortium")]
        amendments: Option<PathBuf>,
        /// A witness, `NAME=z6Mk…` (repeatable).
        #[arg(long = "witness", value_name = "NAME=KEY")]
        witnesses: Vec<String>,
        /// How many witnesses' cosignatures the checkpoint needs; a majority of those known by
        /// default.
        #[arg(long)]
        quorum: Option<usize>,
    },
    /// Prints a wallet's audit log, one entry per line, and writes its checkpoint now, signed by
    /// the instance's key (for `vouch audit verify --export … --checkpoint …`).
    Export {
        /// The wallet folder.
        #[arg(long)]
        wallet: PathBuf,
        /// The instance's key file: the wallet's, which signs the checkpoint.
        #[arg(long)]
        key: PathBuf,
        /// Where to write the signed checkpoint.
        #[arg(long)]
        checkpoint: PathBuf,
    },
    /// Lists a node's audit entries, for a task or an agent.
    Show {
        /// The node (`http://host:port`).
        #[arg(long)]
        node: String,
        /// Only this task's.
        #[arg(long)]
        task: Option<String>,
        /// Only this agent's.
        #[arg(long)]
        agent: Option<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum AgentCommand {
    /// Proves possession of the instance's key to be bound to an agent definition: signs the
    /// binding statement over a fresh challenge of the org's node, and prints the proof for the
    /// operator (`vouch-node admin agent bind DEFINITION PROOF`).
    BindingProof {
        /// The instance's key file.
        #[arg(long)]
        key: PathBuf,
        /// The agent definition's did:vouch.
        #[arg(long)]
        definition: Did,
        /// The org's node (`http://host:port`).
        #[arg(long)]
        node: String,
    },
    /// As an agent's accountable owner: shows an approval request of the org's node and
    /// approves it (or refuses it with `--refuse`), signing with the owner key registered for
    /// you (`vouch-node admin owner`). Prints where the request stands.
    Approve {
        /// The owner key file.
        #[arg(long)]
        owner_key: PathBuf,
        /// The approval request's id (`urn:uuid:…`).
        id: String,
        /// The org's node.
        #[arg(long)]
        node: String,
        /// Refuse it instead.
        #[arg(long)]
        refuse: bool,
    },
}

/// Options every verification takes.
#[derive(clap::Args)]
pub(crate) struct VerifyArgs {
    /// Verify as of this time (RFC 3339); now by default.
    #[arg(long, value_parser = parse_time)]
    pub(crate) now: Option<DateTime<Utc>>,
    /// Trust this issuer DID for every action (repeatable). A verifier told nothing trusts
    /// nothing: without a trusted issuer, no credential verifies.
    #[arg(long = "trust", value_name = "DID")]
    pub(crate) trust: Vec<Did>,
    /// DANGER: check proofs, validity and chain structure only. Issuer trust and status are then
    /// reported as skipped, so an untrusted or revoked credential verifies. Never for a decision.
    #[arg(long)]
    pub(crate) danger_proofs_only: bool,
    /// Agent credentials that carry no status entry (issued or delegated offline, never
    /// registered with a node) have their status check skipped instead of failing
    /// `status_missing`: no revocation could ever reach them. Off by default, as at the node.
    #[arg(long)]
    pub(crate) allow_unregistered: bool,
    /// The agent definition digest (zQm…) every credential must describe; else
    /// definition_mismatch.
    #[arg(long, value_name = "DIGEST", value_parser = parse_multihash)]
    pub(crate) expect_definition: Option<Multihash>,
    /// A did:vouch log (JSON Lines) to resolve that DID from (repeatable); did:key needs none.
    /// Two logs of one DID must agree: the longer is used.
    #[arg(long = "did-log", value_name = "FILE")]
    pub(crate) did_logs: Vec<PathBuf>,
    /// A signed status list credential to check status entries against (repeatable).
    #[arg(long = "status-list", value_name = "FILE")]
    pub(crate) status_lists: Vec<PathBuf>,
    /// A Vouch node's HTTP resolver (`http://host:port`): DID documents that no --did-log gives,
    /// and the status lists credentials name, come from it. Status lists are verified here.
    #[arg(long, value_name = "URL")]
    pub(crate) resolver: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Reads a time as RFC 3339 writes it: years 0000 to 9999, so that no time given can overflow
/// what is computed from it.
pub(crate) fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("not an RFC 3339 time (YYYY-MM-DDTHH:MM:SSZ, years 0000 to 9999): {e}")
        })
}

pub(crate) fn parse_multihash(s: &str) -> Result<Multihash, String> {
    Multihash::parse(s).ok_or_else(|| "not a SHA-256 multihash (zQm…)".to_owned())
}

#[derive(Subcommand)]
pub(crate) enum PresentationCommand {
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
pub(crate) enum KeyCommand {
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
pub(crate) enum CredentialCommand {
    /// Signs the unsigned credential on stdin and prints it signed; refuses one that breaks a
    /// rule of the VC Data Model 2.0 or has a term no context defines, saying which and where.
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
        /// Register the delegation with the org's node (`http://host:port`), which gives it
        /// its own status entries, so that the org can revoke it alone or with its subtree.
        #[arg(long)]
        node: Option<String>,
        /// The parent's ancestors (root first), presented with it to the node (repeatable).
        #[arg(long, requires = "node")]
        ancestor: Vec<PathBuf>,
        /// The instance's wallet folder: the delegation goes into its audit log.
        #[arg(long)]
        wallet: Option<PathBuf>,
    },
    /// Renews a credential through the org's node, which signs a fresh one for the same holder,
    /// task and rights if every renewal rule holds; prints it.
    Renew {
        /// The holder's key file.
        #[arg(long)]
        key: PathBuf,
        /// The credential to renew (the newest of its lineage).
        #[arg(long)]
        credential: PathBuf,
        /// The org's node (`http://host:port`).
        #[arg(long)]
        node: String,
        /// The renewal's lifetime in minutes.
        #[arg(long, default_value_t = 15)]
        minutes: u32,
        /// The instance's wallet folder: the renewal goes into its audit log.
        #[arg(long)]
        wallet: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub(crate) enum DidCommand {
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
pub(crate) struct DidOperation {
    /// The key that signs this operation: after the genesis, the one the last version committed
    /// to.
    #[arg(long)]
    pub(crate) update_key: PathBuf,
    /// The DID's log file (JSON Lines): created new, never overwritten, by `create`; replaced
    /// atomically by later operations.
    #[arg(long)]
    pub(crate) log: PathBuf,
    /// The operation's time (RFC 3339); now by default.
    #[arg(long, value_parser = parse_time)]
    pub(crate) created: Option<DateTime<Utc>>,
    /// Print the result as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// What creating or updating a did:vouch takes.
#[derive(clap::Args)]
pub(crate) struct DidChange {
    /// The key the document lists for authentication, assertion and capabilities (its X25519
    /// form for key agreement).
    #[arg(long)]
    pub(crate) key: PathBuf,
    /// The key that will sign the next operation; only its hash is published now.
    #[arg(long)]
    pub(crate) next_update_key: PathBuf,
    #[command(flatten)]
    pub(crate) operation: DidOperation,
}

impl DidChange {
    pub(crate) fn document(&self) -> Result<DocumentContent> {
        Ok(DocumentContent::single_key(
            &keyfile::read(&self.key)?.public(),
        ))
    }

    pub(crate) fn next_update_keys(&self) -> Result<[PublicKey; 1]> {
        Ok([keyfile::read(&self.next_update_key)?.public()])
    }
}

impl DidOperation {
    pub(crate) fn update_key(&self) -> Result<KeyPair> {
        Ok(keyfile::read(&self.update_key)?)
    }

    pub(crate) fn created(&self) -> DateTime<Utc> {
        self.created.unwrap_or_else(Utc::now)
    }
}
