//! `measure` for the five revocation levels (DESIGN §6, §10; the `owner` level of issue 25): node 0 registers an agent
//! definition, binds instances that prove their keys, issues task credentials and registers a
//! delegation, exactly as agents and operators do through its HTTP API. For each sample a
//! presentation that depends on what is revoked is first verified by every node's verification
//! service; then the revocation is asked of node 0, and the time until every node's service
//! refuses the presentation as `revoked` is taken.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use chrono::Utc;
use serde_json::{Value, json};
use vouch_core::credential::AgentCapabilityCredential;
use vouch_core::delegation::{self, sign_credential};
use vouch_core::did::key::{did_of, verification_method_of};
use vouch_core::hash::Multihash;
use vouch_core::key::KeyPair;
use vouch_core::possession;
use vouch_core::presentation;
use vouch_core::proof::Cryptosuite;

use crate::{State, arrivals_every, arrivals_in_turn, report};

/// How many of the nodes' verification services are asked at once while waiting, across the
/// testnet: a verification (and the audit entry it writes) costs milliseconds of the CPU the
/// nodes are measured on, so the nodes are asked in turn, two at a time, whatever the size of
/// the testnet. The figures' resolution is one round of the nodes still waiting.
const POLLERS: usize = 2;

/// A node, as its org's operator and agents use it.
pub(crate) struct Org<'a> {
    agent: &'a ureq::Agent,
    http: &'a str,
    token: &'a str,
    definition: String,
}

fn post(agent: &ureq::Agent, url: &str, token: Option<&str>, body: &Value) -> Result<(u16, Value)> {
    let mut request = agent.post(url).header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", &format!("Bearer {}", token.trim()));
    }
    let mut response = request.send(serde_json::to_vec(body)?.as_slice())?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string()?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

impl<'a> Org<'a> {
    /// The org of the node at `http`, with an agent definition `name` registered.
    pub(crate) fn register(
        agent: &'a ureq::Agent,
        http: &'a str,
        token: &'a str,
        name: &str,
    ) -> Result<Self> {
        Self::register_owned(agent, http, token, name, "testnet@vouch.example")
    }

    /// The same, the definition naming `owner` as its accountable owner.
    pub(crate) fn register_owned(
        agent: &'a ureq::Agent,
        http: &'a str,
        token: &'a str,
        name: &str,
        owner: &str,
    ) -> Result<Self> {
        let mut org = Org {
            agent,
            http,
            token,
            definition: String::new(),
        };
        let definition = org.admin(
            "/admin/agents",
            &json!({
                "name": name,
                "version": "1",
                "owner": owner,
                "model": "testnet-model",
                "systemPromptHash": Multihash::of(b"testnet prompt").as_str(),
                "tools": [],
                "configuration": {},
            }),
        )?;
        org.definition = definition["did"]
            .as_str()
            .context("a definition DID")?
            .to_owned();
        Ok(org)
    }

    pub(crate) fn admin(&self, path: &str, body: &Value) -> Result<Value> {
        let (status, answer) = post(
            self.agent,
            &format!("{}{path}", self.http),
            Some(self.token),
            body,
        )?;
        ensure!(
            (200..300).contains(&status),
            "node 0 refused {path}: {status} {answer}"
        );
        Ok(answer)
    }

    fn public(&self, path: &str, body: &Value) -> Result<Value> {
        let (status, answer) = post(self.agent, &format!("{}{path}", self.http), None, body)?;
        ensure!(
            (200..300).contains(&status),
            "node 0 refused {path}: {status} {answer}"
        );
        Ok(answer)
    }

    /// A challenge of node 0 and its domain.
    fn challenge(&self) -> Result<(String, String)> {
        let answer = self.public("/1.0/challenges", &json!({}))?;
        Ok((
            answer["challenge"]
                .as_str()
                .context("a challenge")?
                .to_owned(),
            answer["domain"].as_str().context("a domain")?.to_owned(),
        ))
    }

