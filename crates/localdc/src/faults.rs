//! Fault injection knobs, per DC, adjustable while the server runs.
//!
//! Connections read the knobs live (a change applies to the next packet), except the byte
//! and message budgets, which count from the start of each connection.
//!
//! Besides the settings of [`FaultSettings`], the chaos knobs act at once:
//! [`Faults::set_stall`], [`Faults::drop_mid_frame_once`], [`Faults::reset_all`],
//! [`Faults::rotate_salt`], [`Faults::bad_msg_storm`], [`Faults::set_clock_skew`],
//! [`Faults::forget_keys`], [`Faults::set_block`] and [`Faults::set_mtproxy_down`].

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mtproto::session::UnixTime;
use tokio::sync::watch;

use crate::keys::KeyStore;
use crate::quirks::Quirks;
use crate::transport::TransportInfo;
use crate::wan::{Wan, WanSettings};

/// What a DPI box in front of the DC could tell apart: the transport classes of
/// [`Faults::set_block`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportClass {
    /// MTProto straight over TCP: abridged, intermediate, padded intermediate or full,
    /// obfuscated or not (MTProxy clients included).
    Tcp,
    /// MTProto inside a WebSocket (`/apiws`).
    WebSocket,
    /// MTProto over HTTP (`POST /api`).
    Http,
}

impl TransportClass {
    /// Every class.
    pub const ALL: [TransportClass; 3] = [Self::Tcp, Self::WebSocket, Self::Http];

    /// The class of a detected connection.
    pub fn of(info: &TransportInfo) -> Self {
        if info.http {
            Self::Http
        } else if info.websocket {
            Self::WebSocket
        } else {
            Self::Tcp
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Tcp => 0,
            Self::WebSocket => 1,
            Self::Http => 2,
        }
    }
}

impl std::str::FromStr for TransportClass {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Self::Tcp),
            "websocket" | "ws" => Ok(Self::WebSocket),
            "http" => Ok(Self::Http),
            _ => Err(format!(
                "unknown transport class {text:?} (tcp, websocket, http)"
            )),
        }
    }
}

/// How connections of one [`TransportClass`] are treated (DPI emulation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Block {
    /// Served as usual.
    #[default]
    None,
    /// Closed at once, with a TCP reset, as soon as the transport is recognized.
    Refuse,
    /// Accepted and read, never answered, never closed by the server.
    Blackhole,
}

impl Block {
    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Refuse,
            2 => Self::Blackhole,
            _ => Self::None,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Refuse => 1,
            Self::Blackhole => 2,
        }
    }
}

impl std::str::FromStr for Block {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "none" | "off" => Ok(Self::None),
            "refuse" | "reset" => Ok(Self::Refuse),
            "blackhole" => Ok(Self::Blackhole),
            _ => Err(format!("unknown block {text:?} (none, refuse, blackhole)")),
        }
    }
}

/// The `bad_msg_notification` codes a [`Faults::bad_msg_storm`] cycles through.
pub const STORM_CODES: [i32; 5] = [16, 17, 32, 33, 48];

/// A snapshot of the fault knobs of one DC.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultSettings {
    /// Close each connection once it has sent this many bytes to the client: the packet
    /// that would cross the budget is cut at the budget, then the connection closes, so
    /// the client sees a truncated frame.
    pub drop_after_bytes: Option<u64>,
    /// Close each connection after it has sent this many encrypted packets.
    pub drop_after_messages: Option<u64>,
    /// Stop accepting: the listening socket is closed, so connecting is refused, until
    /// this is cleared (the same port is bound again).
    pub refuse_connections: bool,
    /// Hold every RPC answer this long before sending it (service messages are not held).
    pub response_delay: Duration,
    /// WAN emulation: added RTT, bandwidth per connection and per account, random drops
    /// (see [`crate::wan`]). The default is the `lan` profile: nothing applied.
    pub wan: WanSettings,
    /// Which reading of the spec each session follows where the docs allow several
    /// (see [`crate::quirks`]); fixed for the life of the DC.
    pub quirks: Quirks,
}

