//! Consortium membership (DESIGN §7): a genesis document naming each member (its org DID, its
//! node's key, peer id and addresses, the actions it may attest) and signed by every member's node
//! key, then amendments that add or remove one member each, signed by the members of the state they
//! amend (all of them, or the genesis's `threshold`). Pure: a node keeps them and speaks the
//! registry protocols only with the members' nodes; a wallet checks them itself, against the hash
//! of the genesis it was given, before it trusts any member.
//!
//! The genesis's signatures are Ed25519 over the canonical JSON (JCS) of `{name, members}` (and
//! `threshold`, when set), one per member, each by that member's node key; a genesis missing any
//! member's signature is refused. An amendment names the state it amends by its number
//! (`sequence`, from 1) and its hash (`previous`: the genesis's, then each amendment's), so that
//! amendments form a chain: one cannot be replayed onto another state, and two for the same place
//! are a fork, refused.
//!
//! A member's peer id is computed here from its node key, as libp2p defines it, without libp2p (a
//! test in the node's `net` checks that both agree).

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::capability::Action;
use crate::did::Did;
use crate::key::{KeyPair, PublicKey};
use crate::verify::IssuerPolicy;

/// The largest consortium file read.
pub const MAX_CONSORTIUM_BYTES: usize = 1024 * 1024;
/// The most members a consortium may have.
pub const MAX_MEMBERS: usize = 256;

/// A member organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Member {
    /// The org's did:vouch.
    pub did: Did,
    /// The node's key: its libp2p identity and the key of the org DID's first version.
    pub node_key: PublicKey,
    /// The node's libp2p peer id, derived from `node_key`.
    pub peer_id: String,
    /// Where the node listens for libp2p (multiaddresses).
    pub addresses: Vec<String>,
    /// The action namespaces this member may attest (`call:billing_api:*`); `*` for all.
    pub actions: Vec<String>,
}

/// One member's signature over the genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemberSignature {
    /// The signing node key.
    pub node_key: PublicKey,
    /// The Ed25519 signature, multibase base58btc.
    pub signature: String,
}

/// The signed consortium genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Consortium {
    /// The consortium's name.
    pub name: String,
    /// The members.
    pub members: Vec<Member>,
    /// How many members' signatures an amendment needs; all of them when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<usize>,
    /// One signature per member.
    pub signatures: Vec<MemberSignature>,
}

/// Why a consortium genesis is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsortiumError {
    /// The document is not a consortium genesis.
    #[error("malformed consortium genesis: {0}")]
    Malformed(String),
    /// A member's entry is inconsistent.
    #[error("member {did}: {reason}")]
    BadMember {
        /// The member.
        did: String,
        /// What is wrong.
        reason: String,
    },
    /// A member's signature is missing or invalid.
    #[error("member {0} has not validly signed the genesis")]
    Unsigned(String),
}

/// The libp2p peer id of a node key, as text (`12D3KooW…`): the base58btc of the identity
/// multihash (code 0, length 36) of the key's protobuf encoding (field 1, key type Ed25519 = 1;
/// field 2, the 32 key bytes).
pub fn peer_id_of(key: &PublicKey) -> String {
    let mut bytes = Vec::with_capacity(38);
    bytes.extend_from_slice(&[0x00, 36, 0x08, 0x01, 0x12, 32]);
    bytes.extend_from_slice(key.as_bytes());
    bs58::encode(bytes).into_string()
}

/// What the genesis's signatures cover.
#[derive(Serialize)]
struct Signed<'a> {
    name: &'a str,
    members: &'a [Member],
    #[serde(skip_serializing_if = "Option::is_none")]
    threshold: Option<usize>,
}

fn signing_bytes(name: &str, members: &[Member], threshold: Option<usize>) -> Vec<u8> {
    serde_jcs::to_vec(&Signed {
        name,
        members,
        threshold,
    })
    .expect("members are plain JSON")
}

impl Consortium {
    /// A genesis signed by every member; `keys` are the members' node keys, in any order.
    /// `threshold`: how many members' signatures an amendment needs (all when `None`).
    pub fn sign(
        name: &str,
        members: Vec<Member>,
        threshold: Option<usize>,
        keys: &[KeyPair],
    ) -> Result<Self, ConsortiumError> {
        let bytes = signing_bytes(name, &members, threshold);
        let signatures = keys
            .iter()
            .map(|key| MemberSignature {
                node_key: key.public(),
                signature: multibase::encode(multibase::Base::Base58Btc, key.sign(&bytes)),
            })
            .collect();
        let consortium = Self {
            name: name.to_owned(),
            members,
            threshold,
            signatures,
        };
        consortium.verify()?;
        Ok(consortium)
    }

