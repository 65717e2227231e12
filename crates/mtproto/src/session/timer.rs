//! One deadline on the monotonic clock, as the session's timer tables hold them.
//!
//! Input other than a timeout (a packet, a request) carries only wall time, which is the
//! wrong clock for deadlines; a timer such input starts is [`Timer::Starting`] and is dated
//! by the next `handle_timeout(now)`, which callers make right after feeding input.

use std::time::{Duration, Instant};

/// A timer: off, started and waiting to be dated, or running until a monotonic instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Timer {
    #[default]
    Off,
    /// Started by input without a monotonic reading: runs this long from the next reading.
    Starting(Duration),
    /// Fires at this instant.
    At(Instant),
}

impl Timer {
    /// Running until `now + delay`.
    pub(super) fn after(now: Instant, delay: Duration) -> Self {
        Timer::At(now.checked_add(delay).unwrap_or(now))
    }

    /// Gives a [`Timer::Starting`] its deadline, counting from `now`.
    pub(super) fn date(&mut self, now: Instant) {
        if let Timer::Starting(delay) = *self {
            *self = Timer::after(now, delay);
        }
    }

    /// Whether it is running and its deadline passed.
    pub(super) fn expired(self, now: Instant) -> bool {
        matches!(self, Timer::At(at) if at <= now)
    }

    pub(super) fn is_off(self) -> bool {
        self == Timer::Off
    }

    /// The deadline to wake up at: its own, or `clock` (the last reading, already past) for
    /// a timer waiting to be dated, so that the caller comes back at once to date it.
    pub(super) fn deadline(self, clock: Option<Instant>) -> Option<Instant> {
        match self {
            Timer::Off => None,
            Timer::Starting(_) => clock,
            Timer::At(at) => Some(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_starting_timer_counts_from_the_reading_that_dates_it() {
        let t0 = Instant::now();
        let mut timer = Timer::Starting(Duration::from_secs(3));
        assert_eq!(timer.deadline(Some(t0)), Some(t0));
        assert!(!timer.expired(t0 + Duration::from_secs(10)));
        timer.date(t0 + Duration::from_secs(1));
        assert_eq!(timer.deadline(Some(t0)), Some(t0 + Duration::from_secs(4)));
        assert!(!timer.expired(t0 + Duration::from_millis(3999)));
        assert!(timer.expired(t0 + Duration::from_secs(4)));
        // Dating again changes nothing.
        timer.date(t0 + Duration::from_secs(9));
        assert_eq!(timer, Timer::At(t0 + Duration::from_secs(4)));
        assert!(Timer::Off.deadline(Some(t0)).is_none() && Timer::Off.is_off());
    }
}
