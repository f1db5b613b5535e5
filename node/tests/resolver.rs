//! The HTTP resolver and the admin API for DID operations, on a real node.

use chrono::{Duration, Utc};
use vouch_api::node::routes::IDENTIFIERS;
use vouch_core::did_vouch::{self, DidLog, DocumentContent, Operation};
use vouch_core::key::KeyPair;
use vouch_keyfile as keyfile;
use vouch_node::datadir;

use vouch_api::ErrorCode;
use vouch_api::node::admin::{Applied, OperationAccepted};
use vouch_api::node::{AdminClient, NodeError};

use crate::common::{TestNode, get, post};

fn resolve(node: &TestNode, did: &str, query: &str, accept: Option<&str>) -> crate::common::Answer {
    get(&node.url(&format!("{IDENTIFIERS}{did}{query}")), accept)
}

/// The verified log of the node's org DID.
fn org_log(node: &TestNode) -> DidLog {
    node.node()
        .registry
        .log(&node.node().identity.did)
        .expect("the store answers")
        .expect("the org DID is held")
}

/// Builds the next operation of the node's org DID, signed by its current update key, listing
/// `key`, and committing to a fresh next key (returned).
fn next_update(node: &TestNode, key: &KeyPair, minutes: i64) -> (Operation, KeyPair) {
    let log = org_log(node);
    let dir = &node.config.data_dir;
    let n = datadir::current_update_key(dir, &log).expect("an update key");
    let current = keyfile::read(&datadir::update_key_path(dir, n)).expect("the update key");
    let next = KeyPair::generate();
    let operation = did_vouch::update(
        &log,
        DocumentContent::single_key(&key.public()),
        &current,
        &[next.public()],
        Utc::now() + Duration::minutes(minutes),
    )
    .expect("an update");
    (operation, next)
}

#[test]
fn resolves_with_negotiation_and_the_spec_error_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::init(dir.path());
    let did = node.node().identity.did.to_string();

    let health = get(&node.url("/health"), None);
    assert_eq!(
        (health.status, health.json()["status"].as_str()),
        (200, Some("ok"))
    );

    let found = resolve(&node, &did, "", None);
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.content_type, "application/did-resolution");
    let json = found.json();
    assert_eq!(json["didDocument"]["id"], did.as_str());
    assert_eq!(json["didDocumentMetadata"]["versionId"], "1");
    assert_eq!(
        json["didResolutionMetadata"]["contentType"],
        "application/did"
    );

    let ld = resolve(&node, &did, "", Some("application/did+ld+json"));
    assert_eq!(
        (ld.status, ld.content_type.as_str()),
        (200, "application/did+ld+json")
    );
    assert_eq!(ld.json()["id"], did.as_str());
    assert!(ld.json()["@context"].is_array());
    let plain = resolve(
        &node,
        &did,
        "",
        Some("text/html, application/did+json;q=0.9"),
    );
    assert_eq!(
        (plain.status, plain.content_type.as_str()),
        (200, "application/did+json")
    );
    assert!(plain.json().get("@context").is_none());
    let refused = resolve(&node, &did, "", Some("text/html"));
    assert_eq!(refused.status, 406);
    assert_eq!(
        refused.json()["didResolutionMetadata"]["error"]["type"],
        "https://www.w3.org/ns/did#REPRESENTATION_NOT_SUPPORTED"
    );

    let key_did = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2";
    let unknown = did_vouch::create(
        DocumentContent::single_key(&KeyPair::generate().public()),
        &KeyPair::generate(),
        &[KeyPair::generate().public()],
        Utc::now(),
    )
    .expect("a DID")
    .0;
    for (did, query, status, code) in [
        (key_did, "", 200, None),
        ("did:key:z6Mknope", "", 400, Some("INVALID_DID")),
        ("did:vouch:notahash", "", 400, Some("INVALID_DID")),
        ("not-a-did", "", 400, Some("INVALID_DID")),
        (unknown.as_str(), "", 404, Some("NOT_FOUND")),
        ("did:web:example.com", "", 501, Some("METHOD_NOT_SUPPORTED")),
        (did.as_str(), "?versionId=9", 404, Some("NOT_FOUND")),
        (did.as_str(), "?versionId=abc", 400, Some("INVALID_OPTIONS")),
        (
            did.as_str(),
            "?versionTime=yesterday",
            400,
            Some("INVALID_OPTIONS"),
        ),
        (
            did.as_str(),
            "?versionId=1&versionTime=2026-01-01T00:00:00Z",
            400,
            Some("INVALID_OPTIONS"),
        ),
        (
            did.as_str(),
            "?versionTime=2000-01-01T00:00:00Z",
            404,
            Some("NOT_FOUND"),
        ),
    ] {
        let answer = resolve(&node, did, query, None);
        assert_eq!(answer.status, status, "{did}{query}: {}", answer.body);
        let result = answer.json();
        assert_eq!(
            result["didResolutionMetadata"]["error"]["type"]
                .as_str()
                .and_then(|t| t.strip_prefix("https://www.w3.org/ns/did#")),
            code,
            "{did}{query}"
        );
        if code.is_some() {
            assert_eq!(
                result["didDocument"],
                serde_json::Value::Null,
                "{did}{query}"
            );
            assert_eq!(
                result["didDocumentMetadata"],
                serde_json::json!({}),
                "{did}{query}"
            );
        }
    }

    let metrics = get(&node.url("/metrics"), None);
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .content_type
            .starts_with("application/openmetrics-text")
    );
    let resolutions = metrics
        .body
        .lines()
        .find_map(|line| line.strip_prefix("vouch_resolutions_total "))
        .and_then(|n| n.parse::<u64>().ok())
        .expect("a resolution counter");
    assert_eq!(resolutions, 15, "{}", metrics.body);
    assert!(metrics.body.contains("vouch_resolution_seconds_bucket"));

    let missing = get(&node.url("/no/such/thing"), None);
    assert_eq!(
        (missing.status, missing.json()["code"].as_str()),
        (404, Some("not_found"))
    );
}