    /// Checks the members (unique, peer id derived from the node key, bounded) and that every
    /// member signed exactly this genesis.
    pub fn verify(&self) -> Result<(), ConsortiumError> {
        if self.members.is_empty() || self.members.len() > MAX_MEMBERS {
            return Err(ConsortiumError::Malformed(format!(
                "a consortium has 1 to {MAX_MEMBERS} members"
            )));
        }
        if self
            .threshold
            .is_some_and(|t| t == 0 || t > self.members.len())
        {
            return Err(ConsortiumError::Malformed(
                "the threshold is 1 to the number of members".into(),
            ));
        }
        if self.signatures.len() > MAX_MEMBERS {
            return Err(ConsortiumError::Malformed(format!(
                "at most {MAX_MEMBERS} signatures"
            )));
        }
        let bytes = signing_bytes(&self.name, &self.members, self.threshold);
        for (i, member) in self.members.iter().enumerate() {
            check_member(member, &self.members[..i])?;
            let signed = self.signatures.iter().any(|s| {
                s.node_key == member.node_key
                    && decode_signature(&s.signature)
                        .is_some_and(|signature| member.node_key.verify(&bytes, &signature))
            });
            if !signed {
                return Err(ConsortiumError::Unsigned(member.did.to_string()));
            }
        }
        Ok(())
    }

    /// Reads and verifies a genesis: at most [`MAX_CONSORTIUM_BYTES`] of JSON.
    pub fn from_json(data: &[u8]) -> Result<Self, ConsortiumError> {
        if data.len() > MAX_CONSORTIUM_BYTES {
            return Err(ConsortiumError::Malformed(format!(
                "larger than {MAX_CONSORTIUM_BYTES} bytes"
            )));
        }
        let consortium: Self =
            serde_json::from_slice(data).map_err(|e| ConsortiumError::Malformed(e.to_string()))?;
        consortium.verify()?;
        Ok(consortium)
    }

    /// The member whose node has this peer id.
    pub fn member_by_peer(&self, peer_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.peer_id == peer_id)
    }

    /// The hash that the first amendment names as `previous`.
    pub fn hash(&self) -> String {
        crate::hash::multihash(&signing_bytes(&self.name, &self.members, self.threshold))
    }
}

/// A member entry is well formed and new among `others`.
fn check_member(member: &Member, others: &[Member]) -> Result<(), ConsortiumError> {
    let bad = |reason: &str| ConsortiumError::BadMember {
        did: member.did.to_string(),
        reason: reason.to_owned(),
    };
    if member.did.method() != "vouch" {
        return Err(bad("a member's DID is a did:vouch"));
    }
    if peer_id_of(&member.node_key) != member.peer_id {
        return Err(bad("the peer id is not the node key's"));
    }
    if member.addresses.len() > 16 || member.actions.len() > 256 {
        return Err(bad("at most 16 addresses and 256 actions"));
    }
    if member.actions.iter().any(|a| Action::parse(a).is_err()) {
        return Err(bad(
            "an action is not an action pattern (`call:billing_api:*`, `*`)",
        ));
    }
    if others
        .iter()
        .any(|m| m.did == member.did || m.node_key == member.node_key)
    {
        return Err(bad("listed twice"));
    }
    Ok(())
}

fn decode_signature(s: &str) -> Option<[u8; 64]> {
    if s.len() > 100 {
        return None;
    }
    let (base, bytes) = multibase::decode(s).ok()?;
    (base == multibase::Base::Base58Btc)
        .then(|| bytes.try_into().ok())
        .flatten()
}

/// The largest amendment taken: a member entry and up to [`MAX_MEMBERS`] signatures.
pub const MAX_AMENDMENT_BYTES: usize = 64 * 1024;

/// What an amendment changes: one member at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Change {
    /// A member joins.
    Add(Box<Member>),
    /// A member leaves: its node is refused from then on, and its org's later registry data too;
    /// what it published before stays resolvable.
    Remove {
        /// The member's org DID.
        did: Did,
    },
}

/// A change of membership, signed by members of the state it amends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Amendment {
    /// The consortium's name.
    pub consortium: String,
    /// Its number: 1 for the first amendment of the genesis.
    pub sequence: u64,
    /// The hash of what it amends: the genesis's, or the previous amendment's.
    pub previous: String,
    /// The change.
    pub change: Change,
    /// When it was proposed.
    pub created: DateTime<Utc>,
    /// The members' signatures so far.
    pub signatures: Vec<MemberSignature>,
}

