#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! MTProto over HTTP against a running server: the handshake and `help.getConfig` through
//! mtnet's HTTP carrier, many requests, long polls held until the server has something (or
//! until `max_wait`), and malformed HTTP closing only its own connection.

use crate::common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Conn, Keyed, Received, STEP, now, with_init};
use localdc::{Config, Limits, RunningServer, Server};
use mtcrypto::RsaPublicKey;
use mtnet::{Carrier, Endpoint};
use mtproto::session::{ClientEvent, ClientSession, RpcError};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tl_types::api::enums;
use tl_types::api::functions::help::{GetConfig, GetNearestDc};
use tl_types::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TEST_TIME: Duration = Duration::from_mins(2);
/// The long-poll `max_wait` the test clients ask for, in ms.
const POLL_MS: i32 = 10_000;

async fn start() -> (RunningServer, RsaPublicKey) {
    let config = Config {
        dcs: 2,
        limits: Limits {
            // Requests without http_wait are held this long: short, so that tests are fast.
            http_max_wait: Duration::from_secs(3),
            ..Limits::default()
        },
        ..Config::default()
    };
    let server = Server::start(config).await.unwrap();
    let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
    (server, key)
}

/// Opens mtnet's HTTP carrier to `addr`.
async fn connect_http(addr: SocketAddr, dc: i16) -> Conn {
    let endpoint = Endpoint::new(addr, dc).with_carrier(Carrier::http());
    assert!(endpoint.is_http());
    let (reader, writer) = tokio::time::timeout(STEP, mtnet::connect(&endpoint))
        .await
        .expect("connect timed out")
        .expect("connect");
    Conn {
        reader,
        writer,
        rng: StdRng::from_entropy(),
    }
}

/// A session over the HTTP carrier, sending as a sender must: every flush pushes an
/// `http_wait` first, so that every packet carries one and a packet (the long poll) goes
/// out after each one received.
struct HttpClient {
    conn: Conn,
    session: ClientSession,
}

impl HttpClient {
    async fn open(addr: SocketAddr, key: &RsaPublicKey, dc: i32) -> (Self, Keyed) {
        let mut conn = connect_http(addr, dc as i16).await;
        let keyed = conn.handshake(key, dc).await;
        let mut session = ClientSession::new(keyed.auth_key.clone(), keyed.salt, &mut conn.rng);
        session.sync_time(keyed.server_time, now());
        (Self { conn, session }, keyed)
    }

    async fn flush(&mut self) {
        self.session.push_http_wait(0, 0, POLL_MS);
        while let Some(transmit) = self.session.poll_transmit(now(), &mut self.conn.rng) {
            self.conn.send(&transmit.packet).await;
        }
    }

    /// Receives one packet and handles it (then flushes: the next long poll).
    async fn receive(&mut self) -> Vec<ClientEvent> {
        let mut packet = match self.conn.recv().await {
            Received::Packet(packet) => packet,
            other => panic!("connection ended: {other:?}"),
        };
        let events = self.session.handle_packet(&mut packet, now()).unwrap();
        self.flush().await;
        events
    }

    async fn call(&mut self, body: Vec<u8>) -> Result<Vec<u8>, RpcError> {
        let id = self.session.push_request(body).unwrap();
        self.flush().await;
        loop {
            for event in self.receive().await {
                if let ClientEvent::Response {
                    id: answered,
                    result,
                } = event
                    && answered == id
                {
                    return result;
                }
            }
        }
    }
}

