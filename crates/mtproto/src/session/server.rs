//! The server side of a session, one per (auth key, session_id): packets in, requests for the
//! application out; answers and updates in, packets out. How each client message is checked
//! is in `server_checks`, how service messages are answered in `server_dispatch`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use mtcrypto::kdf::Direction;
use mtcrypto::{AuthKey, RngCore};

use super::error::SessionError;
use super::gzip;
use super::msg_id::{MsgIdGenerator, MsgIdKind};
use super::outgoing::{Budget, Item, Sealer, check_body};
use super::rpc::{RpcError, write_rpc_result};
use super::salt_schedule::SaltSchedule;
use super::seen::SeenIds;
use super::seq_no::SeqNo;
use super::server_quirks::ServerQuirks;
use super::service::{self, MAX_IDS};
use super::time::UnixTime;
use super::timer::Timer;
use crate::encrypted::{Decrypted, decrypt};

/// Acknowledgments of requests not answered yet go alone once this many accumulated...
pub const SERVER_ACK_THRESHOLD: usize = 16;
/// ...or the oldest waited this long (they ride along with any packet sooner).
pub const SERVER_ACK_DELAY: Duration = Duration::from_millis(500);

/// Client msg_ids remembered: enough for 300 s of a busy client; older ones are refused by
/// their time anyway.
pub(super) const SEEN_CAPACITY: usize = 16_384;
/// Sent content-related messages kept until acknowledged, at most this many...
const MAX_UNACKED: usize = 4096;
/// ...and this many bytes; beyond, the oldest are forgotten (a client that never
/// acknowledges cannot make us hold everything).
const MAX_UNACKED_BYTES: usize = 64 << 20;
/// Small service replies (pongs, notifications) waiting, at most.
const MAX_URGENT: usize = 4096;
/// Queued messages looked at past ones that do not fit in the current packet.
const MAX_SKIPPED: usize = 64;

/// What a client packet asks of the application (or of the I/O layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// An API call (unpacked if it came gzipped, still wrapped in `invokeWithLayer` and the
    /// like). Answer it with [`ServerSession::respond`] and this `msg_id`.
    Request { msg_id: i64, body: Vec<u8> },
    /// The first message of this session was accepted; `new_session_created` is on its way.
    SessionCreated { first_msg_id: i64 },
    /// `ping_delay_disconnect`: close the connection if no other ping comes within `delay`
    /// (each such ping replaces the previous deadline; a zero delay cancels it).
    DisconnectAfter { delay: Duration },
    /// `http_wait` (message `msg_id`): how the HTTP transport may hold its answer.
    HttpWait {
        msg_id: i64,
        max_delay: i32,
        wait_after: i32,
        max_wait: i32,
    },
    /// `destroy_session` of a session of this auth key: answer with
    /// [`ServerSession::respond`] (`destroy_session_ok` or `destroy_session_none`).
    DestroySession { msg_id: i64, session_id: i64 },
    /// `rpc_drop_answer` for a request still running: its answer will be discarded.
    Cancelled { msg_id: i64 },
}

/// A message waiting for the next packet.
#[derive(Debug)]
pub(super) struct Outgoing {
    pub(super) body: Vec<u8>,
    pub(super) content_related: bool,
    pub(super) kind: MsgIdKind,
    /// The client msg_id this answers (`rpc_result`, `future_salts`).
    pub(super) answers: Option<i64>,
    /// Sent before and going again as it was.
    pub(super) fixed: Option<(i64, i32)>,
}

impl Outgoing {
    pub(super) fn reply(body: Vec<u8>, content_related: bool) -> Self {
        Self {
            body,
            content_related,
            kind: MsgIdKind::Response,
            answers: None,
            fixed: None,
        }
    }
}

/// A sent content-related message, kept until the client acknowledges it.
#[derive(Debug)]
pub(super) struct Stored {
    pub(super) body: Vec<u8>,
    pub(super) seq_no: i32,
    pub(super) answers: Option<i64>,
}

