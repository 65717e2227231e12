#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// The allocation counter below is a global allocator, which is `unsafe` to implement.
#![allow(unsafe_code)]
//! Seeded hostile clients: each case sends mutated bytes to localdc at one layer — the
//! transport framing and obfuscation header, the encrypted message's header (salt,
//! session, msg_id, seq_no, length, padding), or the inner TL body (wrong constructor ids,
//! huge vector counts, lying `bytes` lengths, nested and lying containers, deep `invoke*`
//! wrappers, gzip bombs) — while a well-behaved client on another connection keeps
//! calling. Nothing may panic anywhere in the process, memory stays bounded, and the good
//! client is answered after every case.
//!
//! `HOSTILE_CASES=10000` runs the long mode; `HOSTILE_SEED` shifts the seeds.

use crate::common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Client, Conn, Keyed, with_init};
use localdc::{Config, Limits, Server};
use mtcrypto::kdf::{Direction, derive_aes_key_iv, msg_key};
use mtcrypto::{AuthKey, RsaPublicKey};
use mtproto::session::gzip;
use mtproto::transport::{Codec, Obfuscation, TransportKind};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use tl_types::api::functions::help::GetConfig;
use tl_types::api::functions::{InvokeAfterMsgs, InvokeWithoutUpdates};
use tl_types::mtproto::functions::{PingDelayDisconnect, ReqPqMulti};
use tl_types::{Blob, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// ---- process-wide peak of live heap bytes --------------------------------------------------

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping is
// two atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            grow(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds `new_size`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn grow(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most the process may hold at once: the test's own gzip bombs (built once, 24 MiB
/// of zeros before compression), a packet of at most `max_packet` per connection, and what
/// a `gzip_packed` may expand to (16 MiB). A server that believed a length or a count would
/// go far past.
const PEAK_BOUND: usize = 128 << 20;

static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default(info);
    }));
}

// ---- building hostile bytes ----------------------------------------------------------------

const VECTOR: u32 = 0x1cb5_c415;
const CONTAINER: u32 = 0x73f1_f8dc;
const MSGS_ACK: u32 = 0x62d6_b459;

fn flip_bits(bytes: &mut [u8], rng: &mut StdRng) {
    if bytes.is_empty() {
        return;
    }
    for _ in 0..rng.gen_range(1..=8) {
        let at = rng.gen_range(0..bytes.len());
        bytes[at] ^= 1 << rng.gen_range(0..8);
    }
}

fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    rng.fill_bytes(&mut out);
    out
}

fn huge(rng: &mut StdRng) -> u32 {
    [
        0x7fff_ffff,
        u32::MAX,
        1 << 24,
        1 << 20,
        0x8000_0000,
        1_000_000,
    ][rng.gen_range(0..6)]
}

fn u32s(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn gzip_bomb() -> &'static [u8] {
    static BOMB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BOMB.get_or_init(|| gzip::pack(&vec![0u8; 24 << 20]).unwrap())
}

