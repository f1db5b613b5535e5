//! The node as its org's OAuth 2.0 authorization server (docs/OAUTH.md): token exchange
//! (RFC 8693) of a presentation over one of its challenges for a DPoP-bound access token
//! (RFC 9068, RFC 9449), and introspection (RFC 7662) of any member's tokens from the status
//! lists the node holds.
//!
//! Tokens are signed with the org's assertion key, named by its verification method (`kid`):
//! any node of the consortium, and anyone resolving the org's DID, verifies them, and a key
//! rotation of the DID is a rotation of the token key. The key never signs anything a token
//! could be taken for: a JWS signing input is base64url text with two dots, longer than the 64
//! bytes of hashes a Data Integrity proof signs.

use std::hash::BuildHasher as _;

use chrono::{DateTime, Utc};
use serde_json::Value;
use vouch_api::node::oauth::{
    AuthorizationServerMetadata, Introspection, Jwks, SetPoll, SetPollAnswer, TokenIssued,
    TokenRequest,
};
use vouch_api::node::routes;
use vouch_core::audit::{Decision, Event};
use vouch_core::did::document::Relationship;
use vouch_core::did::{DidResolver, DidUrl, key as did_key};
use vouch_core::exchange::{NotKept, Once};
use vouch_core::key::PublicKey;
use vouch_core::oauth::{self, Ask, Issuance, OAuthCode, OAuthError};
use vouch_core::report::Reason;
use vouch_core::verify::Verifier;

use super::{Issuer, IssuerError, Refusal, keys};

/// The most DPoP proofs and approvals remembered as used at once (each until it expires).
const MAX_REMEMBERED: usize = 65_536;
/// The most of them one holder may have used at once.
const MAX_REMEMBERED_PER_HOLDER: usize = 1024;
/// How far a token's `nbf` may be ahead of this node's clock.
const CLOCK_SKEW_SECS: i64 = 60;

/// What token exchange remembers: the DPoP proofs and the approvals used, each once.
pub(super) struct Tokens {
    proofs: Once<()>,
    approvals: Once<()>,
    holders: std::collections::hash_map::RandomState,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("proofs", &self.proofs.len())
            .field("approvals", &self.approvals.len())
            .finish_non_exhaustive()
    }
}

impl Default for Tokens {
    fn default() -> Self {
        let once = || Once::with_shares(MAX_REMEMBERED, MAX_REMEMBERED, MAX_REMEMBERED_PER_HOLDER);
        Self {
            proofs: once(),
            approvals: once(),
            holders: std::collections::hash_map::RandomState::new(),
        }
    }
}

/// Why a token was not issued: OAuth's refusal, or the node's own failure.
#[derive(Debug)]
pub enum TokenRefusal {
    /// Refused, as OAuth says.
    OAuth(OAuthError),
    /// The node failed.
    Issuer(IssuerError),
}

impl From<OAuthError> for TokenRefusal {
    fn from(error: OAuthError) -> Self {
        Self::OAuth(error)
    }
}

impl From<IssuerError> for TokenRefusal {
    fn from(error: IssuerError) -> Self {
        match error {
            IssuerError::Refused(refusal) if refusal.code != vouch_api::ErrorCode::Busy => {
                Self::OAuth(grant_refusal(&refusal))
            }
            other => Self::Issuer(other),
        }
    }
}

/// A refusal of the presentation, as `invalid_grant` with its code.
fn grant_refusal(refusal: &Refusal) -> OAuthError {
    OAuthError::new(
        OAuthCode::InvalidGrant,
        format!("{}: {}", refusal.code.as_str(), refusal.message),
    )
}

fn invalid_request(why: impl Into<String>) -> OAuthError {
    OAuthError::new(OAuthCode::InvalidRequest, why)
}

impl Issuer {
    /// The node's issuer identifier: its public URL.
    pub fn oauth_issuer(&self) -> &str {
        &self.domain
    }

    /// The node's authorization server metadata (RFC 8414).
    pub fn oauth_metadata(&self) -> AuthorizationServerMetadata {
        let at = |path: &str| format!("{}{path}", self.domain);
        let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
        AuthorizationServerMetadata {
            issuer: self.domain.clone(),
            token_endpoint: at(routes::OAUTH_TOKEN.path),
            jwks_uri: at(routes::OAUTH_JWKS.path),
            introspection_endpoint: at(routes::OAUTH_INTROSPECT.path),
            response_types_supported: Vec::new(),
            grant_types_supported: strings(&[oauth::TOKEN_EXCHANGE]),
            token_endpoint_auth_methods_supported: strings(&["none"]),
            introspection_endpoint_auth_methods_supported: strings(&["none"]),
            dpop_signing_alg_values_supported: strings(&[vouch_core::jwt::ALG]),
            authorization_details_types_supported: strings(&[
                oauth::CAPABILITY_DETAIL,
                oauth::APPROVED_REQUEST_DETAIL,
            ]),
        }
    }

