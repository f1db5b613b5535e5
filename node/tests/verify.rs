//! A partner without a node verifies through a member's HTTP resolver (DESIGN §1): the DID
//! documents and status lists the `vouch` CLI's `--resolver` takes, from a real node.

use chrono::{Duration, Utc};
use serde_json::json;
use vouch_api::node::routes;
use vouch_core::capability::Action;
use vouch_core::credential::{
    AgentCapabilityCredential, AgentDescription, DefinitionHash, Multihash, StatusEntry, Task,
};
use vouch_core::delegation::{RootGrant, sign_credential};
use vouch_core::did::key::did_of;
use vouch_core::key::KeyPair;
use vouch_core::proof::Cryptosuite;
use vouch_core::report::Reason;
use vouch_core::verify::{TrustList, Verifier, verify_credential};
use vouch_node::org::Org;
use vouch_wallet::sources::{HttpResolver, Sources};

use crate::common::{TestNode, post, send, set_bit};

fn credential(issuer: &Org, list_url: &str) -> serde_json::Value {
    credential_for(issuer, list_url, &KeyPair::generate())
}

/// A credential of `issuer` for the agent holding `holder`, with an entry at index 42 of the list.
fn credential_for(issuer: &Org, list_url: &str, holder: &KeyPair) -> serde_json::Value {
    let now = Utc::now();
    let credential: AgentCapabilityCredential = RootGrant {
        issuer: issuer.did().clone(),
        subject: did_of(&holder.public()),
        agent: AgentDescription {
            name: "bot".into(),
            version: "1".into(),
            definition_hash: DefinitionHash::compute("m", "p", &json!([]), &json!({}))
                .expect("hashes"),
            owner: "o@acme.example".into(),
        },
        principal: "urn:vouch:principal:p1".into(),
        task: Task {
            id: "t1".into(),
            purpose_hash: Multihash::of(b"triage"),
        },
        capabilities: vec![json!({"action": "read:tickets", "resource": "https://h.example/t/**"})],
        audience: Vec::new(),
        valid_from: now,
        lifetime: Duration::minutes(15),
        max_renewals: 0,
        not_after: now + Duration::minutes(15),
        max_depth: 1,
        status: vec![StatusEntry::bit(
            format!("{list_url}#42"),
            "revocation",
            42,
            list_url,
        )],
    }
    .build()
    .expect("builds");
    let (key, method) = issuer.signing_key().expect("the org's key");
    sign_credential(&credential, &key, method, Cryptosuite::EddsaJcs2022, now).expect("signs")
}

/// Verifies `credential` with only what the node at `base` serves, trusting `issuer`.
fn verify_through(base: &str, credential: &serde_json::Value, trust: &TrustList) -> Vec<Reason> {
    let mut sources = Sources::new(chrono::Utc::now());
    let node = vouch_wallet::sources::Reach::new()
        .node(base)
        .expect("a loopback URL");
    sources.set_resolver(HttpResolver::new(node));
    let url = credential["credentialStatus"][0]["statusListCredential"]
        .as_str()
        .expect("a status entry");
    assert!(sources.fetch_status_lists([url]).is_empty());
    let mut verifier = Verifier::new(&sources, Utc::now());
    verifier.issuers = Some(trust);
    verifier.status = Some(&sources.lists);
    let (report, _) = verify_credential(credential, &verifier);
    report.reasons()
}

/// The node's org, operated in this process.
fn org_of(node: &TestNode) -> Org {
    Org::new(
        node.config.data_dir.clone(),
        node.node().identity.did.clone(),
        node.node().registry.clone(),
    )
}

#[test]
fn the_cli_checks_status_and_documents_through_a_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::init(dir.path());
    let did = node.node().identity.did.clone();
    let list_url = set_bit(&node, "revocation-1", 7);
    let org = org_of(&node);
    let signed = credential(&org, &list_url);
    let base = node.url("");
    let trust = TrustList(vec![(did.clone(), Action::parse("*").expect("action"))]);
    // The org's did:vouch and its list, both from the node: verified.
    assert_eq!(verify_through(&base, &signed, &trust), []);
    // Revoked at the node: the next verification sees it.
    set_bit(&node, "revocation-1", 42);
    assert_eq!(verify_through(&base, &signed, &trust), [Reason::Revoked]);
    // A resolver that is no base URL, or plain HTTP to another machine, is refused up front.
    let reach = vouch_wallet::sources::Reach::new();
    assert!(reach.node("http://node.example").is_err());
    assert!(reach.node(&format!("{base}/1.0")).is_err());
}

