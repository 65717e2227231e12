//! Multipart uploads for services without them (a local path, memory), on plain OpenDAL
//! operations, with S3's semantics: parts survive the process, `list_parts` of an unknown
//! upload is `UploadGone`, and the object appears at its key only when completed.
//!
//! An upload is a folder `.tgdl/uploads/<id>/`: a marker `upload` naming the key, and one
//! object per part named `<number>.<sha256 hex>` (so listing gives the receipts).

use bytes::Bytes;
use opendal::{ErrorKind, Operator};
use sha2::{Digest, Sha256};

use crate::error::ObjError;
use crate::target::Target;
use crate::types::{ObjectInfo, PartReceipt, UploadId};

fn upload_dir(upload: &UploadId) -> String {
    format!(".tgdl/uploads/{}/", upload.as_str())
}

fn marker(upload: &UploadId) -> String {
    format!("{}upload", upload_dir(upload))
}

fn part_key(upload: &UploadId, number: u32, sha256: &[u8; 32]) -> String {
    format!("{}{number:05}.{}", upload_dir(upload), hex::encode(sha256))
}

fn gone(key: &str, upload: &UploadId) -> ObjError {
    ObjError::UploadGone {
        key: key.to_owned(),
        upload_id: upload.0.clone(),
    }
}

/// Upload ids are random, so that one never names another run's folder.
pub(crate) async fn begin(target: &Target, op: &Operator, key: &str) -> Result<UploadId, ObjError> {
    let upload = UploadId(crate::random_token());
    op.write(&marker(&upload), key.to_owned())
        .await
        .map_err(|e| target.op_error("write", key, &e))?;
    Ok(upload)
}

/// Fails with `UploadGone` unless the upload's marker names `key`.
async fn check_upload(
    target: &Target,
    op: &Operator,
    key: &str,
    upload: &UploadId,
) -> Result<(), ObjError> {
    match op.read(&marker(upload)).await {
        Ok(named) if named.to_bytes() == key.as_bytes() => Ok(()),
        Ok(_) => Err(gone(key, upload)),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(gone(key, upload)),
        Err(e) => Err(target.op_error("read", key, &e)),
    }
}

pub(crate) async fn put_part(
    target: &Target,
    op: &Operator,
    key: &str,
    upload: &UploadId,
    number: u32,
    bytes: Bytes,
    sha256: [u8; 32],
) -> Result<PartReceipt, ObjError> {
    check_upload(target, op, key, upload).await?;
    // The service's check of the part's checksum, done here.
    let actual: [u8; 32] = Sha256::digest(&bytes).into();
    if actual != sha256 {
        return Err(ObjError::ChecksumMismatch {
            key: format!("{key} part {number}"),
            expected: hex::encode(sha256),
            actual: hex::encode(actual),
        });
    }
    // A part sent again replaces the earlier one, as in S3.
    for old in list_parts(target, op, key, upload).await? {
        if old.number == number {
            delete(target, op, &part_key(upload, number, &old.sha256)).await?;
        }
    }
    let size = bytes.len() as u64;
    op.write(&part_key(upload, number, &sha256), bytes)
        .await
        .map_err(|e| target.op_error("write", key, &e))?;
    Ok(PartReceipt {
        number,
        etag: hex::encode(sha256),
        sha256,
        size,
    })
}

pub(crate) async fn list_parts(
    target: &Target,
    op: &Operator,
    key: &str,
    upload: &UploadId,
) -> Result<Vec<PartReceipt>, ObjError> {
    check_upload(target, op, key, upload).await?;
    let entries = op
        .list(&upload_dir(upload))
        .await
        .map_err(|e| target.op_error("list", key, &e))?;
    let mut parts = Vec::new();
    for entry in entries {
        let Some((number, sha)) = entry.name().split_once('.') else {
            continue;
        };
        let mut sha256 = [0u8; 32];
        let (Ok(number), Ok(())) = (
            number.parse::<u32>(),
            hex::decode_to_slice(sha, &mut sha256),
        ) else {
            continue;
        };
        let size = match entry.metadata().content_length() {
            0 => op
                .stat(entry.path())
                .await
                .map_err(|e| target.op_error("stat", key, &e))?
                .content_length(),
            n => n,
        };
        parts.push(PartReceipt {
            number,
            etag: hex::encode(sha256),
            sha256,
            size,
        });
    }
    parts.sort_by_key(|p| p.number);
    Ok(parts)
}

