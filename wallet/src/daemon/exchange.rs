//! The daemon's two sides of the capability exchange (DESIGN §8), on `vouch_core::exchange`:
//!
//! - As the **verifier**, for its agent (`{"op": "exchange", …}`): asks a peer instance over
//!   libp2p, decides each capability on the peer's presentation with what its org's node
//!   knows, records the decisions, sends the signed `CapabilityDecision` and answers its agent
//!   with it.
//! - As the **prover**, for any peer: answers a request only to a verifier it authenticates
//!   and trusts, with what the query selects; takes the verifier's decision once, checked; and
//!   records both. The same over the socket (`answer`, `accept`) for exchanges that travel
//!   another way (HTTP).
//!
//! Audit entries are written before the message that they record is sent.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};
use vouch_core::credential::AgentCapabilityCredential;
use vouch_core::did::Did;
use vouch_core::exchange::flow::MAX_REQUEST_AGE;
use vouch_core::exchange::wire::{Message, Reply, Unavailable};
use vouch_core::exchange::{self, Answered, Ask, Decision, Holdings, NotKept, Refused, Unanswered};
use vouch_core::report::Reason;
use vouch_core::verify::Verifier;

use super::{Daemon, Refusal};
use crate::knowledge::Known;
use vouch_api::ErrorCode;
pub use vouch_api::daemon::ExchangeAsk;
use vouch_api::daemon::Exchanged;

/// A failure to write the wallet's audit log: the message is not judged.
fn unrecorded(e: impl std::fmt::Display) -> Unanswered {
    Unanswered::Failed(format!("the wallet's audit log: {e}"))
}

/// The query a verifier asks when its agent gives none: every capability credential.
pub fn default_query() -> Value {
    json!({"credentials": [{
        "id": "capabilities",
        "format": "ldp_vc",
        "multiple": true,
        "meta": {"type_values": [["https://w3id.org/vouch#AgentCapabilityCredential"]]},
    }]})
}

/// The wallet's credentials as the exchange sees them: those valid now, and their ancestors.
struct Held<'a> {
    daemon: &'a Daemon,
    now: chrono::DateTime<Utc>,
}

impl Holdings for Held<'_> {
    fn held(&self) -> Vec<Value> {
        self.daemon
            .store
            .credentials(None)
            .unwrap_or_default()
            .into_iter()
            .filter(|h| h.valid_until > self.now)
            .map(|h| h.credential)
            .collect()
    }

    fn ancestor(&self, id: &str) -> Option<Value> {
        self.daemon.store.ancestor(id).ok().flatten()
    }

    fn approvals(&self) -> Vec<Value> {
        self.daemon.approvals_held()
    }
}

fn leaf_of(credential: Option<&Value>) -> Option<AgentCapabilityCredential> {
    credential.and_then(|c| AgentCapabilityCredential::from_json(c).ok())
}

impl Daemon {
    /// What verifying `credentials` needs now: the node's lists and policy; without a node,
    /// nothing (and a verifier told nothing trusts nothing).
    fn known(&self, credentials: &[&Value]) -> Known {
        let now = Utc::now();
        match &self.knowledge {
            Some(knowledge) => knowledge.known(credentials, now),
            None => Known {
                lists: vouch_core::status::HeldLists::new(now),
                trust: Default::default(),
            },
        }
    }

    fn verifier<'a>(&'a self, known: &'a Known) -> Verifier<'a> {
        let resolver: &dyn vouch_core::did::DidResolver = match &self.knowledge {
            Some(knowledge) => knowledge.as_ref(),
            None => &vouch_core::did::resolve::DidKeyResolver,
        };
        let mut verifier = Verifier::new(resolver, Utc::now());
        verifier.issuers = Some(&known.trust);
        verifier.status = Some(&known.lists);
        verifier.approvals = Some(&self.approvals_used);
        verifier
    }

