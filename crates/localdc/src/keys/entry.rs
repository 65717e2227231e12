//! One auth key and what its owner told the server.

use std::sync::{Arc, Mutex};

use mtcrypto::AuthKey;
use mtproto::session::{SaltSchedule, UnixTime};
use serde::{Deserialize, Serialize};

use super::ChangeHook;
use super::executed::Executed;
use super::salts::SaltState;
use super::sessions::Sessions;
use crate::sync::lock;

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

/// One auth key and what hangs off it.
pub struct KeyEntry {
    pub(super) key: AuthKey,
    pub(super) created: UnixTime,
    pub(super) expires_in: Option<i32>,
    pub(super) salts: Mutex<SaltState>,
    pub(super) state: Mutex<KeyState>,
    pub(super) sessions: Mutex<Sessions>,
    pub(super) max_sessions: usize,
    /// Bytes the sessions may hold together (see [`SessionBounds::held_per_key`]).
    pub(super) max_held: usize,
    /// Request msg_ids (with their session) handed to the handlers, newest last.
    pub(super) executed: Mutex<Executed>,
    /// Told when something saved about the key changes.
    pub(super) changed: Option<ChangeHook>,
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
        lock(&self.executed).note(session_id, msg_id);
    }

    /// Whether any of `msg_ids` of session `session_id` was handed to a handler (among the
    /// last few thousand requests of the key).
    pub(crate) fn executed_any(&self, session_id: i64, msg_ids: &[i64]) -> bool {
        lock(&self.executed).any(session_id, msg_ids)
    }

    /// Forgets what was recorded as executed for sessions that are gone.
    pub(super) fn forget_executed(&self, session_ids: &[i64]) {
        if !session_ids.is_empty() {
            lock(&self.executed).forget_sessions(session_ids);
        }
    }

    pub(super) fn changed(&self) {
        if let Some(hook) = &self.changed {
            hook();
        }
    }
}
