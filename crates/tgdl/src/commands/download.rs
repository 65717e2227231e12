//! `tgdl download TARGET...`: the media of chats, message links and id ranges
//! (`t.me/name/100-200`), filtered, named by a template, downloaded by the engine with
//! progress, verified, and recorded in a JSON-lines manifest. Files already downloaded
//! and verified by an earlier run are skipped; interrupted ones resume.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use tgclient::Client;
use tgclient::download::{
    DownloadError, DownloadJob, DownloadOptions, FileOutcome, MessageSource, download,
};
use tgclient::links::{self, PeerRef};
use tgclient::media::MediaFile;
use tl_types::api::enums;
use tokio::sync::mpsc;

use super::{require_login, resolve_chat};
use crate::cli::DownloadArgs;
use crate::dates::{self, DateArg};
use crate::filters::{self, Filters};
use crate::manifest::{Manifest, ManifestEntry, hex};
use crate::naming::{Claims, NameFields, Template, is_contained};
use crate::progress::Progress;
use crate::{errors, output};

/// One file to fetch, with what the manifest says about it.
struct Planned {
    job: DownloadJob,
    chat_id: i64,
    msg_id: i32,
    /// The path relative to the output directory, as shown and recorded.
    shown: String,
}

/// Runs `tgdl download`.
pub async fn run(client: &Client, args: &DownloadArgs) -> Result<()> {
    require_login(client)?;
    let filters = build_filters(args)?;
    let template = Template::parse(&args.template)?;
    let output = prepare_output(&args.output)?;
    let mut claims = Claims::default();
    let mut planned = Vec::new();
    for target in &args.targets {
        collect(
            client,
            target,
            &filters,
            args,
            &template,
            &output,
            &mut claims,
            &mut planned,
        )
        .await
        .with_context(|| format!("cannot list the media of {target}"))?;
        if args.limit.is_some_and(|limit| planned.len() >= limit) {
            break;
        }
    }
    if planned.is_empty() {
        eprintln!("nothing to download: no message matched");
        return Ok(());
    }
    let names: Vec<String> = planned.iter().map(|p| p.shown.clone()).collect();
    let total: u64 = planned.iter().map(|p| p.job.media.size).sum();
    let manifest_path = args.manifest.clone().unwrap_or_else(|| {
        output.join(format!(
            "tgdl-manifest-{}.jsonl",
            dates::rfc3339(unix_now()).replace(':', "")
        ))
    });
    let mut manifest = Manifest::create(&manifest_path)?;

    let options = DownloadOptions {
        parts_in_flight: args.parts_in_flight.max(1),
        parallel_files: args.parallel_files.max(1),
        connections_per_dc: args.connections.max(1),
        verify_server_hashes: !args.no_server_hashes,
        ..DownloadOptions::default()
    };
    let (events, mut received) = mpsc::unbounded_channel();
    let mut progress = Progress::new(args.json, names.clone(), total);
    let shown_names = names.clone();
    let display = tokio::spawn(async move {
        while let Some(event) = received.recv().await {
            progress.show(&event, &shown_names);
        }
        progress.finish();
    });
    let started = Instant::now();
    let jobs = planned.iter().map(|p| p.job.clone()).collect();
    let result = download(client, jobs, options, Some(events)).await;
    let _ = display.await;
    let elapsed = started.elapsed();

    let outcomes = match result {
        Ok(outcomes) => outcomes,
        Err(error) => return Err(run_error(error)),
    };
    let mut summary = Summary::default();
    for (plan, outcome) in planned.iter().zip(&outcomes) {
        summary.record(plan, outcome, &mut manifest)?;
    }
    summary.print(elapsed, manifest.path());
    if summary.failed > 0 {
        bail!(
            "{} of {} files could not be downloaded",
            summary.failed,
            planned.len()
        );
    }
    Ok(())
}

fn run_error(error: DownloadError) -> anyhow::Error {
    match error {
        DownloadError::DiskFull { .. } => anyhow!(
            "{error}\nthe .part files and their progress are kept: the same command resumes"
        ),
        DownloadError::Client(client) => errors::client_error(client),
        other => anyhow!(other).context("the download stopped; run the same command to resume"),
    }
}

fn build_filters(args: &DownloadArgs) -> Result<Filters> {
    let from = args.from_date.as_deref().map(DateArg::parse).transpose()?;
    let to = args.to_date.as_deref().map(DateArg::parse).transpose()?;
    dates::check_range(from, to)?;
    let filters = Filters {
        kinds: args
            .types
            .as_deref()
            .map(filters::parse_kinds)
            .transpose()?
            .unwrap_or_default(),
        min_date: from.map(DateArg::lower),
        max_date: to.map(DateArg::upper),
        min_size: args
            .min_size
            .as_deref()
            .map(filters::parse_size)
            .transpose()?,
        max_size: args
            .max_size
            .as_deref()
            .map(filters::parse_size)
            .transpose()?,
        min_id: args.min_id,
        max_id: args.max_id,
        text: args.text.clone(),
    };
    if let (Some(min), Some(max)) = (filters.min_size, filters.max_size)
        && min > max
    {
        bail!("--min-size is larger than --max-size");
    }
    Ok(filters)
}

