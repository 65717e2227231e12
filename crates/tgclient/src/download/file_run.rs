//! One file under the executor: opened (or resumed from the ledger, or from its upload's
//! record), its machine driven until it ends (each action carried out as a task; each
//! outcome fed back), then verified and moved into place. The machine decides what to
//! fetch; the file's sink decides where the bytes go: the `.part` file on disk, or the
//! in-order assembly of multipart parts for object storage (`object`).

use std::collections::HashMap;
use std::sync::Arc;

use tl_types::api::enums;
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::cdn::{CdnFetched, CdnFile, fetch_cdn_part, reupload};
use super::error::{DownloadError, FileFailure};
use super::executor::Executor;
use super::fetch::{Failure, Fetched, PartBytes, fetch_from_dc};
use super::job::{DownloadEvent, DownloadJob, FileOutcome, ServerHashes};
use super::ledger::FileState;
use super::machine::{Action, FileMachine, FileSpec, Outcome, Repair, Route};
use super::object::{self, ObjectFile, PartReceipt};
use super::part_file::{FileError, PartFile, part_path};
use super::verify::{RangeHash, fetch_hashes, file_sha256, first_mismatch};
use crate::error::ClientError;
use crate::media::MediaFile;

/// Downloads job `index`: resume or start, run its machine, verify, rename. `first` is
/// the budget its first part takes (admission waited for it).
pub(crate) async fn run_file(
    exec: &Arc<Executor>,
    index: usize,
    job: DownloadJob,
    first: OwnedSemaphorePermit,
) -> FileOutcome {
    let opened = if exec.objects.is_some() {
        open_object(exec, index, &job).await
    } else {
        open(exec, index, &job).await
    };
    let (sink, state) = match opened {
        Ok(Opened::Fresh(opened)) => opened,
        Ok(Opened::AlreadyDone(sha256)) => return FileOutcome::AlreadyDone { sha256 },
        Ok(Opened::Ended(outcome)) => {
            exec.emit(DownloadEvent::Finished {
                index,
                ok: matches!(outcome, FileOutcome::Done { .. }),
            });
            return outcome;
        }
        Err(error) => {
            exec.stop(error);
            return FileOutcome::NotRun;
        }
    };
    let spec = FileSpec {
        size: job.media.size,
        dc: job.media.dc_id,
        verify_server_hashes: exec.options.verify_server_hashes,
        cdn_supported: exec.options.cdn,
        refreshable: job.source.is_some(),
        done: state.done.clone(),
    };
    let run = FileRun {
        exec: Arc::clone(exec),
        index,
        machine: FileMachine::new(spec, exec.limits.clone()),
        location: job.media.location.clone(),
        job,
        sink,
        state,
        verify: None,
        cdn: None,
        held: HashMap::new(),
        permits: HashMap::new(),
        fetched: 0,
        tasks: JoinSet::new(),
    };
    let outcome = run.drive(first).await;
    if !matches!(outcome, FileOutcome::NotRun) {
        exec.emit(DownloadEvent::Finished {
            index,
            ok: matches!(outcome, FileOutcome::Done { .. }),
        });
    }
    outcome
}

enum Opened {
    Fresh((Sink, FileState)),
    AlreadyDone([u8; 32]),
    /// Finished (or failed) without fetching: an earlier run's upload, published now.
    Ended(FileOutcome),
}

/// Where a file's bytes go.
enum Sink {
    /// The `.part` file, at each part's offset.
    Disk(PartFile),
    /// Assembled in order into multipart parts for object storage.
    Object(Box<ObjectFile>),
}

