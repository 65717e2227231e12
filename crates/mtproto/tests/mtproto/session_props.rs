#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Hostile input for both roles. Random bytes, damaged valid packets and — past the
//! encryption — validly encrypted messages whose contents are random or built from the
//! service constructors with random fields: nothing panics, and the session still handles
//! the next good message. The unpackers get the same treatment on their own.

use mtcrypto::AuthKey;
use mtcrypto::kdf::Direction;
use mtproto::encrypted::{MessageHeader, encrypt};
use mtproto::session::container::{InnerMessage, read_container, write_container};
use mtproto::session::gzip::{self, GZIP_PACKED_ID};
use mtproto::session::rpc::{RPC_RESULT_ID, decode_result, read_rpc_result};
use mtproto::session::{
    ClientEvent, ClientSession, RequestState, SaltSchedule, ServerEvent, ServerSession, UnixTime,
    msg_id_from_time,
};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use tl_types::Identifiable;
use tl_types::mtproto::{functions, types};
use tl_types::wire;

const T0: u64 = 1_700_000_000;
const API_CALL: u32 = 0x7e57_0001;

/// Constructor ids worth starting a forged body with.
const CONSTRUCTORS: [u32; 22] = [
    RPC_RESULT_ID,
    GZIP_PACKED_ID,
    0x73f1_f8dc,
    types::MsgsAck::CONSTRUCTOR_ID,
    types::BadMsgNotification::CONSTRUCTOR_ID,
    types::BadServerSalt::CONSTRUCTOR_ID,
    types::NewSessionCreated::CONSTRUCTOR_ID,
    types::Pong::CONSTRUCTOR_ID,
    types::FutureSalts::CONSTRUCTOR_ID,
    types::MsgDetailedInfo::CONSTRUCTOR_ID,
    types::MsgNewDetailedInfo::CONSTRUCTOR_ID,
    types::MsgsStateReq::CONSTRUCTOR_ID,
    types::MsgResendReq::CONSTRUCTOR_ID,
    types::MsgsStateInfo::CONSTRUCTOR_ID,
    types::RpcError::CONSTRUCTOR_ID,
    types::HttpWait::CONSTRUCTOR_ID,
    functions::Ping::CONSTRUCTOR_ID,
    functions::PingDelayDisconnect::CONSTRUCTOR_ID,
    functions::GetFutureSalts::CONSTRUCTOR_ID,
    functions::DestroySession::CONSTRUCTOR_ID,
    functions::RpcDropAnswer::CONSTRUCTOR_ID,
    API_CALL,
];

/// A body: a constructor (known or not) and random words, where vector counts and TL byte
/// lengths come out as whatever the words say.
fn body() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![prop::sample::select(CONSTRUCTORS.to_vec()), any::<u32>()],
        prop::collection::vec(
            prop_oneof![
                3 => 0u32..16,
                1 => Just(0x1cb5_c415u32),
                2 => any::<u32>()
            ],
            0..24,
        ),
    )
        .prop_map(|(id, words)| {
            let mut body = id.to_le_bytes().to_vec();
            for word in words {
                body.extend_from_slice(&word.to_le_bytes());
            }
            body
        })
}

/// A forged message body: one body, a gzip_packed body, or a container of bodies with
/// random inner msg_ids and seq_nos.
fn message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => body(),
        1 => body().prop_map(|b| gzip::pack(&b).unwrap()),
        2 => prop::collection::vec((any::<i64>(), 0i32..64, body()), 0..6).prop_map(|inner| {
            let messages: Vec<InnerMessage<'_>> = inner
                .iter()
                .map(|(msg_id, seq_no, body)| InnerMessage {
                    msg_id: *msg_id,
                    seq_no: *seq_no,
                    body,
                })
                .collect();
            let mut out = Vec::new();
            write_container(&mut out, &messages);
            out
        }),
    ]
}

