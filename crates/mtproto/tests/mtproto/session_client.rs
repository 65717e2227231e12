#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The client session's reactions, one at a time: salts, clock, seq_no errors, bad
//! containers, new sessions, detailed info, cancellation, pings, future salts, quick acks.
//! Server messages are made either by a real `ServerSession` or by hand when a test needs
//! one the server would not send.

use std::time::{Duration, Instant};

use mtcrypto::AuthKey;
use mtcrypto::kdf::Direction;
use mtproto::encrypted::{MessageHeader, decrypt, encrypt};
use mtproto::session::container::{is_container, read_container};
use mtproto::session::{
    AckTiming, CLIENT_ACK_DELAY, ClientEvent, ClientSession, Delivery, FirstMsgId,
    HTTP_BACKOFF_BUSY, HTTP_BACKOFF_IDLE, HTTP_BACKOFF_MIN, HTTP_MAX_WAIT_MS, HTTP_POLL_LIFETIME,
    Keepalive, Link, NewSessionNotice, RequestState, STATE_ANSWER_TIMEOUT, SaltSchedule,
    ServerEvent, ServerQuirks, ServerSession, SessionError, UnixTime, msg_id_from_time,
    open_client_packet,
};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use tl_types::mtproto::{functions, types};
use tl_types::{Deserialize, Identifiable, Serialize};

const T0: u64 = 1_700_000_000;
const API_CALL: u32 = 0x7e57_0001;

struct Pair {
    key: AuthKey,
    rng: ChaCha20Rng,
    salts: SaltSchedule,
    client: ClientSession,
    server: ServerSession,
    now: UnixTime,
    /// The monotonic clock when `now` was `T0`; it moves with `now` (see [`Pair::mono`]).
    start: Instant,
}

impl Pair {
    fn new(seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut bytes = [0; 256];
        rng.fill_bytes(&mut bytes);
        let key = AuthKey::from_bytes(bytes);
        let now = UnixTime::from_secs(T0);
        let salts = SaltSchedule::new(&mut rng);
        let client = ClientSession::new(key.clone(), salts.current(now), &mut rng);
        let server = ServerSession::new(key.clone(), client.session_id(), &mut rng);
        Self {
            key,
            rng,
            salts,
            client,
            server,
            now,
            start: Instant::now(),
        }
    }

    /// The monotonic reading that goes with `now`.
    fn mono(&self) -> Instant {
        self.start + self.now.saturating_since(UnixTime::from_secs(T0))
    }

    fn client_transmit(&mut self, now: UnixTime) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(t) = self.client.poll_transmit(now, &mut self.rng) {
            out.push(t.packet);
        }
        out
    }

    fn server_transmit(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(p) = self
            .server
            .poll_transmit(&self.salts, self.now, &mut self.rng)
        {
            out.push(p);
        }
        out
    }

    /// Client packets into the server; the API calls it hands out.
    fn feed_server(&mut self, packets: Vec<Vec<u8>>) -> Vec<ServerEvent> {
        let mut events = Vec::new();
        for mut packet in packets {
            events.extend(
                self.server
                    .handle_packet(&mut packet, &self.salts, self.now)
                    .unwrap(),
            );
        }
        events
    }

    fn feed_client(&mut self, packets: Vec<Vec<u8>>, now: UnixTime) -> Vec<ClientEvent> {
        let mut events = Vec::new();
        for mut packet in packets {
            events.extend(self.client.handle_packet(&mut packet, now).unwrap());
        }
        events
    }

    fn up(&mut self, now: UnixTime) -> Vec<ServerEvent> {
        let packets = self.client_transmit(now);
        self.feed_server(packets)
    }

    fn down(&mut self, now: UnixTime) -> Vec<ClientEvent> {
        let packets = self.server_transmit();
        self.feed_client(packets, now)
    }

    /// A message from the "server" made by hand.
    fn forge(&mut self, seq_no: i32, body: &[u8]) -> Vec<u8> {
        let header = MessageHeader {
            salt: 0,
            session_id: self.client.session_id(),
            msg_id: msg_id_from_time(self.now) | 1,
            seq_no,
        };
        self.now = self.now + Duration::from_millis(1);
        let mut out = Vec::new();
        encrypt(
            &self.key,
            Direction::ServerToClient,
            &header,
            body,
            &mut self.rng,
            &mut out,
        )
        .unwrap();
        out
    }

    /// Answers every API call with its own body.
    fn echo(&mut self, events: &[ServerEvent]) -> usize {
        let mut count = 0;
        for event in events {
            if let ServerEvent::Request { msg_id, body } = event {
                self.server.respond(*msg_id, Ok(body.clone())).unwrap();
                count += 1;
            }
        }
        count
    }
}

fn call(n: u32) -> Vec<u8> {
    let mut body = API_CALL.to_le_bytes().to_vec();
    body.extend_from_slice(&n.to_le_bytes());
    body
}

/// (header, messages) of a client packet, without a session.
fn open_client(key: &AuthKey, packet: &[u8]) -> (MessageHeader, Vec<(i64, Vec<u8>)>) {
    let mut copy = packet.to_vec();
    let message = open_client_packet(key, &mut copy).unwrap();
    let inner = if is_container(message.body) {
        read_container(message.body)
            .unwrap()
            .iter()
            .map(|m| (m.msg_id, m.body.to_vec()))
            .collect()
    } else {
        vec![(message.header.msg_id, message.body.to_vec())]
    };
    (message.header, inner)
}

