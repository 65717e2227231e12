#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The server session against hand-made client packets: every check and the answer it
//! gives, the service messages it answers itself, and how it numbers, acknowledges and
//! resends its own messages.

use std::time::{Duration, Instant};

use mtcrypto::AuthKey;
use mtcrypto::kdf::Direction;
use mtproto::encrypted::{MessageHeader, decrypt, encrypt};
use mtproto::session::container::{InnerMessage, is_container, read_container, write_container};
use mtproto::session::gzip::{is_gzip_packed, unpack};
use mtproto::session::rpc::read_rpc_result;
use mtproto::session::{
    RpcError, SERVER_ACK_DELAY, SaltSchedule, ServerEvent, ServerSession, SessionError, UnixTime,
    msg_id_from_time,
};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use tl_types::mtproto::{enums, functions, types};
use tl_types::{Deserialize, Identifiable, Serialize};

const T0: u64 = 1_700_000_000;
const API_CALL: u32 = 0x7e57_0001;

/// A message the server sent: (msg_id, seq_no, body, inside a container).
type Reply = (i64, i32, Vec<u8>, Option<i64>);

struct Rig {
    key: AuthKey,
    rng: ChaCha20Rng,
    salts: SaltSchedule,
    server: ServerSession,
    session_id: i64,
    now: UnixTime,
    next_id: i64,
}

impl Rig {
    fn new(seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut bytes = [0; 256];
        rng.fill_bytes(&mut bytes);
        let key = AuthKey::from_bytes(bytes);
        let session_id = rng.next_u64() as i64;
        let now = UnixTime::from_secs(T0);
        let salts = SaltSchedule::new(&mut rng).with_initial_salt(0x0102_0304, now);
        let server = ServerSession::new(key.clone(), session_id, &mut rng);
        Self {
            key,
            rng,
            salts,
            server,
            session_id,
            now,
            next_id: msg_id_from_time(now) & !3,
        }
    }

    /// A fresh client msg_id.
    fn id(&mut self) -> i64 {
        self.next_id += 4 * 1024;
        self.next_id
    }

    fn packet(&mut self, msg_id: i64, seq_no: i32, salt: i64, body: &[u8]) -> Vec<u8> {
        let header = MessageHeader {
            salt,
            session_id: self.session_id,
            msg_id,
            seq_no,
        };
        let mut out = Vec::new();
        encrypt(
            &self.key,
            Direction::ClientToServer,
            &header,
            body,
            &mut self.rng,
            &mut out,
        )
        .unwrap();
        out
    }

    fn send_with_salt(
        &mut self,
        msg_id: i64,
        seq_no: i32,
        salt: i64,
        body: &[u8],
    ) -> Vec<ServerEvent> {
        let mut packet = self.packet(msg_id, seq_no, salt, body);
        self.server
            .handle_packet(&mut packet, &self.salts, self.now)
            .unwrap()
    }

    fn send(&mut self, msg_id: i64, seq_no: i32, body: &[u8]) -> Vec<ServerEvent> {
        let salt = self.salts.current(self.now);
        self.send_with_salt(msg_id, seq_no, salt, body)
    }

    fn send_container(
        &mut self,
        msg_id: i64,
        seq_no: i32,
        inner: &[(i64, i32, Vec<u8>)],
    ) -> Vec<ServerEvent> {
        let messages: Vec<InnerMessage<'_>> = inner
            .iter()
            .map(|(msg_id, seq_no, body)| InnerMessage {
                msg_id: *msg_id,
                seq_no: *seq_no,
                body,
            })
            .collect();
        let mut body = Vec::new();
        write_container(&mut body, &messages);
        self.send(msg_id, seq_no, &body)
    }