/// Decrypts a client packet in place (client-to-server keys), e.g. to learn its session_id
/// and pick the [`ServerSession`] for [`ServerSession::handle_message`]. The result also
/// carries the quick-ack token to answer with when the transport asked for one.
pub fn open_client_packet<'a>(
    auth_key: &AuthKey,
    packet: &'a mut [u8],
) -> Result<Decrypted<'a>, SessionError> {
    Ok(decrypt(auth_key, Direction::ClientToServer, packet)?)
}

/// The server side of one MTProto session.
///
/// The salts come from a [`SaltSchedule`] shared by all sessions of the auth key and passed
/// in with each call.
pub struct ServerSession {
    pub(super) auth_key: AuthKey,
    pub(super) session_id: i64,
    pub(super) unique_id: i64,
    pub(super) created: bool,
    pub(super) ids: MsgIdGenerator,
    pub(super) seq: SeqNo,
    pub(super) seen: SeenIds,
    /// Requests handed to the application and not answered; `true` once dropped by the
    /// client (`rpc_drop_answer`), so that the answer is discarded.
    pub(super) running: HashMap<i64, bool>,
    pub(super) urgent: VecDeque<Outgoing>,
    pub(super) normal: VecDeque<Outgoing>,
    pub(super) pending_acks: Vec<i64>,
    /// Acknowledgments owed go alone when this fires (the delay of [`AckTiming`](super::AckTiming)).
    acks_timer: Timer,
    /// The last monotonic reading given to [`handle_timeout`](Self::handle_timeout).
    clock: Option<Instant>,
    flush_acks: bool,
    pub(super) unacked: BTreeMap<i64, Stored>,
    unacked_bytes: usize,
    /// Client request msg_id -> msg_id of our stored answer.
    pub(super) answers: HashMap<i64, i64>,
    pub(super) quirks: ServerQuirks,
    /// `new_session_created`, held back until the first answer ([`NewSessionNotice::AfterFirstAnswer`]).
    pub(super) held_notice: Option<Outgoing>,
}

impl std::fmt::Debug for ServerSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSession")
            .field("auth_key", &self.auth_key)
            .field("session_id", &self.session_id)
            .field("running", &self.running.len())
            .field("queued", &(self.urgent.len() + self.normal.len()))
            .field("unacked", &self.unacked.len())
            .finish_non_exhaustive()
    }
}

impl ServerSession {
    /// The session `session_id` of a client holding `auth_key`.
    pub fn new(auth_key: AuthKey, session_id: i64, rng: &mut impl RngCore) -> Self {
        Self {
            auth_key,
            session_id,
            unique_id: rng.next_u64() as i64,
            created: false,
            ids: MsgIdGenerator::new(),
            seq: SeqNo::new(),
            seen: SeenIds::new(SEEN_CAPACITY),
            running: HashMap::new(),
            urgent: VecDeque::new(),
            normal: VecDeque::new(),
            pending_acks: Vec::new(),
            acks_timer: Timer::Off,
            clock: None,
            flush_acks: false,
            unacked: BTreeMap::new(),
            unacked_bytes: 0,
            answers: HashMap::new(),
            quirks: ServerQuirks::default(),
            held_notice: None,
        }
    }

    /// Follows `quirks` from now on.
    #[must_use]
    pub fn with_quirks(mut self, quirks: ServerQuirks) -> Self {
        self.quirks = quirks;
        self
    }

    /// The session this serves.
    pub fn session_id(&self) -> i64 {
        self.session_id
    }

    /// Decrypts and handles one client packet. See [`handle_message`](Self::handle_message).
    pub fn handle_packet(
        &mut self,
        packet: &mut [u8],
        salts: &SaltSchedule,
        now: UnixTime,
    ) -> Result<Vec<ServerEvent>, SessionError> {
        let message = open_client_packet(&self.auth_key, packet)?;
        self.handle_message(&message, salts, now)
    }

