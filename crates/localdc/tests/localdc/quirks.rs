//! localdc's readings of the spec where the docs allow several, end to end: a raw client
//! session whose first packet is a container holding `auth.sendCode`, against each reading
//! of `new_session_created.first_msg_id`. An independent server named the container, and a
//! client that compared each request's own msg_id resent `auth.sendCode` (two login codes).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{Client, now, send_code, with_init};
use localdc::quirks::Quirks;
use localdc::world::World;
use localdc::world::generate::{self, GenOptions};
use localdc::{Config, Registry, Server};
use mtcrypto::RsaPublicKey;
use mtproto::session::{ClientEvent, FirstMsgId, NewSessionNotice, ServerQuirks};
use mtproto::transport::TransportKind;
use tl_types::api::functions;
use tl_types::{Identifiable, Serialize};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_code_is_sent_once_whatever_first_msg_id_names() {
    tokio::time::timeout(Duration::from_mins(1), async {
        for first_msg_id in [FirstMsgId::FirstMessage, FirstMsgId::Container] {
            for new_session in [NewSessionNotice::First, NewSessionNotice::AfterFirstAnswer] {
                let readings = ServerQuirks {
                    first_msg_id,
                    new_session,
                    ..ServerQuirks::default()
                };
                let options = GenOptions {
                    messages: 4,
                    chats: 1,
                    media_bytes: 0,
                    seed: 5,
                    dcs: 2,
                };
                let world = Arc::new(World::from_fixture(generate::generate(&options)).unwrap());
                let mut registry = Registry::with_defaults();
                localdc::world::register(&mut registry, Arc::clone(&world));
                let calls = Arc::clone(registry.calls());
                let mut config = Config::default();
                config.faults.quirks = Quirks::default().pinning(readings);
                let server = Server::start_with(config, registry).await.unwrap();
                let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
                let (mut client, _) = Client::open(
                    server.addr(2).unwrap(),
                    &key,
                    2,
                    TransportKind::Intermediate,
                    false,
                )
                .await;
                let (phone, ..) = generate::ACCOUNTS[0];
                // Both queued before the first packet: they travel in one container.
                let code = client
                    .session
                    .push_request(with_init(send_code(phone).to_bytes()))
                    .unwrap();
                let config_call = client
                    .session
                    .push_request(functions::help::GetConfig {}.to_bytes())
                    .unwrap();
                client.flush().await;
                let mut answered = Vec::new();
                while answered.len() < 2 {
                    let common::Received::Packet(mut packet) = client.conn.recv().await else {
                        continue;
                    };
                    for event in client.session.handle_packet(&mut packet, now()).unwrap() {
                        if let ClientEvent::Response { id, .. } = event {
                            answered.push(id);
                        }
                    }
                    client.flush().await;
                }
                assert!(answered.contains(&code) && answered.contains(&config_call));
                // A wrongly resent copy went out with the flushes above; the server takes
                // a connection's messages in order, so it has dispatched any such copy
                // by the time it answers a ping sent after.
                client
                    .call(tl_types::mtproto::functions::Ping { ping_id: 9 }.to_bytes())
                    .await
                    .unwrap();
                assert_eq!(
                    calls.of(functions::auth::SendCode::CONSTRUCTOR_ID),
                    1,
                    "{readings:?}: auth.sendCode ran more than once"
                );
                server.shutdown().await;
            }
        }
    })
    .await
    .expect("test timed out");
}
