//! Shared fixtures: the server key, a loopback listener, deterministic payloads, time limits.

// The test files that declared this module allowed these at their root.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mtcrypto::RsaPrivateKey;
use mtcrypto::dh::DhParams;
use mtnet::{Incoming, PacketReader};
use mtproto::handshake::{ClientHandshake, ServerHandshake};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::net::TcpListener;

/// Every test finishes within this, or fails.
pub const TEST_LIMIT: Duration = Duration::from_secs(90);
/// Limit on one handshake in the tests.
pub const HANDSHAKE_LIMIT: Duration = Duration::from_secs(30);
/// The DC id clients ask for.
pub const DC_ID: i16 = 2;

/// The server's RSA key, generated once per test process.
pub fn server_key() -> Arc<RsaPrivateKey> {
    static KEY: OnceLock<Arc<RsaPrivateKey>> = OnceLock::new();
    KEY.get_or_init(|| Arc::new(RsaPrivateKey::generate(&mut rng()).expect("RSA key")))
        .clone()
}

pub fn rng() -> StdRng {
    StdRng::from_entropy()
}

pub fn client_handshake() -> ClientHandshake {
    ClientHandshake::new(
        vec![Box::new(server_key().public_key().clone())],
        i32::from(DC_ID),
        None,
    )
}

pub fn server_handshake() -> ServerHandshake {
    ServerHandshake::new(server_key(), DhParams::telegram())
}

/// A listener on an ephemeral loopback port.
pub async fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

/// Runs `future` within [`TEST_LIMIT`].
pub async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(TEST_LIMIT, future)
        .await
        .expect("test exceeded its time limit")
}

/// A deterministic payload of `size` bytes for packet `index`. Its first word is a
/// non-negative i32, as every real MTProto packet's is (auth_key_id or plain header), so a
/// short packet cannot be read as a transport error.
pub fn payload(size: usize, index: usize) -> Vec<u8> {
    let mut state = (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut bytes: Vec<u8> = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    if let Some(b) = bytes.get_mut(3) {
        *b &= 0x7f;
    }
    bytes
}

/// `received` is `expected` followed by at most `max_padding` bytes (padded intermediate adds
/// up to 15 per hop).
pub fn assert_payload(received: &[u8], expected: &[u8], max_padding: usize) {
    let extra = received
        .len()
        .checked_sub(expected.len())
        .unwrap_or_else(|| {
            panic!(
                "packet of {} bytes, expected {}",
                received.len(),
                expected.len()
            )
        });
    assert!(extra <= max_padding, "{extra} trailing bytes");
    assert!(received[..expected.len()] == *expected, "payload differs");
}

/// Receives the next packet, failing on anything else.
pub async fn expect_packet(reader: &mut PacketReader) -> Vec<u8> {
    match reader.recv().await.expect("recv") {
        Incoming::Packet(bytes) => bytes,
        other => panic!("expected a packet, got {other:?}"),
    }
}
