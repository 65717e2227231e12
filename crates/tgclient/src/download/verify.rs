//! Checking what was downloaded. Each part is checked on arrival against the server's
//! SHA-256 of its 128 KiB chunks (`upload.getFileHashes`, fetched alongside the part), so a
//! bad part is fetched again rather than the whole file; a finished file is read back once
//! for its size and the SHA-256 the manifest records.

use sha2::{Digest, Sha256};
use tl_types::api::{enums, functions};
use tl_types::{Deserialize, Serialize};

use super::error::DownloadError;
use super::executor::Executor;
use super::machine::Outcome;
use super::part_file::{FileError, PartFile};
use crate::policy::ErrorKind;

/// The SHA-256 the server gives for `offset..offset + limit` of a file.
#[derive(Debug, Clone)]
pub(crate) struct RangeHash {
    pub(crate) offset: u64,
    pub(crate) limit: u64,
    pub(crate) hash: Vec<u8>,
}

impl RangeHash {
    /// The usable hashes of a `Vector<FileHash>` answer.
    pub(crate) fn from_answer(hashes: Vec<enums::FileHash>) -> Vec<RangeHash> {
        hashes
            .into_iter()
            .filter_map(|enums::FileHash::FileHash(h)| {
                let offset = u64::try_from(h.offset).ok()?;
                let limit = u64::try_from(h.limit).ok().filter(|l| *l > 0)?;
                Some(RangeHash {
                    offset,
                    limit,
                    hash: h.hash,
                })
            })
            .collect()
    }
}

/// What one `upload.getFileHashes` brought, as the file's machine takes it.
pub(crate) fn hashes_outcome(offset: u64, answer: Result<Vec<u8>, mtnet::InvokeError>) -> Outcome {
    match answer {
        Ok(body) => match Vec::<enums::FileHash>::from_bytes(&body) {
            Ok(hashes) => Outcome::Hashes {
                offset,
                hashes: RangeHash::from_answer(hashes),
            },
            Err(error) => Outcome::HashesUnusable {
                offset,
                why: format!("malformed server hashes: {error}"),
            },
        },
        // A refusal: the server has no hashes for this file; the size and MTProto's own
        // integrity are then what its parts rest on.
        Err(mtnet::InvokeError::Rpc(rpc)) if is_refusal(&rpc) => {
            tracing::debug!(%rpc, "no server hashes for this file");
            Outcome::HashesRefused
        }
        Err(error) => {
            tracing::debug!(offset, %error, "no server hashes this time");
            Outcome::HashesFailed { offset }
        }
    }
}

/// Asks DC `dc` once for the server's hashes of `location` from `offset` on.
pub(crate) async fn fetch_hashes(
    exec: &Executor,
    dc: i32,
    location: enums::InputFileLocation,
    offset: u64,
) -> Outcome {
    let connection = match exec.pools.get_small(dc).await {
        Ok(connection) => connection,
        Err(error) => {
            tracing::debug!(offset, %error, "no connection for server hashes");
            return Outcome::HashesFailed { offset };
        }
    };
    let request = functions::upload::GetFileHashes {
        location,
        offset: offset as i64,
    };
    hashes_outcome(
        offset,
        exec.client.call(&connection, request.to_bytes()).await,
    )
}

/// Whether `rpc` says the server has no hashes for the file: a refusal, not a wait, a
/// move or a passing failure (the recovery policy's reading of it).
fn is_refusal(rpc: &mtproto::session::RpcError) -> bool {
    matches!(
        ErrorKind::of_rpc(rpc),
        ErrorKind::InvalidInput
            | ErrorKind::NoAccess
            | ErrorKind::FileGone
            | ErrorKind::FileReferenceExpired
            | ErrorKind::LostLogin
    )
}

/// The first range of `bytes` (which start at file offset `base`) whose SHA-256 differs
/// from `hashes`, or that `hashes` do not cover; `None` when every byte checks out.
pub(crate) fn first_mismatch(base: u64, bytes: &[u8], hashes: &[RangeHash]) -> Option<String> {
    let end = base + bytes.len() as u64;
    let mut at = base;
    while at < end {
        let Some(hash) = hashes.iter().find(|h| h.offset == at) else {
            return Some(format!("no server hash covers bytes from {at}"));
        };
        let chunk_end = (at + hash.limit).min(end);
        let Some(chunk) = bytes.get((at - base) as usize..(chunk_end - base) as usize) else {
            return Some(format!("bad hash range at {at}"));
        };
        if Sha256::digest(chunk).as_slice() != hash.hash.as_slice() {
            return Some(format!(
                "bytes {at}..{chunk_end} do not match the server's hash"
            ));
        }
        at = chunk_end;
    }
    None
}

/// Reads a finished `.part` of `size` bytes back: its SHA-256, or why it is not the file.
pub(crate) async fn file_sha256(
    part: &PartFile,
    size: u64,
) -> Result<Result<[u8; 32], String>, DownloadError> {
    let part = part.clone();
    let path = part.final_path().to_owned();
    let read = tokio::task::spawn_blocking(move || {
        let mut whole = Sha256::new();
        let read = part.read_chunks(1 << 20, |_, chunk| whole.update(chunk))?;
        Ok::<_, FileError>((read, whole.finalize().into()))
    })
    .await;
    match read {
        Ok(Ok((read, _))) if read != size => {
            Ok(Err(format!("the file holds {read} bytes, expected {size}")))
        }
        Ok(Ok((_, sha256))) => Ok(Ok(sha256)),
        Ok(Err(error)) => Err(error.into()),
        Err(join) => Err(DownloadError::File(FileError {
            action: "cannot verify",
            path,
            source: std::io::Error::other(join),
        })),
    }
}