/// What an amendment's signatures cover.
#[derive(Serialize)]
struct AmendmentSigned<'a> {
    consortium: &'a str,
    sequence: u64,
    previous: &'a str,
    change: &'a Change,
    created: &'a DateTime<Utc>,
}

impl Amendment {
    fn signing_bytes(&self) -> Vec<u8> {
        serde_jcs::to_vec(&AmendmentSigned {
            consortium: &self.consortium,
            sequence: self.sequence,
            previous: &self.previous,
            change: &self.change,
            created: &self.created,
        })
        .expect("an amendment is plain JSON")
    }

    /// Its hash: what the next amendment names as `previous`.
    pub fn hash(&self) -> String {
        crate::hash::multihash(&self.signing_bytes())
    }

    /// Reads an amendment, bounded.
    pub fn from_json(data: &[u8]) -> Result<Self, AmendmentError> {
        if data.len() > MAX_AMENDMENT_BYTES {
            return Err(AmendmentError::Malformed(format!(
                "{} bytes: larger than {MAX_AMENDMENT_BYTES}",
                data.len()
            )));
        }
        let amendment: Self =
            serde_json::from_slice(data).map_err(|e| AmendmentError::Malformed(e.to_string()))?;
        if amendment.signatures.len() > MAX_MEMBERS {
            return Err(AmendmentError::Malformed(format!(
                "at most {MAX_MEMBERS} signatures"
            )));
        }
        Ok(amendment)
    }

    /// The amendment as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an amendment always serializes")
    }
}

/// Why an amendment was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmendmentError {
    /// Not an amendment.
    #[error("malformed amendment: {0}")]
    Malformed(String),
    /// An amendment of another consortium.
    #[error("an amendment of consortium {0}")]
    OtherConsortium(String),
    /// Amendments before it are missing here.
    #[error("amendment {sequence} while this node holds {held}: earlier ones are missing")]
    Ahead {
        /// Its number.
        sequence: u64,
        /// How many this node holds.
        held: u64,
    },
    /// Another amendment holds its place: a fork of the membership, refused.
    #[error("amendment {0} conflicts with the amendment applied at that place")]
    Fork(u64),
    /// It does not amend the state it names.
    #[error("it amends {previous}, not the state held ({held})")]
    WrongPrevious {
        /// What it names.
        previous: String,
        /// The hash of the state held.
        held: String,
    },
    /// The change does not apply to the membership held.
    #[error("{0}")]
    BadChange(String),
    /// A signature that does not verify, or by a key no member holds, or twice by one.
    #[error("a signature is invalid, by no member, or repeated")]
    BadSignature,
    /// Not enough members signed yet.
    #[error("signed by {signed} of the {needed} members it needs")]
    Unsigned {
        /// Valid member signatures.
        signed: usize,
        /// How many it needs.
        needed: usize,
    },
    /// The key asked to sign is no member's node key.
    #[error("this node's key is no member's")]
    NotAMember,
}

/// What applying an amendment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amended {
    /// It changed the membership.
    Applied,
    /// It was applied already.
    Known,
}

/// The membership in force: the genesis and the amendments applied to it, in order.
#[derive(Debug, Clone)]
pub struct Membership {
    name: String,
    members: Vec<Member>,
    threshold: Option<usize>,
    amendments: Vec<Amendment>,
    head: String,
    /// Members removed, and when their removal was proposed.
    former: Vec<(Did, DateTime<Utc>)>,
}

impl Membership {
    /// The membership of a verified genesis.
    pub fn new(genesis: &Consortium) -> Self {
        Self {
            name: genesis.name.clone(),
            members: genesis.members.clone(),
            threshold: genesis.threshold,
            amendments: Vec::new(),
            head: genesis.hash(),
            former: Vec::new(),
        }
    }

    /// The consortium's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The members in force.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The amendments applied, in order.
    pub fn amendments(&self) -> &[Amendment] {
        &self.amendments
    }

    /// How many amendments are applied.
    pub fn sequence(&self) -> u64 {
        self.amendments.len() as u64
    }

    /// The hash of the state in force.
    pub fn head(&self) -> &str {
        &self.head
    }

    /// How many members' signatures an amendment of this state needs.
    pub fn needed(&self) -> usize {
        self.threshold
            .map_or(self.members.len(), |t| t.min(self.members.len()))
    }

