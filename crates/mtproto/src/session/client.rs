//! The client side of a session: requests in, packets out; packets in, answers and updates
//! out. How each received message is handled is in `client_dispatch`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use mtcrypto::kdf::Direction;
use mtcrypto::{AuthKey, RngCore};
use tl_types::mtproto::types;
use tl_types::{Identifiable, Serialize};

use super::client_dispatch::parse;
use super::client_timers::ClientTimers;
use super::error::SessionError;
use super::future_salts::FutureSalts;
use super::gzip;
use super::incoming;
use super::msg_id::{MsgIdGenerator, MsgIdKind};
use super::outgoing::{Budget, Item, Sealer, check_body};
use super::rpc::RpcError;
use super::seen::{Seen, SeenIds};
use super::seq_no::{SeqNo, is_content_related};
use super::service::{self, MAX_IDS};
use super::time::UnixTime;
use crate::encrypted::decrypt;

/// Acknowledgments wait for a request to ride along with, up to this many...
pub const CLIENT_ACK_THRESHOLD: usize = 16;
/// ...or this long.
pub const CLIENT_ACK_DELAY: Duration = Duration::from_secs(30);
/// How often one request is sent again after `bad_msg_notification` before giving up on it.
pub const MAX_RESENDS: u32 = 5;

/// Acknowledgments owed at most; beyond, the server resends and we acknowledge then.
pub(super) const MAX_PENDING_ACKS: usize = 4 * MAX_IDS;
/// Server msg_ids remembered against replays.
const SEEN_CAPACITY: usize = 8192;
/// msg_ids a request keeps after resends, so that a late answer to an earlier copy counts.
const MAX_ALIASES: usize = 8;
/// Sent containers and service messages remembered, to resend them after a bad_msg.
const SENT_MEMORY: usize = 1024;
/// Packets whose quick-ack tokens are remembered.
const QUICK_ACK_MEMORY: usize = 256;
/// Requests looked at past ones that do not fit in the current packet.
const MAX_SKIPPED: usize = 64;
/// How long an at-most-once request waits for the server to say (`msgs_state_info`) whether
/// it has it, before it is given up as [`ClientEvent::Uncertain`].
pub const STATE_ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// A request pushed into a [`ClientSession`]; its answer comes back with the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

/// What may be done with a request when the session cannot tell whether the server has it
/// (the connection broke after it was sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// Sent again with a new msg_id: running it twice does no harm (reads, file parts).
    #[default]
    Idempotent,
    /// Never sent again unless the server said it does not have it: the server is asked
    /// (`msgs_state_req`), and without a clear answer the request ends as
    /// [`ClientEvent::Uncertain`]. For requests with effects (`auth.sendCode`,
    /// `auth.signIn`, `auth.importAuthorization`, ...).
    AtMostOnce,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestState {
    /// Waiting for the next packet.
    Queued,
    /// Sent, not answered.
    Sent { msg_id: i64 },
    /// Sent, and the server said it has it (`msgs_ack` or quick ack); not answered yet.
    Acknowledged { msg_id: i64 },
}

/// What a received packet meant for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// The answer to a request: the result object (unpacked if it came gzipped), or an error.
    Response {
        id: RequestId,
        result: Result<Vec<u8>, RpcError>,
    },
    /// Anything the server sent on its own (updates), as a boxed object.
    Update(Vec<u8>),
    /// The server started a new session for us: updates may have been lost, so the
    /// application must fetch the difference.
    NewSession { first_msg_id: i64, unique_id: i64 },
    /// The server kept refusing a request with `bad_msg_notification` `error_code`
    /// (after [`MAX_RESENDS`] resends, or at once for a code no resend can fix).
    Rejected { id: RequestId, error_code: i32 },
    /// An [`Delivery::AtMostOnce`] request was sent, the connection or session broke, and
    /// the server did not say whether it has it: it was not sent again, so it ran once or
    /// not at all.
    Uncertain { id: RequestId },
    /// A keepalive ping went unanswered for `silent_for`: the connection stalled (or sits
    /// behind something that swallows it) and must be replaced.
    Stalled { silent_for: Duration },
}

