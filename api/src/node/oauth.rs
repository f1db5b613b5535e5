//! The node as an OAuth 2.0 authorization server for its org's agents (docs/OAUTH.md): its
//! metadata (RFC 8414), its keys (a JWK Set), token exchange (RFC 8693) and introspection
//! (RFC 7662). Requests are HTML forms (`application/x-www-form-urlencoded`), as OAuth's are;
//! refusals are OAuth's error objects ([`OAuthRefusal`]), not problems.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `GET /.well-known/oauth-authorization-server`: the node's metadata (RFC 8414 §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuthorizationServerMetadata {
    /// The issuer identifier: the node's public URL, every token's `iss`.
    pub issuer: String,
    /// Token exchange.
    pub token_endpoint: String,
    /// The org's keys tokens are signed with.
    pub jwks_uri: String,
    /// Introspection.
    pub introspection_endpoint: String,
    /// None: the node has no authorization endpoint (every token is exchanged).
    pub response_types_supported: Vec<String>,
    /// Token exchange alone.
    pub grant_types_supported: Vec<String>,
    /// `none`: the client proves itself by its presentation and DPoP, not a secret.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `none`: introspection answers anyone (what it tells is in the token and the public
    /// status lists already).
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    /// `EdDSA` (RFC 9449 §5.1).
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// The `authorization_details` types tokens carry (RFC 9396 §10).
    pub authorization_details_types_supported: Vec<String>,
}

/// `GET /1.0/oauth/jwks`: the org's keys tokens are signed with (RFC 7517 §5), each named by
/// its verification method in the org's DID document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Jwks {
    /// The keys: OKP, Ed25519, `kid` the verification method, `alg` `EdDSA`, `use` `sig`.
    pub keys: Vec<Value>,
}

/// `POST /1.0/oauth/token`, a form: token exchange (RFC 8693 §2.1), with a `DPoP` header field.
/// Parameters not listed are ignored, as RFC 6749 §3.2 says; one given twice is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokenRequest {
    /// `urn:ietf:params:oauth:grant-type:token-exchange`.
    pub grant_type: String,
    /// The presentation (JSON) of the agent's capability credential with its chain, over a
    /// challenge of this node (`POST /1.0/challenges`) for its domain.
    pub subject_token: String,
    /// `https://w3id.org/vouch/oauth/token-type/presentation`.
    pub subject_token_type: String,
    /// The one resource server the token is for (RFC 8707): an absolute URI without query or
    /// fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Requests the owner approved, to be carried (RFC 9396): a JSON array of
    /// `{type: "https://w3id.org/vouch/oauth/approved-request", actions: [one], locations: [one], arguments}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<String>,
    /// `urn:ietf:params:oauth:token-type:access_token`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_token_type: Option<String>,
}

/// `POST /1.0/oauth/token`'s answer (RFC 8693 §2.2.1), sent with `Cache-Control: no-store`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokenIssued {
    /// The access token: a JWT (`at+jwt`, RFC 9068) signed by the org.
    pub access_token: String,
    /// `urn:ietf:params:oauth:token-type:access_token`.
    pub issued_token_type: String,
    /// `DPoP`: the token is bound to the agent instance's key (RFC 9449 §5).
    pub token_type: String,
    /// Seconds until it expires: at most 300.
    pub expires_in: i64,
    /// What it grants (RFC 9396 §7), as in the token.
    pub authorization_details: Vec<Value>,
}

/// An OAuth error (RFC 6749 §5.2): `invalid_request`, `invalid_grant`, `invalid_target`,
/// `invalid_authorization_details`, `invalid_dpop_proof`, `unsupported_grant_type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OAuthRefusal {
    /// The code.
    pub error: String,
    /// Why; it begins with the Vouch reason when there is one (`needs_approval: …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// `POST /1.0/oauth/introspect`, a form (RFC 7662 §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Introspect {
    /// The token.
    pub token: String,
    /// `access_token`, when given; a hint only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type_hint: Option<String>,
}

/// `POST /1.0/oauth/introspect`'s answer (RFC 7662 §2.2): `{"active": false}` alone for a token
/// that is not live — expired, forged, of no member, or resting on anything revoked or
/// suspended — and the token's claims with `active: true` otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Introspection {
    /// Whether the token stands now.
    pub active: bool,
    /// `DPoP` (RFC 9449 §6.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// The issuing node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The principal's pseudonym.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The resource server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// The agent instance (its did:key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The token's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Issued at (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Who acts: the instance and, nested, its delegators (RFC 8693 §4.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Value>,
    /// The key it is bound to (`{"jkt": …}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Value>,
    /// What it grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<Vec<Value>>,
}

/// `POST /1.0/oauth/events`: a poll for Security Event Tokens (RFC 8936 §2.4), with the events
/// receiver's bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SetPoll {
    /// The most SETs to answer (at most 100); `0` only acknowledges.
    #[serde(rename = "maxEvents", default, skip_serializing_if = "Option::is_none")]
    pub max_events: Option<u32>,
    /// Answer at once even with nothing to give; otherwise wait up to 10 s for an event.
    #[serde(rename = "returnImmediately", default)]
    pub return_immediately: bool,
    /// The `jti`s of SETs received (at most 1,000): never given again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ack: Vec<String>,
    /// SETs received that the receiver could not take, by `jti`: never given again either,
    /// and logged.
    #[serde(
        rename = "setErrs",
        default,
        skip_serializing_if = "std::collections::BTreeMap::is_empty"
    )]
    pub set_errs: std::collections::BTreeMap<String, SetError>,
}

/// Why a receiver could not take a SET (RFC 8936 §2.4.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SetError {
    /// The error code (RFC 8935 §3).
    pub err: String,
    /// What went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `POST /1.0/oauth/events`'s answer: SETs by `jti` (`secevent+jwt`, signed by the org) and
/// whether more wait.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SetPollAnswer {
    /// The SETs, by `jti`.
    pub sets: std::collections::BTreeMap<String, String>,
    /// Whether more SETs wait than were given.
    #[serde(rename = "moreAvailable")]
    pub more_available: bool,
}