fn constructors(key: &AuthKey, direction: Direction, packets: &[Vec<u8>]) -> Vec<u32> {
    let mut ids = Vec::new();
    for packet in packets {
        let mut copy = packet.clone();
        let message = decrypt(key, direction, &mut copy).unwrap();
        let bodies: Vec<Vec<u8>> = if is_container(message.body) {
            read_container(message.body)
                .unwrap()
                .iter()
                .map(|m| m.body.to_vec())
                .collect()
        } else {
            vec![message.body.to_vec()]
        };
        ids.extend(
            bodies
                .iter()
                .map(|b| u32::from_le_bytes(b[..4].try_into().unwrap())),
        );
    }
    ids
}

/// A millisecond before `at`.
fn just_before(at: Instant) -> Instant {
    at.checked_sub(Duration::from_millis(1)).unwrap()
}

fn responses(events: &[ClientEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, ClientEvent::Response { result: Ok(_), .. }))
        .count()
}

#[test]
fn a_round_trip_and_its_acknowledgments() {
    let mut pair = Pair::new(1);
    let id = pair.client.push_request(call(1)).unwrap();
    assert_eq!(pair.client.request_state(id), Some(RequestState::Queued));
    let packets = pair.client_transmit(pair.now);
    assert_eq!(packets.len(), 1);
    assert!(matches!(
        pair.client.request_state(id),
        Some(RequestState::Sent { .. })
    ));
    let events = pair.feed_server(packets);
    assert!(matches!(events[0], ServerEvent::SessionCreated { .. }));
    assert_eq!(pair.echo(&events), 1);
    let downlink = pair.server_transmit();
    let events = pair.feed_client(downlink, pair.now);
    assert!(matches!(events[0], ClientEvent::NewSession { .. }));
    assert_eq!(
        events[1],
        ClientEvent::Response {
            id,
            result: Ok(call(1))
        }
    );
    assert_eq!(pair.client.request_state(id), None);
    // new_session_created and rpc_result need acknowledging; nothing goes until asked.
    assert_eq!(pair.client.pending_acks(), 2);
    assert!(pair.client_transmit(pair.now).is_empty());
    // The delay counts from the first reading after they were owed.
    assert!(pair.client.handle_timeout(pair.mono()).is_empty());
    assert_eq!(
        pair.client.poll_timeout(),
        Some(pair.mono() + CLIENT_ACK_DELAY)
    );
    assert!(
        pair.client
            .handle_timeout(just_before(pair.mono() + CLIENT_ACK_DELAY))
            .is_empty()
    );
    assert!(pair.client_transmit(pair.now).is_empty());
    // After ACK_DELAY they go by themselves.
    let later = pair.now + CLIENT_ACK_DELAY;
    pair.client.handle_timeout(pair.mono() + CLIENT_ACK_DELAY);
    let acks = pair.client_transmit(later);
    assert_eq!(acks.len(), 1);
    assert_eq!(
        constructors(&pair.key, Direction::ClientToServer, &acks),
        vec![types::MsgsAck::CONSTRUCTOR_ID]
    );
    assert_eq!(pair.server.unacknowledged(), 2);
    pair.now = later;
    pair.feed_server(acks);
    assert_eq!(pair.server.unacknowledged(), 0);
    assert_eq!(
        pair.client.poll_timeout(),
        None,
        "nothing owed, nothing to wake for"
    );
}

#[test]
fn bad_server_salt_is_handled_transparently() {
    let mut pair = Pair::new(2);
    let stale = pair.client.salt();
    pair.salts.rotate();
    let id = pair.client.push_request(call(7)).unwrap();
    let packets = pair.client_transmit(pair.now);
    let events = pair.feed_server(packets);
    assert!(events.is_empty(), "nothing reaches the application");
    let downlink = pair.server_transmit();
    assert_eq!(
        constructors(&pair.key, Direction::ServerToClient, &downlink),
        vec![types::BadServerSalt::CONSTRUCTOR_ID]
    );
    assert!(pair.feed_client(downlink, pair.now).is_empty());
    assert_ne!(pair.client.salt(), stale);
    assert_eq!(pair.client.salt(), pair.salts.current(pair.now));
    let events = pair.up(pair.now);
    assert_eq!(pair.echo(&events), 1);
    let events = pair.down(pair.now);
    assert!(events.contains(&ClientEvent::Response {
        id,
        result: Ok(call(7))
    }));
}

#[test]
fn a_late_clock_is_corrected_after_bad_msg_16() {
    let mut pair = Pair::new(3);
    let behind = pair.now.saturating_sub(Duration::from_mins(10));
    let id = pair.client.push_request(call(1)).unwrap();
    let packets = pair.client_transmit(behind);
    assert!(pair.feed_server(packets).is_empty());
    let downlink = pair.server_transmit();
    assert_eq!(
        constructors(&pair.key, Direction::ServerToClient, &downlink),
        vec![types::BadMsgNotification::CONSTRUCTOR_ID]
    );
    pair.feed_client(downlink, behind);
    assert!((599..=601).contains(&pair.client.time_offset_secs()));
    let events = pair.up(behind);
    assert_eq!(pair.echo(&events), 1);
    let events = pair.down(behind);
    assert!(events.contains(&ClientEvent::Response {
        id,
        result: Ok(call(1))
    }));
}