/// One packet to send, with the quick-ack token the server would answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The encrypted message, ready for the transport's framing.
    pub packet: Vec<u8>,
    /// The msg_ids of the messages in it (for protocol traces).
    pub msg_ids: Vec<i64>,
    /// The container's msg_id when they went in one.
    pub container: Option<i64>,
    /// Requests in it that went before under another msg_id.
    pub resent: usize,
    /// Acknowledgments in it.
    pub acks: usize,
    /// What the server answers with when the transport asks for a quick ack; see
    /// [`ClientSession::handle_quick_ack`].
    pub quick_ack: u32,
}

/// A copy of a request on its way.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sent {
    pub(super) msg_id: i64,
    /// The msg_id of the message that carried it: its container's, or its own.
    pub(super) carrier: i64,
    /// The server said it has it.
    pub(super) acked: bool,
}

#[derive(Debug)]
pub(super) struct Request {
    /// As it goes on the wire (possibly gzip_packed).
    pub(super) body: Vec<u8>,
    pub(super) content_related: bool,
    /// The last copy sent, while it waits for an answer.
    pub(super) sent: Option<Sent>,
    /// Every msg_id it went out under, the last one included.
    pub(super) aliases: Vec<i64>,
    pub(super) resends: u32,
    /// Must not go in a container (its last container was refused).
    pub(super) alone: bool,
    /// Sent by the session itself: its answer is not reported.
    pub(super) silent: bool,
    pub(super) delivery: Delivery,
    /// When the server was asked whether it has the last copy (after a reconnect), while
    /// no answer came.
    pub(super) state_asked: Option<Instant>,
}

/// The client side of one MTProto session over one auth key.
///
/// Sans-IO: feed it what the transport received ([`handle_packet`](Self::handle_packet),
/// [`handle_quick_ack`](Self::handle_quick_ack)) and send what
/// [`poll_transmit`](Self::poll_transmit) gives until it gives nothing.
pub struct ClientSession {
    pub(super) auth_key: AuthKey,
    pub(super) session_id: i64,
    pub(super) salt: i64,
    pub(super) future_salts: FutureSalts,
    pub(super) ids: MsgIdGenerator,
    pub(super) seq: SeqNo,
    next_request: u64,
    pub(super) requests: HashMap<RequestId, Request>,
    pub(super) queue: VecDeque<RequestId>,
    pub(super) by_msg_id: HashMap<i64, RequestId>,
    /// Service messages of our own (msg_resend_req, msgs_state_info), fire and forget.
    pub(super) service_queue: VecDeque<Vec<u8>>,
    pub(super) sent_service: BTreeMap<i64, Vec<u8>>,
    pub(super) containers: BTreeMap<i64, Vec<i64>>,
    quick_acks: VecDeque<(u32, Vec<RequestId>)>,
    pub(super) pending_acks: Vec<i64>,
    flush_acks: bool,
    pub(super) seen: SeenIds,
    /// A new session id is taken at the next transmit (after bad_msg 32/33).
    pub(super) new_session_pending: bool,
    pub(super) timers: ClientTimers,
}

impl std::fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSession")
            .field("auth_key", &self.auth_key)
            .field("session_id", &self.session_id)
            .field("requests", &self.requests.len())
            .field("queued", &self.queue.len())
            .field("pending_acks", &self.pending_acks.len())
            .finish_non_exhaustive()
    }
}

impl ClientSession {
    /// A new session (random session_id) starting with `salt`, e.g. the handshake's.
    pub fn new(auth_key: AuthKey, salt: i64, rng: &mut impl RngCore) -> Self {
        Self::with_session_id(auth_key, salt, rng.next_u64() as i64)
    }

    /// A session with a chosen id (e.g. one restored from storage).
    pub fn with_session_id(auth_key: AuthKey, salt: i64, session_id: i64) -> Self {
        Self {
            auth_key,
            session_id,
            salt,
            future_salts: FutureSalts::default(),
            ids: MsgIdGenerator::new(),
            seq: SeqNo::new(),
            next_request: 0,
            requests: HashMap::new(),
            queue: VecDeque::new(),
            by_msg_id: HashMap::new(),
            service_queue: VecDeque::new(),
            sent_service: BTreeMap::new(),
            containers: BTreeMap::new(),
            quick_acks: VecDeque::new(),
            pending_acks: Vec::new(),
            flush_acks: false,
            seen: SeenIds::new(SEEN_CAPACITY),
            new_session_pending: false,
            timers: ClientTimers::default(),
        }
    }

    /// The session id the next packet will carry.
    pub fn session_id(&self) -> i64 {
        self.session_id
    }