/// `u64::MAX` stands for "no limit" in the atomics.
const NONE: u64 = u64::MAX;

/// The live knobs of one DC. Shared by its listener and connections; changed through
/// [`DcHandle::faults`](crate::DcHandle::faults).
#[derive(Debug)]
pub struct Faults {
    drop_after_bytes: AtomicU64,
    drop_after_messages: AtomicU64,
    delay_micros: AtomicU64,
    refuse: watch::Sender<bool>,
    /// Bumped to close every open connection of the DC at once.
    kill: watch::Sender<u64>,
    /// WAN emulation knobs.
    wan: Wan,
    /// Connections send nothing while set (and stay mute once they have been).
    stall: AtomicBool,
    /// Bumped by [`Faults::drop_mid_frame_once`]: writers started before cut their next frame.
    mid_frame: AtomicU64,
    /// Bumped to reset every open connection of the DC at once.
    reset: watch::Sender<u64>,
    /// Encrypted client packets still to be refused by the storm.
    storm_left: AtomicU64,
    /// Packets refused by storms so far (picks the code).
    storm_count: AtomicU64,
    /// Encrypted client packets still to be answered with a -404 that forgets nothing.
    spurious_404_left: AtomicU64,
    /// Seconds added to the server's clock.
    skew_secs: AtomicI64,
    /// Bumped whenever the clock is set back.
    clock_generation: AtomicU64,
    /// [`Block`] per [`TransportClass`].
    blocks: [AtomicU8; 3],
    /// MTProxy-secret connections are refused while set.
    mtproxy_down: AtomicBool,
    quirks: Quirks,
    /// `http_wait`s refused by the quirk so far.
    refused_http_waits: AtomicU64,
    /// The DC's keys, for the salt and key knobs (attached when the DC starts).
    keys: OnceLock<Arc<KeyStore>>,
    /// Pushed world updates still to drop (see [`Faults::drop_next_updates`]).
    drop_updates_left: AtomicU64,
    /// The share of pushed world updates dropped at random, in millionths.
    drop_updates_ppm: AtomicU32,
    /// Picks which updates the share drops: the n-th update considered is dropped by a
    /// hash of (seed, n), so a seed and an order of pushes give the same drops.
    drop_updates_seed: AtomicU64,
    /// Pushed world updates considered so far.
    updates_considered: AtomicU64,
    /// Pushed world updates dropped so far.
    updates_dropped: AtomicU64,
}

impl Faults {
    /// Knobs starting at `settings`.
    pub fn new(settings: &FaultSettings) -> Self {
        let faults = Self {
            drop_after_bytes: AtomicU64::new(NONE),
            drop_after_messages: AtomicU64::new(NONE),
            delay_micros: AtomicU64::new(0),
            refuse: watch::Sender::new(false),
            kill: watch::Sender::new(0),
            wan: Wan::new(&settings.wan),
            stall: AtomicBool::new(false),
            mid_frame: AtomicU64::new(0),
            reset: watch::Sender::new(0),
            storm_left: AtomicU64::new(0),
            storm_count: AtomicU64::new(0),
            spurious_404_left: AtomicU64::new(0),
            skew_secs: AtomicI64::new(0),
            clock_generation: AtomicU64::new(0),
            blocks: std::array::from_fn(|_| AtomicU8::new(0)),
            mtproxy_down: AtomicBool::new(false),
            quirks: settings.quirks,
            refused_http_waits: AtomicU64::new(0),
            keys: OnceLock::new(),
            drop_updates_left: AtomicU64::new(0),
            drop_updates_ppm: AtomicU32::new(0),
            drop_updates_seed: AtomicU64::new(0),
            updates_considered: AtomicU64::new(0),
            updates_dropped: AtomicU64::new(0),
        };
        faults.apply(settings);
        faults
    }

    /// Sets every knob at once.
    pub fn apply(&self, settings: &FaultSettings) {
        self.set_drop_after_bytes(settings.drop_after_bytes);
        self.set_drop_after_messages(settings.drop_after_messages);
        self.set_response_delay(settings.response_delay);
        self.set_refuse_connections(settings.refuse_connections);
        self.wan.set(&settings.wan);
    }

