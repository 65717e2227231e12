//! The whole sans-IO stack end to end, in memory: for every transport framing, with and
//! without obfuscation, a client and a server connected by a byte pipe that delivers in
//! random chunks complete the auth-key handshake, agree on the key, then exchange 10,000
//! requests and their answers plus server updates — in containers, with acks, gzip, and a
//! salt change halfway. Nothing may be lost or duplicated.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mtcrypto::RsaPrivateKey;
use mtcrypto::dh::DhParams;
use mtproto::handshake::{
    ClientHandshake, ClientStep, HandshakeOutcome, ServerHandshake, ServerStep,
};
use mtproto::plain::{decode_plain, encode_plain};
use mtproto::session::{
    ClientEvent, ClientSession, RpcError, SaltSchedule, ServerEvent, ServerSession, UnixTime,
    open_client_packet,
};
use mtproto::transport::{
    Codec, Decoded, Detected, Frame, HEADER_LEN, Obfuscation, TransportKind, detect,
};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use tl_types::{Reader, wire};

const REQUESTS: u64 = 10_000;
const REQUEST: u32 = 0x7e57_1001;
const ANSWER: u32 = 0x7e57_1002;
const UPDATE: u32 = 0x7e57_1003;

/// One direction of the pipe: bytes written by one end, read by the other in random chunks.
#[derive(Default)]
struct Wire {
    bytes: VecDeque<u8>,
}

/// One end of the connection: its codec, its obfuscation streams (one object holds both
/// directions) and what it has received but not decoded yet.
struct End {
    codec: Codec,
    obfuscation: Option<Obfuscation>,
    buffer: Vec<u8>,
}

impl End {
    fn new(codec: Codec, obfuscation: Option<Obfuscation>) -> Self {
        Self {
            codec,
            obfuscation,
            buffer: Vec::new(),
        }
    }

    fn send(&mut self, packet: &[u8], wire: &mut Wire, rng: &mut impl RngCore) {
        let mut out = Vec::new();
        self.codec.encode(packet, &mut out, rng).unwrap();
        if let Some(obfuscation) = &mut self.obfuscation {
            obfuscation.encrypt(&mut out);
        }
        wire.bytes.extend(out);
    }

    /// Moves the wire's bytes over in random-sized chunks, decoding every complete packet.
    fn receive(&mut self, wire: &mut Wire, rng: &mut impl RngCore) -> Vec<Vec<u8>> {
        let mut packets = Vec::new();
        while !wire.bytes.is_empty() {
            let take = (1 + rng.next_u32() as usize % 70_000).min(wire.bytes.len());
            let mut chunk: Vec<u8> = wire.bytes.drain(..take).collect();
            if let Some(obfuscation) = &mut self.obfuscation {
                obfuscation.decrypt(&mut chunk);
            }
            self.buffer.extend_from_slice(&chunk);
            while let Decoded::Frame { consumed, frame } = self.codec.decode(&self.buffer).unwrap()
            {
                match frame {
                    Frame::Packet { payload, .. } => packets.push(self.buffer[payload].to_vec()),
                    other => panic!("unexpected frame {other:?}"),
                }
                self.buffer.drain(..consumed);
            }
        }
        packets
    }
}

/// Both ends of one connection. The server learns the transport from the first bytes, as a
/// real server port does.
struct Link {
    up: Wire,
    down: Wire,
    client: End,
    server: Option<End>,
    rng: ChaCha8Rng,
}

impl Link {
    fn new(kind: TransportKind, obfuscated: bool, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut up = Wire::default();
        let client = if obfuscated {
            let (header, obfuscation) = Obfuscation::client(kind, 2, None, &mut rng).unwrap();
            up.bytes.extend(header);
            End::new(Codec::client(kind).without_init_tag(), Some(obfuscation))
        } else {
            End::new(Codec::client(kind), None)
        };
        Self {
            up,
            down: Wire::default(),
            client,
            server: None,
            rng,
        }
    }

