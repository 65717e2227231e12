//! The auth keys of one DC: added by handshakes (the oldest forgotten at the limit),
//! looked up by id, forgotten on request, with hooks for what a state dir keeps.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mtcrypto::{AuthKey, RngCore};
use mtproto::session::{DEFAULT_SALT_PERIOD, SaltSchedule, UnixTime};

use super::detached::Detached;
use super::executed::Executed;
use super::salts::SaltState;
use super::sessions::Sessions;
use super::{ChangeHook, ForgetHook, KeyEntry, KeyState, SessionBounds};
use crate::sync::lock;

/// The auth keys of one DC, by auth_key_id.
pub struct KeyStore {
    pub(super) inner: Mutex<StoreInner>,
    pub(super) max_keys: usize,
    pub(super) max_sessions: usize,
    pub(super) bounds: SessionBounds,
    /// Sessions whose connection closed, by (key id, session id): what they hold counts
    /// against [`SessionBounds::detached_per_dc`], and they go when idle too long.
    pub(super) detached: Mutex<HashMap<(u64, i64), Detached>>,
    pub(super) salt_period: u64,
    pub(super) changed: Mutex<Option<ChangeHook>>,
    pub(super) forgotten: Mutex<Vec<ForgetHook>>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("keys", &self.len())
            .field("max_keys", &self.max_keys)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
pub(super) struct StoreInner {
    pub(super) keys: HashMap<u64, Arc<KeyEntry>>,
    /// Insertion order, for forgetting the oldest key at the limit.
    pub(super) order: VecDeque<u64>,
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
            bounds: SessionBounds::default(),
            detached: Mutex::new(HashMap::new()),
            salt_period: DEFAULT_SALT_PERIOD,
            changed: Mutex::new(None),
            forgotten: Mutex::new(Vec::new()),
        }
    }

    /// With salts lasting `period` each.
    #[must_use]
    pub fn with_salt_period(mut self, period: Duration) -> Self {
        self.salt_period = period.as_secs().max(1);
        self
    }

    /// With what sessions may keep bounded by `bounds`.
    #[must_use]
    pub fn with_session_bounds(mut self, bounds: SessionBounds) -> Self {
        self.bounds = bounds;
        self
    }

    /// Bytes held by the sessions of every key.
    pub fn held_bytes(&self) -> usize {
        let entries: Vec<Arc<KeyEntry>> = lock(&self.inner).keys.values().cloned().collect();
        entries.iter().map(|key| key.held_bytes()).sum()
    }

    /// Called whenever a key is added or forgotten or what is saved of one changes.
    pub(crate) fn set_change_hook(&self, hook: ChangeHook) {
        *lock(&self.changed) = Some(hook);
    }

    /// Called with the ids of keys forgotten (one by one, all at once, or at the limit).
    pub(crate) fn add_forget_hook(&self, hook: ForgetHook) {
        lock(&self.forgotten).push(hook);
    }

    fn notify_changed(&self) {
        let hook = lock(&self.changed).clone();
        if let Some(hook) = hook {
            hook();
        }
    }

    fn notify_forgotten(&self, ids: &[u64]) {
        if ids.is_empty() {
            return;
        }
        let hooks = lock(&self.forgotten).clone();
        for hook in hooks {
            hook(ids);
        }
        self.notify_changed();
    }

    /// Stores a key made by a handshake now: its salts come from a fresh seed, and the
    /// handshake's `initial_salt` is accepted for one salt period.
    pub fn insert_key(
        &self,
        auth_key: AuthKey,
        created: UnixTime,
        expires_in: Option<i32>,
        initial_salt: Option<i64>,
        rng: &mut impl RngCore,
    ) -> Option<Arc<KeyEntry>> {
        let mut seed = [0; 32];
        rng.fill_bytes(&mut seed);
        let initial =
            initial_salt.map(|salt| (salt, created.as_secs().saturating_add(self.salt_period)));
        let salts = SaltState::new(seed, 0, self.salt_period, initial);
        self.insert_entry(auth_key, created, expires_in, salts, KeyState::default())
    }

    /// Rotates the salts of every key.
    pub fn rotate_all_salts(&self) {
        let entries: Vec<Arc<KeyEntry>> = lock(&self.inner).keys.values().cloned().collect();
        for entry in entries {
            entry.rotate_salts();
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
    ///
    /// The schedule in `new` is replaced by one this store can save and restore, with the
    /// store's salt period; a schedule accepting salt 0 at `created` (minted sessions start
    /// with salt 0) keeps accepting it for one period.
    pub fn insert(&self, new: NewKey) -> Option<Arc<KeyEntry>> {
        let initial = new.salts.accepts(0, new.created).then_some(0);
        self.insert_key(
            new.auth_key,
            new.created,
            new.expires_in,
            initial,
            &mut rand::rngs::OsRng,
        )
    }

    pub(super) fn insert_entry(
        &self,
        key: AuthKey,
        created: UnixTime,
        expires_in: Option<i32>,
        salts: SaltState,
        state: KeyState,
    ) -> Option<Arc<KeyEntry>> {
        let id = key.key_id();
        let entry = Arc::new(KeyEntry {
            key,
            created,
            expires_in,
            salts: Mutex::new(salts),
            state: Mutex::new(state),
            sessions: Mutex::new(Sessions::default()),
            max_sessions: self.max_sessions,
            max_held: self.bounds.held_per_key,
            executed: Mutex::new(Executed::default()),
            changed: lock(&self.changed).clone(),
        });
        let mut evicted = Vec::new();
        {
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
                    evicted.push(oldest);
                }
            }
            inner.keys.insert(id, Arc::clone(&entry));
            inner.order.push_back(id);
        }
        self.notify_forgotten(&evicted);
        self.notify_changed();
        Some(entry)
    }

    /// Forgets a key: its clients get transport error -404 and must make a new one.
    pub fn forget(&self, key_id: u64) -> bool {
        let removed = {
            let mut inner = lock(&self.inner);
            inner.order.retain(|id| *id != key_id);
            inner.keys.remove(&key_id).is_some()
        };
        if removed {
            self.notify_forgotten(&[key_id]);
        }
        removed
    }

    /// Forgets every key.
    pub fn forget_all(&self) {
        let ids: Vec<u64> = {
            let mut inner = lock(&self.inner);
            inner.keys.clear();
            inner.order.drain(..).collect()
        };
        self.notify_forgotten(&ids);
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

#[cfg(test)]
mod tests {
    use super::super::testing::new_key;
    use super::*;

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
    fn forgetting_tells_the_hooks() {
        let store = KeyStore::new(1, 2);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        store.add_forget_hook(Arc::new(move |ids| lock(&sink).extend_from_slice(ids)));
        let a = store.insert(new_key(1)).unwrap();
        let b = store.insert(new_key(2)).unwrap();
        store.forget_all();
        assert_eq!(*lock(&seen), vec![a.id(), b.id()]);
    }

    #[test]
    fn state_belongs_to_the_key() {
        let store = KeyStore::new(4, 2);
        let key = store.insert(new_key(5)).unwrap();
        key.update_state(|state| state.layer = Some(229));
        assert_eq!(store.get(key.id()).unwrap().state().layer, Some(229));
    }
}
