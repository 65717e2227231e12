//! mtnet's sender against a running localdc: the transport matrix (TCP, obfuscated TCP,
//! WebSocket, SOCKS5, HTTP; MTProxy has its own tests in `mtproxy.rs`), many concurrent calls on
//! one connection, a connection that keeps dropping, and falling back past a refused port.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common;

use common::with_init;
use localdc::{Config, RunningServer, Server};
use mtcrypto::RsaPublicKey;
use mtnet::{Carrier, Endpoint, InvokeError, Proxy, Sender, SenderConfig, Socks5Proxy};
use mtproto::transport::TransportKind;
use tl_types::api::{enums, functions, types};

const TEST_TIME: Duration = Duration::from_mins(2);

async fn start() -> (RunningServer, RsaPublicKey) {
    let server = Server::start(Config::default()).await.unwrap();
    let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
    (server, key)
}

fn config(endpoints: Vec<Endpoint>, key: &RsaPublicKey) -> SenderConfig {
    let mut config = SenderConfig::new(endpoints, 2, vec![key.clone()]);
    config.request_timeout = Duration::from_secs(30);
    config.backoff.initial = Duration::from_millis(20);
    config.backoff.max = Duration::from_millis(200);
    config
}

async fn get_config(sender: &Sender) -> types::Config {
    let body = sender
        .invoke_raw(
            with_init(tl_types::Serialize::to_bytes(
                &functions::help::GetConfig {},
            )),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    let enums::Config::Config(config) =
        <enums::Config as tl_types::Deserialize>::from_bytes(&body).unwrap();
    *config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_framing_over_tcp_websocket_socks5_and_http() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, key) = start().await;
        let addr = server.addr(2).unwrap();
        let socks = start_socks5().await;
        let mut endpoints = Vec::new();
        for kind in TransportKind::ALL {
            endpoints.push(Endpoint::new(addr, 2).with_transport(kind));
            if kind != TransportKind::Full {
                endpoints.push(
                    Endpoint::new(addr, 2)
                        .with_transport(kind)
                        .with_obfuscation(true),
                );
                endpoints.push(
                    Endpoint::new(addr, 2)
                        .with_transport(kind)
                        .with_carrier(Carrier::websocket()),
                );
            }
            endpoints.push(
                Endpoint::new(addr, 2)
                    .with_transport(kind)
                    .with_proxy(Proxy::Socks5(Socks5Proxy::new(socks))),
            );
        }
        // HTTP carries bare packets: no framing to choose, no obfuscation.
        endpoints.push(Endpoint::new(addr, 2).with_carrier(Carrier::http()));
        for endpoint in endpoints {
            let description = format!("{endpoint:?}");
            let (sender, _updates) = Sender::start(config(vec![endpoint], &key), None)
                .await
                .unwrap();
            let config = get_config(&sender).await;
            assert_eq!(config.this_dc, 2, "{description}");
            let nearest = sender
                .invoke(&functions::help::GetNearestDc {})
                .await
                .unwrap();
            let enums::NearestDc::NearestDc(nearest) = nearest;
            assert_eq!(nearest.this_dc, 2);
            sender.shutdown().await;
        }
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

/// A SOCKS5 server in this process, on loopback, without authentication, CONNECT only.
async fn start_socks5() -> SocketAddr {
    use fast_socks5::server::{DnsResolveHelper as _, Socks5ServerProtocol, run_tcp_proxy};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let proxy = async {
                    let proto = Socks5ServerProtocol::accept_no_auth(stream).await?;
                    let (proto, _command, target) =
                        proto.read_command().await?.resolve_dns().await?;
                    run_tcp_proxy(proto, &target, Duration::from_secs(10), true).await?;
                    Ok::<_, fast_socks5::server::SocksServerError>(())
                };
                let _ = proxy.await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_on_one_connection() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, key) = start().await;
        let endpoint =
            Endpoint::new(server.addr(2).unwrap(), 2).with_transport(TransportKind::Abridged);
        let (sender, _updates) = Sender::start(config(vec![endpoint], &key), None)
            .await
            .unwrap();
        get_config(&sender).await;
        let started = Instant::now();
        let calls: Vec<_> = (0..1000)
            .map(|i| {
                let sender = sender.clone();
                tokio::spawn(async move {
                    // Alternate two methods so that a mixed-up answer would not parse or match.
                    if i % 2 == 0 {
                        let enums::NearestDc::NearestDc(n) = sender
                            .invoke(&functions::help::GetNearestDc {})
                            .await
                            .unwrap();
                        assert_eq!(n.nearest_dc, 2);
                    } else {
                        let enums::Config::Config(c) =
                            sender.invoke(&functions::help::GetConfig {}).await.unwrap();
                        assert_eq!(c.this_dc, 2);
                    }
                })
            })
            .collect();
        for call in calls {
            call.await.unwrap();
        }
        let status = sender.status();
        assert_eq!(status.connections, 1, "all on one connection");
        println!("1000 concurrent calls in {:?}", started.elapsed());
        sender.shutdown().await;
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_survive_a_connection_that_keeps_dropping() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, key) = start().await;
        let dc = server.dc(2).unwrap();
        let endpoint = Endpoint::new(dc.addr(), 2).with_transport(TransportKind::Intermediate);
        let (sender, _updates) = Sender::start(config(vec![endpoint], &key), None)
            .await
            .unwrap();
        get_config(&sender).await;
        // From now on every connection is cut after two packets from the server. The calls
        // go in waves, each needing at least one packet, so connections keep dying under
        // requests in flight.
        dc.faults().set_drop_after_messages(Some(2));
        let mut answered = 0;
        for _wave in 0..10 {
            let calls: Vec<_> = (0..30)
                .map(|_| {
                    let sender = sender.clone();
                    tokio::spawn(
                        async move { sender.invoke(&functions::help::GetNearestDc {}).await },
                    )
                })
                .collect();
            for call in calls {
                let enums::NearestDc::NearestDc(nearest) = call.await.unwrap().unwrap();
                assert_eq!(nearest.this_dc, 2);
                answered += 1;
            }
        }
        assert_eq!(answered, 300);
        let status = sender.status();
        assert!(
            status.connections >= 5,
            "only {} connections",
            status.connections
        );
        dc.faults().set_drop_after_messages(None);
        sender.shutdown().await;
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_port_falls_back_to_the_next_transport() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, key) = start().await;
        let addr = server.addr(2).unwrap();
        // A port nothing listens on: bind, note it, close.
        let refused = {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap()
        };
        let endpoints = vec![
            Endpoint::new(refused, 2)
                .with_transport(TransportKind::Abridged)
                .with_obfuscation(true),
            Endpoint::new(addr, 2)
                .with_transport(TransportKind::Intermediate)
                .with_carrier(Carrier::websocket()),
        ];
        let (sender, _updates) = Sender::start(config(endpoints, &key), None).await.unwrap();
        assert_eq!(get_config(&sender).await.this_dc, 2);
        assert_eq!(
            sender.status().endpoint,
            Some(1),
            "the WebSocket endpoint carried the call"
        );
        sender.shutdown().await;

        // The server's port itself refuses: the sender reconnects elsewhere by itself.
        let dc = server.dc(2).unwrap();
        let endpoints = vec![
            Endpoint::new(addr, 2).with_transport(TransportKind::Full),
            Endpoint::new(server.addr(3).unwrap(), 2).with_transport(TransportKind::Intermediate),
        ];
        let (sender, _updates) = Sender::start(config(endpoints, &key), None).await.unwrap();
        assert_eq!(sender.status().endpoint, Some(0));
        dc.faults().set_refuse_connections(true);
        dc.faults().disconnect_all();
        // DC 3 does not know the key made on DC 2: the sender must report that, not hang.
        let result = sender.invoke(&functions::help::GetNearestDc {}).await;
        assert!(
            matches!(result, Err(InvokeError::AuthKeyUnknown)),
            "{result:?}"
        );
        dc.faults().set_refuse_connections(false);
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_key_is_reported() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, key) = start().await;
        let dc = server.dc(2).unwrap();
        let endpoint = Endpoint::new(dc.addr(), 2);
        let (sender, _updates) = Sender::start(config(vec![endpoint], &key), None)
            .await
            .unwrap();
        get_config(&sender).await;
        dc.keys().forget_all();
        dc.faults().disconnect_all();
        let result = sender.invoke(&functions::help::GetNearestDc {}).await;
        assert!(
            matches!(result, Err(InvokeError::AuthKeyUnknown)),
            "{result:?}"
        );
        // And so does every call after it: the sender has stopped for good.
        let after = sender.invoke(&functions::help::GetNearestDc {}).await;
        assert!(
            matches!(after, Err(InvokeError::AuthKeyUnknown)),
            "{after:?}"
        );
        assert!(sender.status().key_lost);
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

/// A server that does not take `http_wait` (it answers it at once with an error, as an
/// independent server did): calls over HTTP are still answered. That the long polls then
/// back off instead of going again at network speed is the sender's paused-time test
/// (`over_http_refused_long_polls_back_off` in mtnet).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_calls_are_answered_when_the_server_refuses_http_wait() {
    tokio::time::timeout(TEST_TIME, async {
        let mut config = Config::default();
        config.faults.quirks = localdc::quirks::Quirks::default().refusing_http_wait();
        let server = Server::start(config).await.unwrap();
        let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
        let endpoint = Endpoint::new(server.addr(2).unwrap(), 2).with_carrier(Carrier::http());
        let (sender, _updates) = Sender::start(self::config(vec![endpoint], &key), None)
            .await
            .unwrap();
        assert_eq!(get_config(&sender).await.this_dc, 2);
        let faults = server.dc(2).unwrap().faults();
        let before = faults.refused_http_waits();
        assert_eq!(get_config(&sender).await.this_dc, 2);
        assert!(
            faults.refused_http_waits() > before,
            "no http_wait was refused"
        );
        sender.shutdown().await;
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}
