//! HTTP conventions, from the outside: what a Universal-Resolver client, a standard verifier or
//! an OpenAPI fuzzer sends, and what they expect back.

use crate::common::{TestNode, get, post, send};

/// Percent-encodes a whole DID, as the DID Resolution HTTP(S) binding sends it.
fn encoded(did: &str) -> String {
    did.replace(':', "%3A")
}

#[test]
fn url_encoded_dids_resolve_and_name_status_lists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::init(dir.path());
    let did = node.node().identity.did.to_string();
    for query in ["", "?versionId=1"] {
        let answer = get(
            &node.url(&format!("/1.0/identifiers/{}{query}", encoded(&did))),
            None,
        );
        assert_eq!(answer.status, 200, "{query}: {}", answer.body);
        assert_eq!(answer.json()["didDocument"]["id"], did.as_str());
    }
    let changed = post(
        &node.url("/admin/status-lists/revocation-1"),
        r#"{"purpose":"revocation","set":[3]}"#,
        Some(&node.admin_token()),
    );
    assert_eq!(changed.status, 200, "{}", changed.body);
    let list = get(
        &node.url(&format!("/1.0/status-lists/{}/revocation-1", encoded(&did))),
        None,
    );
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.json()["issuer"], did.as_str());
}

#[test]
fn negotiation_follows_qualities_and_did_1_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::init(dir.path());
    let did = node.node().identity.did.to_string();
    let url = node.url(&format!("/1.0/identifiers/{did}"));
    let cases = [
        ("application/did", 200, "application/did"),
        ("", 200, "application/did-resolution"),
        (
            "application/did-resolution;q=0.3, application/did+json;q=0.8",
            200,
            "application/did+json",
        ),
        (
            "application/did-resolution;q=0, */*;q=0.5",
            200,
            "application/did+ld+json",
        ),
        (
            "application/did+json;q=0",
            406,
            "application/did-resolution",
        ),
    ];
    for (accept, status, content_type) in cases {
        let answer = send("GET", &url, &[("accept", accept)], "");
        assert_eq!(
            (answer.status, answer.content_type.as_str()),
            (status, content_type),
            "Accept: {accept}: {}",
            answer.body
        );
    }
    let did_1_1 = send("GET", &url, &[("accept", "application/did")], "").json();
    assert_eq!(did_1_1["id"], did.as_str());
    assert!(did_1_1["@context"].is_array() || did_1_1["@context"].is_string());
}

#[test]
fn errors_are_problem_objects_with_the_did_resolution_types() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::init(dir.path());
    let did = node.node().identity.did.to_string();

    // Resolution errors keep their `error` code and carry the problem object beside it.
    let cases = [
        (
            format!("/1.0/identifiers/{did}?versionId=0"),
            400,
            "invalidOptions",
            "https://www.w3.org/ns/did#INVALID_OPTIONS",
        ),
        (
            format!("/1.0/identifiers/{did}?versionId=9"),
            404,
            "notFound",
            "https://www.w3.org/ns/did#NOT_FOUND",
        ),
        (
            "/1.0/identifiers/did:web:example.com".to_owned(),
            501,
            "methodNotSupported",
            "https://www.w3.org/ns/did#METHOD_NOT_SUPPORTED",
        ),
        (
            "/1.0/identifiers/did:vouch:nope".to_owned(),
            400,
            "invalidDid",
            "https://www.w3.org/ns/did#INVALID_DID",
        ),
    ];
    for (path, status, code, kind) in cases {
        let answer = get(&node.url(&path), None);
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        // DID Resolution (CR): `error` is the RFC 9457 problem object; a failure has no
        // document and empty document metadata.
        let result = answer.json();
        let metadata = &result["didResolutionMetadata"];
        assert_eq!(metadata["error"]["type"], kind, "{path}");
        assert!(metadata["error"]["title"].is_string(), "{path}");
        assert!(metadata["error"]["detail"].is_string(), "{path}");
        assert_eq!(result["didDocument"], serde_json::Value::Null, "{path}");
        assert_eq!(
            result["didDocumentMetadata"],
            serde_json::json!({}),
            "{path}"
        );
        // The first draft's clients, who ask in its terms, read the code they compare with.
        let legacy = get(
            &node.url(&path),
            Some("application/ld+json;profile=\"https://w3id.org/did-resolution\""),
        );
        assert_eq!(legacy.status, status, "{path}: {}", legacy.body);
        let metadata = &legacy.json()["didResolutionMetadata"];
        assert_eq!(metadata["error"], code, "{path}");
        assert!(metadata["errorMessage"].is_string(), "{path}");
    }

    // A did:key has one version, in force at any time.
    let key = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";
    for (query, status) in [
        ("?versionId=1", 200),
        ("?versionTime=2020-01-01T00:00:00Z", 200),
        ("?versionId=2", 404),
    ] {
        let answer = get(&node.url(&format!("/1.0/identifiers/{key}{query}")), None);
        assert_eq!(answer.status, status, "{query}: {}", answer.body);
    }

    // Every other error is an RFC 9457 problem object that keeps `code` and `message`.
    let missing = get(&node.url("/nowhere"), None);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.content_type, "application/problem+json");
    let problem = missing.json();
    assert_eq!(
        (problem["type"].as_str(), problem["status"].as_u64()),
        (Some("about:blank"), Some(404))
    );
    assert_eq!(problem["title"], "Not Found");
    assert_eq!(problem["code"], "not_found");
    assert!(problem["detail"].is_string() && problem["message"].is_string());

    // A path of the API with a method it does not take: 405 and what it takes.
    for (method, path, allow) in [
        ("DELETE", format!("/1.0/identifiers/{did}"), "GET"),
        ("POST", "/health".to_owned(), "GET"),
        ("GET", "/admin/did/rotate".to_owned(), "POST"),
        ("PUT", "/admin/status-lists/revocation-1".to_owned(), "POST"),
    ] {
        let answer = send(method, &node.url(&path), &[], "");
        assert_eq!(answer.status, 405, "{method} {path}: {}", answer.body);
        assert_eq!(
            answer.headers.get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
        assert_eq!(answer.json()["code"], "method_not_allowed");
    }

    // Too long a path: 414, with a body while the server still reads it; too long a DID is the
    // resolver's `invalidDid`.
    let long = get(
        &node.url(&format!("/1.0/status-lists/{}/x", "a".repeat(20_000))),
        None,
    );
    assert_eq!(long.status, 414);
    assert_eq!(long.json()["code"], "uri_too_long");
    let long_did = get(
        &node.url(&format!("/1.0/identifiers/did:key:{}", "a".repeat(20_000))),
        None,
    );
    assert_eq!(long_did.status, 400);
    assert_eq!(
        long_did.json()["didResolutionMetadata"]["error"]["type"],
        "https://www.w3.org/ns/did#INVALID_DID"
    );
    let huge = raw(
        &node,
        &format!(
            "GET /1.0/identifiers/{} HTTP/1.1\r\nhost: x\r\n\r\n",
            "a".repeat(100_000)
        ),
    );
    assert!(huge.starts_with("HTTP/1.1 414"), "{huge}");
}