    /// Everything the server sends now, opened.
    fn replies(&mut self) -> Vec<Reply> {
        let mut replies = Vec::new();
        while let Some(mut packet) = self
            .server
            .poll_transmit(&self.salts, self.now, &mut self.rng)
        {
            let message = decrypt(&self.key, Direction::ServerToClient, &mut packet).unwrap();
            assert_eq!(message.header.session_id, self.session_id);
            assert_eq!(message.header.salt, self.salts.current(self.now));
            assert_eq!(message.header.msg_id & 1, 1, "server msg_ids are odd");
            if is_container(message.body) {
                let container = message.header.msg_id;
                assert_eq!(container & 3, 3);
                assert_eq!(message.header.seq_no & 1, 0);
                for inner in read_container(message.body).unwrap() {
                    assert!(inner.msg_id < container, "a container's id is the largest");
                    replies.push((
                        inner.msg_id,
                        inner.seq_no,
                        inner.body.to_vec(),
                        Some(container),
                    ));
                }
            } else {
                replies.push((
                    message.header.msg_id,
                    message.header.seq_no,
                    message.body.to_vec(),
                    None,
                ));
            }
        }
        replies
    }

    /// Starts the session with one accepted message and drains the replies.
    fn started(seed: u64) -> Self {
        let mut rig = Self::new(seed);
        let id = rig.id();
        rig.send(id, 0, &ack(&[]));
        let created: Vec<i64> = rig.replies().iter().map(|r| r.0).collect();
        let id = rig.id();
        rig.send(id, 0, &ack(&created));
        assert_eq!(rig.server.unacknowledged(), 0);
        rig
    }
}

fn ack(ids: &[i64]) -> Vec<u8> {
    types::MsgsAck {
        msg_ids: ids.to_vec(),
    }
    .to_bytes()
}

fn call(n: u32) -> Vec<u8> {
    let mut body = API_CALL.to_le_bytes().to_vec();
    body.extend_from_slice(&n.to_le_bytes());
    body
}

fn constructor(body: &[u8]) -> u32 {
    u32::from_le_bytes(body[..4].try_into().unwrap())
}

fn bad_msg(replies: &[Reply]) -> Vec<(i64, i32)> {
    replies
        .iter()
        .filter(|r| constructor(&r.2) == types::BadMsgNotification::CONSTRUCTOR_ID)
        .map(|r| {
            let bad = types::BadMsgNotification::from_bytes(&r.2).unwrap();
            (bad.bad_msg_id, bad.error_code)
        })
        .collect()
}

#[test]
fn the_first_message_gets_new_session_created_before_anything() {
    let mut rig = Rig::new(1);
    let (ping_id, call_id, container_id) = (rig.id(), rig.id(), rig.id());
    let ping = functions::Ping { ping_id: 5 }.to_bytes();
    let events = rig.send_container(
        container_id,
        4,
        &[(ping_id, 1, ping), (call_id, 3, call(1))],
    );
    assert_eq!(
        events,
        vec![
            ServerEvent::SessionCreated {
                first_msg_id: ping_id
            },
            ServerEvent::Request {
                msg_id: call_id,
                body: call(1)
            }
        ]
    );
    let replies = rig.replies();
    let created = types::NewSessionCreated::from_bytes(&replies[0].2).unwrap();
    assert_eq!(created.first_msg_id, ping_id);
    assert_eq!(created.server_salt, rig.salts.current(rig.now));
    assert_eq!(replies[0].0 & 3, 3, "sent on the server's own initiative");
    assert_eq!(replies[0].1 & 1, 1, "content-related");
    let pong = types::Pong::from_bytes(&replies[1].2).unwrap();
    assert_eq!(
        pong,
        types::Pong {
            msg_id: ping_id,
            ping_id: 5
        }
    );
    assert_eq!(replies[1].0 & 3, 1, "a response");
    assert_eq!(replies[1].1 & 1, 0, "not content-related");
    // The unanswered call is acknowledged along with them.
    let acks = types::MsgsAck::from_bytes(&replies[2].2).unwrap();
    assert_eq!(acks.msg_ids, vec![call_id]);
    assert_eq!(replies.len(), 3);
    // A second message of the session does not get another one.
    let id = rig.id();
    rig.send(id, 4, &ack(&[]));
    assert!(rig.replies().is_empty());
}

