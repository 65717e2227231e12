//! `Target`: one output location (a bucket and prefix, or a local path) and the operations
//! the download engine and the CLI need on it. Keys are relative to the prefix.

use std::sync::Arc;

use bytes::Bytes;
use opendal::{ErrorKind, Operator};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::config::{StorageConfig, TargetUrl};
use crate::error::ObjError;
use crate::generic;
use crate::s3::{Created, S3Client};
use crate::types::{ObjectInfo, PartReceipt, S3_MIN_PART_SIZE, UploadId};

/// An opened output location. Cheap to clone; all clones share one HTTP client.
#[derive(Debug, Clone)]
pub struct Target {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    url: TargetUrl,
    /// What errors call this target (no credentials in it).
    name: String,
    op: Operator,
    /// For `create_if_absent` on a local path: OpenDAL's fs service checks `if_not_exists`
    /// and then renames its temp file over the key (two writers can both pass), unless it
    /// writes in place, where it opens with `O_CREAT | O_EXCL`. Leases use the latter.
    exclusive_op: Option<Operator>,
    s3: Option<S3Client>,
    /// Whether the service honours `If-None-Match: *` on PUT (found out once).
    conditional_create: OnceCell<bool>,
}

impl Target {
    /// Opens `s3://bucket/prefix`, `file:///path` or `memory://`. For S3 this loads the
    /// credentials and lists the bucket once, so wrong credentials or a missing bucket are
    /// reported here, before any download starts.
    pub async fn open(url: &str, config: &StorageConfig) -> Result<Self, ObjError> {
        let parsed = TargetUrl::parse(url)?;
        let http = http_transport();
        let mut exclusive_op = None;
        let (name, op, s3) = match &parsed {
            TargetUrl::S3 { bucket, prefix } => {
                let resolved = config.resolve()?;
                let name = format!("{parsed} at {}", resolved.endpoint);
                let mut builder = opendal::services::S3::default()
                    .bucket(bucket)
                    .root(&format!("/{prefix}"))
                    .endpoint(&resolved.endpoint)
                    .region(&resolved.region)
                    .disable_ec2_metadata()
                    .credential_provider_chain(crate::credentials::chain(config));
                if !resolved.path_style {
                    builder = builder.enable_virtual_host_style();
                }
                if config.ignore_environment {
                    builder = builder.disable_config_load();
                }
                let op = Operator::new(builder).map_err(|e| ObjError::Config(e.to_string()))?;
                let client = S3Client::new(
                    http.clone(),
                    bucket,
                    prefix,
                    &resolved,
                    config,
                    name.clone(),
                )
                .await?;
                client.check_bucket().await?;
                (name, op, Some(client))
            }
            TargetUrl::File { root } => {
                // Writes land in a temporary file first and are renamed into place, so a
                // key never shows half a file.
                let builder = opendal::services::Fs::default()
                    .root(root)
                    .atomic_write_dir(&format!("{}/.tgdl/tmp", root.trim_end_matches('/')));
                let op = Operator::new(builder).map_err(|e| ObjError::Config(e.to_string()))?;
                let in_place = Operator::new(opendal::services::Fs::default().root(root))
                    .map_err(|e| ObjError::Config(e.to_string()))?;
                exclusive_op = Some(in_place);
                (parsed.to_string(), op, None)
            }
            TargetUrl::Memory => {
                let op = Operator::new(opendal::services::Memory::default())
                    .map_err(|e| ObjError::Config(e.to_string()))?;
                (parsed.to_string(), op, None)
            }
        };
        let ctx = op.context().with_http_transport(http);
        let op = op.with_context(ctx);
        Ok(Self {
            inner: Arc::new(Inner {
                url: parsed,
                name,
                op,
                exclusive_op,
                s3,
                conditional_create: OnceCell::new(),
            }),
        })
    }

    /// The target as the user named it (`s3://bucket/prefix`), for messages.
    pub fn url(&self) -> &TargetUrl {
        &self.inner.url
    }

