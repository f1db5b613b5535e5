//! Locks taken even when a holder panicked. A panic while a lock is held poisons it; every lock
//! in Vouch guards state that each change leaves whole (a table, a cache, a counter) or that is
//! written in one batch, so what a panicking holder left is still usable: the guard is taken
//! anyway, rather than spreading the panic to every later caller.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// [`Mutex::lock`], poisoned or not.
pub trait MutexExt<T: ?Sized> {
    /// The guard, whether or not a holder panicked.
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T: ?Sized> MutexExt<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// [`RwLock::read`] and [`RwLock::write`], poisoned or not.
pub trait RwLockExt<T: ?Sized> {
    /// A read guard, whether or not a writer panicked.
    fn read_locked(&self) -> RwLockReadGuard<'_, T>;
    /// The write guard, whether or not a writer panicked.
    fn write_locked(&self) -> RwLockWriteGuard<'_, T>;
}

impl<T: ?Sized> RwLockExt<T> for RwLock<T> {
    fn read_locked(&self) -> RwLockReadGuard<'_, T> {
        self.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_locked(&self) -> RwLockWriteGuard<'_, T> {
        self.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_lock_a_holder_panicked_with_is_taken_with_what_it_left() {
        let mutex = Arc::new(Mutex::new(1));
        let rw = Arc::new(RwLock::new(1));
        let (m, r) = (mutex.clone(), rw.clone());
        let panicked = std::thread::spawn(move || {
            let mut one = m.locked();
            let mut two = r.write_locked();
            *one = 2;
            *two = 2;
            panic!("a holder panics");
        })
        .join();
        assert!(panicked.is_err());
        assert!(
            mutex.lock().is_err() && rw.read().is_err(),
            "both are poisoned"
        );
        assert_eq!((*mutex.locked(), *rw.read_locked()), (2, 2));
    }
}
