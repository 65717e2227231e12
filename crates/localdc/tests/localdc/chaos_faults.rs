//! The chaos knobs against mtnet's sender: stalls, cut frames, resets, salt rotation,
//! bad_msg storms, clock skew, forgotten keys, DPI blocks, the MTProxy front going down, the
//! state dir across a restart, and the control port.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common;

use common::with_init;
use localdc::control::Control;
use localdc::world::{Fixture, World, mint_session};
use localdc::{Block, Config, Registry, RunningServer, Server, TransportClass};
use mtcrypto::{AuthKey, RsaPublicKey};
use mtnet::{AuthState, Carrier, Endpoint, InvokeError, Sender, SenderConfig};
use mtproto::handshake::{ClientHandshake, ClientStep};
use mtproto::transport::TransportKind;
use tl_types::Serialize;
use tl_types::api::{enums, functions};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Every test ends within this, or fails.
const TEST_TIME: Duration = Duration::from_secs(20);
/// A test-only method: `count#43484153 id:int = int`, counted per id.
const COUNT: u32 = 0x4348_4153;

type Counts = Arc<Mutex<HashMap<u32, u32>>>;

fn counting_registry() -> (Registry, Counts) {
    let counts: Counts = Arc::default();
    let mut registry = Registry::with_defaults();
    let seen = Arc::clone(&counts);
    registry.register_sync(COUNT, "test.count", move |_ctx, body| {
        let id = u32::from_le_bytes(body[4..8].try_into().unwrap());
        *seen.lock().unwrap().entry(id).or_default() += 1;
        // boolTrue
        Ok(0x9972_75b5_u32.to_le_bytes().to_vec())
    });
    (registry, counts)
}

fn count(id: u32) -> Vec<u8> {
    let mut body = COUNT.to_le_bytes().to_vec();
    body.extend_from_slice(&id.to_le_bytes());
    body
}

async fn start_with(registry: Registry) -> (RunningServer, RsaPublicKey) {
    let server = Server::start_with(Config::default(), registry)
        .await
        .unwrap();
    let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
    (server, key)
}

async fn start() -> (RunningServer, RsaPublicKey) {
    start_with(Registry::with_defaults()).await
}

/// A sender config with short timers, so that stalls are noticed within a second.
fn config(endpoints: Vec<Endpoint>, key: &RsaPublicKey) -> SenderConfig {
    let mut config = SenderConfig::new(endpoints, 2, vec![key.clone()]);
    config.request_timeout = Duration::from_secs(15);
    config.ping_interval = Duration::from_millis(300);
    config.pong_timeout = Duration::from_millis(800);
    config.handshake_timeout = Duration::from_secs(1);
    config.backoff.initial = Duration::from_millis(20);
    config.backoff.max = Duration::from_millis(200);
    config
}

async fn sender_on(server: &RunningServer, key: &RsaPublicKey, kind: TransportKind) -> Sender {
    let endpoint = Endpoint::new(server.addr(2).unwrap(), 2).with_transport(kind);
    let (sender, _updates) = Sender::start(config(vec![endpoint], key), None)
        .await
        .unwrap();
    assert_eq!(this_dc(&sender).await, 2);
    sender
}

async fn this_dc(sender: &Sender) -> i32 {
    let body = sender
        .invoke_raw(
            with_init(functions::help::GetConfig {}.to_bytes()),
            Duration::from_secs(15),
        )
        .await
        .unwrap();
    let enums::Config::Config(config) =
        <enums::Config as tl_types::Deserialize>::from_bytes(&body).unwrap();
    config.this_dc
}

async fn nearest(sender: &Sender) -> Result<i32, InvokeError> {
    let enums::NearestDc::NearestDc(nearest) =
        sender.invoke(&functions::help::GetNearestDc {}).await?;
    Ok(nearest.this_dc)
}

