//! tgdl's storage layer: archives written straight to S3-compatible object storage (or a
//! local path), resumable at the part and verified before anything is visible.
//!
//! `Target::open("s3://bucket/prefix", &StorageConfig)` gives the operations the download
//! engine needs: `put_small`, the multipart calls (`begin`, `put_part`, `list_parts`,
//! `complete`, `abort`), `publish` (staging key to final key, with the SHA-256), `stat`,
//! leases and `put_text` for manifests. `docs/object-storage.md` says why it is built this
//! way and what the services (Garage, AWS) do; in short:
//!
//! - Apache OpenDAL 0.59 (features `services-s3`, `services-fs`, `services-memory`) does
//!   reading, listing, deleting, plain and conditional writes, and gives us its HTTP
//!   transport. Its multipart writer is internal (`oio::MultipartWrite`): the public
//!   `Writer` cannot continue an upload by id after a restart, and its S3 checksums are
//!   CRC32C or MD5 only. So multipart uploads, PUTs with `x-amz-checksum-sha256`, HEAD
//!   with checksums and CopyObject are ours (`s3`), signed by reqsign (the signer
//!   OpenDAL's S3 service uses) with the same credential chain.
//! - A local path or memory gets the same multipart semantics on plain OpenDAL calls
//!   (`generic`).
//! - `garage` (feature `garage-harness`): a single-node Garage for tests.

mod config;
mod credentials;
mod error;
mod generic;
mod lease;
mod retry;
mod s3;
mod target;
mod types;

#[cfg(feature = "garage-harness")]
pub mod garage;

pub use config::{Credentials, StorageConfig, TargetUrl};
pub use error::ObjError;
pub use lease::{Holder, Lease, LeaseOutcome, unix_now};
pub use retry::Retry;
pub use target::{Target, sha256_of};
pub use types::{ObjectInfo, PartReceipt, S3_MAX_PARTS, S3_MIN_PART_SIZE, UploadId, layout};

/// 128 random bits in hex: upload ids of the generic backend, lease tokens, probe keys.
pub(crate) fn random_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}
