//! # vouch-layering
//!
//! The test that keeps a crate's modules in layers, shared by the crates that have one
//! (`no_module_uses_one_above_it`): a top-level module uses only modules of lower layers, and
//! below the top no two sibling modules use each other, however indirectly (a circle among the
//! files of `net/` is as much a tangle as one among `net` and `api`).
//!
//! Uses are read from the syntax, not from text: every `use` tree (`use crate::{a, b::c}`), every
//! path in code, types and attributes (`crate::x::f()`, `super::super::y::T`, `self::z`), and the
//! paths inside macro invocations (`json!`, `select!`), each resolved from the module it is
//! written in (inline `mod tests { … }` included) to the module it names. A name a parent module
//! re-exports from a child (`pub use child::Thing;` in `lib.rs` or a `mod.rs`) counts as a use of
//! that child, so a re-export does not hide a use from below.
//!
//! A module may always use its ancestors (its parent's items are its own scope) and a parent its
//! children; what is checked is every use between two modules of which neither contains the other.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// A module's path below the crate root: `["net", "sync"]` for `src/net/sync.rs`.
type ModPath = Vec<String>;

/// One use of a module by another.
#[derive(Debug, Clone)]
struct Use {
    /// The file it is written in, relative to `src`.
    file: PathBuf,
    /// The module of that file.
    from: ModPath,
    /// The module it names.
    to: ModPath,
    /// The path as written, for the message.
    written: String,
}

/// Checks the crate whose sources are in `src`: its top-level modules against `layers` (lowest
/// first; every top-level module in exactly one), and every group of sibling modules below the top
/// for circles. `src/lib.rs` is the root, above every layer; `src/main.rs` and `src/bin` are
/// crates of their own, left out. Returns how many uses between distinct modules were checked, or every
/// breach found, one per line.
pub fn check(src: &Path, layers: &[&[&str]]) -> Result<usize, String> {
    let files = sources(src).map_err(|e| format!("reading {}: {e}", src.display()))?;
    let mut modules: BTreeSet<ModPath> = BTreeSet::new();
    for (_, module) in &files {
        for depth in 0..=module.len() {
            modules.insert(module[..depth].to_vec());
        }
    }
    let mut breaches = Vec::new();
    for top in modules.iter().filter(|m| m.len() == 1) {
        if layer_of(layers, &top[0]).is_none() {
            breaches.push(format!("module {} is in no layer", top[0]));
        }
    }
    for name in layers.iter().flat_map(|layer| layer.iter()) {
        if !modules.contains(&vec![(*name).to_owned()]) {
            breaches.push(format!(
                "layer names {name}, which is no module of the crate"
            ));
        }
    }

    // Parse every file once: its uses, and the re-exports of a root or a mod.rs.
    let mut parsed = Vec::new();
    let mut reexports: BTreeMap<(ModPath, String), ModPath> = BTreeMap::new();
    for (file, module) in &files {
        let text = std::fs::read_to_string(src.join(file))
            .map_err(|e| format!("reading {}: {e}", file.display()))?;
        let syntax =
            syn::parse_file(&text).map_err(|e| format!("parsing {}: {e}", file.display()))?;
        let mut reader = Reader::new(module.clone());
        reader.visit_file(&syntax);
        for (name, path) in reader.reexports {
            reexports.insert((module.clone(), name), path);
        }
        parsed.push((file.clone(), module.clone(), reader.uses));
    }

    let mut uses = Vec::new();
    for (file, from, written) in parsed {
        for (path, text) in written {
            let to = resolve(&modules, &reexports, &path);
            uses.push(Use {
                file: file.clone(),
                from: from.clone(),
                to,
                written: text,
            });
        }
    }

    let mut checked = 0;
    // Edges among siblings below the top: parent → (from child → to child → an example).
    let mut edges: BTreeMap<ModPath, BTreeMap<String, BTreeMap<String, Use>>> = BTreeMap::new();
    for one in uses {
        let common = one
            .from
            .iter()
            .zip(&one.to)
            .take_while(|(a, b)| a == b)
            .count();
        if common == one.from.len() || common == one.to.len() {
            continue; // an ancestor, a descendant, or itself
        }
        checked += 1;
        let (from, to) = (&one.from[common], &one.to[common]);
        if common == 0 {
            if let (Some(a), Some(b)) = (layer_of(layers, from), layer_of(layers, to))
                && b >= a
            {
                breaches.push(format!(
                    "{} uses {} ({}), which is not below {from}",
                    one.file.display(),
                    one.to.join("::"),
                    one.written
                ));
            }
        } else {
            edges
                .entry(one.from[..common].to_vec())
                .or_default()
                .entry(from.clone())
                .or_default()
                .entry(to.clone())
                .or_insert(one);
        }
    }
    for (parent, graph) in &edges {
        for circle in circles(graph) {
            let mut line = format!(
                "a circle among the modules of {}: {}",
                parent.join("::"),
                circle.join(" → ")
            );
            for (a, b) in circle.iter().zip(circle.iter().skip(1)) {
                if let Some(example) = graph.get(a).and_then(|to| to.get(b)) {
                    let _ = write!(
                        line,
                        "; {} names {}",
                        example.file.display(),
                        example.written
                    );
                }
            }
            breaches.push(line);
        }
    }
    if breaches.is_empty() {
        Ok(checked)
    } else {
        Err(breaches.join("\n"))
    }
}

