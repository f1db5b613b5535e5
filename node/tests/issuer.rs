//! The org's issuer on a real node folder (RocksDB, key files, the org's status lists): agents,
//! issuance, delegation registered through the node, renewal, the four levels of revocation
//! and suspension, each refusing exactly what it covers.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use vouch_api::ErrorCode;
use vouch_api::node::public::VerifyCredential;
use vouch_api::node::{AdminClient, routes};
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
use vouch_core::status::StatusListCredential;
use vouch_core::verify::Verifier;
use vouch_node::config::{Config, IssuanceConfig};
use vouch_node::consortium::{Consortium, Members, Membership};
use vouch_node::datadir;
use vouch_node::fault::Judgement;
use vouch_node::issuer::{
    DelegationRequest, Events, Issuer, IssuerError, RenewalRequest, RevocationRequest,
};
use vouch_node::org::Org;
use vouch_node::registry::Registry;
use vouch_node::setup;
use vouch_node::status_lists::StatusLists;
use vouch_node::store::Store;

const DOMAIN: &str = "http://node.test";

struct World {
    audit: vouch_node::audit::AuditLog,
    store: Arc<Store>,
    dir: tempfile::TempDir,
    issuer: Issuer,
    lists: StatusLists,
    registry: Registry,
    events: Events,
}

/// A node folder whose org may attest `actions` (every action, alone, for `None`).
fn world(actions: Option<Vec<&str>>) -> World {
    let dir = tempfile::tempdir().expect("test fixture");
    let config = Config {
        data_dir: dir.path().join("node"),
        ..Config::default()
    };
    let identity = setup::init(&config, Utc::now() - Duration::seconds(5)).expect("test fixture");
    let members = match actions {
        None => Members::alone(),
        Some(actions) => {
            let mut entry = setup::member_entry(&config).expect("test fixture");
            entry.actions = actions.into_iter().map(str::to_owned).collect();
            let key = datadir::node_key(&config.data_dir).expect("test fixture");
            let consortium =
                Consortium::sign("test", vec![entry], None, &[key]).expect("test fixture");
            Members::of(Membership::new(&consortium))
        }
    };
    let store = Arc::new(Store::open(&config.data_dir.join(datadir::DB)).expect("test fixture"));
    let registry = Registry::new(store.clone(), vouch_node::metrics::Metrics::new())
        .with_members(members.clone());
    let org = Org::new(
        config.data_dir.clone(),
        identity.did.clone(),
        registry.clone(),
    );
    let events = Events::new(
        store.clone(),
        registry.clone(),
        identity.did,
        members.clone(),
    );
    let lists = StatusLists::new(
        store.clone(),
        registry.clone(),
        org.clone(),
        DOMAIN,
        members.clone(),
    );
    let audit = vouch_node::audit::AuditLog::new(store.clone(), &org.did().to_string());
    let store_for_tests = store.clone();
    let issuer = Issuer::new(
        store,
        registry.clone(),
        org,
        lists.clone(),
        audit.clone(),
        config.data_dir.clone(),
        IssuanceConfig::default(),
        DOMAIN,
    );
    World {
        audit,
        store: store_for_tests,
        dir,
        issuer,
        lists,
        registry,
        events,
    }
}

