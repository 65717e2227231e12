//! Obfuscation: client header and server accept in every combination, the header rules, and
//! the key schedule recomputed independently with `AesCtr`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::VecDeque;

use mtcrypto::AesCtr;
use mtcrypto::hash::sha256;
use mtproto::transport::{
    Codec, Decoded, Frame, HEADER_LEN, Obfuscation, ObfuscationError, TransportKind,
};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

const OBFUSCATED: [TransportKind; 3] = [
    TransportKind::Abridged,
    TransportKind::Intermediate,
    TransportKind::PaddedIntermediate,
];
const DC_IDS: [i16; 7] = [1, 2, 5, -2, -5, 10_003, -10_001];
const SECRET_A: [u8; 16] = [0xa1; 16];
const SECRET_B: [u8; 16] = [0xb2; 16];

/// Hands out scripted bytes first, then a seeded stream.
struct Scripted {
    script: VecDeque<u8>,
    rest: ChaCha8Rng,
}

impl Scripted {
    fn new(blocks: &[[u8; HEADER_LEN]]) -> Self {
        Self {
            script: blocks.iter().flatten().copied().collect(),
            rest: ChaCha8Rng::seed_from_u64(0),
        }
    }
}

impl RngCore for Scripted {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for byte in dest {
            *byte = match self.script.pop_front() {
                Some(b) => b,
                None => self.rest.next_u32() as u8,
            };
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// Sends `chunks` one way and checks they arrive intact, in pieces of varying size.
fn exchange(sender: &mut Obfuscation, receiver: &mut Obfuscation, rng: &mut ChaCha8Rng) {
    for len in [0, 1, 15, 16, 17, 1000, 4096] {
        let mut plain = vec![0; len];
        rng.fill_bytes(&mut plain);
        let mut wire = plain.clone();
        sender.encrypt(&mut wire);
        if len >= 16 {
            assert_ne!(wire, plain, "encrypted bytes differ from the plaintext");
        }
        let (a, b) = wire.split_at_mut(len / 3);
        receiver.decrypt(a);
        receiver.decrypt(b);
        assert_eq!(wire, plain);
    }
}

#[test]
fn client_and_server_agree() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for kind in OBFUSCATED {
        for dc_id in DC_IDS {
            for secret in [None, Some(SECRET_A)] {
                let (header, mut client) =
                    Obfuscation::client(kind, dc_id, secret.as_ref(), &mut rng).unwrap();
                let secrets: &[[u8; 16]] = match secret {
                    Some(_) => &[SECRET_B, SECRET_A],
                    None => &[],
                };
                let mut accepted = Obfuscation::server(&header, secrets).unwrap();
                assert_eq!(accepted.kind, kind);
                assert_eq!(accepted.dc_id, dc_id);
                assert_eq!(accepted.secret_index, secret.map(|_| 1));
                exchange(&mut client, &mut accepted.obfuscation, &mut rng);
                exchange(&mut accepted.obfuscation, &mut client, &mut rng);
                exchange(&mut client, &mut accepted.obfuscation, &mut rng);
            }
        }
    }
}

#[test]
fn codec_over_obfuscation() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let kind = TransportKind::PaddedIntermediate;
    let (header, mut client_obf) = Obfuscation::client(kind, 2, None, &mut rng).unwrap();
    let mut client = Codec::client(kind).without_init_tag();
    let mut wire = header.to_vec();
    let mut packet = Vec::new();
    client.encode(&[7; 64], &mut packet, &mut rng).unwrap();
    client_obf.encrypt(&mut packet);
    wire.extend_from_slice(&packet);

