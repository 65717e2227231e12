//! What a sender is told: where to connect, which keys to trust, how to keep the link alive.

use std::time::Duration;

use mtcrypto::{AuthKey, RsaPublicKey};

use crate::connect::Endpoint;
use crate::handshake::DEFAULT_HANDSHAKE_TIMEOUT;

/// How to reach one DC and keep a connection to it.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// The ways to reach the DC, in order of preference (e.g. obfuscated TCP, then
    /// WebSocket). When one fails to connect or to complete the handshake, the next is
    /// tried; the one that worked is tried first next time.
    pub endpoints: Vec<Endpoint>,
    /// The DC id sent in `p_q_inner_data_dc` when a key is made.
    pub dc_id: i32,
    /// The server keys trusted for a new auth key.
    pub rsa_keys: Vec<RsaPublicKey>,
    /// How often to ping. The server is asked to close the connection if no ping follows
    /// within `ping_interval + pong_timeout`, so a dead client does not linger there.
    pub ping_interval: Duration,
    /// A ping not answered within this long means the connection stalled: it is replaced.
    pub pong_timeout: Duration,
    /// The limit for [`Sender::invoke`](super::Sender::invoke).
    pub request_timeout: Duration,
    /// Limit on making a new auth key.
    pub handshake_timeout: Duration,
    /// Waiting between reconnection attempts.
    pub backoff: Backoff,
    /// Put an `updatesTooLong` in the updates channel when pushed updates may have been
    /// lost (after a reconnect, or when the server starts a new session after the first),
    /// so that an application keeping update state fetches the difference. Off by default:
    /// the channel then carries only what the server pushed.
    pub report_lost_updates: bool,
}

impl SenderConfig {
    /// Defaults for reaching DC `dc_id` through `endpoints` with `rsa_keys`.
    pub fn new(endpoints: Vec<Endpoint>, dc_id: i32, rsa_keys: Vec<RsaPublicKey>) -> Self {
        Self {
            endpoints,
            dc_id,
            rsa_keys,
            ping_interval: Duration::from_secs(15),
            pong_timeout: Duration::from_secs(20),
            request_timeout: Duration::from_mins(1),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            backoff: Backoff::default(),
            report_lost_updates: false,
        }
    }
}

/// Exponential backoff with jitter between reconnection attempts.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    /// Each wait is drawn uniformly from `[wait * (1 - jitter), wait]`, so that many clients
    /// cut off together do not come back together.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(15),
            jitter: 0.3,
        }
    }
}

impl Backoff {
    /// The wait before attempt `attempt` (0-based), given a uniform random `unit` in [0, 1).
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let doubled = self
            .initial
            .saturating_mul(1u32.checked_shl(attempt.min(30)).unwrap_or(u32::MAX));
        let capped = doubled.min(self.max);
        capped.mul_f64(1.0 - self.jitter.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0))
    }
}

/// An auth key with what the session learned about it: enough to resume later without a
/// new handshake.
#[derive(Debug, Clone)]
pub struct AuthState {
    pub auth_key: AuthKey,
    /// The server salt in use.
    pub salt: i64,
    /// Server clock minus local clock, in seconds.
    pub time_offset: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_bounded_jitter() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            jitter: 0.5,
        };
        assert_eq!(backoff.delay(0, 0.0), Duration::from_millis(100));
        assert_eq!(backoff.delay(3, 0.0), Duration::from_millis(800));
        assert_eq!(backoff.delay(4, 0.0), Duration::from_secs(1));
        assert_eq!(backoff.delay(1000, 0.0), Duration::from_secs(1));
        assert_eq!(backoff.delay(0, 0.999_999).as_millis(), 50);
    }
}
