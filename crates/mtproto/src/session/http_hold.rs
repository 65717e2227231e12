//! How long a server holds one request of MTProto over HTTP before answering it.
//!
//! Over HTTP the server can only answer requests, so it holds each one until it has
//! something for the session. The request's `http_wait` says how: answer within `max_wait`
//! ms even with nothing to send; once there is output, wait `wait_after` ms past the latest
//! message for more to join it, and `max_delay` ms at most. Without `http_wait` a request is
//! held up to the server's own cap, and output goes at once.

use std::time::{Duration, Instant};

/// The timing of one held HTTP request, on the monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpHold {
    since: Instant,
    max_delay: Duration,
    wait_after: Duration,
    max_wait: Duration,
    /// The longest the server holds anything (also the hold without `http_wait`).
    cap: Duration,
    /// When output for the session was first and last seen during the hold.
    first_output: Option<Instant>,
    last_output: Option<Instant>,
}

impl HttpHold {
    /// A request that arrived at `now`, held at most `cap`.
    pub fn new(now: Instant, cap: Duration) -> Self {
        Self {
            since: now,
            max_delay: Duration::ZERO,
            wait_after: Duration::ZERO,
            max_wait: cap,
            cap,
            first_output: None,
            last_output: None,
        }
    }

    /// The request's `http_wait` (milliseconds; each capped at the server's limit, negative
    /// ones read as zero).
    pub fn set_wait(&mut self, max_delay: i32, wait_after: i32, max_wait: i32) {
        let millis = |ms: i32| Duration::from_millis(u64::try_from(ms).unwrap_or(0)).min(self.cap);
        self.max_delay = millis(max_delay);
        self.wait_after = millis(wait_after);
        self.max_wait = millis(max_wait);
    }

    /// More output was queued for the session at `now`: `wait_after` counts from here (once
    /// output was seen at all).
    pub fn output_queued(&mut self, now: Instant) {
        if self.first_output.is_some() {
            self.last_output = Some(now);
        }
    }

    /// When to answer, given whether the session has output now: `None` to answer at once,
    /// or the instant to look again.
    pub fn due(&mut self, now: Instant, has_output: bool) -> Option<Instant> {
        let due_at = if has_output {
            let first = *self.first_output.get_or_insert(now);
            let last = *self.last_output.get_or_insert(now);
            (last + self.wait_after).min(first + self.max_delay)
        } else {
            self.since + self.max_wait
        };
        (now < due_at).then_some(due_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: Duration = Duration::from_secs(25);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn with_nothing_to_send_it_is_held_for_max_wait() {
        let t0 = Instant::now();
        let mut hold = HttpHold::new(t0, CAP);
        hold.set_wait(0, 0, 300);
        assert_eq!(hold.due(t0, false), Some(t0 + ms(300)));
        assert_eq!(hold.due(t0 + ms(299), false), Some(t0 + ms(300)));
        assert_eq!(hold.due(t0 + ms(300), false), None);
    }

    #[test]
    fn without_http_wait_it_is_held_up_to_the_cap_and_output_goes_at_once() {
        let t0 = Instant::now();
        let mut hold = HttpHold::new(t0, CAP);
        assert_eq!(hold.due(t0, false), Some(t0 + CAP));
        assert_eq!(hold.due(t0 + ms(10), true), None);
    }

    #[test]
    fn output_waits_wait_after_past_the_latest_message_and_max_delay_at_most() {
        let t0 = Instant::now();
        let mut hold = HttpHold::new(t0, CAP);
        hold.set_wait(1_000, 400, 10_000);
        // Output at 100 ms: answered at 500 unless more comes.
        assert_eq!(hold.due(t0 + ms(100), true), Some(t0 + ms(500)));
        // More at 300 and 650: the answer moves to 700, then 1050, capped at 1100.
        hold.output_queued(t0 + ms(300));
        assert_eq!(hold.due(t0 + ms(300), true), Some(t0 + ms(700)));
        hold.output_queued(t0 + ms(650));
        assert_eq!(hold.due(t0 + ms(650), true), Some(t0 + ms(1050)));
        hold.output_queued(t0 + ms(1000));
        assert_eq!(hold.due(t0 + ms(1000), true), Some(t0 + ms(1100)));
        assert_eq!(hold.due(t0 + ms(1100), true), None);
    }

    #[test]
    fn what_http_wait_asks_is_capped_and_negative_values_are_zero() {
        let t0 = Instant::now();
        let mut hold = HttpHold::new(t0, CAP);
        hold.set_wait(-5, -1, i32::MAX);
        assert_eq!(hold.due(t0, false), Some(t0 + CAP));
        assert_eq!(hold.due(t0 + ms(1), true), None, "no delay asked: at once");
    }
}
