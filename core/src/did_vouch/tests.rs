use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::Value;

use super::*;
use crate::did::document::Relationship;
use crate::did::{Did, DidResolver, DidUrl, ResolveError};
use crate::key::KeyPair;

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn key(n: u8) -> KeyPair {
    KeyPair::from_seed(&[n; 32])
}

/// A DID's history in the making: the log, and the chain of update keys where `keys[i]` signs
/// version `i + 1`.
struct History {
    log: DidLog,
    keys: Vec<KeyPair>,
    operations: Vec<Operation>,
}

impl History {
    /// A genesis signed by key 1 with key 2 committed as the next update key.
    fn new() -> Self {
        let (did, genesis) = create(
            DocumentContent::single_key(&key(100).public()),
            &key(1),
            &[key(2).public()],
            at(0),
        )
        .unwrap();
        let log = DidLog::new(genesis.clone()).unwrap();
        assert_eq!(log.did(), &did);
        Self {
            log,
            keys: vec![key(1), key(2)],
            operations: vec![genesis],
        }
    }

    /// The next update, signed by the committed key, setting document key `doc_key`.
    fn next_update(&self, doc_key: u8, minutes: i64) -> Operation {
        let n = self.keys.len();
        let next_key = key(u8::try_from(n + 1).unwrap());
        update(
            &self.log,
            DocumentContent::single_key(&key(doc_key).public()),
            &self.keys[n - 1],
            &[next_key.public()],
            at(minutes),
        )
        .unwrap()
    }

    fn push(&mut self, operation: Operation) {
        assert_eq!(
            self.log.apply(operation.clone()).unwrap(),
            Applied::Appended
        );
        let n = self.keys.len();
        self.keys.push(key(u8::try_from(n + 1).unwrap()));
        self.operations.push(operation);
    }

    fn with_updates(count: usize) -> Self {
        let mut history = Self::new();
        for i in 0..count {
            let i = i64::try_from(i).unwrap();
            let operation = history.next_update(u8::try_from(101 + i).unwrap(), 10 * (i + 1));
            history.push(operation);
        }
        history
    }
}

fn assertion_key(resolution: &Resolution) -> crate::key::PublicKey {
    let vm = resolution.document.assertion_method[0].clone();
    resolution
        .document
        .key_for(&vm, Relationship::AssertionMethod)
        .unwrap()
}

#[test]
fn create_update_deactivate_and_resolve_every_version() {
    let mut history = History::with_updates(2);
    let did = history.log.did().clone();
    assert!(did.as_str().starts_with("did:vouch:zQm"));
    check_did(&did).unwrap();

    let latest = history.log.resolve(VersionSelector::Latest).unwrap();
    assert_eq!(latest.document.id, did);
    assert_eq!(assertion_key(&latest), key(102).public());
    assert_eq!(latest.metadata.version_id.as_deref(), Some("3"));
    assert_eq!(latest.metadata.updated, Some(Timestamp::new(at(20))));
    assert_eq!(latest.metadata.next_version_id, None);

    let first = history.log.resolve(VersionSelector::Id(1)).unwrap();
    assert_eq!(assertion_key(&first), key(100).public());
    assert_eq!(first.metadata.updated, None);
    assert_eq!(first.metadata.next_version_id.as_deref(), Some("2"));
    assert_eq!(first.metadata.next_update, Some(Timestamp::new(at(10))));

    let between = history.log.resolve(VersionSelector::Time(at(15))).unwrap();
    assert_eq!(between.metadata.version_id.as_deref(), Some("2"));
    assert_eq!(assertion_key(&between), key(101).public());
    let exact = history.log.resolve(VersionSelector::Time(at(20))).unwrap();
    assert_eq!(exact.metadata.version_id.as_deref(), Some("3"));
    for missing in [
        VersionSelector::Id(0),
        VersionSelector::Id(4),
        VersionSelector::Time(at(-1)),
    ] {
        assert_eq!(
            history.log.resolve(missing).unwrap_err(),
            ResolveError::NotFound(did.clone())
        );
    }

    let mut resolver = LogResolver::new();
    resolver.insert(history.log.clone()).unwrap();
    assert_eq!(resolver.resolve(&did).unwrap(), latest.document);

    let end = deactivate(&history.log, &history.keys[3], at(30)).unwrap();
    history.push(end);
    let ended = history.log.resolve(VersionSelector::Latest).unwrap();
    assert!(ended.metadata.deactivated);
    assert!(ended.document.verification_method.is_empty());
    // History stays resolvable, marked as belonging to a deactivated DID.
    let old = history.log.resolve(VersionSelector::Id(2)).unwrap();
    assert_eq!(assertion_key(&old), key(101).public());
    assert!(old.metadata.deactivated);
    resolver.insert(history.log.clone()).unwrap();
    assert_eq!(
        resolver.resolve(&did).unwrap_err(),
        ResolveError::Deactivated(did.clone())
    );

    // Nothing follows a deactivation, not even from the key it committed to.
    assert_eq!(
        update(
            &history.log,
            DocumentContent::single_key(&key(1).public()),
            &history.keys[4],
            &[key(9).public()],
            at(40)
        )
        .unwrap_err(),
        LogError::Deactivated
    );

    // The whole log round-trips through JSON Lines and verifies from the genesis alone.
    let text = history.log.to_jsonl();
    assert_eq!(text.lines().count(), 4);
    assert_eq!(DidLog::from_jsonl(&text).unwrap(), history.log);
    assert_eq!(
        DidLog::verify(history.operations.clone()).unwrap(),
        history.log
    );
}

