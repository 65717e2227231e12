//! Framing codecs: round trips in both directions under every way of splitting the input,
//! wire layouts, quick acks, transport errors, and the checks that reject bad streams.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mtproto::transport::{Codec, CodecError, Decoded, Frame, Role, TransportKind};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// A frame with its payload copied out, for comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Packet { payload: Vec<u8>, quick_ack: bool },
    QuickAck(u32),
    Error(i32),
}

/// How the stream is handed to the decoder.
#[derive(Debug, Clone, Copy)]
enum Feed {
    Whole,
    ByteByByte,
    RandomChunks(u64),
    /// Exactly the `at_least` the decoder asked for, so a wrong hint would stall.
    AsAsked,
}

const FEEDS: [Feed; 4] = [
    Feed::Whole,
    Feed::ByteByByte,
    Feed::RandomChunks(7),
    Feed::AsAsked,
];

/// Drains every complete frame from `buf`, checking the decoder's bookkeeping.
fn drain(
    codec: &mut Codec,
    buf: &mut Vec<u8>,
    events: &mut Vec<Event>,
) -> Result<usize, CodecError> {
    loop {
        match codec.decode(buf)? {
            Decoded::NeedMore { at_least } => {
                assert!(
                    at_least > buf.len(),
                    "NeedMore must ask for more than it has"
                );
                return Ok(at_least);
            }
            Decoded::Frame { consumed, frame } => {
                assert!(consumed > 0 && consumed <= buf.len());
                events.push(match frame {
                    Frame::Packet {
                        payload,
                        quick_ack_requested,
                    } => {
                        assert!(payload.end <= consumed);
                        Event::Packet {
                            payload: buf[payload].to_vec(),
                            quick_ack: quick_ack_requested,
                        }
                    }
                    Frame::QuickAck(token) => Event::QuickAck(token),
                    Frame::TransportError(code) => Event::Error(code),
                });
                buf.drain(..consumed);
            }
        }
    }
}

fn decode_all(codec: &mut Codec, stream: &[u8], feed: Feed) -> Result<Vec<Event>, CodecError> {
    let mut events = Vec::new();
    let mut buf = Vec::new();
    let mut pos = 0;
    let mut chunk_rng = ChaCha8Rng::seed_from_u64(match feed {
        Feed::RandomChunks(seed) => seed,
        _ => 0,
    });
    loop {
        let at_least = drain(codec, &mut buf, &mut events)?;
        if pos == stream.len() {
            break;
        }
        let n = match feed {
            Feed::Whole => stream.len(),
            Feed::ByteByByte => 1,
            Feed::RandomChunks(_) => 1 + (chunk_rng.next_u32() % 70_000) as usize,
            Feed::AsAsked => at_least - buf.len(),
        };
        let end = (pos + n).min(stream.len());
        buf.extend_from_slice(&stream[pos..end]);
        pos = end;
    }
    assert!(buf.is_empty(), "{} bytes left undecoded", buf.len());
    Ok(events)
}

/// Assorted payload sizes (multiples of 4) around every header boundary, up to 2 MiB.
fn sizes(rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut sizes = vec![
        0,
        4,
        8,
        0x7e * 4,
        0x7f * 4,
        0x80 * 4,
        1024,
        65_536,
        (1 << 20) + 24,
        2 << 20,
    ];
    sizes.extend((0..40).map(|_| (rng.next_u32() % 5000) as usize * 4));
    sizes
}

fn random_bytes(rng: &mut ChaCha8Rng, len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    rng.fill_bytes(&mut bytes);
    bytes
}

/// Payloads as sent match payloads as received; padded intermediate hands back the
/// sender's 0..=15 padding bytes after the payload.
fn assert_same(kind: TransportKind, got: &[Event], want: &[Event]) {
    assert_eq!(got.len(), want.len(), "{kind:?}: frame count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        match (g, w) {
            (
                Event::Packet {
                    payload: gp,
                    quick_ack: gq,
                },
                Event::Packet {
                    payload: wp,
                    quick_ack: wq,
                },
            ) if kind == TransportKind::PaddedIntermediate => {
                assert_eq!(gq, wq, "{kind:?} #{i}");
                assert!(gp.len() - wp.len() <= 15, "{kind:?} #{i}: padding too long");
                assert_eq!(&gp[..wp.len()], wp.as_slice(), "{kind:?} #{i}");
            }
            _ => assert_eq!(g, w, "{kind:?} #{i}"),
        }
    }
}

