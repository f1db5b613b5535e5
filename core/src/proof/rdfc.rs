//! `eddsa-rdfc-2022` canonicalization through ssi: JSON-LD expansion with only the bundled
//! contexts, then RDF Dataset Canonicalization (RDFC-1.0, formerly URDNA2015) to N-Quads
//! ([vc-di-eddsa §3.2.3](https://www.w3.org/TR/vc-di-eddsa/#transformation-eddsa-rdfc-2022)).
//!
//! This is the same pipeline as ssi's `EdDsaRdfc2022` suite (`CanonicalizeClaimsAndConfiguration`:
//! `Expandable::expand_with`, then `canonical_form_of`), called directly so that Vouch resolves
//! keys itself and nothing is ever fetched: the loader knows exactly the contexts of
//! `vouch-schemas` and refuses every other URL.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};
use ssi::json_ld::{CompactJsonLd, ContextLoader, Expandable};
use ssi::rdf::{AnyLdEnvironment, LdEnvironment};

use super::ProofError;

/// The loader of the bundled contexts, built once.
pub fn loader() -> &'static ContextLoader {
    static LOADER: OnceLock<ContextLoader> = OnceLock::new();
    LOADER.get_or_init(|| {
        let contexts: HashMap<String, String> = vouch_schemas::CONTEXTS
            .iter()
            .map(|(url, document)| ((*url).to_owned(), (*document).to_owned()))
            .collect();
        ContextLoader::empty()
            .with_context_map_from(contexts)
            .expect("the bundled contexts are valid JSON under valid IRIs (checked by a unit test)")
    })
}

/// Whether a string percent-decodes to valid UTF-8.
///
/// The IRI library under ssi's JSON-LD processing (`pct-str` 2) panics on a percent-encoded
/// sequence that is not UTF-8 (`urn:x:%b2`). Documents with such a string are refused before
/// processing, so that peer input cannot panic the verifier; no string Vouch writes contains one.
fn decodes(s: &str) -> bool {
    !s.contains('%')
        || percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .is_ok()
}

/// Whether every string of an object, keys included, percent-decodes to valid UTF-8.
fn all_decode(object: &Map<String, Value>) -> bool {
    fn value_decodes(value: &Value) -> bool {
        match value {
            Value::String(s) => decodes(s),
            Value::Array(items) => items.iter().all(value_decodes),
            Value::Object(map) => all_decode(map),
            _ => true,
        }
    }
    object
        .iter()
        .all(|(key, value)| decodes(key) && value_decodes(value))
}

/// The canonical N-Quads of a JSON-LD object, one string per line.
pub fn canonical_nquads(object: &Map<String, Value>) -> Result<Vec<String>, ProofError> {
    if !all_decode(object) {
        return Err(ProofError::Canonicalization(
            "a string percent-decodes to bytes that are not UTF-8".into(),
        ));
    }
    let document = CompactJsonLd(json_syntax::Value::from_serde_json(Value::Object(
        object.clone(),
    )));
    let mut ld = LdEnvironment::default();
    // The loader answers from memory, so the future is ready at its first poll; blocking on it
    // here keeps vouch-core free of any async runtime.
    let expanded = pollster::block_on(document.expand_with(&mut ld, loader()))
        .map_err(|e| ProofError::Canonicalization(e.to_string()))?;
    ld.canonical_form_of(&expanded)
        .map_err(|e| ProofError::Canonicalization(e.to_string()))
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

    #[test]
    fn unknown_contexts_are_never_fetched() {
        let document = serde_json::json!({
            "@context": ["https://www.w3.org/ns/credentials/v2", "https://example.com/not-bundled"],
            "type": ["VerifiableCredential"]
        });
        let error = canonical_nquads(document.as_object().unwrap()).unwrap_err();
        assert!(matches!(error, ProofError::Canonicalization(_)), "{error}");
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
