//! WAN emulation through real connections: which frames the server held back (RTT and
//! bandwidth), whose bucket they were charged to, random drops, on every transport. How
//! long a frame is held is the shaper's arithmetic, tested with explicit instants in
//! `src/wan`; nothing here times anything.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashSet;
use std::time::Duration;

use crate::common;

use common::{Client, Received, with_init};
use localdc::wan::{Account, DropRate, Wan, WanCounts, WanProfile, WanSettings};
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

/// Pulls `parts` answers of [`PART`] bytes over `client`.
async fn pull(client: &mut Client, parts: usize) {
    let sizes = call_all(client, (0..parts).map(|_| blob(PART)).collect()).await;
    assert!(sizes.iter().all(|size| *size == PART as usize), "{sizes:?}");
}

/// What `wan` counted from `before` until now.
fn since(wan: &Wan, before: WanCounts) -> WanCounts {
    let now = wan.counts();
    WanCounts {
        delayed_frames: now.delayed_frames - before.delayed_frames,
        delayed_bytes: now.delayed_bytes - before.delayed_bytes,
    }
}

/// Once the settings are back to lan: round trips until one went through no delay line
/// (frames queued before the change leave first, and later ones queue behind them); from
/// then on nothing is delayed.
async fn drain(client: &mut Client, wan: &Wan) {
    for round in 0..100 {
        let before = wan.counts();
        call_all(client, vec![ping(10_000 + round)]).await;
        if since(wan, before).delayed_frames == 0 {
            return;
        }
    }
    panic!("the delay line never drained");
}

async fn timed<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(TEST_TIME, test)
        .await
        .expect("test timed out")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtt_holds_every_answer_until_set_back_to_lan() {
    timed(Box::pin(async {
        let (server, key) = start(WanProfile::Wan.settings()).await;
        let wan = server.dc(2).unwrap().faults().wan();
        let mut client = open(&server, &key, 2).await;
        call_all(&mut client, vec![ping(0)]).await;

        for round in 1..=3 {
            let before = wan.counts();
            call_all(&mut client, vec![ping(round)]).await;
            assert!(since(wan, before).delayed_frames >= 1, "round {round}");
        }
        // Twenty pings at once: every answer comes, through the delay line.
        let before = wan.counts();
        let sizes = call_all(&mut client, (100..120).map(ping).collect()).await;
        assert_eq!(sizes.len(), 20);
        assert!(since(wan, before).delayed_frames >= 1);
        // Another DC's knobs are its own.
        let other = server.dc(3).unwrap().faults().wan();
        assert_eq!(other.counts(), WanCounts::default());

        // Back to lan while running: once the line is empty, frames are written as they
        // come.
        wan.set_profile(WanProfile::Lan);
        drain(&mut client, wan).await;
        let before = wan.counts();
        pull(&mut client, 16).await;
        assert_eq!(since(wan, before), WanCounts::default());
        server.shutdown().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_rate_holds_its_frames_until_turned_off() {
    timed(Box::pin(async {
        let (server, key) = start(WanSettings {
            conn_rate: Some(8 * MIB),
            ..WanSettings::default()
        })
        .await;
        let wan = server.dc(2).unwrap().faults().wan();
        let mut client = open(&server, &key, 2).await;
        call_all(&mut client, vec![ping(0)]).await;

        // 4 MiB at 8 MiB/s: every byte goes through the bucket.
        let before = wan.counts();
        pull(&mut client, 16).await;
        assert!(since(wan, before).delayed_bytes >= 16 * u64::from(PART));

        // Unshaped while running: the same bytes are written as they come.
        wan.set_conn_rate(None);
        drain(&mut client, wan).await;
        let before = wan.counts();
        pull(&mut client, 16).await;
        assert_eq!(since(wan, before), WanCounts::default());

        // A frame larger than the burst still goes through, whole.
        wan.set_conn_rate(Some(4 * MIB));
        wan.set_burst(64 << 10);
        let before = wan.counts();
        let sizes = call_all(&mut client, vec![blob(1 << 20)]).await;
        assert_eq!(sizes, [1 << 20]);
        assert!(since(wan, before).delayed_bytes >= MIB);
        server.shutdown().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_of_one_account_charge_its_bucket() {
    timed(Box::pin(async {
        let (server, key) = start(WanSettings {
            conn_rate: Some(8 * MIB),
            account_rate: Some(6 * MIB),
            ..WanSettings::default()
        })
        .await;
        let addr = server.addr(2).unwrap();
        // Two keys, one user: the user's bucket takes the bytes of both.
        let wan = server.dc(2).unwrap().faults().wan();
        wan.set_account_resolver(|_key| Some(42));
        let open_keyed = || Client::open(addr, &key, 2, TransportKind::Intermediate, false);
        let (mut first, first_key) = open_keyed().await;
        let (mut second, second_key) = open_keyed().await;
        let keys = [first_key, second_key].map(|keyed| Account::Key(keyed.auth_key.key_id()));
        call_all(&mut first, vec![ping(0)]).await;
        call_all(&mut second, vec![ping(0)]).await;
        let before = wan.account_bytes(Account::User(42));
        tokio::join!(pull(&mut first, 8), pull(&mut second, 8));
        assert!(wan.account_bytes(Account::User(42)) - before >= 16 * u64::from(PART));
        assert_eq!(keys.map(|key| wan.account_bytes(key)), [0, 0]);

        // Each key its own account. A connection asks the resolver again after a while:
        // small calls until both connections charge their key's bucket.
        wan.clear_account_resolver();
        let mut attempts = 0;
        while keys.iter().any(|key| wan.account_bytes(*key) == 0) {
            attempts += 1;
            assert!(attempts < 500, "the accounts were never looked up again");
            call_all(&mut first, vec![ping(attempts)]).await;
            call_all(&mut second, vec![ping(attempts)]).await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let before = keys.map(|key| wan.account_bytes(key));
        tokio::join!(pull(&mut first, 8), pull(&mut second, 8));
        for (key, before) in keys.iter().zip(before) {
            assert!(wan.account_bytes(*key) - before >= 8 * u64::from(PART));
        }
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

        // About five drops a second per connection, turned on while they sit idle: each
        // connection ends (the test's time limit bounds the wait).
        server
            .dc(2)
            .unwrap()
            .faults()
            .wan()
            .set_drop_rate(DropRate::per_second(5.0).unwrap());
        let mut closed = HashSet::new();
        for (index, client) in dropped.iter_mut().enumerate() {
            // Whatever the server still had to say, then the end.
            while client.conn.recv().await != Received::Closed {}
            closed.insert(index);
        }
        assert_eq!(closed.len(), 4);

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
        for round in 2..10 {
            call_all(&mut fresh, vec![ping(round)]).await;
        }
        server.shutdown().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transport_goes_through_the_delay_line() {
    timed(Box::pin(async {
        let (server, key) = start(WanSettings {
            rtt: Duration::from_millis(20),
            ..WanSettings::default()
        })
        .await;
        let wan = server.dc(2).unwrap().faults().wan();
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
            let before = wan.counts();
            sender
                .invoke(&functions::help::GetNearestDc {})
                .await
                .unwrap();
            assert!(since(wan, before).delayed_frames >= 1, "{description}");
            sender.shutdown().await;
        }
        server.shutdown().await;
    }))
    .await;
}
