//! `eddsa-rdfc-2022` canonicalization: JSON-LD expansion with only the bundled contexts, the
//! JSON-LD 1.1 *Deserialize JSON-LD to RDF* algorithm, then RDF Dataset Canonicalization
//! (RDFC-1.0) to N-Quads
//! ([vc-di-eddsa §3.2.3](https://www.w3.org/TR/vc-di-eddsa/#transformation-eddsa-rdfc-2022)).
//!
//! Expansion is ssi's (`Expandable::expand_with`, strict: undefined terms are errors), with a
//! loader that knows exactly the contexts of `vouch-schemas` and refuses every other URL.
//!
//! The RDF comes from json-ld's own toRdf (`RdfQuads`), **not** from ssi's `canonical_form_of`:
//! that path (json-ld-core 0.21's `LinkedData` visitors, `deserialization/object/list.rs`)
//! writes an `@list` as fresh blank nodes with no `rdf:first` for literal items and no `rdf:nil`,
//! so a credential's `delegation.ancestors` was signed as its length only, and no other
//! JSON-LD stack verified our rdfc credentials. The differential test against pyld holds this.
//!
//! Canonicalization is `rdf-canon`'s RDFC-1.0, which passes the W3C RDFC-1.0 test suite and
//! bounds the work of the Hash N-Degree Quads algorithm (§4.4 recommends it): a graph of
//! interchangeable blank nodes (a "poison graph", such as a complete graph of 8 nodes) is
//! refused with an error instead of taking factorial time. Before any of it, the input is held
//! to what a JSON-LD document signed by Vouch can be ([`check_input`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use serde_json::{Map, Value};
use ssi::json_ld::expansion::{Action, Options, Policy};
use ssi::json_ld::rdf_types::{self, Id, LiteralType, Term, generator};
use ssi::json_ld::syntax::TryFromJson;
use ssi::json_ld::{
    BlankIdBuf, CompactJsonLd, ContextLoader, Expand, Expandable, ExpandedDocument, IriBuf,
    Process, RdfQuads,
};
use ssi::rdf::LdEnvironment;

use super::ProofError;
use crate::lock::{MutexExt as _, RwLockExt as _};

/// Contexts an operator added to the bundled ones, for this process (a node's
/// `[verification.contexts]`): read from local files at start, never fetched.
static ADDED: RwLock<Vec<(String, String)>> = RwLock::new(Vec::new());
/// The loader of the contexts known here, built again when one is added.
static LOADER: RwLock<Option<Arc<ContextLoader>>> = RwLock::new(None);

/// The largest context document added.
pub const MAX_CONTEXT_BYTES: usize = 1024 * 1024;

/// The loader of the contexts known here: the bundled ones and those added.
pub fn loader() -> Arc<ContextLoader> {
    if let Some(loader) = LOADER.read_locked().as_ref() {
        return loader.clone();
    }
    let added = ADDED.read_locked();
    let contexts: HashMap<String, String> = vouch_schemas::CONTEXTS
        .iter()
        .map(|(url, document)| ((*url).to_owned(), (*document).to_owned()))
        .chain(added.iter().cloned())
        .collect();
    let loader = Arc::new(
        ContextLoader::empty()
            .with_context_map_from(contexts)
            .expect("the contexts are valid JSON under valid IRIs (bundled: a unit test; added: add_context)"),
    );
    *LOADER.write_locked() = Some(loader.clone());
    loader
}

/// The document of a context known here, bundled or added.
pub fn known_context(url: &str) -> Option<std::borrow::Cow<'static, str>> {
    if let Some(document) = vouch_schemas::context(url) {
        return Some(std::borrow::Cow::Borrowed(document));
    }
    ADDED
        .read_locked()
        .iter()
        .find(|(known, _)| known == url)
        .map(|(_, document)| std::borrow::Cow::Owned(document.clone()))
}

