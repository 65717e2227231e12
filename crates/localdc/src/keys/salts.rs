//! A key's salts as a seed that rebuilds them, so a state dir can save and restore them.

use mtproto::session::{SaltSchedule, UnixTime};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Salt rotations replayed at most when a saved key is loaded.
const MAX_SALT_EPOCH: u64 = 1 << 20;

/// A key's salts as a seed that rebuilds them: the schedule itself keeps its secret, so
/// this is what a state dir saves.
#[derive(Clone)]
pub(super) struct SaltState {
    pub(super) seed: [u8; 32],
    pub(super) epoch: u64,
    pub(super) period: u64,
    /// The handshake's salt and the second until which it is accepted.
    pub(super) initial: Option<(i64, u64)>,
    pub(super) schedule: SaltSchedule,
}

impl SaltState {
    pub(super) fn new(
        seed: [u8; 32],
        epoch: u64,
        period: u64,
        initial: Option<(i64, u64)>,
    ) -> Self {
        let period = period.max(1);
        let epoch = epoch.min(MAX_SALT_EPOCH);
        let mut schedule = SaltSchedule::new(&mut StdRng::from_seed(seed)).with_period(period);
        if let Some((salt, until)) = initial {
            schedule =
                schedule.with_initial_salt(salt, UnixTime::from_secs(until.saturating_sub(period)));
        }
        for _ in 0..epoch {
            schedule.rotate();
        }
        Self {
            seed,
            epoch,
            period,
            initial: if epoch == 0 { initial } else { None },
            schedule,
        }
    }

    pub(super) fn rotate(&mut self) {
        self.epoch = self.epoch.saturating_add(1);
        self.initial = None;
        self.schedule.rotate();
    }
}
