//! The handle callers hold: cheap to clone, usable from any task.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mtproto::handshake::ClientHandshake;
use mtproto::session::{ClientSession, Delivery};
use tl_types::{Deserialize, RemoteCall};
use tokio::sync::{mpsc, oneshot};

use super::config::{AuthState, SenderConfig};
use super::connection::{Connection, Network, connect_any};
use super::error::InvokeError;
use super::task::{Command, Task};
use crate::NetError;
use crate::clock::{unix_secs, unix_time};
use crate::handshake::client_handshake;
use crate::rng::secure_rng;

/// How many calls may wait for the sender task; beyond that `invoke` waits for room, which
/// is the backpressure callers feel.
const COMMAND_QUEUE: usize = 4096;
/// Updates the application has not taken yet; beyond that new ones are dropped (and logged)
/// rather than stalling the connection.
const UPDATE_QUEUE: usize = 1024;

/// What the sender is doing, for observers (tests, progress displays).
#[derive(Debug, Clone, Default)]
pub struct SenderStatus {
    /// Index of the endpoint the current (or last) connection uses.
    pub endpoint: Option<usize>,
    /// Connections made so far, the first included.
    pub connections: u64,
    /// The key in use and what the session learned, for saving.
    pub auth: Option<AuthState>,
    /// The server said it does not know the key: every call from now on fails with
    /// [`InvokeError::AuthKeyUnknown`].
    pub key_lost: bool,
}

/// A connection to one DC, shared by every caller.
#[derive(Debug, Clone)]
pub struct Sender {
    commands: mpsc::Sender<Command>,
    status: Arc<Mutex<SenderStatus>>,
    request_timeout: Duration,
}

impl Sender {
    /// Connects (trying the endpoints in order), makes an auth key if `auth` is `None`, and
    /// starts the sender task. Returns the handle and the channel of server updates.
    pub async fn start(
        config: SenderConfig,
        auth: Option<AuthState>,
    ) -> Result<(Sender, mpsc::Receiver<Vec<u8>>), NetError> {
        let mut rng = secure_rng()?;
        let keys = config.rsa_keys.clone();
        let (dc_id, handshake_timeout) = (config.dc_id, config.handshake_timeout);
        let (endpoint, reader, writer, auth) =
            connect_any(&config.endpoints, 0, |mut reader, mut writer| {
                let keys = keys.clone();
                let known = auth.clone();
                async move {
                    let mut rng = secure_rng()?;
                    let auth = if let Some(auth) = known {
                        auth
                    } else {
                        let trusted = keys.into_iter().map(|k| Box::new(k) as _).collect();
                        let handshake = ClientHandshake::new(trusted, dc_id, None);
                        let outcome = client_handshake(
                            &mut reader,
                            &mut writer,
                            handshake,
                            &mut rng,
                            handshake_timeout,
                        )
                        .await?;
                        AuthState {
                            auth_key: outcome.auth_key,
                            salt: outcome.server_salt,
                            time_offset: i64::from(outcome.server_time) - i64::from(unix_secs()),
                        }
                    };
                    Ok((reader, writer, auth))
                }
            })
            .await?;

        let mut session = ClientSession::new(auth.auth_key.clone(), auth.salt, &mut rng);
        session.set_time_offset_secs(auth.time_offset, unix_time());
        let status = Arc::new(Mutex::new(SenderStatus {
            endpoint: Some(endpoint),
            connections: 1,
            auth: Some(auth),
            key_lost: false,
        }));
        let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let (updates, update_rx) = mpsc::channel(UPDATE_QUEUE);
        let request_timeout = config.request_timeout;
        let task = Task::new(
            config,
            session,
            command_rx,
            updates,
            status.clone(),
            rng,
            Box::new(Network),
        );
        tokio::spawn(task.run(Connection::new(reader, writer, endpoint)));
        Ok((
            Sender {
                commands,
                status,
                request_timeout,
            },
            update_rx,
        ))
    }

    /// Sends `request` and waits for its result, up to the configured request timeout.
    ///
    /// Cancel-safe: dropping the future drops the caller's interest; the request may still
    /// reach the server, and its answer is then discarded.
    pub async fn invoke<R: RemoteCall>(&self, request: &R) -> Result<R::Return, InvokeError> {
        self.invoke_with_timeout(request, self.request_timeout)
            .await
    }

    /// [`invoke`](Self::invoke) with a limit of the caller's choosing.
    pub async fn invoke_with_timeout<R: RemoteCall>(
        &self,
        request: &R,
        timeout: Duration,
    ) -> Result<R::Return, InvokeError> {
        let body = self.invoke_raw(request.to_bytes(), timeout).await?;
        Ok(R::Return::from_bytes(&body)?)
    }

    /// Sends an already serialized request and returns the raw result object.
    pub async fn invoke_raw(
        &self,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, InvokeError> {
        self.invoke_raw_with(body, timeout, Delivery::Idempotent)
            .await
    }

    /// [`invoke_raw`](Self::invoke_raw) for a request that must not run twice when the
    /// connection breaks under it ([`Delivery::AtMostOnce`]): it may then end in
    /// [`InvokeError::Uncertain`].
    pub async fn invoke_raw_with(
        &self,
        body: Vec<u8>,
        timeout: Duration,
        delivery: Delivery,
    ) -> Result<Vec<u8>, InvokeError> {
        let (reply, answer) = oneshot::channel();
        let call = async {
            self.commands
                .send(Command::Invoke {
                    body,
                    delivery,
                    reply,
                })
                .await
                .map_err(|_| self.stopped())?;
            answer.await.map_err(|_| self.stopped())?
        };
        tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| InvokeError::Timeout(timeout))?
    }

    /// Why a call found the task gone.
    fn stopped(&self) -> InvokeError {
        if self.status().key_lost {
            InvokeError::AuthKeyUnknown
        } else {
            InvokeError::Stopped
        }
    }

    /// A snapshot of what the sender is doing.
    pub fn status(&self) -> SenderStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops the sender task; calls still waiting get [`InvokeError::Stopped`].
    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown).await;
    }
}
