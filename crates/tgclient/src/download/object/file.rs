//! One file going to object storage: where it stands (opened fresh, resumed from the
//! session's record of its upload, or finished by an earlier run), its parts going up,
//! and its end (checked, completed, recorded, published).
//!
//! The order at the end, and what a crash between the steps leaves:
//! 1. the service's list of parts is checked against the parts sent (numbers, SHA-256,
//!    sizes adding up to the file's size), and the whole file's SHA-256 is recorded with
//!    the upload: a crash now completes the same upload on the rerun;
//! 2. the upload is completed into the staging object and that is recorded: a crash
//!    before the record finds the upload gone and the staging object whole, and goes on;
//! 3. the ledger records the file done with its SHA-256 (as for a local file, before it
//!    appears under its final name);
//! 4. the staging object is published under the final key with its SHA-256 (the service
//!    hashes the copy and it is compared), the staging object removed, the upload record
//!    dropped: a crash before this publishes on the rerun from the staging object.

use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::assembly::{Assembly, ReadyPart, Resume, Shape};
use super::sha::ResumableSha256;
use super::spill::Spill;
use super::target::{ObjectError, ObjectErrorKind, ObjectFuture, PartReceipt};
use super::{ObjectRun, ObjectTarget, object_key};
use crate::download::error::{DownloadError, FileFailure};
use crate::download::executor::Executor;
use crate::download::job::DownloadJob;
use crate::download::ledger::FileState;
use crate::media::MediaId;
use crate::store::{StoreError, UploadRecord, UploadedPart};

/// Sends of one part again after the service disputed its checksum.
const MISMATCH_RESENDS: u32 = 2;

/// Where a file's bytes go, shared with its upload tasks.
#[derive(Debug)]
pub(crate) struct Destination {
    target: Arc<dyn ObjectTarget>,
    /// The download's ledger key, and the stored object it is.
    key: String,
    media: MediaId,
    final_key: String,
    staging_key: String,
    /// The multipart upload; `None` for a file that goes up in one PUT.
    upload_id: Option<String>,
    retry: objstore::Retry,
}

/// A file going to object storage.
#[derive(Debug)]
pub(crate) struct ObjectFile {
    pub(crate) assembly: Assembly,
    to: Arc<Destination>,
    /// The parts the service confirmed, in order.
    receipts: Vec<PartReceipt>,
}

/// Where a file stands when its run starts.
#[derive(Debug)]
pub(crate) enum Opened {
    /// Under its final key, verified, by an earlier run.
    AlreadyDone([u8; 32]),
    /// An earlier run uploaded and verified it; it was published now.
    Published([u8; 32]),
    /// An earlier run uploaded and verified it, and publishing it failed.
    Failed(FileFailure),
    /// To fetch from `resumed` on.
    Fetch { file: Box<ObjectFile>, resumed: u64 },
}

