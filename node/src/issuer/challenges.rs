//! The node's challenges for proofs of possession: random, short-lived, each answered once. They
//! live in memory only: a restart forgets them, and the agent asks again.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use rand::RngCore as _;
use serde::Serialize;

use super::{Issuer, Refusal};
use vouch_core::report::Reason;

/// How long a challenge may be answered.
pub const CHALLENGE_TTL_SECS: i64 = 300;
/// The most challenges outstanding at once.
const MAX_OUTSTANDING: usize = 10_000;

/// A challenge to answer: sign over it, for the domain.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Challenge {
    /// The challenge.
    pub challenge: String,
    /// The domain the proof must name.
    pub domain: String,
    /// Until when it may be answered.
    #[serde(with = "vouch_core::credential::timestamp")]
    pub expires: DateTime<Utc>,
}

/// The challenges outstanding, and when each expires.
#[derive(Debug, Default)]
pub(super) struct Challenges {
    outstanding: HashMap<String, DateTime<Utc>>,
}

impl Issuer {
    /// A fresh challenge, answerable once within [`CHALLENGE_TTL_SECS`].
    pub fn challenge(&self, now: DateTime<Utc>) -> Result<Challenge, Refusal> {
        let mut challenges = self
            .challenges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if challenges.outstanding.len() >= MAX_OUTSTANDING {
            challenges.outstanding.retain(|_, expires| *expires > now);
        }
        if challenges.outstanding.len() >= MAX_OUTSTANDING {
            return Err(Refusal::new(
                "busy",
                format!("{MAX_OUTSTANDING} challenges are outstanding: answer one first"),
            ));
        }
        let mut bytes = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut bytes);
        let challenge = bs58::encode(bytes).into_string();
        let expires = now + Duration::seconds(CHALLENGE_TTL_SECS);
        challenges.outstanding.insert(challenge.clone(), expires);
        Ok(Challenge {
            challenge,
            domain: self.domain.clone(),
            expires,
        })
    }

    /// Takes `challenge` for one answer: unknown, already answered or expired is `replayed`.
    pub(super) fn take_challenge(
        &self,
        challenge: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        let mut challenges = self
            .challenges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match challenges.outstanding.remove(challenge) {
            Some(expires) if expires > now => Ok(()),
            Some(_) => Err(Refusal::of(Reason::Replayed, "the challenge has expired")),
            None => Err(Refusal::of(
                Reason::Replayed,
                "not a challenge of this node, or one already answered",
            )),
        }
    }
}
