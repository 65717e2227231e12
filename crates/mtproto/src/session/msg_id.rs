//! msg_ids: the time a message was made (Unix seconds in the high 32 bits, the fraction of the
//! second in the low 32), unique and strictly increasing within a session, with the two low
//! bits saying who made it: 0 for the client, 1 for a server response, 3 for a message the
//! server sends on its own.

use super::time::UnixTime;

/// One second in msg_id units.
const SECOND: i64 = 1 << 32;

/// The msg_id `t` stands for, before the parity bits are set. Seconds are capped at
/// `i32::MAX` so that the id stays a positive `i64` whatever time the caller passes.
pub fn msg_id_from_time(t: UnixTime) -> i64 {
    let secs = t.as_secs().min(i32::MAX as u64) as i64;
    let fraction = (u64::from(t.as_duration().subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | fraction as i64
}

/// The Unix second a msg_id was made in.
pub const fn msg_id_secs(msg_id: i64) -> i64 {
    msg_id >> 32
}

/// Who makes a msg_id, which fixes its value mod 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MsgIdKind {
    /// Any message from the client: `≡ 0 mod 4`.
    Client,
    /// A server message answering a client message: `≡ 1 mod 4`.
    Response,
    /// A server message sent on the server's own initiative: `≡ 3 mod 4`.
    ServerInitiated,
}

impl MsgIdKind {
    const fn residue(self) -> i64 {
        match self {
            Self::Client => 0,
            Self::Response => 1,
            Self::ServerInitiated => 3,
        }
    }
}

/// Makes msg_ids for one session: strictly increasing even when the clock stands still or
/// goes back, with a correction learned from the server's clock.
#[derive(Debug, Clone, Default)]
pub struct MsgIdGenerator {
    last: i64,
    /// Server time minus local time, in msg_id units.
    offset: i64,
}

impl MsgIdGenerator {
    /// A generator with no time correction yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next msg_id of `kind` at local time `now`.
    pub fn next(&mut self, kind: MsgIdKind, now: UnixTime) -> i64 {
        let residue = kind.residue();
        let mut id = (self.corrected(now) & !3) | residue;
        if id <= self.last {
            id = (self.last & !3) | residue;
            if id <= self.last {
                id = id.saturating_add(4);
            }
        }
        self.last = id;
        id
    }

    /// `now` on the server's clock, as a msg_id (parity bits not set).
    pub fn corrected(&self, now: UnixTime) -> i64 {
        msg_id_from_time(now).saturating_add(self.offset)
    }

    /// `now` on the server's clock, in Unix seconds.
    pub fn corrected_secs(&self, now: UnixTime) -> i64 {
        msg_id_secs(self.corrected(now))
    }

    /// Learns the server's clock from a msg_id it just made (as `bad_msg_notification` 16
    /// and 17 ask the client to do).
    pub fn correct_from_msg_id(&mut self, server_msg_id: i64, now: UnixTime) {
        self.set_offset(server_msg_id.saturating_sub(msg_id_from_time(now)), now);
    }

    /// Learns the server's clock from the handshake's `server_time` (whole seconds).
    pub fn correct_from_server_time(&mut self, server_time: i32, now: UnixTime) {
        let server = i64::from(server_time).saturating_mul(SECOND);
        self.set_offset(server.saturating_sub(msg_id_from_time(now)), now);
    }

    /// Server time minus local time, in whole seconds (rounded down), e.g. to persist it.
    pub fn offset_secs(&self) -> i64 {
        self.offset >> 32
    }

    /// Restores an offset saved with [`offset_secs`](Self::offset_secs).
    pub fn set_offset_secs(&mut self, secs: i64, now: UnixTime) {
        self.set_offset(secs.saturating_mul(SECOND), now);
    }

    /// The last msg_id handed out.
    pub fn last(&self) -> i64 {
        self.last
    }

    /// When the correction moves the clock back, the ids must follow it: keeping them above
    /// the last (too high) id would repeat the very error that made us correct. Messages the
    /// server rejected for their time were not recorded by it, so reusing that range is safe.
    fn set_offset(&mut self, offset: i64, now: UnixTime) {
        self.offset = offset;
        let floor = self.corrected(now).saturating_sub(1);
        self.last = self.last.min(floor);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const T0: u64 = 1_700_000_000;

    #[test]
    fn time_layout() {
        let t = UnixTime::from_duration(Duration::new(T0, 500_000_000));
        let id = msg_id_from_time(t);
        assert_eq!(msg_id_secs(id), T0 as i64);
        assert_eq!(id & 0xffff_ffff, 1 << 31);
        // Times past 2038 saturate instead of turning the id negative.
        assert!(msg_id_from_time(UnixTime::from_secs(u64::MAX)) > 0);
    }

    #[test]
    fn parity_per_kind() {
        let mut ids = MsgIdGenerator::new();
        let now = UnixTime::from_secs(T0);
        for _ in 0..10 {
            assert_eq!(ids.next(MsgIdKind::Client, now) & 3, 0);
            assert_eq!(ids.next(MsgIdKind::Response, now) & 3, 1);
            assert_eq!(ids.next(MsgIdKind::ServerInitiated, now) & 3, 3);
        }
    }

    #[test]
    fn strictly_increasing_when_clock_stands_still_or_goes_back() {
        let mut ids = MsgIdGenerator::new();
        let mut last = 0;
        let times = [T0, T0, T0, T0 - 5, T0 - 100, T0 + 1, T0 + 1, T0];
        for (i, secs) in times.into_iter().enumerate() {
            let kind = if i % 3 == 0 {
                MsgIdKind::Response
            } else {
                MsgIdKind::ServerInitiated
            };
            let id = ids.next(kind, UnixTime::from_secs(secs));
            assert!(id > last, "{id} after {last}");
            last = id;
        }
        let mut client = MsgIdGenerator::new();
        let a = client.next(MsgIdKind::Client, UnixTime::from_secs(T0));
        let b = client.next(MsgIdKind::Client, UnixTime::from_secs(T0 - 3600));
        assert!(b > a);
        assert_eq!(b & 3, 0);
        assert_eq!(msg_id_secs(b), T0 as i64);
    }

    #[test]
    fn follows_the_clock_with_sub_second_resolution() {
        let mut ids = MsgIdGenerator::new();
        let a = ids.next(MsgIdKind::Client, UnixTime::from_millis(T0 * 1000 + 1));
        let b = ids.next(MsgIdKind::Client, UnixTime::from_millis(T0 * 1000 + 2));
        assert!(b - a > 4_000_000, "one millisecond is about 4.3M units");
    }

    #[test]
    fn corrects_from_server_msg_id_both_ways() {
        let mut ids = MsgIdGenerator::new();
        let local = UnixTime::from_secs(T0 + 60);
        let skewed = ids.next(MsgIdKind::Client, local);
        let server_id = msg_id_from_time(UnixTime::from_secs(T0)) | 1;
        ids.correct_from_msg_id(server_id, local);
        assert_eq!(ids.offset_secs(), -60);
        let fixed = ids.next(MsgIdKind::Client, local);
        assert_eq!(
            msg_id_secs(fixed),
            T0 as i64,
            "follows the server back in time"
        );
        assert!(fixed < skewed);
        let again = ids.next(MsgIdKind::Client, local);
        assert!(again > fixed);

        // A clock 10 minutes late is moved forward.
        let mut late = MsgIdGenerator::new();
        let behind = UnixTime::from_secs(T0 - 600);
        late.correct_from_msg_id(msg_id_from_time(UnixTime::from_secs(T0)) | 1, behind);
        assert_eq!(msg_id_secs(late.next(MsgIdKind::Client, behind)), T0 as i64);
        assert_eq!(late.corrected_secs(behind), T0 as i64);
    }

    #[test]
    fn corrects_from_handshake_time_and_restores_offset() {
        let mut ids = MsgIdGenerator::new();
        let now = UnixTime::from_secs(T0);
        ids.correct_from_server_time((T0 + 42) as i32, now);
        assert_eq!(ids.offset_secs(), 42);
        assert_eq!(
            msg_id_secs(ids.next(MsgIdKind::Client, now)),
            T0 as i64 + 42
        );
        let mut restored = MsgIdGenerator::new();
        restored.set_offset_secs(ids.offset_secs(), now);
        assert_eq!(restored.corrected_secs(now), T0 as i64 + 42);
    }

    #[test]
    fn extreme_offsets_do_not_overflow() {
        let mut ids = MsgIdGenerator::new();
        let now = UnixTime::from_secs(T0);
        ids.correct_from_msg_id(i64::MAX, now);
        let a = ids.next(MsgIdKind::Client, now);
        let b = ids.next(MsgIdKind::Client, now);
        assert!(b >= a);
        ids.correct_from_msg_id(i64::MIN, now);
        let _ = ids.next(MsgIdKind::ServerInitiated, now);
    }
}
