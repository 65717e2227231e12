//! `-o s3://bucket/prefix`: the target opened (and checked) before any Telegram request
//! and handed to the download engine as its object output.

use std::sync::Arc;

use anyhow::{Context, Result};
use objstore::{StorageConfig, Target, TargetUrl};
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
    open_with(url, &settings).await
}

/// [`open`] with the settings given (tests, the chaos suite and the bench).
///
/// # Errors
/// As [`open`].
pub async fn open_with(url: &TargetUrl, settings: &StorageConfig) -> Result<Target> {
    Target::open(&url.to_string(), settings)
        .await
        .with_context(|| format!("cannot write to {url}"))
}

/// The engine's object output for `target` (tgclient implements its `ObjectTarget` for
/// `objstore::Target`), with its defaults.
pub fn engine_output(target: &Target) -> ObjectOutput {
    ObjectOutput::new(Arc::new(target.clone()))
}
