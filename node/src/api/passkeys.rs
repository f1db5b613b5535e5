//! Owners' passkeys over HTTP (DESIGN §8): the two pages an owner opens — the enrolment page
//! (`GET /owners/enrol#<token>`, from the link the node gives when it registers them) and the
//! approval page (`GET /approve/{id}`, server-rendered) — and the WebAuthn ceremonies behind
//! them, each in two halves:
//!
//! - `POST /1.0/passkeys/enrolments` `{token}` → a registration challenge; `POST
//!   /1.0/passkeys/enrolments/{ceremony}` with the authenticator's answer → the passkey stored.
//! - `POST /1.0/approvals/{id}/passkey` `{decision}` → an authentication challenge for exactly
//!   that decision on exactly that request; `POST /1.0/approvals/{id}/passkey/{ceremony}` with
//!   the authenticator's signature → the decision.
//!
//! What a ceremony was opened for (the link, or the request and the decision) stays here, in
//! memory, beside its random challenge; the browser only carries the challenge back signed. A
//! ceremony is used once, lives five minutes, one at a time per link or request, at most
//! [`MAX_CEREMONIES`] in all. The pages take no inline script or style, and no frame: their
//! Content-Security-Policy allows this node's own script only, and `frame-ancestors 'none'`
//! keeps a page from being clicked through another site's frame.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use rand::RngCore as _;
use tracing::warn;
use warp::Rejection;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use webauthn_rs::prelude::{
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    Url, Webauthn, WebauthnBuilder,
};

use super::errors::{busy, internal, issuer_error, reject};
use super::{ApiState, json, publish_lists, run};
use crate::issuer::{IssuerError, Pending, Refusal, Standing};
use vouch_api::ErrorCode;
use vouch_api::node::public::{
    DecisionCeremony, Enrolled, Enrolment, EnrolmentCeremony, OwnerVerdict, PasskeyDecision,
};
use vouch_core::lock::MutexExt as _;
use vouch_core::report::Reason;

/// The most ceremonies open at once, all owners together.
pub const MAX_CEREMONIES: usize = 1024;
/// How long a ceremony waits for the authenticator's answer.
pub const CEREMONY_FOR: Duration = Duration::from_secs(300);
/// The largest answer of an authenticator taken.
pub const MAX_ANSWER_BYTES: u64 = 16 * 1024;

const PAGE_SCRIPT: &str = include_str!("pages/passkey.js");
const PAGE_STYLE: &str = include_str!("pages/vouch.css");
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The relying party the node is to its owners' passkeys: its origin, and the WebAuthn checks
/// made for it.
pub struct RelyingParty {
    webauthn: Webauthn,
    origin: String,
}

impl RelyingParty {
    /// The relying party of a node reached at `public_url`. A passkey is bound to a domain name:
    /// a node reached at a loopback address is `localhost` to its owners' browsers (a browser
    /// takes WebAuthn from `http://localhost`, as from any `https` origin); any other address
    /// has no passkeys, and says why.
    pub fn for_public_url(public_url: &str) -> Result<Self, String> {
        let url = Url::parse(public_url).map_err(|e| format!("{public_url}: {e}"))?;
        let host = url.host_str().ok_or("the public URL has no host")?;
        let address = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>();
        let (rp_id, origin) = match address {
            Ok(ip) if ip.is_loopback() => {
                let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
                (
                    "localhost".to_owned(),
                    format!("{}://localhost{port}", url.scheme()),
                )
            }
            Ok(_) => {
                return Err(format!(
                    "{host} is an IP address, and a passkey is bound to a domain name: set \
                     http.public_url to the name owners reach this node at"
                ));
            }
            Err(_) => (host.to_owned(), url.origin().ascii_serialization()),
        };
        if url.scheme() != "https" && rp_id != "localhost" {
            warn!(
                origin,
                "browsers take passkeys from https origins only (and localhost)"
            );
        }
        let parsed = Url::parse(&origin).map_err(|e| format!("{origin}: {e}"))?;
        let webauthn = WebauthnBuilder::new(&rp_id, &parsed)
            .and_then(|b| b.rp_name("Vouch").timeout(CEREMONY_FOR).build())
            .map_err(|e| format!("a WebAuthn relying party for {origin}: {e}"))?;
        Ok(Self { webauthn, origin })
    }