    let header: [u8; HEADER_LEN] = wire[..HEADER_LEN].try_into().unwrap();
    let mut accepted = Obfuscation::server(&header, &[]).unwrap();
    let mut server = Codec::server(accepted.kind).without_init_tag();
    let mut rest = wire[HEADER_LEN..].to_vec();
    accepted.obfuscation.decrypt(&mut rest);
    match server.decode(&rest).unwrap() {
        Decoded::Frame {
            frame: Frame::Packet { payload, .. },
            ..
        } => assert_eq!(&rest[payload][..64], &[7; 64]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_or_missing_secret_rejected() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for kind in OBFUSCATED {
        let (with_a, _) = Obfuscation::client(kind, 2, Some(&SECRET_A), &mut rng).unwrap();
        assert_eq!(
            Obfuscation::server(&with_a, &[SECRET_B]).err(),
            Some(ObfuscationError::NoSecretMatched { tried: 1 })
        );
        assert_eq!(
            Obfuscation::server(&with_a, &[]).err(),
            Some(ObfuscationError::UnknownTag)
        );
        let accepted = Obfuscation::server(&with_a, &[SECRET_B, SECRET_B, SECRET_A]).unwrap();
        assert_eq!(accepted.secret_index, Some(2));

        let (plain, _) = Obfuscation::client(kind, 2, None, &mut rng).unwrap();
        assert_eq!(
            Obfuscation::server(&plain, &[SECRET_A, SECRET_B]).err(),
            Some(ObfuscationError::NoSecretMatched { tried: 2 })
        );
    }
}

#[test]
fn full_cannot_be_obfuscated() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    assert_eq!(
        Obfuscation::client(TransportKind::Full, 2, None, &mut rng).err(),
        Some(ObfuscationError::NotObfuscatable {
            kind: TransportKind::Full
        })
    );
}

#[test]
fn header_rules_hold_over_many_headers() {
    let forbidden: [&[u8; 4]; 7] = [
        b"HEAD",
        b"POST",
        b"GET ",
        b"OPTI",
        &[0xdd; 4],
        &[0xee; 4],
        &[0x16, 0x03, 0x01, 0x02],
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut first_bytes = std::collections::HashSet::new();
    for i in 0..20_000 {
        let kind = OBFUSCATED[i % 3];
        let (header, _) = Obfuscation::client(kind, 2, None, &mut rng).unwrap();
        assert_ne!(header[0], 0xef);
        assert!(!forbidden.contains(&&header[..4].try_into().unwrap()));
        assert_ne!(&header[4..8], &[0; 4]);
        first_bytes.insert(header[0]);
    }
    // The rules cut little: first bytes stay spread over the byte range.
    assert_eq!(first_bytes.len(), 255);
}

#[test]
fn forbidden_draws_are_rerolled() {
    let mut good = [0x42u8; HEADER_LEN];
    for (i, b) in good.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(1);
    }
    let mut bad_blocks = Vec::new();
    for first_word in [
        *b"HEAD",
        *b"POST",
        *b"GET ",
        *b"OPTI",
        [0xdd; 4],
        [0xee; 4],
        [0x16, 0x03, 0x01, 0x02],
        [0xef, 1, 2, 3],
    ] {
        let mut block = good;
        block[..4].copy_from_slice(&first_word);
        bad_blocks.push(block);
    }
    let mut zero_seq = good;
    zero_seq[4..8].fill(0);
    bad_blocks.push(zero_seq);
    let mut script = bad_blocks.clone();
    script.push(good);

    let (header, _) = Obfuscation::client(
        TransportKind::Abridged,
        2,
        None,
        &mut Scripted::new(&script),
    )
    .unwrap();
    assert_eq!(&header[..56], &good[..56], "every bad draw was skipped");
}

/// Recomputes the sent header and both keystreams from the raw random bytes, using only
/// `AesCtr` and SHA-256, for each tag, with and without a secret.
#[test]
fn key_schedule_recomputed_independently() {
    let mut raw = [0u8; HEADER_LEN];
    ChaCha8Rng::seed_from_u64(6).fill_bytes(&mut raw);
    raw[0] = 0x01; // Make sure the draw is acceptable as is.
    raw[4] = 0x01;
    for kind in OBFUSCATED {
        for secret in [None, Some(SECRET_A)] {
            for dc_id in [2i16, -4] {
                let (sent, mut client) =
                    Obfuscation::client(kind, dc_id, secret.as_ref(), &mut Scripted::new(&[raw]))
                        .unwrap();

                let hashed = |key: &[u8]| -> [u8; 32] {
                    match secret {
                        Some(s) => sha256(&[key, &s].concat()),
                        None => key.try_into().unwrap(),
                    }
                };
                let enc_key = hashed(&raw[8..40]);
                let enc_iv: [u8; 16] = raw[40..56].try_into().unwrap();
                let mut reversed = raw[8..56].to_vec();
                reversed.reverse();
                let dec_key = hashed(&reversed[..32]);
                let dec_iv: [u8; 16] = reversed[32..48].try_into().unwrap();

                // Plain header: random bytes, then tag, DC id, two random bytes.
                let mut plain = raw;
                plain[56..60].copy_from_slice(&kind.obfuscation_tag().unwrap());
                plain[60..62].copy_from_slice(&dc_id.to_le_bytes());

                // Client-to-server keystream, 64 header bytes plus 100 more.
                let mut keystream = vec![0u8; HEADER_LEN + 100];
                AesCtr::new(&enc_key, &enc_iv).apply(&mut keystream);

                assert_eq!(&sent[..56], &raw[..56], "sent in the clear");
                for i in 56..HEADER_LEN {
                    assert_eq!(sent[i], plain[i] ^ keystream[i], "{kind:?} byte {i}");
                }

                // The client's stream continues at byte 64.
                let mut data = [0x5au8; 100];
                client.encrypt(&mut data);
                for (i, b) in data.iter().enumerate() {
                    assert_eq!(*b, 0x5a ^ keystream[HEADER_LEN + i]);
                }

                // Server-to-client: the reversed key, from keystream position 0.
                let mut from_server = [0xc3u8; 50];
                let mut expected = from_server;
                AesCtr::new(&dec_key, &dec_iv).apply(&mut expected);
                client.decrypt(&mut expected);
                assert_eq!(expected, from_server);

                // And the server produces exactly that keystream.
                let secrets: Vec<[u8; 16]> = secret.into_iter().collect();
                let mut accepted = Obfuscation::server(&sent, &secrets).unwrap();
                let mut reference = from_server;
                AesCtr::new(&dec_key, &dec_iv).apply(&mut reference);
                accepted.obfuscation.encrypt(&mut from_server);
                assert_eq!(from_server, reference);
            }
        }
    }
}