fn key(seed: u64) -> AuthKey {
    let mut bytes = [0; 256];
    ChaCha20Rng::seed_from_u64(seed).fill_bytes(&mut bytes);
    AuthKey::from_bytes(bytes)
}

fn seal(key: &AuthKey, direction: Direction, header: MessageHeader, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rng = ChaCha20Rng::seed_from_u64(header.msg_id as u64);
    encrypt(key, direction, &header, body, &mut rng, &mut out).unwrap();
    out
}

/// A client with one request in flight.
fn client_in_flight(seed: u64) -> (AuthKey, ClientSession, i64) {
    let key = key(seed);
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut client = ClientSession::new(key.clone(), 1, &mut rng);
    let now = UnixTime::from_secs(T0);
    client
        .push_request(API_CALL.to_le_bytes().to_vec())
        .unwrap();
    client.poll_transmit(now, &mut rng).unwrap();
    let session_id = client.session_id();
    (key, client, session_id)
}

/// After the storm, a fresh request and a good answer to it still work.
fn client_still_works(key: &AuthKey, client: &mut ClientSession) {
    let now = UnixTime::from_secs(T0 + 1);
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let id = client
        .push_request(API_CALL.to_le_bytes().to_vec())
        .unwrap();
    while client.poll_transmit(now, &mut rng).is_some() {}
    let Some(RequestState::Sent { msg_id }) = client.request_state(id) else {
        panic!("not sent");
    };
    let mut body = Vec::new();
    wire::write_u32(&mut body, RPC_RESULT_ID);
    wire::write_i64(&mut body, msg_id);
    wire::write_u32(&mut body, 0x0bad_cafe);
    let header = MessageHeader {
        salt: 0,
        session_id: client.session_id(),
        msg_id: msg_id_from_time(UnixTime::from_secs(T0 + 100_000)) | 1,
        seq_no: 1,
    };
    let mut packet = seal(key, Direction::ServerToClient, header, &body);
    let events = client.handle_packet(&mut packet, now).unwrap();
    assert!(events.contains(&ClientEvent::Response {
        id,
        result: Ok(0x0bad_cafe_u32.to_le_bytes().to_vec())
    }));
}

fn server_started(seed: u64) -> (AuthKey, SaltSchedule, ServerSession, i64) {
    let key = key(seed);
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let salts = SaltSchedule::new(&mut rng);
    let session_id = 0x5e55;
    let server = ServerSession::new(key.clone(), session_id, &mut rng);
    (key, salts, server, session_id)
}

