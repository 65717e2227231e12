//! `-o s3://bucket/prefix`: the target opened (and checked) before any Telegram request
//! and handed to the download engine as its object output.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use objstore::{ObjError, Target, TargetUrl};
use tgclient::download::object::ObjectOutput;

use crate::config::{self, Env};

/// Opens `url` with the config file's `[storage]` section (credentials from the AWS
/// environment variables or profile files). Opening lists the bucket once, so a malformed
/// endpoint, missing credentials, refused credentials, an unreachable service or a missing
/// bucket fail here, before anything is asked of Telegram.
///
/// # Errors
/// The config file cannot be read, or the target cannot be opened (the error says what to
/// do).
pub async fn open(url: &TargetUrl, env: &impl Env) -> Result<Target> {
    let settings = config::storage_settings(env)?;
    Target::open(&url.to_string(), &settings)
        .await
        .with_context(|| format!("cannot write to {url}"))
}

/// The engine's object output for `target` (tgclient implements its `ObjectTarget` for
/// `objstore::Target`), with its defaults.
pub fn engine_output(target: &Target) -> ObjectOutput {
    ObjectOutput::new(Arc::new(target.clone()))
}

/// Tries of a storage call of tgdl's own (leases, manifests, result.json) that fails for
/// now: the same patience as the engine's part uploads.
const ATTEMPTS: u32 = 8;
/// The pause after the first such failure; it doubles, up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(500);
const MAX_PAUSE: Duration = Duration::from_secs(8);

/// Runs `call` until it succeeds, fails for good, or failed for now [`ATTEMPTS`] times (a
/// service restarting, the network gone for a moment).
///
/// # Errors
/// The last failure.
pub async fn retrying<T, F, Fut>(what: &str, mut call: F) -> Result<T, ObjError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ObjError>>,
{
    let mut pause = FIRST_PAUSE;
    for _ in 1..ATTEMPTS {
        match call().await {
            Err(error) if error.is_transient() => {
                tracing::warn!(%error, "{what} failed for now; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
            done => return done,
        }
    }
    call().await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn network() -> ObjError {
        ObjError::Network {
            target: "t".into(),
            message: "refused".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_tried_again_and_others_are_not() {
        let calls = AtomicU32::new(0);
        let done = retrying("test", || async {
            match calls.fetch_add(1, Ordering::Relaxed) {
                0..=2 => Err(network()),
                _ => Ok(7),
            }
        })
        .await;
        assert!(matches!(done, Ok(7)));
        assert_eq!(calls.load(Ordering::Relaxed), 4);

        let calls = AtomicU32::new(0);
        let refused: Result<(), _> = retrying("test", || async {
            calls.fetch_add(1, Ordering::Relaxed);
            Err(ObjError::BucketMissing {
                bucket: "b".into(),
                endpoint: "e".into(),
            })
        })
        .await;
        assert!(matches!(refused, Err(ObjError::BucketMissing { .. })));
        assert_eq!(calls.load(Ordering::Relaxed), 1);

        let calls = AtomicU32::new(0);
        let gone: Result<(), _> = retrying("test", || async {
            calls.fetch_add(1, Ordering::Relaxed);
            Err(network())
        })
        .await;
        assert!(gone.is_err());
        assert_eq!(calls.load(Ordering::Relaxed), ATTEMPTS);
    }
}