    /// The smallest part a multipart upload may have (all but the last): 5 MiB on S3.
    pub fn min_part_size(&self) -> u64 {
        if self.inner.s3.is_some() {
            S3_MIN_PART_SIZE
        } else {
            1
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.inner.name
    }

    pub(crate) fn op_error(
        &self,
        operation: &'static str,
        key: &str,
        e: &opendal::Error,
    ) -> ObjError {
        opendal_error(&self.inner.name, operation, key, e)
    }

    /// Stores a whole small file at its final key, checked by the service against its
    /// SHA-256 where the service can (S3). Never replaces an object with other content:
    /// the same content already there is success (a rerun after a crash), other content is
    /// `AlreadyExists`.
    pub async fn put_small(
        &self,
        key: &str,
        bytes: Bytes,
        sha256: [u8; 32],
    ) -> Result<(), ObjError> {
        let conditional = self.supports_conditional_create().await?;
        if !conditional && let Some(existing) = self.stat(key).await? {
            return same_or_exists(key, &existing, &sha256);
        }
        let created = match &self.inner.s3 {
            Some(s3) => s3.put_object(key, bytes, &sha256, conditional).await?,
            None => self.create_generic(key, bytes).await?,
        };
        match created {
            Created::Yes => Ok(()),
            Created::AlreadyThere => match self.stat(key).await? {
                Some(existing) => same_or_exists(key, &existing, &sha256),
                None => Err(ObjError::AlreadyExists {
                    key: key.to_owned(),
                    existing: "unknown (being written)".to_owned(),
                }),
            },
        }
    }

    async fn create_generic(&self, key: &str, bytes: Bytes) -> Result<Created, ObjError> {
        match self
            .inner
            .op
            .write_with(key, bytes)
            .if_not_exists(true)
            .await
        {
            Ok(_) => Ok(Created::Yes),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConditionNotMatch | ErrorKind::AlreadyExists
                ) =>
            {
                Ok(Created::AlreadyThere)
            }
            Err(e) => Err(self.op_error("write", key, &e)),
        }
    }

    /// Starts a multipart upload to `key` (a staging key: see `publish`).
    pub async fn begin(&self, key: &str) -> Result<UploadId, ObjError> {
        match &self.inner.s3 {
            Some(s3) => s3.create_multipart(key).await,
            None => generic::begin(self, &self.inner.op, key).await,
        }
    }

    /// Uploads part `number` (1-based) with its SHA-256, which the service checks.
    pub async fn put_part(
        &self,
        key: &str,
        upload: &UploadId,
        number: u32,
        bytes: Bytes,
        sha256: [u8; 32],
    ) -> Result<PartReceipt, ObjError> {
        match &self.inner.s3 {
            Some(s3) => s3.upload_part(key, upload, number, bytes, &sha256).await,
            None => {
                generic::put_part(self, &self.inner.op, key, upload, number, bytes, sha256).await
            }
        }
    }

    /// The parts the service has for this upload; `UploadGone` when it no longer knows it.
    pub async fn list_parts(
        &self,
        key: &str,
        upload: &UploadId,
    ) -> Result<Vec<PartReceipt>, ObjError> {
        match &self.inner.s3 {
            Some(s3) => s3.list_parts(key, upload).await,
            None => generic::list_parts(self, &self.inner.op, key, upload).await,
        }
    }

    /// Assembles the parts (in order, each with its checksum) into the object at `key`.
    pub async fn complete(
        &self,
        key: &str,
        upload: &UploadId,
        parts: &[PartReceipt],
    ) -> Result<(), ObjError> {
        match &self.inner.s3 {
            Some(s3) => s3.complete(key, upload, parts).await,
            None => generic::complete(self, &self.inner.op, key, upload, parts).await,
        }
    }

    /// Drops an upload and its parts. An upload already gone is not an error.
    pub async fn abort(&self, key: &str, upload: &UploadId) -> Result<(), ObjError> {
        match &self.inner.s3 {
            Some(s3) => s3.abort(key, upload).await,
            None => generic::abort(self, &self.inner.op, upload).await,
        }
    }

    /// Makes a completed, verified staging object visible at its final key with its
    /// SHA-256 (metadata `sha256`; on S3 also a full-object checksum the service computes
    /// while copying, which is compared with `sha256` before the staging object goes).
    /// Never replaces other content at `final_key`; the same content there is success.
    pub async fn publish(
        &self,
        staging: &str,
        final_key: &str,
        sha256: [u8; 32],
    ) -> Result<(), ObjError> {
        if let Some(existing) = self.stat(final_key).await? {
            same_or_exists(final_key, &existing, &sha256)?;
            return self.delete(staging).await;
        }
        match &self.inner.s3 {
            Some(s3) => {
                s3.copy(staging, final_key, &sha256).await?;
                let head = s3.head(final_key).await?;
                let actual = head
                    .as_ref()
                    .and_then(|h| h.checksum_sha256.or(h.meta_sha256));
                if actual != Some(sha256) {
                    s3.delete(final_key).await?;
                    return Err(ObjError::ChecksumMismatch {
                        key: final_key.to_owned(),
                        expected: hex::encode(sha256),
                        actual: actual.map_or_else(|| "none".to_owned(), hex::encode),
                    });
                }
            }
            None => generic::publish(self, &self.inner.op, staging, final_key, &sha256).await?,
        }
        self.delete(staging).await
    }

    /// Size and SHA-256 of the object at `key`, `None` when there is none.
    pub async fn stat(&self, key: &str) -> Result<Option<ObjectInfo>, ObjError> {
        match &self.inner.s3 {
            Some(s3) => Ok(s3.head(key).await?.map(|h| ObjectInfo {
                size: h.size,
                sha256: h.checksum_sha256.or(h.meta_sha256),
                checksum_by_service: h.checksum_sha256.is_some(),
            })),
            None => generic::stat(self, &self.inner.op, key).await,
        }
    }

