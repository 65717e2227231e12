//! How a storage call that failed for now (a service restarting, the network gone for a
//! moment) is tried again: the one policy the engine's part uploads and tgdl's own calls
//! (leases, manifests, result.json) share.

use std::future::Future;
use std::time::Duration;

/// Tries and pauses for calls that fail for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Tries in all (at least one is made).
    pub attempts: u32,
    /// The pause after the first failure; it doubles, up to [`Retry::MAX_PAUSE`].
    pub first_pause: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 8,
            first_pause: Duration::from_millis(500),
        }
    }
}

impl Retry {
    /// The longest pause between two tries.
    pub const MAX_PAUSE: Duration = Duration::from_secs(8);

    /// Runs `call` until it succeeds, fails for good (`is_transient` says no), or failed
    /// for now `attempts` times; `what` names the call in the log.
    ///
    /// # Errors
    /// The last failure.
    pub async fn run<T, E, Fut>(
        self,
        what: &str,
        is_transient: impl Fn(&E) -> bool,
        mut call: impl FnMut() -> Fut,
    ) -> Result<T, E>
    where
        E: std::fmt::Display,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut pause = self.first_pause;
        let mut tries = 0;
        loop {
            tries += 1;
            match call().await {
                Err(error) if is_transient(&error) && tries < self.attempts.max(1) => {
                    tracing::info!(%error, ?pause, "{what} failed for now; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Self::MAX_PAUSE);
                }
                done => return done,
            }
        }
    }
}
