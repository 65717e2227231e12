//! Every transport, over TCP (plain and obfuscated) and over WebSocket: a server using
//! `accept` and a client using `connect` agree on an auth key, then exchange packets of
//! 0..=1 MiB both ways while sending and receiving concurrently.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::common;

use common::{
    DC_ID, HANDSHAKE_LIMIT, assert_payload, bounded, client_handshake, listen, payload, rng,
    server_handshake,
};
use mtcrypto::AuthKey;
use mtnet::{
    AcceptConfig, Accepted, Carrier, CarrierKind, Endpoint, Incoming, NetError, StreamInfo, accept,
    connect,
};
use mtproto::transport::TransportKind;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Sizes exercising every length encoding (abridged's one-byte limit at 0x7f words, the
/// extended form, large packets up to 1 MiB), then many small and medium packets.
fn sizes(kind: TransportKind) -> Vec<usize> {
    let mut sizes = vec![
        0,
        4,
        8,
        16,
        20,
        64,
        0x7e * 4,
        0x7f * 4,
        0x80 * 4,
        1000,
        4096,
        65_536,
        65_540,
        262_144,
        1 << 20,
    ];
    let mut state = 0x2545_f491_u32;
    for _ in 0..300 {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        sizes.push(((state >> 8) as usize % 4096) * 4);
    }
    sizes.push(1 << 20);
    if kind == TransportKind::PaddedIntermediate {
        // An empty payload plus random padding can start with a negative word, which the
        // client reads as a transport error; no MTProto packet is ever empty.
        sizes.retain(|&size| size != 0);
    }
    sizes
}

/// Which packets ask for a quick ack.
fn wants_ack(index: usize) -> bool {
    index % 5 == 1
}

/// The quick-ack token the echo server answers packet `index` with.
fn token(index: usize) -> u32 {
    0x0100_0000 + index as u32
}

/// What the server saw and agreed.
struct ServerReport {
    info: StreamInfo,
    auth_key: AuthKey,
    echoed: usize,
}

/// Accepts one connection, runs the server handshake, then echoes every packet (after a
/// quick-ack token when asked) until the client closes. Reading and writing run in separate
/// tasks joined by a small channel.
async fn echo_server(listener: TcpListener) -> ServerReport {
    let (tcp, _) = listener.accept().await.unwrap();
    let Accepted::Packets {
        mut reader,
        mut writer,
        info,
    } = accept(tcp, &AcceptConfig::default()).await.unwrap()
    else {
        panic!("expected an MTProto stream");
    };
    let outcome = mtnet::server_handshake(
        &mut reader,
        &mut writer,
        server_handshake(),
        &|_| false,
        &mut rng(),
        HANDSHAKE_LIMIT,
    )
    .await
    .unwrap();

    let (tx, mut rx) = mpsc::channel::<(usize, Vec<u8>, bool)>(4);
    let reading = tokio::spawn(async move {
        for index in 0.. {
            let (packet, ack) = match reader.recv().await {
                Ok(Incoming::Packet(p)) => (p, false),
                Ok(Incoming::PacketWithQuickAck(p)) => (p, true),
                Err(NetError::Closed) => return index,
                other => panic!("server received {other:?}"),
            };
            tx.send((index, packet, ack)).await.unwrap();
        }
        unreachable!()
    });
    let writing = tokio::spawn(async move {
        let mut echoed = 0;
        while let Some((index, packet, ack)) = rx.recv().await {
            if ack {
                writer.send_quick_ack(token(index)).await.unwrap();
            }
            writer.send(&packet).await.unwrap();
            echoed += 1;
        }
        writer.shutdown().await.unwrap();
        echoed
    });
    let received = reading.await.unwrap();
    let echoed = writing.await.unwrap();
    assert_eq!(received, echoed);
    ServerReport {
        info,
        auth_key: outcome.auth_key,
        echoed,
    }
}

/// Runs the whole scenario for one endpoint configuration.
async fn round_trip(configure: impl FnOnce(Endpoint) -> Endpoint, kind: TransportKind) {
    let (listener, addr) = listen().await;
    let server = tokio::spawn(echo_server(listener));
    let endpoint = configure(Endpoint::new(addr, DC_ID).with_transport(kind));
    let obfuscated = endpoint.is_obfuscated();
    let over_ws = matches!(endpoint.carrier, Carrier::WebSocket { .. });

    let (mut reader, mut writer) = connect(&endpoint).await.unwrap();
    let outcome = mtnet::client_handshake(
        &mut reader,
        &mut writer,
        client_handshake(),
        &mut rng(),
        HANDSHAKE_LIMIT,
    )
    .await
    .unwrap();

    let sizes = sizes(kind);
    let count = sizes.len();
    let to_send = sizes.clone();
    let sending = tokio::spawn(async move {
        for (index, size) in to_send.into_iter().enumerate() {
            let packet = payload(size, index);
            if wants_ack(index) {
                writer.send_quick_ack_request(&packet).await.unwrap();
            } else {
                writer.send(&packet).await.unwrap();
            }
        }
        writer
    });
    // Each hop of padded intermediate may add 15 bytes; the echo makes two hops.
    let max_padding = if kind == TransportKind::PaddedIntermediate {
        30
    } else {
        0
    };
    for (index, &size) in sizes.iter().enumerate() {
        if wants_ack(index) {
            match reader.recv().await.unwrap() {
                Incoming::QuickAck(got) => assert_eq!(got, token(index) | 0x8000_0000),
                other => panic!("expected the quick ack of packet {index}, got {other:?}"),
            }
        }
        match reader.recv().await.unwrap() {
            Incoming::Packet(got) => assert_payload(&got, &payload(size, index), max_padding),
            other => panic!("expected packet {index}, got {other:?}"),
        }
    }
    let mut writer = sending.await.unwrap();
    writer.shutdown().await.unwrap();
    assert!(matches!(reader.recv().await, Err(NetError::Closed)));

    let report = server.await.unwrap();
    assert_eq!(report.echoed, count);
    assert_eq!(
        report.auth_key.as_bytes(),
        outcome.auth_key.as_bytes(),
        "both ends agree on the auth key"
    );
    let expected_carrier = if over_ws {
        CarrierKind::WebSocket
    } else {
        CarrierKind::Tcp
    };
    assert_eq!(report.info.kind, kind);
    assert_eq!(report.info.obfuscated, obfuscated);
    assert_eq!(report.info.carrier, expected_carrier);
    assert_eq!(report.info.dc_id, obfuscated.then_some(DC_ID));
}

async fn tcp(kind: TransportKind, obfuscated: bool) {
    bounded(round_trip(|e| e.with_obfuscation(obfuscated), kind)).await;
}

async fn websocket(kind: TransportKind) {
    bounded(round_trip(|e| e.with_carrier(Carrier::websocket()), kind)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_abridged() {
    tcp(TransportKind::Abridged, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_intermediate() {
    tcp(TransportKind::Intermediate, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_padded_intermediate() {
    tcp(TransportKind::PaddedIntermediate, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_full() {
    tcp(TransportKind::Full, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_obfuscated_abridged() {
    tcp(TransportKind::Abridged, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_obfuscated_intermediate() {
    tcp(TransportKind::Intermediate, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_obfuscated_padded_intermediate() {
    tcp(TransportKind::PaddedIntermediate, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_abridged() {
    websocket(TransportKind::Abridged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_intermediate() {
    websocket(TransportKind::Intermediate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_padded_intermediate() {
    websocket(TransportKind::PaddedIntermediate).await;
}
