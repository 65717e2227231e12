//! The scheduler: files run a few at a time, their parts share one global budget of
//! requests in flight (which also bounds memory: a part holds at most one answer), parts
//! land at their offsets in the `.part` file, the ledger records them in batches, and a
//! finished file is verified before it takes its final name.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tl_types::api::enums;
use tokio::sync::{Mutex as AsyncMutex, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;

use super::cdn::{CdnDirectory, CdnFile, CdnSlot};
use super::error::{DownloadError, FileFailure};
use super::fetch::{PART_SIZE, PartError, fetch_part};
use super::gates::FloodGates;
use super::ledger::{FileState, Ledger};
use super::part_file::PartFile;
use super::pool::Pools;
use super::verify::{HashTrouble, file_sha256, first_mismatch, part_hashes};
use crate::Client;
use crate::media::MediaFile;

/// How hard to push.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Parts requested at once across all files (each holds up to 1 MiB in memory).
    pub parts_in_flight: usize,
    /// Files downloaded at once.
    pub parallel_files: usize,
    /// Connections per DC for file parts.
    pub connections_per_dc: usize,
    /// Attempts per part before the file is given up (its parts so far are kept).
    pub max_attempts: u32,
    /// Check finished files against `upload.getFileHashes`.
    pub verify_server_hashes: bool,
    /// How often finished ranges are committed to the ledger.
    pub commit_interval: Duration,
    /// Accept CDN redirects (parts then come from the CDN DC, checked against the hashes
    /// the file's DC gives).
    pub cdn: bool,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            parts_in_flight: 16,
            parallel_files: 4,
            connections_per_dc: 8,
            max_attempts: 10,
            verify_server_hashes: true,
            commit_interval: Duration::from_millis(250),
            cdn: true,
        }
    }
}

/// Where a file came from, so an expired file reference can be renewed.
#[derive(Debug, Clone)]
pub struct MessageSource {
    pub peer: enums::InputPeer,
    pub msg_id: i32,
}

/// One file to download.
#[derive(Debug, Clone)]
pub struct DownloadJob {
    /// The ledger key (the same key on the next run resumes this download).
    pub key: String,
    pub media: MediaFile,
    /// Where the verified file goes; `<path>.part` holds it meanwhile.
    pub path: PathBuf,
    pub source: Option<MessageSource>,
}

impl DownloadJob {
    /// The file `media` of message `msg_id` in `peer`, going to `path`, which also keys it
    /// in the ledger (the same path on the next run resumes it).
    pub fn from_message(
        media: MediaFile,
        path: PathBuf,
        peer: enums::InputPeer,
        msg_id: i32,
    ) -> Self {
        Self {
            key: path.display().to_string(),
            media,
            path,
            source: Some(MessageSource { peer, msg_id }),
        }
    }
}

/// What happened to a job.
#[derive(Debug)]
pub enum FileOutcome {
    /// Downloaded (or completed from an earlier run) and verified.
    Done {
        sha256: [u8; 32],
        /// Bytes fetched on this run (less than the size when resumed).
        fetched: u64,
        /// Whether the server's hashes were checked too (not only the size).
        server_hashes: ServerHashes,
    },
    /// Already downloaded and verified by an earlier run.
    AlreadyDone { sha256: [u8; 32] },
    /// Could not be had; the others went on.
    Failed(FileFailure),
    /// Not attempted: the run stopped first.
    NotRun,
}

/// Whether a finished file's parts were checked against the server's hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerHashes {
    /// Every part was (for CDN files always: their bytes are not MTProto-authenticated).
    Checked,
    /// The server refused or could not give them after a few tries; the file (from its own
    /// DC, whose bytes MTProto's msg_key authenticates) was finished on its size alone.
    Unavailable,
    /// Turned off by the caller (`verify_server_hashes: false`).
    Off,
}

impl ServerHashes {
    /// As the manifest writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerHashes::Checked => "checked",
            ServerHashes::Unavailable => "unavailable",
            ServerHashes::Off => "off",
        }
    }
}

