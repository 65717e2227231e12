//! The seeded fault schedule and the thread that fires it at the in-process localdc.
//!
//! A schedule is an endless sequence of events drawn from an RNG seeded with the run's
//! seed and the round: the same seed gives the same faults at the same offsets from the
//! start of the round. Each event waits a gap, applies one fault and, for the faults that
//! last, reverts it after a hold.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use localdc::faults::{Block, TransportClass};
use localdc::world::fixture::FloodRule;
use localdc::{DropRate, RunningServer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::fixture::{CDN_DC, DCS, HOME_DC};
use crate::server::Local;

/// One fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Every open connection of the DC is closed (FIN).
    Disconnect { dc: i32 },
    /// Every open connection of the DC is reset (RST).
    Reset { dc: i32 },
    /// Connections are dropped at random with a reset, about `per_second` times per
    /// connection-second.
    RandomResets { dc: i32, per_second: f64 },
    /// The DC sends nothing at all (no answers, no pongs): the client must notice the
    /// missing pongs and reconnect.
    Stall { dc: i32 },
    /// Every open connection writes half of its next frame and closes.
    PartialFrame { dc: i32 },
    /// Each new connection is cut after this many bytes, mid-frame.
    CutAfter { dc: i32, bytes: u64 },
    /// The server salts of every key of the DC move on (`bad_server_salt`).
    RotateSalts { dc: i32 },
    /// The next `packets` encrypted packets get `bad_msg_notification`s instead of answers.
    BadMsgStorm { dc: i32, packets: u64 },
    /// The DC's clock is off by this many seconds.
    ClockSkew { dc: i32, seconds: i64 },
    /// The DC forgets every auth key (-404); never the account's home DC.
    ForgetKeys { dc: i32 },
    /// localdc stops and comes back after this long with its state kept.
    Restart { down: Duration },
    /// The DC refuses connections.
    Refuse { dc: i32 },
    /// MTProto over raw TCP is blocked on the DC (refused or blackholed): WebSocket and HTTP
    /// still work.
    BlockTcp { dc: i32, blackhole: bool },
    /// `upload.getFile` is limited to `max_calls` per `per_seconds` (`FLOOD_WAIT_X`).
    FloodWait { max_calls: u32, per_seconds: u32 },
    /// Every file reference handed out expires (`FILE_REFERENCE_EXPIRED`).
    ExpireReferences,
    /// The next CDN part at these (CDN file, fraction of its size) spots is corrupted once.
    CorruptCdn { spots: Vec<(usize, f64)> },
    /// The CDN loses these CDN files (`cdnFileReuploadNeeded`).
    CdnReupload { files: Vec<usize> },
    /// Each connection of the DC gets at most this many bytes per second.
    Slow { dc: i32, rate: u64 },
    /// The MTProxy front is down: proxied connections are reset as they open, and the
    /// client runs that go through the proxy wait for it to come back.
    MtProxyDown,
    /// The next `updates` updates pushed to clients are dropped: a follower must notice
    /// the gap (or poll) and fetch the difference.
    DropUpdates { updates: u64 },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Disconnect { dc } => write!(f, "disconnect dc={dc}"),
            Self::Reset { dc } => write!(f, "reset dc={dc}"),
            Self::RandomResets { dc, per_second } => {
                write!(f, "random-resets dc={dc} rate={per_second:.1}/s")
            }
            Self::Stall { dc } => write!(f, "stall dc={dc}"),
            Self::PartialFrame { dc } => write!(f, "partial-frame dc={dc}"),
            Self::CutAfter { dc, bytes } => write!(f, "cut-after dc={dc} bytes={bytes}"),
            Self::RotateSalts { dc } => write!(f, "rotate-salts dc={dc}"),
            Self::BadMsgStorm { dc, packets } => {
                write!(f, "bad-msg-storm dc={dc} packets={packets}")
            }
            Self::ClockSkew { dc, seconds } => write!(f, "clock-skew dc={dc} by={seconds}s"),
            Self::ForgetKeys { dc } => write!(f, "forget-keys dc={dc}"),
            Self::Restart { down } => write!(f, "restart down={}ms", down.as_millis()),
            Self::Refuse { dc } => write!(f, "refuse dc={dc}"),
            Self::BlockTcp { dc, blackhole } => write!(
                f,
                "block-tcp dc={dc} {}",
                if *blackhole { "blackhole" } else { "refuse" }
            ),
            Self::FloodWait {
                max_calls,
                per_seconds,
            } => write!(f, "flood-wait getFile {max_calls}/{per_seconds}s"),
            Self::ExpireReferences => write!(f, "expire-file-references"),
            Self::CorruptCdn { spots } => write!(f, "corrupt-cdn chunks={}", spots.len()),
            Self::CdnReupload { files } => write!(f, "cdn-reupload files={}", files.len()),
            Self::Slow { dc, rate } => write!(f, "slow dc={dc} rate={rate}B/s"),
            Self::MtProxyDown => write!(f, "mtproxy-down"),
            Self::DropUpdates { updates } => write!(f, "drop-updates next={updates}"),
        }
    }
}

