//! RFC 9421 HTTP Message Signatures over a request, with Ed25519.
//!
//! The signature base is built here from the request itself — its derived components
//! (`@method`, `@target-uri`, `@authority`, `@scheme`, `@path`, `@query`, RFC 9421 §2.2) and
//! its header fields (§2.1) — never taken from a caller; the structured fields
//! (`Signature-Input`, `Signature`, `Content-Digest`; RFC 9651) are written and read by `sfv`.
//! [`verify`] checks, before it believes a signature: that the label is there once, that every
//! component the policy requires is covered, the parameters (`created`, `expires` at most
//! [`MAX_LIFETIME_SECS`] later, `nonce` used once, `keyid`, `alg`, `tag`), the body's
//! `Content-Digest` (RFC 9530) when a body is covered, and the signature under the key the
//! `keyid` names.
//!
//! What is signed is never anything else Vouch signs: a signature base is text that begins
//! with a quoted component name (`"@…` or `"field`) and ends with the `"@signature-params"`
//! line, while Data Integrity proofs sign 64 bytes (two SHA-256 digests) and a C2SP note signs
//! text that begins with its origin. The daemon builds the base itself from a request; it never
//! signs bytes it is given.

use sha2::{Digest as _, Sha256, Sha512};
use url::Url;

use crate::key::{KeyPair, PublicKey};

/// The label of Vouch's signature in `Signature-Input` and `Signature`.
pub const LABEL: &str = "vouch";
/// The `tag` of Vouch's signatures (Web Bot Auth's are `web-bot-auth`).
pub const TAG: &str = "vouch";
/// The field naming the capability a request relies on: `credential="…", action="…"`.
pub const CAPABILITY_FIELD: &str = "vouch-capability";

/// The `tag` of a Web Bot Auth signature (draft-ietf-webbotauth-httpsig-protocol).
pub const WEB_BOT_AUTH_TAG: &str = "web-bot-auth";
/// The field naming where a Web Bot Auth signer's key directory is: a Dictionary whose member
/// under the signature's label is the directory's `https` URL.
pub const SIGNATURE_AGENT_FIELD: &str = "signature-agent";
/// Where a signer's key directory is served.
pub const DIRECTORY_PATH: &str = "/.well-known/http-message-signatures-directory";
/// The key directory's media type.
pub const DIRECTORY_MEDIA_TYPE: &str = "application/http-message-signatures-directory+json";
/// The `tag` of the signature a key directory's response carries, one per key.
pub const DIRECTORY_TAG: &str = "http-message-signatures-directory";
/// How long a key directory's signature is valid: a verifier may cache the directory a day.
pub const DIRECTORY_LIFETIME_SECS: i64 = 24 * 60 * 60;

/// The longest a request's signature may be valid: `expires` at most this many seconds after
/// `created`.
pub const MAX_LIFETIME_SECS: i64 = 60;
/// How far a signer's clock may run ahead of the verifier's.
pub const CLOCK_SKEW_SECS: i64 = 5;
/// The most components one signature covers.
pub const MAX_COMPONENTS: usize = 32;
/// The longest nonce taken: a verifier remembers each, so each is small.
pub const MAX_NONCE_BYTES: usize = 128;
/// The longest `Signature-Input` or `Signature` field read.
pub const MAX_FIELD_BYTES: usize = 8 * 1024;

/// A request as it is signed and verified.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Its method, as sent (`POST`).
    pub method: &'a str,
    /// Its target URI, absolute.
    pub target: &'a Url,
    /// Its header fields, names in any case, in order (a name may repeat).
    pub headers: &'a [(String, String)],
    /// Its body, when it has one.
    pub body: Option<&'a [u8]>,
}

/// A component of a request a signature covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Component {
    /// `@method`.
    Method,
    /// `@target-uri`.
    TargetUri,
    /// `@authority`.
    Authority,
    /// `@scheme`.
    Scheme,
    /// `@path`.
    Path,
    /// `@query`.
    Query,
    /// A header field, by its lowercase name.
    Field(String),
    /// `"@authority";req`: the authority of the request a response answers (a response's
    /// signature, such as a key directory's).
    RequestAuthority,
    /// `"name";key="member"`: one member of a Dictionary field (RFC 9421 §2.1.2), such as
    /// `"signature-agent";key="vouch"`.
    Member {
        /// The field's lowercase name.
        field: String,
        /// The member's key.
        key: String,
    },
}

impl Component {
    /// A component by its name in a signature base (`@method`, `content-digest`).
    pub fn parse(name: &str) -> Result<Self, HttpSignatureError> {
        Ok(match name {
            "@method" => Self::Method,
            "@target-uri" => Self::TargetUri,
            "@authority" => Self::Authority,
            "@scheme" => Self::Scheme,
            "@path" => Self::Path,
            "@query" => Self::Query,
            derived if derived.starts_with('@') => {
                return Err(HttpSignatureError::Unsupported(format!(
                    "the derived component {derived:.64}"
                )));
            }
            field
                if !field.is_empty()
                    && field.bytes().all(|b| {
                        b.is_ascii_lowercase()
                            || b.is_ascii_digit()
                            || b"-_.!#$%&'*+^`|~".contains(&b)
                    }) =>
            {
                Self::Field(field.to_owned())
            }
            other => {
                return Err(HttpSignatureError::Malformed(format!(
                    "{other:.64} is no component name"
                )));
            }
        })
    }

