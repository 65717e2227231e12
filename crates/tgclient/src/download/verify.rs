//! Checking what was downloaded. Each part is checked on arrival against the server's
//! SHA-256 of its 128 KiB chunks (`upload.getFileHashes`, fetched alongside the part), so a
//! bad part is fetched again rather than the whole file; a finished file is read back once
//! for its size and the SHA-256 the manifest records.

use sha2::{Digest, Sha256};
use tl_types::api::{enums, functions};
use tl_types::{Deserialize, Serialize};

use super::engine::{FileTask, Run};
use super::error::DownloadError;
use super::fetch::{PART_SIZE, PartError};
use super::part_file::{FileError, PartFile};

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

/// Why the server's hashes of a part are not at hand.
#[derive(Debug)]
pub(crate) enum HashTrouble {
    /// No answer came (an error such as `500 NOT_IMPLEMENTED`, a lost request): asking
    /// again may help; the part's bytes are not in doubt.
    Unavailable(String),
    /// The server answered something unusable (malformed, not covering the part): the
    /// part cannot be trusted and is fetched again.
    Unusable(String),
}

/// The server's hashes covering the part at `offset`; `Ok(None)` when the server refuses
/// hashes for this file (a well-formed `4xx` error: then the size and MTProto's own
/// integrity are what the part rests on, and the file is not asked again).
pub(crate) async fn part_hashes(
    run: &Run,
    task: &FileTask,
    offset: u64,
) -> Result<Option<Vec<RangeHash>>, HashTrouble> {
    use HashTrouble::{Unavailable, Unusable};
    let end = (offset + u64::from(PART_SIZE)).min(task.job.media.size);
    let mut hashes: Vec<RangeHash> = Vec::new();
    let mut at = offset;
    // Each answer must move forward, and a part takes a bounded number of answers (one
    // covers 1 MiB with Telegram's 128 KiB chunks), so a hostile server cannot keep us here.
    let mut answers = 0;
    while at < end {
        answers += 1;
        if answers > MAX_HASH_ANSWERS {
            return Err(Unusable(format!(
                "the server's hashes come in pieces too small at {at}"
            )));
        }
        let dc = task.dc();
        let connection = run
            .pools
            .get_small(dc)
            .await
            .map_err(|e| Unavailable(format!("no connection for server hashes: {e}")))?;
        let request = functions::upload::GetFileHashes {
            location: task.location().1,
            offset: at as i64,
        };
        let answer = match run.client.call(&connection, request.to_bytes()).await {
            Ok(body) => Vec::<enums::FileHash>::from_bytes(&body)
                .map_err(|e| Unusable(format!("malformed server hashes: {e}")))?,
            Err(mtnet::InvokeError::Rpc(rpc)) if is_refusal(&rpc) => {
                tracing::debug!(dc, %rpc, "no server hashes for this file");
                task.hashes_unavailable();
                return Ok(None);
            }
            Err(error) => {
                return Err(Unavailable(format!("no server hashes this time: {error}")));
            }
        };
        let before = at;
        for hash in RangeHash::from_answer(answer) {
            if hash.offset == at {
                at = hash.offset.saturating_add(hash.limit);
                hashes.push(hash);
            }
        }
        if at == before {
            return Err(Unusable(format!(
                "the server's hashes do not cover bytes from {at}"
            )));
        }
    }
    Ok(Some(hashes))
}

/// `upload.getFileHashes` calls one part may take.
const MAX_HASH_ANSWERS: u32 = 16;

/// Whether `rpc` says the server has no hashes for the file (not a flood wait).
fn is_refusal(rpc: &mtproto::session::RpcError) -> bool {
    (400..500).contains(&rpc.code) && rpc.code != 420
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

/// Reads a finished `.part` back: its SHA-256, or why it is not the file.
pub(crate) async fn file_sha256(
    task: &FileTask,
    part: &PartFile,
) -> Result<Result<[u8; 32], String>, PartError> {
    let size = task.job.media.size;
    let part = part.clone();
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
        Ok(Err(error)) => Err(PartError::Fatal(error.into())),
        Err(join) => Err(PartError::Fatal(DownloadError::File(FileError {
            action: "cannot verify",
            path: task.job.path.clone(),
            source: std::io::Error::other(join),
        }))),
    }
}
