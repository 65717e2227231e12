//! Sessions no connection carries: what they hold counts against the DC's budget, and
//! they go once idle too long.

use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use mtproto::session::ServerSession;

use super::sessions::shed_beyond;
use super::{KeyEntry, KeyStore, SharedSession};
use crate::sync::lock;

/// A session a connection let go of, held weakly: the key's map owns it.
#[derive(Clone)]
pub(super) struct Detached {
    key: Weak<KeyEntry>,
    session: Weak<Mutex<ServerSession>>,
    since: Instant,
}

impl KeyStore {
    /// A connection let go of `session` (session `session_id` of `key`): from now on
    /// what it holds counts as detached until a connection takes it again. Then every
    /// bound is applied (see [`KeyStore::trim`]).
    pub fn release(&self, key: &Arc<KeyEntry>, session_id: i64, session: SharedSession) {
        let now = Instant::now();
        lock(&self.detached).insert(
            (key.id(), session_id),
            Detached {
                key: Arc::downgrade(key),
                session: Arc::downgrade(&session),
                since: now,
            },
        );
        drop(session);
        key.trim_held();
        self.trim(now);
    }

    /// Applies the bounds to the sessions no connection carries (a session a connection or
    /// a running request still holds is left alone): those detached for longer than the
    /// idle timeout are forgotten, and past the DC's budget the ones detached longest ago
    /// forget their answers. Returns the bytes forgotten.
    pub fn trim(&self, now: Instant) -> usize {
        let entries: Vec<((u64, i64), Detached)> = lock(&self.detached)
            .iter()
            .map(|(id, detached)| (*id, detached.clone()))
            .collect();
        let mut gone = Vec::new();
        let mut idle = Vec::new();
        for (
            id,
            Detached {
                key,
                session,
                since,
            },
        ) in entries
        {
            let weak = session.clone();
            let (Some(key), Some(session)) = (key.upgrade(), session.upgrade()) else {
                // The session or its key was dropped meanwhile.
                gone.push((id, weak));
                continue;
            };
            // The key's map and `session` here: more means a connection or a request
            // holds it.
            if Arc::strong_count(&session) > 2 {
                continue;
            }
            if now.saturating_duration_since(since) >= self.bounds.idle_timeout {
                key.forget_session(id.1, &session);
                gone.push((id, weak));
                continue;
            }
            idle.push((since, session));
        }
        // The most recently detached keep their answers first.
        idle.sort_by_key(|(since, _)| std::cmp::Reverse(*since));
        let shed = shed_beyond(
            self.bounds.detached_per_dc,
            idle.into_iter().map(|(_, s)| s),
        );
        if !gone.is_empty() {
            let mut detached = lock(&self.detached);
            for (id, weak) in &gone {
                // Unless released again meanwhile.
                if detached
                    .get(id)
                    .is_some_and(|now| Weak::ptr_eq(&now.session, weak))
                {
                    detached.remove(id);
                }
            }
        }
        if shed > 0 {
            tracing::debug!(
                bytes = shed,
                "detached sessions over the DC's budget: answers forgotten"
            );
        }
        shed
    }

    /// Sessions no connection carries (as far as the last [`KeyStore::trim`] knows).
    pub fn detached_sessions(&self) -> usize {
        lock(&self.detached).len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use mtcrypto::RngCore;
    use mtproto::session::UnixTime;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::super::SessionBounds;
    use super::super::testing::new_key;
    use super::*;

    /// Session `id` of `key` with an answer of `bytes` (incompressible) sent and not
    /// acknowledged.
    fn session_with_answer(key: &Arc<KeyEntry>, id: i64, bytes: usize) -> SharedSession {
        let mut rng = StdRng::seed_from_u64(id as u64);
        let (session, _) = key.session(id, &mut rng);
        let mut answer = vec![0; bytes];
        rng.fill_bytes(&mut answer);
        let now = UnixTime::from_secs(1_700_000_000);
        let mut locked = lock(&session);
        locked.respond(1, Ok(answer)).unwrap();
        while locked.poll_transmit(&key.salts(), now, &mut rng).is_some() {}
        assert_eq!(locked.unacknowledged(), 1);
        drop(locked);
        session
    }

    #[test]
    fn what_sessions_hold_is_bounded_per_key_and_per_dc_and_idle_ones_go() {
        const MIB: usize = 1 << 20;
        let bounds = SessionBounds {
            held_per_key: 8 * MIB,
            detached_per_dc: 3 * MIB,
            idle_timeout: Duration::from_mins(5),
        };
        let store = KeyStore::new(4, 64).with_session_bounds(bounds);
        let key = store.insert(new_key(1)).unwrap();
        // Sessions carried by connections: the key's budget, the newest keep theirs.
        let live: Vec<SharedSession> = (1..=12)
            .map(|id| session_with_answer(&key, id, MIB))
            .collect();
        assert!(key.held_bytes() > 8 * MIB);
        key.trim_held();
        assert!(key.held_bytes() <= 8 * MIB);
        assert!(
            lock(&live[11]).held_bytes() >= MIB,
            "the newest keeps its answer"
        );
        assert_eq!(lock(&live[0]).held_bytes(), 0, "the oldest forgot");
        // Their connections close: the DC's budget for detached sessions.
        for (id, session) in (1..).zip(live) {
            store.release(&key, id, session);
        }
        assert_eq!(store.detached_sessions(), 12);
        assert!(store.held_bytes() <= 3 * MIB);
        assert_eq!(
            key.session_count(),
            12,
            "sessions are kept, their answers are not"
        );
        // A session a connection took again is left alone.
        let (again, created) = key.session(12, &mut StdRng::seed_from_u64(0));
        assert!(!created);
        // Past the idle timeout the detached ones go.
        store.trim(Instant::now() + Duration::from_mins(6));
        assert_eq!(key.session_count(), 1);
        assert_eq!(store.detached_sessions(), 1);
        store.release(&key, 12, again);
        store.trim(Instant::now() + Duration::from_mins(6));
        assert_eq!(key.session_count(), 0);
        assert_eq!(store.detached_sessions(), 0);
    }
}