/// Sends raw bytes to the node's HTTP port and reads what it answers until it closes.
fn raw(node: &TestNode, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(node.node().http_addr).expect("connects");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("a timeout");
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(request.as_bytes());
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn the_bearer_scheme_is_case_insensitive_and_a_deactivated_org_is_a_conflict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::init(dir.path());
    let did = node.node().identity.did.to_string();
    let url = node.url("/admin/status-lists/suspension-1");
    let body = r#"{"purpose":"suspension","set":[1]}"#;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let authorization = format!("{scheme} {}", node.admin_token().trim());
        let answer = send(
            "POST",
            &url,
            &[
                ("authorization", &authorization),
                ("content-type", "application/json"),
            ],
            body,
        );
        assert_eq!(answer.status, 200, "{scheme}: {}", answer.body);
    }
    let wrong = send(
        "POST",
        &url,
        &[
            ("authorization", "Basic Zm9vOmJhcg=="),
            ("content-type", "application/json"),
        ],
        body,
    );
    assert_eq!(wrong.status, 401);

    let token = node.admin_token();
    let deactivated = post(
        &node.url("/admin/did/deactivate"),
        &serde_json::json!({ "did": did }).to_string(),
        Some(&token),
    );
    assert_eq!(deactivated.status, 200, "{}", deactivated.body);
    // The client's state, not the node's failure: 409, like the DID endpoints.
    let after = post(&url, body, Some(&token));
    assert_eq!(after.status, 409, "{}", after.body);
    assert_eq!(after.json()["code"], "deactivated");
    let rotate = post(&node.url("/admin/did/rotate"), "", Some(&token));
    assert_eq!(rotate.status, 409, "{}", rotate.body);
    // So is every issuer endpoint that would sign: a revocation, a suspension, a definition.
    for (path, body) in [
        (
            "/admin/revocations",
            r#"{"level": "task", "subject": "t1", "preemptive": true}"#,
        ),
        (
            "/admin/suspensions",
            r#"{"level": "task", "subject": "t1", "preemptive": true}"#,
        ),
        (
            "/admin/agents",
            r#"{"name": "a", "version": "1", "owner": "o", "model": "m",
                "systemPromptHash": "zQmYtUc4iTCbbfVSDNKvtQqrfyezPPnFvE33wFmutw9PBBk",
                "tools": [], "configuration": {}}"#,
        ),
    ] {
        let refused = post(&node.url(path), body, Some(&token));
        assert_eq!(refused.status, 409, "{path}: {}", refused.body);
        assert_eq!(refused.json()["code"], "deactivated", "{path}");
    }
}
