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

/// The longest party name an entry keeps as it is; a longer one is kept as its hash.
pub const MAX_PARTY: usize = 128;

/// A party's name as an entry keeps it: as given when it is short (a did:key is 56 bytes), else
/// its hash, so that a stranger's choice never costs more than a hash in the log.
pub fn party(name: &str) -> String {
    if name.len() <= MAX_PARTY {
        name.to_owned()
    } else {
        Multihash::of(name.as_bytes()).to_string()
    }
}

/// One hash for texts a stranger chose (credential ids, capabilities): the hash of their JSON
/// array, or none for none.
pub fn digest<'a>(texts: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let texts: Vec<&str> = texts.into_iter().collect();
    if texts.is_empty() {
        return None;
    }
    Some(Multihash::of(&serde_json::to_vec(&texts).expect("strings always serialize")).to_string())
}

/// The one audit entry of something refused to a party that did not authenticate (its
/// presentation did not verify): the event, the reason, the party (or its hash), and one hash
/// of the credential ids it sent — a fixed size, whatever it sent.
pub fn refusal_entry(
    event: Event,
    party_name: Option<&str>,
    reason: Option<crate::report::Reason>,
    ids: &[&str],
) -> Entry {
    use crate::audit::Decision;
    let mut entry = entry(event);
    entry.agent = party_name.map(party);
    entry.decision = Some(Decision::Rejected);
    entry.reason = reason.map(crate::report::Reason::code);
    entry.credentials = digest(ids.iter().copied()).into_iter().collect();
    entry
}

/// The verifier's audit entries of a decision it made on `response` (the prover's, as
/// received): each capability decided, with the credentials presented and the leaf of the first
/// chain that verified. A presentation that did not verify gets one entry of a fixed size
/// ([`refusal_entry`]): the prover did not authenticate, and what it sent is its own choice.
pub fn judged_entries(
    judged: &crate::exchange::Judgement,
    response: &serde_json::Value,
) -> Vec<Entry> {
    if !judged.verified.report.verified {
        let ids: Vec<&str> = response["verifiablePresentation"]["verifiableCredential"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["id"].as_str())
            .take(crate::presentation::MAX_CREDENTIALS * 4)
            .collect();
        let reason = judged.verified.report.checks.iter().find_map(|c| c.reason);
        let mut refused = refusal_entry(
            Event::Decided,
            Some(judged.decision.prover.as_str()),
            reason,
            &ids,
        );
        refused.credentials.insert(0, judged.decision.id.clone());
        return vec![refused];
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_stranger_chose_is_kept_short_or_as_its_hash() {
        let did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";
        assert_eq!(party(did), did);
        let long = format!("did:example:{}", "h".repeat(4000));
        let kept = party(&long);
        assert!(kept.len() < 64 && !kept.contains('h'), "{kept}");
        assert_eq!(kept, party(&long), "the same name, the same hash");
        let planted: Vec<String> = (0..64)
            .map(|i| format!("planted-{i}-{}", "r".repeat(2048)))
            .collect();
        let entry = refusal_entry(
            Event::VerificationRefused,
            Some(&long),
            Some(crate::report::Reason::InvalidProof),
            &planted.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        let bytes = String::from_utf8(entry.to_bytes()).expect("UTF-8");
        assert!(bytes.len() < 400, "{} bytes", bytes.len());
        assert!(!bytes.contains("planted"), "{bytes}");
        assert_eq!(entry.credentials.len(), 1);
    }
}