/// A client stream (every third packet asks for a quick ack) and what the server must see.
fn client_stream(kind: TransportKind, tagged: bool, seed: u64) -> (Vec<u8>, Vec<Event>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut codec = Codec::client(kind);
    if !tagged {
        codec = codec.without_init_tag();
    }
    let mut stream = Vec::new();
    let mut want = Vec::new();
    for (i, size) in sizes(&mut rng).into_iter().enumerate() {
        let payload = random_bytes(&mut rng, size);
        let quick_ack = i % 3 == 1;
        if quick_ack {
            codec
                .encode_quick_ack_request(&payload, &mut stream, &mut rng)
                .unwrap();
        } else {
            codec.encode(&payload, &mut stream, &mut rng).unwrap();
        }
        want.push(Event::Packet { payload, quick_ack });
    }
    (stream, want)
}

/// A server stream: packets, quick-ack tokens between them, a transport error at the end.
fn server_stream(kind: TransportKind, error: i32, seed: u64) -> (Vec<u8>, Vec<Event>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut codec = Codec::server(kind);
    let mut stream = Vec::new();
    let mut want = Vec::new();
    for (i, size) in sizes(&mut rng).into_iter().enumerate() {
        if kind == TransportKind::PaddedIntermediate && size < 20 {
            // Padded packets under 20 bytes starting with a negative word read as transport
            // errors (a padded server may pad those); no MTProto message is that short.
            continue;
        }
        let payload = random_bytes(&mut rng, size);
        codec.encode(&payload, &mut stream, &mut rng).unwrap();
        want.push(Event::Packet {
            payload,
            quick_ack: false,
        });
        if i % 4 == 0 {
            // Keep tokens clear of the small negative values full reads as bare errors.
            let token = 0x8000_0000 | (rng.next_u32() & 0x3fff_ffff);
            codec.encode_quick_ack(token, &mut stream).unwrap();
            want.push(Event::QuickAck(token));
        }
    }
    codec.encode_transport_error(error, &mut stream).unwrap();
    want.push(Event::Error(error));
    (stream, want)
}

#[test]
fn client_to_server_round_trip() {
    for kind in TransportKind::ALL {
        let (stream, want) = client_stream(kind, true, 1);
        assert!(stream.starts_with(kind.init_tag()));
        for feed in FEEDS {
            let got = decode_all(&mut Codec::server(kind), &stream, feed).unwrap();
            assert_same(kind, &got, &want);
        }
    }
}

#[test]
fn server_to_client_round_trip() {
    for (kind, error) in TransportKind::ALL.into_iter().zip([-404, -429, -444, -404]) {
        let (stream, want) = server_stream(kind, error, 2);
        for feed in FEEDS {
            let got = decode_all(&mut Codec::client(kind), &stream, feed).unwrap();
            assert_same(kind, &got, &want);
        }
    }
}

#[test]
fn round_trip_without_init_tag() {
    for kind in TransportKind::ALL {
        let (stream, want) = client_stream(kind, false, 3);
        let mut server = Codec::server(kind).without_init_tag();
        let got = decode_all(&mut server, &stream, Feed::RandomChunks(3)).unwrap();
        assert_same(kind, &got, &want);
        // The same bytes are a bad start for a server that expects the tag (full has none).
        if kind != TransportKind::Full {
            assert!(decode_all(&mut Codec::server(kind), &stream, Feed::Whole).is_err());
        }
    }
}