fn this_dc(config: &[u8]) -> i32 {
    let enums::Config::Config(config) = enums::Config::from_bytes(config).unwrap();
    config.this_dc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_get_config_and_many_requests_over_http() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, key) = start().await;
        let addr = server.addr(2).unwrap();
        let started = Instant::now();
        let (mut client, _) = HttpClient::open(addr, &key, 2).await;
        let config = client
            .call(with_init(GetConfig {}.to_bytes()))
            .await
            .unwrap();
        assert_eq!(this_dc(&config), 2);
        println!("handshake and getConfig over HTTP: {:?}", started.elapsed());

        // One after the other.
        let started = Instant::now();
        for _ in 0..30 {
            let nearest = client.call(GetNearestDc {}.to_bytes()).await.unwrap();
            let enums::NearestDc::NearestDc(nearest) =
                enums::NearestDc::from_bytes(&nearest).unwrap();
            assert_eq!(nearest.this_dc, 2);
        }
        println!("30 sequential requests: {:?}", started.elapsed());

        // Many at once, each in a packet of its own: more POSTs than the pool has
        // connections, answered in whatever order, none lost.
        let started = Instant::now();
        let mut ids = Vec::new();
        for _ in 0..40 {
            ids.push(
                client
                    .session
                    .push_request(GetConfig {}.to_bytes())
                    .unwrap(),
            );
            client.flush().await;
        }
        let mut answered = 0;
        while answered < ids.len() {
            for event in client.receive().await {
                if let ClientEvent::Response { id, result } = event {
                    assert!(ids.contains(&id));
                    assert_eq!(this_dc(&result.unwrap()), 2);
                    answered += 1;
                }
            }
        }
        assert_eq!(client.session.pending_requests(), 0);
        println!("40 concurrent requests: {:?}", started.elapsed());

        // A client that sends no http_wait still gets its answer: each request is held
        // until something is queued for its session (here `new_session_created` first, then,
        // on the request that acknowledges it, the answer).
        let (mut plain, _) = HttpClient::open(addr, &key, 2).await;
        let id = plain.session.push_request(GetConfig {}.to_bytes()).unwrap();
        'answer: loop {
            plain.session.flush_acks();
            while let Some(transmit) = plain.session.poll_transmit(now(), &mut plain.conn.rng) {
                plain.conn.send(&transmit.packet).await;
            }
            let Received::Packet(mut packet) = plain.conn.recv().await else {
                panic!("no answer");
            };
            for event in plain.session.handle_packet(&mut packet, now()).unwrap() {
                if matches!(event, ClientEvent::Response { id: got, .. } if got == id) {
                    break 'answer;
                }
            }
        }
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_is_answered_when_the_server_pushes() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, key) = start().await;
        let addr = server.addr(1).unwrap();
        let (mut client, keyed) = HttpClient::open(addr, &key, 1).await;
        client
            .call(with_init(GetConfig {}.to_bytes()))
            .await
            .unwrap();

        // The last flush left a long poll open; nothing comes while nothing happens.
        let quiet = tokio::time::timeout(Duration::from_millis(500), client.conn.reader.recv());
        assert!(quiet.await.is_err(), "the long poll was answered early");

        // The server pushes an update into the session: the held request carries it.
        let entry = server
            .dc(1)
            .unwrap()
            .keys()
            .get(keyed.auth_key.key_id())
            .unwrap();
        let (session, created) = entry.session(client.session.session_id(), &mut client.conn.rng);
        assert!(!created);
        let pushed = Instant::now();
        session
            .lock()
            .unwrap()
            .push_update(enums::Updates::TooLong.to_bytes())
            .unwrap();
        let events = tokio::time::timeout(Duration::from_secs(3), client.receive())
            .await
            .expect("the long poll did not deliver the update");
        let latency = pushed.elapsed();
        println!("update delivered on the long poll after {latency:?}");
        assert!(events.iter().any(|event| matches!(
            event,
            ClientEvent::Update(body)
                if matches!(enums::Updates::from_bytes(body), Ok(enums::Updates::TooLong))
        )));

        // The client is still served.
        client.call(GetNearestDc {}.to_bytes()).await.unwrap();
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

/// Sends raw bytes on a new connection; returns the HTTP response head (if any) and whether
/// the server closed the connection afterwards (within 5 s).
async fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> (String, Vec<u8>, bool) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(bytes).await;
    read_response(&mut stream).await
}

