#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! A client session and the server sessions of one auth key, packets passed in memory (no
//! transport): 10,000 requests of random sizes with answers derived from them (some errors,
//! some answered a round late), server updates interleaved, pings, `get_future_salts`, salts
//! that change by themselves and one forced rotation, a client clock that jumps 60 s ahead,
//! and one lost flight of packets in each direction followed by a "reconnect". Every
//! request must get exactly its own answer, once; every update must arrive once; and at the
//! end nothing is left unacknowledged on either side.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use mtcrypto::AuthKey;
use mtcrypto::kdf::Direction;
use mtproto::encrypted::decrypt;
use mtproto::session::container::{is_container, read_container};
use mtproto::session::gzip::is_gzip_packed;
use mtproto::session::rpc::{RPC_RESULT_ID, read_rpc_result};
use mtproto::session::{
    ClientEvent, ClientSession, RequestId, RequestState, RpcError, SaltSchedule, ServerEvent,
    ServerSession, UnixTime, open_client_packet,
};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use tl_types::mtproto::{functions, types};
use tl_types::{Deserialize, Identifiable, Reader, Serialize, wire};

const REQUEST: u32 = 0x7e57_0001;
const ANSWER: u32 = 0x7e57_0002;
const UPDATE: u32 = 0x7e57_0003;

const TOTAL_REQUESTS: u64 = 10_000;
const ROTATE_ROUND: u32 = 150;
const SKEW_ROUND: u32 = 260;
const LOSE_UPLINK_ROUND: u32 = 330;
const LOSE_DOWNLINK_ROUND: u32 = 400;
const MAX_ROUNDS: u32 = 5_000;

fn fnv(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// A request body: `REQUEST number payload:bytes`.
fn request_body(number: u64, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(payload.len() + 16);
    wire::write_u32(&mut body, REQUEST);
    wire::write_i64(&mut body, number as i64);
    wire::write_bytes(&mut body, payload);
    body
}

fn parse_request(body: &[u8]) -> (u64, Vec<u8>) {
    let mut reader = Reader::new(body);
    assert_eq!(reader.read_u32().unwrap(), REQUEST);
    let number = reader.read_i64().unwrap() as u64;
    (number, reader.read_bytes().unwrap().to_vec())
}

/// What the server answers to a request: an error for every 11th, otherwise
/// `ANSWER number fnv(payload) reversed(payload):bytes`.
fn answer_for(body: &[u8]) -> Result<Vec<u8>, RpcError> {
    let (number, mut payload) = parse_request(body);
    if number.is_multiple_of(11) {
        return Err(RpcError::new(
            400 + (number % 3) as i32,
            format!("TEST_ERROR_{number}"),
        ));
    }
    let mut answer = Vec::new();
    wire::write_u32(&mut answer, ANSWER);
    wire::write_i64(&mut answer, number as i64);
    wire::write_u32(&mut answer, fnv(&payload));
    payload.reverse();
    wire::write_bytes(&mut answer, &payload);
    Ok(answer)
}

fn payload(rng: &mut impl RngCore) -> Vec<u8> {
    let class = rng.next_u32() % 100;
    let len = match class {
        0..70 => rng.next_u32() % 64,
        70..90 => 64 + rng.next_u32() % 600,
        90..98 => 2_000 + rng.next_u32() % 38_000,
        _ => 50_000 + rng.next_u32() % 100_000,
    } as usize;
    let mut payload = vec![0; len];
    if (90..98).contains(&class) {
        // Compressible: gzip must kick in on both sides.
        let seed = rng.next_u32() as u8;
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte = seed.wrapping_add((i / 7) as u8 % 5);
        }
    } else {
        rng.fill_bytes(&mut payload);
    }
    payload
}

/// What travelled, counted by looking into copies of the packets.
#[derive(Debug, Default)]
struct Traffic {
    packets: u64,
    containers: u64,
    messages: u64,
    gzipped: u64,
    acks: u64,
    bad_salts: u64,
    bad_msgs: HashMap<i32, u64>,
    new_sessions: u64,
}