#[test]
fn admin_operations_update_rotate_and_deactivate_and_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = TestNode::init(dir.path());
    let did = node.node().identity.did.to_string();
    let submit = |node: &TestNode, operation: &Operation| {
        node.admin().submit_operation(&operation.to_json())
    };
    let refusal = |answer: Result<OperationAccepted, NodeError>| match answer {
        Err(NodeError::Refused {
            status,
            code,
            message,
        }) => (status, code, message),
        other => panic!("not refused: {other:?}"),
    };

    let new_key = KeyPair::generate();
    let (update, next) = next_update(&node, &new_key, 1);
    for token in [None, Some("wrong".to_owned())] {
        let stranger = AdminClient::new(node.node_url(), token);
        let (status, code, _) = refusal(stranger.submit_operation(&update.to_json()));
        assert_eq!((status, code), (401, ErrorCode::Unauthorized));
    }
    let (status, code, _) = refusal(node.admin().submit_operation("{\"type\":1}"));
    assert_eq!((status, code), (400, ErrorCode::Malformed));
    // An update signed by a key the DID never committed to.
    let forged = Operation {
        update_key: KeyPair::generate().public(),
        ..update.clone()
    };
    let (status, code, _) = refusal(submit(&node, &forged));
    assert_eq!((status, code), (422, ErrorCode::InvalidOperation));

    // Dated an hour ahead of the node's clock: refused, not stored.
    let (ahead, _) = next_update(&node, &new_key, 60);
    let (status, code, message) = refusal(submit(&node, &ahead));
    assert_eq!((status, code), (422, ErrorCode::InvalidOperation));
    assert!(message.contains("ahead of this node's clock"), "{message}");

    let accepted = submit(&node, &update).expect("accepted");
    assert_eq!(accepted.applied, Applied::Appended);
    assert_eq!(
        submit(&node, &update).expect("known").applied,
        Applied::Duplicate
    );

    let latest = resolve(&node, &did, "", None).json();
    assert_eq!(latest["didDocumentMetadata"]["versionId"], "2");
    assert_eq!(
        latest["didDocument"]["verificationMethod"][0]["publicKeyMultibase"],
        new_key.public().to_multibase()
    );
    let first = resolve(&node, &did, "?versionId=1", None).json();
    assert_eq!(first["didDocumentMetadata"]["nextVersionId"], "2");

    // When the latest version was made: from the verified log in memory, and after a restart,
    // from the stored head; both as resolution says.
    let updated = |node: &TestNode| {
        let did = vouch_core::did::Did::parse(&did).expect("a DID");
        node.node()
            .registry
            .latest_version_time(&did)
            .expect("reads")
            .expect("held")
    };
    let made = chrono::DateTime::parse_from_rfc3339(
        latest["didDocumentMetadata"]["updated"]
            .as_str()
            .expect("updated"),
    )
    .expect("RFC 3339");
    assert_eq!(updated(&node), made);

    // Restarting keeps everything acknowledged.
    node = node.restart();
    assert_eq!(resolve(&node, &did, "", None).json(), latest);
    assert_eq!(updated(&node), made);

    let log = org_log(&node);
    let end =
        did_vouch::deactivate(&log, &next, Utc::now() + Duration::minutes(2)).expect("deactivates");
    submit(&node, &end).expect("deactivated");
    let gone = resolve(&node, &did, "", None);
    assert_eq!(gone.status, 410, "{}", gone.body);
    assert_eq!(gone.json()["didDocumentMetadata"]["deactivated"], true);
    let old = resolve(&node, &did, "?versionId=2", None);
    assert_eq!(old.status, 410);
    assert_eq!(old.json()["didDocument"], latest["didDocument"]);
}

