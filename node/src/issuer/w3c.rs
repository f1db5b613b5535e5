//! Credentials of any kind the org issues through the W3C VC API (`POST /credentials/issue`): a
//! partner's shape — an employee credential, a licence, a mandate — held to the VC Data Model 2.0
//! and to JSON-LD's defined terms before the org signs it with its assertion key, with a status
//! entry of the org's own lists on request (a random index, as for its agents' credentials).
//! Each issuance is an audit entry, and its status slots are kept under the credential's id:
//! the bits are the org's to set (`POST /admin/status-lists/{name}`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vouch_api::ErrorCode;
use vouch_core::audit::{Decision, Event};
use vouch_core::datamodel;
use vouch_core::did::document::Relationship;
use vouch_core::proof::{self, Cryptosuite, ProofOptions};

use super::{Issuer, IssuerError, Refusal, Slots, keys};
use crate::store::Batch;

pub use vouch_api::node::admin::{StatusAsked, W3cIssueOptions, W3cIssueRequest};

/// What the node keeps of a credential it issued through the VC API: its status slots.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct W3cIssued {
    /// The slots its status entry names, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    slots: Option<Slots>,
    /// When it was issued.
    #[serde(with = "vouch_core::credential::timestamp")]
    issued: DateTime<Utc>,
}

fn malformed(e: datamodel::Malformed) -> IssuerError {
    Refusal::malformed(e.to_string()).into()
}

impl Issuer {
    /// Issues `request.credential` as the org: its `issuer` is the org (set when absent), it
    /// keeps the data model, every term is defined, and it is signed with the org's assertion
    /// key. With the status lists a new entry opened, to publish.
    pub fn issue_w3c(
        &self,
        request: W3cIssueRequest,
        now: DateTime<Utc>,
    ) -> Result<(Value, Vec<Value>), IssuerError> {
        let W3cIssueRequest {
            mut credential,
            options,
        } = request;
        if options
            .proof_type
            .as_deref()
            .is_some_and(|t| t != "DataIntegrityProof")
        {
            return Err(Refusal::malformed(
                "options.type: DataIntegrityProof is the proof this issuer makes",
            )
            .into());
        }
        let suite = match options.cryptosuite.as_deref() {
            None => self.config.suite,
            Some("eddsa-rdfc-2022") => Cryptosuite::EddsaRdfc2022,
            Some("eddsa-jcs-2022") => Cryptosuite::EddsaJcs2022,
            Some(other) => {
                return Err(Refusal::malformed(format!(
                    "options.cryptosuite: {other:.64} is not one this issuer signs with (eddsa-rdfc-2022, eddsa-jcs-2022)"
                ))
                .into());
            }
        };
        let org = self.org.did().clone();
        let object = credential
            .as_object_mut()
            .ok_or_else(|| Refusal::malformed("credential: a JSON object"))?;
        match object.get_mut("issuer") {
            None => {
                object.insert("issuer".into(), org.as_str().into());
            }
            Some(Value::Object(issuer)) if !issuer.contains_key("id") => {
                issuer.insert("id".into(), org.as_str().into());
            }
            Some(_) => {}
        }
        datamodel::check_credential(&credential).map_err(malformed)?;
        // A VC 1.1 credential's context does not define the proof's terms: the Data Integrity
        // context is appended, as the specification has issuers do.
        if credential["@context"][0] == datamodel::CREDENTIALS_V1 {
            let contexts = credential["@context"]
                .as_array_mut()
                .expect("checked: a list");
            let data_integrity = json!("https://w3id.org/security/data-integrity/v2");
            if !contexts.contains(&data_integrity) {
                contexts.push(data_integrity);
            }
        }
        if datamodel::issuer_id(&credential) != Some(org.as_str()) {
            return Err(Refusal::malformed(format!(
                "issuer: this node issues as {org}, and signs as no one else"
            ))
            .into());
        }
        if let Some(asked) = &options.credential_status {
            if asked.kind != "BitstringStatusListEntry"
                || !["revocation", "suspension"].contains(&asked.status_purpose.as_str())
            {
                return Err(Refusal::malformed(
                    "options.credentialStatus: a BitstringStatusListEntry for revocation or suspension",
                )
                .into());
            }
            if credential.get("credentialStatus").is_some() {
                return Err(Refusal::malformed(
                    "credentialStatus: given and asked for; give one or ask for one",
                )
                .into());
            }
        }
        let _guard = self.guard();
        let (key, method) = self.org.signing_key()?;
        let slots = match &options.credential_status {
            None => None,
            Some(asked) => {
                let slots = self.allocate()?;
                let entry = self
                    .status_entries(&slots)
                    .into_iter()
                    .find(|e| e.status_purpose == asked.status_purpose)
                    .expect("both purposes have an entry");
                credential["credentialStatus"] =
                    serde_json::to_value(entry).expect("an entry serializes");
                Some(slots)
            }
        };
        datamodel::check_terms(&credential).map_err(malformed)?;
        let signed = proof::sign(
            &credential,
            &ProofOptions {
                cryptosuite: suite,
                created: now,
                verification_method: method,
                purpose: Relationship::AssertionMethod,
                challenge: None,
                domain: None,
                expires: None,
            },
            &key,
        )
        .map_err(|e| Refusal::malformed(format!("not signed: {e}")))?;
        // Kept under its id, or one of the node's when it has none.
        let id = signed["id"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("urn:uuid:{}", uuid::Uuid::new_v4()));
        if id.len() > 2048 {
            return Err(Refusal::malformed("id: longer than 2,048 bytes").into());
        }
        let key_of = keys::w3c(&id);
        if self.store.issuance(&key_of)?.is_some() {
            return Err(Refusal::new(
                ErrorCode::Duplicate,
                format!("a credential {id:.128} was issued already: give a new id"),
            )
            .into());
        }
        let mut batch = Batch::default();
        self.store.put_issuance(
            &mut batch,
            &key_of,
            &serde_json::to_vec(&W3cIssued {
                slots: slots.clone(),
                issued: now,
            })
            .expect("a record serializes"),
        );
        let mut audit = self.audit.writer()?;
        let mut entry = crate::audit::entry(Event::Issued);
        entry.decision = Some(Decision::Accepted);
        entry.credentials = vec![id];
        audit.append(&mut batch, entry, now)?;
        let lists = match &slots {
            Some(slots) => self.commit_opening(slots, batch, now)?,
            None => {
                self.store.commit(batch)?;
                Vec::new()
            }
        };
        Ok((json!(signed), lists))
    }
}
