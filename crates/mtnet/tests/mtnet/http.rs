#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The client HTTP carrier against a scripted HTTP server on loopback: the requests it
//! makes, how statuses map to packets, transport errors and failures, the size of its
//! connection pool, replacing a connection the server closed, and stopping when dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mtnet::http::{HttpError, MAX_CONNECTIONS};
use mtnet::{Carrier, Endpoint, Incoming, NetError, PacketReader, PacketWriter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

const STEP: Duration = Duration::from_secs(10);

/// A request as the scripted server saw it.
#[derive(Debug)]
struct Request {
    head: String,
    body: Vec<u8>,
}

/// Reads one request; `None` when the client closed the connection.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Request> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(buf[..end].to_vec()).unwrap();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("Content-Length: "))
                .expect("Content-Length")
                .parse()
                .unwrap();
            while buf.len() < end + 4 + length {
                let read = stream.read(&mut chunk).await.unwrap();
                assert!(read > 0);
                buf.extend_from_slice(&chunk[..read]);
            }
            let body = buf[end + 4..end + 4 + length].to_vec();
            buf.drain(..end + 4 + length);
            return Some(Request { head, body });
        }
        let read = stream.read(&mut chunk).await.unwrap_or(0);
        if read == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..read]);
    }
}

async fn respond(stream: &mut TcpStream, status: u16, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
}

/// A server that answers every request with `answer(request number, body)`, counting
/// connections; each connection runs as its own task.
async fn serve<F>(answer: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(usize, &[u8]) -> (u16, Vec<u8>) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    let answer = Arc::new(answer);
    let requests = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            counted.fetch_add(1, Ordering::SeqCst);
            let answer = Arc::clone(&answer);
            let requests = Arc::clone(&requests);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while let Some(request) = read_request(&mut stream, &mut buf).await {
                    assert!(request.head.starts_with("POST /api HTTP/1.1\r\n"));
                    assert!(request.head.contains("\r\nHost: 127.0.0.1:"));
                    let n = requests.fetch_add(1, Ordering::SeqCst);
                    let (status, body) = answer(n, &request.body);
                    respond(&mut stream, status, &body).await;
                }
            });
        }
    });
    (addr, connections)
}

async fn connect(addr: SocketAddr) -> (PacketReader, PacketWriter) {
    let endpoint = Endpoint::new(addr, 2).with_carrier(Carrier::http());
    tokio::time::timeout(STEP, mtnet::connect(&endpoint))
        .await
        .unwrap()
        .unwrap()
}

async fn recv(reader: &mut PacketReader) -> Result<Incoming, NetError> {
    tokio::time::timeout(STEP, reader.recv())
        .await
        .expect("nothing received in time")
}

#[tokio::test]
async fn bodies_are_packets_and_statuses_are_errors() {
    // By the first byte: 9 is answered empty, 11 with 404, anything else echoed reversed.
    let (addr, _) = serve(|_, body| match body[0] {
        9 => (200, Vec::new()),
        11 => (404, Vec::new()),
        _ => (200, body.iter().rev().copied().collect()),
    })
    .await;
    let (mut reader, mut writer) = connect(addr).await;
    writer.send(&[1, 2, 3, 4, 5, 6, 7, 8]).await.unwrap();
    assert_eq!(
        recv(&mut reader).await.unwrap(),
        Incoming::Packet(vec![8, 7, 6, 5, 4, 3, 2, 1])
    );
    // An empty answer brings nothing; the next one does. Quick acks do not exist here.
    writer.send(&[9; 24]).await.unwrap();
    writer.send_quick_ack_request(&[10; 24]).await.unwrap();
    assert_eq!(
        recv(&mut reader).await.unwrap(),
        Incoming::Packet(vec![10; 24])
    );
    writer.send(&[11; 24]).await.unwrap();
    assert_eq!(
        recv(&mut reader).await.unwrap(),
        Incoming::TransportError(-404)
    );
    assert!(matches!(recv(&mut reader).await, Err(NetError::Closed)));
    assert!(writer.send(&[12; 24]).await.is_err());
}