    /// Its name in a signature base.
    pub fn name(&self) -> &str {
        match self {
            Self::Method => "@method",
            Self::TargetUri => "@target-uri",
            Self::Authority => "@authority",
            Self::Scheme => "@scheme",
            Self::Path => "@path",
            Self::Query => "@query",
            Self::Field(name) | Self::Member { field: name, .. } => name,
            Self::RequestAuthority => "@authority",
        }
    }

    /// Its identifier as the signature base and `Signature-Input` write it: the quoted name
    /// and its parameters (`"@authority";req`, `"signature-agent";key="vouch"`).
    fn identifier(&self) -> Result<String, HttpSignatureError> {
        let item = sfv::ItemSerializer::new().bare_item(string(self.name())?);
        Ok(match self {
            Self::RequestAuthority => item.parameter(key("req"), true).finish(),
            Self::Member { key: member, .. } => {
                item.parameter(key("key"), string(member)?).finish()
            }
            _ => item.finish(),
        })
    }

    /// The component of `name` with the parameters `params` (`req`, `key`; no other is
    /// checked, so none other is taken).
    fn with_parameters(name: &str, params: &sfv::Parameters) -> Result<Self, HttpSignatureError> {
        let plain = Self::parse(name)?;
        let unsupported =
            || HttpSignatureError::Unsupported(format!("parameters on the component {name:.64}"));
        if params.is_empty() {
            return Ok(plain);
        }
        if params.len() != 1 {
            return Err(unsupported());
        }
        match (plain, params.iter().next()) {
            (Self::Authority, Some((k, sfv::BareItem::Boolean(true)))) if k.as_str() == "req" => {
                Ok(Self::RequestAuthority)
            }
            (Self::Field(field), Some((k, sfv::BareItem::String(member))))
                if k.as_str() == "key" =>
            {
                Ok(Self::Member {
                    field,
                    key: member.as_str().to_owned(),
                })
            }
            _ => Err(unsupported()),
        }
    }

    /// Its value in `request` (RFC 9421 §2.1, §2.2).
    fn value(&self, request: &Request<'_>) -> Result<String, HttpSignatureError> {
        let target = request.target;
        let value = match self {
            Self::Method => request.method.to_owned(),
            Self::TargetUri => target.as_str().to_owned(),
            Self::Authority | Self::RequestAuthority => {
                let host = target
                    .host_str()
                    .ok_or_else(|| HttpSignatureError::Malformed("a target without a host".into()))?
                    .to_ascii_lowercase();
                match target.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host,
                }
            }
            Self::Scheme => target.scheme().to_ascii_lowercase(),
            Self::Path => match target.path() {
                "" => "/".to_owned(),
                path => path.to_owned(),
            },
            Self::Query => format!("?{}", target.query().unwrap_or_default()),
            Self::Field(name) => field_value(request, name)?,
            Self::Member { field, key: member } => {
                let dictionary = sfv::Parser::new(&field_value(request, field)?)
                    .parse_dictionary()
                    .map_err(|e| HttpSignatureError::Malformed(format!("{field}: {e}")))?;
                match dictionary.get(member.as_str()) {
                    Some(sfv::ListEntry::Item(item)) => {
                        let mut list = sfv::ListSerializer::new();
                        list.members([&sfv::ListEntry::Item(item.clone())]);
                        list.finish().unwrap_or_default()
                    }
                    Some(sfv::ListEntry::InnerList(inner)) => {
                        let mut list = sfv::ListSerializer::new();
                        list.members([&sfv::ListEntry::InnerList(inner.clone())]);
                        list.finish().unwrap_or_default()
                    }
                    None => {
                        return Err(HttpSignatureError::NotCovered(format!(
                            "{field} has no member {member:.64}"
                        )));
                    }
                }
            }
        };
        if value.contains(['\r', '\n']) {
            return Err(HttpSignatureError::Malformed(format!(
                "{} holds a line break",
                self.name()
            )));
        }
        Ok(value)
    }
}

/// The value of the field `name` in `request`: its values trimmed and joined (RFC 9421 §2.1).
fn field_value(request: &Request<'_>, name: &str) -> Result<String, HttpSignatureError> {
    let values: Vec<&str> = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim_matches([' ', '\t']))
        .collect();
    if values.is_empty() {
        return Err(HttpSignatureError::NotCovered(format!(
            "the request has no {name} field"
        )));
    }
    Ok(values.join(", "))
}

/// A signature's parameters (RFC 9421 §2.3), in the order they are written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parameters {
    /// When it was made (seconds since the epoch).
    pub created: Option<i64>,
    /// Until when it may be used.
    pub expires: Option<i64>,
    /// A value used once.
    pub nonce: Option<String>,
    /// The key's name, as the verifier knows it.
    pub keyid: Option<String>,
    /// The algorithm (`ed25519`).
    pub alg: Option<String>,
    /// What the signature is for (`vouch`, `web-bot-auth`).
    pub tag: Option<String>,
}

