//! The auth keys one DC knows, as Telegram keeps them: per DC (a key made on DC 2 is
//! unknown on DC 4), each with its salts, the layer and client its owner announced, and
//! the sessions opened under it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::quirks::Quirks;
use mtcrypto::{AuthKey, RngCore};
use mtproto::session::{DEFAULT_SALT_PERIOD, SaltSchedule, ServerSession, UnixTime};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

/// Salt rotations replayed at most when a saved key is loaded.
const MAX_SALT_EPOCH: u64 = 1 << 20;
/// Request msg_ids remembered per key as executed (see [`KeyEntry::executed_any`]).
const EXECUTED_MEMORY: usize = 4096;

/// Something about the keys changed that a state dir keeps.
pub(crate) type ChangeHook = Arc<dyn Fn() + Send + Sync>;
/// Keys were forgotten: their ids.
pub(crate) type ForgetHook = Arc<dyn Fn(&[u64]) + Send + Sync>;

/// What `initConnection` said about the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

impl SessionBounds {
    /// The bounds `limits` set.
    pub fn of(limits: &crate::Limits) -> Self {
        Self {
            held_per_key: limits.max_held_bytes_per_key,
            detached_per_dc: limits.max_detached_bytes_per_dc,
            idle_timeout: limits.session_idle_timeout,
        }
    }
}

impl Default for SessionBounds {
    fn default() -> Self {
        Self::of(&crate::Limits::default())
    }
}

/// A key's salts as a seed that rebuilds them: the schedule itself keeps its secret, so
/// this is what a state dir saves.
#[derive(Clone)]
struct SaltState {
    seed: [u8; 32],
    epoch: u64,
    period: u64,
    /// The handshake's salt and the second until which it is accepted.
    initial: Option<(i64, u64)>,
    schedule: SaltSchedule,
}

impl SaltState {
    fn new(seed: [u8; 32], epoch: u64, period: u64, initial: Option<(i64, u64)>) -> Self {
        let period = period.max(1);
        let epoch = epoch.min(MAX_SALT_EPOCH);
        let mut schedule = SaltSchedule::new(&mut StdRng::from_seed(seed)).with_period(period);
        if let Some((salt, until)) = initial {
            schedule =
                schedule.with_initial_salt(salt, UnixTime::from_secs(until.saturating_sub(period)));
        }
        for _ in 0..epoch {
            schedule.rotate();
        }
        Self {
            seed,
            epoch,
            period,
            initial: if epoch == 0 { initial } else { None },
            schedule,
        }
    }

    fn rotate(&mut self) {
        self.epoch = self.epoch.saturating_add(1);
        self.initial = None;
        self.schedule.rotate();
    }
}

/// One auth key and what hangs off it.
pub struct KeyEntry {
    key: AuthKey,
    created: UnixTime,
    expires_in: Option<i32>,
    salts: Mutex<SaltState>,
    state: Mutex<KeyState>,
    sessions: Mutex<Sessions>,
    max_sessions: usize,
    /// Bytes the sessions may hold together (see [`SessionBounds::held_per_key`]).
    max_held: usize,
    /// Request msg_ids (with their session) handed to the handlers, newest last.
    executed: Mutex<Executed>,
    /// Told when something saved about the key changes.
    changed: Option<ChangeHook>,
}

#[derive(Default)]
struct Executed {
    set: HashSet<(i64, i64)>,
    order: VecDeque<(i64, i64)>,
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
        lock(&self.salts).schedule.clone()
    }

    /// Replaces every salt at once (fault injection: clients get `bad_server_salt`).
    pub fn rotate_salts(&self) {
        lock(&self.salts).rotate();
        self.changed();
    }

    /// What the owner announced so far.
    pub fn state(&self) -> KeyState {
        lock(&self.state).clone()
    }

    /// Changes what is recorded about the owner.
    pub fn update_state(&self, change: impl FnOnce(&mut KeyState)) {
        let changed = {
            let mut state = lock(&self.state);
            let before = state.clone();
            change(&mut state);
            *state != before
        };
        if changed {
            self.changed();
        }
    }

    /// Records that request `msg_id` of session `session_id` was handed to a handler.
    pub(crate) fn note_executed(&self, session_id: i64, msg_id: i64) {
        let mut executed = lock(&self.executed);
        if executed.set.insert((session_id, msg_id)) {
            executed.order.push_back((session_id, msg_id));
        }
        while executed.order.len() > EXECUTED_MEMORY {
            if let Some(old) = executed.order.pop_front() {
                executed.set.remove(&old);
            }
        }
    }

    /// Whether any of `msg_ids` of session `session_id` was handed to a handler (among the
    /// last few thousand requests of the key).
    pub(crate) fn executed_any(&self, session_id: i64, msg_ids: &[i64]) -> bool {
        let executed = lock(&self.executed);
        msg_ids
            .iter()
            .any(|id| executed.set.contains(&(session_id, *id)))
    }

    /// Forgets what was recorded as executed for a session that is gone.
    fn forget_executed(&self, session_ids: &[i64]) {
        if session_ids.is_empty() {
            return;
        }
        let mut executed = lock(&self.executed);
        let Executed { set, order } = &mut *executed;
        order.retain(|entry| {
            let keep = !session_ids.contains(&entry.0);
            if !keep {
                set.remove(entry);
            }
            keep
        });
    }

    fn changed(&self) {
        if let Some(hook) = &self.changed {
            hook();
        }
    }

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
    fn forget_session(&self, session_id: i64, session: &SharedSession) -> bool {
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
struct Sessions {
    map: HashMap<i64, SessionSlot>,
    tick: u64,
}

struct SessionSlot {
    session: SharedSession,
    last_used: u64,
    /// The clock generation the session was made under (see [`KeyEntry::session_in`]).
    clock: u64,
}

/// The auth keys of one DC, by auth_key_id.
pub struct KeyStore {
    inner: Mutex<StoreInner>,
    max_keys: usize,
    max_sessions: usize,
    bounds: SessionBounds,
    /// Sessions whose connection closed, by (key id, session id): what they hold counts
    /// against [`SessionBounds::detached_per_dc`], and they go when idle too long.
    detached: Mutex<HashMap<(u64, i64), Detached>>,
    salt_period: u64,
    changed: Mutex<Option<ChangeHook>>,
    forgotten: Mutex<Vec<ForgetHook>>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("keys", &self.len())
            .field("max_keys", &self.max_keys)
            .finish_non_exhaustive()
    }
}

