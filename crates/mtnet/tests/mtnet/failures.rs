//! Hostile and broken peers: transport errors, truncated frames, garbage, silence, oversize
//! packets, HTTP requests that are not ours, timeouts. Every case ends in a typed error or a
//! typed outcome, quickly, never in a hang.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::common;

use std::time::Duration;

use common::{DC_ID, bounded, client_handshake, expect_packet, listen, payload, rng};
use mtnet::{
    AcceptConfig, Accepted, Carrier, DetectError, Endpoint, Incoming, NetError, accept, connect,
};
use mtproto::transport::{CodecError, ObfuscationError, TransportKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A short detection deadline, so the silent-client cases stay fast.
const SHORT: Duration = Duration::from_millis(300);

async fn accept_one(listener: &TcpListener, config: &AcceptConfig) -> Result<Accepted, NetError> {
    let (tcp, _) = listener.accept().await.unwrap();
    accept(tcp, config).await
}

/// The server answers the first packet with a transport error; the client's handshake fails
/// with that code, for plain, obfuscated and full streams alike.
#[tokio::test]
async fn transport_error_reaches_the_client() {
    bounded(async {
        for (kind, obfuscated) in [
            (TransportKind::Intermediate, false),
            (TransportKind::Abridged, true),
            (TransportKind::PaddedIntermediate, true),
            (TransportKind::Full, false),
        ] {
            let (listener, addr) = listen().await;
            let server = tokio::spawn(async move {
                let Accepted::Packets {
                    mut reader,
                    mut writer,
                    ..
                } = accept_one(&listener, &AcceptConfig::default())
                    .await
                    .unwrap()
                else {
                    panic!("expected packets");
                };
                reader.recv().await.unwrap();
                writer.send_transport_error(-404).await.unwrap();
                writer.shutdown().await.unwrap();
            });
            let endpoint = Endpoint::new(addr, DC_ID)
                .with_transport(kind)
                .with_obfuscation(obfuscated);
            let (mut reader, mut writer) = connect(&endpoint).await.unwrap();
            let err = mtnet::client_handshake(
                &mut reader,
                &mut writer,
                client_handshake(),
                &mut rng(),
                Duration::from_secs(10),
            )
            .await
            .unwrap_err();
            assert_eq!(err.transport_code(), Some(-404), "{kind:?}: {err}");
            server.await.unwrap();
        }
    })
    .await;
}

/// The raw reader view of the same: an `Incoming::TransportError`, then a clean close.
#[tokio::test]
async fn transport_error_is_a_frame_for_the_reader() {
    bounded(async {
        let (listener, addr) = listen().await;
        let server = tokio::spawn(async move {
            let Accepted::Packets { mut writer, .. } =
                accept_one(&listener, &AcceptConfig::default())
                    .await
                    .unwrap()
            else {
                panic!("expected packets");
            };
            writer.send_transport_error(-429).await.unwrap();
            writer.shutdown().await.unwrap();
        });
        let (mut reader, _writer) = connect(&Endpoint::new(addr, DC_ID)).await.unwrap();
        assert_eq!(reader.recv().await.unwrap(), Incoming::TransportError(-429));
        assert!(matches!(reader.recv().await, Err(NetError::Closed)));
        server.await.unwrap();
    })
    .await;
}

/// A server that dies in the middle of a frame gives `UnexpectedEof`; one that closes between
/// frames gives `Closed`.
#[tokio::test]
async fn close_mid_frame_is_an_error_not_a_hang() {
    bounded(async {
        let (listener, addr) = listen().await;
        let server = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut tag = [0u8; 4];
            tcp.read_exact(&mut tag).await.unwrap();
            assert_eq!(tag, [0xee; 4]);
            // A whole 8-byte packet, then a header announcing 100 bytes and only 10 of them.
            let mut bytes = 8u32.to_le_bytes().to_vec();
            bytes.extend_from_slice(&payload(8, 0));
            bytes.extend_from_slice(&100u32.to_le_bytes());
            bytes.extend_from_slice(&[7; 10]);
            tcp.write_all(&bytes).await.unwrap();
        });
        let (mut reader, _writer) = connect(&Endpoint::new(addr, DC_ID)).await.unwrap();
        assert_eq!(expect_packet(&mut reader).await, payload(8, 0));
        server.await.unwrap();
        match reader.recv().await {
            Err(NetError::UnexpectedEof { buffered }) => assert_eq!(buffered, 14),
            other => panic!("expected UnexpectedEof, got {other:?}"),
        }

        let (listener, addr) = listen().await;
        let server = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            // Read the tag first: closing with unread input would reset the connection.
            let mut tag = [0u8; 4];
            tcp.read_exact(&mut tag).await.unwrap();
            drop(tcp);
        });
        let (mut reader, _writer) = connect(&Endpoint::new(addr, DC_ID)).await.unwrap();
        server.await.unwrap();
        assert!(matches!(reader.recv().await, Err(NetError::Closed)));
    })
    .await;
}

