//! The WAN state of one connection's writer: its delay line, its buckets and when it is
//! dropped. Pure bookkeeping over instants handed in; the writer does the waiting.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;

use super::{Account, Bucket, MAX_RTT, Wan, WanSettings};
use crate::sync::lock;

/// Frames a delay line holds at most; the writer stops taking frames beyond (and the
/// connection feels the backpressure it always does).
pub(crate) const MAX_LINE_FRAMES: usize = 8192;
/// Bytes a delay line holds at most: enough for a fast link with a long RTT (at 300 ms,
/// over 200 MiB/s), bounded like the answers a connection may have pending anyway.
pub(crate) const MAX_LINE_BYTES: u64 = 64 << 20;
/// How long a key's account is trusted before asking the resolver again (a login on the
/// key is noticed within this time).
const RESOLVE_EVERY: Duration = Duration::from_millis(250);

struct Queued<T> {
    due: Instant,
    bytes: u64,
    item: T,
}

/// The account bucket of the last key seen.
struct AccountSlot {
    key_id: u64,
    account: Account,
    bucket: Arc<Mutex<Bucket>>,
    resolved_at: Instant,
}

/// One connection's WAN state, over items `T` (the writer's frames).
pub(crate) struct Shaper<'a, T> {
    wan: &'a Wan,
    dc_id: i32,
    /// The connection's number on the DC (for the drop RNG).
    index: u64,
    rx: watch::Receiver<WanSettings>,
    settings: WanSettings,
    line: VecDeque<Queued<T>>,
    line_bytes: u64,
    last_due: Option<Instant>,
    conn: Bucket,
    account: Option<AccountSlot>,
    rng: Option<StdRng>,
    drop_at: Option<Instant>,
}

impl<T> std::fmt::Debug for Shaper<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shaper")
            .field("index", &self.index)
            .field("queued", &self.line.len())
            .field("drop_at", &self.drop_at)
            .finish_non_exhaustive()
    }
}

impl<'a, T> Shaper<'a, T> {
    /// The state of a new connection of DC `dc_id` under `wan`, now.
    pub(crate) fn new(wan: &'a Wan, dc_id: i32) -> Self {
        Self::new_at(wan, dc_id, Instant::now())
    }

    /// The state of a new connection of DC `dc_id` under `wan`, made at `now` (its first
    /// drop is drawn from then).
    fn new_at(wan: &'a Wan, dc_id: i32, now: Instant) -> Self {
        let mut rx = wan.subscribe();
        let settings = rx.borrow_and_update().clone();
        let mut shaper = Self {
            wan,
            dc_id,
            index: wan.next_connection(),
            rx,
            settings,
            line: VecDeque::new(),
            line_bytes: 0,
            last_due: None,
            conn: Bucket::default(),
            account: None,
            rng: None,
            drop_at: None,
        };
        if !shaper.settings.drop_rate.is_never() {
            shaper.schedule_drop(now);
        }
        shaper
    }

    /// Takes in changed settings, if any (a cheap check: one atomic load).
    pub(crate) fn refresh(&mut self) {
        self.refresh_at(Instant::now());
    }

    /// Takes in settings changed by `now`, if any: a drop is drawn afresh from `now`.
    fn refresh_at(&mut self, now: Instant) {
        if !self.rx.has_changed().unwrap_or(false) {
            return;
        }
        let settings = self.rx.borrow_and_update().clone();
        let drops_changed =
            settings.drop_rate != self.settings.drop_rate || settings.seed != self.settings.seed;
        if settings.seed != self.settings.seed {
            self.rng = None;
        }
        self.settings = settings;
        if drops_changed {
            // Exponential times are memoryless: drawing afresh from now is exact.
            self.schedule_drop(now);
        }
    }

    /// Whether a frame may be written at once, untouched (nothing shaped, nothing waiting).
    pub(crate) fn bypass(&self) -> bool {
        self.line.is_empty() && !self.settings.shapes()
    }

    /// Whether the delay line takes more frames.
    pub(crate) fn accepting(&self) -> bool {
        self.line.len() < MAX_LINE_FRAMES && self.line_bytes < MAX_LINE_BYTES
    }

