//! One DC's connection: made on demand with the stored key (or a new one, saved at once),
//! its first request wrapped in `invokeWithLayer(initConnection(...))`, its updates
//! watched for `updateLoginToken` and handed to a follower ([`crate::updates::Follow`])
//! when one listens.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use mtnet::{InvokeError, Sender, SenderConfig};
use mtproto::session::Delivery;
use tl_types::api::{enums, functions};
use tl_types::{Blob, Deserialize, Identifiable, LAYER, Serialize};
use tokio::sync::mpsc;

use super::Client;
use crate::error::ClientError;
use crate::policy::{ErrorKind, Failure, Step, after_connect_failure};
use crate::store::{DcAddress, DcFlags};

/// A live connection to one DC.
#[derive(Debug)]
pub(crate) struct DcConnection {
    pub(crate) dc_id: i32,
    pub(crate) sender: Sender,
    /// Whether a request wrapped in `initConnection` succeeded on this connection.
    initialized: AtomicBool,
    updates: tokio::task::JoinHandle<()>,
}

impl DcConnection {
    /// Stops the sender and the update watcher.
    pub(crate) async fn close(&self) {
        self.sender.shutdown().await;
        self.updates.abort();
    }
}

impl Client {
    /// The connection to `dc_id`, made if there is none (or the old one lost its key).
    pub(crate) async fn connection(&self, dc_id: i32) -> Result<Arc<DcConnection>, ClientError> {
        let slot = Self::slot(&self.inner.connections, dc_id);
        let mut guard = slot.lock().await;
        if let Some(connection) = guard.as_ref() {
            if !connection.sender.status().key_lost {
                return Ok(connection.clone());
            }
            tracing::info!(
                dc = dc_id,
                "the server forgot our auth key; making a new one"
            );
            connection.close().await;
            *guard = None;
            self.forget_key(dc_id)?;
        }
        let connection = Arc::new(self.open_connection(dc_id).await?);
        *guard = Some(connection.clone());
        drop(guard);
        if self.inner.config.server.use_server_dc_list
            && !self.inner.bootstrapped.swap(true, Ordering::AcqRel)
            && let Err(error) = self.bootstrap(&connection).await
        {
            tracing::warn!(%error, "could not fetch the DC list; using the known one");
            self.inner.bootstrapped.store(false, Ordering::Release);
        }
        Ok(connection)
    }

    /// Drops the connection to `dc_id` (the next call makes a new one).
    pub(crate) async fn drop_connection(&self, dc_id: i32) {
        let slot = Self::slot(&self.inner.connections, dc_id);
        if let Some(connection) = slot.lock().await.take() {
            connection.close().await;
        }
    }

    pub(crate) async fn open_connection(&self, dc_id: i32) -> Result<DcConnection, ClientError> {
        let addresses = self.addresses(dc_id)?;
        let stored = self.with_store(|s| s.dc_auth(dc_id))?;
        let known = stored.as_ref().map(|a| a.auth.clone());
        let keys = self.inner.config.server.rsa_keys.clone();
        let connection = self
            .start_connection(dc_id, &addresses, keys, known)
            .await?;
        if stored.is_none()
            && let Some(auth) = connection.sender.status().auth
        {
            self.with_store(|s| s.save_dc_auth(dc_id, &auth))?;
            tracing::debug!(dc = dc_id, "made and saved a new auth key");
        }
        Ok(connection)
    }

    /// A connection to CDN DC `dc_id` at `addresses`, with a new key made under the CDN's
    /// own RSA keys (from `help.getCdnConfig`). CDN keys are not saved: CDN DCs know no
    /// users, and a key per run costs one handshake.
    pub(crate) async fn open_cdn_connection(
        &self,
        dc_id: i32,
        addresses: &[DcAddress],
        rsa_keys: Vec<mtcrypto::RsaPublicKey>,
    ) -> Result<DcConnection, ClientError> {
        self.start_connection(dc_id, addresses, rsa_keys, None)
            .await
    }

    /// A connection to `dc_id` with another client's `auth_key`, over this client's network
    /// settings (addresses, transport, proxy). It is never saved to the session and its
    /// updates go nowhere; the caller closes it after use.
    pub(crate) async fn foreign_connection(
        &self,
        dc_id: i32,
        auth_key: mtcrypto::AuthKey,
    ) -> Result<DcConnection, ClientError> {
        let addresses = self.addresses(dc_id)?;
        let keys = self.inner.config.server.rsa_keys.clone();
        // The salt and clock offset are learnt from the server's first answers.
        let known = mtnet::AuthState {
            auth_key,
            salt: 0,
            time_offset: 0,
        };
        let connection = self
            .start_connection(dc_id, &addresses, keys, Some(known))
            .await?;
        connection.updates.abort();
        Ok(connection)
    }