/// The test itself, for a crate's `no_module_uses_one_above_it`: checks the crate's `src` and
/// panics with every breach, or when fewer than `at_least` uses were seen (a scan that sees
/// nothing passes everything). `built_at` is `env!("CARGO_MANIFEST_DIR")`; the folder cargo runs
/// the test from wins over it, as a reused build may have been made elsewhere.
pub fn assert_layered(built_at: &str, layers: &[&[&str]], at_least: usize) {
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| built_at.into());
    match check(&Path::new(&crate_dir).join("src"), layers) {
        Ok(checked) => assert!(
            checked >= at_least,
            "only {checked} uses between modules found: is the scan broken?"
        ),
        Err(breaches) => panic!("{breaches}"),
    }
}

/// The files of the crate in `src` that name the crate `external` (`use rocksdb::…`,
/// `libp2p::Multiaddr`, `warp::reply(…)` in a macro), with their top-level module.
pub fn naming(src: &Path, external: &str) -> Result<Vec<(PathBuf, String)>, String> {
    let files = sources(src).map_err(|e| format!("reading {}: {e}", src.display()))?;
    let mut found = Vec::new();
    for (file, module) in files {
        let text = std::fs::read_to_string(src.join(&file))
            .map_err(|e| format!("reading {}: {e}", file.display()))?;
        let syntax =
            syn::parse_file(&text).map_err(|e| format!("parsing {}: {e}", file.display()))?;
        let mut reader = Reader::new(module.clone());
        reader.visit_file(&syntax);
        if reader.roots.contains(external) {
            found.push((file, module.first().cloned().unwrap_or_default()));
        }
    }
    Ok(found)
}

/// The test that only `modules` (top-level modules of the crate) name the crate `external`:
/// panics naming every other file that does, or when none does (a scan that sees nothing).
pub fn assert_named_only_by(built_at: &str, external: &str, modules: &[&str]) {
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| built_at.into());
    let found =
        naming(&Path::new(&crate_dir).join("src"), external).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !found.is_empty(),
        "no file names {external}: is the scan broken?"
    );
    let others: Vec<String> = found
        .iter()
        .filter(|(_, module)| !modules.contains(&module.as_str()))
        .map(|(file, _)| file.display().to_string())
        .collect();
    assert!(
        others.is_empty(),
        "only {modules:?} may name {external}, and these do too: {others:?}"
    );
}

fn layer_of(layers: &[&[&str]], module: &str) -> Option<usize> {
    layers.iter().position(|layer| layer.contains(&module))
}

