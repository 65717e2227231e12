//! The task that owns the connection and the session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mtproto::session::{ClientEvent, ClientSession, Delivery, RequestId, SessionError, UnixTime};
use rand::Rng;
use rand::rngs::StdRng;
use tl_types::Serialize;
use tl_types::mtproto::functions::PingDelayDisconnect;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};

use super::config::SenderConfig;
use super::connection::{Connection, connect_any};
use super::error::InvokeError;
use super::handle::SenderStatus;
use crate::NetError;
use crate::clock::unix_time as now;
use crate::connect::Endpoint;
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
    /// The connection broke or stalled: reconnect and resend.
    Broken(NetError),
    /// The server answered -404: it may have forgotten our key.
    AuthKeyUnknown,
}

/// How long an HTTP long poll may be held by the server (`http_wait.max_wait`, ms); below
/// the HTTP carrier's response timeout.
const HTTP_MAX_WAIT_MS: i32 = 25_000;
const HTTP_POLL_LIFETIME: Duration = Duration::from_secs(25);
/// A long poll that came back with nothing for us (a server that does not hold requests,
/// or answers `http_wait` with an error) is renewed after this pause, doubling each time
/// up to [`HTTP_BACKOFF_BUSY`] while calls wait for answers and [`HTTP_BACKOFF_IDLE`]
/// otherwise; anything useful received resets it.
const HTTP_BACKOFF_MIN: Duration = Duration::from_millis(25);
const HTTP_BACKOFF_BUSY: Duration = Duration::from_secs(1);
const HTTP_BACKOFF_IDLE: Duration = Duration::from_secs(10);

/// A ping on its way, to tell a live connection from a stalled one.
struct Ping {
    request: RequestId,
    sent: Instant,
}

pub(super) struct Task {
    config: SenderConfig,
    session: ClientSession,
    commands: mpsc::Receiver<Command>,
    updates: mpsc::Sender<Vec<u8>>,
    status: Arc<Mutex<SenderStatus>>,
    pending: HashMap<RequestId, Reply>,
    ping: Option<Ping>,
    /// Over HTTP the server can only answer requests: an `http_wait` must ride along whenever
    /// the session is flushed, and be renewed when a long poll ran out.
    http_poll_due: bool,
    last_http_poll: Instant,
    /// No new long poll before this (see [`HTTP_BACKOFF_MIN`]).
    next_http_poll: Instant,
    http_backoff: Duration,
    dropped_packets: WarnLimit,
    dropped_updates: WarnLimit,
    /// Connections in a row that ended in -404 with no packet decrypted.
    key_unknown_reports: u32,
    rng: StdRng,
}

impl Task {
    pub(super) fn new(
        config: SenderConfig,
        session: ClientSession,
        commands: mpsc::Receiver<Command>,
        updates: mpsc::Sender<Vec<u8>>,
        status: Arc<Mutex<SenderStatus>>,
        rng: StdRng,
    ) -> Self {
        Self {
            config,
            session,
            commands,
            updates,
            status,
            pending: HashMap::new(),
            ping: None,
            http_poll_due: true,
            last_http_poll: Instant::now(),
            next_http_poll: Instant::now(),
            http_backoff: Duration::ZERO,
            dropped_packets: WarnLimit::new(),
            dropped_updates: WarnLimit::new(),
            key_unknown_reports: 0,
            rng,
        }
    }

