//! Encrypted and plain messages: round trips in both directions, and tampering with any byte
//! of an encrypted message is detected.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mtcrypto::AuthKey;
use mtcrypto::kdf::Direction;
use mtproto::MessageError;
use mtproto::encrypted::{MessageHeader, auth_key_id, decrypt, encrypt};
use mtproto::plain::{decode_plain, encode_plain};
use proptest::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

fn key(seed: u64) -> AuthKey {
    let mut bytes = [0u8; 256];
    ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut bytes);
    AuthKey::from_bytes(bytes)
}

const HEADER: MessageHeader = MessageHeader {
    salt: 0x0102_0304_0506_0708,
    session_id: -42,
    msg_id: 0x6543_2100_0000_0004,
    seq_no: 7,
};

fn sealed(key: &AuthKey, direction: Direction, body: &[u8], seed: u64) -> (Vec<u8>, u32) {
    let mut out = Vec::new();
    let token = encrypt(
        key,
        direction,
        &HEADER,
        body,
        &mut ChaCha8Rng::seed_from_u64(seed),
        &mut out,
    )
    .unwrap();
    (out, token)
}

#[test]
fn round_trips_in_both_directions_with_valid_padding() {
    let key = key(1);
    for direction in [Direction::ClientToServer, Direction::ServerToClient] {
        for (seed, len) in [0usize, 4, 8, 12, 16, 100, 1000, 4096, 1 << 20]
            .into_iter()
            .enumerate()
        {
            let body: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let (mut packet, token) = sealed(&key, direction, &body, seed as u64);
            assert_eq!(auth_key_id(&packet), Some(key.key_id()));
            assert_eq!((packet.len() - 24) % 16, 0);
            let padding = packet.len() - 24 - 32 - len;
            assert!((12..=1024).contains(&padding), "padding {padding}");
            let opened = decrypt(&key, direction, &mut packet).unwrap();
            assert_eq!(opened.header, HEADER);
            assert_eq!(opened.body, body.as_slice());
            assert_eq!(opened.quick_ack, token);
            assert_ne!(token & 0x8000_0000, 0);
        }
    }
}

#[test]
fn padded_transport_bytes_after_the_last_block_are_ignored() {
    let key = key(2);
    let (mut packet, _) = sealed(&key, Direction::ClientToServer, &[9; 40], 3);
    packet.extend_from_slice(&[0xAA; 15]);
    let opened = decrypt(&key, Direction::ClientToServer, &mut packet).unwrap();
    assert_eq!(opened.body, &[9; 40]);
}

#[test]
fn wrong_direction_key_or_length_is_rejected() {
    let key = key(3);
    let (packet, _) = sealed(&key, Direction::ClientToServer, &[1; 64], 4);
    assert_eq!(
        decrypt(&key, Direction::ServerToClient, &mut packet.clone()),
        Err(MessageError::MsgKeyMismatch)
    );
    assert!(matches!(
        decrypt(
            &self::key(4),
            Direction::ClientToServer,
            &mut packet.clone()
        ),
        Err(MessageError::WrongAuthKey { .. })
    ));
    assert!(matches!(
        decrypt(&key, Direction::ClientToServer, &mut packet[..60].to_vec()),
        Err(MessageError::TooShort { .. })
    ));
    let mut unaligned = Vec::new();
    assert!(
        encrypt(
            &key,
            Direction::ClientToServer,
            &HEADER,
            &[1; 3],
            &mut ChaCha8Rng::seed_from_u64(0),
            &mut unaligned
        )
        .is_err()
    );
}

/// Flipping any single byte of an encrypted message, at every position, is rejected.
#[test]
fn every_single_byte_flip_is_rejected() {
    let key = key(5);
    let body: Vec<u8> = (0..256u32).flat_map(u32::to_le_bytes).collect();
    let (packet, _) = sealed(&key, Direction::ServerToClient, &body, 6);
    for position in 0..packet.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut tampered = packet.clone();
            tampered[position] ^= flip;
            let result = decrypt(&key, Direction::ServerToClient, &mut tampered);
            assert!(result.is_err(), "flip {flip:#x} at {position} accepted");
        }
    }
}

#[test]
fn plain_messages_round_trip_and_reject_garbage() {
    let mut packet = Vec::new();
    encode_plain(0x1234_5678, &[1, 2, 3, 4], &mut packet);
    let message = decode_plain(&packet).unwrap();
    assert_eq!(
        (message.msg_id, message.body),
        (0x1234_5678, &[1, 2, 3, 4][..])
    );
    packet.extend_from_slice(&[0; 7]);
    assert_eq!(decode_plain(&packet).unwrap().body, &[1, 2, 3, 4]);
    assert_eq!(
        decode_plain(&packet[..22]),
        Err(MessageError::BadLength {
            length: 4,
            available: 2
        })
    );
    packet[0] = 1;
    assert_eq!(decode_plain(&packet), Err(MessageError::NotPlain));
    assert_eq!(
        decode_plain(&[0; 19]),
        Err(MessageError::TooShort { len: 19 })
    );
}

proptest! {
    #[test]
    fn random_packets_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let key = key(7);
        // Address some of them to the right key so decryption is reached.
        if bytes.len() >= 8 && bytes[0] % 2 == 0 {
            bytes[..8].copy_from_slice(&key.key_id().to_le_bytes());
        }
        let _ = decrypt(&key, Direction::ClientToServer, &mut bytes.clone());
        let _ = decode_plain(&bytes);
    }
}