#[test]
fn seq_no_errors_start_a_new_session() {
    let mut pair = Pair::new(4);
    let id = pair.client.push_request(call(1)).unwrap();
    drop(pair.client_transmit(pair.now));
    let old_session = pair.client.session_id();
    let Some(RequestState::Sent { msg_id }) = pair.client.request_state(id) else {
        panic!("not sent");
    };
    let bad = types::BadMsgNotification {
        bad_msg_id: msg_id,
        bad_msg_seqno: 1,
        error_code: 32,
    };
    let forged = pair.forge(0, &bad.to_bytes());
    assert!(pair.feed_client(vec![forged], pair.now).is_empty());
    assert_eq!(pair.client.request_state(id), Some(RequestState::Queued));
    let again = pair.client_transmit(pair.now);
    assert_eq!(again.len(), 1);
    let new_session = pair.client.session_id();
    assert_ne!(new_session, old_session);
    let (header, inner) = open_client(&pair.key, &again[0]);
    assert_eq!(header.session_id, new_session);
    assert_eq!(header.seq_no, 1, "numbering starts over");
    assert_eq!(inner[0].1, call(1));
    // The old session's packet goes to the old server session, the new one needs its own.
    assert!(
        pair.server
            .handle_packet(&mut again[0].clone(), &pair.salts, pair.now)
            .is_err()
    );
    pair.server = ServerSession::new(pair.key.clone(), new_session, &mut pair.rng);
    let events = pair.feed_server(again);
    assert_eq!(pair.echo(&events), 1);
    let events = pair.down(pair.now);
    assert_eq!(responses(&events), 1);
}

#[test]
fn an_invalid_container_is_resent_message_by_message() {
    let mut pair = Pair::new(5);
    let a = pair.client.push_request(call(1)).unwrap();
    let b = pair.client.push_request(call(2)).unwrap();
    let packets = pair.client_transmit(pair.now);
    assert_eq!(packets.len(), 1);
    let (header, inner) = open_client(&pair.key, &packets[0]);
    assert_eq!(inner.len(), 2);
    assert!(inner.iter().all(|(id, _)| *id < header.msg_id));
    let bad = types::BadMsgNotification {
        bad_msg_id: header.msg_id,
        bad_msg_seqno: header.seq_no,
        error_code: 64,
    };
    let forged = pair.forge(0, &bad.to_bytes());
    pair.feed_client(vec![forged], pair.now);
    assert_eq!(pair.client.request_state(a), Some(RequestState::Queued));
    assert_eq!(pair.client.request_state(b), Some(RequestState::Queued));
    let again = pair.client_transmit(pair.now);
    assert_eq!(again.len(), 2, "one packet each");
    for packet in &again {
        let (_, inner) = open_client(&pair.key, packet);
        assert_eq!(inner.len(), 1);
    }
    let events = pair.feed_server(again);
    assert_eq!(pair.echo(&events), 2);
    assert_eq!(responses(&pair.down(pair.now)), 2);
}

#[test]
fn repeated_bad_msgs_end_in_rejection() {
    let mut pair = Pair::new(6);
    let id = pair.client.push_request(call(1)).unwrap();
    for attempt in 0..=5 {
        pair.client_transmit(pair.now);
        let Some(RequestState::Sent { msg_id }) = pair.client.request_state(id) else {
            panic!("attempt {attempt}: not sent");
        };
        let bad = types::BadMsgNotification {
            bad_msg_id: msg_id,
            bad_msg_seqno: 1,
            error_code: 35,
        };
        let forged = pair.forge(0, &bad.to_bytes());
        let events = pair.feed_client(vec![forged], pair.now);
        if attempt < 5 {
            assert!(events.is_empty());
        } else {
            assert_eq!(events, vec![ClientEvent::Rejected { id, error_code: 35 }]);
        }
    }
    assert_eq!(pair.client.pending_requests(), 0);
    // An unknown code rejects at once.
    let id = pair.client.push_request(call(2)).unwrap();
    pair.client_transmit(pair.now);
    let Some(RequestState::Sent { msg_id }) = pair.client.request_state(id) else {
        panic!("not sent");
    };
    let bad = types::BadMsgNotification {
        bad_msg_id: msg_id,
        bad_msg_seqno: 1,
        error_code: 99,
    };
    let forged = pair.forge(0, &bad.to_bytes());
    assert_eq!(
        pair.feed_client(vec![forged], pair.now),
        vec![ClientEvent::Rejected { id, error_code: 99 }]
    );
}

#[test]
fn new_session_created_resends_what_the_server_never_saw() {
    let mut pair = Pair::new(7);
    let lost = pair.client.push_request(call(1)).unwrap();
    drop(pair.client_transmit(pair.now));
    let Some(RequestState::Sent { msg_id }) = pair.client.request_state(lost) else {
        panic!("not sent");
    };
    let created = types::NewSessionCreated {
        first_msg_id: msg_id + 4,
        unique_id: 42,
        server_salt: 0x1234,
    };
    let forged = pair.forge(1, &created.to_bytes());
    assert_eq!(
        pair.feed_client(vec![forged], pair.now),
        vec![ClientEvent::NewSession {
            first_msg_id: msg_id + 4,
            unique_id: 42
        }]
    );
    assert_eq!(pair.client.salt(), 0x1234);
    assert_eq!(pair.client.request_state(lost), Some(RequestState::Queued));
    assert_eq!(
        pair.client.pending_acks(),
        1,
        "new_session_created is acknowledged"
    );
}

