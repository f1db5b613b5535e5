//! What a service checks of a request an agent signed (RFC 9421, [`crate::http_signature`])
//! before it acts on it: the signature (fresh, once, its body's digest, under the did:key its
//! `keyid` names), then the capability it relies on — the `Vouch-Capability` field names a
//! credential and an action — against the presentation the request carries (`Vouch-Presentation`,
//! covered by the signature, made over the signature's nonce for the service's origin): the
//! presentation verifies with everything the verifier holds (issuers, status, chains), its
//! holder is the signer, and the named credential's chain permits `{action, the URL without its
//! query, arguments}`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::capability::Request as Wanted;
use crate::did::Did;
use crate::http_signature::{
    self, CAPABILITY_FIELD, Component, HttpSignatureError, LABEL, Policy, Request, TAG,
};
use crate::presentation::{Chain, verify_presentation};
use crate::report::Reason;
use crate::verify::Verifier;

/// The field carrying the agent's presentation: base64url (unpadded) of its JSON.
pub const PRESENTATION_FIELD: &str = "vouch-presentation";
/// The largest presentation field read.
pub const MAX_PRESENTATION_FIELD: usize = 64 * 1024;

/// A signed request the service may act on: who signed, under which credential and action,
/// and the chain that permits it.
#[derive(Debug, Clone)]
pub struct Permitted {
    /// The agent instance that signed.
    pub signer: Did,
    /// The credential relied on.
    pub credential: String,
    /// The action.
    pub action: String,
    /// Its chain, root first.
    pub chain: Chain,
}

/// Why a signed request is refused: a DESIGN §8 reason and what happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} ({message})", reason.code())]
pub struct Refused {
    /// The reason code.
    pub reason: Reason,
    /// What happened.
    pub message: String,
}

fn refused(reason: Reason, message: impl Into<String>) -> Refused {
    Refused {
        reason,
        message: message.into(),
    }
}

impl From<HttpSignatureError> for Refused {
    fn from(error: HttpSignatureError) -> Self {
        let reason = match &error {
            HttpSignatureError::Malformed(_) | HttpSignatureError::Unsupported(_) => {
                Reason::Malformed
            }
            HttpSignatureError::NotCovered(_) => Reason::RequestMismatch,
            HttpSignatureError::Expired(_) => Reason::Expired,
            HttpSignatureError::Replayed => Reason::Replayed,
            HttpSignatureError::UnknownKey(_) => Reason::UnresolvableDid,
            HttpSignatureError::DigestMismatch | HttpSignatureError::InvalidSignature => {
                Reason::InvalidProof
            }
        };
        refused(reason, error.to_string())
    }
}