    /// The knobs as they are now.
    pub fn settings(&self) -> FaultSettings {
        FaultSettings {
            drop_after_bytes: self.drop_after_bytes(),
            drop_after_messages: self.drop_after_messages(),
            refuse_connections: *self.refuse.borrow(),
            response_delay: self.response_delay(),
            wan: self.wan.settings(),
            quirks: self.quirks,
        }
    }

    /// The readings of the spec this DC's sessions follow.
    pub fn quirks(&self) -> &Quirks {
        &self.quirks
    }

    /// How many `http_wait`s the DC refused (see [`Quirks::refuses_http_wait`]): what a
    /// client polling a server that does not hold requests costs it.
    pub fn refused_http_waits(&self) -> u64 {
        self.refused_http_waits.load(Ordering::Relaxed)
    }

    pub(crate) fn count_refused_http_wait(&self) {
        self.refused_http_waits.fetch_add(1, Ordering::Relaxed);
    }

    /// See [`FaultSettings::drop_after_bytes`].
    pub fn set_drop_after_bytes(&self, bytes: Option<u64>) {
        store(&self.drop_after_bytes, bytes);
    }

    /// See [`FaultSettings::drop_after_messages`].
    pub fn set_drop_after_messages(&self, messages: Option<u64>) {
        store(&self.drop_after_messages, messages);
    }

    /// See [`FaultSettings::response_delay`].
    pub fn set_response_delay(&self, delay: Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(NONE - 1);
        self.delay_micros.store(micros, Ordering::Relaxed);
    }

    /// See [`FaultSettings::refuse_connections`].
    pub fn set_refuse_connections(&self, refuse: bool) {
        self.refuse.send_replace(refuse);
    }

    /// The WAN emulation knobs (RTT, bandwidth, random drops), live.
    pub fn wan(&self) -> &Wan {
        &self.wan
    }

    /// Closes every connection open on the DC now (new ones are accepted as usual).
    pub fn disconnect_all(&self) {
        self.kill
            .send_modify(|generation| *generation = generation.wrapping_add(1));
    }

    /// Stall: while on, the DC's connections, open and new, read what comes but send
    /// nothing at all: no answers, no pongs, no acknowledgments, no handshake replies. A
    /// client must notice its pings going unanswered and reconnect. A connection that was
    /// stalled stays mute until it closes; connections made after the stall is turned off
    /// work as usual.
    pub fn set_stall(&self, on: bool) {
        self.stall.store(on, Ordering::Relaxed);
    }

    /// Whether the DC is stalled.
    pub fn stalled(&self) -> bool {
        self.stall.load(Ordering::Relaxed)
    }

    /// Every connection open now writes only part of its next outgoing frame (header and
    /// half the payload, under the transport's framing: a frame cut short) and then closes.
    /// Connections made afterwards are not affected. On obfuscated streams the cut bytes
    /// are not under the stream cipher, so the client reads them as a broken frame.
    pub fn drop_mid_frame_once(&self) {
        self.mid_frame.fetch_add(1, Ordering::Relaxed);
    }

    /// Closes every connection open on the DC now with a TCP reset (`SO_LINGER` 0: what is
    /// queued is discarded), where [`Faults::disconnect_all`] closes cleanly (FIN).
    pub fn reset_all(&self) {
        self.reset
            .send_modify(|generation| *generation = generation.wrapping_add(1));
    }

    /// Changes the server salts of every key of the DC now: the next message of each client
    /// gets `bad_server_salt` with the new salt.
    pub fn rotate_salt(&self) {
        if let Some(keys) = self.keys.get() {
            keys.rotate_all_salts();
        }
    }