fn refusal(result: Result<impl std::fmt::Debug, IssuerError>) -> (&'static str, String) {
    match result {
        Err(IssuerError::Refused(refusal)) => (refusal.code.as_str(), refusal.message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

impl World {
    fn definition(&self, name: &str) -> Did {
        let request = serde_json::from_value(json!({
            "name": name,
            "version": "1.0.0",
            "owner": "owner@org.example",
            "model": "model-x-2026",
            "systemPromptHash": Multihash::of(b"You are a support agent.").as_str(),
            "tools": [{"name": "refund"}],
            "configuration": {"temperature": 0},
        }))
        .expect("test fixture");
        self.issuer
            .register_definition(request, Utc::now())
            .expect("test fixture")
            .0
            .did
    }

    fn bind(&self, definition: &Did, key: &KeyPair) {
        let challenge = self.issuer.challenge(Utc::now()).expect("test fixture");
        let statement = Issuer::binding_statement(&did_of(&key.public()), definition);
        let proof = possession::prove(
            key,
            &statement,
            &challenge.challenge,
            &challenge.domain,
            Utc::now(),
        )
        .expect("test fixture");
        self.issuer
            .bind(definition, &proof, Utc::now())
            .expect("test fixture");
    }

    fn issue(&self, key: &KeyPair, task: &str, principal: &str) -> Value {
        self.try_issue(key, task, principal, "call:billing:refund")
            .expect("test fixture")
    }

    fn try_issue(
        &self,
        key: &KeyPair,
        task: &str,
        principal: &str,
        action: &str,
    ) -> Result<Value, IssuerError> {
        let request = serde_json::from_value(json!({
            "instance": did_of(&key.public()),
            "task": {"id": task, "purpose": format!("purpose of {task}")},
            "principal": principal,
            "capabilities": [{"action": action, "resource": "https://billing.example/**"}],
        }))
        .expect("test fixture");
        Ok(self.issuer.issue(request, Utc::now())?.credential)
    }

    /// A presentation of `credentials` by `key` over a fresh challenge of the node.
    fn present(&self, key: &KeyPair, credentials: Vec<Value>) -> Value {
        let challenge = self.issuer.challenge(Utc::now()).expect("test fixture");
        presentation::create(
            key,
            credentials,
            &challenge.challenge,
            &challenge.domain,
            Cryptosuite::EddsaJcs2022,
            Utc::now(),
        )
        .expect("test fixture")
    }

    /// Delegates from the last credential of `chain` (held by `holder`) to `to`, registered
    /// through the node; returns the chain down to the new credential.
    fn delegate(&self, chain: &[Value], holder: &KeyPair, to: &KeyPair) -> Vec<Value> {
        let parent = AgentCapabilityCredential::from_json(chain.last().expect("test fixture"))
            .expect("test fixture");
        let child = delegation::delegate(
            &parent,
            did_of(&to.public()),
            vec![json!({"action": "call:billing:refund", "resource": "https://billing.example/eu/**"})],
            parent.valid_until,
            Utc::now(),
        )
        .expect("test fixture");
        let request = DelegationRequest {
            presentation: self.present(holder, chain.to_vec()),
            credential: child.to_json(),
        };
        let registered = self
            .issuer
            .register_delegation(request, Utc::now())
            .expect("test fixture");
        let with_status =
            AgentCapabilityCredential::from_json(&registered.credential).expect("test fixture");
        assert_eq!(
            with_status.credential_status.len(),
            2,
            "a link gets its own bits"
        );
        let signed = sign_credential(
            &with_status,
            holder,
            verification_method_of(&holder.public()),
            Cryptosuite::EddsaJcs2022,
            Utc::now(),
        )
        .expect("test fixture");
        let mut longer = chain.to_vec();
        longer.push(signed);
        longer
    }

    /// What a plain W3C verifier sees: any status bit set of any credential of the chain, read
    /// from the lists as published, with no knowledge of Vouch's events or records.
    fn bit_set(&self, chain: &[Value]) -> bool {
        chain.iter().any(|credential| {
            credential["credentialStatus"]
                .as_array()
                .expect("test fixture")
                .iter()
                .any(|entry| {
                    let url = entry["statusListCredential"]
                        .as_str()
                        .expect("test fixture");
                    let (_, key) = vouch_node::status_lists::key_of(url).expect("test fixture");
                    let json = self
                        .lists
                        .get(&key)
                        .expect("test fixture")
                        .expect("the list is published");
                    let raw: Value = serde_json::from_slice(&json).expect("test fixture");
                    let list =
                        StatusListCredential::verify(&raw, &self.registry).expect("test fixture");
                    let index: usize = entry["statusListIndex"]
                        .as_str()
                        .expect("test fixture")
                        .parse()
                        .expect("test fixture");
                    list.list.get(index).expect("test fixture")
                })
        })
    }

    /// The full verification of a presentation of `chain` by its leaf's holder, with what the
    /// node holds: the reasons it fails for, none if it verifies.
    fn reasons(&self, chain: &[Value], holder: &KeyPair) -> HashSet<Reason> {
        self.reasons_at(chain, holder, Utc::now())
    }

    fn reasons_at(
        &self,
        chain: &[Value],
        holder: &KeyPair,
        now: chrono::DateTime<Utc>,
    ) -> HashSet<Reason> {
        let vp = presentation::create(
            holder,
            chain.to_vec(),
            "c",
            "verifier.example",
            Cryptosuite::EddsaJcs2022,
            Utc::now(),
        )
        .expect("test fixture");
        let refs: Vec<&Value> = chain.iter().collect();
        let knowledge = self.lists.knowledge(&refs, now).expect("test fixture");
        let mut verifier = Verifier::new(&self.registry, now);
        verifier.issuers = Some(knowledge.policy());
        verifier.status = Some(&knowledge.lists);
        let verified = presentation::verify_presentation(&vp, "c", "verifier.example", &verifier);
        verified
            .report
            .checks
            .iter()
            .filter_map(|c| c.reason)
            .collect()
    }
}

/// An org with one definition, two of its instances, and a delegation tree:
/// a1 holds t1 and t2, a2 holds t1; a1's t1 is delegated to s1 and s2, s1's to s3.
struct Tree {
    world: World,
    definition: Did,
    a1: KeyPair,
    chains: Vec<(&'static str, Vec<Value>)>,
}

fn tree() -> Tree {
    let world = world(None);
    let definition = world.definition("support");
    let (a1, a2) = (KeyPair::generate(), KeyPair::generate());
    world.bind(&definition, &a1);
    world.bind(&definition, &a2);
    let a1_t1 = vec![world.issue(&a1, "t1", "alice")];
    let a1_t2 = vec![world.issue(&a1, "t2", "alice")];
    let a2_t1 = vec![world.issue(&a2, "t1", "bob")];
    let (s1, s2, s3) = (
        KeyPair::generate(),
        KeyPair::generate(),
        KeyPair::generate(),
    );
    let c1 = world.delegate(&a1_t1, &a1, &s1);
    let c2 = world.delegate(&a1_t1, &a1, &s2);
    let gc1 = world.delegate(&c1, &s1, &s3);
    // Each verifies before anything is revoked.
    for (chain, holder) in [(&a1_t1, &a1), (&c1, &s1), (&c2, &s2), (&gc1, &s3)] {
        assert_eq!(world.reasons(chain, holder), HashSet::new());
    }
    let chains = vec![
        ("a1_t1", a1_t1),
        ("a1_t2", a1_t2),
        ("a2_t1", a2_t1),
        ("c1", c1),
        ("c2", c2),
        ("gc1", gc1),
    ];
    Tree {
        world,
        definition,
        a1,
        chains,
    }
}

impl Tree {
    fn chain(&self, name: &str) -> &[Value] {
        &self
            .chains
            .iter()
            .find(|(n, _)| *n == name)
            .expect("test fixture")
            .1
    }

    fn id(&self, name: &str) -> String {
        self.chain(name).last().expect("test fixture")["id"]
            .as_str()
            .expect("test fixture")
            .to_owned()
    }

    /// The chains a plain bits-only verifier refuses.
    fn refused(&self) -> BTreeSet<&'static str> {
        self.chains
            .iter()
            .filter(|(_, chain)| self.world.bit_set(chain))
            .map(|(name, _)| *name)
            .collect()
    }
}

fn request(level: &str, subject: &str) -> RevocationRequest {
    serde_json::from_value(json!({"level": level, "subject": subject, "reason": "test"}))
        .expect("test fixture")
}

#[test]
fn each_revocation_level_refuses_exactly_its_set_by_status_bits_alone() {
    // Per level: the chains refused, and the credentials whose own bits are set (what the
    // fan-out reached; the rest are refused through a revoked ancestor).
    type Case<'a> = (
        &'a str,
        Box<dyn Fn(&Tree) -> String>,
        &'a [&'a str],
        &'a [&'a str],
    );
    let all = ["a1_t1", "a1_t2", "a2_t1", "c1", "c2", "gc1"];
    let cases: Vec<Case> = vec![
        (
            "credential",
            Box::new(|t| t.id("a1_t2")),
            &["a1_t2"],
            &["a1_t2"],
        ),
        // A link revoked alone: its own bits, and so every chain below it.
        (
            "credential",
            Box::new(|t| t.id("c1")),
            &["c1", "gc1"],
            &["c1"],
        ),
        (
            "agent",
            Box::new(|t| did_of(&t.a1.public()).to_string()),
            &["a1_t1", "a1_t2", "c1", "c2", "gc1"],
            &["a1_t1", "a1_t2"],
        ),
        ("agent", Box::new(|t| t.definition.to_string()), &all, &all),
        (
            "task",
            Box::new(|_| "t1".to_owned()),
            &["a1_t1", "a2_t1", "c1", "c2", "gc1"],
            &["a1_t1", "a2_t1", "c1", "c2", "gc1"],
        ),
        (
            "chain",
            Box::new(|t| t.id("c1")),
            &["c1", "gc1"],
            &["c1", "gc1"],
        ),
        (
            "chain",
            Box::new(|t| t.id("a1_t1")),
            &["a1_t1", "c1", "c2", "gc1"],
            &["a1_t1", "c1", "c2", "gc1"],
        ),
        // The owner of the definition: everything under it, as the definition itself.
        (
            "owner",
            Box::new(|_| "owner@org.example".to_owned()),
            &all,
            &all,
        ),
    ];
    for (level, subject, expected, own) in cases {
        let tree = tree();
        assert!(tree.refused().is_empty());
        let subject = subject(&tree);
        let done = tree
            .world
            .issuer
            .revoke(request(level, &subject), Utc::now())
            .unwrap();
        let refused = tree.refused();
        let expected: BTreeSet<&str> = expected.iter().copied().collect();
        assert_eq!(refused, expected, "{level} {subject}");
        let own_bits: BTreeSet<&str> = tree
            .chains
            .iter()
            .filter(|(_, chain)| tree.world.bit_set(&chain[chain.len() - 1..]))
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(
            own_bits,
            own.iter().copied().collect(),
            "{level} {subject}: own bits"
        );
        // The verifier's full view agrees: revoked, and nothing else wrong.
        for (name, chain) in &tree.chains {
            let holder_is_a1 = *name == "a1_t1" || *name == "a1_t2";
            if !holder_is_a1 {
                continue;
            }
            let reasons = tree.world.reasons(chain, &tree.a1);
            if expected.contains(name) {
                assert_eq!(reasons, HashSet::from([Reason::Revoked]), "{name}");
            } else {
                assert_eq!(reasons, HashSet::new(), "{name}");
            }
        }
        // The event names the level and subject, signed by the org.
        let event =
            vouch_core::revocation::RevocationEvent::verify(&done.event, &tree.world.registry)
                .unwrap();
        assert_eq!(event.level.as_str(), level);
        if level == "owner" {
            // A person is named by the org's pseudonym for them, never by name.
            assert!(event.subject.id().starts_with("urn:vouch:owner:"));
            assert!(!done.event.to_string().contains(&subject));
        } else {
            assert_eq!(event.subject.id(), subject);
        }
    }
}

