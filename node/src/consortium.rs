//! Consortium membership (DESIGN §7): a genesis document naming each member (its org DID, its
//! node's key, peer id and addresses, the actions it may attest) and signed by every member's node
//! key. Nodes speak the registry protocols only with the members' nodes.
//!
//! The signatures are Ed25519 over the canonical JSON (JCS) of `{name, members}`, one per member,
//! each by that member's node key; a genesis missing any member's signature is refused.
//!
//! A member's peer id is computed here from its node key, as libp2p defines it, without libp2p:
//! `net` is the only module that names it, and a test there checks that both agree.

use std::path::Path;

use serde::{Deserialize, Serialize};
use vouch_core::did::Did;
use vouch_core::key::{KeyPair, PublicKey};

/// The largest consortium file read.
const MAX_CONSORTIUM_BYTES: u64 = 1024 * 1024;
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
    /// One signature per member.
    pub signatures: Vec<MemberSignature>,
}

/// Why a consortium genesis is refused.
#[derive(Debug, thiserror::Error)]
pub enum ConsortiumError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
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

/// What the signatures cover.
#[derive(Serialize)]
struct Signed<'a> {
    name: &'a str,
    members: &'a [Member],
}

fn signing_bytes(name: &str, members: &[Member]) -> Vec<u8> {
    serde_jcs::to_vec(&Signed { name, members }).expect("members are plain JSON")
}

impl Consortium {
    /// A genesis signed by every member; `keys` are the members' node keys, in any order.
    pub fn sign(
        name: &str,
        members: Vec<Member>,
        keys: &[KeyPair],
    ) -> Result<Self, ConsortiumError> {
        let bytes = signing_bytes(name, &members);
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
        let bytes = signing_bytes(&self.name, &self.members);
        for (i, member) in self.members.iter().enumerate() {
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
            if self.members[..i]
                .iter()
                .any(|m| m.did == member.did || m.node_key == member.node_key)
            {
                return Err(bad("listed twice"));
            }
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

    /// Reads and verifies a genesis file.
    pub fn read(path: &Path) -> Result<Self, ConsortiumError> {
        let io = |source| ConsortiumError::Io {
            path: path.display().to_string(),
            source,
        };
        let metadata = std::fs::metadata(path).map_err(io)?;
        if metadata.len() > MAX_CONSORTIUM_BYTES {
            return Err(ConsortiumError::Malformed("file too large".into()));
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        let consortium: Self =
            serde_json::from_str(&text).map_err(|e| ConsortiumError::Malformed(e.to_string()))?;
        consortium.verify()?;
        Ok(consortium)
    }

    /// Writes the genesis to a file.
    pub fn write(&self, path: &Path) -> Result<(), ConsortiumError> {
        let json = serde_json::to_vec_pretty(self).expect("a consortium always serializes");
        std::fs::write(path, json).map_err(|source| ConsortiumError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// The member whose node has this peer id.
    pub fn member_by_peer(&self, peer_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.peer_id == peer_id)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn member(key: &KeyPair, n: u8) -> Member {
        let did = vouch_core::did::vouch::create(
            vouch_core::did::vouch::DocumentContent::single_key(&key.public()),
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
        let consortium = Consortium::sign("acme-and-partners", members.clone(), &keys).unwrap();
        consortium.verify().unwrap();

        assert!(matches!(
            Consortium::sign("x", members.clone(), &keys[..2]),
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
            Consortium::sign("x", wrong_peer, &keys),
            Err(ConsortiumError::BadMember { .. })
        ));
        let mut twice = members.clone();
        twice.push(members[0].clone());
        assert!(matches!(
            Consortium::sign("x", twice, &keys),
            Err(ConsortiumError::BadMember { .. })
        ));
    }
}
