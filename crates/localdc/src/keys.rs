//! The auth keys one DC knows, as Telegram keeps them: per DC (a key made on DC 2 is
//! unknown on DC 4), each with its salts, the layer and client its owner announced, and
//! the sessions opened under it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use mtcrypto::{AuthKey, RngCore};
use mtproto::session::{SaltSchedule, ServerSession, UnixTime};

/// What `initConnection` said about the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    pub api_id: i32,
    pub device_model: String,
    pub system_version: String,
    pub app_version: String,
    pub system_lang_code: String,
    pub lang_pack: String,
    pub lang_code: String,
}

/// What the owner of a key told the server, kept with the key: the layer belongs to the
/// key, not the connection (a second connection may skip `initConnection`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyState {
    /// The layer of the last `invokeWithLayer`.
    pub layer: Option<i32>,
    /// The last `initConnection`.
    pub client: Option<Arc<ClientInfo>>,
    /// The last `invokeWithTakeout` id.
    pub takeout_id: Option<i64>,
}

/// A session of a key, shared by the connections that carry it. Locked briefly, never
/// across an await.
pub type SharedSession = Arc<Mutex<ServerSession>>;

/// One auth key and what hangs off it.
pub struct KeyEntry {
    key: AuthKey,
    created: UnixTime,
    expires_in: Option<i32>,
    salts: Mutex<SaltSchedule>,
    state: Mutex<KeyState>,
    sessions: Mutex<Sessions>,
    max_sessions: usize,
}

impl std::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEntry")
            .field("key_id", &format_args!("{:#018x}", self.key.key_id()))
            .field("created", &self.created)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

impl KeyEntry {
    /// The key's id (low 64 bits of its SHA1).
    pub fn id(&self) -> u64 {
        self.key.key_id()
    }

    /// The key itself.
    pub fn auth_key(&self) -> &AuthKey {
        &self.key
    }

    /// When the handshake finished.
    pub fn created(&self) -> UnixTime {
        self.created
    }

    /// `Some(seconds)` for a temporary key.
    pub fn expires_in(&self) -> Option<i32> {
        self.expires_in
    }

    /// A copy of the salt schedule, to check or seal one packet with.
    pub fn salts(&self) -> SaltSchedule {
        lock(&self.salts).clone()
    }

    /// Replaces every salt at once (fault injection: clients get `bad_server_salt`).
    pub fn rotate_salts(&self) {
        lock(&self.salts).rotate();
    }

    /// What the owner announced so far.
    pub fn state(&self) -> KeyState {
        lock(&self.state).clone()
    }

    /// Changes what is recorded about the owner.
    pub fn update_state(&self, change: impl FnOnce(&mut KeyState)) {
        change(&mut lock(&self.state));
    }

    /// The session `session_id`, created when new (then `true`). Past the per-key limit the
    /// least recently used session is dropped.
    pub fn session(&self, session_id: i64, rng: &mut impl RngCore) -> (SharedSession, bool) {
        let mut sessions = lock(&self.sessions);
        sessions.tick = sessions.tick.wrapping_add(1);
        let tick = sessions.tick;
        if let Some(slot) = sessions.map.get_mut(&session_id) {
            slot.last_used = tick;
            return (Arc::clone(&slot.session), false);
        }
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
        }
        let session = Arc::new(Mutex::new(ServerSession::new(
            self.key.clone(),
            session_id,
            rng,
        )));
        sessions.map.insert(
            session_id,
            SessionSlot {
                session: Arc::clone(&session),
                last_used: tick,
            },
        );
        (session, true)
    }

    /// Forgets a session (`destroy_session`); whether it existed.
    pub fn destroy_session(&self, session_id: i64) -> bool {
        lock(&self.sessions).map.remove(&session_id).is_some()
    }

    /// How many sessions are kept.
    pub fn session_count(&self) -> usize {
        lock(&self.sessions).map.len()
    }
}

#[derive(Default)]
struct Sessions {
    map: HashMap<i64, SessionSlot>,
    tick: u64,
}

struct SessionSlot {
    session: SharedSession,
    last_used: u64,
}

/// The auth keys of one DC, by auth_key_id.
#[derive(Debug)]
pub struct KeyStore {
    inner: Mutex<StoreInner>,
    max_keys: usize,
    max_sessions: usize,
}

#[derive(Debug, Default)]
struct StoreInner {
    keys: HashMap<u64, Arc<KeyEntry>>,
    /// Insertion order, for forgetting the oldest key at the limit.
    order: VecDeque<u64>,
}