/// Adds a context to those known here, for this process: `document` is what `url` names. It is
/// trusted as the bundled ones are — an operator vets it, for it may define any term — and held
/// to their form: a JSON object with `@context`, at most [`MAX_CONTEXT_BYTES`], no `%` anywhere
/// (no IRI it makes can then fail to percent-decode), an absolute URL that no bundled context
/// has. Adding a URL again replaces its document.
pub fn add_context(url: &str, document: &str) -> Result<(), String> {
    if vouch_schemas::context(url).is_some() {
        return Err(format!(
            "{url:.256} is bundled: its document is not replaced"
        ));
    }
    if !crate::iri::is_url(url) || url.contains('%') {
        return Err(format!("{url:.256} is not an absolute URL without %"));
    }
    if document.len() > MAX_CONTEXT_BYTES {
        return Err(format!("{url:.256}: larger than {MAX_CONTEXT_BYTES} bytes"));
    }
    if document.contains('%') {
        return Err(format!("{url:.256}: a context with a % is not taken"));
    }
    let parsed: Value =
        serde_json::from_str(document).map_err(|e| format!("{url:.256}: not JSON: {e}"))?;
    if !parsed.get("@context").is_some_and(Value::is_object) {
        return Err(format!(
            "{url:.256}: not a JSON-LD context (no @context object)"
        ));
    }
    ContextLoader::empty()
        .with_context_map_from(HashMap::from([(url.to_owned(), document.to_owned())]))
        .map_err(|e| format!("{url:.256}: {e}"))?;
    let mut added = ADDED.write_locked();
    added.retain(|(known, _)| known != url);
    added.push((url.to_owned(), document.to_owned()));
    *LOADER.write_locked() = None;
    Ok(())
}

/// The most calls of the Hash N-Degree Quads algorithm one canonicalization may make. A
/// credential Vouch makes needs none (its blank nodes are told apart by their first-degree
/// hashes); a complete graph of 5 blank nodes needs about 500, of 7 more than 4,000.
pub const MAX_HNDQ_CALLS: usize = 1_000;
/// The most quads a document may become.
pub const MAX_QUADS: usize = 8_192;
/// The most blank nodes a document may have.
pub const MAX_BLANK_NODES: usize = 1_024;
/// The deepest nesting of JSON read.
const MAX_NESTING: usize = 64;

/// Holds a document to what JSON-LD signed by Vouch can be, before it is processed:
///
/// - every `@context`, wherever it is (a presentation embeds credentials, each with its own), is
///   the URL of a bundled context or a list of them: a document defines no term, prefix,
///   `@vocab` or `@base` of its own, so every IRI JSON-LD makes is a bundled context's IRI (none
///   contains `%`, checked by a test) joined to one string of the document;
/// - every string, keys included, percent-decodes to UTF-8 on its own. With the rule above, so
///   does every IRI made: the IRI library under json-ld (`pct-str` 2) panics on one that does not
///   (`{"@vocab": "urn:x:%"}` with a term `b2` made `urn:x:%b2`);
/// - no `null`: JSON-LD drops it, so a signed document would have several spellings;
/// - nesting at most [`MAX_NESTING`] deep.
fn check_input(object: &Map<String, Value>) -> Result<(), ProofError> {
    /// Why a `@context` value is refused, naming the context.
    fn unknown(context: &Value) -> Option<String> {
        let one = |item: &Value| match item {
            Value::String(url) if known_context(url).is_some() => None,
            Value::String(url) => Some(format!(
                "@context: {:.256} is not a context known here (bundled, or added by the operator: contexts are never fetched while verifying)",
                url
            )),
            Value::Object(definition) => inline_context(definition).err(),
            other => Some(format!(
                "@context: {:.64} is neither a URL nor a context",
                other.to_string()
            )),
        };
        match context {
            // A context given inline extends a bundled one: it never comes first.
            Value::Array(items) if items.first().is_some_and(Value::is_object) => Some(
                "@context: a context object given inline follows a bundled context, never comes first"
                    .to_owned(),
            ),
            Value::Array(items) => items.iter().find_map(one),
            Value::Object(_) => Some(
                "@context: a context object given inline follows a bundled context, never stands alone"
                    .to_owned(),
            ),
            item => one(item),
        }
    }
    /// Where a value sits: in a document — the one canonicalized, or a credential a
    /// presentation carries — whose `@context` may extend a bundled one inline; in a claim,
    /// where only bundled contexts are named; or in a context taken, whose definitions were held
    /// to their rules, where strings only are checked.
    #[derive(Clone, Copy, PartialEq)]
    enum Place {
        Document,
        Claim,
        Context,
    }
    /// The rules every value keeps: bounded nesting, no null, strings and keys that
    /// percent-decode to UTF-8; and, outside contexts, the rules of `@context`.
    fn walk(value: &Value, depth: usize, place: Place) -> Result<(), String> {
        if depth > MAX_NESTING {
            return Err("nested too deeply".into());
        }
        match value {
            Value::Null => {
                Err("null is not allowed: it would give a signed document two forms".into())
            }
            Value::String(s) if !decodes(s) => {
                Err("a string percent-decodes to bytes that are not UTF-8".into())
            }
            Value::Array(items) => items.iter().try_for_each(|v| walk(v, depth + 1, place)),
            Value::Object(map) => walk_members(map, depth, place),
            _ => Ok(()),
        }
    }
    fn walk_members(map: &Map<String, Value>, depth: usize, place: Place) -> Result<(), String> {
        map.iter().try_for_each(|(key, value)| {
            if !decodes(key) {
                return Err("a key percent-decodes to bytes that are not UTF-8".into());
            }
            if place == Place::Context {
                return walk(value, depth + 1, place);
            }
            if key == "@context" {
                let inline = match value {
                    Value::Array(items) => items.iter().any(Value::is_object),
                    other => other.is_object(),
                };
                if inline && place != Place::Document {
                    return Err(
                        "@context: a context given inline is taken at the top of a document only"
                            .into(),
                    );
                }
                if let Some(why) = unknown(value) {
                    return Err(why);
                }
                return walk(value, depth + 1, Place::Context);
            }
            // A credential a presentation carries is a document of its own.
            let inner = if place == Place::Document && key == "verifiableCredential" && depth == 0 {
                Place::Document
            } else {
                Place::Claim
            };
            walk(value, depth + 1, inner)
        })
    }
    walk_members(object, 0, Place::Document).map_err(ProofError::Canonicalization)
}

