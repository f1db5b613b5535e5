//! What a service checks of a request an agent signed (RFC 9421, [`crate::http_signature`])
//! before it acts on it: the signature (fresh, once, its body's digest, under the did:key its
//! `keyid` names), then the capability it relies on — the `Vouch-Capability` field names a
//! credential and an action — against the presentation the request carries (`Vouch-Presentation`,
//! covered by the signature, made over the signature's nonce for the service's origin): the
//! presentation verifies with everything the verifier holds (issuers, status, chains), its
//! holder is the signer, and the named credential's chain permits `{action, the URL without its
//! query, arguments}`.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::capability::Request as Wanted;
use crate::did::Did;
use crate::http_signature::{
    self, CAPABILITY_FIELD, Component, HttpSignatureError, LABEL, Policy, Request, TAG,
};
use crate::key::PublicKey;
use crate::lock::MutexExt as _;
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
    pub chain: Arc<Chain>,
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

/// A signed request whose signature verified (fresh, its digest, under its `keyid`'s did:key),
/// read for the capability it relies on, not yet permitted: [`Signed::permit`] decides.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The agent instance that signed.
    pub signer: Did,
    /// The credential `Vouch-Capability` names.
    pub credential: String,
    /// The action it names.
    pub action: String,
    /// The target's origin: the domain of the presentation, and part of the session's name.
    pub origin: String,
    /// The presentation the request carries, if it carries one (covered by the signature).
    pub presentation: Option<Value>,
    nonce: String,
    until: i64,
}

/// Verifies the signature of `request` at `now` and reads what it relies on. The nonce is not
/// taken here: it is taken once the request is permitted ([`check`]), so a stranger's valid
/// signature without a capability takes no room in the verifier's memory of nonces.
///
/// Two profiles: Vouch's (`tag="vouch"`, `keyid` the signer's did:key verification method) and
/// Web Bot Auth's (`tag="web-bot-auth"`, `keyid` the JWK thumbprint of the signer's key, the
/// `Signature-Agent` member under the label covered). A thumbprint names a key only through a
/// did:key this verifier already has for it — the holder of the presentation the request
/// carries, or the signer of a session it keeps (`sessions`): nothing is fetched.
pub fn read(
    request: &Request<'_>,
    now: DateTime<Utc>,
    sessions: &Sessions,
) -> Result<Signed, Refused> {
    let policy = Policy {
        required: &[
            Component::Method,
            Component::TargetUri,
            Component::Field(CAPABILITY_FIELD.into()),
        ],
        tags: &[TAG, http_signature::WEB_BOT_AUTH_TAG],
        lifetime: http_signature::MAX_LIFETIME_SECS,
        fresh: true,
    };
    // The key a `keyid` names, decoded once: a session's signer's is kept decoded.
    let resolved: std::cell::RefCell<Option<(String, Did)>> = std::cell::RefCell::new(None);
    let keys = |keyid: &str| {
        let (did, key) = sessions
            .signer(keyid)
            .or_else(|| resolve_keyid(keyid, request))?;
        *resolved.borrow_mut() = Some((keyid.to_owned(), did));
        Some(key)
    };
    let signed =
        http_signature::verify(request, LABEL, &policy, keys, now.timestamp(), |_, _| true)?;
    let signer = resolved
        .into_inner()
        .filter(|(keyid, _)| *keyid == signed.keyid)
        .map(|(_, did)| did)
        .ok_or_else(|| refused(Reason::UnresolvableDid, "the keyid names no did:key"))?;
    if has_field(request, http_signature::SIGNATURE_AGENT_FIELD)
        && !signed.covered.contains(&Component::Member {
            field: http_signature::SIGNATURE_AGENT_FIELD.into(),
            key: LABEL.into(),
        })
    {
        return Err(refused(
            Reason::RequestMismatch,
            "Signature-Agent's member for this signature is not covered",
        ));
    }
    let nonce = signed
        .parameters
        .nonce
        .clone()
        .ok_or_else(|| refused(Reason::RequestMismatch, "no nonce"))?;
    let (credential, action) = capability_of(request)?;
    let presentation = match has_field(request, PRESENTATION_FIELD) {
        false => None,
        // A presentation the signature does not cover could be anyone's, swapped in on the way.
        true if !signed
            .covered
            .contains(&Component::Field(PRESENTATION_FIELD.into())) =>
        {
            return Err(refused(
                Reason::RequestMismatch,
                format!("{PRESENTATION_FIELD} is not covered by the signature"),
            ));
        }
        true => Some(presentation_of(request)?),
    };
    let until = signed
        .parameters
        .expires
        .unwrap_or(now.timestamp() + http_signature::MAX_LIFETIME_SECS);
    Ok(Signed {
        signer,
        credential,
        action,
        origin: request.target.origin().ascii_serialization(),
        presentation,
        nonce,
        until,
    })
}