    /// The member whose node has this peer id.
    pub fn member_by_peer(&self, peer_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.peer_id == peer_id)
    }

    /// Whether `did` is a member's org DID.
    pub fn is_member(&self, did: &Did) -> bool {
        self.members.iter().any(|m| m.did == *did)
    }

    /// When `did` stopped being a member, if it was one.
    pub fn removed_at(&self, did: &Did) -> Option<DateTime<Utc>> {
        self.former
            .iter()
            .find(|(former, _)| former == did)
            .map(|(_, at)| *at)
    }

    /// Proposes a change of this state, signed by `key` (a member's node key).
    pub fn propose(
        &self,
        change: Change,
        key: &KeyPair,
        now: DateTime<Utc>,
    ) -> Result<Amendment, AmendmentError> {
        let mut amendment = Amendment {
            consortium: self.name.clone(),
            sequence: self.sequence() + 1,
            previous: self.head.clone(),
            change,
            created: now.trunc_subsecs(3),
            signatures: Vec::new(),
        };
        self.sign(&mut amendment, key)?;
        Ok(amendment)
    }

    /// Adds `key`'s signature to an amendment of this state (nothing if it signed already).
    pub fn sign(&self, amendment: &mut Amendment, key: &KeyPair) -> Result<(), AmendmentError> {
        self.check_place(amendment)?;
        self.changed(&amendment.change, amendment.created)?;
        if !self.members.iter().any(|m| m.node_key == key.public()) {
            return Err(AmendmentError::NotAMember);
        }
        if amendment
            .signatures
            .iter()
            .any(|s| s.node_key == key.public())
        {
            return Ok(());
        }
        let signature = key.sign(&amendment.signing_bytes());
        amendment.signatures.push(MemberSignature {
            node_key: key.public(),
            signature: multibase::encode(multibase::Base::Base58Btc, signature),
        });
        Ok(())
    }

    /// How many members of this state validly signed: any signature that does not verify, is by
    /// no member, or repeats a signer makes the amendment invalid.
    pub fn signers(&self, amendment: &Amendment) -> Result<usize, AmendmentError> {
        let bytes = amendment.signing_bytes();
        let mut seen = Vec::with_capacity(amendment.signatures.len());
        for signature in &amendment.signatures {
            let member = self
                .members
                .iter()
                .find(|m| m.node_key == signature.node_key)
                .ok_or(AmendmentError::BadSignature)?;
            let valid = decode_signature(&signature.signature)
                .is_some_and(|s| member.node_key.verify(&bytes, &s));
            if !valid || seen.contains(&&signature.node_key) {
                return Err(AmendmentError::BadSignature);
            }
            seen.push(&signature.node_key);
        }
        Ok(seen.len())
    }

    /// Whether an amendment has the signatures it needs to apply.
    pub fn is_complete(&self, amendment: &Amendment) -> Result<bool, AmendmentError> {
        Ok(self.signers(amendment)? >= self.needed())
    }

    /// Applies a complete amendment of this state; one applied already is known.
    pub fn apply(&mut self, amendment: &Amendment) -> Result<Amended, AmendmentError> {
        if amendment.consortium != self.name {
            return Err(AmendmentError::OtherConsortium(
                amendment.consortium.clone(),
            ));
        }
        let held = self.sequence();
        if (1..=held).contains(&amendment.sequence) {
            let applied = &self.amendments[(amendment.sequence - 1) as usize];
            return if applied.hash() == amendment.hash() {
                Ok(Amended::Known)
            } else {
                Err(AmendmentError::Fork(amendment.sequence))
            };
        }
        self.check_place(amendment)?;
        let next = self.changed(&amendment.change, amendment.created)?;
        let signed = self.signers(amendment)?;
        if signed < self.needed() {
            return Err(AmendmentError::Unsigned {
                signed,
                needed: self.needed(),
            });
        }
        *self = next;
        self.head = amendment.hash();
        self.amendments.push(amendment.clone());
        Ok(Amended::Applied)
    }

    /// The amendment's place is the next one of this state.
    fn check_place(&self, amendment: &Amendment) -> Result<(), AmendmentError> {
        if amendment.consortium != self.name {
            return Err(AmendmentError::OtherConsortium(
                amendment.consortium.clone(),
            ));
        }
        let held = self.sequence();
        if amendment.sequence > held + 1 {
            return Err(AmendmentError::Ahead {
                sequence: amendment.sequence,
                held,
            });
        }
        if amendment.sequence <= held {
            return Err(AmendmentError::Fork(amendment.sequence));
        }
        if amendment.previous != self.head {
            return Err(AmendmentError::WrongPrevious {
                previous: amendment.previous.clone(),
                held: self.head.clone(),
            });
        }
        Ok(())
    }

    /// This state with `change` made (its amendments and head as they were).
    fn changed(&self, change: &Change, at: DateTime<Utc>) -> Result<Self, AmendmentError> {
        let mut next = self.clone();
        match change {
            Change::Add(member) => {
                check_member(member, &self.members)
                    .map_err(|e| AmendmentError::BadChange(e.to_string()))?;
                if self.members.len() >= MAX_MEMBERS {
                    return Err(AmendmentError::BadChange(format!(
                        "a consortium has at most {MAX_MEMBERS} members"
                    )));
                }
                if self.removed_at(&member.did).is_some() {
                    return Err(AmendmentError::BadChange(format!(
                        "{} was removed: a removed member does not come back",
                        member.did
                    )));
                }
                next.members.push(member.as_ref().clone());
            }
            Change::Remove { did } => {
                if !self.is_member(did) {
                    return Err(AmendmentError::BadChange(format!("{did} is no member")));
                }
                if self.members.len() == 1 {
                    return Err(AmendmentError::BadChange(
                        "the last member cannot be removed".into(),
                    ));
                }
                next.members.retain(|m| m.did != *did);
                next.former.push((did.clone(), at));
            }
        }
        Ok(next)
    }
}

