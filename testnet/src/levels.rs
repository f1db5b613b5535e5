//! `measure` for the five revocation levels (DESIGN §6, §10; the `owner` level of issue 25): node 0 registers an agent
//! definition, binds instances that prove their keys, issues task credentials and registers a
//! delegation, exactly as agents and operators do through its HTTP API. For each sample a
//! presentation that depends on what is revoked is first verified by every node's verification
//! service; then the revocation is asked of node 0, and the time until every node's service
//! refuses the presentation as `revoked` is taken.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;
use serde_json::{Value, json};
use vouch_api::node::admin::{DefinitionRequest, IssueRequest, RevocationRequest, TaskRequest};
use vouch_api::node::public::{
    DelegationRequest, PresentationOptions, Verified, VerifyPresentation,
};
use vouch_api::node::{AdminClient, NodeClient};
use vouch_api::reach::Reach;
use vouch_core::credential::AgentCapabilityCredential;
use vouch_core::delegation::{self, sign_credential};
use vouch_core::did::Did;
use vouch_core::did::key::{did_of, verification_method_of};
use vouch_core::hash::Multihash;
use vouch_core::key::KeyPair;
use vouch_core::possession;
use vouch_core::presentation;
use vouch_core::proof::Cryptosuite;
use vouch_core::report::Reason;
use vouch_core::revocation::Level;

use crate::{State, arrivals_every, arrivals_in_turn, report};

/// How many of the nodes' verification services are asked at once while waiting, across the
/// testnet: a verification (and the audit entry it writes) costs milliseconds of the CPU the
/// nodes are measured on, so the nodes are asked in turn, two at a time, whatever the size of
/// the testnet. The figures' resolution is one round of the nodes still waiting.
const POLLERS: usize = 2;

/// A node, as its org's operator and agents use it.
pub(crate) struct Org {
    admin: AdminClient,
    definition: Did,
}

/// The typed client of the node at `http`, over the testnet's pool of connections.
pub(crate) fn client(agent: &ureq::Agent, http: &str) -> Result<NodeClient> {
    Ok(NodeClient::new(node_url(agent, http)?))
}

fn node_url(agent: &ureq::Agent, http: &str) -> Result<vouch_api::reach::NodeUrl> {
    Ok(Reach::new().node(http)?.using(agent.clone()))
}

/// The admin client of the node at `http`.
pub(crate) fn admin(agent: &ureq::Agent, http: &str, token: &str) -> Result<AdminClient> {
    Ok(AdminClient::new(
        node_url(agent, http)?,
        Some(token.trim().to_owned()),
    ))
}

impl Org {
    /// The org of the node at `http`, with an agent definition `name` registered.
    pub(crate) fn register(
        agent: &ureq::Agent,
        http: &str,
        token: &str,
        name: &str,
    ) -> Result<Self> {
        Self::register_owned(agent, http, token, name, "testnet@vouch.example")
    }

    /// The same, the definition naming `owner` as its accountable owner.
    pub(crate) fn register_owned(
        agent: &ureq::Agent,
        http: &str,
        token: &str,
        name: &str,
        owner: &str,
    ) -> Result<Self> {
        let admin = admin(agent, http, token)?;
        let registered = admin
            .register_definition(&DefinitionRequest {
                name: name.to_owned(),
                version: "1".into(),
                owner: owner.to_owned(),
                model: "testnet-model".into(),
                system_prompt_hash: Multihash::of(b"testnet prompt").as_str().to_owned(),
                tools: json!([]),
                configuration: json!({}),
            })
            .context("node 0 refused the definition")?;
        Ok(Org {
            admin,
            definition: registered.definition.did,
        })
    }

    /// A new instance, bound by its proof of possession.
    pub(crate) fn instance(&self) -> Result<KeyPair> {
        let key = KeyPair::generate();
        let challenge = self.admin.public().challenge()?;
        let statement = json!({
            "type": "VouchInstanceBinding",
            "instance": did_of(&key.public()),
            "definition": self.definition,
        });
        let proof = possession::prove(
            &key,
            &statement,
            &challenge.challenge,
            &challenge.domain,
            Utc::now(),
        )?;
        self.admin.bind(&self.definition, &proof)?;
        Ok(key)
    }

    pub(crate) fn issue(&self, holder: &KeyPair, task: &str) -> Result<Value> {
        self.issue_with(
            holder,
            task,
            json!([{"action": "call:testnet:read", "resource": "https://testnet.example/**"}]),
        )
    }

    /// A credential for `task` with `capabilities`, to `holder`.
    pub(crate) fn issue_with(
        &self,
        holder: &KeyPair,
        task: &str,
        capabilities: Value,
    ) -> Result<Value> {
        let capabilities = match capabilities {
            Value::Array(capabilities) => capabilities,
            other => vec![other],
        };
        let issued = self.admin.issue(&IssueRequest {
            instance: did_of(&holder.public()),
            task: TaskRequest {
                id: task.to_owned(),
                purpose: "measured".into(),
            },
            principal: "testnet-principal".into(),
            capabilities,
            audience: Vec::new(),
            resources: Vec::new(),
            ttl_secs: None,
            max_renewals: None,
            lineage_secs: None,
            max_depth: None,
        })?;
        Ok(issued.credential)
    }