/// Servers differ on what `first_msg_id` names when the packet that opened the session was a
/// container: the container (an independent server did this) or its first message (localdc's
/// default). Neither means that the container's own requests went unseen.
#[test]
fn new_session_created_naming_a_container_resends_nothing_it_carried() {
    for names_container in [true, false] {
        let mut pair = Pair::new(70);
        let first = pair.client.push_request(call(1)).unwrap();
        let second = pair.client.push_request(call(2)).unwrap();
        let packets = pair.client_transmit(pair.now);
        assert_eq!(packets.len(), 1);
        let (header, inner) = open_client(&pair.key, &packets[0]);
        assert_eq!(inner.len(), 2, "both requests in one container");
        let first_msg_id = if names_container {
            header.msg_id
        } else {
            inner.iter().map(|(id, _)| *id).min().unwrap()
        };
        let created = types::NewSessionCreated {
            first_msg_id,
            unique_id: 1,
            server_salt: 5,
        };
        let forged = pair.forge(1, &created.to_bytes());
        pair.feed_client(vec![forged], pair.now);
        for id in [first, second] {
            assert!(
                matches!(
                    pair.client.request_state(id),
                    Some(RequestState::Sent { .. })
                ),
                "names_container={names_container}: {id:?} must not go again"
            );
        }
        let packets = pair.client_transmit(pair.now);
        let again = constructors(&pair.key, Direction::ClientToServer, &packets);
        assert!(
            !again.contains(&API_CALL),
            "names_container={names_container}: resent {again:x?}"
        );
    }
}

/// Sends an at-most-once call, lets `deliver` decide whether the server gets it, reconnects,
/// and returns what the client sends next (constructors) with the server's events.
fn reconnect_with_an_at_most_once_call(pair: &mut Pair, deliver: bool) -> Vec<u32> {
    let id = pair
        .client
        .push_request_with(call(9), Delivery::AtMostOnce)
        .unwrap();
    let packets = pair.client_transmit(pair.now);
    if deliver {
        let events = pair.feed_server(packets);
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, ServerEvent::Request { .. }))
                .count(),
            1
        );
    }
    pair.client.requeue_unanswered(pair.mono());
    assert!(matches!(
        pair.client.request_state(id),
        Some(RequestState::Sent { .. })
    ));
    let packets = pair.client_transmit(pair.now);
    let sent = constructors(&pair.key, Direction::ClientToServer, &packets);
    assert!(!sent.contains(&API_CALL), "sent again blindly: {sent:x?}");
    assert!(sent.contains(&types::MsgsStateReq::CONSTRUCTOR_ID));
    let requests = pair.feed_server(packets);
    assert!(
        requests
            .iter()
            .all(|e| !matches!(e, ServerEvent::Request { .. }))
    );
    pair.down(pair.now);
    let packets = pair.client_transmit(pair.now);
    constructors(&pair.key, Direction::ClientToServer, &packets)
}

#[test]
fn an_at_most_once_call_the_server_has_is_not_sent_again_after_a_reconnect() {
    let mut pair = Pair::new(71);
    let next = reconnect_with_an_at_most_once_call(&mut pair, true);
    assert!(!next.contains(&API_CALL), "{next:x?}");
    assert_eq!(
        pair.client.pending_requests(),
        1,
        "still waiting for its answer"
    );
}

#[test]
fn an_at_most_once_call_the_server_never_got_goes_again_once() {
    let mut pair = Pair::new(72);
    let next = reconnect_with_an_at_most_once_call(&mut pair, false);
    assert_eq!(
        next.iter().filter(|c| **c == API_CALL).count(),
        1,
        "{next:x?}"
    );
}

#[test]
fn an_at_most_once_call_without_a_state_answer_ends_uncertain() {
    let mut pair = Pair::new(73);
    let id = pair
        .client
        .push_request_with(call(3), Delivery::AtMostOnce)
        .unwrap();
    let idempotent = pair.client.push_request(call(4)).unwrap();
    drop(pair.client_transmit(pair.now));
    pair.client.requeue_unanswered(pair.mono());
    assert_eq!(
        pair.client.request_state(idempotent),
        Some(RequestState::Queued)
    );
    drop(pair.client_transmit(pair.now));
    let deadline = pair.client.poll_timeout().unwrap();
    assert_eq!(deadline, pair.mono() + STATE_ANSWER_TIMEOUT);
    assert!(pair.client.handle_timeout(pair.mono()).is_empty());
    assert_eq!(
        pair.client.handle_timeout(deadline),
        vec![ClientEvent::Uncertain { id }]
    );
    assert_eq!(pair.client.request_state(id), None);
}

#[test]
fn a_new_session_after_bad_seq_no_gives_up_at_most_once_calls_it_cannot_ask_about() {
    let mut pair = Pair::new(74);
    let once = pair
        .client
        .push_request_with(call(5), Delivery::AtMostOnce)
        .unwrap();
    drop(pair.client_transmit(pair.now));
    let refused = pair.client.push_request(call(6)).unwrap();
    let packets = pair.client_transmit(pair.now);
    let (header, _) = open_client(&pair.key, &packets[0]);
    let bad = types::BadMsgNotification {
        bad_msg_id: header.msg_id,
        bad_msg_seqno: header.seq_no,
        error_code: 33,
    };
    let forged = pair.forge(2, &bad.to_bytes());
    let events = pair.feed_client(vec![forged], pair.now);
    assert_eq!(events, vec![ClientEvent::Uncertain { id: once }]);
    assert_eq!(
        pair.client.request_state(refused),
        Some(RequestState::Queued)
    );
}

