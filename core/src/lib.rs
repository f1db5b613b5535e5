//! # vouch-core
//!
//! Everything an agent, a node and a partner verifier share, as pure functions and types with no
//! I/O. The crate never touches the network, the disk or the clock: time is an argument, DID
//! documents come through the [`did::DidResolver`] trait, and randomness only where a key or an
//! identifier is generated.
//!
//! The modules form layers, each using only those below it (a test holds it, and that no two
//! modules below the top use each other):
//!
//! 0. [`lock`] locks taken whatever a panicking holder left
//! 1. [`hash`] content hashes; [`key`] Ed25519 keys and Multikeys; [`iri`] what a URL is;
//!    [`report`] verification reports and the reason codes; [`dcql`] the query language of the
//!    exchange; [`sync`] the anti-entropy messages
//! 2. [`agent`] what an agent is (its definition's hash); [`capability`] capabilities and
//!    attenuation; [`audit`] the audit log's entries, chain and Merkle tree;
//!    [`http_signature`] RFC 9421 HTTP Message Signatures over a request
//! 3. [`did`] DIDs, documents, did:key and resolution; [`jwt`] JSON Web Tokens with Ed25519
//!    (access tokens, Security Event Tokens) and DPoP proofs
//! 4. [`credential`] the agent capability credential; [`proof`] Data Integrity proofs (both
//!    eddsa suites, rdfc and jcs)
//! 5. [`did_vouch`] the did:vouch method; [`datamodel`] the VC Data Model's rules for an issuer;
//!    [`approval`] approval credentials; [`delegation`] delegation and renewal; [`possession`]
//!    proofs of possession; [`revocation`] signed revocation events
//! 6. [`verify`] every check on one credential
//! 7. [`presentation`] verifiable presentations; [`consortium`] membership, its genesis and
//!    amendments
//! 8. [`exchange`] the capability exchange's messages and flow; [`status`] Bitstring Status
//!    Lists and the lists a verifier holds
//! 9. [`signed_request`] what a service checks of a request an agent signed: the signature,
//!    then the capability it relies on; [`oauth`] what a verified chain becomes as an OAuth
//!    access token, and how a token is read back

// Tests read the clock (core/clippy.toml forbids it to the crate itself).
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod agent;
pub mod approval;
pub mod audit;
pub mod capability;
pub mod consortium;
pub mod credential;
pub mod datamodel;
pub mod dcql;
pub mod delegation;
pub mod did;
pub mod did_vouch;
pub mod exchange;
pub mod hash;
pub mod http_signature;
pub mod iri;
pub mod jwt;
pub mod key;
pub mod lock;
pub mod oauth;
pub mod possession;
pub mod presentation;
pub mod proof;
pub mod report;
pub mod revocation;
pub mod signed_request;
pub mod status;
pub mod sync;
pub mod verify;

/// The layers of the crate's modules, lowest first: a module may use those of lower layers only.
#[cfg(test)]
const LAYERS: &[&[&str]] = &[
    &["lock"],
    &["hash", "key", "iri", "report", "dcql", "sync"],
    &["agent", "capability", "audit", "http_signature"],
    &["did", "jwt"],
    &["credential", "proof"],
    &[
        "did_vouch",
        "datamodel",
        "approval",
        "delegation",
        "possession",
        "revocation",
    ],
    &["verify"],
    &["presentation", "consortium"],
    &["exchange", "status"],
    &["signed_request", "oauth"],
];

#[cfg(test)]
mod tests {
    #[test]
    fn no_module_uses_one_above_it() {
        vouch_layering::assert_layered(env!("CARGO_MANIFEST_DIR"), super::LAYERS, 50);
    }
}