    /// Answers a request as the prover, for `peer` when the transport authenticated one: the
    /// response, recorded; or the refusal, recorded too.
    pub fn answer_request(&self, request: &Value, peer: Option<&Did>) -> Result<Value, Unanswered> {
        let theirs = request["verifierPresentation"]["verifiableCredential"]
            .as_array()
            .map(|c| c.iter().collect::<Vec<_>>())
            .unwrap_or_default();
        let known = self.known(&theirs);
        let verifier = self.verifier(&known);
        let now = verifier.now;
        let holdings = Held { daemon: self, now };
        let answered = exchange::answer(request, &self.key, &holdings, peer, &verifier, &self.seen);
        let counterpart = match &answered {
            Ok(answered) => Some(answered.verifier.clone()),
            Err(_) => request["verifierPresentation"]["holder"]
                .as_str()
                .and_then(|h| Did::parse(h).ok())
                .or_else(|| peer.cloned()),
        };
        let record = |entry| self.log.record(entry, now).map(|_| ()).map_err(unrecorded);
        match answered {
            // Not judged (busy): nothing to record.
            Err(not_judged @ (Unanswered::Busy(_) | Unanswered::Failed(_))) => Err(not_judged),
            Err(Unanswered::Refused(refused)) => {
                // A verifier refused did not authenticate: its name is kept short (hashed when
                // long), and its refusals in a minute are counted, not written one by one.
                if let Some(counterpart) = &counterpart {
                    let mut entry =
                        exchange::audit::exchange_entry(counterpart, &[], Some(refused.reason));
                    entry.agent = entry.agent.as_deref().map(exchange::audit::party);
                    let entries = self.refusals.refused(entry, now);
                    if !entries.is_empty() {
                        self.log.record_all(entries, now).map_err(unrecorded)?;
                    }
                }
                Err(refused.into())
            }
            Ok(answered) => {
                record(exchange::audit::exchange_entry(
                    &answered.verifier,
                    &answered.presented,
                    None,
                ))?;
                let response = answered.response.clone();
                self.open
                    .insert(
                        answered.challenge.clone(),
                        now + MAX_REQUEST_AGE,
                        answered,
                        now,
                    )
                    .map_err(|not_kept| match not_kept {
                        NotKept::Replayed => Unanswered::Refused(Refused {
                            reason: Reason::Replayed,
                            message: "this exchange is open already".into(),
                        }),
                        NotKept::Full(why) => Unanswered::Busy(format!("exchanges open: {why}")),
                    })?;
                Ok(response)
            }
        }
    }

    /// Takes the verifier's decision on an exchange this instance answered: once, made by the
    /// verifier it authenticated (and sent by it, when `peer` is known), checked and recorded.
    pub fn accept_decision(&self, raw: &Value, peer: Option<&Did>) -> Result<Decision, Unanswered> {
        let refused = |reason, message: String| Unanswered::Refused(Refused { reason, message });
        let now = Utc::now();
        let read = Decision::parse(raw).map_err(|e| refused(Reason::Malformed, e.to_string()))?;
        let answered: Answered = self.open.take(&read.challenge, now).ok_or_else(|| {
            refused(
                Reason::Replayed,
                "no exchange awaits this decision: decided already, expired, or never answered"
                    .into(),
            )
        })?;
        if peer.is_some_and(|peer| *peer != answered.verifier) {
            return Err(refused(
                Reason::NotHolder,
                "the decision comes from another peer than the verifier".into(),
            ));
        }
        let decision = answered
            .accept(raw, now)
            .map_err(|e| refused(Reason::InvalidProof, e.to_string()))?;
        let presented = &answered.response["verifiablePresentation"]["verifiableCredential"];
        let leaf = leaf_of(presented.as_array().and_then(|c| c.first()));
        self.log
            .record_all(
                exchange::audit::decision_entries(
                    &decision,
                    &answered.verifier,
                    &answered.presented,
                    leaf.as_ref(),
                ),
                now,
            )
            .map_err(unrecorded)?;
        Ok(decision)
    }

