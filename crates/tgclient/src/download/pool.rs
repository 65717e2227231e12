//! Connections for file parts: a few per DC, each multiplexing many requests, so that one
//! connection's throttling or a lost packet does not hold up the rest. They share the DC's
//! auth key (made once, through the client's main connection) and each has its own session.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Mutex as AsyncMutex, OnceCell};

use mtcrypto::RsaPublicKey;

use super::executor::Executor;
use crate::Client;
use crate::client::DcConnection;
use crate::error::ClientError;
use crate::store::DcAddress;

/// The pools of every DC a download touches.
#[derive(Debug)]
pub(crate) struct Pools {
    client: Client,
    per_dc: usize,
    dcs: Mutex<HashMap<i32, Arc<OnceCell<DcPool>>>>,
    cdns: Mutex<HashMap<i32, Arc<OnceCell<DcPool>>>>,
}

/// What a connection is wanted for.
#[derive(Debug, Clone, Copy)]
enum Use {
    Part,
    Small,
}

/// One DC's connections, opened lazily, replaced when they die.
#[derive(Debug)]
struct DcPool {
    slots: Vec<AsyncMutex<Option<Arc<DcConnection>>>>,
    /// Round-robin cursors: one for parts, one for small requests (hashes), so that the
    /// small ones do not push every part onto the same half of the connections.
    next_part: AtomicUsize,
    next_small: AtomicUsize,
    /// For a CDN DC: its addresses and key (its connections are made differently).
    cdn: Option<(Vec<DcAddress>, RsaPublicKey)>,
}

impl DcPool {
    fn new(size: usize, cdn: Option<(Vec<DcAddress>, RsaPublicKey)>) -> Self {
        Self {
            slots: (0..size).map(|_| AsyncMutex::new(None)).collect(),
            next_part: AtomicUsize::new(0),
            next_small: AtomicUsize::new(0),
            cdn,
        }
    }
}

impl Pools {
    pub(crate) fn new(client: Client, per_dc: usize) -> Self {
        Self {
            client,
            per_dc: per_dc.max(1),
            dcs: Mutex::default(),
            cdns: Mutex::default(),
        }
    }

    /// A connection to `dc_id` with the login usable there (exported when not home).
    pub(crate) async fn get(&self, dc_id: i32) -> Result<Arc<DcConnection>, ClientError> {
        self.get_as(dc_id, Use::Part).await
    }

    /// A connection to `dc_id` for a small request (part hashes).
    pub(crate) async fn get_small(&self, dc_id: i32) -> Result<Arc<DcConnection>, ClientError> {
        self.get_as(dc_id, Use::Small).await
    }

    async fn get_as(&self, dc_id: i32, use_: Use) -> Result<Arc<DcConnection>, ClientError> {
        let cell = Self::cell(&self.dcs, dc_id);
        let pool = cell
            .get_or_try_init(|| async {
                // Makes (and saves) the DC's key through the main connection, and the login
                // usable there, before any pool connection loads that key.
                self.client.export_authorization(dc_id).await?;
                self.client.connection(dc_id).await?;
                Ok::<_, ClientError>(DcPool::new(self.per_dc, None))
            })
            .await?;
        self.pick(dc_id, pool, use_).await
    }

    /// A connection to CDN DC `dc_id`.
    pub(crate) async fn get_cdn(
        &self,
        exec: &Executor,
        dc_id: i32,
    ) -> Result<Arc<DcConnection>, ClientError> {
        let cell = Self::cell(&self.cdns, dc_id);
        let pool = cell
            .get_or_try_init(|| async {
                let found = exec.cdn.lookup(exec, dc_id).await?;
                Ok::<_, ClientError>(DcPool::new(self.per_dc, Some(found)))
            })
            .await?;
        self.pick(dc_id, pool, Use::Part).await
    }

    fn cell(map: &Mutex<HashMap<i32, Arc<OnceCell<DcPool>>>>, dc_id: i32) -> Arc<OnceCell<DcPool>> {
        Arc::clone(
            map.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(dc_id)
                .or_default(),
        )
    }

    /// The next connection of `pool`, opened or replaced as needed.
    async fn pick(
        &self,
        dc_id: i32,
        pool: &DcPool,
        use_: Use,
    ) -> Result<Arc<DcConnection>, ClientError> {
        let cursor = match use_ {
            Use::Part => &pool.next_part,
            Use::Small => &pool.next_small,
        };
        let index = cursor.fetch_add(1, Ordering::Relaxed) % pool.slots.len();
        let Some(slot) = pool.slots.get(index) else {
            return Err(ClientError::UnknownDc(dc_id));
        };
        let mut guard = slot.lock().await;
        if let Some(connection) = guard.as_ref()
            && !connection.sender.status().key_lost
        {
            return Ok(Arc::clone(connection));
        }
        if let Some(dead) = guard.take() {
            dead.close().await;
        }
        let connection = Arc::new(match &pool.cdn {
            Some((addresses, key)) => {
                self.client
                    .open_cdn_connection(dc_id, addresses, vec![key.clone()])
                    .await?
            }
            None => self.client.open_connection(dc_id).await?,
        });
        *guard = Some(Arc::clone(&connection));
        Ok(connection)
    }

    /// Drops `connection` from its pool (it stopped); the next `get` opens a new one.
    pub(crate) async fn discard(&self, connection: &Arc<DcConnection>) {
        let cells = [&self.dcs, &self.cdns].map(|map| {
            map.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&connection.dc_id)
                .cloned()
        });
        for slot in cells
            .iter()
            .flatten()
            .filter_map(|cell| cell.get())
            .flat_map(|pool| &pool.slots)
        {
            let mut guard = slot.lock().await;
            if guard.as_ref().is_some_and(|c| Arc::ptr_eq(c, connection)) {
                if let Some(dead) = guard.take() {
                    dead.close().await;
                }
                return;
            }
        }
    }

    /// Forgets `dc_id`'s pool (its key or login is gone): the next `get` makes the key and
    /// login usable again before opening new connections.
    pub(crate) async fn reset(&self, dc_id: i32) {
        let cell = self
            .dcs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&dc_id);
        if let Some(pool) = cell.as_ref().and_then(|c| c.get()) {
            for slot in &pool.slots {
                if let Some(connection) = slot.lock().await.take() {
                    connection.close().await;
                }
            }
        }
    }

    /// Closes every pool connection (the DC keys stay in the session).
    pub(crate) async fn close(&self) {
        let mut cells: Vec<_> = Vec::new();
        for map in [&self.dcs, &self.cdns] {
            cells.extend(
                map.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .drain()
                    .map(|(_, cell)| cell),
            );
        }
        for cell in cells {
            if let Some(pool) = cell.get() {
                for slot in &pool.slots {
                    if let Some(connection) = slot.lock().await.take() {
                        connection.close().await;
                    }
                }
            }
        }
    }
}
