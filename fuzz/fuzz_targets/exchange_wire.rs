//! The exchange on the wire (`/vouch/exchange/1.0.0`), every decoder a peer reaches: a message or
//! a reply read from bytes, then what each side does with it — the prover answering a request,
//! the prover taking a decision, the verifier deciding on a response. Nothing panics, and a
//! decision decides exactly the capabilities asked.
#![no_main]

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use vouch_core::did::resolve::DidKeyResolver;
use vouch_core::exchange::wire::{self, Message, Reply};
use vouch_core::exchange::{self, Answered, Ask, Asked, Holdings, Once};
use vouch_core::key::KeyPair;
use vouch_core::verify::{TrustList, Verifier};

struct Nothing;

impl Holdings for Nothing {
    fn held(&self) -> Vec<Value> {
        Vec::new()
    }
    fn ancestor(&self, _: &str) -> Option<Value> {
        None
    }
}

struct Fixed {
    key: KeyPair,
    asked: Asked,
    answered: Answered,
    now: DateTime<Utc>,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let key = KeyPair::from_seed(&[7; 32]);
        let now = DateTime::from_timestamp(1_796_040_000, 0).expect("a time");
        let asked = exchange::ask(
            &key,
            Ask {
                credentials: vec![json!({"id": "urn:uuid:0"})],
                domain: "partner.example".into(),
                query: json!({"credentials": [{"id": "a", "format": "ldp_vc",
                    "meta": {"type_values": [["https://w3id.org/vouch#AgentCapabilityCredential"]]}}]}),
                capabilities: vec![json!({"action": "read:tickets",
                    "resource": "https://h.example/t/1"})],
            },
            now,
        )
        .expect("a request");
        let did = vouch_core::did::key::did_of(&key.public());
        let answered = Answered {
            verifier: did.clone(),
            prover: did,
            challenge: asked.request.challenge.clone(),
            domain: asked.request.domain.clone(),
            capabilities: asked.request.capabilities.clone(),
            response: json!({"verifiablePresentation": {}}),
            presented: Vec::new(),
        };
        Fixed {
            key,
            asked,
            answered,
            now,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let fixed = fixed();
    let trust = TrustList::default();
    let mut verifier = Verifier::new(&DidKeyResolver, fixed.now);
    verifier.issuers = Some(&trust);
    if let Ok(message) = wire::decode::<Message>(data) {
        match message {
            Message::Request { request } => {
                let seen = Once::new(16);
                let _ = exchange::answer(&request, &fixed.key, &Nothing, None, &verifier, &seen);
            }
            Message::Decision { decision } => {
                let _ = fixed.answered.accept(&decision, fixed.now);
            }
        }
    }
    if let Ok(Reply::Response { response }) = Reply::decode(data)
        && let Ok(judged) = fixed.asked.decide(&response, None, &verifier, &fixed.key)
    {
        assert_eq!(
            judged.decision.decided.len(),
            fixed.asked.request.capabilities.len()
        );
    }
});