/// `POST` JSON to a node's verification service; the status and the answer.
fn verify_at(node: &TestNode, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let answer = send(
        "POST",
        &node.url(path),
        &[("content-type", "application/json")],
        &body.to_string(),
    );
    (answer.status, answer.json())
}

fn reasons(answer: &serde_json::Value) -> Vec<String> {
    answer["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["reason"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_verification_service_checks_with_what_the_node_holds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::init(dir.path());
    let list_url = set_bit(&node, "revocation-1", 7);
    let org = org_of(&node);
    let holder = KeyPair::generate();
    let signed = credential_for(&org, &list_url, &holder);

    let (status, answer) = verify_at(
        &node,
        routes::VERIFY_CREDENTIAL.path,
        &json!({ "verifiableCredential": signed }),
    );
    assert_eq!(
        (status, answer["verified"].as_bool()),
        (200, Some(true)),
        "{answer}"
    );
    assert!(answer["checks"].as_array().is_some_and(|c| c.len() >= 9));

    // Presented over a challenge: verified; over another one: not.
    let presentation = vouch_core::presentation::create(
        &holder,
        vec![signed.clone()],
        "c-1",
        "partner.example",
        Cryptosuite::EddsaJcs2022,
        Utc::now(),
    )
    .expect("a presentation");
    let options = json!({ "challenge": "c-1", "domain": "partner.example" });
    let (status, answer) = verify_at(
        &node,
        routes::VERIFY_PRESENTATION.path,
        &json!({ "verifiablePresentation": presentation, "options": options }),
    );
    assert_eq!(
        (status, answer["verified"].as_bool()),
        (200, Some(true)),
        "{answer}"
    );
    let replayed = json!({ "challenge": "c-2", "domain": "partner.example" });
    let (status, _) = verify_at(
        &node,
        routes::VERIFY_PRESENTATION.path,
        &json!({ "verifiablePresentation": presentation, "options": replayed }),
    );
    assert_eq!(status, 400);

    // Revoked at the node: the next verification sees it, nothing cached.
    set_bit(&node, "revocation-1", 42);
    let (status, answer) = verify_at(
        &node,
        routes::VERIFY_CREDENTIAL.path,
        &json!({ "verifiableCredential": signed }),
    );
    assert_eq!(status, 400);
    assert_eq!(reasons(&answer), ["revoked"], "{answer}");
    // An agent credential keeps every Vouch rule, whatever `options.checks` asks.
    let (status, answer) = verify_at(
        &node,
        routes::VERIFY_CREDENTIAL.path,
        &json!({ "verifiableCredential": signed, "options": {"checks": ["proof"]} }),
    );
    assert_eq!(status, 400);
    assert_eq!(reasons(&answer), ["revoked"], "{answer}");

    // Tampered: the proof fails. Another issuer (a did:key nobody trusts): untrusted.
    let mut tampered = signed.clone();
    tampered["credentialSubject"]["task"]["id"] = "t2".into();
    let (status, answer) = verify_at(
        &node,
        routes::VERIFY_CREDENTIAL.path,
        &json!({ "verifiableCredential": tampered }),
    );
    assert_eq!(status, 400);
    assert!(!reasons(&answer).is_empty(), "{answer}");
    let stranger = KeyPair::generate();
    let mut foreign = signed.clone();
    foreign["issuer"] = did_of(&stranger.public()).to_string().into();
    let (status, answer) = verify_at(
        &node,
        routes::VERIFY_CREDENTIAL.path,
        &json!({ "verifiableCredential": foreign }),
    );
    assert_eq!(status, 400);
    assert!(!reasons(&answer).is_empty(), "{answer}");

    // Not a request of this service: a 400 problem, not a report.
    let (status, answer) = verify_at(&node, routes::VERIFY_CREDENTIAL.path, &json!({ "x": 1 }));
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("bad_request"))
    );
}

