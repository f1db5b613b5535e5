//! The OAuth bridge's rules (docs/OAUTH.md): what a verified capability chain becomes as an
//! OAuth 2.0 access token (RFC 9068) by token exchange (RFC 8693), and how a token is read back.
//!
//! The token is for one resource server (`aud`, RFC 8707), says who acts for whom (`sub` the
//! principal's pseudonym, `act` the holding instance and, nested, every delegator above it,
//! RFC 8693 §4.1), carries exactly the chain's capabilities that reach under that resource as
//! `authorization_details` (RFC 9396), is bound to the holder's key (`cnf.jkt`, RFC 9449), and
//! ends at most [`MAX_LIFETIME_SECS`] after it is issued and never after any credential of its
//! chain. A capability that needs its owner's approval is carried only as the one request an
//! approval presented with it approves. The status entries of everything the token rests on
//! travel in it ([`STATUS_CLAIM`]), so that any node of the consortium can answer whether the
//! token still stands (RFC 7662 introspection) from the status lists it holds.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::approval::{Approval, request_hash};
use crate::capability::{Capability, Request, ResourcePattern};
use crate::credential::StatusEntry;
use crate::did::Did;
use crate::key::{KeyPair, PublicKey};
use crate::presentation::Chain;
use crate::report::Reason;
use crate::revocation::RevocationEvent;

/// The token-exchange grant (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The subject token type of a Vouch presentation (with its chain) over the node's challenge.
pub const PRESENTATION_TOKEN_TYPE: &str = "https://w3id.org/vouch/oauth/token-type/presentation";
/// The type of the token issued (RFC 8693 §3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The `authorization_details` type of a capability (RFC 9396 §2).
pub const CAPABILITY_DETAIL: &str = "https://w3id.org/vouch/oauth/capability";
/// The `authorization_details` type of one request its owner approved.
pub const APPROVED_REQUEST_DETAIL: &str = "https://w3id.org/vouch/oauth/approved-request";
/// The longest a token lives.
pub const MAX_LIFETIME_SECS: i64 = 300;
/// The private claim carrying the status entries the token rests on (read by the consortium's
/// nodes at introspection; a resource server ignores it).
pub const STATUS_CLAIM: &str = "vouch_status";
/// The most authorization details a token request may ask for.
pub const MAX_ASKED_DETAILS: usize = 16;

/// An OAuth error (RFC 6749 §5.2, RFC 8707 §2, RFC 9396 §5, RFC 9449 §5), with what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", self.code.as_str())]
pub struct OAuthError {
    /// The error code.
    pub code: OAuthCode,
    /// Why, for a person; it begins with the Vouch reason when there is one.
    pub description: String,
}

/// The error codes the bridge answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthCode {
    /// A parameter missing, repeated or malformed.
    InvalidRequest,
    /// The presentation does not verify, or what it rests on no longer stands.
    InvalidGrant,
    /// Another grant than token exchange.
    UnsupportedGrantType,
    /// The resource is not one the chain may reach.
    InvalidTarget,
    /// An authorization detail asked for is not one the chain grants.
    InvalidAuthorizationDetails,
    /// The DPoP proof is missing, invalid, or not the holder's.
    InvalidDpopProof,
}

impl OAuthCode {
    /// The code as OAuth spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidGrant => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidTarget => "invalid_target",
            Self::InvalidAuthorizationDetails => "invalid_authorization_details",
            Self::InvalidDpopProof => "invalid_dpop_proof",
        }
    }
}

impl OAuthError {
    /// An error of `code`.
    pub fn new(code: OAuthCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }

    /// `invalid_grant` for a Vouch refusal: the description begins with its reason.
    pub fn refused(reason: Reason, why: impl std::fmt::Display) -> Self {
        Self::new(
            OAuthCode::InvalidGrant,
            format!("{}: {why}", reason.as_str()),
        )
    }
}

/// What a token exchange asks, besides the presentation: the resource, and the requests its
/// owner approved that the token should carry.
#[derive(Debug, Clone)]
pub struct Ask {
    /// The resource server (RFC 8707 `resource`), concrete.
    pub resource: ResourcePattern,
    /// Approved requests asked for, as `authorization_details` of type
    /// [`APPROVED_REQUEST_DETAIL`].
    pub approved: Vec<Request>,
}

