//! Who is logged in on which auth key, and the login flows in progress: codes sent,
//! password checks, exported authorizations, QR tokens and takeout sessions. Login
//! state belongs to the auth key, and keys are per DC, so everything is keyed by
//! `(dc, auth_key_id)`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mtcrypto::SrpServerSession;
use serde::{Deserialize, Serialize};
use tl_types::Serialize as _;
use tl_types::api::{enums, types};

use super::authorizations::{AuthorizationInfo, Authorizations, NewLogin, SavedAuthorization};
use crate::keys::ClientInfo;
use crate::rpc::SessionPush;
use crate::sync::lock;
use mtnet::clock::unix_secs;

/// An auth key on one DC.
pub type KeyRef = (i32, u64);

/// Where a key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// The code was right; the 2FA password is still due.
    PasswordNeeded(i64),
    /// Fully logged in as this user.
    User(i64),
}

/// A code sent to a phone for a key.
#[derive(Debug, Clone)]
pub struct PendingCode {
    pub phone: String,
    pub hash: String,
    pub sent: Instant,
}

/// A password check offered by `account.getPassword`.
pub struct PendingSrp {
    pub srp_id: i64,
    pub user: i64,
    pub session: Arc<SrpServerSession>,
}

impl std::fmt::Debug for PendingSrp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSrp")
            .field("srp_id", &self.srp_id)
            .finish_non_exhaustive()
    }
}

/// A QR login token.
#[derive(Debug, Clone)]
pub struct QrToken {
    /// The key that exported it.
    pub owner: KeyRef,
    pub expires: i32,
    /// The user who accepted it (`auth.acceptLoginToken` or the control interface).
    pub accepted_by: Option<i64>,
    /// The session that exported it: told `updateLoginToken` on acceptance.
    pub exporter: Option<SessionPush>,
    /// The hash the login it makes gets (`auth.acceptLoginToken` answers with it).
    pub hash: i64,
    /// The exporting key's `initConnection`: the device `auth.acceptLoginToken` describes.
    pub client: Option<Arc<ClientInfo>>,
}

/// All login state of the world.
#[derive(Debug, Default)]
pub struct Logins {
    inner: Mutex<Inner>,
    changed: Mutex<Option<ChangeHook>>,
}

/// Told when something a state dir keeps changes.
#[derive(Clone)]
pub(crate) struct ChangeHook(pub(crate) Arc<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for ChangeHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChangeHook")
    }
}

/// The login state a state dir saves: logins by key, exported authorizations not yet
/// imported, takeout sessions and QR tokens (without the session to tell on acceptance).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedLogins {
    #[serde(default)]
    pub keys: Vec<SavedLogin>,
    /// (bytes as hex, user, DC it is good for).
    #[serde(default)]
    pub exported: Vec<(String, i64, i32)>,
    /// (takeout id, user).
    #[serde(default)]
    pub takeouts: Vec<(i64, i64)>,
    #[serde(default)]
    pub qr: Vec<SavedQr>,
    /// The logins (`account.getAuthorizations`); absent in files of older versions, whose
    /// keys then each count as a login of their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizations: Option<Vec<SavedAuthorization>>,
}

/// One key's login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedLogin {
    pub dc: i32,
    pub key_id: u64,
    pub user: i64,
    /// The code was right, the 2FA password is still due.
    #[serde(default)]
    pub password_needed: bool,
}

/// One QR token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedQr {
    /// The token bytes, hex.
    pub token: String,
    pub dc: i32,
    pub key_id: u64,
    pub expires: i32,
    pub accepted_by: Option<i64>,
    #[serde(default)]
    pub hash: i64,
}

/// Exported authorization bytes not yet imported.
#[derive(Debug, Clone, Copy)]
struct Exported {
    user: i64,
    /// The DC they are good for.
    dc: i32,
    /// The key that exported them (unknown after a restart).
    by: Option<KeyRef>,
}

#[derive(Debug, Default)]
struct Inner {
    keys: HashMap<KeyRef, Login>,
    codes: HashMap<KeyRef, PendingCode>,
    srp: HashMap<KeyRef, PendingSrp>,
    exported: HashMap<Vec<u8>, Exported>,
    qr: HashMap<Vec<u8>, QrToken>,
    /// Takeout id -> user.
    takeouts: HashMap<i64, i64>,
    auths: Authorizations,
}

