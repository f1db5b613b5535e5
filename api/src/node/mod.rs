//! The node's HTTP API: every route's request and answer as a type ([`public`] for anyone,
//! [`admin`] for the operator), and the clients that speak it, [`NodeClient`] and
//! [`AdminClient`]. The node serves these types and the clients read them, so a field renamed
//! on one side fails to build on the other. Errors are [`crate::Problem`]s with an
//! [`crate::ErrorCode`].

pub mod admin;
pub mod client;
pub mod oauth;
#[cfg(test)]
mod openapi;
pub mod public;
pub mod routes;

pub use client::{AdminClient, NodeClient, NodeError};

/// A time as the API writes it (RFC 3339, UTC, to the second), in the types' schemas.
pub(crate) struct Timestamp;

impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "format": "date-time"})
    }
}

#[cfg(test)]
mod tests {
    /// Where a program or a test may name a node's route: the server's routes, and the clients
    /// here. Everywhere else a request to a node goes through [`super::NodeClient`] or
    /// [`super::AdminClient`] with this crate's types, so a route or a field that changes
    /// breaks the build; a test that must send what no client sends (a malformed body, a bad
    /// query, a missing token's status) takes its path from [`super::routes`].
    const ALLOWED: [(&str, &str); 6] = [
        ("node/src/api/", "the server: it serves the routes"),
        (
            "node/src/exchanges.rs",
            "its own exchanges as a capability's resource pattern: data, no request",
        ),
        (
            "testnet/src/flood.rs",
            "the flood writes raw HTTP/1.1 on many sockets (its bodies are this crate's types)",
        ),
        (
            "wallet/src/knowledge.rs",
            "its tests' hostile node serves the routes, and status list URLs are credential data",
        ),
        (
            "node/tests/http.rs",
            "the HTTP layer itself: methods, path lengths, encodings, negotiated types",
        ),
        (
            "node/tests/hostile.rs",
            "raw sockets: what no client sends, from clients that do not behave",
        ),
    ];

    /// Whether `line` names a route of a node in a string: `"/1.0/…"`, `"/admin/…"`, or a base
    /// URL joined to one in a `format!`.
    fn names_a_route(line: &str) -> bool {
        let code = line.split("//").next().unwrap_or_default();
        [
            "\"/1.0/",
            "\"/admin/",
            "}/1.0/",
            "}/admin/",
            "\"/credentials/issue",
        ]
        .iter()
        .any(|route| code.contains(route))
    }

    fn rust_files(dir: &std::path::Path, into: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("a source folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, into);
            } else if path.extension().is_some_and(|e| e == "rs") {
                into.push(path);
            }
        }
    }

    #[test]
    fn no_program_outside_vouch_api_builds_a_request_to_a_node_by_hand() {
        let root = std::path::Path::new(&crate::manifest_dir()).join("..");
        let mut files = Vec::new();
        for dir in [
            "wallet/src",
            "wallet/tests",
            "testnet/src",
            "node/src",
            "node/tests",
            "core/src",
            "core/tests",
            "browser/src",
            "serve/src",
            "keyfile/src",
        ] {
            rust_files(&root.join(dir), &mut files);
        }
        assert!(files.len() > 50, "the workspace's sources: {}", files.len());
        let mut by_hand = Vec::new();
        for file in &files {
            let relative = file
                .strip_prefix(&root)
                .expect("below the root")
                .to_string_lossy()
                .replace('\\', "/");
            if ALLOWED
                .iter()
                .any(|(prefix, _)| relative.starts_with(prefix))
            {
                continue;
            }
            let text = std::fs::read_to_string(file).expect("a source file");
            for (n, line) in text.lines().enumerate() {
                let trimmed = line.trim_start();
                if trimmed.starts_with("//") {
                    continue;
                }
                if names_a_route(line) {
                    by_hand.push(format!("{relative}:{}: {}", n + 1, line.trim()));
                }
            }
        }
        assert!(
            by_hand.is_empty(),
            "requests to a node built by hand (use vouch_api::node's clients):\n{}",
            by_hand.join("\n")
        );
        // The test sees what it looks for.
        assert!(names_a_route(
            r#"agent.post(&format!("{base}/admin/agents"))"#
        ));
        assert!(names_a_route(r#"get(base, "/1.0/audit/witnessed")"#));
        assert!(!names_a_route(r#"let x = 1; // GET "/1.0/trust""#));
    }
}
