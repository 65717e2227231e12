//! `tgdl download TARGET...`: the media of chats, message links and id ranges
//! (`t.me/name/100-200`), filtered, named by a template, downloaded by the engine with
//! progress, verified, and recorded in a JSON-lines manifest. Files already downloaded
//! and verified by an earlier run are skipped; interrupted ones resume. A rerun lists only
//! the messages newer than what earlier runs with the same filters archived (`--full`
//! lists everything), see [`crate::incremental`].
//!
//! The steps are public for `tgdl demo`, which downloads the same way: a [`Plan`] names the
//! files of chats, [`execute`] fetches them with progress and writes the manifest.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use tgclient::download::{
    DownloadError, DownloadJob, DownloadOptions, FileFailure, FileOutcome, download,
};
use tgclient::links::{self, PeerRef};
use tgclient::media::MediaFile;
use tgclient::store::ListingMark;
use tgclient::{Client, Takeout};
use tl_types::api::enums;
use tokio::sync::mpsc;

use super::{require_login, resolve_chat, takeout};
use crate::cli::DownloadArgs;
use crate::dates;
use crate::destination::Opened;
use crate::filters::{self, Filters};
use crate::incremental::{
    self, Archive, ArchivedFile, Lister, MarkedListing, Request, Role, place,
};
use crate::leases::{self, Leasing, Skipped, Taken};
use crate::manifest::{Manifest, ManifestEntry, hex};
use crate::naming::{Claims, NameFields, Template, is_contained};
use crate::progress::Progress;
use crate::signals::{Interrupted, Stopper};
use crate::{desktop_export, errors, output};

/// One file to fetch, with what the manifest says about it.
#[derive(Debug)]
pub struct Planned {
    pub job: DownloadJob,
    pub chat_id: i64,
    pub msg_id: i32,
    /// The path relative to the output directory, as shown and recorded.
    pub shown: String,
}

/// The files a run will fetch, named by a template under an output directory, in the
/// order they were found; at most `limit` of them.
#[derive(Debug)]
pub struct Plan {
    template: Template,
    output: PathBuf,
    limit: Option<usize>,
    claims: Claims,
    /// The takeout session chats are listed in, if any.
    takeout: Option<Takeout>,
    /// The marks and versions of archive mode.
    archive: Archive,
    /// With object storage as the output: its URL, which keys the engine's records of
    /// the files (the same key in another bucket is another file).
    object_url: Option<String>,
    /// The files so far.
    pub files: Vec<Planned>,
}

/// What [`execute`] did: each file's outcome (in plan order), the totals and how long
/// the transfer took.
#[derive(Debug)]
pub struct Executed {
    pub outcomes: Vec<FileOutcome>,
    pub summary: Summary,
    pub elapsed: Duration,
    /// Why the `--json` progress could not be written to stdout, if it could not. The
    /// download went on (the files are what was asked for); the caller fails after its
    /// summary.
    pub progress_failure: Option<std::io::Error>,
}

/// Runs `tgdl download`.
pub async fn run(client: &Client, args: &DownloadArgs) -> Result<()> {
    if args.follow {
        return super::watch::run(client, args).await;
    }
    // Every export is parsed whole before anything is listed or fetched.
    let exports = desktop_export::reader::read_all(&args.from_export)?;
    require_login(client)?;
    let stopper = Stopper::listen()?;
    let filters = args.filters.filters();
    let template = args.template.clone();
    let output = args.output.open().await?;
    let leasing = leasing(&output, client)?;
    let takeout = if args.takeout {
        Some(takeout::start(client).await?)
    } else {
        None
    };
    let mut plan = Plan::new(template, output.root(), args.limit)
        .for_output(&output)
        .in_takeout(takeout)
        .with_marks(!args.full);
    let mut listed = Ok(());
    for target in &args.targets {
        listed = plan
            .add_target(client, target, &filters)
            .await
            .with_context(|| format!("cannot list the media of {target}"));
        if listed.is_err() || plan.is_full() {
            break;
        }
    }
    if listed.is_ok() && !exports.is_empty() {
        let exports: Vec<_> = args.from_export.iter().cloned().zip(exports).collect();
        listed = desktop_export::source::plan_exports(&mut plan, client, &exports, &filters).await;
    }
    takeout::finish(plan.take_takeout(), listed.is_ok()).await;
    listed?;
    if plan.files.is_empty() {
        plan.record(client, &[]);
        output::note(if args.full {
            "nothing to download: no message matched"
        } else {
            "nothing to download: no new message matched (--full lists every message again)"
        });
        return Ok(());
    }
    let manifest = output.manifest(args.manifest.as_deref(), &run_name());
    let options = DownloadOptions {
        stop: Some(stopper.signal().clone()),
        ..download_options(args, &output)
    };
    let executed = execute(
        client,
        &plan.files,
        options,
        args.json,
        &mut Manifest::open(&manifest)?,
        leasing.as_ref(),
    )
    .await?;
    plan.record(client, &executed.outcomes);
    let summary = &executed.summary;
    summary.print(executed.elapsed, &manifest);
    if let Some(signal) = stopper.received() {
        return Err(Interrupted { signal }.into());
    }
    // Failed files outrank a stdout that could not be written: a closed pipe must not turn
    // them into a success.
    if summary.failed > 0 {
        bail!(
            "{} of {} files could not be downloaded",
            summary.failed,
            plan.files.len()
        );
    }
    executed
        .progress_failure
        .map_or(Ok(()), |error| Err(output::stdout_error(error)))
}