/// A new login's id: random, never 0 (0 is how the caller sees its own).
pub(super) fn new_hash() -> i64 {
    use rand::Rng;
    rand::thread_rng().r#gen::<i64>().wrapping_abs().max(1)
}

impl Logins {
    /// Calls `hook` after every change a state dir keeps.
    pub(crate) fn on_change(&self, hook: ChangeHook) {
        *lock(&self.changed) = Some(hook);
    }

    fn changed(&self) {
        let hook = lock(&self.changed).clone();
        if let Some(hook) = hook {
            (hook.0)();
        }
    }

    /// Everything a state dir keeps.
    pub fn saved(&self) -> SavedLogins {
        let inner = lock(&self.inner);
        let mut saved = SavedLogins {
            keys: inner
                .keys
                .iter()
                .map(|(&(dc, key_id), login)| match *login {
                    Login::User(user) => SavedLogin {
                        dc,
                        key_id,
                        user,
                        password_needed: false,
                    },
                    Login::PasswordNeeded(user) => SavedLogin {
                        dc,
                        key_id,
                        user,
                        password_needed: true,
                    },
                })
                .collect(),
            exported: inner
                .exported
                .iter()
                .map(|(bytes, e)| (hex::encode(bytes), e.user, e.dc))
                .collect(),
            takeouts: inner
                .takeouts
                .iter()
                .map(|(&id, &user)| (id, user))
                .collect(),
            qr: inner
                .qr
                .iter()
                .map(|(token, qr)| SavedQr {
                    token: hex::encode(token),
                    dc: qr.owner.0,
                    key_id: qr.owner.1,
                    expires: qr.expires,
                    accepted_by: qr.accepted_by,
                    hash: qr.hash,
                })
                .collect(),
            authorizations: Some(inner.auths.saved()),
        };
        // Stable files: the same state writes the same bytes.
        saved.keys.sort_by_key(|login| (login.dc, login.key_id));
        saved.exported.sort();
        saved.takeouts.sort_unstable();
        saved.qr.sort_by(|a, b| a.token.cmp(&b.token));
        saved
    }

    /// Adds what a state dir kept (entries that do not parse are skipped).
    pub fn restore(&self, saved: SavedLogins) {
        let mut inner = lock(&self.inner);
        let had_authorizations = saved.authorizations.is_some();
        inner
            .auths
            .restore(saved.authorizations.unwrap_or_default());
        for login in saved.keys {
            let key = (login.dc, login.key_id);
            let state = if login.password_needed {
                Login::PasswordNeeded(login.user)
            } else {
                Login::User(login.user)
            };
            inner.keys.insert(key, state);
            if !had_authorizations && !inner.auths.knows(key) {
                let created = unix_secs();
                inner.auths.begin(
                    key,
                    NewLogin {
                        user: login.user,
                        hash: new_hash(),
                        now: created,
                        client: None,
                        password_pending: login.password_needed,
                    },
                );
            }
        }
        for (bytes, user, dc) in saved.exported {
            if let Ok(bytes) = hex::decode(bytes) {
                inner
                    .exported
                    .insert(bytes, Exported { user, dc, by: None });
            }
        }
        inner.takeouts.extend(saved.takeouts);
        for qr in saved.qr {
            if let Ok(token) = hex::decode(&qr.token) {
                inner.qr.insert(
                    token,
                    QrToken {
                        owner: (qr.dc, qr.key_id),
                        expires: qr.expires,
                        accepted_by: qr.accepted_by,
                        exporter: None,
                        hash: if qr.hash == 0 { new_hash() } else { qr.hash },
                        client: None,
                    },
                );
            }
        }
    }

    /// Forgets everything about keys `key_ids` of DC `dc` (the DC forgot them).
    pub fn forget_keys(&self, dc: i32, key_ids: &[u64]) {
        {
            let mut inner = lock(&self.inner);
            for &key_id in key_ids {
                let key = (dc, key_id);
                inner.keys.remove(&key);
                inner.codes.remove(&key);
                inner.srp.remove(&key);
                inner.auths.forget(key);
            }
            inner
                .qr
                .retain(|_, qr| qr.owner.0 != dc || !key_ids.contains(&qr.owner.1));
        }
        self.changed();
    }

    /// The key's login state.
    pub fn get(&self, key: KeyRef) -> Option<Login> {
        lock(&self.inner).keys.get(&key).copied()
    }

