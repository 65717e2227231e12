//! Encrypted packets: the key is looked up, the packet opened and handed to its session;
//! the session's requests are dispatched and its output sent back on this connection.

use std::sync::Arc;

use mtproto::session::{ServerEvent, open_client_packet};
use tl_types::Serialize;
use tl_types::mtproto::{enums, types};

use super::writer::Outbound;
use super::{Answered, Bound, Connection, End, MAX_SESSIONS_PER_CONNECTION, unix_time};
use crate::keys::{KeyEntry, lock};
use crate::rpc::{self, Prepared, errors};
use crate::transport::Packet;

/// Transport error code for an unknown auth key (and for a packet that does not decrypt).
const KEY_NOT_FOUND: i32 = -404;
/// Packets one flush sends at most before yielding (the rest goes on the next flush).
const MAX_PACKETS_PER_FLUSH: usize = 256;

impl Connection {
    pub(super) async fn on_encrypted(
        &mut self,
        key_id: u64,
        mut packet: Packet,
    ) -> Result<(), End> {
        let Some(key) = self.dc.keys.get(key_id) else {
            self.send(Outbound::TransportError(KEY_NOT_FOUND)).await?;
            return Err(End::UnknownKey(key_id));
        };
        let opened = match open_client_packet(key.auth_key(), &mut packet.payload) {
            Ok(opened) => opened,
            Err(error) => {
                // A real DC treats a packet it cannot open like an unknown key.
                tracing::info!(%error, "undecryptable packet");
                self.send(Outbound::TransportError(KEY_NOT_FOUND)).await?;
                return Err(End::BadPacket(error.to_string()));
            }
        };
        let quick_ack = packet.quick_ack_requested.then_some(opened.quick_ack);
        let bound = self.bind(&key, opened.header.session_id);
        self.http_bind(&bound);
        let salts = key.salts();
        let events = lock(&bound.session).handle_message(&opened, &salts, unix_time());
        if let Some(token) = quick_ack {
            self.send(Outbound::QuickAck(token)).await?;
        }
        match events {
            Ok(events) => {
                for event in events {
                    self.on_event(&bound, event).await?;
                }
            }
            // The session refused the packet and is unchanged; the connection goes on.
            Err(error) => tracing::debug!(%error, "packet refused by the session"),
        }
        self.flush(&bound).await
    }

    /// The session `session_id` of `key` on this connection. A session first seen here
    /// that existed before (the client reconnected) sends again what it had sent and the
    /// client did not acknowledge.
    fn bind(&mut self, key: &Arc<KeyEntry>, session_id: i64) -> Bound {
        if let Some(bound) = self.sessions.get(&(key.id(), session_id)) {
            return bound.clone();
        }
        let (session, created) = key.session(session_id, &mut self.rng);
        // Over HTTP every request may come on another connection: nothing is resent for it.
        if !created && self.http.is_none() {
            lock(&session).requeue_unacknowledged();
        }
        if self.sessions.len() >= MAX_SESSIONS_PER_CONNECTION
            && let Some(stale) = self.sessions.keys().next().copied()
        {
            self.sessions.remove(&stale);
        }
        let bound = Bound {
            key: Arc::clone(key),
            session,
        };
        self.sessions.insert((key.id(), session_id), bound.clone());
        bound
    }

