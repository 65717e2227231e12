//! Stream detection on a server port: each kind from its first bytes, and the waits.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mtproto::transport::{
    Codec, Detected, HEADER_LEN, Obfuscation, TransportKind, detect, detect_with_max,
};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// `stream` is detected as `want`, and every shorter prefix asks for more (never for fewer
/// bytes than it has) without deciding.
fn assert_detects(stream: &[u8], want: Detected) {
    assert_eq!(
        detect(stream),
        want,
        "{:02x?}",
        &stream[..stream.len().min(8)]
    );
    let mut decided_at = stream.len();
    for len in (0..stream.len()).rev() {
        match detect(&stream[..len]) {
            Detected::NeedMore { at_least } => {
                assert!(at_least > len && at_least <= decided_at.max(len + 1));
            }
            other => {
                assert_eq!(other, want, "prefix of {len} bytes");
                decided_at = len;
            }
        }
    }
}

fn client_bytes(kind: TransportKind, payload_len: usize, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut payload = vec![0; payload_len];
    rng.fill_bytes(&mut payload);
    let mut out = Vec::new();
    Codec::client(kind).encode(&payload, &mut out, rng).unwrap();
    out
}

#[test]
fn tagged_transports() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    assert_detects(
        &client_bytes(TransportKind::Abridged, 40, &mut rng),
        Detected::Abridged,
    );
    assert_detects(
        &client_bytes(TransportKind::Intermediate, 40, &mut rng),
        Detected::Intermediate,
    );
    assert_detects(
        &client_bytes(TransportKind::PaddedIntermediate, 40, &mut rng),
        Detected::PaddedIntermediate,
    );
    assert_eq!(detect(&[0xef]), Detected::Abridged);
    assert_eq!(detect(&[]), Detected::NeedMore { at_least: 1 });
    for prefix in [
        &[0xee][..],
        &[0xee, 0xee],
        &[0xee, 0xee, 0xee],
        &[0xdd, 0xdd],
    ] {
        assert_eq!(detect(prefix), Detected::NeedMore { at_least: 4 });
    }
}

#[test]
fn http_and_tls() {
    for request in [
        &b"POST /api HTTP/1.1\r\n"[..],
        b"GET /apiws HTTP/1.1\r\nUpgrade: websocket\r\n",
        b"HEAD / HTTP/1.1\r\n",
        b"OPTIONS /api HTTP/1.1\r\n",
    ] {
        assert_detects(request, Detected::Http);
        assert_eq!(detect(&request[..2]), Detected::NeedMore { at_least: 4 });
    }
    let hello = [
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    assert_detects(&hello, Detected::FakeTls);
    assert_eq!(detect(&hello[..3]), Detected::NeedMore { at_least: 4 });
    // Any ClientHello record up to TLS's 2^14 bytes: current clients send about 1.7 KB, and
    // TLS 1.3 allows legacy record version 1.2 too.
    for head in [
        [0x16, 0x03, 0x01, 0x06, 0xc2],
        [0x16, 0x03, 0x01, 0x00, 0x05],
        [0x16, 0x03, 0x03, 0x02, 0x00],
        [0x16, 0x03, 0x01, 0x40, 0x00],
    ] {
        assert_detects(&head, Detected::FakeTls);
    }
    // A record longer than TLS allows, or another record version, is no hello; bytes 4..8
    // then decide.
    for head in [
        [0x16, 0x03, 0x01, 0x41, 0x05, 0x01, 0x00, 0x00],
        [0x16, 0x03, 0x02, 0x02, 0x00, 0x01, 0x00, 0x00],
    ] {
        assert_eq!(detect(&head), Detected::NeedMore { at_least: 64 });
    }
}

#[test]
fn full_transport() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for payload_len in [0, 40, 226, 1 << 20] {
        // 226 + 12 = 0xee: a first byte shared with the intermediate tag.
        assert_detects(
            &client_bytes(TransportKind::Full, payload_len, &mut rng),
            Detected::Full,
        );
    }
    let first = client_bytes(TransportKind::Full, 40, &mut rng);
    assert_eq!(detect(&first[..7]), Detected::NeedMore { at_least: 8 });
    // A quick-ack request on the first packet does not hide it.
    let mut out = Vec::new();
    Codec::client(TransportKind::Full)
        .encode_quick_ack_request(&[0; 40], &mut out, &mut rng)
        .unwrap();
    assert_eq!(detect(&out), Detected::Full);
    // The plausible length depends on the maximum.
    assert_eq!(detect_with_max(&first[..8], 40), Detected::Full);
    assert_eq!(detect_with_max(&first[..8], 36), Detected::Unrecognized);
}

#[test]
fn unrecognized_starts() {
    for bytes in [
        [0x05, 0, 0, 0, 0, 0, 0, 0],
        [0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0],
    ] {
        assert_eq!(detect(&bytes), Detected::Unrecognized, "{bytes:02x?}");
        assert_eq!(detect(&bytes[..6]), Detected::NeedMore { at_least: 8 });
    }
}

#[test]
fn obfuscated_headers() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for i in 0..2000 {
        let kind = [
            TransportKind::Abridged,
            TransportKind::Intermediate,
            TransportKind::PaddedIntermediate,
        ][i % 3];
        let (header, _) = Obfuscation::client(kind, 2, None, &mut rng).unwrap();
        let mut stream = header.to_vec();
        stream.extend_from_slice(&[0x99; 20]);
        assert_eq!(detect(&stream), Detected::Obfuscated);
        assert_eq!(detect(&header), Detected::Obfuscated);
        match detect(&header[..HEADER_LEN - 1]) {
            Detected::NeedMore { at_least } => assert_eq!(at_least, HEADER_LEN),
            other => panic!("{other:?}"),
        }
        assert_eq!(Obfuscation::server(&header, &[]).unwrap().kind, kind);
    }
}