    /// The user a key is fully logged in as.
    pub fn user(&self, key: KeyRef) -> Option<i64> {
        match self.get(key) {
            Some(Login::User(id)) => Some(id),
            _ => None,
        }
    }

    /// Key `key` signed in as `user` (a code, a bot token, a login token): a new login,
    /// with the 2FA password still due when `password_pending`. `hash` is the login's id
    /// when already promised (`auth.acceptLoginToken` answered with it), `client` the
    /// key's latest `initConnection`.
    pub fn sign_in(
        &self,
        key: KeyRef,
        user: i64,
        password_pending: bool,
        hash: Option<i64>,
        client: Option<Arc<ClientInfo>>,
    ) {
        let mut inner = lock(&self.inner);
        let login = if password_pending {
            Login::PasswordNeeded(user)
        } else {
            Login::User(user)
        };
        inner.keys.insert(key, login);
        inner.codes.remove(&key);
        inner.srp.remove(&key);
        inner.auths.begin(
            key,
            NewLogin {
                user,
                hash: hash.unwrap_or_else(new_hash),
                now: unix_secs(),
                client,
                password_pending,
            },
        );
        drop(inner);
        self.changed();
    }

    /// The 2FA password of `key`, which signed in as `user`, was right.
    pub fn password_checked(&self, key: KeyRef, user: i64) {
        let mut inner = lock(&self.inner);
        inner.keys.insert(key, Login::User(user));
        inner.srp.remove(&key);
        if !inner.auths.confirm(key) && !inner.auths.knows(key) {
            inner.auths.begin(
                key,
                NewLogin {
                    user,
                    hash: new_hash(),
                    now: unix_secs(),
                    client: None,
                    password_pending: false,
                },
            );
        }
        drop(inner);
        self.changed();
    }

    /// Key `key` imported an authorization `exporter` exported: logged in as `user`, part
    /// of `exporter`'s login (a login of its own when the exporter is not known).
    pub fn imported(&self, key: KeyRef, user: i64, exporter: Option<KeyRef>) {
        let mut inner = lock(&self.inner);
        inner.keys.insert(key, Login::User(user));
        inner.codes.remove(&key);
        inner.srp.remove(&key);
        match exporter {
            Some(exporter) if inner.auths.knows(exporter) => inner.auths.adopt(key, exporter),
            _ => inner.auths.begin(
                key,
                NewLogin {
                    user,
                    hash: new_hash(),
                    now: unix_secs(),
                    client: None,
                    password_pending: false,
                },
            ),
        }
        drop(inner);
        self.changed();
    }

    /// Key `key` logged out (`auth.logOut`): the login of a login's own key ends with
    /// every key imported for it; an imported key logs out alone.
    pub fn log_out(&self, key: KeyRef) {
        let mut inner = lock(&self.inner);
        for ended in inner.auths.end(key) {
            inner.keys.remove(&ended);
            inner.codes.remove(&ended);
            inner.srp.remove(&ended);
        }
        drop(inner);
        self.changed();
    }

    /// Ends `user`'s login `hash` (`account.resetAuthorization`); whether there was one.
    pub fn reset(&self, user: i64, hash: i64) -> bool {
        let mut inner = lock(&self.inner);
        let Some(root) = inner.auths.by_hash(user, hash) else {
            return false;
        };
        for ended in inner.auths.end(root) {
            inner.keys.remove(&ended);
            inner.srp.remove(&ended);
        }
        drop(inner);
        self.changed();
        true
    }

    /// A request came on `key` (a login's activity; its latest `initConnection`). Not
    /// saved: a restarted server shows the login active since it was made.
    pub fn touch(&self, key: KeyRef, client: Option<&Arc<ClientInfo>>) {
        lock(&self.inner).auths.touch(key, unix_secs(), client);
    }

    /// The logins of `user`, most recently active first.
    pub fn authorizations(&self, user: i64) -> Vec<AuthorizationInfo> {
        lock(&self.inner).auths.of_user(user)
    }

    /// The login `key` belongs to.
    pub fn authorization_of(&self, key: KeyRef) -> Option<AuthorizationInfo> {
        lock(&self.inner).auths.get(key)
    }

    /// Records a code sent; the previous one of this key is no longer valid.
    pub fn code_sent(&self, key: KeyRef, code: PendingCode) {
        lock(&self.inner).codes.insert(key, code);
    }

