//! Peer scoring: what a peer's misbehaviour costs it, in one place.
//!
//! Every [`PeerMisbehaved`](crate::fault::PeerMisbehaved) costs [`PENALTY`] points; a peer
//! below [`DISCONNECT_BELOW`] is disconnected and neither dialled nor kept connected until its
//! score has recovered. Scores decay towards zero with a half-life of [`HALF_LIFE`], so one honest
//! mistake (a bug, a corrupted message) costs a member a few seconds, not its place. Gossipsub
//! keeps its own score for what it rejects before this node sees it (a message over its topic's
//! size); a peer is disconnected when either score is below the bar.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::PeerId;

/// What one misbehaviour costs.
pub(super) const PENALTY: f64 = 100.0;
/// A peer scored below this is disconnected (gossipsub's scores are held to the same bar).
pub(super) const DISCONNECT_BELOW: f64 = -50.0;
/// How long it takes a score to halve.
pub(super) const HALF_LIFE: Duration = Duration::from_secs(10);

/// The scores of peers that misbehaved; every other peer scores zero.
#[derive(Debug, Default)]
pub(super) struct Scores {
    scores: HashMap<PeerId, (f64, Instant)>,
}

fn decayed(score: f64, since: Instant, now: Instant) -> f64 {
    let half_lives = now.saturating_duration_since(since).as_secs_f64() / HALF_LIFE.as_secs_f64();
    score * 0.5f64.powf(half_lives)
}

impl Scores {
    /// A peer's score now.
    pub(super) fn score(&self, peer: &PeerId, now: Instant) -> f64 {
        self.scores
            .get(peer)
            .map_or(0.0, |(score, since)| decayed(*score, *since, now))
    }

    /// Charges a peer for a misbehaviour; returns its new score.
    pub(super) fn penalize(&mut self, peer: PeerId, now: Instant) -> f64 {
        let score = self.score(&peer, now) - PENALTY;
        self.scores.insert(peer, (score, now));
        score
    }

    /// Whether a peer must be kept away now: by this score or by gossipsub's.
    pub(super) fn refused(&self, peer: &PeerId, gossip_score: Option<f64>, now: Instant) -> bool {
        self.score(peer, now) < DISCONNECT_BELOW
            || gossip_score.is_some_and(|score| score < DISCONNECT_BELOW)
    }

    /// Forgets the peers whose score has all but recovered.
    pub(super) fn prune(&mut self, now: Instant) {
        self.scores
            .retain(|_, (score, since)| decayed(*score, *since, now) < -1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mistake_costs_a_disconnection_and_the_score_recovers() {
        let peer = PeerId::random();
        let mut scores = Scores::default();
        let start = Instant::now();
        assert!(!scores.refused(&peer, None, start));
        assert_eq!(scores.penalize(peer, start), -PENALTY);
        assert!(scores.refused(&peer, None, start));
        // One half-life later it is back at the bar; a little later, welcome again.
        let later = start + HALF_LIFE + Duration::from_millis(100);
        assert!(!scores.refused(&peer, None, later));
        // Repeated misbehaviour adds up, and takes longer to forgive.
        for _ in 0..9 {
            scores.penalize(peer, later);
        }
        assert!(scores.refused(&peer, None, later + 2 * HALF_LIFE));
        assert!(!scores.refused(&peer, None, later + 5 * HALF_LIFE));
        // Gossipsub's own verdict counts too.
        assert!(scores.refused(&PeerId::random(), Some(-60.0), later));
        scores.prune(later + 20 * HALF_LIFE);
        assert!(scores.scores.is_empty());
    }
}
