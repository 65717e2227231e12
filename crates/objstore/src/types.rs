//! The values the storage operations take and give back.

use serde::{Deserialize, Serialize};

/// The smallest part S3 accepts in a multipart upload, except the last one (5 MiB).
pub const S3_MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// The most parts one S3 multipart upload may have.
pub const S3_MAX_PARTS: u32 = 10_000;

/// A multipart upload as the service names it. Opaque; stored by the engine to continue
/// the same upload after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UploadId(pub String);

impl UploadId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UploadId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One part the service has: what `complete` needs to assemble the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartReceipt {
    /// 1-based, as in S3.
    pub number: u32,
    /// The service's entity tag of the part, quotes included as the service sent it.
    pub etag: String,
    /// SHA-256 of the part's bytes (sent with the part and checked by the service).
    pub sha256: [u8; 32],
    pub size: u64,
}

/// What `stat` knows about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    /// The whole object's SHA-256, from its full-object checksum or its `sha256` metadata;
    /// `None` for an object tgdl did not write.
    pub sha256: Option<[u8; 32]>,
    /// Whether `sha256` is the service's own full-object checksum (computed from the
    /// bytes it stores) rather than metadata the writer attached.
    pub checksum_by_service: bool,
}

/// Where tgdl keeps its own objects under the target's prefix, beside the files.
pub mod layout {
    /// Multipart uploads are assembled here and copied to their final key once verified.
    pub fn staging_key(media_key: &str) -> String {
        format!(".tgdl/incoming/{media_key}")
    }

    /// The manifest of one run, beside the files.
    pub fn manifest_key(run: &str) -> String {
        format!(".tgdl/manifests/{run}.jsonl")
    }

    /// The lease on one media file (an object, or a folder of claims where the service has
    /// no conditional create).
    pub fn lease_key(media_key: &str) -> String {
        format!(".tgdl/leases/{media_key}")
    }
}
