//! (De)serializing an `upload.file` that carries 1 MiB, next to a plain 1 MiB copy measured in
//! the same run. The target: both at least half as fast as the copy.
//!
//! `cargo bench -p tl-types --bench upload_file`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use tl_types::api::{enums, types};
use tl_types::{Deserialize, Serialize};

const PART: usize = 1 << 20;

fn upload_file() -> enums::upload::File {
    let bytes: Vec<u8> = (0..PART).map(|i| (i * 31 % 251) as u8).collect();
    types::upload::File {
        r#type: enums::storage::FileType::FilePartial,
        mtime: 1_700_000_000,
        bytes,
    }
    .into()
}

fn bench(c: &mut Criterion) {
    let file = upload_file();
    let encoded = file.to_bytes();
    let source = vec![7u8; PART];
    let mut target = vec![0u8; PART];
    let mut out = Vec::with_capacity(encoded.len());

    let mut group = c.benchmark_group("upload.file 1 MiB");
    group.throughput(Throughput::Bytes(PART as u64));
    group.bench_function("memcpy", |b| {
        b.iter(|| black_box(&mut target).copy_from_slice(black_box(&source)));
    });
    group.bench_function("serialize", |b| {
        b.iter(|| {
            out.clear();
            black_box(&file).serialize(&mut out);
        });
    });
    group.bench_function("deserialize", |b| {
        b.iter(|| enums::upload::File::from_bytes(black_box(&encoded)).unwrap());
    });
    group.finish();
}

/// Times `f` over a fixed wall-clock budget and returns bytes per second.
fn rate(mut f: impl FnMut()) -> f64 {
    let budget = Duration::from_millis(500);
    for _ in 0..16 {
        f();
    }
    let start = Instant::now();
    let mut runs = 0u64;
    while start.elapsed() < budget {
        f();
        runs += 1;
    }
    (runs as f64 * PART as f64) / start.elapsed().as_secs_f64()
}

/// One line per operation with its speed relative to memcpy, all measured here, side by side.
fn ratios() {
    let file = upload_file();
    let encoded = file.to_bytes();
    let source = vec![7u8; PART];
    let mut target = vec![0u8; PART];
    let mut out = Vec::with_capacity(encoded.len());

    let memcpy = rate(|| black_box(&mut target).copy_from_slice(black_box(&source)));
    let serialize = rate(|| {
        out.clear();
        black_box(&file).serialize(&mut out);
    });
    let deserialize = rate(|| {
        black_box(enums::upload::File::from_bytes(black_box(&encoded)).unwrap());
    });
    let gib = f64::from(1u32 << 30);
    println!("\nupload.file carrying 1 MiB, same run:");
    println!("  memcpy       {:7.2} GiB/s", memcpy / gib);
    for (name, value) in [("serialize", serialize), ("deserialize", deserialize)] {
        println!(
            "  {name:<12} {:7.2} GiB/s  = {:.2} x memcpy (target >= 0.50)",
            value / gib,
            value / memcpy
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratios();
}
