//! The task that owns the connection and the session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mtproto::session::{
    ClientEvent, ClientSession, Delivery, Keepalive, Link, RequestId, SessionError,
};
use rand::Rng;
use rand::rngs::StdRng;
use tl_types::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::config::SenderConfig;
use super::connection::{Connection, Dial};
use super::error::InvokeError;
use super::handle::SenderStatus;
use crate::NetError;
use crate::clock;
use crate::framed::{Incoming, PacketWriter};
use crate::log_limit::WarnLimit;

/// The transport error a server sends for an auth key it does not know.
const AUTH_KEY_UNKNOWN: i32 = -404;
/// How many connections in a row must end in -404, with nothing decrypted on any of them,
/// before the key counts as forgotten. One -404 is not enough: servers send it for other
/// troubles too (a connection that broke mid-packet, a front that lost its state), and
/// dropping a key drops the login it carries.
const KEY_UNKNOWN_CONFIRMATIONS: u32 = 2;

pub(super) type Reply = oneshot::Sender<Result<Vec<u8>, InvokeError>>;

pub(super) enum Command {
    Invoke {
        body: Vec<u8>,
        delivery: Delivery,
        reply: Reply,
    },
    Shutdown,
}

/// Why serving one connection ended.
enum Exit {
    /// Asked to stop, or every handle is gone.
    Shutdown,
    /// The connection broke: reconnect and resend.
    Broken(NetError),
    /// The server answered -404: it may have forgotten our key.
    AuthKeyUnknown,
    /// A ping went unanswered this long: reconnect, through the next endpoint first.
    Stalled(Duration),
}

/// Callers waiting at most before the first sweep for ones that stopped waiting.
const SWEEP_FLOOR: usize = 64;

pub(super) struct Task {
    config: SenderConfig,
    session: ClientSession,
    commands: mpsc::Receiver<Command>,
    updates: mpsc::Sender<Vec<u8>>,
    status: Arc<Mutex<SenderStatus>>,
    pending: HashMap<RequestId, Reply>,
    /// `pending` is swept for callers that stopped waiting when it grows to this size (and
    /// on each new connection), so the sweep costs O(1) a call however many calls wait.
    sweep_at: usize,
    dropped_packets: WarnLimit,
    dropped_updates: WarnLimit,
    /// `new_session_created` notices received so far.
    server_sessions: u64,
    /// Connections in a row that ended in -404 with no packet decrypted.
    key_unknown_reports: u32,
    rng: StdRng,
    dialer: Box<dyn Dial>,
}

impl Task {
    pub(super) fn new(
        config: SenderConfig,
        session: ClientSession,
        commands: mpsc::Receiver<Command>,
        updates: mpsc::Sender<Vec<u8>>,
        status: Arc<Mutex<SenderStatus>>,
        rng: StdRng,
        dialer: Box<dyn Dial>,
    ) -> Self {
        let mut session = session;
        session.set_keepalive(Keepalive {
            interval: config.ping_interval,
            pong_timeout: config.pong_timeout,
        });
        Self {
            config,
            session,
            commands,
            updates,
            status,
            pending: HashMap::new(),
            sweep_at: SWEEP_FLOOR,
            dropped_packets: WarnLimit::new(),
            dropped_updates: WarnLimit::new(),
            server_sessions: 0,
            key_unknown_reports: 0,
            rng,
            dialer,
        }
    }

    pub(super) async fn run(mut self, mut connection: Connection) {
        loop {
            let exit = self.serve(&mut connection).await;
            // A connection whose pings went unanswered may sit behind a filter that lets
            // the connection through and then swallows everything (DPI): the next endpoint
            // is tried first. Other failures keep the endpoint that worked.
            let stalled = matches!(&exit, Exit::Stalled(_));
            match exit {
                Exit::Shutdown => break,
                Exit::AuthKeyUnknown => {
                    self.key_unknown_reports += 1;
                    if self.key_unknown_reports >= KEY_UNKNOWN_CONFIRMATIONS {
                        tracing::warn!(
                            reports = self.key_unknown_reports,
                            "the server does not know our auth key; stopping"
                        );
                        self.update_status(|s| {
                            s.auth = None;
                            s.key_lost = true;
                        });
                        self.fail_all(|| InvokeError::AuthKeyUnknown);
                        return;
                    }
                    tracing::info!(
                        pending = self.pending.len(),
                        "the server answered -404 (auth key unknown); reconnecting to make sure"
                    );
                }
                Exit::Broken(error) => {
                    tracing::info!(%error, pending = self.pending.len(), "connection lost, reconnecting");
                }
                Exit::Stalled(silent_for) => {
                    tracing::info!(
                        ?silent_for,
                        pending = self.pending.len(),
                        "no pong: the connection stalled, reconnecting"
                    );
                }
            }
            let mut preferred = connection.endpoint;
            if stalled && self.config.endpoints.len() > 1 {
                preferred = (preferred + 1) % self.config.endpoints.len();
            }
            drop(connection);
            match self.reconnect(preferred).await {
                Some(next) => {
                    // Updates pushed while no connection was up went nowhere.
                    self.updates_may_be_lost();
                    connection = next;
                }
                None => break,
            }
        }
        self.fail_all(|| InvokeError::Stopped);
    }

