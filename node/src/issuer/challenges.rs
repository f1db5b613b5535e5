//! The node's challenges for proofs of possession: random, short-lived, each answered once.
//!
//! A challenge is sealed, not stored: `expiry ‖ 16 random bytes ‖ MAC`, the MAC an HMAC-SHA256
//! (truncated to 128 bits) under a key made at start, over the node's domain and the rest. The
//! node remembers a challenge only once a proof over it has verified — so a stranger asking for
//! challenges, or answering them with junk, adds nothing to any table, and one client's flood
//! never leaves another without a challenge (DESIGN §7, open surfaces). A restart makes a new
//! key: every challenge given before is refused, and the agent asks again.

use chrono::{DateTime, Duration, Utc};
use hmac::Mac as _;
use rand::RngCore as _;
use vouch_api::ErrorCode;
use vouch_core::exchange::{NotKept, Once};

use super::{Issuer, Refusal};
use vouch_core::report::Reason;

/// How long a challenge may be answered.
pub const CHALLENGE_TTL_SECS: i64 = 300;
/// The most challenges answered and remembered at once (each only until it expires); more
/// answers wait until some expire. Only verified proofs are remembered.
const MAX_REDEEMED: usize = 65_536;
/// The most of them one prover (the instance or holder whose proof verified) may have answered
/// at once: no holder of a credential fills the table for the others.
const MAX_REDEEMED_PER_PROVER: usize = 1024;
/// The bytes of a challenge: 8 of expiry, 16 random, 16 of MAC.
const SEALED_BYTES: usize = 40;

pub use vouch_api::node::public::Challenge;

/// The key challenges are sealed with, and the challenges answered.
pub(super) struct Challenges {
    /// Made at start, never stored or logged.
    key: [u8; 32],
    /// The challenges answered with a proof that verified, until they expire, each counted
    /// against its prover's share.
    redeemed: Once<()>,
    /// Numbers the provers for their shares (a keyed hash, made at start).
    provers: std::collections::hash_map::RandomState,
}

impl std::fmt::Debug for Challenges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenges")
            .field("redeemed", &self.redeemed.len())
            .finish_non_exhaustive()
    }
}

impl Default for Challenges {
    fn default() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self {
            key,
            redeemed: Once::with_shares(MAX_REDEEMED, MAX_REDEEMED, MAX_REDEEMED_PER_PROVER),
            provers: std::collections::hash_map::RandomState::new(),
        }
    }
}

impl Challenges {
    /// The MAC of a challenge's first 24 bytes, for `domain`, before it is finalized.
    fn mac(&self, domain: &str, sealed: &[u8]) -> hmac::Hmac<sha2::Sha256> {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.key)
            .expect("HMAC takes a key of any length");
        mac.update(b"vouch-challenge\0");
        mac.update(domain.as_bytes());
        mac.update(b"\0");
        mac.update(sealed);
        mac
    }

    fn seal(&self, domain: &str, expires: DateTime<Utc>) -> String {
        let mut sealed = [0u8; SEALED_BYTES];
        sealed[..8].copy_from_slice(&expires.timestamp().to_be_bytes());
        rand::thread_rng().fill_bytes(&mut sealed[8..24]);
        let mac = self.mac(domain, &sealed[..24]).finalize().into_bytes();
        sealed[24..].copy_from_slice(&mac[..16]);
        bs58::encode(sealed).into_string()
    }

    /// When `challenge` expires, if this node sealed it for `domain`.
    fn open(&self, domain: &str, challenge: &str) -> Option<DateTime<Utc>> {
        if challenge.len() > 2 * SEALED_BYTES {
            return None;
        }
        let bytes = bs58::decode(challenge).into_vec().ok()?;
        let sealed: [u8; SEALED_BYTES] = bytes.try_into().ok()?;
        // Compared in constant time: the comparison tells nothing of the right MAC.
        self.mac(domain, &sealed[..24])
            .verify_truncated_left(&sealed[24..])
            .ok()?;
        let mut expiry = [0u8; 8];
        expiry.copy_from_slice(&sealed[..8]);
        DateTime::from_timestamp(i64::from_be_bytes(expiry), 0)
    }
}

impl Issuer {
    /// A fresh challenge, answerable once within [`CHALLENGE_TTL_SECS`]. Nothing is stored.
    pub fn challenge(&self, now: DateTime<Utc>) -> Result<Challenge, Refusal> {
        let expires = now + Duration::seconds(CHALLENGE_TTL_SECS);
        Ok(Challenge {
            challenge: self.challenges.seal(&self.domain, expires),
            domain: self.domain.clone(),
            expires,
        })
    }

    /// Checks that `challenge` is one of this node's, for its domain, not expired and not
    /// answered yet; when it expires. Nothing is remembered: [`Issuer::redeem_challenge`] takes
    /// it once the proof over it verified. A challenge not sealed here, expired or answered
    /// already is `replayed`.
    pub(super) fn check_challenge(
        &self,
        challenge: &str,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, Refusal> {
        let expires = self
            .challenges
            .open(&self.domain, challenge)
            .ok_or_else(|| {
                Refusal::of(
                    Reason::Replayed,
                    "not a challenge of this node, or one already answered",
                )
            })?;
        if expires <= now {
            return Err(Refusal::of(Reason::Replayed, "the challenge has expired"));
        }
        if self.challenges.redeemed.contains(challenge, now) {
            return Err(Refusal::of(
                Reason::Replayed,
                "not a challenge of this node, or one already answered",
            ));
        }
        Ok(expires)
    }

    /// Takes `challenge`, checked by [`Issuer::check_challenge`], for the one answer a proof
    /// by `prover` that verified gives it: a second answer (even one racing this one) is
    /// `replayed`.
    pub(super) fn redeem_challenge(
        &self,
        challenge: &str,
        expires: DateTime<Utc>,
        prover: &vouch_core::did::Did,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        use std::hash::BuildHasher as _;
        let owner = self.challenges.provers.hash_one(prover.as_str());
        self.challenges
            .redeemed
            .insert_owned(challenge.to_owned(), expires, (), 1, Some(owner), now)
            .map_err(|not_kept| match not_kept {
                NotKept::Replayed => Refusal::of(
                    Reason::Replayed,
                    "not a challenge of this node, or one already answered",
                ),
                NotKept::Full(_) => Refusal::new(ErrorCode::Busy,
                    format!(
                        "as many challenges were answered in the last minutes as may be (by this prover, {MAX_REDEEMED_PER_PROVER}): ask again soon"
                    ),
                ),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_opens_only_for_its_domain_with_its_seal_unchanged() {
        let challenges = Challenges::default();
        let expires = Utc::now() + Duration::seconds(CHALLENGE_TTL_SECS);
        let sealed = challenges.seal("https://node.example", expires);
        assert_eq!(
            challenges.open("https://node.example", &sealed),
            DateTime::from_timestamp(expires.timestamp(), 0)
        );
        assert_eq!(challenges.open("https://other.example", &sealed), None);
        // Another node's key, or any byte changed: not this node's.
        assert_eq!(
            Challenges::default().open("https://node.example", &sealed),
            None
        );
        let mut bytes = bs58::decode(&sealed).into_vec().expect("base58");
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            let changed = bs58::encode(&bytes).into_string();
            assert_eq!(
                challenges.open("https://node.example", &changed),
                None,
                "{i}"
            );
            bytes[i] ^= 1;
        }
        for junk in ["", "made-up", &"1".repeat(10_000)] {
            assert_eq!(challenges.open("https://node.example", junk), None);
        }
    }
}
