//! Time as the caller reads it. This crate never looks at a clock: every call that needs the
//! time takes a [`UnixTime`].

use std::ops::Add;
use std::time::Duration;

/// A point in time as the duration since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixTime(Duration);

impl UnixTime {
    /// The time `since_epoch` after 1970-01-01T00:00:00Z.
    pub const fn from_duration(since_epoch: Duration) -> Self {
        Self(since_epoch)
    }

    /// Whole seconds since the epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    /// Milliseconds since the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Self(Duration::from_millis(millis))
    }

    /// The duration since the epoch.
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// Whole seconds since the epoch.
    pub const fn as_secs(self) -> u64 {
        self.0.as_secs()
    }

    /// How long after `earlier` this is; zero when `earlier` is later.
    pub fn saturating_since(self, earlier: Self) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// `self - duration`, stopping at the epoch.
    #[must_use]
    pub fn saturating_sub(self, duration: Duration) -> Self {
        Self(self.0.saturating_sub(duration))
    }
}

/// Saturates at the largest representable time rather than overflowing.
impl Add<Duration> for UnixTime {
    type Output = Self;

    fn add(self, rhs: Duration) -> Self {
        Self(self.0.checked_add(rhs).unwrap_or(Duration::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = UnixTime::from_secs(10);
        assert_eq!(
            (t + Duration::from_millis(1500)).as_duration().as_millis(),
            11_500
        );
        assert_eq!(
            t.saturating_sub(Duration::from_secs(20)),
            UnixTime::default()
        );
        assert_eq!(t.saturating_since(UnixTime::from_secs(11)), Duration::ZERO);
        assert_eq!(
            UnixTime::from_secs(12).saturating_since(t),
            Duration::from_secs(2)
        );
        let max = UnixTime::from_duration(Duration::MAX);
        assert_eq!(max + Duration::from_secs(1), max);
    }
}
