//! RFC 9421 signatures against an implementation that is not ours: Cloudflare's `web-bot-auth`
//! crate (crates.io) verifies what Vouch signs, and Vouch verifies what it signs — its
//! parameters in its own order (keyid, nonce, tag, alg, created, expires), its own serialization.

use crate::web_bot_auth_message::Message;
use indexmap::IndexMap;
use url::Url;
use vouch_core::http_signature::{
    self, Component, HttpSignatureError, Parameters, Policy, Request,
};
use vouch_core::key::KeyPair;
use web_bot_auth::components::{CoveredComponent, DerivedComponent, HTTPField};
use web_bot_auth::keyring::{Algorithm, KeyRing};
use web_bot_auth::message_signatures::{MessageSigner, MessageVerifier, UnsignedMessage};

impl Message {
    fn request(&self) -> Request<'_> {
        Request {
            method: &self.method,
            target: &self.target,
            headers: &self.headers,
            body: None,
        }
    }
}

impl UnsignedMessage for Message {
    fn fetch_components_to_cover(&self) -> IndexMap<CoveredComponent, String> {
        IndexMap::from_iter([
            (
                CoveredComponent::Derived(DerivedComponent::Method { req: false }),
                self.method.clone(),
            ),
            (
                CoveredComponent::Derived(DerivedComponent::Authority { req: false }),
                self.authority(),
            ),
            (
                CoveredComponent::Derived(DerivedComponent::Path { req: false }),
                self.target.path().to_owned(),
            ),
            (
                CoveredComponent::HTTP(HTTPField {
                    name: "signature-agent".into(),
                    parameters: web_bot_auth::components::HTTPFieldParametersSet(vec![]),
                }),
                self.field("signature-agent").join(", "),
            ),
        ])
    }

    fn register_header_contents(&mut self, signature_input: String, signature_header: String) {
        self.headers
            .push(("Signature-Input".into(), format!("sig1={signature_input}")));
        self.headers
            .push(("Signature".into(), format!("sig1={signature_header}")));
    }
}

fn now() -> i64 {
    crate::fixtures::now().timestamp()
}

#[test]
fn what_vouch_signs_verifies_in_web_bot_auth() {
    let pair = KeyPair::generate();
    let mut message = Message {
        method: "GET".into(),
        target: Url::parse("https://shop.example:8443/catalog/items?page=2").expect("a URL"),
        headers: vec![("Signature-Agent".into(), "\"https://agent.example\"".into())],
    };
    let covered = [
        Component::Method,
        Component::Authority,
        Component::Path,
        Component::Field("signature-agent".into()),
    ];
    let created = now();
    let parameters = Parameters {
        created: Some(created),
        expires: Some(created + 30),
        nonce: Some("vouch-nonce-1".into()),
        keyid: Some("vouch-key".into()),
        alg: Some("ed25519".into()),
        tag: Some("web-bot-auth".into()),
    };
    let signed = http_signature::sign(&pair, &message.request(), &covered, &parameters, "sig1")
        .expect("signed");
    message
        .headers
        .push(("Signature-Input".into(), signed.input));
    message.headers.push(("Signature".into(), signed.signature));

    let mut keyring = KeyRing::default();
    keyring.import_raw(
        "vouch-key".into(),
        Algorithm::Ed25519,
        pair.public().as_bytes().to_vec(),
    );
    let verifier = MessageVerifier::parse(&message, |_| true).expect("parsed by web-bot-auth");
    verifier
        .clone()
        .verify(&keyring, None)
        .expect("verified by web-bot-auth");

    // And a changed path fails there too: it reads the request, not only our base.
    let mut moved = message;
    moved.target = Url::parse("https://shop.example:8443/catalog/admin").expect("a URL");
    let verifier = MessageVerifier::parse(&moved, |_| true).expect("parsed");
    assert!(verifier.verify(&keyring, None).is_err());
}

#[test]
fn what_web_bot_auth_signs_verifies_here() {
    let pair = KeyPair::generate();
    let mut message = Message {
        method: "POST".into(),
        target: Url::parse("https://api.example/v1/refunds").expect("a URL"),
        headers: vec![("Signature-Agent".into(), "\"https://agent.example\"".into())],
    };
    MessageSigner {
        keyid: "their-key".into(),
        nonce: "their-nonce".into(),
        tag: "web-bot-auth".into(),
    }
    .generate_signature_headers_content(
        &mut message,
        std::time::Duration::from_secs(30),
        Algorithm::Ed25519,
        &*pair.seed(),
    )
    .expect("signed by web-bot-auth");

    // Verified a second after it was made (web-bot-auth reads the real clock; these tests do
    // not): its `created`, as it wrote it.
    let input = message.field("signature-input").join(", ");
    let created = input
        .split(";created=")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|n| n.parse::<i64>().ok())
        .expect("a created parameter");
    let at = created + 1;
    let public = pair.public();
    let policy = Policy {
        required: &[Component::Method, Component::Authority, Component::Path],
        tags: &["web-bot-auth"],
        lifetime: vouch_core::http_signature::MAX_LIFETIME_SECS,
        fresh: true,
    };
    let verified = http_signature::verify(
        &message.request(),
        "sig1",
        &policy,
        |id| (id == "their-key").then_some(public),
        at,
        |nonce, _| nonce == "their-nonce",
    )
    .expect("verified here");
    assert_eq!(verified.parameters.tag.as_deref(), Some("web-bot-auth"));
    assert!(
        verified
            .covered
            .contains(&Component::Field("signature-agent".into()))
    );

    // Another method under their signature: refused here.
    let mut changed = message;
    changed.method = "DELETE".into();
    assert_eq!(
        http_signature::verify(
            &changed.request(),
            "sig1",
            &policy,
            |_| Some(public),
            at,
            |_, _| true,
        ),
        Err(HttpSignatureError::InvalidSignature)
    );
}