    pub(super) async fn run(mut self, mut connection: Connection) {
        loop {
            let exit = self.serve(&mut connection).await;
            // A connection whose pings went unanswered may sit behind a filter that lets
            // the connection through and then swallows everything (DPI): the next endpoint
            // is tried first. Other failures keep the endpoint that worked.
            let stalled = matches!(
                &exit,
                Exit::Broken(NetError::Timeout {
                    operation: "pong",
                    ..
                })
            );
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
            }
            let mut preferred = connection.endpoint;
            if stalled && self.config.endpoints.len() > 1 {
                preferred = (preferred + 1) % self.config.endpoints.len();
            }
            drop(connection);
            match self.reconnect(preferred).await {
                Some(next) => connection = next,
                None => break,
            }
            // Same key and session on the new connection: everything unanswered goes again
            // (or is asked about, when it must not run twice).
            self.session.requeue_unanswered(now());
            self.ping = None;
        }
        self.fail_all(|| InvokeError::Stopped);
    }

    /// Serves one connection until it breaks or the sender stops.
    async fn serve(&mut self, connection: &mut Connection) -> Exit {
        let mut pings = tokio::time::interval(self.config.ping_interval);
        pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let http = self
            .config
            .endpoints
            .get(connection.endpoint)
            .is_some_and(Endpoint::is_http);
        self.http_poll_due = http;
        loop {
            for event in self.session.handle_timeout(now()) {
                self.dispatch(event);
            }
            if http {
                self.keep_http_poll_open();
            }
            if let Err(error) = self.transmit(&mut connection.writer).await {
                return Exit::Broken(error);
            }
            let mut wake = self
                .session
                .poll_timeout()
                .map_or_else(|| Instant::now() + Duration::from_hours(1), instant_of);
            if http {
                wake = wake.min(self.last_http_poll + HTTP_POLL_LIFETIME);
                if self.http_poll_due {
                    wake = wake.min(self.next_http_poll);
                }
            }
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
                _ = pings.tick() => {
                    if let Some(exit) = self.ping() {
                        return exit;
                    }
                    self.forget_abandoned();
                }
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// Over HTTP: a packet that brought nothing for a call or the application (a long poll
    /// the server did not hold) delays the next long poll, more each time; a useful one
    /// lets it go at once.
    fn pace_http_polls(&mut self, events: &[ClientEvent]) {
        let useful = events.iter().any(|event| {
            matches!(
                event,
                ClientEvent::Response { .. }
                    | ClientEvent::Update(_)
                    | ClientEvent::Rejected { .. }
                    | ClientEvent::Uncertain { .. }
            )
        });
        if useful {
            self.http_backoff = Duration::ZERO;
            self.next_http_poll = Instant::now();
            return;
        }
        let cap = if self.pending.is_empty() {
            HTTP_BACKOFF_IDLE
        } else {
            HTTP_BACKOFF_BUSY
        };
        self.http_backoff = (self.http_backoff * 2).clamp(HTTP_BACKOFF_MIN, cap);
        self.next_http_poll = Instant::now() + self.http_backoff;
    }

    /// Sends an `http_wait` with the next packet when something was queued or received, or
    /// when the last long poll has run out.
    fn keep_http_poll_open(&mut self) {
        let expired = self.last_http_poll.elapsed() >= HTTP_POLL_LIFETIME;
        let due = self.http_poll_due && Instant::now() >= self.next_http_poll;
        if due || expired {
            self.session.push_http_wait(0, 0, HTTP_MAX_WAIT_MS);
            self.last_http_poll = Instant::now();
            self.http_poll_due = false;
        }
    }

    fn queue(&mut self, body: Vec<u8>, delivery: Delivery, reply: Reply) {
        // The request goes out now, and an `http_wait` rides along.
        self.http_poll_due = true;
        self.next_http_poll = Instant::now();
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
        let now = now();
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
                self.http_poll_due = true;
                match self.session.handle_packet(&mut packet, now()) {
                    Ok(events) => {
                        // The server decrypted our messages and we its: it knows the key.
                        self.key_unknown_reports = 0;
                        self.pace_http_polls(&events);
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
                if self.ping.as_ref().is_some_and(|p| p.request == id) {
                    self.ping = None;
                } else if let Some(reply) = self.pending.remove(&id) {
                    let _ = reply.send(result.map_err(InvokeError::Rpc));
                }
            }
            ClientEvent::Rejected { id, error_code } => {
                if self.ping.as_ref().is_some_and(|p| p.request == id) {
                    self.ping = None;
                } else if let Some(reply) = self.pending.remove(&id) {
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
                tracing::debug!("the server started a new session; updates may have been missed");
            }
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

    /// Sends a ping, or reports a stall if the previous one went unanswered too long.
    fn ping(&mut self) -> Option<Exit> {
        if let Some(ping) = &self.ping {
            if ping.sent.elapsed() >= self.config.pong_timeout {
                return Some(Exit::Broken(NetError::Timeout {
                    operation: "pong",
                    after: self.config.pong_timeout,
                }));
            }
            return None;
        }
        let grace = self.config.ping_interval + self.config.pong_timeout;
        let body = PingDelayDisconnect {
            ping_id: self.rng.r#gen(),
            disconnect_delay: i32::try_from(grace.as_secs()).unwrap_or(i32::MAX).max(1),
        }
        .to_bytes();
        match self.session.push_request(body) {
            Ok(request) => {
                self.ping = Some(Ping {
                    request,
                    sent: Instant::now(),
                });
            }
            Err(error) => tracing::warn!(%error, "cannot queue a ping"),
        }
        None
    }

    /// Drops requests whose callers stopped waiting, so their answers are not kept.
    fn forget_abandoned(&mut self) {
        let abandoned: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, reply)| reply.is_closed())
            .map(|(id, _)| *id)
            .collect();
        for id in abandoned {
            self.pending.remove(&id);
            self.session.cancel(id);
        }
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
            let connected = connect_any(&self.config.endpoints, preferred, |r, w| async move {
                Ok((r, w, ()))
            })
            .await;
            match connected {
                Ok((endpoint, reader, writer, ())) => {
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

/// The tokio instant at which the wall-clock time `at` arrives.
fn instant_of(at: UnixTime) -> Instant {
    Instant::now() + at.saturating_since(now())
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
    }
}