/// Every source file below `src` with its module (`lib.rs` the root, read for what it
/// re-exports; `main.rs` and `bin/` left out: entry points, crates of their own).
fn sources(src: &Path) -> std::io::Result<Vec<(PathBuf, ModPath)>> {
    fn walk(src: &Path, dir: &Path, out: &mut Vec<(PathBuf, ModPath)>) -> std::io::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for path in entries {
            let Ok(relative) = path.strip_prefix(src) else {
                continue;
            };
            if path.is_dir() {
                if relative != Path::new("bin") {
                    walk(src, &path, out)?;
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || relative == Path::new("main.rs") {
                continue;
            }
            let mut module: ModPath = relative
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|last| last == "mod") || relative == Path::new("lib.rs") {
                module.pop();
            }
            out.push((relative.to_owned(), module));
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(src, src, &mut out)?;
    Ok(out)
}

/// The module a path names: the longest of its prefixes that is a module, or, when its next
/// segment is a name that module re-exports from a child, that child.
fn resolve(
    modules: &BTreeSet<ModPath>,
    reexports: &BTreeMap<(ModPath, String), ModPath>,
    path: &[String],
) -> ModPath {
    let mut known = 0;
    for depth in 0..=path.len() {
        if modules.contains(&path[..depth].to_vec()) {
            known = depth;
        }
    }
    let module = path[..known].to_vec();
    match path.get(known) {
        Some(next) => match reexports.get(&(module.clone(), next.clone())) {
            Some(source) => resolve(modules, &BTreeMap::new(), source),
            None => module,
        },
        None => module,
    }
}

/// Reads one file: every path to a module of the crate, made absolute.
struct Reader {
    /// The module being read: the file's, then an inline module's within it.
    module: ModPath,
    /// Absolute paths named, with their text.
    uses: Vec<(ModPath, String)>,
    /// Names re-exported here from a child: `pub use child::Name;`.
    reexports: Vec<(String, ModPath)>,
    /// The first segment of every path written: the other crates named among them.
    roots: BTreeSet<String>,
}

impl Reader {
    fn new(module: ModPath) -> Self {
        Self {
            module,
            uses: Vec::new(),
            reexports: Vec::new(),
            roots: BTreeSet::new(),
        }
    }

    /// Makes a path absolute if it starts at the crate, this module or a parent; `None` for a
    /// path into another crate or a local name.
    fn absolute(&self, segments: &[String]) -> Option<ModPath> {
        let mut base = self.module.clone();
        let mut rest = segments;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                base.clear();
                rest = &rest[1..];
            }
            Some("self") => rest = &rest[1..],
            Some("super") => {
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
            }
            _ => return None,
        }
        base.extend(rest.iter().cloned());
        Some(base)
    }

    fn record(&mut self, segments: &[String]) {
        // A single name is a local one (a variable, a type in scope), not a crate.
        if let [first, _, ..] = segments {
            self.roots.insert(first.clone());
        }
        if let Some(path) = self.absolute(segments) {
            self.uses.push((path, segments.join("::")));
        }
    }

    /// Every path of a `use` tree, with its last name when it is one.
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree, public: bool) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree, public);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.use_leaf(prefix, n.ident.to_string(), None, public),
            syn::UseTree::Rename(r) => self.use_leaf(
                prefix,
                r.ident.to_string(),
                Some(r.rename.to_string()),
                public,
            ),
            syn::UseTree::Glob(_) => self.record(prefix),
            syn::UseTree::Group(g) => {
                for item in &g.items {
                    self.use_tree(prefix, item, public);
                }
            }
        }
    }

    fn use_leaf(&mut self, prefix: &[String], name: String, rename: Option<String>, public: bool) {
        let mut path = prefix.to_vec();
        path.push(name.clone());
        if name == "self" {
            path.pop();
        }
        if let Some(first) = path.first() {
            self.roots.insert(first.clone());
        }
        if public && let Some(first) = path.first() {
            // `pub use child::Name;` here: `self::Name` leads to the child. Uniform paths name a
            // child without `self::`.
            let absolute = if matches!(first.as_str(), "crate" | "self" | "super") {
                self.absolute(&path)
            } else {
                let mut within = self.module.clone();
                within.extend(path.iter().cloned());
                Some(within)
            };
            if let Some(absolute) = absolute
                && absolute.len() > self.module.len()
                && absolute.starts_with(&self.module)
            {
                self.reexports.push((rename.unwrap_or(name), absolute));
            }
        }
        self.record(&path);
    }
}