/// Progress, as it happens.
#[derive(Debug, Clone)]
pub enum DownloadEvent {
    /// A job started; `resumed` bytes were already on disk.
    Started {
        index: usize,
        size: u64,
        resumed: u64,
    },
    /// `bytes` more bytes of job `index` are on disk.
    Progress { index: usize, bytes: u64 },
    /// Job `index` ended (see the outcome returned by [`download`]).
    Finished { index: usize, ok: bool },
}

/// The shared state of one run.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) client: Client,
    pub(crate) pools: Pools,
    pub(crate) gates: FloodGates,
    pub(crate) cdn: CdnDirectory,
    pub(crate) ledger: Ledger,
    pub(crate) max_attempts: u32,
    pub(crate) flood_limit: Duration,
    budget: Arc<Semaphore>,
    options: DownloadOptions,
    events: Option<mpsc::UnboundedSender<DownloadEvent>>,
    /// Set when the run must stop; no new part starts after that.
    stopping: AtomicBool,
    fatal: Mutex<Option<DownloadError>>,
}

impl Run {
    fn emit(&self, event: DownloadEvent) {
        if let Some(events) = &self.events {
            let _ = events.send(event);
        }
    }

    fn stop(&self, error: DownloadError) {
        self.stopping.store(true, Ordering::Release);
        self.fatal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(error);
    }

    pub(crate) fn cdn_supported(&self) -> bool {
        self.options.cdn
    }

    pub(crate) fn verify_server_hashes(&self) -> bool {
        self.options.verify_server_hashes
    }

    fn stopped(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }
}

/// One file being downloaded.
#[derive(Debug)]
pub(crate) struct FileTask {
    pub(crate) index: usize,
    pub(crate) job: DownloadJob,
    dc: AtomicI32,
    /// The location to ask for and how many times it was renewed.
    location: Mutex<(u64, enums::InputFileLocation)>,
    /// One renewal of the file reference at a time.
    pub(crate) refreshing: AsyncMutex<()>,
    state: Mutex<FileState>,
    part: PartFile,
    failed: Mutex<Option<FileFailure>>,
    fetched: AtomicU64,
    /// The CDN redirect in force, if the file is served through a CDN.
    cdn: CdnSlot,
    /// The server gives no hashes for this file: parts are not checked against them.
    no_hashes: AtomicBool,
}

impl FileTask {
    pub(crate) fn dc(&self) -> i32 {
        self.dc.load(Ordering::Acquire)
    }

    pub(crate) fn set_dc(&self, dc_id: i32) {
        self.dc.store(dc_id, Ordering::Release);
    }

    pub(crate) fn location(&self) -> (u64, enums::InputFileLocation) {
        self.location
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_location(&self, location: enums::InputFileLocation) {
        let mut guard = self.location.lock().unwrap_or_else(PoisonError::into_inner);
        *guard = (guard.0 + 1, location);
    }

    pub(crate) fn hashes_unavailable(&self) {
        self.no_hashes.store(true, Ordering::Release);
    }

    fn wants_hashes(&self, run: &Run) -> bool {
        run.verify_server_hashes() && !self.no_hashes.load(Ordering::Acquire)
    }

    fn server_hashes(&self, run: &Run) -> ServerHashes {
        if self.cdn().is_some() || self.wants_hashes(run) {
            ServerHashes::Checked
        } else if run.verify_server_hashes() {
            ServerHashes::Unavailable
        } else {
            ServerHashes::Off
        }
    }

    pub(crate) fn cdn(&self) -> Option<Arc<CdnFile>> {
        self.cdn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_cdn(&self, cdn: Arc<CdnFile>) {
        *self.cdn.lock().unwrap_or_else(PoisonError::into_inner) = Some(cdn);
    }

    /// Drops the redirect `stale` (unless another part already replaced it).
    pub(crate) fn clear_cdn(&self, stale: &Arc<CdnFile>) {
        let mut slot = self.cdn.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, stale)) {
            *slot = None;
        }
    }

    fn fail(&self, failure: FileFailure) {
        self.failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(failure);
    }

