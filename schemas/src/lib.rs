//! # vouch-schemas
//!
//! Data, no logic: the JSON-LD contexts every Vouch document may name (so nothing is fetched at run
//! time), and the JSON Schemas of Vouch's credential types and wire messages. `vouch-core` reads the
//! constraint declarations of the capability schema from here, so the schema partners validate
//! against and the rules Vouch enforces are one text.

/// Vouch's own JSON-LD context.
pub const VOUCH_CONTEXT_V1: &str = "https://w3id.org/vouch/v1";
/// The W3C Verifiable Credentials 2.0 context.
pub const CREDENTIALS_V2: &str = "https://www.w3.org/ns/credentials/v2";
/// The W3C Verifiable Credentials 1.1 context.
pub const CREDENTIALS_V1: &str = "https://www.w3.org/2018/credentials/v1";
/// The W3C examples context, used by the W3C test vectors.
pub const CREDENTIALS_EXAMPLES_V2: &str = "https://www.w3.org/ns/credentials/examples/v2";

/// Every bundled context: `(url, document)`.
pub const CONTEXTS: &[(&str, &str)] = &[
    (
        CREDENTIALS_V2,
        include_str!("../contexts/w3c-ns-credentials-v2.jsonld"),
    ),
    (
        CREDENTIALS_EXAMPLES_V2,
        include_str!("../contexts/w3c-ns-credentials-examples-v2.jsonld"),
    ),
    (
        "https://www.w3.org/ns/did/v1",
        include_str!("../contexts/w3c-did-v1.jsonld"),
    ),
    (
        "https://w3id.org/security/multikey/v1",
        include_str!("../contexts/w3id-multikey-v1.jsonld"),
    ),
    (
        "https://w3id.org/security/data-integrity/v2",
        include_str!("../contexts/w3id-data-integrity-v2.jsonld"),
    ),
    (
        VOUCH_CONTEXT_V1,
        include_str!("../contexts/vouch-v1.jsonld"),
    ),
    // What partners' credentials name besides: VC 1.1, Data Integrity 1.0, the undefined-terms
    // context of VC 2.0 §5.2.1, and the Ed25519Signature2020 suite's.
    (
        CREDENTIALS_V1,
        include_str!("../contexts/w3c-2018-credentials-v1.jsonld"),
    ),
    (
        "https://w3id.org/security/data-integrity/v1",
        include_str!("../contexts/w3id-data-integrity-v1.jsonld"),
    ),
    (
        "https://www.w3.org/ns/credentials/undefined-terms/v2",
        include_str!("../contexts/w3c-ns-credentials-undefined-terms-v2.jsonld"),
    ),
    (
        "https://w3id.org/security/suites/ed25519-2020/v1",
        include_str!("../contexts/w3id-ed25519-signature-2020-v1.jsonld"),
    ),
];

/// The bundled context document of `url`, if Vouch knows it.
pub fn context(url: &str) -> Option<&'static str> {
    CONTEXTS
        .iter()
        .find(|(known, _)| *known == url)
        .map(|(_, document)| *document)
}

/// JSON Schema (2020-12) of `AgentCapabilityCredential`, with the declarations of the capability
/// constraints (`x-vouch-limits`, `x-vouch-scopes`) that attenuation follows.
pub const AGENT_CAPABILITY_CREDENTIAL_SCHEMA: &str =
    include_str!("../json/agent-capability-credential.schema.json");

#[cfg(test)]
mod tests {
    #[test]
    fn every_context_is_a_json_ld_context() {
        for (url, document) in super::CONTEXTS {
            assert!(document.contains("\"@context\""), "{url}");
        }
        assert!(super::context(super::CREDENTIALS_V2).is_some());
        assert!(super::context("https://example.com/unknown").is_none());
    }
}