#[test]
fn the_did_is_the_hash_of_the_genesis() {
    let history = History::new();
    let genesis = &history.operations[0];
    // Reading the operation back gives the same DID and hash.
    let read = Operation::from_json(genesis.to_json().as_bytes()).unwrap();
    assert_eq!(read.genesis_did().unwrap(), *history.log.did());
    assert_eq!(read.hash(), genesis.hash());
    // Any change to the genesis names another DID.
    let mut other = genesis.clone();
    other.created = Timestamp::new(at(1));
    assert_ne!(other.genesis_did().unwrap(), *history.log.did());
}

/// Each entry: a way to break the log of a DID with a genesis and two updates, and the error.
#[test]
fn broken_logs_are_refused() {
    let history = History::with_updates(2);
    let ops = &history.operations;
    let genesis_log = DidLog::new(ops[0].clone()).unwrap();
    let attacker = key(66);

    // An update signed by a key nobody committed to, correctly formed otherwise.
    let unauthorized = { resign(ops[1].clone(), &attacker) };
    // The current key, already revealed at version 2, cannot sign version 3: pre-rotation.
    let revealed_key_reused = { resign(ops[2].clone(), &history.keys[1]) };
    let tampered = {
        let mut op = ops[1].clone();
        op.document = Some(DocumentContent::single_key(&attacker.public()));
        op
    };
    let broken_link = {
        let mut op = ops[2].clone();
        op.previous = Some(ops[0].hash());
        resign(op, &history.keys[2])
    };
    let back_in_time = {
        let mut op = ops[1].clone();
        op.created = Timestamp::new(at(-5));
        resign(op, &history.keys[1])
    };
    let other_did = {
        let other = DidLog::new(
            create(
                DocumentContent::single_key(&key(7).public()),
                &key(7),
                &[key(8).public()],
                at(0),
            )
            .unwrap()
            .1,
        )
        .unwrap();
        update(
            &other,
            DocumentContent::single_key(&key(7).public()),
            &key(8),
            &[key(9).public()],
            at(1),
        )
        .unwrap()
    };
    let extra_proof_field = {
        let mut op = ops[1].clone();
        op.proof.insert("challenge".into(), "x".into());
        op
    };
    let unsigned = {
        let mut op = ops[1].clone();
        op.proof.clear();
        op
    };

    let cases: Vec<(&str, Vec<Operation>, LogError)> = vec![
        (
            "unauthorized signer",
            vec![ops[0].clone(), unauthorized],
            LogError::UnauthorizedKey { version: 2 },
        ),
        (
            "revealed key reused",
            vec![ops[0].clone(), ops[1].clone(), revealed_key_reused],
            LogError::UnauthorizedKey { version: 3 },
        ),
        (
            "replayed operation",
            vec![ops[0].clone(), ops[1].clone(), ops[1].clone()],
            LogError::Replayed { version: 2 },
        ),
        (
            "replayed genesis",
            vec![ops[0].clone(), ops[0].clone()],
            LogError::Replayed { version: 1 },
        ),
        (
            "reordered operations",
            vec![ops[0].clone(), ops[2].clone(), ops[1].clone()],
            LogError::OutOfOrder {
                expected: 2,
                found: 3,
            },
        ),
        (
            "broken hash link",
            vec![ops[0].clone(), ops[1].clone(), broken_link],
            LogError::BrokenLink { version: 3 },
        ),
        (
            "dated before its predecessor",
            vec![ops[0].clone(), back_in_time],
            LogError::TimeWentBack { version: 2 },
        ),
        (
            "operation of another DID",
            vec![ops[0].clone(), other_did.clone()],
            LogError::WrongDid(Box::new((
                genesis_log.did().clone(),
                other_did.did.clone().unwrap(),
            ))),
        ),
        ("no genesis", vec![ops[1].clone()], LogError::NotGenesis),
        ("empty", vec![], LogError::NotGenesis),
    ];
    for (name, operations, error) in cases {
        assert_eq!(DidLog::verify(operations).unwrap_err(), error, "{name}");
    }

    for (name, operation) in [
        ("tampered document", tampered),
        ("extra proof field", extra_proof_field),
        ("no proof", unsigned),
    ] {
        let mut log = genesis_log.clone();
        let error = log.apply(operation).unwrap_err();
        assert!(
            matches!(error, LogError::BadSignature { version: 2, .. }),
            "{name}: {error}"
        );
        assert_eq!(
            log, genesis_log,
            "{name}: a refused operation changes nothing"
        );
    }
}