/// Finds where job `index` stands: done by an earlier run, resumable, or to start afresh.
async fn open(exec: &Executor, index: usize, job: &DownloadJob) -> Result<Opened, DownloadError> {
    let size = job.media.size;
    let recorded = exec
        .ledger
        .load(&job.key)
        .map_err(|e| DownloadError::Client(e.into()))?;
    let saved = recorded
        .clone()
        .filter(|s| s.media == job.media.id && s.size == size);
    if let Some(sha256) = saved.as_ref().and_then(|s| s.sha256)
        && std::fs::metadata(&job.path).is_ok_and(|m| m.len() == size)
    {
        exec.emit(DownloadEvent::Started {
            index,
            size,
            resumed: size,
        });
        exec.emit(DownloadEvent::Finished { index, ok: true });
        return Ok(Opened::AlreadyDone(sha256));
    }
    let resumable = saved
        .filter(|s| s.sha256.is_none())
        .filter(|_| PartFile::reusable(&job.path, size));
    let state = if let Some(state) = resumable {
        state
    } else {
        let fresh = FileState::new(job.media.id.clone(), size);
        // The ledger forgets any earlier ranges before a new `.part` replaces the old one:
        // were the run killed in between, the next one must not take the new file's zeros
        // for the ranges an earlier `.part` (since renamed) held. A key never recorded
        // has nothing to forget (most files of a first run: one transaction fewer each).
        if recorded.is_some() {
            exec.ledger.save_now(&job.key, &fresh).await?;
        }
        fresh
    };
    let part = match PartFile::open(&job.path, size, !state.done.ranges().is_empty())? {
        // Checked just above that it would be kept; a `.part` changing under us meanwhile
        // is not ours to resume.
        (_, false) if !state.done.ranges().is_empty() => {
            return Err(DownloadError::File(FileError {
                action: "the .part file changed while opening",
                path: part_path(&job.path),
                source: std::io::Error::other("modified by another program"),
            }));
        }
        (part, _) => part,
    };
    exec.emit(DownloadEvent::Started {
        index,
        size,
        resumed: state.done.covered(),
    });
    Ok(Opened::Fresh((Sink::Disk(part), state)))
}

/// Finds where job `index` stands in the object target: done, finished by an earlier
/// run, resumable from its upload's record, or to start afresh.
async fn open_object(
    exec: &Executor,
    index: usize,
    job: &DownloadJob,
) -> Result<Opened, DownloadError> {
    let Some(run) = &exec.objects else {
        return open(exec, index, job).await;
    };
    let size = job.media.size;
    let started = |resumed| {
        exec.emit(DownloadEvent::Started {
            index,
            size,
            resumed,
        });
    };
    Ok(match object::open(exec, run, job).await? {
        object::Opened::AlreadyDone(sha256) => {
            started(size);
            exec.emit(DownloadEvent::Finished { index, ok: true });
            Opened::AlreadyDone(sha256)
        }
        object::Opened::Published(sha256) => {
            started(size);
            Opened::Ended(FileOutcome::Done {
                sha256,
                fetched: 0,
                // Checked by the run that fetched it (its manifest line said how).
                server_hashes: ServerHashes::Checked,
            })
        }
        object::Opened::Failed(failure) => {
            started(size);
            Opened::Ended(FileOutcome::Failed(failure))
        }
        object::Opened::Fetch { file, resumed } => {
            started(resumed);
            let mut state = FileState::new(job.media.id.clone(), size);
            state.done.insert(0..resumed);
            Opened::Fresh((Sink::Object(file), state))
        }
    })
}

/// What a task carrying out an action brings back.
enum Report {
    Outcome(Outcome),
    Bytes {
        offset: u64,
        part: PartBytes,
    },
    Redirect {
        offset: u64,
        cdn: CdnFile,
    },
    Location {
        generation: u64,
        location: enums::InputFileLocation,
    },
    /// The part at `offset` passed its checks (for object storage: assembled next).
    Checked {
        offset: u64,
        part: PartBytes,
    },
    /// A multipart part is up and recorded.
    Uploaded(PartReceipt),
    /// The service no longer knows the file's upload.
    UploadGone,
}

type TaskResult = Result<Report, DownloadError>;

