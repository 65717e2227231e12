//! Authorizations as Telegram lists them (`account.getAuthorizations`): one per *login*, the
//! key that signed in (phone code, 2FA, bot token, login token). Keys that
//! `auth.importAuthorization` logged in on other DCs belong to the login that exported
//! them and are not listed; ending a login ends them too.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::logins::KeyRef;
use crate::keys::ClientInfo;

/// One login of a user, as a test sees it ([`crate::world::World::authorizations`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationInfo {
    /// The DC of the key that logged in.
    pub dc: i32,
    /// That key's id.
    pub key_id: u64,
    /// The login's id in `account.getAuthorizations` (never 0).
    pub hash: i64,
    /// From the key's latest `initConnection` (zero and empty before any).
    pub api_id: i32,
    pub device_model: String,
    pub system_version: String,
    pub app_version: String,
    /// Unix seconds of the login.
    pub date_created: i32,
    /// Unix seconds of the login's latest request (on any of its keys).
    pub date_active: i32,
    /// The code was right; the 2FA password is still due.
    pub password_pending: bool,
    /// Keys on other DCs that `auth.importAuthorization` logged in for this login.
    pub children: Vec<KeyRef>,
}

impl AuthorizationInfo {
    /// A login about to be made by key `key` of the app `client` described, under `hash`,
    /// as of `now`.
    pub(crate) fn upcoming(key: KeyRef, hash: i64, client: Option<&ClientInfo>, now: i32) -> Self {
        let text = |field: fn(&ClientInfo) -> &String| client.map(field).cloned();
        Self {
            dc: key.0,
            key_id: key.1,
            hash,
            api_id: client.map_or(0, |c| c.api_id),
            device_model: text(|c| &c.device_model).unwrap_or_default(),
            system_version: text(|c| &c.system_version).unwrap_or_default(),
            app_version: text(|c| &c.app_version).unwrap_or_default(),
            date_created: now,
            date_active: now,
            password_pending: false,
            children: Vec::new(),
        }
    }
}

/// One login.
#[derive(Debug, Clone)]
struct Record {
    user: i64,
    hash: i64,
    created: i32,
    active: i32,
    client: Option<Arc<ClientInfo>>,
    password_pending: bool,
}

/// Every login, by the key that logged in, and the keys imported for each.
#[derive(Debug, Default)]
pub(super) struct Authorizations {
    by_root: HashMap<KeyRef, Record>,
    /// Imported key -> the key of the login it belongs to.
    parent: HashMap<KeyRef, KeyRef>,
}

/// A login as a state dir keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedAuthorization {
    pub dc: i32,
    pub key_id: u64,
    pub user: i64,
    pub hash: i64,
    pub created: i32,
    #[serde(default)]
    pub password_pending: bool,
    /// Imported keys of the login: (dc, key id).
    #[serde(default)]
    pub children: Vec<(i32, u64)>,
}

/// What starts a login.
pub(super) struct NewLogin {
    pub user: i64,
    pub hash: i64,
    pub now: i32,
    pub client: Option<Arc<ClientInfo>>,
    pub password_pending: bool,
}

impl Authorizations {
    /// `key` logged in: a new login (replacing whatever `key` had before).
    pub fn begin(&mut self, key: KeyRef, login: NewLogin) {
        self.parent.remove(&key);
        self.by_root.insert(
            key,
            Record {
                user: login.user,
                hash: login.hash,
                created: login.now,
                active: login.now,
                client: login.client,
                password_pending: login.password_pending,
            },
        );
    }

    /// The 2FA password of `key`'s login was right; whether it had one pending.
    pub fn confirm(&mut self, key: KeyRef) -> bool {
        match self.by_root.get_mut(&key) {
            Some(record) if record.password_pending => {
                record.password_pending = false;
                true
            }
            _ => false,
        }
    }

    /// `child` was logged in with an authorization `exporter` exported: it belongs to
    /// `exporter`'s login.
    pub fn adopt(&mut self, child: KeyRef, exporter: KeyRef) {
        self.by_root.remove(&child);
        match self.root_of(exporter) {
            Some(root) if root != child => {
                self.parent.insert(child, root);
            }
            _ => {
                self.parent.remove(&child);
            }
        }
    }