#[test]
fn an_owner_who_leaves_takes_every_agent_they_are_accountable_for() {
    let world = world(None);
    let definition_as = |name: &str, owner: &str| -> Did {
        let request = serde_json::from_value(json!({
            "name": name, "version": "1", "owner": owner, "model": "m",
            "systemPromptHash": Multihash::of(b"p").as_str(), "tools": [], "configuration": {},
        }))
        .expect("test fixture");
        world
            .issuer
            .register_definition(request, Utc::now())
            .expect("test fixture")
            .0
            .did
    };
    let (refunds, billing, support) = (
        definition_as("refunds", "leaving@org.example"),
        definition_as("billing", "leaving@org.example"),
        definition_as("support", "staying@org.example"),
    );
    let (a, b, c) = (
        KeyPair::generate(),
        KeyPair::generate(),
        KeyPair::generate(),
    );
    world.bind(&refunds, &a);
    world.bind(&billing, &b);
    world.bind(&support, &c);
    let (ca, cb, cc) = (
        world.issue(&a, "t-a", "p"),
        world.issue(&b, "t-b", "p"),
        world.issue(&c, "t-c", "p"),
    );
    // Nobody is orphaned yet; an owner no definition names reaches nothing.
    assert!(world.issuer.orphaned().unwrap().is_empty());
    assert!(matches!(
        world
            .issuer
            .revoke(request("owner", "nobody@org.example"), Utc::now()),
        Err(IssuerError::NotFound(_))
    ));
    let done = world
        .issuer
        .revoke(request("owner", "leaving@org.example"), Utc::now())
        .unwrap();
    assert_eq!(done.credentials, 2);
    // Every agent of that owner is refused `revoked`, the other owner's still verifies.
    assert_eq!(world.reasons(&[ca], &a), HashSet::from([Reason::Revoked]));
    assert_eq!(world.reasons(&[cb], &b), HashSet::from([Reason::Revoked]));
    assert_eq!(world.reasons(&[cc], &c), HashSet::new());
    // Their definitions get nothing new: no credential, no binding.
    assert_eq!(
        refusal(world.try_issue(&a, "t-new", "p", "call:billing:refund")).0,
        "revoked"
    );
    let d = KeyPair::generate();
    let challenge = world.issuer.challenge(Utc::now()).expect("test fixture");
    let proof = possession::prove(
        &d,
        &Issuer::binding_statement(&did_of(&d.public()), &refunds),
        &challenge.challenge,
        &challenge.domain,
        Utc::now(),
    )
    .expect("test fixture");
    assert_eq!(
        refusal(world.issuer.bind(&refunds, &proof, Utc::now())).0,
        "revoked"
    );
    world.issue(&c, "t-c2", "p");
    // Listed as orphaned: the agents no one is accountable for now.
    let mut orphaned: Vec<Did> = world
        .issuer
        .orphaned()
        .unwrap()
        .into_iter()
        .map(|d| d.did)
        .collect();
    orphaned.sort();
    let mut expected = vec![refunds, billing];
    expected.sort();
    assert_eq!(orphaned, expected);
    // The audit log names the owner's pseudonym, never the owner.
    let entries = world.audit.entries(0).unwrap();
    let text = serde_json::to_string(&entries).unwrap();
    assert!(text.contains("revoked:owner") && !text.contains("leaving@org.example"));
}

#[test]
fn a_revoked_instance_task_or_definition_gets_nothing_new() {
    let tree = tree();
    let issuer = &tree.world.issuer;
    let a1 = did_of(&tree.a1.public()).to_string();
    issuer.revoke(request("agent", &a1), Utc::now()).unwrap();
    assert_eq!(
        refusal(
            tree.world
                .try_issue(&tree.a1, "t9", "alice", "call:billing:refund")
        )
        .0,
        "revoked"
    );
    // A task no credential names yet: refused as reaching nothing, unless preemptive.
    assert!(matches!(
        issuer.revoke(request("task", "t7"), Utc::now()),
        Err(vouch_node::issuer::IssuerError::NotFound(_))
    ));
    let mut preemptive = request("task", "t7");
    preemptive.preemptive = true;
    issuer.revoke(preemptive, Utc::now()).unwrap();
    let a3 = KeyPair::generate();
    tree.world.bind(&tree.definition, &a3);
    assert_eq!(
        refusal(
            tree.world
                .try_issue(&a3, "t7", "carol", "call:billing:refund")
        )
        .0,
        "revoked"
    );
    tree.world.issue(&a3, "t8", "carol");
    issuer
        .revoke(request("agent", tree.definition.as_str()), Utc::now())
        .unwrap();
    assert_eq!(
        refusal(
            tree.world
                .try_issue(&a3, "t8", "carol", "call:billing:refund")
        )
        .0,
        "revoked"
    );
}