    async fn start_connection(
        &self,
        dc_id: i32,
        addresses: &[DcAddress],
        rsa_keys: Vec<mtcrypto::RsaPublicKey>,
        known: Option<mtnet::AuthState>,
    ) -> Result<DcConnection, ClientError> {
        let config = &self.inner.config;
        let wire_dc = config.server.wire_dc_id(dc_id, false);
        let endpoints = config.server.connect.endpoints(addresses, wire_dc);
        let mut sender_config = SenderConfig::new(endpoints, wire_dc, rsa_keys);
        sender_config.request_timeout = config.request_timeout;
        // A follower fetches the difference when pushed updates may have been lost.
        sender_config.report_lost_updates = true;
        let patience = if self.is_unreachable(dc_id) {
            Duration::ZERO
        } else {
            config.connect_patience
        };
        let give_up = tokio::time::Instant::now() + patience;
        let mut attempt = 0;
        let (sender, updates) = loop {
            let source = match Sender::start(sender_config.clone(), known.clone()).await {
                Ok(started) => break started,
                Err(source) => source,
            };
            let backoff = sender_config.backoff.delay(attempt, rand::random());
            let left = give_up.saturating_duration_since(tokio::time::Instant::now());
            match after_connect_failure(&ErrorKind::of_net(&source), attempt, backoff, left) {
                Step::Retry { delay } => {
                    tracing::warn!(dc = dc_id, %source, ?delay, "DC unreachable; retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                step => {
                    if matches!(step, Step::GiveUp(Failure::Exhausted { .. })) {
                        self.set_unreachable(dc_id, true);
                    }
                    return Err(ClientError::Connect { dc: dc_id, source });
                }
            }
        };
        self.set_unreachable(dc_id, false);
        let watcher = tokio::spawn(watch_updates(updates, self.clone_weak()));
        Ok(DcConnection {
            dc_id,
            sender,
            initialized: AtomicBool::new(false),
            updates: watcher,
        })
    }

    fn is_unreachable(&self, dc_id: i32) -> bool {
        self.inner
            .unreachable
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&dc_id)
    }

    fn set_unreachable(&self, dc_id: i32, unreachable: bool) {
        let mut set = self
            .inner
            .unreachable
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if unreachable {
            set.insert(dc_id);
        } else {
            set.remove(&dc_id);
        }
    }

    fn clone_weak(&self) -> std::sync::Weak<super::Inner> {
        Arc::downgrade(&self.inner)
    }

    /// The addresses to try for `dc_id`: the server's list when it has the DC, else the
    /// configured one. CDN, media-only and proxy-only addresses are left out; IPv4 first.
    fn addresses(&self, dc_id: i32) -> Result<Vec<DcAddress>, ClientError> {
        let server = &self.inner.config.server;
        let usable = |a: &DcAddress| {
            a.dc_id == dc_id && !a.flags.cdn && !a.flags.media_only && !a.flags.tcpo_only
        };
        let mut chosen: Vec<DcAddress> = if server.use_server_dc_list {
            self.with_store(|s| s.dc_options())?
                .into_iter()
                .filter(usable)
                .collect()
        } else {
            Vec::new()
        };
        if chosen.is_empty() {
            chosen = server.dcs.iter().filter(|a| usable(a)).cloned().collect();
        }
        if chosen.is_empty() {
            return Err(ClientError::UnknownDc(dc_id));
        }
        chosen.sort_by_key(|a| a.ip.is_ipv6());
        Ok(chosen)
    }

