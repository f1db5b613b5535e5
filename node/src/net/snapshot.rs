//! A collection's ids as anti-entropy reconciles them (`super::sync`): one sorted set per
//! collection and moment, shared by the sessions of that moment and carried, by the worker
//! (`super::worker`), between the swarm task and the threads that compute a session's rounds.

use std::sync::Arc;

use negentropy::{Bound, Item, NegentropyStorageBase, NegentropyStorageVector};

/// A collection's ids as of one moment, shared by every session that reconciles it then.
#[derive(Debug, Clone)]
pub(super) struct Snapshot(pub(super) Arc<NegentropyStorageVector>);

impl NegentropyStorageBase for Snapshot {
    fn size(&self) -> Result<usize, negentropy::Error> {
        self.0.size()
    }

    fn get_item(&self, i: usize) -> Result<Option<Item>, negentropy::Error> {
        self.0.get_item(i)
    }

    fn iterate(
        &self,
        begin: usize,
        end: usize,
        cb: &mut dyn FnMut(Item, usize) -> Result<bool, negentropy::Error>,
    ) -> Result<(), negentropy::Error> {
        self.0.iterate(begin, end, cb)
    }

    fn find_lower_bound(&self, first: usize, last: usize, value: &Bound) -> usize {
        self.0.find_lower_bound(first, last, value)
    }
}
