//! The daemon's signatures of the HTTP requests its agent sends (`{"op": "sign_request"}`):
//! RFC 9421 over a base the daemon builds itself from the request's parts
//! (`vouch_core::http_signature`), under a capability of a credential it holds — the request
//! `{action, resource: the URL without its query, arguments}` must be permitted by the
//! credential and every credential above it — with the instance key, which never leaves the
//! daemon. Each signature is written to the wallet's audit log: the action, the credential and
//! the hash of the signature base, never the URL or the body.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use url::Url;
use vouch_api::daemon::{HeaderField, SignAsk, SignedRequest};
use vouch_core::audit::{Event, log::entry};
use vouch_core::capability::Request as Wanted;
use vouch_core::credential::AgentCapabilityCredential;
use vouch_core::hash::Multihash;
use vouch_core::http_signature::{
    self, CAPABILITY_FIELD as CAPABILITY_HEADER, Component, LABEL, MAX_LIFETIME_SECS, Parameters,
    Request, TAG,
};
use vouch_core::signed_request::PRESENTATION_FIELD;

use super::{Daemon, Refusal};

/// The most header fields of the agent's a signature covers.
const MAX_HEADERS: usize = 24;
/// The longest header field value covered.
const MAX_HEADER_BYTES: usize = 8 * 1024;
/// The header fields the daemon sets itself: the agent may not give them.
/// The most credentials kept parsed for signing.
const MAX_PREPARED: usize = 64;

/// A credential held, read from the wallet and parsed once for signing under it: the stored
/// form, its chain (leaf first, as presented) and each hop's usable capabilities (root first,
/// as checked). A credential held is never changed under its id (the store refuses a second
/// one, and drops it only once expired), so what is kept stays true; its window is checked at
/// each signature.
pub(super) struct Prepared {
    held: crate::store::Held,
    chain: Vec<Value>,
    hops: Vec<Vec<vouch_core::capability::Capability>>,
}

/// The credentials signed under lately, at most [`MAX_PREPARED`], the least recently used
/// forgotten first.
pub(super) struct PreparedCache(
    std::sync::Mutex<hashlink::LruCache<String, std::sync::Arc<Prepared>>>,
);

impl PreparedCache {
    /// Forgets every credential kept.
    pub(super) fn clear(&self) {
        use vouch_core::lock::MutexExt as _;
        self.0.locked().clear();
    }
}

impl Default for PreparedCache {
    fn default() -> Self {
        Self(std::sync::Mutex::new(hashlink::LruCache::new(MAX_PREPARED)))
    }
}

const SET_HERE: [&str; 6] = [
    "content-digest",
    CAPABILITY_HEADER,
    PRESENTATION_FIELD,
    http_signature::SIGNATURE_AGENT_FIELD,
    "signature-input",
    "signature",
];

/// The longest access token a DPoP proof binds, and the longest nonce it carries.
const MAX_DPOP_TOKEN: usize = 16 * 1024;
const MAX_DPOP_NONCE: usize = 256;

impl Daemon {
    /// A DPoP proof (RFC 9449) of the request `ask` describes, made with the instance key over
    /// a proof the daemon builds itself (`vouch_core::jwt::dpop_proof`: a `dpop+jwt` whose
    /// claims are the request's method and URI, now, a fresh `jti`): never bytes it is given.
    pub(super) fn dpop_proof(&self, ask: vouch_api::daemon::DpopAsk) -> Result<Value, Refusal> {
        let refused = Refusal::refused;
        let target = request_target(&ask.method, &ask.url)?;
        if ask
            .access_token
            .as_ref()
            .is_some_and(|t| t.len() > MAX_DPOP_TOKEN)
        {
            return Err(refused(format!(
                "access_token: at most {MAX_DPOP_TOKEN} bytes"
            )));
        }
        if ask
            .nonce
            .as_ref()
            .is_some_and(|n| n.len() > MAX_DPOP_NONCE || n.chars().any(char::is_control))
        {
            return Err(refused(format!(
                "nonce: at most {MAX_DPOP_NONCE} bytes, no control characters"
            )));
        }
        let jti = vouch_core::exchange::flow::challenge();
        let proof = vouch_core::jwt::dpop_proof(
            &self.key,
            &vouch_core::jwt::DpopRequest {
                method: &ask.method,
                target: &target,
                iat: chrono::Utc::now().timestamp(),
                jti: &jti,
                access_token: ask.access_token.as_deref(),
                nonce: ask.nonce.as_deref(),
            },
        );
        super::as_json(&vouch_api::daemon::DpopProof {
            proof,
            jkt: http_signature::jwk_thumbprint(&self.key.public()),
        })
    }