    /// Asks a peer instance over libp2p to prove `ask.capabilities`, decides each, records and
    /// sends the decision; answers with it.
    pub async fn exchange(self: Arc<Self>, ask: ExchangeAsk) -> Result<Value, Refusal> {
        let network = self
            .network
            .get()
            .cloned()
            .ok_or_else(|| Refusal::refused("this wallet is not on the network"))?;
        let address: crate::p2p::Multiaddr = ask
            .peer
            .parse()
            .map_err(|e| Refusal::refused(format!("peer: {e}")))?;
        let daemon = self.clone();
        let asked = blocking(move || daemon.ask(ask)).await??;
        let (peer, reply) = network
            .send(
                &address,
                Message::Request {
                    request: asked.raw.clone(),
                },
            )
            .await
            .map_err(|e| Refusal::refused(e.to_string()))?;
        let response = match reply {
            Reply::Response { response } => response,
            Reply::Refused { reason, message } => {
                let daemon = self.clone();
                let refuser = peer.clone();
                blocking(move || {
                    daemon
                        .log
                        .record(
                            exchange::audit::exchange_entry(&refuser, &[], Some(reason)),
                            Utc::now(),
                        )
                        .map_err(|e| Refusal::internal(format!("the audit log: {e}")))
                })
                .await??;
                return Err(Refusal::from(vouch_core::exchange::Refused {
                    reason,
                    message: format!("{peer} refused to present: {} ({message})", reason.code()),
                }));
            }
            Reply::Accepted {} => {
                return Err(Refusal::refused(format!(
                    "{peer} answered a request with an acknowledgement"
                )));
            }
            Reply::Unavailable { why, message } => {
                // Nothing was judged: no decision to record, and no refusal of this side's.
                return Err(unavailable(&peer, why, &message));
            }
        };
        let daemon = self.clone();
        let decider = peer.clone();
        let judged = blocking(move || daemon.decide(&asked, &response, &decider)).await??;
        let (_, acknowledged) = network
            .send(
                &address,
                Message::Decision {
                    decision: judged.signed.clone(),
                },
            )
            .await
            .map_err(|e| Refusal::refused(e.to_string()))?;
        let refusal = match acknowledged {
            Reply::Accepted {} => None,
            Reply::Refused { reason, message } => Some(Refusal::from(Refused { reason, message })),
            Reply::Unavailable { why, message } => Some(unavailable(&peer, why, &message)),
            Reply::Response { .. } => Some(Refusal::refused(format!(
                "{peer} answered a decision with a response"
            ))),
        };
        super::as_json(&Exchanged {
            prover: peer.to_string(),
            decisions: judged.decision.decided,
            decision: judged.signed,
            acknowledged: refusal.is_none(),
            refusal,
        })
    }

    fn ask(&self, ask: ExchangeAsk) -> Result<exchange::Asked, Refusal> {
        let now = Utc::now();
        let holdings = Held { daemon: self, now };
        let mut credentials = Vec::new();
        for held in holdings.held() {
            let id = held["id"].as_str().unwrap_or_default().to_owned();
            if ask.present.as_ref().is_none_or(|ids| ids.contains(&id)) {
                // Each with its chain.
                let mut at = Some(held);
                for _ in 0..=vouch_core::credential::MAX_DEPTH_CAP {
                    let Some(credential) = at.take() else { break };
                    let parent = credential["credentialSubject"]["delegation"]["parent"]
                        .as_str()
                        .map(str::to_owned);
                    if !credentials.contains(&credential) {
                        credentials.push(credential);
                    }
                    at = parent.and_then(|p| holdings.ancestor(&p));
                }
            }
        }
        exchange::ask(
            &self.key,
            Ask {
                credentials,
                domain: ask.domain.unwrap_or_else(|| self.instance.to_string()),
                query: ask.query.unwrap_or_else(default_query),
                capabilities: ask.capabilities,
            },
            now,
        )
        .map_err(|e| Refusal::refused(e.to_string()))
    }

