//! The request msg_ids a key's sessions handed to handlers, so that a resent request is
//! known to have run (and is not run twice).

use std::collections::{HashSet, VecDeque};

/// Request msg_ids remembered per key as executed.
const EXECUTED_MEMORY: usize = 4096;

/// The last [`EXECUTED_MEMORY`] (session id, msg_id) pairs handed to handlers.
#[derive(Default)]
pub(super) struct Executed {
    set: HashSet<(i64, i64)>,
    order: VecDeque<(i64, i64)>,
}

impl Executed {
    /// Records request `msg_id` of session `session_id`, forgetting the oldest past the
    /// memory's size.
    pub(super) fn note(&mut self, session_id: i64, msg_id: i64) {
        if self.set.insert((session_id, msg_id)) {
            self.order.push_back((session_id, msg_id));
        }
        while self.order.len() > EXECUTED_MEMORY {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }

    /// Whether any of `msg_ids` of session `session_id` is recorded.
    pub(super) fn any(&self, session_id: i64, msg_ids: &[i64]) -> bool {
        msg_ids
            .iter()
            .any(|id| self.set.contains(&(session_id, *id)))
    }

    /// Forgets every request of `session_ids`.
    pub(super) fn forget_sessions(&mut self, session_ids: &[i64]) {
        let Self { set, order } = self;
        order.retain(|entry| {
            let keep = !session_ids.contains(&entry.0);
            if !keep {
                set.remove(entry);
            }
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_requests_are_forgotten_first_and_per_session() {
        let mut executed = Executed::default();
        for msg_id in 0..=i64::try_from(EXECUTED_MEMORY).unwrap_or(i64::MAX) {
            executed.note(1, msg_id);
        }
        assert!(!executed.any(1, &[0]), "the oldest went past the memory");
        assert!(executed.any(1, &[5, 999_999]));
        assert!(!executed.any(2, &[5]), "per session");
        executed.note(2, 5);
        executed.forget_sessions(&[1]);
        assert!(!executed.any(1, &[5]));
        assert!(executed.any(2, &[5]));
    }
}
