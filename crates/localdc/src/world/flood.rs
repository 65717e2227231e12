//! Flood control: sliding-window rate limits per method and per account, answering
//! `420 FLOOD_WAIT_X` with X the whole seconds until the oldest counted call leaves the
//! window (rounded up, at least 1). Premium rules answer `420 FLOOD_PREMIUM_WAIT_X`
//! instead: core.telegram.org/api/files lists it for `upload.getFile` ("download speed is
//! limited because the current account does not have a Premium subscription, ... the
//! query must be automatically repeated by the client after X seconds").

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::fixture::FloodRule;
use crate::sync::lock;

/// How often a check also drops the counters of callers whose calls have all left their
/// window, so callers that stop calling are forgotten (once per interval keeps the scan
/// off the per-call cost).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

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
    /// Rules answering `FLOOD_PREMIUM_WAIT_X`; counted after `rules` (index `rules.len() + i`).
    premium: Vec<FloodRule>,
    /// Call times per (rule index, caller), oldest first; callers with no call left in the
    /// window lose their entry at the next sweep.
    calls: HashMap<(usize, Caller), VecDeque<Instant>>,
    /// When idle entries were last dropped from `calls`.
    last_sweep: Option<Instant>,
}

impl Inner {
    /// Drops the entries whose rule is gone or whose newest call has left the window.
    fn sweep(&mut self, now: Instant) {
        let windows: Vec<Duration> = self.rules.iter().chain(&self.premium).map(window).collect();
        self.calls.retain(|(index, _), times| {
            windows.get(*index).is_some_and(|window| {
                times
                    .back()
                    .is_some_and(|newest| now.saturating_duration_since(*newest) < *window)
            })
        });
        self.last_sweep = Some(now);
    }
}

/// How long a call counts against `rule`.
fn window(rule: &FloodRule) -> Duration {
    Duration::from_secs(u64::from(rule.per_seconds))
}

/// A refused call: how long to wait, and whether it is a Premium speed limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub seconds: u32,
    /// `FLOOD_PREMIUM_WAIT_X` rather than `FLOOD_WAIT_X`.
    pub premium: bool,
}

impl Refusal {
    /// The `rpc_error` message: `FLOOD_WAIT_X` or `FLOOD_PREMIUM_WAIT_X`.
    pub fn message(&self) -> String {
        if self.premium {
            format!("FLOOD_PREMIUM_WAIT_{}", self.seconds)
        } else {
            format!("FLOOD_WAIT_{}", self.seconds)
        }
    }
}

impl Flood {
    /// Starts with `rules`.
    pub fn new(rules: Vec<FloodRule>) -> Self {
        Self::with_premium(rules, Vec::new())
    }

    /// Starts with `rules` and the Premium speed limits `premium`.
    pub fn with_premium(rules: Vec<FloodRule>, premium: Vec<FloodRule>) -> Self {
        Self {
            inner: Mutex::new(Inner {
                rules,
                premium,
                calls: HashMap::new(),
                last_sweep: None,
            }),
        }
    }

    /// Replaces the Premium speed limits (and forgets the calls counted), while the
    /// server runs.
    pub fn set_premium_rules(&self, rules: Vec<FloodRule>) {
        let mut inner = lock(&self.inner);
        inner.premium = rules;
        inner.calls.clear();
    }

    /// The Premium speed limits in force.
    pub fn premium_rules(&self) -> Vec<FloodRule> {
        lock(&self.inner).premium.clone()
    }

    /// Replaces the rules (and forgets the calls counted, those of gone rules included:
    /// counters are keyed by rule index, which the new list reassigns), while the server
    /// runs.
    pub fn set_rules(&self, rules: Vec<FloodRule>) {
        let mut inner = lock(&self.inner);
        inner.rules = rules;
        inner.calls.clear();
    }

    /// The rules in force.
    pub fn rules(&self) -> Vec<FloodRule> {
        lock(&self.inner).rules.clone()
    }

    /// How many (rule, caller) counters are held.
    #[cfg(test)]
    fn counters(&self) -> usize {
        lock(&self.inner).calls.len()
    }

    /// Counts a call of `method` by `caller` at `now`: `Err(seconds)` when a rule refuses
    /// it (the refused call is not counted).
    pub fn check(&self, method: &str, caller: Caller, now: Instant) -> Result<(), u32> {
        self.check_detailed(method, caller, now)
            .map_err(|refusal| refusal.seconds)
    }