    fn client_send(&mut self, packet: &[u8]) {
        self.client.send(packet, &mut self.up, &mut self.rng);
    }

    fn client_receive(&mut self) -> Vec<Vec<u8>> {
        self.client.receive(&mut self.down, &mut self.rng)
    }

    fn server_send(&mut self, packet: &[u8]) {
        let server = self.server.as_mut().unwrap();
        server.send(packet, &mut self.down, &mut self.rng);
    }

    fn server_receive(&mut self) -> Vec<Vec<u8>> {
        if self.server.is_none() {
            self.server = Some(self.accept());
        }
        let server = self.server.as_mut().unwrap();
        server.receive(&mut self.up, &mut self.rng)
    }

    /// What a server port does with a new connection.
    fn accept(&mut self) -> End {
        let first: Vec<u8> = self.up.bytes.iter().copied().take(HEADER_LEN).collect();
        let (kind, obfuscation) = match detect(&first) {
            Detected::Abridged => (TransportKind::Abridged, None),
            Detected::Intermediate => (TransportKind::Intermediate, None),
            Detected::PaddedIntermediate => (TransportKind::PaddedIntermediate, None),
            Detected::Full => (TransportKind::Full, None),
            Detected::Obfuscated => {
                let header: [u8; HEADER_LEN] = first.try_into().unwrap();
                self.up.bytes.drain(..HEADER_LEN);
                let accepted = Obfuscation::server(&header, &[]).unwrap();
                assert_eq!(accepted.dc_id, 2);
                (accepted.kind, Some(accepted.obfuscation))
            }
            other => panic!("unexpected detection {other:?}"),
        };
        let codec = Codec::server(kind);
        match obfuscation {
            Some(obfuscation) => End::new(codec.without_init_tag(), Some(obfuscation)),
            None => End::new(codec, None),
        }
    }
}

fn server_key() -> Arc<RsaPrivateKey> {
    static KEY: OnceLock<Arc<RsaPrivateKey>> = OnceLock::new();
    KEY.get_or_init(|| {
        Arc::new(RsaPrivateKey::generate(&mut ChaCha8Rng::seed_from_u64(21)).unwrap())
    })
    .clone()
}

const T0: u64 = 1_700_000_000;

fn handshake(link: &mut Link, seed: u64) -> (Box<HandshakeOutcome>, Box<HandshakeOutcome>) {
    let key = server_key();
    let mut client = ClientHandshake::new(vec![Box::new(key.public_key().clone())], 2, None);
    let mut server = ServerHandshake::new(key, DhParams::telegram());
    let mut client_rng = ChaCha8Rng::seed_from_u64(seed);
    let mut server_rng = ChaCha8Rng::seed_from_u64(seed + 1);
    let mut msg_id = (T0 as i64) << 32;
    let mut plain = |body: &[u8]| {
        msg_id += 4;
        let mut packet = Vec::new();
        encode_plain(msg_id, body, &mut packet);
        packet
    };
    let first = client.start(&mut client_rng).unwrap();
    link.client_send(&plain(&first));
    let mut server_outcome = None;
    loop {
        let mut to_client = Vec::new();
        for packet in link.server_receive() {
            let body = decode_plain(&packet).unwrap().body;
            match server
                .handle(body, T0 as i32, &|_| false, &mut server_rng)
                .unwrap()
            {
                ServerStep::Reply(reply) => to_client.push(reply),
                ServerStep::Done { reply, outcome } => {
                    server_outcome = Some(outcome);
                    to_client.push(reply);
                }
            }
        }
        for reply in to_client {
            let mut packet = Vec::new();
            encode_plain(((T0 as i64) << 32) + 1, &reply, &mut packet);
            link.server_send(&packet);
        }
        for packet in link.client_receive() {
            match client
                .handle(decode_plain(&packet).unwrap().body, &mut client_rng)
                .unwrap()
            {
                ClientStep::Send(next) => link.client_send(&plain(&next)),
                ClientStep::Done(outcome) => return (outcome, server_outcome.unwrap()),
            }
        }
    }
}

