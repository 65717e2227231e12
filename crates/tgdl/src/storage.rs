//! `-o s3://bucket/prefix`: the target opened (and checked) before any Telegram request
//! and handed to the download engine as its object output.

use std::future::Future;
use std::sync::Arc;

use anyhow::{Context, Result};
use objstore::{ObjError, Retry, Target, TargetUrl};
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

/// Runs `call`, a storage call of tgdl's own (leases, manifests, result.json), trying it
/// again while it fails for now (a service restarting, the network gone for a moment), with
/// the same patience as the engine's part uploads.
///
/// # Errors
/// The last failure.
pub async fn retrying<T, Fut>(what: &str, call: impl FnMut() -> Fut) -> Result<T, ObjError>
where
    Fut: Future<Output = Result<T, ObjError>>,
{
    Retry::default()
        .run(what, ObjError::is_transient, call)
        .await
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
        assert_eq!(calls.load(Ordering::Relaxed), Retry::default().attempts);
    }
}