#[test]
fn detailed_info_is_acknowledged_or_answered_with_a_resend_request() {
    let mut pair = Pair::new(8);
    let id = pair.client.push_request(call(1)).unwrap();
    pair.client_transmit(pair.now);
    let Some(RequestState::Sent { msg_id }) = pair.client.request_state(id) else {
        panic!("not sent");
    };
    let unknown_answer = msg_id_from_time(pair.now + Duration::from_secs(5)) | 1;
    let info = types::MsgDetailedInfo {
        msg_id,
        answer_msg_id: unknown_answer,
        bytes: 100,
        status: 0,
    };
    let forged = pair.forge(0, &info.to_bytes());
    let forged_id = {
        let mut copy = forged.clone();
        decrypt(&pair.key, Direction::ServerToClient, &mut copy)
            .unwrap()
            .header
            .msg_id
    };
    pair.feed_client(vec![forged], pair.now);
    assert_eq!(
        pair.client.request_state(id),
        Some(RequestState::Acknowledged { msg_id })
    );
    let out = pair.client_transmit(pair.now);
    let (_, inner) = open_client(&pair.key, &out[0]);
    let resend = types::MsgResendReq::from_bytes(&inner[0].1).unwrap();
    assert_eq!(resend.msg_ids, vec![unknown_answer]);

    // For an answer we have, an acknowledgment.
    let info = types::MsgNewDetailedInfo {
        answer_msg_id: forged_id,
        bytes: 100,
        status: 0,
    };
    let forged = pair.forge(0, &info.to_bytes());
    pair.feed_client(vec![forged], pair.now);
    assert_eq!(pair.client.pending_acks(), 1);
    pair.client.flush_acks();
    let out = pair.client_transmit(pair.now);
    let (_, inner) = open_client(&pair.key, &out[0]);
    let ack = types::MsgsAck::from_bytes(&inner[0].1).unwrap();
    assert_eq!(ack.msg_ids, vec![forged_id]);
}

#[test]
fn cancelling_a_sent_request_drops_its_answer() {
    let mut pair = Pair::new(9);
    let id = pair.client.push_request(call(1)).unwrap();
    let events = pair.up(pair.now);
    let ServerEvent::Request { msg_id, .. } = events[1] else {
        panic!("{events:?}");
    };
    assert!(pair.client.cancel(id));
    assert!(!pair.client.cancel(id));
    assert_eq!(pair.client.pending_requests(), 0);
    let events = pair.up(pair.now);
    assert_eq!(events, vec![ServerEvent::Cancelled { msg_id }]);
    pair.server.respond(msg_id, Ok(call(1))).unwrap();
    let downlink = pair.server_transmit();
    let kinds = constructors(&pair.key, Direction::ServerToClient, &downlink);
    // new_session_created, the ack of the cancelled call, and the rpc_result of the drop.
    assert_eq!(kinds.len(), 3, "{kinds:x?}");
    let events = pair.feed_client(downlink, pair.now);
    assert!(
        events
            .iter()
            .all(|e| matches!(e, ClientEvent::NewSession { .. })),
        "no answer to either: {events:?}"
    );
    // Cancelling before sending sends nothing.
    let queued = pair.client.push_request(call(2)).unwrap();
    assert!(pair.client.cancel(queued));
    pair.client.flush_acks();
    let out = pair.client_transmit(pair.now);
    assert_eq!(
        constructors(&pair.key, Direction::ClientToServer, &out),
        vec![types::MsgsAck::CONSTRUCTOR_ID]
    );
}

#[test]
fn pings_are_answered_first_with_a_bare_pong() {
    let mut pair = Pair::new(10);
    // Bulk data waiting on the server side.
    let id = pair.client.push_request(call(1)).unwrap();
    let events = pair.up(pair.now);
    let ServerEvent::Request { msg_id, .. } = events[1] else {
        panic!("{events:?}");
    };
    let mut bulk = vec![0u8; 3 << 20];
    pair.rng.fill_bytes(&mut bulk);
    pair.server.respond(msg_id, Ok(bulk.clone())).unwrap();
    let ping = functions::PingDelayDisconnect {
        ping_id: 77,
        disconnect_delay: 75,
    };
    let ping_id = pair.client.push_request(ping.to_bytes()).unwrap();
    let events = pair.up(pair.now);
    assert_eq!(
        events,
        vec![ServerEvent::DisconnectAfter {
            delay: Duration::from_secs(75)
        }]
    );
    let downlink = pair.server_transmit();
    assert_eq!(
        downlink.len(),
        2,
        "the pong does not wait for the 3 MiB answer"
    );
    let first = constructors(&pair.key, Direction::ServerToClient, &downlink[..1]);
    assert!(first.contains(&types::Pong::CONSTRUCTOR_ID));
    let events = pair.feed_client(downlink, pair.now);
    let ClientEvent::Response {
        id: pong_for,
        result,
    } = &events[1]
    else {
        panic!("{events:?}");
    };
    assert_eq!(*pong_for, ping_id);
    let pong = types::Pong::from_bytes(result.as_ref().unwrap()).unwrap();
    assert_eq!(pong.ping_id, 77);
    assert_eq!(
        events[2],
        ClientEvent::Response {
            id,
            result: Ok(bulk)
        }
    );
}

