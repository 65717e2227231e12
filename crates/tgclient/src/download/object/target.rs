//! What the engine needs from an object store, as a trait: `objstore::Target` implements
//! it (S3, a local path, memory), and the tests use an in-memory store with faults.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
pub use objstore::{ObjectInfo, PartReceipt};

/// A storage call under way.
pub type ObjectFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ObjectError>> + Send + 'a>>;

/// The storage operations a download into object storage takes. Keys are relative to the
/// target's prefix. Implementations never replace an object at a final key with other
/// content (`put_small`, `publish`).
pub trait ObjectTarget: fmt::Debug + Send + Sync {
    /// The smallest part a multipart upload may have (all but the last).
    fn min_part_size(&self) -> u64;
    /// Stores a whole small file at its final key, with its SHA-256 (checked by the
    /// service where it can). The same content already there is success.
    fn put_small<'a>(
        &'a self,
        key: &'a str,
        bytes: Bytes,
        sha256: [u8; 32],
    ) -> ObjectFuture<'a, ()>;
    /// Starts a multipart upload to `key`; the upload id.
    fn begin<'a>(&'a self, key: &'a str) -> ObjectFuture<'a, String>;
    /// Uploads part `number` (1-based) with its SHA-256.
    fn put_part<'a>(
        &'a self,
        key: &'a str,
        upload: &'a str,
        number: u32,
        bytes: Bytes,
        sha256: [u8; 32],
    ) -> ObjectFuture<'a, PartReceipt>;
    /// The parts the service has; [`ObjectErrorKind::UploadGone`] when it no longer
    /// knows the upload.
    fn list_parts<'a>(
        &'a self,
        key: &'a str,
        upload: &'a str,
    ) -> ObjectFuture<'a, Vec<PartReceipt>>;
    /// Assembles the parts into the object at `key`.
    fn complete<'a>(
        &'a self,
        key: &'a str,
        upload: &'a str,
        parts: &'a [PartReceipt],
    ) -> ObjectFuture<'a, ()>;
    /// Drops an upload and its parts (one already gone is not an error).
    fn abort<'a>(&'a self, key: &'a str, upload: &'a str) -> ObjectFuture<'a, ()>;
    /// Makes the completed, verified object at `staging` visible at `final_key` with its
    /// SHA-256, then removes `staging`.
    fn publish<'a>(
        &'a self,
        staging: &'a str,
        final_key: &'a str,
        sha256: [u8; 32],
    ) -> ObjectFuture<'a, ()>;
    /// Size and SHA-256 of the object at `key`, if there is one.
    fn stat<'a>(&'a self, key: &'a str) -> ObjectFuture<'a, Option<ObjectInfo>>;
}

/// A storage call that failed: what it means for the download, and the service's words.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ObjectError {
    pub kind: ObjectErrorKind,
    /// What the storage layer said (what to do next included; never a credential).
    pub message: String,
}

/// What a storage failure means for the download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectErrorKind {
    /// The service is unreachable or failing for now: try again after a pause.
    Transient,
    /// The multipart upload is not known to the service any more.
    UploadGone,
    /// Other content is already at a key that must not be overwritten.
    Exists,
    /// What the service stored does not match what was sent.
    Mismatch,
    /// Credentials refused, bucket missing, quota full, a bad configuration: nothing
    /// more can be written until someone changes something. The run stops; what is done
    /// stays done.
    Refused,
}

impl ObjectError {
    pub fn new(kind: ObjectErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl From<objstore::ObjError> for ObjectError {
    fn from(error: objstore::ObjError) -> Self {
        use objstore::ObjError as E;
        let kind = match &error {
            E::Network { .. } | E::Unavailable { .. } => ObjectErrorKind::Transient,
            // Nothing left to continue from (a staging object gone too): start again.
            E::UploadGone { .. } | E::NotFound { .. } => ObjectErrorKind::UploadGone,
            E::AlreadyExists { .. } => ObjectErrorKind::Exists,
            E::ChecksumMismatch { .. } => ObjectErrorKind::Mismatch,
            _ => ObjectErrorKind::Refused,
        };
        Self::new(kind, error.to_string())
    }
}

/// The storage layer's target, as the engine uses it.
impl ObjectTarget for objstore::Target {
    fn min_part_size(&self) -> u64 {
        objstore::Target::min_part_size(self)
    }

    fn put_small<'a>(
        &'a self,
        key: &'a str,
        bytes: Bytes,
        sha256: [u8; 32],
    ) -> ObjectFuture<'a, ()> {
        Box::pin(async move { Ok(objstore::Target::put_small(self, key, bytes, sha256).await?) })
    }

    fn begin<'a>(&'a self, key: &'a str) -> ObjectFuture<'a, String> {
        Box::pin(async move { Ok(objstore::Target::begin(self, key).await?.0) })
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
            let upload = objstore::UploadId(upload.to_owned());
            Ok(objstore::Target::put_part(self, key, &upload, number, bytes, sha256).await?)
        })
    }

    fn list_parts<'a>(
        &'a self,
        key: &'a str,
        upload: &'a str,
    ) -> ObjectFuture<'a, Vec<PartReceipt>> {
        Box::pin(async move {
            let upload = objstore::UploadId(upload.to_owned());
            Ok(objstore::Target::list_parts(self, key, &upload).await?)
        })
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        upload: &'a str,
        parts: &'a [PartReceipt],
    ) -> ObjectFuture<'a, ()> {
        Box::pin(async move {
            let upload = objstore::UploadId(upload.to_owned());
            Ok(objstore::Target::complete(self, key, &upload, parts).await?)
        })
    }

    fn abort<'a>(&'a self, key: &'a str, upload: &'a str) -> ObjectFuture<'a, ()> {
        Box::pin(async move {
            let upload = objstore::UploadId(upload.to_owned());
            Ok(objstore::Target::abort(self, key, &upload).await?)
        })
    }

    fn publish<'a>(
        &'a self,
        staging: &'a str,
        final_key: &'a str,
        sha256: [u8; 32],
    ) -> ObjectFuture<'a, ()> {
        Box::pin(
            async move { Ok(objstore::Target::publish(self, staging, final_key, sha256).await?) },
        )
    }

    fn stat<'a>(&'a self, key: &'a str) -> ObjectFuture<'a, Option<ObjectInfo>> {
        Box::pin(async move { Ok(objstore::Target::stat(self, key).await?) })
    }
}
