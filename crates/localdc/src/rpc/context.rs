//! What a handler knows about the request it serves.

use std::sync::{Arc, Weak};

use crate::conn::HttpPolls;
use crate::dc::{DcAddress, DcState};
use crate::keys::{KeyEntry, KeyState, SharedSession};
use crate::quirks::Quirks;
use crate::sync::lock;

use super::wrappers::Invocation;

/// The request being served: where it came from and what its wrappers said.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// What the handler may see of the DC serving it.
    pub dc: DcView,
    /// The auth key the request was encrypted with.
    pub key: KeyView,
    /// The client's session.
    pub session_id: i64,
    /// The request's msg_id.
    pub msg_id: i64,
    /// What the `invoke*` wrappers around this very request said.
    pub invocation: Invocation,
    /// Where updates for the client's session go.
    pub(crate) push: SessionPush,
}

impl RequestContext {
    /// The id of the DC serving the request.
    pub fn dc_id(&self) -> i32 {
        self.dc.id()
    }

    /// Forgets the auth key the request came under (`destroy_auth_key`); whether the DC
    /// still knew it.
    pub fn destroy_own_key(&self) -> bool {
        self.dc.dc.keys.forget(self.key.id())
    }

    /// The client's layer: this request's `invokeWithLayer`, else the one recorded on the
    /// key, else this crate's.
    pub fn layer(&self) -> i32 {
        self.invocation
            .layer
            .or(self.key.state().layer)
            .unwrap_or(tl_types::LAYER)
    }

    /// The takeout session the request runs in, if any.
    pub fn takeout_id(&self) -> Option<i64> {
        self.invocation.takeout_id
    }

    /// A handle to push updates to the client's session later, from anywhere.
    pub fn session_push(&self) -> SessionPush {
        self.push.clone()
    }
}

/// What a handler sees of the DC serving its request: the DC's id, the directory of DCs
/// and the readings its sessions follow. The connections, the fault knobs and the other
/// clients' keys stay out of reach (the DC is held privately); the only change a handler
/// makes to the key store is [`RequestContext::destroy_own_key`].
#[derive(Debug, Clone)]
pub struct DcView {
    dc: Arc<DcState>,
}

impl DcView {
    /// The view of `dc`.
    pub(crate) fn of(dc: &Arc<DcState>) -> Self {
        Self { dc: Arc::clone(dc) }
    }

    /// The DC id.
    pub fn id(&self) -> i32 {
        self.dc.id
    }

    /// Every DC of the server, by id.
    pub fn directory(&self) -> &[DcAddress] {
        &self.dc.directory
    }

    /// Whether this is a CDN DC.
    pub fn is_cdn(&self) -> bool {
        self.dc.is_cdn()
    }

    /// The CDN DCs' public keys (PKCS#1 PEM) by DC id.
    pub fn cdn_public_keys(&self) -> &[(i32, String)] {
        &self.dc.cdn_public_keys
    }

    /// The readings of the spec this DC's sessions follow.
    pub fn quirks(&self) -> &Quirks {
        self.dc.faults.quirks()
    }
}

/// What a handler sees of the auth key its request came under: its id and what its owner
/// announced. Its sessions, salts and the rest of the key store stay out of reach.
#[derive(Debug, Clone)]
pub struct KeyView {
    key: Arc<KeyEntry>,
}

impl KeyView {
    /// The view of `key`.
    pub(crate) fn of(key: &Arc<KeyEntry>) -> Self {
        Self {
            key: Arc::clone(key),
        }
    }

    /// The key's id (low 64 bits of its SHA1).
    pub fn id(&self) -> u64 {
        self.key.id()
    }

    /// What the owner announced so far (layer, client, takeout).
    pub fn state(&self) -> KeyState {
        self.key.state()
    }
}

/// Wakes the connection that carried a request, so that it sends its session's output now.
pub(crate) type Wake = Arc<dyn Fn() + Send + Sync>;

