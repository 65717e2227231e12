//! MTProxy on loopback sockets: `connect` through `Proxy::MtProxy` with plain, `dd` and
//! fake-TLS `ee` secrets against `accept` configured as an MTProxy front; what each secret
//! admits, and every refusal with its error.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{DC_ID, assert_payload, bounded, expect_packet, listen, payload, rng};
use mtnet::{
    AcceptConfig, Accepted, CarrierKind, DetectError, Endpoint, NetError, PacketReader,
    PacketWriter, Proxy, StreamInfo, accept, connect,
};
use mtproto::transport::fake_tls::{
    ClientHello, FakeTlsError, check_client_hello, client_hello_len, server_hello,
};
use mtproto::transport::{ObfuscationError, ProxySecret, TransportKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PLAIN: [u8; 16] = [0x11; 16];
const PADDED: [u8; 16] = [0x22; 16];
const TLS: [u8; 16] = [0x33; 16];
const DOMAIN: &str = "www.example.com";

fn fake_tls(key: [u8; 16], domain: &str) -> ProxySecret {
    ProxySecret::FakeTls {
        key,
        domain: domain.into(),
    }
}

/// The proxy's secrets: index 0 plain, 1 `dd`, 2 `ee`.
fn secrets() -> Vec<ProxySecret> {
    vec![
        ProxySecret::Plain(PLAIN),
        ProxySecret::Padded(PADDED),
        fake_tls(TLS, DOMAIN),
    ]
}

fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32
}

/// An endpoint for DC [`DC_ID`] through the proxy at `proxy`; the DC's own address is a
/// port nobody listens on, so only the proxy can have been reached.
fn through(proxy: std::net::SocketAddr, secret: ProxySecret, kind: TransportKind) -> Endpoint {
    Endpoint::new(std::net::SocketAddr::from(([127, 0, 0, 1], 9)), DC_ID)
        .with_transport(kind)
        .with_proxy(Proxy::mtproxy(proxy, secret))
}

/// Accepts one connection on `listener` with `config`.
async fn accept_one(
    listener: &TcpListener,
    config: &AcceptConfig,
) -> Result<(PacketReader, PacketWriter, StreamInfo), NetError> {
    let (tcp, _) = listener.accept().await.unwrap();
    match accept(tcp, config).await? {
        Accepted::Packets {
            reader,
            writer,
            info,
        } => Ok((reader, writer, info)),
        Accepted::Http(..) => panic!("HTTP instead of packets"),
    }
}

#[tokio::test]
async fn every_secret_form_carries_packets_both_ways() {
    // Boxed: the exchanges keep several packet buffers alive across awaits.
    bounded(Box::pin(async {
        let (listener, addr) = listen().await;
        let config = AcceptConfig::default().with_secrets(secrets());
        // (secret, framing asked for, framing expected, secret index, carrier)
        let cases = [
            (
                ProxySecret::Plain(PLAIN),
                TransportKind::Abridged,
                TransportKind::Abridged,
                0,
            ),
            (
                ProxySecret::Plain(PLAIN),
                TransportKind::Intermediate,
                TransportKind::Intermediate,
                0,
            ),
            (
                ProxySecret::Padded(PADDED),
                TransportKind::Abridged,
                TransportKind::PaddedIntermediate,
                1,
            ),
            (
                ProxySecret::Padded(PADDED),
                TransportKind::Full,
                TransportKind::PaddedIntermediate,
                1,
            ),
            (
                fake_tls(TLS, DOMAIN),
                TransportKind::Intermediate,
                TransportKind::PaddedIntermediate,
                2,
            ),
            (
                fake_tls(TLS, DOMAIN),
                TransportKind::PaddedIntermediate,
                TransportKind::PaddedIntermediate,
                2,
            ),
        ];
        for (secret, asked, expected, index) in cases {
            let tls = matches!(secret, ProxySecret::FakeTls { .. });
            let endpoint = through(addr, secret, asked);
            assert_eq!(endpoint.effective_transport(), expected);
            let (server, client) = tokio::join!(accept_one(&listener, &config), connect(&endpoint));
            let (mut server_reader, mut server_writer, info) = server.unwrap();
            let (mut reader, mut writer) = client.unwrap();
            assert_eq!(info.kind, expected);
            assert!(info.obfuscated);
            assert_eq!(info.dc_id, Some(DC_ID));
            assert_eq!(info.secret_index, Some(index));
            let carrier = if tls {
                CarrierKind::FakeTls
            } else {
                CarrierKind::Tcp
            };
            assert_eq!(info.carrier, carrier);
            assert_eq!(writer.kind(), expected);

            let padding = if expected == TransportKind::PaddedIntermediate {
                15
            } else {
                0
            };
            // Past one record (16 KiB) and many records, both ways.
            for (i, size) in [8, 1000, 16_384, 16_388, 100_000, 1 << 20]
                .into_iter()
                .enumerate()
            {
                let sent = payload(size, i);
                let (sent_ok, received) =
                    tokio::join!(writer.send(&sent), expect_packet(&mut server_reader));
                sent_ok.unwrap();
                assert_payload(&received, &sent, padding);
                let (sent_ok, received) =
                    tokio::join!(server_writer.send(&sent), expect_packet(&mut reader));
                sent_ok.unwrap();
                assert_payload(&received, &sent, padding);
            }
        }
    }))
    .await;
}