impl<'a> Visit<'a> for Reader {
    fn visit_item_use(&mut self, item: &'a syn::ItemUse) {
        let public = matches!(item.vis, syn::Visibility::Public(_));
        self.use_tree(&mut Vec::new(), &item.tree, public);
    }

    fn visit_item_mod(&mut self, item: &'a syn::ItemMod) {
        if item.content.is_some() {
            self.module.push(item.ident.to_string());
            syn::visit::visit_item_mod(self, item);
            self.module.pop();
        }
    }

    fn visit_path(&mut self, path: &'a syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if path.leading_colon.is_none() {
            self.record(&segments);
        } else if let [first, _, ..] = segments.as_slice() {
            self.roots.insert(first.clone());
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'a syn::Macro) {
        self.tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }
}

impl Reader {
    /// The paths inside a macro's tokens: `crate`, `self` or `super` followed by `::` and names.
    fn tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut at = 0;
        while at < tokens.len() {
            match &tokens[at] {
                TokenTree::Group(group) => self.tokens(group.stream()),
                TokenTree::Ident(ident)
                    if matches!(
                        (tokens.get(at + 1), tokens.get(at + 2)),
                        (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                            if a.as_char() == ':' && b.as_char() == ':'
                    ) =>
                {
                    let mut segments = vec![ident.to_string()];
                    let mut next = at + 1;
                    while let (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) =
                        (tokens.get(next), tokens.get(next + 1))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        match tokens.get(next + 2) {
                            Some(TokenTree::Ident(name)) => segments.push(name.to_string()),
                            _ => break,
                        }
                        next += 3;
                    }
                    if segments.len() > 1 {
                        self.record(&segments);
                    }
                    at = next;
                    continue;
                }
                _ => {}
            }
            at += 1;
        }
    }
}