/// Signs an operation again with `key`, revealed as its update key, as anyone holding that key
/// could.
fn resign(mut op: Operation, key: &KeyPair) -> Operation {
    op.proof.clear();
    op.update_key = key.public();
    let options = crate::proof::ProofOptions {
        cryptosuite: crate::proof::Cryptosuite::EddsaJcs2022,
        created: op.created.time(),
        verification_method: crate::did::key::verification_method_of(&key.public()),
        purpose: Relationship::CapabilityInvocation,
        challenge: None,
        domain: None,
        expires: None,
    };
    let signed = crate::proof::sign(&serde_json::to_value(&op).unwrap(), &options, key).unwrap();
    serde_json::from_value(signed).unwrap()
}

#[test]
fn equivocation_is_kept_as_evidence() {
    let mut history = History::with_updates(1);
    let version_3 = history.next_update(110, 20);
    // The holder of the key committed at version 2 signs a second, different version 3.
    let fork = history.next_update(111, 21);
    history.push(version_3.clone());
    let did = history.log.did().clone();
    let before = history.log.clone();

    assert_eq!(
        history.log.apply(fork.clone()).unwrap(),
        Applied::Equivocation
    );
    assert_eq!(history.log.apply(fork.clone()).unwrap(), Applied::Duplicate);
    let evidence = &history.log.equivocations()[0];
    assert_eq!(evidence.version, 3);
    assert_eq!(evidence.accepted, version_3.hash());
    assert_eq!(evidence.conflicting, fork);
    for at in [VersionSelector::Latest, VersionSelector::Id(1)] {
        assert_eq!(
            history.log.resolve(at).unwrap_err(),
            ResolveError::Equivocation {
                did: did.clone(),
                version: 3
            }
        );
    }
    let mut resolver = LogResolver::new();
    resolver.insert(history.log.clone()).unwrap();
    assert!(matches!(
        resolver.resolve(&did),
        Err(ResolveError::Equivocation { version: 3, .. })
    ));

    // The evidence travels with the log.
    let read = DidLog::from_jsonl(&history.log.to_jsonl()).unwrap();
    assert_eq!(read.equivocations(), history.log.equivocations());

    // A conflicting operation that is not validly signed is an attack, not evidence.
    let mut log = before.clone();
    let forged = resign(fork, &key(66));
    assert!(matches!(
        log.apply(forged),
        Err(LogError::UnauthorizedKey { version: 3 })
    ));
    assert_eq!(log, before);
}

#[test]
fn equivocation_evidence_is_capped_and_costs_linear_time() {
    // 999 valid operations that all claim version 2: the first is accepted, a few are kept as
    // evidence, the rest add nothing. Each is hashed once (the log keeps the hashes), so this is
    // linear in the operations; it took more than 10 s when every apply re-hashed the evidence.
    let history = History::new();
    let mut log = history.log.clone();
    let mut kept = 0;
    for minute in 1..=999 {
        let operation = history.next_update(100, minute);
        match log.apply(operation).unwrap() {
            Applied::Appended => assert_eq!(minute, 1),
            Applied::Equivocation => kept += 1,
            Applied::EvidenceFull => {}
            Applied::Duplicate => panic!("every operation differs"),
        }
    }
    assert_eq!(kept, MAX_EVIDENCE_PER_VERSION);
    assert_eq!(log.equivocations().len(), MAX_EVIDENCE_PER_VERSION);
    assert!(matches!(
        log.resolve(VersionSelector::Latest),
        Err(ResolveError::Equivocation { version: 2, .. })
    ));
}

