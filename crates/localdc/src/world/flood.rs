//! Flood control: sliding-window rate limits per method and per account, answering
//! `420 FLOOD_WAIT_X` with X the whole seconds until the oldest counted call leaves the
//! window (rounded up, at least 1).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::fixture::FloodRule;
use crate::keys::lock;

/// Who is counted: an account, or an auth key before login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Caller {
    User(i64),
    Key { dc: i32, key_id: u64 },
}

/// The rules in force and the calls counted so far.
#[derive(Debug, Default)]
pub struct Flood {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    rules: Vec<FloodRule>,
    /// Call times per (rule index, caller), oldest first.
    calls: HashMap<(usize, Caller), VecDeque<Instant>>,
}

impl Flood {
    /// Starts with `rules`.
    pub fn new(rules: Vec<FloodRule>) -> Self {
        Self {
            inner: Mutex::new(Inner {
                rules,
                calls: HashMap::new(),
            }),
        }
    }

    /// Replaces the rules (and forgets the calls counted), while the server runs.
    pub fn set_rules(&self, rules: Vec<FloodRule>) {
        let mut inner = lock(&self.inner);
        inner.rules = rules;
        inner.calls.clear();
    }

    /// The rules in force.
    pub fn rules(&self) -> Vec<FloodRule> {
        lock(&self.inner).rules.clone()
    }

    /// Counts a call of `method` by `caller` at `now`: `Err(seconds)` when a rule refuses
    /// it (the refused call is not counted).
    pub fn check(&self, method: &str, caller: Caller, now: Instant) -> Result<(), u32> {
        let mut inner = lock(&self.inner);
        let Inner { rules, calls } = &mut *inner;
        let user = match caller {
            Caller::User(id) => Some(id),
            Caller::Key { .. } => None,
        };
        let applicable: Vec<(usize, &FloodRule)> = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.method == method || r.method == "*")
            .filter(|(_, r)| r.user_id.is_none() || r.user_id == user)
            .collect();
        let mut wait = Duration::ZERO;
        for (index, rule) in &applicable {
            let window = Duration::from_secs(u64::from(rule.per_seconds));
            let times = calls.entry((*index, caller)).or_default();
            while times
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= window)
            {
                times.pop_front();
            }
            if times.len() >= rule.max_calls as usize {
                let free_at = times.front().map_or(now, |t| *t + window);
                wait = wait.max(free_at.saturating_duration_since(now));
            }
        }
        if !wait.is_zero() || applicable.iter().any(|(_, r)| r.max_calls == 0) {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(u32::try_from(secs.max(1)).unwrap_or(u32::MAX));
        }
        for (index, _) in applicable {
            calls.entry((index, caller)).or_default().push_back(now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_window_and_per_caller() {
        let flood = Flood::new(vec![FloodRule {
            method: "m".into(),
            max_calls: 2,
            per_seconds: 10,
            user_id: None,
        }]);
        let t0 = Instant::now();
        let a = Caller::User(1);
        assert!(flood.check("m", a, t0).is_ok());
        assert!(flood.check("m", a, t0 + Duration::from_secs(1)).is_ok());
        assert_eq!(flood.check("m", a, t0 + Duration::from_secs(2)), Err(8));
        assert!(flood.check("other", a, t0).is_ok());
        assert!(flood.check("m", Caller::User(2), t0).is_ok());
        assert!(flood.check("m", a, t0 + Duration::from_secs(10)).is_ok());
        assert_eq!(
            flood.check("m", a, t0 + Duration::from_millis(10_500)),
            Err(1)
        );
    }
}