    /// The code pending for a key.
    pub fn pending_code(&self, key: KeyRef) -> Option<PendingCode> {
        lock(&self.inner).codes.get(&key).cloned()
    }

    /// Records a password check offered (replacing an older one).
    pub fn srp_offered(&self, key: KeyRef, srp: PendingSrp) {
        lock(&self.inner).srp.insert(key, srp);
    }

    /// The password check offered to a key: (srp_id, user, session).
    pub fn pending_srp(&self, key: KeyRef) -> Option<(i64, i64, Arc<SrpServerSession>)> {
        lock(&self.inner)
            .srp
            .get(&key)
            .map(|p| (p.srp_id, p.user, Arc::clone(&p.session)))
    }

    /// Remembers authorization bytes `by` exported for `user` on DC `dc`.
    pub fn export(&self, bytes: Vec<u8>, user: i64, dc: i32, by: KeyRef) {
        lock(&self.inner).exported.insert(
            bytes,
            Exported {
                user,
                dc,
                by: Some(by),
            },
        );
        self.changed();
    }

    /// Takes exported bytes (they are good once): the user, the DC they are good for and
    /// the key that exported them.
    pub fn take_export(&self, bytes: &[u8]) -> Option<(i64, i32, Option<KeyRef>)> {
        let taken = lock(&self.inner).exported.remove(bytes);
        if taken.is_some() {
            self.changed();
        }
        taken.map(|e| (e.user, e.dc, e.by))
    }

    /// Stores a new QR token.
    pub fn qr_new(&self, token: Vec<u8>, qr: QrToken) {
        let mut inner = lock(&self.inner);
        // One live token per key.
        inner.qr.retain(|_, t| t.owner != qr.owner);
        inner.qr.insert(token, qr);
        drop(inner);
        self.changed();
    }

    /// The QR token last exported by `key`, with its bytes.
    pub fn qr_of(&self, key: KeyRef) -> Option<(Vec<u8>, QrToken)> {
        lock(&self.inner)
            .qr
            .iter()
            .find(|(_, t)| t.owner == key)
            .map(|(b, t)| (b.clone(), t.clone()))
    }

    /// A QR token by its bytes.
    pub fn qr_get(&self, token: &[u8]) -> Option<QrToken> {
        lock(&self.inner).qr.get(token).cloned()
    }

    /// Marks a token accepted by `user` and, as Telegram does, pushes
    /// `updateShort{updateLoginToken}` to the session that exported it (which then calls
    /// `auth.exportLoginToken` again to finish); whether the token existed.
    pub fn qr_accept(&self, token: &[u8], user: i64) -> bool {
        let exporter = {
            let mut inner = lock(&self.inner);
            let Some(qr) = inner.qr.get_mut(token) else {
                return false;
            };
            qr.accepted_by = Some(user);
            qr.exporter.clone()
        };
        self.changed();
        if let Some(exporter) = exporter {
            let update: enums::Updates = types::UpdateShort {
                update: enums::Update::LoginToken,
                date: unix_secs(),
            }
            .into();
            if !exporter.push(update.to_bytes()) {
                tracing::debug!(?exporter, "updateLoginToken: the exporting session is gone");
            }
        }
        true
    }

    /// Forgets a used token.
    pub fn qr_remove(&self, token: &[u8]) {
        lock(&self.inner).qr.remove(token);
        self.changed();
    }

    /// Every token not yet accepted (for the control interface).
    pub fn qr_pending(&self) -> Vec<Vec<u8>> {
        lock(&self.inner)
            .qr
            .iter()
            .filter(|(_, t)| t.accepted_by.is_none())
            .map(|(b, _)| b.clone())
            .collect()
    }

    /// Starts a takeout session.
    pub fn takeout_start(&self, id: i64, user: i64) {
        lock(&self.inner).takeouts.insert(id, user);
        self.changed();
    }

    /// The user of a takeout session.
    pub fn takeout_user(&self, id: i64) -> Option<i64> {
        lock(&self.inner).takeouts.get(&id).copied()
    }

    /// Ends a takeout session; whether it existed.
    pub fn takeout_finish(&self, id: i64) -> bool {
        let existed = lock(&self.inner).takeouts.remove(&id).is_some();
        if existed {
            self.changed();
        }
        existed
    }
}
