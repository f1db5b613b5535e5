//! What each side of an exchange writes in its audit log (DESIGN §9): metadata and hashes
//! only — who the other side is, the credentials, the task and principal's pseudonym, the
//! action, the resource's hash, the decision and its reason. The wallet daemon and the node
//! record alike.

use crate::audit::log::entry;
use crate::audit::{Entry, Event};
use crate::hash::Multihash;

/// The audit entries of a decision, one per capability decided: by whom (`counterpart`, the
/// other side of the exchange), on which credentials (the leaf's task and principal pseudonym),
/// the action, the resource's hash (never the resource), accepted or the reason code.
pub fn decision_entries(
    decision: &crate::exchange::Decision,
    counterpart: &crate::did::Did,
    presented: &[String],
    leaf: Option<&crate::credential::AgentCapabilityCredential>,
) -> Vec<Entry> {
    use crate::audit::{Decision, MAX_CREDENTIALS};
    use crate::exchange::Verdict;
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
                .filter(|a| a.len() <= crate::audit::MAX_TEXT)
                .map(str::to_owned);
            entry.resource_hash = decided.capability["resource"]
                .as_str()
                .map(|r| Multihash::of(r.as_bytes()));
            entry.decision = Some(match decided.decision {
                Verdict::Accepted => Decision::Accepted,
                Verdict::Rejected => Decision::Rejected,
            });
            entry.reason = decided.reason.map(crate::report::Reason::code);
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
    counterpart: &crate::did::Did,
    presented: &[String],
    refused: Option<crate::report::Reason>,
) -> Entry {
    use crate::audit::{Decision, MAX_CREDENTIALS};
    let mut entry = entry(Event::ExchangeRequested);
    entry.agent = Some(counterpart.to_string());
    entry.credentials = presented.iter().take(MAX_CREDENTIALS).cloned().collect();
    if let Some(reason) = refused {
        entry.decision = Some(Decision::Rejected);
        entry.reason = Some(reason.code());
    }
    entry
}

/// The verifier's audit entries of a decision it made on `response` (the prover's, as
/// received): each capability decided, with the credentials presented and the leaf of the first
/// chain that verified.
pub fn judged_entries(
    judged: &crate::exchange::Judgement,
    response: &serde_json::Value,
) -> Vec<Entry> {
    let ids: Vec<String> = response["verifiablePresentation"]["verifiableCredential"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str())
        .filter(|id| id.len() <= crate::audit::MAX_TEXT)
        .map(str::to_owned)
        .collect();
    let leaf = judged
        .verified
        .chains
        .first()
        .and_then(|chain| chain.credentials.last());
    decision_entries(&judged.decision, &judged.decision.prover, &ids, leaf)
}
