//! What a wallet writes in its audit log for what its instance does: a delegation to a
//! sub-agent (to whom, for which task, the actions — or, past 1 KiB of them, their hash — the new
//! credential and its parent) and a renewal (the task, the new credential and the one it
//! renews). The `vouch` CLI (`--wallet`) and the daemon record them alike; the exchange's
//! entries are `vouch_core::exchange::audit`'s, shared with the node.

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
