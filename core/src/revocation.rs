//! Signed revocation events: what an org revoked, suspended or reinstated, when, and at which
//! level (DESIGN §6), for partners and auditors.
//!
//! An event has the claims of a Security Event Token ([RFC 8417](https://www.rfc-editor.org/rfc/rfc8417))
//! — `iss`, `jti`, `iat`, `toe` and one `events` member keyed by the event type's URI — with its
//! subject as an RFC 9493 subject identifier: `{"format": "did", "url": …}` for an agent,
//! `{"format": "opaque", "id": …}` for a task, `{"format": "uri", "uri": …}` for a credential.
//! It is secured as the other documents the network carries are: an `eddsa-jcs-2022` Data
//! Integrity proof by an assertion key of the issuing org, so any Data Integrity library checks
//! it against the org's DID document.
//!
//! The event is the record; the status bits are what verifiers enforce. A W3C verifier needs no
//! event to refuse a revoked credential.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde_json::{Map, Value, json};

use crate::did::{Did, DidResolver, DidUrl};
use crate::key::KeyPair;
use crate::proof::{self, ProofError};

/// The largest event read.
pub const MAX_EVENT_BYTES: usize = 8 * 1024;
/// The longest reason an event carries.
pub const MAX_REASON_LEN: usize = 256;
/// The longest subject identifier.
const MAX_ID_LEN: usize = 2048;
/// Where the event types' URIs start.
pub const EVENT_TYPE_BASE: &str = "https://w3id.org/vouch/events/";

/// Why an event could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not an event of the form Vouch issues.
    #[error("not a revocation event: {0}")]
    Malformed(&'static str),
    /// The proof does not verify.
    #[error("revocation event proof: {0}")]
    Proof(#[from] ProofError),
    /// Signed by someone other than its `iss`.
    #[error("the event is signed by {signer}, not by its issuer")]
    NotIssuer {
        /// Whose key signed.
        signer: Did,
    },
}

/// The four levels of DESIGN §6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// One credential (and its renewals).
    Credential,
    /// Every credential of an agent instance, or of every instance of a definition.
    Agent,
    /// Every credential of a task.
    Task,
    /// A credential and its whole delegation subtree.
    Chain,
    /// Every agent an owner is accountable for: every instance of every definition that names
    /// them, for when the owner leaves.
    Owner,
}

impl Level {
    /// The level's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Credential => "credential",
            Self::Agent => "agent",
            Self::Task => "task",
            Self::Chain => "chain",
            Self::Owner => "owner",
        }
    }

    /// The level named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Credential,
            Self::Agent,
            Self::Task,
            Self::Chain,
            Self::Owner,
        ]
        .into_iter()
        .find(|level| level.as_str() == name)
    }
}

/// What happened to the subject's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Revoked for good.
    Revoked,
    /// Suspended until reinstated.
    Suspended,
    /// A suspension lifted.
    Reinstated,
}

impl Change {
    /// The change's name, the last segment of its event type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::Suspended => "suspended",
            Self::Reinstated => "reinstated",
        }
    }

    /// The event type URI.
    pub fn event_type(self) -> String {
        format!("{EVENT_TYPE_BASE}{}", self.as_str())
    }

    fn from_event_type(uri: &str) -> Option<Self> {
        let name = uri.strip_prefix(EVENT_TYPE_BASE)?;
        [Self::Revoked, Self::Suspended, Self::Reinstated]
            .into_iter()
            .find(|change| change.as_str() == name)
    }
}

/// An RFC 9493 subject identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// An agent instance or definition (`format: did`).
    Did(Did),
    /// A task (`format: opaque`).
    Task(String),
    /// A credential (`format: uri`).
    Credential(String),
    /// An owner, by the org's pseudonym for them (`format: opaque`, as a task; told apart by the
    /// event's level): an event never names a person.
    Owner(String),
}

impl Subject {
    fn to_json(&self) -> Value {
        match self {
            Self::Did(did) => json!({"format": "did", "url": did}),
            Self::Task(id) | Self::Owner(id) => json!({"format": "opaque", "id": id}),
            Self::Credential(uri) => json!({"format": "uri", "uri": uri}),
        }
    }