    /// Revokes `subject` at `level`.
    pub(crate) fn revoke(&self, level: Level, subject: &str) -> Result<()> {
        self.admin.revoke(&RevocationRequest {
            level,
            subject: subject.to_owned(),
            reason: None,
            preemptive: false,
        })?;
        Ok(())
    }

    /// Delegates `parent` (held by `holder`) to a new sub-agent through node 0; returns the
    /// signed child and the sub-agent's key.
    fn delegate(&self, parent: &Value, holder: &KeyPair) -> Result<(Value, KeyPair)> {
        let to = KeyPair::generate();
        let typed = AgentCapabilityCredential::from_json(parent)?;
        let child = delegation::delegate(
            &typed,
            did_of(&to.public()),
            vec![
                json!({"action": "call:testnet:read", "resource": "https://testnet.example/a/**"}),
            ],
            typed.valid_until,
            Utc::now(),
        )?;
        let node = self.admin.public();
        let challenge = node.challenge()?;
        let vp = presentation::create(
            holder,
            vec![parent.clone()],
            &challenge.challenge,
            &challenge.domain,
            Cryptosuite::EddsaJcs2022,
            Utc::now(),
        )?;
        let answer = node.register_delegation(&DelegationRequest {
            presentation: vp,
            credential: child.to_json(),
        })?;
        let with_status = AgentCapabilityCredential::from_json(&answer.credential)?;
        let signed = sign_credential(
            &with_status,
            holder,
            verification_method_of(&holder.public()),
            Cryptosuite::EddsaJcs2022,
            Utc::now(),
        )?;
        Ok((signed, to))
    }
}

/// What one sample revokes, and the presentation that depends on it.
struct Sample {
    subject: String,
    presentation: Value,
}

/// A node's verification service's report on `presentation`.
fn report_of(agent: &ureq::Agent, node: &str, presentation: &Value) -> Result<Verified> {
    Ok(
        client(agent, node)?.verify_presentation(&VerifyPresentation {
            verifiable_presentation: presentation.clone(),
            options: PresentationOptions {
                challenge: "testnet".into(),
                domain: "testnet.example".into(),
                checks: None,
            },
        })?,
    )
}