/// Finds where job `job` stands in `run`'s target, and opens it.
pub(crate) async fn open(
    exec: &Executor,
    run: &ObjectRun,
    job: &DownloadJob,
) -> Result<Opened, DownloadError> {
    let target = Arc::clone(&run.output.target);
    let size = job.media.size;
    let final_key = object_key(&job.path);
    let ledger = exec.ledger.load(&job.key).map_err(store_error)?;
    if let Some(sha256) = ledger
        .filter(|s| s.media == job.media.id && s.size == size)
        .and_then(|s| s.sha256)
    {
        let there = retrying(run, || target.stat(&final_key)).await?;
        // Objects this engine writes carry their SHA-256; anything else there is not ours.
        if there.is_some_and(|o| o.size == size && o.sha256 == Some(sha256)) {
            return Ok(Opened::AlreadyDone(sha256));
        }
    }
    let part_size = run.output.effective_part_size();
    let mut to = Destination {
        target: Arc::clone(&target),
        key: job.key.clone(),
        media: job.media.id.clone(),
        staging_key: staging_key(job, &final_key),
        final_key,
        upload_id: None,
        retry: run.output.retry,
    };
    let shape = |part_size| Shape {
        size,
        part_size,
        lookahead: run.output.lookahead.max(part_size),
    };
    let spill = || Spill::new(run.output.spill_dir.clone(), run.output.lookahead);
    let hold = || Arc::clone(&run.hold);
    if size < part_size {
        // One PUT once verified: nothing to resume, nothing to record before.
        let assembly = Assembly::new(shape(size), Resume::default(), hold(), spill());
        return Ok(fresh(assembly, to, Vec::new(), 0));
    }
    let record = exec
        .client
        .with_store(|s| s.upload(&job.key))
        .map_err(store_error)?;
    let record = match record {
        Some(r)
            if r.media_id == job.media.id.id
                && r.thumb == job.media.id.thumb
                && r.size == size
                && r.final_key == to.final_key =>
        {
            Some(r)
        }
        Some(stale) => {
            // Another file under this key before: its upload is of no use now.
            let _ = target.abort(&stale.staging_key, &stale.upload_id).await;
            None
        }
        None => None,
    };
    if let Some(record) = record {
        to.staging_key.clone_from(&record.staging_key);
        to.upload_id = Some(record.upload_id.clone());
        if let Some(sha256) = record.sha256 {
            let receipts: Vec<PartReceipt> = record
                .parts
                .iter()
                .map(|p| PartReceipt {
                    number: p.number,
                    etag: p.etag.clone(),
                    sha256: p.sha256,
                    size: p.end.saturating_sub(p.start),
                })
                .collect();
            let verified = Verified {
                upload_id: &record.upload_id,
                receipts: &receipts,
                completed: record.completed,
                size,
                sha256,
            };
            match complete_and_publish(exec, run, &to, verified).await? {
                Some(Ok(())) => return Ok(Opened::Published(sha256)),
                Some(Err(failure)) => return Ok(Opened::Failed(failure)),
                None => {}
            }
        } else if let Some((resume, receipts)) = confirmed(exec, run, &to, &record).await? {
            let resumed = resume.at;
            let assembly = Assembly::new(shape(record.part_size), resume, hold(), spill());
            return Ok(fresh(assembly, to, receipts, resumed));
        }
        tracing::info!(
            key = job.key,
            "the earlier upload is gone; starting the file again"
        );
    }
    let upload_id = retrying(run, || target.begin(&to.staging_key)).await?;
    let record = UploadRecord {
        key: job.key.clone(),
        media_id: job.media.id.id,
        thumb: job.media.id.thumb.clone(),
        size,
        final_key: to.final_key.clone(),
        staging_key: to.staging_key.clone(),
        upload_id: upload_id.clone(),
        part_size,
        sha256: None,
        completed: false,
        parts: Vec::new(),
    };
    exec.client
        .with_store(|s| s.begin_upload(&record))
        .map_err(store_error)?;
    to.upload_id = Some(upload_id);
    let assembly = Assembly::new(shape(part_size), Resume::default(), hold(), spill());
    Ok(fresh(assembly, to, Vec::new(), 0))
}

fn fresh(assembly: Assembly, to: Destination, receipts: Vec<PartReceipt>, resumed: u64) -> Opened {
    Opened::Fetch {
        file: Box::new(ObjectFile {
            assembly,
            to: Arc::new(to),
            receipts,
        }),
        resumed,
    }
}

/// Where the recorded upload continues: the recorded parts the service still has with
/// the same checksum, up to the first it lacks (later ones are forgotten and sent
/// again). `None` when the service no longer knows the upload (the record is dropped).
async fn confirmed(
    exec: &Executor,
    run: &ObjectRun,
    to: &Destination,
    record: &UploadRecord,
) -> Result<Option<(Resume, Vec<PartReceipt>)>, DownloadError> {
    let listed = retrying(run, || {
        to.target.list_parts(&to.staging_key, &record.upload_id)
    })
    .await;
    let listed = match listed {
        Ok(listed) => listed,
        Err(DownloadError::Storage(e)) if e.kind == ObjectErrorKind::UploadGone => {
            drop_record(exec, &record.key)?;
            return Ok(None);
        }
        Err(other) => return Err(other),
    };
    let (resume, receipts) = confirmed_prefix(&record.parts, &listed);
    let next = resume.next_number;
    exec.client
        .with_store(|s| s.drop_upload_parts_from(&record.key, next))
        .map_err(store_error)?;
    Ok(Some((resume, receipts)))
}