    /// Where owners open the node's pages, without a trailing `/`.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl std::fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passkeys")
            .field("origin", &self.party.as_ref().map(|p| p.origin.as_str()))
            .field("ceremonies", &self.lock().len())
            .finish()
    }
}

/// What a ceremony was opened for.
enum Step {
    /// Registering a passkey through the enrolment link `token`.
    Enrol {
        token: String,
        state: PasskeyRegistration,
    },
    /// Deciding the approval request `approval`.
    Decide {
        approval: String,
        approve: bool,
        state: PasskeyAuthentication,
    },
}

impl Step {
    /// What only one ceremony at a time is open for.
    fn subject(&self) -> &str {
        match self {
            Step::Enrol { token, .. } => token,
            Step::Decide { approval, .. } => approval,
        }
    }
}

/// The node's passkeys: its relying party (none when owners cannot reach it by name) and the
/// ceremonies open.
pub struct Passkeys {
    party: Option<Arc<RelyingParty>>,
    ceremonies: Mutex<HashMap<String, (Instant, Step)>>,
}

impl Passkeys {
    /// The passkeys of a node reached at `public_url`; without any (logged) when it cannot
    /// have them.
    pub fn new(public_url: &str) -> Self {
        let party = match RelyingParty::for_public_url(public_url) {
            Ok(party) => Some(Arc::new(party)),
            Err(why) => {
                warn!(%why, "owners cannot use passkeys with this node; their owner keys still work");
                None
            }
        };
        Self {
            party,
            ceremonies: Mutex::default(),
        }
    }

    /// The relying party, when the node has one.
    pub fn party(&self) -> Option<&RelyingParty> {
        self.party.as_deref()
    }

