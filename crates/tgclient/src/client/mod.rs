//! The client: a session store, one sender per DC, and the routing that makes `invoke`
//! carry out the recovery policy: follow migrations, make keys and authorizations on
//! demand, wait out flood limits.

mod connection;
mod route;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tl_types::RemoteCall;
use tokio::sync::Notify;

use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::store::{SelfUser, SessionStore, StoreError};

pub(crate) use connection::{DcConnection, dc_addresses};
pub use route::Route;

/// A Telegram client. Cheap to clone; every clone shares the session and connections.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

type Slot<T> = Arc<tokio::sync::Mutex<T>>;

#[derive(Debug)]
struct Inner {
    config: ClientConfig,
    store: Mutex<SessionStore>,
    home_dc: AtomicI32,
    /// One connection slot per DC; the async lock is held while a connection is made.
    connections: Mutex<HashMap<i32, Slot<Option<Arc<DcConnection>>>>>,
    /// One lock per DC serializing export/import of the authorization.
    exports: Mutex<HashMap<i32, Slot<()>>>,
    /// DCs whose last connection attempt used up `connect_patience`: until one connects
    /// again, each attempt is a single try, so calls queued behind a dead DC fail in turn
    /// instead of each waiting out the patience.
    unreachable: Mutex<HashSet<i32>>,
    /// Whether the DC list was fetched on this run.
    bootstrapped: AtomicBool,
    /// Signalled when the server pushes `updateLoginToken` (QR login).
    login_token: Notify,
    /// Where pushed updates go while a [`crate::updates::Follow`] listens.
    updates: Mutex<Option<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>>,
}

impl Client {
    /// A client over `store`. Nothing is sent until the first call.
    pub fn new(config: ClientConfig, store: SessionStore) -> Result<Self, ClientError> {
        let home = store.home_dc()?.unwrap_or(config.server.default_dc);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                store: Mutex::new(store),
                home_dc: AtomicI32::new(home),
                connections: Mutex::new(HashMap::new()),
                exports: Mutex::new(HashMap::new()),
                unreachable: Mutex::new(HashSet::new()),
                bootstrapped: AtomicBool::new(false),
                login_token: Notify::new(),
                updates: Mutex::new(None),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The home DC: where the account lives (or the first DC contacted before login).
    pub fn home_dc(&self) -> i32 {
        self.inner.home_dc.load(Ordering::Acquire)
    }

    /// Makes `dc_id` the home DC, remembered in the session.
    pub(crate) fn set_home_dc(&self, dc_id: i32) -> Result<(), ClientError> {
        self.inner.home_dc.store(dc_id, Ordering::Release);
        self.with_store(|s| s.set_home_dc(dc_id))?;
        Ok(())
    }

    /// Makes `dc_id` the home DC for this run only, not saved: a login in progress, which
    /// saves it when it succeeds.
    pub(crate) fn set_home_dc_unsaved(&self, dc_id: i32) {
        self.inner.home_dc.store(dc_id, Ordering::Release);
    }

    /// The logged-in account stored in the session, if any.
    pub fn self_user(&self) -> Result<Option<SelfUser>, ClientError> {
        Ok(self.with_store(|s| s.self_user())?)
    }

    /// The stored login, after asking the home DC whether it still accepts it
    /// (`users.getUsers([inputUserSelf])`): `None` when there is none, or when the server
    /// refused it (the session then forgets it, so the two agree).
    pub async fn verify_login(&self) -> Result<Option<SelfUser>, ClientError> {
        let Some(me) = self.self_user()? else {
            return Ok(None);
        };
        let request = tl_types::api::functions::users::GetUsers {
            id: vec![tl_types::api::enums::InputUser::InputUserSelf],
        };
        match self.invoke(&request).await {
            Ok(_) => Ok(Some(me)),
            Err(ClientError::LoginLost { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Whether the session holds a login.
    pub fn is_logged_in(&self) -> bool {
        matches!(self.self_user(), Ok(Some(_)))
    }

    /// Runs `f` on the session store.
    pub fn with_store<T>(
        &self,
        f: impl FnOnce(&mut SessionStore) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut store = self
            .inner
            .store
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut store)
    }

    /// Calls `request` on the home DC.
    pub async fn invoke<R: RemoteCall>(&self, request: &R) -> Result<R::Return, ClientError> {
        self.invoke_routed(Route::Home, request).await
    }

    /// Calls `request` on DC `dc_id`, exporting the login there first if needed.
    pub async fn invoke_on_dc<R: RemoteCall>(
        &self,
        dc_id: i32,
        request: &R,
    ) -> Result<R::Return, ClientError> {
        self.invoke_routed(Route::Dc(dc_id), request).await
    }

    /// Calls `request` where `route` says.
    pub async fn invoke_routed<R: RemoteCall>(
        &self,
        route: Route,
        request: &R,
    ) -> Result<R::Return, ClientError> {
        let body = self
            .invoke_bytes(route, R::TL_NAME, request.to_bytes())
            .await?;
        decode_answer::<R>(&body)
    }

    /// Saves what every connection learned (salts, clock offsets) to the session.
    pub fn save_session(&self) -> Result<(), ClientError> {
        for connection in self.live_connections() {
            if let Some(auth) = connection.sender.status().auth {
                self.with_store(|s| s.save_dc_auth(connection.dc_id, &auth))?;
            }
        }
        Ok(())
    }

    /// Saves the session and closes every connection.
    pub async fn close(&self) -> Result<(), ClientError> {
        let saved = self.save_session();
        self.disconnect_all().await;
        saved
    }

    /// The connections currently open.
    fn live_connections(&self) -> Vec<Arc<DcConnection>> {
        let slots: Vec<_> = self
            .inner
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        slots
            .iter()
            .filter_map(|slot| slot.try_lock().ok().and_then(|guard| guard.clone()))
            .collect()
    }

    /// Closes every connection (the keys stay in the session).
    pub(crate) async fn disconnect_all(&self) {
        let slots: Vec<_> = self
            .inner
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, slot)| slot)
            .collect();
        for slot in slots {
            if let Some(connection) = slot.lock().await.take() {
                connection.close().await;
            }
        }
    }

    /// Waits until the server pushes `updateLoginToken` (or returns at once if one came
    /// since the last wait).
    pub(crate) async fn login_token_updated(&self) {
        self.inner.login_token.notified().await;
    }

    /// From now on, every update any connection receives (and each `updatesTooLong` a
    /// connection makes up when updates may have been lost) goes to the receiver returned;
    /// a previous receiver gets nothing more.
    pub(crate) fn subscribe_updates(&self) -> tokio::sync::mpsc::UnboundedReceiver<Vec<u8>> {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        *self
            .inner
            .updates
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(sender);
        receiver
    }

    fn slot<T: Default>(map: &Mutex<HashMap<i32, Slot<T>>>, dc_id: i32) -> Slot<T> {
        map.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(dc_id)
            .or_default()
            .clone()
    }
}

/// The answer to `R` as its result type; an error names the request.
pub(crate) fn decode_answer<R: RemoteCall>(body: &[u8]) -> Result<R::Return, ClientError> {
    <R::Return as tl_types::Deserialize>::from_bytes(body).map_err(|source| ClientError::Answer {
        method: R::TL_NAME,
        source,
    })
}
