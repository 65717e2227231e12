//! What the engine needs from an object store, as a trait: `objstore::Target` implements
//! it (S3, a local path, memory), and the unit tests use an in-memory store with faults.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

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

/// One part the service has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartReceipt {
    pub number: u32,
    /// The service's entity tag (what completing the upload names the part by).
    pub etag: String,
    pub sha256: [u8; 32],
    pub size: u64,
}

/// What `stat` knows about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    /// Its SHA-256, where the object carries one.
    pub sha256: Option<[u8; 32]>,
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