/// A node alone in `dir` that trusts `issuer` for credentials that attest no action.
fn node_trusting(dir: &std::path::Path, issuer: &KeyPair) -> TestNode {
    let mut config = vouch_node::Config {
        data_dir: dir.join("data"),
        ..vouch_node::Config::default()
    };
    config.http.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    config.verification.trusted_issuers = vec![did_of(&issuer.public()).to_string()];
    vouch_node::setup::init(&config, Utc::now()).expect("initializes");
    TestNode::start(config)
}

/// A W3C credential of `issuer` that is no agent credential (eddsa-rdfc-2022), valid until
/// `until`.
fn w3c_credential(issuer: &KeyPair, until: chrono::DateTime<Utc>) -> serde_json::Value {
    let now = Utc::now();
    let unsigned = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "urn:uuid:5d3c6ad4-8f1c-4bd4-9b38-1e0c0a1f9e21",
        "type": ["VerifiableCredential"],
        "issuer": did_of(&issuer.public()),
        "validFrom": vouch_core::proof::format_time(&(now - Duration::hours(2))),
        "validUntil": vouch_core::proof::format_time(&until),
        "credentialSubject": {"id": "did:example:alice"},
    });
    sign_rdfc(&unsigned, issuer)
}

/// `unsigned` signed by `issuer`'s did:key with eddsa-rdfc-2022.
fn sign_rdfc(unsigned: &serde_json::Value, issuer: &KeyPair) -> serde_json::Value {
    use vouch_core::did::document::Relationship;
    use vouch_core::proof::ProofOptions;
    let now = Utc::now();
    let options = ProofOptions {
        cryptosuite: Cryptosuite::EddsaRdfc2022,
        created: now - Duration::hours(2),
        verification_method: vouch_core::did::key::verification_method_of(&issuer.public()),
        purpose: Relationship::AssertionMethod,
        challenge: None,
        domain: None,
        expires: None,
    };
    vouch_core::proof::sign(unsigned, &options, issuer).expect("signs")
}