fn request_body(number: u64, rng: &mut impl RngCore) -> Vec<u8> {
    let len = match rng.next_u32() % 100 {
        0..80 => rng.next_u32() % 100,
        80..97 => 1_000 + rng.next_u32() % 4_000,
        _ => 60_000 + rng.next_u32() % 60_000,
    } as usize;
    // Half the bodies are repetitive, so that gzip pays off for the large ones.
    let payload: Vec<u8> = if number.is_multiple_of(2) {
        (0..len).map(|i| (i / 16) as u8).collect()
    } else {
        let mut p = vec![0; len];
        rng.fill_bytes(&mut p);
        p
    };
    let mut body = Vec::new();
    wire::write_u32(&mut body, REQUEST);
    wire::write_i64(&mut body, number as i64);
    wire::write_bytes(&mut body, &payload);
    body
}

/// The server's answer: the number back and the payload reversed; every 13th is an error.
fn answer(body: &[u8]) -> Result<Vec<u8>, RpcError> {
    let mut reader = Reader::new(body);
    assert_eq!(reader.read_u32().unwrap(), REQUEST);
    let number = reader.read_i64().unwrap();
    if number % 13 == 0 {
        return Err(RpcError::new(400, format!("E2E_{number}")));
    }
    let mut payload = reader.read_bytes().unwrap().to_vec();
    payload.reverse();
    let mut out = Vec::new();
    wire::write_u32(&mut out, ANSWER);
    wire::write_i64(&mut out, number);
    wire::write_bytes(&mut out, &payload);
    Ok(out)
}

#[derive(Debug, Default)]
struct Counts {
    answered: u64,
    errors: u64,
    updates: u64,
    packets_up: u64,
    packets_down: u64,
}