    /// Like [`Flood::check`], telling a Premium speed limit from a plain flood wait (the
    /// kind of the rule asking for the longest wait wins).
    pub fn check_detailed(
        &self,
        method: &str,
        caller: Caller,
        now: Instant,
    ) -> Result<(), Refusal> {
        let mut inner = lock(&self.inner);
        if inner
            .last_sweep
            .is_none_or(|last| now.saturating_duration_since(last) >= SWEEP_EVERY)
        {
            inner.sweep(now);
        }
        let Inner {
            rules,
            premium,
            calls,
            last_sweep: _,
        } = &mut *inner;
        let user = match caller {
            Caller::User(id) => Some(id),
            Caller::Key { .. } => None,
        };
        let plain_count = rules.len();
        let applicable: Vec<(usize, &FloodRule)> = rules
            .iter()
            .chain(premium.iter())
            .enumerate()
            .filter(|(_, r)| r.method == method || r.method == "*")
            .filter(|(_, r)| r.user_id.is_none() || r.user_id == user)
            .collect();
        let mut wait = Duration::ZERO;
        let mut premium_wait = false;
        for (index, rule) in &applicable {
            let window = window(rule);
            // A counter left empty here goes at the next sweep: removing it now would only
            // make an accepted call insert it again.
            let (counted, oldest) = match calls.get_mut(&(*index, caller)) {
                Some(times) => {
                    while times
                        .front()
                        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
                    {
                        times.pop_front();
                    }
                    (times.len(), times.front().copied())
                }
                None => (0, None),
            };
            if counted >= rule.max_calls as usize {
                let free_at = oldest.map_or(now, |t| t + window);
                let this = free_at.saturating_duration_since(now);
                if this > wait || (rule.max_calls == 0 && wait.is_zero()) {
                    premium_wait = *index >= plain_count;
                }
                wait = wait.max(this);
            }
        }
        if !wait.is_zero() || applicable.iter().any(|(_, r)| r.max_calls == 0) {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(Refusal {
                seconds: u32::try_from(secs.max(1)).unwrap_or(u32::MAX),
                premium: premium_wait,
            });
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
        // A refused call is not counted: the wait only shrinks.
        assert_eq!(flood.check("m", a, t0 + Duration::from_secs(5)), Err(5));
        assert!(flood.check("other", a, t0).is_ok());
        assert!(flood.check("m", Caller::User(2), t0).is_ok());
        assert!(flood.check("m", a, t0 + Duration::from_secs(10)).is_ok());
        assert_eq!(
            flood.check("m", a, t0 + Duration::from_millis(10_500)),
            Err(1)
        );
    }

    #[test]
    fn counters_of_callers_that_stopped_calling_are_dropped() {
        let flood = Flood::new(vec![FloodRule {
            method: "m".into(),
            max_calls: 1,
            per_seconds: 10,
            user_id: None,
        }]);
        let t0 = Instant::now();
        for id in 0..100 {
            assert!(flood.check("m", Caller::User(id), t0).is_ok());
        }
        assert_eq!(flood.check("m", Caller::User(0), t0), Err(10));
        assert_eq!(flood.counters(), 100);
        // Inside the window nothing is forgotten.
        assert!(
            flood
                .check("m", Caller::User(100), t0 + Duration::from_secs(9))
                .is_ok()
        );
        assert_eq!(flood.counters(), 101);
        // Once the first hundred calls have left the window, one call by another caller
        // drops their counters.
        let later = t0 + Duration::from_secs(10);
        assert!(flood.check("m", Caller::User(200), later).is_ok());
        assert_eq!(flood.counters(), 2);
        // A refused call leaves no counter behind.
        let closed = Flood::new(vec![FloodRule {
            method: "m".into(),
            max_calls: 0,
            per_seconds: 10,
            user_id: None,
        }]);
        assert_eq!(closed.check("m", Caller::User(1), t0), Err(1));
        assert_eq!(closed.counters(), 0);
    }

    #[test]
    fn premium_rules_answer_premium_waits() {
        let rule = |max_calls, per_seconds| FloodRule {
            method: "upload.getFile".into(),
            max_calls,
            per_seconds,
            user_id: None,
        };
        let flood = Flood::with_premium(vec![rule(10, 60)], vec![rule(1, 5)]);
        let t0 = Instant::now();
        let a = Caller::User(1);
        assert!(flood.check_detailed("upload.getFile", a, t0).is_ok());
        let refused = flood
            .check_detailed("upload.getFile", a, t0 + Duration::from_secs(1))
            .unwrap_err();
        assert_eq!(
            refused,
            Refusal {
                seconds: 4,
                premium: true
            }
        );
        assert_eq!(refused.message(), "FLOOD_PREMIUM_WAIT_4");
        // The plain rule's longer wait wins once it bites.
        flood.set_rules(vec![rule(1, 60)]);
        assert!(flood.check_detailed("upload.getFile", a, t0).is_ok());
        let refused = flood
            .check_detailed("upload.getFile", a, t0 + Duration::from_secs(1))
            .unwrap_err();
        assert_eq!(refused.message(), "FLOOD_WAIT_59");
        assert_eq!(flood.premium_rules().len(), 1);
    }
}