#[test]
fn init_tag_sent_once_before_the_first_packet() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let two_packets = |kind: TransportKind, role: Role, rng: &mut ChaCha8Rng| {
        let mut codec = Codec::new(kind, role);
        let mut out = Vec::new();
        codec.encode(&[1, 2, 3, 4], &mut out, rng).unwrap();
        codec.encode(&[1, 2, 3, 4], &mut out, rng).unwrap();
        out
    };
    let abridged = [0xef, 0x01, 1, 2, 3, 4, 0x01, 1, 2, 3, 4];
    assert_eq!(
        two_packets(TransportKind::Abridged, Role::Client, &mut rng),
        abridged
    );
    assert_eq!(
        two_packets(TransportKind::Abridged, Role::Server, &mut rng),
        abridged[1..]
    );

    let intermediate = [
        0xee, 0xee, 0xee, 0xee, 4, 0, 0, 0, 1, 2, 3, 4, 4, 0, 0, 0, 1, 2, 3, 4,
    ];
    assert_eq!(
        two_packets(TransportKind::Intermediate, Role::Client, &mut rng),
        intermediate
    );
    assert_eq!(
        two_packets(TransportKind::Intermediate, Role::Server, &mut rng),
        intermediate[4..]
    );

    // Padded: tag, then two length-prefixed packets of 4..=19 bytes.
    let padded = two_packets(TransportKind::PaddedIntermediate, Role::Client, &mut rng);
    assert_eq!(&padded[..4], &[0xdd; 4]);
    let first = u32::from_le_bytes(padded[4..8].try_into().unwrap()) as usize;
    assert!((4..=19).contains(&first));
    assert_eq!(&padded[8..12], &[1, 2, 3, 4]);
    let second_at = 8 + first;
    let second = u32::from_le_bytes(padded[second_at..second_at + 4].try_into().unwrap()) as usize;
    assert!((4..=19).contains(&second));
    assert_eq!(padded.len(), second_at + 4 + second);

    // Full: no tag at all, sequence numbers 0 and 1.
    let full = two_packets(TransportKind::Full, Role::Client, &mut rng);
    let mut want = Vec::new();
    for seq in [0u8, 1] {
        let start = want.len();
        want.extend_from_slice(&[16, 0, 0, 0, seq, 0, 0, 0, 1, 2, 3, 4]);
        let crc = mtcrypto::hash::crc32(&want[start..]);
        want.extend_from_slice(&crc.to_le_bytes());
    }
    assert_eq!(full, want);
}

#[test]
fn server_checks_the_init_tag_byte_by_byte() {
    let mut server = Codec::server(TransportKind::Intermediate);
    assert_eq!(server.decode(&[]), Ok(Decoded::NeedMore { at_least: 8 }));
    assert_eq!(
        server.decode(&[0xee, 0xee]),
        Ok(Decoded::NeedMore { at_least: 8 })
    );
    assert_eq!(
        server.decode(&[0xee, 0xee, 0xdd]),
        Err(CodecError::BadInitTag {
            kind: TransportKind::Intermediate
        })
    );
    let mut server = Codec::server(TransportKind::Abridged);
    assert_eq!(
        server.decode(&[0xee]),
        Err(CodecError::BadInitTag {
            kind: TransportKind::Abridged
        })
    );
    assert_eq!(
        server.decode(&[0xef]),
        Ok(Decoded::NeedMore { at_least: 2 })
    );
    assert_eq!(
        server.decode(&[0xef, 0x01, 9, 9, 9, 9, 0x01]),
        Ok(Decoded::Frame {
            consumed: 6,
            frame: Frame::Packet {
                payload: 2..6,
                quick_ack_requested: false
            }
        })
    );
    // The tag is gone after the first frame: 0x01 now starts a packet.
    assert_eq!(
        server.decode(&[0x01, 8, 8, 8, 8]),
        Ok(Decoded::Frame {
            consumed: 5,
            frame: Frame::Packet {
                payload: 1..5,
                quick_ack_requested: false
            }
        })
    );
}