/// How the machine's run ended.
enum End {
    Verify(ServerHashes),
    Failed(FileFailure),
    Stopped,
}

struct FileRun {
    exec: Arc<Executor>,
    index: usize,
    job: DownloadJob,
    machine: FileMachine,
    /// The location to ask for (renewed with the file reference).
    location: enums::InputFileLocation,
    sink: Sink,
    state: FileState,
    /// Every part is fetched: verify once the sink has all of it (uploads take longer).
    verify: Option<ServerHashes>,
    /// The CDN redirect in force, by the machine's number for it.
    cdn: Option<(u64, Arc<CdnFile>)>,
    /// Bytes that came and wait to be checked and written, by offset.
    held: HashMap<u64, PartBytes>,
    /// The budget each part holds until it is on disk, by offset.
    permits: HashMap<u64, OwnedSemaphorePermit>,
    fetched: u64,
    tasks: JoinSet<TaskResult>,
}

impl FileRun {
    async fn drive(mut self, first: OwnedSemaphorePermit) -> FileOutcome {
        let mut spare = Some(first);
        let end = loop {
            if self.exec.stopped() {
                break End::Stopped;
            }
            let now = Instant::now();
            self.start_parts(&mut spare, now);
            match self.carry_out(now) {
                Some(End::Verify(server_hashes)) if matches!(self.sink, Sink::Object(_)) => {
                    self.verify = Some(server_hashes);
                }
                Some(end) => break end,
                None => {}
            }
            self.start_upload();
            if let Some(server_hashes) = self.verify
                && self.sink_finished()
            {
                break End::Verify(server_hashes);
            }
            let want = self.machine.next_part_cost().filter(|_| self.window_open());
            let deadline = self.machine.poll_timeout();
            let exec = Arc::clone(&self.exec);
            tokio::select! {
                Some(joined) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    match joined {
                        Ok(Ok(report)) => if let Some(end) = self.take(report) {
                            break end;
                        },
                        Ok(Err(error)) => {
                            self.exec.stop(error);
                            break End::Stopped;
                        }
                        Err(join) => break End::Failed(FileFailure::GaveUp {
                            attempts: 1,
                            last: join.to_string(),
                        }),
                    }
                }
                permit = exec.budget_for(want.unwrap_or(0)), if want.is_some() => {
                    spare = permit;
                }
                () = sleep_until(deadline), if deadline.is_some() => {}
                // A requested stop: the parts in flight are dropped (the next run fetches
                // them again); those on disk are in the ledger, committed at the end.
                () = exec.stop_requested(), if exec.options.stop.is_some() => break End::Stopped,
                else => break End::Failed(FileFailure::GaveUp {
                    attempts: 0,
                    last: "nothing left to try".into(),
                }),
            }
        };
        // What is still out is of no use now (a write under way finishes on its own
        // thread; its range was not recorded).
        self.tasks.abort_all();
        self.permits.clear();
        self.held.clear();
        match end {
            End::Stopped => FileOutcome::NotRun,
            End::Failed(failure) => FileOutcome::Failed(failure),
            End::Verify(server_hashes) => self.complete(server_hashes).await,
        }
    }

    /// Starts new parts while the budget has room (`spare` is budget already had).
    fn start_parts(&mut self, spare: &mut Option<OwnedSemaphorePermit>, now: Instant) {
        while let Some(cost) = self.machine.next_part_cost() {
            if !self.window_open() {
                break;
            }
            let permit = match spare.take() {
                Some(permit) => permit,
                None => match self.exec.try_budget_for(cost) {
                    Some(permit) => permit,
                    None => break,
                },
            };
            let Some(action) = self.machine.start_part(now) else {
                break;
            };
            if let Action::FetchPart { offset, .. } = &action {
                self.permits.insert(*offset, permit);
            }
            // Starting a part never ends the machine (`carry_out` would see it if it did).
            self.dispatch(action, now);
        }
        // Budget had for a part that is not to start goes back to the others.
        spare.take();
    }

    /// Carries out what the machine has due; how it ended, if it did.
    fn carry_out(&mut self, now: Instant) -> Option<End> {
        while let Some(action) = self.machine.poll(now) {
            if let Some(end) = self.dispatch(action, now) {
                return Some(end);
            }
        }
        None
    }

    fn dispatch(&mut self, action: Action, now: Instant) -> Option<End> {
        let exec = Arc::clone(&self.exec);
        match action {
            Action::FetchPart {
                offset,
                route: Route::Dc(dc),
                generation,
            } => {
                let location = self.location.clone();
                self.tasks.spawn(async move {
                    let fetched = fetch_from_dc(&exec, dc, location, offset).await;
                    Ok(match fetched {
                        Ok(Fetched::Bytes(part)) => Report::Bytes { offset, part },
                        Ok(Fetched::Redirect(cdn)) => Report::Redirect { offset, cdn },
                        Err(failure) => Report::Outcome(trouble(offset, generation, failure)?),
                    })
                });
            }
            Action::FetchPart {
                offset,
                route: Route::Cdn { redirect, .. },
                generation,
            } => {
                let Some(cdn) = self.cdn_for(redirect) else {
                    self.machine
                        .handle(Outcome::CdnStale { offset, redirect }, now);
                    return None;
                };
                let file_dc = self.machine.dc();
                self.tasks.spawn(async move {
                    let fetched = fetch_cdn_part(&exec, file_dc, &cdn, offset).await;
                    Ok(match fetched {
                        Ok(CdnFetched::Bytes(part)) => Report::Bytes { offset, part },
                        Ok(CdnFetched::ReuploadNeeded(request_token)) => {
                            Report::Outcome(Outcome::ReuploadNeeded {
                                offset,
                                redirect,
                                request_token,
                            })
                        }
                        Ok(CdnFetched::Stale) => {
                            Report::Outcome(Outcome::CdnStale { offset, redirect })
                        }
                        Err(failure) => Report::Outcome(trouble(offset, generation, failure)?),
                    })
                });
            }
            Action::FetchHashes { offset, dc } => {
                let location = self.location.clone();
                self.tasks.spawn(async move {
                    Ok(Report::Outcome(
                        fetch_hashes(&exec, dc, location, offset).await,
                    ))
                });
            }
            Action::Reupload {
                offset,
                dc,
                redirect,
                request_token,
            } => {
                let Some(cdn) = self.cdn_for(redirect) else {
                    self.machine
                        .handle(Outcome::CdnStale { offset, redirect }, now);
                    return None;
                };
                self.tasks.spawn(async move {
                    Ok(Report::Outcome(
                        if reupload(&exec, dc, &cdn, request_token).await {
                            Outcome::Reuploaded { offset }
                        } else {
                            Outcome::CdnStale { offset, redirect }
                        },
                    ))
                });
            }
            Action::RefreshReference { generation } => {
                let (source, media) = (self.job.source.clone(), self.job.media.clone());
                self.tasks.spawn(async move {
                    let Some(source) = source else {
                        return Ok(Report::Outcome(Outcome::RefreshFailed(FileFailure::Gone(
                            "the file reference expired".into(),
                        ))));
                    };
                    Ok(match refreshed(&exec, &source, &media).await? {
                        Ok(location) => Report::Location {
                            generation,
                            location,
                        },
                        Err(failure) => Report::Outcome(Outcome::RefreshFailed(failure)),
                    })
                });
            }
            Action::Store { offset, check } => {
                let Some(bytes) = self.held.remove(&offset) else {
                    let why = "the part's bytes went missing".to_owned();
                    self.machine.handle(Outcome::Mismatch { offset, why }, now);
                    return None;
                };
                match &self.sink {
                    Sink::Disk(part) => {
                        let part = part.clone();
                        self.tasks
                            .spawn(async move { store(&part, offset, bytes, check).await });
                    }
                    Sink::Object(_) => {
                        self.tasks.spawn(async move {
                            Ok(match checked(offset, bytes, check).await {
                                Ok(part) => Report::Checked { offset, part },
                                Err(outcome) => Report::Outcome(outcome),
                            })
                        });
                    }
                }
            }
            Action::HoldDc { dc, wait } => {
                tracing::info!(dc, ?wait, "flood wait on file requests");
                self.exec.gates.close_for(dc, wait);
            }
            Action::Repair { offset, dc, repair } => {
                self.tasks.spawn(async move {
                    mend(&exec, dc, repair).await?;
                    Ok(Report::Outcome(Outcome::Repaired { offset }))
                });
            }
            Action::LoginLost { reason } => {
                // A task of its own, so that no other file's cancellation cuts it short.
                let exec = Arc::clone(&self.exec);
                self.tasks.spawn(async move {
                    let home = exec.client.home_dc();
                    Err(DownloadError::Client(
                        exec.client.lose_login(home, reason).await,
                    ))
                });
            }
            Action::Verify { server_hashes } => return Some(End::Verify(server_hashes)),
            Action::Fail(failure) => return Some(End::Failed(failure)),
        }
        None
    }

    fn cdn_for(&self, redirect: u64) -> Option<Arc<CdnFile>> {
        self.cdn
            .as_ref()
            .filter(|(number, _)| *number == redirect)
            .map(|(_, cdn)| Arc::clone(cdn))
    }

    /// Whether the sink takes the machine's next part now (object storage fetches only
    /// so far ahead of the assembled bytes).
    fn window_open(&self) -> bool {
        match (&self.sink, self.machine.next_part_offset()) {
            (Sink::Object(file), Some(offset)) => file.assembly.accepts(offset),
            _ => true,
        }
    }

    /// Whether the sink holds the whole file (object storage: assembled, and up).
    fn sink_finished(&self) -> bool {
        match &self.sink {
            Sink::Disk(_) => true,
            Sink::Object(file) => file.ready_to_finish(),
        }
    }

    /// Sends the next assembled multipart part up, if one is ready and none is going.
    fn start_upload(&mut self) {
        let Sink::Object(file) = &mut self.sink else {
            return;
        };
        if !file.multipart() {
            return;
        }
        let Some(ready) = file.assembly.take_ready() else {
            return;
        };
        let (exec, to) = (Arc::clone(&self.exec), file.destination());
        self.tasks.spawn(async move {
            Ok(match object::upload_part(exec, to, ready).await? {
                object::PartUploaded::Done(receipt) => Report::Uploaded(receipt),
                object::PartUploaded::UploadGone => Report::UploadGone,
            })
        });
    }

    /// The budget of parts whose bytes no longer take memory goes back.
    fn released(&mut self, released: std::io::Result<Vec<u64>>) {
        match released {
            Ok(offsets) => {
                for offset in offsets {
                    self.permits.remove(&offset);
                }
            }
            Err(error) => self.exec.stop(DownloadError::File(FileError {
                action: "cannot use the spill file in",
                path: self
                    .exec
                    .objects
                    .as_ref()
                    .map(|run| run.output.spill_dir.clone())
                    .unwrap_or_default(),
                source: error,
            })),
        }
    }

    /// Feeds what a task brought to the machine, keeping what the machine does not hold;
    /// how the file ended, if this ended it.
    fn take(&mut self, report: Report) -> Option<End> {
        let now = Instant::now();
        match report {
            Report::Outcome(outcome) => {
                if let Outcome::Stored { offset } = &outcome {
                    self.stored(*offset);
                } else if let Outcome::Mismatch { offset, why } = &outcome {
                    tracing::warn!(offset, why, "part failed the server's hash check");
                }
                self.machine.handle(outcome, now);
            }
            Report::Bytes { offset, part } => {
                let len = part.len() as u64;
                self.held.insert(offset, part);
                self.machine.handle(Outcome::Bytes { offset, len }, now);
            }
            Report::Redirect { offset, cdn } => {
                let cdn_dc = cdn.dc_id;
                self.machine
                    .handle(Outcome::CdnRedirect { offset, cdn_dc }, now);
                if let Some(redirect) = self.machine.cdn_redirect() {
                    self.cdn = Some((redirect, Arc::new(cdn)));
                }
            }
            Report::Location {
                generation,
                location,
            } => {
                tracing::debug!(key = self.job.key, "file reference renewed");
                self.location = location;
                self.machine.handle(Outcome::Refreshed { generation }, now);
            }
            Report::Checked { offset, part } => {
                let Sink::Object(file) = &mut self.sink else {
                    return None;
                };
                let accepted = file.assembly.accept(offset, part);
                self.released(accepted);
                self.account(offset);
                self.machine.handle(Outcome::Stored { offset }, now);
            }
            Report::Uploaded(receipt) => {
                let Sink::Object(file) = &mut self.sink else {
                    return None;
                };
                file.confirmed(receipt);
                let pumped = file.assembly.uploaded();
                self.released(pumped);
            }
            Report::UploadGone => return Some(End::Failed(object::upload_gone())),
        }
        None
    }

    /// The part at `offset` is on disk: record it, give its budget back.
    fn stored(&mut self, offset: u64) {
        self.permits.remove(&offset);
        let len = self.account(offset);
        self.state.done.insert(offset..offset + len);
        if let Sink::Disk(part) = &self.sink {
            self.exec
                .ledger
                .stage(&self.job.key, &self.state, Some(part.handle()));
        }
    }

    /// Counts the part at `offset` as fetched and tells; its length.
    fn account(&mut self, offset: u64) -> u64 {
        let len = self
            .job
            .media
            .size
            .saturating_sub(offset)
            .min(u64::from(super::machine::PART_SIZE));
        self.fetched += len;
        self.exec.emit(DownloadEvent::Progress {
            index: self.index,
            bytes: len,
        });
        len
    }

    /// Verifies a fully fetched file and moves it into place.
    async fn complete(self, server_hashes: ServerHashes) -> FileOutcome {
        let (exec, job) = (&self.exec, &self.job);
        let part = match self.sink {
            Sink::Disk(part) => part,
            Sink::Object(file) => {
                let Some(run) = &exec.objects else {
                    return FileOutcome::NotRun;
                };
                return match file.finish(exec, run, job.media.size).await {
                    Ok(Ok(sha256)) => FileOutcome::Done {
                        sha256,
                        fetched: self.fetched,
                        server_hashes,
                    },
                    Ok(Err(failure)) => FileOutcome::Failed(failure),
                    Err(error) => {
                        exec.stop(error);
                        FileOutcome::NotRun
                    }
                };
            }
        };
        let sha256 = match file_sha256(&part, job.media.size).await {
            Ok(Ok(sha256)) => sha256,
            Ok(Err(why)) => {
                // Unverifiable bytes never reach the final name: start over next time.
                let fresh = FileState::new(job.media.id.clone(), job.media.size);
                if let Err(error) = exec.ledger.save_now(&job.key, &fresh).await {
                    exec.stop(error.into());
                }
                let _ = std::fs::remove_file(part_path(&job.path));
                return FileOutcome::Failed(FileFailure::Verification(why));
            }
            Err(error) => {
                exec.stop(error);
                return FileOutcome::NotRun;
            }
        };
        // Recorded as done before it takes its final name: a file at the final name is then
        // always in the ledger as this media (the planner never names another file over
        // it), and a crash before the rename only costs fetching it again (a done record
        // without its final file is started afresh).
        let mut state = self.state.clone();
        state.sha256 = Some(sha256);
        if let Err(error) = exec.ledger.save_now(&job.key, &state).await {
            exec.stop(error.into());
            return FileOutcome::NotRun;
        }
        let finished = tokio::task::spawn_blocking(move || part.finish()).await;
        match finished {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                exec.stop(error.into());
                return FileOutcome::NotRun;
            }
            Err(join) => {
                exec.stop(DownloadError::File(FileError {
                    action: "cannot finish",
                    path: job.path.clone(),
                    source: std::io::Error::other(join),
                }));
                return FileOutcome::NotRun;
            }
        }
        FileOutcome::Done {
            sha256,
            fetched: self.fetched,
            server_hashes,
        }
    }
}

