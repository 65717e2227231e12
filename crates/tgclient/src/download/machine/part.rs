//! One part of a file in the machine: where it is in its life, and what it went through.

use tokio::time::Instant;

use super::Route;
use crate::policy::Attempts;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// To be asked for (again) from `at` on.
    Waiting { at: Instant },
    /// A request for its bytes is out.
    Fetching,
    /// Waiting for something else first (a renewed reference, a CDN reupload).
    Blocked,
    /// Its bytes came and wait for the server's hashes.
    Held,
    /// Being checked and written.
    Storing,
}

impl Stage {
    /// Whether a part at this stage will be checked against hashes it does not have yet.
    pub(super) fn wants_hashes(self) -> bool {
        matches!(self, Stage::Fetching | Stage::Held)
    }
}

#[derive(Debug)]
pub(super) struct Part {
    pub(super) offset: u64,
    pub(super) len: u64,
    pub(super) stage: Stage,
    /// Where it was last asked from.
    pub(super) route: Route,
    /// Its failures, as the recovery policy counts them.
    pub(super) attempts: Attempts,
    pub(super) cdn_refusals: u32,
    pub(super) refetches: u32,
    pub(super) reuploads: u32,
    pub(super) hash_asks: u32,
}

impl Part {
    pub(super) fn new(offset: u64, len: u64) -> Self {
        Self {
            offset,
            len,
            stage: Stage::Fetching,
            route: Route::Dc(0),
            attempts: Attempts::default(),
            cdn_refusals: 0,
            refetches: 0,
            reuploads: 0,
            hash_asks: 0,
        }
    }
}