fn server_still_works(key: &AuthKey, salts: &SaltSchedule, server: &mut ServerSession) {
    let now = UnixTime::from_secs(T0);
    let msg_id = msg_id_from_time(UnixTime::from_secs(T0 + 20)) & !3;
    let header = MessageHeader {
        salt: salts.current(now),
        session_id: server.session_id(),
        msg_id,
        seq_no: 100_001,
    };
    let body = API_CALL.to_le_bytes();
    let mut packet = seal(key, Direction::ClientToServer, header, &body);
    let events = server.handle_packet(&mut packet, salts, now).unwrap();
    assert!(events.contains(&ServerEvent::Request {
        msg_id,
        body: body.to_vec()
    }));
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    server.respond(msg_id, Ok(body.to_vec())).unwrap();
    let mut sent = 0;
    while server.poll_transmit(salts, now, &mut rng).is_some() {
        sent += 1;
        assert!(sent < 100, "output never ends");
    }
    assert!(sent > 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn client_survives_random_packets(packets in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..400), 1..8)) {
        let (key, mut client, _) = client_in_flight(1);
        for mut packet in packets {
            prop_assert!(client.handle_packet(&mut packet, UnixTime::from_secs(T0)).is_err());
        }
        client_still_works(&key, &mut client);
    }

    #[test]
    fn server_survives_random_packets(packets in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..400), 1..8)) {
        let (key, salts, mut server, _) = server_started(2);
        for mut packet in packets {
            prop_assert!(server.handle_packet(&mut packet, &salts, UnixTime::from_secs(T0)).is_err());
        }
        server_still_works(&key, &salts, &mut server);
    }

    #[test]
    fn client_survives_forged_messages(
        messages in prop::collection::vec((any::<u32>(), 0i32..64, message()), 1..8),
    ) {
        let (key, mut client, session_id) = client_in_flight(3);
        for (i, (jitter, seq_no, body)) in messages.iter().enumerate() {
            // Odd ids most of the time, so that the contents get looked at.
            let base = msg_id_from_time(UnixTime::from_secs(T0)) + (i as i64) * 4096;
            let msg_id = if jitter.is_multiple_of(8) { base + i64::from(*jitter) } else { base | 1 };
            let header = MessageHeader { salt: 0, session_id, msg_id, seq_no: *seq_no };
            let mut packet = seal(&key, Direction::ServerToClient, header, body);
            let _ = client.handle_packet(&mut packet, UnixTime::from_secs(T0));
            while client.poll_transmit(UnixTime::from_secs(T0), &mut ChaCha20Rng::seed_from_u64(1)).is_some() {}
        }
        client_still_works(&key, &mut client);
    }

    #[test]
    fn server_survives_forged_messages(
        messages in prop::collection::vec((any::<u32>(), 0i32..1000, message()), 1..8),
    ) {
        let (key, salts, mut server, session_id) = server_started(4);
        let now = UnixTime::from_secs(T0);
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        for (i, (jitter, seq_no, body)) in messages.iter().enumerate() {
            let base = msg_id_from_time(now) + (i as i64) * 4096;
            let msg_id = if jitter.is_multiple_of(8) { base + i64::from(*jitter) } else { base & !3 };
            let salt = if jitter % 16 == 1 { 0 } else { salts.current(now) };
            let header = MessageHeader { salt, session_id, msg_id, seq_no: *seq_no };
            let mut packet = seal(&key, Direction::ClientToServer, header, body);
            if let Ok(events) = server.handle_packet(&mut packet, &salts, now) {
                for event in events {
                    if let ServerEvent::Request { msg_id, body } = event {
                        server.respond(msg_id, Ok(body)).unwrap();
                    }
                }
            }
            while server.poll_transmit(&salts, now, &mut rng).is_some() {}
        }
        server_still_works(&key, &salts, &mut server);
    }

    #[test]
    fn damaged_valid_packets_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>()) {
        let (key, mut client, session_id) = client_in_flight(5);
        let header = MessageHeader { salt: 0, session_id, msg_id: msg_id_from_time(UnixTime::from_secs(T0)) | 1, seq_no: 1 };
        let packet = seal(&key, Direction::ServerToClient, header, &API_CALL.to_le_bytes());
        let mut damaged = packet.clone();
        let mut touched = std::collections::HashSet::new();
        for (at, mask) in &flips {
            let at = at.index(damaged.len());
            if touched.insert(at) {
                damaged[at] ^= mask | 1;
            }
        }
        prop_assert!(client.handle_packet(&mut damaged, UnixTime::from_secs(T0)).is_err());
        let mut cut_short = packet[..cut.index(packet.len())].to_vec();
        prop_assert!(client.handle_packet(&mut cut_short, UnixTime::from_secs(T0)).is_err());
        client_still_works(&key, &mut client);
    }

    #[test]
    fn unpackers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), forged in message()) {
        let _ = read_container(&bytes);
        let _ = read_container(&forged);
        let _ = gzip::unpack(&bytes);
        let _ = gzip::decompress(&bytes, 1 << 16);
        let mut packed = GZIP_PACKED_ID.to_le_bytes().to_vec();
        wire::write_bytes(&mut packed, &bytes);
        let _ = gzip::unpack(&packed);
        let _ = read_rpc_result(&bytes);
        let _ = read_rpc_result(&forged);
        let _ = decode_result(&bytes);
        let _ = decode_result(&forged);
    }
}
