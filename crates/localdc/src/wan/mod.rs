//! WAN emulation: added round-trip time, bandwidth per connection and per account, and
//! random connection drops, applied on the server's side of every connection so that any
//! client (tgdl, Telethon, GramJS) sees a slow or flaky network without a proxy.
//!
//! Everything acts on what the server *sends*, in the writer task of each connection, the
//! one place every server->client byte passes through (TCP in every framing, obfuscated or
//! not, WebSocket, MTProxy, and the responses of MTProto over HTTP):
//!
//! - **RTT**: the whole round-trip time is added to the server->client direction. A frame
//!   queued at `t` is written at `t + rtt` (after shaping, below) while later frames keep
//!   flowing: the writer keeps a delay line of timestamped frames, not a sleep per frame,
//!   so RTT never caps throughput. A request therefore takes at least one RTT to be
//!   answered, as over a real link; requests themselves are not delayed.
//! - **Bandwidth**: token buckets on the bytes written, one per connection and one per
//!   account shared by all of the account's connections on the DC. A frame leaves when
//!   both buckets have the tokens for all of its bytes (the time its last byte would cross
//!   a link of that rate); buckets hold [`WanSettings::burst`] bytes, so short exchanges are
//!   not slowed, and a frame larger than the burst still goes, once its bytes have drained.
//!   The account of a connection is the user logged in on the auth key of the packet being
//!   sent, as told by the [account resolver](Wan::set_account_resolver) (the world's
//!   logins; `localdc --fixture` installs it); without a resolver, or before login, the
//!   account is the auth key itself. Handshake packets (no key yet) are shaped by the
//!   connection bucket only. Account buckets are per DC.
//! - **Drops**: each connection is dropped after an exponentially distributed time, at
//!   [`WanSettings::drop_rate`] drops per connection-minute, independently of the others;
//!   the times come from an RNG seeded with [`WanSettings::seed`], the DC and the
//!   connection's number on the DC, so the same seed and the same connection order give
//!   the same run. A dropped connection closes abruptly, with no transport error:
//!   `SO_LINGER` 0 is set on its socket, so bytes still queued in the kernel are discarded
//!   and the final close is a reset. (The transport's write half still sends a FIN as it
//!   is dropped, so a client usually reads end-of-stream first; a RST-only drop would
//!   need mtnet's write half to skip that shutdown.)
//!
//! With the `lan` profile (the default) nothing is shaped and the writer writes each frame
//! as it comes: no timer, no task, no clock read per frame. Settings are live: a change
//! applies to frames queued after it (frames already in a delay line keep their times).

mod bucket;
mod reset;
pub(crate) mod shaper;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use tokio::sync::watch;

pub(crate) use bucket::Bucket;
pub(crate) use reset::ResetHandle;

use crate::sync::lock;

/// The default bucket size: enough for a few small answers at once, small next to the
/// bytes a download moves, so the long-run rate holds.
pub const DEFAULT_BURST: u64 = 128 << 10;
/// The largest RTT applied; larger settings are cut to it.
pub const MAX_RTT: Duration = Duration::from_mins(1);

/// Why a WAN setting is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WanError {
    #[error("unknown WAN profile {0:?} (expected lan, wan or mobile)")]
    UnknownProfile(String),
    #[error("{0:?} is not a drop rate (a non-negative number, e.g. 0.02 or 2%)")]
    BadDropRate(String),
    #[error("{0:?} is not a rate (bytes per second: 8M, 512K, 1000; 0 or off for none)")]
    BadRate(String),
}

/// Named sets of WAN settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WanProfile {
    /// No limits (the default).
    #[default]
    Lan,
    /// 100 ms RTT, 8 MiB/s per connection, 64 MiB/s per account.
    Wan,
    /// 300 ms RTT, 1 MiB/s per connection, 2% of connections dropped per minute.
    Mobile,
}

impl WanProfile {
    /// Every profile.
    pub const ALL: [WanProfile; 3] = [WanProfile::Lan, WanProfile::Wan, WanProfile::Mobile];

    /// The profile's settings (seed 0, burst [`DEFAULT_BURST`]).
    pub fn settings(self) -> WanSettings {
        match self {
            WanProfile::Lan => WanSettings::default(),
            WanProfile::Wan => WanSettings {
                rtt: Duration::from_millis(100),
                conn_rate: Some(8 << 20),
                account_rate: Some(64 << 20),
                ..WanSettings::default()
            },
            WanProfile::Mobile => WanSettings {
                rtt: Duration::from_millis(300),
                conn_rate: Some(1 << 20),
                drop_rate: DropRate::from_fraction(0.02),
                ..WanSettings::default()
            },
        }
    }