#[test]
fn a_lifted_suspension_restores_exactly_what_it_suspended() {
    let tree = tree();
    let issuer = &tree.world.issuer;
    let task = issuer.suspend(request("task", "t1"), Utc::now()).unwrap();
    let one = issuer
        .suspend(request("credential", &tree.id("c2")), Utc::now())
        .unwrap();
    let suspended = BTreeSet::from(["a1_t1", "a2_t1", "c1", "c2", "gc1"]);
    assert_eq!(tree.refused(), suspended);
    assert_eq!(
        tree.world.reasons(tree.chain("a1_t1"), &tree.a1),
        HashSet::from([Reason::Suspended])
    );
    issuer
        .lift(task.suspension.as_deref().unwrap(), None, Utc::now())
        .unwrap();
    // c2 is still held by its own suspension; everything else is back.
    assert_eq!(tree.refused(), BTreeSet::from(["c2"]));
    assert_eq!(
        tree.world.reasons(tree.chain("a1_t1"), &tree.a1),
        HashSet::new()
    );
    assert_eq!(
        refusal(issuer.lift(task.suspension.as_deref().unwrap(), None, Utc::now())).0,
        "already_lifted"
    );
    issuer
        .lift(one.suspension.as_deref().unwrap(), None, Utc::now())
        .unwrap();
    assert!(tree.refused().is_empty());
}

/// A renewal proposed by the holder of `chain`'s credential.
fn renewal_of(credential: &Value) -> AgentCapabilityCredential {
    let previous = AgentCapabilityCredential::from_json(credential).expect("test fixture");
    delegation::renew(&previous, Utc::now(), Duration::minutes(15)).expect("test fixture")
}

#[test]
fn renewal_keeps_every_rule_and_each_widening_is_refused_with_its_reason() {
    let world = world(None);
    let definition = world.definition("support");
    let (holder, other) = (KeyPair::generate(), KeyPair::generate());
    world.bind(&definition, &holder);
    world.bind(&definition, &other);
    let first = world.issue(&holder, "t1", "alice");
    let renew = |credential: &Value, proposal: &AgentCapabilityCredential| {
        world.issuer.renew(
            RenewalRequest {
                presentation: world.present(&holder, vec![credential.clone()]),
                renewal: proposal.to_json(),
            },
            Utc::now(),
        )
    };
    let renewed = renew(&first, &renewal_of(&first)).unwrap().credential;
    let typed = AgentCapabilityCredential::from_json(&renewed).unwrap();
    assert_eq!(typed.credential_subject.renewal.count, 1);
    assert_ne!(
        typed.credential_status,
        AgentCapabilityCredential::from_json(&first)
            .unwrap()
            .credential_status,
        "a renewal has bits of its own"
    );

    type Widen = Box<dyn Fn(&mut AgentCapabilityCredential)>;
    let widenings: Vec<(&str, Widen, &str)> = vec![
        (
            "scope",
            Box::new(|c| {
                c.credential_subject.capabilities = vec![
                    json!({"action": "call:billing:*", "resource": "https://billing.example/**"}),
                ]
            }),
            "scope_exceeds_parent",
        ),
        (
            "holder",
            Box::new(move |c| c.credential_subject.id = did_of(&KeyPair::generate().public())),
            "renewal_invalid",
        ),
        (
            "task",
            Box::new(|c| c.credential_subject.task.id = "t2".into()),
            "renewal_invalid",
        ),
        (
            "principal",
            Box::new(|c| c.credential_subject.principal = "urn:vouch:principal:someoneelse".into()),
            "renewal_invalid",
        ),
        (
            "count",
            Box::new(|c| c.credential_subject.renewal.max_count += 10),
            "renewal_invalid",
        ),
        (
            "end",
            Box::new(|c| {
                c.credential_subject.renewal.not_after += Duration::days(30);
            }),
            "renewal_invalid",
        ),
    ];
    for (what, widen, code) in widenings {
        let mut proposal = renewal_of(&renewed);
        widen(&mut proposal);
        assert_eq!(
            refusal(renew(&renewed, &proposal)).0,
            code,
            "widening {what}"
        );
    }
    // Another's credential cannot be renewed by this holder: the presentation's holder binding.
    let others = world.issue(&other, "t1", "bob");
    let (code, _) = refusal(world.issuer.renew(
        RenewalRequest {
            presentation: world.present(&holder, vec![others.clone()]),
            renewal: renewal_of(&others).to_json(),
        },
        Utc::now(),
    ));
    assert_eq!(code, "not_holder");
    // A replayed presentation: its challenge was answered once already.
    let presentation = world.present(&holder, vec![renewed.clone()]);
    renew_with(&world, &presentation, &renewal_of(&renewed)).unwrap();
    assert_eq!(
        refusal(renew_with(&world, &presentation, &renewal_of(&renewed))).0,
        "replayed"
    );
    // Revoked: never renewed again.
    world
        .issuer
        .revoke(
            request("credential", first["id"].as_str().unwrap()),
            Utc::now(),
        )
        .unwrap();
    assert_eq!(refusal(renew(&renewed, &renewal_of(&renewed))).0, "revoked");
}

fn renew_with(
    world: &World,
    presentation: &Value,
    proposal: &AgentCapabilityCredential,
) -> Result<vouch_node::issuer::Issuance, IssuerError> {
    world.issuer.renew(
        RenewalRequest {
            presentation: presentation.clone(),
            renewal: proposal.to_json(),
        },
        Utc::now(),
    )
}

#[test]
fn a_renewal_racing_a_revocation_is_never_stored_after_it() {
    let world = Arc::new(world(None));
    let definition = world.definition("support");
    let holder = Arc::new(KeyPair::generate());
    world.bind(&definition, &holder);
    let first = world.issue(&holder, "t1", "alice");
    let first_id = first["id"].as_str().unwrap().to_owned();
    let (tell, progress) = std::sync::mpsc::channel();
    let renewing = {
        let (world, holder) = (world.clone(), holder.clone());
        std::thread::spawn(move || {
            let mut current = first;
            let mut renewed = Vec::new();
            for _ in 0..40 {
                let presentation = world.present(&holder, vec![current.clone()]);
                match renew_with(&world, &presentation, &renewal_of(&current)) {
                    Ok(done) => {
                        current = done.credential;
                        renewed.push(current.clone());
                        let _ = tell.send(());
                    }
                    Err(IssuerError::Refused(r)) if r.code.as_str() == "revoked" => break,
                    Err(e) => panic!("{e}"),
                }
            }
            renewed
        })
    };
    // Revoke while the renewals run: after the third.
    for _ in 0..3 {
        progress.recv().unwrap();
    }
    world
        .issuer
        .revoke(request("credential", &first_id), Utc::now())
        .unwrap();
    let renewed = renewing.join().unwrap();
    // Every renewal stored, before or after, carries a revoked bit: none escaped the revocation.
    for credential in &renewed {
        assert!(
            world.bit_set(std::slice::from_ref(credential)),
            "{}",
            credential["id"]
        );
    }
}

