//! What a wallet writes in its audit log for what its instance does: a delegation to a
//! sub-agent (to whom, for which task, the actions — or, past 1 KiB of them, their hash — the new
//! credential and its parent) and a renewal (the task, the new credential and the one it
//! renews), and both sides of a capability exchange. The `vouch` CLI (`--wallet`) and the
//! daemon record them alike.

use serde_json::Value;
use vouch_core::audit::{Entry, Event, log::entry};
use vouch_core::credential::AgentCapabilityCredential;
use vouch_core::hash::Multihash;

/// The longest list of actions written as it is.
const MAX_ACTIONS_TEXT: usize = 1024;

/// The audit entry of the delegation `signed`, made from `parent`.
pub fn delegation_entry(parent: &AgentCapabilityCredential, signed: &Value) -> Entry {
    let mut entry = entry(Event::Delegated);
    let subject = &signed["credentialSubject"];
    entry.agent = subject["id"].as_str().map(str::to_owned);
    entry.task = subject["task"]["id"].as_str().map(str::to_owned);
    let actions: Vec<&str> = subject["capabilities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["action"].as_str())
        .collect();
    let actions = actions.join(",");
    if actions.len() <= MAX_ACTIONS_TEXT {
        entry.action = Some(actions);
    } else {
        entry.resource_hash = Some(Multihash::of(actions.as_bytes()));
    }
    entry.credentials = signed["id"]
        .as_str()
        .map(str::to_owned)
        .into_iter()
        .chain([parent.id.to_string()])
        .collect();
    entry
}

/// The audit entry of the renewal of `previous` (its id and task) by `renewed`.
pub fn renewal_entry(previous: &str, task: &str, renewed: &Value) -> Entry {
    let mut entry = entry(Event::Renewed);
    entry.task = Some(task.to_owned());
    entry.credentials = renewed["id"]
        .as_str()
        .map(str::to_owned)
        .into_iter()
        .chain([previous.to_owned()])
        .collect();
    entry
}

/// The audit entries of a decision, one per capability decided: by whom (`counterpart`, the
/// other side of the exchange), on which credentials (the leaf's task and principal pseudonym),
/// the action, the resource's hash (never the resource), accepted or the reason code.
pub fn decision_entries(
    decision: &vouch_core::exchange::Decision,
    counterpart: &vouch_core::did::Did,
    presented: &[String],
    leaf: Option<&AgentCapabilityCredential>,
) -> Vec<Entry> {
    use vouch_core::audit::{Decision, MAX_CREDENTIALS};
    use vouch_core::exchange::Verdict;
    decision
        .decided
        .iter()
        .map(|decided| {
            let mut entry = entry(Event::Decided);
            entry.agent = Some(counterpart.to_string());
            entry.task = leaf.map(|l| l.credential_subject.task.id.clone());
            entry.principal = leaf.map(|l| l.credential_subject.principal.clone());
            entry.action = decided.capability["action"]
                .as_str()
                .filter(|a| a.len() <= vouch_core::audit::MAX_TEXT)
                .map(str::to_owned);
            entry.resource_hash = decided.capability["resource"]
                .as_str()
                .map(|r| Multihash::of(r.as_bytes()));
            entry.decision = Some(match decided.decision {
                Verdict::Accepted => Decision::Accepted,
                Verdict::Rejected => Decision::Rejected,
            });
            entry.reason = decided.reason.map(vouch_core::report::Reason::code);
            entry.credentials = std::iter::once(decision.id.clone())
                .chain(presented.iter().cloned())
                .take(MAX_CREDENTIALS)
                .collect();
            entry
        })
        .collect()
}

/// The audit entry of an exchange asked of this instance (`verifier` asked; `presented`, the
/// credentials it presented) or refused (with the reason), or of one this instance asked and
/// was refused.
pub fn exchange_entry(
    counterpart: &vouch_core::did::Did,
    presented: &[String],
    refused: Option<vouch_core::report::Reason>,
) -> Entry {
    use vouch_core::audit::{Decision, MAX_CREDENTIALS};
    let mut entry = entry(Event::ExchangeRequested);
    entry.agent = Some(counterpart.to_string());
    entry.credentials = presented.iter().take(MAX_CREDENTIALS).cloned().collect();
    if let Some(reason) = refused {
        entry.decision = Some(Decision::Rejected);
        entry.reason = Some(reason.code());
    }
    entry
}