    /// The profile's name.
    pub fn name(self) -> &'static str {
        match self {
            WanProfile::Lan => "lan",
            WanProfile::Wan => "wan",
            WanProfile::Mobile => "mobile",
        }
    }
}

impl fmt::Display for WanProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for WanProfile {
    type Err = WanError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|profile| profile.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| WanError::UnknownProfile(text.to_owned()))
    }
}

/// Random drops: the expected number of drops per connection per minute. For small
/// values this is the fraction of connections dropped each minute (0.02: 2%); tests use
/// large ones (120: about two drops a second).
#[derive(Debug, Clone, Copy, Default)]
pub struct DropRate(f64);

impl DropRate {
    /// No drops.
    pub const NEVER: DropRate = DropRate(0.0);

    /// `per_minute` drops per connection-minute; `None` for a negative or non-finite value.
    pub fn per_minute(per_minute: f64) -> Option<Self> {
        (per_minute.is_finite() && per_minute >= 0.0).then_some(Self(per_minute))
    }

    /// `per_second` drops per connection-second.
    pub fn per_second(per_second: f64) -> Option<Self> {
        Self::per_minute(per_second * 60.0)
    }

    /// For profiles: a constant known to be valid.
    const fn from_fraction(per_minute: f64) -> Self {
        Self(per_minute)
    }

    /// Drops per connection-minute.
    pub fn as_per_minute(self) -> f64 {
        self.0
    }

    /// Whether connections are dropped at all.
    pub fn is_never(self) -> bool {
        self.0 <= 0.0
    }

    /// Drops per connection-second.
    pub(crate) fn per_sec(self) -> f64 {
        self.0 / 60.0
    }
}

impl PartialEq for DropRate {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for DropRate {}

impl FromStr for DropRate {
    type Err = WanError;

    /// `0.02`, or `2%`: drops per connection-minute.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || WanError::BadDropRate(text.to_owned());
        let trimmed = text.trim();
        let (number, scale) = match trimmed.strip_suffix('%') {
            Some(number) => (number, 0.01),
            None => (trimmed, 1.0),
        };
        let value: f64 = number.trim().parse().map_err(|_| bad())?;
        Self::per_minute(value * scale).ok_or_else(bad)
    }
}

/// The WAN knobs of a DC. The default is the `lan` profile: nothing applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WanSettings {
    /// Added to every round trip, on the server->client direction (cut at [`MAX_RTT`]).
    pub rtt: Duration,
    /// Bytes per second one connection receives at most.
    pub conn_rate: Option<u64>,
    /// Bytes per second all connections of one account receive together at most.
    pub account_rate: Option<u64>,
    /// Bytes each bucket holds: what may go at once after a quiet moment.
    pub burst: u64,
    /// Random connection drops.
    pub drop_rate: DropRate,
    /// Seeds the drop times.
    pub seed: u64,
}

impl Default for WanSettings {
    fn default() -> Self {
        Self {
            rtt: Duration::ZERO,
            conn_rate: None,
            account_rate: None,
            burst: DEFAULT_BURST,
            drop_rate: DropRate::NEVER,
            seed: 0,
        }
    }
}

impl WanSettings {
    /// The settings of `profile`.
    pub fn profile(profile: WanProfile) -> Self {
        profile.settings()
    }

    /// Whether frames are delayed or shaped (drops aside).
    pub fn shapes(&self) -> bool {
        !self.rtt.is_zero() || self.conn_rate.is_some() || self.account_rate.is_some()
    }

    /// Whether anything at all is applied.
    pub fn is_lan(&self) -> bool {
        !self.shapes() && self.drop_rate.is_never()
    }
}

/// Parses a rate in bytes per second: `8M`, `8MiB`, `8M/s`, `512K`, `1000`; `0` or `off`
/// for no limit (`None`).
pub fn parse_rate(text: &str) -> Result<Option<u64>, WanError> {
    let bad = || WanError::BadRate(text.to_owned());
    let trimmed = text.trim();
    if trimmed.eq_ignore_ascii_case("off") || trimmed.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let trimmed = trimmed.strip_suffix("/s").unwrap_or(trimmed);
    let digits = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(bad()),
    };
    let rate = number.checked_mul(1u64 << shift).ok_or_else(bad)?;
    Ok((rate > 0).then_some(rate))
}

/// Whose bandwidth a packet spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Account {
    /// A logged-in user.
    User(i64),
    /// An auth key nobody is logged in on (or no resolver).
    Key(u64),
}

/// Tells the user logged in on an auth key of the DC.
pub type AccountResolver = Arc<dyn Fn(u64) -> Option<i64> + Send + Sync>;