    /// The salt the next packet will carry (unless a future salt takes over by then).
    pub fn salt(&self) -> i64 {
        self.salt
    }

    /// Server time minus local time, in seconds, as learned so far.
    pub fn time_offset_secs(&self) -> i64 {
        self.ids.offset_secs()
    }

    /// Restores a saved time offset.
    pub fn set_time_offset_secs(&mut self, secs: i64, now: UnixTime) {
        self.ids.set_offset_secs(secs, now);
    }

    /// Learns the server's clock from the handshake's `server_time`.
    pub fn sync_time(&mut self, server_time: i32, now: UnixTime) {
        self.ids.correct_from_server_time(server_time, now);
    }

    /// Queues a request: `body` is a serialized TL function (e.g. `invokeWithLayer(...)`).
    /// It goes out with the next [`poll_transmit`](Self::poll_transmit), gzipped when that
    /// makes it smaller. Refused when it is not a whole number of words or is too large for
    /// any packet, as it could never be sent.
    pub fn push_request(&mut self, body: Vec<u8>) -> Result<RequestId, SessionError> {
        self.push_request_with(body, Delivery::Idempotent)
    }

    /// [`push_request`](Self::push_request) with a say in what happens when the session
    /// cannot tell whether the server has it.
    pub fn push_request_with(
        &mut self,
        body: Vec<u8>,
        delivery: Delivery,
    ) -> Result<RequestId, SessionError> {
        check_body(&body)?;
        let id = self.enqueue(body, false);
        if let Some(request) = self.requests.get_mut(&id) {
            request.delivery = delivery;
        }
        self.request_queued();
        Ok(id)
    }

