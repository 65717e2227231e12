//! Which connection carries each session now, so that output queued into a session from
//! elsewhere (an answer finished after its client moved to another connection, an update
//! pushed by another client's request) wakes the connection that will send it, instead of
//! waiting for a timer.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::rpc::Wake;
use crate::sync::lock;

/// The carrier of each (auth_key_id, session_id) of one DC.
#[derive(Default)]
pub(crate) struct Carriers {
    by_session: Mutex<HashMap<(u64, i64), (u64, Wake)>>,
    next_connection: AtomicU64,
}

impl Carriers {
    /// A new connection's id.
    pub(crate) fn connection_id(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }

    /// Connection `connection` carries `session` from now on; `wake` makes it send.
    pub(crate) fn carry(&self, session: (u64, i64), connection: u64, wake: Wake) {
        lock(&self.by_session).insert(session, (connection, wake));
    }

    /// Connection `connection` no longer carries `session` (another may have taken it
    /// since: then nothing changes).
    pub(crate) fn release(&self, session: (u64, i64), connection: u64) {
        let mut by_session = lock(&self.by_session);
        if by_session
            .get(&session)
            .is_some_and(|(c, _)| *c == connection)
        {
            by_session.remove(&session);
        }
    }

    /// Wakes the connection carrying `session`, if one does; whether one does.
    pub(crate) fn wake(&self, session: (u64, i64)) -> bool {
        let wake = lock(&self.by_session).get(&session).map(|(_, w)| w.clone());
        wake.map(|wake| wake()).is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    fn counter() -> (Arc<AtomicUsize>, Wake) {
        let count = Arc::new(AtomicUsize::new(0));
        let inner = Arc::clone(&count);
        (
            count,
            Arc::new(move || {
                inner.fetch_add(1, Ordering::Relaxed);
            }),
        )
    }

    #[test]
    fn the_latest_carrier_is_woken_and_an_old_one_cannot_release_it() {
        let carriers = Carriers::default();
        let (first, first_wake) = counter();
        let (second, second_wake) = counter();
        let session = (7, 9);
        assert!(!carriers.wake(session));
        let (a, b) = (carriers.connection_id(), carriers.connection_id());
        carriers.carry(session, a, first_wake);
        carriers.carry(session, b, second_wake);
        carriers.release(session, a);
        assert!(carriers.wake(session));
        assert_eq!(
            (
                first.load(Ordering::Relaxed),
                second.load(Ordering::Relaxed)
            ),
            (0, 1)
        );
        carriers.release(session, b);
        assert!(!carriers.wake(session));
    }
}
