//! One client connection, from its first byte to its close.
//!
//! Lifecycle: the transport is detected and the stream split ([`crate::transport`]); a
//! writer task sends what the connection queues ([`writer`]); the connection's own task
//! reads packets and routes them by auth_key_id: 0 drives this connection's auth-key
//! handshake ([`plain`]), a known key goes to the session layer and the RPC dispatch
//! ([`encrypted`]), an unknown key gets transport error -404 and the connection closes.
//! Requests run as tasks of their own and put their answers into their session, so an
//! answer outlives the connection it was asked on (a reconnecting client gets it there).
//! MTProto over HTTP takes the same path, one packet per request, with each request held
//! until it can be answered ([`http`]).

mod carriers;
mod encrypted;
mod http;
mod plain;
mod polls;
mod writer;

pub(crate) use carriers::Carriers;
pub(crate) use polls::HttpPolls;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mtnet::clock;

use mtproto::handshake::{HandshakeError, ServerHandshake};
use mtproto::session::MsgIdGenerator;
use rand::rngs::StdRng;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::dc::DcState;
use crate::faults::{Block, TransportClass};
use crate::keys::{KeyEntry, SharedSession};
use crate::transport::{self, Packet, PacketReader, TransportError};
use writer::{Outbound, WriterEnd};

/// Sessions one connection carries at most (clients use one; a few after bad_msg 32/33).
const MAX_SESSIONS_PER_CONNECTION: usize = 16;
/// Handshakes one connection may run (clients run one, two with a temporary key).
const MAX_HANDSHAKES_PER_CONNECTION: u32 = 8;
/// How long a closing connection waits for its writer to drain.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Transport error for an MTProxy client asking for a DC that does not exist.
const INVALID_DC: i32 = -444;

/// Why a connection closed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum End {
    #[error("the client closed the connection")]
    ClientClosed,
    #[error("transport: {0}")]
    Transport(TransportError),
    #[error("writer stopped: {0}")]
    Writer(WriterEnd),
    #[error("the writer is gone")]
    WriterGone,
    #[error("unknown auth key {0:#018x}: sent -404")]
    UnknownKey(u64),
    #[error("bad packet: {0}")]
    BadPacket(String),
    #[error("handshake failed: {0}")]
    Handshake(HandshakeError),
    #[error("too many handshakes on one connection")]
    TooManyHandshakes,
    #[error("the handshake took too long")]
    HandshakeTimeout,
    #[error("nothing received for too long")]
    Idle,
    #[error("ping_delay_disconnect deadline passed")]
    PingDisconnect,
    #[error("closed by the server (fault knob or shutdown)")]
    Killed,
    #[error("reset by the server (fault knob)")]
    Reset,
}

/// A session this connection carries.
#[derive(Clone)]
pub(crate) struct Bound {
    key: Arc<KeyEntry>,
    session: SharedSession,
    /// The clock generation the session was made under.
    clock: u64,
}

/// A request task finished: its session has output to send.
#[derive(Debug)]
struct Answered {
    key_id: u64,
    session_id: i64,
}

/// Serves one accepted TCP connection until it closes. `permit` is the DC's connection slot.
pub(crate) async fn serve(
    dc: Arc<DcState>,
    stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
) {
    let span = tracing::info_span!("conn", dc = dc.id, %peer);
    async move {
        // WAN emulation resets dropped connections through it (the stream goes away below);
        // the second one is for the reading side (reset_all, blocks).
        let reset = crate::wan::ResetHandle::new(&stream);
        let own_reset = crate::wan::ResetHandle::new(&stream);
        let accepted = transport::accept(
            stream,
            dc.limits.max_packet,
            dc.limits.handshake_timeout,
            dc.mtproxy.secrets(),
            dc.mtproxy.padding(),
        )
        .await;
        let (info, reader, mut writer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::info!(%error, "closing: no usable transport");
                return;
            }
        };
        tracing::debug!(transport = %info, "connected");
        // DPI emulation and the MTProxy front's outage act on what the port saw.
        if info.secret_index.is_some() && dc.faults.mtproxy_down() {
            tracing::info!(transport = %info, "MTProxy front down (fault): reset");
            own_reset.arm();
            return;
        }
        match dc.faults.block(TransportClass::of(&info)) {
            Block::None => {}
            Block::Refuse => {
                tracing::info!(transport = %info, "transport blocked (fault): reset");
                own_reset.arm();
                return;
            }
            Block::Blackhole => {
                tracing::info!(transport = %info, "transport blackholed (fault)");
                blackhole(&dc, reader, writer).await;
                drop(permit);
                return;
            }
        }
        // An MTProxy client is served by the DC its header names.
        let dc = match dc.mtproxy.route(&dc, &info) {
            Ok(target) => target,
            Err(asked) => {
                tracing::info!(
                    asked,
                    "closing: MTProxy client asked for an unknown DC (-444)"
                );
                let _ = writer.send_transport_error(INVALID_DC).await;
                return;
            }
        };
        let (out, queue) = mpsc::channel(writer::QUEUE);
        let writer_task = tokio::spawn(writer::run(Arc::clone(&dc), writer, info, queue, reset));
        let mut connection = Connection::new(dc, out);
        if info.http {
            connection.http = Some(http::HttpState::new(connection.dc.limits.http_max_wait));
        }
        let end = connection.run(reader, writer_task, own_reset).await;
        match &end {
            End::ClientClosed | End::Killed | End::Reset | End::PingDisconnect | End::Idle => {
                tracing::debug!(%end, "closed");
            }
            _ => tracing::info!(%end, "closed"),
        }
        drop(permit);
    }
    .instrument(span)
    .await;
}