/// A signature made: the members of `Signature-Input` and `Signature` under its label, and the
/// base that was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// `Signature-Input`: `label=("@method" …);created=…`.
    pub input: String,
    /// `Signature`: `label=:…:`.
    pub signature: String,
    /// The signature base.
    pub base: String,
}

/// Why a request's signature is not believed, or could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpSignatureError {
    /// A field or parameter is not what RFC 9421 or RFC 9651 says.
    #[error("malformed: {0}")]
    Malformed(String),
    /// The signature does not cover what it must, or covers what the request lacks.
    #[error("not covered: {0}")]
    NotCovered(String),
    /// A component or parameter this verifier does not check.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Outside its window (`created` in the future, `expires` past, or too long a life).
    #[error("expired: {0}")]
    Expired(String),
    /// Its nonce was seen before.
    #[error("replayed: the nonce was used before")]
    Replayed,
    /// No key of that `keyid`.
    #[error("unknown key: {0}")]
    UnknownKey(String),
    /// The body is not the one `Content-Digest` names.
    #[error("the body does not match Content-Digest")]
    DigestMismatch,
    /// The signature does not verify under the key.
    #[error("the signature does not verify")]
    InvalidSignature,
}

fn key(name: &str) -> &sfv::KeyRef {
    sfv::KeyRef::from_str(name).expect("a structured field key")
}

fn string(value: &str) -> Result<&sfv::StringRef, HttpSignatureError> {
    sfv::StringRef::from_str(value)
        .map_err(|e| HttpSignatureError::Malformed(format!("{value:.64}: {e}")))
}

/// The `@signature-params` value: the covered components and the parameters, as an inner list.
fn signature_params(
    covered: &[Component],
    parameters: &Parameters,
) -> Result<String, HttpSignatureError> {
    let mut params: Vec<(&sfv::KeyRef, sfv::RefBareItem<'_>)> = Vec::with_capacity(6);
    if let Some(created) = parameters.created {
        params.push((key("created"), integer(created)?.into()));
    }
    if let Some(expires) = parameters.expires {
        params.push((key("expires"), integer(expires)?.into()));
    }
    for (name, value) in [
        ("nonce", &parameters.nonce),
        ("keyid", &parameters.keyid),
        ("alg", &parameters.alg),
        ("tag", &parameters.tag),
    ] {
        if let Some(value) = value {
            params.push((key(name), string(value)?.into()));
        }
    }
    let mut list = sfv::ListSerializer::new();
    {
        let mut inner = list.inner_list();
        for component in covered {
            let item = inner.bare_item(string(component.name())?);
            let _ = match component {
                Component::RequestAuthority => item.parameter(key("req"), true),
                Component::Member { key: member, .. } => {
                    item.parameter(key("key"), string(member)?)
                }
                _ => item,
            };
        }
        let _ = inner.finish().parameters(params);
    }
    list.finish()
        .ok_or_else(|| HttpSignatureError::Malformed("no signature parameters".into()))
}

fn integer(value: i64) -> Result<sfv::Integer, HttpSignatureError> {
    sfv::Integer::try_from(value)
        .map_err(|e| HttpSignatureError::Malformed(format!("{value}: {e}")))
}

/// The signature base of `request` for `covered` with `parameters` (RFC 9421 §2.5).
pub fn signature_base(
    request: &Request<'_>,
    covered: &[Component],
    parameters: &Parameters,
) -> Result<String, HttpSignatureError> {
    base_with(request, covered, &signature_params(covered, parameters)?)
}

/// The signature base with its `@signature-params` value as serialized (a verifier's is the
/// signer's, its parameters in the signer's order).
fn base_with(
    request: &Request<'_>,
    covered: &[Component],
    params: &str,
) -> Result<String, HttpSignatureError> {
    if covered.len() > MAX_COMPONENTS {
        return Err(HttpSignatureError::Malformed(format!(
            "{} components: at most {MAX_COMPONENTS}",
            covered.len()
        )));
    }
    let mut base = String::new();
    for (n, component) in covered.iter().enumerate() {
        if covered[..n].contains(component) {
            return Err(HttpSignatureError::Malformed(format!(
                "{} covered twice",
                component.name()
            )));
        }
        base.push_str(&component.identifier()?);
        base.push_str(": ");
        base.push_str(&component.value(request)?);
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(params);
    Ok(base)
}

/// The JWK of an Ed25519 public key (RFC 8037), its `kid` its thumbprint: what a key
/// directory lists.
pub fn jwk(public: &PublicKey) -> serde_json::Value {
    use base64::Engine as _;
    serde_json::json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(public.as_bytes()),
        "kid": jwk_thumbprint(public),
        "use": "sig",
    })
}

/// The JWK SHA-256 thumbprint of an Ed25519 public key (RFC 7638, RFC 8037 §A.3), base64url:
/// a Web Bot Auth signature's `keyid`.
pub fn jwk_thumbprint(public: &PublicKey) -> String {
    use base64::Engine as _;
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(public.as_bytes());
    // The required members in lexicographic order, no whitespace (RFC 7638 §3.3).
    let members = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(members.as_bytes()))
}