/// A node's verification service's answer: verified, or the reasons of the failed checks.
fn answer(agent: &ureq::Agent, node: &str, presentation: &Value) -> String {
    match report_of(agent, node, presentation) {
        Ok(report) if report.verified => "verified".into(),
        Ok(report) => report
            .errors
            .iter()
            .map(|e| {
                format!(
                    "{} ({})",
                    e.reason.map_or("no reason", |r| r.as_str()),
                    e.detail.as_deref().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        Err(e) => format!("no answer: {e}"),
    }
}

/// Whether a node's verification service answers `presentation` as wanted: verified, or refused
/// as revoked.
fn verdict(agent: &ureq::Agent, node: &str, presentation: &Value, verified: bool) -> bool {
    let Ok(report) = report_of(agent, node, presentation) else {
        return false;
    };
    if verified {
        report.verified
    } else {
        !report.verified
            && report
                .errors
                .iter()
                .any(|e| e.reason == Some(Reason::Revoked))
    }
}

fn present(holder: &KeyPair, credentials: Vec<Value>) -> Result<Value> {
    Ok(presentation::create(
        holder,
        credentials,
        "testnet",
        "testnet.example",
        Cryptosuite::EddsaJcs2022,
        Utc::now(),
    )?)
}

/// Times `samples` revocations at each level.
pub(crate) fn measure(state: &State, agent: &ureq::Agent, token: &str, samples: u32) -> Result<()> {
    let http = &state.nodes[0].http;
    let org = Org::register(agent, http, token, "testnet-agent")?;
    let holder = org.instance()?;
    let n = state.nodes.len();
    for level in [
        Level::Credential,
        Level::Agent,
        Level::Task,
        Level::Chain,
        Level::Owner,
    ] {
        let name = serde_json::to_value(level)?;
        let name = name.as_str().context("a level's name")?.to_owned();
        let (mut everywhere, mut each) = (Vec::new(), Vec::new());
        for i in 0..samples {
            let task = format!("{name}-{i}-{}", rand_suffix());
            let sample = match level {
                Level::Credential => {
                    let credential = org.issue(&holder, &task)?;
                    Sample {
                        subject: credential["id"].as_str().context("an id")?.to_owned(),
                        presentation: present(&holder, vec![credential])?,
                    }
                }
                Level::Agent => {
                    let instance = org.instance()?;
                    let credential = org.issue(&instance, &task)?;
                    Sample {
                        subject: did_of(&instance.public()).to_string(),
                        presentation: present(&instance, vec![credential])?,
                    }
                }
                Level::Task => {
                    let credential = org.issue(&holder, &task)?;
                    Sample {
                        subject: task.clone(),
                        presentation: present(&holder, vec![credential])?,
                    }
                }
                Level::Owner => {
                    // An owner of their own, with an agent of their own: all of it goes.
                    let owner = format!("owner-{i}-{}@testnet.example", rand_suffix());
                    let owned = Org::register_owned(
                        agent,
                        http,
                        token,
                        &format!("agent-of-{owner}"),
                        &owner,
                    )?;
                    let instance = owned.instance()?;
                    let credential = owned.issue(&instance, &task)?;
                    Sample {
                        subject: owner,
                        presentation: present(&instance, vec![credential])?,
                    }
                }
                _ => {
                    let credential = org.issue(&holder, &task)?;
                    let (child, sub) = org.delegate(&credential, &holder)?;
                    Sample {
                        subject: credential["id"].as_str().context("an id")?.to_owned(),
                        presentation: present(&sub, vec![credential, child])?,
                    }
                }
            };
            // Every node accepts it first: what is timed is the revocation, not the issuance.
            arrivals_in_turn(state, Instant::now(), POLLERS, |node| {
                verdict(agent, node, &sample.presentation, true)
            })
            .context("a fresh credential did not verify on every node")?;
            let started = Instant::now();
            org.revoke(level, &sample.subject)?;
            let times = arrivals_in_turn(state, started, POLLERS, |node| {
                verdict(agent, node, &sample.presentation, false)
            })
            .with_context(|| {
                // What the nodes that did not refuse it say.
                state
                    .nodes
                    .iter()
                    .filter(|node| !verdict(agent, &node.http, &sample.presentation, false))
                    .map(|node| {
                        format!(
                            "{} answers {}",
                            node.http,
                            answer(agent, &node.http, &sample.presentation)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })?;
            everywhere.push(*times.iter().max().expect("at least two nodes"));
            each.extend(times);
        }
        report(
            &format!(
                "{samples} `{name}` revocations on node 0, each refused by the verification service of all {n} nodes after:"
            ),
            everywhere,
            each,
        );
    }
    // The OAuth bridge: a token of a task's credential (token exchange at node 0), active at
    // every node's introspection; the task revoked on node 0, how long until every node says
    // the token is not.
    let (mut everywhere, mut each) = (Vec::new(), Vec::new());
    let exchanger = vouch_wallet::node::OrgNode::new(node_url(agent, http)?);
    for i in 0..samples {
        let task = format!("token-{i}-{}", rand_suffix());
        let credential = org.issue(&holder, &task)?;
        let token = exchanger
            .exchange_token(
                &holder,
                vec![credential],
                "https://testnet.example/api",
                None,
                Utc::now(),
            )
            .context("node 0 refused the token exchange")?
            .access_token;
        arrivals_in_turn(state, Instant::now(), POLLERS, |node| {
            active(agent, node, &token) == Some(true)
        })
        .context("a fresh token was not active on every node")?;
        let started = Instant::now();
        org.revoke(Level::Task, &task)?;
        let times = arrivals_in_turn(state, started, POLLERS, |node| {
            active(agent, node, &token) == Some(false)
        })
        .context("a revoked task's token stayed active")?;
        everywhere.push(*times.iter().max().expect("at least two nodes"));
        each.extend(times);
    }
    report(
        &format!(
            "{samples} `task` revocations on node 0, each making its credential's access token inactive at the introspection of all {n} nodes after:"
        ),
        everywhere,
        each,
    );

    // Every revocation is also a signed event, gossiped and synced: every node holds them all
    // (and those of earlier runs on the same testnet).
    let org = Did::parse(&state.nodes[0].did)?;
    let want = 6 * samples as usize;
    let started = Instant::now();
    let times = arrivals_every(state, started, Duration::from_millis(10), |node| {
        client(agent, node)
            .and_then(|node| Ok(node.revocations(Some(&org))?))
            .is_ok_and(|answer| answer.events.len() >= want)
    })
    .context("the revocation events did not reach every node")?;
    println!(
        "{want} signed revocation events held by all {n} nodes ({} ms after the last)",
        times.iter().max().map_or(0, Duration::as_millis)
    );
    Ok(())
}

/// Whether `node`'s introspection says `token` stands; `None` when it could not be asked.
fn active(agent: &ureq::Agent, node: &str, token: &str) -> Option<bool> {
    client(agent, node)
        .ok()?
        .introspect(&vouch_api::node::oauth::Introspect {
            token: token.to_owned(),
            token_type_hint: None,
        })
        .ok()
        .map(|answer| answer.active)
}

/// A suffix that keeps task ids of two runs apart.
fn rand_suffix() -> String {
    format!("{:x}", Utc::now().timestamp_nanos_opt().unwrap_or_default())
}
