//! The instance's A2A agent card (docs/A2A.md): an A2A v1.0 `AgentCard` whose
//! `capabilities.extensions` carries the Vouch identity extension — the instance's did:key, the
//! orgs whose credentials it holds, where its daemon takes capability exchanges, and what it can
//! prove. A card is a claim, not evidence: whoever starts an exchange from it checks that the
//! agent that answered is the card's instance, and decides on the presentation alone.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use vouch_core::did::Did;

use super::Refusal;
use crate::store::Held;
use vouch_api::ErrorCode;
pub use vouch_api::daemon::CardAsk;

/// The URI of the Vouch identity extension of an A2A agent card.
pub const EXTENSION: &str = "https://w3id.org/vouch/a2a/identity/v1";
/// The most capabilities a card lists.
const MAX_CAPABILITIES: usize = 64;
/// The longest name, description or URL taken.
const MAX_FIELD: usize = 2048;

/// The card of `instance`, whose daemon takes exchanges at `addresses`, holding `held`.
pub(super) fn card(
    ask: CardAsk,
    instance: &Did,
    addresses: &[String],
    held: &[Held],
    now: DateTime<Utc>,
) -> Result<Value, Refusal> {
    let bounded = |what: &str, value: &str| {
        if value.is_empty() || value.len() > MAX_FIELD || value.chars().any(char::is_control) {
            Err(Refusal::new(
                ErrorCode::Malformed,
                format!("{what}: 1 to {MAX_FIELD} bytes, no control characters"),
            ))
        } else {
            Ok(())
        }
    };
    bounded("name", &ask.name)?;
    if let Some(description) = &ask.description {
        bounded("description", description)?;
    }
    if let Some(url) = &ask.url {
        bounded("url", url)?;
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Refusal::new(ErrorCode::Malformed, "url: http(s) only"));
        }
    }
    let valid: Vec<&Held> = held.iter().filter(|h| h.valid_until > now).collect();
    let mut organizations: Vec<String> = Vec::new();
    let mut types: Vec<String> = Vec::new();
    let mut capabilities: Vec<Value> = Vec::new();
    for held in &valid {
        let credential = &held.credential;
        if let Some(issuer) = credential["issuer"].as_str()
            && issuer.starts_with("did:vouch:")
            && !organizations.iter().any(|o| o == issuer)
        {
            organizations.push(issuer.to_owned());
        }
        for kind in credential["type"].as_array().into_iter().flatten() {
            if let Some(kind) = kind.as_str()
                && kind != "VerifiableCredential"
                && !types.iter().any(|t| t == kind)
            {
                types.push(kind.to_owned());
            }
        }
        let granted = credential["credentialSubject"]["capabilities"].as_array();
        for capability in granted.into_iter().flatten() {
            let summary = json!({
                "action": capability["action"],
                "resource": capability["resource"],
            });
            if capabilities.len() < MAX_CAPABILITIES && !capabilities.contains(&summary) {
                capabilities.push(summary);
            }
        }
    }
    let interfaces: Vec<Value> = ask
        .url
        .iter()
        .map(|url| json!({"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}))
        .collect();
    Ok(json!({
        "name": ask.name,
        "description": ask.description.unwrap_or_else(|| "An agent with a Vouch identity".into()),
        "version": ask.version.unwrap_or_else(|| "1.0.0".into()),
        "supportedInterfaces": interfaces,
        "capabilities": {
            "extensions": [{
                "uri": EXTENSION,
                "description": "Vouch identity: prove this agent's capabilities in a Vouch capability exchange",
                "required": false,
                "params": {
                    "instance": instance.to_string(),
                    "organizations": organizations,
                    "exchange": {"libp2p": addresses},
                    "credentialTypes": types,
                    "capabilities": capabilities,
                },
            }],
        },
        "defaultInputModes": ["application/json"],
        "defaultOutputModes": ["application/json"],
        "skills": [],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(issuer: &str, valid_until: DateTime<Utc>, actions: &[&str]) -> Held {
        let capabilities: Vec<Value> = actions
            .iter()
            .map(|a| json!({"action": a, "resource": "https://x.example/**", "constraints": {"maxAmount": {"value": 1, "unit": "EUR"}}}))
            .collect();
        Held {
            id: format!("urn:uuid:{}", actions.join("-")),
            task: "t".into(),
            valid_until,
            credential: json!({
                "type": ["VerifiableCredential", "AgentCapabilityCredential"],
                "issuer": issuer,
                "credentialSubject": {"capabilities": capabilities},
            }),
        }
    }

    #[test]
    fn a_card_lists_what_is_held_now_and_refuses_bad_fields() {
        let now = Utc::now();
        let instance =
            Did::parse("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK").expect("a DID");
        let org = "did:vouch:zQmOrg";
        let held = [
            held(org, now + chrono::Duration::hours(1), &["call:a", "call:b"]),
            held(org, now + chrono::Duration::hours(1), &["call:a"]),
            held(
                "did:vouch:zQmOld",
                now - chrono::Duration::seconds(1),
                &["call:old"],
            ),
        ];
        let ask = |name: &str, url: Option<&str>| CardAsk {
            name: name.into(),
            description: None,
            url: url.map(Into::into),
            version: None,
        };
        let card = card(
            ask("refunds", Some("https://agent.example/a2a")),
            &instance,
            &["/ip4/127.0.0.1/tcp/1/p2p/x".into()],
            &held,
            now,
        )
        .expect("a card");
        let extension = &card["capabilities"]["extensions"][0];
        assert_eq!(extension["uri"], EXTENSION);
        let params = &extension["params"];
        assert_eq!(params["instance"], instance.to_string());
        // Expired credentials are not advertised; duplicates once; constraints never shown.
        assert_eq!(params["organizations"], json!([org]));
        assert_eq!(
            params["credentialTypes"],
            json!(["AgentCapabilityCredential"])
        );
        assert_eq!(
            params["capabilities"],
            json!([{"action": "call:a", "resource": "https://x.example/**"},
                   {"action": "call:b", "resource": "https://x.example/**"}])
        );
        assert_eq!(
            card["supportedInterfaces"][0]["url"],
            "https://agent.example/a2a"
        );

        for bad in [
            ask("", None),
            ask("x", Some("file:///etc/passwd")),
            ask("a\nb", None),
        ] {
            assert_eq!(
                super::card(bad, &instance, &[], &held, now)
                    .expect_err("refused")
                    .code,
                ErrorCode::Malformed
            );
        }
    }
}