#[tokio::test]
async fn other_statuses_and_oversize_bodies_fail_the_carrier() {
    let (addr, _) = serve(|_, _| (500, Vec::new())).await;
    let (mut reader, mut writer) = connect(addr).await;
    writer.send(&[1; 20]).await.unwrap();
    let error = recv(&mut reader).await.unwrap_err();
    assert!(
        matches!(error, NetError::Http(HttpError::Status { code: 500 })),
        "{error:?}"
    );

    let (addr, _) = serve(|_, _| (200, vec![0; 4096])).await;
    let endpoint = Endpoint::new(addr, 2)
        .with_carrier(Carrier::http())
        .with_max_packet(1024);
    let (mut reader, mut writer) = mtnet::connect(&endpoint).await.unwrap();
    writer.send(&[1; 20]).await.unwrap();
    let error = recv(&mut reader).await.unwrap_err();
    assert!(
        matches!(
            error,
            NetError::Http(HttpError::BodyTooLarge {
                length: 4096,
                limit: 1024
            })
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn garbage_responses_fail_the_carrier() {
    for garbage in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"SPDY/3 200 OK\r\n\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (done, held) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            read_request(&mut stream, &mut buf).await.unwrap();
            stream.write_all(garbage).await.unwrap();
            // Keep the connection open until the client decided: it must not wait for more.
            let _ = held.await;
        });
        let (mut reader, mut writer) = connect(addr).await;
        writer.send(&[1; 20]).await.unwrap();
        let error = tokio::time::timeout(STEP, recv(&mut reader))
            .await
            .expect("the client waited for more of a broken response")
            .unwrap_err();
        assert!(matches!(error, NetError::Http(_)), "{garbage:?}: {error:?}");
        drop(done);
    }
}

#[tokio::test]
async fn the_pool_holds_two_connections_and_replaces_closed_ones() {
    // The server holds every request until the test releases it.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (requests_tx, mut requests) = mpsc::unbounded_channel::<(Vec<u8>, TcpStream)>();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let requests_tx = requests_tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let request = read_request(&mut stream, &mut buf).await.unwrap();
                requests_tx.send((request.body, stream)).unwrap();
            });
        }
    });
    let (mut reader, mut writer) = connect(addr).await;
    for n in 1..=3u8 {
        writer.send(&[n; 20]).await.unwrap();
    }
    let (first, mut first_stream) = tokio::time::timeout(STEP, requests.recv())
        .await
        .unwrap()
        .unwrap();
    let (second, second_stream) = tokio::time::timeout(STEP, requests.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first[0], second[0]), (1, 2));
    // Both connections are busy: the third packet waits.
    let waiting = tokio::time::timeout(Duration::from_millis(300), requests.recv()).await;
    assert!(
        waiting.is_err(),
        "more than {MAX_CONNECTIONS} requests in flight"
    );
    // Answering one frees its connection; then the server closes it (it went idle)...
    respond(&mut first_stream, 200, &[0xaa; 20]).await;
    assert_eq!(
        recv(&mut reader).await.unwrap(),
        Incoming::Packet(vec![0xaa; 20])
    );
    drop(first_stream);
    // ...and the third packet goes on it, finds it closed, and goes again on a new one.
    let (third, mut third_stream) = tokio::time::timeout(STEP, requests.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third[0], 3);
    respond(&mut third_stream, 200, &[0xbb; 20]).await;
    assert_eq!(
        recv(&mut reader).await.unwrap(),
        Incoming::Packet(vec![0xbb; 20])
    );
    drop(second_stream);
}

#[tokio::test]
async fn dropping_the_halves_closes_the_connections() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (held_tx, held) = oneshot::channel::<()>();
    let (closed_tx, closed) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        read_request(&mut stream, &mut buf).await.unwrap();
        held_tx.send(()).unwrap();
        // Hold the request (a long poll) and wait for the client to go away.
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
        closed_tx.send(()).unwrap();
    });
    let (reader, mut writer) = connect(addr).await;
    writer.send(&[1; 20]).await.unwrap();
    tokio::time::timeout(STEP, held)
        .await
        .expect("the request never reached the server")
        .unwrap();
    drop((reader, writer));
    tokio::time::timeout(STEP, closed)
        .await
        .expect("the held request's connection stayed open")
        .unwrap();
}

#[tokio::test]
async fn unreachable_server_fails_at_connect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let endpoint = Endpoint::new(addr, 2).with_carrier(Carrier::http());
    let result = tokio::time::timeout(STEP, mtnet::connect(&endpoint))
        .await
        .unwrap();
    assert!(matches!(result, Err(NetError::Io(_))), "{result:?}");
}