/// The name of a run (its manifest's): the time, and the pid, which tells apart runs of
/// several machines into one bucket.
pub fn run_name() -> String {
    format!(
        "{}-{}",
        dates::rfc3339(unix_now()).replace(':', ""),
        std::process::id()
    )
}

/// Who leases the files of a run into `output`: this process, when it is object storage.
pub fn leasing(output: &Opened, client: &Client) -> Result<Option<Leasing>> {
    let Some(target) = output.target() else {
        return Ok(None);
    };
    let me = super::require_login(client)?;
    Ok(Some(Leasing {
        target: target.clone(),
        holder: leases::holder(me.id),
    }))
}

/// The engine's options the flags ask for, writing to `output`.
pub fn download_options(args: &DownloadArgs, output: &Opened) -> DownloadOptions {
    DownloadOptions {
        output: output.engine_output(),
        parts_in_flight: args.parts_in_flight.max(1),
        parallel_files: args.parallel_files.map(|files| files.max(1)),
        connections_per_dc: args.connections.max(1),
        verify_server_hashes: !args.no_server_hashes,
        ..DownloadOptions::default()
    }
}

/// Downloads `files` with `options`, showing progress (bars, or JSON lines with `json`)
/// and recording every file in `manifest` (checkpointed at the end). With `leasing`
/// (object storage shared with other processes) a file another process has is skipped
/// and recorded with who has it.
pub async fn execute(
    client: &Client,
    files: &[Planned],
    options: DownloadOptions,
    json: bool,
    manifest: &mut Manifest,
    leasing: Option<&Leasing>,
) -> Result<Executed> {
    let taken = take_leases(files, leasing).await?;
    let ours: Vec<&Planned> = taken.ours.iter().filter_map(|&i| files.get(i)).collect();
    let names: Vec<String> = ours.iter().map(|p| p.shown.clone()).collect();
    let total: u64 = ours.iter().map(|p| p.job.media.size).sum();

    let (events, mut received) = mpsc::unbounded_channel();
    let mut progress = Progress::new(json, names.clone(), total);
    let shown_names = names;
    let display = tokio::spawn(async move {
        let mut failure = None;
        while let Some(event) = received.recv().await {
            // After a failed write the events are still drained, and no longer shown.
            if failure.is_none() {
                failure = progress.show(&event, &shown_names).err();
            }
        }
        progress.finish();
        failure
    });
    let started = Instant::now();
    let jobs = ours.iter().map(|p| p.job.clone()).collect();
    let result = download(client, jobs, options, Some(events)).await;
    // A display task that panicked has nothing more to say.
    let progress_failure = display.await.ok().flatten();
    let elapsed = started.elapsed();
    let skipped = taken.skipped.clone();
    let ours = taken.ours.clone();
    taken.release().await;

    let outcomes = spread(files.len(), &ours, result.map_err(run_error)?);
    let mut summary = Summary::default();
    for (index, (plan, outcome)) in files.iter().zip(&outcomes).enumerate() {
        match skipped.iter().find(|s| s.index == index) {
            Some(skip) => summary.record_skipped(plan, skip, manifest)?,
            None => summary.record(plan, outcome, manifest)?,
        }
    }
    manifest.checkpoint().await?;
    Ok(Executed {
        outcomes,
        summary,
        elapsed,
        progress_failure,
    })
}