    /// Queues `item` of `bytes` bytes at `now`, spending the buckets (the account's when
    /// the item is under auth key `key_id`).
    pub(crate) fn push(&mut self, now: Instant, bytes: u64, key_id: Option<u64>, item: T) {
        let burst = self.settings.burst;
        let mut leave = now;
        if let Some(rate) = self.settings.conn_rate {
            leave = leave.max(self.conn.reserve(now, bytes, rate, burst));
        }
        if let (Some(rate), Some(key_id)) = (self.settings.account_rate, key_id) {
            let bucket = self.account_bucket(now, key_id);
            leave = leave.max(lock(&bucket).reserve(now, bytes, rate, burst));
        }
        let rtt = self.settings.rtt.min(MAX_RTT);
        let mut due = leave.checked_add(rtt).unwrap_or(leave);
        // Frames leave in order, whatever the settings did meanwhile.
        if let Some(last) = self.last_due {
            due = due.max(last);
        }
        self.last_due = Some(due);
        self.wan.count_delayed(bytes);
        self.line_bytes = self.line_bytes.saturating_add(bytes);
        self.line.push_back(Queued { due, bytes, item });
    }

    /// When the first queued frame is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.line.front().map(|queued| queued.due)
    }

    /// The first queued frame, if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<T> {
        if self.line.front()?.due > now {
            return None;
        }
        let queued = self.line.pop_front()?;
        self.line_bytes = self.line_bytes.saturating_sub(queued.bytes);
        Some(queued.item)
    }

    /// When the connection is to be dropped.
    pub(crate) fn drop_at(&self) -> Option<Instant> {
        self.drop_at
    }

    fn account_bucket(&mut self, now: Instant, key_id: u64) -> Arc<Mutex<Bucket>> {
        if let Some(slot) = &self.account
            && slot.key_id == key_id
            && now.saturating_duration_since(slot.resolved_at) < RESOLVE_EVERY
        {
            return Arc::clone(&slot.bucket);
        }
        let account = self.wan.account_of(key_id);
        let bucket = match &self.account {
            Some(slot) if slot.account == account => Arc::clone(&slot.bucket),
            _ => self.wan.account_bucket(account),
        };
        self.account = Some(AccountSlot {
            key_id,
            account,
            bucket: Arc::clone(&bucket),
            resolved_at: now,
        });
        bucket
    }

    /// Draws the time to the next drop from `now` (none when drops are off).
    fn schedule_drop(&mut self, now: Instant) {
        let rate = self.settings.drop_rate;
        if rate.is_never() {
            self.drop_at = None;
            return;
        }
        let seed = connection_seed(self.settings.seed, self.dc_id, self.index);
        let rng = self.rng.get_or_insert_with(|| StdRng::seed_from_u64(seed));
        let uniform: f64 = rng.r#gen();
        let seconds = -(1.0 - uniform).ln() / rate.per_sec();
        self.drop_at = Duration::try_from_secs_f64(seconds)
            .ok()
            .and_then(|after| now.checked_add(after));
    }
}