impl Ask {
    /// Reads `resource` and the `authorization_details` parameter (a JSON array, or none).
    pub fn read(resource: &str, details: Option<&str>) -> Result<Self, OAuthError> {
        let target = |why: String| OAuthError::new(OAuthCode::InvalidTarget, why);
        let resource = ResourcePattern::parse_concrete(resource)
            .map_err(|e| target(format!("resource: {e}")))?;
        let bad = |why: String| OAuthError::new(OAuthCode::InvalidAuthorizationDetails, why);
        let mut approved = Vec::new();
        if let Some(details) = details {
            let details: Vec<Value> = serde_json::from_str(details)
                .map_err(|e| bad(format!("authorization_details is a JSON array: {e}")))?;
            if details.len() > MAX_ASKED_DETAILS {
                return Err(bad(format!("at most {MAX_ASKED_DETAILS} details")));
            }
            for detail in &details {
                approved.push(read_approved_detail(detail).map_err(bad)?);
            }
        }
        Ok(Self { resource, approved })
    }
}

/// An approved request asked for: `{type, actions: [one], locations: [one], arguments}`.
fn read_approved_detail(detail: &Value) -> Result<Request, String> {
    let object = detail.as_object().ok_or("a detail is an object")?;
    if let Some(extra) = object
        .keys()
        .find(|k| !["type", "actions", "locations", "arguments"].contains(&k.as_str()))
    {
        return Err(format!("a detail asked has no member {extra:.64}"));
    }
    if object.get("type").and_then(Value::as_str) != Some(APPROVED_REQUEST_DETAIL) {
        return Err(format!(
            "only details of type {APPROVED_REQUEST_DETAIL} are asked for; the capabilities come from the presentation"
        ));
    }
    let one = |name: &str| match object
        .get(name)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        Some([Value::String(one)]) => Ok(one.clone()),
        _ => Err(format!("{name}: exactly one string")),
    };
    let request = json!({
        "action": one("actions")?,
        "resource": one("locations")?,
        "arguments": object.get("arguments").cloned().unwrap_or_else(|| json!({})),
    });
    Request::from_json(&request).map_err(|e| e.to_string())
}

/// What a verified chain grants at a resource: the token's substance, before it is signed.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// The principal's pseudonym (`sub`).
    pub subject: String,
    /// The holder (`client_id`, `act.sub`).
    pub holder: Did,
    /// `act`: the holder, and nested every delegator above it.
    pub actors: Value,
    /// `authorization_details`.
    pub details: Vec<Value>,
    /// The latest the token may end: the earliest end of what it rests on.
    pub ends: DateTime<Utc>,
    /// The status entries of everything it rests on.
    pub status: Vec<StatusEntry>,
    /// The approvals it uses (each once), with their ends.
    pub approvals: Vec<(String, DateTime<Utc>)>,
}