/// A key directory's response, signed: its body (a JWK Set of the key) and its header fields
/// (`Content-Type`, `Cache-Control`, `Content-Digest`, `Signature-Input`, `Signature`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    /// The JWK Set.
    pub body: Vec<u8>,
    /// The header fields.
    pub headers: Vec<(String, String)>,
}

/// The key directory of `key_pair`, answering a request for `target` at `created`: a JWK Set
/// of its public key, and the signature the draft asks of it — over `"@authority";req` (the
/// authority the verifier asked) and `content-digest`, `tag="http-message-signatures-directory"`,
/// `keyid` the thumbprint, valid [`DIRECTORY_LIFETIME_SECS`]. It proves the directory's server
/// holds the key; its base can be taken for no request's (it begins `"@authority";req`).
pub fn key_directory(
    key_pair: &KeyPair,
    target: &Url,
    created: i64,
    label: &str,
) -> Result<Directory, HttpSignatureError> {
    let public = key_pair.public();
    let body = serde_json::to_vec(&serde_json::json!({"keys": [jwk(&public)]}))
        .map_err(|e| HttpSignatureError::Malformed(e.to_string()))?;
    let mut headers = vec![
        ("content-type".to_owned(), DIRECTORY_MEDIA_TYPE.to_owned()),
        ("cache-control".to_owned(), "max-age=300".to_owned()),
        ("content-digest".to_owned(), content_digest(&body)),
    ];
    let message = Request {
        method: "GET",
        target,
        headers: &headers,
        body: Some(&body),
    };
    let parameters = Parameters {
        created: Some(created),
        expires: Some(created + DIRECTORY_LIFETIME_SECS),
        nonce: None,
        keyid: Some(jwk_thumbprint(&public)),
        alg: Some("ed25519".into()),
        tag: Some(DIRECTORY_TAG.into()),
    };
    let signed = sign(
        key_pair,
        &message,
        &[
            Component::RequestAuthority,
            Component::Field("content-digest".into()),
        ],
        &parameters,
        label,
    )?;
    headers.push(("signature-input".to_owned(), signed.input));
    headers.push(("signature".to_owned(), signed.signature));
    Ok(Directory { body, headers })
}

/// `Content-Digest` of `body` (RFC 9530): `sha-256=:…:`.
pub fn content_digest(body: &[u8]) -> String {
    let mut dictionary = sfv::DictSerializer::new();
    dictionary.bare_item(key("sha-256"), Sha256::digest(body).as_slice());
    dictionary.finish().expect("one member")
}

/// Signs `request` over `covered` with `parameters`, under `label`.
pub fn sign(
    key_pair: &KeyPair,
    request: &Request<'_>,
    covered: &[Component],
    parameters: &Parameters,
    label: &str,
) -> Result<Signed, HttpSignatureError> {
    let label = sfv::KeyRef::from_str(label)
        .map_err(|e| HttpSignatureError::Malformed(format!("the label {label:.64}: {e}")))?;
    let base = signature_base(request, covered, parameters)?;
    let signature = key_pair.sign(base.as_bytes());
    let params = signature_params(covered, parameters)?;
    let mut input = label.as_str().to_owned();
    input.push('=');
    input.push_str(&params);
    let mut value = sfv::DictSerializer::new();
    value.bare_item(label, signature.as_slice());
    Ok(Signed {
        input,
        signature: value.finish().expect("one member"),
        base,
    })
}

/// What a verifier requires of a signature.
#[derive(Debug, Clone)]
pub struct Policy<'a> {
    /// The components it must cover.
    pub required: &'a [Component],
    /// The `tag`s it may carry, one of which it must; none: any tag, or none.
    pub tags: &'a [&'a str],
    /// Whether `expires` and `nonce` must be there (a signature good for one use, shortly).
    pub fresh: bool,
    /// The longest it may be valid: `expires` at most this many seconds after `created`
    /// ([`MAX_LIFETIME_SECS`] for a request).
    pub lifetime: i64,
}

/// A signature believed: under which key, what it covers, with which parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The label.
    pub label: String,
    /// The key's name.
    pub keyid: String,
    /// What it covers.
    pub covered: Vec<Component>,
    /// Its parameters.
    pub parameters: Parameters,
}