#[test]
fn msg_id_checks() {
    let mut rig = Rig::new(2);
    let base = msg_id_from_time(rig.now) & !3;
    let second = 1i64 << 32;
    let cases = [
        (base + 4 + 2, 18),
        (base - 301 * second, 16),
        (base + 31 * second, 17),
    ];
    for (msg_id, code) in cases {
        assert!(rig.send(msg_id, 1, &call(1)).is_empty());
        assert_eq!(bad_msg(&rig.replies()), vec![(msg_id, code)]);
    }
    // Just inside the window on both sides (the first one starts the session).
    assert_eq!(rig.send(base - 299 * second, 1, &call(2)).len(), 2);
    assert_eq!(rig.send(base + 29 * second, 101, &call(2)).len(), 1);
    assert!(bad_msg(&rig.replies()).is_empty());
    // A duplicate is ignored.
    let msg_id = base + 29 * second;
    assert!(rig.send(msg_id, 101, &call(2)).is_empty());
    assert!(rig.replies().is_empty());
}

#[test]
fn forgotten_ids_get_20() {
    let mut rig = Rig::started(3);
    let first = rig.id();
    rig.send(first, 0, &ack(&[]));
    // Fill the window with 17 containers of 1000 acks.
    for _ in 0..17 {
        let inner: Vec<_> = (0..1000).map(|_| (rig.id(), 0, ack(&[]))).collect();
        let container = rig.id();
        rig.send_container(container, 0, &inner);
    }
    assert!(rig.replies().is_empty());
    let below = first + 4;
    assert!(rig.send(below, 0, &ack(&[])).is_empty());
    assert_eq!(bad_msg(&rig.replies()), vec![(below, 20)]);
}

#[test]
fn seq_no_checks() {
    let mut rig = Rig::started(4);
    // Parity: API calls are odd, acknowledgments even; pings pass either way.
    let even_call = rig.id();
    assert!(rig.send(even_call, 2, &call(1)).is_empty());
    assert_eq!(bad_msg(&rig.replies()), vec![(even_call, 35)]);
    let odd_ack = rig.id();
    assert!(rig.send(odd_ack, 3, &ack(&[])).is_empty());
    assert_eq!(bad_msg(&rig.replies()), vec![(odd_ack, 34)]);
    for seq in [4, 5] {
        let ping = rig.id();
        rig.send(ping, seq, &functions::Ping { ping_id: 1 }.to_bytes());
        let replies = rig.replies();
        assert!(bad_msg(&replies).is_empty());
        assert_eq!(constructor(&replies[0].2), types::Pong::CONSTRUCTOR_ID);
    }
    // Order against neighbours: a has 7, c has 11; between must lie in 7..=11.
    let (a, between, c) = (rig.id(), rig.id(), rig.id());
    let (between2, between3) = (between + 4, between + 8);
    assert_eq!(rig.send(a, 7, &call(2)).len(), 1);
    assert_eq!(rig.send(c, 11, &call(3)).len(), 1);
    rig.server.flush_acks();
    rig.replies();
    for (msg_id, seq, code) in [(between, 13, 33), (between, 5, 32), (between, 7, 32)] {
        assert!(rig.send(msg_id, seq, &call(4)).is_empty());
        assert_eq!(bad_msg(&rig.replies()), vec![(msg_id, code)], "seq {seq}");
    }
    assert_eq!(rig.send(between, 9, &call(4)).len(), 1);
    // Even numbers may repeat (several non-content messages in a row).
    rig.send(between2, 10, &ack(&[]));
    rig.send(between3, 10, &ack(&[]));
    assert!(bad_msg(&rig.replies()).is_empty());
}

#[test]
fn salts_are_checked() {
    let mut rig = Rig::new(5);
    let id = rig.id();
    assert!(rig.send_with_salt(id, 1, 0x666, &call(1)).is_empty());
    let replies = rig.replies();
    let bad = types::BadServerSalt::from_bytes(&replies[0].2).unwrap();
    assert_eq!(bad.bad_msg_id, id);
    assert_eq!(bad.error_code, 48);
    assert_eq!(bad.new_server_salt, rig.salts.current(rig.now));
    // The handshake's salt is good for now.
    let id = rig.id();
    assert_eq!(rig.send_with_salt(id, 1, 0x0102_0304, &call(1)).len(), 2);
    // And so is the previous period's.
    let old = rig.salts.current(rig.now);
    rig.now = rig.now + Duration::from_mins(30);
    rig.next_id = msg_id_from_time(rig.now) & !3;
    let id = rig.id();
    assert_eq!(rig.send_with_salt(id, 3, old, &call(2)).len(), 1);
    rig.now = rig.now + Duration::from_mins(30);
    rig.next_id = msg_id_from_time(rig.now) & !3;
    let id = rig.id();
    assert!(rig.send_with_salt(id, 5, old, &call(3)).is_empty());
}

