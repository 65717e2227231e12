//! Decrypting and checking a 1 MiB `rpc_result(upload.file)`, next to the floor measured in
//! the same run: AES-256-IGE decryption of 1 MiB plus SHA-256 of 1 MiB with the same crates.
//! Target: within 1.15x of the floor.
//!
//! `cargo bench -p mtproto --bench decrypt`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use mtcrypto::kdf::Direction;
use mtcrypto::{AuthKey, ige_decrypt};
use mtproto::encrypted::{MessageHeader, decrypt, encrypt};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use tl_types::Serialize;
use tl_types::api::{enums, types};

const PART: usize = 1 << 20;
const RPC_RESULT: u32 = 0xf35c_6d01;

struct Fixture {
    key: AuthKey,
    packet: Vec<u8>,
}

fn fixture() -> Fixture {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut key = [0u8; 256];
    rng.fill_bytes(&mut key);
    let key = AuthKey::from_bytes(key);
    let mut bytes = vec![0u8; PART];
    rng.fill_bytes(&mut bytes);
    let file = enums::upload::File::from(types::upload::File {
        r#type: enums::storage::FileType::FilePartial,
        mtime: 0,
        bytes,
    });
    let mut body = Vec::with_capacity(PART + 64);
    body.extend_from_slice(&RPC_RESULT.to_le_bytes());
    body.extend_from_slice(&0x6543_2100_0000_0004_i64.to_le_bytes());
    file.serialize(&mut body);
    let header = MessageHeader {
        salt: 1,
        session_id: 2,
        msg_id: 0x6543_2100_0000_0005,
        seq_no: 1,
    };
    let mut packet = Vec::new();
    encrypt(
        &key,
        Direction::ServerToClient,
        &header,
        &body,
        &mut rng,
        &mut packet,
    )
    .unwrap();
    Fixture { key, packet }
}

/// The floor: IGE-decrypt 1 MiB, then SHA-256 over it.
fn floor(buf: &mut [u8]) {
    let (data, _) = buf.split_at_mut(PART);
    ige_decrypt(&[7; 32], &[9; 32], data).unwrap();
    black_box(mtcrypto::hash::sha256(data));
}

fn message(key: &AuthKey, buf: &mut [u8]) {
    let opened = decrypt(key, Direction::ServerToClient, buf).unwrap();
    black_box(opened.body.len());
}

fn bench(c: &mut Criterion) {
    let f = fixture();
    let mut group = c.benchmark_group("1 MiB rpc_result(upload.file)");
    group.throughput(Throughput::Bytes(PART as u64));
    group.bench_function("floor: IGE decrypt + SHA-256", |b| {
        b.iter_batched_ref(|| f.packet.clone(), |buf| floor(buf), BatchSize::LargeInput);
    });
    group.bench_function("decrypt + msg_key check", |b| {
        b.iter_batched_ref(
            || f.packet.clone(),
            |buf| message(&f.key, buf),
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

/// Seconds per run of `f` over a fresh copy of `packet`, copy excluded, best of several
/// rounds so that the two are compared under the same conditions.
fn seconds_per_run(packet: &[u8], mut f: impl FnMut(&mut [u8])) -> f64 {
    let mut buf = packet.to_vec();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let mut spent = Duration::ZERO;
        let mut runs = 0u32;
        while spent < Duration::from_millis(300) {
            buf.copy_from_slice(packet);
            let start = Instant::now();
            f(&mut buf);
            spent += start.elapsed();
            runs += 1;
        }
        best = best.min(spent.as_secs_f64() / f64::from(runs));
    }
    best
}

fn ratios() {
    let f = fixture();
    let floor_s = seconds_per_run(&f.packet, floor);
    let message_s = seconds_per_run(&f.packet, |buf| message(&f.key, buf));
    let mib_s = |s: f64| 1.0 / s;
    println!("\n1 MiB rpc_result(upload.file), same run:");
    println!(
        "  floor (IGE decrypt + SHA-256)  {:7.1} MiB/s  {:6.3} ms",
        mib_s(floor_s),
        floor_s * 1e3
    );
    println!(
        "  decrypt + msg_key check        {:7.1} MiB/s  {:6.3} ms  = {:.3} x floor (target <= 1.15)",
        mib_s(message_s),
        message_s * 1e3,
        message_s / floor_s
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratios();
}