/// Checks the signature of `request` under `label` in its `Signature-Input` and `Signature`
/// fields, with the key `keys` gives for its `keyid`, at `now` (seconds since the epoch).
/// `first_use` is asked of a nonce once everything else verified, with the time until which
/// it must be remembered; it answers whether the nonce is new.
pub fn verify(
    request: &Request<'_>,
    label: &str,
    policy: &Policy<'_>,
    keys: impl Fn(&str) -> Option<PublicKey>,
    now: i64,
    first_use: impl FnOnce(&str, i64) -> bool,
) -> Result<Verified, HttpSignatureError> {
    let field = |name: &str| -> Result<String, HttpSignatureError> {
        let values: Vec<&str> = request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        let joined = values.join(", ");
        match joined.len() {
            0 => Err(HttpSignatureError::NotCovered(format!("no {name} field"))),
            n if n > MAX_FIELD_BYTES => Err(HttpSignatureError::Malformed(format!(
                "{name}: {n} bytes, at most {MAX_FIELD_BYTES}"
            ))),
            _ => Ok(joined),
        }
    };
    let malformed = |e: sfv::Error| HttpSignatureError::Malformed(e.to_string());
    let inputs = sfv::Parser::new(&field("signature-input")?)
        .parse_dictionary()
        .map_err(malformed)?;
    let signatures = sfv::Parser::new(&field("signature")?)
        .parse_dictionary()
        .map_err(malformed)?;
    let Some(sfv::ListEntry::InnerList(inner)) = inputs.get(label) else {
        return Err(HttpSignatureError::NotCovered(format!(
            "no signature input {label:.64}"
        )));
    };
    let signature: [u8; 64] = match signatures.get(label) {
        Some(sfv::ListEntry::Item(sfv::Item {
            bare_item: sfv::BareItem::ByteSequence(bytes),
            ..
        })) => bytes.as_slice().try_into().map_err(|_| {
            HttpSignatureError::Malformed("an Ed25519 signature is 64 bytes".into())
        })?,
        _ => {
            return Err(HttpSignatureError::NotCovered(format!(
                "no signature {label:.64}"
            )));
        }
    };

    let mut covered = Vec::with_capacity(inner.items.len());
    if inner.items.len() > MAX_COMPONENTS {
        return Err(HttpSignatureError::Malformed(format!(
            "{} components: at most {MAX_COMPONENTS}",
            inner.items.len()
        )));
    }
    for item in &inner.items {
        match &item.bare_item {
            sfv::BareItem::String(name) => {
                covered.push(Component::with_parameters(name.as_str(), &item.params)?)
            }
            _ => {
                return Err(HttpSignatureError::Malformed(
                    "a component is a string".into(),
                ));
            }
        }
    }
    let parameters = parameters_of(&inner.params)?;
    for required in policy.required {
        if !covered.contains(required) {
            return Err(HttpSignatureError::NotCovered(format!(
                "{} is not covered",
                required.name()
            )));
        }
    }
    if request.body.is_some_and(|b| !b.is_empty())
        && !covered.contains(&Component::Field("content-digest".into()))
    {
        return Err(HttpSignatureError::NotCovered(
            "a body without content-digest covered".into(),
        ));
    }
    if !policy.tags.is_empty()
        && !parameters
            .tag
            .as_deref()
            .is_some_and(|tag| policy.tags.contains(&tag))
    {
        return Err(HttpSignatureError::NotCovered(format!(
            "not tagged {}",
            policy.tags.join(" or ")
        )));
    }
    if parameters
        .alg
        .as_deref()
        .is_some_and(|alg| alg != "ed25519")
    {
        return Err(HttpSignatureError::Unsupported(
            "an algorithm other than ed25519".into(),
        ));
    }
    let created = parameters
        .created
        .ok_or_else(|| HttpSignatureError::NotCovered("no created".into()))?;
    if created > now + CLOCK_SKEW_SECS {
        return Err(HttpSignatureError::Expired(format!(
            "created {created}, ahead of {now}"
        )));
    }
    match parameters.expires {
        Some(expires) if expires < created || expires - created > policy.lifetime => {
            return Err(HttpSignatureError::Expired(format!(
                "valid for {} s: at most {}",
                expires - created,
                policy.lifetime
            )));
        }
        Some(expires) if expires < now => {
            return Err(HttpSignatureError::Expired(format!(
                "expired at {expires}, now {now}"
            )));
        }
        None if policy.fresh => {
            return Err(HttpSignatureError::NotCovered("no expires".into()));
        }
        _ => {}
    }
    if policy.fresh && parameters.nonce.is_none() {
        return Err(HttpSignatureError::NotCovered("no nonce".into()));
    }
    let keyid = parameters
        .keyid
        .clone()
        .ok_or_else(|| HttpSignatureError::NotCovered("no keyid".into()))?;
    let public =
        keys(&keyid).ok_or_else(|| HttpSignatureError::UnknownKey(format!("{keyid:.128}")))?;

    if covered.contains(&Component::Field("content-digest".into())) {
        let body = request.body.unwrap_or_default();
        let digests = sfv::Parser::new(&field("content-digest")?)
            .parse_dictionary()
            .map_err(malformed)?;
        let matches = |name: &str, digest: &[u8]| match digests.get(name) {
            Some(sfv::ListEntry::Item(sfv::Item {
                bare_item: sfv::BareItem::ByteSequence(bytes),
                ..
            })) => Some(bytes.as_slice() == digest),
            _ => None,
        };
        let checked = [
            matches("sha-256", Sha256::digest(body).as_slice()),
            matches("sha-512", Sha512::digest(body).as_slice()),
        ];
        if checked.iter().all(Option::is_none) || checked.contains(&Some(false)) {
            return Err(HttpSignatureError::DigestMismatch);
        }
    }

    let mut params = sfv::ListSerializer::new();
    params.members([&sfv::ListEntry::InnerList(inner.clone())]);
    let params = params
        .finish()
        .ok_or_else(|| HttpSignatureError::Malformed("no signature parameters".into()))?;
    let base = base_with(request, &covered, &params)?;
    if !public.verify(base.as_bytes(), &signature) {
        return Err(HttpSignatureError::InvalidSignature);
    }
    if let Some(nonce) = &parameters.nonce {
        let until = parameters.expires.unwrap_or(created + MAX_LIFETIME_SECS);
        if !first_use(nonce, until) {
            return Err(HttpSignatureError::Replayed);
        }
    }
    Ok(Verified {
        label: label.to_owned(),
        keyid,
        covered,
        parameters,
    })
}

