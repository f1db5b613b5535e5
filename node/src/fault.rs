//! What became of a message from a peer, and whose fault it is when it was not taken: the one
//! vocabulary that the registry and the status lists answer in, and that `net` maps to gossip
//! acceptance and peer scoring in one place (`net::score`).
//!
//! The distinction that matters is between a peer that sent what no honest member sends
//! ([`PeerMisbehaved`]) and a message that is merely late, early or already known: gossip
//! reorders, partitions heal, keys rotate while lists are in flight. Only the first costs the
//! sender anything.

use std::fmt;

/// What a message from a peer came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// Valid and new: stored, and to be forwarded.
    Accepted,
    /// Valid but nothing new: a duplicate, a version older than the one held, equivocation
    /// evidence beyond the cap, or a list that was valid when it was signed and has since been
    /// superseded. Dropped, at no cost to the sender.
    Known,
    /// Not checkable yet: it builds on something this node has not received (an operation after
    /// a gap, a list signed with a key of a DID version still on its way). Dropped at no cost;
    /// the node catches up with the sender.
    Behind,
    /// This node could not judge it (its store failed). Dropped at no cost; logged here.
    Unjudged,
    /// The sender misbehaved.
    Misbehaved(PeerMisbehaved),
}

/// How a peer misbehaved: something no honest member sends, whatever the timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerMisbehaved {
    /// Larger than anything of its kind.
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The bound.
        limit: usize,
    },
    /// Not what the protocol carries there: not JSON, not an operation, not a status list
    /// credential, not a valid sync message.
    Malformed(String),
    /// A did:vouch operation that is well formed but invalid against the log it extends (hash
    /// link, version, time order, update key, signature).
    InvalidOperation(String),
    /// A status list whose proof does not verify against its issuer's DID at any version held.
    InvalidSignature(String),
    /// A status list whose URL does not name its issuer.
    WrongUrl(&'static str),
    /// A membership amendment that is malformed, forged, short of signatures, or does not amend
    /// the membership it names.
    InvalidAmendment(String),
    /// Registry data issued by a DID that is not a consortium member.
    NotAMember(String),
    /// Dated further ahead of this node's clock than any honest clock drifts.
    FromTheFuture(String),
    /// Gossip on a topic this node does not speak.
    UnknownTopic(String),
    /// An answer to a request this node never made, or one larger than it asked for.
    Unsolicited(&'static str),
}

impl fmt::Display for PeerMisbehaved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { bytes, limit } => write!(f, "{bytes} bytes: larger than {limit}"),
            Self::Malformed(why) => write!(f, "malformed: {why}"),
            Self::InvalidOperation(why) => write!(f, "invalid operation: {why}"),
            Self::InvalidSignature(why) => write!(f, "invalid signature: {why}"),
            Self::WrongUrl(why) => write!(f, "the list's URL does not name its issuer: {why}"),
            Self::InvalidAmendment(why) => write!(f, "invalid amendment: {why}"),
            Self::NotAMember(did) => write!(f, "{did} is not a consortium member"),
            Self::FromTheFuture(when) => write!(f, "dated {when}, ahead of this node's clock"),
            Self::UnknownTopic(topic) => write!(f, "gossip on unknown topic {topic}"),
            Self::Unsolicited(what) => write!(f, "unsolicited: {what}"),
        }
    }
}

impl From<PeerMisbehaved> for Judgement {
    fn from(misbehaved: PeerMisbehaved) -> Self {
        Self::Misbehaved(misbehaved)
    }
}
