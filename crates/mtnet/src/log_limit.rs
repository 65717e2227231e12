//! Keeps one kind of warning from flooding the log: a hostile or broken server can make the
//! same thing happen thousands of times a second.

use std::time::{Duration, Instant};

use crate::clock;

/// Warnings of one kind shown per window at most...
const SHOWN_PER_WINDOW: u32 = 3;
/// ...in a window this long.
const WINDOW: Duration = Duration::from_mins(1);

/// Counts one kind of warning and says which may be shown.
#[derive(Debug)]
pub(crate) struct WarnLimit {
    window_start: Instant,
    shown: u32,
    suppressed: u64,
}

impl WarnLimit {
    pub(crate) fn new() -> Self {
        Self {
            window_start: clock::now(),
            shown: 0,
            suppressed: 0,
        }
    }

    /// Whether this occurrence may be logged: `Some(n)` with the `n` left out since the
    /// last one shown, `None` to leave it out (it is counted).
    pub(crate) fn allow(&mut self) -> Option<u64> {
        self.allow_at(clock::now())
    }

    fn allow_at(&mut self, now: Instant) -> Option<u64> {
        if now.duration_since(self.window_start) >= WINDOW {
            self.window_start = now;
            self.shown = 0;
        }
        if self.shown >= SHOWN_PER_WINDOW {
            self.suppressed += 1;
            return None;
        }
        self.shown += 1;
        Some(std::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_per_minute_and_a_count_of_the_rest() {
        let mut limit = WarnLimit::new();
        let start = limit.window_start;
        let shown: Vec<_> = (0..10).map(|_| limit.allow_at(start)).collect();
        assert_eq!(shown.get(..3), Some(&[Some(0), Some(0), Some(0)][..]));
        assert!(shown.iter().skip(3).all(Option::is_none));
        assert_eq!(limit.allow_at(start + WINDOW), Some(7));
        assert_eq!(limit.allow_at(start + WINDOW), Some(0));
    }
}