fn exchange(
    link: &mut Link,
    outcome: (Box<HandshakeOutcome>, Box<HandshakeOutcome>),
    seed: u64,
) -> Counts {
    let (client_outcome, server_outcome) = outcome;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut now = UnixTime::from_secs(T0);
    let mut client = ClientSession::new(
        client_outcome.auth_key,
        client_outcome.server_salt,
        &mut rng,
    );
    client.sync_time(client_outcome.server_time, now);
    let server_key = server_outcome.auth_key;
    let initial_salt = server_outcome.server_salt;
    let mut salts = SaltSchedule::new(&mut rng).with_initial_salt(server_outcome.server_salt, now);
    let mut sessions: HashMap<i64, ServerSession> = HashMap::new();

    let mut expected: HashMap<mtproto::session::RequestId, (u64, Vec<u8>)> = HashMap::new();
    let mut answered = HashSet::new();
    let mut updates_sent = 0u64;
    let mut updates_seen = HashSet::new();
    let mut counts = Counts::default();
    let mut next = 0u64;
    let mut rotated = false;

    for _round in 0..20_000 {
        for _ in 0..(rng.next_u32() % 40) {
            if next < REQUESTS {
                let body = request_body(next, &mut rng);
                let id = client.push_request(body.clone()).unwrap();
                expected.insert(id, (next, body));
                next += 1;
            }
        }
        if !rotated && next >= REQUESTS / 2 {
            salts.rotate();
            rotated = true;
        }
        while let Some(transmit) = client.poll_transmit(now, &mut rng) {
            counts.packets_up += 1;
            link.client_send(&transmit.packet);
        }

        for mut packet in link.server_receive() {
            let message = open_client_packet(&server_key, &mut packet).unwrap();
            let session_id = message.header.session_id;
            let session = sessions
                .entry(session_id)
                .or_insert_with(|| ServerSession::new(server_key.clone(), session_id, &mut rng));
            for event in session.handle_message(&message, &salts, now).unwrap() {
                match event {
                    ServerEvent::Request { msg_id, body } => {
                        session.respond(msg_id, answer(&body)).unwrap();
                    }
                    ServerEvent::SessionCreated { .. } => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        for session in sessions.values_mut() {
            if rng.next_u32() % 4 == 0 {
                let mut update = Vec::new();
                wire::write_u32(&mut update, UPDATE);
                wire::write_i64(&mut update, updates_sent as i64);
                session.push_update(update).unwrap();
                updates_sent += 1;
            }
            while let Some(packet) = session.poll_transmit(&salts, now, &mut rng) {
                counts.packets_down += 1;
                link.server_send(&packet);
            }
        }

        for mut packet in link.client_receive() {
            for event in client.handle_packet(&mut packet, now).unwrap() {
                match event {
                    ClientEvent::Response { id, result } => {
                        let (number, body) = expected
                            .remove(&id)
                            .expect("an answer for an unknown or already answered request");
                        assert!(answered.insert(number), "request {number} answered twice");
                        assert_eq!(result, answer(&body), "answer {number} is not its own");
                        if result.is_err() {
                            counts.errors += 1;
                        }
                        counts.answered += 1;
                    }
                    ClientEvent::Update(body) => {
                        let mut reader = Reader::new(&body);
                        assert_eq!(reader.read_u32().unwrap(), UPDATE);
                        let number = reader.read_i64().unwrap();
                        assert!(
                            updates_seen.insert(number),
                            "update {number} delivered twice"
                        );
                        counts.updates += 1;
                    }
                    ClientEvent::NewSession { .. } => {}
                    other @ (ClientEvent::Rejected { .. }
                    | ClientEvent::Uncertain { .. }
                    | ClientEvent::Stalled { .. }) => {
                        panic!("unexpected {other:?}")
                    }
                }
            }
        }
        now = now + Duration::from_millis(20);
        if next == REQUESTS && expected.is_empty() && counts.updates == updates_sent {
            // Let the last acks travel, then stop.
            client.flush_acks();
            while let Some(transmit) = client.poll_transmit(now, &mut rng) {
                link.client_send(&transmit.packet);
            }
            for mut packet in link.server_receive() {
                let message = open_client_packet(&server_key, &mut packet).unwrap();
                let session = sessions.get_mut(&message.header.session_id).unwrap();
                session.handle_message(&message, &salts, now).unwrap();
            }
            let unacked: usize = sessions.values().map(ServerSession::unacknowledged).sum();
            if unacked == 0 {
                // The salt change reached the client (through bad_server_salt).
                assert!(rotated);
                assert_ne!(client.salt(), initial_salt);
                assert_eq!(client.salt(), salts.current(now));
                return counts;
            }
        }
    }
    panic!(
        "traffic did not settle: {counts:?}, {} requests unanswered",
        expected.len()
    );
}

fn run(kind: TransportKind, obfuscated: bool, seed: u64) {
    let mut link = Link::new(kind, obfuscated, seed);
    let outcome = handshake(&mut link, seed + 10);
    assert_eq!(outcome.0.auth_key.as_bytes(), outcome.1.auth_key.as_bytes());
    let counts = exchange(&mut link, outcome, seed + 20);
    assert_eq!(counts.answered, REQUESTS);
    assert_eq!(counts.errors, REQUESTS.div_ceil(13));
    assert!(counts.updates > 0);
    // Containers: far fewer packets than messages went up.
    assert!(counts.packets_up < REQUESTS / 2, "{counts:?}");
    println!("{kind:?} obfuscated={obfuscated}: {counts:?}");
}

#[test]
fn abridged() {
    run(TransportKind::Abridged, false, 100);
}

#[test]
fn abridged_obfuscated() {
    run(TransportKind::Abridged, true, 200);
}

#[test]
fn intermediate() {
    run(TransportKind::Intermediate, false, 300);
}

#[test]
fn intermediate_obfuscated() {
    run(TransportKind::Intermediate, true, 400);
}

#[test]
fn padded_intermediate() {
    run(TransportKind::PaddedIntermediate, false, 500);
}

#[test]
fn padded_intermediate_obfuscated() {
    run(TransportKind::PaddedIntermediate, true, 600);
}

#[test]
fn full() {
    run(TransportKind::Full, false, 700);
}
