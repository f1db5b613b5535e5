//! Approvals (DESIGN §8, "approvals are credentials"): a capability marked `requiresApproval` is
//! used only with a `VouchApprovalCredential` that the agent's org issued after the agent's
//! accountable owner approved **this exact request** — its action, resource and arguments, by
//! their hash — with a key of their own (a passkey, or an owner key from the command line).
//!
//! An approval is short-lived (at most [`MAX_LIFETIME`]), bound to the agent instance that
//! presents it (its subject) and to the request's hash, carries status entries like any
//! credential of the org (so it is revocable), and is used once: a verifier that decides on it
//! remembers its id until it expires. It travels inside the presentation, beside the capability
//! credentials, and is checked there: proof by its issuer, validity, holder, status.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::capability::Request;
use crate::credential::StatusEntry;
use crate::did::{Did, DidUrl};
use crate::hash::Multihash;
use crate::key::KeyPair;
use crate::proof::{self, ProofError};

/// The credential type of an approval.
pub const APPROVAL_TYPE: &str = "VouchApprovalCredential";
/// The longest an approval is valid.
pub const MAX_LIFETIME: Duration = Duration::minutes(5);
/// How an approval was given: a passkey (WebAuthn) or an owner key.
pub const METHODS: [&str; 2] = ["webauthn", "owner-key"];
/// The type the hash of an approved request is made under.
const REQUEST_TYPE: &str = "VouchApprovedRequest/1";

/// The hash an approval binds: the request's action, resource and arguments, in canonical JSON
/// (RFC 8785) under a type of its own, so that it is the hash of nothing else.
pub fn request_hash(request: &Request) -> Multihash {
    Multihash::of_jcs(&json!({
        "type": REQUEST_TYPE,
        "action": request.action.to_string(),
        "resource": request.resource.to_string(),
        "arguments": request.arguments,
    }))
    .expect("JSON values serialize")
}

/// Why an approval could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    /// Not an approval of the form Vouch issues.
    #[error("not an approval credential: {0}")]
    Malformed(String),
    /// Made or signed wrongly.
    #[error("approval proof: {0}")]
    Proof(#[from] ProofError),
}

/// An approval, its proof aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// Its id (`urn:uuid:…`).
    pub id: String,
    /// The org that issued it: the agent's.
    pub issuer: Did,
    /// The agent instance that may present it.
    pub subject: Did,
    /// The hash of the request approved ([`request_hash`]).
    pub request: Multihash,
    /// The owner who approved it, by the org's pseudonym for them.
    pub owner: String,
    /// How they approved it: one of [`METHODS`].
    pub method: String,
    /// From when it is valid.
    pub valid_from: DateTime<Utc>,
    /// Until when: at most [`MAX_LIFETIME`] after `valid_from`.
    pub valid_until: DateTime<Utc>,
    /// Its status entries in the issuer's lists.
    pub status: Vec<StatusEntry>,
}

