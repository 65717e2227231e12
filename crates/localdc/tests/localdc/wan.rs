//! WAN emulation, measured from the client's side: added RTT (without serializing frames),
//! per-connection and per-account bandwidth, random drops, on every transport.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::common;

use common::{Client, Received, with_init};
use localdc::wan::{DropRate, WanProfile, WanSettings};
use localdc::{Config, Registry, RunningServer, Server};
use mtcrypto::RsaPublicKey;
use mtnet::{Carrier, Endpoint, Sender, SenderConfig};
use mtproto::session::ClientEvent;
use mtproto::transport::TransportKind;
use rand::RngCore;
use tl_types::Serialize;
use tl_types::api::functions;

/// Every test ends within this, or fails.
const TEST_TIME: Duration = Duration::from_secs(30);
/// A test-only method: `blob#57414e01 len:int = bytes of len random bytes`.
const BLOB: u32 = 0x5741_4e01;
/// Answer size used to push bulk data.
const PART: u32 = 256 << 10;
const MIB: u64 = 1 << 20;

fn registry() -> Registry {
    let mut registry = Registry::with_defaults();
    registry.register_sync(BLOB, "test.blob", |_ctx, body| {
        let len = body
            .get(4..8)
            .map_or(0, |len| u32::from_le_bytes(len.try_into().unwrap()));
        // Random, so that gzip cannot shrink it on the wire.
        let mut answer = vec![0u8; len.clamp(4, 1 << 20) as usize & !3];
        rand::thread_rng().fill_bytes(&mut answer);
        Ok(answer)
    });
    registry
}

fn blob(len: u32) -> Vec<u8> {
    let mut body = BLOB.to_le_bytes().to_vec();
    body.extend_from_slice(&len.to_le_bytes());
    body
}

fn ping(id: i64) -> Vec<u8> {
    tl_types::mtproto::functions::Ping { ping_id: id }.to_bytes()
}

async fn start(wan: WanSettings) -> (RunningServer, RsaPublicKey) {
    let config = Config {
        dcs: 3,
        ..Config::default()
    }
    .with_wan(wan);
    let server = Server::start_with(config, registry()).await.unwrap();
    let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
    (server, key)
}

async fn open(server: &RunningServer, key: &RsaPublicKey, dc: i32) -> Client {
    let (client, _) = Client::open(
        server.addr(dc).unwrap(),
        key,
        dc,
        TransportKind::Intermediate,
        false,
    )
    .await;
    client
}

/// Sends every request at once and waits for all the answers: their sizes, by request.
async fn call_all(client: &mut Client, bodies: Vec<Vec<u8>>) -> Vec<usize> {
    let ids: Vec<_> = bodies
        .into_iter()
        .map(|body| client.session.push_request(body).unwrap())
        .collect();
    client.flush().await;
    let mut sizes = vec![None; ids.len()];
    while sizes.iter().any(Option::is_none) {
        let mut packet = match client.conn.recv().await {
            Received::Packet(packet) => packet,
            Received::QuickAck(_) => continue,
            other => panic!("connection ended while waiting for answers: {other:?}"),
        };
        let events = client
            .session
            .handle_packet(&mut packet, common::now())
            .unwrap();
        client.flush().await;
        for event in events {
            if let ClientEvent::Response { id, result } = event
                && let Some(index) = ids.iter().position(|asked| *asked == id)
            {
                sizes[index] = Some(result.expect("the call failed").len());
            }
        }
    }
    sizes.into_iter().map(Option::unwrap).collect()
}

/// Pulls `parts` answers of [`PART`] bytes over `client`; how long it took.
async fn pull(client: &mut Client, parts: usize) -> Duration {
    let started = Instant::now();
    let sizes = call_all(client, (0..parts).map(|_| blob(PART)).collect()).await;
    let elapsed = started.elapsed();
    assert!(sizes.iter().all(|size| *size == PART as usize), "{sizes:?}");
    elapsed
}