/// A container of `messages` (msg_id, seqno, body), its lengths as given.
fn container(messages: &[(i64, i32, Vec<u8>)], count: u32) -> Vec<u8> {
    let mut out = u32s(&[CONTAINER, count]);
    for (msg_id, seq_no, body) in messages {
        out.extend_from_slice(&msg_id.to_le_bytes());
        out.extend_from_slice(&seq_no.to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
    }
    out
}

/// A hostile inner body (what goes inside an encrypted message).
fn hostile_body(rng: &mut StdRng, msg_id: i64) -> Vec<u8> {
    let valid = with_init(GetConfig {}.to_bytes());
    let mut body = match rng.gen_range(0..13) {
        0 => {
            let len = rng.gen_range(0..64) * 4;
            random_bytes(rng, len)
        }
        1 => {
            let mut body = valid;
            flip_bits(&mut body, rng);
            body
        }
        2 => {
            let mut body = valid;
            let at = rng.gen_range(0..body.len() / 4) * 4;
            body[at..at + 4].copy_from_slice(&rng.next_u32().to_le_bytes());
            body
        }
        // Vectors claiming billions of elements.
        3 => {
            let mut body = InvokeAfterMsgs {
                msg_ids: vec![1, 2, 3],
                query: Blob(GetConfig {}.to_bytes()),
            }
            .to_bytes();
            body[8..12].copy_from_slice(&huge(rng).to_le_bytes());
            body
        }
        4 => u32s(&[MSGS_ACK, VECTOR, huge(rng), 1, 2]),
        // A lying bytes length.
        5 => {
            let mut body = valid;
            let at = rng.gen_range(0..body.len() / 4) * 4;
            let len: u32 = rng.gen_range(254..1 << 24);
            body[at..at + 4].copy_from_slice(&(0xfe | (len << 8)).to_le_bytes());
            body
        }
        // Containers: nested, lying counts, lying lengths.
        6 => {
            let inner = container(&[(msg_id - 4, 1, valid.clone())], 1);
            container(&[(msg_id - 8, 0, inner)], 1)
        }
        7 => {
            let mut body = container(&[(msg_id - 4, 1, valid)], 1);
            body[4..8].copy_from_slice(&huge(rng).to_le_bytes());
            body
        }
        8 => {
            let mut body = container(&[(msg_id - 4, 1, valid)], 1);
            body[20..24].copy_from_slice(&huge(rng).to_le_bytes());
            body
        }
        // Gzip: a bomb, gzip inside gzip, garbage that is no gzip.
        9 => gzip_bomb().to_vec(),
        10 => {
            let packed = gzip::pack(&with_init(GetConfig {}.to_bytes())).unwrap();
            let mut twice = gzip::pack(&packed).unwrap();
            if rng.gen_bool(0.5) {
                flip_bits(&mut twice[8..], rng);
            }
            twice
        }
        // Wrappers nested far past any limit.
        11 => {
            let mut deep = GetConfig {}.to_bytes();
            for _ in 0..rng.gen_range(17..200) {
                deep = InvokeWithoutUpdates { query: Blob(deep) }.to_bytes();
            }
            deep
        }
        _ => PingDelayDisconnect {
            ping_id: 1,
            disconnect_delay: rng.gen_range(i32::MIN..i32::MAX),
        }
        .to_bytes(),
    };
    if rng.gen_bool(0.1) {
        // A gzip_packed of the hostile body itself.
        body = gzip::pack(&body).unwrap_or(body);
    }
    // Bodies of encrypted messages are whole words.
    body.resize(body.len().next_multiple_of(4), 0);
    body
}

/// Encrypts `plain` (salt, session, msg_id, seq_no, length, body, padding: whatever they
/// say) as a client message for `auth_key`.
fn seal(auth_key: &AuthKey, mut plain: Vec<u8>) -> Vec<u8> {
    plain.resize(plain.len().next_multiple_of(16), 0);
    let key = msg_key(auth_key, &plain, Direction::ClientToServer);
    derive_aes_key_iv(auth_key, &key, Direction::ClientToServer)
        .encrypt(&mut plain)
        .unwrap();
    let mut packet = auth_key.key_id().to_le_bytes().to_vec();
    packet.extend_from_slice(&key);
    packet.extend_from_slice(&plain);
    packet
}

fn now_msg_id(rng: &mut StdRng) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    (((now.as_secs() as i64) << 32) | (i64::from(rng.next_u32()) & 0xffff_fff0)) & !3
}

