//! `tgdl watch CHAT...` (and `tgdl download --follow`): downloads what the chats hold, then
//! follows them through Telegram's updates ([`tgclient::updates::Follow`]) and downloads
//! each new media as it arrives, through the same engine, naming and manifest.
//!
//! The follow state is taken before the history is listed (nothing posted meanwhile is
//! missed) and saved after each batch of files is recorded, so a watcher killed at any
//! point fetches, when started again, what was posted since (a file it had finished is
//! skipped as verified). SIGINT/SIGTERM stop it cleanly with status 0: a watch has no end
//! of its own, and a service manager stopping it is its normal end.
//!
//! A rerun lists each chat from its mark (as `tgdl download` does) and the marks move with
//! what that listing archived. An edit that replaced a message's media is downloaded beside
//! the old file (named with `{edit}`, as a rerun of `download` names it), never over it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use serde::Serialize;
use tgclient::Client;
use tgclient::download::{DownloadOptions, FileOutcome, download};
use tgclient::links::{self, PeerRef};
use tgclient::media::MediaFile;
use tgclient::store::ListingMark;
use tgclient::updates::{FollowError, FollowEvent, convert};
use tl_types::api::enums;

use super::download::{self as plain, Plan, Planned, Summary};
use super::{require_login, resolve_chat};
use crate::cli::DownloadArgs;
use crate::filters::{self, Filters};
use crate::incremental::{self, Role};
use crate::manifest::{Manifest, hex};
use crate::signals::Stopper;
use crate::{errors, output};

/// How often a heartbeat is logged (seen at `-v`).
const HEARTBEAT: Duration = Duration::from_mins(1);

/// One followed chat.
struct Chat {
    id: i64,
    peer: enums::InputPeer,
    /// The name `{chat}` renders (empty: the id).
    name: String,
}

/// Runs `tgdl watch` (and `tgdl download --follow`).
pub async fn run(client: &Client, args: &DownloadArgs) -> Result<()> {
    require_login(client)?;
    let stopper = Stopper::listen()?;
    let filters = args.filters.filters();
    let output = args.output.open().await?;
    let leasing = plain::leasing(&output, client)?;
    let chats = resolve(client, &args.targets).await?;
    let peers: Vec<enums::InputPeer> = chats.iter().map(|c| c.peer.clone()).collect();
    // Before the history is listed: what is posted while it is, arrives as updates.
    let mut follow = client.follow(&peers).await.map_err(follow_error)?;
    let manifest_place = output.manifest(args.manifest.as_deref(), &plain::run_name());
    let options = DownloadOptions {
        stop: Some(stopper.signal().clone()),
        ..plain::download_options(args, &output)
    };

    // One manifest for the whole watch: an object is rewritten whole at each checkpoint.
    let mut manifest = Manifest::open(&manifest_place)?;
    let mut plan = Plan::new(args.template.clone(), output.root(), None)
        .for_output(&output)
        .with_marks(true);
    for chat in &chats {
        plan.add_chat(client, &chat.peer, &chat.name, None, &filters)
            .await
            .map_err(|e| e.context(format!("cannot list the media of {}", chat.id)))?;
    }
    let mut planned: HashSet<Key> = plan.files.iter().map(Key::of).collect();
    let mut marks = if plan.files.is_empty() {
        FollowedMarks::of(plan.record_batch(client, &[]))
    } else {
        let executed = plain::execute(
            client,
            &plan.files,
            options.clone(),
            args.json,
            &mut manifest,
            leasing.as_ref(),
        )
        .await?;
        executed.summary.print(executed.elapsed, &manifest_place);
        for (file, outcome) in plan.files.iter().zip(&executed.outcomes) {
            report(file, outcome, args.json)?;
        }
        let settled = plan.record_batch(client, &executed.outcomes);
        if stopper.received().is_some() {
            return Ok(());
        }
        FollowedMarks::of(settled)
    };
    follow.commit().map_err(follow_error)?;
    output::note(format_args!(
        "watching {} chat(s) for new media; Ctrl-C stops",
        follow.chats()
    ));

    let mut totals = Summary::default();
    let landed = Arc::new(AtomicUsize::new(0));
    // Its own task: a tick must not cancel `follow.next()` halfway through a call.
    let heartbeat = tokio::spawn(heartbeat(follow.chats(), Arc::clone(&landed)));
    loop {
        let first = tokio::select! {
            event = follow.next() => event.map_err(follow_error)?,
            () = stopper.requested() => break,
        };
        let mut events = vec![first];
        while let Some(more) = follow.try_next() {
            events.push(more);
        }
        let tops = newest_by_chat(&events);
        for event in events {
            take_event(client, &mut plan, &mut planned, &chats, &filters, event);
        }
        let mut failed = HashSet::new();
        if !plan.files.is_empty() {
            let taken = plain::take_leases(&plan.files, leasing.as_ref()).await?;
            let jobs = taken
                .ours
                .iter()
                .filter_map(|&i| plan.files.get(i))
                .map(|p| p.job.clone())
                .collect();
            let result = download(client, jobs, options.clone(), None).await;
            let (ours, skipped) = (taken.ours.clone(), taken.skipped.clone());
            taken.release().await;
            let outcomes =
                plain::spread(plan.files.len(), &ours, result.map_err(plain::run_error)?);
            for (index, (file, outcome)) in plan.files.iter().zip(&outcomes).enumerate() {
                if let Some(skip) = skipped.iter().find(|s| s.index == index) {
                    totals.record_skipped(file, skip, &mut manifest)?;
                    output::note(format_args!("skipped {}: {}", file.shown, skip.reason()));
                } else {
                    totals.record(file, outcome, &mut manifest)?;
                    report(file, outcome, args.json)?;
                }
            }
            manifest.checkpoint().await?;
            landed.store(totals.downloaded, Ordering::Relaxed);
            failed = plan
                .files
                .iter()
                .zip(&outcomes)
                .filter(|(_, outcome)| !incremental::finished(outcome))
                .map(|(file, _)| file.chat_id)
                .collect();
            plan.record_batch(client, &outcomes);
            if ours
                .iter()
                .any(|&i| matches!(outcomes.get(i), Some(FileOutcome::NotRun)))
            {
                // Stopped before every file was had: the state is not saved past them
                // (a file another process has is not ours to wait for).
                break;
            }
        }
        marks.advance(client, &tops, &failed);
        follow.commit().map_err(follow_error)?;
    }
    heartbeat.abort();
    output::note(format_args!(
        "stopped: {} downloaded, {} failed while watching; the next start resumes",
        totals.downloaded, totals.failed
    ));
    Ok(())
}

