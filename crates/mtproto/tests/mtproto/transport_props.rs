//! Property tests: random and mutated bytes into every decoder (both roles), the detector and
//! the server side of obfuscation. Nothing panics; decoders never claim more input than they
//! were given; every wait they ask for is bounded by the configured maximum, so a caller
//! reserving `at_least` bytes never allocates on an unchecked length.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mtproto::transport::{
    Codec, Decoded, Detected, Frame, HEADER_LEN, Obfuscation, Role, TransportKind, detect,
    detect_with_max,
};
use proptest::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// Framing bytes a decoder may ask for beyond the payload maximum: init tag (4), length
/// header (4), padding (15), full's seq and CRC (8).
const OVERHEAD: usize = 4 + 4 + 15 + 8;

fn kind() -> impl Strategy<Value = TransportKind> {
    prop::sample::select(TransportKind::ALL.to_vec())
}

fn role() -> impl Strategy<Value = Role> {
    prop::sample::select(vec![Role::Client, Role::Server])
}

fn codec(kind: TransportKind, role: Role, tagged: bool, max: usize) -> Codec {
    let codec = Codec::new(kind, role).with_max_packet(max);
    if tagged {
        codec
    } else {
        codec.without_init_tag()
    }
}

/// Decodes `input` until it errors or waits, checking every answer; returns the frames.
fn decode_checked(codec: &mut Codec, input: &[u8]) -> Vec<Frame> {
    let max = codec.max_packet();
    let mut rest = input;
    let mut frames = Vec::new();
    loop {
        match codec.decode(rest) {
            Ok(Decoded::NeedMore { at_least }) => {
                assert!(at_least > rest.len(), "wait must ask for more than it has");
                assert!(
                    at_least <= max + OVERHEAD,
                    "wait of {at_least} over the max"
                );
                return frames;
            }
            Ok(Decoded::Frame { consumed, frame }) => {
                assert!(consumed > 0 && consumed <= rest.len());
                if let Frame::Packet { payload, .. } = &frame {
                    assert!(payload.start <= payload.end && payload.end <= consumed);
                    assert!(payload.len() <= max + 15);
                }
                rest = &rest[consumed..];
                frames.push(frame);
            }
            Err(_) => return frames,
        }
    }
}

/// A valid stream as `sender` would write it, with quick acks and an error mixed in.
fn valid_stream(kind: TransportKind, sender: Role, sizes: &[usize], seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut codec = Codec::new(kind, sender);
    let mut out = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let mut payload = vec![0; size * 4];
        rng.fill_bytes(&mut payload);
        match (sender, i % 3) {
            (Role::Client, 1) => codec
                .encode_quick_ack_request(&payload, &mut out, &mut rng)
                .unwrap(),
            (Role::Server, 1) => {
                codec.encode(&payload, &mut out, &mut rng).unwrap();
                codec.encode_quick_ack(rng.next_u32(), &mut out).unwrap();
            }
            _ => codec.encode(&payload, &mut out, &mut rng).unwrap(),
        }
    }
    if sender == Role::Server {
        codec.encode_transport_error(-404, &mut out).unwrap();
    }
    out
}