    /// Sends `body`, a request that may run twice (reads, file parts), on `connection`.
    pub(crate) async fn call(
        &self,
        connection: &DcConnection,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, InvokeError> {
        self.call_with(connection, body, Delivery::Idempotent).await
    }

    /// Sends `body` on `connection`, wrapped in `invokeWithLayer(initConnection)` until one
    /// such call has succeeded there.
    pub(crate) async fn call_with(
        &self,
        connection: &DcConnection,
        body: Vec<u8>,
        delivery: Delivery,
    ) -> Result<Vec<u8>, InvokeError> {
        let timeout = self.inner.config.request_timeout;
        let sender = &connection.sender;
        if connection.initialized.load(Ordering::Acquire) {
            return sender.invoke_raw_with(body, timeout, delivery).await;
        }
        let wrapped = self.init_connection(body).to_bytes();
        let answer = sender.invoke_raw_with(wrapped, timeout, delivery).await;
        if answer.is_ok() {
            connection.initialized.store(true, Ordering::Release);
        }
        answer
    }

    /// `invokeWithLayer(LAYER, initConnection(..., query))`.
    fn init_connection(
        &self,
        query: Vec<u8>,
    ) -> functions::InvokeWithLayer<functions::InitConnection<Blob>> {
        let config = &self.inner.config;
        self.init_connection_as(config.api_id, &config.app_version, query)
    }

    /// [`init_connection`](Self::init_connection) naming another app (`api_id`,
    /// `app_version`): how a call on another client's key keeps that client's identity.
    pub(crate) fn init_connection_as(
        &self,
        api_id: i32,
        app_version: &str,
        query: Vec<u8>,
    ) -> functions::InvokeWithLayer<functions::InitConnection<Blob>> {
        let config = &self.inner.config;
        functions::InvokeWithLayer {
            layer: LAYER,
            query: functions::InitConnection {
                api_id,
                device_model: config.device_model.clone(),
                system_version: config.system_version.clone(),
                app_version: app_version.to_owned(),
                system_lang_code: config.system_lang_code.clone(),
                lang_pack: config.lang_pack.clone(),
                lang_code: config.lang_code.clone(),
                proxy: None,
                params: None,
                query: Blob(query),
            },
        }
    }

    /// Fetches `help.getConfig` on `connection` and stores its DC list.
    async fn bootstrap(&self, connection: &DcConnection) -> Result<(), ClientError> {
        let request = functions::help::GetConfig {};
        let body = self
            .call(connection, request.to_bytes())
            .await
            .map_err(|source| ClientError::Invoke {
                dc: connection.dc_id,
                method: functions::help::GetConfig::TL_NAME,
                source,
            })?;
        let enums::Config::Config(config) =
            super::decode_answer::<functions::help::GetConfig>(&body)?;
        let options = dc_addresses(&config.dc_options);
        if options.is_empty() {
            tracing::warn!("help.getConfig listed no usable DC address");
            return Ok(());
        }
        tracing::debug!(
            count = options.len(),
            "stored the DC list from help.getConfig"
        );
        self.with_store(|s| s.replace_dc_options(&options))?;
        Ok(())
    }
}

/// The `dcOption`s that parse, as stored addresses.
pub(crate) fn dc_addresses(options: &[enums::DcOption]) -> Vec<DcAddress> {
    options
        .iter()
        .filter_map(|option| {
            let enums::DcOption::DcOption(o) = option;
            let ip: IpAddr = o.ip_address.parse().ok()?;
            let port = u16::try_from(o.port).ok()?;
            Some(DcAddress {
                dc_id: o.id,
                ip,
                port,
                flags: DcFlags {
                    ipv6: o.ipv6,
                    media_only: o.media_only,
                    tcpo_only: o.tcpo_only,
                    cdn: o.cdn,
                    r#static: o.r#static,
                    this_port_only: o.this_port_only,
                },
                secret: o.secret.clone(),
            })
        })
        .collect()
}

/// Reads a connection's updates until it closes, signalling `updateLoginToken` and
/// forwarding every update to the follower, if one listens.
async fn watch_updates(
    mut updates: mpsc::Receiver<Vec<u8>>,
    client: std::sync::Weak<super::Inner>,
) {
    while let Some(body) = updates.recv().await {
        let Ok(update) = enums::Updates::from_bytes(&body) else {
            continue;
        };
        {
            let Some(inner) = client.upgrade() else {
                return;
            };
            let mut follower = inner.updates.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(sender) = follower.as_ref()
                && sender.send(body).is_err()
            {
                // The follower is gone.
                *follower = None;
            }
        }
        let login_token = match &update {
            enums::Updates::UpdateShort(short) => matches!(short.update, enums::Update::LoginToken),
            enums::Updates::Updates(all) => all
                .updates
                .iter()
                .any(|u| matches!(u, enums::Update::LoginToken)),
            enums::Updates::Combined(all) => all
                .updates
                .iter()
                .any(|u| matches!(u, enums::Update::LoginToken)),
            _ => false,
        };
        if login_token {
            let Some(inner) = client.upgrade() else {
                return;
            };
            tracing::debug!("updateLoginToken");
            inner.login_token.notify_one();
        }
    }
}