/// The recorded parts the service still has with the same checksum and size, in order
/// from the first, each ending where the next starts with a usable hash state: where the
/// upload continues, and the receipts to complete it with.
fn confirmed_prefix(
    recorded: &[UploadedPart],
    listed: &[PartReceipt],
) -> (Resume, Vec<PartReceipt>) {
    let mut resume = Resume {
        next_number: 1,
        ..Resume::default()
    };
    let mut receipts = Vec::new();
    for part in recorded {
        let has = listed
            .iter()
            .find(|r| r.number == part.number)
            .filter(|r| r.sha256 == part.sha256 && r.size == part.end.saturating_sub(part.start));
        let (Some(has), Some(whole)) = (has, ResumableSha256::restore(&part.hash_state)) else {
            break;
        };
        if part.number != resume.next_number || part.start != resume.at || whole.len() != part.end {
            break;
        }
        resume = Resume {
            at: part.end,
            next_number: part.number + 1,
            whole,
        };
        receipts.push(has.clone());
    }
    (resume, receipts)
}

/// A multipart upload whose file was verified whole.
struct Verified<'a> {
    upload_id: &'a str,
    receipts: &'a [PartReceipt],
    /// The service assembled it already (recorded so).
    completed: bool,
    size: u64,
    sha256: [u8; 32],
}

/// Completes a verified upload (unless that is recorded) and publishes it. `None` when
/// there is nothing to finish from (the upload and the staging object are gone): the
/// record is dropped and the file starts again.
async fn complete_and_publish(
    exec: &Executor,
    run: &ObjectRun,
    to: &Destination,
    verified: Verified<'_>,
) -> Result<Option<Result<(), FileFailure>>, DownloadError> {
    let Verified {
        upload_id,
        receipts,
        completed,
        size,
        sha256,
    } = verified;
    if !completed {
        let done = retrying(run, || {
            to.target.complete(&to.staging_key, upload_id, receipts)
        })
        .await;
        match done {
            Ok(()) => {}
            // Completed already (the answer lost, or a crash before the record): a
            // completed upload is unknown to the service; the staging object tells.
            Err(DownloadError::Storage(e)) if e.kind == ObjectErrorKind::UploadGone => {}
            Err(other) => return Err(other),
        }
        exec.client
            .with_store(|s| s.set_upload_completed(&to.key))
            .map_err(store_error)?;
    }
    let staged = retrying(run, || to.target.stat(&to.staging_key)).await?;
    if staged.is_none_or(|o| o.size != size) {
        drop_record(exec, &to.key)?;
        return Ok(None);
    }
    publish(exec, run, to, size, sha256).await.map(Some)
}

/// What came of one part's upload.
#[derive(Debug)]
pub(crate) enum PartUploaded {
    /// Up and recorded.
    Done(PartReceipt),
    /// The service no longer knows the upload: the file starts again next time.
    UploadGone,
}