/// The most bytes of a published consortium read: the genesis and 256 amendments of the largest
/// size.
pub const MAX_PUBLISHED_BYTES: usize = MAX_CONSORTIUM_BYTES + 256 * MAX_AMENDMENT_BYTES;

/// The consortium as a node publishes it (`GET /1.0/consortium`): the genesis and the amendments
/// applied to it, in order. Nothing in it is taken on the node's word: [`Published::membership`]
/// checks it against the hash of the genesis the reader was given beforehand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Published {
    /// The signed genesis.
    pub genesis: Consortium,
    /// The amendments applied, from the first.
    pub amendments: Vec<Amendment>,
}

/// Why a published consortium is not the one expected, or does not check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishedError {
    /// Not a published consortium, or larger than [`MAX_PUBLISHED_BYTES`].
    #[error("malformed published consortium: {0}")]
    Malformed(String),
    /// The genesis does not check.
    #[error(transparent)]
    Genesis(#[from] ConsortiumError),
    /// The genesis is another one than expected.
    #[error("the genesis's hash is {found}, not {expected}")]
    OtherGenesis {
        /// The hash configured.
        expected: String,
        /// The hash of the genesis given.
        found: String,
    },
    /// An amendment does not apply to the membership before it.
    #[error("amendment {sequence}: {error}")]
    Amendment {
        /// Its place in the list, from 1.
        sequence: usize,
        /// The rule the amendment breaks.
        error: AmendmentError,
    },
}

impl Published {
    /// Reads a published consortium, bounded; nothing is checked yet.
    pub fn from_json(data: &[u8]) -> Result<Self, PublishedError> {
        if data.len() > MAX_PUBLISHED_BYTES {
            return Err(PublishedError::Malformed(format!(
                "larger than {MAX_PUBLISHED_BYTES} bytes"
            )));
        }
        serde_json::from_slice(data).map_err(|e| PublishedError::Malformed(e.to_string()))
    }

    /// The membership it describes, if its genesis is the one whose hash is `genesis_hash` and
    /// signed by every member, and each amendment is signed by the members of the state it
    /// amends, in order.
    pub fn membership(&self, genesis_hash: &str) -> Result<Membership, PublishedError> {
        let found = self.genesis.hash();
        if found != genesis_hash {
            return Err(PublishedError::OtherGenesis {
                expected: genesis_hash.to_owned(),
                found,
            });
        }
        self.genesis.verify()?;
        let mut membership = Membership::new(&self.genesis);
        membership.apply_all(&self.amendments)?;
        Ok(membership)
    }
}

impl Membership {
    /// Applies `amendments` in order, each one that is new only if it has the signatures it
    /// needs; those applied already must be the very ones (a fork is refused). The membership is
    /// unchanged unless every one applies.
    pub fn apply_all<'a>(
        &mut self,
        amendments: impl IntoIterator<Item = &'a Amendment>,
    ) -> Result<(), PublishedError> {
        let mut next = self.clone();
        for (at, amendment) in amendments.into_iter().enumerate() {
            next.apply(amendment)
                .map_err(|error| PublishedError::Amendment {
                    sequence: at + 1,
                    error,
                })?;
        }
        *self = next;
        Ok(())
    }
}

