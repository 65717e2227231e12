//! Which client sessions get pushed updates. Telegram sends an account's updates to the
//! connections that have made a call as the logged-in user (clients call
//! `updates.getState` for that: core.telegram.org/api/updates), except calls wrapped in
//! `invokeWithoutUpdates` and file queries, which do not subscribe
//! (core.telegram.org/method/invokeWithoutUpdates: "this is enabled by default for file
//! queries"). localdc subscribes the session (which follows its client from connection to
//! connection) and only on the account's home DC, whose updates they are.

use std::collections::HashMap;
use std::sync::Mutex;

use super::logins::KeyRef;
use crate::rpc::SessionPush;
use crate::sync::lock;

/// The sessions subscribed, by user, with the auth key each came under (a session gets
/// its user's updates only while that key is logged in as the user).
#[derive(Debug, Default)]
pub(super) struct Subscribers {
    by_user: Mutex<HashMap<i64, Vec<(KeyRef, SessionPush)>>>,
}

impl Subscribers {
    /// Subscribes `push`'s session, under key `key`, to `user`'s updates (once per session).
    pub fn subscribe(&self, user: i64, key: KeyRef, push: SessionPush) {
        let mut by_user = lock(&self.by_user);
        let sessions = by_user.entry(user).or_default();
        if !sessions.iter().any(|(_, s)| s.target() == push.target()) {
            sessions.push((key, push));
        }
    }

    /// The sessions subscribed to `user`'s updates, with their keys.
    pub fn of(&self, user: i64) -> Vec<(KeyRef, SessionPush)> {
        lock(&self.by_user).get(&user).cloned().unwrap_or_default()
    }

    /// Forgets a session that no longer exists (or whose key logged out).
    pub fn drop_gone(&self, user: i64, target: (u64, i64)) {
        if let Some(sessions) = lock(&self.by_user).get_mut(&user) {
            sessions.retain(|(_, s)| s.target() != target);
        }
    }

    /// How many sessions are subscribed to `user`'s updates.
    pub fn count(&self, user: i64) -> usize {
        lock(&self.by_user).get(&user).map_or(0, Vec::len)
    }
}