impl Signed {
    /// The chain that permits the call `request` makes with `arguments`, with what `verifier`
    /// holds: the presentation's, verified in full (over the signature's nonce, for the
    /// target's origin, its holder the signer, carrying the named credential), or, for a
    /// request that carries none, the chain `remembered` from an earlier request of this
    /// session ([`Sessions`]), checked again for what changes (windows, status, trust). Either
    /// way the chain must permit `{action, the URL without its query, arguments}`.
    pub fn permit(
        &self,
        request: &Request<'_>,
        arguments: &Map<String, Value>,
        verifier: &Verifier<'_>,
        remembered: Option<&Arc<Chain>>,
    ) -> Result<Arc<Chain>, Refused> {
        let chain = match (&self.presentation, remembered) {
            (Some(presentation), _) => Arc::new(self.presented_chain(presentation, verifier)?),
            (None, Some(chain)) => {
                let report = chain.recheck(verifier);
                if !report.verified {
                    let first = report.reasons().first().copied();
                    return Err(refused(
                        first.unwrap_or(Reason::InvalidProof),
                        "the chain presented earlier no longer holds",
                    ));
                }
                chain.clone()
            }
            // The signer was never shown to hold the credential here: it must present it.
            (None, None) => {
                return Err(refused(
                    Reason::NotHolder,
                    format!(
                        "no {PRESENTATION_FIELD}, and none presented earlier for this credential \
                         at {:.256}: send the presentation",
                        self.origin
                    ),
                ));
            }
        };
        let mut resource = request.target.clone();
        resource.set_query(None);
        resource.set_fragment(None);
        let wanted = Wanted::from_json(&serde_json::json!({
            "action": self.action,
            "resource": resource.as_str(),
            "arguments": arguments,
        }))
        .map_err(|e| refused(Reason::Malformed, format!("the call: {e}")))?;
        chain
            .permits(&wanted, verifier.now)
            .map_err(|denial| refused(denial.reason(), denial.to_string()))?;
        Ok(chain)
    }

    /// The named credential's chain in `presentation`, verified in full.
    fn presented_chain(
        &self,
        presentation: &Value,
        verifier: &Verifier<'_>,
    ) -> Result<Chain, Refused> {
        let verified = verify_presentation(presentation, &self.nonce, &self.origin, verifier);
        if !verified.report.verified {
            let first = verified.report.reasons().first().copied();
            return Err(refused(
                first.unwrap_or(Reason::InvalidProof),
                "the presentation does not verify",
            ));
        }
        if verified.holder.as_ref() != Some(&self.signer) {
            return Err(refused(
                Reason::NotHolder,
                "the presentation is not the signer's",
            ));
        }
        verified
            .chains
            .into_iter()
            .find(|chain| {
                chain
                    .credentials
                    .last()
                    .is_some_and(|leaf| leaf.id.as_str() == self.credential)
            })
            .ok_or_else(|| {
                refused(
                    Reason::NotHolder,
                    format!("the presentation carries no {:.128}", self.credential),
                )
            })
    }

    /// Takes the signature's nonce — `first_use` answers whether it is new and remembers it
    /// until the time (seconds since the epoch) it is given — and, for a chain that came with
    /// the request, remembers it for the session: the request is then permitted.
    pub fn settle(
        self,
        chain: Arc<Chain>,
        sessions: &Sessions,
        first_use: impl FnOnce(&str, i64) -> bool,
    ) -> Result<Permitted, Refused> {
        if !first_use(&self.nonce, self.until) {
            return Err(refused(Reason::Replayed, "the nonce was used before"));
        }
        if self.presentation.is_some() {
            sessions.remember(&self, &chain);
        }
        Ok(Permitted {
            signer: self.signer,
            credential: self.credential,
            action: self.action,
            chain,
        })
    }
}

/// The chains a verifier keeps between the requests of a session, so that only the first
/// carries the presentation: by origin, signer and credential (a chain shown to one service is
/// not taken at another that asks the same verifier), each until the first end of its
/// credentials, at most `capacity` at once — the least recently used forgotten first, whose
/// agent then presents again. Only a permitted request puts one here.
pub struct Sessions {
    table: std::sync::Mutex<Table>,
}