#[test]
fn abridged_length_header_boundary() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut codec = Codec::client(TransportKind::Abridged).without_init_tag();
    let mut out = Vec::new();
    codec.encode(&[0; 0x7e * 4], &mut out, &mut rng).unwrap();
    assert_eq!(out[0], 0x7e);
    assert_eq!(out.len(), 1 + 0x7e * 4);
    out.clear();
    codec.encode(&[0; 0x7f * 4], &mut out, &mut rng).unwrap();
    assert_eq!(&out[..4], &[0x7f, 0x7f, 0, 0]);
    out.clear();
    codec
        .encode_quick_ack_request(&[0; 8], &mut out, &mut rng)
        .unwrap();
    assert_eq!(out[0], 0x82);
    out.clear();
    codec
        .encode_quick_ack_request(&[0; 0x80 * 4], &mut out, &mut rng)
        .unwrap();
    assert_eq!(&out[..4], &[0xff, 0x80, 0, 0]);
}

#[test]
fn known_wire_bytes_from_the_server() {
    // -404 is 6c fe ff ff in little-endian.
    let cases: [(TransportKind, &[u8], Frame); 6] = [
        (
            TransportKind::Abridged,
            &[0x01, 0x6c, 0xfe, 0xff, 0xff],
            Frame::TransportError(-404),
        ),
        (
            TransportKind::Intermediate,
            &[4, 0, 0, 0, 0x6c, 0xfe, 0xff, 0xff],
            Frame::TransportError(-404),
        ),
        (
            TransportKind::PaddedIntermediate,
            &[6, 0, 0, 0, 0x53, 0xfe, 0xff, 0xff, 0xaa, 0xbb],
            Frame::TransportError(-429),
        ),
        (
            TransportKind::Abridged,
            &[0x80, 0x11, 0x22, 0x33],
            Frame::QuickAck(0x8011_2233),
        ),
        (
            TransportKind::Intermediate,
            &[0x33, 0x22, 0x11, 0x80],
            Frame::QuickAck(0x8011_2233),
        ),
        (
            TransportKind::Full,
            &[0x33, 0x22, 0x11, 0x80],
            Frame::QuickAck(0x8011_2233),
        ),
    ];
    for (kind, bytes, frame) in cases {
        assert_eq!(
            Codec::client(kind).decode(bytes),
            Ok(Decoded::Frame {
                consumed: bytes.len(),
                frame
            }),
            "{kind:?} {bytes:02x?}"
        );
    }
    // Full: a framed 4-byte packet holding -404, CRC computed independently.
    let mut packet = vec![16, 0, 0, 0, 0, 0, 0, 0, 0x6c, 0xfe, 0xff, 0xff];
    let crc = mtcrypto::hash::crc32(&packet);
    packet.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(
        Codec::client(TransportKind::Full).decode(&packet),
        Ok(Decoded::Frame {
            consumed: 16,
            frame: Frame::TransportError(-404)
        })
    );
    // Full: a bare -429 word, as Telegram has been seen to send instead of a packet.
    assert_eq!(
        Codec::client(TransportKind::Full).decode(&(-429i32).to_le_bytes()),
        Ok(Decoded::Frame {
            consumed: 4,
            frame: Frame::TransportError(-429)
        })
    );
}

#[test]
fn server_wire_bytes() {
    let mut out = Vec::new();
    let mut server = Codec::server(TransportKind::Abridged);
    server.encode_quick_ack(0x0011_2233, &mut out).unwrap();
    assert_eq!(out, [0x80, 0x11, 0x22, 0x33], "big-endian, top bit forced");
    out.clear();
    server.encode_transport_error(-404, &mut out).unwrap();
    assert_eq!(out, [0x01, 0x6c, 0xfe, 0xff, 0xff]);

    for kind in [
        TransportKind::Intermediate,
        TransportKind::PaddedIntermediate,
    ] {
        let mut server = Codec::server(kind);
        out.clear();
        server.encode_quick_ack(0x8011_2233, &mut out).unwrap();
        assert_eq!(out, [0x33, 0x22, 0x11, 0x80]);
        out.clear();
        server.encode_transport_error(-429, &mut out).unwrap();
        assert_eq!(
            out,
            [4, 0, 0, 0, 0x53, 0xfe, 0xff, 0xff],
            "{kind:?}: unpadded"
        );
    }

    let mut server = Codec::server(TransportKind::Full);
    out.clear();
    server.encode_quick_ack(0x8011_2233, &mut out).unwrap();
    assert_eq!(out, [0x33, 0x22, 0x11, 0x80]);
    out.clear();
    server.encode_transport_error(-444, &mut out).unwrap();
    assert_eq!(
        &out[..12],
        &[16, 0, 0, 0, 0, 0, 0, 0, 0x44, 0xfe, 0xff, 0xff]
    );
    assert_eq!(out[12..], mtcrypto::hash::crc32(&out[..12]).to_le_bytes());
}