#[tokio::test]
async fn clients_without_a_secret_still_served_unless_turned_off() {
    bounded(async {
        let (listener, addr) = listen().await;
        let config = AcceptConfig::default().with_secrets(secrets());
        for obfuscated in [false, true] {
            let endpoint = Endpoint::new(addr, DC_ID).with_obfuscation(obfuscated);
            let (server, client) = tokio::join!(accept_one(&listener, &config), connect(&endpoint));
            let (_, _, info) = server.unwrap();
            client.unwrap();
            assert_eq!(info.secret_index, None);
            assert_eq!(info.obfuscated, obfuscated);
        }
        let strict = config.with_allow_direct(false);
        for obfuscated in [false, true] {
            let endpoint = Endpoint::new(addr, DC_ID).with_obfuscation(obfuscated);
            let (server, client) = tokio::join!(accept_one(&listener, &strict), connect(&endpoint));
            client.unwrap();
            let error = server.unwrap_err();
            if obfuscated {
                assert!(matches!(
                    error,
                    NetError::Obfuscation(ObfuscationError::NoSecretMatched { tried: 2 })
                ));
            } else {
                assert!(matches!(
                    error,
                    NetError::Detect(DetectError::SecretRequired)
                ));
            }
        }
    })
    .await;
}

/// Connects through the proxy at `addr` with `secret` and returns how the server refused.
async fn refused(
    listener: &TcpListener,
    config: &AcceptConfig,
    secret: ProxySecret,
    kind: TransportKind,
) -> NetError {
    let endpoint = through(listener.local_addr().unwrap(), secret, kind);
    let client = async {
        // A refused fake-TLS client fails in connect; the others once they read.
        if let Ok((mut reader, _writer)) = connect(&endpoint).await {
            assert!(reader.recv().await.is_err());
        }
    };
    let (server, ()) = tokio::join!(accept_one(listener, config), client);
    server.expect_err("the proxy accepted a client it should refuse")
}

#[tokio::test]
async fn wrong_secrets_and_framings_refused() {
    bounded(async {
        let (listener, _) = listen().await;
        let config = AcceptConfig::default().with_secrets(secrets());
        let error = refused(
            &listener,
            &config,
            ProxySecret::Plain([9; 16]),
            TransportKind::Intermediate,
        )
        .await;
        assert!(matches!(
            error,
            NetError::Obfuscation(ObfuscationError::NoSecretMatched { tried: 2 })
        ));
        // The dd secret's key, but intermediate framing.
        let error = refused(
            &listener,
            &config,
            ProxySecret::Plain(PADDED),
            TransportKind::Intermediate,
        )
        .await;
        assert!(matches!(
            error,
            NetError::Detect(DetectError::PaddingRequired {
                kind: TransportKind::Intermediate
            })
        ));
        // An ee secret's key opens headers inside fake TLS only.
        let error = refused(
            &listener,
            &config,
            ProxySecret::Plain(TLS),
            TransportKind::Intermediate,
        )
        .await;
        assert!(matches!(
            error,
            NetError::Obfuscation(ObfuscationError::NoSecretMatched { .. })
        ));
        let error = refused(
            &listener,
            &config,
            fake_tls([9; 16], DOMAIN),
            TransportKind::Intermediate,
        )
        .await;
        assert!(matches!(
            error,
            NetError::FakeTls(FakeTlsError::NoSecretMatched { tried: 1 })
        ));
        let error = refused(
            &listener,
            &config,
            fake_tls(TLS, "other.example.com"),
            TransportKind::Intermediate,
        )
        .await;
        assert!(matches!(
            error,
            NetError::FakeTls(FakeTlsError::WrongDomain)
        ));
        // No ee secret configured: fake TLS is not served at all.
        let plain_only = AcceptConfig::default().with_secrets(vec![ProxySecret::Plain(PLAIN)]);
        let error = refused(
            &listener,
            &plain_only,
            fake_tls(TLS, DOMAIN),
            TransportKind::Intermediate,
        )
        .await;
        assert!(matches!(
            error,
            NetError::Detect(DetectError::FakeTlsUnsupported)
        ));
    })
    .await;
}

