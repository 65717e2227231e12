//! The sessions of a key: made on first use, bounded in number (least recently used go)
//! and in the bytes of answers they hold for their client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mtcrypto::RngCore;
use mtproto::session::ServerSession;

use super::KeyEntry;
use crate::quirks::Quirks;
use crate::sync::lock;

/// A session of a key, shared by the connections that carry it. Locked briefly, never
/// across an await.
pub type SharedSession = Arc<Mutex<ServerSession>>;

/// What the sessions of a DC may keep for their clients, in bytes and in time (see
/// [`crate::Limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionBounds {
    /// Bytes held by the sessions of one key.
    pub held_per_key: usize,
    /// Bytes held by the sessions no connection carries, over the whole DC.
    pub detached_per_dc: usize,
    /// How long a session no connection carries is kept.
    pub idle_timeout: Duration,
}

impl Default for SessionBounds {
    /// What [`crate::Limits`] sets by default.
    fn default() -> Self {
        Self {
            held_per_key: 64 << 20,
            detached_per_dc: 32 << 20,
            idle_timeout: Duration::from_mins(10),
        }
    }
}

impl KeyEntry {
    /// The session `session_id`, created when new (then `true`). Past the per-key limit the
    /// least recently used session is dropped.
    pub fn session(&self, session_id: i64, rng: &mut impl RngCore) -> (SharedSession, bool) {
        let (session, created, _) = self.session_in(session_id, rng, 0, &Quirks::default());
        (session, created)
    }

    /// Like [`KeyEntry::session`], also telling the clock generation the session was made
    /// under (`clock` for a new one): a session's msg_ids never go back, so after the
    /// server's clock was set back the old sessions cannot show the new time.
    /// A new session follows the readings `quirks` picks for it.
    pub fn session_in(
        &self,
        session_id: i64,
        rng: &mut impl RngCore,
        clock: u64,
        quirks: &Quirks,
    ) -> (SharedSession, bool, u64) {
        let mut dropped = Vec::new();
        let found = {
            let mut sessions = lock(&self.sessions);
            sessions.tick = sessions.tick.wrapping_add(1);
            let tick = sessions.tick;
            if let Some(slot) = sessions.map.get_mut(&session_id) {
                slot.last_used = tick;
                (Arc::clone(&slot.session), false, slot.clock)
            } else {
                while sessions.map.len() >= self.max_sessions.max(1) {
                    let oldest = sessions
                        .map
                        .iter()
                        .min_by_key(|(_, slot)| slot.last_used)
                        .map(|(id, _)| *id);
                    let Some(oldest) = oldest else { break };
                    tracing::debug!(key_id = %format_args!("{:#018x}", self.id()), session_id = oldest,
                        "session limit reached: dropping the least recently used session");
                    sessions.map.remove(&oldest);
                    dropped.push(oldest);
                }
                let reopened = !sessions.map.is_empty() || !dropped.is_empty();
                let readings = quirks.session(self.id(), session_id, reopened);
                let session = Arc::new(Mutex::new(
                    ServerSession::new(self.key.clone(), session_id, rng).with_quirks(readings),
                ));
                sessions.map.insert(
                    session_id,
                    SessionSlot {
                        session: Arc::clone(&session),
                        last_used: tick,
                        clock,
                    },
                );
                (session, true, clock)
            }
        };
        self.forget_executed(&dropped);
        if found.1 {
            self.trim_held();
        }
        found
    }

    /// Keeps what the sessions hold within the key's budget: the most recently used
    /// sessions keep theirs, older ones forget what is past the budget. Returns the bytes
    /// forgotten.
    pub fn trim_held(&self) -> usize {
        let mut by_use: Vec<(u64, SharedSession)> = lock(&self.sessions)
            .map
            .values()
            .map(|slot| (slot.last_used, Arc::clone(&slot.session)))
            .collect();
        by_use.sort_by_key(|(last_used, _)| std::cmp::Reverse(*last_used));
        let shed = shed_beyond(self.max_held, by_use.into_iter().map(|(_, s)| s));
        if shed > 0 {
            tracing::debug!(key_id = %format_args!("{:#018x}", self.id()), bytes = shed,
                "key over its budget: old sessions forgot answers");
        }
        shed
    }

    /// Forgets session `session_id` if it is still `session` (and not one made again
    /// since under the same id); whether it was.
    pub(super) fn forget_session(&self, session_id: i64, session: &SharedSession) -> bool {
        let removed = {
            let mut sessions = lock(&self.sessions);
            let same = sessions
                .map
                .get(&session_id)
                .is_some_and(|slot| Arc::ptr_eq(&slot.session, session));
            same && sessions.map.remove(&session_id).is_some()
        };
        if removed {
            self.forget_executed(&[session_id]);
        }
        removed
    }

    /// Forgets a session (`destroy_session`); whether it existed.
    pub fn destroy_session(&self, session_id: i64) -> bool {
        let removed = lock(&self.sessions).map.remove(&session_id).is_some();
        if removed {
            self.forget_executed(&[session_id]);
        }
        removed
    }

    /// Bytes of answers and updates the key's sessions hold for the client.
    pub fn held_bytes(&self) -> usize {
        let sessions: Vec<SharedSession> = lock(&self.sessions)
            .map
            .values()
            .map(|slot| Arc::clone(&slot.session))
            .collect();
        sessions
            .iter()
            .map(|session| lock(session).held_bytes())
            .sum()
    }

    /// How many sessions are kept.
    pub fn session_count(&self) -> usize {
        lock(&self.sessions).map.len()
    }
}

#[derive(Default)]
pub(super) struct Sessions {
    map: HashMap<i64, SessionSlot>,
    tick: u64,
}

struct SessionSlot {
    session: SharedSession,
    last_used: u64,
    /// The clock generation the session was made under (see [`KeyEntry::session_in`]).
    clock: u64,
}

/// Lets `sessions`, the ones to keep their answers first, hold `budget` bytes together:
/// the first keep what they hold while it fits, the rest forget what is past it. Returns
/// the bytes forgotten.
pub(super) fn shed_beyond(
    budget: usize,
    sessions: impl IntoIterator<Item = SharedSession>,
) -> usize {
    let mut left = budget;
    let mut shed = 0;
    for session in sessions {
        let mut session = lock(&session);
        if session.held_bytes() > left {
            shed += session.shed(left);
        }
        left = left.saturating_sub(session.held_bytes());
    }
    shed
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::super::KeyStore;
    use super::super::testing::new_key;

    #[test]
    fn sessions_are_bounded_lru() {
        let store = KeyStore::new(4, 2);
        let key = store.insert(new_key(9)).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        assert!(key.session(1, &mut rng).1);
        assert!(key.session(2, &mut rng).1);
        assert!(!key.session(1, &mut rng).1, "1 is used again");
        assert!(key.session(3, &mut rng).1, "evicts 2");
        assert_eq!(key.session_count(), 2);
        assert!(!key.session(1, &mut rng).1);
        assert!(key.session(2, &mut rng).1, "2 was forgotten");
        assert!(key.destroy_session(2));
        assert!(!key.destroy_session(2));
    }
}