#[test]
fn a_client_four_byte_packet_is_not_an_error_to_the_server() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    for kind in TransportKind::ALL {
        let mut stream = Vec::new();
        Codec::client(kind)
            .encode(&(-404i32).to_le_bytes(), &mut stream, &mut rng)
            .unwrap();
        let got = decode_all(&mut Codec::server(kind), &stream, Feed::Whole).unwrap();
        match &got[..] {
            [Event::Packet { payload, .. }] => {
                assert_eq!(&payload[..4], &(-404i32).to_le_bytes());
            }
            other => panic!("{kind:?}: {other:?}"),
        }
    }
}

#[test]
fn full_rejects_bad_crc() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut client = Codec::client(TransportKind::Full);
    let mut stream = Vec::new();
    client.encode(&[5; 40], &mut stream, &mut rng).unwrap();
    for at in [4, 8, 20, stream.len() - 1] {
        let mut bad = stream.clone();
        bad[at] ^= 0x10;
        assert!(
            matches!(
                Codec::server(TransportKind::Full).decode(&bad),
                Err(CodecError::BadCrc { .. })
            ),
            "flip at {at}"
        );
    }
}

#[test]
fn full_rejects_bad_seq() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let mut client = Codec::client(TransportKind::Full);
    let mut first = Vec::new();
    let mut second = Vec::new();
    client.encode(&[1; 8], &mut first, &mut rng).unwrap();
    client.encode(&[2; 8], &mut second, &mut rng).unwrap();

    // Skipped packet.
    assert_eq!(
        Codec::server(TransportKind::Full).decode(&second),
        Err(CodecError::BadSeq {
            expected: 0,
            actual: 1
        })
    );
    // Replayed packet.
    let mut server = Codec::server(TransportKind::Full);
    assert!(matches!(server.decode(&first), Ok(Decoded::Frame { .. })));
    assert_eq!(
        server.decode(&first),
        Err(CodecError::BadSeq {
            expected: 1,
            actual: 0
        })
    );
    assert!(matches!(server.decode(&second), Ok(Decoded::Frame { .. })));
}

#[test]
fn full_quick_ack_tokens_do_not_count_as_packets() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut server = Codec::server(TransportKind::Full);
    let mut stream = Vec::new();
    server.encode(&[1; 8], &mut stream, &mut rng).unwrap();
    server.encode_quick_ack(0x9000_0001, &mut stream).unwrap();
    server.encode(&[2; 8], &mut stream, &mut rng).unwrap();
    assert_eq!(u32::from_le_bytes(stream[4..8].try_into().unwrap()), 0);
    assert_eq!(u32::from_le_bytes(stream[28..32].try_into().unwrap()), 1);
    let got = decode_all(
        &mut Codec::client(TransportKind::Full),
        &stream,
        Feed::Whole,
    )
    .unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[1], Event::QuickAck(0x9000_0001));
}