/// The parameters of a signature input, each of the six once and of its type; any other is
/// refused (a verifier must not pass over what it does not check).
fn parameters_of(params: &sfv::Parameters) -> Result<Parameters, HttpSignatureError> {
    let mut parameters = Parameters::default();
    for (name, value) in params {
        let wrong = || HttpSignatureError::Malformed(format!("the parameter {}", name.as_str()));
        let text = || match value {
            sfv::BareItem::String(s) => Ok(s.as_str().to_owned()),
            _ => Err(wrong()),
        };
        let number = || match value {
            sfv::BareItem::Integer(n) => Ok(i64::from(*n)),
            _ => Err(wrong()),
        };
        match name.as_str() {
            "created" => parameters.created = Some(number()?),
            "expires" => parameters.expires = Some(number()?),
            "nonce" => {
                let nonce = text()?;
                if nonce.len() > MAX_NONCE_BYTES {
                    return Err(HttpSignatureError::Malformed(format!(
                        "a nonce of {} bytes: at most {MAX_NONCE_BYTES}",
                        nonce.len()
                    )));
                }
                parameters.nonce = Some(nonce);
            }
            "keyid" => parameters.keyid = Some(text()?),
            "alg" => parameters.alg = Some(text()?),
            "tag" => parameters.tag = Some(text()?),
            other => {
                return Err(HttpSignatureError::Unsupported(format!(
                    "the parameter {other:.64}"
                )));
            }
        }
    }
    Ok(parameters)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    /// RFC 9421 Appendix B.1.4's `test-key-ed25519` (its JWK's `d` and `x`).
    fn rfc_key() -> KeyPair {
        let seed: [u8; 32] = URL_SAFE_NO_PAD
            .decode("n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU")
            .expect("base64url")
            .try_into()
            .expect("32 bytes");
        let pair = KeyPair::from_seed(&seed);
        assert_eq!(
            URL_SAFE_NO_PAD.encode(pair.public().as_bytes()),
            "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"
        );
        pair
    }

    /// RFC 9421 Appendix B.2's test request.
    fn rfc_headers() -> Vec<(String, String)> {
        [
            ("Host", "example.com"),
            ("Date", "Tue, 20 Apr 2021 02:07:55 GMT"),
            ("Content-Type", "application/json"),
            (
                "Content-Digest",
                "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
            ),
            ("Content-Length", "18"),
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .to_vec()
    }

    const RFC_BODY: &[u8] = br#"{"hello": "world"}"#;

    /// RFC 9421 Appendix B.2.6, byte for byte: the signature base of the test request, the
    /// Ed25519 signature over it (deterministic), and the two fields.
    #[test]
    fn rfc_9421_b_2_6_is_reproduced_byte_for_byte() {
        let target = Url::parse("https://example.com/foo?param=Value&Pet=dog").expect("a URL");
        let headers = rfc_headers();
        let request = Request {
            method: "POST",
            target: &target,
            headers: &headers,
            body: Some(RFC_BODY),
        };
        let covered: Vec<Component> = [
            "date",
            "@method",
            "@path",
            "@authority",
            "content-type",
            "content-length",
        ]
        .iter()
        .map(|n| Component::parse(n).expect("a component"))
        .collect();
        let parameters = Parameters {
            created: Some(1_618_884_473),
            keyid: Some("test-key-ed25519".into()),
            ..Parameters::default()
        };
        let signed = sign(&rfc_key(), &request, &covered, &parameters, "sig-b26").expect("signed");
        assert_eq!(
            signed.base,
            concat!(
                "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n",
                "\"@method\": POST\n",
                "\"@path\": /foo\n",
                "\"@authority\": example.com\n",
                "\"content-type\": application/json\n",
                "\"content-length\": 18\n",
                "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" ",
                "\"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\"",
            )
        );
        assert_eq!(
            signed.input,
            "sig-b26=(\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \
             \"content-length\");created=1618884473;keyid=\"test-key-ed25519\""
        );
        assert_eq!(
            signed.signature,
            "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:"
        );

        // And the RFC's own fields verify here (the body's sha-512 digest checked too, though
        // this signature does not cover it).
        let mut received = headers.clone();
        received.push(("Signature-Input".into(), signed.input.clone()));
        received.push(("Signature".into(), signed.signature.clone()));
        let request = Request {
            headers: &received,
            body: None,
            ..request
        };
        let public = rfc_key().public();
        let verified = verify(
            &request,
            "sig-b26",
            &Policy {
                required: &[Component::Method, Component::Authority],
                tags: &[],
                lifetime: MAX_LIFETIME_SECS,
                fresh: false,
            },
            |id| (id == "test-key-ed25519").then_some(public),
            1_618_884_473 + 10,
            |_, _| true,
        )
        .expect("verified");
        assert_eq!(verified.keyid, "test-key-ed25519");
        assert_eq!(verified.covered, covered);
    }

    /// RFC 9530's `Content-Digest` of RFC 9421's test body: sha-256, as a structured field.
    #[test]
    fn jwk_thumbprints_are_rfc_8037s_and_the_drafts() {
        // RFC 8037 Appendix A.3.
        let x: [u8; 32] = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .expect("base64url")
            .try_into()
            .expect("32 bytes");
        let public = PublicKey::from_bytes(&x).expect("a key");
        assert_eq!(
            jwk_thumbprint(&public),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        // RFC 9421's test-key-ed25519, as the Web Bot Auth drafts name it.
        assert_eq!(
            jwk_thumbprint(&rfc_key().public()),
            "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U"
        );
    }

    #[test]
    fn a_dictionary_member_and_a_requests_authority_are_components() {
        // RFC 9421 §2.1.2's example dictionary.
        let target = Url::parse("https://example.com/").expect("a URL");
        let headers = vec![(
            "Example-Dict".to_owned(),
            " a=1, b=2;x=1;y=2, c=(a   b    c), d".to_owned(),
        )];
        let request = Request {
            method: "GET",
            target: &target,
            headers: &headers,
            body: None,
        };
        let member = |key: &str| Component::Member {
            field: "example-dict".into(),
            key: key.into(),
        };
        let base = signature_base(
            &request,
            &[
                member("a"),
                member("d"),
                member("b"),
                member("c"),
                Component::RequestAuthority,
            ],
            &Parameters::default(),
        )
        .expect("a base");
        assert_eq!(
            base,
            "\"example-dict\";key=\"a\": 1\n\"example-dict\";key=\"d\": ?1\n\
             \"example-dict\";key=\"b\": 2;x=1;y=2\n\"example-dict\";key=\"c\": (a b c)\n\
             \"@authority\";req: example.com\n\
             \"@signature-params\": (\"example-dict\";key=\"a\" \"example-dict\";key=\"d\" \
             \"example-dict\";key=\"b\" \"example-dict\";key=\"c\" \"@authority\";req)"
        );
        // A member the field lacks is not covered; a parameter not checked is refused.
        assert!(matches!(
            signature_base(&request, &[member("z")], &Parameters::default()),
            Err(HttpSignatureError::NotCovered(_))
        ));
        let mut params = sfv::Parameters::new();
        params.insert(
            sfv::KeyRef::from_str("bs").expect("a key").to_owned(),
            sfv::BareItem::Boolean(true),
        );
        assert!(matches!(
            Component::with_parameters("example-dict", &params),
            Err(HttpSignatureError::Unsupported(_))
        ));
    }

    #[test]
    fn a_key_directory_is_its_keys_jwk_set_signed_by_it() {
        let pair = rfc_key();
        let target = Url::parse(&format!("https://agent.example{DIRECTORY_PATH}")).expect("a URL");
        let directory = key_directory(&pair, &target, 1_800_000_000, "sig1").expect("signed");
        let jwks: serde_json::Value = serde_json::from_slice(&directory.body).expect("JSON");
        assert_eq!(
            jwks["keys"][0]["x"],
            "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"
        );
        assert_eq!(
            jwks["keys"][0]["kid"],
            "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U"
        );
        let request = Request {
            method: "GET",
            target: &target,
            headers: &directory.headers,
            body: Some(&directory.body),
        };
        let policy = Policy {
            required: &[
                Component::RequestAuthority,
                Component::Field("content-digest".into()),
            ],
            tags: &[DIRECTORY_TAG],
            fresh: false,
            lifetime: DIRECTORY_LIFETIME_SECS,
        };
        let keys = |keyid: &str| {
            (keyid == "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U").then(|| pair.public())
        };
        verify(&request, "sig1", &policy, keys, 1_800_000_100, |_, _| true).expect("verifies");
        // Asked at another authority, it does not verify there.
        let elsewhere =
            Url::parse(&format!("https://other.example{DIRECTORY_PATH}")).expect("a URL");
        let moved = Request {
            target: &elsewhere,
            ..request
        };
        assert_eq!(
            verify(&moved, "sig1", &policy, keys, 1_800_000_100, |_, _| true),
            Err(HttpSignatureError::InvalidSignature)
        );
    }

    #[test]
    fn content_digest_is_rfc_9530s() {
        assert_eq!(
            content_digest(RFC_BODY),
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
        );
        assert_eq!(
            content_digest(b"{\"hello\": \"world\"}\n"),
            "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"
        );
    }

    /// A Vouch signature: fresh (created, expires ≤ 60 s, nonce), over the method, the target
    /// and the body's digest. Each change of what was signed, and each stale or replayed use,
    /// is refused with its own error.
    #[test]
    fn what_was_signed_cannot_change_and_a_signature_is_used_once() {
        let pair = KeyPair::generate();
        let target = Url::parse("https://billing.example/refunds/42?amount=10").expect("a URL");
        let body = br#"{"amount": 10}"#;
        let mut headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("Content-Digest".to_owned(), content_digest(body)),
        ];
        let covered = [
            Component::Method,
            Component::TargetUri,
            Component::Field("content-digest".into()),
        ];
        let now = 1_800_000_000;
        let parameters = Parameters {
            created: Some(now),
            expires: Some(now + 30),
            nonce: Some("n-1".into()),
            keyid: Some("k".into()),
            alg: Some("ed25519".into()),
            tag: Some("vouch".into()),
        };
        let unsigned = headers.clone();
        let request = Request {
            method: "POST",
            target: &target,
            headers: &unsigned,
            body: Some(body),
        };
        let signed = sign(&pair, &request, &covered, &parameters, "vouch").expect("signed");
        headers.push(("Signature-Input".into(), signed.input.clone()));
        headers.push(("Signature".into(), signed.signature.clone()));
        let public = pair.public();
        let policy = Policy {
            required: &covered,
            tags: &["vouch"],
            lifetime: MAX_LIFETIME_SECS,
            fresh: true,
        };
        let check = |request: &Request<'_>, at: i64, seen: bool| {
            verify(
                request,
                "vouch",
                &policy,
                |id| (id == "k").then_some(public),
                at,
                |_, _| !seen,
            )
        };
        let request = Request {
            headers: &headers,
            ..request
        };
        assert!(check(&request, now + 1, false).is_ok());
        assert_eq!(
            check(&request, now + 1, true),
            Err(HttpSignatureError::Replayed)
        );
        assert!(matches!(
            check(&request, now + 31, false),
            Err(HttpSignatureError::Expired(_))
        ));
        assert!(matches!(
            check(&request, now - 60, false),
            Err(HttpSignatureError::Expired(_))
        ));
        // Another body under the same digest header.
        let other = Request {
            body: Some(br#"{"amount": 10000}"#),
            ..request
        };
        assert_eq!(
            check(&other, now + 1, false),
            Err(HttpSignatureError::DigestMismatch)
        );
        // Another path, another method.
        let elsewhere = Url::parse("https://billing.example/refunds/43?amount=10").expect("a URL");
        let moved = Request {
            target: &elsewhere,
            ..request
        };
        assert_eq!(
            check(&moved, now + 1, false),
            Err(HttpSignatureError::InvalidSignature)
        );
        let deleted = Request {
            method: "DELETE",
            ..request
        };
        assert_eq!(
            check(&deleted, now + 1, false),
            Err(HttpSignatureError::InvalidSignature)
        );
        // A key the verifier does not know.
        assert!(matches!(
            verify(&request, "vouch", &policy, |_| None, now + 1, |_, _| true),
            Err(HttpSignatureError::UnknownKey(_))
        ));
        // A policy the signature does not meet: another tag, a component not covered.
        let stricter = Policy {
            required: &[Component::Field("vouch-capability".into())],
            tags: &["vouch"],
            lifetime: MAX_LIFETIME_SECS,
            fresh: true,
        };
        assert!(matches!(
            verify(
                &request,
                "vouch",
                &stricter,
                |_| Some(public),
                now + 1,
                |_, _| true
            ),
            Err(HttpSignatureError::NotCovered(_))
        ));
        // Too long a life is refused, whatever the signer wanted.
        let mut long = headers[..2].to_vec();
        let lasting = Parameters {
            expires: Some(now + MAX_LIFETIME_SECS + 1),
            ..parameters.clone()
        };
        let signed = sign(
            &pair,
            &Request {
                headers: &long,
                ..request
            },
            &covered,
            &lasting,
            "vouch",
        )
        .expect("signed");
        long.push(("Signature-Input".into(), signed.input));
        long.push(("Signature".into(), signed.signature));
        assert!(matches!(
            check(
                &Request {
                    headers: &long,
                    ..request
                },
                now + 1,
                false
            ),
            Err(HttpSignatureError::Expired(_))
        ));
        // A base64 signature of the wrong length, an unknown parameter: malformed, not passed.
        for (input, signature) in [
            (signed_input(&headers), "vouch=:AAAA:".to_owned()),
            (
                signed_input(&headers).replace(";tag=", ";extra=1;tag="),
                signed_signature(&headers),
            ),
            (
                signed_input(&headers)
                    .replace("nonce=\"n-1\"", &format!("nonce=\"{}\"", "n".repeat(200))),
                signed_signature(&headers),
            ),
        ] {
            let mut bad = headers[..2].to_vec();
            bad.push(("Signature-Input".into(), input));
            bad.push(("Signature".into(), signature));
            let result = check(
                &Request {
                    headers: &bad,
                    ..request
                },
                now + 1,
                false,
            );
            assert!(
                matches!(
                    result,
                    Err(HttpSignatureError::Malformed(_) | HttpSignatureError::Unsupported(_))
                ),
                "{result:?}"
            );
        }
        let _ = STANDARD;
    }

    fn signed_input(headers: &[(String, String)]) -> String {
        headers
            .iter()
            .find(|(n, _)| n == "Signature-Input")
            .map(|(_, v)| v.clone())
            .expect("an input")
    }

    fn signed_signature(headers: &[(String, String)]) -> String {
        headers
            .iter()
            .find(|(n, _)| n == "Signature")
            .map(|(_, v)| v.clone())
            .expect("a signature")
    }
}