/// The drop RNG's seed of connection `index` of DC `dc_id`.
fn connection_seed(seed: u64, dc_id: i32, index: u64) -> u64 {
    let dc = u64::from(dc_id.unsigned_abs());
    // SplitMix64's finalizer spreads neighbouring connections apart.
    let mut x = seed ^ (dc << 48) ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wan::{DropRate, WanCounts, WanProfile};

    const MIB: u64 = 1 << 20;

    #[test]
    fn lan_bypasses_everything() {
        let wan = Wan::new(&WanSettings::default());
        let shaper: Shaper<'_, u32> = Shaper::new(&wan, 2);
        assert!(shaper.bypass());
        assert_eq!(shaper.drop_at(), None);
    }

    #[test]
    fn rtt_delays_every_frame_without_serializing_them() {
        let wan = Wan::new(&WanSettings {
            rtt: Duration::from_millis(100),
            ..WanSettings::default()
        });
        let mut shaper = Shaper::new(&wan, 2);
        assert!(!shaper.bypass());
        let t0 = Instant::now();
        for i in 0..10u32 {
            shaper.push(t0 + Duration::from_millis(u64::from(i)), 100, None, i);
        }
        assert_eq!(shaper.next_due(), Some(t0 + Duration::from_millis(100)));
        assert_eq!(shaper.pop_due(t0 + Duration::from_millis(99)), None);
        let all: Vec<u32> =
            std::iter::from_fn(|| shaper.pop_due(t0 + Duration::from_millis(109))).collect();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(
            wan.counts(),
            WanCounts {
                delayed_frames: 10,
                delayed_bytes: 1000
            }
        );
    }

    #[test]
    fn shaping_spaces_frames_by_the_rate() {
        let wan = Wan::new(&WanSettings {
            conn_rate: Some(MIB),
            burst: 0,
            ..WanSettings::default()
        });
        let mut shaper = Shaper::new(&wan, 2);
        let t0 = Instant::now();
        for i in 0..4u32 {
            shaper.push(t0, 256 << 10, None, i);
        }
        let mut dues = Vec::new();
        while let Some(due) = shaper.next_due() {
            dues.push(due - t0);
            shaper.pop_due(due);
        }
        assert_eq!(
            dues,
            [250, 500, 750, 1000].map(Duration::from_millis).to_vec()
        );
    }

    #[test]
    fn connections_of_one_account_share_its_bucket() {
        let wan = Wan::new(&WanSettings {
            account_rate: Some(MIB),
            burst: 0,
            ..WanSettings::default()
        });
        wan.set_account_resolver(|_| Some(42));
        let mut a = Shaper::new(&wan, 2);
        let mut b = Shaper::new(&wan, 2);
        let t0 = Instant::now();
        a.push(t0, 512 << 10, Some(1), ());
        b.push(t0, 512 << 10, Some(2), ());
        assert_eq!(a.next_due(), Some(t0 + Duration::from_millis(500)));
        assert_eq!(b.next_due(), Some(t0 + Duration::from_secs(1)));
        // Handshake frames (no key) are not the account's.
        let mut c = Shaper::new(&wan, 2);
        c.push(t0, 512 << 10, None, ());
        assert_eq!(c.next_due(), Some(t0));
        // Without a resolver each key is an account.
        wan.clear_account_resolver();
        let mut d = Shaper::new(&wan, 2);
        d.push(t0, 512 << 10, Some(3), ());
        assert_eq!(d.next_due(), Some(t0 + Duration::from_millis(500)));
    }

    #[test]
    fn settings_changes_apply_to_later_frames_in_order() {
        let wan = Wan::new(&WanProfile::Wan.settings());
        let mut shaper = Shaper::new(&wan, 2);
        let t0 = Instant::now();
        shaper.push(t0, 100, None, 1);
        wan.set(&WanSettings::default());
        shaper.refresh();
        // Lan now, but a frame is still in the line: it goes after it.
        assert!(!shaper.bypass());
        shaper.push(t0, 100, None, 2);
        assert_eq!(shaper.pop_due(t0), None);
        let later = t0 + Duration::from_millis(100);
        assert_eq!(shaper.pop_due(later), Some(1));
        assert_eq!(shaper.pop_due(later), Some(2));
        assert!(shaper.bypass());
    }

    #[test]
    fn the_line_is_bounded() {
        let wan = Wan::new(&WanSettings {
            rtt: Duration::from_secs(1),
            ..WanSettings::default()
        });
        let mut shaper = Shaper::new(&wan, 2);
        let t0 = Instant::now();
        while shaper.accepting() {
            shaper.push(t0, MIB, None, ());
        }
        assert_eq!(shaper.line.len() as u64, MAX_LINE_BYTES / MIB);
    }

    fn drop_delays(seed: u64, connections: usize) -> Vec<Option<Duration>> {
        let wan = Wan::new(&WanSettings {
            drop_rate: DropRate::per_second(1.0).unwrap(),
            seed,
            ..WanSettings::default()
        });
        let t0 = Instant::now();
        (0..connections)
            .map(|_| {
                let shaper: Shaper<'_, ()> = Shaper::new_at(&wan, 2, t0);
                shaper.drop_at().map(|at| at - t0)
            })
            .collect()
    }

    #[test]
    fn drops_are_seeded_independent_and_at_the_rate() {
        let first = drop_delays(7, 2000);
        assert_eq!(first, drop_delays(7, 2000));
        assert_ne!(first, drop_delays(8, 2000));
        let mean = first.iter().map(|d| d.unwrap().as_secs_f64()).sum::<f64>() / 2000.0;
        // One drop a second: a mean of one second, give or take sampling noise.
        assert!((0.9..1.1).contains(&mean), "{mean}");
        // Connections differ from one another.
        assert_ne!(first[0], first[1]);
    }

    #[test]
    fn turning_drops_on_schedules_one_from_then() {
        let wan = Wan::new(&WanSettings::default());
        let t0 = Instant::now();
        let mut shaper: Shaper<'_, ()> = Shaper::new_at(&wan, 2, t0);
        assert_eq!(shaper.drop_at(), None);
        wan.set_drop_rate(DropRate::per_second(1000.0).unwrap());
        let later = t0 + Duration::from_mins(1);
        shaper.refresh_at(later);
        assert!(shaper.drop_at().is_some_and(|at| at >= later));
        // Unchanged settings draw nothing new.
        let drawn = shaper.drop_at();
        shaper.refresh_at(later + Duration::from_mins(1));
        assert_eq!(shaper.drop_at(), drawn);
        wan.set_drop_rate(DropRate::NEVER);
        shaper.refresh_at(later);
        assert_eq!(shaper.drop_at(), None);
    }
}