/// The vocabularies whose terms verifiers read from a document's JSON (its issuer, its window,
/// its status, its proof, its type, Vouch's agent): an inline context maps no term into them, so
/// that no signed document can be re-spelled — `"until"` for `validUntil` — into one whose JSON
/// reading misses what was signed.
const READ_VOCABULARIES: [&str; 5] = [
    "https://www.w3.org/2018/credentials#",
    "https://w3id.org/security#",
    "https://www.w3.org/ns/credentials/status#",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "https://w3id.org/vouch#",
];

/// The most terms one inline context defines.
const MAX_INLINE_TERMS: usize = 64;

/// Holds a context given inline to what defines new terms only: each term (no keyword, no compact
/// or absolute IRI as a term) maps to an absolute IRI, or to `{"@id", "@type"?, "@protected"?}`;
/// besides, `@version` 1.1, `@protected`, and `@vocab` (an IRI; no `null`, as nowhere). No term
/// is an alias of a keyword (`"kind": "@type"`, `@nest`, `@graph`: other spellings of the
/// document's structure), no IRI lies in a vocabulary verifiers read
/// ([`READ_VOCABULARIES`]), and none holds a `%` (the rule `check_input` keeps for the bundled
/// contexts). Redefining a protected term of a bundled context is JSON-LD's error, at expansion.
fn inline_context(definition: &Map<String, Value>) -> Result<(), String> {
    // A context document given inline (`{"@context": {…}}`, as a remote one would be) is read
    // as the definition it wraps.
    if let (1, Some(Value::Object(wrapped))) = (definition.len(), definition.get("@context")) {
        return inline_context(wrapped);
    }
    fn iri(term: &str, iri: &str) -> Result<(), String> {
        if iri.starts_with('@') {
            return Err(format!(
                "@context: {term:.64} is an alias of the keyword {iri:.32}: not taken inline"
            ));
        }
        if !crate::iri::is_url(iri) || iri.contains('%') {
            return Err(format!(
                "@context: {term:.64} maps to {iri:.128}, which is not an absolute IRI without %"
            ));
        }
        if let Some(vocabulary) = READ_VOCABULARIES.iter().find(|v| iri.starts_with(*v)) {
            return Err(format!(
                "@context: {term:.64} maps into {vocabulary}, whose terms verifiers read: an inline context defines new terms only"
            ));
        }
        Ok(())
    }
    if definition.len() > MAX_INLINE_TERMS {
        return Err(format!(
            "@context: an inline context defines at most {MAX_INLINE_TERMS} terms"
        ));
    }
    for (term, value) in definition {
        match (term.as_str(), value) {
            ("@version", Value::Number(n)) if n.as_f64() == Some(1.1) => {}
            ("@protected", Value::Bool(_)) => {}
            ("@vocab", Value::String(vocabulary)) => iri(term, vocabulary)?,
            (keyword, _) if keyword.starts_with('@') => {
                return Err(format!(
                    "@context: {keyword:.32} is not taken in an inline context"
                ));
            }
            (term, _) if term.is_empty() || term.contains(':') || term.contains('%') => {
                return Err(format!(
                    "@context: {term:.64} is not a term (a compact or absolute IRI, or empty)"
                ));
            }
            (term, Value::String(target)) => iri(term, target)?,
            (term, Value::Object(expanded)) => {
                let target = expanded.get("@id").and_then(Value::as_str).ok_or_else(|| {
                    format!("@context: the definition of {term:.64} needs an @id")
                })?;
                iri(term, target)?;
                for (key, value) in expanded {
                    match (key.as_str(), value) {
                        ("@id", _) | ("@protected", Value::Bool(_)) => {}
                        ("@type", Value::String(kind))
                            if ["@id", "@vocab", "@json"].contains(&kind.as_str()) => {}
                        ("@type", Value::String(datatype)) => iri(term, datatype)?,
                        _ => {
                            return Err(format!(
                                "@context: the definition of {term:.64} has @id, @type and @protected only"
                            ));
                        }
                    }
                }
            }
            (term, _) => {
                return Err(format!("@context: {term:.64} must map to an IRI"));
            }
        }
    }
    Ok(())
}