    /// The key of the login `key` belongs to (itself for a login's own key).
    pub fn root_of(&self, key: KeyRef) -> Option<KeyRef> {
        if self.by_root.contains_key(&key) {
            return Some(key);
        }
        self.parent.get(&key).copied()
    }

    /// Ends what `key` logged in: for a login's own key, the login and the keys imported
    /// for it; for an imported key (or a key of no login), that key alone. The keys ended.
    pub fn end(&mut self, key: KeyRef) -> Vec<KeyRef> {
        if self.parent.remove(&key).is_some() {
            return vec![key];
        }
        if self.by_root.remove(&key).is_none() {
            return vec![key];
        }
        let children: Vec<KeyRef> = self
            .parent
            .iter()
            .filter(|&(_, root)| *root == key)
            .map(|(child, _)| *child)
            .collect();
        for child in &children {
            self.parent.remove(child);
        }
        let mut ended = vec![key];
        ended.extend(children);
        ended
    }

    /// Forgets `key` (its DC forgot it); a login's own key takes its imported keys' link
    /// with it, not their logins.
    pub fn forget(&mut self, key: KeyRef) {
        self.parent.remove(&key);
        if self.by_root.remove(&key).is_some() {
            self.parent.retain(|_, root| *root != key);
        }
    }

    /// A request came on `key` at `now`: its login was active; a login's own key also
    /// tells the latest `initConnection`.
    pub fn touch(&mut self, key: KeyRef, now: i32, client: Option<&Arc<ClientInfo>>) {
        let own = self.by_root.contains_key(&key);
        let Some(root) = self.root_of(key) else {
            return;
        };
        if let Some(record) = self.by_root.get_mut(&root) {
            record.active = record.active.max(now);
            if own
                && let Some(client) = client
                && record.client.as_ref() != Some(client)
            {
                record.client = Some(Arc::clone(client));
            }
        }
    }

    /// The logins of `user`, newest activity first.
    pub fn of_user(&self, user: i64) -> Vec<AuthorizationInfo> {
        let mut logins: Vec<AuthorizationInfo> = self
            .by_root
            .iter()
            .filter(|(_, record)| record.user == user)
            .map(|(&root, record)| self.info(root, record))
            .collect();
        logins.sort_by_key(|info| (std::cmp::Reverse(info.date_active), info.hash));
        logins
    }

    /// The key of `user`'s login `hash`.
    pub fn by_hash(&self, user: i64, hash: i64) -> Option<KeyRef> {
        self.by_root
            .iter()
            .find(|(_, record)| record.user == user && record.hash == hash)
            .map(|(&key, _)| key)
    }

    /// The login `key` belongs to.
    pub fn get(&self, key: KeyRef) -> Option<AuthorizationInfo> {
        let root = self.root_of(key)?;
        self.by_root
            .get(&root)
            .map(|record| self.info(root, record))
    }

    fn info(&self, root: KeyRef, record: &Record) -> AuthorizationInfo {
        let mut children: Vec<KeyRef> = self
            .parent
            .iter()
            .filter(|&(_, r)| *r == root)
            .map(|(child, _)| *child)
            .collect();
        children.sort_unstable();
        AuthorizationInfo {
            date_created: record.created,
            date_active: record.active,
            password_pending: record.password_pending,
            children,
            ..AuthorizationInfo::upcoming(root, record.hash, record.client.as_deref(), 0)
        }
    }

    /// Everything a state dir keeps, in a stable order.
    pub fn saved(&self) -> Vec<SavedAuthorization> {
        let mut saved: Vec<SavedAuthorization> = self
            .by_root
            .iter()
            .map(|(&root, record)| {
                let info = self.info(root, record);
                SavedAuthorization {
                    dc: root.0,
                    key_id: root.1,
                    user: record.user,
                    hash: record.hash,
                    created: record.created,
                    password_pending: record.password_pending,
                    children: info.children,
                }
            })
            .collect();
        saved.sort_by_key(|a| (a.dc, a.key_id));
        saved
    }

    /// Adds what a state dir kept.
    pub fn restore(&mut self, saved: Vec<SavedAuthorization>) {
        for login in saved {
            let root = (login.dc, login.key_id);
            for child in login.children {
                self.parent.insert(child, root);
            }
            self.by_root.insert(
                root,
                Record {
                    user: login.user,
                    hash: login.hash,
                    created: login.created,
                    active: login.created,
                    client: None,
                    password_pending: login.password_pending,
                },
            );
        }
    }