/// Reads one response (head, body by Content-Length) and then whether the server closes.
async fn read_response(stream: &mut TcpStream) -> (String, Vec<u8>, bool) {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let Ok(read) = tokio::time::timeout_at(deadline.into(), stream.read(&mut chunk)).await
        else {
            panic!("no response and no close within 5 s");
        };
        let read = read.unwrap_or(0);
        if read == 0 {
            return (
                String::from_utf8_lossy(&received).into_owned(),
                Vec::new(),
                true,
            );
        }
        received.extend_from_slice(&chunk[..read]);
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("Content-Length: "))
                .map_or(0, |len| len.trim().parse().unwrap());
            while received.len() < end + 4 + length {
                let read = stream.read(&mut chunk).await.unwrap();
                assert!(read > 0, "body cut short");
                received.extend_from_slice(&chunk[..read]);
            }
            let body = received[end + 4..end + 4 + length].to_vec();
            let mut rest = Vec::new();
            let closed =
                tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
                    .await
                    .is_ok();
            return (head, body, closed);
        }
    }
}

fn post(body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// A plain `req_pq_multi`, as the handshake starts.
fn req_pq() -> Vec<u8> {
    let mut packet = Vec::new();
    mtproto::plain::encode_plain(
        4 << 32,
        &tl_types::mtproto::functions::ReqPqMulti { nonce: [7; 16] }.to_bytes(),
        &mut packet,
    );
    packet
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_http_closes_only_its_connection() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, key) = start().await;
        let addr = server.addr(2).unwrap();
        let (mut good, _) = HttpClient::open(addr, &key, 2).await;
        good.call(with_init(GetConfig {}.to_bytes())).await.unwrap();

        let oversize_header = format!(
            "POST /api HTTP/1.1\r\nX-Pad: {}\r\nContent-Length: 4\r\n\r\nabcd",
            "a".repeat(20_000)
        );
        let cases: Vec<(&str, Vec<u8>, Option<&str>)> =
            vec![
            ("GET", b"GET /api HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), Some("405")),
            ("HEAD", b"HEAD /api HTTP/1.1\r\n\r\n".to_vec(), Some("405")),
            (
                "other path",
                b"POST /other HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd".to_vec(),
                Some("404"),
            ),
            (
                "no Content-Length",
                b"POST /api HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
                Some("411"),
            ),
            (
                "bad Content-Length",
                b"POST /api HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n".to_vec(),
                Some("400"),
            ),
            (
                "conflicting Content-Length",
                b"POST /api HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd"
                    .to_vec(),
                Some("400"),
            ),
            (
                "huge Content-Length",
                b"POST /api HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n".to_vec(),
                Some("413"),
            ),
            (
                "chunked",
                b"POST /api HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"
                    .to_vec(),
                Some("501"),
            ),
            ("empty body", post(&[]), Some("400")),
            ("body cut short", {
                let mut cut = post(&req_pq());
                cut.truncate(cut.len() - 10);
                cut
            }, None),
            ("no auth_key_id", post(&[1, 2, 3, 4]), Some("400")),
            ("not a handshake message", post(&[0; 40]), Some("400")),
            // Detection reads the first head itself and refuses it without an answer.
            ("oversize headers", oversize_header.into_bytes(), None),
            ("garbage request line", b"POST \x00\x01\x02 junk\r\n\r\n".to_vec(), None),
        ];
        for (name, bytes, status) in cases {
            let started = Instant::now();
            let (head, _, closed) = if name == "body cut short" {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                stream.write_all(&bytes).await.unwrap();
                stream.shutdown().await.unwrap();
                read_response(&mut stream).await
            } else {
                raw_exchange(addr, &bytes).await
            };
            println!(
                "{name}: {:?} after {:?}",
                head.lines().next(),
                started.elapsed()
            );
            assert!(closed, "{name}: connection left open");
            match status {
                Some(status) => assert!(
                    head.starts_with(&format!("HTTP/1.1 {status} ")),
                    "{name}: {head}"
                ),
                None => assert!(!head.starts_with("HTTP/1.1 200"), "{name}: {head}"),
            }
            good.call(GetNearestDc {}.to_bytes())
                .await
                .unwrap_or_else(|e| panic!("after {name}: {e}"));
        }

        // After a good request on a keep-alive connection, an oversize head is answered 431.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&post(&req_pq())).await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
        assert!(head.contains("Connection: keep-alive"), "{head}");
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        let mut res_pq = vec![0u8; length];
        stream.read_exact(&mut res_pq).await.unwrap();
        assert!(mtproto::plain::decode_plain(&res_pq).is_ok());
        let oversize = format!("POST /api HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "b".repeat(9_000));
        let _ = stream.write_all(oversize.as_bytes()).await;
        let (head, _, closed) = read_response(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        assert!(closed);

        // An unknown auth key: 404 with the transport error code as the body, then closed.
        let mut unknown = vec![0x11u8; 8];
        unknown.extend_from_slice(&[0x22; 72]);
        let (head, body, closed) = raw_exchange(addr, &post(&unknown)).await;
        assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
        assert_eq!(body, (-404i32).to_le_bytes());
        assert!(closed);
        // Through the carrier, that is transport error -404.
        let mut conn = connect_http(addr, 2).await;
        conn.send(&unknown).await;
        assert_eq!(conn.recv().await, Received::TransportError(-404));
        assert_eq!(conn.recv().await, Received::Closed);

        good.call(GetConfig {}.to_bytes()).await.unwrap();
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_requests_end_at_max_wait_or_when_superseded() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, key) = start().await;
        let addr = server.addr(2).unwrap();
        let (mut client, _) = HttpClient::open(addr, &key, 2).await;
        client
            .call(with_init(GetConfig {}.to_bytes()))
            .await
            .unwrap();
        // Let the server owe no acknowledgment, so that expired polls are empty.
        tokio::time::sleep(Duration::from_millis(200)).await;

        // A packet with only http_wait(max_wait = 300 ms), as a raw POST: answered with
        // nothing when it runs out (how long it is held is `HttpHold`'s unit tests' business).
        let poll = |client: &mut HttpClient, max_wait: i32| {
            client.session.push_http_wait(0, 0, max_wait);
            client
                .session
                .poll_transmit(now(), &mut client.conn.rng)
                .unwrap()
                .packet
        };
        let packet = poll(&mut client, 300);
        let mut first = TcpStream::connect(addr).await.unwrap();
        first.write_all(&post(&packet)).await.unwrap();
        let (head, body) = read_response_keep_alive(&mut first).await;
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert!(body.is_empty(), "{} bytes", body.len());

        // A long poll on one connection, then a newer one of the same session on another:
        // the older lets go at once, the newer is held.
        let packet = poll(&mut client, 20_000);
        first.write_all(&post(&packet)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let packet = poll(&mut client, 20_000);
        let mut second = TcpStream::connect(addr).await.unwrap();
        second.write_all(&post(&packet)).await.unwrap();
        // Released long before its 20 s run out (the read gives up after 10 s).
        let (head, _) = read_response_keep_alive(&mut first).await;
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        let mut byte = [0u8; 1];
        let still_held = tokio::time::timeout(Duration::from_millis(300), second.read(&mut byte));
        assert!(still_held.await.is_err(), "the newest poll must stay held");

        // wait_after: an answer waits that long for more output to join it.
        let id = client
            .session
            .push_request(GetConfig {}.to_bytes())
            .unwrap();
        client.session.push_http_wait(1_000, 400, 10_000);
        while let Some(transmit) = client.session.poll_transmit(now(), &mut client.conn.rng) {
            client.conn.send(&transmit.packet).await;
        }
        'answer: loop {
            let Received::Packet(mut packet) = client.conn.recv().await else {
                panic!("no answer");
            };
            for event in client.session.handle_packet(&mut packet, now()).unwrap() {
                if matches!(event, ClientEvent::Response { id: got, .. } if got == id) {
                    break 'answer;
                }
            }
        }
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

/// Reads one response head and body, leaving the connection open.
async fn read_response_keep_alive(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut byte))
            .await
            .expect("no response")
            .unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    (head, body)
}