/// Logs that the watch is alive (seen at `-v`), with the files downloaded so far.
async fn heartbeat(chats: usize, landed: Arc<AtomicUsize>) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.tick().await;
    loop {
        tick.tick().await;
        tracing::info!(
            chats,
            downloaded = landed.load(Ordering::Relaxed),
            "watching"
        );
    }
}

/// Checks that every target names a whole chat (a message link or an id range cannot be
/// followed), before any session is opened.
///
/// # Errors
/// The first target that does not parse or names less than a chat.
pub fn check_targets(targets: &[String]) -> Result<()> {
    for target in targets {
        let whole = filters::split_id_range(target).is_none()
            && links::parse(target)
                .map_err(|e| anyhow!("{target}: {e}"))?
                .message_id
                .is_none();
        if !whole {
            bail!("{target}: watch follows whole chats, not a message or an id range");
        }
    }
    Ok(())
}

/// The chats to follow (checked by [`check_targets`]).
async fn resolve(client: &Client, targets: &[String]) -> Result<Vec<Chat>> {
    let mut chats = Vec::with_capacity(targets.len());
    for target in targets {
        let link = links::parse(target).map_err(|e| anyhow!("{target}: {e}"))?;
        let peer = resolve_chat(client, target).await?;
        let id = match &peer {
            enums::InputPeer::User(p) => p.user_id,
            enums::InputPeer::Chat(p) => p.chat_id.saturating_neg(),
            enums::InputPeer::Channel(p) => convert::channel_marked_id(p.channel_id),
            _ => require_login(client)?.id,
        };
        let name = match &link.peer {
            PeerRef::Username(name) => name.clone(),
            _ => String::new(),
        };
        chats.push(Chat { id, peer, name });
    }
    Ok(chats)
}

/// The newest new message of each chat among `events`.
fn newest_by_chat(events: &[FollowEvent]) -> HashMap<i64, i32> {
    let mut tops = HashMap::new();
    for event in events {
        if let FollowEvent::New { chat_id, message } = event {
            let top = tops.entry(*chat_id).or_insert(i32::MIN);
            *top = (*top).max(convert::message_id(message));
        }
    }
    tops
}