    async fn on_event(&mut self, bound: &Bound, event: ServerEvent) -> Result<(), End> {
        match event {
            ServerEvent::Request { msg_id, body } => self.dispatch(bound, msg_id, &body).await,
            ServerEvent::SessionCreated { first_msg_id } => {
                tracing::debug!(first_msg_id, "session created");
                Ok(())
            }
            ServerEvent::DisconnectAfter { delay } => {
                self.disconnect_at = (!delay.is_zero()).then(|| std::time::Instant::now() + delay);
                Ok(())
            }
            ServerEvent::DestroySession { msg_id, session_id } => {
                let existed = bound.key.destroy_session(session_id);
                if session_id != lock(&bound.session).session_id() {
                    self.sessions.remove(&(bound.key.id(), session_id));
                }
                let answer: enums::DestroySessionRes = if existed {
                    types::DestroySessionOk { session_id }.into()
                } else {
                    types::DestroySessionNone { session_id }.into()
                };
                respond(bound, msg_id, Ok(answer.to_bytes()));
                Ok(())
            }
            ServerEvent::Cancelled { msg_id } => {
                tracing::debug!(msg_id, "request dropped by the client");
                Ok(())
            }
            // Only an HTTP request can be held; streams ignore it.
            ServerEvent::HttpWait {
                max_delay,
                wait_after,
                max_wait,
            } => {
                self.http_wait(max_delay, wait_after, max_wait);
                Ok(())
            }
        }
    }

    /// Runs one request as a task of its own. At the in-flight limit this waits for a
    /// slot, and the connection reads nothing meanwhile.
    async fn dispatch(&mut self, bound: &Bound, msg_id: i64, body: &[u8]) -> Result<(), End> {
        let session_id = lock(&bound.session).session_id();
        let key_id = bound.key.id();
        let wake_tx = self.answered_tx.clone();
        let wake: rpc::Wake = Arc::new(move || {
            let _ = wake_tx.send(Answered { key_id, session_id });
        });
        let push = rpc::SessionPush::new(
            &bound.session,
            &self.dc.http_polls,
            key_id,
            session_id,
            wake,
        );
        let prepared = rpc::prepare(&self.dc, &bound.key, session_id, msg_id, body, push);
        let permit = Arc::clone(&self.inflight)
            .acquire_owned()
            .await
            .map_err(|_| End::WriterGone)?;
        let dc = Arc::clone(&self.dc);
        let bound = bound.clone();
        let answered = self.answered_tx.clone();
        tokio::spawn(async move {
            let (name, result) = match prepared {
                Prepared::Call {
                    name,
                    handler,
                    ctx,
                    body,
                } => (name, handler.call(ctx, body).await),
                Prepared::Answered(result) => ("(none)", result),
            };
            match &result {
                Ok(object) => {
                    tracing::debug!(method = name, msg_id, bytes = object.len(), "answered");
                }
                Err(error) => {
                    tracing::debug!(method = name, msg_id, %error, "answered with an error");
                }
            }
            let delay = dc.faults.response_delay();
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            respond(&bound, msg_id, result);
            // A request of the session held on another HTTP connection may take the answer.
            dc.http_polls.output(bound.key.id(), session_id);
            // The connection may be gone: the answer then waits in the session.
            let _ = answered.send(Answered {
                key_id: bound.key.id(),
                session_id,
            });
            drop(permit);
        });
        Ok(())
    }

    /// Sends what the session has for the client (over HTTP: answers the held request,
    /// when due, with one packet).
    pub(super) async fn flush(&mut self, bound: &Bound) -> Result<(), End> {
        if self.http.is_some() {
            return self.http_flush(bound).await;
        }
        let salts = bound.key.salts();
        let now = unix_time();
        let packets: Vec<Vec<u8>> = {
            let mut session = lock(&bound.session);
            std::iter::from_fn(|| session.poll_transmit(&salts, now, &mut self.rng))
                .take(MAX_PACKETS_PER_FLUSH)
                .collect()
        };
        for packet in packets {
            self.send(Outbound::Encrypted(packet)).await?;
        }
        Ok(())
    }
}

/// Queues an answer in its session; an answer too large to send becomes `500 INTERNAL`.
fn respond(bound: &Bound, msg_id: i64, result: rpc::RpcResult) {
    let mut session = lock(&bound.session);
    if let Err(error) = session.respond(msg_id, result) {
        tracing::warn!(%error, msg_id, "answer cannot be sent");
        let _ = session.respond(msg_id, Err(errors::internal()));
    }
}
