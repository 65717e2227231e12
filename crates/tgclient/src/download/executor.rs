//! The executor: owns the client, the connection pools, the flood gates, the ledger and
//! the global budget of bytes in flight, admits files as the budget allows, and runs each
//! file's machine (see `file_run`) as a task of its own. Parts land at their offsets in the
//! `.part` file, the ledger records them in batches, and a finished file is verified
//! before it takes its final name.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;

use super::cdn::CdnDirectory;
use super::error::DownloadError;
use super::file_run::run_file;
use super::gates::FloodGates;
use super::job::{DownloadEvent, DownloadJob, DownloadOptions, FileOutcome};
use super::ledger::Ledger;
use super::machine::{Limits, PART_SIZE};
use super::object::{HoldBudget, ObjectRun, Output};
use super::pool::Pools;
use super::stop::StopSignal;
use crate::Client;
use crate::policy::Context;

/// The budget counts bytes in these units (so a 200 KiB part takes 200 of them).
const BUDGET_UNIT: u64 = 1024;

/// What every file of one run shares.
#[derive(Debug)]
pub(crate) struct Executor {
    pub(crate) client: Client,
    pub(crate) pools: Pools,
    pub(crate) gates: FloodGates,
    pub(crate) cdn: CdnDirectory,
    pub(crate) ledger: Ledger,
    pub(crate) limits: Limits,
    pub(crate) options: DownloadOptions,
    /// Object storage as the output (else the local directory).
    pub(crate) objects: Option<ObjectRun>,
    /// Bytes of answers in flight across all files, in [`BUDGET_UNIT`]s.
    budget: Arc<Semaphore>,
    /// Memory for assembling multipart parts (object storage), in [`BUDGET_UNIT`]s.
    assembly: Option<Arc<Semaphore>>,
    events: Option<mpsc::UnboundedSender<DownloadEvent>>,
    /// Set when the run must stop; no new request starts after that.
    stopping: AtomicBool,
    fatal: Mutex<Option<DownloadError>>,
}

impl Executor {
    pub(crate) fn emit(&self, event: DownloadEvent) {
        if let Some(events) = &self.events {
            let _ = events.send(event);
        }
    }

    pub(crate) fn stop(&self, error: DownloadError) {
        self.stopping.store(true, Ordering::Release);
        self.fatal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(error);
    }

    /// What the recovery policy is told about a file request to DC `dc`.
    pub(crate) fn part_context(&self, dc: i32) -> Context {
        let home = dc == self.client.home_dc();
        let logged_in = self.client.is_logged_in();
        Context {
            home,
            logged_in,
            imported_login: !home && logged_in,
            file_part: true,
            at_most_once: false,
            jitter: rand::random(),
        }
    }

    /// What the recovery policy is told about a request to a CDN DC (no login there).
    pub(crate) fn cdn_context(&self) -> Context {
        Context {
            home: false,
            imported_login: false,
            ..self.part_context(0)
        }
    }

    pub(crate) fn stopped(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
            || self
                .options
                .stop
                .as_ref()
                .is_some_and(StopSignal::is_requested)
    }

    /// Waits until a stop is requested (never, without a stop signal).
    pub(crate) async fn stop_requested(&self) {
        match &self.options.stop {
            Some(stop) => stop.requested().await,
            None => std::future::pending().await,
        }
    }

    /// The budget a part of `bytes` bytes takes, waited for.
    pub(crate) async fn budget_for(&self, bytes: u64) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.budget)
            .acquire_many_owned(budget_units(bytes))
            .await
            .ok()
    }

    /// The assembly memory a file of `size` bytes takes (object storage only), waited for.
    async fn assembly_for(&self, size: u64) -> Option<Option<OwnedSemaphorePermit>> {
        let (Some(run), Some(assembly)) = (&self.objects, &self.assembly) else {
            return Some(None);
        };
        let part = run.output.effective_part_size();
        let need = if size < part { size } else { 2 * part };
        // One file always fits, whatever it needs.
        let units = budget_units(need).min(budget_units(run.output.assembly_memory.max(1)));
        Arc::clone(assembly)
            .acquire_many_owned(units)
            .await
            .ok()
            .map(Some)
    }

    /// The budget a part of `bytes` bytes takes, if free now.
    pub(crate) fn try_budget_for(&self, bytes: u64) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.budget)
            .try_acquire_many_owned(budget_units(bytes))
            .ok()
    }
}

fn budget_units(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(BUDGET_UNIT).max(1)).unwrap_or(u32::MAX)
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
    let parts = u64::try_from(options.parts_in_flight.max(1)).unwrap_or(u64::MAX);
    let budget_bytes = parts.saturating_mul(u64::from(PART_SIZE));
    let budget = budget_units(budget_bytes);
    let objects = match &options.output {
        Output::Directory => None,
        Output::Objects(output) => Some(ObjectRun {
            output: output.clone(),
            // Parts waiting for their turn keep their budget, up to half of it: the other
            // half stays for the parts they wait for.
            hold: Arc::new(HoldBudget::new(budget_bytes / 2)),
        }),
    };
    let assembly = objects.as_ref().map(|run| {
        let units = budget_units(run.output.assembly_memory.max(1));
        Arc::new(Semaphore::new(units as usize))
    });
    let exec = Arc::new(Executor {
        client: client.clone(),
        pools: Pools::new(client.clone(), options.connections_per_dc),
        gates: FloodGates::default(),
        cdn: CdnDirectory::default(),
        ledger: Ledger::new(client.clone()),
        limits: Limits::new(client.policy(), options.max_attempts),
        budget: Arc::new(Semaphore::new(budget as usize)),
        assembly,
        objects,
        options,
        events,
        stopping: AtomicBool::new(false),
        fatal: Mutex::new(None),
    });
    // A JoinSet, so that dropping this future (a cancelled run) stops the committer too.
    let mut committer = JoinSet::new();
    committer.spawn(commit_periodically(Arc::clone(&exec)));
    let cap = exec
        .options
        .parallel_files
        .map(|files| Arc::new(Semaphore::new(files.max(1))));
    let mut tasks = JoinSet::new();
    let count = jobs.len();
    for (index, job) in jobs.into_iter().enumerate() {
        let slot = match &cap {
            Some(cap) => match Arc::clone(cap).acquire_owned().await {
                Ok(slot) => Some(slot),
                Err(_) => break,
            },
            None => None,
        };
        // A file starts when the budget has room for its first part: small files run as
        // many at once as the budget allows, and memory stays within it. For object
        // storage, its assembly memory first (it never waits for fetch budget).
        let memory = tokio::select! {
            memory = exec.assembly_for(job.media.size) => memory,
            () = exec.stop_requested() => None,
        };
        let Some(memory) = memory else {
            break;
        };
        let first = job.media.size.min(u64::from(PART_SIZE));
        let permit = tokio::select! {
            permit = exec.budget_for(first) => permit,
            () = exec.stop_requested() => None,
        };
        let Some(permit) = permit else {
            break;
        };
        if exec.stopped() {
            break;
        }
        let exec = Arc::clone(&exec);
        tasks.spawn(async move {
            let outcome = run_file(&exec, index, job, permit).await;
            drop((slot, memory));
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
    let committed = exec.ledger.commit().await;
    exec.pools.close().await;
    if let Some(error) = exec
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

async fn commit_periodically(exec: Arc<Executor>) {
    let mut tick = tokio::time::interval(exec.options.commit_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(error) = exec.ledger.commit().await {
            exec.stop(error.into());
            return;
        }
    }
}