    /// Handles one decrypted client packet. A message that breaks the rules is answered as
    /// Telegram does (`bad_msg_notification`, `bad_server_salt`, queued for the next
    /// transmit) or, when duplicated, ignored; an error is returned only for a packet that
    /// is not for this session or does not parse, and it leaves the session unchanged.
    pub fn handle_message(
        &mut self,
        message: &Decrypted<'_>,
        salts: &SaltSchedule,
        now: UnixTime,
    ) -> Result<Vec<ServerEvent>, SessionError> {
        let header = message.header;
        if header.session_id != self.session_id {
            return Err(SessionError::WrongSession {
                expected: self.session_id,
                received: header.session_id,
            });
        }
        self.receive(header, message.body, salts, now)
    }

    /// Queues the answer to request `req_msg_id`: `rpc_result` with the object, or with
    /// `rpc_error`. A large object is gzipped when that makes it smaller. The answer to a
    /// request the client dropped is discarded.
    pub fn respond(
        &mut self,
        req_msg_id: i64,
        result: Result<Vec<u8>, RpcError>,
    ) -> Result<(), SessionError> {
        let object = match result {
            Ok(object) => {
                check_body(&object)?;
                gzip::pack_if_smaller(object)
            }
            Err(error) => error.to_body(),
        };
        if self.running.remove(&req_msg_id) == Some(true) {
            return Ok(());
        }
        // The answer acknowledges the request by itself.
        self.pending_acks.retain(|id| *id != req_msg_id);
        let mut body = Vec::with_capacity(12 + object.len());
        write_rpc_result(&mut body, req_msg_id, &object);
        self.normal.push_back(Outgoing {
            body,
            content_related: true,
            kind: MsgIdKind::Response,
            answers: Some(req_msg_id),
            fixed: None,
        });
        if let Some(notice) = self.held_notice.take() {
            self.normal.push_back(notice);
        }
        Ok(())
    }

    /// Queues a message of the server's own (an update), gzipped when that helps.
    pub fn push_update(&mut self, body: Vec<u8>) -> Result<(), SessionError> {
        check_body(&body)?;
        self.normal.push_back(Outgoing {
            body: gzip::pack_if_smaller(body),
            content_related: true,
            kind: MsgIdKind::ServerInitiated,
            answers: None,
            fixed: None,
        });
        Ok(())
    }

    /// Requests handed to the application and not answered yet.
    pub fn running_requests(&self) -> usize {
        self.running.len()
    }

    /// Content-related messages sent and not acknowledged by the client yet.
    pub fn unacknowledged(&self) -> usize {
        self.unacked.len()
    }

    /// Bytes of message bodies this session holds: sent and not acknowledged, and queued.
    pub fn held_bytes(&self) -> usize {
        let queued: usize = self
            .urgent
            .iter()
            .chain(&self.normal)
            .map(|out| out.body.len())
            .sum();
        self.unacked_bytes.saturating_add(queued)
    }

    /// Forgets answers and updates until at most `keep` bytes are held (see
    /// [`held_bytes`](Self::held_bytes)): sent ones the client has not acknowledged first,
    /// oldest first, then queued ones, oldest first. Returns the bytes forgotten. A client
    /// that comes back for a forgotten answer asks again, as after any lost answer; small
    /// service replies (pongs, notifications) are kept.
    pub fn shed(&mut self, keep: usize) -> usize {
        let before = self.held_bytes();
        let mut held = before;
        while held > keep {
            let Some(oldest) = self.unacked.first_key_value().map(|(id, _)| *id) else {
                break;
            };
            if let Some(stored) = self.forget_stored(oldest) {
                held = held.saturating_sub(stored.body.len());
            }
        }
        while held > keep {
            let Some(out) = self.normal.pop_front() else {
                break;
            };
            held = held.saturating_sub(out.body.len());
        }
        before.saturating_sub(held)
    }

