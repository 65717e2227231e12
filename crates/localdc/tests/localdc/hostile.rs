#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Hostile clients: garbage, absurd length prefixes, truncated frames, silence, floods of
//! connections. Each closes the offending connection only; a well-behaved client on the
//! same DC keeps working throughout.

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Client, Conn, Received, with_init};
use localdc::{Config, Limits, RunningServer, Server};
use mtcrypto::RsaPublicKey;
use mtproto::transport::TransportKind;
use rand::{Rng, SeedableRng};
use tl_types::Serialize;
use tl_types::api::functions::help::GetConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TEST_TIME: Duration = Duration::from_mins(2);

async fn start(limits: Limits) -> (RunningServer, RsaPublicKey) {
    let config = Config {
        dcs: 2,
        limits,
        ..Config::default()
    };
    let server = Server::start(config).await.unwrap();
    let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
    (server, key)
}

/// Sends `bytes` (then half-closes if `finish`) and returns how the server ended the
/// connection: the bytes it sent before closing (the test's time limit bounds the wait).
async fn send_and_expect_close(addr: SocketAddr, bytes: &[u8], finish: bool) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The server may close before everything is written; that is fine.
    let _ = stream.write_all(bytes).await;
    if finish {
        let _ = stream.shutdown().await;
    }
    let mut received = Vec::new();
    // A reset after the server's last bytes is a close too.
    let _ = stream.read_to_end(&mut received).await;
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_streams_close_only_their_connection() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, key) = start(Limits::default()).await;
        let addr = server.addr(1).unwrap();
        let (mut good, _) = Client::open(addr, &key, 1, TransportKind::Intermediate, false).await;
        good.call(with_init(GetConfig {}.to_bytes())).await.unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);

        let mut cases: Vec<(&str, Vec<u8>, bool)> = Vec::new();
        // Random bytes: taken for an obfuscation header with no valid tag.
        let garbage: Vec<u8> = (0..256).map(|_| rng.r#gen::<u8>() | 1).collect();
        cases.push(("garbage", garbage, false));
        // Bytes 4..8 zero but no plausible full-transport length.
        cases.push((
            "bad full length",
            [0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 1, 2, 3, 4].to_vec(),
            false,
        ));
        // A 2 GiB length prefix after the intermediate tag.
        let mut huge = vec![0xee; 4];
        huge.extend_from_slice(&0x7fff_fff0u32.to_le_bytes());
        huge.extend_from_slice(&[0; 64]);
        cases.push(("2 GiB intermediate length", huge, false));
        // Abridged's largest length (64 MiB): above the server's packet limit.
        cases.push((
            "64 MiB abridged length",
            vec![0xef, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4],
            false,
        ));
        // A frame cut short, then the client stops sending.
        let mut truncated = vec![0xee; 4];
        truncated.extend_from_slice(&1000u32.to_le_bytes());
        truncated.extend_from_slice(&[7; 10]);
        cases.push(("truncated frame", truncated, true));
        // A full-transport frame with a wrong CRC.
        let mut bad_crc = Vec::new();
        bad_crc.extend_from_slice(&(12u32 + 8).to_le_bytes());
        bad_crc.extend_from_slice(&0u32.to_le_bytes());
        bad_crc.extend_from_slice(&[1; 8]);
        bad_crc.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        cases.push(("bad CRC", bad_crc, false));
        // A plain message whose body is no handshake message.
        let mut plain = vec![0xee; 4];
        let mut body = vec![0u8; 8];
        body.extend_from_slice(&(1i64 << 32).to_le_bytes());
        body.extend_from_slice(&8u32.to_le_bytes());
        body.extend_from_slice(&[0x55; 8]);
        plain.extend_from_slice(&(body.len() as u32).to_le_bytes());
        plain.extend_from_slice(&body);
        cases.push(("garbage handshake", plain, false));
        // An HTTP request for a path MTProto is not served on: 404, then closed.
        cases.push(("http", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), false));

        for (name, bytes, finish) in cases {
            send_and_expect_close(addr, &bytes, finish).await;
            good.call(GetConfig {}.to_bytes())
                .await
                .unwrap_or_else(|e| panic!("after {name}: {e}"));
        }

        // An unknown auth key: -404, then closed.
        let mut conn = Conn::connect(addr, TransportKind::Intermediate, false, 1).await;
        let mut packet = vec![0x11u8; 8];
        packet.extend_from_slice(&[0x22; 72]);
        conn.send(&packet).await;
        assert_eq!(conn.recv().await, Received::TransportError(-404));
        assert_eq!(conn.recv().await, Received::Closed);

        // A known key with a packet that does not decrypt: -404 too.
        let mut tampered = Conn::connect(addr, TransportKind::Abridged, false, 1).await;
        let keyed = tampered.handshake(&key, 1).await;
        let mut bad = keyed.auth_key.key_id().to_le_bytes().to_vec();
        bad.extend_from_slice(&[0x33; 80]);
        tampered.send(&bad).await;
        assert_eq!(tampered.recv().await, Received::TransportError(-404));

        good.call(GetConfig {}.to_bytes()).await.unwrap();
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_without_a_word() {
    tokio::time::timeout(TEST_TIME, async {
        let limits = Limits {
            handshake_timeout: Duration::from_secs(1),
            ..Limits::default()
        };
        let (server, _) = start(limits).await;
        let addr = server.addr(2).unwrap();
        // Nothing at all, then a transport header and nothing: the handshake timeout
        // ends both (that they are held until then, the flood test below shows).
        assert_eq!(send_and_expect_close(addr, &[], false).await, b"");
        assert_eq!(send_and_expect_close(addr, &[0xee; 4], false).await, b"");
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_floods_are_bounded() {
    tokio::time::timeout(TEST_TIME, async {
        let limits = Limits {
            // Silent connections stay for the whole test.
            handshake_timeout: Duration::from_hours(1),
            max_connections_per_dc: 3,
            ..Limits::default()
        };
        let (server, key) = start(limits).await;
        let addr = server.addr(2).unwrap();

        // Three silent connections take every slot: the fourth gets -429. (The listener
        // takes connections in order, so the three have their slots first.)
        let mut idle = Vec::new();
        for _ in 0..3 {
            idle.push(TcpStream::connect(addr).await.unwrap());
        }
        let mut refused = Conn::connect(addr, TransportKind::Intermediate, false, 2).await;
        refused.send(&[0; 40]).await;
        assert_eq!(refused.recv().await, Received::TransportError(-429));
        drop(idle);

        // Once they are gone (the server sees them close), clients are served again.
        let mut attempts = 0;
        loop {
            let mut conn = Conn::connect(addr, TransportKind::Intermediate, false, 2).await;
            let mut probe = Vec::new();
            mtproto::plain::encode_plain(
                4 << 32,
                &tl_types::mtproto::functions::ReqPqMulti { nonce: [1; 16] }.to_bytes(),
                &mut probe,
            );
            conn.send(&probe).await;
            if matches!(conn.recv().await, Received::Packet(_)) {
                break;
            }
            attempts += 1;
            assert!(attempts < 100, "slots never freed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (mut client, _) = Client::open(addr, &key, 2, TransportKind::Full, false).await;
        client
            .call(with_init(GetConfig {}.to_bytes()))
            .await
            .unwrap();
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}
