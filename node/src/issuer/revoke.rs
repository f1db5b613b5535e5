//! Four-level revocation and suspension (DESIGN §6), fanned out into status bits: one
//! credential (with its renewals), every credential of an agent instance or of every instance of
//! a definition, every credential of a task, a credential and its whole delegation subtree.
//! Every affected bit is set, the next versions of the lists touched are signed, and they are
//! stored with the markers that refuse future issuance and the signed revocation event, in one
//! atomic batch. Since a verifier checks the status of every link of a chain, any W3C verifier
//! then refuses exactly what the level covers.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use vouch_api::ErrorCode;
use vouch_core::credential::{CredentialId, MAX_DEPTH_CAP};
use vouch_core::did::Did;
use vouch_core::revocation::{Change, Level, MAX_REASON_LEN, RevocationEvent, Subject};
use vouch_core::status::Purpose;

use super::keys::{self, Kind};
use super::{Issuer, IssuerError, MAX_FANOUT, Refusal, Slots, check_task_id};
use crate::status_lists::ListChange;
use crate::store::Batch;

pub use vouch_api::node::admin::RevocationRequest;

/// What a revocation, suspension or reinstatement did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Revocation {
    /// The signed revocation event.
    pub event: Value,
    /// How many credentials' bits were set or cleared.
    pub credentials: usize,
    /// The suspension's id, to lift it with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspension: Option<String>,
    /// The lists signed anew, to publish.
    #[serde(skip)]
    pub lists: Vec<Value>,
}

impl Revocation {
    /// What the admin API answers of it.
    pub fn answer(&self) -> vouch_api::node::admin::Revocation {
        vouch_api::node::admin::Revocation {
            event: self.event.clone(),
            credentials: self.credentials,
            suspension: self.suspension.clone(),
        }
    }
}

/// A suspension, in force until lifted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Suspension {
    /// Its id.
    pub id: String,
    /// Its level.
    pub level: Level,
    /// Its subject.
    pub subject: String,
    /// When it began.
    #[serde(with = "vouch_core::credential::timestamp")]
    pub since: DateTime<Utc>,
    /// When it was lifted, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted: Option<DateTime<Utc>>,
}

/// What a level reaches: the credentials, the subjects it marks, the event's subject.
struct Reach {
    credentials: Vec<(CredentialId, Slots)>,
    subjects: Vec<(Kind, String)>,
    subject: Subject,
}

impl Issuer {
    /// Revokes for good every credential the level reaches; the subjects it names get no
    /// credential or renewal from then on.
    pub fn revoke(
        &self,
        request: RevocationRequest,
        now: DateTime<Utc>,
    ) -> Result<Revocation, IssuerError> {
        check_reason(&request.reason)?;
        let now = now.trunc_subsecs(3);
        let _guard = self.guard();
        let reach = self.reach(request.level, &request.subject, request.preemptive)?;
        let mut batch = Batch::default();
        let when = now.to_rfc3339();
        for (kind, subject) in &reach.subjects {
            self.store
                .put_issuance(&mut batch, &keys::revoked(*kind, subject), when.as_bytes());
        }
        self.record_change(
            Change::Revoked,
            request.level,
            reach,
            request.reason,
            None,
            batch,
            now,
        )
    }

    /// Suspends every credential the level reaches, until the suspension is lifted; the subjects
    /// it names get no credential or renewal meanwhile.
    pub fn suspend(
        &self,
        request: RevocationRequest,
        now: DateTime<Utc>,
    ) -> Result<Revocation, IssuerError> {
        check_reason(&request.reason)?;
        let now = now.trunc_subsecs(3);
        let _guard = self.guard();
        let reach = self.reach(request.level, &request.subject, request.preemptive)?;
        let id = format!("urn:uuid:{}", uuid::Uuid::new_v4());
        let suspension = Suspension {
            id: id.clone(),
            level: request.level,
            subject: request.subject.clone(),
            since: now,
            lifted: None,
        };
        let mut batch = Batch::default();
        self.store.put_issuance(
            &mut batch,
            &keys::suspension(&id),
            &serde_json::to_vec(&suspension).expect("a suspension serializes"),
        );
        for (kind, subject) in &reach.subjects {
            self.store
                .put_issuance(&mut batch, &keys::suspended(*kind, subject, &id), b"");
        }
        for (credential, slots) in &reach.credentials {
            let slots = serde_json::to_vec(slots).expect("slots serialize");
            self.store.put_issuance(
                &mut batch,
                &keys::credential_suspension(credential, &id),
                b"",
            );
            self.store.put_issuance(
                &mut batch,
                &keys::suspension_member(&id, credential),
                &slots,
            );
        }
        self.record_change(
            Change::Suspended,
            request.level,
            reach,
            request.reason,
            Some(id),
            batch,
            now,
        )
    }

