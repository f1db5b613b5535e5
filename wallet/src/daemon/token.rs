//! The daemon's OAuth access tokens (`{"op": "access_token"}`): token exchange at the org's
//! node (RFC 8693) of a presentation of the one credential held that reaches the resource, with
//! its chain and the approvals of the requests asked for, over a fresh challenge of the node,
//! and a DPoP proof (RFC 9449) of the exchange made with the instance key: the token is bound
//! to the key that never leaves the daemon. Each token got is written to the wallet's audit
//! log (the credential and the hash of the resource, never the token).

use serde_json::{Value, json};
use vouch_api::daemon::TokenAsk;
use vouch_core::approval::{Approval, request_hash};
use vouch_core::audit::{Event, log::entry};
use vouch_core::capability::{Request, ResourcePattern};
use vouch_core::credential::AgentCapabilityCredential;
use vouch_core::hash::Multihash;
use vouch_core::oauth::{APPROVED_REQUEST_DETAIL, MAX_ASKED_DETAILS};

use super::{Daemon, Refusal};

impl Daemon {
    /// An access token for `ask.resource`, from the org's node.
    pub(super) fn access_token(&self, ask: TokenAsk) -> Result<Value, Refusal> {
        let refused = |why: String| Refusal::refused(why);
        let node = self
            .node
            .as_ref()
            .ok_or_else(|| refused("this daemon knows no node (--node)".into()))?;
        let resource = ResourcePattern::parse_concrete(&ask.resource)
            .map_err(|e| refused(format!("resource: {e}")))?;
        if ask.approved.len() > MAX_ASKED_DETAILS {
            return Err(refused(format!(
                "at most {MAX_ASKED_DETAILS} approved requests"
            )));
        }
        let now = chrono::Utc::now();
        let held = self
            .store
            .credentials(None)
            .map_err(|e| Refusal::internal(e.to_string()))?;
        let reaches = |credential: &AgentCapabilityCredential| {
            credential.admits_resource(&resource)
                && credential
                    .valid_capabilities()
                    .iter()
                    .any(|c| c.resource.reaches_under(&resource))
        };
        let mut candidates: Vec<Value> =
            held.into_iter()
                .filter(|h| h.valid_until > now)
                .filter(|h| match &ask.credential {
                    Some(id) => h.id == *id,
                    None => AgentCapabilityCredential::from_json(&h.credential)
                        .is_ok_and(|c| reaches(&c)),
                })
                .map(|h| h.credential)
                .collect();
        let credential = match (candidates.pop(), candidates.is_empty()) {
            (Some(one), true) => one,
            (None, _) => {
                return Err(Refusal::from(vouch_core::exchange::Refused {
                    reason: vouch_core::report::Reason::NotGranted,
                    message: match &ask.credential {
                        Some(id) => format!("no credential {id:.128} is held and valid"),
                        None => format!("no credential held reaches {:.256}", resource.to_string()),
                    },
                }));
            }
            (Some(_), false) => {
                return Err(refused(format!(
                    "{} credentials held reach {:.256}: name the one to present (credential)",
                    candidates.len() + 1,
                    resource.to_string()
                )));
            }
        };
        let id = credential["id"].as_str().unwrap_or_default().to_owned();
        let mut presented = self.chain_above(credential)?;
        let mut details = Vec::new();
        let approvals = self.approvals_held();
        for asked in &ask.approved {
            let request = Request::from_json(asked)
                .map_err(|e| refused(format!("an approved request: {e}")))?;
            let hash = request_hash(&request);
            let approval = approvals
                .iter()
                .find(|raw| Approval::from_json(raw).is_ok_and(|a| a.request == hash))
                .ok_or_else(|| {
                    Refusal::from(vouch_core::exchange::Refused {
                        reason: vouch_core::report::Reason::NeedsApproval,
                        message: format!(
                            "no approval held of {} on {}: ask for it first (request_approval)",
                            request.action, request.resource
                        ),
                    })
                })?;
            if !presented.contains(approval) {
                presented.push(approval.clone());
            }
            details.push(json!({
                "type": APPROVED_REQUEST_DETAIL,
                "actions": [request.action.to_string()],
                "locations": [request.resource.to_string()],
                "arguments": request.arguments,
            }));
        }
        let details = (!details.is_empty()).then(|| Value::Array(details).to_string());
        let issued = node.exchange_token(&self.key, presented, &ask.resource, details, now)?;

        let mut recorded = entry(Event::TokenIssued);
        recorded.agent = Some(self.instance.to_string());
        recorded.credentials = vec![id];
        recorded.resource_hash = Some(Multihash::of(ask.resource.as_bytes()));
        self.log
            .record(recorded, now)
            .map_err(|e| Refusal::internal(format!("the audit log: {e}")))?;
        super::as_json(&issued)
    }
}
