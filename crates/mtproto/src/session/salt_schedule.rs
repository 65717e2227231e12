//! The server's salts for one auth key. Time is cut into periods (30 minutes by default); each
//! period has its own salt, derived from a secret so that the schedule needs no storage and
//! no upkeep. A salt is accepted during its period and the next one (the overlap lets clients
//! switch late), and `future_salts` announces the coming ones.

use mtcrypto::CryptoRngCore;
use mtcrypto::hash::sha256_concat;
use tl_types::mtproto::types::FutureSalt;

use super::time::UnixTime;

/// The default period of one salt, in seconds.
pub const DEFAULT_SALT_PERIOD: u64 = 30 * 60;
/// The most salts one `get_future_salts` answer lists.
pub const MAX_FUTURE_SALTS: usize = 64;

/// Salts by time for one auth key, shared by all its sessions.
#[derive(Clone)]
pub struct SaltSchedule {
    secret: [u8; 32],
    /// Bumped by [`rotate`](Self::rotate): every salt changes at once.
    epoch: u64,
    period: u64,
    /// The salt the handshake gave the client, accepted until the given second.
    initial: Option<(i64, u64)>,
}

impl std::fmt::Debug for SaltSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret stays out of logs.
        f.debug_struct("SaltSchedule")
            .field("epoch", &self.epoch)
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

impl SaltSchedule {
    /// A schedule with a fresh secret and [`DEFAULT_SALT_PERIOD`].
    pub fn new(rng: &mut impl CryptoRngCore) -> Self {
        let mut secret = [0; 32];
        rng.fill_bytes(&mut secret);
        Self {
            secret,
            epoch: 0,
            period: DEFAULT_SALT_PERIOD,
            initial: None,
        }
    }

    /// Salts that change every `secs` seconds (at least one).
    #[must_use]
    pub fn with_period(mut self, secs: u64) -> Self {
        self.period = secs.max(1);
        self
    }

    /// Also accepts the handshake's salt (`new_nonce[0..8] ^ server_nonce[0..8]`) for one
    /// period from `now`, as the client starts with it.
    #[must_use]
    pub fn with_initial_salt(mut self, salt: i64, now: UnixTime) -> Self {
        self.initial = Some((salt, now.as_secs().saturating_add(self.period)));
        self
    }

    /// The salt to use now.
    pub fn current(&self, now: UnixTime) -> i64 {
        self.salt_of(self.period_of(now))
    }

    /// Whether a client may use `salt` now: the current salt, the previous period's one, or
    /// the handshake's while it lasts.
    pub fn accepts(&self, salt: i64, now: UnixTime) -> bool {
        let period = self.period_of(now);
        salt == self.salt_of(period)
            || (period > 0 && salt == self.salt_of(period - 1))
            || self
                .initial
                .is_some_and(|(initial, until)| initial == salt && now.as_secs() < until)
    }

    /// The next `count` salts (at most [`MAX_FUTURE_SALTS`]) starting with the current one,
    /// as `get_future_salts` answers. Each is valid from the start of its period to the end
    /// of the next, as [`accepts`](Self::accepts) allows.
    pub fn future_salts(&self, now: UnixTime, count: usize) -> Vec<FutureSalt> {
        let first = self.period_of(now);
        (0..count.clamp(1, MAX_FUTURE_SALTS) as u64)
            .map(|i| {
                let period = first.saturating_add(i);
                let since = period.saturating_mul(self.period);
                FutureSalt {
                    valid_since: clamp_i32(since),
                    valid_until: clamp_i32(since.saturating_add(2 * self.period)),
                    salt: self.salt_of(period),
                }
            })
            .collect()
    }

    /// Replaces every salt at once, the handshake's included: no salt given out before is
    /// accepted any more (fault injection, and what a server that lost its salts does).
    pub fn rotate(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        self.initial = None;
    }

    fn period_of(&self, now: UnixTime) -> u64 {
        now.as_secs() / self.period
    }

    fn salt_of(&self, period: u64) -> i64 {
        let digest = sha256_concat(&[
            &self.secret,
            &self.epoch.to_le_bytes(),
            &period.to_le_bytes(),
        ]);
        let mut salt = [0; 8];
        salt.copy_from_slice(digest.first_chunk::<8>().unwrap_or(&[0; 8]));
        i64::from_le_bytes(salt)
    }
}

fn clamp_i32(secs: u64) -> i32 {
    i32::try_from(secs).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;

    const T0: u64 = 1_700_000_000;

    fn schedule() -> SaltSchedule {
        SaltSchedule::new(&mut ChaCha20Rng::seed_from_u64(7))
    }

    #[test]
    fn salts_change_by_period_with_overlap() {
        let salts = schedule();
        let now = UnixTime::from_secs(T0 - T0 % DEFAULT_SALT_PERIOD);
        let current = salts.current(now);
        assert_eq!(
            salts.current(UnixTime::from_secs(now.as_secs() + 1799)),
            current
        );
        let next_period = UnixTime::from_secs(now.as_secs() + DEFAULT_SALT_PERIOD);
        let next = salts.current(next_period);
        assert_ne!(next, current);
        assert!(salts.accepts(current, now));
        assert!(
            salts.accepts(current, next_period),
            "previous salt still good"
        );
        assert!(salts.accepts(next, next_period));
        let later = UnixTime::from_secs(now.as_secs() + 2 * DEFAULT_SALT_PERIOD);
        assert!(!salts.accepts(current, later));
        assert!(!salts.accepts(next, now), "not before its time");
    }

    #[test]
    fn future_salts_agree_with_acceptance() {
        let salts = schedule().with_period(60);
        let now = UnixTime::from_secs(T0);
        let future = salts.future_salts(now, 5);
        assert_eq!(future.len(), 5);
        assert_eq!(future[0].salt, salts.current(now));
        for salt in &future {
            let since = UnixTime::from_secs(salt.valid_since as u64);
            let last = UnixTime::from_secs(salt.valid_until as u64 - 1);
            assert!(salts.accepts(salt.salt, since));
            assert!(salts.accepts(salt.salt, last));
            assert!(!salts.accepts(salt.salt, UnixTime::from_secs(salt.valid_until as u64)));
        }
        assert_eq!(salts.future_salts(now, 1000).len(), MAX_FUTURE_SALTS);
        assert_eq!(salts.future_salts(now, 0).len(), 1);
    }

    #[test]
    fn initial_salt_and_rotation() {
        let now = UnixTime::from_secs(T0);
        let mut salts = schedule().with_initial_salt(0x5a5a, now);
        assert!(salts.accepts(0x5a5a, now));
        assert!(!salts.accepts(0x5a5a, UnixTime::from_secs(T0 + DEFAULT_SALT_PERIOD)));
        let before = salts.current(now);
        salts.rotate();
        assert_ne!(salts.current(now), before);
        assert!(!salts.accepts(before, now));
        assert!(!salts.accepts(0x5a5a, now));
        // Another schedule has other salts.
        let other = SaltSchedule::new(&mut ChaCha20Rng::seed_from_u64(8));
        assert_ne!(other.current(now), schedule().current(now));
        assert!(!format!("{salts:?}").contains("secret"));
    }
}