/// The consortium's trusted-issuer policy (DESIGN §7): a member attests the actions its entry
/// names, and nothing else; a DID that is no member (a removed one included) attests nothing.
impl IssuerPolicy for Membership {
    fn trusts(&self, issuer: &Did, action: &Action) -> bool {
        self.members
            .iter()
            .filter(|m| m.did == *issuer)
            .flat_map(|m| &m.actions)
            .filter_map(|pattern| Action::parse(pattern).ok())
            .any(|pattern| action.is_subset_of(&pattern))
    }

    fn knows(&self, issuer: &Did) -> bool {
        self.is_member(issuer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(key: &KeyPair, n: u8) -> Member {
        let did = crate::did_vouch::create(
            crate::did_vouch::DocumentContent::single_key(&key.public()),
            &KeyPair::from_seed(&[n; 32]),
            &[KeyPair::from_seed(&[n + 1; 32]).public()],
            chrono::Utc::now(),
        )
        .unwrap()
        .0;
        Member {
            did,
            node_key: key.public(),
            peer_id: peer_id_of(&key.public()),
            addresses: vec![format!("/ip4/127.0.0.1/tcp/{}", 4000 + u16::from(n))],
            actions: vec!["*".into()],
        }
    }

    #[test]
    fn every_member_must_sign_and_peer_ids_must_match() {
        let keys: Vec<KeyPair> = (0..3).map(|_| KeyPair::generate()).collect();
        let members: Vec<Member> = keys
            .iter()
            .zip(1..)
            .map(|(k, n)| member(k, n * 10))
            .collect();
        let consortium =
            Consortium::sign("acme-and-partners", members.clone(), None, &keys).unwrap();
        consortium.verify().unwrap();

        assert!(matches!(
            Consortium::sign("x", members.clone(), None, &keys[..2]),
            Err(ConsortiumError::Unsigned(_))
        ));
        let mut changed = consortium.clone();
        changed.members[1]
            .addresses
            .push("/ip4/10.0.0.1/tcp/1".into());
        assert!(matches!(
            changed.verify(),
            Err(ConsortiumError::Unsigned(_))
        ));
        let mut wrong_peer = members.clone();
        wrong_peer[0].peer_id = members[1].peer_id.clone();
        assert!(matches!(
            Consortium::sign("x", wrong_peer, None, &keys),
            Err(ConsortiumError::BadMember { .. })
        ));
        let mut twice = members.clone();
        twice.push(members[0].clone());
        assert!(matches!(
            Consortium::sign("x", twice, None, &keys),
            Err(ConsortiumError::BadMember { .. })
        ));
    }

    fn genesis(n: u8, threshold: Option<usize>) -> (Consortium, Vec<KeyPair>) {
        let keys: Vec<KeyPair> = (0..n).map(|_| KeyPair::generate()).collect();
        let members: Vec<Member> = keys
            .iter()
            .zip(1..)
            .map(|(k, i)| member(k, i * 10))
            .collect();
        (
            Consortium::sign("c", members, threshold, &keys).unwrap(),
            keys,
        )
    }

    #[test]
    fn a_member_joins_when_every_member_signed_and_a_replay_changes_nothing() {
        let (genesis, keys) = genesis(3, None);
        let mut membership = Membership::new(&genesis);
        let newcomer = KeyPair::generate();
        let entry = member(&newcomer, 90);
        let now = chrono::Utc::now();
        let mut amendment = membership
            .propose(Change::Add(Box::new(entry.clone())), &keys[0], now)
            .unwrap();
        assert_eq!((amendment.sequence, membership.needed()), (1, 3));
        assert_eq!(
            membership.apply(&amendment),
            Err(AmendmentError::Unsigned {
                signed: 1,
                needed: 3
            })
        );
        // The newcomer is no member yet: it cannot sign its own admission.
        assert_eq!(
            membership.sign(&mut amendment.clone(), &newcomer),
            Err(AmendmentError::NotAMember)
        );
        membership.sign(&mut amendment, &keys[1]).unwrap();
        membership.sign(&mut amendment, &keys[1]).unwrap();
        assert_eq!(amendment.signatures.len(), 2, "a member signs once");
        membership.sign(&mut amendment, &keys[2]).unwrap();
        assert_eq!(membership.apply(&amendment), Ok(Amended::Applied));
        assert_eq!(membership.members().len(), 4);
        assert_eq!(membership.member_by_peer(&entry.peer_id), Some(&entry));
        assert_eq!(membership.head(), amendment.hash());
        // Replayed: known, nothing changes.
        assert_eq!(membership.apply(&amendment), Ok(Amended::Known));
        assert_eq!(membership.sequence(), 1);
        // Another amendment for the same place is a fork.
        let mut other = amendment.clone();
        other.created += chrono::Duration::seconds(1);
        assert_eq!(membership.apply(&other), Err(AmendmentError::Fork(1)));
        // Replayed onto another state (another consortium with the same members' keys): refused.
        let mut elsewhere = Membership::new(
            &Consortium::sign("c", genesis.members.clone(), Some(1), &keys).unwrap(),
        );
        assert!(matches!(
            elsewhere.apply(&amendment),
            Err(AmendmentError::WrongPrevious { .. })
        ));
    }

    #[test]
    fn forged_tampered_and_out_of_order_amendments_are_refused() {
        let (genesis, keys) = genesis(3, Some(2));
        let membership = Membership::new(&genesis);
        let now = chrono::Utc::now();
        let outsider = KeyPair::generate();
        let change = Change::Add(Box::new(member(&outsider, 90)));
        let mut amendment = membership.propose(change.clone(), &keys[0], now).unwrap();
        membership.sign(&mut amendment, &keys[1]).unwrap();
        assert!(membership.is_complete(&amendment).unwrap());

        // Signed by a key that is no member's.
        let mut forged = membership.propose(change.clone(), &keys[0], now).unwrap();
        let bytes = forged.signing_bytes();
        forged.signatures.push(MemberSignature {
            node_key: outsider.public(),
            signature: multibase::encode(multibase::Base::Base58Btc, outsider.sign(&bytes)),
        });
        assert_eq!(
            membership.clone().apply(&forged),
            Err(AmendmentError::BadSignature)
        );
        // A member's key, a signature of something else.
        let mut forged = membership.propose(change.clone(), &keys[0], now).unwrap();
        forged.signatures.push(MemberSignature {
            node_key: keys[1].public(),
            signature: multibase::encode(multibase::Base::Base58Btc, keys[1].sign(b"else")),
        });
        assert_eq!(
            membership.clone().apply(&forged),
            Err(AmendmentError::BadSignature)
        );
        // Changed after it was signed.
        let mut tampered = amendment.clone();
        if let Change::Add(m) = &mut tampered.change {
            m.actions = vec!["*".into(), "admin:*".into()];
        }
        assert_eq!(
            membership.clone().apply(&tampered),
            Err(AmendmentError::BadSignature)
        );
        // One signer twice.
        let mut twice = membership.propose(change.clone(), &keys[0], now).unwrap();
        twice.signatures.push(twice.signatures[0].clone());
        assert_eq!(
            membership.clone().apply(&twice),
            Err(AmendmentError::BadSignature)
        );
        // Ahead of the state held.
        let mut ahead = amendment.clone();
        ahead.sequence = 2;
        assert!(matches!(
            membership.clone().apply(&ahead),
            Err(AmendmentError::Ahead { .. })
        ));
        assert_eq!(membership.clone().apply(&amendment), Ok(Amended::Applied));
    }

    #[test]
    fn a_removed_member_is_gone_for_good() {
        let (genesis, keys) = genesis(3, Some(2));
        let mut membership = Membership::new(&genesis);
        let leaving = genesis.members[2].clone();
        let now = chrono::Utc::now();
        let mut removal = membership
            .propose(
                Change::Remove {
                    did: leaving.did.clone(),
                },
                &keys[0],
                now,
            )
            .unwrap();
        membership.sign(&mut removal, &keys[1]).unwrap();
        assert_eq!(membership.apply(&removal), Ok(Amended::Applied));
        assert!(!membership.is_member(&leaving.did));
        assert_eq!(membership.removed_at(&leaving.did), Some(removal.created));
        assert_eq!(membership.needed(), 2);
        // Its signature counts no more, and it does not come back.
        assert_eq!(
            membership.propose(
                Change::Add(Box::new(member(&KeyPair::generate(), 70))),
                &keys[2],
                now
            ),
            Err(AmendmentError::NotAMember)
        );
        assert!(matches!(
            membership.propose(Change::Add(Box::new(leaving.clone())), &keys[0], now),
            Err(AmendmentError::BadChange(_))
        ));
        // Nor can a member be removed twice, or the last one at all.
        assert!(matches!(
            membership.propose(Change::Remove { did: leaving.did }, &keys[0], now),
            Err(AmendmentError::BadChange(_))
        ));
    }

    #[test]
    fn a_published_consortium_counts_only_under_the_genesis_hash_and_its_signatures() {
        let (genesis, keys) = genesis(3, Some(2));
        let hash = genesis.hash();
        let held = Membership::new(&genesis);
        let leaving = genesis.members[2].did.clone();
        let mut removal = held
            .propose(
                Change::Remove {
                    did: leaving.clone(),
                },
                &keys[0],
                chrono::Utc::now(),
            )
            .unwrap();
        held.sign(&mut removal, &keys[1]).unwrap();
        let published = Published {
            genesis: genesis.clone(),
            amendments: vec![removal.clone()],
        };
        let text = serde_json::to_vec(&published).unwrap();
        let membership = Published::from_json(&text)
            .unwrap()
            .membership(&hash)
            .unwrap();
        assert!(!membership.is_member(&leaving));
        assert_eq!(membership.head(), removal.hash());

        // Another genesis, however well signed, is not the one configured.
        let (other, _) = super::tests::genesis(3, Some(2));
        let wrong = Published {
            genesis: other,
            amendments: Vec::new(),
        };
        assert!(matches!(
            wrong.membership(&hash),
            Err(PublishedError::OtherGenesis { .. })
        ));
        // The genesis with a member's actions widened: its hash changes.
        let mut widened = published.clone();
        widened.genesis.members[2].actions = vec!["*".into(), "admin:*".into()];
        assert!(matches!(
            widened.membership(&hash),
            Err(PublishedError::OtherGenesis { .. })
        ));
        // The right genesis, a signature left out: refused.
        let mut unsigned = published.clone();
        unsigned.genesis.signatures.pop();
        assert!(matches!(
            unsigned.membership(&hash),
            Err(PublishedError::Genesis(ConsortiumError::Unsigned(_)))
        ));
        // An amendment signed by one member of the two needed: refused, nothing applied.
        let mut short = published.clone();
        short.amendments[0].signatures.truncate(1);
        assert!(matches!(
            short.membership(&hash),
            Err(PublishedError::Amendment {
                sequence: 1,
                error: AmendmentError::Unsigned { .. }
            })
        ));
        // A node that holds the removal back answers an older state; a membership held stays
        // as it is when given the older list, and a fork of it is refused.
        let mut kept = membership.clone();
        kept.apply_all(&[]).unwrap();
        kept.apply_all(&published.amendments).unwrap();
        assert_eq!(kept.head(), removal.hash());
        let mut fork = removal.clone();
        fork.created += chrono::Duration::seconds(1);
        assert!(matches!(
            kept.apply_all(&[fork]),
            Err(PublishedError::Amendment {
                error: AmendmentError::Fork(1),
                ..
            })
        ));
        assert_eq!(kept.head(), removal.hash());
        // Huge: refused before it is parsed.
        assert!(matches!(
            Published::from_json(&vec![b' '; MAX_PUBLISHED_BYTES + 1]),
            Err(PublishedError::Malformed(_))
        ));
    }

    #[test]
    fn the_membership_is_the_trusted_issuer_policy() {
        let keys: Vec<KeyPair> = (0..2).map(|_| KeyPair::generate()).collect();
        let mut billing = member(&keys[0], 10);
        billing.actions = vec!["call:billing_api:*".into()];
        let everything = member(&keys[1], 20);
        let genesis = Consortium::sign(
            "c",
            vec![billing.clone(), everything.clone()],
            Some(1),
            &keys,
        )
        .unwrap();
        let mut membership = Membership::new(&genesis);
        let action = |a: &str| Action::parse(a).unwrap();
        assert!(membership.trusts(&billing.did, &action("call:billing_api:refund")));
        assert!(membership.trusts(&billing.did, &action("call:billing_api:*")));
        assert!(!membership.trusts(&billing.did, &action("call:billing_api")));
        assert!(!membership.trusts(&billing.did, &action("call:crm:read")));
        assert!(membership.trusts(&everything.did, &action("call:crm:read")));
        let stranger = member(&KeyPair::generate(), 30).did;
        assert!(!membership.knows(&stranger));
        assert!(!membership.trusts(&stranger, &action("call:crm:read")));

        // Removed, it attests nothing any more.
        let removal = membership
            .propose(
                Change::Remove {
                    did: everything.did.clone(),
                },
                &keys[0],
                chrono::Utc::now(),
            )
            .unwrap();
        assert_eq!(membership.apply(&removal), Ok(Amended::Applied));
        assert!(!membership.knows(&everything.did));
        assert!(!membership.trusts(&everything.did, &action("call:crm:read")));

        // An entry whose actions are no action patterns is refused.
        let mut bad = member(&KeyPair::generate(), 40);
        bad.actions = vec!["Call Billing".into()];
        assert!(matches!(
            check_member(&bad, &[]),
            Err(ConsortiumError::BadMember { .. })
        ));
    }
}
