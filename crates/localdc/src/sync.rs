//! Locking for the state the server's tasks share.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks, shrugging off poisoning: the data under these locks stays consistent even if a
/// holder panicked (every change is a single assignment or map operation).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
