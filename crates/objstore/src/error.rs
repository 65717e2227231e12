//! What can go wrong talking to a storage service, in words that say what to do next.
//!
//! No variant carries a credential: messages name the target (bucket, endpoint) and the
//! service's error code, never a key id or secret.

/// A storage operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjError {
    /// The URL given as output is not one this build can write to.
    #[error(
        "unsupported output URL {url:?}: {why} (use s3://bucket/prefix, file:///path or memory://)"
    )]
    BadUrl { url: String, why: String },
    /// The configuration is incomplete or contradictory (no region, a bad endpoint, ...).
    #[error("object storage configuration: {0}")]
    Config(String),
    /// No credentials were found in the config, the environment or the profile files.
    #[error(
        "no credentials for {target}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials"
    )]
    NoCredentials { target: String },
    /// The service refused the credentials or the signature (403 on a signed request).
    #[error(
        "{target} refused the credentials ({code}): check the access key, the secret and the region"
    )]
    CredentialsRefused { target: String, code: String },
    /// The bucket does not exist (or this key may not see it).
    #[error("bucket {bucket:?} does not exist at {endpoint}: create it or fix the URL")]
    BucketMissing { bucket: String, endpoint: String },
    /// The service is full or refuses writes (quota, storage full, write-once policy).
    #[error(
        "{target} refuses writes ({code}: {message}): free space or raise the quota, then run again; finished files stay"
    )]
    Refused {
        target: String,
        code: String,
        message: String,
    },
    /// The service could not be reached or broke off the exchange; worth retrying later.
    #[error(
        "cannot reach {target}: {message} (run again when the service is back; nothing done is lost)"
    )]
    Network { target: String, message: String },
    /// The service answered with a server error (5xx); worth retrying.
    #[error("{target} failed ({status} {code}): {message}; run again later")]
    Unavailable {
        target: String,
        status: u16,
        code: String,
        message: String,
    },
    /// The multipart upload is not known to the service any more (aborted, expired by a
    /// lifecycle rule, or completed): start a new upload.
    #[error("upload {upload_id} of {key} is gone from the service; it has to start again")]
    UploadGone { key: String, upload_id: String },
    /// An object already exists at a key this operation must not overwrite.
    #[error("{key} already exists with other content (sha256 {existing}); not overwritten")]
    AlreadyExists { key: String, existing: String },
    /// What the service received or stored does not match its SHA-256; nothing was kept.
    #[error("{key}: sha256 {actual}, expected {expected}; nothing kept")]
    ChecksumMismatch {
        key: String,
        expected: String,
        actual: String,
    },
    /// The object to read is not there.
    #[error("{key} not found")]
    NotFound { key: String },
    /// The service answered something this client does not understand.
    #[error("{target}: unexpected answer to {operation}: {message}")]
    Protocol {
        target: String,
        operation: &'static str,
        message: String,
    },
    /// An error of a service reached through OpenDAL that none of the above describes.
    #[error("{target}: {operation}: {message}")]
    Other {
        target: String,
        operation: &'static str,
        message: String,
    },
}

impl ObjError {
    /// Whether running the same operation again later may succeed without a change of
    /// configuration (network trouble, a restarting service).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Network { .. } | Self::Unavailable { .. })
    }
}