#[test]
fn the_verification_service_verifies_any_w3c_credential_and_reports_issuer_trust_apart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (trusted, stranger) = (KeyPair::generate(), KeyPair::generate());
    let node = node_trusting(dir.path(), &trusted);
    let verify = |credential: &serde_json::Value, options: Option<serde_json::Value>| {
        let mut body = json!({ "verifiableCredential": credential });
        if let Some(options) = options {
            body["options"] = options;
        }
        verify_at(&node, routes::VERIFY_CREDENTIAL.path, &body)
    };
    let check = |answer: &serde_json::Value, name: &str| {
        answer["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["check"] == name).cloned())
            .unwrap_or_else(|| panic!("no {name} check: {answer}"))
    };

    // Read and checked, not refused as malformed: the issuer no one named is a failed issuer
    // check of its own, with its reason; the proof, the window and the schema pass.
    let later = Utc::now() + Duration::hours(1);
    let (status, answer) = verify(&w3c_credential(&stranger, later), None);
    assert_eq!(status, 400, "{answer}");
    assert_eq!(reasons(&answer), ["untrusted_issuer"], "{answer}");
    for passed in ["schema", "proof", "validity"] {
        assert_eq!(check(&answer, passed)["outcome"], "passed", "{answer}");
    }
    // An issuer the node's configuration trusts for such credentials: verified.
    let signed = w3c_credential(&trusted, later);
    let (status, answer) = verify(&signed, None);
    assert_eq!(
        (status, answer["verified"].as_bool()),
        (200, Some(true)),
        "{answer}"
    );
    // Tampered after signing: the proof fails.
    let mut tampered = signed.clone();
    tampered["credentialSubject"]["id"] = "did:example:mallory".into();
    let (status, answer) = verify(&tampered, None);
    assert_eq!(status, 400, "{answer}");
    assert_eq!(reasons(&answer), ["invalid_proof"], "{answer}");

    // Expired: refused; asked only for the proof (the VC API's `checks`), verified, with the
    // window shown as not asked and what it would have said.
    let expired = w3c_credential(&trusted, Utc::now() - Duration::hours(1));
    let (status, answer) = verify(&expired, None);
    assert_eq!(
        (status, reasons(&answer)),
        (400, vec!["expired".to_owned()]),
        "{answer}"
    );
    let (status, answer) = verify(&expired, Some(json!({"checks": ["proof"]})));
    assert_eq!(
        (status, answer["verified"].as_bool()),
        (200, Some(true)),
        "{answer}"
    );
    let validity = check(&answer, "validity");
    assert_eq!(validity["outcome"], "skipped", "{answer}");
    assert!(
        validity["detail"]
            .as_str()
            .is_some_and(|d| d.contains("expired")),
        "{answer}"
    );
    // A VC 1.1 credential: its window is `issuanceDate` and `expirationDate`, read as such;
    // spelled both ways, the narrower window holds.
    let v1 = |fields: serde_json::Value| {
        let mut unsigned = json!({
            "@context": ["https://www.w3.org/2018/credentials/v1",
                         "https://w3id.org/security/data-integrity/v2"],
            "type": ["VerifiableCredential"],
            "issuer": did_of(&trusted.public()),
            "issuanceDate": vouch_core::proof::format_time(&(Utc::now() - Duration::hours(2))),
            "credentialSubject": {"id": "did:example:alice"},
        });
        for (name, value) in fields.as_object().expect("fields") {
            unsigned[name] = value.clone();
        }
        sign_rdfc(&unsigned, &trusted)
    };
    let hour = |hours: i64| vouch_core::proof::format_time(&(Utc::now() + Duration::hours(hours)));
    let (status, answer) = verify(&v1(json!({})), None);
    assert_eq!(
        (status, answer["verified"].as_bool()),
        (200, Some(true)),
        "{answer}"
    );
    let (status, answer) = verify(&v1(json!({"expirationDate": hour(-1)})), None);
    assert_eq!(
        (status, reasons(&answer)),
        (400, vec!["expired".to_owned()]),
        "{answer}"
    );
    let (status, answer) = verify(&v1(json!({"issuanceDate": hour(1)})), None);
    assert_eq!(
        (status, reasons(&answer)),
        (400, vec!["not_yet_valid".to_owned()]),
        "{answer}"
    );

    // A check or an option this service does not know is refused, never ignored.
    for options in [
        json!({"checks": ["telepathy"]}),
        json!({"checks": []}),
        json!({"strict": true}),
    ] {
        let (status, answer) = verify(&signed, Some(options.clone()));
        assert_eq!(status, 400, "{options}: {answer}");
        assert!(answer.get("verified").is_none(), "{options}: {answer}");
    }
}