    /// The next `n` encrypted client packets reaching the DC are answered with a
    /// `bad_msg_notification` instead of being handled, cycling through the codes
    /// [`STORM_CODES`] with their real meaning: 16 and 17 (msg_id too low / too high, the
    /// notification's msg_id carrying the server's time), 32 and 33 (seq_no too low / too
    /// high: the client starts a new session), 48 (`bad_server_salt`, the key's salts
    /// rotated for real). A refused packet is not handled at all, so the client's resend is
    /// executed once; a packet carrying a message already executed (a resend under the
    /// same msg_id) is never refused, so a storm cannot make the server run a request
    /// twice. Zero ends a storm. (mtproto's client gives a request up after 5 refusals.)
    pub fn bad_msg_storm(&self, n: u64) {
        self.storm_left.store(n, Ordering::Relaxed);
    }

    /// The next `n` encrypted client packets are answered with transport error -404 and
    /// the connection closed, although the key is known and kept: what a server does when a
    /// connection broke mid-packet (it cannot open it, and says so as for an unknown key) or
    /// its front lost track of the key for a moment. A client must not take one such -404
    /// as the end of its key (and of the login the key carries). Zero ends it.
    pub fn spurious_key_errors(&self, n: u64) {
        self.spurious_404_left.store(n, Ordering::Relaxed);
    }