async fn run<F: Future<Output = ()>>(test: F) {
    tokio::time::timeout(TEST_TIME, test)
        .await
        .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_is_noticed_by_the_missing_pongs() {
    run(async {
        let (server, key) = start().await;
        let sender = sender_on(&server, &key, TransportKind::Intermediate).await;
        let faults = server.dc(2).unwrap().faults();
        faults.set_stall(true);
        let call = tokio::spawn({
            let sender = sender.clone();
            async move { nearest(&sender).await }
        });
        // Pings every 300 ms, 800 ms to answer: the sender gives up on the stalled
        // connection for another, and nothing is answered meanwhile.
        let mut looks = 0;
        while sender.status().connections < 2 {
            looks += 1;
            assert!(looks < 500, "the stalled connections were kept");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!call.is_finished(), "nothing can be answered while stalled");
        faults.set_stall(false);
        assert_eq!(call.await.unwrap().unwrap(), 2);
        assert_eq!(nearest(&sender).await.unwrap(), 2);
        sender.shutdown().await;
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_frames_and_resets_are_survived() {
    run(async {
        let (server, key) = start().await;
        let faults = server.dc(2).unwrap().faults();
        for kind in [TransportKind::Abridged, TransportKind::Full] {
            let sender = sender_on(&server, &key, kind).await;
            let before = sender.status().connections;
            faults.drop_mid_frame_once();
            assert_eq!(nearest(&sender).await.unwrap(), 2);
            assert!(
                sender.status().connections > before,
                "{kind:?}: not reconnected"
            );
            let before = sender.status().connections;
            faults.reset_all();
            assert_eq!(nearest(&sender).await.unwrap(), 2);
            assert!(sender.status().connections > before, "{kind:?}: not reset");
            // New connections are not cut.
            let before = sender.status().connections;
            for _ in 0..5 {
                assert_eq!(nearest(&sender).await.unwrap(), 2);
            }
            assert_eq!(sender.status().connections, before);
            sender.shutdown().await;
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_frame_is_a_partial_frame_then_a_close() {
    run(async {
        let (server, key) = start().await;
        let addr = server.addr(2).unwrap();
        // The handshake's first round trip by hand: the server's writer is up once the
        // resPQ came (a cut is armed for the writers running when it is asked for).
        let mut raw = tokio::net::TcpStream::connect(addr).await.unwrap();
        raw.write_all(&[0xee; 4]).await.unwrap();
        let mut rng = rand::rngs::OsRng;
        let mut handshake = ClientHandshake::new(vec![Box::new(key.clone())], 2, None);
        let mut req_pq = Vec::new();
        mtproto::plain::encode_plain(4 << 32, &handshake.start(&mut rng).unwrap(), &mut req_pq);
        raw.write_all(&(req_pq.len() as u32).to_le_bytes())
            .await
            .unwrap();
        raw.write_all(&req_pq).await.unwrap();
        let mut len = [0; 4];
        raw.read_exact(&mut len).await.unwrap();
        let mut res_pq = vec![0; u32::from_le_bytes(len) as usize];
        raw.read_exact(&mut res_pq).await.unwrap();
        let res_pq = mtproto::plain::decode_plain(&res_pq).unwrap();
        let ClientStep::Send(req_dh) = handshake.handle(res_pq.body, &mut rng).unwrap() else {
            panic!("the handshake cannot be done after resPQ");
        };
        // Next frame cut: a raw reader sees the length of a whole frame, then half of it.
        server.dc(2).unwrap().faults().drop_mid_frame_once();
        let mut packet = Vec::new();
        mtproto::plain::encode_plain(8 << 32, &req_dh, &mut packet);
        raw.write_all(&(packet.len() as u32).to_le_bytes())
            .await
            .unwrap();
        raw.write_all(&packet).await.unwrap();
        let mut received = Vec::new();
        raw.read_to_end(&mut received).await.unwrap();
        let announced = u32::from_le_bytes(received[..4].try_into().unwrap()) as usize;
        assert!(announced > 40, "server_DH_params is announced: {announced}");
        assert_eq!(
            received.len() - 4,
            announced / 2,
            "half of it came, then the close"
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_salt_is_taken_up() {
    run(async {
        let (server, key) = start().await;
        let sender = sender_on(&server, &key, TransportKind::Intermediate).await;
        let salt = sender.status().auth.unwrap().salt;
        server.dc(2).unwrap().faults().rotate_salt();
        assert_eq!(nearest(&sender).await.unwrap(), 2);
        let dc = server.dc(2).unwrap();
        let entry = dc.keys().get(dc.keys().key_ids()[0]).unwrap();
        let current = entry.salts().current(dc.faults().now());
        assert_ne!(salt, current, "the salt did change");
        assert!(!entry.salts().accepts(salt, dc.faults().now()));
        // The call only went through once the sender took up the new salt; a second
        // one goes straight through.
        assert_eq!(nearest(&sender).await.unwrap(), 2);
        sender.shutdown().await;
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_is_resent_through_and_nothing_runs_twice() {
    run(async {
        let (registry, counts) = counting_registry();
        let (server, key) = start_with(registry).await;
        let sender = sender_on(&server, &key, TransportKind::Intermediate).await;
        let faults = server.dc(2).unwrap().faults();
        // Sequential calls (each is refused at most a few times: mtproto gives a request up
        // after 5), then concurrent ones, under two storms covering every code.
        faults.bad_msg_storm(5);
        for id in 0..10 {
            sender
                .invoke_raw(count(id), Duration::from_secs(10))
                .await
                .unwrap();
        }
        assert_eq!(faults.storm_left(), 0);
        faults.bad_msg_storm(5);
        let calls: Vec<_> = (10..40)
            .map(|id| {
                let sender = sender.clone();
                tokio::spawn(async move {
                    sender
                        .invoke_raw(count(id), Duration::from_secs(10))
                        .await
                        .unwrap()
                })
            })
            .collect();
        for call in calls {
            call.await.unwrap();
        }
        assert_eq!(faults.storm_left(), 0);
        let counts = counts.lock().unwrap().clone();
        assert_eq!(counts.len(), 40);
        assert!(
            counts.values().all(|n| *n == 1),
            "executed more than once: {counts:?}"
        );
        sender.shutdown().await;
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skewed_clock_is_resynced() {
    run(async {
        let (server, key) = start().await;
        let sender = sender_on(&server, &key, TransportKind::Intermediate).await;
        let faults = server.dc(2).unwrap().faults();
        for skew in [300_i64, -300, 600] {
            faults.set_clock_skew(skew);
            assert_eq!(nearest(&sender).await.unwrap(), 2, "skew {skew}");
            assert_eq!(nearest(&sender).await.unwrap(), 2, "skew {skew}");
            let offset = sender.status().auth.unwrap().time_offset;
            // At +300 s the client's msg_ids sit right at the edge of the window, so the
            // resync may not be needed; beyond it, it is.
            if skew != 300 {
                assert!((offset - skew).abs() <= 2, "skew {skew}, offset {offset}");
            }
        }
        // A key made under a skew starts with the server's time.
        let fresh = sender_on(&server, &key, TransportKind::Abridged).await;
        let offset = fresh.status().auth.unwrap().time_offset;
        assert!((offset - 600).abs() <= 2, "offset {offset}");
        sender.shutdown().await;
        fresh.shutdown().await;
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgotten_keys_are_reported_and_a_new_one_works() {
    run(async {
        let (server, key) = start().await;
        let sender = sender_on(&server, &key, TransportKind::Intermediate).await;
        let dc = server.dc(2).unwrap();
        assert_eq!(dc.keys().len(), 1);
        dc.faults().forget_keys();
        assert!(dc.keys().is_empty());
        let result = nearest(&sender).await;
        assert!(
            matches!(result, Err(InvokeError::AuthKeyUnknown)),
            "{result:?}"
        );
        assert!(sender.status().key_lost);
        let again = sender_on(&server, &key, TransportKind::Intermediate).await;
        assert_eq!(dc.keys().len(), 1);
        again.shutdown().await;
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_tcp_falls_back_to_websocket() {
    run(async {
        let (server, key) = start().await;
        let addr = server.addr(2).unwrap();
        let faults = server.dc(2).unwrap().faults();
        let endpoints = || {
            vec![
                Endpoint::new(addr, 2)
                    .with_transport(TransportKind::Intermediate)
                    .with_obfuscation(true),
                Endpoint::new(addr, 2)
                    .with_transport(TransportKind::Intermediate)
                    .with_carrier(Carrier::websocket()),
            ]
        };
        for block in [Block::Blackhole, Block::Refuse] {
            faults.set_block(TransportClass::Tcp, block);
            let (sender, _updates) = Sender::start(config(endpoints(), &key), None)
                .await
                .unwrap();
            assert_eq!(this_dc(&sender).await, 2);
            assert_eq!(
                sender.status().endpoint,
                Some(1),
                "{block:?}: WebSocket used"
            );
            sender.shutdown().await;
        }
        // A running sender on TCP when the block starts moves to WebSocket by itself.
        faults.set_block(TransportClass::Tcp, Block::None);
        let (sender, _updates) = Sender::start(config(endpoints(), &key), None)
            .await
            .unwrap();
        assert_eq!(this_dc(&sender).await, 2);
        assert_eq!(sender.status().endpoint, Some(0));
        faults.set_block(TransportClass::Tcp, Block::Blackhole);
        faults.disconnect_all();
        assert_eq!(nearest(&sender).await.unwrap(), 2);
        assert_eq!(sender.status().endpoint, Some(1));
        sender.shutdown().await;

        // WebSocket blocked, TCP open: the other way round.
        faults.set_block(TransportClass::Tcp, Block::None);
        faults.set_block(TransportClass::WebSocket, Block::Blackhole);
        let mut reversed = endpoints();
        reversed.reverse();
        let (sender, _updates) = Sender::start(config(reversed, &key), None).await.unwrap();
        assert_eq!(sender.status().endpoint, Some(1), "TCP used");
        sender.shutdown().await;
        server.shutdown().await;
    })
    .await;
}

fn demo() -> Fixture {
    Fixture::from_json(include_str!("../../fixtures/demo.json")).unwrap()
}

fn state_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!("localdc-state-{}-{nanos}", std::process::id()))
}

async fn start_world(dir: &std::path::Path) -> (RunningServer, Arc<World>) {
    let world = Arc::new(World::from_fixture(demo()).unwrap());
    let mut registry = Registry::with_defaults();
    localdc::world::register(&mut registry, Arc::clone(&world));
    let config = Config {
        dcs: 3,
        state_dir: Some(dir.to_path_buf()),
        ..Config::default()
    };
    let server = Server::start_with(config, registry).await.unwrap();
    server.attach_world(&world).unwrap();
    (server, world)
}

async fn self_id(server: &RunningServer, auth: AuthState) -> (Sender, i64) {
    let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
    let endpoint = Endpoint::new(server.addr(2).unwrap(), 2);
    let (sender, _updates) = Sender::start(config(vec![endpoint], &key), Some(auth))
        .await
        .unwrap();
    let body = with_init(
        functions::users::GetUsers {
            id: vec![enums::InputUser::InputUserSelf],
        }
        .to_bytes(),
    );
    let answer = sender
        .invoke_raw(body, Duration::from_secs(10))
        .await
        .unwrap();
    let users = <Vec<enums::User> as tl_types::Deserialize>::from_bytes(&answer).unwrap();
    let enums::User::User(user) = &users[0] else {
        panic!("{users:?}")
    };
    (sender, user.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_dir_carries_keys_and_logins_across_a_restart() {
    run(async {
        let dir = state_dir();
        let (server, world) = start_world(&dir).await;
        let minted = mint_session(&server, &world, "15550001", None).unwrap();
        assert_eq!(minted.dc, 2);
        let auth = AuthState {
            auth_key: AuthKey::from_bytes(minted.auth_key),
            salt: minted.salt,
            time_offset: 0,
        };
        let (sender, user) = self_id(&server, auth.clone()).await;
        assert_eq!(user, 1001);
        let learned = sender.status().auth.unwrap();
        sender.shutdown().await;
        let addrs: Vec<_> = server.dcs().iter().map(localdc::DcHandle::addr).collect();
        let fingerprint = server.fingerprint();
        let dc = server.dc(2).unwrap();
        let now = dc.faults().now();
        let salt = dc.keys().get(minted.key_id).unwrap().salts().current(now);
        let login = world.authorizations(1001);
        server.shutdown().await;
        drop(world);

        let (server, world) = start_world(&dir).await;
        assert_eq!(server.fingerprint(), fingerprint, "same RSA key");
        let again: Vec<_> = server.dcs().iter().map(localdc::DcHandle::addr).collect();
        assert_eq!(again, addrs, "same ports");
        assert_eq!(world.logged_in_user(2, minted.key_id), Some(1001));
        // The same login: same key, hash and creation date.
        let restored = world.authorizations(1001);
        assert_eq!(restored.len(), 1);
        assert_eq!(
            (
                restored[0].key_id,
                restored[0].hash,
                restored[0].date_created
            ),
            (login[0].key_id, login[0].hash, login[0].date_created)
        );
        let entry = server.dc(2).unwrap().keys().get(minted.key_id).unwrap();
        assert_eq!(entry.salts().current(now), salt, "same salts");
        // The client carries on with what it had learned, and is still logged in.
        let (sender, user) = self_id(&server, learned).await;
        assert_eq!(user, 1001);
        sender.shutdown().await;

        // Forgotten keys lose their logins, and that is saved too.
        server.dc(2).unwrap().faults().forget_keys();
        assert_eq!(world.logged_in_user(2, minted.key_id), None);
        assert!(world.authorizations(1001).is_empty());
        server.shutdown().await;
        let (server, world) = start_world(&dir).await;
        assert!(server.dc(2).unwrap().keys().is_empty());
        assert_eq!(world.logged_in_user(2, minted.key_id), None);
        server.shutdown().await;
        std::fs::remove_dir_all(&dir).unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_port_turns_the_knobs() {
    run(async {
        let (server, key) = start().await;
        let world = Arc::new(World::from_fixture(demo()).unwrap());
        let addr = Control::new(&server, Some(Arc::clone(&world)))
            .listen(0)
            .await
            .unwrap();
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let mut ask = async |line: &str| {
            write.write_all(line.as_bytes()).await.unwrap();
            write.write_all(b"\n").await.unwrap();
            lines.next_line().await.unwrap().unwrap()
        };
        assert_eq!(ask("ping").await, "ok pong");
        assert_eq!(ask("storm 2 3").await, "ok");
        assert_eq!(ask("skew all -120").await, "ok");
        assert_eq!(ask("block 1,3 tcp blackhole").await, "ok");
        assert_eq!(
            ask("status 2").await,
            "ok keys=0 storm_left=3 skew=-120 stalled=false"
        );
        let faults = |id| server.dc(id).unwrap().faults();
        assert_eq!(faults(1).block(TransportClass::Tcp), Block::Blackhole);
        assert_eq!(faults(2).block(TransportClass::Tcp), Block::None);
        assert_eq!(faults(4).clock_skew(), -120);
        assert_eq!(ask("stall 2 on").await, "ok");
        assert!(faults(2).stalled());
        assert_eq!(ask("clear all").await, "ok");
        assert!(!faults(2).stalled());
        assert_eq!(faults(1).block(TransportClass::Tcp), Block::None);
        let rules = world.flood().rules().len();
        assert_eq!(ask("flood upload.getFile 5 2").await, "ok");
        assert_eq!(world.flood().rules().len(), rules + 1);
        assert_eq!(ask("expire-refs").await, "ok");
        assert_eq!(ask("mtproxy down").await, "ok");
        assert!(faults(3).mtproxy_down());
        assert!(ask("storm 9 3").await.starts_with("error no DC 9"));
        assert!(ask("storm 2 lots").await.starts_with("error "));
        assert!(ask("block all udp none").await.starts_with("error "));
        assert!(ask("frobnicate").await.starts_with("error unknown command"));
        let long = "x".repeat(5000);
        assert_eq!(ask(&long).await, "error line too long");

        // And the knobs do act: a storm over the port is resent through.
        let mut control = tokio::net::TcpStream::connect(addr).await.unwrap();
        control.write_all(b"storm 2 2\n").await.unwrap();
        let sender = sender_on(&server, &key, TransportKind::Intermediate).await;
        assert_eq!(faults(2).storm_left(), 0);
        sender.shutdown().await;
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mtproxy_front_goes_down_and_comes_back() {
    run(async {
        use mtnet::Proxy;
        use mtproto::transport::ProxySecret;
        let secret = ProxySecret::Padded(*b"padded-secretkey");
        let config = Config {
            mtproxy_secrets: vec![secret.clone()],
            ..Config::default()
        };
        let server = Server::start(config).await.unwrap();
        let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
        let via_proxy = Endpoint::new(server.addr(2).unwrap(), 2)
            .with_transport(TransportKind::PaddedIntermediate)
            .with_proxy(Proxy::mtproxy(server.addr(1).unwrap(), secret));
        let direct = Endpoint::new(server.addr(2).unwrap(), 2);
        for dc in server.dcs() {
            dc.faults().set_mtproxy_down(true);
        }
        let result = Sender::start(config_one(via_proxy.clone(), &key), None).await;
        assert!(result.is_err(), "the proxy is down");
        let (sender, _updates) = Sender::start(config_one(direct, &key), None).await.unwrap();
        assert_eq!(this_dc(&sender).await, 2, "direct clients are served");
        sender.shutdown().await;
        for dc in server.dcs() {
            dc.faults().set_mtproxy_down(false);
        }
        let (sender, _updates) = Sender::start(config_one(via_proxy, &key), None)
            .await
            .unwrap();
        assert_eq!(this_dc(&sender).await, 2, "the proxy is back");
        sender.shutdown().await;
        server.shutdown().await;
    })
    .await;
}

fn config_one(endpoint: Endpoint, key: &RsaPublicKey) -> SenderConfig {
    config(vec![endpoint], key)
}