#[test]
fn issuance_outside_the_trusted_issuer_policy_is_refused() {
    let world = world(Some(vec!["call:billing:*"]));
    let definition = world.definition("support");
    let key = KeyPair::generate();
    world.bind(&definition, &key);
    world.issue(&key, "t1", "alice");
    let (code, message) = refusal(world.try_issue(&key, "t1", "alice", "call:payroll:pay"));
    assert_eq!(code, "untrusted_issuer");
    assert!(message.contains("call:payroll:pay"), "{message}");
}

#[test]
fn binding_needs_a_fresh_proof_by_the_instance_itself() {
    let world = world(None);
    let definition = world.definition("support");
    let key = KeyPair::generate();
    let did = did_of(&key.public());
    let challenge = world.issuer.challenge(Utc::now()).unwrap();
    let statement = Issuer::binding_statement(&did, &definition);
    // Signed by another key: the statement names an instance that did not sign.
    let thief = KeyPair::generate();
    let forged =
        possession::prove(&thief, &statement, &challenge.challenge, DOMAIN, Utc::now()).unwrap();
    assert_eq!(
        refusal(world.issuer.bind(&definition, &forged, Utc::now())).0,
        "malformed"
    );
    // A challenge the node never gave.
    let made_up = possession::prove(&key, &statement, "made-up", DOMAIN, Utc::now()).unwrap();
    assert_eq!(
        refusal(world.issuer.bind(&definition, &made_up, Utc::now())).0,
        "replayed"
    );
    // Another domain.
    let challenge = world.issuer.challenge(Utc::now()).unwrap();
    let elsewhere = possession::prove(
        &key,
        &statement,
        &challenge.challenge,
        "https://evil.example",
        Utc::now(),
    )
    .unwrap();
    assert_eq!(
        refusal(world.issuer.bind(&definition, &elsewhere, Utc::now())).0,
        "invalid_proof"
    );
    // Not bound: nothing is issued to it.
    assert!(matches!(
        world.try_issue(&key, "t1", "alice", "call:billing:refund"),
        Err(IssuerError::NotFound(_))
    ));
    world.bind(&definition, &key);
    world.issue(&key, "t1", "alice");
}

#[test]
fn challenges_are_sealed_not_stored_and_answered_once() {
    let world = world(None);
    let definition = world.definition("support");
    // Far more challenges than any table would hold: nothing is kept for them.
    for _ in 0..20_000 {
        world.issuer.challenge(Utc::now()).unwrap();
    }
    let key = KeyPair::generate();
    let did = did_of(&key.public());
    let statement = Issuer::binding_statement(&did, &definition);
    let challenge = world.issuer.challenge(Utc::now()).unwrap();
    // A proof that does not verify does not use the challenge up.
    let thief = KeyPair::generate();
    let forged =
        possession::prove(&thief, &statement, &challenge.challenge, DOMAIN, Utc::now()).unwrap();
    assert_eq!(
        refusal(world.issuer.bind(&definition, &forged, Utc::now())).0,
        "malformed"
    );
    let proof =
        possession::prove(&key, &statement, &challenge.challenge, DOMAIN, Utc::now()).unwrap();
    world.issuer.bind(&definition, &proof, Utc::now()).unwrap();
    // Answered: a second answer over it is a replay.
    let again =
        possession::prove(&key, &statement, &challenge.challenge, DOMAIN, Utc::now()).unwrap();
    assert_eq!(
        refusal(world.issuer.bind(&definition, &again, Utc::now())).0,
        "replayed"
    );
    // Expired: refused, though sealed by this node.
    let old = world
        .issuer
        .challenge(Utc::now() - chrono::Duration::minutes(6))
        .unwrap();
    let late = possession::prove(&key, &statement, &old.challenge, DOMAIN, Utc::now()).unwrap();
    assert_eq!(
        refusal(world.issuer.bind(&definition, &late, Utc::now())).0,
        "replayed"
    );
}

