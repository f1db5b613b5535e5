//! The org's status lists and its DID, changed through the admin API with the keys the node holds.

use chrono::Utc;
use serde_json::Value;
use vouch_api::ErrorCode;
use vouch_api::node::admin::{Confirm, StatusChange, StatusChanged};
use vouch_api::node::client::STATUS_LISTS;
use vouch_api::node::{AdminClient, NodeError, routes};
use vouch_core::status::{MIN_ENTRIES, Purpose, StatusListCredential};
use vouch_node::org::Org;

use crate::common::{TestNode, get, post};

/// A change of a list of `purpose`: these indexes set, these cleared.
fn bits(purpose: &str, set: &[usize], clear: &[usize]) -> StatusChange {
    StatusChange {
        purpose: purpose.into(),
        set: set.to_vec(),
        clear: clear.to_vec(),
    }
}

/// Changes the org's list `name`.
fn change(node: &TestNode, name: &str, change: &StatusChange) -> Result<StatusChanged, NodeError> {
    node.admin().change_status(name, change)
}

/// The refusal's status and code.
fn refused<T: std::fmt::Debug>(result: Result<T, NodeError>) -> (u16, ErrorCode) {
    match result {
        Err(NodeError::Refused { status, code, .. }) => (status, code),
        other => panic!("not refused: {other:?}"),
    }
}

/// Fetches a list by its URL and verifies it against the DIDs the node holds.
pub(crate) fn fetch_list(node: &TestNode, url: &str) -> StatusListCredential {
    let answer = get(url, None);
    assert_eq!(answer.status, 200, "{url}: {}", answer.body);
    assert_eq!(answer.content_type, "application/vc");
    let raw: Value = answer.json();
    StatusListCredential::verify(&raw, &node.node().registry).expect("a valid status list")
}

#[test]
fn the_admin_api_changes_status_lists_that_anyone_can_fetch_and_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = TestNode::init(dir.path());
    let did = node.node().identity.did.to_string();

    let created = change(&node, "revocation-1", &bits("revocation", &[7], &[])).expect("created");
    let path = format!("{STATUS_LISTS}{did}/revocation-1");
    assert_eq!(created.id, node.url(&path));
    // The node's port changes when it restarts: fetch by path.
    let url = |node: &TestNode| node.url(&path);
    let first = fetch_list(&node, &url(&node));
    assert_eq!(first.issuer.as_str(), did);
    assert_eq!(first.purpose, Purpose::Revocation);
    assert_eq!(first.list.len(), MIN_ENTRIES);
    assert!(first.list.get(7).unwrap() && !first.list.get(8).unwrap());

    // Refused, each changing nothing: no token, a revocation undone, another purpose, an index
    // beyond the list, a bad name, a bad purpose, a field this endpoint does not take.
    let anonymous = AdminClient::new(node.node_url(), None);
    let with_token = node.admin();
    let refusals = [
        (
            &anonymous,
            "revocation-1",
            bits("revocation", &[9], &[]),
            401,
            ErrorCode::Unauthorized,
        ),
        (
            &with_token,
            "revocation-1",
            bits("revocation", &[], &[7]),
            409,
            ErrorCode::Conflict,
        ),
        (
            &with_token,
            "revocation-1",
            bits("suspension", &[9], &[]),
            409,
            ErrorCode::Conflict,
        ),
        (
            &with_token,
            "revocation-1",
            bits("revocation", &[131_072], &[]),
            422,
            ErrorCode::InvalidChange,
        ),
        (
            &with_token,
            "Revocation",
            bits("revocation", &[9], &[]),
            400,
            ErrorCode::BadRequest,
        ),
        (
            &with_token,
            "revocation-1",
            bits("expiry", &[9], &[]),
            400,
            ErrorCode::BadRequest,
        ),
    ];
    for (client, name, body, status, code) in refusals {
        assert_eq!(
            refused(client.change_status(name, &body)),
            (status, code),
            "{name} {body:?}"
        );
    }
    // raw HTTP: a member the typed body cannot carry.
    let unknown = post(
        &node.url(&routes::STATUS_LIST_CHANGE.at(&["revocation-1"])),
        r#"{"purpose":"revocation","flip":[9]}"#,
        Some(&node.admin_token()),
    );
    assert_eq!(
        (unknown.status, unknown.json()["code"].as_str()),
        (400, Some("bad_request")),
        "{}",
        unknown.body
    );
    assert_eq!(fetch_list(&node, &url(&node)), first);

    // A suspension is lifted; every version is dated after the one it replaces.
    let suspensions = node.url(&format!("{STATUS_LISTS}{did}/suspension-1"));
    let mut dates = Vec::new();
    for body in [
        bits("suspension", &[3, 4], &[]),
        bits("suspension", &[], &[3]),
        bits("suspension", &[5], &[]),
    ] {
        change(&node, "suspension-1", &body).expect("changed");
        dates.push(fetch_list(&node, &suspensions).valid_from);
    }
    assert!(dates.windows(2).all(|w| w[0] < w[1]), "{dates:?}");
    let suspended = fetch_list(&node, &suspensions);
    assert_eq!(suspended.purpose, Purpose::Suspension);
    assert_eq!(
        [3, 4, 5].map(|i| suspended.list.get(i).unwrap()),
        [false, true, true]
    );

    let missing = node
        .client()
        .status_list(&format!("{STATUS_LISTS}{did}/revocation-2"));
    assert_eq!(refused(missing), (404, ErrorCode::NotFound));

    // After a restart the lists are still there. A key rotation signs them anew with the new
    // key, as their next versions: they verify against the DID's new document.
    node = node.restart();
    assert_eq!(fetch_list(&node, &url(&node)), first);
    let rotated = node.admin().rotate().expect("rotated");
    assert_eq!(rotated.version_id, "2");
    let resigned = fetch_list(&node, &url(&node));
    assert_eq!(resigned.list, first.list);
    assert!(resigned.supersedes(&first));
    let suspensions = node.url(&format!("{STATUS_LISTS}{did}/suspension-1"));
    assert!(fetch_list(&node, &suspensions).supersedes(&suspended));
    change(&node, "revocation-1", &bits("revocation", &[8], &[])).expect("changed");
    let after = fetch_list(&node, &url(&node));
    assert!(after.list.get(7).unwrap() && after.list.get(8).unwrap());
    assert!(after.supersedes(&resigned));

    // A rotation stored just before a crash, its lists not signed anew yet: the node signs them
    // when it starts again.
    let registry = node.node().registry.clone();
    let org = Org::new(
        node.config.data_dir.clone(),
        node.node().identity.did.clone(),
        registry.clone(),
    );
    org.rotate(Utc::now()).expect("rotates");
    let stale = get(&url(&node), None).json();
    assert!(StatusListCredential::verify(&stale, &registry).is_err());
    // Both hold the store open.
    drop((org, registry));
    node = node.restart();
    let restarted = fetch_list(&node, &url(&node));
    assert_eq!(restarted.list, after.list);
    assert!(restarted.supersedes(&after));
}