/// One scheduled fault: after `gap`, apply `fault`; revert it `hold` later.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub gap: Duration,
    pub fault: Fault,
    pub hold: Duration,
}

/// The endless seeded sequence of events of one round.
#[derive(Debug)]
pub struct Schedule {
    rng: StdRng,
    /// How many CDN files the world has (the CDN faults pick among them).
    cdn_files: usize,
    /// Mean time between events.
    mean_gap: Duration,
}

impl Schedule {
    pub fn new(seed: u64, round: u64, cdn_files: usize, mean_gap: Duration) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ round),
            cdn_files,
            mean_gap,
        }
    }

    fn any_dc(&mut self) -> i32 {
        self.rng.gen_range(1..=i32::from(DCS))
    }

    fn any_dc_or_cdn(&mut self) -> i32 {
        if self.rng.gen_bool(0.2) {
            CDN_DC
        } else {
            self.any_dc()
        }
    }
}

impl Iterator for Schedule {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        let mean = self.mean_gap.as_secs_f64();
        let gap = Duration::from_secs_f64(self.rng.gen_range(mean * 0.3..=mean * 1.7));
        let hold = Duration::from_millis(self.rng.gen_range(800..=4000));
        let pick = self.rng.gen_range(0..105u32);
        let fault = match pick {
            0..=5 => Fault::Disconnect {
                dc: self.any_dc_or_cdn(),
            },
            6..=11 => Fault::Reset {
                dc: self.any_dc_or_cdn(),
            },
            12..=15 => Fault::RandomResets {
                dc: self.any_dc_or_cdn(),
                per_second: self.rng.gen_range(0.5..3.0),
            },
            16..=18 => Fault::Stall {
                dc: self.any_dc_or_cdn(),
            },
            19..=24 => Fault::PartialFrame {
                dc: self.any_dc_or_cdn(),
            },
            25..=28 => Fault::CutAfter {
                dc: self.any_dc_or_cdn(),
                bytes: self.rng.gen_range(200..600_000),
            },
            29..=34 => Fault::RotateSalts { dc: self.any_dc() },
            35..=40 => Fault::BadMsgStorm {
                dc: self.any_dc(),
                packets: self.rng.gen_range(1..=12),
            },
            41..=44 => {
                let minutes = self.rng.gen_range(2..=15);
                let sign = if self.rng.gen_bool(0.5) { 1 } else { -1 };
                Fault::ClockSkew {
                    dc: self.any_dc(),
                    seconds: sign * minutes * 60 + self.rng.gen_range(-30..=30),
                }
            }
            45..=49 => {
                let mut dc = self.any_dc_or_cdn();
                if dc == HOME_DC {
                    dc = CDN_DC;
                }
                Fault::ForgetKeys { dc }
            }
            50..=54 => Fault::Restart {
                down: Duration::from_millis(self.rng.gen_range(100..=2000)),
            },
            55..=59 => Fault::Refuse {
                dc: self.any_dc_or_cdn(),
            },
            60..=64 => Fault::BlockTcp {
                dc: self.any_dc_or_cdn(),
                blackhole: self.rng.gen_bool(0.5),
            },
            65..=70 => Fault::FloodWait {
                max_calls: self.rng.gen_range(10..=40),
                per_seconds: self.rng.gen_range(1..=3),
            },
            71..=77 => Fault::ExpireReferences,
            78..=85 if self.cdn_files > 0 => {
                let n = self.rng.gen_range(1..=4);
                let spots = (0..n)
                    .map(|_| {
                        (
                            self.rng.gen_range(0..self.cdn_files),
                            self.rng.gen_range(0.0..1.0),
                        )
                    })
                    .collect();
                Fault::CorruptCdn { spots }
            }
            86..=92 if self.cdn_files > 0 => {
                let n = self.rng.gen_range(1..=3);
                let files = (0..n)
                    .map(|_| self.rng.gen_range(0..self.cdn_files))
                    .collect();
                Fault::CdnReupload { files }
            }
            93..=96 => Fault::DropUpdates {
                updates: self.rng.gen_range(1..=5),
            },
            100..=104 => Fault::MtProxyDown,
            _ => Fault::Slow {
                dc: self.any_dc_or_cdn(),
                rate: self.rng.gen_range(64 << 10..4 << 20),
            },
        };
        Some(Event { gap, fault, hold })
    }
}