/// Creates the output directory and makes sure files can be written there.
fn prepare_output(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the output directory {}", dir.display()))?;
    let probe = dir.join(".tgdl-write-test");
    std::fs::write(&probe, b"")
        .with_context(|| format!("the output directory {} is not writable", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    dir.canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))
}

/// Adds the wanted files of `target` to `planned`.
#[allow(clippy::too_many_arguments)]
async fn collect(
    client: &Client,
    target: &str,
    filters: &Filters,
    args: &DownloadArgs,
    template: &Template,
    output: &Path,
    claims: &mut Claims,
    planned: &mut Vec<Planned>,
) -> Result<()> {
    let mut filters = filters.clone();
    let base = match filters::split_id_range(target) {
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
    let mut take = |message: &enums::Message, planned: &mut Vec<Planned>| -> bool {
        if args.limit.is_some_and(|limit| planned.len() >= limit) {
            return false;
        }
        if let Some(media) = MediaFile::from_message(message)
            && filters.accepts(message, &media)
        {
            planned.push(plan(
                message, media, &peer, &chat_name, template, output, claims,
            ));
        }
        true
    };
    if let Some(id) = link.message_id {
        let messages = client
            .messages_by_id(&peer, &[id])
            .await
            .map_err(errors::client_error)?;
        for message in &messages {
            take(message, planned);
        }
        return Ok(());
    }
    let mut history = client.history(peer.clone());
    if let Some(min) = filters.min_date {
        history = history.min_date(dates::to_api_date(min));
    }
    if let Some(max) = filters.max_date {
        history = history.max_date(dates::to_api_date(max));
    }
    while let Some(message) = history.next().await.map_err(errors::client_error)? {
        // History runs newest first: past the lowest id nothing more can match.
        if let enums::Message::Message(m) = &message
            && filters.min_id.is_some_and(|min| m.id < min)
        {
            break;
        }
        if !take(&message, planned) {
            break;
        }
    }
    Ok(())
}

/// Names `media` of `message` and makes its job.
fn plan(
    message: &enums::Message,
    media: MediaFile,
    peer: &enums::InputPeer,
    chat_name: &str,
    template: &Template,
    output: &Path,
    claims: &mut Claims,
) -> Planned {
    let (chat_id, msg_id, date, sender) = match message {
        enums::Message::Message(m) => (
            output::marked_id(&m.peer_id),
            m.id,
            i64::from(m.date),
            m.from_id.as_ref().map(output::marked_id),
        ),
        _ => (0, 0, 0, None),
    };
    let fields = NameFields {
        chat: if chat_name.is_empty() {
            chat_id.to_string()
        } else {
            chat_name.to_owned()
        },
        chat_id,
        msg_id,
        date,
        sender,
        kind: media.kind.name().to_owned(),
        file_name: media.file_name.clone(),
        ext: media.extension(),
        media_id: media.id.id,
    };
    let mut relative = claims.claim(template.render(&fields));
    if !is_contained(&relative) {
        // Cannot happen with a parsed template; stay safe regardless.
        relative = PathBuf::from(format!("{msg_id}"));
    }
    let path = output.join(&relative);
    Planned {
        job: DownloadJob {
            key: path.display().to_string(),
            media,
            path,
            source: Some(MessageSource {
                peer: peer.clone(),
                msg_id,
            }),
        },
        chat_id,
        msg_id,
        shown: relative.display().to_string(),
    }
}

#[derive(Debug, Default)]
struct Summary {
    downloaded: usize,
    already: usize,
    failed: usize,
    not_run: usize,
    bytes: u64,
    failures: Vec<String>,
}

impl Summary {
    fn record(
        &mut self,
        plan: &Planned,
        outcome: &FileOutcome,
        manifest: &mut Manifest,
    ) -> Result<()> {
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
                self.failures.push(format!("{}: {failure}", plan.shown));
                ("failed", None, Some(failure.to_string()))
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
            error,
        })
    }

    fn print(&self, elapsed: std::time::Duration, manifest: &Path) {
        let seconds = elapsed.as_secs_f64().max(1e-3);
        let mib = self.bytes as f64 / (1024.0 * 1024.0);
        eprintln!(
            "{} downloaded ({mib:.1} MiB in {seconds:.1} s, {:.1} MiB/s), {} already there, {} failed",
            self.downloaded,
            mib / seconds,
            self.already,
            self.failed
        );
        for failure in &self.failures {
            eprintln!("  failed: {failure}");
        }
        eprintln!("manifest: {}", manifest.display());
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
