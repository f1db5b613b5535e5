//! DID resolution as a pure interface: callers bring what they know (a did:vouch log, a cache of
//! the registry), the verifier asks through [`DidResolver`].

use chrono::{DateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};

use super::document::DidDocument;
use super::{Did, key};

/// A UTC time in whole seconds, written `YYYY-MM-DDTHH:MM:SSZ` as Data Integrity writes `created`;
/// any other spelling is refused, so that an operation has one hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The time, without its fraction of a second.
    pub fn new(time: DateTime<Utc>) -> Self {
        Self(time.with_nanosecond(0).unwrap_or(time))
    }

    /// The time.
    pub fn time(&self) -> DateTime<Utc> {
        self.0
    }

    fn format(&self) -> String {
        self.0.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.format())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.format())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        let time = DateTime::parse_from_rfc3339(&s)
            .map(|t| Self(t.with_timezone(&Utc)))
            .map_err(serde::de::Error::custom)?;
        if time.format() != s {
            return Err(serde::de::Error::custom(
                "times are written in whole seconds, in UTC, as YYYY-MM-DDTHH:MM:SSZ",
            ));
        }
        Ok(time)
    }
}

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
    /// The resolver could not be reached, or answered with something unusable.
    #[error("internalError: {0}")]
    Unavailable(String),
    /// The resolution options are invalid (a bad `versionId` or `versionTime`, or both).
    #[error("invalidOptions: {0}")]
    InvalidOptions(String),
    /// None of the representations asked for can be given.
    #[error("representationNotSupported: {0}")]
    RepresentationNotSupported(String),
    /// Two valid operations claim the same version: the DID's controller equivocated, and no
    /// version of the DID can be trusted.
    #[error("equivocation: {did} has two valid operations at version {version}")]
    Equivocation {
        /// The DID.
        did: Did,
        /// The version with two operations.
        version: u64,
    },
}

impl ResolveError {
    /// The error code of [DID Resolution §7.1](https://www.w3.org/TR/did-resolution/#errors), or
    /// ours where the spec has none.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidDid(_) => "invalidDid",
            Self::NotFound(_) => "notFound",
            Self::MethodNotSupported(_) => "methodNotSupported",
            Self::Deactivated(_) => "deactivated",
            Self::Equivocation { .. } => "equivocation",
            Self::Unavailable(_) => "internalError",
            Self::InvalidOptions(_) => "invalidOptions",
            Self::RepresentationNotSupported(_) => "representationNotSupported",
        }
    }

    /// The error's type as an [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) problem: DID
    /// Resolution's `https://www.w3.org/ns/did#…` types, or Vouch's where it has none.
    pub fn problem_type(&self) -> &'static str {
        match self {
            Self::InvalidDid(_) => "https://www.w3.org/ns/did#INVALID_DID",
            Self::NotFound(_) => "https://www.w3.org/ns/did#NOT_FOUND",
            Self::MethodNotSupported(_) => "https://www.w3.org/ns/did#METHOD_NOT_SUPPORTED",
            Self::Unavailable(_) => "https://www.w3.org/ns/did#INTERNAL_ERROR",
            Self::InvalidOptions(_) => "https://www.w3.org/ns/did#INVALID_OPTIONS",
            Self::RepresentationNotSupported(_) => {
                "https://www.w3.org/ns/did#REPRESENTATION_NOT_SUPPORTED"
            }
            Self::Deactivated(_) => "https://w3id.org/vouch#DEACTIVATED",
            Self::Equivocation { .. } => "https://w3id.org/vouch#EQUIVOCATION",
        }
    }

    /// A short summary of the error's type, the same for every occurrence.
    pub fn title(&self) -> &'static str {
        match self {
            Self::InvalidDid(_) => "The DID is invalid",
            Self::NotFound(_) => "The DID or version was not found",
            Self::MethodNotSupported(_) => "The DID method is not supported",
            Self::Unavailable(_) => "An internal error occurred",
            Self::InvalidOptions(_) => "The resolution options are invalid",
            Self::RepresentationNotSupported(_) => "The representation is not supported",
            Self::Deactivated(_) => "The DID is deactivated",
            Self::Equivocation { .. } => "The DID's controller equivocated",
        }
    }
}

/// An error as an [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) problem object, as the
/// DID Resolution draft writes resolution errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProblemDetails {
    /// The problem's type, a URL.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// A summary of the type.
    pub title: &'static str,
    /// What went wrong this time.
    pub detail: String,
}

impl From<&ResolveError> for ProblemDetails {
    fn from(error: &ResolveError) -> Self {
        Self {
            kind: error.problem_type(),
            title: error.title(),
            detail: error.to_string(),
        }
    }
}

/// DID document metadata ([DID Core §7.1.3](https://www.w3.org/TR/did-core/#did-document-metadata));
/// empty for methods without history, such as did:key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentMetadata {
    /// When the DID was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<Timestamp>,
    /// When the resolved version was made, unless it is the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<Timestamp>,
    /// The resolved version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The next version, when a later one exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_version_id: Option<String>,
    /// When the next version was made, when a later one exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_update: Option<Timestamp>,
    /// Whether the DID has been deactivated (whichever version was resolved).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deactivated: bool,
}

/// DID resolution metadata ([DID Resolution §7.1](https://www.w3.org/TR/did-resolution/#did-resolution-metadata)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolutionMetadata {
    /// The media type of the document, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<&'static str>,
    /// The error, as an RFC 9457 problem object (DID Resolution §Errors), when resolution
    /// failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ProblemDetails>,
}

/// The media type of a DID document (DID 1.1: one for JSON and JSON-LD alike), what a
/// resolution result's `contentType` says.
pub const DID_MEDIA_TYPE: &str = "application/did";

/// A DID resolution result (`application/did-resolution`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolutionResult {
    /// The document, or `null` when resolution failed.
    pub did_document: Option<DidDocument>,
    /// How resolution went.
    pub did_resolution_metadata: ResolutionMetadata,
    /// What is known of the document.
    pub did_document_metadata: DocumentMetadata,
}

impl ResolutionResult {
    /// A successful resolution.
    pub fn found(document: DidDocument, metadata: DocumentMetadata) -> Self {
        Self {
            did_document: Some(document),
            did_resolution_metadata: ResolutionMetadata {
                content_type: Some(DID_MEDIA_TYPE),
                ..ResolutionMetadata::default()
            },
            did_document_metadata: metadata,
        }
    }

    /// A failed resolution.
    pub fn failed(error: &ResolveError) -> Self {
        Self {
            did_document: None,
            did_resolution_metadata: ResolutionMetadata {
                error: Some(error.into()),
                ..ResolutionMetadata::default()
            },
            did_document_metadata: DocumentMetadata::default(),
        }
    }
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