/// What a finished handshake hands to the store.
#[derive(Debug)]
pub struct NewKey {
    pub auth_key: AuthKey,
    pub salts: SaltSchedule,
    pub created: UnixTime,
    pub expires_in: Option<i32>,
}

impl KeyStore {
    /// An empty store keeping at most `max_keys` keys of at most `max_sessions` sessions each.
    pub fn new(max_keys: usize, max_sessions: usize) -> Self {
        Self {
            inner: Mutex::new(StoreInner::default()),
            max_keys: max_keys.max(1),
            max_sessions: max_sessions.max(1),
        }
    }

    /// Whether `key_id` is in use (the handshake then asks the client for another key).
    pub fn contains(&self, key_id: u64) -> bool {
        lock(&self.inner).keys.contains_key(&key_id)
    }

    /// The key `key_id`, if known.
    pub fn get(&self, key_id: u64) -> Option<Arc<KeyEntry>> {
        lock(&self.inner).keys.get(&key_id).cloned()
    }

    /// Stores a new key, forgetting the oldest one at the limit. A key whose id is already
    /// taken is refused (`None`): the handshake checked, but another may have won the race.
    pub fn insert(&self, new: NewKey) -> Option<Arc<KeyEntry>> {
        let id = new.auth_key.key_id();
        let entry = Arc::new(KeyEntry {
            key: new.auth_key,
            created: new.created,
            expires_in: new.expires_in,
            salts: Mutex::new(new.salts),
            state: Mutex::new(KeyState::default()),
            sessions: Mutex::new(Sessions::default()),
            max_sessions: self.max_sessions,
        });
        let mut inner = lock(&self.inner);
        if inner.keys.contains_key(&id) {
            return None;
        }
        while inner.keys.len() >= self.max_keys {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if inner.keys.remove(&oldest).is_some() {
                tracing::info!(key_id = %format_args!("{oldest:#018x}"),
                    "key limit reached: forgetting the oldest auth key");
            }
        }
        inner.keys.insert(id, Arc::clone(&entry));
        inner.order.push_back(id);
        Some(entry)
    }

    /// Forgets a key: its clients get transport error -404 and must make a new one.
    pub fn forget(&self, key_id: u64) -> bool {
        let mut inner = lock(&self.inner);
        inner.order.retain(|id| *id != key_id);
        inner.keys.remove(&key_id).is_some()
    }

    /// Forgets every key.
    pub fn forget_all(&self) {
        let mut inner = lock(&self.inner);
        inner.keys.clear();
        inner.order.clear();
    }

    /// The ids of the keys known, oldest first.
    pub fn key_ids(&self) -> Vec<u64> {
        lock(&self.inner).order.iter().copied().collect()
    }

    /// How many keys are known.
    pub fn len(&self) -> usize {
        lock(&self.inner).keys.len()
    }

    /// Whether no key is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Locks, shrugging off poisoning: the data under these locks stays consistent even if a
/// holder panicked (every change is a single assignment or map operation).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn new_key(seed: u8) -> NewKey {
        let mut rng = StdRng::seed_from_u64(u64::from(seed));
        NewKey {
            auth_key: AuthKey::from_bytes([seed; 256]),
            salts: SaltSchedule::new(&mut rng),
            created: UnixTime::from_secs(1_700_000_000),
            expires_in: None,
        }
    }

    #[test]
    fn keys_are_stored_once_and_the_oldest_goes_first() {
        let store = KeyStore::new(2, 4);
        let a = store.insert(new_key(1)).unwrap();
        assert!(store.insert(new_key(1)).is_none(), "same id refused");
        let b = store.insert(new_key(2)).unwrap();
        assert!(store.contains(a.id()) && store.contains(b.id()));
        let c = store.insert(new_key(3)).unwrap();
        assert!(!store.contains(a.id()));
        assert_eq!(store.key_ids(), vec![b.id(), c.id()]);
        assert!(store.forget(b.id()));
        assert_eq!(store.len(), 1);
        store.forget_all();
        assert!(store.is_empty());
    }

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

    #[test]
    fn state_belongs_to_the_key() {
        let store = KeyStore::new(4, 2);
        let key = store.insert(new_key(5)).unwrap();
        key.update_state(|state| state.layer = Some(229));
        assert_eq!(store.get(key.id()).unwrap().state().layer, Some(229));
    }
}