#[test]
fn malformed_containers_get_64() {
    let mut rig = Rig::started(6);
    let (inner_id, container) = (rig.id(), rig.id());
    let mut body = Vec::new();
    write_container(
        &mut body,
        &[InnerMessage {
            msg_id: inner_id,
            seq_no: 1,
            body: &call(1),
        }],
    );
    // Claim a longer inner message than there is.
    body[20..24].copy_from_slice(&400u32.to_le_bytes());
    assert!(rig.send(container, 2, &body).is_empty());
    assert_eq!(bad_msg(&rig.replies()), vec![(container, 64)]);
    // A container is never content-related.
    let (inner_id, container) = (rig.id(), rig.id());
    assert!(
        rig.send_container(container, 3, &[(inner_id, 1, call(1))])
            .is_empty()
    );
    assert_eq!(bad_msg(&rig.replies()), vec![(container, 34)]);
    // Inner messages are checked one by one.
    let (good, bad, container) = (rig.id(), rig.id(), rig.id());
    let events = rig.send_container(container, 4, &[(good, 1, call(1)), (bad | 1, 3, call(2))]);
    assert_eq!(events.len(), 1);
    assert_eq!(bad_msg(&rig.replies()), vec![(bad | 1, 18)]);
}

#[test]
fn service_questions_are_answered() {
    let mut rig = Rig::started(7);
    let running = rig.id();
    rig.send(running, 1, &call(1));
    let acked = rig.id();
    rig.send(acked, 2, &ack(&[]));
    let gap = acked + 4;
    let far = rig.next_id + (10 << 32);
    let low = msg_id_from_time(rig.now.saturating_sub(Duration::from_secs(100))) & !3;
    let question = rig.id();
    let req = types::MsgsStateReq {
        msg_ids: vec![running, acked, gap, far, low],
    };
    rig.send(question, 3, &req.to_bytes());
    let replies = rig.replies();
    let info = replies
        .iter()
        .find(|r| constructor(&r.2) == types::MsgsStateInfo::CONSTRUCTOR_ID)
        .unwrap();
    let info = types::MsgsStateInfo::from_bytes(&info.2).unwrap();
    assert_eq!(info.req_msg_id, question);
    assert_eq!(info.info, vec![4 | 32, 4 | 16, 2, 3, 1]);

    let get = rig.id();
    rig.send(get, 5, &functions::GetFutureSalts { num: 3 }.to_bytes());
    let replies = rig.replies();
    let salts = types::FutureSalts::from_bytes(&replies[0].2).unwrap();
    assert_eq!(salts.req_msg_id, get);
    assert_eq!(salts.salts.len(), 3);
    assert_eq!(salts.salts[0].salt, rig.salts.current(rig.now));
    assert_eq!(replies[0].0 & 3, 1);

    let wait = rig.id();
    let http_wait = types::HttpWait {
        max_delay: 1,
        wait_after: 2,
        max_wait: 3,
    };
    assert_eq!(
        rig.send(wait, 6, &http_wait.to_bytes()),
        vec![ServerEvent::HttpWait {
            msg_id: wait,
            max_delay: 1,
            wait_after: 2,
            max_wait: 3
        }]
    );
    let destroy = rig.id();
    assert_eq!(
        rig.send(
            destroy,
            7,
            &functions::DestroySession { session_id: 9 }.to_bytes()
        ),
        vec![ServerEvent::DestroySession {
            msg_id: destroy,
            session_id: 9
        }]
    );
    let answer = enums::DestroySessionRes::from(types::DestroySessionOk { session_id: 9 });
    rig.server.respond(destroy, Ok(answer.to_bytes())).unwrap();
    let replies = rig.replies();
    let (req, result) = read_rpc_result(&replies[0].2).unwrap();
    assert_eq!(req, destroy);
    assert_eq!(result, answer.to_bytes().as_slice());
}