async fn timed<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(TEST_TIME, test)
        .await
        .expect("test timed out")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtt_delays_each_answer_without_serializing_them() {
    timed(Box::pin(async {
        let (server, key) = start(WanProfile::Wan.settings()).await;
        let mut client = open(&server, &key, 2).await;
        // The first answer may ride with the session's service messages.
        call_all(&mut client, vec![ping(0)]).await;

        for round in 1..=3 {
            let started = Instant::now();
            call_all(&mut client, vec![ping(round)]).await;
            let rtt = started.elapsed();
            assert!(rtt >= Duration::from_millis(100), "round trip {rtt:?}");
            assert!(rtt < Duration::from_millis(250), "round trip {rtt:?}");
        }

        // Twenty pings at once: one RTT for all, not twenty.
        let started = Instant::now();
        let sizes = call_all(&mut client, (100..120).map(ping).collect()).await;
        let elapsed = started.elapsed();
        assert_eq!(sizes.len(), 20);
        assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(300), "{elapsed:?}");

        // Back to lan while running: the delay goes.
        server
            .dc(2)
            .unwrap()
            .faults()
            .wan()
            .set_profile(WanProfile::Lan);
        let started = Instant::now();
        call_all(&mut client, vec![ping(1000)]).await;
        assert!(started.elapsed() < Duration::from_millis(60));
        server.shutdown().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_is_held_to_its_rate() {
    timed(Box::pin(async {
        let (server, key) = start(WanSettings {
            conn_rate: Some(8 * MIB),
            ..WanSettings::default()
        })
        .await;
        let mut client = open(&server, &key, 2).await;
        call_all(&mut client, vec![ping(0)]).await;

        // 4 MiB at 8 MiB/s: half a second (less the 128 KiB burst).
        let elapsed = pull(&mut client, 16).await;
        assert!(
            elapsed >= Duration::from_millis(400) && elapsed <= Duration::from_secs(1),
            "4 MiB at 8 MiB/s took {elapsed:?}"
        );

        // Unshaped while running: the same bytes are much faster.
        server.dc(2).unwrap().faults().wan().set_conn_rate(None);
        let elapsed = pull(&mut client, 16).await;
        assert!(
            elapsed < Duration::from_millis(300),
            "4 MiB unshaped took {elapsed:?}"
        );

        // A frame larger than the burst still goes through.
        let wan = server.dc(2).unwrap().faults().wan();
        wan.set_conn_rate(Some(4 * MIB));
        wan.set_burst(64 << 10);
        let started = Instant::now();
        let sizes = call_all(&mut client, vec![blob(1 << 20)]).await;
        assert_eq!(sizes, [1 << 20]);
        let elapsed = started.elapsed();
        // (1 MiB - 64 KiB) at 4 MiB/s.
        assert!(
            elapsed >= Duration::from_millis(200) && elapsed < Duration::from_millis(600),
            "1 MiB at 4 MiB/s took {elapsed:?}"
        );
        server.shutdown().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_of_one_account_share_its_rate() {
    timed(Box::pin(async {
        let (server, key) = start(WanSettings {
            conn_rate: Some(8 * MIB),
            account_rate: Some(6 * MIB),
            ..WanSettings::default()
        })
        .await;
        // Two keys, one user: 4 MiB in all at the account's 6 MiB/s (each connection
        // alone could take 8).
        let wan = server.dc(2).unwrap().faults().wan();
        wan.set_account_resolver(|_key| Some(42));
        let mut first = open(&server, &key, 2).await;
        let mut second = open(&server, &key, 2).await;
        call_all(&mut first, vec![ping(0)]).await;
        call_all(&mut second, vec![ping(0)]).await;
        let started = Instant::now();
        let (a, b) = tokio::join!(pull(&mut first, 8), pull(&mut second, 8));
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(550) && elapsed <= Duration::from_millis(1300),
            "4 MiB for one account at 6 MiB/s took {elapsed:?} ({a:?}, {b:?})"
        );

        // Each key its own account: each connection gets 6 MiB/s.
        wan.clear_account_resolver();
        // The account of a key is looked up again within 250 ms.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let (a, b) = tokio::join!(pull(&mut first, 8), pull(&mut second, 8));
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_millis(500),
            "2 MiB per account at 6 MiB/s took {elapsed:?} ({a:?}, {b:?})"
        );
        server.shutdown().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_drops_close_connections() {
    timed(Box::pin(async {
        let (server, key) = start(WanSettings::default()).await;
        let mut dropped = Vec::new();
        for _ in 0..4 {
            dropped.push(open(&server, &key, 2).await);
        }
        let mut spared = open(&server, &key, 3).await;
        for client in &mut dropped {
            call_all(client, vec![ping(0)]).await;
        }

        // About five drops a second per connection, turned on while they sit idle.
        server
            .dc(2)
            .unwrap()
            .faults()
            .wan()
            .set_drop_rate(DropRate::per_second(5.0).unwrap());
        let started = Instant::now();
        let mut closed = HashSet::new();
        for (index, client) in dropped.iter_mut().enumerate() {
            let until_closed = async {
                // Whatever the server still had to say, then the end.
                while client.conn.recv().await != Received::Closed {}
            };
            tokio::time::timeout(Duration::from_secs(3), until_closed)
                .await
                .unwrap_or_else(|_| panic!("connection {index} was not dropped"));
            closed.insert(index);
        }
        assert_eq!(closed.len(), 4);
        assert!(started.elapsed() < Duration::from_secs(3));

        // Another DC's knobs are its own.
        call_all(&mut spared, vec![ping(1)]).await;

        // Once off, new connections live.
        server
            .dc(2)
            .unwrap()
            .faults()
            .wan()
            .set_drop_rate(DropRate::NEVER);
        let mut fresh = open(&server, &key, 2).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        call_all(&mut fresh, vec![ping(2)]).await;
        server.shutdown().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transport_is_delayed() {
    timed(Box::pin(async {
        let rtt = Duration::from_millis(80);
        let (server, key) = start(WanSettings {
            rtt,
            ..WanSettings::default()
        })
        .await;
        let addr = server.addr(2).unwrap();
        let endpoints = [
            Endpoint::new(addr, 2).with_transport(TransportKind::Abridged),
            Endpoint::new(addr, 2)
                .with_transport(TransportKind::PaddedIntermediate)
                .with_obfuscation(true),
            Endpoint::new(addr, 2)
                .with_transport(TransportKind::Intermediate)
                .with_carrier(Carrier::websocket()),
            Endpoint::new(addr, 2).with_carrier(Carrier::http()),
        ];
        for endpoint in endpoints {
            let description = format!("{endpoint:?}");
            let config = SenderConfig::new(vec![endpoint], 2, vec![key.clone()]);
            let (sender, _updates) = Sender::start(config, None).await.unwrap();
            sender
                .invoke_raw(
                    with_init(functions::help::GetNearestDc {}.to_bytes()),
                    Duration::from_secs(10),
                )
                .await
                .unwrap();
            let started = Instant::now();
            sender
                .invoke(&functions::help::GetNearestDc {})
                .await
                .unwrap();
            let elapsed = started.elapsed();
            assert!(elapsed >= rtt, "{description}: {elapsed:?}");
            assert!(elapsed < rtt * 4, "{description}: {elapsed:?}");
            sender.shutdown().await;
        }
        server.shutdown().await;
    }))
    .await;
}