/// What a refused connection's error must look like.
type ErrorCheck = fn(&NetError) -> bool;

/// Bytes that no transport starts with are refused at once.
#[tokio::test]
async fn detection_refuses_garbage() {
    bounded(async {
        let cases: Vec<(Vec<u8>, ErrorCheck)> = vec![
            // Bytes 4..8 zero but no plausible full-transport length.
            (vec![0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0], |e| {
                matches!(e, NetError::Detect(DetectError::Unrecognized))
            }),
            // A 64-byte "header" that decrypts to no known protocol tag.
            (vec![0x11; 64], |e| {
                matches!(e, NetError::Obfuscation(ObfuscationError::UnknownTag))
            }),
            // A TLS ClientHello (MTProxy fake TLS), not served yet.
            (vec![0x16, 0x03, 0x01, 0x02, 0x00], |e| {
                matches!(e, NetError::Detect(DetectError::FakeTlsUnsupported))
            }),
            // An HTTP method with a broken request line.
            (b"GET nonsense\r\n\r\n".to_vec(), |e| {
                matches!(e, NetError::Detect(DetectError::BadHttp))
            }),
            // The intermediate tag followed by a length over the maximum.
            ([[0xee; 4], 0x7fff_fff0u32.to_le_bytes()].concat(), |e| {
                matches!(e, NetError::Codec(CodecError::TooLarge { .. }))
            }),
        ];
        for (bytes, check) in cases {
            let (listener, addr) = listen().await;
            let client = tokio::spawn(async move {
                let mut tcp = TcpStream::connect(addr).await.unwrap();
                tcp.write_all(&bytes).await.unwrap();
                // Hold the connection open: refusal must not depend on the client leaving.
                let mut sink = Vec::new();
                let _ = tcp.read_to_end(&mut sink).await;
            });
            let result = accept_one(&listener, &AcceptConfig::default()).await;
            let err = match result {
                // The oversize length is only seen by the packet reader.
                Ok(Accepted::Packets { mut reader, .. }) => reader.recv().await.unwrap_err(),
                Ok(Accepted::Http(..)) => panic!("garbage accepted as HTTP"),
                Err(err) => err,
            };
            assert!(check(&err), "unexpected error: {err}");
            client.abort();
        }
    })
    .await;
}

/// A client that connects and sends nothing (or too little) is dropped at the deadline.
#[tokio::test]
async fn detection_gives_up_on_a_silent_client() {
    bounded(async {
        for sent in [
            &b""[..],
            &[0x12, 0x34, 0x56, 0x78, 0x9a][..],
            &b"GET /apiws HTTP/1.1\r\n"[..],
        ] {
            let (listener, addr) = listen().await;
            let mut tcp = TcpStream::connect(addr).await.unwrap();
            tcp.write_all(sent).await.unwrap();
            let config = AcceptConfig::default().with_detect_timeout(SHORT);
            let err = accept_one(&listener, &config).await.unwrap_err();
            // The configured deadline is the one that fired (`bounded` rules out a hang).
            assert!(
                matches!(
                    err,
                    NetError::Timeout {
                        operation: "transport detection",
                        after: SHORT,
                    }
                ),
                "{err}"
            );
            drop(tcp);
        }
    })
    .await;
}

/// A request head that never ends is cut off at the byte limit, not buffered forever.
#[tokio::test]
async fn endless_http_head_is_cut_off() {
    bounded(async {
        let (listener, addr) = listen().await;
        let client = tokio::spawn(async move {
            let mut tcp = TcpStream::connect(addr).await.unwrap();
            tcp.write_all(b"GET /apiws HTTP/1.1\r\n").await.unwrap();
            let header = b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
            for _ in 0..1000 {
                if tcp.write_all(header).await.is_err() {
                    break;
                }
            }
        });
        let err = accept_one(&listener, &AcceptConfig::default())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                NetError::Detect(DetectError::HttpHeadTooLarge { limit: 8192 })
            ),
            "{err}"
        );
        client.abort();
    })
    .await;
}

