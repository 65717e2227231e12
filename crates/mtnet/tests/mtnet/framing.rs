//! `Framing` over an in-memory pipe whose tiny buffer splits every frame into many reads and
//! writes: every kind, plain and obfuscated, both directions, batched sends.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::common;

use common::{DC_ID, assert_payload, bounded, payload, rng};
use mtnet::{Framing, Incoming, NetError, PacketReader, PacketWriter};
use mtproto::transport::{DEFAULT_MAX_PACKET, HEADER_LEN, Obfuscation, TransportKind};
use tokio::io::{AsyncReadExt, DuplexStream, duplex};

/// Bytes the pipe holds at most: frames cross it in 7-byte pieces.
const PIPE: usize = 7;

/// Opens both ends over a pipe. The server side reads the obfuscation header itself, as
/// `accept` would.
async fn pair(
    kind: TransportKind,
    obfuscated: bool,
) -> ((PacketReader, PacketWriter), (PacketReader, PacketWriter)) {
    let (client_io, mut server_io) = duplex(PIPE);
    let client = if obfuscated {
        Framing::client_obfuscated(kind, DC_ID, None, DEFAULT_MAX_PACKET, &mut rng()).unwrap()
    } else {
        Framing::client(kind, DEFAULT_MAX_PACKET)
    };
    let (client_reader, mut client_writer) = client.split(client_io);
    let flushing = tokio::spawn(async move {
        client_writer.flush_preamble().await.unwrap();
        client_writer
    });
    let server = if obfuscated {
        let mut header = [0u8; HEADER_LEN];
        server_io.read_exact(&mut header).await.unwrap();
        let accepted = Obfuscation::server(&header, &[]).unwrap();
        assert_eq!(accepted.kind, kind);
        assert_eq!(accepted.dc_id, DC_ID);
        Framing::server_obfuscated(kind, accepted.obfuscation, DEFAULT_MAX_PACKET)
    } else {
        Framing::server(kind, DEFAULT_MAX_PACKET)
    };
    let server = server.split::<DuplexStream>(server_io);
    let client_writer = flushing.await.unwrap();
    ((client_reader, client_writer), server)
}

async fn fragmented(kind: TransportKind, obfuscated: bool) {
    let ((mut client_reader, mut client_writer), (mut server_reader, mut server_writer)) =
        pair(kind, obfuscated).await;
    // Sent one by one, then the last three in one batch.
    let packets: Vec<Vec<u8>> = [4usize, 8, 504, 508, 512, 4096, 65_536, 12, 16, 400]
        .into_iter()
        .enumerate()
        .map(|(index, size)| payload(size, index))
        .collect();
    let count = packets.len();
    let padding = if kind == TransportKind::PaddedIntermediate {
        15
    } else {
        0
    };

    // Client to server, while the server answers each: both directions at once.
    let sent = packets.clone();
    let to_server = tokio::spawn(async move {
        let (single, batch) = sent.split_at(sent.len() - 3);
        for packet in single {
            client_writer.send(packet).await.unwrap();
        }
        client_writer.send_many(batch).await.unwrap();
        client_writer.shutdown().await.unwrap();
    });
    let answering = tokio::spawn(async move {
        let mut index = 0;
        loop {
            match server_reader.recv().await {
                Ok(Incoming::Packet(got)) => {
                    assert_payload(&got, &packets[index], padding);
                    let answer = payload(got.len() & !3, 1000 + index);
                    server_writer.send(&answer).await.unwrap();
                    index += 1;
                }
                Err(NetError::Closed) => break,
                other => panic!("server got {other:?}"),
            }
        }
        server_writer.send_quick_ack(0x0abc_def0).await.unwrap();
        server_writer.send_transport_error(-444).await.unwrap();
        index
    });
    let mut answers = 0;
    loop {
        match client_reader.recv().await.unwrap() {
            Incoming::Packet(got) => {
                assert!(got.len() >= 4);
                answers += 1;
            }
            Incoming::QuickAck(token) => assert_eq!(token, 0x8abc_def0),
            Incoming::TransportError(code) => {
                assert_eq!(code, -444);
                break;
            }
            Incoming::PacketWithQuickAck(_) => panic!("the client never sees quick-ack requests"),
        }
    }
    to_server.await.unwrap();
    assert_eq!(answering.await.unwrap(), answers);
    assert_eq!(answers, count);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_survives_fragmentation() {
    bounded(async {
        for kind in TransportKind::ALL {
            fragmented(kind, false).await;
            if kind != TransportKind::Full {
                fragmented(kind, true).await;
            }
        }
    })
    .await;
}

/// The wrong role's operations are refused before anything is written.
#[tokio::test]
async fn role_checks() {
    bounded(async {
        let ((_, mut client_writer), (_, mut server_writer)) =
            pair(TransportKind::Intermediate, false).await;
        assert!(matches!(
            client_writer.send_transport_error(-404).await,
            Err(NetError::Codec(_))
        ));
        assert!(matches!(
            client_writer.send_quick_ack(1).await,
            Err(NetError::Codec(_))
        ));
        assert!(matches!(
            server_writer.send_quick_ack_request(&[0; 8]).await,
            Err(NetError::Codec(_))
        ));
        assert!(matches!(
            server_writer.send_transport_error(5).await,
            Err(NetError::Codec(_))
        ));
    })
    .await;
}