    /// The whole object (manifests, leases, tests reading back what was archived).
    pub async fn read(&self, key: &str) -> Result<Bytes, ObjError> {
        self.inner
            .op
            .read(key)
            .await
            .map(|b| b.to_bytes())
            .map_err(|e| self.op_error("read", key, &e))
    }

    /// Writes a small text object, replacing what was there (the run's manifest).
    pub async fn put_text(&self, key: &str, text: &str) -> Result<(), ObjError> {
        self.put_plain(key, Bytes::copy_from_slice(text.as_bytes()))
            .await
    }

    pub(crate) async fn put_plain(&self, key: &str, bytes: Bytes) -> Result<(), ObjError> {
        self.inner
            .op
            .write(key, bytes)
            .await
            .map(drop)
            .map_err(|e| self.op_error("write", key, &e))
    }

    /// Creates `key` only if nothing is there. Where the service ignores the condition the
    /// caller must not rely on it: see `supports_conditional_create`.
    pub(crate) async fn create_if_absent(&self, key: &str, bytes: Bytes) -> Result<bool, ObjError> {
        let op = self.inner.exclusive_op.as_ref().unwrap_or(&self.inner.op);
        match op.write_with(key, bytes).if_not_exists(true).await {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConditionNotMatch | ErrorKind::AlreadyExists
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.op_error("write", key, &e)),
        }
    }

    /// Removes `key`; a missing key is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), ObjError> {
        match self.inner.op.delete(key).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.op_error("delete", key, &e)),
        }
    }

    /// Every object key under `prefix` (relative to the target), sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, ObjError> {
        let entries = match self.inner.op.list_with(prefix).recursive(true).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.op_error("list", prefix, &e)),
        };
        let mut keys: Vec<String> = entries
            .into_iter()
            .filter(|e| e.metadata().is_file())
            .map(|e| e.path().trim_start_matches('/').to_owned())
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// Whether `If-None-Match: *` on PUT is honoured. OpenDAL's capability says what the
    /// protocol offers; for S3 the service itself is asked once, because some (Garage 2.5)
    /// accept the header and overwrite anyway.
    pub async fn supports_conditional_create(&self) -> Result<bool, ObjError> {
        self.inner
            .conditional_create
            .get_or_try_init(|| async {
                if self.inner.s3.is_none() {
                    return Ok(self.inner.op.info().capability().write_with_if_not_exists);
                }
                let probe = format!(".tgdl/probe/{}", crate::random_token());
                let first = self
                    .create_if_absent(&probe, Bytes::from_static(b"1"))
                    .await?;
                let second = self
                    .create_if_absent(&probe, Bytes::from_static(b"2"))
                    .await;
                self.delete(&probe).await?;
                Ok(first && matches!(second, Ok(false)))
            })
            .await
            .copied()
    }
}

/// Success when the object already there has this content, `AlreadyExists` otherwise.
fn same_or_exists(key: &str, existing: &ObjectInfo, sha256: &[u8; 32]) -> Result<(), ObjError> {
    if existing.sha256.as_ref() == Some(sha256) {
        Ok(())
    } else {
        Err(ObjError::AlreadyExists {
            key: key.to_owned(),
            existing: existing
                .sha256
                .map_or_else(|| "unknown".to_owned(), hex::encode),
        })
    }
}

/// SHA-256 of a byte string (tests and small files).
pub fn sha256_of(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The HTTP client of every target: reqwest with rustls, one connection pool per process.
fn http_transport() -> opendal::HttpTransporter {
    // rustls needs one process-wide crypto provider; an application that installed another
    // one already keeps it. ring rather than aws-lc-rs: no C build of aws-lc (minutes on a
    // small machine); rustls marks ring's provider deprecated only for its lack of
    // post-quantum key exchange, which S3 endpoints do not require.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    opendal::HttpTransporter::new(opendal_http_transport_reqwest::ReqwestTransport::default())
}

/// OpenDAL's error kinds in tgdl's terms.
pub(crate) fn opendal_error(
    target: &str,
    operation: &'static str,
    key: &str,
    e: &opendal::Error,
) -> ObjError {
    let message = e.to_string();
    match e.kind() {
        ErrorKind::NotFound => ObjError::NotFound {
            key: key.to_owned(),
        },
        ErrorKind::PermissionDenied if message.to_ascii_lowercase().contains("quota") => {
            ObjError::Refused {
                target: target.to_owned(),
                code: "QuotaExceeded".to_owned(),
                message,
            }
        }
        ErrorKind::PermissionDenied => ObjError::CredentialsRefused {
            target: target.to_owned(),
            code: "AccessDenied".to_owned(),
        },
        ErrorKind::ConfigInvalid => ObjError::Config(message),
        _ if e.is_temporary() => ObjError::Network {
            target: target.to_owned(),
            message,
        },
        _ => ObjError::Other {
            target: target.to_owned(),
            operation,
            message,
        },
    }
}