/// The leases of `files` (their final keys) when `leasing`.
pub async fn take_leases(files: &[Planned], leasing: Option<&Leasing>) -> Result<Taken> {
    let keys: Vec<String> = files.iter().map(|p| p.shown.clone()).collect();
    Taken::take(leasing, &keys).await
}

/// The outcomes of a batch of `len` files, from those of the files at `ours` (in order);
/// the others did not run here.
pub fn spread(len: usize, ours: &[usize], outcomes: Vec<FileOutcome>) -> Vec<FileOutcome> {
    let mut all: Vec<FileOutcome> = (0..len).map(|_| FileOutcome::NotRun).collect();
    for (&index, outcome) in ours.iter().zip(outcomes) {
        if let Some(slot) = all.get_mut(index) {
            *slot = outcome;
        }
    }
    all
}

/// The command's error for a run-wide download failure.
pub fn run_error(error: DownloadError) -> anyhow::Error {
    match error {
        DownloadError::DiskFull { .. } => anyhow!(
            "{error}\nthe .part files and their progress are kept: the same command resumes"
        ),
        DownloadError::Client(client) => errors::client_error(client),
        DownloadError::Storage(storage) => {
            anyhow!("{storage}\nwhat was uploaded is recorded: the same command goes on from it")
        }
        other => anyhow!(other).context("the download stopped; run the same command to resume"),
    }
}

/// Creates the output directory and makes sure files can be written there; its
/// canonical path.
pub fn prepare_output(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the output directory {}", dir.display()))?;
    // Asked of the kernel rather than by writing a probe file, which a killed run would
    // leave behind among the user's files.
    rustix::fs::access(
        dir,
        rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
    )
    .map_err(std::io::Error::from)
    .with_context(|| format!("the output directory {} is not writable", dir.display()))?;
    dir.canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))
}

impl Plan {
    /// An empty plan: files named by `template` under `output` (an existing directory, see
    /// [`prepare_output`]), at most `limit` of them.
    pub fn new(template: Template, output: PathBuf, limit: Option<usize>) -> Self {
        Self {
            template,
            output,
            limit,
            claims: Claims::default(),
            takeout: None,
            archive: Archive::default(),
            object_url: None,
            files: Vec::new(),
        }
    }

    /// Plans files for `output`: keys under a bucket's prefix rather than paths in a
    /// directory. What is already at a key is not looked up here: the engine never
    /// replaces an object with other content (that file fails, saying so).
    #[must_use]
    pub fn for_output(mut self, output: &Opened) -> Self {
        self.object_url = output.target().map(|t| t.url().to_string());
        self
    }

    /// Lists chats from their marks (with `incremental`; otherwise in full) and records
    /// the marks [`Plan::record`] may move. Without this a plan neither reads nor moves
    /// marks (it still names an edited media beside the old file).
    #[must_use]
    pub fn with_marks(mut self, incremental: bool) -> Self {
        self.archive.use_marks = incremental;
        self.archive.keep_marks = true;
        self
    }

    /// Records in the session what the run archived: the versions of the files that
    /// finished (`outcomes`, in plan order) and the marks they allow. A failure is only
    /// reported: the files are there, and the next run lists more than it needed to.
    pub fn record(&mut self, client: &Client, outcomes: &[FileOutcome]) {
        if let Err(error) = self.archive.record(client, outcomes) {
            output::note(format_args!(
                "warning: cannot record what was archived ({error}); the next run lists these \
                 messages again"
            ));
        }
    }

    /// Records what a batch archived ([`Plan::record`]) and forgets its files: a watch
    /// plans its next batch from an empty list (names claimed so far stay claimed). The
    /// marks of the chats whose listing settled (complete, every file archived), which a
    /// watch moves on with what it follows.
    pub fn record_batch(&mut self, client: &Client, outcomes: &[FileOutcome]) -> Vec<ListingMark> {
        self.record(client, outcomes);
        let settled = self.archive.settled_marks(outcomes);
        self.files.clear();
        self.archive.clear_batch();
        settled
    }

