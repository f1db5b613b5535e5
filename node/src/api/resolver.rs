//! The public, read-only side: DID resolution in the W3C DID Resolution HTTP(S) binding (the DIF
//! Universal Resolver's `GET /1.0/identifiers/{did}`) and status lists at the URLs credentials
//! name.
//!
//! A DID in a path may come as written (`did:vouch:…`) or percent-encoded as a whole
//! (`did%3Avouch%3A…`, as the binding sends it): a segment that starts with `did%3A` is decoded
//! once, any other is taken as written (a DID's own percent-encoded characters stay encoded).

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tracing::{Instrument, debug, info_span};
use vouch_core::did::resolve::ResolutionResult;
use vouch_core::did::{Did, ResolveError};
use vouch_core::did_vouch::VersionSelector;
use warp::Rejection;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

use super::errors::{internal, reject};
use super::{ApiState, blocking};
use crate::registry::Standing;
use crate::store::ListKey;
use vouch_api::ErrorCode;

/// The media type of a DID resolution result.
pub const DID_RESOLUTION: &str = "application/did-resolution";
/// The media type of a DID document in JSON-LD.
pub const DID_LD_JSON: &str = "application/did+ld+json";
/// The media type of a DID document in plain JSON.
pub const DID_JSON: &str = "application/did+json";
/// The media type of a DID document in DID 1.1.
pub const DID: &str = "application/did";
/// The media type of a verifiable credential secured with an embedded proof (VC Data Model 2.0
/// §6.3).
pub const VC: &str = "application/vc";
/// The media type of a resolution result in DID Resolution's first public draft.
const LEGACY_RESOLUTION: &str = "application/ld+json;profile=\"https://w3id.org/did-resolution\"";
/// The profile that makes `application/ld+json` a resolution result.
const RESOLUTION_PROFILE: &str = "https://w3id.org/did-resolution";
/// The most media ranges of an `Accept` header looked at.
const MAX_ACCEPT_ITEMS: usize = 32;

/// A representation the resolver can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Representation {
    /// The whole resolution result.
    Resolution,
    /// The document, JSON-LD (`application/did+ld+json`).
    DocumentLd,
    /// The document, plain JSON, no `@context` (`application/did+json`).
    Document,
    /// The document as DID 1.1 names it (`application/did`), with its `@context`.
    Did,
    /// The resolution result for the clients of DID Resolution's first public draft, who ask
    /// for it as `application/ld+json;profile="https://w3id.org/did-resolution"` and read a
    /// failure's `error` as a code (`notFound`).
    LegacyResolution,
}

impl Representation {
    /// Every representation, in the order preferred when a client rates several alike.
    const ALL: [Self; 5] = [
        Self::Resolution,
        Self::LegacyResolution,
        Self::DocumentLd,
        Self::Did,
        Self::Document,
    ];

    fn media_type(self) -> &'static str {
        match self {
            Self::Resolution => DID_RESOLUTION,
            Self::DocumentLd => DID_LD_JSON,
            Self::Document => DID_JSON,
            Self::Did => DID,
            Self::LegacyResolution => LEGACY_RESOLUTION,
        }
    }

    /// How specifically a media range names this representation: 0 not at all, 1 `*/*`,
    /// 2 `type/*`, 3 the type itself, 4 the type with the profile that names it.
    fn matched_by(self, media: &str, profile: Option<&str>) -> u8 {
        let resolution_profile = profile.is_some_and(|p| {
            p.split_whitespace()
                .any(|p| p.trim_matches('"') == RESOLUTION_PROFILE)
        });
        match (self, media) {
            // Only a client that names the first draft's form gets it.
            (Self::LegacyResolution, "application/ld+json") if resolution_profile => 4,
            (Self::LegacyResolution, _) => 0,
            (_, "*/*") => 1,
            (_, "application/*") => 2,
            (Self::Resolution, DID_RESOLUTION) => 3,
            (Self::Resolution, "application/json") => 3,
            (Self::DocumentLd, DID_LD_JSON) => 3,
            (Self::DocumentLd, "application/ld+json") if !resolution_profile => 3,
            (Self::Document, DID_JSON) => 3,
            (Self::Did, DID) => 3,
            _ => 0,
        }
    }
}