/// Whether a string percent-decodes to valid UTF-8.
fn decodes(s: &str) -> bool {
    !s.contains('%')
        || percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .is_ok()
}

/// Blank nodes renamed `b0`, `b1`, … in order of appearance: always valid labels for the
/// canonicalizer, whose output does not depend on them.
#[derive(Default)]
struct Blanks(HashMap<String, oxrdf::BlankNode>);

impl Blanks {
    fn get(&mut self, label: &str) -> Result<oxrdf::BlankNode, ProofError> {
        let next = self.0.len();
        if next >= MAX_BLANK_NODES && !self.0.contains_key(label) {
            return Err(ProofError::Canonicalization(format!(
                "more than {MAX_BLANK_NODES} blank nodes"
            )));
        }
        Ok(self
            .0
            .entry(label.to_owned())
            .or_insert_with(|| oxrdf::BlankNode::new_unchecked(format!("b{next}")))
            .clone())
    }

    fn node(&mut self, id: &Id) -> Result<oxrdf::Subject, ProofError> {
        Ok(match id {
            Id::Iri(iri) => oxrdf::NamedNode::new_unchecked(iri.as_str()).into(),
            Id::Blank(blank) => self.get(blank.as_str())?.into(),
        })
    }
}

/// The datatype of `@json` literals.
const RDF_JSON: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON";

/// The lexical form of an `@json` literal: its JCS form (JSON-LD 1.1 §8.6). json-ld-core 0.21
/// puts literals in canonical form everywhere but inside named graphs (the credentials a
/// presentation embeds), where it keeps the members in document order; so every JSON literal
/// is put in JCS form here, once more where it already was.
fn canonical_json(lexical: &str) -> Result<String, ProofError> {
    let value: Value = serde_json::from_str(lexical)
        .map_err(|e| ProofError::Canonicalization(format!("an @json literal: {e}")))?;
    serde_jcs::to_string(&value)
        .map_err(|e| ProofError::Canonicalization(format!("an @json literal: {e}")))
}

/// An active context: the result of JSON-LD context processing.
type ActiveContext = ssi::json_ld::Context<IriBuf, BlankIdBuf>;

/// The most lists of bundled contexts whose processing is kept. Vouch's documents use two or
/// three; a document naming another list past the bound is expanded the general way.
const MAX_PROCESSED_CONTEXTS: usize = 32;

fn failed(e: &dyn std::fmt::Display) -> ProofError {
    ProofError::Canonicalization(e.to_string())
}

/// The active context a top-level `@context` (bundled URLs only, [`check_input`]) processes to
/// from the empty one, processed once per distinct value and kept. `None` when the bound of
/// kept contexts is reached.
fn processed_context(context: &Value) -> Result<Option<Arc<ActiveContext>>, ProofError> {
    static PROCESSED: OnceLock<Mutex<HashMap<String, Arc<ActiveContext>>>> = OnceLock::new();
    let key = context.to_string();
    let processed = PROCESSED.get_or_init(Default::default);
    if let Some(active) = processed.locked().get(&key) {
        return Ok(Some(active.clone()));
    }
    let local = ssi::json_ld::syntax::context::Context::try_from_json(json_ld_value(context))
        .map_err(|e| failed(&e))?;
    let active: ActiveContext = pollster::block_on(local.process(&mut (), &*loader(), None))
        .map_err(|e| failed(&e))?
        .into_processed();
    let mut kept = processed.locked();
    if kept.len() >= MAX_PROCESSED_CONTEXTS {
        return Ok(None);
    }
    Ok(Some(kept.entry(key).or_insert(Arc::new(active)).clone()))
}

