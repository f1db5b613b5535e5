//! The issuer's keys in the store's `issuance` family. Subjects (DIDs, credential ids, task ids)
//! never contain a NUL, so `<prefix><subject> 0x00` selects exactly one subject's entries.
//!
//! - `def/<definition DID>` → an agent definition ([`super::agents::Definition`]).
//! - `inst/<instance DID>` → an instance bound to a definition ([`super::Instance`]).
//! - `cred/<credential id>` → a credential issued or registered ([`super::Issued`]).
//! - `ix/<kind>/<subject> 0x00 <credential id>` → its status slots: the fan-out indexes, by
//!   instance, definition, task, parent and lineage.
//! - `defi/<definition DID> 0x00 <instance DID>` → nothing: a definition's instances.
//! - `revoked/<kind>/<subject>` → when: an instance, definition, task or credential revoked.
//! - `susp/<suspension id>` → a suspension ([`super::Suspension`]).
//! - `suspon/<kind>/<subject> 0x00 <suspension id>` → nothing: a suspension in force on a
//!   subject.
//! - `suspc/<credential id> 0x00 <suspension id>` → nothing: a suspension in force on a
//!   credential (its bit is cleared when the last one is lifted).
//! - `suspm/<suspension id> 0x00 <credential id>` → its slots: the credentials a suspension
//!   reached, for lifting it.

use vouch_core::credential::CredentialId;
use vouch_core::did::Did;

/// What an index or a marker is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Instance,
    Definition,
    Task,
    Parent,
    Lineage,
    Credential,
    Owner,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Instance => "instance",
            Self::Definition => "definition",
            Self::Task => "task",
            Self::Parent => "parent",
            Self::Lineage => "lineage",
            Self::Credential => "credential",
            Self::Owner => "owner",
        }
    }
}

fn join(parts: &[&str]) -> Vec<u8> {
    parts.concat().into_bytes()
}

pub(crate) fn definition(did: &Did) -> Vec<u8> {
    join(&["def/", did.as_str()])
}

pub(crate) const DEFINITIONS: &[u8] = b"def/";

pub(crate) fn instance(did: &Did) -> Vec<u8> {
    join(&["inst/", did.as_str()])
}

pub(crate) fn credential(id: &CredentialId) -> Vec<u8> {
    join(&["cred/", id.as_str()])
}

/// `ix/<kind>/<subject> 0x00`: every credential indexed under one subject.
pub(crate) fn index_prefix(kind: Kind, subject: &str) -> Vec<u8> {
    let mut key = join(&["ix/", kind.name(), "/", subject]);
    key.push(0);
    key
}

pub(crate) fn index(kind: Kind, subject: &str, id: &CredentialId) -> Vec<u8> {
    let mut key = index_prefix(kind, subject);
    key.extend_from_slice(id.as_str().as_bytes());
    key
}

/// The credential id at the end of an index key.
pub(crate) fn id_of_index(key: &[u8]) -> Option<CredentialId> {
    let at = key.iter().rposition(|&b| b == 0)?;
    CredentialId::parse(std::str::from_utf8(&key[at + 1..]).ok()?).ok()
}

/// `renewed/<credential id>` → the id of its renewal: a credential is renewed once.
pub(crate) fn renewed(id: &CredentialId) -> Vec<u8> {
    join(&["renewed/", id.as_str()])
}

pub(crate) fn definition_instances(definition: &Did) -> Vec<u8> {
    let mut key = join(&["defi/", definition.as_str()]);
    key.push(0);
    key
}

pub(crate) fn definition_instance(definition: &Did, instance: &Did) -> Vec<u8> {
    let mut key = definition_instances(definition);
    key.extend_from_slice(instance.as_str().as_bytes());
    key
}

pub(crate) fn revoked(kind: Kind, subject: &str) -> Vec<u8> {
    join(&["revoked/", kind.name(), "/", subject])
}

pub(crate) fn suspension(id: &str) -> Vec<u8> {
    join(&["susp/", id])
}

pub(crate) fn suspended_prefix(kind: Kind, subject: &str) -> Vec<u8> {
    let mut key = join(&["suspon/", kind.name(), "/", subject]);
    key.push(0);
    key
}

pub(crate) fn suspended(kind: Kind, subject: &str, suspension: &str) -> Vec<u8> {
    let mut key = suspended_prefix(kind, subject);
    key.extend_from_slice(suspension.as_bytes());
    key
}

pub(crate) fn credential_suspensions(id: &CredentialId) -> Vec<u8> {
    let mut key = join(&["suspc/", id.as_str()]);
    key.push(0);
    key
}

pub(crate) fn credential_suspension(id: &CredentialId, suspension: &str) -> Vec<u8> {
    let mut key = credential_suspensions(id);
    key.extend_from_slice(suspension.as_bytes());
    key
}

/// `suspm/<suspension id> 0x00`: the credentials a suspension reached.
pub(crate) fn suspension_members(suspension: &str) -> Vec<u8> {
    let mut key = join(&["suspm/", suspension]);
    key.push(0);
    key
}

pub(crate) fn suspension_member(suspension: &str, id: &CredentialId) -> Vec<u8> {
    let mut key = suspension_members(suspension);
    key.extend_from_slice(id.as_str().as_bytes());
    key
}

/// `owner/<id>`: a registered owner.
pub(crate) fn owner(id: &str) -> Vec<u8> {
    join(&["owner/", id])
}

/// `appr/<id>`: an approval request and what became of it.
pub(crate) fn approval(id: &str) -> Vec<u8> {
    join(&["appr/", id])
}

/// `appra/<agent> 0x00`: the approval requests of one agent instance.
pub(crate) fn agent_approvals(agent: &Did) -> Vec<u8> {
    let mut key = join(&["appra/", agent.as_str()]);
    key.push(0);
    key
}

pub(crate) fn agent_approval(agent: &Did, id: &str) -> Vec<u8> {
    let mut key = agent_approvals(agent);
    key.extend_from_slice(id.as_bytes());
    key
}

/// `enrol/<hash of the token>`: the owner an open passkey enrolment link is for.
pub(crate) fn enrolment(token_hash: &str) -> Vec<u8> {
    join(&["enrol/", token_hash])
}

/// `passkey/<credential id, base64url>`: the owner a passkey is registered to.
pub(crate) fn passkey(credential_id: &str) -> Vec<u8> {
    join(&["passkey/", credential_id])
}

/// `w3c/<id>`: a credential the org issued through the VC API, and its status slots.
pub(crate) fn w3c(id: &str) -> Vec<u8> {
    join(&["w3c/", id])
}

/// A Security Event Token the events receiver acknowledged (or refused), by its `jti`.
pub(crate) fn set_acknowledged(jti: &str) -> Vec<u8> {
    join(&["set-ack/", jti])
}