#[test]
fn a_resolver_keeps_the_longest_log_and_refuses_two_that_diverge() {
    // A stale copy of a log, given after the current one, must not bring back the rotated-away
    // key; given before it, it is superseded.
    let history = History::with_updates(2);
    let did = history.log.did().clone();
    let stale = DidLog::verify(history.operations[..2].to_vec()).unwrap();
    for order in [[&history.log, &stale], [&stale, &history.log]] {
        let mut resolver = LogResolver::new();
        for log in order {
            resolver.insert(log.clone()).unwrap();
        }
        assert_eq!(resolver.log(&did).unwrap().version(), 3);
        assert_eq!(
            resolver.resolve(&did).unwrap(),
            history
                .log
                .resolve(VersionSelector::Latest)
                .unwrap()
                .document
        );
    }
    // Evidence held by either log survives the merge, whichever comes first.
    let mut forked = stale.clone();
    let mut other = History::with_updates(0);
    let conflicting = other.next_update(121, 11);
    other.push(conflicting.clone());
    assert_eq!(forked.apply(conflicting).unwrap(), Applied::Equivocation);
    for order in [[&history.log, &forked], [&forked, &history.log]] {
        let mut resolver = LogResolver::new();
        for log in order {
            resolver.insert(log.clone()).unwrap();
        }
        assert!(matches!(
            resolver.resolve(&did),
            Err(ResolveError::Equivocation { version: 2, .. })
        ));
    }
    // Two logs that fork: refused, and the DID resolves to neither.
    let mut fork = stale.clone();
    let mut other = History::with_updates(1);
    let branch = other.next_update(120, 25);
    other.push(branch.clone());
    fork.apply(branch).unwrap();
    let mut resolver = LogResolver::new();
    resolver.insert(history.log.clone()).unwrap();
    assert_eq!(resolver.insert(fork), Err(LogError::Diverged(did.clone())));
    assert!(matches!(
        resolver.resolve(&did),
        Err(ResolveError::Equivocation { version: 3, .. })
    ));
}

#[test]
fn out_of_order_operations_wait_for_their_predecessor() {
    let mut history = History::with_updates(2);
    let mut log = DidLog::new(history.operations[0].clone()).unwrap();
    let third = history.operations[2].clone();
    assert_eq!(
        log.apply(third.clone()).unwrap_err(),
        LogError::OutOfOrder {
            expected: 2,
            found: 3
        }
    );
    assert_eq!(
        log.apply(history.operations[1].clone()).unwrap(),
        Applied::Appended
    );
    assert_eq!(log.apply(third).unwrap(), Applied::Appended);
    assert_eq!(log, history.log);
    // Replaying an old operation to a node is harmless.
    let old = history.operations[1].clone();
    assert_eq!(history.log.apply(old).unwrap(), Applied::Duplicate);
}

#[test]
fn operations_are_read_only_in_canonical_form() {
    let history = History::with_updates(1);
    let json: Value = serde_json::from_str(&history.operations[1].to_json()).unwrap();
    let variant = |field: &str, value: Value| {
        let mut json = json.clone();
        json.as_object_mut().unwrap().insert(field.into(), value);
        Operation::from_json(json.to_string().as_bytes())
    };
    assert!(variant("version", serde_json::json!(2)).is_ok());
    for (name, field, value) in [
        (
            "offset instead of Z",
            "created",
            "2026-11-23T09:10:00+00:00".into(),
        ),
        (
            "superfluous fraction",
            "created",
            "2026-11-23T09:10:00.000Z".into(),
        ),
        (
            "fraction of a second",
            "created",
            "2026-11-23T09:10:00.5Z".into(),
        ),
        ("unknown field", "extra", true.into()),
        ("version as a float", "version", serde_json::json!(2.0)),
        ("bad update key", "updateKey", "z6Mk".into()),
        (
            "bad next key hash",
            "nextKeyHashes",
            serde_json::json!(["zQm"]),
        ),
        ("unknown type", "type", "recover".into()),
    ] {
        assert!(
            matches!(variant(field, value), Err(LogError::Malformed(_))),
            "{name}"
        );
    }
    let huge = vec![b' '; MAX_OPERATION_BYTES + 1];
    assert_eq!(
        Operation::from_json(&huge).unwrap_err(),
        LogError::TooLarge(MAX_OPERATION_BYTES + 1)
    );
    let line = DidLog::from_jsonl("\n{}\n").unwrap_err();
    assert!(matches!(line, LogError::AtLine { line: 2, .. }), "{line}");
}