#[test]
fn future_salts_are_used_on_time() {
    let mut pair = Pair::new(11);
    pair.salts = pair.salts.clone().with_period(60);
    pair.client = ClientSession::new(
        pair.key.clone(),
        pair.salts.current(pair.now),
        &mut pair.rng,
    );
    pair.server = ServerSession::new(pair.key.clone(), pair.client.session_id(), &mut pair.rng);
    let get = functions::GetFutureSalts { num: 4 };
    let id = pair.client.push_request(get.to_bytes()).unwrap();
    pair.up(pair.now);
    let events = pair.down(pair.now);
    let ClientEvent::Response { id: for_id, result } = &events[1] else {
        panic!("{events:?}");
    };
    assert_eq!(*for_id, id);
    assert_eq!(
        types::FutureSalts::from_bytes(result.as_ref().unwrap())
            .unwrap()
            .salts
            .len(),
        4
    );
    // Three periods later the first salt is refused, but the client switched by itself.
    for step in 1..=3 {
        pair.now = pair.now + Duration::from_mins(1);
        pair.client.push_request(call(step)).unwrap();
        let events = pair.up(pair.now);
        assert_eq!(pair.echo(&events), 1, "step {step}");
        assert_eq!(pair.client.salt(), pair.salts.current(pair.now));
        let events = pair.down(pair.now);
        assert_eq!(responses(&events), 1);
    }
}

#[test]
fn quick_acks_acknowledge_the_requests_of_a_packet() {
    let mut pair = Pair::new(12);
    let a = pair.client.push_request(call(1)).unwrap();
    let b = pair.client.push_request(call(2)).unwrap();
    let transmit = pair.client.poll_transmit(pair.now, &mut pair.rng).unwrap();
    let mut copy = transmit.packet.clone();
    let opened = open_client_packet(&pair.key, &mut copy).unwrap();
    assert_eq!(opened.quick_ack, transmit.quick_ack);
    assert!(
        pair.client
            .handle_quick_ack(transmit.quick_ack ^ 1)
            .is_empty()
    );
    let mut acked = pair.client.handle_quick_ack(transmit.quick_ack);
    acked.sort();
    assert_eq!(acked, vec![a, b]);
    assert!(matches!(
        pair.client.request_state(a),
        Some(RequestState::Acknowledged { .. })
    ));
}

#[test]
fn large_requests_are_gzipped_and_bad_bodies_refused() {
    let mut pair = Pair::new(13);
    let mut body = call(1);
    body.extend(std::iter::repeat_n([1u8, 2, 3, 4], 5000).flatten());
    pair.client.push_request(body.clone()).unwrap();
    let packets = pair.client_transmit(pair.now);
    assert!(
        packets[0].len() < body.len() / 4,
        "{} bytes",
        packets[0].len()
    );
    let events = pair.feed_server(packets);
    assert!(matches!(&events[1], ServerEvent::Request { body: got, .. } if *got == body));
    for bad in [vec![], vec![0; 6], vec![0; 17 << 20]] {
        assert!(matches!(
            pair.client.push_request(bad),
            Err(SessionError::BadBody { .. })
        ));
    }
}

#[test]
fn updates_are_delivered_and_acknowledged() {
    let mut pair = Pair::new(14);
    pair.client.push_request(call(1)).unwrap();
    let events = pair.up(pair.now);
    pair.echo(&events);
    for n in 0..20u32 {
        let mut update = 0x7e57_0003_u32.to_le_bytes().to_vec();
        update.extend_from_slice(&n.to_le_bytes());
        pair.server.push_update(update).unwrap();
    }
    let events = pair.down(pair.now);
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, ClientEvent::Update(_)))
            .count(),
        20
    );
    // More than ACK_THRESHOLD messages: the acknowledgment goes without being asked.
    let acks = pair.client_transmit(pair.now);
    assert_eq!(acks.len(), 1);
    pair.feed_server(acks);
    assert_eq!(pair.server.unacknowledged(), 0);
}