    fn decide(
        &self,
        asked: &exchange::Asked,
        response: &Value,
        peer: &Did,
    ) -> Result<exchange::Judgement, Refusal> {
        let presented: Vec<&Value> = response["verifiablePresentation"]["verifiableCredential"]
            .as_array()
            .map(|c| c.iter().collect())
            .unwrap_or_default();
        let known = self.known(&presented);
        let verifier = self.verifier(&known);
        let judged = asked
            .decide(response, Some(peer), &verifier, &self.key)
            .map_err(|e| Refusal::refused(e.to_string()))?;
        // Recorded before it is sent: a decision the log does not show is not given.
        self.log
            .record_all(
                exchange::audit::judged_entries(&judged, response),
                verifier.now,
            )
            .map_err(|e| Refusal::internal(format!("the audit log: {e}")))?;
        Ok(judged)
    }
}

impl crate::p2p::Answerer for Daemon {
    fn answer(&self, peer: &Did, message: Message) -> (Reply, bool) {
        let result = match message {
            Message::Request { request } => self
                .answer_request(&request, Some(peer))
                .map(|response| Reply::Response { response }),
            Message::Decision { decision } => self
                .accept_decision(&decision, Some(peer))
                .map(|_| Reply::Accepted {}),
        };
        match result {
            Ok(reply) => (reply, false),
            Err(unanswered) => {
                if let Unanswered::Failed(cause) = &unanswered {
                    // This wallet's failure: logged here; the peer is told only that nothing
                    // was judged (the cause may name the wallet's files).
                    crate::log_line!("vouch wallet: a message from {peer} not judged: {cause}");
                }
                // A message that is not of the protocol's form: the peer misbehaves.
                let misbehaved = matches!(
                    &unanswered,
                    Unanswered::Refused(refused) if refused.reason == Reason::Malformed
                );
                (Reply::of(&unanswered), misbehaved)
            }
        }
    }
}

/// The verifier's refusal when the prover did not judge its message: `busy` (ask again), or
/// `peer_failed`.
fn unavailable(peer: &Did, why: Unavailable, message: &str) -> Refusal {
    let code = match why {
        Unavailable::Busy => ErrorCode::Busy,
        Unavailable::Failed => ErrorCode::PeerFailed,
    };
    Refusal::new(code, format!("{peer} did not judge it: {message}"))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Refusal> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Refusal::internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A prover that did not judge a message is reported to the agent as what happened — busy,
    /// or the peer's failure — never as a check's outcome (`status_unknown`), and with no §8
    /// reason: the agent asks again rather than concluding anything of the credentials.
    #[test]
    fn a_prover_that_did_not_judge_is_busy_or_failed_not_a_reason() {
        let peer = Did::parse("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
            .expect("a did:key");
        let busy = unavailable(&peer, Unavailable::Busy, "ask again");
        assert_eq!((busy.code, busy.reason), (ErrorCode::Busy, None));
        let failed = unavailable(&peer, Unavailable::Failed, "could not record it");
        assert_eq!((failed.code, failed.reason), (ErrorCode::PeerFailed, None));
        // Over the socket, the prover's own side says the same.
        let refusal = Refusal::from(Unanswered::Busy("requests answered: 4096 are open".into()));
        assert_eq!((refusal.code, refusal.reason), (ErrorCode::Busy, None));
        let refusal = Refusal::from(Unanswered::Failed("the audit log".into()));
        assert_eq!(refusal.code, ErrorCode::Internal);
        let refusal = Refusal::from(Unanswered::Refused(Refused {
            reason: Reason::NotGranted,
            message: "nothing held answers".into(),
        }));
        assert_eq!(
            (refusal.code, refusal.reason),
            (ErrorCode::Refused, Some(Reason::NotGranted))
        );
    }
}
