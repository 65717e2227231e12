//! Per-DC flood gates: a `FLOOD_WAIT_X` on a file request holds back that DC's file
//! requests (and only those) until the wait is over, so nothing is sent early.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// When each DC may be asked again.
#[derive(Debug, Default)]
pub(crate) struct FloodGates {
    open_at: Mutex<HashMap<i32, Instant>>,
}

impl FloodGates {
    /// Waits until `dc_id` may be asked again.
    pub(crate) async fn pass(&self, dc_id: i32) {
        loop {
            let open_at = self
                .open_at
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&dc_id)
                .copied();
            match open_at {
                Some(at) if at > Instant::now() => tokio::time::sleep_until(at).await,
                _ => return,
            }
        }
    }

    /// Closes `dc_id` for `wait` from now (never shortening a longer wait).
    pub(crate) fn close_for(&self, dc_id: i32, wait: Duration) {
        let until = Instant::now() + wait;
        let mut gates = self.open_at.lock().unwrap_or_else(PoisonError::into_inner);
        let at = gates.entry(dc_id).or_insert(until);
        *at = (*at).max(until);
    }
}