/// Whether a JSON document says it is an approval.
pub fn is_approval(raw: &Value) -> bool {
    raw.get("type")
        .and_then(Value::as_array)
        .is_some_and(|types| types.iter().any(|t| t == APPROVAL_TYPE))
}

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Approval {
    /// The unsigned credential.
    pub fn to_json(&self) -> Value {
        json!({
            "@context": [vouch_schemas::CREDENTIALS_V2],
            "type": ["VerifiableCredential", APPROVAL_TYPE],
            "id": self.id,
            "issuer": self.issuer,
            "validFrom": time(&self.valid_from),
            "validUntil": time(&self.valid_until),
            "credentialSubject": {
                "id": self.subject,
                "approvedRequest": self.request.as_str(),
                "owner": self.owner,
                "method": self.method,
            },
            "credentialStatus": self.status,
        })
    }

    /// Signs it with `eddsa-jcs-2022` by `method`, an assertion key of the issuer.
    pub fn sign(&self, key: &KeyPair, method: DidUrl) -> Result<Value, ApprovalError> {
        self.check()?;
        Ok(proof::sign_assertion(
            &self.to_json(),
            key,
            method,
            self.valid_from,
        )?)
    }

    /// Reads an approval's form, its proof aside: exactly what [`Approval::to_json`] writes.
    pub fn from_json(raw: &Value) -> Result<Self, ApprovalError> {
        let malformed = |why: &str| ApprovalError::Malformed(why.to_owned());
        let object = raw.as_object().ok_or_else(|| malformed("not an object"))?;
        let members = [
            "@context",
            "type",
            "id",
            "issuer",
            "validFrom",
            "validUntil",
            "credentialSubject",
            "credentialStatus",
            "proof",
        ];
        if object.keys().any(|k| !members.contains(&k.as_str())) {
            return Err(malformed("an unknown member"));
        }
        if raw["@context"] != json!([vouch_schemas::CREDENTIALS_V2])
            || raw["type"] != json!(["VerifiableCredential", APPROVAL_TYPE])
        {
            return Err(malformed("@context or type"));
        }
        let text = |value: &Value, what: &str| {
            value
                .as_str()
                .filter(|s| !s.is_empty() && s.len() <= 256)
                .map(str::to_owned)
                .ok_or_else(|| malformed(what))
        };
        let did = |value: &Value, what: &str| {
            value
                .as_str()
                .and_then(|s| Did::parse(s).ok())
                .ok_or_else(|| malformed(what))
        };
        let when = |value: &Value, what: &str| {
            value
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| malformed(what))
        };
        let id = text(&raw["id"], "id")?;
        if !id.starts_with("urn:uuid:") {
            return Err(malformed("id must be a urn:uuid"));
        }
        let subject = &raw["credentialSubject"];
        if subject.as_object().is_none_or(|s| s.len() != 4) {
            return Err(malformed(
                "credentialSubject: id, approvedRequest, owner, method",
            ));
        }
        let status: Vec<StatusEntry> = serde_json::from_value(raw["credentialStatus"].clone())
            .map_err(|e| malformed(&format!("credentialStatus: {e}")))?;
        let approval = Self {
            id,
            issuer: did(&raw["issuer"], "issuer")?,
            subject: did(&subject["id"], "credentialSubject.id")?,
            request: subject["approvedRequest"]
                .as_str()
                .and_then(Multihash::parse)
                .ok_or_else(|| malformed("approvedRequest"))?,
            owner: text(&subject["owner"], "owner")?,
            method: text(&subject["method"], "method")?,
            valid_from: when(&raw["validFrom"], "validFrom")?,
            valid_until: when(&raw["validUntil"], "validUntil")?,
            status,
        };
        approval.check()?;
        Ok(approval)
    }

    /// The rules of its form: a did:key subject, a known method, a window of at most
    /// [`MAX_LIFETIME`], one to four status entries.
    fn check(&self) -> Result<(), ApprovalError> {
        let malformed = |why: &str| Err(ApprovalError::Malformed(why.to_owned()));
        if self.subject.method() != "key" {
            return malformed("the subject is an agent instance's did:key");
        }
        if !METHODS.contains(&self.method.as_str()) {
            return malformed("method: webauthn or owner-key");
        }
        if self.valid_until <= self.valid_from || self.valid_until - self.valid_from > MAX_LIFETIME
        {
            return malformed("valid for a moment up to 5 minutes");
        }
        if self.status.is_empty() || self.status.len() > 4 {
            return malformed("one to four status entries");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::did::key as did_key;

    fn request(amount: u64) -> Request {
        Request::from_json(&json!({
            "action": "call:billing_api:refund",
            "resource": "https://billing.example/refunds/42",
            "arguments": {"amount": {"value": amount, "unit": "EUR"}},
        }))
        .unwrap()
    }

    fn approval(org: &KeyPair, agent: &KeyPair) -> Approval {
        use chrono::SubsecRound as _;
        let now = Utc::now().trunc_subsecs(3);
        Approval {
            id: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
            issuer: did_key::did_of(&org.public()),
            subject: did_key::did_of(&agent.public()),
            request: request_hash(&request(4900)),
            owner: "urn:vouch:owner:abc".into(),
            method: "owner-key".into(),
            valid_from: now,
            valid_until: now + Duration::minutes(5),
            status: vec![StatusEntry::bit(
                "https://n.example/1.0/status-lists/x/revocation-1#7".to_owned(),
                "revocation",
                7,
                "https://n.example/1.0/status-lists/x/revocation-1",
            )],
        }
    }

    #[test]
    fn an_approval_binds_the_exact_request_and_reads_back_as_signed() {
        assert_ne!(request_hash(&request(4900)), request_hash(&request(10)));
        assert_eq!(request_hash(&request(10)), request_hash(&request(10)));
        let (org, agent) = (KeyPair::generate(), KeyPair::generate());
        let given = approval(&org, &agent);
        let signed = given
            .sign(&org, did_key::verification_method_of(&org.public()))
            .unwrap();
        assert!(is_approval(&signed));
        assert_eq!(Approval::from_json(&signed).unwrap(), given);
        // Longer than five minutes, a subject that is no instance, an extra member: refused.
        let mut long = given.clone();
        long.valid_until = long.valid_from + Duration::minutes(6);
        assert!(
            long.sign(&org, did_key::verification_method_of(&org.public()))
                .is_err()
        );
        let mut raw = signed.clone();
        raw["credentialSubject"]["id"] = json!("did:vouch:zQmX");
        assert!(Approval::from_json(&raw).is_err());
        let mut raw = signed;
        raw["extra"] = json!(1);
        assert!(Approval::from_json(&raw).is_err());
    }
}