#[test]
fn the_vc_api_issuer_signs_what_the_data_model_allows_as_the_org_with_status_on_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::init(dir.path());
    let token = node.admin_token();
    let org = node.node().identity.did.to_string();
    let issue = |body: serde_json::Value, token: Option<&str>| {
        let answer = post(&node.url(routes::W3C_ISSUE.path), &body.to_string(), token);
        (answer.status, answer.json())
    };
    let employee = || {
        json!({
            "@context": ["https://www.w3.org/ns/credentials/v2",
                         "https://www.w3.org/ns/credentials/examples/v2"],
            "type": ["VerifiableCredential", "EmployeeCredential"],
            "credentialSubject": {"id": "did:example:alice", "role": "payments clerk"},
        })
    };
    // Behind the admin token.
    assert_eq!(issue(json!({"credential": employee()}), None).0, 401);

    // Issued as the org (its issuer set), with a revocation entry of the org's own lists.
    let (status, answer) = issue(
        json!({"credential": employee(), "options": {"credentialStatus":
            {"type": "BitstringStatusListEntry", "statusPurpose": "revocation"}}}),
        Some(&token),
    );
    assert_eq!(status, 201, "{answer}");
    let issued = answer["verifiableCredential"].clone();
    assert_eq!(issued["issuer"], org.as_str());
    assert_eq!(issued["proof"]["cryptosuite"], "eddsa-rdfc-2022");
    let entry = issued["credentialStatus"].clone();
    assert!(entry.is_object(), "one entry, as an object: {issued}");
    assert_eq!(entry["statusPurpose"], "revocation");
    // The node's own service verifies it — the status read from the object form — and, once
    // the org sets its bit, refuses it as revoked.
    let verify = |credential: &serde_json::Value| {
        verify_at(
            &node,
            routes::VC_VERIFY_CREDENTIAL.path,
            &json!({ "verifiableCredential": credential }),
        )
    };
    let (status, answer) = verify(&issued);
    assert_eq!(
        (status, answer["verified"].as_bool()),
        (200, Some(true)),
        "{answer}"
    );
    let list = entry["statusListCredential"].as_str().expect("a list URL");
    let name = list.rsplit('/').next().expect("a name");
    let index: usize = entry["statusListIndex"]
        .as_str()
        .expect("an index")
        .parse()
        .expect("a number");
    set_bit(&node, name, index);
    let (status, answer) = verify(&issued);
    assert_eq!(
        (status, reasons(&answer)),
        (400, vec!["revoked".to_owned()]),
        "{answer}"
    );

    // The other suite on request; an id given is kept, and issued once.
    let mut with_id = employee();
    with_id["id"] = "urn:uuid:0b5c8a4e-3f1d-4e8e-9a44-8c2f3d6b7e10".into();
    let (status, answer) = issue(
        json!({"credential": with_id, "options": {"cryptosuite": "eddsa-jcs-2022"}}),
        Some(&token),
    );
    assert_eq!(status, 201, "{answer}");
    assert_eq!(
        answer["verifiableCredential"]["proof"]["cryptosuite"],
        "eddsa-jcs-2022"
    );
    let (status, answer) = verify(&answer["verifiableCredential"]);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(issue(json!({"credential": with_id}), Some(&token)).0, 409);

    // A VC 1.1 credential: issued with the Data Integrity context appended, and verified.
    let v1 = json!({"@context": ["https://www.w3.org/2018/credentials/v1"],
        "type": ["VerifiableCredential"], "issuanceDate": "2024-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:alice"}});
    let (status, answer) = issue(json!({"credential": v1}), Some(&token));
    assert_eq!(status, 201, "{answer}");
    assert_eq!(
        answer["verifiableCredential"]["@context"],
        json!([
            "https://www.w3.org/2018/credentials/v1",
            "https://w3id.org/security/data-integrity/v2"
        ])
    );
    assert_eq!(verify(&answer["verifiableCredential"]).0, 200, "{answer}");

    // A type defined inline, as partners' credentials and the VC 2.0 suite's do: issued and
    // verified; an inline alias of a term verifiers read: refused.
    let mut inline = employee();
    inline["@context"] = json!(["https://www.w3.org/ns/credentials/v2",
        {"ExampleTestCredential": "https://example.org/#ExampleTestCredential", "role": "https://example.org/#role"}]);
    inline["type"] = json!(["VerifiableCredential", "ExampleTestCredential"]);
    let (status, answer) = issue(json!({"credential": inline}), Some(&token));
    assert_eq!(status, 201, "{answer}");
    let (status, answer) = verify(&answer["verifiableCredential"]);
    assert_eq!(status, 200, "{answer}");
    let mut alias = inline.clone();
    alias["@context"][1]["until"] = "https://www.w3.org/2018/credentials#validUntil".into();
    let (status, answer) = issue(json!({"credential": alias}), Some(&token));
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("until")),
        "{answer}"
    );

    // Refused, saying where: another issuer, what the data model forbids, an undefined term
    // (under the v2 context alone), an option it does not know.
    let mut strange = employee();
    strange["issuer"] = "did:example:someone-else".into();
    let mut empty = employee();
    empty["credentialSubject"] = json!({});
    let undefined = json!({"@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential", "InvalidType"],
        "credentialSubject": {"id": "did:example:alice"}});
    for (body, said) in [
        (json!({"credential": strange}), "issues as"),
        (json!({"credential": empty}), "credentialSubject[0]"),
        (json!({"credential": undefined}), "JSON-LD"),
        (
            json!({"credential": employee(), "options": {"cryptosuite": "ecdsa-rdfc-2019"}}),
            "cryptosuite",
        ),
        (
            json!({"credential": employee(), "options": {"mandatoryPointers": []}}),
            "",
        ),
        (
            json!({"credential": employee(), "options": {"credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": "refresh"}}}),
            "credentialStatus",
        ),
    ] {
        let (status, answer) = issue(body.clone(), Some(&token));
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| m.contains(said)),
            "{body}: {answer}"
        );
    }
}