    fn from_json(value: &Value) -> Result<Self, EventError> {
        let object = value.as_object().ok_or(EventError::Malformed("subject"))?;
        let text = |member: &str| {
            object
                .get(member)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && s.len() <= MAX_ID_LEN)
                .ok_or(EventError::Malformed("subject identifier"))
        };
        if object.len() != 2 {
            return Err(EventError::Malformed("subject: format and one identifier"));
        }
        match object.get("format").and_then(Value::as_str) {
            Some("did") => Did::parse(text("url")?)
                .map(Self::Did)
                .map_err(|_| EventError::Malformed("subject url is not a DID")),
            Some("opaque") => Ok(Self::Task(text("id")?.to_owned())),
            Some("uri") => Ok(Self::Credential(text("uri")?.to_owned())),
            _ => Err(EventError::Malformed("subject format")),
        }
    }

    /// The identifier, whatever its format.
    pub fn id(&self) -> &str {
        match self {
            Self::Did(did) => did.as_str(),
            Self::Task(id) | Self::Credential(id) | Self::Owner(id) => id,
        }
    }
}

/// A revocation event, its proof aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationEvent {
    /// The org that made the change.
    pub issuer: Did,
    /// The event's unique id (`urn:uuid:…`).
    pub id: String,
    /// When the event was issued (kept to the millisecond; `iat` is its second).
    pub issued: DateTime<Utc>,
    /// What happened.
    pub change: Change,
    /// At which level.
    pub level: Level,
    /// To whom or what.
    pub subject: Subject,
    /// How many credentials' bits the change set or cleared.
    pub credentials: u64,
    /// Why, as the operator said; never personal data.
    pub reason: Option<String>,
}

impl RevocationEvent {
    /// The unsigned event.
    pub fn to_json(&self) -> Value {
        let mut event = Map::new();
        event.insert("subject".into(), self.subject.to_json());
        event.insert("level".into(), self.level.as_str().into());
        event.insert("credentials".into(), self.credentials.into());
        if let Some(reason) = &self.reason {
            event.insert("reason".into(), reason.clone().into());
        }
        json!({
            "iss": self.issuer,
            "jti": self.id,
            "iat": self.issued.timestamp(),
            "toe": self.issued.to_rfc3339_opts(SecondsFormat::Millis, true),
            "events": { self.change.event_type(): event },
        })
    }

    /// Signs the event with `eddsa-jcs-2022` by `method`, an assertion key of the issuer.
    pub fn sign(&self, key: &KeyPair, method: DidUrl) -> Result<Value, EventError> {
        Ok(proof::sign_assertion(
            &self.to_json(),
            key,
            method,
            self.issued.trunc_subsecs(0),
        )?)
    }

    /// Verifies a signed event: its form, and a proof by an assertion key of its issuer.
    pub fn verify(raw: &Value, resolver: &dyn DidResolver) -> Result<Self, EventError> {
        let event = Self::parse(raw)?;
        let signer = proof::assertion_signer(raw, resolver)?;
        if signer != event.issuer {
            return Err(EventError::NotIssuer { signer });
        }
        Ok(event)
    }