    /// Serves one connection until it breaks or the sender stops: feeds the session what
    /// comes (calls, packets, its deadlines) and writes what it yields.
    async fn serve(&mut self, connection: &mut Connection) -> Exit {
        let link = match self.config.endpoints.get(connection.endpoint) {
            Some(endpoint) if endpoint.is_http() => Link::Http,
            _ => Link::Stream,
        };
        // Same key and session on a new connection: everything unanswered goes again (or is
        // asked about, when it must not run twice), except what nobody waits for any more.
        self.forget_abandoned();
        self.session.start_connection(clock::now(), link);
        loop {
            let mut stalled = None;
            for event in self.session.handle_timeout(clock::now()) {
                match event {
                    ClientEvent::Stalled { silent_for } => stalled = Some(silent_for),
                    event => self.dispatch(event),
                }
            }
            if let Some(silent_for) = stalled {
                return Exit::Stalled(silent_for);
            }
            if let Err(error) = self.transmit(&mut connection.writer).await {
                return Exit::Broken(error);
            }
            let wake = self.session.poll_timeout();
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Invoke { body, delivery, reply }) => {
                        self.queue(body, delivery, reply);
                    }
                    Some(Command::Shutdown) | None => return Exit::Shutdown,
                },
                incoming = connection.incoming.recv() => match incoming {
                    Some(Ok(incoming)) => {
                        if let Some(exit) = self.receive(incoming) {
                            return exit;
                        }
                    }
                    Some(Err(error)) if error.transport_code() == Some(AUTH_KEY_UNKNOWN) => {
                        return Exit::AuthKeyUnknown;
                    }
                    Some(Err(error)) => return Exit::Broken(error),
                    None => return Exit::Broken(NetError::Closed),
                },
                () = sleep_until(wake) => {}
            }
        }
    }

    fn queue(&mut self, body: Vec<u8>, delivery: Delivery, reply: Reply) {
        if self.pending.len() >= self.sweep_at {
            self.forget_abandoned();
            self.sweep_at = (self.pending.len() * 2).max(SWEEP_FLOOR);
        }
        match self.session.push_request_with(body, delivery) {
            Ok(id) => {
                self.pending.insert(id, reply);
            }
            Err(error) => {
                let _ = reply.send(Err(error.into()));
            }
        }
    }

    /// Sends everything the session has due.
    async fn transmit(&mut self, writer: &mut PacketWriter) -> Result<(), NetError> {
        let now = clock::unix_time();
        while let Some(transmit) = self.session.poll_transmit(now, &mut self.rng) {
            tracing::trace!(
                container = ?transmit.container,
                msg_ids = ?transmit.msg_ids,
                resent = transmit.resent,
                acks = transmit.acks,
                bytes = transmit.packet.len(),
                "sent"
            );
            writer.send(&transmit.packet).await?;
        }
        Ok(())
    }

    fn receive(&mut self, incoming: Incoming) -> Option<Exit> {
        match incoming {
            Incoming::Packet(mut packet) | Incoming::PacketWithQuickAck(mut packet) => {
                match self.session.handle_packet(&mut packet, clock::unix_time()) {
                    Ok(events) => {
                        // The server decrypted our messages and we its: it knows the key.
                        self.key_unknown_reports = 0;
                        for event in events {
                            trace_received(&event);
                            self.dispatch(event);
                        }
                    }
                    // A packet seen before: the server resending what we may have missed.
                    Err(error @ SessionError::Duplicate { .. }) => {
                        tracing::debug!(%error, "dropped a packet from the server");
                    }
                    // A packet the session refuses (tampered, replayed) changes nothing.
                    Err(error) => {
                        if let Some(suppressed) = self.dropped_packets.allow() {
                            tracing::warn!(%error, suppressed, "dropped a packet from the server");
                        }
                    }
                }
                None
            }
            Incoming::QuickAck(token) => {
                self.session.handle_quick_ack(token);
                None
            }
            Incoming::TransportError(AUTH_KEY_UNKNOWN) => Some(Exit::AuthKeyUnknown),
            Incoming::TransportError(code) => Some(Exit::Broken(NetError::Transport { code })),
        }
    }

    fn dispatch(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::Response { id, result } => {
                if let Some(reply) = self.pending.remove(&id) {
                    let _ = reply.send(result.map_err(InvokeError::Rpc));
                }
            }
            ClientEvent::Rejected { id, error_code } => {
                if let Some(reply) = self.pending.remove(&id) {
                    let _ = reply.send(Err(InvokeError::Rejected(error_code)));
                }
            }
            ClientEvent::Uncertain { id } => {
                if let Some(reply) = self.pending.remove(&id) {
                    let _ = reply.send(Err(InvokeError::Uncertain));
                }
            }
            ClientEvent::Update(body) => {
                if self.updates.try_send(body).is_err()
                    && let Some(suppressed) = self.dropped_updates.allow()
                {
                    tracing::warn!(
                        suppressed,
                        "update dropped: the application is not taking updates"
                    );
                }
            }
            ClientEvent::NewSession { .. } => {
                // The first one only confirms the session this sender began with.
                if self.server_sessions > 0 {
                    tracing::debug!(
                        "the server started a new session; updates may have been missed"
                    );
                    self.updates_may_be_lost();
                }
                self.server_sessions += 1;
            }
            // Handled where timeouts are (it ends the connection).
            ClientEvent::Stalled { .. } => {}
        }
        let salt = self.session.salt();
        let offset = self.session.time_offset_secs();
        self.update_status(|s| {
            if let Some(auth) = &mut s.auth {
                auth.salt = salt;
                auth.time_offset = offset;
            }
        });
    }

    /// Drops requests whose callers stopped waiting, so their answers are not kept.
    fn forget_abandoned(&mut self) {
        let session = &mut self.session;
        self.pending.retain(|id, reply| {
            let waiting = !reply.is_closed();
            if !waiting {
                session.cancel(*id);
            }
            waiting
        });
    }

    /// Reconnects with backoff, falling back through the endpoints, until it works or the
    /// sender is stopped.
    async fn reconnect(&mut self, preferred: usize) -> Option<Connection> {
        for attempt in 0.. {
            let wait = self.config.backoff.delay(attempt, self.rng.r#gen());
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                command = self.commands.recv() => match command {
                    Some(Command::Invoke { body, delivery, reply }) => {
                        self.queue(body, delivery, reply);
                    }
                    Some(Command::Shutdown) | None => return None,
                },
            }
            let connected = self.dialer.dial(&self.config.endpoints, preferred).await;
            match connected {
                Ok((endpoint, reader, writer)) => {
                    self.update_status(|s| {
                        s.endpoint = Some(endpoint);
                        s.connections += 1;
                    });
                    return Some(Connection::new(reader, writer, endpoint));
                }
                Err(error) => tracing::info!(%error, attempt, "reconnection failed"),
            }
        }
        None
    }

    /// Tells the application that pushed updates may have been lost, the way the server
    /// itself says so: an `updatesTooLong` in the updates channel (the application fetches
    /// the difference).
    fn updates_may_be_lost(&mut self) {
        if !self.config.report_lost_updates {
            return;
        }
        let too_long = tl_types::api::enums::Updates::TooLong.to_bytes();
        if self.updates.try_send(too_long).is_err()
            && let Some(suppressed) = self.dropped_updates.allow()
        {
            tracing::warn!(
                suppressed,
                "update dropped: the application is not taking updates"
            );
        }
    }

    fn fail_all(&mut self, error: impl Fn() -> InvokeError) {
        for (_, reply) in self.pending.drain() {
            let _ = reply.send(Err(error()));
        }
        while let Ok(command) = self.commands.try_recv() {
            if let Command::Invoke { reply, .. } = command {
                let _ = reply.send(Err(error()));
            }
        }
    }

    fn update_status(&self, change: impl FnOnce(&mut SenderStatus)) {
        change(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// Sleeps until the session's next deadline, or for good when it has none.
async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(deadline) => clock::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// What an event was, at trace level: ids and sizes, never the bytes (answers carry login
/// tokens, exported authorizations and file parts).
fn trace_received(event: &ClientEvent) {
    match event {
        ClientEvent::Response { id, result } => match result {
            Ok(body) => tracing::trace!(?id, bytes = body.len(), "answer"),
            Err(error) => tracing::trace!(?id, %error, "answer"),
        },
        ClientEvent::Update(body) => tracing::trace!(bytes = body.len(), "update"),
        ClientEvent::NewSession { first_msg_id, .. } => {
            tracing::trace!(first_msg_id, "new_session_created");
        }
        ClientEvent::Rejected { id, error_code } => tracing::trace!(?id, error_code, "rejected"),
        ClientEvent::Uncertain { id } => tracing::trace!(?id, "uncertain"),
        ClientEvent::Stalled { silent_for } => tracing::trace!(?silent_for, "stalled"),
    }
}