/// The circles of a graph: each strongly connected set of more than one node, as a closed walk
/// through it (first node repeated at the end).
fn circles(graph: &BTreeMap<String, BTreeMap<String, Use>>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = graph
        .iter()
        .flat_map(|(from, to)| std::iter::once(from).chain(to.keys()))
        .collect();
    let reaches = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(node) = stack.pop() {
            for next in graph.get(&node).into_iter().flat_map(|to| to.keys()) {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|node| (*node, reaches(node))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for node in &nodes {
        if done.contains(*node) || !reach[node].contains(*node) {
            continue;
        }
        let set: BTreeSet<&String> = nodes
            .iter()
            .copied()
            .filter(|other| reach[node].contains(*other) && reach[other].contains(*node))
            .collect();
        // A walk from the node back to itself, inside the set (breadth first: the shortest).
        let mut previous: BTreeMap<&String, &String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([*node]);
        'search: while let Some(at) = queue.pop_front() {
            for next in graph.get(at).into_iter().flat_map(|to| to.keys()) {
                if !set.contains(next) {
                    continue;
                }
                if next == *node {
                    previous.insert(node, at);
                    break 'search;
                }
                if !previous.contains_key(next) {
                    previous.insert(next, at);
                    queue.push_back(next);
                }
            }
        }
        let mut walk = vec![(*node).clone()];
        let mut at = previous[node];
        while at != *node {
            walk.push(at.clone());
            at = previous[at];
        }
        walk.push((*node).clone());
        walk.reverse();
        out.push(walk);
        done.extend(set.into_iter().cloned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::check;

    /// A crate's sources from `(path, text)` pairs, in a folder of its own.
    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temporary folder");
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("a file in a folder"))
                .expect("the folder");
            std::fs::write(path, text).expect("the file");
        }
        dir
    }

    const LAYERS: &[&[&str]] = &[&["low"], &["high"]];

    fn with(low: &str, high: &str) -> Result<usize, String> {
        let dir = tree(&[
            ("lib.rs", "pub mod low; pub mod high; pub use high::Top;"),
            ("low.rs", low),
            ("high.rs", high),
        ]);
        check(dir.path(), LAYERS)
    }

    #[test]
    fn a_use_from_below_is_seen_however_it_is_spelled() {
        assert_eq!(with("", "use crate::low::X;"), Ok(1));
        for spelling in [
            "use crate::high::Y;",
            "use crate::{high, other};",
            "use crate::{high::{self, Y}};",
            "use crate::high as h;",
            "use crate::high::*;",
            "fn f() { crate::high::g(); }",
            "fn f(_: crate::high::Y) {}",
            "fn f() { let _ = serde_json::json!({\"a\": crate::high::g()}); }",
            "mod tests { use super::super::high::Y; }",
            "use super::high::Y;",
            "use crate::Top;",
        ] {
            let found = with(spelling, "");
            assert!(
                found
                    .as_ref()
                    .is_err_and(|e| e.contains("low.rs uses high")),
                "{spelling}: {found:?}"
            );
        }
    }

    #[test]
    fn a_crate_named_outside_its_modules_is_found_however_it_is_spelled() {
        for (spelling, found) in [
            ("use libp2p::Multiaddr;", true),
            ("use libp2p::{self, PeerId};", true),
            ("fn f(_: libp2p::PeerId) {}", true),
            ("fn f(_: ::libp2p::PeerId) {}", true),
            (
                "fn f() { let _ = format!(\"{}\", libp2p::PeerId::random()); }",
                true,
            ),
            ("use crate::low::libp2p;", false),
            ("fn f(libp2p: u8) -> u8 { libp2p }", false),
        ] {
            let dir = tree(&[("lib.rs", ""), ("low.rs", ""), ("high.rs", spelling)]);
            let named = super::naming(dir.path(), "libp2p").expect("readable");
            assert_eq!(
                named.iter().any(|(_, m)| m == "high"),
                found,
                "{spelling}: {named:?}"
            );
        }
    }

    #[test]
    fn modules_in_no_layer_and_layers_of_no_module_are_named() {
        let dir = tree(&[("lib.rs", ""), ("low.rs", ""), ("other.rs", "")]);
        let found = check(dir.path(), LAYERS).expect_err("two breaches");
        assert!(found.contains("module other is in no layer"), "{found}");
        assert!(found.contains("layer names high"), "{found}");
    }

    #[test]
    fn a_circle_among_submodules_is_named_and_a_parent_and_its_children_are_not_one() {
        let net = |sync: &str, worker: &str| {
            let dir = tree(&[
                ("lib.rs", ""),
                ("low.rs", ""),
                (
                    "high/mod.rs",
                    "mod sync; mod worker; use self::sync::S; pub use worker::W;",
                ),
                ("high/sync.rs", sync),
                ("high/worker.rs", worker),
                ("high/deep/mod.rs", "use super::super::low::L;"),
            ]);
            check(dir.path(), LAYERS)
        };
        assert_eq!(net("use super::worker::W;", "use super::Shared;"), Ok(2));
        let found = net("use super::worker::W;", "use crate::high::sync::S;")
            .expect_err("sync and worker use each other");
        assert!(
            found.contains("a circle among the modules of high: sync → worker → sync"),
            "{found}"
        );
        // Through a name the parent re-exports from a child.
        let found = net("use super::W;", "fn f() { super::sync::g() }").expect_err("a circle");
        assert!(found.contains("sync → worker → sync"), "{found}");
        // Uses outside any module's tree are ignored; a broken file is an error, not a pass.
        assert_eq!(net("use std::sync::Arc; use serde::Serialize;", ""), Ok(1));
        assert!(net("fn (", "").is_err());
    }
}