/// A blackholed connection: everything is read and dropped, nothing is ever sent, and the
/// server does not close it (only the client, a shutdown or `disconnect_all` do).
async fn blackhole(dc: &DcState, mut reader: PacketReader, writer: transport::PacketWriter) {
    let mut kill = dc.faults.watch_kill();
    let mut reset = dc.faults.watch_reset();
    loop {
        tokio::select! {
            received = reader.recv() => match received {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            },
            _ = kill.changed() => break,
            _ = reset.changed() => break,
        }
    }
    drop(writer);
}

/// The reading side's state.
pub(crate) struct Connection {
    dc: Arc<DcState>,
    out: mpsc::Sender<Outbound>,
    rng: StdRng,
    /// msg_ids of plain (handshake) messages.
    plain_ids: MsgIdGenerator,
    handshake: Option<(ServerHandshake, Instant)>,
    handshakes: u32,
    sessions: HashMap<(u64, i64), Bound>,
    answered_tx: mpsc::UnboundedSender<Answered>,
    answered_rx: mpsc::UnboundedReceiver<Answered>,
    /// This connection's id among the DC's [`Carriers`].
    id: u64,
    /// One permit per request running; at the limit the connection stops reading.
    inflight: Arc<Semaphore>,
    disconnect_at: Option<Instant>,
    last_received: Instant,
    /// When the connection opened, while no packet has come yet: a client must send its
    /// first packet within the handshake timeout.
    silent_since: Option<Instant>,
    /// MTProto over HTTP: the request being held.
    http: Option<http::HttpState>,
    /// The keys whose `initConnection` came on this connection (see
    /// [`crate::quirks::Quirks::requiring_init_per_connection`]).
    inited_keys: HashSet<u64>,
}

impl Connection {
    fn new(dc: Arc<DcState>, out: mpsc::Sender<Outbound>) -> Self {
        let (answered_tx, answered_rx) = mpsc::unbounded_channel();
        let inflight = Arc::new(Semaphore::new(dc.limits.max_pending_per_connection.max(1)));
        let id = dc.carriers.connection_id();
        Self {
            dc,
            out,
            rng: transport::connection_rng(),
            plain_ids: MsgIdGenerator::new(),
            handshake: None,
            handshakes: 0,
            sessions: HashMap::new(),
            answered_tx,
            answered_rx,
            id,
            inflight,
            disconnect_at: None,
            last_received: clock::now(),
            silent_since: Some(clock::now()),
            http: None,
            inited_keys: HashSet::new(),
        }
    }

    async fn run(
        mut self,
        mut reader: PacketReader,
        mut writer_task: JoinHandle<WriterEnd>,
        own_reset: crate::wan::ResetHandle,
    ) -> End {
        let mut kill = self.dc.faults.watch_kill();
        let mut reset = self.dc.faults.watch_reset();
        let end = loop {
            let wake = self.next_wake();
            tokio::select! {
                received = reader.recv(), if self.reading() => match received {
                    Ok(Some(packet)) => {
                        self.last_received = clock::now();
                        self.silent_since = None;
                        if let Err(end) = self.on_packet(packet).await {
                            if !self.reading() {
                                // An HTTP request left unanswered by a packet that ends
                                // the connection.
                                let _ = self.send(Outbound::HttpError(400)).await;
                            }
                            break end;
                        }
                    }
                    Ok(None) => break End::ClientClosed,
                    Err(error) => {
                        if let Some(status) = error.http_status() {
                            // An HTTP request that cannot be served is answered, then closed.
                            let _ = self.send(Outbound::HttpError(status)).await;
                        }
                        break End::Transport(error);
                    }
                },
                wake = http::wake(self.http.as_mut()) => {
                    if let Err(end) = self.on_http_wake(wake).await {
                        break end;
                    }
                }
                Some(answered) = self.answered_rx.recv() => {
                    if let Some(bound) = self.sessions.get(&(answered.key_id, answered.session_id)).cloned()
                        && let Err(end) = self.flush(&bound).await
                    {
                        break end;
                    }
                }
                ended = &mut writer_task => {
                    break End::Writer(ended.unwrap_or(WriterEnd::Fault("writer task failed")));
                }
                _ = kill.changed() => break End::Killed,
                _ = reset.changed() => break End::Reset,
                () = clock::sleep_until(wake) => {
                    if let Err(end) = self.on_timers().await {
                        break end;
                    }
                }
            }
        };
        self.release_sessions();
        if matches!(end, End::Reset) {
            // SO_LINGER 0 first, then the halves go: the close is a reset, and nothing queued
            // goes out.
            own_reset.arm();
            writer_task.abort();
            drop(reader);
            return end;
        }
        if !matches!(end, End::Writer(_)) {
            // Closing the queue lets the writer send what is queued (a transport error, say)
            // and stop.
            drop(self.out);
            if tokio::time::timeout(DRAIN_TIMEOUT, &mut writer_task)
                .await
                .is_err()
            {
                writer_task.abort();
            }
        }
        end
    }

