#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The fault knobs, changed while the server runs: byte and message budgets per
//! connection, refusing connections, delayed answers, closing every connection.

use crate::common;

use std::time::Duration;

use common::{Client, Conn, Received, with_init};
use localdc::{Config, RunningServer, Server};
use mtcrypto::RsaPublicKey;
use mtproto::session::{ClientEvent, RequestId};
use mtproto::transport::TransportKind;
use tl_types::Serialize;
use tl_types::api::functions::help::GetConfig;
use tokio::net::TcpStream;

const TEST_TIME: Duration = Duration::from_mins(2);

async fn start() -> (RunningServer, RsaPublicKey) {
    let config = Config {
        dcs: 2,
        ..Config::default()
    };
    let server = Server::start(config).await.unwrap();
    let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
    (server, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_and_message_budgets_close_connections() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, key) = start().await;
        let dc = server.dc(1).unwrap();
        let addr = dc.addr();

        // A message budget of one: the first encrypted packet goes, then the connection closes.
        let (mut client, _) = Client::open(addr, &key, 1, TransportKind::Intermediate, false).await;
        dc.faults().set_drop_after_messages(Some(1));
        client
            .session
            .push_request(with_init(GetConfig {}.to_bytes()))
            .unwrap();
        client.flush().await;
        let mut packets = 0;
        loop {
            match client.conn.recv().await {
                Received::Packet(_) => packets += 1,
                Received::Closed => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(packets, 1);
        dc.faults().set_drop_after_messages(None);

        // Byte budgets. The handshake's answers take about 90, 660 and 80 bytes, the
        // first encrypted answer (the config) several hundred more.
        dc.faults().set_drop_after_bytes(Some(500));
        let mut conn = Conn::connect(addr, TransportKind::Intermediate, false, 1).await;
        let error = conn.try_handshake(&key, 1).await.unwrap_err();
        assert!(matches!(error, mtnet::NetError::Closed), "{error}");
        dc.faults().set_drop_after_bytes(Some(1000));
        let conn = Conn::connect(addr, TransportKind::Intermediate, false, 1).await;
        let mut client = {
            let mut conn = conn;
            let keyed = conn.handshake(&key, 1).await;
            Client::new(conn, &keyed)
        };
        client
            .session
            .push_request(with_init(GetConfig {}.to_bytes()))
            .unwrap();
        client.flush().await;
        // Small service packets (new_session_created, acks) may still fit in the budget;
        // the config answer does not, and the connection closes instead of sending it.
        let mut received = 0;
        loop {
            match client.conn.recv().await {
                Received::Packet(packet) => received += packet.len(),
                Received::Closed => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(
            received < 500,
            "{received} bytes got through a 1000-byte budget"
        );
        dc.faults().set_drop_after_bytes(None);

        // Without budgets all is well again.
        let (mut client, _) = Client::open(addr, &key, 1, TransportKind::Abridged, true).await;
        client
            .call(with_init(GetConfig {}.to_bytes()))
            .await
            .unwrap();
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusing_delaying_and_disconnecting() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, key) = start().await;
        let dc = server.dc(2).unwrap();
        let addr = dc.addr();

        // Refused while the knob is set, served again on the same port after.
        dc.faults().set_refuse_connections(true);
        let mut attempts = 0;
        while TcpStream::connect(addr).await.is_ok() {
            attempts += 1;
            assert!(attempts < 250, "port still open");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        dc.faults().set_refuse_connections(false);
        let mut attempts = 0;
        while TcpStream::connect(addr).await.is_err() {
            attempts += 1;
            assert!(attempts < 250, "port not reopened");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(dc.addr(), addr);

        // Delayed answers; pings (answered by the session layer) are not held.
        let (mut client, _) =
            Client::open(addr, &key, 2, TransportKind::PaddedIntermediate, false).await;
        client
            .call(with_init(GetConfig {}.to_bytes()))
            .await
            .unwrap();
        // Sent together, the ping's pong overtakes the delayed answer.
        dc.faults().set_response_delay(Duration::from_millis(1500));
        let config = client
            .session
            .push_request(GetConfig {}.to_bytes())
            .unwrap();
        let ping = client
            .session
            .push_request(tl_types::mtproto::functions::Ping { ping_id: 1 }.to_bytes())
            .unwrap();
        client.flush().await;
        assert_eq!(answer_order(&mut client, 2).await, [ping, config]);
        dc.faults().set_response_delay(Duration::ZERO);

        // Every open connection closed at once.
        dc.faults().disconnect_all();
        assert_eq!(client.conn.recv().await, Received::Closed);
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

/// The requests of `client` answered, in the order the answers came, until `count` came.
async fn answer_order(client: &mut Client, count: usize) -> Vec<RequestId> {
    let mut order = Vec::new();
    while order.len() < count {
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
            if let ClientEvent::Response { id, result } = event {
                result.unwrap();
                order.push(id);
            }
        }
    }
    order
}