/// Carries out `repair` on DC `dc` (the policy's steps that touch the session or pools).
async fn mend(exec: &Executor, dc: i32, repair: Repair) -> Result<(), DownloadError> {
    match repair {
        Repair::Reconnect => exec.client.drop_connection(dc).await,
        Repair::Reimport => {
            tracing::info!(dc, "login on the file DC lost; importing it again");
            exec.client.forget_imported_login(dc)?;
        }
        Repair::NewKey => {
            tracing::info!(dc, "the DC forgot our key; making a new one");
            exec.client.renew_key(dc).await?;
        }
    }
    exec.pools.reset(dc).await;
    Ok(())
}

/// The machine's outcome for a failed part request, or the run's end.
fn trouble(offset: u64, generation: u64, failure: Failure) -> Result<Outcome, DownloadError> {
    match failure {
        Failure::Trouble(trouble) => Ok(Outcome::PartTrouble {
            offset,
            generation,
            trouble,
        }),
        Failure::Fatal(error) => Err(error),
    }
}

/// Checks `bytes` (the part at `offset`) against `check`, when given, and writes them.
async fn store(
    part: &PartFile,
    offset: u64,
    bytes: PartBytes,
    check: Option<Vec<RangeHash>>,
) -> TaskResult {
    let bytes = match checked(offset, bytes, check).await {
        Ok(bytes) => bytes,
        Err(outcome) => return Ok(Report::Outcome(outcome)),
    };
    part.write_at(offset, bytes.body, bytes.bytes).await?;
    Ok(Report::Outcome(Outcome::Stored { offset }))
}