impl Traffic {
    fn inspect(&mut self, key: &AuthKey, direction: Direction, packet: &[u8]) {
        let mut copy = packet.to_vec();
        let message = decrypt(key, direction, &mut copy).unwrap();
        self.packets += 1;
        let bodies: Vec<&[u8]> = if is_container(message.body) {
            self.containers += 1;
            read_container(message.body)
                .unwrap()
                .iter()
                .map(|m| m.body)
                .collect()
        } else {
            vec![message.body]
        };
        for body in bodies {
            self.messages += 1;
            let id = u32::from_le_bytes(body[..4].try_into().unwrap());
            let result = (id == RPC_RESULT_ID).then(|| read_rpc_result(body).unwrap().1);
            if is_gzip_packed(body) || result.is_some_and(is_gzip_packed) {
                self.gzipped += 1;
            }
            match id {
                types::MsgsAck::CONSTRUCTOR_ID => self.acks += 1,
                types::BadServerSalt::CONSTRUCTOR_ID => self.bad_salts += 1,
                types::BadMsgNotification::CONSTRUCTOR_ID => {
                    let bad = types::BadMsgNotification::from_bytes(body).unwrap();
                    *self.bad_msgs.entry(bad.error_code).or_default() += 1;
                }
                types::NewSessionCreated::CONSTRUCTOR_ID => self.new_sessions += 1,
                _ => {}
            }
        }
    }
}

#[derive(Debug)]
enum Expect {
    Answer(u64, Vec<u8>),
    Pong(i64),
    Salts,
}

struct Server {
    key: AuthKey,
    salts: SaltSchedule,
    sessions: HashMap<i64, ServerSession>,
    rng: ChaCha20Rng,
    /// Requests answered a round late: (session, msg_id, body).
    deferred: Vec<(i64, i64, Vec<u8>)>,
    next_update: u64,
    requests_seen: u64,
}

impl Server {
    fn receive(&mut self, mut packet: Vec<u8>, now: UnixTime) {
        let message = open_client_packet(&self.key, &mut packet).unwrap();
        let session_id = message.header.session_id;
        let rng = &mut self.rng;
        let session = self
            .sessions
            .entry(session_id)
            .or_insert_with(|| ServerSession::new(self.key.clone(), session_id, rng));
        let events = session.handle_message(&message, &self.salts, now).unwrap();
        for event in events {
            match event {
                ServerEvent::Request { msg_id, body } => {
                    self.requests_seen += 1;
                    if self.rng.next_u32().is_multiple_of(5) {
                        self.deferred.push((session_id, msg_id, body));
                    } else {
                        session.respond(msg_id, answer_for(&body)).unwrap();
                    }
                }
                ServerEvent::SessionCreated { .. } => {}
                other => panic!("unexpected server event {other:?}"),
            }
        }
    }

    fn answer_deferred(&mut self) -> Vec<u64> {
        let mut numbers = Vec::new();
        for (session_id, msg_id, body) in std::mem::take(&mut self.deferred) {
            numbers.push(parse_request(&body).0);
            let session = self.sessions.get_mut(&session_id).unwrap();
            session.respond(msg_id, answer_for(&body)).unwrap();
        }
        numbers
    }

    fn transmit(&mut self, now: UnixTime) -> Vec<Vec<u8>> {
        let mut packets = Vec::new();
        for session in self.sessions.values_mut() {
            while let Some(packet) = session.poll_transmit(&self.salts, now, &mut self.rng) {
                packets.push(packet);
            }
        }
        packets
    }
}

struct Client {
    session: ClientSession,
    rng: ChaCha20Rng,
    expected: HashMap<RequestId, Expect>,
    by_number: HashMap<u64, RequestId>,
    updates: HashSet<u64>,
    answers: u64,
    errors: u64,
    pongs: u64,
    new_sessions: u64,
}

impl Client {
    fn push(&mut self, body: Vec<u8>, expect: Expect) {
        if let Expect::Answer(number, _) = &expect {
            let id = self.session.push_request(body).unwrap();
            self.by_number.insert(*number, id);
            self.expected.insert(id, expect);
        } else {
            let id = self.session.push_request(body).unwrap();
            self.expected.insert(id, expect);
        }
    }

    fn receive(&mut self, mut packet: Vec<u8>, now: UnixTime) {
        let events = self.session.handle_packet(&mut packet, now).unwrap();
        for event in events {
            match event {
                ClientEvent::Response { id, result } => {
                    let expect = self
                        .expected
                        .remove(&id)
                        .unwrap_or_else(|| panic!("second or unknown answer for {id:?}"));
                    self.check(expect, result);
                }
                ClientEvent::Update(body) => {
                    let mut reader = Reader::new(&body);
                    assert_eq!(reader.read_u32().unwrap(), UPDATE);
                    let number = reader.read_i64().unwrap() as u64;
                    assert!(self.updates.insert(number), "update {number} twice");
                }
                ClientEvent::NewSession { .. } => self.new_sessions += 1,
                ClientEvent::Rejected { id, error_code } => {
                    panic!("request {id:?} rejected with {error_code}")
                }
                ClientEvent::Uncertain { id } => panic!("request {id:?} uncertain"),
                ClientEvent::Stalled { .. } => panic!("a packet reported a stall"),
            }
        }
    }