/// The listing marks a watch moves on. A chat whose first listing settled (complete, every
/// wanted file archived) keeps its mark at the newest message followed, so a later run
/// lists only what came after; once one of its files fails, its mark stays where it was,
/// so the next run lists that file again.
struct FollowedMarks(HashMap<i64, ListingMark>);

impl FollowedMarks {
    fn of(settled: Vec<ListingMark>) -> Self {
        Self(settled.into_iter().map(|m| (m.chat_id, m)).collect())
    }

    /// Moves the marks to `tops` (after the batch's files were recorded) except for the
    /// chats in `failed`, which stop moving.
    fn advance(&mut self, client: &Client, tops: &HashMap<i64, i32>, failed: &HashSet<i64>) {
        self.0.retain(|chat, _| !failed.contains(chat));
        let moved: Vec<ListingMark> = tops
            .iter()
            .filter_map(|(chat, top)| {
                let mark = self.0.get_mut(chat)?;
                (*top > mark.max_id).then(|| {
                    mark.max_id = *top;
                    mark.clone()
                })
            })
            .collect();
        if moved.is_empty() {
            return;
        }
        if let Err(error) = client.with_store(|s| s.record_archived(&moved, &[])) {
            output::note(format_args!(
                "warning: cannot record how far the watch archived ({error}); the next run \
                 lists these messages again"
            ));
        }
    }
}

/// A file planned once per process: chat, message, media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key(i64, i32, i64);

impl Key {
    fn of(planned: &Planned) -> Self {
        Key(planned.chat_id, planned.msg_id, planned.job.media.id.id)
    }
}

/// Plans the file an event brings, if it has one the filters take and it was not
/// planned already.
fn take_event(
    client: &Client,
    plan: &mut Plan,
    planned: &mut HashSet<Key>,
    chats: &[Chat],
    filters: &Filters,
    event: FollowEvent,
) {
    let (chat_id, message, edited) = match event {
        FollowEvent::New { chat_id, message } => (chat_id, message, false),
        FollowEvent::Edited { chat_id, message } => (chat_id, message, true),
        // An archived file stays when its message is deleted.
        FollowEvent::Deleted { .. } => return,
    };
    let Some(chat) = chats.iter().find(|c| c.id == chat_id) else {
        return;
    };
    let Some(media) = MediaFile::from_message(&message) else {
        return;
    };
    if planned.contains(&Key(chat_id, convert::message_id(&message), media.id.id)) {
        return;
    }
    // An edit's media is planned only if it is not archived yet (then beside the old file).
    let role = if edited { Role::Recheck } else { Role::New };
    let before = plan.files.len();
    plan.take_as(client, &message, &chat.peer, &chat.name, filters, role);
    if let Some(file) = plan.files.get(before) {
        planned.insert(Key::of(file));
    }
}

/// One file's line (`--json`: one JSON object).
#[derive(Debug, Serialize)]
struct FileJson<'a> {
    event: &'static str,
    chat_id: i64,
    msg_id: i32,
    path: &'a str,
    size: u64,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_hashes: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn report(file: &Planned, outcome: &FileOutcome, json: bool) -> Result<()> {
    let (status, sha256, server_hashes, error) = match outcome {
        FileOutcome::Done {
            sha256,
            server_hashes,
            ..
        } => (
            "downloaded",
            Some(hex(sha256)),
            Some(server_hashes.as_str()),
            None,
        ),
        FileOutcome::AlreadyDone { sha256 } => {
            ("already_downloaded", Some(hex(sha256)), None, None)
        }
        FileOutcome::Failed(failure) => ("failed", None, None, Some(failure.to_string())),
        FileOutcome::NotRun => ("not_run", None, None, None),
    };
    let line = FileJson {
        event: "file",
        chat_id: file.chat_id,
        msg_id: file.msg_id,
        path: &file.shown,
        size: file.job.media.size,
        status,
        sha256,
        server_hashes,
        error,
    };
    output::to_stdout(|out| {
        if json {
            output::write_json_line(out, &line)
        } else {
            use std::io::Write;
            match &line.error {
                Some(error) => writeln!(out, "{status} {} ({error})", line.path),
                None => writeln!(out, "{status} {} ({} bytes)", line.path, line.size),
            }
        }
    })
}

fn follow_error(error: FollowError) -> anyhow::Error {
    match error {
        FollowError::Client(client) => errors::client_error(client),
        other => anyhow!(other),
    }
}