/// Checks `bytes` (the part at `offset`) against `check`, when given: the bytes, or the
/// mismatch for the machine.
async fn checked(
    offset: u64,
    bytes: PartBytes,
    check: Option<Vec<RangeHash>>,
) -> Result<PartBytes, Outcome> {
    Ok(match check {
        None => bytes,
        Some(hashes) => {
            let checked = tokio::task::spawn_blocking(move || {
                let mismatch = bytes
                    .body
                    .get(bytes.bytes.clone())
                    .and_then(|b| first_mismatch(offset, b, &hashes));
                (bytes, mismatch)
            })
            .await;
            match checked {
                Ok((bytes, None)) => bytes,
                Ok((_, Some(why))) => return Err(Outcome::Mismatch { offset, why }),
                Err(join) => {
                    let why = format!("part check failed: {join}");
                    return Err(Outcome::Mismatch { offset, why });
                }
            }
        }
    })
}

/// Renews the file reference by re-reading the message the file came from.
async fn refreshed(
    exec: &Executor,
    source: &super::job::MessageSource,
    media: &MediaFile,
) -> Result<Result<enums::InputFileLocation, FileFailure>, DownloadError> {
    let answer = match exec
        .client
        .messages_by_id(&source.peer, &[source.msg_id])
        .await
    {
        Ok(answer) => answer,
        Err(ClientError::Rpc { error: rpc, .. }) => {
            return Ok(Err(FileFailure::NoAccess(rpc.to_string())));
        }
        Err(other) => return Err(DownloadError::Client(other)),
    };
    Ok(answer
        .iter()
        .filter_map(MediaFile::from_message)
        .find_map(|fresh| media.refreshed_from(&fresh))
        .map(|fresh| fresh.location)
        .ok_or_else(|| FileFailure::Gone("the message or its media was deleted".into())))
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(deadline).await;
    }
}
