//! The measured download: the bench channel's files listed and downloaded by the engine,
//! then each file checked against the world's bytes.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use localdc::world::{FileKey, World};
use sha2::{Digest, Sha256};
use tgclient::Client;
use tgclient::download::object::Output;
use tgclient::download::{DownloadJob, DownloadOptions, FileOutcome, download};
use tgclient::media::MediaFile;
use tgdl::manifest::hex;
use tgdl::{errors, output};

use super::report::{FileResult, human_bytes};
use super::{BenchArgs, server, usage};

/// What the measured transfer gave.
#[derive(Debug)]
pub struct Transfer {
    pub bytes: u64,
    pub elapsed: Duration,
    pub cpu: Duration,
    pub user_system: Option<(Duration, Duration)>,
    pub peak_rss: Option<u64>,
    pub peak_reset: bool,
    pub files: Vec<Downloaded>,
}

/// One file as the engine left it.
#[derive(Debug, Clone)]
pub struct Downloaded {
    msg_id: i32,
    media_id: i64,
    dc: i32,
    size: u64,
    path: PathBuf,
    /// What the engine said, when it failed.
    error: Option<String>,
}

/// Lists the channel's files and downloads them all into `dir`'s `out`, or to `objects`
/// (keys `bench-<msg>.bin` under its prefix); measures the download only.
pub async fn transfer(
    client: &Client,
    args: &BenchArgs,
    dir: &Path,
    objects: Option<&objstore::Target>,
) -> Result<Transfer> {
    let peer = tgdl::commands::resolve_chat(client, &format!("@{}", server::CHANNEL)).await?;
    let mut history = client.history(peer.clone());
    let mut found = Vec::new();
    while let Some(message) = history.next().await.map_err(errors::client_error)? {
        if let tl_types::api::enums::Message::Message(m) = &message
            && let Some(media) = MediaFile::from_message(&message)
        {
            found.push((m.id, media));
        }
    }
    found.sort_by_key(|(id, _)| *id);
    if found.len() != args.files {
        bail!(
            "the bench channel lists {} files, not {}",
            found.len(),
            args.files
        );
    }
    let out = dir.join("out");
    std::fs::create_dir_all(&out).context("cannot create the download directory")?;
    let mut files = Vec::with_capacity(found.len());
    let jobs: Vec<DownloadJob> = found
        .into_iter()
        .map(|(msg_id, media)| {
            let name = format!("bench-{msg_id}.bin");
            let path = match objects {
                Some(_) => PathBuf::from(&name),
                None => out.join(&name),
            };
            files.push(Downloaded {
                msg_id,
                media_id: media.id.id,
                dc: media.dc_id,
                size: media.size,
                path: path.clone(),
                error: None,
            });
            let mut job = DownloadJob::from_message(media, path, peer.clone(), msg_id);
            if let Some(target) = objects {
                // Its own ledger key: the same name in the directory run is another file.
                job.key = format!("{}/{name}", target.url());
            }
            job
        })
        .collect();
    let options = DownloadOptions {
        parts_in_flight: args.parts_in_flight.max(1),
        parallel_files: args.parallel_files.map(|files| files.max(1)),
        connections_per_dc: args.connections.max(1),
        verify_server_hashes: !args.no_server_hashes,
        output: objects.map_or(Output::Directory, |target| {
            Output::Objects(tgdl::storage::engine_output(target))
        }),
        ..DownloadOptions::default()
    };
    if !args.json {
        output::note(format_args!(
            "bench: downloading {} files ({} in all)",
            jobs.len(),
            human_bytes(files.iter().map(|f| f.size).sum())
        ));
    }

    let peak_reset = usage::reset_peak_rss();
    let user_system_before = usage::user_system();
    let cpu_before = usage::process_cpu();
    let started = Instant::now();
    let outcomes = download(client, jobs, options, None).await;
    let elapsed = started.elapsed();
    let cpu = usage::process_cpu().saturating_sub(cpu_before);
    let user_system_after = usage::user_system();
    let peak_rss = usage::peak_rss();

    let outcomes = outcomes.map_err(|error| anyhow!(error).context("the download stopped"))?;
    let mut bytes = 0;
    for (file, outcome) in files.iter_mut().zip(&outcomes) {
        match outcome {
            FileOutcome::Done { fetched, .. } => bytes += fetched,
            FileOutcome::AlreadyDone { .. } => file.error = Some("already downloaded".into()),
            FileOutcome::Failed(failure) => file.error = Some(failure.to_string()),
            FileOutcome::NotRun => file.error = Some("not run".into()),
        }
    }
    let user_system = match (user_system_before, user_system_after) {
        (Some((u0, s0)), Some((u1, s1))) => Some((u1.saturating_sub(u0), s1.saturating_sub(s0))),
        _ => None,
    };
    Ok(Transfer {
        bytes,
        elapsed,
        cpu,
        user_system,
        peak_rss,
        peak_reset,
        files,
    })
}

/// Checks every file on disk against the SHA-256 of the world's bytes (the two hashes
/// computed side by side on two threads).
pub fn verify(world: &World, files: &[Downloaded]) -> Vec<FileResult> {
    verify_with(world, files, |file| sha256_file(&file.path))
}

/// Checks every object of `target` (read back) against the SHA-256 of the world's bytes.
pub fn verify_objects(
    world: &World,
    files: &[Downloaded],
    target: &objstore::Target,
    runtime: &tokio::runtime::Handle,
) -> Vec<FileResult> {
    verify_with(world, files, |file| {
        let key = file.path.to_string_lossy();
        let bytes = runtime
            .block_on(target.read(&key))
            .with_context(|| format!("cannot read {key} back"))?;
        Ok(objstore::sha256_of(&bytes))
    })
}

/// Checks every file, its bytes hashed by `actual`, against the world's.
fn verify_with(
    world: &World,
    files: &[Downloaded],
    actual: impl Fn(&Downloaded) -> Result<[u8; 32]> + Sync,
) -> Vec<FileResult> {
    files
        .iter()
        .map(|file| {
            let key = FileKey::document(file.media_id);
            let (expected, actual) = std::thread::scope(|scope| {
                let expected = scope.spawn(|| world.file_sha256(&key));
                let actual = (file.error.is_none()).then(|| actual(file));
                (expected.join(), actual)
            });
            let expected = match expected {
                Ok(Ok(hash)) => hex(&hash),
                Ok(Err(error)) => format!("unknown: {error}"),
                Err(_) => "unknown".into(),
            };
            let (sha256, error) = match actual {
                Some(Ok(hash)) => (Some(hex(&hash)), file.error.clone()),
                Some(Err(error)) => (None, Some(format!("{error:#}"))),
                None => (None, file.error.clone()),
            };
            let verified = error.is_none() && sha256.as_deref() == Some(expected.as_str());
            let error = error.or_else(|| (!verified).then(|| "SHA-256 mismatch".to_owned()));
            FileResult {
                msg_id: file.msg_id,
                dc: file.dc,
                size: file.size,
                expected_sha256: expected,
                sha256,
                verified,
                error,
            }
        })
        .collect()
}

fn sha256_file(path: &Path) -> Result<[u8; 32]> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let Some(chunk) = buf.get(..n) else { break };
        if chunk.is_empty() {
            break;
        }
        hasher.update(chunk);
    }
    Ok(hasher.finalize().into())
}