    /// Lifts a suspension: the bits of exactly the credentials it suspended are cleared, save
    /// those another suspension in force still holds.
    pub fn lift(
        &self,
        id: &str,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Revocation, IssuerError> {
        check_reason(&reason)?;
        let now = now.trunc_subsecs(3);
        let _guard = self.guard();
        let mut suspension: Suspension = self
            .read(&keys::suspension(id))?
            .ok_or_else(|| IssuerError::NotFound(format!("no suspension {id}")))?;
        if suspension.lifted.is_some() {
            return Err(Refusal::new(ErrorCode::AlreadyLifted, format!("{id} is lifted")).into());
        }
        let (members, _) = self
            .store
            .issuance_scan(&keys::suspension_members(id), MAX_FANOUT)?;
        let mut batch = Batch::default();
        let mut reinstated = Vec::new();
        for (key, value) in members {
            let corrupt = |reason: String| IssuerError::Corrupt {
                key: String::from_utf8_lossy(&key).into_owned(),
                reason,
            };
            let credential =
                keys::id_of_index(&key).ok_or_else(|| corrupt("no credential id".into()))?;
            let slots: Slots =
                serde_json::from_slice(&value).map_err(|e| corrupt(e.to_string()))?;
            self.store
                .delete_issuance(&mut batch, &keys::credential_suspension(&credential, id));
            let (holding, _) = self
                .store
                .issuance_scan(&keys::credential_suspensions(&credential), 2)?;
            let mine = keys::credential_suspension(&credential, id);
            if holding.iter().all(|(key, _)| *key == mine) {
                reinstated.push((credential, slots));
            }
        }
        // What the suspension named when it began: found, whatever it reaches now.
        let reach = self.reach(suspension.level, &suspension.subject, true)?;
        for (kind, subject) in &reach.subjects {
            self.store
                .delete_issuance(&mut batch, &keys::suspended(*kind, subject, id));
        }
        suspension.lifted = Some(now);
        self.store.put_issuance(
            &mut batch,
            &keys::suspension(id),
            &serde_json::to_vec(&suspension).expect("a suspension serializes"),
        );
        let reach = Reach {
            credentials: reinstated,
            ..reach
        };
        self.record_change(
            Change::Reinstated,
            suspension.level,
            reach,
            reason,
            Some(id.to_owned()),
            batch,
            now,
        )
    }

    /// A suspension.
    pub fn suspension(&self, id: &str) -> Result<Option<Suspension>, IssuerError> {
        self.read(&keys::suspension(id))
    }

    /// Sets (or, for a reinstatement, clears) the bits of what a change reaches, signs its event,
    /// and writes both with the lists' next versions and `batch`, at once.
    #[allow(clippy::too_many_arguments)]
    fn record_change(
        &self,
        change: Change,
        level: Level,
        reach: Reach,
        reason: Option<String>,
        suspension: Option<String>,
        mut batch: Batch,
        now: DateTime<Utc>,
    ) -> Result<Revocation, IssuerError> {
        let changes = match change {
            Change::Revoked => changes(&reach.credentials, Purpose::Revocation, true),
            Change::Suspended => changes(&reach.credentials, Purpose::Suspension, true),
            Change::Reinstated => changes(&reach.credentials, Purpose::Suspension, false),
        };
        let event = RevocationEvent {
            issuer: self.org.did().clone(),
            id: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
            issued: now,
            change,
            level,
            subject: reach.subject.clone(),
            credentials: reach.credentials.len() as u64,
            reason,
        };
        // Held until the batch is written: the entry takes the log's next place.
        let mut audit = self.audit.writer()?;
        let mut entry = crate::audit::entry(match change {
            Change::Revoked => vouch_core::audit::Event::Revoked,
            Change::Suspended => vouch_core::audit::Event::Suspended,
            Change::Reinstated => vouch_core::audit::Event::Reinstated,
        });
        match &reach.subject {
            Subject::Did(did) => entry.agent = Some(did.to_string()),
            Subject::Task(task) => entry.task = Some(task.clone()),
            Subject::Credential(id) => entry.credentials = vec![id.clone()],
            // The owner's pseudonym, never their name; the action says it is an owner.
            Subject::Owner(pseudonym) => entry.agent = Some(pseudonym.clone()),
        }
        entry.action = Some(format!("{}:{}", change.as_str(), level.as_str()));
        audit.append(&mut batch, entry, now)?;
        let (key, method) = self.org.signing_key()?;
        let signed = event
            .sign(&key, method)
            .map_err(|e| Refusal::new(ErrorCode::Internal, e.to_string()))?;
        let json = serde_json::to_vec(&signed).expect("JSON values always serialize");
        self.store
            .put_revocation_event(&mut batch, &event.issuer, &event.id, &json, event.issued);
        let lists = self.status_lists.change_all(&changes, batch, now)?;
        tracing::info!(
            change = change.as_str(),
            level = level.as_str(),
            subject = reach.subject.id(),
            credentials = reach.credentials.len(),
            suspension = suspension.as_deref().unwrap_or_default(),
            "revocation event recorded"
        );
        Ok(Revocation {
            event: signed,
            credentials: reach.credentials.len(),
            suspension,
            lists,
        })
    }

    /// What a level reaches.
    /// What `level` reaches for `subject`; nothing at all is `NotFound` unless `preemptive`.
    fn reach(&self, level: Level, subject: &str, preemptive: bool) -> Result<Reach, IssuerError> {
        match level {
            Level::Credential => {
                let id = self.known_credential(subject)?;
                let record = self.issued(&id)?.expect("known");
                let credentials = self.bounded(Kind::Lineage, record.lineage.as_str())?;
                let subjects = credentials
                    .iter()
                    .map(|(id, _)| (Kind::Credential, id.to_string()))
                    .collect();
                Ok(Reach {
                    credentials,
                    subjects,
                    subject: Subject::Credential(id.to_string()),
                })
            }
            Level::Agent => {
                let did = Did::parse(subject)
                    .map_err(|e| Refusal::malformed(format!("an agent is a DID: {e}")))?;
                if self.definition(&did)?.is_some() {
                    let (mut subjects, mut credentials) = (Vec::new(), Vec::new());
                    self.reach_definition(&did, &mut subjects, &mut credentials)?;
                    Ok(Reach {
                        credentials,
                        subjects,
                        subject: Subject::Did(did),
                    })
                } else if did.method() == "key" {
                    let credentials = self.bounded(Kind::Instance, did.as_str())?;
                    // An instance bound to a definition is banned even with no credential now;
                    // a did:key this org never saw reaches nothing.
                    if credentials.is_empty() && !preemptive && self.instance(&did)?.is_none() {
                        return Err(IssuerError::NotFound(format!(
                            "{did} holds no credential of this org and is bound to none of its definitions: nothing to revoke"
                        )));
                    }
                    Ok(Reach {
                        credentials,
                        subjects: vec![(Kind::Instance, did.to_string())],
                        subject: Subject::Did(did),
                    })
                } else {
                    Err(IssuerError::NotFound(format!(
                        "{did} is neither an agent instance (did:key) nor an agent definition of this org"
                    )))
                }
            }
            Level::Task => {
                check_task_id(subject)?;
                let credentials = self.bounded(Kind::Task, subject)?;
                if credentials.is_empty() && !preemptive {
                    return Err(IssuerError::NotFound(format!(
                        "no credential of this org was issued for task {subject}: nothing to revoke (preemptive, to refuse it any from now on)"
                    )));
                }
                Ok(Reach {
                    credentials,
                    subjects: vec![(Kind::Task, subject.to_owned())],
                    subject: Subject::Task(subject.to_owned()),
                })
            }
            Level::Owner => {
                let definitions = self.definitions_owned_by(subject)?;
                if definitions.is_empty() && !preemptive {
                    return Err(IssuerError::NotFound(format!(
                        "no agent definition of this org names {subject} as its owner: nothing to revoke (preemptive, to refuse them any from now on)"
                    )));
                }
                let mut subjects = vec![(Kind::Owner, subject.to_owned())];
                let mut credentials = Vec::new();
                for did in &definitions {
                    self.reach_definition(did, &mut subjects, &mut credentials)?;
                }
                Ok(Reach {
                    credentials,
                    subjects,
                    subject: Subject::Owner(self.org.owner_pseudonym(subject)?),
                })
            }
            Level::Chain => {
                let id = self.known_credential(subject)?;
                let record = self.issued(&id)?.expect("known");
                let mut credentials = self.bounded(Kind::Lineage, record.lineage.as_str())?;
                let mut seen: HashSet<CredentialId> =
                    credentials.iter().map(|(id, _)| id.clone()).collect();
                let mut frontier: Vec<CredentialId> = seen.iter().cloned().collect();
                // A chain is at most MAX_DEPTH_CAP links deep; the seen set stops any cycle a
                // damaged store could hold.
                for _ in 0..=MAX_DEPTH_CAP {
                    let mut next = Vec::new();
                    for parent in &frontier {
                        for (child, slots) in self.bounded(Kind::Parent, parent.as_str())? {
                            if seen.insert(child.clone()) {
                                next.push(child.clone());
                                credentials.push((child, slots));
                            }
                        }
                        if credentials.len() > MAX_FANOUT {
                            return Err(too_many());
                        }
                    }
                    if next.is_empty() {
                        break;
                    }
                    frontier = next;
                }
                let subjects = credentials
                    .iter()
                    .map(|(id, _)| (Kind::Credential, id.to_string()))
                    .collect();
                Ok(Reach {
                    credentials,
                    subjects,
                    subject: Subject::Credential(id.to_string()),
                })
            }
        }
    }

    /// Adds what revoking a definition reaches: the definition, its instances, and every
    /// credential issued under it.
    fn reach_definition(
        &self,
        did: &Did,
        subjects: &mut Vec<(Kind, String)>,
        credentials: &mut Vec<(CredentialId, Slots)>,
    ) -> Result<(), IssuerError> {
        subjects.push((Kind::Definition, did.to_string()));
        let prefix = keys::definition_instances(did);
        let (instances, more) = self.store.issuance_scan(&prefix, MAX_FANOUT)?;
        if more {
            return Err(too_many());
        }
        for (key, _) in instances {
            let instance = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            subjects.push((Kind::Instance, instance));
        }
        credentials.extend(self.bounded(Kind::Definition, did.as_str())?);
        if credentials.len() > MAX_FANOUT || subjects.len() > MAX_FANOUT {
            return Err(too_many());
        }
        Ok(())
    }

    fn known_credential(&self, subject: &str) -> Result<CredentialId, IssuerError> {
        let id = CredentialId::parse(subject)
            .map_err(|e| Refusal::malformed(format!("a credential id: {e}")))?;
        if self.issued(&id)?.is_none() {
            return Err(IssuerError::NotFound(format!(
                "{id} was not issued or registered here"
            )));
        }
        Ok(id)
    }

    fn bounded(
        &self,
        kind: Kind,
        subject: &str,
    ) -> Result<Vec<(CredentialId, Slots)>, IssuerError> {
        let (found, more) = self.indexed(kind, subject, MAX_FANOUT)?;
        if more {
            return Err(too_many());
        }
        Ok(found)
    }
}

fn too_many() -> IssuerError {
    Refusal::new(
        ErrorCode::TooMany,
        format!("more than {MAX_FANOUT} credentials: revoke narrower subjects"),
    )
    .into()
}

fn check_reason(reason: &Option<String>) -> Result<(), Refusal> {
    match reason {
        Some(reason) if reason.len() > MAX_REASON_LEN || reason.chars().any(char::is_control) => {
            Err(Refusal::malformed(format!(
                "a reason is at most {MAX_REASON_LEN} bytes, no control characters"
            )))
        }
        _ => Ok(()),
    }
}

/// The list changes that set (or clear) the bits of `purpose` of these credentials, one change
/// per list.
fn changes(credentials: &[(CredentialId, Slots)], purpose: Purpose, set: bool) -> Vec<ListChange> {
    let mut per_list: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (_, slots) in credentials {
        // The org's credentials have a revocation and a suspension slot; the changes of a
        // revocation level are to those two only (`Change`).
        let slot = match purpose {
            Purpose::Suspension => &slots.suspension,
            _ => &slots.revocation,
        };
        per_list.entry(&slot.name).or_default().push(slot.index);
    }
    per_list
        .into_iter()
        .map(|(name, indexes)| ListChange {
            name: name.to_owned(),
            purpose,
            set: if set { indexes.clone() } else { Vec::new() },
            clear: if set { Vec::new() } else { indexes },
        })
        .collect()
}
