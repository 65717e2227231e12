//! Encrypted packets: the key is looked up, the packet opened and handed to its session;
//! the session's requests are dispatched and its output sent back on this connection.

use std::sync::Arc;

use std::time::Duration;

use mtproto::encrypted::Decrypted;
use mtproto::session::{RpcError, ServerEvent, UnixTime, open_client_packet};
use tl_types::Serialize;
use tl_types::mtproto::{enums, types};

use super::writer::Outbound;
use super::{Bound, Connection, End, MAX_SESSIONS_PER_CONNECTION};
use crate::keys::KeyEntry;
use crate::rpc::{self, Prepared, errors};
use crate::sync::lock;
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
        if self.dc.faults.take_spurious_404() {
            tracing::debug!(key_id, "spurious -404 (fault)");
            self.send(Outbound::TransportError(KEY_NOT_FOUND)).await?;
            return Err(End::BadPacket("spurious -404 (fault)".to_owned()));
        }
        let opened = match open_client_packet(key.auth_key(), &mut packet.payload) {
            Ok(opened) => opened,
            Err(error) => {
                // A real DC treats a packet it cannot open like an unknown key.
                tracing::info!(%error, "undecryptable packet");
                self.send(Outbound::TransportError(KEY_NOT_FOUND)).await?;
                return Err(End::BadPacket(error.to_string()));
            }
        };
        // A quirk: quick acks are the server's to give; some keys get none.
        let quick_ack = (packet.quick_ack_requested
            && self.dc.faults.quirks().gives_quick_acks(key_id))
        .then_some(opened.quick_ack);
        let bound = self.bind(&key, opened.header.session_id);
        self.http_bind(&bound);
        let now = self.dc.faults.now();
        if bound.clock != self.dc.faults.clock_generation()
            && !key.executed_any(opened.header.session_id, &message_ids(&opened))
        {
            // The clock was set back since this session began: a new session follows it.
            tracing::debug!(
                msg_id = opened.header.msg_id,
                "clock set back: session renewed"
            );
            refuse(&bound, &opened, 32, now);
            return self.flush(&bound).await;
        }
        if self.dc.faults.storm_left() > 0
            && !key.executed_any(opened.header.session_id, &message_ids(&opened))
            && let Some(code) = self.dc.faults.take_storm()
        {
            tracing::debug!(code, msg_id = opened.header.msg_id, "bad_msg storm");
            refuse(&bound, &opened, code, now);
            if let Some(token) = quick_ack {
                self.send(Outbound::QuickAck(token)).await?;
            }
            return self.flush(&bound).await;
        }
        let salts = key.salts();
        let events = lock(&bound.session).handle_message(&opened, &salts, now);
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
        let (session, created, clock) = key.session_in(
            session_id,
            &mut self.rng,
            self.dc.faults.clock_generation(),
            self.dc.faults.quirks(),
        );
        // Over HTTP every request may come on another connection: nothing is resent for it.
        if !created && self.http.is_none() {
            lock(&session).requeue_unacknowledged();
        }
        if created {
            // Idle sessions go, even when no connection closes.
            self.dc.keys.trim(mtnet::clock::now());
        }
        if self.sessions.len() >= MAX_SESSIONS_PER_CONNECTION
            && let Some(stale) = self.sessions.keys().next().copied()
            && let Some(stale_bound) = self.sessions.remove(&stale)
        {
            self.dc.carriers.release(stale, self.id);
            self.dc
                .keys
                .release(&stale_bound.key, stale.1, stale_bound.session);
        }
        let bound = Bound {
            key: Arc::clone(key),
            session,
            clock,
        };
        let slot = (key.id(), session_id);
        self.sessions.insert(slot, bound.clone());
        // Over HTTP, output for the session goes out on its held request (`HttpPolls`).
        if self.http.is_none() {
            self.dc.carriers.carry(slot, self.id, self.wake_for(slot));
        }
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
                self.disconnect_at = (!delay.is_zero()).then(|| mtnet::clock::now() + delay);
                Ok(())
            }
            ServerEvent::DestroySession { msg_id, session_id } => {
                let existed = bound.key.destroy_session(session_id);
                if session_id != lock(&bound.session).session_id() {
                    self.sessions.remove(&(bound.key.id(), session_id));
                    self.dc
                        .carriers
                        .release((bound.key.id(), session_id), self.id);
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
            // A quirk: a server that does not take `http_wait` answers it at once with an
            // error (as an independent server did), and the HTTP request is not held.
            ServerEvent::HttpWait { msg_id, .. }
                if self
                    .dc
                    .faults
                    .quirks()
                    .refuses_http_wait(bound.key.id(), lock(&bound.session).session_id()) =>
            {
                self.dc.faults.count_refused_http_wait();
                respond(bound, msg_id, Err(RpcError::new(400, "METHOD_INVALID")));
                Ok(())
            }
            // Only an HTTP request can be held; streams ignore it.
            ServerEvent::HttpWait {
                max_delay,
                wait_after,
                max_wait,
                ..
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
        let push = rpc::SessionPush::new(
            &bound.session,
            &self.dc.http_polls,
            key_id,
            session_id,
            self.wake_for((key_id, session_id)),
        )
        .on_dc(&self.dc);
        bound.key.note_executed(session_id, msg_id);
        // Over HTTP every request may come on another connection: nothing to hold to.
        let init_due = self.dc.faults.quirks().requires_init_per_connection()
            && self.http.is_none()
            && !self.inited_keys.contains(&key_id);
        let prepared = rpc::prepare(
            &self.dc, &bound.key, session_id, msg_id, body, push, init_due,
        );
        if prepared.inits_connection() {
            self.inited_keys.insert(key_id);
        }
        let permit = Arc::clone(&self.inflight)
            .acquire_owned()
            .await
            .map_err(|_| End::WriterGone)?;
        let dc = Arc::clone(&self.dc);
        let bound = bound.clone();
        let answered = self.wake_for((key_id, session_id));
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
            // The connection the request came on sends it (over HTTP, as the response it
            // holds), and so does whichever connection carries the session now (the client
            // may have reconnected meanwhile); with neither, it waits in the session.
            answered();
            dc.carriers.wake((key_id, session_id));
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
        let now = self.dc.faults.now();
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

/// `bad_msg_notification` storm: refuses a whole packet with `code`, leaving the session
/// as it was (nothing in the packet is handled or remembered). 16 and 17 and 48 go through
/// the session's own checks, fed a clock pushed past the msg_id window or the key's salts
/// rotated, so the notification is exactly what a real check sends; 32 and 33 are queued
/// as a notification about the packet.
fn refuse(bound: &Bound, opened: &Decrypted<'_>, code: i32, now: UnixTime) {
    let header = opened.header;
    let mut session = lock(&bound.session);
    let window = Duration::from_mins(10);
    let refused = match code {
        16 => session.handle_message(opened, &bound.key.salts(), now + window),
        17 => session.handle_message(opened, &bound.key.salts(), now.saturating_sub(window)),
        48 => {
            bound.key.rotate_salts();
            session.handle_message(opened, &bound.key.salts(), now)
        }
        _ => {
            let bad = types::BadMsgNotification {
                bad_msg_id: header.msg_id,
                bad_msg_seqno: header.seq_no,
                error_code: code,
            };
            session.push_update(bad.to_bytes()).map(|()| Vec::new())
        }
    };
    match refused {
        Ok(events) if events.is_empty() => {}
        Ok(events) => tracing::warn!(?events, code, "storm: the session did not refuse"),
        Err(error) => tracing::debug!(%error, code, "storm: packet refused by the session"),
    }
}

/// The msg_ids a packet carries: its own, and those inside a container.
fn message_ids(opened: &Decrypted<'_>) -> Vec<i64> {
    let mut ids = vec![opened.header.msg_id];
    let body = opened.body;
    let word = |at: usize| {
        body.get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    };
    if word(0) != Some(MSG_CONTAINER) {
        return ids;
    }
    let count = word(4).unwrap_or(0);
    let mut at = 8;
    for _ in 0..count.min(1024) {
        let Some(id) = body
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(i64::from_le_bytes)
        else {
            break;
        };
        ids.push(id);
        let Some(len) = word(at + 12) else { break };
        at = at.saturating_add(16).saturating_add(len as usize);
    }
    ids
}

/// `msg_container#73f1f8dc`.
const MSG_CONTAINER: u32 = 0x73f1_f8dc;

/// Queues an answer in its session; an answer too large to send becomes `500 INTERNAL`.
fn respond(bound: &Bound, msg_id: i64, result: rpc::RpcResult) {
    let mut session = lock(&bound.session);
    if let Err(error) = session.respond(msg_id, result) {
        tracing::warn!(%error, msg_id, "answer cannot be sent");
        let _ = session.respond(msg_id, Err(errors::internal()));
    }
}