/// Account buckets kept before dead ones are swept.
const SWEEP_AT: usize = 1024;

/// The live WAN knobs of one DC, shared by its connections; reached through
/// [`Faults::wan`](crate::Faults::wan).
pub struct Wan {
    settings: watch::Sender<WanSettings>,
    resolver: RwLock<Option<AccountResolver>>,
    accounts: std::sync::Mutex<HashMap<Account, Weak<std::sync::Mutex<Bucket>>>>,
    /// Connections seen, numbering them for the drop RNG.
    connections: AtomicU64,
    /// Frames queued in the delay lines of the DC's connections.
    delayed_frames: AtomicU64,
    /// Their bytes.
    delayed_bytes: AtomicU64,
}

/// What the emulation of one DC did so far: which frames it held (the shaper's arithmetic
/// decides for how long), so a test can tell that a setting took effect without timing
/// anything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WanCounts {
    /// Frames that went through a delay line (not written at once).
    pub delayed_frames: u64,
    /// Their bytes on the wire.
    pub delayed_bytes: u64,
}

impl fmt::Debug for Wan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wan")
            .field("settings", &*self.settings.borrow())
            .finish_non_exhaustive()
    }
}

impl Wan {
    /// Knobs starting at `settings`.
    pub fn new(settings: &WanSettings) -> Self {
        Self {
            settings: watch::Sender::new(settings.clone()),
            resolver: RwLock::new(None),
            accounts: std::sync::Mutex::new(HashMap::new()),
            connections: AtomicU64::new(0),
            delayed_frames: AtomicU64::new(0),
            delayed_bytes: AtomicU64::new(0),
        }
    }

    /// What the emulation did so far on this DC.
    pub fn counts(&self) -> WanCounts {
        WanCounts {
            delayed_frames: self.delayed_frames.load(Ordering::Relaxed),
            delayed_bytes: self.delayed_bytes.load(Ordering::Relaxed),
        }
    }

    /// Bytes charged so far to the bucket `account` shares with its connections (0 when
    /// no connection of the account holds one now).
    pub fn account_bytes(&self, account: Account) -> u64 {
        let bucket = lock(&self.accounts).get(&account).and_then(Weak::upgrade);
        bucket.map_or(0, |bucket| lock(&bucket).charged())
    }