/// One media range of an `Accept` header: its type, its `profile`, its quality in thousandths.
struct MediaRange<'a> {
    media: String,
    profile: Option<&'a str>,
    quality: u16,
}

fn media_ranges(accept: &str) -> Vec<MediaRange<'_>> {
    accept
        .split(',')
        .take(MAX_ACCEPT_ITEMS)
        .filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let media = parts.next().filter(|m| !m.is_empty())?.to_ascii_lowercase();
            let mut range = MediaRange {
                media,
                profile: None,
                quality: 1000,
            };
            for param in parts {
                let (name, value) = param.split_once('=')?;
                match name.trim().to_ascii_lowercase().as_str() {
                    "q" => range.quality = quality(value.trim())?,
                    "profile" => range.profile = Some(value.trim()),
                    _ => {}
                }
            }
            Some(range)
        })
        .collect()
}

/// A quality value (RFC 9110 §12.4.2: `0`, `1`, up to three decimals) in thousandths. A
/// malformed one makes its media range ignored.
fn quality(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Picks the representation the client rates highest (RFC 9110 §12.5.1): each representation
/// takes the quality of the most specific media range that names it, `q=0` excludes, ties go to
/// the order of [`Representation::ALL`]. An absent or empty header means anything: the
/// resolution result. `None` when nothing acceptable is offered.
fn negotiate(accept: Option<&str>) -> Option<Representation> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some(Representation::Resolution);
    };
    let ranges = media_ranges(accept);
    let mut best: Option<(Representation, u16)> = None;
    for representation in Representation::ALL {
        let quality = ranges
            .iter()
            .map(|r| (representation.matched_by(&r.media, r.profile), r.quality))
            .filter(|(specificity, _)| *specificity > 0)
            .max_by_key(|(specificity, _)| *specificity)
            .map_or(0, |(_, quality)| quality);
        if quality > 0 && best.is_none_or(|(_, q)| quality > q) {
            best = Some((representation, quality));
        }
    }
    best.map(|(representation, _)| representation)
}