#[test]
fn the_org_did_is_updated_rotated_and_deactivated_with_the_keys_the_node_holds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = TestNode::init(dir.path());
    let did = node.node().identity.did.clone();
    let resolve = |node: &TestNode| node.client().resolve(&did).expect("an answer");
    let key_of = |result: &Value| {
        result["didDocument"]["verificationMethod"][0]["publicKeyMultibase"]
            .as_str()
            .expect("a key")
            .to_owned()
    };
    let before = key_of(&resolve(&node).1);

    // A service added: the key stays.
    let service: Value = serde_json::from_str(
        &r##"{"verificationMethod":[{"id":"#key-1","type":"Multikey","publicKeyMultibase":"KEY"}],
        "assertionMethod":["#key-1"],
        "service":[{"id":"#exchange","type":"VouchExchange","serviceEndpoint":"https://agents.acme.example"}]}"##
            .replace("KEY", &before),
    )
    .expect("JSON");
    node.admin().update_did(&service).expect("updated");
    let (_, document) = resolve(&node);
    assert_eq!(document["didDocumentMetadata"]["versionId"], "2");
    assert_eq!(key_of(&document), before);

    // A rotation: a new key, the service kept; and it survives a restart.
    node = node.restart();
    node.admin().rotate().expect("rotated");
    let (_, document) = resolve(&node);
    assert_eq!(document["didDocumentMetadata"]["versionId"], "3");
    assert_ne!(key_of(&document), before);
    assert_eq!(
        document["didDocument"]["service"][0]["serviceEndpoint"],
        "https://agents.acme.example"
    );

    // Refused: no token; an invalid document; a deactivation not confirmed with the org's DID.
    let anonymous = AdminClient::new(node.node_url(), None);
    assert_eq!(refused(anonymous.rotate()), (401, ErrorCode::Unauthorized));
    let invalid = serde_json::json!({"verificationMethod": [], "assertionMethod": ["#key-9"]});
    assert_eq!(
        refused(node.admin().update_did(&invalid)),
        (422, ErrorCode::InvalidOperation)
    );
    let elsewhere = Confirm {
        did: "did:vouch:somebody-else".into(),
    };
    assert_eq!(refused(node.admin().deactivate(&elsewhere)).0, 400);
    assert_eq!(resolve(&node).0, 200);

    let confirmed = Confirm {
        did: did.to_string(),
    };
    node.admin().deactivate(&confirmed).expect("deactivated");
    assert_eq!(resolve(&node).0, 410);
    assert_eq!(
        refused(node.admin().rotate()),
        (409, ErrorCode::Deactivated)
    );
}