    /// The org's assertion keys, as a JWK Set: each `kid` its verification method.
    pub fn oauth_keys(&self) -> Result<Jwks, IssuerError> {
        let document = DidResolver::resolve(&self.registry, self.org.did())
            .map_err(|e| IssuerError::NotFound(e.to_string()))?;
        let keys = document
            .assertion_method
            .iter()
            .filter_map(|method| {
                let key = document
                    .key_for(method, Relationship::AssertionMethod)
                    .ok()?;
                let mut jwk = vouch_core::http_signature::jwk(&key);
                jwk["kid"] = Value::String(method.to_string());
                jwk["alg"] = Value::String(vouch_core::jwt::ALG.into());
                Some(jwk)
            })
            .collect();
        Ok(Jwks { keys })
    }

    /// Token exchange: `request` with the DPoP proof of the request it came in, at `now`.
    pub fn exchange_token(
        &self,
        request: &TokenRequest,
        dpop: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<TokenIssued, TokenRefusal> {
        if request.grant_type != oauth::TOKEN_EXCHANGE {
            return Err(OAuthError::new(
                OAuthCode::UnsupportedGrantType,
                format!("only {} is granted", oauth::TOKEN_EXCHANGE),
            )
            .into());
        }
        if request.subject_token_type != oauth::PRESENTATION_TOKEN_TYPE {
            return Err(invalid_request(format!(
                "subject_token_type must be {}",
                oauth::PRESENTATION_TOKEN_TYPE
            ))
            .into());
        }
        if request
            .requested_token_type
            .as_deref()
            .is_some_and(|t| t != oauth::ACCESS_TOKEN_TYPE)
        {
            return Err(
                invalid_request(format!("only {} is issued", oauth::ACCESS_TOKEN_TYPE)).into(),
            );
        }
        let resource = request.resource.as_deref().ok_or_else(|| {
            OAuthError::new(
                OAuthCode::InvalidTarget,
                "name the one resource server the token is for (resource)",
            )
        })?;
        let ask = Ask::read(resource, request.authorization_details.as_deref())?;
        // The proof first (its signature, this request, its time): nothing is remembered until
        // the presentation has verified and the proof is known to be the holder's.
        let proof = dpop.ok_or_else(|| {
            OAuthError::new(OAuthCode::InvalidDpopProof, "a DPoP proof is required")
        })?;
        let endpoint = url::Url::parse(&format!("{}{}", self.domain, routes::OAUTH_TOKEN.path))
            .map_err(|e| IssuerError::Refused(Refusal::malformed(e.to_string())))?;
        let proved =
            vouch_core::jwt::check_dpop(proof, "POST", &endpoint, now.timestamp(), None, |_, _| {
                true
            })
            .map_err(|e| OAuthError::new(OAuthCode::InvalidDpopProof, e.to_string()))?;
        let presentation: Value = serde_json::from_str(&request.subject_token)
            .map_err(|e| invalid_request(format!("subject_token is a presentation (JSON): {e}")))?;
        let (holder, chains, approvals) = self.verify_to_me_with_approvals(&presentation, now)?;
        let holder_key = did_key::key_of(&holder)
            .map_err(|e| OAuthError::refused(Reason::NotHolder, format!("the presenter: {e}")))?;
        if proved.jkt != vouch_core::http_signature::jwk_thumbprint(&holder_key) {
            return Err(OAuthError::new(
                OAuthCode::InvalidDpopProof,
                "the proof is not made with the presenter's key",
            )
            .into());
        }
        let [chain] = &chains[..] else {
            return Err(invalid_request(
                "present one capability credential, with its chain (and approvals)",
            )
            .into());
        };
        let root = &chain.credentials[0];
        if root.issuer != *self.org.did() {
            return Err(OAuthError::refused(
                Reason::UntrustedIssuer,
                format!(
                    "this node issues tokens to its org's agents; the chain is {}'s",
                    root.issuer
                ),
            )
            .into());
        }
        let grant = oauth::grant(chain, &holder, &ask, &approvals, now)?;
        let holder_share = self.tokens.holders.hash_one(holder.as_str());
        let until =
            DateTime::from_timestamp(now.timestamp() + vouch_core::jwt::DPOP_WINDOW_SECS * 2, 0)
                .unwrap_or(now);
        self.tokens
            .proofs
            .insert_owned(proved.jti, until, (), 1, Some(holder_share), now)
            .map_err(|not_kept| used(not_kept, "the DPoP proof"))?;
        let (key, method) = self.org.signing_key().map_err(IssuerError::from)?;
        let jti = vouch_core::exchange::flow::challenge();
        let Some((claims, exp)) = oauth::access_token_claims(
            &grant,
            &Issuance {
                issuer: &self.domain,
                audience: resource,
                jkt: &proved.jkt,
                jti: &jti,
                now,
            },
        ) else {
            return Err(OAuthError::refused(Reason::Expired, "the chain has ended").into());
        };
        let _guard = self.guard();
        // Under the lock, from the store: a revocation stored a moment ago is never missed.
        self.refuse_if_chain_stopped(&chain.credentials.iter().collect::<Vec<_>>())?;
        for (approval, until) in &grant.approvals {
            self.tokens
                .approvals
                .insert_owned(approval.clone(), *until, (), 1, Some(holder_share), now)
                .map_err(|not_kept| used(not_kept, "the approval"))?;
        }
        let mut entry = crate::audit::entry(Event::TokenIssued);
        entry.decision = Some(Decision::Accepted);
        entry.agent = Some(holder.to_string());
        entry.principal =
            Some(grant.subject.clone()).filter(|p| p.len() <= vouch_core::audit::MAX_TEXT);
        entry.task = Some(
            chain.credentials[chain.credentials.len() - 1]
                .credential_subject
                .task
                .id
                .clone(),
        );
        entry.credentials = chain.credentials.iter().map(|c| c.id.to_string()).collect();
        entry.resource_hash = Some(vouch_core::hash::Multihash::of(resource.as_bytes()));
        self.audit.record(entry, now).map_err(IssuerError::from)?;
        Ok(TokenIssued {
            access_token: oauth::sign_access_token(&key, &method.to_string(), &claims),
            issued_token_type: oauth::ACCESS_TOKEN_TYPE.into(),
            token_type: "DPoP".into(),
            expires_in: exp - now.timestamp(),
            authorization_details: grant.details,
        })
    }

    /// Introspection: whether `token` stands at `now` — a bridge token of a member of the
    /// consortium (this org alone for a node alone), signed with a key its DID names for
    /// assertions, live, and nothing it rests on revoked or suspended in the lists this node
    /// holds. Anything else is `{"active": false}` and nothing more.
    pub fn introspect(&self, token: &str, now: DateTime<Utc>) -> Introspection {
        self.introspected(token, now).unwrap_or_default()
    }

    fn introspected(&self, token: &str, now: DateTime<Utc>) -> Option<Introspection> {
        let read = oauth::read_access_token(
            token,
            |kid| {
                let method = DidUrl::parse(kid).ok()?;
                let did = method.did();
                let document = DidResolver::resolve(&self.registry, &did).ok()?;
                let key: PublicKey = document
                    .key_for(&method, Relationship::AssertionMethod)
                    .ok()?;
                Some(key)
            },
            now.timestamp(),
            CLOCK_SKEW_SECS,
        )
        .ok()?;
        let signer = DidUrl::parse(&read.kid).ok()?.did();
        let urls = read
            .status
            .iter()
            .map(|s| s.status_list_credential.as_str());
        let knowledge = self.status_lists.knowledge_of_lists(urls, now).ok()?;
        if !knowledge.policy().knows(&signer) {
            return None;
        }
        let mut verifier = Verifier::new(&self.registry, now);
        verifier.status = Some(&knowledge.lists);
        let report =
            vouch_core::verify::check_status_entries(&verifier, &signer, &read.status, None);
        if !report.verified || !report.reasons().is_empty() {
            return None;
        }
        let claims = read.claims;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let number = |name: &str| claims.get(name).and_then(Value::as_i64);
        Some(Introspection {
            active: true,
            token_type: Some("DPoP".into()),
            iss: text("iss"),
            sub: text("sub"),
            aud: text("aud"),
            client_id: text("client_id"),
            jti: text("jti"),
            iat: number("iat"),
            nbf: number("nbf"),
            exp: number("exp"),
            act: claims.get("act").cloned(),
            cnf: claims.get("cnf").cloned(),
            authorization_details: claims
                .get("authorization_details")
                .and_then(Value::as_array)
                .cloned(),
        })
    }
}

/// The most SETs one poll answers.
const MAX_SETS_A_POLL: usize = 100;
/// The most acknowledgements (and errors) one poll takes.
const MAX_ACKS_A_POLL: usize = 1000;

impl Issuer {
    /// How many Security Event Tokens the events receiver has acknowledged (or refused).
    pub fn acknowledged_events(&self) -> Result<usize, IssuerError> {
        let (acknowledged, _) = self
            .store
            .issuance_scan(&keys::set_acknowledged(""), usize::MAX)?;
        Ok(acknowledged.len())
    }