#[test]
fn operations_must_have_the_fields_their_type_requires() {
    let history = History::with_updates(1);
    let genesis = &history.operations[0];
    let update = &history.operations[1];
    let shapes = [
        Operation {
            did: update.did.clone(),
            ..genesis.clone()
        },
        Operation {
            version: 2,
            ..genesis.clone()
        },
        Operation {
            next_key_hashes: Vec::new(),
            ..genesis.clone()
        },
        Operation {
            document: None,
            ..update.clone()
        },
        Operation {
            previous: None,
            ..update.clone()
        },
        Operation {
            kind: OperationType::Deactivate,
            ..update.clone()
        },
        Operation {
            did: Some(
                Did::parse("did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2").unwrap(),
            ),
            ..update.clone()
        },
        Operation {
            next_key_hashes: vec![next_key_hash(&key(1).public()); MAX_NEXT_KEYS + 1],
            ..update.clone()
        },
    ];
    for (i, shape) in shapes.into_iter().enumerate() {
        assert!(
            matches!(shape.check_shape(), Err(LogError::Malformed(_))),
            "shape {i}"
        );
    }
}

#[test]
fn invalid_documents_are_refused() {
    let good = DocumentContent::single_key(&key(1).public());
    good.validate().unwrap();
    let x25519 = key(1).public().to_x25519().to_multibase();
    let fragment = |s: &str| Fragment::parse(s).unwrap();
    let cases: Vec<(&str, DocumentContent)> = vec![
        (
            "no methods",
            DocumentContent {
                verification_method: Vec::new(),
                ..DocumentContent::default()
            },
        ),
        ("duplicate id", {
            let mut doc = good.clone();
            doc.verification_method[1].id = fragment("#key-1");
            doc
        }),
        ("dangling reference", {
            let mut doc = good.clone();
            doc.assertion_method.push(fragment("#key-9"));
            doc
        }),
        ("X25519 key asserting", {
            let mut doc = good.clone();
            doc.verification_method[0].public_key_multibase = x25519.clone();
            doc
        }),
        ("Ed25519 key for key agreement", {
            let mut doc = good.clone();
            doc.key_agreement = vec![fragment("#key-1")];
            doc
        }),
        ("legacy method type", {
            let mut doc = good.clone();
            doc.verification_method[0].type_ = "Ed25519VerificationKey2018".into();
            doc
        }),
        ("not a key", {
            let mut doc = good.clone();
            doc.verification_method[0].public_key_multibase = "zabc".into();
            doc
        }),
        ("too many methods", {
            let mut doc = good.clone();
            let method = doc.verification_method[0].clone();
            for i in 0..MAX_ENTRIES {
                doc.verification_method.push(MethodContent {
                    id: fragment(&format!("#k{i}")),
                    ..method.clone()
                });
            }
            doc
        }),
    ];
    for (name, doc) in cases {
        assert!(
            matches!(doc.validate(), Err(LogError::InvalidDocument(_))),
            "{name}"
        );
    }
    for bad in ["key-1", "#", "#a b", "#é", &format!("#{}", "a".repeat(65))] {
        assert!(Fragment::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn malformed_did_vouch_identifiers_are_invalid() {
    let resolver = LogResolver::new();
    let invalid = Did::parse("did:vouch:notahash").unwrap();
    assert!(matches!(
        resolver.resolve(&invalid),
        Err(ResolveError::InvalidDid(_))
    ));
    let unknown = History::new().log.did().clone();
    assert_eq!(
        resolver.resolve(&unknown).unwrap_err(),
        ResolveError::NotFound(unknown)
    );
    let web = Did::parse("did:web:example.com").unwrap();
    assert!(matches!(
        resolver.resolve(&web),
        Err(ResolveError::MethodNotSupported(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Any history of updates verifies, and every version resolves to the document it set.
    #[test]
    fn any_history_verifies(steps in proptest::collection::vec((0i64..1000, 100u8..200), 0..6)) {
        let mut history = History::new();
        let mut minutes = 0;
        let mut documents = vec![100u8];
        for (gap, doc_key) in steps {
            minutes += gap;
            let op = history.next_update(doc_key, minutes);
            history.push(op);
            documents.push(doc_key);
        }
        let log = DidLog::from_jsonl(&history.log.to_jsonl()).unwrap();
        prop_assert_eq!(&log, &history.log);
        for (i, doc_key) in documents.iter().enumerate() {
            let resolution = log.resolve(VersionSelector::Id(u64::try_from(i + 1).unwrap())).unwrap();
            prop_assert_eq!(assertion_key(&resolution), key(*doc_key).public());
        }
    }

    /// Changing any byte of a log either makes it unreadable or leaves every operation's meaning
    /// intact (whitespace, key order): never a different accepted history, never a panic.
    #[test]
    fn a_corrupted_log_never_verifies_differently(index in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let history = History::with_updates(2);
        let mut text = history.log.to_jsonl().into_bytes();
        let i = index.index(text.len());
        text[i] = byte;
        if let Ok(text) = std::str::from_utf8(&text)
            && let Ok(log) = DidLog::from_jsonl(text)
        {
            prop_assert_eq!(log.did(), history.log.did());
            prop_assert!(log.operations().map(Operation::hash).eq(history.log.operations().map(Operation::hash)));
        }
    }
}

#[test]
fn an_agent_definition_document_carries_consistent_hashes_and_bounded_texts() {
    use crate::credential::{AgentDescription, DefinitionHash};
    let hashes = DefinitionHash::compute(
        "model-x",
        "You are a support agent.",
        &serde_json::json!([]),
        &serde_json::json!({}),
    )
    .unwrap();
    let agent = AgentDescription {
        name: "support".into(),
        version: "1".into(),
        definition_hash: hashes.clone(),
        owner: "owner@org.example".into(),
    };
    let good = DocumentContent {
        agent: Some(agent.clone()),
        ..DocumentContent::single_key(&key(1).public())
    };
    good.validate().unwrap();
    let did = Did::parse("did:vouch:zQmWvQxTqbG2Z9HPJgG57jjwR154cKhbtJenbyYTWkjgF3e").unwrap();
    let document = good.to_document(&did);
    assert_eq!(document.agent, Some(agent.clone()));
    assert!(
        document
            .context
            .iter()
            .any(|c| c == vouch_schemas::VOUCH_CONTEXT_V1)
    );
    // A document without an agent names no Vouch context.
    let plain = DocumentContent::single_key(&key(1).public()).to_document(&did);
    assert!(
        !plain
            .context
            .iter()
            .any(|c| c == vouch_schemas::VOUCH_CONTEXT_V1)
    );
    let bad = |mutate: &dyn Fn(&mut AgentDescription)| {
        let mut agent = agent.clone();
        mutate(&mut agent);
        DocumentContent {
            agent: Some(agent),
            ..DocumentContent::single_key(&key(1).public())
        }
        .validate()
        .is_err()
    };
    assert!(
        bad(&|a| a.definition_hash.digest = hashes.model.clone()),
        "inconsistent digest"
    );
    assert!(bad(&|a| a.name = String::new()), "empty name");
    assert!(bad(&|a| a.owner = "o".repeat(4096)), "huge owner");
}

/// The DID a genesis names, and the URLs of its document's methods, are made without parsing
/// (`Did::of_method`, `DidUrl::of_fragment`): each must read back, as parsing has it, as itself.
#[test]
fn what_the_method_makes_without_parsing_parses_as_itself() {
    let (did, genesis) = create(
        DocumentContent::single_key(&key(100).public()),
        &key(1),
        &[key(2).public()],
        at(0),
    )
    .expect("a genesis");
    assert_eq!(Did::parse(did.as_str()).ok(), Some(did.clone()));
    assert_eq!(genesis.genesis_did().ok(), Some(did.clone()));
    let fragment = Fragment::parse("#key-1").expect("a fragment");
    let url = fragment.on(&did);
    assert_eq!(DidUrl::parse(url.as_str()).ok(), Some(url.clone()));
    assert_eq!(url.did(), did);
}