    /// Takes one spurious -404, if any is left.
    pub(crate) fn take_spurious_404(&self) -> bool {
        self.spurious_404_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            })
            .is_ok()
    }

    /// The next `n` updates the world pushes to sessions of this DC (new, edited and
    /// deleted messages; not login tokens) are dropped instead of sent: the client sees a
    /// pts gap only when a later update comes, and must fill it with `updates.getDifference`
    /// or `updates.getChannelDifference`. Zero ends it.
    pub fn drop_next_updates(&self, n: u64) {
        self.drop_updates_left.store(n, Ordering::Relaxed);
    }

    /// Drops this share (0.0..=1.0) of the world's pushed updates from now on, picked by
    /// the seed of [`Faults::set_update_drop_seed`] (0 unless set).
    pub fn set_update_drop_rate(&self, fraction: f64) {
        let ppm = (fraction.clamp(0.0, 1.0) * 1_000_000.0).round();
        // Clamped to 0..=1e6 above: the cast is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        self.drop_updates_ppm.store(ppm as u32, Ordering::Relaxed);
    }

    /// Which updates [`Faults::set_update_drop_rate`] drops: the same seed and the same
    /// order of pushes drop the same ones.
    pub fn set_update_drop_seed(&self, seed: u64) {
        self.drop_updates_seed.store(seed, Ordering::Relaxed);
    }

    /// The share of pushed updates dropped at random.
    pub fn update_drop_rate(&self) -> f64 {
        f64::from(self.drop_updates_ppm.load(Ordering::Relaxed)) / 1_000_000.0
    }

    /// How many pushed updates the knobs dropped so far.
    pub fn updates_dropped(&self) -> u64 {
        self.updates_dropped.load(Ordering::Relaxed)
    }

    /// Whether the next pushed update is to be dropped (counting it when it is).
    pub(crate) fn take_update_drop(&self) -> bool {
        let counted = self
            .drop_updates_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        let n = self.updates_considered.fetch_add(1, Ordering::Relaxed);
        let ppm = self.drop_updates_ppm.load(Ordering::Relaxed);
        let seed = self.drop_updates_seed.load(Ordering::Relaxed);
        let random = ppm > 0 && crate::quirks::mix(&[seed, n]) % 1_000_000 < u64::from(ppm);
        let drop = counted || random;
        if drop {
            self.updates_dropped.fetch_add(1, Ordering::Relaxed);
        }
        drop
    }

    /// Packets the current storm still refuses.
    pub fn storm_left(&self) -> u64 {
        self.storm_left.load(Ordering::Relaxed)
    }

    /// Offsets the server's clock by `seconds`: client msg_ids are checked against it
    /// (`bad_msg_notification` 16/17 beyond 300 s in the past / 30 s in the future), server
    /// msg_ids, salts and the handshake's `server_time` come from it. Clients resync from the
    /// msg_id of the notification. (`date` fields of API answers keep the real clock.)
    ///
    /// A session's server msg_ids never decrease, so sessions that exist when the clock is
    /// set back cannot show the new time: their next packet is answered with
    /// `bad_msg_notification` 32, and the client goes on in a new session, which does.
    pub fn set_clock_skew(&self, seconds: i64) {
        let before = self.skew_secs.swap(seconds, Ordering::Relaxed);
        if seconds < before {
            self.clock_generation.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many times the clock was set back (sessions made before cannot follow).
    pub(crate) fn clock_generation(&self) -> u64 {
        self.clock_generation.load(Ordering::Relaxed)
    }

    /// The clock offset in force, in seconds.
    pub fn clock_skew(&self) -> i64 {
        self.skew_secs.load(Ordering::Relaxed)
    }

    /// The DC's clock: the system clock plus the skew.
    pub fn now(&self) -> UnixTime {
        let real = mtnet::clock::unix_time();
        let skew = self.clock_skew();
        let offset = Duration::from_secs(skew.unsigned_abs());
        if skew >= 0 {
            real + offset
        } else {
            real.saturating_sub(offset)
        }
    }

    /// Forgets every auth key of the DC (and, with a world attached, the logins of those
    /// keys): clients get transport error -404 on their next packet and must make a new key
    /// (and import their authorization again on a DC other than their home).
    pub fn forget_keys(&self) {
        if let Some(keys) = self.keys.get() {
            keys.forget_all();
        }
    }

    /// How connections of `class` are treated from now on (DPI emulation); applied right
    /// after the transport is detected, to new connections.
    pub fn set_block(&self, class: TransportClass, block: Block) {
        if let Some(slot) = self.blocks.get(class.index()) {
            slot.store(block.as_u8(), Ordering::Relaxed);
        }
    }

    /// The block in force for `class`.
    pub fn block(&self, class: TransportClass) -> Block {
        self.blocks.get(class.index()).map_or(Block::None, |slot| {
            Block::from_u8(slot.load(Ordering::Relaxed))
        })
    }

    /// MTProxy front down: while set, connections that open with one of the configured
    /// MTProxy secrets are closed (reset) as soon as they are recognized; clients without a
    /// secret are served as usual.
    pub fn set_mtproxy_down(&self, down: bool) {
        self.mtproxy_down.store(down, Ordering::Relaxed);
    }

    /// Whether the MTProxy front is down.
    pub fn mtproxy_down(&self) -> bool {
        self.mtproxy_down.load(Ordering::Relaxed)
    }

    pub(crate) fn attach_keys(&self, keys: Arc<KeyStore>) {
        let _ = self.keys.set(keys);
    }

    /// The mid-frame generation, to compare with the one a writer started under.
    pub(crate) fn mid_frame_generation(&self) -> u64 {
        self.mid_frame.load(Ordering::Relaxed)
    }

    pub(crate) fn watch_reset(&self) -> watch::Receiver<u64> {
        self.reset.subscribe()
    }

    /// Takes one packet of the storm: the code to refuse it with, or `None` when no storm
    /// is on.
    pub(crate) fn take_storm(&self) -> Option<i32> {
        self.storm_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            })
            .ok()?;
        let count = self.storm_count.fetch_add(1, Ordering::Relaxed);
        let index = usize::try_from(count % STORM_CODES.len() as u64).unwrap_or(0);
        STORM_CODES.get(index).copied()
    }

    pub(crate) fn drop_after_bytes(&self) -> Option<u64> {
        load(&self.drop_after_bytes)
    }

    pub(crate) fn drop_after_messages(&self) -> Option<u64> {
        load(&self.drop_after_messages)
    }

    pub(crate) fn response_delay(&self) -> Duration {
        Duration::from_micros(self.delay_micros.load(Ordering::Relaxed))
    }

    pub(crate) fn watch_refuse(&self) -> watch::Receiver<bool> {
        self.refuse.subscribe()
    }

    pub(crate) fn watch_kill(&self) -> watch::Receiver<u64> {
        self.kill.subscribe()
    }
}

fn store(slot: &AtomicU64, value: Option<u64>) {
    slot.store(value.unwrap_or(NONE), Ordering::Relaxed);
}