    /// The credential `id`, read and parsed for signing — once, then kept.
    fn prepared(&self, id: &str) -> Result<std::sync::Arc<Prepared>, Refusal> {
        use vouch_core::lock::MutexExt as _;
        if let Some(kept) = self.prepared.0.locked().get(id) {
            return Ok(kept.clone());
        }
        let (held, leaf) = self
            .store
            .credential_typed(id)
            .map_err(|e| Refusal::internal(e.to_string()))?
            .ok_or_else(|| Refusal::refused(format!("no credential {id:.128} is held")))?;
        let chain = self.chain_above(held.credential.clone())?;
        // Root first; the leaf's typed form is the one the store read.
        let mut hops = Vec::with_capacity(chain.len());
        for credential in chain.iter().skip(1).rev() {
            let typed = AgentCapabilityCredential::from_json(credential)
                .map_err(|e| Refusal::internal(e.to_string()))?;
            hops.push(
                typed
                    .capabilities()
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>(),
            );
        }
        hops.push(leaf.capabilities().into_iter().flatten().collect());
        let prepared = std::sync::Arc::new(Prepared { held, chain, hops });
        self.prepared
            .0
            .locked()
            .insert(id.to_owned(), prepared.clone());
        Ok(prepared)
    }

    /// Signs the request `ask` describes, if the credential it names permits it.
    pub(super) fn sign_request(&self, ask: SignAsk) -> Result<Value, Refusal> {
        let refused = Refusal::refused;
        let now = chrono::Utc::now();
        let target = request_target(&ask.method, &ask.url)?;
        let signature_agent = ask
            .signature_agent
            .as_deref()
            .map(directory_url)
            .transpose()
            .map_err(refused)?;
        let body = ask
            .body
            .as_deref()
            .map(|b| STANDARD.decode(b))
            .transpose()
            .map_err(|e| refused(format!("body: not base64: {e}")))?;
        if ask.headers.len() > MAX_HEADERS {
            return Err(refused(format!("headers: at most {MAX_HEADERS}")));
        }
        let mut headers = Vec::with_capacity(ask.headers.len() + 4);
        let mut covered = vec![Component::Method, Component::TargetUri];
        for field in &ask.headers {
            let name = field.name.to_ascii_lowercase();
            if SET_HERE.contains(&name.as_str()) {
                return Err(refused(format!("headers: {name} is set by the daemon")));
            }
            if field.value.len() > MAX_HEADER_BYTES {
                return Err(refused(format!(
                    "headers: {name} is longer than {MAX_HEADER_BYTES} bytes"
                )));
            }
            let component =
                Component::parse(&name).map_err(|e| refused(format!("headers: {e}")))?;
            if !covered.contains(&component) {
                covered.push(component);
            }
            headers.push((name, field.value.clone()));
        }

        // The credential relied on, and what it (and every credential above it) permits.
        let prepared = self.prepared(&ask.credential)?;
        let held = &prepared.held;
        if held.valid_until <= now {
            return Err(refused(format!("{} has expired", held.id)));
        }
        let mut resource = target.clone();
        resource.set_query(None);
        resource.set_fragment(None);
        let wanted = Wanted::from_json(&serde_json::json!({
            "action": ask.action,
            "resource": resource.as_str(),
            "arguments": ask.arguments,
        }))
        .map_err(|e| refused(format!("the request: {e}")))?;
        let (chain, hops) = (&prepared.chain, &prepared.hops);
        wanted
            .permitted_by_chain(hops.iter().map(Vec::as_slice), now)
            .map_err(|denial| {
                Refusal::from(vouch_core::exchange::Refused {
                    reason: denial.reason(),
                    message: format!("{} does not permit it: {denial}", held.id),
                })
            })?;

        // What the daemon sets, then the signature over all of it.
        if let Some(body) = &body {
            headers.push((
                "content-digest".into(),
                http_signature::content_digest(body),
            ));
            covered.push(Component::Field("content-digest".into()));
        }
        let capability = capability_field(&held.id, &ask.action)?;
        headers.push((CAPABILITY_HEADER.into(), capability));
        covered.push(Component::Field(CAPABILITY_HEADER.into()));
        let created = now.timestamp();
        let nonce = vouch_core::exchange::flow::challenge();
        if ask.present {
            // The credential and its chain, presented over this signature's nonce for the
            // service's origin: good for this request only.
            let origin = target.origin().ascii_serialization();
            let root_first: Vec<Value> = chain.iter().rev().cloned().collect();
            let presentation = vouch_core::presentation::create(
                &self.key,
                root_first,
                &nonce,
                &origin,
                vouch_core::proof::Cryptosuite::EddsaJcs2022,
                now,
            )
            .map_err(|e| Refusal::internal(e.to_string()))?;
            let text =
                serde_json::to_vec(&presentation).map_err(|e| Refusal::internal(e.to_string()))?;
            headers.push((
                PRESENTATION_FIELD.into(),
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text),
            ));
            covered.push(Component::Field(PRESENTATION_FIELD.into()));
        }
        // Vouch's profile names the key by its did:key; Web Bot Auth's by its JWK thumbprint,
        // the directory that lists it in `Signature-Agent`, under this signature's label.
        let (keyid, tag) = match &signature_agent {
            None => (
                vouch_core::did::key::verification_method_of(&self.key.public()).to_string(),
                TAG,
            ),
            Some(directory) => {
                headers.push((
                    http_signature::SIGNATURE_AGENT_FIELD.into(),
                    signature_agent_field(directory)?,
                ));
                covered.push(Component::Member {
                    field: http_signature::SIGNATURE_AGENT_FIELD.into(),
                    key: LABEL.into(),
                });
                (
                    http_signature::jwk_thumbprint(&self.key.public()),
                    http_signature::WEB_BOT_AUTH_TAG,
                )
            }
        };
        let parameters = Parameters {
            created: Some(created),
            expires: Some(created + MAX_LIFETIME_SECS),
            nonce: Some(nonce),
            keyid: Some(keyid),
            alg: Some("ed25519".into()),
            tag: Some(tag.into()),
        };
        let request = Request {
            method: &ask.method,
            target: &target,
            headers: &headers,
            body: body.as_deref(),
        };
        let signed = http_signature::sign(&self.key, &request, &covered, &parameters, LABEL)
            .map_err(|e| refused(e.to_string()))?;