    /// Counts a frame queued in a delay line.
    pub(crate) fn count_delayed(&self, bytes: u64) {
        self.delayed_frames.fetch_add(1, Ordering::Relaxed);
        self.delayed_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The settings now.
    pub fn settings(&self) -> WanSettings {
        self.settings.borrow().clone()
    }

    /// Replaces every setting.
    pub fn set(&self, settings: &WanSettings) {
        self.settings.send_if_modified(|current| {
            let changed = current != settings;
            if changed {
                current.clone_from(settings);
            }
            changed
        });
    }

    /// Switches to `profile`, keeping the seed.
    pub fn set_profile(&self, profile: WanProfile) {
        self.modify(|settings| {
            *settings = WanSettings {
                seed: settings.seed,
                ..profile.settings()
            };
        });
    }

    /// Changes some settings.
    pub fn modify(&self, change: impl FnOnce(&mut WanSettings)) {
        self.settings.send_modify(change);
    }

    /// See [`WanSettings::rtt`].
    pub fn set_rtt(&self, rtt: Duration) {
        self.modify(|settings| settings.rtt = rtt);
    }

    /// See [`WanSettings::conn_rate`].
    pub fn set_conn_rate(&self, bytes_per_second: Option<u64>) {
        self.modify(|settings| settings.conn_rate = bytes_per_second);
    }

    /// See [`WanSettings::account_rate`].
    pub fn set_account_rate(&self, bytes_per_second: Option<u64>) {
        self.modify(|settings| settings.account_rate = bytes_per_second);
    }

    /// See [`WanSettings::burst`].
    pub fn set_burst(&self, bytes: u64) {
        self.modify(|settings| settings.burst = bytes);
    }

    /// See [`WanSettings::drop_rate`].
    pub fn set_drop_rate(&self, rate: DropRate) {
        self.modify(|settings| settings.drop_rate = rate);
    }

    /// Tells which user is logged in on an auth key (by key id), for the account buckets.
    pub fn set_account_resolver(
        &self,
        resolver: impl Fn(u64) -> Option<i64> + Send + Sync + 'static,
    ) {
        let resolver: AccountResolver = Arc::new(resolver);
        *self
            .resolver
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(resolver);
    }

    /// Forgets the account resolver: every auth key is an account of its own.
    pub fn clear_account_resolver(&self) {
        *self
            .resolver
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// The account spending the bandwidth of packets under `key_id`.
    pub fn account_of(&self, key_id: u64) -> Account {
        let resolver = self
            .resolver
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        resolver
            .and_then(|resolve| resolve(key_id))
            .map_or(Account::Key(key_id), Account::User)
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<WanSettings> {
        self.settings.subscribe()
    }

    /// The next connection's number on this DC.
    pub(crate) fn next_connection(&self) -> u64 {
        self.connections.fetch_add(1, Ordering::Relaxed)
    }

    /// The bucket `account` shares with its other connections.
    pub(crate) fn account_bucket(&self, account: Account) -> Arc<std::sync::Mutex<Bucket>> {
        let mut accounts = lock(&self.accounts);
        if let Some(bucket) = accounts.get(&account).and_then(Weak::upgrade) {
            return bucket;
        }
        if accounts.len() >= SWEEP_AT {
            accounts.retain(|_, bucket| bucket.strong_count() > 0);
        }
        let bucket = Arc::new(std::sync::Mutex::new(Bucket::default()));
        accounts.insert(account, Arc::downgrade(&bucket));
        bucket
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse_and_name_themselves() {
        for profile in WanProfile::ALL {
            assert_eq!(profile.name().parse::<WanProfile>(), Ok(profile));
        }
        assert_eq!("WAN".parse::<WanProfile>(), Ok(WanProfile::Wan));
        assert!("dialup".parse::<WanProfile>().is_err());
        assert!(WanProfile::Lan.settings().is_lan());
        let wan = WanProfile::Wan.settings();
        assert_eq!(wan.rtt, Duration::from_millis(100));
        assert_eq!(wan.conn_rate, Some(8 << 20));
        assert_eq!(wan.account_rate, Some(64 << 20));
        let mobile = WanProfile::Mobile.settings();
        assert_eq!(mobile.rtt, Duration::from_millis(300));
        assert_eq!(mobile.conn_rate, Some(1 << 20));
        assert_eq!(mobile.drop_rate, DropRate::per_minute(0.02).unwrap());
    }

    #[test]
    fn rates_and_drop_rates_parse() {
        assert_eq!(parse_rate("8M"), Ok(Some(8 << 20)));
        assert_eq!(parse_rate("8MiB/s"), Ok(Some(8 << 20)));
        assert_eq!(parse_rate("512k"), Ok(Some(512 << 10)));
        assert_eq!(parse_rate("1000"), Ok(Some(1000)));
        assert_eq!(parse_rate("0"), Ok(None));
        assert_eq!(parse_rate("off"), Ok(None));
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("99999999999999G").is_err());
        assert_eq!(
            "2%".parse::<DropRate>(),
            Ok(DropRate::per_minute(0.02).unwrap())
        );
        assert_eq!(
            "0.5".parse::<DropRate>(),
            Ok(DropRate::per_minute(0.5).unwrap())
        );
        assert!("-1".parse::<DropRate>().is_err());
        assert!("NaN".parse::<DropRate>().is_err());
        assert!("inf".parse::<DropRate>().is_err());
    }

    #[test]
    fn accounts_resolve_and_share_buckets() {
        let wan = Wan::new(&WanSettings::default());
        assert_eq!(wan.account_of(7), Account::Key(7));
        wan.set_account_resolver(|key| (key < 10).then_some(42));
        assert_eq!(wan.account_of(7), Account::User(42));
        assert_eq!(wan.account_of(70), Account::Key(70));
        let a = wan.account_bucket(Account::User(42));
        let b = wan.account_bucket(Account::User(42));
        assert!(Arc::ptr_eq(&a, &b));
        let c = wan.account_bucket(Account::Key(70));
        assert!(!Arc::ptr_eq(&a, &c));
        lock(&a).reserve(std::time::Instant::now(), 1000, 1 << 20, 0);
        assert_eq!(wan.account_bytes(Account::User(42)), 1000);
        assert_eq!(wan.account_bytes(Account::Key(70)), 0);
        wan.clear_account_resolver();
        assert_eq!(wan.account_of(7), Account::Key(7));
    }

    #[test]
    fn live_changes_are_seen() {
        let wan = Wan::new(&WanSettings::default());
        let mut rx = wan.subscribe();
        wan.set_profile(WanProfile::Wan);
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), WanProfile::Wan.settings());
        wan.set(&WanProfile::Wan.settings());
        assert!(!rx.has_changed().unwrap());
        wan.set_rtt(Duration::from_millis(5));
        assert_eq!(wan.settings().rtt, Duration::from_millis(5));
    }
}