/// Uploads `ready` with its SHA-256 and records it with the whole file's hash state.
pub(crate) async fn upload_part(
    exec: Arc<Executor>,
    to: Arc<Destination>,
    ready: ReadyPart,
) -> Result<PartUploaded, DownloadError> {
    let Some(upload_id) = to.upload_id.clone() else {
        return Err(DownloadError::Storage(ObjectError::new(
            ObjectErrorKind::Refused,
            "internal: a part of a single-PUT file",
        )));
    };
    let ReadyPart {
        number,
        start,
        bytes,
        hash_state,
    } = ready;
    let (bytes, sha256) = tokio::task::spawn_blocking(move || {
        let sha256: [u8; 32] = Sha256::digest(&bytes).into();
        (Bytes::from(bytes), sha256)
    })
    .await
    .map_err(|join| {
        DownloadError::Storage(ObjectError::new(ObjectErrorKind::Refused, join.to_string()))
    })?;
    let end = start + bytes.len() as u64;
    // The service disputing the part's checksum means the bytes were damaged on the way:
    // they are sent again, a few times.
    let mut disputes = 0;
    let sent = loop {
        let sent = retry_calls(to.retry, || {
            to.target
                .put_part(&to.staging_key, &upload_id, number, bytes.clone(), sha256)
        })
        .await;
        match sent {
            Err(e) if e.kind == ObjectErrorKind::Mismatch && disputes < MISMATCH_RESENDS => {
                tracing::warn!(number, error = %e, "the service disputes a part's checksum; sending it again");
                disputes += 1;
            }
            other => break other,
        }
    };
    let receipt = match sent {
        Ok(receipt) => receipt,
        Err(e) if e.kind == ObjectErrorKind::UploadGone => {
            drop_record(&exec, &to.key)?;
            return Ok(PartUploaded::UploadGone);
        }
        Err(e) => return Err(DownloadError::Storage(e)),
    };
    let part = UploadedPart {
        number,
        start,
        end,
        etag: receipt.etag.clone(),
        sha256,
        hash_state: hash_state.map(Vec::from).unwrap_or_default(),
    };
    let (client, key) = (exec.client.clone(), to.key.clone());
    tokio::task::spawn_blocking(move || client.with_store(|s| s.add_upload_part(&key, &part)))
        .await
        .map_err(|join| {
            DownloadError::Storage(ObjectError::new(ObjectErrorKind::Refused, join.to_string()))
        })?
        .map_err(store_error)?;
    Ok(PartUploaded::Done(receipt))
}

impl ObjectFile {
    /// The destination, for upload tasks.
    pub(crate) fn destination(&self) -> Arc<Destination> {
        Arc::clone(&self.to)
    }

    /// Whether parts go up as they are assembled (a multipart upload).
    pub(crate) fn multipart(&self) -> bool {
        self.to.upload_id.is_some()
    }

    /// A part the service confirmed.
    pub(crate) fn confirmed(&mut self, receipt: PartReceipt) {
        self.receipts.push(receipt);
    }

    /// Whether every byte is assembled and, for a multipart upload, every part is up.
    pub(crate) fn ready_to_finish(&self) -> bool {
        if self.multipart() {
            self.assembly.drained()
        } else {
            self.assembly.sha256().is_some()
        }
    }

    /// Checks, completes, records and publishes a file whose every byte is assembled (and
    /// up, for a multipart upload). A file-level failure is `Ok(Err(..))`.
    pub(crate) async fn finish(
        mut self,
        exec: &Executor,
        run: &ObjectRun,
        size: u64,
    ) -> Result<Result<[u8; 32], FileFailure>, DownloadError> {
        tracing::debug!(
            key = self.to.key,
            spill_peak = self.assembly.spill_peak(),
            "assembled"
        );
        let Some(sha256) = self.assembly.sha256() else {
            return Ok(Err(FileFailure::Verification(
                "the file was not assembled whole".into(),
            )));
        };
        let to = Arc::clone(&self.to);
        let Some(upload_id) = to.upload_id.clone() else {
            let bytes = self
                .assembly
                .take_ready()
                .map(|p| Bytes::from(p.bytes))
                .unwrap_or_default();
            if bytes.len() as u64 != size {
                return Ok(Err(FileFailure::Verification(format!(
                    "assembled {} bytes, expected {size}",
                    bytes.len()
                ))));
            }
            record_done(exec, &to, size, sha256).await?;
            let put = retrying(run, || {
                to.target.put_small(&to.final_key, bytes.clone(), sha256)
            })
            .await;
            let put = file_level(put.map(|()| sha256));
            if let Ok(Err(_)) = &put {
                unrecord(exec, &to, size).await?;
            }
            return put;
        };
        let listed = retrying(run, || to.target.list_parts(&to.staging_key, &upload_id)).await;
        let listed = match listed {
            Ok(listed) => listed,
            Err(DownloadError::Storage(e)) if e.kind == ObjectErrorKind::UploadGone => {
                drop_record(exec, &to.key)?;
                return Ok(Err(upload_gone()));
            }
            Err(other) => return Err(other),
        };
        if let Some(why) = parts_differ(&self.receipts, &listed, size) {
            let _ = to.target.abort(&to.staging_key, &upload_id).await;
            drop_record(exec, &to.key)?;
            return Ok(Err(FileFailure::Verification(why)));
        }
        let key = to.key.clone();
        exec.client
            .with_store(|s| s.set_upload_verified(&key, &sha256))
            .map_err(store_error)?;
        let receipts = std::mem::take(&mut self.receipts);
        let verified = Verified {
            upload_id: &upload_id,
            receipts: &receipts,
            completed: false,
            size,
            sha256,
        };
        Ok(
            match complete_and_publish(exec, run, &to, verified).await? {
                Some(published) => published.map(|()| sha256),
                None => Err(upload_gone()),
            },
        )
    }
}