/// An encrypted message with a hostile header or body.
fn hostile_message(rng: &mut StdRng, keyed: &Keyed) -> Vec<u8> {
    let mut msg_id = now_msg_id(rng);
    let mut salt = keyed.salt;
    let session_id = rng.next_u64() as i64;
    let mut seq_no: i32 = rng.gen_range(0..8) * 2 + 1;
    let mut body = with_init(GetConfig {}.to_bytes());
    let mut length = None;
    let mut padding = 16 + rng.gen_range(0..4) * 16;
    match rng.gen_range(0..8) {
        0 => {
            msg_id = [
                0,
                1,
                -4,
                msg_id | 1,
                msg_id | 2,
                msg_id + (1 << 40),
                msg_id - (1 << 40),
                i64::MAX,
            ][rng.gen_range(0..8)];
        }
        1 => seq_no = rng.r#gen(),
        2 => salt = rng.r#gen(),
        3 => {
            length =
                Some([0, 1, 3, u32::MAX, 1 << 24, 0x8000_0000, rng.r#gen()][rng.gen_range(0..7)]);
        }
        4 => padding = [0, 4, 8, 1040, 2048][rng.gen_range(0..5)],
        _ => body = hostile_body(rng, msg_id),
    }
    let mut plain = Vec::with_capacity(32 + body.len() + padding);
    plain.extend_from_slice(&salt.to_le_bytes());
    plain.extend_from_slice(&session_id.to_le_bytes());
    plain.extend_from_slice(&msg_id.to_le_bytes());
    plain.extend_from_slice(&seq_no.to_le_bytes());
    plain.extend_from_slice(&length.unwrap_or(body.len() as u32).to_le_bytes());
    plain.extend_from_slice(&body);
    plain.extend(random_bytes(rng, padding));
    seal(&keyed.auth_key, plain)
}

const KINDS: [TransportKind; 4] = [
    TransportKind::Abridged,
    TransportKind::Intermediate,
    TransportKind::PaddedIntermediate,
    TransportKind::Full,
];

/// A whole byte stream: transport tag or obfuscation header, then frames of `payloads`,
/// then hostile damage to the stream itself.
fn hostile_stream(rng: &mut StdRng, payloads: &[Vec<u8>], damage: bool) -> Vec<u8> {
    let kind = KINDS[rng.gen_range(0..KINDS.len())];
    let obfuscated = kind != TransportKind::Full && rng.gen_bool(0.5);
    let mut codec = Codec::client(kind);
    if obfuscated {
        codec = codec.without_init_tag();
    }
    let mut frames = Vec::new();
    for payload in payloads {
        codec.encode(payload, &mut frames, rng).unwrap();
    }
    if damage {
        match rng.gen_range(0..5) {
            0 => flip_bits(&mut frames, rng),
            1 => frames.truncate(rng.gen_range(0..=frames.len())),
            2 => {
                let at = rng.gen_range(0..=frames.len());
                let len = rng.gen_range(1..64);
                let junk = random_bytes(rng, len);
                frames.splice(at..at, junk);
            }
            3 => {
                // A length prefix far past the packet limit.
                let at = if kind == TransportKind::Full || kind == TransportKind::Abridged {
                    0
                } else {
                    rng.gen_range(0..=frames.len().saturating_sub(4) / 4) * 4
                };
                if frames.len() >= at + 4 {
                    frames[at..at + 4].copy_from_slice(&huge(rng).to_le_bytes());
                }
            }
            _ => {
                let len = rng.gen_range(1..2048);
                frames.extend(random_bytes(rng, len));
            }
        }
    }
    if !obfuscated {
        return frames;
    }
    let (mut header, mut obfuscation) =
        Obfuscation::client(kind, rng.gen_range(-3..8), None, rng).unwrap();
    if damage && rng.gen_bool(0.3) {
        // A damaged header: its tag no longer decrypts to a known one (or, rarely, does).
        let at = rng.gen_range(0..header.len());
        header[at] ^= 1 << rng.gen_range(0..8);
    }
    obfuscation.encrypt(&mut frames);
    let mut stream = header.to_vec();
    stream.extend_from_slice(&frames);
    stream
}

/// Sends `stream` on a new connection and reads what comes back for a moment.
async fn send_raw(addr: SocketAddr, stream: &[u8], rng: &mut StdRng) {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    // Sent in a few pieces, so that frames straddle reads.
    let mut rest = stream;
    while !rest.is_empty() {
        let take = rng.gen_range(1..=rest.len());
        if socket.write_all(&rest[..take]).await.is_err() {
            return;
        }
        rest = &rest[take..];
    }
    if rng.gen_bool(0.3) {
        let _ = socket.shutdown().await;
    }
    let mut sink = vec![0; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(30), async {
        while socket.read(&mut sink).await.is_ok_and(|n| n > 0) {}
    })
    .await;
}

/// One seeded case.
async fn run_case(addr: SocketAddr, keyed: &Keyed, case: u64) {
    let mut rng = StdRng::seed_from_u64(case);
    match rng.gen_range(0..4) {
        // Framing and obfuscation: a handshake opener or an encrypted message, damaged.
        0 => {
            let mut plain = Vec::new();
            mtproto::plain::encode_plain(
                now_msg_id(&mut rng),
                &ReqPqMulti { nonce: [7; 16] }.to_bytes(),
                &mut plain,
            );
            let payloads = if rng.gen_bool(0.5) {
                vec![plain]
            } else {
                vec![hostile_message(&mut rng, keyed); rng.gen_range(1..3)]
            };
            let stream = hostile_stream(&mut rng, &payloads, true);
            send_raw(addr, &stream, &mut rng).await;
        }
        // Random bytes after a valid transport opening.
        1 => {
            let payloads: Vec<Vec<u8>> = (0..rng.gen_range(1..4))
                .map(|_| {
                    let len = rng.gen_range(0..75) * 4;
                    let mut payload = random_bytes(&mut rng, len);
                    if rng.gen_bool(0.5) && payload.len() >= 8 {
                        // Addressed to the real key: it reaches decryption.
                        payload[..8].copy_from_slice(&keyed.auth_key.key_id().to_le_bytes());
                    }
                    payload
                })
                .collect();
            let stream = hostile_stream(&mut rng, &payloads, false);
            send_raw(addr, &stream, &mut rng).await;
        }
        // Well-framed, well-encrypted messages with hostile headers and bodies.
        _ => {
            let payloads: Vec<Vec<u8>> = (0..rng.gen_range(1..4))
                .map(|_| hostile_message(&mut rng, keyed))
                .collect();
            let stream = hostile_stream(&mut rng, &payloads, false);
            send_raw(addr, &stream, &mut rng).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_never_hurt_the_server_or_other_connections() {
    count_panics();
    let cases: u64 = std::env::var("HOSTILE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let first: u64 = std::env::var("HOSTILE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let config = Config {
        dcs: 2,
        limits: Limits {
            handshake_timeout: Duration::from_secs(2),
            ..Limits::default()
        },
        ..Config::default()
    };
    let server = Server::start(config).await.unwrap();
    let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
    let addr = server.addr(2).unwrap();
    // The key the hostile messages are encrypted with.
    let keyed = Conn::connect(addr, TransportKind::Intermediate, false, 2)
        .await
        .handshake(&key, 2)
        .await;
    // The well-behaved client, calling throughout on its own connection.
    let (mut good, _) = Client::open(addr, &key, 2, TransportKind::Abridged, true).await;
    good.call(with_init(GetConfig {}.to_bytes())).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let background = tokio::spawn({
        let stop = Arc::clone(&stop);
        async move {
            let mut calls = 0u64;
            while !stop.load(Ordering::Relaxed) {
                good.call(GetConfig {}.to_bytes()).await.unwrap();
                calls += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            calls
        }
    });
    gzip_bomb();
    let started = Instant::now();
    for case in first..first + cases {
        run_case(addr, &keyed, case).await;
        assert_eq!(
            PANICS.load(Ordering::SeqCst),
            0,
            "case {case}: a task panicked"
        );
        assert!(
            !background.is_finished(),
            "case {case}: the good client failed"
        );
        let peak = PEAK.load(Ordering::Relaxed);
        assert!(peak < PEAK_BOUND, "case {case}: {} MiB live", peak >> 20);
    }
    stop.store(true, Ordering::Relaxed);
    let calls = background.await.expect("the good client failed");
    // A fresh client is served too: the server still takes new connections and keys.
    let (mut fresh, _) = Client::open(addr, &key, 2, TransportKind::Full, false).await;
    fresh
        .call(with_init(GetConfig {}.to_bytes()))
        .await
        .unwrap();
    println!(
        "{cases} hostile cases in {:?}; the good client made {calls} calls; peak {} MiB live",
        started.elapsed(),
        PEAK.load(Ordering::Relaxed) >> 20
    );
    assert!(calls > 0);
    assert_eq!(PANICS.load(Ordering::SeqCst), 0);
    server.shutdown().await;
}