#[test]
fn no_raw_principal_prompt_or_argument_reaches_the_store_or_the_logs() {
    use crate::common::{node, write_config};
    use std::process::Stdio;
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, port) = write_config(dir.path());
    assert!(node(&config, "init").status().expect("init").success());
    // The node's whole log, at TRACE, read to its end by a thread; the node is up once it
    // logs that it started.
    let mut command = node(&config, "run");
    command.env("RUST_LOG", "trace").stderr(Stdio::piped());
    let mut process = crate::common::Running::spawned(command);
    let stderr = process.stderr();
    let (started, up) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead as _;
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("node started") {
                let _ = started.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    up.recv_timeout(std::time::Duration::from_secs(30))
        .expect("the node starts");
    let base = format!("http://127.0.0.1:{port}");
    let token = std::fs::read_to_string(dir.path().join("data/admin.token")).expect("token");
    let token = Some(token.trim());

    let principal = format!("principal-{}@customer.example", rand::random::<u64>());
    let prompt = format!("secret prompt {}", rand::random::<u64>());
    let purpose = format!("purpose {}", rand::random::<u64>());
    let admin = AdminClient::new(
        vouch_api::reach::Reach::new()
            .node(&base)
            .expect("a loopback URL"),
        token.map(str::to_owned),
    );
    let registered = admin
        .register_definition(&{
            let mut definition = crate::common::definition_request("support");
            definition.system_prompt_hash = Multihash::of(prompt.as_bytes()).as_str().into();
            definition
        })
        .expect("registered");
    let definition = registered.definition.did;
    let key = KeyPair::generate();
    let challenge = admin.public().challenge().expect("a challenge");
    let proof = possession::prove(
        &key,
        &Issuer::binding_statement(&did_of(&key.public()), &definition),
        &challenge.challenge,
        &challenge.domain,
        Utc::now(),
    )
    .expect("proof");
    admin.bind(&definition, &proof).expect("bound");
    let issued = admin
        .issue(&{
            let mut request = crate::common::issue_request(
                &key,
                "t1",
                json!([{"action": "call:billing:refund", "resource": "https://billing.example/**"}]),
            );
            request.task.purpose = purpose.clone();
            request.principal = principal.clone();
            request
        })
        .expect("issued");
    let text = issued.credential.to_string();
    assert!(!text.contains(&principal) && !text.contains(&purpose));
    admin
        .revoke(&crate::common::revocation_request(Level::Task, "t1", false))
        .expect("revoked");
    // A partner's verification of a credential carrying a tool's arguments: decided and
    // audited, and nothing of the arguments kept.
    let argument = format!("tool argument {}", rand::random::<u64>());
    let mut carrying = issued.credential.clone();
    carrying["credentialSubject"]["capabilities"][0]["constraints"] =
        json!({"arguments": {"refund": {"note": argument}}});
    admin
        .public()
        .verify_credential(&VerifyCredential {
            verifiable_credential: carrying,
            options: Default::default(),
        })
        .expect("a report");
    let audited = admin.public().audit_entries(0).expect("the entries");
    assert_eq!(
        audited.entries.last().expect("one").event,
        vouch_core::audit::Event::VerificationRefused
    );
    process.kill_9();
    let logs = reader.join().expect("the log is read");
    assert!(logs.contains("credential issued"), "the log was written");
    for secret in [&principal, &prompt, &purpose, &argument] {
        assert!(!logs.contains(secret.as_str()), "{secret} in the logs");
        for file in walk(dir.path()) {
            let bytes = std::fs::read(&file).expect("readable");
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in {}",
                file.display()
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("test fixture") {
        let path = entry.expect("test fixture").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn status_lists_carry_a_short_life_that_the_heartbeat_renews() {
    let world = world(None);
    let definition = world.definition("support");
    let key = KeyPair::generate();
    world.bind(&definition, &key);
    let chain = vec![world.issue(&key, "t1", "alice")];
    let now = Utc::now();
    // Just signed: nothing due.
    assert!(world.lists.refresh(now).expect("refresh").is_empty());
    // Past the lists' validUntil (300 s by default), with no newer version: stale, fail closed.
    let later = now + Duration::seconds(301);
    assert_eq!(
        world.reasons_at(&chain, &key, later),
        HashSet::from([Reason::StatusStale])
    );
    // The heartbeat signs both lists anew when less than half their life is left.
    let beat = now + Duration::seconds(200);
    let signed = world.lists.refresh(beat).expect("refresh");
    assert_eq!(signed.len(), 2, "the revocation and the suspension list");
    for list in &signed {
        let read = StatusListCredential::parse(list).expect("a list");
        assert_eq!(
            read.valid_until,
            Some(read.valid_from + Duration::seconds(300))
        );
    }
    assert_eq!(world.reasons_at(&chain, &key, later), HashSet::new());
}

#[test]
fn forged_replayed_and_conflicting_revocation_events_are_refused() {
    use vouch_core::revocation::{Change, Level, RevocationEvent, Subject};
    let world = world(None);
    let definition = world.definition("support");
    let key = KeyPair::generate();
    world.bind(&definition, &key);
    world.issue(&key, "t1", "alice");
    let revoked = world
        .issuer
        .revoke(request("task", "t1"), Utc::now())
        .expect("revoked");
    let genuine = serde_json::to_vec(&revoked.event).expect("JSON");
    let now = Utc::now();
    // The org's own event, as a peer would send it back: held already.
    assert_eq!(world.events.receive(&genuine, now), Judgement::Known);
    assert_eq!(world.events.list(None).expect("events").len(), 1);

    // A non-member's event, validly signed by its own key.
    let stranger = KeyPair::generate();
    let foreign = RevocationEvent {
        issuer: did_of(&stranger.public()),
        id: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        issued: now,
        change: Change::Revoked,
        level: Level::Task,
        subject: Subject::Task("t1".into()),
        credentials: 1,
        reason: None,
    }
    .sign(&stranger, verification_method_of(&stranger.public()))
    .expect("signed");
    assert!(matches!(
        world
            .events
            .receive(&serde_json::to_vec(&foreign).expect("JSON"), now),
        Judgement::Misbehaved(_)
    ));

    // The member's event, changed after signing (another subject): not stored.
    let mut forged = revoked.event.clone();
    forged["events"]["https://w3id.org/vouch/events/revoked"]["subject"]["id"] = json!("t2");
    forged["jti"] = json!(format!("urn:uuid:{}", uuid::Uuid::new_v4()));
    let judged = world
        .events
        .receive(&serde_json::to_vec(&forged).expect("JSON"), now);
    assert!(!matches!(judged, Judgement::Accepted), "{judged:?}");
    // Claiming to be the member, signed by a stranger's key.
    let mut impostor = RevocationEvent::parse(&revoked.event).expect("an event");
    impostor.id = format!("urn:uuid:{}", uuid::Uuid::new_v4());
    let impostor = impostor
        .sign(&stranger, verification_method_of(&stranger.public()))
        .expect("signed");
    assert!(matches!(
        world
            .events
            .receive(&serde_json::to_vec(&impostor).expect("JSON"), now),
        Judgement::Misbehaved(_)
    ));
    // From the future.
    let org_event = RevocationEvent::parse(&revoked.event).expect("an event");
    let ahead = RevocationEvent {
        id: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        issued: now + Duration::hours(1),
        ..org_event.clone()
    };
    let ahead = ahead
        .sign(
            &KeyPair::generate(),
            verification_method_of(&stranger.public()),
        )
        .expect("signed");
    assert!(matches!(
        world
            .events
            .receive(&serde_json::to_vec(&ahead).expect("JSON"), now),
        Judgement::Misbehaved(_)
    ));
    // Validly signed by the member, under the id of an event held: the first is kept.
    let org = Org::new(
        world.dir.path().join("node"),
        org_event.issuer.clone(),
        world.registry.clone(),
    );
    let (org_key, method) = org.signing_key().expect("the org's key");
    let conflicting = RevocationEvent {
        subject: Subject::Task("t9".into()),
        ..org_event.clone()
    }
    .sign(&org_key, method)
    .expect("signed");
    assert_eq!(
        world
            .events
            .receive(&serde_json::to_vec(&conflicting).expect("JSON"), now),
        Judgement::Known
    );
    // Garbage and oversized input.
    assert!(matches!(
        world.events.receive(b"{", now),
        Judgement::Misbehaved(_)
    ));
    assert!(matches!(
        world.events.receive(&vec![b' '; 9000], now),
        Judgement::Misbehaved(_)
    ));
    // Only the genuine event is held.
    let held = world.events.list(None).expect("events");
    assert_eq!(held, vec![revoked.event]);
}

#[test]
fn every_change_is_in_the_audit_log_which_finds_an_entry_changed_in_the_store() {
    use vouch_core::audit::Event;
    let tree = tree();
    let issuer = &tree.world.issuer;
    issuer
        .revoke(request("task", "t2"), Utc::now())
        .expect("revoked");
    let suspended = issuer
        .suspend(request("credential", &tree.id("c2")), Utc::now())
        .expect("suspended");
    issuer
        .lift(
            suspended.suspension.as_deref().expect("an id"),
            None,
            Utc::now(),
        )
        .expect("lifted");
    let audit = &tree.world.audit;
    let (size, _) = audit.verify().expect("the log verifies");
    assert_eq!(
        size, 9,
        "3 issued, 3 delegated, a revocation, a suspension, its lifting"
    );
    let entries = audit.entries(0).expect("entries");
    let events: Vec<Event> = entries.iter().map(|e| e.event).collect();
    assert_eq!(
        events,
        [
            [Event::Issued; 3].as_slice(),
            &[Event::Delegated; 3],
            &[Event::Revoked, Event::Suspended, Event::Reinstated],
        ]
        .concat()
    );
    assert!(
        entries[0]
            .principal
            .as_deref()
            .is_some_and(|p| p.starts_with("urn:vouch:principal:"))
    );
    assert_eq!(entries[6].task.as_deref(), Some("t2"));

    // An entry changed in the store, chain and all, is found.
    use vouch_core::audit::log::LogStore as _;
    let mut changed = entries[4].clone();
    changed.task = Some("t9".into());
    let mut batch = vouch_node::store::Batch::default();
    tree.world
        .store
        .put_audit_entry(&mut batch, 4, &changed.to_bytes(), u64::MAX - 1, &[]);
    // (the size written back as it was)
    tree.world.store.put_audit_entry(
        &mut batch,
        size - 1,
        &entries[8].to_bytes(),
        u64::MAX - 1,
        &[],
    );
    tree.world.store.commit(batch).expect("written");
    let error = audit.verify().expect_err("found");
    assert!(error.to_string().contains("entry 4"), "{error}");
}

#[test]
fn the_audit_log_is_served_with_a_signed_checkpoint_and_proofs_that_verify() {
    use crate::common::get;
    use vouch_core::audit::{self, Hash, checkpoint};
    let dir = tempfile::tempdir().expect("tempdir");
    // Two changes: a task revoked, then another.
    let (node, key, origin) = node_with_revoked_tasks(dir.path(), &["t1", "t2"]);
    let client = node.client();
    let note = client.audit_checkpoint().expect("a checkpoint");
    let opened = checkpoint::open(note.as_bytes(), &origin, &key.public()).expect("signed");
    assert_eq!(opened.size, 2);

    let hashes = |proof: &[String]| -> Vec<Hash> {
        proof
            .iter()
            .map(|h| Hash::parse_hash(h).expect("a hash"))
            .collect()
    };
    for index in 0..2 {
        let answer = client.inclusion_proof(index, 2).expect("a proof");
        audit::verify_inclusion(
            &hashes(&answer.proof),
            index,
            2,
            opened.root,
            answer.entry.leaf_hash(),
        )
        .expect("included");
    }
    let proof = client.consistency_proof(1, 2).expect("a proof").proof;
    let entries = client.audit_entries(0).expect("the entries").entries;
    audit::verify_consistency(&hashes(&proof), 1, entries[0].leaf_hash(), 2, opened.root)
        .expect("consistent");
    // Beyond the log, or malformed: 400. (raw HTTP: queries no client sends)
    for (route, query) in [
        (routes::INCLUSION_PROOF.path, "index=0&size=3"),
        (routes::INCLUSION_PROOF.path, "index=x&size=1"),
        (routes::CONSISTENCY_PROOF.path, "old=0&new=2"),
        (routes::AUDIT_ENTRIES.path, "from=1&extra=2"),
    ] {
        let bad = format!("{route}?{query}");
        assert_eq!(get(&node.url(&bad), None).status, 400, "{bad}");
    }
}

#[test]
fn an_auditor_checks_a_live_nodes_log_and_finds_what_was_changed_removed_or_moved() {
    use vouch_wallet::audit::{Finding, check, fetch};
    let dir = tempfile::tempdir().expect("tempdir");
    let (node, key, origin) = node_with_revoked_tasks(dir.path(), &["t1", "t2", "t3", "t4"]);
    let (note, entries) = fetch(&node.url("")).expect("the log");
    assert_eq!(entries.len(), 4);
    assert!(matches!(
        check(&entries, &note, &origin, &key.public()).expect("checked"),
        Finding::Verified { size: 4, .. }
    ));
    let tampered = |mutate: &dyn Fn(&mut Vec<vouch_core::audit::Entry>)| {
        let mut copy = entries.clone();
        mutate(&mut copy);
        match check(&copy, &note, &origin, &key.public()).expect("checked") {
            Finding::Tampered { at, .. } => at,
            Finding::Verified { .. } => panic!("not found"),
        }
    };
    assert_eq!(tampered(&|e| e[1].task = Some("t9".into())), 1);
    assert_eq!(
        tampered(&|e| e[3].task = Some("t9".into())),
        3,
        "the last: by the root"
    );
    assert_eq!(
        tampered(&|e| {
            e.remove(2);
        }),
        2
    );
    assert_eq!(tampered(&|e| e.swap(0, 2)), 0);
    assert_eq!(
        tampered(&|e| {
            e.truncate(3);
        }),
        3
    );
    // A checkpoint is only the node key's.
    assert!(check(&entries, &note, &origin, &KeyPair::generate().public()).is_err());
}

/// A running node whose org revoked these tasks (one audit entry each); its node key and its
/// audit log's origin.
fn node_with_revoked_tasks(
    dir: &std::path::Path,
    tasks: &[&str],
) -> (crate::common::TestNode, KeyPair, String) {
    let node = crate::common::TestNode::init(dir);
    let admin = node.admin();
    for task in tasks {
        admin
            .revoke(&crate::common::revocation_request(Level::Task, task, true))
            .expect("revoked");
    }
    let key = datadir::node_key(&node.config.data_dir).expect("the node key");
    let origin = format!("{}/audit", node.node().identity.did);
    (node, key, origin)
}

#[test]
fn the_verification_services_decisions_land_in_the_audit_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (node, _, _) = node_with_revoked_tasks(dir.path(), &["t1"]);
    let client = node.client();
    let refused = client
        .verify_credential(&VerifyCredential {
            verifiable_credential: json!({"id": "urn:uuid:6f1b3a44-2c8e-4f53-9a57-0c1a1d2e3f40"}),
            options: Default::default(),
        })
        .expect("a report");
    assert!(!refused.verified, "{refused:?}");
    let entries = client.audit_entries(0).expect("the entries").entries;
    assert_eq!(entries.len(), 2, "{entries:?}");
    let last = serde_json::to_value(&entries[1]).expect("an entry");
    assert_eq!(last["event"], "verification_refused");
    assert_eq!(last["decision"], "rejected");
    assert_eq!(last["reason"], "malformed");
    // A refusal keeps what the caller chose as one hash, never its text.
    assert_eq!(
        last["credentials"],
        json!([vouch_core::exchange::audit::digest([
            "urn:uuid:6f1b3a44-2c8e-4f53-9a57-0c1a1d2e3f40"
        ])])
    );
}

#[test]
fn a_change_whose_audit_entry_cannot_be_written_is_not_made() {
    use crate::common::TestNode;
    let dir = tempfile::tempdir().expect("tempdir");
    let (node, _, _) = node_with_revoked_tasks(dir.path(), &["t1"]);
    let config = node.config.clone();
    drop(node);
    // The log's last entry is gone from the store (a bad disk, a careless operator): no entry
    // can be chained after it.
    {
        let path = config.data_dir.join(datadir::DB);
        let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), &path).expect("families");
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), &path, families).expect("open");
        let entries = db.cf_handle("audit_entries").expect("the family");
        db.delete_cf(entries, 0u64.to_be_bytes()).expect("deleted");
    }
    let node = TestNode::start(config);
    let refused = node
        .admin()
        .revoke(&crate::common::revocation_request(Level::Task, "t2", true))
        .expect_err("not made");
    assert_eq!(refused.code(), Some(ErrorCode::Internal), "{refused}");
    // Nothing of the change was made: no event, no entry, the task is not revoked.
    let client = node.client();
    let events = client.revocations(None).expect("the events").events;
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        !serde_json::to_string(&events[0])
            .expect("JSON")
            .contains("\"t2\"")
    );
    assert!(
        client
            .audit_entries(0)
            .expect("the entries")
            .entries
            .is_empty()
    );
}

