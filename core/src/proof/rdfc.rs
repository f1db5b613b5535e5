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

/// The canonical N-Quads of a JSON-LD object, one string per line.
pub fn canonical_nquads(object: &Map<String, Value>) -> Result<Vec<String>, ProofError> {
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