    /// Lists chats inside `takeout` from now on.
    #[must_use]
    pub fn in_takeout(mut self, takeout: Option<Takeout>) -> Self {
        self.takeout = takeout;
        self
    }

    /// The takeout session chats are listed in, to finish once planned.
    pub fn take_takeout(&mut self) -> Option<Takeout> {
        self.takeout.take()
    }

    /// The output directory.
    pub fn output(&self) -> &Path {
        &self.output
    }

    /// Whether the limit is reached.
    pub fn is_full(&self) -> bool {
        self.limit.is_some_and(|limit| self.files.len() >= limit)
    }

    /// Adds the wanted files of `target`: a chat, a message link or an id range
    /// (`t.me/name/100-200`), as the user typed it.
    pub async fn add_target(
        &mut self,
        client: &Client,
        target: &str,
        filters: &Filters,
    ) -> Result<()> {
        let mut filters = filters.clone();
        let range = filters::split_id_range(target);
        let base = match range {
            Some((base, low, high)) => {
                filters.min_id = Some(filters.min_id.map_or(low, |m| m.max(low)));
                filters.max_id = Some(filters.max_id.map_or(high, |m| m.min(high)));
                base
            }
            None => target,
        };
        let link = links::parse(base).map_err(|e| anyhow!("{base}: {e}"))?;
        let chat_name = match &link.peer {
            PeerRef::Username(name) => name.clone(),
            _ => String::new(),
        };
        let peer = resolve_chat(client, base).await?;
        // An id range is explicit: it lists exactly its messages (verified files are
        // skipped by the engine), so a mark neither shortens it nor is moved by it (it says
        // nothing about the messages outside it).
        self.list_chat(
            client,
            &peer,
            &chat_name,
            link.message_id,
            &filters,
            range.is_none(),
        )
        .await
    }

    /// Adds the wanted files of the chat `peer` (only message `message_id` of it, when
    /// given). `chat_name` fills the template's `{chat}`; empty for the chat's id.
    pub async fn add_chat(
        &mut self,
        client: &Client,
        peer: &enums::InputPeer,
        chat_name: &str,
        message_id: Option<i32>,
        filters: &Filters,
    ) -> Result<()> {
        self.list_chat(client, peer, chat_name, message_id, filters, true)
            .await
    }

    /// [`Plan::add_chat`]; `marked`: whether the chat's mark applies (see
    /// [`Plan::with_marks`]).
    async fn list_chat(
        &mut self,
        client: &Client,
        peer: &enums::InputPeer,
        chat_name: &str,
        message_id: Option<i32>,
        filters: &Filters,
        marked: bool,
    ) -> Result<()> {
        let self_id = client
            .self_user()
            .map_err(errors::client_error)?
            .map(|user| user.id);
        let chat_id = incremental::marked_chat_id(peer, self_id);
        if let Some(chat_id) = chat_id {
            self.archive
                .load_versions(client, chat_id)
                .map_err(|e| errors::client_error(e.into()))?;
        }
        // A message link is explicit, like a range: it is fetched whatever the mark.
        if let Some(id) = message_id {
            let messages = client
                .messages_by_id(peer, &[id])
                .await
                .map_err(errors::client_error)?;
            for message in &messages {
                self.take(client, message, peer, chat_name, filters);
            }
            return Ok(());
        }
        let marking = chat_id.filter(|_| marked && self.archive.keep_marks);
        let filter = filters.digest();
        let mark = match marking {
            Some(chat_id) if self.archive.use_marks => client
                .with_store(|s| s.listing_mark(chat_id, &filter))
                .map_err(|e| errors::client_error(e.into()))?,
            _ => None,
        };
        if let Some(mark) = mark {
            tracing::info!(
                chat_id,
                mark,
                "listing the messages after the mark (earlier runs archived up to it)"
            );
        }
        let first_file = self.files.len();
        let mut lister = Lister::new(mark, filters.min_id, filters.max_id);
        while let Some(request) = lister.next_listing() {
            let mut history = self.history(client, peer, filters, request);
            let mut stopped = false;
            while let Some(message) = history.next().await.map_err(errors::client_error)? {
                let role = lister.observe(message_id_of(&message));
                if !self.take_as(client, &message, peer, chat_name, filters, role) {
                    stopped = true;
                    break;
                }
            }
            lister.ended(stopped);
        }
        if let Some(chat_id) = marking {
            self.archive.listings.push(MarkedListing {
                chat_id,
                filter,
                mark,
                coverage: lister.coverage(),
                files: first_file..self.files.len(),
            });
        }
        Ok(())
    }

