#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! What sessions keep after their connections are gone: clients that take a 1 MiB answer
//! and leave without acknowledging it cannot make the server hold their answers without
//! bound, whatever the number of sessions, and sessions left idle are forgotten.

use crate::common;

use std::time::Duration;

use common::{Client, Conn, with_init};
use localdc::{Config, Limits, Registry, Server};
use mtcrypto::RsaPublicKey;
use mtproto::transport::TransportKind;
use rand::RngCore;
use tl_types::api::functions::help::GetConfig;
use tl_types::{Identifiable, Serialize};

const MIB: usize = 1 << 20;
/// Sessions opened on one key, each leaving one answer unacknowledged.
const SESSIONS: usize = 24;
const DETACHED_BUDGET: usize = 6 * MIB;

/// Waits until `done` holds, looking every 20 ms, at most 1000 times.
async fn until(mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not reached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_of_closed_connections_hold_bounded_bytes_and_expire() {
    // `help.getConfig` answers with 1 MiB that does not compress (as file parts do).
    let mut registry = Registry::with_defaults();
    registry.register_sync(GetConfig::CONSTRUCTOR_ID, "big", |_, _| {
        let mut part = vec![0; MIB];
        rand::thread_rng().fill_bytes(&mut part);
        Ok(part)
    });
    let idle = Duration::from_secs(2);
    let config = Config {
        limits: Limits {
            max_detached_bytes_per_dc: DETACHED_BUDGET,
            session_idle_timeout: idle,
            ..Limits::default()
        },
        ..Config::default()
    };
    assert!(SESSIONS < config.limits.max_sessions_per_key);
    let server = Server::start_with(config, registry).await.unwrap();
    let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
    let addr = server.addr(2).unwrap();
    let keys = server.dc(2).unwrap().keys();

    let mut conn = Conn::connect(addr, TransportKind::Intermediate, false, 2).await;
    let keyed = conn.handshake(&key, 2).await;
    drop(conn);
    for _ in 0..SESSIONS {
        // A new connection, a new session on the same key: one answer taken, none acked.
        let conn = Conn::connect(addr, TransportKind::Intermediate, false, 2).await;
        let mut client = Client::new(conn, &keyed);
        let answer = client
            .call(with_init(GetConfig {}.to_bytes()))
            .await
            .unwrap();
        assert_eq!(answer.len(), MIB);
        drop(client);
    }
    let entry = keys.get(keys.key_ids()[0]).unwrap();
    until(|| keys.detached_sessions() == SESSIONS).await;
    assert_eq!(entry.session_count(), SESSIONS);
    // Every session is kept (a client reconnecting soon gets its answers again), but what
    // they hold is not: the ones left last keep theirs within the DC's budget.
    let held = keys.held_bytes();
    assert!(
        held <= DETACHED_BUDGET,
        "{} KiB held by {SESSIONS} sessions of closed connections",
        held >> 10
    );
    assert!(held >= DETACHED_BUDGET - 2 * MIB, "the newest keep theirs");

    // Idle sessions go once the timeout has passed on the server's clock (checked when a
    // session is opened; the arithmetic is tested with explicit instants in `keys`).
    tokio::time::sleep(idle + Duration::from_millis(200)).await;
    let conn = Conn::connect(addr, TransportKind::Intermediate, false, 2).await;
    let mut client = Client::new(conn, &keyed);
    client
        .call(with_init(GetConfig {}.to_bytes()))
        .await
        .unwrap();
    assert_eq!(entry.session_count(), 1, "only the live session is left");
    assert_eq!(keys.detached_sessions(), 0);
    drop(client);
    server.shutdown().await;
}