    /// Whether anything waits to be sent (acknowledgments aside).
    pub fn has_pending_output(&self) -> bool {
        !self.urgent.is_empty() || !self.normal.is_empty()
    }

    /// On a new connection of this session: every message sent and not acknowledged goes
    /// again, under its original msg_id inside a container, so that the client can tell it
    /// apart from new ones and take it once.
    pub fn requeue_unacknowledged(&mut self) {
        let stored = std::mem::take(&mut self.unacked);
        self.unacked_bytes = 0;
        for (msg_id, stored) in stored.into_iter().rev() {
            self.resend_stored(msg_id, stored);
        }
    }

    /// Sends the pending acknowledgments with the next packet.
    pub fn flush_acks(&mut self) {
        self.flush_acks = true;
    }

    /// When [`handle_timeout`](Self::handle_timeout) has something to do: acknowledgments
    /// that waited long enough. The delay starts at the first reading after they were owed:
    /// call `handle_timeout` after feeding packets (this is then that reading, already past).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.acks_timer.deadline(self.clock)
    }

    /// Runs the timers due at `now`. Returns whether [`poll_transmit`](Self::poll_transmit)
    /// has something to send because of them (acknowledgments that waited long enough).
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        self.clock = Some(now);
        self.acks_timer.date(now);
        if !self.acks_timer.expired(now) {
            return false;
        }
        self.acks_timer = Timer::Off;
        self.flush_acks = true;
        !self.pending_acks.is_empty()
    }

    /// The next packet to send, if anything is due. Small service replies (pongs,
    /// notifications) go first so that they never wait behind bulk data, then
    /// acknowledgments, then answers and updates. Call again until it returns `None`.
    pub fn poll_transmit(
        &mut self,
        salts: &SaltSchedule,
        now: UnixTime,
        rng: &mut impl RngCore,
    ) -> Option<Vec<u8>> {
        let has_content = self.has_pending_output();
        let (threshold, _, ride_along) = self.quirks.acks.rule();
        let acks_due = !self.pending_acks.is_empty()
            && ((has_content && ride_along)
                || self.flush_acks
                || self.pending_acks.len() >= threshold);
        if !has_content && !acks_due {
            return None;
        }

        let mut budget = Budget::new();
        let mut plan: Vec<Outgoing> = Vec::new();
        // With `answers_alone`, one message a packet: the rest waits for the next call.
        let alone = self.quirks.answers_alone;
        take_from(&mut self.urgent, &mut budget, &mut plan, alone);
        let mut acked = 0;
        let mut ack_at = None;
        if acks_due && (!alone || plan.is_empty()) {
            let count = self.pending_acks.len().min(MAX_IDS);
            let ack = service::ack_body(self.pending_acks.get(..count).unwrap_or_default());
            if budget.take(ack.len()) {
                ack_at = Some(plan.len());
                plan.push(Outgoing::reply(ack, false));
                acked = count;
            }
        }
        take_from(&mut self.normal, &mut budget, &mut plan, alone);
        if plan.is_empty() {
            return None;
        }

        let items: Vec<Item<'_>> = plan
            .iter()
            .map(|out| Item {
                body: &out.body,
                content_related: out.content_related,
                kind: out.kind,
                fixed: out.fixed,
            })
            .collect();
        let sealer = Sealer {
            auth_key: &self.auth_key,
            direction: Direction::ServerToClient,
            session_id: self.session_id,
            salt: salts.current(now),
            container_kind: MsgIdKind::ServerInitiated,
        };
        let Ok(sealed) = sealer.seal(&items, &mut self.ids, &mut self.seq, now, rng) else {
            // Unreachable for checked bodies in a bounded container; keep them queued (the
            // acknowledgments are still pending).
            for (index, out) in plan.into_iter().enumerate().rev() {
                if Some(index) != ack_at {
                    self.normal.push_front(out);
                }
            }
            return None;
        };

        if acked > 0 {
            self.pending_acks.drain(..acked);
            self.flush_acks = false;
            self.acks_timer = if self.pending_acks.is_empty() {
                Timer::Off
            } else {
                Timer::Starting(self.quirks.acks.rule().1)
            };
        }
        for (out, stamp) in plan.into_iter().zip(sealed.stamps) {
            if out.content_related {
                self.store(
                    stamp.msg_id,
                    Stored {
                        body: out.body,
                        seq_no: stamp.seq_no,
                        answers: out.answers,
                    },
                );
            }
        }
        Some(sealed.packet)
    }

    /// Keeps a sent content-related message until the client acknowledges it.
    fn store(&mut self, msg_id: i64, stored: Stored) {
        if let Some(request) = stored.answers {
            self.answers.insert(request, msg_id);
        }
        self.unacked_bytes += stored.body.len();
        self.unacked.insert(msg_id, stored);
        while self.unacked.len() > MAX_UNACKED || self.unacked_bytes > MAX_UNACKED_BYTES {
            let Some((oldest, _)) = self.unacked.first_key_value() else {
                break;
            };
            let oldest = *oldest;
            self.forget_stored(oldest);
        }
    }

    /// Drops a stored message (acknowledged, dropped or too old); returns it.
    pub(super) fn forget_stored(&mut self, msg_id: i64) -> Option<Stored> {
        let stored = self.unacked.remove(&msg_id)?;
        self.unacked_bytes -= stored.body.len();
        if let Some(request) = stored.answers
            && self.answers.get(&request) == Some(&msg_id)
        {
            self.answers.remove(&request);
        }
        Some(stored)
    }

    /// Queues a stored message to go again under its msg_id.
    pub(super) fn resend_stored(&mut self, msg_id: i64, stored: Stored) {
        if let Some(request) = stored.answers {
            self.answers.remove(&request);
        }
        self.normal.push_front(Outgoing {
            body: stored.body,
            content_related: true,
            kind: MsgIdKind::Response,
            answers: stored.answers,
            fixed: Some((msg_id, stored.seq_no)),
        });
    }

    /// Queues a small reply ahead of bulk data; beyond [`MAX_URGENT`] the reply is dropped
    /// (a client that floods pings without reading gets no more pongs).
    pub(super) fn push_urgent(&mut self, out: Outgoing) {
        if self.urgent.len() < MAX_URGENT {
            self.urgent.push_back(out);
        }
    }

    pub(super) fn queue_ack(&mut self, msg_id: i64) {
        if self.pending_acks.len() < 4 * MAX_IDS {
            self.pending_acks.push(msg_id);
            if self.acks_timer.is_off() {
                self.acks_timer = Timer::Starting(self.quirks.acks.rule().1);
            }
        }
    }
}

/// Moves from `queue` to `plan` what fits in `budget`, in order, stepping over a few
/// messages that do not fit (they stay at the front).
/// [`take_fitting`], or with `alone` the first message of `queue` if `plan` is empty.
fn take_from(
    queue: &mut VecDeque<Outgoing>,
    budget: &mut Budget,
    plan: &mut Vec<Outgoing>,
    alone: bool,
) {
    if !alone {
        take_fitting(queue, budget, plan);
    } else if plan.is_empty()
        && let Some(out) = queue.pop_front()
    {
        budget.take_alone(out.body.len());
        plan.push(out);
    }
}

fn take_fitting(queue: &mut VecDeque<Outgoing>, budget: &mut Budget, plan: &mut Vec<Outgoing>) {
    let mut skipped = Vec::new();
    while !budget.is_full() && skipped.len() < MAX_SKIPPED {
        let Some(out) = queue.pop_front() else {
            break;
        };
        if budget.take(out.body.len()) {
            plan.push(out);
        } else {
            skipped.push(out);
        }
    }
    for out in skipped.into_iter().rev() {
        queue.push_front(out);
    }
}