    pub(super) fn enqueue(&mut self, body: Vec<u8>, silent: bool) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        let content_related = is_content_related(&body);
        let body = gzip::pack_if_smaller(body);
        self.requests.insert(
            id,
            Request {
                body,
                content_related,
                sent: None,
                aliases: Vec::new(),
                resends: 0,
                alone: false,
                silent,
                delivery: Delivery::Idempotent,
                state_asked: None,
            },
        );
        self.queue.push_back(id);
        id
    }

    /// Forgets a request. If it was already sent, the server is asked to drop the answer
    /// (`rpc_drop_answer`). Returns whether the request was pending.
    pub fn cancel(&mut self, id: RequestId) -> bool {
        let Some(request) = self.forget(id) else {
            return false;
        };
        if let Some(Sent { msg_id, .. }) = request.sent {
            let drop = tl_types::mtproto::functions::RpcDropAnswer { req_msg_id: msg_id };
            self.enqueue(tl_types::Serialize::to_bytes(&drop), true);
        }
        true
    }

    /// Where a request stands; `None` once it was answered, rejected or cancelled.
    pub fn request_state(&self, id: RequestId) -> Option<RequestState> {
        let request = self.requests.get(&id)?;
        Some(match request.sent {
            None => RequestState::Queued,
            Some(Sent {
                msg_id,
                acked: true,
                ..
            }) => RequestState::Acknowledged { msg_id },
            Some(Sent { msg_id, .. }) => RequestState::Sent { msg_id },
        })
    }

    /// Requests not answered yet (queued or sent).
    pub fn pending_requests(&self) -> usize {
        self.requests.values().filter(|r| !r.silent).count()
    }

    /// Server messages received and not acknowledged yet.
    pub fn pending_acks(&self) -> usize {
        self.pending_acks.len()
    }

    /// After a reconnect (same key and session): every request sent and not answered goes
    /// out again with a new msg_id (an answer to an earlier copy is still taken), except
    /// [`Delivery::AtMostOnce`] ones: the server is asked whether it has those
    /// (`msgs_state_req`), and they go again only if it says it does not.
    pub fn requeue_unanswered(&mut self, now: Instant) {
        let mut sent: Vec<(i64, RequestId, Delivery)> = self
            .requests
            .iter()
            .filter_map(|(id, r)| r.sent.map(|sent| (sent.msg_id, *id, r.delivery)))
            .collect();
        sent.sort_unstable_by_key(|(msg_id, ..)| *msg_id);
        let mut ask = Vec::new();
        for (msg_id, id, delivery) in sent.into_iter().rev() {
            match delivery {
                Delivery::Idempotent => self.requeue(id),
                Delivery::AtMostOnce => {
                    if let Some(request) = self.requests.get_mut(&id) {
                        request.state_asked = Some(now);
                    }
                    self.check_state_by(id, now);
                    ask.push(msg_id);
                }
            }
        }
        ask.reverse();
        for chunk in ask.chunks(MAX_IDS) {
            let query = types::MsgsStateReq {
                msg_ids: chunk.to_vec(),
            };
            self.push_service(query.to_bytes());
        }
    }

    /// Sends the pending acknowledgments with the next packet even if nothing else goes.
    pub fn flush_acks(&mut self) {
        self.flush_acks = true;
    }

    /// Queues `http_wait` for the next packet, for MTProto over HTTP: the server may hold
    /// the HTTP request that carries it up to `max_wait` ms while it has nothing to send;
    /// once it has something, it may wait `wait_after` ms for more, `max_delay` ms at most
    /// (all three customarily 0, 0 and 25 000). With nothing else queued it makes a packet
    /// of its own, the long poll. An `http_wait` still waiting to be sent is replaced.
    ///
    /// Over HTTP the server only answers requests, so a sender pushes one each time it
    /// flushes the session (mtnet's `http` module says when).
    pub fn push_http_wait(&mut self, max_delay: i32, wait_after: i32, max_wait: i32) {
        let body = types::HttpWait {
            max_delay,
            wait_after,
            max_wait,
        }
        .to_bytes();
        self.service_queue
            .retain(|queued| incoming::constructor(queued) != types::HttpWait::CONSTRUCTOR_ID);
        self.push_service(body);
    }

    /// Starts a new session id at the next transmit. Every unanswered request goes again in
    /// it, except [`Delivery::AtMostOnce`] ones not in `refused` (which the server turned
    /// away unseen): the old session cannot be asked about them any more, so they end as
    /// [`ClientEvent::Uncertain`].
    pub(super) fn start_new_session(
        &mut self,
        refused: &[RequestId],
        events: &mut Vec<ClientEvent>,
    ) {
        let sent: Vec<(RequestId, Delivery)> = self
            .requests
            .iter()
            .filter(|(_, r)| r.sent.is_some())
            .map(|(id, r)| (*id, r.delivery))
            .collect();
        for (id, delivery) in sent {
            if delivery == Delivery::AtMostOnce && !refused.contains(&id) {
                self.give_up_uncertain(id, events);
            } else {
                self.requeue(id);
            }
        }
        self.new_session_pending = true;
    }

    /// The quick-ack token of a sent packet came back: its requests reached the server.
    /// Returns them.
    pub fn handle_quick_ack(&mut self, token: u32) -> Vec<RequestId> {
        let Some(index) = self.quick_acks.iter().position(|(t, _)| *t == token) else {
            return Vec::new();
        };
        let Some((_, ids)) = self.quick_acks.remove(index) else {
            return Vec::new();
        };
        ids.into_iter()
            .filter(|id| {
                let sent = self.requests.get_mut(id).and_then(|r| r.sent.as_mut());
                sent.map(|sent| sent.acked = true).is_some()
            })
            .collect()
    }

    /// The next packet to send, if anything is due: queued requests, our own service
    /// messages and acknowledgments (those alone only when [`CLIENT_ACK_THRESHOLD`] of them
    /// accumulated, the oldest waited [`CLIENT_ACK_DELAY`], or [`flush_acks`](Self::flush_acks) was
    /// called). Several messages go in one container; call again until it returns `None`.
    pub fn poll_transmit(&mut self, now: UnixTime, rng: &mut impl RngCore) -> Option<Transmit> {
        if self.new_session_pending {
            self.renew_session(rng);
        }
        if let Some(salt) = self.future_salts.select(self.ids.corrected_secs(now)) {
            self.salt = salt;
        }
        let has_content = !self.queue.is_empty() || !self.service_queue.is_empty();
        let acks_due = !self.pending_acks.is_empty()
            && (has_content || self.flush_acks || self.pending_acks.len() >= CLIENT_ACK_THRESHOLD);
        if !has_content && !acks_due {
            return None;
        }

        let mut budget = Budget::new();
        let mut own: Vec<Vec<u8>> = Vec::new();
        let acked = if acks_due {
            let count = self.pending_acks.len().min(MAX_IDS);
            let ack = service::ack_body(self.pending_acks.get(..count).unwrap_or_default());
            budget.take(ack.len());
            own.push(ack);
            count
        } else {
            0
        };
        while let Some(body) = self.service_queue.front() {
            if !budget.take(body.len()) {
                break;
            }
            if let Some(body) = self.service_queue.pop_front() {
                own.push(body);
            }
        }
        let chosen = self.choose_requests(&mut budget);

        let items: Vec<Item<'_>> = own
            .iter()
            .map(|body| Item {
                body,
                content_related: is_content_related(body),
                kind: MsgIdKind::Client,
                fixed: None,
            })
            .chain(chosen.iter().filter_map(|id| {
                self.requests.get(id).map(|r| Item {
                    body: &r.body,
                    content_related: r.content_related,
                    kind: MsgIdKind::Client,
                    fixed: None,
                })
            }))
            .collect();
        let sealer = Sealer {
            auth_key: &self.auth_key,
            direction: Direction::ClientToServer,
            session_id: self.session_id,
            salt: self.salt,
            container_kind: MsgIdKind::Client,
        };
        let Ok(sealed) = sealer.seal(&items, &mut self.ids, &mut self.seq, now, rng) else {
            // Unreachable for bodies that passed `check_body` in a bounded container; put
            // everything back rather than lose it.
            for id in chosen.into_iter().rev() {
                self.queue.push_front(id);
            }
            for body in own.into_iter().skip(usize::from(acked > 0)).rev() {
                self.service_queue.push_front(body);
            }
            return None;
        };

        if acked > 0 {
            self.pending_acks.drain(..acked);
            self.flush_acks = false;
            self.acks_sent();
        }
        let mut stamps = sealed.stamps.iter();
        for (body, stamp) in own.into_iter().zip(stamps.by_ref()) {
            remember(&mut self.sent_service, stamp.msg_id, body);
        }
        for (id, stamp) in chosen.iter().zip(stamps) {
            self.mark_sent(*id, stamp.msg_id, sealed.container.unwrap_or(stamp.msg_id));
        }
        if let Some(container) = sealed.container {
            let inner = sealed.stamps.iter().map(|s| s.msg_id).collect();
            remember(&mut self.containers, container, inner);
        }
        let resent = chosen
            .iter()
            .filter(|id| self.requests.get(id).is_some_and(|r| r.aliases.len() > 1))
            .count();
        let reported: Vec<RequestId> = chosen
            .into_iter()
            .filter(|id| self.requests.get(id).is_some_and(|r| !r.silent))
            .collect();
        if !reported.is_empty() {
            if self.quick_acks.len() >= QUICK_ACK_MEMORY {
                self.quick_acks.pop_front();
            }
            self.quick_acks.push_back((sealed.quick_ack, reported));
        }
        Some(Transmit {
            packet: sealed.packet,
            msg_ids: sealed.stamps.iter().map(|s| s.msg_id).collect(),
            container: sealed.container,
            resent,
            acks: acked,
            quick_ack: sealed.quick_ack,
        })
    }

    /// Decrypts and handles one packet from the server. A packet that is refused (not for
    /// this key or session, tampered with, replayed, malformed) changes nothing.
    pub fn handle_packet(
        &mut self,
        packet: &mut [u8],
        now: UnixTime,
    ) -> Result<Vec<ClientEvent>, SessionError> {
        let handled = self.open_packet(packet, now);
        self.packet_received(handled.as_deref().ok());
        handled
    }

    fn open_packet(
        &mut self,
        packet: &mut [u8],
        now: UnixTime,
    ) -> Result<Vec<ClientEvent>, SessionError> {
        let decrypted = decrypt(&self.auth_key, Direction::ServerToClient, packet)?;
        let header = decrypted.header;
        if header.session_id != self.session_id {
            return Err(SessionError::WrongSession {
                expected: self.session_id,
                received: header.session_id,
            });
        }
        check_server_msg_id(header.msg_id)?;
        if self.seen.check(header.msg_id) != Seen::New {
            return Err(SessionError::Duplicate {
                msg_id: header.msg_id,
            });
        }
        let messages = incoming::unpack(header.msg_id, header.seq_no, decrypted.body)?;
        let is_container = messages.first().is_none_or(|m| m.msg_id != header.msg_id);
        let mut parsed = Vec::with_capacity(messages.len());
        let mut budget = gzip::MAX_UNPACKED;
        for message in &messages {
            check_server_msg_id(message.msg_id)?;
            parsed.push(parse(message, &mut budget)?);
        }

        // Everything is valid: from here on the session changes.
        if is_container {
            self.seen.insert_container(header.msg_id);
        }
        let mut events = Vec::new();
        for (message, parsed) in messages.iter().zip(parsed) {
            let fresh = self.seen.check(message.msg_id) == Seen::New;
            if message.seq_no & 1 == 1 {
                // Ack again a message seen before: our first ack may have been lost.
                self.queue_ack(message.msg_id);
            }
            if fresh {
                self.seen.insert(message.msg_id, message.seq_no);
                self.dispatch(message, parsed, now, &mut events);
            }
        }
        Ok(events)
    }

    pub(super) fn queue_ack(&mut self, msg_id: i64) {
        if self.pending_acks.len() < MAX_PENDING_ACKS {
            self.pending_acks.push(msg_id);
            self.ack_owed();
        }
    }

    /// Puts a sent request back in the queue (at the front) for a new msg_id.
    pub(super) fn requeue(&mut self, id: RequestId) {
        if let Some(request) = self.requests.get_mut(&id)
            && request.sent.take().is_some()
        {
            request.state_asked = None;
            self.queue.push_front(id);
        }
    }

    /// Ends a request whose fate the server did not tell, without sending it again.
    pub(super) fn give_up_uncertain(&mut self, id: RequestId, events: &mut Vec<ClientEvent>) {
        if let Some(request) = self.forget(id)
            && !request.silent
        {
            events.push(ClientEvent::Uncertain { id });
        }
    }

    /// Removes a request and every msg_id it is known by.
    pub(super) fn forget(&mut self, id: RequestId) -> Option<Request> {
        let request = self.requests.remove(&id)?;
        self.settled(id);
        for alias in &request.aliases {
            self.by_msg_id.remove(alias);
        }
        if request.sent.is_none() {
            self.queue.retain(|queued| *queued != id);
        }
        Some(request)
    }

    /// Requests from the queue that fit in `budget`, in order, skipping (and keeping in
    /// place) a few that do not.
    fn choose_requests(&mut self, budget: &mut Budget) -> Vec<RequestId> {
        let mut chosen = Vec::new();
        let mut skipped = Vec::new();
        while let Some(id) = self.queue.pop_front() {
            let Some(request) = self.requests.get(&id) else {
                continue;
            };
            let len = request.body.len();
            let taken = if request.alone {
                budget.take_alone(len)
            } else {
                budget.take(len)
            };
            if taken {
                chosen.push(id);
            } else {
                skipped.push(id);
            }
            if budget.is_full() || skipped.len() >= MAX_SKIPPED {
                break;
            }
        }
        for id in skipped.into_iter().rev() {
            self.queue.push_front(id);
        }
        chosen
    }

    fn mark_sent(&mut self, id: RequestId, msg_id: i64, carrier: i64) {
        let Some(request) = self.requests.get_mut(&id) else {
            return;
        };
        request.sent = Some(Sent {
            msg_id,
            carrier,
            acked: false,
        });
        request.aliases.push(msg_id);
        if request.aliases.len() > MAX_ALIASES {
            let oldest = request.aliases.remove(0);
            self.by_msg_id.remove(&oldest);
        }
        self.by_msg_id.insert(msg_id, id);
    }

    /// Takes the new session id decided on after bad_msg 32/33: numbering starts over, and
    /// what belonged to the old session (acks, service messages, seen ids) is dropped.
    fn renew_session(&mut self, rng: &mut impl RngCore) {
        self.new_session_pending = false;
        self.session_id = rng.next_u64() as i64;
        self.seq = SeqNo::new();
        self.seen.clear();
        self.pending_acks.clear();
        self.timers.ack = super::timer::Timer::Off;
        self.service_queue.clear();
        self.sent_service.clear();
        self.containers.clear();
    }
}

/// Server msg_ids are odd (1 mod 4 for answers, 3 mod 4 for the rest).
fn check_server_msg_id(msg_id: i64) -> Result<(), SessionError> {
    if msg_id & 1 == 1 {
        Ok(())
    } else {
        Err(SessionError::BadMsgIdParity {
            msg_id,
            sender: "server",
        })
    }
}

/// Keeps `value` under `key` in a map bounded to the most recent [`SENT_MEMORY`] keys
/// (msg_ids grow with time, so the smallest is the oldest).
fn remember<V>(map: &mut BTreeMap<i64, V>, key: i64, value: V) {
    map.insert(key, value);
    while map.len() > SENT_MEMORY {
        map.pop_first();
    }
}