    /// The connection is closing: its sessions stay with their keys, detached (what they
    /// hold is bounded per DC and they expire; see [`crate::keys::KeyStore::release`]).
    fn release_sessions(&mut self) {
        for ((key_id, session_id), Bound { key, session, .. }) in self.sessions.drain() {
            self.dc.carriers.release((key_id, session_id), self.id);
            self.dc.keys.release(&key, session_id, session);
        }
    }

    async fn on_packet(&mut self, packet: Packet) -> Result<(), End> {
        self.http_request();
        match mtproto::encrypted::auth_key_id(&packet.payload) {
            Some(0) => self.on_plain(&packet.payload).await,
            Some(key_id) => self.on_encrypted(key_id, packet).await,
            None => Err(End::BadPacket(format!(
                "packet of {} bytes has no auth_key_id",
                packet.payload.len()
            ))),
        }
    }

    /// The deadlines that close the connection: a `ping_delay_disconnect` run out, nothing
    /// received for too long, a handshake (or a first packet) that takes too long.
    fn deadlines(&self) -> [Option<Instant>; 3] {
        let limits = &self.dc.limits;
        let started = self
            .handshake
            .as_ref()
            .map(|(_, started)| *started)
            .or(self.silent_since);
        [
            self.disconnect_at,
            self.last_received.checked_add(limits.idle_timeout),
            started.and_then(|started| started.checked_add(limits.handshake_timeout)),
        ]
    }

    /// When the timers need a look: the earliest of the connection's deadlines (the idle
    /// deadline is always there) and its sessions' (delayed acknowledgments). Output
    /// queued into a session from elsewhere wakes the connection itself (see [`Carriers`]).
    fn next_wake(&self) -> Instant {
        let sessions = self
            .sessions
            .values()
            .filter_map(|bound| crate::sync::lock(&bound.session).poll_timeout());
        self.deadlines()
            .into_iter()
            .flatten()
            .chain(sessions)
            .min()
            .unwrap_or_else(|| clock::now() + self.dc.limits.idle_timeout)
    }

    /// The wake-up of this connection for output queued into `session` from elsewhere.
    fn wake_for(&self, session: (u64, i64)) -> crate::rpc::Wake {
        let answered = self.answered_tx.clone();
        let (key_id, session_id) = session;
        Arc::new(move || {
            let _ = answered.send(Answered { key_id, session_id });
        })
    }

    /// Timers: the deadlines that close the connection, and the sessions' (acknowledgments
    /// due), and output queued from elsewhere.
    async fn on_timers(&mut self) -> Result<(), End> {
        let now = clock::now();
        let [disconnect, idle, handshake] =
            self.deadlines().map(|at| at.is_some_and(|at| at <= now));
        if disconnect {
            return Err(End::PingDisconnect);
        }
        if idle {
            return Err(End::Idle);
        }
        if handshake {
            return Err(End::HandshakeTimeout);
        }
        let due: Vec<Bound> = self
            .sessions
            .values()
            .filter(|bound| {
                let mut session = crate::sync::lock(&bound.session);
                let acks_due = session.handle_timeout(now);
                acks_due || session.has_pending_output()
            })
            .cloned()
            .collect();
        for bound in due {
            self.flush(&bound).await?;
        }
        Ok(())
    }

    async fn send(&mut self, outbound: Outbound) -> Result<(), End> {
        if let Some(http) = &mut self.http {
            if matches!(outbound, Outbound::QuickAck(_)) {
                // HTTP has no quick acks.
                return Ok(());
            }
            // Anything else is the one response to the held request.
            http.answered();
        }
        self.out.send(outbound).await.map_err(|_| End::WriterGone)
    }
}
