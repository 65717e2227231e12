//! Throughput of the two per-byte costs of downloading: AES-256-IGE
//! decryption of a 1 MiB part and SHA-256 of the same part (msg_key and CDN
//! hash checks). Criterion prints the rate as MiB/s ("thrpt").

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mtcrypto::AesIge;
use mtcrypto::hash::sha256;

const PART: usize = 1 << 20;

fn bench(c: &mut Criterion) {
    let data: Vec<u8> = (0..PART).map(|i| (i * 31 % 251) as u8).collect();
    let ige = AesIge::new(&[0x11; 32]);
    let iv = [0x22; 32];

    // Check once that the calls succeed, so the loops measure real work.
    let mut check = data.clone();
    assert!(ige.encrypt(&iv, &mut check).is_ok());
    assert!(ige.decrypt(&iv, &mut check).is_ok());
    assert!(check == data);

    let mut group = c.benchmark_group("1MiB");
    group.throughput(Throughput::Bytes(PART as u64));
    group.bench_function("aes256_ige_decrypt", |b| {
        let mut buf = data.clone();
        b.iter(|| black_box(ige.decrypt(black_box(&iv), black_box(&mut buf))));
    });
    group.bench_function("aes256_ige_encrypt", |b| {
        let mut buf = data.clone();
        b.iter(|| black_box(ige.encrypt(black_box(&iv), black_box(&mut buf))));
    });
    group.bench_function("sha256", |b| {
        b.iter(|| sha256(black_box(&data)));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
