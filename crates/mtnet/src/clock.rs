//! The system clock, read in one place for the I/O layers and the local server. The sans-IO
//! crates below take time as an argument; this is where it comes from.

use std::time::{SystemTime, UNIX_EPOCH};

use mtproto::session::UnixTime;

/// Now, as the session layer takes it (the epoch if the clock is before 1970).
pub fn unix_time() -> UnixTime {
    UnixTime::from_duration(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

/// Now in unix seconds, as TL dates and the handshake's `server_time` hold them (clamped to
/// `i32::MAX`).
pub fn unix_secs() -> i32 {
    i32::try_from(unix_time().as_secs()).unwrap_or(i32::MAX)
}

/// Now on the monotonic clock, as the session layer's timers take it. Read from tokio's clock
/// so that a runtime with paused time (tests) drives every deadline.
pub fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// Sleeps until the monotonic instant `deadline` (one of the session layer's).
pub async fn sleep_until(deadline: std::time::Instant) {
    tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).await;
}
