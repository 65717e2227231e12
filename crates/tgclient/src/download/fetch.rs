//! Fetching one part of one file: `upload.getFile` on the file's DC through the pool, and
//! everything the server may answer instead of the bytes — migrate, wait, refresh the file
//! reference, re-authorize, retry with backoff — until the part is had or cannot be.

use std::ops::Range;
use std::time::Duration;

use mtnet::InvokeError;
use tl_types::api::{enums, functions, types};
use tl_types::{Deserialize, Identifiable, Reader, Serialize};

use std::sync::Arc;

use super::cdn::{CdnError, CdnFile, fetch_cdn_part};
use super::engine::{FileTask, Run};
use super::error::{DownloadError, FileFailure};
use crate::error::ClientError;
use crate::media::MediaFile;
use crate::rpc_error::{MigrateKind, RpcAction, classify, is_lost_login};

/// The largest part Telegram serves, and the unit parts are aligned to.
pub const PART_SIZE: u32 = 1 << 20;

/// Flood waits one part sits out before its file is given up (its parts so far kept).
const MAX_FLOOD_WAITS: u32 = 30;

/// One part as received: the answer's body and where the file bytes are in it (so they
/// are written without another copy).
#[derive(Debug)]
pub(crate) struct PartBytes {
    pub(crate) body: Vec<u8>,
    pub(crate) bytes: Range<usize>,
}

impl PartBytes {
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }
}

/// Why a part was not had.
#[derive(Debug)]
pub(crate) enum PartError {
    /// This file cannot be had; the others go on.
    File(FileFailure),
    /// Nothing can go on.
    Fatal(DownloadError),
}

impl From<FileFailure> for PartError {
    fn from(failure: FileFailure) -> Self {
        PartError::File(failure)
    }
}

/// What `upload.getFile` answered.
enum FileAnswer {
    Bytes(Range<usize>),
    CdnRedirect,
}

/// Fetches the part of `file` at `offset`.
pub(crate) async fn fetch_part(
    run: &Run,
    file: &FileTask,
    offset: u64,
) -> Result<PartBytes, PartError> {
    let mut attempt = 0u32;
    let mut redirects = 0u32;
    let mut refreshes = 0u32;
    let mut floods = 0u32;
    loop {
        if let Some(cdn) = file.cdn() {
            match fetch_cdn_part(run, file, &cdn, offset).await {
                Ok(part) => return Ok(part),
                Err(CdnError::Part(error)) => return Err(error),
                Err(CdnError::Redirect) => {
                    file.clear_cdn(&cdn);
                    redirects += 1;
                    if redirects > 5 {
                        return Err(
                            FileFailure::Refused("the CDN keeps refusing the file".into()).into(),
                        );
                    }
                }
            }
        }
        let dc = file.dc();
        run.gates.pass(dc).await;
        let (generation, location) = file.location();
        let request = functions::upload::GetFile {
            precise: false,
            cdn_supported: run.cdn_supported(),
            location,
            offset: offset as i64,
            limit: PART_SIZE as i32,
        };
        let connection = match run.pools.get(dc).await {
            Ok(connection) => connection,
            // A DC out of reach for a moment (refused, restarting): wait and try again.
            Err(error @ (ClientError::Connect { .. } | ClientError::Invoke { .. })) => {
                attempt = bump(attempt, run, &error.to_string()).await?;
                continue;
            }
            Err(error) => return Err(fatal_or_file(error)),
        };
        let error = match run.client.call(&connection, request.to_bytes()).await {
            Ok(body) => match parse_file(&body) {
                Ok(FileAnswer::Bytes(bytes)) => return Ok(PartBytes { body, bytes }),
                Ok(FileAnswer::CdnRedirect) => {
                    if !run.cdn_supported() {
                        return Err(FileFailure::Refused(
                            "the server redirected to a CDN although the client did not offer one"
                                .into(),
                        )
                        .into());
                    }
                    let cdn = CdnFile::from_redirect(&body)?;
                    tracing::debug!(dc, cdn = cdn.dc_id, "file served through a CDN");
                    file.set_cdn(Arc::new(cdn));
                    continue;
                }
                Err(error) => InvokeError::Decode(error),
            },
            Err(error) => error,
        };
        match error {
            InvokeError::Rpc(rpc) => match classify(&rpc) {
                RpcAction::Migrate {
                    kind: MigrateKind::File,
                    dc: target,
                } => {
                    redirects += 1;
                    if redirects > 5 {
                        return Err(FileFailure::Refused(format!(
                            "the file keeps moving between DCs (last {target})"
                        ))
                        .into());
                    }
                    tracing::debug!(from = dc, to = target, "file lives on another DC");
                    file.set_dc(target);
                }
                RpcAction::FloodWait(wait) => {
                    floods += 1;
                    if wait > run.flood_limit || floods > MAX_FLOOD_WAITS {
                        return Err(FileFailure::FloodWait(wait).into());
                    }
                    tracing::info!(dc, ?wait, "flood wait on file requests");
                    run.gates.close_for(dc, wait);
                }
                _ => match rpc.message.as_str() {
                    "FILE_REFERENCE_EXPIRED" | "FILE_REFERENCE_INVALID" => {
                        refreshes += 1;
                        if refreshes > 3 {
                            return Err(FileFailure::Gone(format!(
                                "{} even with a renewed reference",
                                rpc.message
                            ))
                            .into());
                        }
                        refresh(run, file, generation).await?;
                    }
                    _ if is_lost_login(&rpc) && dc != run.client.home_dc() => {
                        // The DC dropped our imported login: import it again.
                        tracing::info!(dc, "login on the file DC lost; importing it again");
                        run.client
                            .with_store(|s| s.set_dc_authorized(dc, false))
                            .map_err(|e| PartError::Fatal(DownloadError::Client(e.into())))?;
                        run.pools.reset(dc).await;
                        attempt = bump(attempt, run, &rpc.message).await?;
                    }
                    "AUTH_KEY_UNREGISTERED" | "SESSION_REVOKED" | "USER_DEACTIVATED" => {
                        return Err(PartError::Fatal(DownloadError::Client(
                            ClientError::NotLoggedIn,
                        )));
                    }
                    "FILE_ID_INVALID" | "LOCATION_INVALID" | "MEDIA_EMPTY" => {
                        return Err(FileFailure::Gone(rpc.message).into());
                    }
                    "CHANNEL_PRIVATE"
                    | "CHAT_FORBIDDEN"
                    | "CHANNEL_INVALID"
                    | "PEER_ID_INVALID"
                    | "CHAT_ADMIN_REQUIRED" => {
                        return Err(FileFailure::NoAccess(rpc.message).into());
                    }
                    _ if rpc.code >= 500 || rpc.code < 0 || rpc.message.contains("TIMEOUT") => {
                        attempt = bump(attempt, run, &rpc.to_string()).await?;
                    }
                    _ => return Err(FileFailure::Refused(rpc.to_string()).into()),
                },
            },
            InvokeError::AuthKeyUnknown => {
                tracing::info!(dc, "the DC forgot our key; making a new one");
                run.client
                    .with_store(|s| s.remove_dc_auth(dc))
                    .map_err(|e| PartError::Fatal(DownloadError::Client(e.into())))?;
                run.client.drop_connection(dc).await;
                run.pools.reset(dc).await;
                attempt = bump(attempt, run, "auth key unknown").await?;
            }
            InvokeError::Stopped => {
                run.pools.discard(&connection).await;
                attempt = bump(attempt, run, "connection stopped").await?;
            }
            other => attempt = bump(attempt, run, &other.to_string()).await?,
        }
    }
}