        // Recorded before it is answered: a signature the log does not show is not given.
        let mut recorded = entry(Event::RequestSigned);
        recorded.agent = Some(self.instance.to_string());
        recorded.action = Some(ask.action.clone());
        recorded.credentials = vec![held.id.clone()];
        recorded.resource_hash = Some(Multihash::of(signed.base.as_bytes()));
        self.log
            .record(recorded, now)
            .map_err(|e| Refusal::internal(format!("the audit log: {e}")))?;

        let mut answer: Vec<HeaderField> = headers
            .into_iter()
            .filter(|(name, _)| SET_HERE.contains(&name.as_str()))
            .map(|(name, value)| HeaderField { name, value })
            .collect();
        answer.push(HeaderField {
            name: "signature-input".into(),
            value: signed.input,
        });
        answer.push(HeaderField {
            name: "signature".into(),
            value: signed.signature,
        });
        super::as_json(&SignedRequest { headers: answer })
    }
}

/// `Vouch-Capability`: the credential and the action relied on, as a structured dictionary.
fn capability_field(credential: &str, action: &str) -> Result<String, Refusal> {
    fn string(value: &str) -> Result<&sfv::StringRef, Refusal> {
        sfv::StringRef::from_str(value).map_err(|e| Refusal::refused(format!("{value:.64}: {e}")))
    }
    let mut field = sfv::DictSerializer::new();
    field.bare_item(sfv::key_ref("credential"), string(credential)?);
    field.bare_item(sfv::key_ref("action"), string(action)?);
    field
        .finish()
        .ok_or_else(|| Refusal::internal("an empty Vouch-Capability"))
}