    fn has_failed(&self) -> bool {
        self.failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
}

/// Downloads `jobs`, returning one outcome per job in order. A file that cannot be had is
/// reported in its outcome and the others go on; a run-wide failure (disk full, lost
/// login) stops the run with an error, after saving the progress made.
pub async fn download(
    client: &Client,
    jobs: Vec<DownloadJob>,
    options: DownloadOptions,
    events: Option<mpsc::UnboundedSender<DownloadEvent>>,
) -> Result<Vec<FileOutcome>, DownloadError> {
    let run = Arc::new(Run {
        client: client.clone(),
        pools: Pools::new(client.clone(), options.connections_per_dc),
        gates: FloodGates::default(),
        cdn: CdnDirectory::default(),
        ledger: Ledger::new(client.clone()),
        max_attempts: options.max_attempts.max(1),
        flood_limit: client.config().flood.max_wait,
        budget: Arc::new(Semaphore::new(options.parts_in_flight.max(1))),
        options,
        events,
        stopping: AtomicBool::new(false),
        fatal: Mutex::new(None),
    });
    // A JoinSet, so that dropping this future (a cancelled run) stops the committer too.
    let mut committer = JoinSet::new();
    committer.spawn(commit_periodically(Arc::clone(&run)));
    let files = Arc::new(Semaphore::new(run.options.parallel_files.max(1)));
    let mut tasks = JoinSet::new();
    let count = jobs.len();
    for (index, job) in jobs.into_iter().enumerate() {
        let Ok(slot) = Arc::clone(&files).acquire_owned().await else {
            break;
        };
        if run.stopped() {
            break;
        }
        let run = Arc::clone(&run);
        tasks.spawn(async move {
            let outcome = run_file(&run, index, job).await;
            drop(slot);
            (index, outcome)
        });
    }
    let mut outcomes: Vec<FileOutcome> = (0..count).map(|_| FileOutcome::NotRun).collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((index, outcome)) = joined
            && let Some(place) = outcomes.get_mut(index)
        {
            *place = outcome;
        }
    }
    committer.abort_all();
    let committed = run.ledger.commit().await;
    run.pools.close().await;
    if let Some(error) = run
        .fatal
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        return Err(error);
    }
    committed?;
    Ok(outcomes)
}

async fn commit_periodically(run: Arc<Run>) {
    let mut tick = tokio::time::interval(run.options.commit_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(error) = run.ledger.commit().await {
            run.stop(error.into());
            return;
        }
    }
}

/// Downloads one job: resume or start, fetch the missing parts, verify, rename.
async fn run_file(run: &Arc<Run>, index: usize, job: DownloadJob) -> FileOutcome {
    let size = job.media.size;
    let saved = match run.ledger.load(&job.key) {
        Ok(saved) => saved.filter(|s| s.media == job.media.id && s.size == size),
        Err(error) => {
            run.stop(DownloadError::Client(error.into()));
            return FileOutcome::NotRun;
        }
    };
    if let Some(sha256) = saved.as_ref().and_then(|s| s.sha256)
        && std::fs::metadata(&job.path).is_ok_and(|m| m.len() == size)
    {
        run.emit(DownloadEvent::Started {
            index,
            size,
            resumed: size,
        });
        run.emit(DownloadEvent::Finished { index, ok: true });
        return FileOutcome::AlreadyDone { sha256 };
    }
    let resumable = saved
        .filter(|s| s.sha256.is_none())
        .filter(|_| PartFile::reusable(&job.path, size));
    let state = if let Some(state) = resumable {
        state
    } else {
        // The ledger forgets any earlier ranges before a new `.part` replaces the old one:
        // were the run killed in between, the next one must not take the new file's zeros
        // for the ranges an earlier `.part` (since renamed) held.
        let fresh = FileState::new(job.media.id.clone(), size);
        if let Err(error) = run.ledger.save_now(&job.key, &fresh).await {
            run.stop(error.into());
            return FileOutcome::NotRun;
        }
        fresh
    };
    let part = match PartFile::open(&job.path, size, !state.done.ranges().is_empty()) {
        // Checked just above that it would be kept; a `.part` changing under us meanwhile
        // is not ours to resume.
        Ok((_, false)) if !state.done.ranges().is_empty() => {
            run.stop(DownloadError::File(super::part_file::FileError {
                action: "the .part file changed while opening",
                path: super::part_file::part_path(&job.path),
                source: std::io::Error::other("modified by another program"),
            }));
            return FileOutcome::NotRun;
        }
        Ok((part, _)) => part,
        Err(error) => {
            run.stop(error.into());
            return FileOutcome::NotRun;
        }
    };
    run.emit(DownloadEvent::Started {
        index,
        size,
        resumed: state.done.covered(),
    });
    let missing = state.done.missing(size);
    let task = Arc::new(FileTask {
        index,
        dc: AtomicI32::new(job.media.dc_id),
        location: Mutex::new((0, job.media.location.clone())),
        refreshing: AsyncMutex::new(()),
        state: Mutex::new(state),
        part,
        failed: Mutex::new(None),
        fetched: AtomicU64::new(0),
        cdn: Mutex::new(None),
        no_hashes: AtomicBool::new(false),
        job,
    });
    run.ledger.stage(&task.job.key, &task.snapshot(), None);

    let mut parts = JoinSet::new();
    'plan: for gap in missing {
        let mut offset = gap.start - gap.start % u64::from(PART_SIZE);
        while offset < gap.end {
            let Ok(permit) = Arc::clone(&run.budget).acquire_owned().await else {
                break 'plan;
            };
            if run.stopped() || task.has_failed() {
                break 'plan;
            }
            parts.spawn(run_part(Arc::clone(run), Arc::clone(&task), offset, permit));
            offset += u64::from(PART_SIZE);
        }
    }
    while parts.join_next().await.is_some() {}

    if let Some(failure) = task
        .failed
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        run.emit(DownloadEvent::Finished { index, ok: false });
        return FileOutcome::Failed(failure);
    }
    if run.stopped() {
        return FileOutcome::NotRun;
    }
    let outcome = complete(run, &task).await;
    run.emit(DownloadEvent::Finished {
        index,
        ok: matches!(outcome, FileOutcome::Done { .. }),
    });
    outcome
}