    /// Whether `key` is a login's key or one of its imported keys.
    pub fn knows(&self, key: KeyRef) -> bool {
        self.root_of(key).is_some()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn client(model: &str, version: &str) -> Arc<ClientInfo> {
        Arc::new(ClientInfo {
            api_id: 6,
            device_model: model.into(),
            system_version: "Linux".into(),
            app_version: version.into(),
            system_lang_code: "en".into(),
            lang_pack: String::new(),
            lang_code: "en".into(),
        })
    }

    fn login(user: i64, hash: i64, now: i32) -> NewLogin {
        NewLogin {
            user,
            hash,
            now,
            client: Some(client("pc", "1.0")),
            password_pending: false,
        }
    }

    #[test]
    fn imported_keys_belong_to_the_login_that_exported_and_end_with_it() {
        let mut auths = Authorizations::default();
        auths.begin((2, 10), login(7, 100, 1_000));
        auths.begin((2, 20), login(7, 200, 1_100));
        // Exported from the login's key, then again from the imported key: both belong
        // to login 100.
        auths.adopt((4, 11), (2, 10));
        auths.adopt((1, 12), (4, 11));
        let listed = auths.of_user(7);
        assert_eq!(listed.len(), 2, "imported keys are not listed: {listed:?}");
        assert_eq!(listed[0].hash, 200, "newest activity first");
        assert_eq!(listed[1].children, vec![(1, 12), (4, 11)]);
        assert_eq!(auths.root_of((1, 12)), Some((2, 10)));

        // An imported key logging out ends only itself.
        assert_eq!(auths.end((1, 12)), vec![(1, 12)]);
        assert_eq!(auths.of_user(7)[1].children, vec![(4, 11)]);
        // The login's key logging out ends the login and what was imported for it.
        let mut ended = auths.end((2, 10));
        ended.sort_unstable();
        assert_eq!(ended, vec![(2, 10), (4, 11)]);
        assert_eq!(auths.of_user(7).len(), 1);
        assert!(!auths.knows((4, 11)));
        // Another user's logins are not listed.
        assert!(auths.of_user(8).is_empty());
    }

    #[test]
    fn activity_and_the_latest_init_connection_of_the_login_key_are_kept() {
        let mut auths = Authorizations::default();
        auths.begin((2, 10), login(7, 100, 1_000));
        auths.adopt((4, 11), (2, 10));
        // A request on the imported key is activity of the login, but its
        // initConnection does not describe the login's device.
        auths.touch((4, 11), 1_500, Some(&client("other", "9.9")));
        let info = auths.get((4, 11)).unwrap();
        assert_eq!((info.date_created, info.date_active), (1_000, 1_500));
        assert_eq!(
            (info.device_model.as_str(), info.app_version.as_str()),
            ("pc", "1.0")
        );
        // The app reconnected with a new version: the login shows it.
        auths.touch((2, 10), 1_400, Some(&client("pc", "2.0")));
        let info = auths.get((2, 10)).unwrap();
        assert_eq!(info.app_version, "2.0");
        assert_eq!(info.date_active, 1_500, "activity never goes back");
    }

    #[test]
    fn a_pending_password_is_confirmed_once_and_state_round_trips() {
        let mut auths = Authorizations::default();
        auths.begin(
            (2, 10),
            NewLogin {
                password_pending: true,
                ..login(7, 100, 1_000)
            },
        );
        auths.adopt((4, 11), (2, 10));
        assert!(auths.get((2, 10)).unwrap().password_pending);
        assert!(auths.confirm((2, 10)));
        assert!(!auths.confirm((2, 10)));
        assert_eq!(auths.by_hash(7, 100), Some((2, 10)));
        assert_eq!(auths.by_hash(8, 100), None);

        let mut restored = Authorizations::default();
        restored.restore(auths.saved());
        assert_eq!(restored.saved(), auths.saved());
        assert_eq!(restored.root_of((4, 11)), Some((2, 10)));
        restored.forget((2, 10));
        assert!(!restored.knows((4, 11)));
    }
}