/// Every combination of the server's readings: a batch of requests (half of them
/// at-most-once) sent in one container, a reconnect before any answer (twice: once with the
/// packet lost, once delivered), then answers. No at-most-once request runs twice, and each
/// request is answered once; one may end `Uncertain` instead only when the server does not
/// answer `msgs_state_req`.
#[test]
fn every_server_reading_runs_each_request_once() {
    let mut combos = Vec::new();
    for first_msg_id in [FirstMsgId::FirstMessage, FirstMsgId::Container] {
        for new_session in [
            NewSessionNotice::First,
            NewSessionNotice::AfterFirstAnswer,
            NewSessionNotice::Never,
        ] {
            for acks in [AckTiming::Prompt, AckTiming::Late, AckTiming::Batched] {
                for answers_alone in [false, true] {
                    for ignore_state_requests in [false, true] {
                        combos.push(ServerQuirks {
                            first_msg_id,
                            new_session,
                            acks,
                            answers_alone,
                            ignore_state_requests,
                        });
                    }
                }
            }
        }
    }
    for (seed, quirks) in combos.into_iter().enumerate() {
        for lose_first_packet in [false, true] {
            let mut pair = Pair::new(1000 + seed as u64);
            pair.server =
                ServerSession::new(pair.key.clone(), pair.client.session_id(), &mut pair.rng)
                    .with_quirks(quirks);
            let ids: Vec<_> = (0..6)
                .map(|n| {
                    let delivery = if n % 2 == 0 {
                        Delivery::AtMostOnce
                    } else {
                        Delivery::Idempotent
                    };
                    pair.client.push_request_with(call(n), delivery).unwrap()
                })
                .collect();
            let mut executed = std::collections::HashMap::<Vec<u8>, u32>::new();
            let mut run = |pair: &mut Pair, events: Vec<ServerEvent>| {
                for event in &events {
                    if let ServerEvent::Request { body, .. } = event {
                        *executed.entry(body.clone()).or_default() += 1;
                    }
                }
                pair.echo(&events);
            };
            let first = pair.client_transmit(pair.now);
            if !lose_first_packet {
                let events = pair.feed_server(first);
                run(&mut pair, events);
            }
            // The connection breaks before anything comes back.
            pair.client.requeue_unanswered(pair.mono());
            let mut answered = 0;
            let mut uncertain = Vec::new();
            for _ in 0..30 {
                let events = pair.up(pair.now);
                run(&mut pair, events);
                for event in pair.down(pair.now) {
                    match event {
                        ClientEvent::Response { result: Ok(_), .. } => answered += 1,
                        ClientEvent::Uncertain { id } => uncertain.push(id),
                        _ => {}
                    }
                }
                pair.now = pair.now + Duration::from_secs(1);
                uncertain.extend(
                    pair.client
                        .handle_timeout(pair.mono())
                        .into_iter()
                        .map(|e| {
                            let ClientEvent::Uncertain { id } = e else {
                                panic!("{e:?}")
                            };
                            id
                        }),
                );
            }
            let context = format!("{quirks:?} lost={lose_first_packet}");
            // Idempotent requests may run again after the reconnect; the others never.
            for n in (0..6).step_by(2) {
                assert!(
                    executed.get(&call(n)).copied().unwrap_or(0) <= 1,
                    "{context}: request {n} ran twice"
                );
            }
            assert_eq!(answered + uncertain.len(), ids.len(), "{context}");
            // Without a state answer, or when the server forgot the old ids and never says
            // it began a new session, nobody can tell: the only safe end is `Uncertain`.
            let unknowable = quirks.ignore_state_requests
                || (lose_first_packet && quirks.new_session == NewSessionNotice::Never);
            if !unknowable {
                assert!(uncertain.is_empty(), "{context}: {uncertain:?}");
            }
            assert!(
                uncertain
                    .iter()
                    .all(|id| ids.iter().position(|i| i == id).unwrap() % 2 == 0),
                "{context}: only at-most-once requests may end uncertain"
            );
        }
    }
}

// The timer table, driven with explicit monotonic readings.

impl Pair {
    /// Constructors of what the client sends now.
    fn sent_now(&mut self) -> Vec<u32> {
        let packets = self.client_transmit(self.now);
        constructors(&self.key, Direction::ClientToServer, &packets)
    }
}

const KEEPALIVE: Keepalive = Keepalive {
    interval: Duration::from_secs(15),
    pong_timeout: Duration::from_secs(20),
};

#[test]
fn a_connection_pings_at_once_and_then_every_interval() {
    let mut pair = Pair::new(90);
    pair.client.set_keepalive(KEEPALIVE);
    let t0 = pair.mono();
    pair.client.start_connection(t0, Link::Stream);
    assert_eq!(pair.client.poll_timeout(), Some(t0));
    assert!(pair.client.handle_timeout(t0).is_empty());
    let packets = pair.client_transmit(pair.now);
    let (_, messages) = open_client(&pair.key, &packets[0]);
    let ping = functions::PingDelayDisconnect::from_bytes(&messages[0].1).unwrap();
    assert_eq!(ping.disconnect_delay, 35, "interval + pong timeout");
    // The pong comes: it is no answer anyone waits for, and its deadline is gone.
    pair.feed_server(packets);
    let events = pair.down(pair.now);
    assert!(
        events
            .iter()
            .all(|e| !matches!(e, ClientEvent::Response { .. })),
        "{events:?}"
    );
    assert!(pair.client.handle_timeout(t0).is_empty());
    assert_eq!(pair.client.poll_timeout(), Some(t0 + KEEPALIVE.interval));
    // Nothing before the interval...
    assert!(
        pair.client
            .handle_timeout(just_before(t0 + KEEPALIVE.interval))
            .is_empty()
    );
    assert!(
        !pair
            .sent_now()
            .contains(&functions::PingDelayDisconnect::CONSTRUCTOR_ID)
    );
    // ...then the next ping.
    assert!(
        pair.client
            .handle_timeout(t0 + KEEPALIVE.interval)
            .is_empty()
    );
    assert!(
        pair.sent_now()
            .contains(&functions::PingDelayDisconnect::CONSTRUCTOR_ID)
    );
    assert_eq!(
        pair.client.pending_requests(),
        0,
        "pings are the session's own"
    );
}

#[test]
fn a_ping_left_unanswered_for_the_pong_timeout_is_a_stall_reported_once() {
    let mut pair = Pair::new(91);
    pair.client.set_keepalive(KEEPALIVE);
    let t0 = pair.mono();
    pair.client.start_connection(t0, Link::Stream);
    pair.client.handle_timeout(t0);
    assert_eq!(
        pair.sent_now(),
        vec![functions::PingDelayDisconnect::CONSTRUCTOR_ID]
    );
    // The interval passes with the ping still out: no second ping, the deadline decides.
    assert!(
        pair.client
            .handle_timeout(t0 + KEEPALIVE.interval)
            .is_empty()
    );
    assert!(pair.sent_now().is_empty());
    assert_eq!(
        pair.client.poll_timeout(),
        Some(t0 + KEEPALIVE.pong_timeout)
    );
    assert!(
        pair.client
            .handle_timeout(just_before(t0 + KEEPALIVE.pong_timeout))
            .is_empty()
    );
    assert_eq!(
        pair.client.handle_timeout(t0 + KEEPALIVE.pong_timeout),
        vec![ClientEvent::Stalled {
            silent_for: KEEPALIVE.pong_timeout
        }]
    );
    assert_eq!(pair.client.poll_timeout(), None);
    assert!(
        pair.client
            .handle_timeout(t0 + Duration::from_mins(10))
            .is_empty()
    );
    // A new connection pings at once; the stalled ping is not sent again.
    let t1 = t0 + Duration::from_secs(601);
    pair.client.start_connection(t1, Link::Stream);
    pair.client.handle_timeout(t1);
    assert_eq!(
        pair.sent_now(),
        vec![functions::PingDelayDisconnect::CONSTRUCTOR_ID]
    );
    assert_eq!(pair.client.poll_timeout(), Some(t1 + KEEPALIVE.interval));
}

