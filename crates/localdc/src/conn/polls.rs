//! Which HTTP request of a session the server answers: the newest one held.
//!
//! A session's requests may come over several HTTP connections at once (a client keeps a
//! long poll open on one while it sends on another). When a new request of a session
//! starts being held, the older holds of that session are told to let go (they answer with
//! an empty body, leaving what is queued to the newer one), so that a client never has
//! more than one long poll tying up a connection. Request tasks also signal here when they queue an answer,
//! so that the connection holding the session's request sends it at once even when the
//! request was made on another connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::sync::lock;

/// A session: (auth_key_id, session_id).
type SessionKey = (u64, i64);

/// The signals of one session.
#[derive(Debug, Clone, Copy, Default)]
struct PollState {
    /// Generation of the newest hold.
    newest: u64,
    /// Bumped each time output is queued for the session.
    output: u64,
}

/// What woke a holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PollSignal {
    /// A newer request of the session is held: answer this one now.
    Superseded,
    /// Output was queued for the session.
    Output,
}

/// The held HTTP requests of one DC, by session. Entries live while some request of the
/// session is held, so there are never more than connections.
#[derive(Debug, Default)]
pub(crate) struct HttpPolls {
    sessions: Mutex<HashMap<SessionKey, watch::Sender<PollState>>>,
}

impl HttpPolls {
    /// A request of the session starts being held; older holds are superseded.
    pub(crate) fn hold(self: &Arc<Self>, key_id: u64, session_id: i64) -> PollTicket {
        let key = (key_id, session_id);
        let mut sessions = lock(&self.sessions);
        let sender = sessions
            .entry(key)
            .or_insert_with(|| watch::Sender::new(PollState::default()));
        let mut generation = 0;
        sender.send_modify(|state| {
            state.newest = state.newest.wrapping_add(1);
            generation = state.newest;
        });
        let mut receiver = sender.subscribe();
        receiver.mark_unchanged();
        PollTicket {
            polls: Arc::clone(self),
            key,
            generation,
            receiver: Some(receiver),
        }
    }

    /// Output was queued for the session: the connection holding its request looks.
    pub(crate) fn output(&self, key_id: u64, session_id: i64) {
        if let Some(sender) = lock(&self.sessions).get(&(key_id, session_id)) {
            sender.send_modify(|state| state.output = state.output.wrapping_add(1));
        }
    }

    /// Sessions with a held request (tests, diagnostics).
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.sessions).len()
    }

    fn forget_if_unused(&self, key: SessionKey) {
        let mut sessions = lock(&self.sessions);
        if sessions
            .get(&key)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            sessions.remove(&key);
        }
    }
}

/// One held request's place in its session's signals; dropping it ends the hold.
#[derive(Debug)]
pub(crate) struct PollTicket {
    polls: Arc<HttpPolls>,
    key: SessionKey,
    generation: u64,
    /// Taken out only on drop.
    receiver: Option<watch::Receiver<PollState>>,
}

impl PollTicket {
    /// Waits for the next signal. Cancel-safe.
    pub(crate) async fn signal(&mut self) -> PollSignal {
        let Some(receiver) = self.receiver.as_mut() else {
            return std::future::pending().await;
        };
        if receiver.changed().await.is_err() {
            // The sender outlives every receiver; should it go, nothing will ever signal.
            return std::future::pending().await;
        }
        let state = *receiver.borrow_and_update();
        if state.newest == self.generation {
            PollSignal::Output
        } else {
            PollSignal::Superseded
        }
    }
}

impl Drop for PollTicket {
    fn drop(&mut self) {
        drop(self.receiver.take());
        self.polls.forget_if_unused(self.key);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn newest_hold_supersedes_and_output_wakes() {
        let polls = Arc::new(HttpPolls::default());
        let mut old = polls.hold(1, 2);
        let other = polls.hold(1, 3);
        let pending = tokio::time::timeout(Duration::from_millis(20), old.signal()).await;
        assert!(pending.is_err(), "another session's hold does not disturb");
        polls.output(1, 2);
        assert_eq!(old.signal().await, PollSignal::Output);
        let mut new = polls.hold(1, 2);
        assert_eq!(old.signal().await, PollSignal::Superseded);
        polls.output(1, 2);
        assert_eq!(new.signal().await, PollSignal::Output);
        assert_eq!(polls.len(), 2);
        drop((old, new, other));
        assert_eq!(polls.len(), 0);
        polls.output(1, 2);
    }
}