/// The CDN files of the world: (media id, size).
pub type CdnFiles = Arc<Vec<(i64, u64)>>;

/// The thread firing a schedule.
#[derive(Debug)]
pub struct Firing {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<u64>,
}

impl Firing {
    /// Fires `schedule` at `local` until stopped or `window` has passed, then reverts
    /// everything.
    pub fn start(
        local: Arc<Local>,
        schedule: Schedule,
        cdn: CdnFiles,
        window: Duration,
        verbose: bool,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread =
            std::thread::spawn(move || fire(&local, schedule, &cdn, window, &flag, verbose));
        Self { stop, thread }
    }

    /// Stops firing, reverts every knob, and says how many faults fired.
    pub fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or(0)
    }
}

/// What undoes a lasting fault.
#[derive(Debug, Clone, Copy)]
enum Revert {
    RandomResets(i32),
    Stall(i32),
    CutAfter(i32),
    ClockSkew(i32),
    Refuse(i32),
    BlockTcp(i32),
    Flood,
    Slow(i32),
    MtProxy,
}

fn fire(
    local: &Local,
    schedule: Schedule,
    cdn: &[(i64, u64)],
    window: Duration,
    stop: &AtomicBool,
    verbose: bool,
) -> u64 {
    let start = Instant::now();
    let end = start + window;
    let mut fired = 0;
    let mut reverts: Vec<(Instant, Revert)> = Vec::new();
    let mut next_at = start;
    for event in schedule {
        next_at += event.gap;
        // Sleep until the event, reverting what is due meanwhile.
        loop {
            let now = Instant::now();
            if stop.load(Ordering::Relaxed) || now >= end {
                reset_all(local, cdn);
                return fired;
            }
            let (due, pending): (Vec<_>, Vec<_>) = reverts.iter().partition(|(at, _)| *at <= now);
            reverts = pending;
            for (_, revert) in due {
                undo(local, revert);
            }
            if now >= next_at {
                break;
            }
            std::thread::sleep((next_at - now).min(Duration::from_millis(20)));
        }
        if verbose {
            eprintln!(
                "chaos: t={:.1}s fault {} hold={:.1}s",
                start.elapsed().as_secs_f64(),
                event.fault,
                event.hold.as_secs_f64()
            );
        }
        fired += 1;
        if let Some(revert) = apply(local, &event.fault, cdn) {
            reverts.push((Instant::now() + event.hold, revert));
        }
    }
    reset_all(local, cdn);
    fired
}

fn on_dc(local: &Local, dc: i32, f: impl FnOnce(&localdc::Faults)) {
    local.with(|server: &RunningServer| {
        if let Some(handle) = server.dc(dc) {
            f(handle.faults());
        }
    });
}

fn on_every_dc(local: &Local, f: impl Fn(&localdc::Faults)) {
    local.with(|server: &RunningServer| {
        for dc in server.dcs() {
            f(dc.faults());
        }
    });
}