/// Copies a closed RocksDB folder.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("created");
    for entry in std::fs::read_dir(from).expect("readable") {
        let entry = entry.expect("an entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copied");
    }
}

#[test]
fn any_entry_changed_deleted_inserted_or_moved_in_the_store_is_found_by_the_auditor() {
    use vouch_node::audit::AuditLog;
    use vouch_node::store::Store;
    use vouch_wallet::audit::{Finding, check};

    const N: u64 = 24;
    let dir = tempfile::tempdir().expect("tempdir");
    let (node, key, origin) = {
        let tasks: Vec<String> = (0..N).map(|i| format!("t{i}")).collect();
        let tasks: Vec<&str> = tasks.iter().map(String::as_str).collect();
        node_with_revoked_tasks(dir.path(), &tasks)
    };
    let did = node.node().identity.did.clone();
    let db = node.config.data_dir.join(datadir::DB);
    let note = node.client().audit_checkpoint().expect("a checkpoint");
    drop(node);

    // Reads the log from a copy of the store as `vouch audit verify` would, and checks it.
    let audit = |path: &std::path::Path| {
        let log = AuditLog::new(
            std::sync::Arc::new(Store::open(path).expect("opens")),
            &did.to_string(),
        );
        let entries = log.entries(0).expect("entries");
        check(&entries, note.as_bytes(), &origin, &key.public()).expect("checked")
    };
    let intact = tempfile::tempdir().expect("tempdir");
    copy_dir(&db, intact.path());
    assert!(matches!(
        audit(intact.path()),
        Finding::Verified { size: N, .. }
    ));

    // Every position and every kind: 96 cases, each on its own copy of the store.
    for (at, kind) in (0..N).flat_map(|at| (0u8..4).map(move |kind| (at, kind))) {
        let copy = tempfile::tempdir().expect("tempdir");
        copy_dir(&db, copy.path());
        {
            let opts = rocksdb::Options::default();
            let families = rocksdb::DB::list_cf(&opts, copy.path()).expect("families");
            let raw = rocksdb::DB::open_cf(&opts, copy.path(), families).expect("open");
            let cf = raw.cf_handle("audit_entries").expect("the family");
            let get = |seq: u64| {
                raw.get_cf(cf, seq.to_be_bytes())
                    .expect("read")
                    .expect("held")
            };
            match kind {
                // Changed: another task in its JSON.
                0 => {
                    let value = String::from_utf8(get(at)).expect("UTF-8");
                    let changed = value.replacen(&format!("\"t{at}\""), "\"t999\"", 1);
                    assert_ne!(changed, value);
                    raw.put_cf(cf, at.to_be_bytes(), changed).expect("put");
                }
                // Deleted.
                1 => raw.delete_cf(cf, at.to_be_bytes()).expect("deleted"),
                // Inserted: a copy of it before it, the rest moved up one place.
                2 => {
                    for seq in (at..N).rev() {
                        raw.put_cf(cf, (seq + 1).to_be_bytes(), get(seq))
                            .expect("put");
                    }
                }
                // Moved: swapped with its neighbour.
                _ => {
                    let other = (at + 1) % N;
                    let (a, b) = (get(at), get(other));
                    raw.put_cf(cf, at.to_be_bytes(), b).expect("put");
                    raw.put_cf(cf, other.to_be_bytes(), a).expect("put");
                }
            }
        }
        match audit(copy.path()) {
            Finding::Tampered { at: found, .. } => {
                assert!(
                    found <= at + 1,
                    "kind {kind}: found at {found}, tampered at {at}"
                );
            }
            Finding::Verified { .. } => panic!("kind {kind} at {at} not found"),
        }
    }
}

