#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! A real server on loopback ports, a client built from mtproto's pieces: handshakes over
//! every transport, `help.getConfig` and friends, keys per DC, the layer kept per key.

use crate::common;

use std::time::Duration;

use common::{Client, Conn, Received, with_init};
use localdc::{Config, RunningServer, Server};
use mtcrypto::RsaPublicKey;
use mtproto::transport::TransportKind;
use tl_types::api::functions::help::{GetConfig, GetNearestDc};
use tl_types::api::functions::users::GetUsers;
use tl_types::api::{enums, types};
use tl_types::{Deserialize, Identifiable, Serialize};

const TEST_TIME: Duration = Duration::from_mins(2);

async fn start() -> (RunningServer, RsaPublicKey) {
    let server = Server::start(Config::default()).await.unwrap();
    let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
    (server, key)
}

fn parse_config(bytes: &[u8]) -> types::Config {
    let enums::Config::Config(config) = enums::Config::from_bytes(bytes).unwrap();
    *config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_and_get_config_over_every_transport() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, key) = start().await;
        let addr = server.addr(2).unwrap();
        // (framing, obfuscated, inside a WebSocket)
        let transports = [
            (TransportKind::Abridged, false, false),
            (TransportKind::Intermediate, false, false),
            (TransportKind::PaddedIntermediate, false, false),
            (TransportKind::Full, false, false),
            (TransportKind::Abridged, true, false),
            (TransportKind::Intermediate, true, false),
            (TransportKind::PaddedIntermediate, true, false),
            (TransportKind::Abridged, true, true),
            (TransportKind::Intermediate, true, true),
            (TransportKind::PaddedIntermediate, true, true),
        ];
        for (kind, obfuscated, websocket) in transports {
            let mut conn = if websocket {
                Conn::connect_websocket(addr, kind, 2).await
            } else {
                Conn::connect(addr, kind, obfuscated, 2).await
            };
            let keyed = conn.handshake(&key, 2).await;
            let mut client = Client::new(conn, &keyed);
            let config = parse_config(
                &client
                    .call(with_init(GetConfig {}.to_bytes()))
                    .await
                    .unwrap(),
            );
            assert_eq!(
                config.this_dc, 2,
                "{kind:?} obfuscated {obfuscated} websocket {websocket}"
            );
            assert!(config.expires > config.date);
            let mut listed: Vec<(i32, String, i32)> = config
                .dc_options
                .iter()
                .map(|option| {
                    let enums::DcOption::DcOption(option) = option;
                    assert!(!option.ipv6 && !option.media_only && !option.cdn);
                    (option.id, option.ip_address.clone(), option.port)
                })
                .collect();
            listed.sort();
            let expected: Vec<(i32, String, i32)> = server
                .dcs()
                .iter()
                .map(|dc| {
                    (
                        dc.id(),
                        dc.addr().ip().to_string(),
                        i32::from(dc.addr().port()),
                    )
                })
                .collect();
            assert_eq!(listed, expected);
            assert!(
                expected.iter().all(|(_, _, port)| *port < 32768),
                "ports below 32768"
            );

            let nearest = client.call(GetNearestDc {}.to_bytes()).await.unwrap();
            let enums::NearestDc::NearestDc(nearest) =
                enums::NearestDc::from_bytes(&nearest).unwrap();
            assert_eq!(
                (
                    nearest.this_dc,
                    nearest.nearest_dc,
                    nearest.country.as_str()
                ),
                (2, 2, "XX")
            );

            let users = GetUsers {
                id: vec![enums::InputUser::InputUserSelf],
            };
            let error = client.call(users.to_bytes()).await.unwrap_err();
            assert_eq!(
                (error.code, error.message.as_str()),
                (401, "AUTH_KEY_UNREGISTERED")
            );

            // A constructor nobody serves.
            let error = client.call(vec![0x78, 0x56, 0x34, 0x12]).await.unwrap_err();
            assert_eq!(
                (error.code, error.message.as_str()),
                (400, "INPUT_METHOD_INVALID")
            );
        }
        assert_eq!(server.dc(2).unwrap().keys().len(), transports.len());
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_per_dc_and_the_layer_belongs_to_the_key() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, key) = start().await;
        let (mut client, keyed) = Client::open(
            server.addr(2).unwrap(),
            &key,
            2,
            TransportKind::Intermediate,
            false,
        )
        .await;
        client
            .call(with_init(GetConfig {}.to_bytes()))
            .await
            .unwrap();

        let entry = server
            .dc(2)
            .unwrap()
            .keys()
            .get(keyed.auth_key.key_id())
            .unwrap();
        let state = entry.state();
        assert_eq!(state.layer, Some(tl_types::LAYER));
        assert_eq!(state.client.as_ref().unwrap().device_model, "test");

        // A second connection, new session, no initConnection: served with the key's layer.
        let conn = Conn::connect(server.addr(2).unwrap(), TransportKind::Abridged, false, 2).await;
        let mut second = Client::new(conn, &keyed);
        assert_ne!(second.session.session_id(), client.session.session_id());
        let config = parse_config(&second.call(GetConfig {}.to_bytes()).await.unwrap());
        assert_eq!(config.this_dc, 2);
        assert_eq!(entry.session_count(), 2);

        // The same key on DC 4 is unknown there: -404, then the connection closes.
        let conn = Conn::connect(
            server.addr(4).unwrap(),
            TransportKind::Intermediate,
            false,
            4,
        )
        .await;
        let mut stranger = Client::new(conn, &keyed);
        stranger
            .session
            .push_request(GetConfig {}.to_bytes())
            .unwrap();
        stranger.flush().await;
        assert_eq!(stranger.conn.recv().await, Received::TransportError(-404));
        assert_eq!(stranger.conn.recv().await, Received::Closed);

        // Forgetting the key on DC 2 does the same to its owner.
        server.dc(2).unwrap().keys().forget(keyed.auth_key.key_id());
        client
            .session
            .push_request(GetConfig {}.to_bytes())
            .unwrap();
        client.flush().await;
        assert_eq!(client.conn.recv().await, Received::TransportError(-404));
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_messages_and_the_ready_info() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, key) = start().await;
        let info = server.ready_info();
        assert_eq!(info.dcs.len(), 5);
        assert!(info.rsa_public_key_pem.contains("BEGIN RSA PUBLIC KEY"));
        assert_eq!(info.rsa_fingerprint, key.fingerprint());
        let json: serde_json::Value = serde_json::from_str(&info.to_json()).unwrap();
        assert_eq!(json["dcs"][1]["id"], 2);

        let (mut client, _) =
            Client::open(server.addr(1).unwrap(), &key, 1, TransportKind::Full, false).await;
        // ping is answered by the session layer; get_future_salts too.
        let ping = tl_types::mtproto::functions::Ping { ping_id: 77 }.to_bytes();
        let pong = client.call(ping).await.unwrap();
        let tl_types::mtproto::enums::Pong::Pong(pong) =
            tl_types::mtproto::enums::Pong::from_bytes(&pong).unwrap();
        assert_eq!(pong.ping_id, 77);
        let salts = tl_types::mtproto::functions::GetFutureSalts { num: 3 }.to_bytes();
        let salts = client.call(salts).await.unwrap();
        let tl_types::mtproto::enums::FutureSalts::FutureSalts(salts) =
            tl_types::mtproto::enums::FutureSalts::from_bytes(&salts).unwrap();
        assert_eq!(salts.salts.len(), 3);
        // destroy_session of another session is answered by the server.
        let destroy = tl_types::mtproto::functions::DestroySession { session_id: 12345 }.to_bytes();
        let answer = client.call(destroy).await.unwrap();
        assert!(matches!(
            tl_types::mtproto::enums::DestroySessionRes::from_bytes(&answer).unwrap(),
            tl_types::mtproto::enums::DestroySessionRes::DestroySessionNone(_)
        ));
        // destroy_auth_key: answered, then the key is gone.
        let destroy = tl_types::mtproto::functions::DestroyAuthKey {}.to_bytes();
        let answer = client.call(destroy).await.unwrap();
        assert_eq!(
            tl_types::mtproto::enums::DestroyAuthKeyRes::from_bytes(&answer).unwrap(),
            tl_types::mtproto::enums::DestroyAuthKeyRes::DestroyAuthKeyOk
        );
        assert!(server.dc(1).unwrap().keys().is_empty());
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_outlives_its_connection() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, key) = start().await;
        let dc = server.dc(3).unwrap();
        let (mut client, keyed) =
            Client::open(dc.addr(), &key, 3, TransportKind::Intermediate, false).await;
        client
            .call(with_init(GetConfig {}.to_bytes()))
            .await
            .unwrap();

        // The answer is held; the client goes away before it comes.
        dc.faults().set_response_delay(Duration::from_millis(500));
        let pending = client
            .session
            .push_request(GetNearestDc {}.to_bytes())
            .unwrap();
        client.flush().await;
        let session = client.session;
        drop(client.conn);
        // Until the server has answered into the session: the request was dispatched
        // and none is running any more.
        let calls = dc.state().registry().calls();
        let (held, _) = dc
            .keys()
            .get(keyed.auth_key.key_id())
            .unwrap()
            .session(session.session_id(), &mut rand::thread_rng());
        let mut looks = 0;
        while calls.of(GetNearestDc::CONSTRUCTOR_ID) == 0
            || held.lock().unwrap().running_requests() > 0
        {
            looks += 1;
            assert!(looks < 500, "the held request was never answered");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(held);
        dc.faults().set_response_delay(Duration::ZERO);

        // Same session on a new connection: any packet brings the answer.
        let conn = Conn::connect(dc.addr(), TransportKind::Abridged, false, 3).await;
        let mut client = Client { conn, session };
        let ping = tl_types::mtproto::functions::Ping { ping_id: 5 }.to_bytes();
        client.session.push_request(ping).unwrap();
        client.flush().await;
        let mut answered = false;
        while !answered {
            let Received::Packet(mut packet) = client.conn.recv().await else {
                panic!("connection closed");
            };
            for event in client
                .session
                .handle_packet(&mut packet, common::now())
                .unwrap()
            {
                if let mtproto::session::ClientEvent::Response { id, result } = event
                    && id == pending
                {
                    let enums::NearestDc::NearestDc(nearest) =
                        enums::NearestDc::from_bytes(&result.unwrap()).unwrap();
                    assert_eq!(nearest.this_dc, 3);
                    answered = true;
                }
            }
        }
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}
