//! The crypto floor: what a client must spend per byte at the very least — AES-256-IGE
//! decryption of the MTProto message and one SHA-256 over the same bytes (its `msg_key`
//! check) — measured on one core of this machine, with the same code the client uses
//! (`mtcrypto`). A SHA-256 pass alone is measured too: the engine's checks (the server's
//! chunk hashes, the finished file read back) each cost one more.

use std::time::Duration;

use anyhow::{Result, anyhow};
use mtcrypto::AesIge;
use mtcrypto::hash::sha256;

use super::usage::thread_cpu;

/// The buffer size: one download part.
pub const BUFFER: usize = 1 << 20;

/// What the floor measurement found.
#[derive(Debug, Clone, Copy)]
pub struct Floor {
    /// Bytes decrypted and hashed.
    pub bytes: u64,
    /// CPU time of the measuring thread for decrypting and hashing.
    pub cpu: Duration,
    /// CPU time of the measuring thread for hashing the same bytes once more, alone.
    pub sha_cpu: Duration,
}

impl Floor {
    /// CPU seconds per GiB.
    pub fn seconds_per_gib(&self) -> f64 {
        per_gib(self.cpu, self.bytes)
    }

    /// CPU seconds per GiB of one SHA-256 pass.
    pub fn sha_seconds_per_gib(&self) -> f64 {
        per_gib(self.sha_cpu, self.bytes)
    }
}

/// Seconds of `time` per GiB of `bytes`.
pub fn per_gib(time: Duration, bytes: u64) -> f64 {
    if bytes == 0 {
        return 0.0;
    }
    time.as_secs_f64() * f64::from(1u32 << 30) / bytes as f64
}

/// Decrypts and hashes `total` bytes (rounded up to whole buffers, at least one) in
/// [`BUFFER`]-sized pieces on the calling thread; blocks.
pub fn measure(total: u64) -> Result<Floor> {
    let rounds = total.div_ceil(BUFFER as u64).max(1);
    let key: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    let iv: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(53).wrapping_add(7));
    let ige = AesIge::new(&key);
    let mut buf: Vec<u8> = (0..BUFFER).map(|i| (i * 131 + 17) as u8).collect();
    // Warm up (page in the buffer, let the CPU reach its clock).
    ige.decrypt(&iv, &mut buf)
        .map_err(|e| anyhow!("AES-IGE: {e}"))?;
    let mut sink = sha256(&buf);
    let start = thread_cpu();
    for _ in 0..rounds {
        ige.decrypt(&iv, &mut buf)
            .map_err(|e| anyhow!("AES-IGE: {e}"))?;
        fold(&mut sink, &buf);
    }
    let cpu = thread_cpu().saturating_sub(start);
    let start = thread_cpu();
    for _ in 0..rounds {
        fold(&mut sink, &buf);
    }
    let sha_cpu = thread_cpu().saturating_sub(start);
    std::hint::black_box(sink);
    Ok(Floor {
        bytes: rounds * BUFFER as u64,
        cpu,
        sha_cpu,
    })
}

/// Hashes `buf` into `sink`, so that no hash can be optimized away.
fn fold(sink: &mut [u8; 32], buf: &[u8]) {
    let digest = sha256(std::hint::black_box(buf));
    for (s, d) in sink.iter_mut().zip(digest) {
        *s ^= d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_floor_measures() {
        let floor = measure(3 << 20).unwrap();
        assert_eq!(floor.bytes, 3 << 20);
        assert!(floor.seconds_per_gib() > 0.0);
        assert!(floor.sha_seconds_per_gib() > 0.0);
        assert!((per_gib(Duration::from_secs(2), 1 << 31) - 1.0).abs() < 1e-9);
    }
}
