//! The Web Bot Auth profile (draft-ietf-webbotauth-httpsig-protocol): what the daemon signs with
//! `Signature-Agent`, and the key directory its card server serves, read and verified by
//! Cloudflare's `web-bot-auth` crate — a service that knows only Web Bot Auth — and the same
//! request checked by the node for its capability.

use std::sync::Arc;

use url::Url;
use vouch_api::daemon::CardAsk;
use vouch_api::node::public::CheckRequest;
use vouch_core::http_signature::{
    self, Component, DIRECTORY_MEDIA_TYPE, DIRECTORY_PATH, LABEL, MAX_LIFETIME_SECS, Parameters,
    WEB_BOT_AUTH_TAG,
};
use vouch_core::key::KeyPair;
use vouch_wallet::daemon::Daemon;
use web_bot_auth::keyring::{JSONWebKeySet, KeyRing};
use web_bot_auth::message_signatures::MessageVerifier;
use web_bot_auth::{ImplementationError, SignatureAgentLink, WebBotAuthVerifier};

use crate::exchange::{refund_agent, signed_refund};

#[path = "../../core/tests/web_bot_auth_message.rs"]
mod web_bot_auth_message;
use web_bot_auth_message::Message;

/// The daemon's card server on a loopback port, until the runtime is dropped.
fn card_server(runtime: &tokio::runtime::Runtime, wallet: &Arc<Daemon>) -> Url {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a port");
    let at = listener.local_addr().expect("an address");
    runtime.spawn(vouch_wallet::daemon::serve_card(
        wallet.clone(),
        listener,
        CardAsk {
            name: "refund-bot".into(),
            description: None,
            url: None,
            version: None,
        },
        std::future::pending(),
    ));
    Url::parse(&format!("http://{at}{DIRECTORY_PATH}")).expect("a URL")
}

/// The directory at `url`: its header fields and body.
fn fetch(url: &Url) -> (Vec<(String, String)>, Vec<u8>) {
    let mut answer = ureq::get(url.as_str()).call().expect("the directory");
    let headers = answer
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = answer.body_mut().read_to_vec().expect("a body");
    (headers, body)
}

#[test]
fn the_web_bot_auth_profile_verifies_at_web_bot_auth_and_its_capability_at_the_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (node, agent, wallet, id) = refund_agent(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let directory_url = card_server(&runtime, &wallet);

    // The directory: the JWK Set of the instance key, with the draft's media type, signed by
    // that key over the authority asked and the body's digest — web-bot-auth computes the
    // key's thumbprint itself, and verifies the directory's signature under it.
    let (headers, body) = fetch(&directory_url);
    let field = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(field("content-type").as_deref(), Some(DIRECTORY_MEDIA_TYPE));
    assert_eq!(
        field("content-digest"),
        Some(http_signature::content_digest(&body))
    );
    let jwks: JSONWebKeySet = serde_json::from_slice(&body).expect("a JWK Set");
    let mut keyring = KeyRing::default();
    assert!(keyring.import_jwks(jwks).iter().all(Option::is_none));
    let thumbprint = http_signature::jwk_thumbprint(&agent.public());
    assert!(
        keyring.get(&thumbprint).is_some(),
        "listed by its thumbprint"
    );
    let directory = Message {
        method: "GET".into(),
        target: directory_url.clone(),
        headers: headers.clone(),
    };
    let verifier = MessageVerifier::parse(&directory, |(_, inner)| {
        inner
            .params
            .get("tag")
            .and_then(|t| t.as_string())
            .map(|t| t.as_str())
            == Some(http_signature::DIRECTORY_TAG)
            && inner.items.iter().any(|item| {
                item.bare_item
                    .as_string()
                    .is_some_and(|s| s.as_str() == "@authority")
                    && item.params.contains_key("req")
            })
    })
    .expect("the directory's signature input");
    verifier
        .verify(&keyring, None)
        .expect("the directory's signature verifies");

    // A request signed in the Web Bot Auth profile: web-bot-auth finds the directory in
    // Signature-Agent and verifies the signature under the key listed there.
    let url = "https://billing.b.example/refunds/42";
    let request_body = br#"{"amount": 50}"#;
    let sign =
        |present: bool| signed_refund(&wallet, &id, present, Some(directory_url.to_string()));
    let fields = |asked: &CheckRequest| -> Vec<(String, String)> {
        asked
            .headers
            .iter()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect()
    };
    let first = sign(true);
    let headers = fields(&first);
    let agent_field = headers.iter().find(|(n, _)| n == "signature-agent");
    assert_eq!(
        agent_field.map(|(_, v)| v.clone()),
        Some(format!("{LABEL}=\"{directory_url}\""))
    );
    let target = Url::parse(url).expect("a URL");
    let message = Message {
        method: "POST".into(),
        target: target.clone(),
        headers: headers.clone(),
    };
    let verifier = WebBotAuthVerifier::parse(&message).expect("a Web Bot Auth signature");
    assert_eq!(
        verifier.get_signature_agents(),
        &vec![SignatureAgentLink::External(directory_url.to_string())]
    );
    verifier
        .verify(&keyring, None)
        .expect("verified by web-bot-auth");
    // On another path, it does not verify.
    let moved = Message {
        target: Url::parse("https://billing.b.example/refunds/43").expect("a URL"),
        ..message
    };
    assert!(
        WebBotAuthVerifier::parse(&moved)
            .expect("a Web Bot Auth signature")
            .verify(&keyring, None)
            .is_err()
    );

    // A key not in the directory: the same request signed alike by another key is refused.
    let stranger = KeyPair::generate();
    let mut forged: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| n != "signature-input" && n != "signature")
        .cloned()
        .collect();
    let created = chrono::Utc::now().timestamp();
    let made = http_signature::sign(
        &stranger,
        &http_signature::Request {
            method: "POST",
            target: &target,
            headers: &forged,
            body: Some(request_body),
        },
        &[
            Component::Method,
            Component::TargetUri,
            Component::Member {
                field: "signature-agent".into(),
                key: LABEL.into(),
            },
        ],
        &Parameters {
            created: Some(created),
            expires: Some(created + MAX_LIFETIME_SECS),
            nonce: Some("a-stranger".into()),
            keyid: Some(http_signature::jwk_thumbprint(&stranger.public())),
            alg: Some("ed25519".into()),
            tag: Some(WEB_BOT_AUTH_TAG.into()),
        },
        LABEL,
    )
    .expect("signed");
    forged.push(("signature-input".into(), made.input));
    forged.push(("signature".into(), made.signature));
    let stranger_message = Message {
        method: "POST".into(),
        target: target.clone(),
        headers: forged,
    };
    let refused = WebBotAuthVerifier::parse(&stranger_message)
        .expect("a Web Bot Auth signature")
        .verify(&keyring, None);
    assert!(
        matches!(refused, Err(ImplementationError::NoSuchKey)),
        "{refused:?}"
    );

    // The node checks the same request for its capability: the thumbprint names the
    // presentation's holder; on the session's next request, the signer it kept.
    let client = node.client();
    let permitted = client.verify_request(&first).expect("permitted");
    assert_eq!(permitted.credential, id);
    let later = client
        .verify_request(&sign(false))
        .expect("the session's next request, permitted");
    assert_eq!(later.signer, permitted.signer);
}