/// Records the file done, publishes the staging object, drops the upload record.
async fn publish(
    exec: &Executor,
    run: &ObjectRun,
    to: &Destination,
    size: u64,
    sha256: [u8; 32],
) -> Result<Result<(), FileFailure>, DownloadError> {
    record_done(exec, to, size, sha256).await?;
    let published = retrying(run, || {
        to.target.publish(&to.staging_key, &to.final_key, sha256)
    })
    .await;
    let published = file_level(published);
    match &published {
        Ok(Ok(())) => drop_record(exec, &to.key)?,
        Ok(Err(_)) => unrecord(exec, to, size).await?,
        Err(_) => {}
    }
    published
}

/// Takes the done record back: the file is not under its final key after all.
async fn unrecord(exec: &Executor, to: &Destination, size: u64) -> Result<(), DownloadError> {
    let fresh = FileState::new(to.media.clone(), size);
    Ok(exec.ledger.save_now(&to.key, &fresh).await?)
}

/// The ledger's done record (what the planner's never-overwrite check reads).
async fn record_done(
    exec: &Executor,
    to: &Destination,
    size: u64,
    sha256: [u8; 32],
) -> Result<(), DownloadError> {
    let mut state = FileState::new(to.media.clone(), size);
    if size > 0 {
        state.done.insert(0..size);
    }
    state.sha256 = Some(sha256);
    Ok(exec.ledger.save_now(&to.key, &state).await?)
}

/// Why the service's parts are not the ones sent, if they are not.
fn parts_differ(sent: &[PartReceipt], listed: &[PartReceipt], size: u64) -> Option<String> {
    let total: u64 = sent.iter().map(|p| p.size).sum();
    if total != size {
        return Some(format!(
            "the parts sent hold {total} bytes, expected {size}"
        ));
    }
    for part in sent {
        let Some(there) = listed.iter().find(|l| l.number == part.number) else {
            return Some(format!("the service lacks part {}", part.number));
        };
        if there.sha256 != part.sha256 || there.size != part.size {
            return Some(format!("the service holds another part {}", part.number));
        }
    }
    None
}

/// File-level storage outcomes (another object at the key, a checksum that differs) as
/// the file's failure; the others stop the run.
fn file_level<T>(
    result: Result<T, DownloadError>,
) -> Result<Result<T, FileFailure>, DownloadError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(DownloadError::Storage(e)) => match e.kind {
            ObjectErrorKind::Exists => Ok(Err(FileFailure::Storage(e.message))),
            ObjectErrorKind::Mismatch => Ok(Err(FileFailure::Verification(e.message))),
            ObjectErrorKind::UploadGone => Ok(Err(upload_gone())),
            _ => Err(DownloadError::Storage(e)),
        },
        Err(other) => Err(other),
    }
}

pub(crate) fn upload_gone() -> FileFailure {
    FileFailure::Storage(
        "the service no longer knows the upload; the next run starts the file again".into(),
    )
}

fn drop_record(exec: &Executor, key: &str) -> Result<(), DownloadError> {
    exec.client
        .with_store(|s| s.remove_upload(key))
        .map_err(store_error)
}

fn store_error(error: StoreError) -> DownloadError {
    DownloadError::Client(error.into())
}