/// A presentation of `credentials` signed by `signer` for `challenge` at `domain`.
fn w3c_presentation(
    signer: &KeyPair,
    holder: Option<&str>,
    credentials: &[serde_json::Value],
    challenge: &str,
) -> serde_json::Value {
    use vouch_core::did::document::Relationship;
    use vouch_core::proof::ProofOptions;
    let mut unsigned = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": credentials,
    });
    if let Some(holder) = holder {
        unsigned["holder"] = holder.into();
    }
    let options = ProofOptions {
        cryptosuite: Cryptosuite::EddsaRdfc2022,
        created: Utc::now(),
        verification_method: vouch_core::did::key::verification_method_of(&signer.public()),
        purpose: Relationship::Authentication,
        challenge: Some(challenge.to_owned()),
        domain: Some("partner.example".to_owned()),
        expires: None,
    };
    vouch_core::proof::sign(&unsigned, &options, signer).expect("signs")
}

#[test]
fn the_verification_service_verifies_presentations_of_any_w3c_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (trusted, stranger, holder) = (
        KeyPair::generate(),
        KeyPair::generate(),
        KeyPair::generate(),
    );
    let node = node_trusting(dir.path(), &trusted);
    let later = Utc::now() + Duration::hours(1);
    let licence = w3c_credential(&trusted, later);
    let holder_did = did_of(&holder.public()).to_string();
    let verify = |presentation: &serde_json::Value, challenge: &str| {
        verify_at(
            &node,
            routes::VC_VERIFY_PRESENTATION.path,
            &json!({"verifiablePresentation": presentation,
                    "options": {"challenge": challenge, "domain": "partner.example"}}),
        )
    };
    // By its holder, over this challenge: verified; with no holder named, by whoever signed.
    let presented = w3c_presentation(
        &holder,
        Some(&holder_did),
        std::slice::from_ref(&licence),
        "c-1",
    );
    let (status, answer) = verify(&presented, "c-1");
    assert_eq!(
        (status, answer["verified"].as_bool()),
        (200, Some(true)),
        "{answer}"
    );
    let anonymous = w3c_presentation(&holder, None, std::slice::from_ref(&licence), "c-1");
    assert_eq!(verify(&anonymous, "c-1").0, 200);
    // Another challenge; signed by someone other than the holder it names; a credential of an
    // issuer no one trusts; the proof tampered with; a credential as a string; no type.
    assert_eq!(reasons(&verify(&presented, "c-2").1), ["replayed"]);
    let impostor = w3c_presentation(
        &stranger,
        Some(&holder_did),
        std::slice::from_ref(&licence),
        "c-1",
    );
    assert_eq!(reasons(&verify(&impostor, "c-1").1), ["invalid_proof"]);
    let strangers = w3c_presentation(&holder, None, &[w3c_credential(&stranger, later)], "c-1");
    assert_eq!(reasons(&verify(&strangers, "c-1").1), ["untrusted_issuer"]);
    let mut tampered = presented.clone();
    tampered["proof"]["proofValue"] = anonymous["proof"]["proofValue"].clone();
    assert_eq!(reasons(&verify(&tampered, "c-1").1), ["invalid_proof"]);
    tampered["proof"]["proofValue"] = "z5nmMBw2u9TGKd9NxxHJtyZKgjN2Eh".into();
    assert_eq!(reasons(&verify(&tampered, "c-1").1), ["malformed"]);
    let mut as_string = presented.clone();
    as_string["verifiableCredential"] = json!(["https://example.org/credentials/1"]);
    assert_eq!(reasons(&verify(&as_string, "c-1").1), ["malformed"]);
    let mut untyped = presented.clone();
    untyped.as_object_mut().expect("an object").remove("type");
    assert_eq!(reasons(&verify(&untyped, "c-1").1), ["malformed"]);
}