#[test]
fn the_wallet_daemon_renews_a_credential_through_its_orgs_node_and_logs_it() {
    use crate::common::TestNode;
    use vouch_wallet::daemon::{Daemon, Request};
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::init(&dir.path().join("node"));
    let key = KeyPair::generate();
    let credential = crate::common::agent_credential(
        &node,
        &key,
        "t1",
        json!([{"action": "read:tickets", "resource": "https://h.example/t/**"}]),
    );

    let daemon = Daemon::open(&dir.path().join("wallet"), key.clone(), 0)
        .expect("opens")
        .with_node(node.node_url(), None, Default::default());
    daemon
        .handle(Request::AddCredential {
            credential: credential.clone(),
            chain: Vec::new(),
        })
        .expect("kept");
    let id = credential["id"].as_str().expect("an id").to_owned();
    // Nothing is due while most of its life is left.
    assert!(daemon.renew_due(Utc::now()).expect("checked").is_empty());
    let renewed = daemon
        .handle(Request::Renew { id: id.clone() })
        .expect("renewed");
    assert_ne!(renewed["id"], credential["id"]);
    assert_eq!(renewed["credentialSubject"]["task"]["id"], "t1");
    let held = daemon
        .handle(Request::Credentials {
            task: Some("t1".into()),
        })
        .expect("listed");
    assert_eq!(held.as_array().expect("a list").len(), 2);
    // A lineage is a line: the same credential is not renewed twice; the refusal is the node's,
    // its code and reason passed through the daemon.
    let again = daemon
        .handle(Request::Renew { id: id.clone() })
        .expect_err("refused");
    assert_eq!(
        (again.code.as_str(), again.reason),
        (
            "renewal_invalid",
            Some(vouch_core::report::Reason::RenewalInvalid)
        ),
        "{}",
        again.message
    );
    // With less than a third of its life left, the newest of the lineage is renewed on its own;
    // the original, whose renewal is held, is not asked for again.
    let typed = AgentCapabilityCredential::from_json(&credential).expect("a credential");
    let due = daemon
        .renew_due(typed.valid_until - Duration::minutes(4))
        .expect("checked");
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0].0, renewed["id"].as_str().expect("an id"));
    assert!(due[0].1.is_ok(), "{due:?}");
    // The renewals are in the wallet's log, the first the original's.
    let entries = daemon.log().entries(0).expect("entries");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].credentials[1], id);
    assert_eq!(entries[0].event, vouch_core::audit::Event::Renewed);
    assert_eq!(
        entries[0].credentials[0],
        renewed["id"].as_str().expect("an id")
    );
}