    /// The listing of `peer` that `request` asks for, within the filters' dates.
    fn history(
        &self,
        client: &Client,
        peer: &enums::InputPeer,
        filters: &Filters,
        request: Request,
    ) -> tgclient::Messages {
        let mut history = match &self.takeout {
            Some(takeout) => takeout.history(peer.clone()),
            None => client.history(peer.clone()),
        };
        if let Some(min) = filters.min_date {
            history = history.min_date(dates::to_api_date(min));
        }
        if let Some(max) = filters.max_date {
            history = history.max_date(dates::to_api_date(max));
        }
        // An id range pages only through itself, not down from the newest message.
        if let Some(min) = request.min_id {
            history = history.min_id(min);
        }
        if let Some(max) = request.max_id {
            history = history.max_id(max);
        }
        if let Some(limit) = request.limit {
            history = history.limit(limit);
        }
        history
    }

    /// Plans the file of `message` if it has one `filters` accept; false once the plan is
    /// full. `client`'s session tells which version of the message's media it is (an edit's
    /// new media is named beside the old file) and what is already at its path.
    pub fn take(
        &mut self,
        client: &Client,
        message: &enums::Message,
        peer: &enums::InputPeer,
        chat_name: &str,
        filters: &Filters,
    ) -> bool {
        self.take_as(client, message, peer, chat_name, filters, Role::New)
    }

    /// [`Plan::take`] for a message that is `role` to the listing: a re-checked message's
    /// file (or an edited one's, seen by a watch) only if it is not archived yet.
    pub fn take_as(
        &mut self,
        client: &Client,
        message: &enums::Message,
        peer: &enums::InputPeer,
        chat_name: &str,
        filters: &Filters,
        role: Role,
    ) -> bool {
        if self.is_full() {
            return false;
        }
        if let Some(media) = MediaFile::from_message(message)
            && filters.accepts(message, &media)
        {
            let planned = self.plan(client, message, media, peer, chat_name, role);
            self.files.extend(planned);
        }
        true
    }

    /// Names `media` of `message` and makes its job; `None` for a re-checked message whose
    /// media is archived already.
    fn plan(
        &mut self,
        client: &Client,
        message: &enums::Message,
        media: MediaFile,
        peer: &enums::InputPeer,
        chat_name: &str,
        role: Role,
    ) -> Option<Planned> {
        let (chat_id, msg_id, date, edit_date, sender) = match message {
            enums::Message::Message(m) => (
                output::marked_id(&m.peer_id),
                m.id,
                m.date,
                m.edit_date,
                m.from_id.as_ref().map(output::marked_id),
            ),
            _ => (0, 0, 0, None, None),
        };
        let judged = self
            .archive
            .versions
            .judge(chat_id, msg_id, media.id.id, date, edit_date);
        if role == Role::Recheck && judged.archived {
            return None;
        }
        let fields = NameFields {
            chat: if chat_name.is_empty() {
                chat_id.to_string()
            } else {
                chat_name.to_owned()
            },
            chat_id,
            msg_id,
            date: i64::from(date),
            sender,
            kind: media.kind.name().to_owned(),
            file_name: media.file_name.clone(),
            ext: media.extension(),
            media_id: media.id.id,
            edit: judged.edit.map(i64::from),
        };
        let mut wanted = self.template.render(&fields);
        if !is_contained(&wanted) {
            // Cannot happen with a parsed template; stay safe regardless.
            wanted = PathBuf::from(format!("{msg_id}"));
        }
        let objects = self.object_url.is_some();
        let relative = place::place(&mut self.claims, &self.output, &wanted, |path| {
            if objects {
                place::Occupant::Nothing
            } else {
                place::occupant(client, path, &media)
            }
        });
        let path = self.output.join(&relative);
        self.archive.files.insert(
            self.files.len(),
            ArchivedFile {
                chat_id,
                msg_id,
                media_id: media.id.id,
                edit_date: judged.edit.or(edit_date).unwrap_or(0),
            },
        );
        let mut job = DownloadJob::from_message(media, path, peer.clone(), msg_id);
        if let Some(url) = &self.object_url {
            job.key = format!("{url}/{}", job.key);
        }
        Some(Planned {
            job,
            chat_id,
            msg_id,
            shown: relative.display().to_string(),
        })
    }
}