    fn relying_party(&self) -> Result<Arc<RelyingParty>, Rejection> {
        self.party.clone().ok_or_else(|| {
            reject(
                ErrorCode::PasskeysUnavailable,
                "this node has no passkeys: its public URL is not a domain name",
            )
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Step)>> {
        self.ceremonies.locked()
    }

    /// Opens a ceremony for `step`, closing the one open for the same link or request.
    fn open(&self, step: Step) -> Result<String, Rejection> {
        let now = Instant::now();
        let mut open = self.lock();
        open.retain(|_, (until, other)| *until > now && other.subject() != step.subject());
        if open.len() >= MAX_CEREMONIES {
            return Err(busy(CEREMONY_FOR, "every passkey ceremony is taken"));
        }
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let id = URL_SAFE_NO_PAD.encode(id);
        open.insert(id.clone(), (now + CEREMONY_FOR, step));
        Ok(id)
    }

    /// Takes the ceremony `id`, once, while it is open.
    fn take(&self, id: &str) -> Result<Step, Rejection> {
        match self.lock().remove(id) {
            Some((until, step)) if until > Instant::now() => Ok(step),
            _ => Err(reject(
                ErrorCode::NotFound,
                "no such ceremony: each is answered once, within 5 minutes",
            )),
        }
    }
}

/// A page's answer: HTML that runs only this node's script, in no frame, never cached.
fn page(status: StatusCode, body: String) -> Response {
    asset(status, "text/html; charset=utf-8", body)
}

fn asset(status: StatusCode, media_type: &'static str, body: impl Into<String>) -> Response {
    let mut response = Response::new(body.into().into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /assets/passkey.js`.
pub(super) async fn script() -> Result<Response, Rejection> {
    Ok(asset(
        StatusCode::OK,
        "text/javascript; charset=utf-8",
        PAGE_SCRIPT,
    ))
}

/// `GET /assets/vouch.css`.
pub(super) async fn style() -> Result<Response, Rejection> {
    Ok(asset(StatusCode::OK, "text/css; charset=utf-8", PAGE_STYLE))
}

fn text(s: &str) -> String {
    html_escape::encode_text(s).into_owned()
}

fn attribute(s: &str) -> String {
    html_escape::encode_double_quoted_attribute(s).into_owned()
}

/// A whole page around `main`, with the attributes of its body.
fn document(title: &str, body_attributes: &str, main: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · Vouch</title>\n<link rel=\"stylesheet\" href=\"/assets/vouch.css\">\n\
         <script src=\"/assets/passkey.js\" defer></script>\n</head>\n<body {body_attributes}>\n\
         <main>\n{main}\n<p id=\"outcome\" role=\"status\" aria-live=\"polite\"></p>\n</main>\n\
         </body>\n</html>\n",
        title = text(title),
    )
}

/// `GET /owners/enrol`: the page of an enrolment link; the token is in the link's fragment,
/// which the browser never sends, so no log of any server on the way holds it.
pub(super) async fn enrol_page(state: Arc<ApiState>) -> Result<Response, Rejection> {
    state.passkeys.relying_party()?;
    Ok(page(
        StatusCode::OK,
        document(
            "Register a passkey",
            "data-page=\"enrol\"",
            &format!(
                "<h1>Register a passkey</h1>\n<p>With it you approve or refuse, one by one, \
                 what the agents you are accountable for at <code>{org}</code> ask to do above \
                 what they may do alone. The node keeps its public key only.</p>\n\
                 <p><button id=\"enrol\" type=\"button\">Register a passkey</button></p>",
                org = text(state.org.did().as_str()),
            ),
        ),
    ))
}

/// `GET /approve/{id}`: an approval request as the node holds it, and, while it waits, the
/// owner's two buttons.
pub(super) async fn approval_page(id: String, state: Arc<ApiState>) -> Result<Response, Rejection> {
    state.passkeys.relying_party()?;
    let id = percent_encoding::percent_decode_str(&id)
        .decode_utf8_lossy()
        .into_owned();
    let issuer = state.issuer.clone();
    let Some(pending) = run(move || issuer.approval(&id)).await? else {
        return Ok(page(
            StatusCode::NOT_FOUND,
            document(
                "No such request",
                "data-page=\"missing\"",
                "<h1>No such approval request</h1>",
            ),
        ));
    };
    Ok(page(StatusCode::OK, render_approval(&pending, Utc::now())))
}

fn render_approval(pending: &Pending, now: chrono::DateTime<Utc>) -> String {
    let waiting = pending.standing == Standing::Pending && now < pending.expires;
    let standing = match pending.standing {
        Standing::Pending if waiting => "Waiting for your decision.",
        Standing::Pending => "Expired: it waited too long. The agent may ask again.",
        Standing::Approved => "Approved. The agent holds an approval of this request, usable once.",
        Standing::Refused => "Refused.",
    };
    let request = &pending.request;
    let field = |name: &str| request[name].as_str().map(text).unwrap_or_default();
    let arguments = serde_json::to_string_pretty(&request["arguments"]).unwrap_or_default();
    let time = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let buttons = if waiting {
        "<p class=\"decide\"><button id=\"approve\" type=\"button\" data-decision=\"approve\">\
         Approve with my passkey</button> <button id=\"refuse\" type=\"button\" \
         data-decision=\"refuse\">Refuse with my passkey</button></p>"
    } else {
        ""
    };
    document(
        "Approve a request",
        &format!(
            "data-page=\"approval\" data-approval=\"{}\" data-standing=\"{}\"",
            attribute(&pending.id),
            if waiting { "pending" } else { "decided" },
        ),
        &format!(
            "<h1>An agent asks for your approval</h1>\n\
             <p>Agent <code>{agent}</code> of <code>{org}</code> asks to do this, once:</p>\n\
             <dl>\n<dt>Action</dt><dd><code id=\"action\">{action}</code></dd>\n\
             <dt>Resource</dt><dd><code id=\"resource\">{resource}</code></dd>\n\
             <dt>Arguments</dt><dd><pre id=\"arguments\">{arguments}</pre></dd>\n\
             <dt>Request hash</dt><dd><code id=\"hash\">{hash}</code></dd>\n\
             <dt>Asked</dt><dd>{asked}</dd>\n<dt>Waits until</dt><dd>{expires}</dd>\n</dl>\n\
             <p id=\"standing\">{standing}</p>\n{buttons}",
            agent = text(pending.agent.as_str()),
            org = text(pending.org.as_str()),
            action = field("action"),
            resource = field("resource"),
            arguments = text(&arguments),
            hash = text(pending.request_hash.as_str()),
            asked = time(pending.asked),
            expires = time(pending.expires),
        ),
    )
}

/// `POST /1.0/passkeys/enrolments`: a registration challenge for the owner of an open link.
pub(super) async fn start_enrolment(
    start: Enrolment,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let party = state.passkeys.relying_party()?;
    let issuer = state.issuer.clone();
    let token = start.token.clone();
    let enrolling = run(move || issuer.enrolling(&token, Utc::now())).await?;
    let registered = enrolling
        .passkeys
        .iter()
        .map(|p| p.cred_id().clone())
        .collect();
    let (options, registration) = party
        .webauthn
        .start_passkey_registration(
            enrolling.handle,
            &enrolling.owner,
            &enrolling.owner,
            Some(registered),
        )
        .map_err(internal)?;
    let ceremony = state.passkeys.open(Step::Enrol {
        token: start.token,
        state: registration,
    })?;
    let options = serde_json::to_value(options).map_err(internal)?;
    Ok(json(
        StatusCode::OK,
        &EnrolmentCeremony {
            ceremony,
            owner: enrolling.owner,
            options,
        },
    ))
}

/// `POST /1.0/passkeys/enrolments/{ceremony}`: the authenticator's answer; the passkey is
/// stored and the link closed.
pub(super) async fn finish_enrolment(
    ceremony: String,
    answer: RegisterPublicKeyCredential,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let party = state.passkeys.relying_party()?;
    let Step::Enrol {
        token,
        state: registration,
    } = state.passkeys.take(&ceremony)?
    else {
        return Err(reject(
            ErrorCode::NotFound,
            "this ceremony is not an enrolment",
        ));
    };
    let turn = state.changing.turn().await?;
    let issuer = state.issuer.clone();
    let owner = run(move || {
        let _turn = turn;
        let passkey = party
            .webauthn
            .finish_passkey_registration(&answer, &registration)
            .map_err(|e| {
                Refusal::of(
                    Reason::InvalidProof,
                    format!("the authenticator's answer does not verify: {e}"),
                )
            })?;
        issuer.add_passkey(&token, passkey, Utc::now())
    })
    .await?;
    Ok(json(
        StatusCode::CREATED,
        &Enrolled {
            owner: owner.id,
            passkeys: owner.passkeys.len(),
        },
    ))
}

fn decoded(id: &str) -> String {
    percent_encoding::percent_decode_str(id)
        .decode_utf8_lossy()
        .into_owned()
}

/// `POST /1.0/approvals/{id}/passkey`: an authentication challenge, for the owner's passkeys,
/// opened for this decision on this request only.
pub(super) async fn start_decision(
    id: String,
    start: PasskeyDecision,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let party = state.passkeys.relying_party()?;
    let approve = start.decision == OwnerVerdict::Approve;
    let id = decoded(&id);
    let issuer = state.issuer.clone();
    let asked = id.clone();
    let (pending, passkeys) = run(move || issuer.to_decide_by_passkey(&asked, Utc::now())).await?;
    let (options, authentication) = party
        .webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(internal)?;
    let ceremony = state.passkeys.open(Step::Decide {
        approval: id,
        approve,
        state: authentication,
    })?;
    let options = serde_json::to_value(options).map_err(internal)?;
    Ok(json(
        StatusCode::OK,
        &DecisionCeremony {
            ceremony,
            request: pending.request_hash,
            options,
        },
    ))
}

/// `POST /1.0/approvals/{id}/passkey/{ceremony}`: the owner's signature over the ceremony's
/// challenge; the decision it was opened for is made.
pub(super) async fn finish_decision(
    id: String,
    ceremony: String,
    answer: PublicKeyCredential,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let party = state.passkeys.relying_party()?;
    let id = decoded(&id);
    let Step::Decide {
        approval,
        approve,
        state: authentication,
    } = state.passkeys.take(&ceremony)?
    else {
        return Err(reject(
            ErrorCode::NotFound,
            "this ceremony is not a decision",
        ));
    };
    if approval != id {
        return Err(issuer_error(IssuerError::Refused(Refusal::of(
            Reason::RequestMismatch,
            "this ceremony was opened for another approval request",
        ))));
    }
    let turn = state.changing.turn().await?;
    let issuer = state.issuer.clone();
    let (pending, lists) = run(move || {
        let _turn = turn;
        issuer.decide_by_passkey(&id, approve, Utc::now(), || {
            party
                .webauthn
                .finish_passkey_authentication(&answer, &authentication)
                .map_err(|e| {
                    Refusal::of(
                        Reason::InvalidProof,
                        format!("the passkey's signature does not verify: {e}"),
                    )
                })
        })
    })
    .await?;
    publish_lists(&state, &lists).await;
    Ok(json(StatusCode::OK, &pending))
}

/// The link of an approval request's page, when the node has passkeys.
pub(super) fn approval_link(state: &ApiState, pending: &Pending) -> Option<String> {
    let party = state.passkeys.party()?;
    let id = vouch_api::node::client::segment(&pending.id);
    Some(format!("{}/approve/{id}", party.origin()))
}

/// An enrolment link, as the admin API answers it: where, and until when.
pub(super) fn enrolment_link(
    state: &ApiState,
    token: &crate::issuer::EnrolmentToken,
) -> Option<vouch_api::node::admin::Link> {
    let party = state.passkeys.party()?;
    Some(vouch_api::node::admin::Link {
        url: format!("{}/owners/enrol#{}", party.origin(), token.token),
        expires: token
            .expires
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_page_escapes_what_the_request_says() {
        let now = Utc::now();
        let hostile = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";
        let request = json!({"action": hostile, "resource": hostile,
                             "arguments": {"note": hostile}});
        let pending = Pending {
            id: format!("urn:uuid:\"{hostile}"),
            org: vouch_core::did::Did::parse(
                "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
            )
            .expect("a DID"),
            request_hash: vouch_core::hash::Multihash::of(b"r"),
            request,
            agent: vouch_core::did::Did::parse(
                "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
            )
            .expect("a DID"),
            credential: vouch_core::credential::CredentialId::parse(
                "urn:uuid:6f1b3a44-2c8e-4f53-9a57-0c1a1d2e3f40",
            )
            .expect("an id"),
            owner: "owner@org.example".into(),
            asked: now,
            expires: now + chrono::Duration::minutes(10),
            standing: Standing::Pending,
            approval: None,
            page: None,
        };
        let html = render_approval(&pending, now);
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        // The one script is the node's own, and the id stays inside its attribute.
        assert_eq!(html.matches("<script").count(), 1, "{html}");
        assert!(!html.contains("\"><img"), "{html}");
        // Waiting: the two buttons; decided or expired: none.
        assert!(html.contains("id=\"approve\"") && html.contains("id=\"refuse\""));
        let late = render_approval(&pending, now + chrono::Duration::minutes(11));
        assert!(!late.contains("id=\"approve\""), "{late}");
    }

    #[test]
    fn a_passkey_is_bound_to_the_name_the_node_is_reached_at() {
        let local = RelyingParty::for_public_url("http://127.0.0.1:8080").expect("loopback");
        assert_eq!(local.origin(), "http://localhost:8080");
        let named = RelyingParty::for_public_url("https://node.org.example").expect("a name");
        assert_eq!(named.origin(), "https://node.org.example");
        let Err(why) = RelyingParty::for_public_url("http://10.0.0.7:8080") else {
            panic!("an IP address has no passkeys");
        };
        assert!(why.contains("domain name"), "{why}");
    }
}