/// Checks `request`, signed by an agent, for the call it makes with `arguments`, with what
/// `verifier` holds; `first_use` answers whether the signature's nonce is new (and remembers
/// it until the time it is given).
pub fn check(
    request: &Request<'_>,
    arguments: &Map<String, Value>,
    verifier: &Verifier<'_>,
    first_use: impl FnOnce(&str, i64) -> bool,
) -> Result<Permitted, Refused> {
    let now: DateTime<Utc> = verifier.now;
    let policy = Policy {
        required: &[
            Component::Method,
            Component::TargetUri,
            Component::Field(CAPABILITY_FIELD.into()),
            Component::Field(PRESENTATION_FIELD.into()),
        ],
        tag: Some(TAG),
        fresh: true,
    };
    let keys = |keyid: &str| {
        let did = Did::parse(keyid.split('#').next()?).ok()?;
        (did.method() == "key")
            .then(|| crate::did::key::key_of(&did).ok())
            .flatten()
    };
    // The nonce is used only once the request is permitted: a stranger's valid signature
    // without a capability takes no room in the verifier's memory of nonces.
    let signed =
        http_signature::verify(request, LABEL, &policy, keys, now.timestamp(), |_, _| true)?;
    let signer = Did::parse(signed.keyid.split('#').next().unwrap_or_default())
        .map_err(|e| refused(Reason::UnresolvableDid, e.to_string()))?;
    let nonce = signed
        .parameters
        .nonce
        .as_deref()
        .ok_or_else(|| refused(Reason::RequestMismatch, "no nonce"))?;

    let (credential, action) = capability_of(request)?;
    let presentation = presentation_of(request)?;
    let origin = request.target.origin().ascii_serialization();
    let verified = verify_presentation(&presentation, nonce, &origin, verifier);
    if !verified.report.verified {
        let first = verified.report.reasons().first().copied();
        return Err(refused(
            first.unwrap_or(Reason::InvalidProof),
            "the presentation does not verify",
        ));
    }
    if verified.holder.as_ref() != Some(&signer) {
        return Err(refused(
            Reason::NotHolder,
            "the presentation is not the signer's",
        ));
    }
    let chain = verified
        .chains
        .into_iter()
        .find(|chain| {
            chain
                .credentials
                .last()
                .is_some_and(|leaf| leaf.id.as_str() == credential)
        })
        .ok_or_else(|| {
            refused(
                Reason::NotHolder,
                format!("the presentation carries no {credential:.128}"),
            )
        })?;
    let mut resource = request.target.clone();
    resource.set_query(None);
    resource.set_fragment(None);
    let wanted = Wanted::from_json(&serde_json::json!({
        "action": action,
        "resource": resource.as_str(),
        "arguments": arguments,
    }))
    .map_err(|e| refused(Reason::Malformed, format!("the call: {e}")))?;
    chain
        .permits(&wanted, now)
        .map_err(|denial| refused(denial.reason(), denial.to_string()))?;
    let until = signed
        .parameters
        .expires
        .unwrap_or(now.timestamp() + http_signature::MAX_LIFETIME_SECS);
    if !first_use(nonce, until) {
        return Err(refused(Reason::Replayed, "the nonce was used before"));
    }
    Ok(Permitted {
        signer,
        credential,
        action,
        chain,
    })
}

/// The one value of field `name`, at most `limit` bytes.
fn field<'a>(request: &'a Request<'_>, name: &str, limit: usize) -> Result<&'a str, Refused> {
    let mut values = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str());
    let value = values
        .next()
        .ok_or_else(|| refused(Reason::RequestMismatch, format!("no {name} field")))?;
    if values.next().is_some() {
        return Err(refused(Reason::Malformed, format!("{name} twice")));
    }
    if value.len() > limit {
        return Err(refused(
            Reason::Malformed,
            format!("{name}: more than {limit} bytes"),
        ));
    }
    Ok(value)
}

/// `Vouch-Capability`'s credential and action.
fn capability_of(request: &Request<'_>) -> Result<(String, String), Refused> {
    let value = field(request, CAPABILITY_FIELD, 4096)?;
    let dictionary = sfv::Parser::new(value)
        .parse_dictionary()
        .map_err(|e| refused(Reason::Malformed, format!("{CAPABILITY_FIELD}: {e}")))?;
    let text = |key: &str| match dictionary.get(key) {
        Some(sfv::ListEntry::Item(sfv::Item {
            bare_item: sfv::BareItem::String(s),
            ..
        })) => Ok(s.as_str().to_owned()),
        _ => Err(refused(
            Reason::Malformed,
            format!("{CAPABILITY_FIELD} names no {key}"),
        )),
    };
    if dictionary.len() != 2 {
        return Err(refused(
            Reason::Malformed,
            format!("{CAPABILITY_FIELD}: credential and action, nothing else"),
        ));
    }
    Ok((text("credential")?, text("action")?))
}

/// The presentation the request carries (`Vouch-Presentation`), read but not verified: what a
/// verifier fetches status lists for before it [`check`]s.
pub fn presentation_of(request: &Request<'_>) -> Result<Value, Refused> {
    let value = field(request, PRESENTATION_FIELD, MAX_PRESENTATION_FIELD)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(value.trim())
        .map_err(|e| refused(Reason::Malformed, format!("{PRESENTATION_FIELD}: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| refused(Reason::Malformed, format!("{PRESENTATION_FIELD}: {e}")))
}
