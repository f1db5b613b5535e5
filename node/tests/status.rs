//! The org's status lists and its DID, changed through the admin API with the keys the node holds.

use chrono::Utc;
use serde_json::Value;
use vouch_core::status::{MIN_ENTRIES, Purpose, StatusListCredential};
use vouch_node::org::Org;

use crate::common::{TestNode, get, post};

/// Changes the org's list `name`; returns the answer.
fn change(node: &TestNode, name: &str, body: &str) -> crate::common::Answer {
    post(
        &node.url(&format!("/admin/status-lists/{name}")),
        body,
        Some(&node.admin_token()),
    )
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

    let created = change(
        &node,
        "revocation-1",
        r#"{"purpose":"revocation","set":[7]}"#,
    );
    assert_eq!(created.status, 200, "{}", created.body);
    let path = format!("/1.0/status-lists/{did}/revocation-1");
    assert_eq!(created.json()["id"], node.url(&path));
    // The node's port changes when it restarts: fetch by path.
    let url = |node: &TestNode| node.url(&path);
    let first = fetch_list(&node, &url(&node));
    assert_eq!(first.issuer.as_str(), did);
    assert_eq!(first.purpose, Purpose::Revocation);
    assert_eq!(first.list.len(), MIN_ENTRIES);
    assert!(first.list.get(7).unwrap() && !first.list.get(8).unwrap());

    // Refused, each changing nothing: no token, a revocation undone, another purpose, an index
    // beyond the list, a bad name, a bad purpose, a field this endpoint does not take.
    let refusals = [
        (
            "revocation-1",
            r#"{"purpose":"revocation","set":[9]}"#,
            false,
            401,
            "unauthorized",
        ),
        (
            "revocation-1",
            r#"{"purpose":"revocation","clear":[7]}"#,
            true,
            409,
            "conflict",
        ),
        (
            "revocation-1",
            r#"{"purpose":"suspension","set":[9]}"#,
            true,
            409,
            "conflict",
        ),
        (
            "revocation-1",
            r#"{"purpose":"revocation","set":[131072]}"#,
            true,
            422,
            "invalid_change",
        ),
        (
            "Revocation",
            r#"{"purpose":"revocation","set":[9]}"#,
            true,
            400,
            "bad_request",
        ),
        (
            "revocation-1",
            r#"{"purpose":"expiry","set":[9]}"#,
            true,
            400,
            "bad_request",
        ),
        (
            "revocation-1",
            r#"{"purpose":"revocation","flip":[9]}"#,
            true,
            400,
            "bad_request",
        ),
    ];
    for (name, body, authorized, status, code) in refusals {
        let token = authorized.then(|| node.admin_token());
        let answer = post(
            &node.url(&format!("/admin/status-lists/{name}")),
            body,
            token.as_deref(),
        );
        assert_eq!(
            (answer.status, answer.json()["code"].as_str()),
            (status, Some(code)),
            "{name} {body}: {}",
            answer.body
        );
    }
    assert_eq!(fetch_list(&node, &url(&node)), first);

    // A suspension is lifted; every version is dated after the one it replaces.
    let suspensions = node.url(&format!("/1.0/status-lists/{did}/suspension-1"));
    let mut dates = Vec::new();
    for body in [
        r#"{"purpose":"suspension","set":[3, 4]}"#,
        r#"{"purpose":"suspension","clear":[3]}"#,
        r#"{"purpose":"suspension","set":[5]}"#,
    ] {
        let answer = change(&node, "suspension-1", body);
        assert_eq!(answer.status, 200, "{}", answer.body);
        dates.push(fetch_list(&node, &suspensions).valid_from);
    }
    assert!(dates.windows(2).all(|w| w[0] < w[1]), "{dates:?}");
    let suspended = fetch_list(&node, &suspensions);
    assert_eq!(suspended.purpose, Purpose::Suspension);
    assert_eq!(
        [3, 4, 5].map(|i| suspended.list.get(i).unwrap()),
        [false, true, true]
    );

    let missing = get(
        &node.url(&format!("/1.0/status-lists/{did}/revocation-2")),
        None,
    );
    assert_eq!(
        (missing.status, missing.json()["code"].as_str()),
        (404, Some("not_found"))
    );

    // After a restart the lists are still there. A key rotation signs them anew with the new
    // key, as their next versions: they verify against the DID's new document.
    node = node.restart();
    assert_eq!(fetch_list(&node, &url(&node)), first);
    let rotated = post(
        &node.url("/admin/did/rotate"),
        "",
        Some(&node.admin_token()),
    );
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    assert_eq!(rotated.json()["versionId"], "2");
    let resigned = fetch_list(&node, &url(&node));
    assert_eq!(resigned.list, first.list);
    assert!(resigned.supersedes(&first));
    let suspensions = node.url(&format!("/1.0/status-lists/{did}/suspension-1"));
    assert!(fetch_list(&node, &suspensions).supersedes(&suspended));
    assert_eq!(
        change(
            &node,
            "revocation-1",
            r#"{"purpose":"revocation","set":[8]}"#
        )
        .status,
        200
    );
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
    let did = node.node().identity.did.to_string();
    let token = node.admin_token();
    let resolve = |node: &TestNode| get(&node.url(&format!("/1.0/identifiers/{did}")), None);
    let key_of = |result: &Value| {
        result["didDocument"]["verificationMethod"][0]["publicKeyMultibase"]
            .as_str()
            .expect("a key")
            .to_owned()
    };
    let before = key_of(&resolve(&node).json());

    // A service added: the key stays.
    let service = r##"{"verificationMethod":[{"id":"#key-1","type":"Multikey","publicKeyMultibase":"KEY"}],
        "assertionMethod":["#key-1"],
        "service":[{"id":"#exchange","type":"VouchExchange","serviceEndpoint":"https://agents.acme.example"}]}"##
        .replace("KEY", &before);
    let updated = post(&node.url("/admin/did/update"), &service, Some(&token));
    assert_eq!(updated.status, 200, "{}", updated.body);
    let document = resolve(&node).json();
    assert_eq!(document["didDocumentMetadata"]["versionId"], "2");
    assert_eq!(key_of(&document), before);

    // A rotation: a new key, the service kept; and it survives a restart.
    node = node.restart();
    let rotated = post(&node.url("/admin/did/rotate"), "", Some(&token));
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let document = resolve(&node).json();
    assert_eq!(document["didDocumentMetadata"]["versionId"], "3");
    assert_ne!(key_of(&document), before);
    assert_eq!(
        document["didDocument"]["service"][0]["serviceEndpoint"],
        "https://agents.acme.example"
    );

    // Refused: no token; an invalid document; a deactivation not confirmed with the org's DID.
    let refused = post(&node.url("/admin/did/rotate"), "", None);
    assert_eq!(refused.status, 401);
    let invalid = post(
        &node.url("/admin/did/update"),
        r##"{"verificationMethod":[],"assertionMethod":["#key-9"]}"##,
        Some(&token),
    );
    assert_eq!(
        (invalid.status, invalid.json()["code"].as_str()),
        (422, Some("invalid_operation")),
        "{}",
        invalid.body
    );
    let unconfirmed = post(
        &node.url("/admin/did/deactivate"),
        r#"{"did":"did:vouch:somebody-else"}"#,
        Some(&token),
    );
    assert_eq!(unconfirmed.status, 400);
    assert_eq!(resolve(&node).status, 200);

    let ended = post(
        &node.url("/admin/did/deactivate"),
        &format!(r#"{{"did":"{did}"}}"#),
        Some(&token),
    );
    assert_eq!(ended.status, 200, "{}", ended.body);
    assert_eq!(resolve(&node).status, 410);
    let again = post(&node.url("/admin/did/rotate"), "", Some(&token));
    assert_eq!(
        (again.status, again.json()["code"].as_str()),
        (409, Some("deactivated"))
    );
}