/// An empty answer to a long poll, as a server that does not hold them sends.
fn empty_answer(pair: &mut Pair) {
    let body = types::MsgsAck { msg_ids: vec![] }.to_bytes();
    let packet = pair.forge(0, &body);
    let events = pair.feed_client(vec![packet], pair.now);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn over_http_a_long_poll_is_always_open_and_renewed_when_it_runs_out() {
    let mut pair = Pair::new(92);
    let t0 = pair.mono();
    pair.client.start_connection(t0, Link::Http);
    pair.client.handle_timeout(t0);
    let packets = pair.client_transmit(pair.now);
    let (_, messages) = open_client(&pair.key, &packets[0]);
    assert_eq!(messages.len(), 1);
    let wait = types::HttpWait::from_bytes(&messages[0].1).unwrap();
    assert_eq!(
        (wait.max_delay, wait.wait_after, wait.max_wait),
        (0, 0, HTTP_MAX_WAIT_MS)
    );
    // Held by the server: renewed when its lifetime ends, not before.
    assert_eq!(pair.client.poll_timeout(), Some(t0 + HTTP_POLL_LIFETIME));
    pair.client
        .handle_timeout(just_before(t0 + HTTP_POLL_LIFETIME));
    assert!(pair.sent_now().is_empty());
    pair.client.handle_timeout(t0 + HTTP_POLL_LIFETIME);
    assert_eq!(pair.sent_now(), vec![types::HttpWait::CONSTRUCTOR_ID]);
    // A request takes one along at once.
    let t1 = t0 + HTTP_POLL_LIFETIME + Duration::from_secs(1);
    pair.client.push_request(call(1)).unwrap();
    pair.client.handle_timeout(t1);
    let sent = pair.sent_now();
    assert!(
        sent.contains(&API_CALL) && sent.contains(&types::HttpWait::CONSTRUCTOR_ID),
        "{sent:x?}"
    );
}

#[test]
fn over_http_empty_answers_pause_the_next_long_poll_doubling_to_a_cap() {
    let mut pair = Pair::new(93);
    let t0 = pair.mono();
    pair.client.start_connection(t0, Link::Http);
    // A call waits for its answer: the pause stops at the busy cap.
    let waiting = pair.client.push_request(call(1)).unwrap();
    pair.client.handle_timeout(t0);
    assert!(pair.sent_now().contains(&types::HttpWait::CONSTRUCTOR_ID));
    let mut at = t0;
    let mut pauses = Vec::new();
    for round in 0..13 {
        if round == 8 {
            // Nobody waits any more: the pause may grow to the idle cap.
            assert!(pair.client.cancel(waiting));
            drop(pair.sent_now());
        }
        empty_answer(&mut pair);
        pair.client.handle_timeout(at);
        let due = pair.client.poll_timeout().unwrap();
        pauses.push(due - at);
        pair.client.handle_timeout(just_before(due));
        assert!(pair.sent_now().is_empty(), "round {round}: polled early");
        pair.client.handle_timeout(due);
        assert_eq!(pair.sent_now(), vec![types::HttpWait::CONSTRUCTOR_ID]);
        at = due;
    }
    let millis: Vec<u128> = pauses.iter().map(Duration::as_millis).collect();
    assert_eq!(
        millis,
        [
            25, 50, 100, 200, 400, 800, 1000, 1000, 2000, 4000, 8000, 10_000, 10_000
        ]
    );
    assert_eq!(pauses[0], HTTP_BACKOFF_MIN);
    assert_eq!(pauses[7], HTTP_BACKOFF_BUSY);
    assert_eq!(pauses[12], HTTP_BACKOFF_IDLE);
    // Something useful (an answer) lets the next long poll go at once.
    let id = pair.client.push_request(call(2)).unwrap();
    pair.client.handle_timeout(at);
    let events = pair.up(pair.now);
    pair.echo(&events);
    let events = pair.down(pair.now);
    assert!(events.contains(&ClientEvent::Response {
        id,
        result: Ok(call(2))
    }));
    pair.client.handle_timeout(at);
    assert!(pair.sent_now().contains(&types::HttpWait::CONSTRUCTOR_ID));
}

#[test]
fn over_a_stream_no_long_poll_is_kept() {
    let mut pair = Pair::new(94);
    let t0 = pair.mono();
    pair.client.start_connection(t0, Link::Stream);
    pair.client.push_request(call(1)).unwrap();
    pair.client.handle_timeout(t0);
    assert_eq!(pair.sent_now(), vec![API_CALL]);
    assert_eq!(
        pair.client.poll_timeout(),
        None,
        "no keepalive set, nothing owed"
    );
}