/// The target of a request the agent is about to send: `method` an HTTP method (upper case,
/// at most 16 letters), `url` an http(s) URL with a host.
fn request_target(method: &str, url: &str) -> Result<Url, Refusal> {
    if method.is_empty() || method.len() > 16 || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(Refusal::refused(format!(
            "method: {method:.32} is no method"
        )));
    }
    let target = Url::parse(url).map_err(|e| Refusal::refused(format!("url: {e}")))?;
    if !matches!(target.scheme(), "https" | "http") || target.host_str().is_none() {
        return Err(Refusal::refused("url: an http(s) URL with a host"));
    }
    Ok(target)
}

/// The key directory's URL a signature names: `https` (or `http` to a loopback address, for a
/// service on the same machine), the well-known path, no query or fragment.
fn directory_url(url: &str) -> Result<Url, String> {
    let url = Url::parse(url).map_err(|e| format!("signature_agent: {e}"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    if !scheme_ok
        || url.path() != http_signature::DIRECTORY_PATH
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(format!(
            "signature_agent: an https URL ending in {}, nothing after it",
            http_signature::DIRECTORY_PATH
        ));
    }
    Ok(url)
}

/// `Signature-Agent`: a Dictionary whose member under this signature's label is the directory.
fn signature_agent_field(directory: &Url) -> Result<String, Refusal> {
    let value = sfv::StringRef::from_str(directory.as_str())
        .map_err(|e| Refusal::refused(format!("signature_agent: {e}")))?;
    let mut dictionary = sfv::DictSerializer::new();
    dictionary.bare_item(
        sfv::KeyRef::from_str(LABEL).map_err(|e| Refusal::internal(e.to_string()))?,
        value,
    );
    dictionary
        .finish()
        .ok_or_else(|| Refusal::internal("an empty Signature-Agent"))
}

#[cfg(test)]
mod tests {
    use vouch_api::daemon::{DpopAsk, DpopProof, Request};
    use vouch_core::key::KeyPair;

    use super::Daemon;

    #[test]
    fn a_dpop_proof_is_of_the_request_asked_and_the_instance_key() {
        let dir = tempfile::tempdir().expect("a folder");
        let key = KeyPair::from_seed(&[31; 32]);
        let public = key.public();
        let daemon = Daemon::open(&dir.path().join("wallet"), key, 0).expect("opens");
        let ask = |method: &str, url: &str, token: Option<&str>| DpopAsk {
            method: method.into(),
            url: url.into(),
            access_token: token.map(str::to_owned),
            nonce: None,
        };
        let made: DpopProof = serde_json::from_value(
            daemon
                .handle(Request::DpopProof(ask(
                    "POST",
                    "https://api.example/refunds/42?x=1",
                    Some("a.token.here"),
                )))
                .expect("made"),
        )
        .expect("an answer");
        assert_eq!(
            made.jkt,
            vouch_core::http_signature::jwk_thumbprint(&public)
        );
        let target = url::Url::parse("https://api.example/refunds/42").expect("a URL");
        let now = chrono::Utc::now().timestamp();
        let proved = vouch_core::jwt::check_dpop(
            &made.proof,
            "POST",
            &target,
            now,
            Some("a.token.here"),
            |_, _| true,
        )
        .expect("a proof of that request");
        assert_eq!(proved.jkt, made.jkt);
        // Of no other request, and never of what is not a request.
        assert!(
            vouch_core::jwt::check_dpop(
                &made.proof,
                "GET",
                &target,
                now,
                Some("a.token.here"),
                |_, _| true
            )
            .is_err()
        );
        for bad in [
            ask("post", "https://api.example/", None),
            ask("POST", "not a url", None),
            ask("POST", "ftp://api.example/", None),
        ] {
            assert!(daemon.handle(Request::DpopProof(bad)).is_err());
        }
    }
}