    fn check(&mut self, expect: Expect, result: Result<Vec<u8>, RpcError>) {
        match expect {
            Expect::Answer(number, body) => {
                assert_eq!(result, answer_for(&body), "answer to request {number}");
                self.by_number.remove(&number);
                match result {
                    Ok(_) => self.answers += 1,
                    Err(_) => self.errors += 1,
                }
            }
            Expect::Pong(ping_id) => {
                let pong = types::Pong::from_bytes(&result.unwrap()).unwrap();
                assert_eq!(pong.ping_id, ping_id);
                self.pongs += 1;
            }
            Expect::Salts => {
                let salts = types::FutureSalts::from_bytes(&result.unwrap()).unwrap();
                assert_eq!(salts.salts.len(), 3);
            }
        }
    }

    fn transmit(&mut self, now: UnixTime) -> Vec<Vec<u8>> {
        let mut packets = Vec::new();
        while let Some(transmit) = self.session.poll_transmit(now, &mut self.rng) {
            packets.push(transmit.packet);
        }
        packets
    }
}

#[test]
fn ten_thousand_requests_over_a_hostile_session() {
    let started = Instant::now();
    let mut rng = ChaCha20Rng::seed_from_u64(0x5e55_1011);
    let mut key = [0u8; 256];
    rng.fill_bytes(&mut key);
    let key = AuthKey::from_bytes(key);
    let t0 = UnixTime::from_secs(1_700_000_000);
    let initial_salt = rng.next_u64() as i64;

    let mut server = Server {
        key: key.clone(),
        salts: SaltSchedule::new(&mut rng)
            .with_period(60)
            .with_initial_salt(initial_salt, t0),
        sessions: HashMap::new(),
        rng: ChaCha20Rng::seed_from_u64(1),
        deferred: Vec::new(),
        next_update: 0,
        requests_seen: 0,
    };
    let mut client = Client {
        session: ClientSession::new(key, initial_salt, &mut rng),
        rng: ChaCha20Rng::seed_from_u64(2),
        expected: HashMap::new(),
        by_number: HashMap::new(),
        updates: HashSet::new(),
        answers: 0,
        errors: 0,
        pongs: 0,
        new_sessions: 0,
    };
    client.session.sync_time(1_700_000_000, t0);

    let mut server_now = t0;
    let mut skew = Duration::ZERO;
    let mut pushed = 0u64;
    let mut pings = 0u64;
    let mut acked_before_answer = 0u64;
    let mut deferred_total = 0u64;
    let (mut up, mut down) = (Traffic::default(), Traffic::default());
    let mut salt_before_rotation = None;
    let mut round = 0;
    loop {
        round += 1;
        assert!(
            round < MAX_ROUNDS,
            "no progress: {} requests left",
            client.expected.len()
        );
        server_now = server_now + Duration::from_millis(100 + rng.next_u64() % 300);
        if round == SKEW_ROUND {
            skew = Duration::from_mins(1);
        }
        let client_now = server_now + skew;
        if round == ROTATE_ROUND {
            salt_before_rotation = Some(server.salts.current(server_now));
            server.salts.rotate();
        }

        // Answers held back from the last round; the server acknowledged those requests.
        for number in server.answer_deferred() {
            deferred_total += 1;
            if let Some(id) = client.by_number.get(&number)
                && matches!(
                    client.session.request_state(*id),
                    Some(RequestState::Acknowledged { .. })
                )
            {
                acked_before_answer += 1;
            }
        }

        if round == 3 {
            let get = functions::GetFutureSalts { num: 3 };
            client.push(get.to_bytes(), Expect::Salts);
        }
        let burst = rng.next_u64() % 41;
        for _ in 0..burst {
            if pushed == TOTAL_REQUESTS {
                break;
            }
            pushed += 1;
            if pushed.is_multiple_of(97) {
                pings += 1;
                let ping = functions::Ping {
                    ping_id: pushed as i64,
                };
                client.push(ping.to_bytes(), Expect::Pong(pushed as i64));
                continue;
            }
            let body = request_body(pushed, &payload(&mut rng));
            client.push(body.clone(), Expect::Answer(pushed, body));
        }

        let uplink = client.transmit(client_now);
        for packet in &uplink {
            up.inspect(&server.key, Direction::ClientToServer, packet);
        }
        if round == LOSE_UPLINK_ROUND {
            // Lost on the way; the client reconnects and sends again.
            client.session.requeue_unanswered(started);
        } else {
            for packet in uplink {
                server.receive(packet, server_now);
            }
        }

        if rng.next_u32().is_multiple_of(3) && pushed < TOTAL_REQUESTS {
            for session in server.sessions.values_mut() {
                let mut update = Vec::new();
                wire::write_u32(&mut update, UPDATE);
                wire::write_i64(&mut update, server.next_update as i64);
                server.next_update += 1;
                session.push_update(update).unwrap();
            }
        }

        let downlink = server.transmit(server_now);
        for packet in &downlink {
            down.inspect(&server.key, Direction::ServerToClient, packet);
        }
        if round == LOSE_DOWNLINK_ROUND {
            for session in server.sessions.values_mut() {
                session.requeue_unacknowledged();
            }
            client.session.requeue_unanswered(started);
        } else {
            for packet in downlink {
                client.receive(packet, client_now);
            }
        }

        if round == ROTATE_ROUND + 1 {
            assert_eq!(client.session.salt(), server.salts.current(server_now));
            assert_ne!(Some(client.session.salt()), salt_before_rotation);
        }
        if round == SKEW_ROUND + 1 {
            assert!(
                (-61..=-59).contains(&client.session.time_offset_secs()),
                "offset {}",
                client.session.time_offset_secs()
            );
        }
        if pushed == TOTAL_REQUESTS && client.expected.is_empty() && server.deferred.is_empty() {
            break;
        }
    }

    // Final acknowledgments: the server must be left with nothing to resend.
    client.session.flush_acks();
    let server_now = server_now + Duration::from_secs(1);
    for packet in client.transmit(server_now + skew) {
        server.receive(packet, server_now);
    }
    assert!(server.transmit(server_now).is_empty());
    for session in server.sessions.values() {
        assert_eq!(session.unacknowledged(), 0);
        assert_eq!(session.running_requests(), 0);
    }
    assert_eq!(client.session.pending_requests(), 0);
    assert_eq!(client.session.pending_acks(), 0);

    let requests = TOTAL_REQUESTS - pings;
    assert_eq!(client.answers + client.errors, requests);
    assert_eq!(
        client.errors,
        (1..=TOTAL_REQUESTS)
            .filter(|n| n.is_multiple_of(11) && !n.is_multiple_of(97))
            .count() as u64
    );
    assert_eq!(client.pongs, pings);
    assert_eq!(client.updates.len() as u64, server.next_update);
    assert!(server.next_update > 100);
    assert!(client.new_sessions >= 1);
    assert!(
        server.requests_seen >= requests,
        "lost requests were sent again"
    );
    assert!(deferred_total > 1000);
    assert!(
        acked_before_answer * 2 > deferred_total,
        "{acked_before_answer} of {deferred_total} late answers were acknowledged first"
    );
    assert!(
        up.packets < TOTAL_REQUESTS / 4,
        "requests travel in containers"
    );
    assert!(up.containers > 300 && down.containers > 300);
    assert!(
        up.gzipped > 100 && down.gzipped > 100,
        "large bodies are compressed"
    );
    assert!(
        up.acks > 100 && down.acks > 100,
        "acknowledgments flow both ways"
    );
    // The rotation and the salts expiring by themselves (60 s periods).
    assert!(down.bad_salts >= 2, "{down:?}");
    // The clock jump: msg_id too high, once per packet of that round.
    assert!(down.bad_msgs.get(&17).is_some_and(|n| *n >= 1), "{down:?}");
    assert_eq!(
        down.bad_msgs.keys().filter(|code| **code != 17).count(),
        0,
        "{down:?}"
    );
    assert_eq!(down.new_sessions, 1);
    eprintln!(
        "{round} rounds; up: {up:?}; down: {down:?}; {} answers, {} errors, {} pongs, {} \
         updates, {deferred_total} late answers ({acked_before_answer} acked first), {} \
         requests executed, {} server sessions, {:?}",
        client.answers,
        client.errors,
        client.pongs,
        client.updates.len(),
        server.requests_seen,
        server.sessions.len(),
        started.elapsed()
    );
}