/// What `chain` (verified, held by `holder`, its root issued by the token's issuer) grants for
/// `ask` at `now`, with the `approvals` presented beside it (each verified). Refused when the
/// chain is pinned away from the resource, grants nothing under it, or an approved request
/// asked for is not approved, or not permitted even with its approval.
pub fn grant(
    chain: &Chain,
    holder: &Did,
    ask: &Ask,
    approvals: &[Approval],
    now: DateTime<Utc>,
) -> Result<Grant, OAuthError> {
    let target = |why: String| OAuthError::new(OAuthCode::InvalidTarget, why);
    let (Some(root), Some(leaf)) = (chain.credentials.first(), chain.credentials.last()) else {
        return Err(OAuthError::refused(Reason::BrokenChain, "an empty chain"));
    };
    if leaf.credential_subject.id != *holder {
        return Err(OAuthError::refused(
            Reason::NotHolder,
            "the chain's credential is not the presenter's",
        ));
    }
    if let Some(hop) = chain
        .credentials
        .iter()
        .position(|c| !c.admits_resource(&ask.resource))
    {
        return Err(target(format!(
            "{}: the credential at hop {hop} is pinned to other resource servers",
            Reason::AudienceMismatch.as_str()
        )));
    }
    let mut details = Vec::new();
    for raw in &leaf.credential_subject.capabilities {
        let Ok(capability) = Capability::from_json(raw) else {
            continue;
        };
        // A capability the resource server could not hold to its constraints is not carried:
        // one of an unknown constraint, or one that needs an approval of each request.
        if !capability.resource.reaches_under(&ask.resource)
            || !capability.constraints.unknown.is_empty()
            || capability.constraints.requires_approval
        {
            continue;
        }
        let mut detail = json!({
            "type": CAPABILITY_DETAIL,
            "actions": [capability.action.to_string()],
            "locations": [capability.resource.to_string()],
            "identifier": leaf.id.as_str(),
        });
        if let Some(constraints) = raw.get("constraints") {
            detail["constraints"] = constraints.clone();
        }
        details.push(detail);
    }
    let mut ends = chain
        .credentials
        .iter()
        .map(|c| c.valid_until)
        .min()
        .unwrap_or(now);
    let mut status: Vec<StatusEntry> = chain
        .credentials
        .iter()
        .flat_map(|c| c.credential_status.iter().cloned())
        .collect();
    let mut used = Vec::new();
    for asked in &ask.approved {
        if !asked.resource.is_under(&ask.resource) {
            return Err(target(format!(
                "{} is not under the resource {}",
                asked.resource, ask.resource
            )));
        }
        let hash = request_hash(asked);
        let approval = approvals
            .iter()
            .find(|a| a.issuer == root.issuer && a.subject == *holder && a.request == hash)
            .ok_or_else(|| {
                OAuthError::refused(
                    Reason::NeedsApproval,
                    format!(
                        "no approval presented of {} on {} with these arguments",
                        asked.action, asked.resource
                    ),
                )
            })?;
        let approved = Request {
            approved: true,
            ..asked.clone()
        };
        chain
            .permits(&approved, now)
            .map_err(|denial| OAuthError::refused(denial.reason(), denial))?;
        details.push(json!({
            "type": APPROVED_REQUEST_DETAIL,
            "actions": [asked.action.to_string()],
            "locations": [asked.resource.to_string()],
            "arguments": asked.arguments,
            "identifier": approval.id,
        }));
        ends = ends.min(approval.valid_until);
        status.extend(approval.status.iter().cloned());
        used.push((approval_key(approval), approval.valid_until));
    }
    if details.is_empty() {
        return Err(target(format!(
            "{}: no capability of the credential reaches under {} without an approval",
            Reason::NotGranted.as_str(),
            ask.resource
        )));
    }
    // Least recent actor most deeply nested (RFC 8693 §4.1): the root's subject, then each
    // delegate down to the holder.
    let mut actors = Value::Null;
    for credential in &chain.credentials {
        let mut actor = json!({"sub": credential.credential_subject.id.as_str()});
        if !actors.is_null() {
            actor["act"] = actors;
        }
        actors = actor;
    }
    Ok(Grant {
        subject: leaf.credential_subject.principal.clone(),
        holder: holder.clone(),
        actors,
        details,
        ends,
        status,
        approvals: used,
    })
}

/// What a ledger of used approvals remembers one by: its issuer and its id.
pub fn approval_key(approval: &Approval) -> String {
    format!("{} {}", approval.issuer, approval.id)
}

/// Where and when a token is issued.
#[derive(Debug, Clone, Copy)]
pub struct Issuance<'a> {
    /// The authorization server's issuer identifier (its metadata's `issuer`).
    pub issuer: &'a str,
    /// The resource, as asked (`aud`).
    pub audience: &'a str,
    /// The holder's key thumbprint (`cnf.jkt`).
    pub jkt: &'a str,
    /// A fresh token id.
    pub jti: &'a str,
    /// Now.
    pub now: DateTime<Utc>,
}