/// A client session, seen from outside the connection: what the server pushes through it
/// (unsolicited updates such as `updateLoginToken`, the world's updates) goes out at once
/// on whichever connection carries the session (see `conn::Carriers`), and over HTTP on
/// the held long poll. Holds the session
/// weakly: once the session is gone, pushing does nothing.
#[derive(Clone)]
pub struct SessionPush {
    session: Weak<std::sync::Mutex<mtproto::session::ServerSession>>,
    polls: Weak<HttpPolls>,
    key_id: u64,
    session_id: i64,
    wake: Wake,
    /// The auth key, whose recorded layer says how pushed updates are written.
    key: Weak<KeyEntry>,
    /// The DC serving the session, whose fault knobs may drop pushed updates.
    dc: Weak<DcState>,
}

/// What became of an update pushed with [`SessionPush::push_update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued for the session.
    Queued,
    /// Dropped by the DC's fault knob ([`crate::Faults::drop_next_updates`]).
    Dropped,
    /// The session is gone (or the update cannot be sent).
    Gone,
}

impl std::fmt::Debug for SessionPush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionPush")
            .field("key_id", &format_args!("{:#018x}", self.key_id))
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl SessionPush {
    pub(crate) fn new(
        session: &SharedSession,
        polls: &Arc<HttpPolls>,
        key_id: u64,
        session_id: i64,
        wake: Wake,
    ) -> Self {
        Self {
            session: Arc::downgrade(session),
            polls: Arc::downgrade(polls),
            key_id,
            session_id,
            wake,
            key: Weak::new(),
            dc: Weak::new(),
        }
    }

    /// The same session, served by `dc` (whose fault knobs may drop its updates).
    pub(crate) fn on_dc(mut self, dc: &Arc<DcState>) -> Self {
        self.dc = Arc::downgrade(dc);
        self
    }

    /// Queues a world update (a boxed `Updates` object) as [`SessionPush::push`] does,
    /// unless the DC's fault knob drops it.
    pub fn push_update(&self, updates: Vec<u8>) -> Pushed {
        if self.session.strong_count() == 0 {
            return Pushed::Gone;
        }
        if self
            .dc
            .upgrade()
            .is_some_and(|dc| dc.faults.take_update_drop())
        {
            return Pushed::Dropped;
        }
        if self.push(updates) {
            Pushed::Queued
        } else {
            Pushed::Gone
        }
    }

    /// The same session, its updates written in the layer recorded on `key`.
    pub(crate) fn for_key(mut self, key: &Arc<KeyEntry>) -> Self {
        self.key = Arc::downgrade(key);
        self
    }

    /// The session's (auth_key_id, session_id).
    pub fn target(&self) -> (u64, i64) {
        (self.key_id, self.session_id)
    }

    /// Queues `updates` (a boxed `Updates` object) for the session, written in the layer
    /// of its key; whether it was queued (the session still exists and the object is not
    /// too large). An update the key's older layer cannot express at all is left out, as
    /// Telegram does, and counts as queued.
    pub fn push(&self, updates: Vec<u8>) -> bool {
        let Some(session) = self.session.upgrade() else {
            return false;
        };
        let layer = self.key.upgrade().and_then(|key| key.state().layer);
        let updates = match layer.and_then(super::layers::old_layer) {
            Some(layer) => match super::layers::downgrade_push(updates, layer) {
                Some(updates) => updates,
                // Nothing the client's layer can read: not sent, as Telegram does.
                None => return true,
            },
            None => updates,
        };
        if let Err(error) = lock(&session).push_update(updates) {
            tracing::warn!(%error, "update cannot be sent");
            return false;
        }
        if let Some(polls) = self.polls.upgrade() {
            polls.output(self.key_id, self.session_id);
        }
        // The connection carrying the session now sends it; the one the request came on
        // when the DC is not known.
        let carried = self
            .dc
            .upgrade()
            .is_some_and(|dc| dc.carriers.wake(self.target()));
        if !carried {
            (self.wake)();
        }
        true
    }
}