pub(crate) async fn complete(
    target: &Target,
    op: &Operator,
    key: &str,
    upload: &UploadId,
    parts: &[PartReceipt],
) -> Result<(), ObjError> {
    check_upload(target, op, key, upload).await?;
    let mut writer = op
        .writer(key)
        .await
        .map_err(|e| target.op_error("write", key, &e))?;
    for part in parts {
        let bytes = op
            .read(&part_key(upload, part.number, &part.sha256))
            .await
            .map_err(|e| match e.kind() {
                // S3's InvalidPart: the list names a part the service does not have.
                ErrorKind::NotFound => ObjError::Protocol {
                    target: target.name().to_owned(),
                    operation: "complete",
                    message: format!("part {} with that checksum was never uploaded", part.number),
                },
                _ => target.op_error("read", key, &e),
            })?;
        writer
            .write(bytes)
            .await
            .map_err(|e| target.op_error("write", key, &e))?;
    }
    writer
        .close()
        .await
        .map_err(|e| target.op_error("write", key, &e))?;
    abort(target, op, upload).await
}

pub(crate) async fn abort(
    target: &Target,
    op: &Operator,
    upload: &UploadId,
) -> Result<(), ObjError> {
    let dir = upload_dir(upload);
    let entries = match op.list(&dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(target.op_error("list", &dir, &e)),
    };
    // The marker goes last, so an interrupted abort still lists as this upload.
    for entry in entries
        .iter()
        .filter(|e| e.metadata().is_file() && e.name() != "upload")
    {
        delete(target, op, entry.path()).await?;
    }
    delete(target, op, &marker(upload)).await?;
    delete(target, op, &dir).await
}

async fn delete(target: &Target, op: &Operator, path: &str) -> Result<(), ObjError> {
    match op.delete(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(target.op_error("delete", path, &e)),
    }
}

/// How much of an object is held in memory at once when copying or hashing it.
const CHUNK: u64 = 8 * 1024 * 1024;

/// Reads `size` bytes of `key` in chunks, feeding each to `sink`; returns their SHA-256.
async fn read_chunks<F, Fut>(
    target: &Target,
    op: &Operator,
    key: &str,
    size: u64,
    mut sink: F,
) -> Result<[u8; 32], ObjError>
where
    F: FnMut(Bytes) -> Fut,
    Fut: std::future::Future<Output = Result<(), ObjError>>,
{
    let mut hasher = Sha256::new();
    let mut offset = 0;
    while offset < size {
        let end = size.min(offset + CHUNK);
        let chunk = op
            .read_with(key)
            .range(offset..end)
            .await
            .map_err(|e| target.op_error("read", key, &e))?
            .to_bytes();
        if chunk.is_empty() {
            break;
        }
        offset += chunk.len() as u64;
        hasher.update(&chunk);
        sink(chunk).await?;
    }
    Ok(hasher.finalize().into())
}

async fn size_of(target: &Target, op: &Operator, key: &str) -> Result<u64, ObjError> {
    op.stat(key)
        .await
        .map(|m| m.content_length())
        .map_err(|e| target.op_error("stat", key, &e))
}

/// Copies the staging object to its final key, hashing it on the way: these services keep
/// no checksum of their own. The final key appears only when the hash matched.
pub(crate) async fn publish(
    target: &Target,
    op: &Operator,
    staging: &str,
    final_key: &str,
    sha256: &[u8; 32],
) -> Result<(), ObjError> {
    let size = size_of(target, op, staging).await?;
    let writer = op
        .writer_with(final_key)
        .if_not_exists(true)
        .await
        .map_err(|e| target.op_error("write", final_key, &e))?;
    let writer = tokio::sync::Mutex::new(writer);
    let actual = read_chunks(target, op, staging, size, |chunk| async {
        writer
            .lock()
            .await
            .write(chunk)
            .await
            .map_err(|e| target.op_error("write", final_key, &e))
    })
    .await?;
    let mut writer = writer.into_inner();
    if &actual != sha256 {
        let _ = writer.abort().await;
        return Err(ObjError::ChecksumMismatch {
            key: staging.to_owned(),
            expected: hex::encode(sha256),
            actual: hex::encode(actual),
        });
    }
    writer
        .close()
        .await
        .map(drop)
        .map_err(|e| target.op_error("write", final_key, &e))
}

pub(crate) async fn stat(
    target: &Target,
    op: &Operator,
    key: &str,
) -> Result<Option<ObjectInfo>, ObjError> {
    match op.stat(key).await {
        Ok(meta) if meta.is_file() => {
            // No stored checksum here: hash the object, a chunk at a time.
            let size = meta.content_length();
            let sha256 = read_chunks(target, op, key, size, |_| async { Ok(()) }).await?;
            // Hashed here from what the service returned: as good as its own checksum.
            Ok(Some(ObjectInfo {
                size,
                sha256: Some(sha256),
                checksum_by_service: true,
            }))
        }
        Ok(_) => Ok(None),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(target.op_error("stat", key, &e)),
    }
}