/// Bad parts (failing the server's hashes) fetched again before the file is given up.
const PART_REFETCHES: u32 = 3;

/// Fetches, checks and writes one part, holding one unit of the budget throughout.
async fn run_part(run: Arc<Run>, task: Arc<FileTask>, offset: u64, permit: OwnedSemaphorePermit) {
    let size = task.job.media.size;
    let expected = (size - offset).min(u64::from(PART_SIZE));
    let mut refetches = 0;
    let part = loop {
        let hashes = async {
            if task.wants_hashes(&run) {
                part_hashes(&run, &task, offset).await
            } else {
                Ok(None)
            }
        };
        let (part, hashes) = tokio::join!(fetch_part(&run, &task, offset), hashes);
        let part = match part {
            Ok(part) => part,
            Err(PartError::File(failure)) => return task.fail(failure),
            Err(PartError::Fatal(error)) => return run.stop(error),
        };
        let got = part.len() as u64;
        if got != expected {
            return task.fail(FileFailure::BadLength {
                offset,
                expected,
                got,
            });
        }
        // Bytes whose hashes cannot be had now are kept, not fetched again: MTProto's
        // msg_key already authenticates what the file's own DC sent (and CDN bytes were
        // checked against the CDN's hashes on arrival). Only the hashes are asked again,
        // and a server that cannot give them after a few tries gets the file finished
        // without them (the outcome says so). Hashes that came but are unusable leave
        // the part in doubt: it is fetched again, like a part that fails them.
        let hashes = match hashes {
            Ok(Some(hashes)) => hashes,
            Ok(None) => break part,
            Err(HashTrouble::Unavailable(why)) => {
                match retry_hashes(&run, &task, offset, why).await {
                    Ok(Some(hashes)) => hashes,
                    Ok(None) => break part,
                    Err(why) => {
                        refetches += 1;
                        if refetches > PART_REFETCHES {
                            return task.fail(FileFailure::Verification(why));
                        }
                        continue;
                    }
                }
            }
            Err(HashTrouble::Unusable(why)) => {
                refetches += 1;
                tracing::warn!(
                    offset,
                    why,
                    "part cannot be checked against the server's hashes"
                );
                if refetches > PART_REFETCHES {
                    return task.fail(FileFailure::Verification(why));
                }
                continue;
            }
        };
        let checked = tokio::task::spawn_blocking(move || {
            let mismatch = part
                .body
                .get(part.bytes.clone())
                .and_then(|bytes| first_mismatch(offset, bytes, &hashes));
            (part, mismatch)
        })
        .await;
        let Ok((part, mismatch)) = checked else {
            return task.fail(FileFailure::Verification("part check failed".into()));
        };
        let Some(why) = mismatch else { break part };
        refetches += 1;
        tracing::warn!(offset, why, "part failed the server's hash check");
        if refetches > PART_REFETCHES {
            return task.fail(FileFailure::Verification(why));
        }
    };
    let got = part.len() as u64;
    if let Err(error) = task.part.write_at(offset, part.body, part.bytes).await {
        return run.stop(error.into());
    }
    drop(permit);
    task.record(&run, offset..offset + got);
    task.fetched.fetch_add(got, Ordering::Relaxed);
    run.emit(DownloadEvent::Progress {
        index: task.index,
        bytes: got,
    });
}

