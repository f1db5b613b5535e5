//! End-to-end tests across the Vouch crates: the `vouch` CLI driven as a user would.