#[test]
fn a_context_the_operator_adds_is_known_the_others_never_fetched() {
    use crate::common::{node, run, write_config};
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, http) = write_config(dir.path());
    assert!(
        node(&config, "init")
            .output()
            .expect("runs")
            .status
            .success()
    );
    let trusted = KeyPair::generate();
    // A partner's context, at a URL no one bundles; this test process signs with it.
    let url = format!(
        "https://partner.example/contexts/licence/v1/{}",
        uuid::Uuid::new_v4()
    );
    let document = json!({"@context": {"@protected": true,
        "LicenceCredential": "https://partner.example/vocab#LicenceCredential",
        "licenceClass": "https://partner.example/vocab#licenceClass"}})
    .to_string();
    vouch_core::proof::rdfc::add_context(&url, &document).expect("added here");
    let licence = sign_rdfc(
        &json!({
            "@context": ["https://www.w3.org/ns/credentials/v2", url],
            "type": ["VerifiableCredential", "LicenceCredential"],
            "issuer": did_of(&trusted.public()),
            "credentialSubject": {"id": "did:example:alice", "licenceClass": "B"},
        }),
        &trusted,
    );
    let verify = || {
        let answer = send(
            "POST",
            &format!("http://127.0.0.1:{http}/credentials/verify"),
            &[("content-type", "application/json")],
            &json!({ "verifiableCredential": licence }).to_string(),
        );
        (answer.status, answer.json())
    };
    let trust = format!(
        "[verification]\ntrusted_issuers = [\"{}\"]\n",
        did_of(&trusted.public())
    );
    let append = |text: &str| {
        let mut written = std::fs::read_to_string(&config).expect("config");
        written.push_str(text);
        std::fs::write(&config, written).expect("written");
    };
    append(&trust);
    // The node, a process of its own, was told nothing of the context: the proof cannot be
    // checked, and the answer names the context; nothing was fetched.
    let mut running = run(&config);
    let (status, answer) = verify();
    assert_eq!(status, 400, "{answer}");
    let proof = answer["errors"][0].to_string();
    assert!(
        proof.contains(&url) && proof.contains("never fetched"),
        "{answer}"
    );
    running.kill_9();
    // Its operator adds it, from a file in the data folder: verified.
    std::fs::write(dir.path().join("data/licence-v1.jsonld"), &document).expect("written");
    append(&format!(
        "[verification.contexts]\n\"{url}\" = \"licence-v1.jsonld\"\n"
    ));
    let _running = run(&config);
    let (status, answer) = verify();
    assert_eq!(
        (status, answer["verified"].as_bool()),
        (200, Some(true)),
        "{answer}"
    );
    // A context with a %, or that is no context, is refused at start, saying why.
    for bad in [
        json!({"@context": {"x": "urn:x:%"}}),
        json!({"not": "a context"}),
    ] {
        let other = tempfile::tempdir().expect("tempdir");
        let (bad_config, _) = write_config(other.path());
        assert!(
            node(&bad_config, "init")
                .output()
                .expect("runs")
                .status
                .success()
        );
        std::fs::write(other.path().join("data/bad.jsonld"), bad.to_string()).expect("written");
        let mut written = std::fs::read_to_string(&bad_config).expect("config");
        written.push_str("[verification.contexts]\n\"https://bad.example/ctx\" = \"bad.jsonld\"\n");
        std::fs::write(&bad_config, written).expect("written");
        let out = node(&bad_config, "run").output().expect("runs");
        assert!(!out.status.success(), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("verification.contexts"),
            "{bad}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A loopback HTTP server answering each path with the body set for it (404 otherwise), and
/// counting what it was asked: another issuer's status list host.
struct ListHost {
    base: String,
    bodies: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
    asked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ListHost {
    fn start() -> Self {
        use std::io::{BufRead as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::<
            String,
            String,
        >::new()));
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (served, seen) = (bodies.clone(), asked.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let mut reader = std::io::BufReader::new(&stream);
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let path = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).map_or(true, |n| n == 0) || header == "\r\n" {
                        break;
                    }
                }
                seen.lock().expect("a lock").push(path.clone());
                let body = served.lock().expect("a lock").get(&path).cloned();
                let answer = match body {
                    Some(body) => format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/vc\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                    None => {
                        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            .to_owned()
                    }
                };
                let _ = (&stream).write_all(answer.as_bytes());
            }
        });
        Self {
            base,
            bodies,
            asked,
        }
    }

    /// Serves `issuer`'s revocation list at `path`, with `set` bits set; its URL.
    fn list(&self, path: &str, issuer: &KeyPair, set: &[usize]) -> String {
        use vouch_core::status::{MIN_ENTRIES, Purpose, StatusList, StatusListCredential};
        let url = format!("{}{path}", self.base);
        let mut bits = StatusList::new(MIN_ENTRIES).expect("a list");
        for index in set {
            bits.set(*index, true).expect("in range");
        }
        let list = StatusListCredential {
            id: url.clone(),
            issuer: did_of(&issuer.public()),
            valid_from: Utc::now(),
            valid_until: Some(Utc::now() + Duration::minutes(5)),
            purpose: Purpose::Revocation,
            list: bits,
        };
        let signed = list
            .sign(
                issuer,
                vouch_core::did::key::verification_method_of(&issuer.public()),
            )
            .expect("signs");
        self.bodies
            .lock()
            .expect("a lock")
            .insert(path.to_owned(), signed.to_string());
        url
    }

    fn asked(&self, path: &str) -> usize {
        self.asked
            .lock()
            .expect("a lock")
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

#[test]
fn status_lists_of_other_issuers_are_fetched_for_trusted_issuers_only_and_kept_a_while() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (trusted, stranger) = (KeyPair::generate(), KeyPair::generate());
    let node = node_trusting(dir.path(), &trusted);
    let host = ListHost::start();
    let with_status = |issuer: &KeyPair, list: &str| {
        let mut unsigned = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential"],
            "issuer": did_of(&issuer.public()),
            "credentialSubject": {"id": "did:example:alice"},
            "credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": "revocation",
                                 "statusListIndex": "7", "statusListCredential": list},
        });
        unsigned["validFrom"] =
            vouch_core::proof::format_time(&(Utc::now() - Duration::hours(1))).into();
        sign_rdfc(&unsigned, issuer)
    };
    let verify = |credential: &serde_json::Value| {
        verify_at(
            &node,
            routes::VC_VERIFY_CREDENTIAL.path,
            &json!({ "verifiableCredential": credential }),
        )
    };
    // A trusted issuer's list, which the node does not hold: fetched, checked, kept.
    let clear = host.list("/lists/1", &trusted, &[]);
    let credential = with_status(&trusted, &clear);
    let (status, answer) = verify(&credential);
    assert_eq!(
        (status, answer["verified"].as_bool()),
        (200, Some(true)),
        "{answer}"
    );
    assert_eq!(verify(&credential).0, 200);
    assert_eq!(host.asked("/lists/1"), 1, "kept after the first fetch");
    // Revoked in its list: refused.
    let revoked = host.list("/lists/2", &trusted, &[7]);
    let (status, answer) = verify(&with_status(&trusted, &revoked));
    assert_eq!(
        (status, reasons(&answer)),
        (400, vec!["revoked".to_owned()]),
        "{answer}"
    );
    // A list signed by someone else: the status is unknown.
    let forged = host.list("/lists/3", &stranger, &[]);
    let (status, answer) = verify(&with_status(&trusted, &forged));
    assert_eq!(
        (status, reasons(&answer)),
        (400, vec!["status_unknown".to_owned()]),
        "{answer}"
    );
    // A credential of an issuer no one trusts names a URL: nothing is fetched (the node never
    // fetches what a stranger names), and its status is unknown.
    let decoy = host.list("/lists/4", &stranger, &[]);
    let (status, answer) = verify(&with_status(&stranger, &decoy));
    assert_eq!(status, 400, "{answer}");
    assert!(
        reasons(&answer).contains(&"untrusted_issuer".to_owned()),
        "{answer}"
    );
    assert_eq!(host.asked("/lists/4"), 0, "a stranger's URL was fetched");
    // Nor for a trusted issuer's name on a credential it did not sign.
    let mut claimed = with_status(&stranger, &host.list("/lists/5", &trusted, &[]));
    claimed["issuer"] = did_of(&trusted.public()).to_string().into();
    let (status, _) = verify(&claimed);
    assert_eq!(status, 400);
    assert_eq!(
        host.asked("/lists/5"),
        0,
        "a forged credential's URL was fetched"
    );
}