/// Hash requests one part of a direct-DC file makes before the file goes on without them.
const HASH_TRIES: u32 = 3;
/// The pause before asking again, doubling.
const HASH_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

/// Asks the server's hashes of the part at `offset` again, after `why` (the first try's
/// failure): `Ok(None)` when they cannot be had, and the file is then marked as finished
/// without them; `Err` when an answer came and was unusable.
async fn retry_hashes(
    run: &Run,
    task: &FileTask,
    offset: u64,
    mut why: String,
) -> Result<Option<Vec<super::verify::RangeHash>>, String> {
    for attempt in 1..HASH_TRIES {
        tracing::debug!(offset, why, attempt, "asking the server's hashes again");
        tokio::time::sleep(HASH_RETRY_PAUSE * (1 << (attempt - 1))).await;
        match part_hashes(run, task, offset).await {
            Ok(found) => return Ok(found),
            Err(HashTrouble::Unavailable(again)) => why = again,
            Err(HashTrouble::Unusable(bad)) => return Err(bad),
        }
    }
    tracing::warn!(
        path = %task.job.path.display(),
        why,
        "the server's hashes cannot be had; finishing the file on MTProto's own integrity"
    );
    task.hashes_unavailable();
    Ok(None)
}

impl FileTask {
    fn snapshot(&self) -> FileState {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Marks `range` written and stages the new state for the ledger.
    fn record(&self, run: &Run, range: std::ops::Range<u64>) {
        let state = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.done.insert(range);
            state.clone()
        };
        run.ledger
            .stage(&self.job.key, &state, Some(self.part.handle()));
    }
}

/// Verifies a fully fetched file and moves it into place.
async fn complete(run: &Arc<Run>, task: &Arc<FileTask>) -> FileOutcome {
    // Everything written is synced and recorded before the checks.
    if let Err(error) = run.ledger.commit().await {
        run.stop(error.into());
        return FileOutcome::NotRun;
    }
    let sha256 = match file_sha256(task, &task.part).await {
        Ok(Ok(sha256)) => sha256,
        Ok(Err(why)) => {
            // Unverifiable bytes never reach the final name: start this file over next time.
            let fresh = FileState::new(task.job.media.id.clone(), task.job.media.size);
            if let Err(error) = run.ledger.save_now(&task.job.key, &fresh).await {
                run.stop(error.into());
            }
            let _ = std::fs::remove_file(super::part_file::part_path(&task.job.path));
            return FileOutcome::Failed(FileFailure::Verification(why));
        }
        Err(PartError::File(failure)) => return FileOutcome::Failed(failure),
        Err(PartError::Fatal(error)) => {
            run.stop(error);
            return FileOutcome::NotRun;
        }
    };
    if let Err(error) = task.part.finish() {
        run.stop(error.into());
        return FileOutcome::NotRun;
    }
    let mut state = task.snapshot();
    state.sha256 = Some(sha256);
    if let Err(error) = run.ledger.save_now(&task.job.key, &state).await {
        run.stop(error.into());
    }
    FileOutcome::Done {
        sha256,
        fetched: task.fetched.load(Ordering::Relaxed),
        server_hashes: task.server_hashes(run),
    }
}
