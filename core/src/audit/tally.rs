//! Repeated refusals of one party, counted instead of written one by one (DESIGN §7, open
//! surfaces): what a stranger causes to be written is bounded whatever it sends.
//!
//! Time is cut into windows. In a window, a party's first refusal is written as it happens —
//! while fewer than `per_window` were written in the window in all — and every other refusal is
//! counted: once the window has ended, each party's count is written as one entry (the party,
//! the event, the last reason, [`Entry::count`]), and the count of parties beyond the table's
//! bound as one entry with no party. So a window writes at most `per_window` entries of single
//! refusals and `parties + 1` of counts, however many refusals it saw, from however many
//! names. Sans I/O: the caller writes what [`Tally::refused`] and [`Tally::ended`] hand back,
//! and gives the time.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

use super::Entry;
use crate::lock::MutexExt as _;

/// Counts refusals per party, in windows.
pub struct Tally {
    window: Duration,
    per_window: usize,
    parties: usize,
    /// Held only to count, never across an `.await` or a write.
    state: Mutex<State>,
}

impl std::fmt::Debug for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("Tally")
            .field("window", &self.window)
            .field("written", &state.written)
            .field("counted", &state.counted.len())
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    /// When the window began; none before the first refusal.
    began: Option<DateTime<Utc>>,
    /// Refusals written one by one in the window.
    written: usize,
    /// The parties whose first refusal was written in this window.
    seen: HashMap<String, ()>,
    /// What was counted in the window, by party: the entry to write and its count.
    counted: HashMap<String, (Entry, u64)>,
    /// What was counted for parties beyond the bound.
    others: Option<(Entry, u64)>,
}

impl Tally {
    /// Windows of `window`; at most `per_window` refusals written one by one in each, and
    /// `parties` parties remembered.
    pub fn new(window: Duration, per_window: usize, parties: usize) -> Self {
        Self {
            window,
            per_window,
            parties,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.locked()
    }

    /// A refusal, as the entry that would record it (its `agent` the party): the entries to
    /// write now — the counts of a window that ended, and this one if it is written alone.
    pub fn refused(&self, entry: Entry, now: DateTime<Utc>) -> Vec<Entry> {
        let mut state = self.lock();
        let mut out = self.close(&mut state, now, false);
        if state.began.is_none() {
            state.began = Some(now);
        }
        let party = entry.agent.clone().unwrap_or_default();
        if !state.seen.contains_key(&party)
            && state.written < self.per_window
            && state.seen.len() < self.parties
        {
            state.seen.insert(party, ());
            state.written += 1;
            out.push(entry);
            return out;
        }
        let room = state.counted.len() < self.parties;
        let slot = match state.counted.get_mut(&party) {
            Some(slot) => Some(slot),
            None if room => Some(state.counted.entry(party).or_insert((entry.clone(), 0))),
            None => None,
        };
        let (kept, count) = match slot {
            Some(slot) => slot,
            None => state.others.get_or_insert_with(|| {
                let mut other = entry.clone();
                other.agent = None;
                (other, 0)
            }),
        };
        kept.reason = entry.reason;
        *count += 1;
        out
    }

    /// The counts of a window that has ended by `now`, to write (a timer asks, so that a party
    /// that stops leaves no count unwritten).
    pub fn ended(&self, now: DateTime<Utc>) -> Vec<Entry> {
        let mut state = self.lock();
        self.close(&mut state, now, false)
    }

    /// The counts of the window running, ended now: what a stopping writer writes last.
    pub fn drain(&self, now: DateTime<Utc>) -> Vec<Entry> {
        let mut state = self.lock();
        self.close(&mut state, now, true)
    }

    /// Ends the window if it is over (or `force`d): its counts, and a fresh window.
    fn close(&self, state: &mut State, now: DateTime<Utc>, force: bool) -> Vec<Entry> {
        match state.began {
            Some(began) if force || now >= began + self.window => {}
            _ => return Vec::new(),
        }
        let finished = std::mem::take(state);
        finished
            .counted
            .into_values()
            .chain(finished.others)
            .map(|(mut entry, count)| {
                // One more refusal than counted was written alone (or, for the others, every
                // one was counted): the entry stands for what was counted.
                entry.count = (count > 1).then_some(count);
                entry
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Event;
    use crate::audit::log::entry;

    fn refusal(party: &str) -> Entry {
        let mut e = entry(Event::VerificationRefused);
        e.agent = Some(party.into());
        e.reason = Some("untrusted_issuer".into());
        e
    }

    #[test]
    fn a_party_refused_again_and_again_is_counted_not_written_each_time() {
        let tally = Tally::new(Duration::seconds(60), 8, 4);
        let t0 = Utc::now();
        let mut written = Vec::new();
        for _ in 0..300 {
            written.extend(tally.refused(refusal("did:key:zStranger"), t0));
        }
        assert_eq!(written.len(), 1, "the first refusal alone");
        assert!(tally.ended(t0 + Duration::seconds(59)).is_empty());
        let counts = tally.ended(t0 + Duration::seconds(60));
        assert_eq!(counts.len(), 1);
        assert_eq!(counts[0].agent.as_deref(), Some("did:key:zStranger"));
        assert_eq!(counts[0].count, Some(299));
        assert_eq!(counts[0].reason.as_deref(), Some("untrusted_issuer"));
        // A new window: the first refusal is written alone again.
        assert_eq!(
            tally
                .refused(refusal("did:key:zStranger"), t0 + Duration::seconds(61))
                .len(),
            1
        );
    }

    #[test]
    fn many_names_write_at_most_the_bound_in_a_window() {
        let tally = Tally::new(Duration::seconds(60), 8, 4);
        let t0 = Utc::now();
        let mut written = 0;
        for i in 0..10_000 {
            written += tally.refused(refusal(&format!("did:key:z{i}")), t0).len();
        }
        assert_eq!(written, 4, "the first of each party the table holds");
        let counts = tally.ended(t0 + Duration::seconds(60));
        // Four parties counted by name, the rest together.
        assert_eq!(counts.len(), 5);
        let total: u64 = counts.iter().map(|e| e.count.unwrap_or(1)).sum();
        assert_eq!(total, 10_000 - 4);
        assert_eq!(counts.iter().filter(|e| e.agent.is_none()).count(), 1);
    }
}