#[test]
fn answers_updates_errors_and_gzip() {
    let mut rig = Rig::started(8);
    let (a, b, c) = (rig.id(), rig.id(), rig.id());
    rig.send(a, 1, &call(1));
    rig.send(b, 3, &call(2));
    rig.send(c, 5, &call(3));
    rig.server.respond(a, Ok(call(10))).unwrap();
    rig.server
        .respond(b, Err(RpcError::new(420, "FLOOD_WAIT_3")))
        .unwrap();
    let mut big = call(11);
    big.extend(std::iter::repeat_n(7u8, 100_000));
    rig.server.respond(c, Ok(big.clone())).unwrap();
    rig.server.push_update(call(99)).unwrap();
    assert!(matches!(
        rig.server.respond(a, Ok(vec![1, 2, 3])),
        Err(SessionError::BadBody { .. })
    ));
    let replies = rig.replies();
    assert_eq!(replies.len(), 4);
    let results: Vec<(i64, Vec<u8>)> = replies[..3]
        .iter()
        .map(|r| {
            assert_eq!(r.0 & 3, 1);
            assert_eq!(r.1 & 1, 1);
            let (req, result) = read_rpc_result(&r.2).unwrap();
            (req, result.to_vec())
        })
        .collect();
    assert_eq!(results[0], (a, call(10)));
    let error = types::RpcError::from_bytes(&results[1].1).unwrap();
    assert_eq!(
        (error.error_code, error.error_message.as_slice()),
        (420, &b"FLOOD_WAIT_3"[..])
    );
    assert!(is_gzip_packed(&results[2].1));
    assert!(results[2].1.len() < 1000);
    assert_eq!(unpack(&results[2].1).unwrap(), big);
    assert_eq!(replies[3].0 & 3, 3, "updates are the server's own");
    assert_eq!(replies[3].2, call(99));
    assert_eq!(rig.server.unacknowledged(), 4);
    let id = rig.id();
    rig.send(
        id,
        6,
        &ack(&replies.iter().map(|r| r.0).collect::<Vec<_>>()),
    );
    assert_eq!(rig.server.unacknowledged(), 0);
}

#[test]
fn unacknowledged_answers_go_again_under_their_ids() {
    let mut rig = Rig::started(9);
    let request = rig.id();
    rig.send(request, 1, &call(1));
    rig.server.respond(request, Ok(call(2))).unwrap();
    let first = rig.replies();
    assert_eq!(first.len(), 1);
    let answer_id = first[0].0;

    // The client sends the request again under its msg_id, in a container.
    let container = rig.id();
    assert!(
        rig.send_container(container, 2, &[(request, 1, call(1))])
            .is_empty()
    );
    let again = rig.replies();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].0, &again[0].2), (answer_id, &first[0].2));
    assert!(
        again[0].3.is_some(),
        "a message sent again travels in a container"
    );

    // msg_resend_req does the same.
    let id = rig.id();
    let resend = types::MsgResendReq {
        msg_ids: vec![answer_id],
    };
    rig.send(id, 3, &resend.to_bytes());
    let again = rig.replies();
    assert!(again.iter().any(|r| r.0 == answer_id && r.3.is_some()));

    // So does a reconnect.
    rig.server.requeue_unacknowledged();
    let again = rig.replies();
    assert!(again.iter().any(|r| r.0 == answer_id));

    // Once acknowledged, a duplicate gets nothing.
    let id = rig.id();
    rig.send(id, 4, &ack(&[answer_id]));
    assert_eq!(rig.server.unacknowledged(), 0);
    let container = rig.id();
    rig.send_container(container, 4, &[(request, 1, call(1))]);
    assert!(rig.replies().is_empty());
}