    /// Reads an event's form without checking its proof: for one verified before it was stored.
    pub fn parse(raw: &Value) -> Result<Self, EventError> {
        let malformed = EventError::Malformed;
        let object = raw.as_object().ok_or(malformed("not an object"))?;
        if object
            .keys()
            .any(|k| !["iss", "jti", "iat", "toe", "events", "proof"].contains(&k.as_str()))
        {
            return Err(malformed("an unknown member"));
        }
        let issuer = raw["iss"]
            .as_str()
            .and_then(|s| Did::parse(s).ok())
            .ok_or(malformed("iss"))?;
        let id = raw["jti"]
            .as_str()
            .filter(|s| s.starts_with("urn:uuid:") && s.len() <= 64)
            .ok_or(malformed("jti must be a urn:uuid"))?
            .to_owned();
        let issued = raw["toe"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or(malformed("toe"))?;
        if raw["iat"].as_i64() != Some(issued.timestamp()) {
            return Err(malformed("iat must be toe's second"));
        }
        let events = raw["events"].as_object().ok_or(malformed("events"))?;
        let [(event_type, event)] = events.iter().collect::<Vec<_>>()[..] else {
            return Err(malformed("events must hold exactly one event"));
        };
        let change = Change::from_event_type(event_type).ok_or(malformed("event type"))?;
        let event = event.as_object().ok_or(malformed("event"))?;
        if event
            .keys()
            .any(|k| !["subject", "level", "credentials", "reason"].contains(&k.as_str()))
        {
            return Err(malformed("an unknown event member"));
        }
        let subject = Subject::from_json(event.get("subject").unwrap_or(&Value::Null))?;
        let level = event
            .get("level")
            .and_then(Value::as_str)
            .and_then(Level::parse)
            .ok_or(malformed("level"))?;
        // An opaque subject is an owner's pseudonym at the owner level, a task's id otherwise.
        let subject = match (level, subject) {
            (Level::Owner, Subject::Task(pseudonym)) => Subject::Owner(pseudonym),
            (Level::Owner, _) => return Err(malformed("an owner is an opaque subject")),
            (_, subject) => subject,
        };
        let credentials = event
            .get("credentials")
            .and_then(Value::as_u64)
            .ok_or(malformed("credentials"))?;
        let reason = match event.get("reason") {
            None => None,
            Some(Value::String(s)) if s.len() <= MAX_REASON_LEN => Some(s.clone()),
            Some(_) => return Err(malformed("reason")),
        };
        Ok(Self {
            issuer,
            id,
            issued,
            change,
            level,
            subject,
            credentials,
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::did::key as did_key;
    use crate::did::resolve::DidKeyResolver;

    fn event(issuer: Did) -> RevocationEvent {
        RevocationEvent {
            issuer,
            id: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
            issued: Utc::now().trunc_subsecs(3),
            change: Change::Revoked,
            level: Level::Task,
            subject: Subject::Task("ticket-4711".into()),
            credentials: 3,
            reason: Some("task cancelled".into()),
        }
    }

    #[test]
    fn an_owner_level_event_names_a_pseudonym_and_reads_back_as_an_owner() {
        let key = KeyPair::generate();
        let did = did_key::did_of(&key.public());
        let mut owned = event(did.clone());
        owned.level = Level::Owner;
        owned.subject = Subject::Owner("urn:vouch:owner:7Yf2nS1uK4".into());
        let signed = owned
            .sign(&key, did_key::verification_method_of(&key.public()))
            .unwrap();
        let read = RevocationEvent::verify(&signed, &DidKeyResolver).unwrap();
        assert_eq!(read, owned);
        assert_eq!(Level::parse("owner"), Some(Level::Owner));
        // An owner named by a DID or a URI is no owner subject.
        let mut raw = owned.to_json();
        raw["events"]["https://w3id.org/vouch/events/revoked"]["subject"] =
            json!({"format": "did", "url": did});
        assert!(RevocationEvent::parse(&raw).is_err());
    }

    #[test]
    fn an_event_is_a_set_with_one_subject_and_verifies_only_as_signed() {
        let key = KeyPair::generate();
        let did = did_key::did_of(&key.public());
        let method = did_key::verification_method_of(&key.public());
        let unsigned = event(did.clone());
        let signed = unsigned.sign(&key, method).unwrap();
        assert_eq!(
            signed["events"]["https://w3id.org/vouch/events/revoked"]["subject"],
            json!({"format": "opaque", "id": "ticket-4711"})
        );
        assert_eq!(signed["iat"], unsigned.issued.timestamp());
        assert_eq!(
            RevocationEvent::verify(&signed, &DidKeyResolver).unwrap(),
            unsigned
        );

        // Any change of a claim breaks the proof.
        let mut changed = signed.clone();
        changed["events"]["https://w3id.org/vouch/events/revoked"]["credentials"] = json!(1);
        assert!(matches!(
            RevocationEvent::verify(&changed, &DidKeyResolver),
            Err(EventError::Proof(_))
        ));
        // Signed by another key than its issuer's.
        let other = KeyPair::generate();
        let forged = event(did)
            .sign(&other, did_key::verification_method_of(&other.public()))
            .unwrap();
        assert!(matches!(
            RevocationEvent::verify(&forged, &DidKeyResolver),
            Err(EventError::NotIssuer { .. })
        ));
        // Two events in one, an unknown member, a missing subject: malformed.
        for mutate in [
            |v: &mut Value| {
                v["events"]["https://w3id.org/vouch/events/suspended"] =
                    v["events"]["https://w3id.org/vouch/events/revoked"].clone()
            },
            |v: &mut Value| v["extra"] = json!(1),
            |v: &mut Value| {
                v["events"]["https://w3id.org/vouch/events/revoked"]
                    .as_object_mut()
                    .unwrap()
                    .remove("subject");
            },
            |v: &mut Value| v["iat"] = json!(0),
        ] {
            let mut bad = signed.clone();
            mutate(&mut bad);
            assert!(
                matches!(RevocationEvent::parse(&bad), Err(EventError::Malformed(_))),
                "{bad}"
            );
        }
    }
}
