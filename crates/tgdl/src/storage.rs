//! `-o s3://bucket/prefix`: the target opened (and checked) before any Telegram request,
//! handed to the download engine through its [`ObjectTarget`] trait, and the run's
//! manifest and `result.json` written beside the files.

use std::sync::Arc;

use anyhow::{Context, Result};
use bytes::Bytes;
use objstore::{ObjError, StorageConfig, Target, TargetUrl, UploadId};
use tgclient::download::object::{
    ObjectError, ObjectErrorKind, ObjectFuture, ObjectInfo, ObjectOutput, ObjectTarget, PartReceipt,
};

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

/// The engine's object output for `target`, with its defaults.
pub fn engine_output(target: &Target) -> ObjectOutput {
    ObjectOutput::new(Arc::new(EngineTarget(target.clone())))
}

/// `objstore::Target` as the engine's [`ObjectTarget`].
#[derive(Debug)]
pub struct EngineTarget(pub Target);

/// What an `objstore` failure means to the engine.
// Taken by value: it is what `map_err` hands over.
#[allow(clippy::needless_pass_by_value)]
fn engine_error(error: ObjError) -> ObjectError {
    let kind = match &error {
        _ if error.is_transient() => ObjectErrorKind::Transient,
        ObjError::UploadGone { .. } => ObjectErrorKind::UploadGone,
        ObjError::AlreadyExists { .. } => ObjectErrorKind::Exists,
        ObjError::ChecksumMismatch { .. } => ObjectErrorKind::Mismatch,
        _ => ObjectErrorKind::Refused,
    };
    ObjectError::new(kind, error.to_string())
}

fn receipt(part: objstore::PartReceipt) -> PartReceipt {
    PartReceipt {
        number: part.number,
        etag: part.etag,
        sha256: part.sha256,
        size: part.size,
    }
}

fn upload_id(upload: &str) -> UploadId {
    UploadId(upload.to_owned())
}

impl ObjectTarget for EngineTarget {
    fn min_part_size(&self) -> u64 {
        self.0.min_part_size()
    }

    fn put_small<'a>(
        &'a self,
        key: &'a str,
        bytes: Bytes,
        sha256: [u8; 32],
    ) -> ObjectFuture<'a, ()> {
        Box::pin(async move {
            self.0
                .put_small(key, bytes, sha256)
                .await
                .map_err(engine_error)
        })
    }

    fn begin<'a>(&'a self, key: &'a str) -> ObjectFuture<'a, String> {
        Box::pin(async move {
            self.0
                .begin(key)
                .await
                .map(|upload| upload.0)
                .map_err(engine_error)
        })
    }

    fn put_part<'a>(
        &'a self,
        key: &'a str,
        upload: &'a str,
        number: u32,
        bytes: Bytes,
        sha256: [u8; 32],
    ) -> ObjectFuture<'a, PartReceipt> {
        Box::pin(async move {
            self.0
                .put_part(key, &upload_id(upload), number, bytes, sha256)
                .await
                .map(receipt)
                .map_err(engine_error)
        })
    }

    fn list_parts<'a>(
        &'a self,
        key: &'a str,
        upload: &'a str,
    ) -> ObjectFuture<'a, Vec<PartReceipt>> {
        Box::pin(async move {
            self.0
                .list_parts(key, &upload_id(upload))
                .await
                .map(|parts| parts.into_iter().map(receipt).collect())
                .map_err(engine_error)
        })
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        upload: &'a str,
        parts: &'a [PartReceipt],
    ) -> ObjectFuture<'a, ()> {
        Box::pin(async move {
            let parts: Vec<objstore::PartReceipt> = parts
                .iter()
                .map(|part| objstore::PartReceipt {
                    number: part.number,
                    etag: part.etag.clone(),
                    sha256: part.sha256,
                    size: part.size,
                })
                .collect();
            self.0
                .complete(key, &upload_id(upload), &parts)
                .await
                .map_err(engine_error)
        })
    }

    fn abort<'a>(&'a self, key: &'a str, upload: &'a str) -> ObjectFuture<'a, ()> {
        Box::pin(async move {
            self.0
                .abort(key, &upload_id(upload))
                .await
                .map_err(engine_error)
        })
    }

    fn publish<'a>(
        &'a self,
        staging: &'a str,
        final_key: &'a str,
        sha256: [u8; 32],
    ) -> ObjectFuture<'a, ()> {
        Box::pin(async move {
            self.0
                .publish(staging, final_key, sha256)
                .await
                .map_err(engine_error)
        })
    }

    fn stat<'a>(&'a self, key: &'a str) -> ObjectFuture<'a, Option<ObjectInfo>> {
        Box::pin(async move {
            self.0
                .stat(key)
                .await
                .map(|info| {
                    info.map(|info| ObjectInfo {
                        size: info.size,
                        sha256: info.sha256,
                    })
                })
                .map_err(engine_error)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_failures_keep_their_meaning_for_the_engine() {
        let kind = |error: ObjError| engine_error(error).kind;
        assert_eq!(
            kind(ObjError::Network {
                target: "t".into(),
                message: "refused".into()
            }),
            ObjectErrorKind::Transient
        );
        assert_eq!(
            kind(ObjError::UploadGone {
                key: "k".into(),
                upload_id: "u".into()
            }),
            ObjectErrorKind::UploadGone
        );
        assert_eq!(
            kind(ObjError::AlreadyExists {
                key: "k".into(),
                existing: "e".into()
            }),
            ObjectErrorKind::Exists
        );
        assert_eq!(
            kind(ObjError::BucketMissing {
                bucket: "b".into(),
                endpoint: "e".into()
            }),
            ObjectErrorKind::Refused
        );
        assert_eq!(
            kind(ObjError::CredentialsRefused {
                target: "t".into(),
                code: "InvalidAccessKeyId".into()
            }),
            ObjectErrorKind::Refused
        );
    }
}