/// The HTTP status of a resolution error (DID Resolution, HTTP(S) binding). An equivocating DID
/// is a conflict: the node holds two valid histories.
fn status_of(error: &ResolveError) -> StatusCode {
    match error {
        ResolveError::InvalidDid(_) | ResolveError::InvalidOptions(_) => StatusCode::BAD_REQUEST,
        ResolveError::NotFound(_) => StatusCode::NOT_FOUND,
        ResolveError::RepresentationNotSupported(_) => StatusCode::NOT_ACCEPTABLE,
        ResolveError::MethodNotSupported(_) => StatusCode::NOT_IMPLEMENTED,
        ResolveError::Deactivated(_) => StatusCode::GONE,
        ResolveError::Equivocation { .. } => StatusCode::CONFLICT,
        ResolveError::Unavailable(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn bytes_reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response {
    let mut response = Response::new(body.into().into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A resolution error as a resolution result, whatever representation was asked for: a document
/// representation has nothing to show. Its `error` is the RFC 9457 problem object, but for the
/// clients that asked in the first draft's terms.
fn resolution_error(error: &ResolveError, asked: Representation) -> Response {
    let result = ResolutionResult::failed(error);
    if asked == Representation::LegacyResolution {
        let result = serde_json::to_value(result).expect("a resolution result always serializes");
        let body = legacy(result, error.code()).to_string();
        return bytes_reply(status_of(error), LEGACY_RESOLUTION, body);
    }
    let result = serde_json::to_vec(&result).expect("a resolution result always serializes");
    bytes_reply(status_of(error), DID_RESOLUTION, result)
}

/// A result as DID Resolution's first public draft wrote it: a failure's `error` is a code
/// (`notFound`), with `errorMessage` beside it.
fn legacy(mut result: Value, code: &str) -> Value {
    let metadata = &mut result["didResolutionMetadata"];
    if let Some(problem) = metadata.get_mut("error").map(Value::take) {
        metadata["error"] = code.into();
        metadata["errorMessage"] = problem["detail"].clone();
    }
    result
}

/// `versionId` (a version, from 1) and `versionTime` (RFC 3339), one of them, once.
fn selector(query: &[(String, String)]) -> Result<VersionSelector, ResolveError> {
    let mut selector = VersionSelector::Latest;
    for (name, value) in query {
        let next = match name.as_str() {
            "versionId" => match value.parse() {
                Ok(version) if version >= 1 => VersionSelector::Id(version),
                _ => {
                    return Err(ResolveError::InvalidOptions(
                        "versionId is a version number, from 1".into(),
                    ));
                }
            },
            "versionTime" => DateTime::parse_from_rfc3339(value)
                .map(|t| VersionSelector::Time(t.with_timezone(&Utc)))
                .map_err(|_| {
                    ResolveError::InvalidOptions("versionTime is an RFC 3339 time".into())
                })?,
            _ => continue,
        };
        if selector != VersionSelector::Latest {
            return Err(ResolveError::InvalidOptions(
                "give one of versionId and versionTime, once".into(),
            ));
        }
        selector = next;
    }
    Ok(selector)
}

/// A DID from a path segment: decoded once if it came percent-encoded as a whole.
fn did_segment(segment: &str) -> Cow<'_, str> {
    let encoded = segment
        .get(..6)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("did%3a"));
    if encoded {
        percent_encoding::percent_decode_str(segment).decode_utf8_lossy()
    } else {
        Cow::Borrowed(segment)
    }
}

/// `GET /1.0/identifiers/{did}`.
pub(super) async fn resolve(
    did: String,
    query: Vec<(String, String)>,
    accept: Option<String>,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let did = did_segment(&did).into_owned();
    let span = info_span!("resolve", did = %did);
    let started = std::time::Instant::now();
    let metrics_state = state.clone();
    let response = async move {
        let Some(representation) = negotiate(accept.as_deref()) else {
            return Ok(resolution_error(
                &ResolveError::RepresentationNotSupported(format!(
                    "this resolver gives {DID_RESOLUTION}, {DID_LD_JSON}, {DID} and {DID_JSON}"
                )),
                Representation::Resolution,
            ));
        };
        let did = match Did::parse(&did) {
            Ok(did) => did,
            Err(e) => {
                return Ok(resolution_error(
                    &ResolveError::InvalidDid(e.to_string()),
                    representation,
                ));
            }
        };
        let selector = match selector(&query) {
            Ok(selector) => selector,
            Err(error) => return Ok(resolution_error(&error, representation)),
        };
        // A DID resolved lately is answered from the registry's cache, on this thread.
        let cached = match selector {
            VersionSelector::Latest => state.registry.resolve_cached(&did).map(Ok),
            VersionSelector::Id(_) | VersionSelector::Time(_) => None,
        };
        let resolved = match cached {
            Some(resolved) => resolved,
            None => {
                let registry = state.registry.clone();
                blocking(move || registry.resolve(&did, selector))
                    .await?
                    .map_err(internal)?
            }
        };
        let resolved = match resolved {
            Ok(resolved) => resolved,
            Err(error) => return Ok(resolution_error(&error, representation)),
        };
        let status = match resolved.standing {
            Standing::Active => StatusCode::OK,
            Standing::Deactivated => StatusCode::GONE,
            Standing::Equivocation => StatusCode::CONFLICT,
        };
        debug!(%status, "resolved");
        if representation == Representation::Resolution {
            return Ok(bytes_reply(status, DID_RESOLUTION, resolved.result));
        }
        let mut result: Value = serde_json::from_slice(&resolved.result).map_err(internal)?;
        if representation == Representation::LegacyResolution {
            let body = legacy(result, "equivocation").to_string();
            return Ok(bytes_reply(status, LEGACY_RESOLUTION, body));
        }
        let mut document = result["didDocument"].take();
        if representation == Representation::Document
            && let Some(object) = document.as_object_mut()
        {
            object.remove("@context");
        }
        let body = serde_json::to_vec(&document).expect("JSON values always serialize");
        Ok(bytes_reply(status, representation.media_type(), body))
    }
    .instrument(span)
    .await;
    let metrics = metrics_state.registry.metrics();
    metrics.resolutions.inc();
    metrics
        .resolution_seconds
        .observe(started.elapsed().as_secs_f64());
    response
}

/// The media type a status list is served as: `application/vc` (VC 2.0 §6.3), unless the
/// client rates a JSON type higher (a JSON-LD document loader asks for `application/ld+json`
/// or `application/json`, and parses nothing else). The body is the same signed credential.
fn list_media_type(accept: Option<&str>) -> &'static str {
    const OFFERED: [&str; 3] = [VC, "application/ld+json", "application/json"];
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return VC;
    };
    let ranges = media_ranges(accept);
    let rated = |offered: &str| {
        ranges
            .iter()
            .filter_map(|r| {
                let specificity = match r.media.as_str() {
                    m if m == offered => 3,
                    "application/*" => 2,
                    "*/*" => 1,
                    _ => return None,
                };
                Some((specificity, r.quality))
            })
            .max_by_key(|(specificity, _)| *specificity)
            .map_or(0, |(_, quality)| quality)
    };
    OFFERED
        .into_iter()
        .map(|offered| (offered, rated(offered)))
        .fold((VC, 0), |best, (offered, quality)| {
            if quality > best.1 {
                (offered, quality)
            } else {
                best
            }
        })
        .0
}

/// `GET /1.0/status-lists/{did}/{name}`: the signed credential as stored.
pub(super) async fn status_list(
    did: String,
    name: String,
    accept: Option<String>,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let lists = state.status_lists.clone();
    // Not a DID: no list is held under it.
    let key = Did::parse(&did_segment(&did))
        .ok()
        .map(|issuer| ListKey::new(&issuer, &name));
    let media_type = list_media_type(accept.as_deref());
    let held = blocking(move || key.map_or(Ok(None), |key| lists.get(&key)));
    match held.await?.map_err(internal)? {
        Some(json) => Ok(bytes_reply(StatusCode::OK, media_type, json)),
        None => Err(reject(ErrorCode::NotFound, "no such status list")),
    }
}

/// `GET /1.0/trust`: the trusted-issuer policy this node verifies with, for the wallets of its
/// org (and anyone) to verify alike: `{"issuers": [{"did", "actions"}]}`.
pub(super) async fn trust(state: Arc<ApiState>) -> Result<Response, Rejection> {
    use warp::Reply as _;
    let issuers = state
        .status_lists
        .trusted_issuers()
        .into_iter()
        .map(|(did, actions)| vouch_api::node::public::TrustedIssuer { did, actions })
        .collect();
    Ok(warp::reply::json(&vouch_api::node::public::Trust { issuers }).into_response())
}

/// The media type of a did:vouch log: one operation per line (JSON Lines).
pub(super) const JSONL: &str = "application/jsonl";

/// `GET /1.0/consortium`: the signed genesis and the amendments applied, for a wallet to check
/// against the genesis hash it was configured with; a node alone has none (`404 no_consortium`).
pub(super) async fn consortium(state: Arc<ApiState>) -> Result<Response, Rejection> {
    let Some(amendments) = state.amendments.clone() else {
        return Err(reject(
            ErrorCode::NoConsortium,
            "this node runs alone, without a consortium",
        ));
    };
    let body = blocking(move || serde_json::to_vec(&amendments.published()))
        .await?
        .map_err(internal)?;
    Ok(bytes_reply(StatusCode::OK, "application/json", body))
}

/// `GET /1.0/logs/{did}`: a did:vouch's operation log as this node holds it, in JSON Lines
/// (accepted operations in order, then any equivocation evidence), for a reader to verify from
/// its genesis rather than take the node's resolution on its word.
pub(super) async fn log(did: String, state: Arc<ApiState>) -> Result<Response, Rejection> {
    let did =
        Did::parse(&did_segment(&did)).map_err(|e| reject(ErrorCode::InvalidDid, e.to_string()))?;
    let registry = state.registry.clone();
    let log = blocking(move || registry.log(&did))
        .await?
        .map_err(internal)?;
    match log {
        Some(log) => Ok(bytes_reply(StatusCode::OK, JSONL, log.to_jsonl())),
        None => Err(reject(
            ErrorCode::NotFound,
            "this node holds no log of that DID",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_weighs_qualities_and_specificity() {
        use Representation::*;
        let cases: &[(Option<&str>, Option<Representation>)] = &[
            (None, Some(Resolution)),
            (Some(""), Some(Resolution)),
            (Some("  "), Some(Resolution)),
            (Some("*/*"), Some(Resolution)),
            (Some(DID), Some(Did)),
            (Some(DID_JSON), Some(Document)),
            (Some("application/ld+json"), Some(DocumentLd)),
            (
                Some("application/ld+json;profile=\"https://w3id.org/did-resolution\""),
                Some(LegacyResolution),
            ),
            // The first draft's form only when named: never for a wildcard.
            (
                Some("application/did-resolution;q=0, */*;q=0.5"),
                Some(DocumentLd),
            ),
            // A higher quality wins, wherever it is listed.
            (
                Some("application/did-resolution;q=0.5, application/did+json"),
                Some(Document),
            ),
            (
                Some("application/did+json;q=0.2, application/did+ld+json;q=0.9"),
                Some(DocumentLd),
            ),
            // q=0 excludes a type even where a wildcard would take it.
            (
                Some("application/did-resolution;q=0, */*;q=0.1"),
                Some(DocumentLd),
            ),
            (Some("application/did+json;q=0"), None),
            (Some("text/html"), None),
            (Some("application/did+json;q=2"), None),
            (Some("application/did+json;q=0.0001"), None),
            (Some("APPLICATION/DID+JSON;Q=0.5"), Some(Document)),
        ];
        for (accept, expected) in cases {
            assert_eq!(negotiate(*accept), *expected, "{accept:?}");
        }
    }

    #[test]
    fn a_status_list_is_a_vc_unless_a_json_type_is_rated_higher() {
        for (accept, served) in [
            (None, VC),
            (Some(""), VC),
            (Some("*/*"), VC),
            (Some(VC), VC),
            (
                Some("application/ld+json, application/json"),
                "application/ld+json",
            ),
            (Some("application/json"), "application/json"),
            (Some("application/json;q=0.5, application/vc"), VC),
            (Some("text/html"), VC),
        ] {
            assert_eq!(list_media_type(accept), served, "{accept:?}");
        }
    }

    #[test]
    fn version_selectors_start_at_one() {
        let query = |name: &str, value: &str| vec![(name.to_owned(), value.to_owned())];
        assert_eq!(
            selector(&query("versionId", "1")),
            Ok(VersionSelector::Id(1))
        );
        for bad in ["0", "-1", "x", ""] {
            assert!(matches!(
                selector(&query("versionId", bad)),
                Err(ResolveError::InvalidOptions(_))
            ));
        }
        let mut both = query("versionId", "1");
        both.extend(query("versionTime", "2026-01-01T00:00:00Z"));
        assert!(selector(&both).is_err());
    }

    #[test]
    fn a_did_comes_as_written_or_encoded_as_a_whole() {
        assert_eq!(did_segment("did%3Avouch%3AzQm1"), "did:vouch:zQm1");
        assert_eq!(did_segment("DID%3aKEY%3az6Mk"), "DID:KEY:z6Mk");
        assert_eq!(did_segment("did:web:a%3A8080"), "did:web:a%3A8080");
        assert_eq!(did_segment("did"), "did");
    }
}
