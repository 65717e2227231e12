//! A token bucket kept as virtual time (the "generic cell rate" form): instead of a token
//! count refilled by a timer, the bucket remembers when it will be full again. Reserving
//! `n` bytes moves that instant on by `n / rate`; the bytes may leave once the bucket is
//! back within `burst` of full. Nothing ticks: a reservation is one comparison and one
//! addition, made when a frame is queued, and gives the frame its departure time.

use std::time::{Duration, Instant};

/// One bucket. Reservations made at a rate restart the bucket (full) when the rate changes.
#[derive(Debug, Default)]
pub(crate) struct Bucket {
    /// When the bucket is full again; `None`: full now.
    full_at: Option<Instant>,
    /// The rate `full_at` was computed at.
    rate: u64,
    /// Bytes reserved over the bucket's life.
    charged: u64,
}

impl Bucket {
    /// Reserves `bytes` at `rate` bytes per second with `burst` bytes of depth, at `now`:
    /// the instant the last of them may leave (`now` if the bucket holds them).
    pub(crate) fn reserve(&mut self, now: Instant, bytes: u64, rate: u64, burst: u64) -> Instant {
        let rate = rate.max(1);
        self.charged = self.charged.saturating_add(bytes);
        if rate != self.rate {
            self.rate = rate;
            self.full_at = None;
        }
        let start = self.full_at.map_or(now, |full_at| full_at.max(now));
        let full_at = start
            .checked_add(transfer_time(bytes, rate))
            .unwrap_or(start);
        self.full_at = Some(full_at);
        full_at
            .checked_sub(transfer_time(burst, rate))
            .map_or(now, |leave| leave.max(now))
    }
}

impl Bucket {
    /// Bytes reserved over the bucket's life (whatever the rates were).
    pub(crate) fn charged(&self) -> u64 {
        self.charged
    }
}

/// How long `bytes` take at `rate` bytes per second.
pub(crate) fn transfer_time(bytes: u64, rate: u64) -> Duration {
    let nanos = u128::from(bytes) * 1_000_000_000 / u128::from(rate.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn a_burst_goes_at_once_then_the_rate_holds() {
        let t0 = Instant::now();
        let mut bucket = Bucket::default();
        // 128 KiB fit the burst: no wait.
        assert_eq!(bucket.reserve(t0, 128 << 10, MIB, 128 << 10), t0);
        // The next KiB waits for its own drain time.
        let next = bucket.reserve(t0, 1024, MIB, 128 << 10);
        assert_eq!(next - t0, transfer_time(1024, MIB));
        assert_eq!(bucket.charged(), (128 << 10) + 1024);
    }

    #[test]
    fn a_frame_larger_than_the_burst_goes_once_drained() {
        let t0 = Instant::now();
        let mut bucket = Bucket::default();
        let leave = bucket.reserve(t0, MIB, 8 * MIB, 256 << 10);
        // 768 KiB beyond the burst at 8 MiB/s: 93.75 ms.
        assert_eq!(leave - t0, Duration::from_micros(93_750));
    }

    #[test]
    fn the_long_run_rate_is_within_two_percent() {
        let t0 = Instant::now();
        let mut bucket = Bucket::default();
        let rate = 8 * MIB;
        let mut last = t0;
        let frames = 1000u64;
        for _ in 0..frames {
            // Each frame is queued as soon as the previous one left.
            last = bucket.reserve(last, 64 << 10, rate, 256 << 10);
        }
        let seconds = (last - t0).as_secs_f64();
        let achieved = (frames * (64 << 10)) as f64 / seconds;
        assert!((achieved / rate as f64 - 1.0).abs() < 0.02, "{achieved}");
    }

    #[test]
    fn an_idle_bucket_refills_and_a_new_rate_restarts_it() {
        let t0 = Instant::now();
        let mut bucket = Bucket::default();
        let _ = bucket.reserve(t0, 4 * MIB, MIB, 0);
        let later = t0 + Duration::from_secs(10);
        assert_eq!(bucket.reserve(later, 1024, MIB, 4096), later);
        // Deep in debt at 1 B/s; a new rate forgets it.
        let _ = bucket.reserve(later, MIB, 1, 0);
        assert_eq!(bucket.reserve(later, 1024, MIB, 4096), later);
    }

    #[test]
    fn extreme_values_do_not_panic() {
        let t0 = Instant::now();
        let mut bucket = Bucket::default();
        let _ = bucket.reserve(t0, u64::MAX, 0, u64::MAX);
        let _ = bucket.reserve(t0, u64::MAX, 1, 0);
        let _ = bucket.reserve(t0, u64::MAX, 1, 0);
    }
}