fn other(role: Role) -> Role {
    match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_into_decoders(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        kind in kind(),
        role in role(),
        tagged in any::<bool>(),
        max in prop::sample::select(vec![0usize, 4, 64, 1000, mtproto::transport::DEFAULT_MAX_PACKET]),
    ) {
        decode_checked(&mut codec(kind, role, tagged, max), &bytes);
    }

    #[test]
    fn random_length_words_never_wait_past_the_max(
        word in any::<u32>(),
        first in any::<u8>(),
        kind in kind(),
        role in role(),
    ) {
        // Headers alone, with every possible length value.
        let mut bytes = vec![first];
        bytes.extend_from_slice(&word.to_le_bytes());
        decode_checked(&mut codec(kind, role, false, 4096), &bytes);
        decode_checked(&mut codec(kind, role, false, 4096), &bytes[1..]);
    }

    #[test]
    fn valid_streams_round_trip_in_chunks(
        // From 24 bytes, the smallest MTProto message: shorter server packets starting with a
        // negative word would read as transport errors.
        sizes in prop::collection::vec(6usize..300, 1..12),
        kind in kind(),
        sender in role(),
        seed in any::<u64>(),
        chunk in 1usize..200,
    ) {
        let stream = valid_stream(kind, sender, &sizes, seed);
        let whole = decode_checked(&mut Codec::new(kind, other(sender)), &stream);
        let mut receiver = Codec::new(kind, other(sender));
        let mut buf = Vec::new();
        let mut chunked = Vec::new();
        for piece in stream.chunks(chunk) {
            buf.extend_from_slice(piece);
            loop {
                match receiver.decode(&buf).unwrap() {
                    Decoded::NeedMore { at_least } => {
                        prop_assert!(at_least > buf.len());
                        break;
                    }
                    Decoded::Frame { consumed, frame } => {
                        let owned = match &frame {
                            Frame::Packet { payload, .. } => buf[payload.clone()].to_vec(),
                            _ => Vec::new(),
                        };
                        chunked.push((frame, owned));
                        buf.drain(..consumed);
                    }
                }
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(chunked.len(), whole.len());
        let packets = chunked.iter().filter(|(f, _)| matches!(f, Frame::Packet { .. })).count();
        prop_assert_eq!(packets, sizes.len());
        if sender == Role::Server {
            let last = &chunked.last().unwrap().0;
            prop_assert_eq!(last, &Frame::TransportError(-404));
        }
    }

    #[test]
    fn mutated_streams_into_decoders(
        sizes in prop::collection::vec(0usize..100, 1..6),
        kind in kind(),
        sender in role(),
        seed in any::<u64>(),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        cut in any::<prop::sample::Index>(),
    ) {
        let mut stream = valid_stream(kind, sender, &sizes, seed);
        let at = at.index(stream.len());
        stream[at] ^= flip;
        let cut = cut.index(stream.len() + 1);
        for receiver in [Role::Client, Role::Server] {
            decode_checked(&mut Codec::new(kind, receiver), &stream[..cut]);
            decode_checked(&mut Codec::new(kind, receiver).with_max_packet(256), &stream);
        }
        if kind == TransportKind::Full && sender == Role::Client {
            // The CRC covers every byte a client sends: a flip anywhere loses a packet.
            let frames = decode_checked(&mut Codec::new(kind, Role::Server), &stream);
            prop_assert!(frames.len() < sizes.len());
        }
    }

    #[test]
    fn detector_on_random_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..100),
        more in prop::collection::vec(any::<u8>(), 0..100),
        max in prop::sample::select(vec![0usize, 100, mtproto::transport::DEFAULT_MAX_PACKET]),
    ) {
        let first = detect_with_max(&bytes, max);
        if let Detected::NeedMore { at_least } = first {
            prop_assert!(at_least > bytes.len() && at_least <= HEADER_LEN);
        } else {
            // A decision never changes as more bytes arrive.
            let mut longer = bytes.clone();
            longer.extend_from_slice(&more);
            prop_assert_eq!(detect_with_max(&longer, max), first);
        }
    }

    #[test]
    fn detector_on_mutated_starts(
        kind in kind(),
        seed in any::<u64>(),
        at in 0usize..64,
        flip in 1u8..=255,
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut stream = match kind.obfuscation_tag() {
            Some(_) if seed % 2 == 0 => Obfuscation::client(kind, 2, None, &mut rng).unwrap().0.to_vec(),
            _ => valid_stream(kind, Role::Client, &[20, 3], seed),
        };
        if let Some(b) = stream.get_mut(at) {
            *b ^= flip;
        }
        for len in 0..=stream.len() {
            if let Detected::NeedMore { at_least } = detect(&stream[..len]) {
                prop_assert!(at_least > len && at_least <= HEADER_LEN);
            }
        }
    }

    #[test]
    fn server_accept_on_random_headers(
        header in prop::array::uniform32(any::<u8>()),
        header2 in prop::array::uniform32(any::<u8>()),
        secrets in prop::collection::vec(prop::array::uniform16(any::<u8>()), 0..4),
    ) {
        let mut full = [0u8; HEADER_LEN];
        full[..32].copy_from_slice(&header);
        full[32..].copy_from_slice(&header2);
        if let Ok(accepted) = Obfuscation::server(&full, &secrets) {
            prop_assert!(accepted.kind != TransportKind::Full);
            prop_assert_eq!(accepted.secret_index.is_some(), !secrets.is_empty());
        }
    }

    #[test]
    fn server_accept_on_mutated_headers(
        kind in prop::sample::select(vec![
            TransportKind::Abridged,
            TransportKind::Intermediate,
            TransportKind::PaddedIntermediate,
        ]),
        seed in any::<u64>(),
        dc_id in any::<i16>(),
        at in 0usize..HEADER_LEN,
        flip in 1u8..=255,
        with_secret in any::<bool>(),
    ) {
        let secret = [0x5c; 16];
        let secrets: &[[u8; 16]] = if with_secret { &[[1; 16], secret] } else { &[] };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut header, _) =
            Obfuscation::client(kind, dc_id, with_secret.then_some(&secret), &mut rng).unwrap();
        let clean = Obfuscation::server(&header, secrets).unwrap();
        prop_assert_eq!(clean.kind, kind);
        prop_assert_eq!(clean.dc_id, dc_id);
        header[at] ^= flip;
        if let Ok(accepted) = Obfuscation::server(&header, secrets) {
            // Bytes 62..64 are padding: flipping them changes nothing visible.
            if at >= 62 {
                prop_assert_eq!(accepted.kind, kind);
                prop_assert_eq!(accepted.dc_id, dc_id);
            }
        }
    }
}