/// HTTP that is not our WebSocket upgrade is handed back whole, for the HTTP transport.
#[tokio::test]
async fn other_http_requests_are_handed_back() {
    bounded(async {
        let requests: [&[u8]; 3] = [
            b"POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n\
              \x01\x02\x03\x04\x05\x06\x07\x08",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /other HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        ];
        for request in requests {
            let (listener, addr) = listen().await;
            let mut tcp = TcpStream::connect(addr).await.unwrap();
            tcp.write_all(request).await.unwrap();
            let Accepted::Http(mut stream, received) =
                accept_one(&listener, &AcceptConfig::default())
                    .await
                    .unwrap()
            else {
                panic!("expected an HTTP outcome");
            };
            assert!(
                request.starts_with(&received),
                "received bytes are a prefix"
            );
            let head_end = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            assert!(received.len() >= head_end, "the whole head was read");
            // The connection still works for the HTTP handler.
            stream
                .write_all(b"HTTP/1.1 404 Not Found\r\n\r\n")
                .await
                .unwrap();
            let mut reply = [0u8; 12];
            tcp.read_exact(&mut reply).await.unwrap();
            assert_eq!(&reply, b"HTTP/1.1 404");
        }
    })
    .await;
}

/// Packets over the configured maximum are refused from their length prefix, in both
/// directions.
#[tokio::test]
async fn oversize_packets_refused() {
    bounded(async {
        let (listener, addr) = listen().await;
        let server = tokio::spawn(async move {
            let config = AcceptConfig::default().with_max_packet(1024);
            let Accepted::Packets { mut reader, .. } =
                accept_one(&listener, &config).await.unwrap()
            else {
                panic!("expected packets");
            };
            assert_eq!(
                reader.recv().await.unwrap().into_packet().unwrap().len(),
                1024
            );
            reader.recv().await.unwrap_err()
        });
        let (_reader, mut writer) = connect(&Endpoint::new(addr, DC_ID).with_obfuscation(true))
            .await
            .unwrap();
        writer.send(&payload(1024, 0)).await.unwrap();
        writer.send(&payload(4096, 1)).await.unwrap();
        let err = server.await.unwrap();
        assert!(
            matches!(
                err,
                NetError::Codec(CodecError::TooLarge {
                    len: 4096,
                    max: 1024
                })
            ),
            "{err}"
        );

        let (listener, addr) = listen().await;
        let _server = tokio::spawn(async move { listener.accept().await });
        let (_reader, mut writer) = connect(&Endpoint::new(addr, DC_ID).with_max_packet(64))
            .await
            .unwrap();
        let err = writer.send(&payload(128, 0)).await.unwrap_err();
        assert!(
            matches!(err, NetError::Codec(CodecError::TooLarge { .. })),
            "{err}"
        );
    })
    .await;
}

/// A WebSocket server that never answers the upgrade trips the connect timeout; a server that
/// never answers the handshake trips the handshake timeout.
#[tokio::test]
async fn client_side_timeouts() {
    bounded(async {
        let (listener, addr) = listen().await;
        let endpoint = Endpoint::new(addr, DC_ID)
            .with_carrier(Carrier::websocket())
            .with_connect_timeout(SHORT);
        let err = connect(&endpoint).await.unwrap_err();
        assert!(
            matches!(
                err,
                NetError::Timeout {
                    operation: "connect",
                    after: SHORT,
                }
            ),
            "{err}"
        );
        drop(listener);

        let (listener, addr) = listen().await;
        let (mut reader, mut writer) = connect(&Endpoint::new(addr, DC_ID)).await.unwrap();
        let err = mtnet::client_handshake(
            &mut reader,
            &mut writer,
            client_handshake(),
            &mut rng(),
            SHORT,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                err,
                NetError::Timeout {
                    operation: "auth-key handshake",
                    after: SHORT,
                }
            ),
            "{err}"
        );
        drop(listener);
    })
    .await;
}

/// Configuration mistakes and refused connections are typed errors.
#[tokio::test]
async fn bad_endpoints() {
    bounded(async {
        let (listener, addr) = listen().await;
        let full_ws = Endpoint::new(addr, DC_ID)
            .with_transport(TransportKind::Full)
            .with_carrier(Carrier::websocket());
        assert!(matches!(
            connect(&full_ws).await.unwrap_err(),
            NetError::InvalidEndpoint(_)
        ));
        // Nothing listens once the listener is gone.
        drop(listener);
        assert!(matches!(
            connect(&Endpoint::new(addr, DC_ID)).await.unwrap_err(),
            NetError::Io(_)
        ));
    })
    .await;
}