fn load(slot: &AtomicU64) -> Option<u64> {
    match slot.load(Ordering::Relaxed) {
        NONE => None,
        value => Some(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_drops_take_the_next_n_then_a_share() {
        let faults = Faults::new(&FaultSettings::default());
        assert!(!faults.take_update_drop());
        faults.drop_next_updates(2);
        let taken: Vec<bool> = (0..4).map(|_| faults.take_update_drop()).collect();
        assert_eq!(taken, vec![true, true, false, false]);
        faults.set_update_drop_rate(1.0);
        assert!((0..50).all(|_| faults.take_update_drop()));
        faults.set_update_drop_rate(0.5);
        let picks: Vec<bool> = (0..2000).map(|_| faults.take_update_drop()).collect();
        let dropped = picks.iter().filter(|d| **d).count();
        assert!((700..1300).contains(&dropped), "{dropped} of 2000");
        // The same seed and order of pushes drop the same updates.
        let again = Faults::new(&FaultSettings::default());
        again.set_update_drop_rate(1.0);
        // 55 updates were considered before the share began above.
        (0..55).for_each(|_| {
            again.take_update_drop();
        });
        again.set_update_drop_rate(0.5);
        let repeated: Vec<bool> = (0..2000).map(|_| again.take_update_drop()).collect();
        assert_eq!(picks, repeated);
        let dropped_again = repeated.iter().filter(|d| **d).count();
        faults.set_update_drop_rate(0.0);
        assert!((0..50).all(|_| !faults.take_update_drop()));
        assert_eq!(faults.updates_dropped(), 2 + 50 + dropped as u64);
        assert_eq!(again.updates_dropped(), 55 + dropped_again as u64);
    }

    #[test]
    fn settings_round_trip() {
        let settings = FaultSettings {
            drop_after_bytes: Some(100),
            drop_after_messages: Some(3),
            refuse_connections: true,
            response_delay: Duration::from_millis(250),
            wan: crate::wan::WanProfile::Mobile.settings(),
            quirks: Quirks::seeded(3),
        };
        let faults = Faults::new(&settings);
        assert_eq!(faults.settings(), settings);
        faults.apply(&FaultSettings::default());
        // The quirks are the DC's for life: applying settings leaves them.
        let expected = FaultSettings {
            quirks: Quirks::seeded(3),
            ..FaultSettings::default()
        };
        assert_eq!(faults.settings(), expected);
    }

    #[test]
    fn storm_cycles_the_codes_and_ends() {
        let faults = Faults::new(&FaultSettings::default());
        assert_eq!(faults.take_storm(), None);
        faults.bad_msg_storm(6);
        let codes: Vec<_> = std::iter::from_fn(|| faults.take_storm()).collect();
        assert_eq!(codes, vec![16, 17, 32, 33, 48, 16]);
        assert_eq!(faults.storm_left(), 0);
    }

    #[test]
    fn blocks_and_skew() {
        let faults = Faults::new(&FaultSettings::default());
        faults.set_block(TransportClass::Tcp, Block::Blackhole);
        assert_eq!(faults.block(TransportClass::Tcp), Block::Blackhole);
        assert_eq!(faults.block(TransportClass::Http), Block::None);
        assert_eq!(
            "WS".parse::<TransportClass>(),
            Ok(TransportClass::WebSocket)
        );
        assert!("udp".parse::<TransportClass>().is_err());
        faults.set_clock_skew(-300);
        let real = mtnet::clock::unix_time().as_secs();
        let skewed = faults.now().as_secs();
        assert!(
            (real - 301..=real - 299).contains(&skewed),
            "{real} {skewed}"
        );
    }

    #[test]
    fn kill_and_refuse_are_observable() {
        let faults = Faults::new(&FaultSettings::default());
        let mut kill = faults.watch_kill();
        let refuse = faults.watch_refuse();
        faults.disconnect_all();
        assert!(kill.has_changed().unwrap());
        assert_eq!(*kill.borrow_and_update(), 1);
        faults.set_refuse_connections(true);
        assert!(*refuse.borrow());
    }
}