#[test]
fn an_equivocation_is_kept_and_resolves_to_a_conflict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::init(dir.path());
    let did = node.node().identity.did.to_string();
    let (one, _) = next_update(&node, &KeyPair::generate(), 1);
    let (other, _) = next_update(&node, &KeyPair::generate(), 2);
    let admin = node.admin();
    let applied = |operation: &Operation| {
        admin
            .submit_operation(&operation.to_json())
            .expect("accepted")
            .applied
    };
    assert_eq!(applied(&one), Applied::Appended);
    assert_eq!(applied(&other), Applied::Equivocation);
    let conflict = resolve(&node, &did, "", None);
    assert_eq!(conflict.status, 409, "{}", conflict.body);
    assert_eq!(
        conflict.json()["didResolutionMetadata"]["error"]["type"],
        "https://w3id.org/vouch#EQUIVOCATION"
    );
    let node = node.restart();
    assert_eq!(resolve(&node, &did, "?versionId=1", None).status, 409);
    let log = org_log(&node);
    assert_eq!(log.equivocations().len(), 1);
}

#[test]
fn every_endpoint_in_the_openapi_document_is_served() {
    let spec = std::fs::read_to_string("../docs/openapi.yaml").expect("docs/openapi.yaml");
    let paths: Vec<&str> = spec
        .lines()
        .filter_map(|line| line.strip_prefix("  /"))
        .filter_map(|line| line.strip_suffix(':'))
        .collect();
    assert_eq!(paths.len(), 59, "{paths:?}");
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::init(dir.path());
    node.admin()
        .change_status(
            "revocation-1",
            &vouch_api::node::admin::StatusChange {
                purpose: "revocation".into(),
                set: vec![],
                clear: vec![],
            },
        )
        .expect("created");
    for path in paths {
        let did = if path.contains("status-lists") || path.contains("logs") {
            node.node().identity.did.to_string()
        } else {
            "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2".to_owned()
        };
        let url = node.url(&format!(
            "/{}",
            path.replace("{did}", &did)
                .replace("{name}", "revocation-1")
                .replace("{action}", "admit")
                .replace("{definition}", &did)
                .replace("{id}", "urn:uuid:6f1b3a44-2c8e-4f53-9a57-0c1a1d2e3f40")
                .replace("{ceremony}", "Wm8AAAAAAAAAAAAAAAAAAA")
        ));
        let read_only = [
            "admin/consortium",
            "admin/credentials/{id}",
            "1.0/revocations",
        ];
        let posted = path.ends_with("/verify")
            || path.starts_with("admin")
            || [
                "1.0/challenges",
                "1.0/delegations",
                "1.0/renewals",
                "1.0/exchanges",
                "1.0/exchanges/{id}",
                "1.0/approvals",
                "1.0/approvals/{id}/decision",
                "1.0/approvals/{id}/passkey",
                "1.0/approvals/{id}/passkey/{ceremony}",
                "1.0/passkeys/enrolments",
                "1.0/passkeys/enrolments/{ceremony}",
                "credentials/issue",
                "1.0/oauth/token",
                "1.0/oauth/introspect",
                "1.0/oauth/events",
            ]
            .contains(&path);
        let answer = if posted && !read_only.contains(&path) {
            post(&url, "{}", None)
        } else {
            get(&url, None)
        };
        // An approval request no one made: served, and saying so, as JSON and as a page.
        if path == "1.0/approvals/{id}" || path == "approve/{id}" {
            assert_eq!(answer.status, 404, "/{path}: {}", answer.body);
            assert!(
                answer.body.to_lowercase().contains("approval request"),
                "{}",
                answer.body
            );
            continue;
        }
        assert!(
            !answer.body.contains("\"not_found\""),
            "/{path} is documented but not served"
        );
        // A node alone has no consortium to publish: served, and saying so.
        if path == "1.0/consortium" {
            assert!(answer.body.contains("\"no_consortium\""), "{}", answer.body);
            continue;
        }
        assert!(
            answer.status != 404 && answer.status != 405,
            "/{path}: {}",
            answer.status
        );
    }
}