    /// A new instance, bound by its proof of possession.
    pub(crate) fn instance(&self) -> Result<KeyPair> {
        let key = KeyPair::generate();
        let (challenge, domain) = self.challenge()?;
        let statement = json!({
            "type": "VouchInstanceBinding",
            "instance": did_of(&key.public()),
            "definition": self.definition,
        });
        let proof = possession::prove(&key, &statement, &challenge, &domain, Utc::now())?;
        self.admin(
            &format!("/admin/agents/{}/instances", self.definition),
            &proof,
        )?;
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
        let answer = self.admin(
            "/admin/credentials",
            &json!({
                "instance": did_of(&holder.public()),
                "task": {"id": task, "purpose": "measured"},
                "principal": "testnet-principal",
                "capabilities": capabilities,
            }),
        )?;
        Ok(answer["credential"].clone())
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
        let (challenge, domain) = self.challenge()?;
        let vp = presentation::create(
            holder,
            vec![parent.clone()],
            &challenge,
            &domain,
            Cryptosuite::EddsaJcs2022,
            Utc::now(),
        )?;
        let answer = self.public(
            "/1.0/delegations",
            &json!({"presentation": vp, "credential": child.to_json()}),
        )?;
        let with_status = AgentCapabilityCredential::from_json(&answer["credential"])?;
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

/// A node's verification service's answer: verified, or the reasons of the failed checks.
fn answer(agent: &ureq::Agent, node: &str, presentation: &Value) -> String {
    let body = json!({
        "verifiablePresentation": presentation,
        "options": {"challenge": "testnet", "domain": "testnet.example"},
    });
    match post(
        agent,
        &format!("{node}/1.0/presentations/verify"),
        None,
        &body,
    ) {
        Ok((_, answer)) if answer["verified"] == true => "verified".into(),
        Ok((_, answer)) => answer["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| format!("{} ({})", e["reason"], e["detail"]))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_else(|| answer.to_string()),
        Err(e) => format!("no answer: {e}"),
    }
}

/// Whether a node's verification service answers `presentation` as wanted: verified, or refused
/// as revoked.
fn verdict(agent: &ureq::Agent, node: &str, presentation: &Value, verified: bool) -> bool {
    let body = json!({
        "verifiablePresentation": presentation,
        "options": {"challenge": "testnet", "domain": "testnet.example"},
    });
    let Ok((_, answer)) = post(
        agent,
        &format!("{node}/1.0/presentations/verify"),
        None,
        &body,
    ) else {
        return false;
    };
    if verified {
        answer["verified"] == true
    } else {
        answer["verified"] == false
            && answer["errors"]
                .as_array()
                .is_some_and(|errors| errors.iter().any(|e| e["reason"] == "revoked"))
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
    for level in ["credential", "agent", "task", "chain", "owner"] {
        let (mut everywhere, mut each) = (Vec::new(), Vec::new());
        for i in 0..samples {
            let task = format!("{level}-{i}-{}", rand_suffix());
            let sample = match level {
                "credential" => {
                    let credential = org.issue(&holder, &task)?;
                    Sample {
                        subject: credential["id"].as_str().context("an id")?.to_owned(),
                        presentation: present(&holder, vec![credential])?,
                    }
                }
                "agent" => {
                    let instance = org.instance()?;
                    let credential = org.issue(&instance, &task)?;
                    Sample {
                        subject: did_of(&instance.public()).to_string(),
                        presentation: present(&instance, vec![credential])?,
                    }
                }
                "task" => {
                    let credential = org.issue(&holder, &task)?;
                    Sample {
                        subject: task.clone(),
                        presentation: present(&holder, vec![credential])?,
                    }
                }
                "owner" => {
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
            org.admin(
                "/admin/revocations",
                &json!({"level": level, "subject": sample.subject}),
            )?;
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
                "{samples} `{level}` revocations on node 0, each refused by the verification service of all {n} nodes after:"
            ),
            everywhere,
            each,
        );
    }
    // Every revocation is also a signed event, gossiped and synced: every node holds them all
    // (and those of earlier runs on the same testnet).
    let org = &state.nodes[0].did;
    let want = 5 * samples as usize;
    let started = Instant::now();
    let times = arrivals_every(state, started, Duration::from_millis(10), |node| {
        crate::get_json(agent, &format!("{node}/1.0/revocations?issuer={org}"))
            .and_then(|answer| answer["events"].as_array().map(Vec::len))
            .is_some_and(|held| held >= want)
    })
    .context("the revocation events did not reach every node")?;
    println!(
        "{want} signed revocation events held by all {n} nodes ({} ms after the last)",
        times.iter().max().map_or(0, Duration::as_millis)
    );
    Ok(())
}

/// A suffix that keeps task ids of two runs apart.
fn rand_suffix() -> String {
    format!("{:x}", Utc::now().timestamp_nanos_opt().unwrap_or_default())
}