    /// The audience of the org's Security Event Tokens: the poll endpoint, the one stream this
    /// node transmits.
    pub fn events_audience(&self) -> String {
        format!("{}{}", self.domain, routes::OAUTH_EVENTS.path)
    }

    /// A poll of Security Event Tokens (RFC 8936 §2.4) by the events receiver: `poll`'s
    /// acknowledgements and errors stored (never given again, across restarts), then the
    /// revocation events `events` holds (every member's) that were not, oldest first, each as a
    /// SET signed with the org's key, at most `maxEvents` (≤ [`MAX_SETS_A_POLL`]).
    pub fn poll_security_events(
        &self,
        events: &super::Events,
        poll: &SetPoll,
    ) -> Result<SetPollAnswer, IssuerError> {
        let taken = poll.ack.iter().chain(poll.set_errs.keys());
        if poll.ack.len() + poll.set_errs.len() > MAX_ACKS_A_POLL {
            return Err(Refusal::malformed(format!(
                "at most {MAX_ACKS_A_POLL} acknowledgements and errors a poll"
            ))
            .into());
        }
        let held: Vec<vouch_core::revocation::RevocationEvent> = events
            .list(None)
            .map_err(|e| IssuerError::Corrupt {
                key: "revocation events".into(),
                reason: e.to_string(),
            })?
            .iter()
            .filter_map(|raw| vouch_core::revocation::RevocationEvent::parse(raw).ok())
            .collect();
        let mut batch = crate::store::Batch::default();
        let mut any = false;
        for jti in taken {
            if jti.is_empty() || jti.len() > 128 || jti.chars().any(char::is_control) {
                return Err(Refusal::malformed("a jti is 1 to 128 characters").into());
            }
            // Only an event held is acknowledged: made-up ids store nothing.
            if held.iter().any(|e| e.id == *jti) {
                self.store
                    .put_issuance(&mut batch, &keys::set_acknowledged(jti), b"1");
                any = true;
            }
        }
        for (jti, error) in &poll.set_errs {
            tracing::warn!(
                jti = %jti.chars().take(128).collect::<String>(),
                err = %error.err.chars().take(64).collect::<String>(),
                "the events receiver could not take a security event token"
            );
        }
        if any {
            self.store.commit(batch)?;
        }
        let wanted = poll
            .max_events
            .map_or(MAX_SETS_A_POLL, |m| (m as usize).min(MAX_SETS_A_POLL));
        let mut pending = Vec::new();
        for event in held {
            if self
                .store
                .issuance(&keys::set_acknowledged(&event.id))?
                .is_none()
            {
                pending.push(event);
            }
        }
        pending.sort_by(|a, b| a.issued.cmp(&b.issued).then_with(|| a.id.cmp(&b.id)));
        let more_available = pending.len() > wanted;
        let mut sets = std::collections::BTreeMap::new();
        if wanted > 0 && !pending.is_empty() {
            let (key, method) = self.org.signing_key()?;
            let audience = self.events_audience();
            for event in pending.iter().take(wanted) {
                let claims = oauth::security_event_claims(event, &self.domain, &audience);
                let set = vouch_core::jwt::sign(
                    &key,
                    vouch_core::jwt::SECURITY_EVENT,
                    &method.to_string(),
                    &claims,
                );
                sets.insert(event.id.clone(), set);
            }
        }
        Ok(SetPollAnswer {
            sets,
            more_available,
        })
    }
}

/// A DPoP proof or approval that was used already, or a holder beyond its share.
fn used(not_kept: NotKept, what: &str) -> TokenRefusal {
    match not_kept {
        NotKept::Replayed => OAuthError::new(
            if what.contains("DPoP") {
                OAuthCode::InvalidDpopProof
            } else {
                OAuthCode::InvalidGrant
            },
            format!("{}: {what} was used before", Reason::Replayed.as_str()),
        )
        .into(),
        NotKept::Full(_) => TokenRefusal::Issuer(IssuerError::Refused(Refusal::new(
            vouch_api::ErrorCode::Busy,
            "as many tokens were exchanged in the last minutes as may be: ask again soon",
        ))),
    }
}