/// A message's id.
fn message_id_of(message: &enums::Message) -> i32 {
    match message {
        enums::Message::Message(m) => m.id,
        enums::Message::Service(m) => m.id,
        enums::Message::Empty(m) => m.id,
    }
}

/// What a run did, file by file.
#[derive(Debug, Default)]
pub struct Summary {
    pub downloaded: usize,
    pub already: usize,
    pub failed: usize,
    pub not_run: usize,
    /// Files another process has (object storage shared by several machines).
    pub leased_elsewhere: usize,
    /// Bytes fetched from the server in this run.
    pub bytes: u64,
    pub failures: Vec<String>,
    /// Who has each file skipped for its lease.
    pub skips: Vec<String>,
}

impl Summary {
    /// Counts `outcome` of `plan` and records it in `manifest`.
    pub fn record(
        &mut self,
        plan: &Planned,
        outcome: &FileOutcome,
        manifest: &mut Manifest,
    ) -> Result<()> {
        let server_hashes = match outcome {
            FileOutcome::Done { server_hashes, .. } => Some(server_hashes.as_str()),
            _ => None,
        };
        let (status, sha256, error) = match outcome {
            FileOutcome::Done {
                sha256, fetched, ..
            } => {
                self.downloaded += 1;
                self.bytes += fetched;
                ("downloaded", Some(hex(sha256)), None)
            }
            FileOutcome::AlreadyDone { sha256 } => {
                self.already += 1;
                ("already_downloaded", Some(hex(sha256)), None)
            }
            FileOutcome::Failed(failure) => {
                self.failed += 1;
                let error = match failure {
                    // The bytes disagree with the server's own hashes: only a user who knows
                    // the hashes are wrong should skip them.
                    FileFailure::Verification(_) => format!(
                        "{failure} (if this server's hashes are known to be wrong, \
                         --no-server-hashes downloads files from their own DC without them)"
                    ),
                    _ => failure.to_string(),
                };
                self.failures.push(format!("{}: {error}", plan.shown));
                ("failed", None, Some(error))
            }
            FileOutcome::NotRun => {
                self.not_run += 1;
                ("not_run", None, None)
            }
        };
        manifest.record(&ManifestEntry {
            chat_id: plan.chat_id,
            msg_id: plan.msg_id,
            path: &plan.shown,
            size: plan.job.media.size,
            sha256,
            status,
            server_hashes,
            error,
        })
    }

    /// Records `plan` as skipped because another process holds its lease.
    pub fn record_skipped(
        &mut self,
        plan: &Planned,
        skip: &Skipped,
        manifest: &mut Manifest,
    ) -> Result<()> {
        self.leased_elsewhere += 1;
        let reason = skip.reason();
        self.skips.push(format!("{}: {reason}", plan.shown));
        manifest.record(&ManifestEntry {
            chat_id: plan.chat_id,
            msg_id: plan.msg_id,
            path: &plan.shown,
            size: plan.job.media.size,
            sha256: None,
            status: "leased_elsewhere",
            server_hashes: None,
            error: Some(reason),
        })
    }

    /// The summary lines `tgdl download` ends with.
    pub fn print(&self, elapsed: std::time::Duration, manifest: &impl std::fmt::Display) {
        let seconds = elapsed.as_secs_f64().max(1e-3);
        let mib = self.bytes as f64 / (1024.0 * 1024.0);
        output::note(format_args!(
            "{} downloaded ({mib:.1} MiB in {seconds:.1} s, {:.1} MiB/s), {} already there, {} failed",
            self.downloaded,
            mib / seconds,
            self.already,
            self.failed
        ));
        for failure in &self.failures {
            output::note(format_args!("  failed: {failure}"));
        }
        if self.leased_elsewhere > 0 {
            output::note(format_args!(
                "{} skipped: another tgdl is archiving them into the same place",
                self.leased_elsewhere
            ));
            for skip in &self.skips {
                output::note(format_args!("  skipped: {skip}"));
            }
        }
        output::note(format_args!("manifest: {manifest}"));
    }
}

/// Now, in Unix seconds (0 before 1970).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