/// A `serde_json` value as json-ld's, read in place.
fn json_ld_value(value: &Value) -> json_syntax::Value {
    match value {
        Value::Null => json_syntax::Value::Null,
        Value::Bool(b) => json_syntax::Value::Boolean(*b),
        Value::Number(n) => json_syntax::Value::Number(n.clone().into()),
        Value::String(s) => json_syntax::Value::String(s.as_str().into()),
        Value::Array(items) => json_syntax::Value::Array(items.iter().map(json_ld_value).collect()),
        Value::Object(map) => json_ld_object(map, |_| true),
    }
}

fn json_ld_object(map: &Map<String, Value>, keep: impl Fn(&str) -> bool) -> json_syntax::Value {
    json_syntax::Value::Object(
        map.iter()
            .filter(|(key, _)| keep(key))
            .map(|(key, value)| {
                json_syntax::object::Entry::new(key.as_str().into(), json_ld_value(value))
            })
            .collect(),
    )
}

/// The expansion policy: strict, so a term no context defines is an error rather than dropped
/// from what is signed (ssi's, too).
fn options() -> Options {
    Options {
        policy: Policy {
            invalid: Action::Reject,
            allow_undefined: false,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// JSON-LD expansion of a checked document. A top-level `@context` is not processed again: the
/// document is expanded without it, from the active context it processes to, kept from the
/// first time ([`processed_context`]). The JSON-LD expansion algorithm (§5.1.2 step 9) starts
/// by making that very active context and goes on from it, so the expansion is the same; a
/// property test holds the canonical bytes equal to [`canonical_nquads_general`]'s.
fn expand(object: &Map<String, Value>) -> Result<ExpandedDocument, ProofError> {
    // The loader answers from memory, so the futures are ready at their first poll; blocking on
    // them here keeps vouch-core free of any async runtime.
    // A top-level value, list or set object goes the general way: json-ld refuses one with a
    // `@context` ("Invalid value object"), and the fast path, which leaves `@context` out, must
    // not accept what the general path refuses.
    let shaped = ["@value", "@list", "@set"]
        .iter()
        .any(|keyword| object.contains_key(*keyword));
    if !shaped
        && let Some(context) = object.get("@context")
        && let Some(active) = processed_context(context)?
    {
        let document = json_ld_object(object, |key| key != "@context");
        return pollster::block_on(document.expand_full(
            &mut (),
            ActiveContext::clone(&active),
            None,
            &*loader(),
            options(),
            (),
        ))
        .map_err(|e| failed(&e));
    }
    expand_general(object)
}

/// JSON-LD expansion as ssi does it: every context processed anew.
fn expand_general(object: &Map<String, Value>) -> Result<ExpandedDocument, ProofError> {
    let document = CompactJsonLd(json_ld_object(object, |_| true));
    let mut ld = LdEnvironment::default();
    pollster::block_on(document.expand_with(&mut ld, &*loader())).map_err(|e| failed(&e))
}

/// The canonical N-Quads of a JSON-LD object, one string per line.
pub fn canonical_nquads(object: &Map<String, Value>) -> Result<Vec<String>, ProofError> {
    check_input(object)?;
    match unwrapped(object) {
        Some(object) => to_canonical(expand(&object)?),
        None => to_canonical(expand(object)?),
    }
}

/// The document with each context document given inline (`{"@context": {…}}` in its top-level
/// `@context`) replaced by the definition it wraps, as JSON-LD processors read a context
/// document; `None` when it has none (the document is used as it is).
fn unwrapped(object: &Map<String, Value>) -> Option<Map<String, Value>> {
    let wrapped = |item: &Value| {
        item.as_object()
            .filter(|map| map.len() == 1)
            .and_then(|map| map.get("@context"))
            .filter(|inner| inner.is_object())
            .cloned()
    };
    let Some(Value::Array(contexts)) = object.get("@context") else {
        return None;
    };
    if !contexts.iter().any(|item| wrapped(item).is_some()) {
        return None;
    }
    let mut copy = object.clone();
    copy["@context"] = Value::Array(
        contexts
            .iter()
            .map(|item| wrapped(item).unwrap_or_else(|| item.clone()))
            .collect(),
    );
    Some(copy)
}

/// [`canonical_nquads`] with every context processed anew on every expansion, as ssi does: the
/// reference the fast path is held to.
pub fn canonical_nquads_general(object: &Map<String, Value>) -> Result<Vec<String>, ProofError> {
    check_input(object)?;
    match unwrapped(object) {
        Some(object) => to_canonical(expand_general(&object)?),
        None => to_canonical(expand_general(object)?),
    }
}

/// toRdf and RDFC-1.0 of an expanded document.
fn to_canonical(mut expanded: ExpandedDocument) -> Result<Vec<String>, ProofError> {
    // JSON-LD 1.1 toRdf: every node gets an identifier, literals take their canonical form
    // (`@json` as JCS, numbers as xsd:integer / xsd:double), lists become rdf:first / rdf:rest
    // chains ending in rdf:nil. No rdfDirection and no generalized RDF, as in pyld and jsonld.js.
    let mut generator = generator::Blank::new();
    expanded.relabel_and_canonicalize(&mut generator);
    let mut blanks = Blanks::default();
    let mut quads = Vec::new();
    for rdf_types::Quad(subject, predicate, object, graph) in
        expanded.rdf_quads(&mut generator, None).cloned()
    {
        if quads.len() >= MAX_QUADS {
            return Err(ProofError::Canonicalization(format!(
                "more than {MAX_QUADS} quads"
            )));
        }
        let Id::Iri(predicate) = predicate else {
            continue;
        };
        let object: oxrdf::Term = match object {
            Term::Id(id) => blanks.node(&id)?.into(),
            Term::Literal(literal) => match literal.type_ {
                LiteralType::Any(datatype) => oxrdf::Literal::new_typed_literal(
                    if datatype.as_str() == RDF_JSON {
                        canonical_json(&literal.value)?
                    } else {
                        literal.value
                    },
                    oxrdf::NamedNode::new_unchecked(datatype.as_str()),
                ),
                // Unchecked keeps the tag as written; the checked constructor lowercases it.
                LiteralType::LangString(tag) => {
                    oxrdf::Literal::new_language_tagged_literal_unchecked(
                        literal.value,
                        tag.as_str(),
                    )
                }
            }
            .into(),
        };
        let graph = match graph {
            None => oxrdf::GraphName::DefaultGraph,
            Some(id) => match blanks.node(&id)? {
                oxrdf::Subject::NamedNode(n) => n.into(),
                oxrdf::Subject::BlankNode(b) => b.into(),
            },
        };
        quads.push(oxrdf::Quad::new(
            blanks.node(&subject)?,
            oxrdf::NamedNode::new_unchecked(predicate.as_str()),
            object,
            graph,
        ));
    }
    let options = rdf_canon::CanonicalizationOptions {
        hndq_call_limit: Some(MAX_HNDQ_CALLS),
    };
    let canonical = rdf_canon::canonicalize_quads_with::<sha2::Sha256>(&quads, &options)
        .map_err(|e| match e {
            rdf_canon::CanonicalizationError::HndqCallLimitExceeded(limit) => {
                ProofError::Canonicalization(format!(
                    "refused: canonicalizing needs more than {limit} Hash N-Degree Quads calls (RDFC-1.0 §4.4)"
                ))
            }
            other => failed(&other),
        })?;
    Ok(canonical.split_inclusive('\n').map(str::to_owned).collect())
}

/// The canonical forms of a document and of its proof configuration (which carries the
/// document's `@context`), each as the bytes of its N-Quads.
pub fn canonicalize_pair(
    document: &Map<String, Value>,
    config: &Map<String, Value>,
) -> Result<(Vec<u8>, Vec<u8>), ProofError> {
    Ok((
        canonical_nquads(config)?.concat().into_bytes(),
        canonical_nquads(document)?.concat().into_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_contexts_are_never_fetched() {
        let document = serde_json::json!({
            "@context": ["https://www.w3.org/ns/credentials/v2", "https://example.com/not-bundled"],
            "type": ["VerifiableCredential"]
        });
        let error = canonical_nquads(document.as_object().unwrap()).unwrap_err();
        assert!(matches!(error, ProofError::Canonicalization(_)), "{error}");
        // The refusal names the context, and says why.
        let said = error.to_string();
        assert!(said.contains("https://example.com/not-bundled"), "{said}");
        assert!(said.contains("never fetched"), "{said}");
        assert!(!said.contains("by URL only"), "{said}");
        // The contexts of VC 1.1 and Data Integrity 1.0 are bundled: a VC 1.1 credential
        // canonicalizes.
        let v1 = serde_json::json!({
            "@context": ["https://www.w3.org/2018/credentials/v1", "https://w3id.org/security/data-integrity/v1"],
            "type": ["VerifiableCredential"],
            "issuer": "did:example:issuer",
            "issuanceDate": "2024-01-01T00:00:00Z",
            "credentialSubject": {"id": "did:example:subject"}
        });
        assert!(canonical_nquads(v1.as_object().unwrap()).is_ok());
    }

    #[test]
    fn percent_encoded_non_utf8_is_refused_not_a_panic() {
        // Found by the credential_json fuzz target: `%b2` alone is not UTF-8.
        let document = serde_json::json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": "urn:uuid:2bec6d58-a2bd-45bc-9%b2d-67759f7b70df",
            "type": ["VerifiableCredential"]
        });
        let error = canonical_nquads(document.as_object().unwrap()).unwrap_err();
        assert!(matches!(error, ProofError::Canonicalization(_)), "{error}");
        let fine = serde_json::json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": "urn:x:caf%C3%A9",
            "type": ["VerifiableCredential"]
        });
        assert!(canonical_nquads(fine.as_object().unwrap()).is_ok());
    }

    #[test]
    fn bundled_contexts_make_no_iri_with_a_percent() {
        // The rule `check_input` rests on: every IRI json-ld makes joins a bundled context's IRI
        // to one string of the document, and no bundled context holds a `%`.
        fn strings(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::String(s) => out.push(s.clone()),
                Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
                Value::Object(map) => map.iter().for_each(|(k, v)| {
                    out.push(k.clone());
                    strings(v, out);
                }),
                _ => {}
            }
        }
        for (url, document) in vouch_schemas::CONTEXTS {
            let mut found = Vec::new();
            strings(&serde_json::from_str(document).unwrap(), &mut found);
            assert!(found.len() >= 3, "{url}");
            assert!(found.iter().all(|s| !s.contains('%')), "{url}");
        }
    }

    #[test]
    fn inline_nested_and_unknown_contexts_and_nulls_are_refused() {
        let refused = [
            json!({"@context": ["https://www.w3.org/ns/credentials/v2", {"@vocab": "urn:x:%"}], "b2": "x"}),
            json!({"@context": "https://www.w3.org/ns/credentials/v2", "x": {"@context": {"@vocab": "urn:x:"}}}),
            json!({"@context": {"@vocab": "urn:x:"}, "b2": "x"}),
            json!({"@context": "https://www.w3.org/ns/credentials/v2", "type": null}),
        ];
        for document in refused {
            let error = canonical_nquads(document.as_object().unwrap()).unwrap_err();
            assert!(matches!(error, ProofError::Canonicalization(_)), "{error}");
        }
    }

    #[test]
    fn inline_contexts_define_new_terms_only() {
        let v2 = "https://www.w3.org/ns/credentials/v2";
        let credential = |context: Value, extra: Value| {
            let mut document = json!({
                "@context": [v2, context],
                "type": ["VerifiableCredential", "ExampleTestCredential"],
                "issuer": "did:example:issuer",
                "credentialSubject": {"id": "did:example:subject"}
            });
            for (name, value) in extra.as_object().unwrap() {
                document[name] = value.clone();
            }
            canonical_nquads(document.as_object().unwrap())
        };
        // New terms and types, as the VC 2.0 suite's fixtures define them: taken.
        for context in [
            json!({"ExampleTestCredential": "https://example.org/#ExampleTestCredential"}),
            json!({"@protected": true, "ExampleTestCredential": {"@id": "https://example.org/#Ex", "@type": "@id"}}),
            json!({"@version": 1.1, "@vocab": "https://example.org/vocab#"}),
            json!({"@context": {"ExampleTestCredential": "https://example.org/#E"}}),
        ] {
            let canonical = credential(context.clone(), json!({}));
            assert!(canonical.is_ok(), "{context}: {canonical:?}");
        }
        // Refused: an alias of a term verifiers read (the re-spelling of a signed validUntil),
        // of a keyword (another spelling of the structure), a relative or %-bearing IRI, a
        // compact IRI as a term, and a protected term of VC 2.0 redefined (JSON-LD's error).
        for (context, extra) in [
            (
                json!({"ExampleTestCredential": "https://example.org/#E", "until": "https://www.w3.org/2018/credentials#validUntil"}),
                json!({"until": "2020-01-01T00:00:00Z"}),
            ),
            (
                json!({"ExampleTestCredential": "https://example.org/#E", "kind": "@type"}),
                json!({}),
            ),
            (
                json!({"ExampleTestCredential": "https://example.org/#E", "wrap": "@nest"}),
                json!({}),
            ),
            (
                json!({"ExampleTestCredential": {"@id": "https://example.org/#E", "@container": "@graph"}}),
                json!({}),
            ),
            (json!({"ExampleTestCredential": "#relative"}), json!({})),
            (
                json!({"ExampleTestCredential": "https ://not-a-url#E"}),
                json!({}),
            ),
            (json!({"ExampleTestCredential": "urn:x:%b2"}), json!({})),
            (
                json!({"ex:ExampleTestCredential": "https://example.org/#E"}),
                json!({}),
            ),
            (json!({"@vocab": "https://w3id.org/security#"}), json!({})),
            (
                json!({"ExampleTestCredential": "https://example.org/#E", "VerifiableCredential": "https://example.org/#Bad"}),
                json!({}),
            ),
            (json!({"@vocab": null}), json!({})),
            (
                json!({"@context": {"ExampleTestCredential": "https://example.org/#E", "kind": "@type"}}),
                json!({}),
            ),
            (
                json!({"@context": {"@context": {"ExampleTestCredential": "https://example.org/#E"}}}),
                json!({}),
            ),
        ] {
            assert!(credential(context.clone(), extra).is_err(), "{context}");
        }
        // Never first, never alone, never scoped inside a claim.
        for document in [
            json!({"@context": [{"ExampleTestCredential": "https://example.org/#E"}, v2], "type": "VerifiableCredential"}),
            json!({"@context": {"ExampleTestCredential": "https://example.org/#E"}, "type": "VerifiableCredential"}),
            json!({"@context": [v2], "credentialSubject": {"@context": [v2, {"x": "https://example.org/#x"}], "x": "y"}}),
        ] {
            assert!(
                canonical_nquads(document.as_object().unwrap()).is_err(),
                "{document}"
            );
        }
    }

    #[test]
    fn lists_become_rdf_lists() {
        // JSON-LD 1.1 Deserialize JSON-LD to RDF: an empty list is rdf:nil; a list of literals
        // is a chain of rdf:first / rdf:rest ending in rdf:nil.
        let document = |ancestors: Value| {
            json!({
                "@context": [vouch_schemas::CREDENTIALS_V2, vouch_schemas::VOUCH_CONTEXT_V1],
                "type": ["VerifiableCredential"],
                "issuer": "did:example:issuer",
                "credentialSubject": {"id": "did:example:agent",
                    "delegation": {"ancestors": ancestors, "depth": 0, "maxDepth": 5}}
            })
        };
        const NIL: &str = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#nil>";
        let empty = canonical_nquads(document(json!([])).as_object().unwrap()).unwrap();
        assert!(
            empty
                .iter()
                .any(|q| q.contains("<https://w3id.org/vouch#ancestors> ") && q.contains(NIL)),
            "{empty:?}"
        );
        let two =
            canonical_nquads(document(json!(["urn:x:1", "urn:x:2"])).as_object().unwrap()).unwrap();
        let first = |item: &str| {
            two.iter().any(|q| {
                q.contains("<http://www.w3.org/1999/02/22-rdf-syntax-ns#first> ")
                    && q.contains(&format!("\"{item}\""))
            })
        };
        assert!(first("urn:x:1") && first("urn:x:2"), "{two:?}");
        assert!(
            two.iter().any(|q| q.contains("#rest> ") && q.contains(NIL)),
            "{two:?}"
        );
    }

    #[test]
    fn undefined_terms_are_refused() {
        // The examples context has an @vocab; without it, an undefined term must fail rather than
        // be dropped silently from what is signed.
        let document = serde_json::json!({
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": "did:example:1",
            "notDefinedAnywhere": "x"
        });
        assert!(canonical_nquads(document.as_object().unwrap()).is_err());
    }
}