#[test]
fn oversize_length_rejected_from_the_header_alone() {
    const MAX: usize = 1024;
    // Headers announcing MAX + 4 payload bytes, with nothing after them.
    let client_headers: [(TransportKind, Vec<u8>); 4] = [
        (TransportKind::Abridged, vec![0xef, 0x7f, 0x01, 0x01, 0x00]),
        (
            TransportKind::Intermediate,
            [[0xee; 4], 1028u32.to_le_bytes()].concat(),
        ),
        (
            TransportKind::PaddedIntermediate,
            // Padded allows MAX + 15 for the padding.
            [[0xdd; 4], 1044u32.to_le_bytes()].concat(),
        ),
        (
            TransportKind::Full,
            [1040u32.to_le_bytes(), [0; 4]].concat(),
        ),
    ];
    for (kind, header) in client_headers {
        let mut server = Codec::server(kind).with_max_packet(MAX);
        assert!(
            matches!(server.decode(&header), Err(CodecError::TooLarge { .. })),
            "{kind:?}"
        );
        let mut client = Codec::client(kind).with_max_packet(MAX);
        let server_header = &header[kind.init_tag().len()..];
        assert!(
            matches!(
                client.decode(server_header),
                Err(CodecError::TooLarge { .. })
            ),
            "{kind:?}"
        );
    }
    // One under the limit waits for the body instead, asking for exactly the packet.
    let mut server = Codec::server(TransportKind::Intermediate).with_max_packet(MAX);
    let header = [[0xee; 4], 1024u32.to_le_bytes()].concat();
    assert_eq!(
        server.decode(&header),
        Ok(Decoded::NeedMore { at_least: 8 + 1024 })
    );
    // A 2 GiB length under the default maximum: rejected, not awaited.
    let mut client = Codec::client(TransportKind::Intermediate);
    assert!(matches!(
        client.decode(&0x7fff_fff0u32.to_le_bytes()),
        Err(CodecError::TooLarge { .. })
    ));
}

#[test]
fn encode_rejects_bad_payloads_without_writing() {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let mut out = Vec::new();
    let mut abridged = Codec::client(TransportKind::Abridged);
    assert_eq!(
        abridged.encode(&[0; 6], &mut out, &mut rng),
        Err(CodecError::Misaligned { len: 6 })
    );
    assert!(out.is_empty(), "not even the tag");
    for kind in TransportKind::ALL {
        let mut codec = Codec::client(kind).with_max_packet(64);
        assert_eq!(
            codec.encode(&[0; 68], &mut out, &mut rng),
            Err(CodecError::TooLarge { len: 68, max: 64 })
        );
        assert!(out.is_empty());
        codec.encode(&[0; 64], &mut out, &mut rng).unwrap();
        out.clear();
    }
    // Intermediate and full carry any length.
    for kind in [TransportKind::Intermediate, TransportKind::Full] {
        let mut stream = Vec::new();
        Codec::client(kind)
            .encode(&[1, 2, 3], &mut stream, &mut rng)
            .unwrap();
        let got = decode_all(&mut Codec::server(kind), &stream, Feed::ByteByByte).unwrap();
        assert_eq!(
            got,
            [Event::Packet {
                payload: vec![1, 2, 3],
                quick_ack: false
            }]
        );
    }
}

#[test]
fn role_rules() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut out = Vec::new();
    for kind in TransportKind::ALL {
        let mut client = Codec::client(kind);
        assert!(matches!(
            client.encode_quick_ack(0x8000_0001, &mut out),
            Err(CodecError::WrongRole {
                allowed: Role::Server,
                ..
            })
        ));
        assert!(matches!(
            client.encode_transport_error(-404, &mut out),
            Err(CodecError::WrongRole {
                allowed: Role::Server,
                ..
            })
        ));
        let mut server = Codec::server(kind);
        assert!(matches!(
            server.encode_quick_ack_request(&[0; 4], &mut out, &mut rng),
            Err(CodecError::WrongRole {
                allowed: Role::Client,
                ..
            })
        ));
        assert_eq!(
            server.encode_transport_error(0, &mut out),
            Err(CodecError::NotAnErrorCode { code: 0 })
        );
        assert!(out.is_empty());
        assert_eq!(client.kind(), kind);
        assert_eq!(server.role(), Role::Server);
    }
}

#[test]
fn padded_intermediate_pads_variably() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let mut client = Codec::client(TransportKind::PaddedIntermediate).without_init_tag();
    let mut lengths = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let mut out = Vec::new();
        client.encode(&[3; 32], &mut out, &mut rng).unwrap();
        let len = u32::from_le_bytes(out[..4].try_into().unwrap()) as usize;
        assert!((32..=47).contains(&len));
        assert_eq!(out.len(), 4 + len);
        lengths.insert(len);
    }
    assert_eq!(lengths.len(), 16, "every padding length 0..=15 occurs");
}
