//! Padded intermediate as a client reads it: whatever a server appends (0..=15 bytes, the
//! documented range; deployed servers send at most 3), every kind of packet the client reads
//! comes out intact. And each side's encoder pads as that side does in practice.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mtcrypto::AuthKey;
use mtcrypto::kdf::Direction;
use mtproto::encrypted::{MessageHeader, decrypt, encrypt};
use mtproto::plain::{decode_plain, encode_plain};
use mtproto::transport::{Codec, Decoded, Frame, PaddingStyle, Role, TransportKind};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

const HEADER: MessageHeader = MessageHeader {
    salt: 11,
    session_id: 22,
    msg_id: 0x6543_2100_0000_0001,
    seq_no: 1,
};

/// One padded-intermediate frame as a server would write it, with exactly `pad` bytes of
/// padding (made by hand, so that the client is tested against any server, not our encoder).
fn frame(payload: &[u8], pad: usize, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut padding = vec![0u8; pad];
    rng.fill_bytes(&mut padding);
    let len = u32::try_from(payload.len() + pad).unwrap();
    [&len.to_le_bytes()[..], payload, &padding].concat()
}

/// Decodes every frame of `stream` with a fresh client codec (the init tag travels the
/// other way), returning each with its payload copied out.
fn client_reads(stream: &[u8]) -> Vec<(Frame, Vec<u8>)> {
    let mut codec = Codec::client(TransportKind::PaddedIntermediate);
    let mut rest = stream;
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let Decoded::Frame { consumed, frame } = codec.decode(rest).unwrap() else {
            panic!("incomplete frame with {} bytes left", rest.len());
        };
        let payload = match &frame {
            Frame::Packet { payload, .. } => rest[payload.clone()].to_vec(),
            _ => Vec::new(),
        };
        frames.push((frame, payload));
        rest = &rest[consumed..];
    }
    frames
}

#[test]
fn client_reads_every_packet_kind_under_any_padding_up_to_15() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut key_bytes = [0u8; 256];
    rng.fill_bytes(&mut key_bytes);
    let key = AuthKey::from_bytes(key_bytes);
    let body: Vec<u8> = (0u8..64).collect();

    for pad in 0..=15 {
        // A handshake answer (plain), an RPC answer (encrypted), a quick-ack token (never
        // padded) and a transport error, in one stream.
        let mut plain = Vec::new();
        encode_plain(HEADER.msg_id, &body, &mut plain);
        let mut sealed = Vec::new();
        encrypt(
            &key,
            Direction::ServerToClient,
            &HEADER,
            &body,
            &mut rng,
            &mut sealed,
        )
        .unwrap();
        let mut stream = frame(&plain, pad, &mut rng);
        stream.extend(frame(&sealed, pad, &mut rng));
        stream.extend((0x8000_004du32).to_le_bytes());
        stream.extend(frame(&(-404i32).to_le_bytes(), pad, &mut rng));

        let frames = client_reads(&stream);
        assert_eq!(frames.len(), 4, "padding {pad}");
        let [
            (Frame::Packet { .. }, plain_payload),
            (Frame::Packet { .. }, sealed_payload),
            (Frame::QuickAck(token), _),
            (Frame::TransportError(code), _),
        ] = &frames[..]
        else {
            panic!("padding {pad}: unexpected frames {frames:?}");
        };
        assert_eq!(plain_payload.len(), plain.len() + pad);
        assert_eq!(decode_plain(plain_payload).unwrap().body, &body[..]);
        let mut sealed_payload = sealed_payload.clone();
        let opened = decrypt(&key, Direction::ServerToClient, &mut sealed_payload)
            .unwrap_or_else(|e| panic!("padding {pad}: {e}"));
        assert_eq!(opened.body, &body[..]);
        assert_eq!(opened.header, HEADER);
        assert_eq!(*token, 0x8000_004d);
        assert_eq!(*code, -404);
    }
}

/// The padding lengths `codec` (which sends no init tag) appends over 400 packets of 16
/// bytes.
fn padding_lengths(mut codec: Codec) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut seen = [false; 16];
    for _ in 0..400 {
        let mut out = Vec::new();
        codec.encode(&[1; 16], &mut out, &mut rng).unwrap();
        let len = u32::from_le_bytes(out[..4].try_into().unwrap()) as usize;
        assert_eq!(out.len(), 4 + len);
        seen[len - 16] = true;
    }
    (0..16).filter(|l| seen[*l]).collect()
}

#[test]
fn each_side_pads_as_it_does_in_practice() {
    let kind = TransportKind::PaddedIntermediate;
    // Clients pad like TDLib (up to 15); servers like Telegram (up to 3).
    assert_eq!(
        padding_lengths(Codec::new(kind, Role::Client).without_init_tag()),
        (0..16).collect::<Vec<_>>()
    );
    assert_eq!(padding_lengths(Codec::server(kind)), vec![0, 1, 2, 3]);
    assert_eq!(
        padding_lengths(Codec::server(kind).with_padding(PaddingStyle::FullRange)),
        (0..16).collect::<Vec<_>>()
    );
    assert_eq!(
        padding_lengths(
            Codec::new(kind, Role::Client)
                .without_init_tag()
                .with_padding(PaddingStyle::Deployed)
        ),
        vec![0, 1, 2, 3]
    );
    assert_eq!(Codec::server(kind).padding(), PaddingStyle::Deployed);
    assert_eq!(PaddingStyle::default(), PaddingStyle::Deployed);
}