/// Sends `hello` on a raw connection; returns the server's error and the bytes it answered.
async fn raw_hello(
    listener: &TcpListener,
    config: &AcceptConfig,
    hello: Vec<u8>,
) -> (NetError, usize) {
    let addr = listener.local_addr().unwrap();
    let client = async move {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(&hello).await.unwrap();
        let mut answer = Vec::new();
        let _ = tcp.read_to_end(&mut answer).await;
        answer.len()
    };
    let (server, answered) = tokio::join!(accept_one(listener, config), client);
    (server.expect_err("accepted a bad ClientHello"), answered)
}

#[tokio::test]
async fn tampered_and_stale_client_hellos_refused_without_an_answer() {
    bounded(async {
        let (listener, _) = listen().await;
        let config = AcceptConfig::default().with_secrets(secrets());
        let mut tampered = ClientHello::new(&TLS, DOMAIN, now(), &mut rng())
            .unwrap()
            .bytes;
        tampered[50] ^= 0x80; // inside the session id, covered by the digest
        let (error, answered) = raw_hello(&listener, &config, tampered).await;
        assert!(matches!(
            error,
            NetError::FakeTls(FakeTlsError::NoSecretMatched { tried: 1 })
        ));
        assert_eq!(answered, 0);

        for skew in [-600i64, -121, 121, 3600] {
            let stamped = (i64::from(now()) + skew) as u32;
            let stale = ClientHello::new(&TLS, DOMAIN, stamped, &mut rng())
                .unwrap()
                .bytes;
            let (error, answered) = raw_hello(&listener, &config, stale).await;
            assert!(
                matches!(
                    error,
                    NetError::FakeTls(FakeTlsError::ClockSkew { window: 120, .. })
                ),
                "skew {skew}: {error:?}"
            );
            assert_eq!(answered, 0);
        }
    })
    .await;
}

#[tokio::test]
async fn client_refuses_an_answer_without_the_secrets_digest() {
    bounded(async {
        let (listener, addr) = listen().await;
        // A server that checks the hello with the right key but answers with another.
        let impostor = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            // The record header, then as much as it announces.
            let mut hello = vec![0; 5];
            tcp.read_exact(&mut hello).await.unwrap();
            let len = 5 + usize::from(u16::from_be_bytes([hello[3], hello[4]]));
            hello.resize(len, 0);
            tcp.read_exact(&mut hello[5..]).await.unwrap();
            assert_eq!(
                client_hello_len(&hello),
                Ok(mtproto::transport::fake_tls::Progress::Complete { len })
            );
            let accepted = check_client_hello(&hello, &secrets(), now(), 120).unwrap();
            let answer = server_hello(&[0x44; 16], &accepted, &mut rng()).unwrap();
            tcp.write_all(&answer).await.unwrap();
            let mut rest = Vec::new();
            let _ = tcp.read_to_end(&mut rest).await;
            rest.len()
        });
        let endpoint = through(addr, fake_tls(TLS, DOMAIN), TransportKind::Intermediate);
        let error = connect(&endpoint).await.unwrap_err();
        assert!(
            matches!(error, NetError::FakeTls(FakeTlsError::BadServerDigest)),
            "{error:?}"
        );
        // Nothing (not even the obfuscation header) went out after the bad answer.
        assert_eq!(impostor.await.unwrap(), 0);
    })
    .await;
}

#[test]
fn mtproxy_endpoints_validated() {
    let proxy = Proxy::mtproxy(
        std::net::SocketAddr::from(([127, 0, 0, 1], 443)),
        ProxySecret::Plain(PLAIN),
    );
    let endpoint =
        Endpoint::new(std::net::SocketAddr::from(([127, 0, 0, 1], 1)), 2).with_proxy(proxy.clone());
    assert!(endpoint.is_obfuscated() && endpoint.validate().is_ok());
    assert!(
        endpoint
            .clone()
            .with_transport(TransportKind::Full)
            .validate()
            .is_err()
    );
    assert!(
        endpoint
            .clone()
            .with_carrier(mtnet::Carrier::websocket())
            .validate()
            .is_err()
    );
    let padded = endpoint
        .with_transport(TransportKind::Full)
        .with_proxy(Proxy::mtproxy(
            std::net::SocketAddr::from(([127, 0, 0, 1], 443)),
            ProxySecret::Padded(PADDED),
        ));
    assert!(padded.validate().is_ok());
    assert_eq!(
        padded.effective_transport(),
        TransportKind::PaddedIntermediate
    );
    // The secret stays out of Debug output.
    assert!(!format!("{proxy:?}").contains("17"));
}