/// One key as a state dir saves it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SavedKey {
    /// The 256 key bytes, hex.
    pub auth_key: String,
    pub created: u64,
    pub expires_in: Option<i32>,
    /// The salt seed, hex (32 bytes).
    pub salt_seed: String,
    pub salt_epoch: u64,
    pub salt_period: u64,
    pub initial_salt: Option<(i64, u64)>,
    pub layer: Option<i32>,
    pub client: Option<ClientInfo>,
    pub takeout_id: Option<i64>,
}

/// A session a connection let go of, held weakly: the key's map owns it.
#[derive(Clone)]
struct Detached {
    key: Weak<KeyEntry>,
    session: Weak<Mutex<ServerSession>>,
    since: Instant,
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

    /// Every key as a state dir saves it, oldest first.
    pub(crate) fn export(&self) -> Vec<SavedKey> {
        let entries: Vec<Arc<KeyEntry>> = {
            let inner = lock(&self.inner);
            inner
                .order
                .iter()
                .filter_map(|id| inner.keys.get(id).cloned())
                .collect()
        };
        entries
            .iter()
            .map(|entry| {
                let salts = lock(&entry.salts).clone();
                let state = entry.state();
                SavedKey {
                    auth_key: hex::encode(entry.key.as_bytes()),
                    created: entry.created.as_secs(),
                    expires_in: entry.expires_in,
                    salt_seed: hex::encode(salts.seed),
                    salt_epoch: salts.epoch,
                    salt_period: salts.period,
                    initial_salt: salts.initial,
                    layer: state.layer,
                    client: state.client.as_deref().cloned(),
                    takeout_id: state.takeout_id,
                }
            })
            .collect()
    }

    /// Adds a saved key; `Err` says why it was not.
    pub(crate) fn import(&self, saved: SavedKey) -> Result<u64, String> {
        let bytes = hex::decode(&saved.auth_key).map_err(|e| format!("auth key: {e}"))?;
        let auth_key = AuthKey::from_slice(&bytes).map_err(|e| format!("auth key: {e}"))?;
        let seed: [u8; 32] = hex::decode(&saved.salt_seed)
            .ok()
            .and_then(|seed| seed.try_into().ok())
            .ok_or("salt seed: not 32 bytes of hex")?;
        let id = auth_key.key_id();
        let salts = SaltState::new(
            seed,
            saved.salt_epoch,
            saved.salt_period,
            saved.initial_salt,
        );
        let state = KeyState {
            layer: saved.layer,
            client: saved.client.map(Arc::new),
            takeout_id: saved.takeout_id,
        };
        self.insert_entry(
            auth_key,
            UnixTime::from_secs(saved.created),
            saved.expires_in,
            salts,
            state,
        )
        .map(|_| id)
        .ok_or_else(|| format!("key {id:#018x} is there twice"))
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

    fn insert_entry(
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

/// Locks, shrugging off poisoning: the data under these locks stays consistent even if a
/// holder panicked (every change is a single assignment or map operation).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Lets `sessions`, the ones to keep their answers first, hold `budget` bytes together:
/// the first keep what they hold while it fits, the rest forget what is past it. Returns
/// the bytes forgotten.
fn shed_beyond(budget: usize, sessions: impl IntoIterator<Item = SharedSession>) -> usize {
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

    #[test]
    fn saved_keys_come_back_with_their_salts() {
        let store = KeyStore::new(4, 2).with_salt_period(Duration::from_mins(1));
        let mut rng = StdRng::seed_from_u64(3);
        let now = UnixTime::from_secs(1_700_000_000);
        let a = store
            .insert_key(AuthKey::from_bytes([7; 256]), now, None, Some(42), &mut rng)
            .unwrap();
        let b = store.insert(new_key(8)).unwrap();
        b.rotate_salts();
        a.update_state(|state| state.layer = Some(229));
        let saved = store.export();
        let json = serde_json::to_string(&saved).unwrap();
        let again = KeyStore::new(4, 2);
        for key in serde_json::from_str::<Vec<SavedKey>>(&json).unwrap() {
            again.import(key).unwrap();
        }
        assert_eq!(again.key_ids(), store.key_ids());
        let a2 = again.get(a.id()).unwrap();
        assert_eq!(a2.salts().current(now), a.salts().current(now));
        assert!(a2.salts().accepts(42, now));
        assert_eq!(a2.state().layer, Some(229));
        let b2 = again.get(b.id()).unwrap();
        assert_eq!(b2.salts().current(now), b.salts().current(now));
        assert!(
            !b2.salts().accepts(0, now),
            "rotated away from the minted salt"
        );
        assert!(again.import(saved.first().unwrap().clone()).is_err());
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