/// The claims of the access token of `grant`, and when it expires: `iss`, `sub`, `aud`,
/// `client_id`, `iat`, `nbf`, `exp`, `jti`, `act`, `cnf`, `authorization_details` and the
/// status entries. `None` when the grant has ended already.
pub fn access_token_claims(grant: &Grant, at: &Issuance<'_>) -> Option<(Map<String, Value>, i64)> {
    let iat = at.now.timestamp();
    let exp = (iat + MAX_LIFETIME_SECS).min(grant.ends.timestamp());
    if exp <= iat {
        return None;
    }
    let claims = json!({
        "iss": at.issuer,
        "sub": grant.subject,
        "aud": at.audience,
        "client_id": grant.holder.as_str(),
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "jti": at.jti,
        "act": grant.actors,
        "cnf": {"jkt": at.jkt},
        "authorization_details": grant.details,
        STATUS_CLAIM: grant.status,
    });
    match claims {
        Value::Object(map) => Some((map, exp)),
        _ => unreachable!("json! of an object"),
    }
}

/// Signs an access token with the org's key, named by its verification method.
pub fn sign_access_token(key: &KeyPair, kid: &str, claims: &Map<String, Value>) -> String {
    crate::jwt::sign(key, crate::jwt::ACCESS_TOKEN, kid, claims)
}

/// An access token read and verified: its signer and claims.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessToken {
    /// The `kid` it was signed under (the org's verification method).
    pub kid: String,
    /// The claims.
    pub claims: Map<String, Value>,
    /// The status entries it rests on.
    pub status: Vec<StatusEntry>,
}

/// Reads an access token signed under a key `keys` gives for its `kid`, live at `now`: `exp` not
/// passed, `nbf`/`iat` not ahead (beyond `skew_secs`), and every claim the bridge issues present.
pub fn read_access_token(
    token: &str,
    keys: impl FnOnce(&str) -> Option<PublicKey>,
    now: i64,
    skew_secs: i64,
) -> Result<AccessToken, crate::jwt::JwtError> {
    use crate::jwt::JwtError;
    let mut kid = String::new();
    let claims = crate::jwt::verify(token, crate::jwt::ACCESS_TOKEN, |k| {
        kid = k.to_owned();
        keys(k)
    })?;
    let number = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_i64)
            .ok_or_else(|| JwtError::Claim(format!("no {name}")))
    };
    let (exp, nbf) = (number("exp")?, number("nbf")?);
    if exp <= now {
        return Err(JwtError::Claim("expired".into()));
    }
    if nbf > now + skew_secs {
        return Err(JwtError::Claim("not yet valid".into()));
    }
    for name in ["iss", "sub", "aud", "client_id", "jti"] {
        if !claims.get(name).is_some_and(Value::is_string) {
            return Err(JwtError::Claim(format!("no {name}")));
        }
    }
    let jkt = claims.get("cnf").and_then(|c| c.get("jkt"));
    if !jkt.is_some_and(Value::is_string) {
        return Err(JwtError::Claim("no cnf.jkt: a token not bound".into()));
    }
    let status: Vec<StatusEntry> = claims
        .get(STATUS_CLAIM)
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| JwtError::Claim(format!("{STATUS_CLAIM}: {e}")))?
        .unwrap_or_default();
    if status.is_empty() {
        return Err(JwtError::Claim(format!(
            "no {STATUS_CLAIM}: nothing would tell its revocation"
        )));
    }
    Ok(AccessToken {
        kid,
        claims,
        status,
    })
}

/// The claims of the Security Event Token (RFC 8417) of a revocation event, transmitted by
/// `transmitter` (the node's issuer URL) to `audience`: `iss`, `iat`, `jti` (the event's id),
/// `aud`, `toe` (the change's time, in seconds) and `events` — one event, of the type the
/// revocation event has (`https://w3id.org/vouch/events/revoked`, …), with its subject, level,
/// count, reason and the `org` that made the change. No `exp` and no `sub` (RFC 8417 §4: a SET
/// is never taken for an access token).
pub fn security_event_claims(
    event: &RevocationEvent,
    transmitter: &str,
    audience: &str,
) -> Map<String, Value> {
    let mut events = event.to_json()["events"].clone();
    if let Some(Value::Object(payload)) = events.as_object_mut().and_then(|e| e.values_mut().next())
    {
        payload.insert("org".into(), Value::String(event.issuer.to_string()));
    }
    let claims = json!({
        "iss": transmitter,
        "iat": event.issued.timestamp(),
        "jti": event.id,
        "aud": audience,
        "toe": event.issued.timestamp(),
        "events": events,
    });
    match claims {
        Value::Object(map) => map,
        _ => unreachable!("json! of an object"),
    }
}