#[test]
fn rpc_drop_answer_in_each_state() {
    let mut rig = Rig::started(10);
    let (running, answered) = (rig.id(), rig.id());
    rig.send(running, 1, &call(1));
    rig.send(answered, 3, &call(2));
    rig.server.respond(answered, Ok(call(3))).unwrap();
    let replies = rig.replies();
    let answer = replies
        .iter()
        .find(|r| constructor(&r.2) == mtproto::session::rpc::RPC_RESULT_ID)
        .unwrap()
        .clone();

    let drops: Vec<(i64, i64)> = [running, answered, 12345 << 2]
        .into_iter()
        .map(|target| (rig.id(), target))
        .collect();
    let mut events = Vec::new();
    for (i, (id, target)) in drops.iter().enumerate() {
        let drop = functions::RpcDropAnswer {
            req_msg_id: *target,
        };
        events.extend(rig.send(*id, 5 + 2 * i as i32, &drop.to_bytes()));
    }
    assert_eq!(events, vec![ServerEvent::Cancelled { msg_id: running }]);
    rig.server.respond(running, Ok(call(4))).unwrap();
    let replies = rig.replies();
    let mut answers: Vec<(i64, enums::RpcDropAnswer)> = replies
        .iter()
        .map(|r| {
            let (req, result) = read_rpc_result(&r.2).unwrap();
            (req, enums::RpcDropAnswer::from_bytes(result).unwrap())
        })
        .collect();
    answers.sort_by_key(|a| a.0);
    assert_eq!(answers.len(), 3, "and nothing for the dropped call");
    assert_eq!(
        answers[0],
        (drops[0].0, enums::RpcDropAnswer::RpcAnswerDroppedRunning)
    );
    assert_eq!(
        answers[1],
        (
            drops[1].0,
            types::RpcAnswerDropped {
                msg_id: answer.0,
                seq_no: answer.1,
                bytes: answer.2.len() as i32
            }
            .into()
        )
    );
    assert_eq!(
        answers[2],
        (drops[2].0, enums::RpcDropAnswer::RpcAnswerUnknown)
    );
}

#[test]
fn acknowledgment_timing() {
    let mut rig = Rig::started(11);
    let request = rig.id();
    rig.send(request, 1, &call(1));
    assert!(rig.replies().is_empty(), "an ack alone waits");
    // The delay counts from the first reading after the ack was owed.
    let t0 = Instant::now();
    assert_eq!(rig.server.poll_timeout(), None, "no reading yet");
    assert!(!rig.server.handle_timeout(t0));
    assert_eq!(rig.server.poll_timeout(), Some(t0 + SERVER_ACK_DELAY));
    assert!(!rig.server.handle_timeout(t0 + SERVER_ACK_DELAY / 2));
    assert!(rig.replies().is_empty(), "not yet");
    assert!(rig.server.handle_timeout(t0 + SERVER_ACK_DELAY));
    let replies = rig.replies();
    assert_eq!(
        types::MsgsAck::from_bytes(&replies[0].2).unwrap().msg_ids,
        vec![request]
    );
    // Sixteen go at once.
    for n in 0..16 {
        let id = rig.id();
        rig.send(id, 3 + 2 * n, &call(2));
    }
    assert_eq!(rig.replies().len(), 1);
    assert_eq!(rig.server.poll_timeout(), None);
}

#[test]
fn packets_for_other_sessions_or_keys_are_refused() {
    let mut rig = Rig::started(12);
    let mut other = Rig::new(12);
    other.session_id ^= 1;
    let id = other.id();
    let mut packet = other.packet(id, 1, rig.salts.current(rig.now), &call(1));
    assert!(matches!(
        rig.server.handle_packet(&mut packet, &rig.salts, rig.now),
        Err(SessionError::WrongSession { .. })
    ));
    let mut stranger = Rig::new(13);
    stranger.session_id = rig.session_id;
    let id = stranger.id();
    let mut packet = stranger.packet(id, 1, 0, &call(1));
    assert!(matches!(
        rig.server.handle_packet(&mut packet, &rig.salts, rig.now),
        Err(SessionError::Message(_))
    ));
    // Still working.
    let id = rig.id();
    assert_eq!(rig.send(id, 1, &call(1)).len(), 1);
}

#[test]
fn the_unacknowledged_store_is_bounded() {
    let mut rig = Rig::started(13);
    for n in 0..5000 {
        rig.server.push_update(call(n)).unwrap();
    }
    let replies = rig.replies();
    assert_eq!(replies.len(), 5000);
    assert!(rig.server.unacknowledged() <= 4096);
}
