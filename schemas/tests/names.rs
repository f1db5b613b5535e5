//! The names Vouch mints are the project's own: every IRI under `https://w3id.org/vouch` that a
//! source, a context, a schema or a document writes is covered by a rule of the redirect
//! registered for it (docs/w3id/.htaccess), and nothing names the domain the project never held
//! (`vouch.id`).

use std::path::{Path, PathBuf};

const BASE: &str = "https://w3id.org/vouch";

/// The folders whose files may write an IRI, and the extensions read.
const FOLDERS: [&str; 12] = [
    "core",
    "node",
    "wallet",
    "api",
    "schemas",
    "testnet",
    "clients/python/src",
    "clients/typescript/src",
    "docs",
    "examples",
    "browser",
    "serve",
];
const EXTENSIONS: [&str; 8] = ["rs", "json", "jsonld", "md", "py", "ts", "yaml", "toml"];

fn files(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if !["node_modules", "target", "dist", ".git"].contains(&name.to_str().unwrap_or("")) {
                files(&path, into);
            }
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
        {
            into.push(path);
        }
    }
}

/// The redirect's rules, as `(prefix, takes a rest)`: `^literal$` or `^literal(.*)$` /
/// `^literal(.+)$`. Any other form is refused, so that what this test checks is what the
/// service does.
fn rules(htaccess: &str) -> Vec<(String, bool)> {
    htaccess
        .lines()
        .filter_map(|line| line.trim().strip_prefix("RewriteRule "))
        .map(|rule| {
            let pattern = rule.split_whitespace().next().expect("a pattern");
            let pattern = pattern
                .strip_prefix('^')
                .and_then(|p| p.strip_suffix('$'))
                .unwrap_or_else(|| panic!("{pattern}: anchored at both ends"));
            match pattern
                .strip_suffix("(.*)")
                .or_else(|| pattern.strip_suffix("(.+)"))
            {
                Some(prefix) => (prefix.to_owned(), true),
                None => (pattern.to_owned(), false),
            }
        })
        .inspect(|(prefix, _)| {
            assert!(
                !prefix.contains(['(', ')', '*', '+', '?', '[', '\\', '.']),
                "{prefix}: a literal path or prefix"
            )
        })
        .collect()
}

/// The path under the base an IRI asks the service for (what follows `/vouch/`; the fragment
/// is never sent).
fn asked(iri: &str) -> String {
    let rest = &iri[BASE.len()..];
    let rest = rest.split('#').next().unwrap_or_default();
    rest.strip_prefix('/').unwrap_or(rest).to_owned()
}

fn covered(rules: &[(String, bool)], path: &str) -> bool {
    rules.iter().any(|(prefix, rest)| match rest {
        true => path
            .strip_prefix(prefix.as_str())
            .is_some_and(|r| !r.is_empty()),
        false => path == prefix,
    })
}

/// The crate's folder: where cargo runs the test from, over where it was built (a reused build
/// may have been made in another clone).
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())
}

#[test]
fn every_iri_vouch_mints_is_under_its_registered_name() {
    let root = Path::new(&manifest_dir()).join("..");
    let htaccess = std::fs::read_to_string(root.join("docs/w3id/.htaccess")).expect("the rules");
    let rules = rules(&htaccess);
    let mut all = Vec::new();
    for folder in FOLDERS {
        files(&root.join(folder), &mut all);
    }
    assert!(all.len() > 100, "the sources: {}", all.len());
    let (mut foreign, mut uncovered, mut minted) = (Vec::new(), Vec::new(), 0);
    for file in &all {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let shown = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .display()
            .to_string();
        if shown.ends_with("names.rs") {
            continue;
        }
        if text.contains("vouch.id") {
            foreign.push(shown.clone());
        }
        for (at, _) in text.match_indices(BASE) {
            let iri: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "/#._-~:".contains(*c))
                .collect();
            let iri = iri.trim_end_matches(['.', ':']);
            // A prefix in prose (`https://w3id.org/vouch/events/…`) is covered by a rule that
            // takes what follows it.
            let path = asked(iri);
            let prefix_covered =
                iri.ends_with('/') && rules.iter().any(|(p, rest)| *rest && path == *p);
            minted += 1;
            if !covered(&rules, &path) && !prefix_covered {
                uncovered.push(format!("{shown}: {iri}"));
            }
        }
    }
    assert!(foreign.is_empty(), "files naming vouch.id: {foreign:?}");
    assert!(
        uncovered.is_empty(),
        "IRIs no rule redirects:\n{}",
        uncovered.join("\n")
    );
    assert!(minted > 20, "IRIs seen: {minted}");

    // The test sees what it looks for.
    assert!(covered(&rules, &asked("https://w3id.org/vouch/v1")));
    assert!(covered(
        &rules,
        &asked("https://w3id.org/vouch#AgentCapabilityCredential")
    ));
    assert!(covered(
        &rules,
        &asked("https://w3id.org/vouch/events/revoked")
    ));
    assert!(!covered(&rules, &asked("https://w3id.org/vouch/v2")));
    assert!(!covered(&rules, &asked("https://w3id.org/vouch/events/")));
}