/// The chains by session, and the signers of the sessions with their keys decoded, by each
/// `keyid` that names them (the did:key verification method, the JWK thumbprint).
struct Table {
    chains: hashlink::LruCache<String, (Arc<Chain>, DateTime<Utc>)>,
    signers: hashlink::LruCache<String, (Did, PublicKey)>,
}

impl Sessions {
    /// At most `capacity` chains.
    pub fn new(capacity: usize) -> Self {
        Self {
            table: std::sync::Mutex::new(Table {
                chains: hashlink::LruCache::new(capacity.max(1)),
                signers: hashlink::LruCache::new(capacity.max(1) * 2),
            }),
        }
    }

    fn key(signed: &Signed) -> String {
        format!("{} {} {}", signed.origin, signed.signer, signed.credential)
    }

    /// The chain remembered for `signed`'s session, if it has not ended at `now`.
    pub fn recall(&self, signed: &Signed, now: DateTime<Utc>) -> Option<Arc<Chain>> {
        let mut table = self.table.locked();
        let key = Self::key(signed);
        match table.chains.get(&key) {
            Some((chain, until)) if *until > now => Some(chain.clone()),
            Some(_) => {
                table.chains.remove(&key);
                None
            }
            None => None,
        }
    }

    /// The signer of a session kept here whose key `keyid` names (its did:key verification
    /// method or its JWK thumbprint), with its key.
    pub fn signer(&self, keyid: &str) -> Option<(Did, PublicKey)> {
        self.table.locked().signers.get(keyid).cloned()
    }

    /// Remembers `chain`, which permitted `signed`, for its session.
    pub fn remember(&self, signed: &Signed, chain: &Arc<Chain>) {
        let Some(until) = chain.credentials.iter().map(|c| c.valid_until).min() else {
            return;
        };
        let key = crate::did::key::key_of(&signed.signer).ok();
        let mut table = self.table.locked();
        table
            .chains
            .insert(Self::key(signed), (chain.clone(), until));
        if let Some(key) = key {
            let names = [
                crate::did::key::verification_method_of(&key).to_string(),
                http_signature::jwk_thumbprint(&key),
            ];
            for keyid in names {
                table.signers.insert(keyid, (signed.signer.clone(), key));
            }
        }
    }

    /// How many chains are remembered.
    pub fn len(&self) -> usize {
        self.table.locked().chains.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Checks `request`, signed by an agent, for the call it makes with `arguments`, with what
/// `verifier` holds and the chains `sessions` remembers: [`read`], [`Signed::permit`],
/// [`Signed::settle`]. A verifier that gathers status for the credentials concerned (the node)
/// makes the three steps itself, between which it learns which credentials those are.
pub fn check(
    request: &Request<'_>,
    arguments: &Map<String, Value>,
    verifier: &Verifier<'_>,
    sessions: &Sessions,
    first_use: impl FnOnce(&str, i64) -> bool,
) -> Result<Permitted, Refused> {
    let signed = read(request, verifier.now, sessions)?;
    let remembered = match signed.presentation {
        Some(_) => None,
        None => sessions.recall(&signed, verifier.now),
    };
    let chain = signed.permit(request, arguments, verifier, remembered.as_ref())?;
    signed.settle(chain, sessions, first_use)
}

/// The did:key and key a `keyid` names: a did:key verification method, or a JWK thumbprint
/// (Web Bot Auth) of the key of the holder the request's presentation names — unverified here,
/// the only key a thumbprint may name on a session's first request (the presentation is then
/// verified, its holder the signer). Nothing else is resolved.
fn resolve_keyid(keyid: &str, request: &Request<'_>) -> Option<(Did, PublicKey)> {
    if keyid.starts_with("did:") {
        let did = Did::parse(keyid.split('#').next()?).ok()?;
        let key = (did.method() == "key")
            .then(|| crate::did::key::key_of(&did).ok())
            .flatten()?;
        return Some((did, key));
    }
    let presentation = presentation_of(request).ok()?;
    let holder = Did::parse(presentation["holder"].as_str()?).ok()?;
    let key = (holder.method() == "key")
        .then(|| crate::did::key::key_of(&holder).ok())
        .flatten()?;
    (http_signature::jwk_thumbprint(&key) == keyid).then_some((holder, key))
}

/// Whether `request` has a field `name`.
fn has_field(request: &Request<'_>, name: &str) -> bool {
    request
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case(name))
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