/// The staging key of `job`: its media, and a hash of its final key (the same media
/// archived under two names are two uploads).
fn staging_key(job: &DownloadJob, final_key: &str) -> String {
    let named: [u8; 32] = Sha256::digest(final_key.as_bytes()).into();
    let tag = hex::encode(named.get(..8).unwrap_or_default());
    let thumb = if job.media.id.thumb.is_empty() {
        String::new()
    } else {
        format!("-{}", job.media.id.thumb)
    };
    objstore::layout::staging_key(&format!("{}{thumb}-{tag}", job.media.id.id))
}

/// `call` with the run's tries and pauses; the last error as the run's.
async fn retrying<'a, T>(
    run: &ObjectRun,
    call: impl FnMut() -> ObjectFuture<'a, T>,
) -> Result<T, DownloadError> {
    retry_calls(run.output.retry, call)
        .await
        .map_err(DownloadError::Storage)
}

/// Calls `call` under `retry`, trying again what failed for now.
async fn retry_calls<'a, T>(
    retry: objstore::Retry,
    call: impl FnMut() -> ObjectFuture<'a, T>,
) -> Result<T, ObjectError> {
    retry
        .run(
            "object storage",
            |e: &ObjectError| e.kind == ObjectErrorKind::Transient,
            call,
        )
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    const MIB: u64 = 1 << 20;

    /// Three recorded parts of 5 MiB with their hash states, and the receipts the service
    /// would list for them.
    fn three_parts() -> (Vec<UploadedPart>, Vec<PartReceipt>) {
        let mut whole = ResumableSha256::default();
        let mut recorded = Vec::new();
        let mut listed = Vec::new();
        for number in 1..=3u32 {
            let bytes = vec![u8::try_from(number).unwrap(); (5 * MIB) as usize];
            whole.update(&bytes);
            let sha256: [u8; 32] = Sha256::digest(&bytes).into();
            let start = u64::from(number - 1) * 5 * MIB;
            recorded.push(UploadedPart {
                number,
                start,
                end: start + 5 * MIB,
                etag: format!("\"{number}\""),
                sha256,
                hash_state: whole.save().unwrap().to_vec(),
            });
            listed.push(PartReceipt {
                number,
                etag: format!("\"{number}\""),
                sha256,
                size: 5 * MIB,
            });
        }
        (recorded, listed)
    }

    #[test]
    fn an_upload_continues_after_the_recorded_parts_the_service_still_has() {
        let (recorded, listed) = three_parts();
        let (resume, receipts) = confirmed_prefix(&recorded, &listed);
        assert_eq!((resume.at, resume.next_number), (15 * MIB, 4));
        assert_eq!(receipts, listed);
        assert_eq!(resume.whole.len(), 15 * MIB);

        // The service lost part 2: the upload continues after part 1 (3 is sent again).
        let without_two: Vec<PartReceipt> =
            listed.iter().filter(|r| r.number != 2).cloned().collect();
        let (resume, receipts) = confirmed_prefix(&recorded, &without_two);
        assert_eq!(
            (resume.at, resume.next_number, receipts.len()),
            (5 * MIB, 2, 1)
        );

        // Another part 1 on the service (other bytes), or a damaged hash state: from 0.
        let mut other = listed.clone();
        other[0].sha256 = [0; 32];
        assert_eq!(confirmed_prefix(&recorded, &other).0.at, 0);
        let mut damaged = recorded.clone();
        damaged[0].hash_state.truncate(10);
        let (resume, receipts) = confirmed_prefix(&damaged, &listed);
        assert_eq!((resume.at, resume.next_number, receipts.len()), (0, 1, 0));
        // Parts the service has but the record lacks do not count.
        assert_eq!(confirmed_prefix(&recorded[..1], &listed).0.at, 5 * MIB);
    }

    #[test]
    fn the_service_must_hold_exactly_the_parts_sent() {
        let (_, sent) = three_parts();
        assert_eq!(parts_differ(&sent, &sent, 15 * MIB), None);
        assert!(parts_differ(&sent, &sent, 15 * MIB + 1).is_some());
        assert!(parts_differ(&sent, &sent[..2], 15 * MIB).is_some());
        let mut other = sent.clone();
        other[2].sha256 = [1; 32];
        assert!(parts_differ(&sent, &other, 15 * MIB).is_some());
    }
}