fn apply(local: &Local, fault: &Fault, cdn: &[(i64, u64)]) -> Option<Revert> {
    match fault {
        Fault::Disconnect { dc } => on_dc(local, *dc, localdc::Faults::disconnect_all),
        Fault::Reset { dc } => on_dc(local, *dc, localdc::Faults::reset_all),
        Fault::RandomResets { dc, per_second } => {
            on_dc(local, *dc, |f| {
                f.wan()
                    .set_drop_rate(DropRate::per_second(*per_second).unwrap_or(DropRate::NEVER));
            });
            return Some(Revert::RandomResets(*dc));
        }
        Fault::Stall { dc } => {
            on_dc(local, *dc, |f| f.set_stall(true));
            return Some(Revert::Stall(*dc));
        }
        Fault::PartialFrame { dc } => on_dc(local, *dc, localdc::Faults::drop_mid_frame_once),
        Fault::CutAfter { dc, bytes } => {
            on_dc(local, *dc, |f| f.set_drop_after_bytes(Some(*bytes)));
            return Some(Revert::CutAfter(*dc));
        }
        Fault::RotateSalts { dc } => on_dc(local, *dc, localdc::Faults::rotate_salt),
        Fault::BadMsgStorm { dc, packets } => on_dc(local, *dc, |f| f.bad_msg_storm(*packets)),
        Fault::ClockSkew { dc, seconds } => {
            on_dc(local, *dc, |f| f.set_clock_skew(*seconds));
            return Some(Revert::ClockSkew(*dc));
        }
        Fault::ForgetKeys { dc } => on_dc(local, *dc, localdc::Faults::forget_keys),
        Fault::Restart { down } => {
            if let Err(error) = local.restart(*down) {
                eprintln!("chaos: {error:#}");
            }
        }
        Fault::Refuse { dc } => {
            on_dc(local, *dc, |f| f.set_refuse_connections(true));
            return Some(Revert::Refuse(*dc));
        }
        Fault::BlockTcp { dc, blackhole } => {
            let block = if *blackhole {
                Block::Blackhole
            } else {
                Block::Refuse
            };
            on_dc(local, *dc, |f| f.set_block(TransportClass::Tcp, block));
            return Some(Revert::BlockTcp(*dc));
        }
        Fault::FloodWait {
            max_calls,
            per_seconds,
        } => {
            local.world().flood().set_rules(vec![FloodRule {
                method: "upload.getFile".into(),
                max_calls: *max_calls,
                per_seconds: *per_seconds,
                user_id: None,
            }]);
            return Some(Revert::Flood);
        }
        Fault::ExpireReferences => local.world().rotate_file_references(),
        Fault::CorruptCdn { spots } => {
            for (index, fraction) in spots {
                if let Some((media, size)) = cdn.get(*index) {
                    let offset = (*size as f64 * fraction) as u64;
                    local
                        .world()
                        .corrupt_cdn_chunk_once(*media, offset.min(size.saturating_sub(1)));
                }
            }
        }
        Fault::CdnReupload { files } => {
            for index in files {
                if let Some((media, _)) = cdn.get(*index) {
                    local.world().set_cdn_missing(*media, true);
                }
            }
        }
        Fault::Slow { dc, rate } => {
            on_dc(local, *dc, |f| f.wan().set_conn_rate(Some(*rate)));
            return Some(Revert::Slow(*dc));
        }
        Fault::MtProxyDown => {
            on_every_dc(local, |f| f.set_mtproxy_down(true));
            return Some(Revert::MtProxy);
        }
        Fault::DropUpdates { updates } => on_every_dc(local, |f| f.drop_next_updates(*updates)),
    }
    None
}

fn undo(local: &Local, revert: Revert) {
    match revert {
        Revert::RandomResets(dc) => {
            let rate = local.base().wan.drop_rate;
            on_dc(local, dc, |f| f.wan().set_drop_rate(rate));
        }
        Revert::Stall(dc) => on_dc(local, dc, |f| f.set_stall(false)),
        Revert::CutAfter(dc) => on_dc(local, dc, |f| f.set_drop_after_bytes(None)),
        Revert::ClockSkew(dc) => on_dc(local, dc, |f| f.set_clock_skew(0)),
        Revert::Refuse(dc) => on_dc(local, dc, |f| f.set_refuse_connections(false)),
        Revert::BlockTcp(dc) => on_dc(local, dc, |f| f.set_block(TransportClass::Tcp, Block::None)),
        Revert::Flood => local.world().flood().set_rules(Vec::new()),
        Revert::Slow(dc) => {
            let rate = local.base().wan.conn_rate;
            on_dc(local, dc, |f| f.wan().set_conn_rate(rate));
        }
        Revert::MtProxy => on_every_dc(local, |f| f.set_mtproxy_down(false)),
    }
}

/// Every knob back to normal (the CDN files it lost are its again).
fn reset_all(local: &Local, cdn: &[(i64, u64)]) {
    local.with(|server| {
        for dc in server.dcs() {
            let faults = dc.faults();
            faults.apply(local.base());
            faults.set_stall(false);
            faults.bad_msg_storm(0);
            faults.set_clock_skew(0);
            for class in TransportClass::ALL {
                faults.set_block(class, Block::None);
            }
            faults.set_mtproxy_down(false);
            faults.drop_next_updates(0);
        }
    });
    local.world().flood().set_rules(Vec::new());
    for (media, _) in cdn {
        local.world().set_cdn_missing(*media, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_schedule() {
        let a: Vec<Event> = Schedule::new(3, 0, 10, Duration::from_secs(2))
            .take(200)
            .collect();
        let b: Vec<Event> = Schedule::new(3, 0, 10, Duration::from_secs(2))
            .take(200)
            .collect();
        let c: Vec<Event> = Schedule::new(4, 0, 10, Duration::from_secs(2))
            .take(200)
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Every kind of fault turns up, and the home DC never forgets its keys.
        let kinds: std::collections::BTreeSet<String> = a
            .iter()
            .map(|e| {
                e.fault
                    .to_string()
                    .split(' ')
                    .next()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        assert_eq!(kinds.len(), 20, "{kinds:?}");
        assert!(
            !a.iter()
                .any(|e| e.fault == Fault::ForgetKeys { dc: HOME_DC })
        );
    }
}
