//! DID resolution as a pure interface: callers bring what they know (a did:vouch log, a cache of
//! the registry), the verifier asks through [`DidResolver`].

use super::document::DidDocument;
use super::{Did, key};

/// Why a DID could not be resolved; the names are those of
/// [DID Resolution §7.1](https://www.w3.org/TR/did-resolution/#errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The DID is malformed for its method.
    #[error("invalidDid: {0}")]
    InvalidDid(String),
    /// Nothing is known of the DID.
    #[error("notFound: {0}")]
    NotFound(Did),
    /// The resolver does not support the DID's method.
    #[error("methodNotSupported: {0}")]
    MethodNotSupported(String),
    /// The DID has been deactivated.
    #[error("deactivated: {0}")]
    Deactivated(Did),
    /// The DID's history is invalid or forked; it must not be trusted.
    #[error("invalidDidLog: {0}")]
    InvalidLog(String),
}

/// Resolves DIDs to their current DID document.
pub trait DidResolver {
    /// The current document of `did`, or why there is none.
    fn resolve(&self, did: &Did) -> Result<DidDocument, ResolveError>;
}

/// Resolves did:key only, with Multikey verification methods.
#[derive(Debug, Clone, Copy, Default)]
pub struct DidKeyResolver;

impl DidResolver for DidKeyResolver {
    fn resolve(&self, did: &Did) -> Result<DidDocument, ResolveError> {
        if did.method() != "key" {
            return Err(ResolveError::MethodNotSupported(did.method().to_owned()));
        }
        key::resolve(did, key::KeyFormat::Multikey)
            .map_err(|e| ResolveError::InvalidDid(e.to_string()))
    }
}

impl<R: DidResolver + ?Sized> DidResolver for &R {
    fn resolve(&self, did: &Did) -> Result<DidDocument, ResolveError> {
        (**self).resolve(did)
    }
}