/// Counts a failed attempt and waits out its backoff; gives up past the limit.
pub(crate) async fn bump(attempt: u32, run: &Run, why: &str) -> Result<u32, PartError> {
    let attempt = attempt + 1;
    if attempt >= run.max_attempts {
        return Err(FileFailure::GaveUp {
            attempts: attempt,
            last: why.to_owned(),
        }
        .into());
    }
    let delay = backoff(attempt);
    tracing::debug!(attempt, ?delay, why, "retrying a file part");
    tokio::time::sleep(delay).await;
    Ok(attempt)
}

/// 250 ms doubling up to 16 s, with up to 25% jitter so retries spread out.
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(250).saturating_mul(1 << attempt.min(6));
    let jitter = rand::random::<f64>() * 0.25;
    base.mul_f64(1.0 + jitter)
}

fn fatal_or_file(error: ClientError) -> PartError {
    match error {
        ClientError::Rpc { error: rpc, .. } => {
            PartError::File(FileFailure::Refused(rpc.to_string()))
        }
        ClientError::FloodWait { wait, .. } => PartError::File(FileFailure::FloodWait(wait)),
        other => PartError::Fatal(DownloadError::Client(other)),
    }
}

/// Renews the file reference by re-reading the message the file came from.
async fn refresh(run: &Run, file: &FileTask, seen: u64) -> Result<(), PartError> {
    let _single = file.refreshing.lock().await;
    if file.location().0 != seen {
        return Ok(());
    }
    let Some(source) = file.job.source.as_ref() else {
        return Err(FileFailure::Gone("the file reference expired".into()).into());
    };
    let answer = run
        .client
        .messages_by_id(&source.peer, &[source.msg_id])
        .await
        .map_err(|e| match e {
            ClientError::Rpc { error: rpc, .. } => {
                PartError::File(FileFailure::NoAccess(rpc.to_string()))
            }
            other => PartError::Fatal(DownloadError::Client(other)),
        })?;
    let fresh = answer
        .iter()
        .filter_map(MediaFile::from_message)
        .find_map(|fresh| file.job.media.refreshed_from(&fresh))
        .ok_or_else(|| FileFailure::Gone("the message or its media was deleted".into()))?;
    tracing::debug!(msg = source.msg_id, "file reference renewed");
    file.set_location(fresh.location);
    Ok(())
}

/// Finds the file bytes in an `upload.File` answer without copying them.
fn parse_file(body: &[u8]) -> Result<FileAnswer, tl_types::Error> {
    let mut reader = Reader::new(body);
    match reader.read_u32()? {
        types::upload::File::CONSTRUCTOR_ID => {
            enums::storage::FileType::deserialize(&mut reader)?;
            reader.read_i32()?; // mtime
            let bytes = reader.read_bytes()?;
            let start = bytes.as_ptr().addr() - body.as_ptr().addr();
            Ok(FileAnswer::Bytes(start..start + bytes.len()))
        }
        types::upload::FileCdnRedirect::CONSTRUCTOR_ID => Ok(FileAnswer::CdnRedirect),
        id => Err(tl_types::Error::UnknownConstructor {
            id,
            expected: "upload.File",
        }),
    }
}
