//! `tgdl bench`: downloads a set of files from a local localdc with the download engine
//! (the engine `tgdl download` drives, with the same options) and prints, from one run:
//! throughput, the client's CPU seconds per GiB (its own CPU clock, over the transfer
//! only), its peak resident set during the transfer, the crypto floor measured right then
//! on this machine (AES-256-IGE decryption + SHA-256 of the same bytes, one core) and the
//! ratio of the two, and for shaped profiles the ratio of throughput to the emulated
//! network's cap. Every file is checked against the SHA-256 of localdc's deterministic
//! bytes, computed here from the same fixture.
//!
//! localdc runs as a separate process (the `localdc` binary next to `tgdl`, or
//! `--localdc PATH`) so that the numbers are the client's alone; `--localdc-inprocess`
//! runs it on a thread of this process instead (tests: numbers then include the server).
//! The network profile is the global `--profile` (lan, wan or mobile): bench uses no
//! session, so the option names the WAN profile here.

mod floor;
mod server;
mod usage;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use localdc::WanProfile;
use localdc::world::{FileKey, World};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tgclient::download::{DownloadJob, DownloadOptions, FileOutcome, download};
use tgclient::media::MediaFile;
use tgclient::{Client, ClientConfig, SessionStore};

use crate::cli::GlobalArgs;
use crate::filters::parse_size;
use crate::manifest::hex;
use crate::{errors, output, server as server_config};

/// `tgdl bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// How many files to download.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub files: usize,
    /// The size of each file (256MiB, 1GiB...).
    #[arg(long, value_name = "SIZE", default_value = "256MiB")]
    pub size: String,
    /// Spread the files over this many DCs, round-robin from the account's home DC (1-5;
    /// files on other DCs go through exported authorizations). The emulated per-account
    /// bandwidth is per DC.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub dcs: usize,
    /// At most this many files at once (default: as many as the parts budget allows).
    #[arg(long, value_name = "N")]
    pub parallel_files: Option<usize>,
    /// 1 MiB parts requested at once across all files.
    #[arg(long, value_name = "N", default_value_t = crate::cli::DEFAULT_PARTS_IN_FLIGHT)]
    pub parts_in_flight: usize,
    /// Connections per DC for file parts.
    #[arg(long, value_name = "N", default_value_t = crate::cli::DEFAULT_CONNECTIONS)]
    pub connections: usize,
    /// Do not check parts against the server's hashes (as `tgdl download` offers).
    #[arg(long)]
    pub no_server_hashes: bool,
    /// Print one JSON object with every measurement instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The localdc binary (default: `localdc` next to tgdl).
    #[arg(long, value_name = "PATH", conflicts_with = "localdc_inprocess")]
    pub localdc: Option<PathBuf>,
    /// Run localdc on a thread of this process (for tests: CPU and memory then include the
    /// server's).
    #[arg(long)]
    pub localdc_inprocess: bool,
    /// How many bytes the crypto floor is measured over.
    #[arg(long, value_name = "SIZE", default_value = "256MiB")]
    pub floor_size: String,
    /// Where the scratch directory (fixture, session, downloaded files; deleted after)
    /// goes (default: the system's temporary directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Only write the benchmark's fixture (for `localdc --fixture`) to this file and exit.
    #[arg(long, value_name = "PATH")]
    pub write_fixture: Option<PathBuf>,
}

/// Everything one run measured (the `--json` object).
#[derive(Debug, Serialize)]
pub struct Report {
    pub profile: String,
    /// `process` (the client measured alone) or `in-process`.
    pub localdc: &'static str,
    pub files: usize,
    pub file_size: u64,
    pub dcs: usize,
    pub parallel_files: Option<usize>,
    pub parts_in_flight: usize,
    pub connections: usize,
    pub server_hashes: bool,
    /// Bytes fetched in the measured transfer.
    pub bytes: u64,
    pub seconds: f64,
    pub throughput_mib_s: f64,
    /// Client CPU (user + system, every thread) over the transfer.
    pub cpu_seconds: f64,
    pub cpu_user_seconds: Option<f64>,
    pub cpu_system_seconds: Option<f64>,
    pub cpu_seconds_per_gib: f64,
    /// Cores busy on average during the transfer.
    pub cpu_cores: f64,
    /// Peak resident set during the transfer (of the whole process when the reset of the
    /// peak is not available: see `peak_rss_transfer_only`).
    pub peak_rss_mib: Option<f64>,
    pub peak_rss_transfer_only: bool,
    /// AES-256-IGE decrypt + SHA-256, one core, CPU seconds per GiB.
    pub floor_seconds_per_gib: f64,
    pub floor_bytes: u64,
    /// Client CPU per GiB over the floor.
    pub cpu_floor_ratio: f64,
    /// The SHA-256 passes over every byte that the engine's checks add to the floor's one:
    /// the finished file read back, and the server's chunk hashes when they are on.
    pub check_passes: u32,
    /// The floor plus `check_passes` SHA-256 passes: the crypto the engine cannot skip.
    pub checks_floor_seconds_per_gib: f64,
    /// Client CPU per GiB over that: what the engine costs beyond its crypto.
    pub cpu_checks_floor_ratio: f64,
    /// The emulated per-account cap summed over the DCs used (buckets are per DC).
    pub account_cap_mib_s: Option<f64>,
    /// The per-connection cap times the connections the engine may open on those DCs.
    pub connection_cap_mib_s: Option<f64>,
    /// The smaller of the two: what the emulated network lets through at best.
    pub cap_mib_s: Option<f64>,
    pub cap_ratio: Option<f64>,
    pub account_cap_ratio: Option<f64>,
    pub files_verified: usize,
    pub all_verified: bool,
    pub results: Vec<FileResult>,
}

/// One file's outcome.
#[derive(Debug, Serialize)]
pub struct FileResult {
    pub msg_id: i32,
    pub dc: i32,
    pub size: u64,
    /// The SHA-256 of localdc's bytes for the file.
    pub expected_sha256: String,
    /// The SHA-256 of the file on disk (none if it was not downloaded).
    pub sha256: Option<String>,
    pub verified: bool,
    pub error: Option<String>,
}

const MIB: f64 = 1024.0 * 1024.0;
/// localdc accepts any api id and hash.
const API_ID: i32 = 4;
const API_HASH: &str = "0123456789abcdef";

/// Runs `tgdl bench`.
pub async fn run(global: &GlobalArgs, args: &BenchArgs) -> Result<()> {
    let profile = match global.profile.as_deref() {
        None => WanProfile::Lan,
        Some(name) => name.parse::<WanProfile>().map_err(|_| {
            anyhow!("tgdl bench --profile {name:?}: the network profile is lan, wan or mobile")
        })?,
    };
    if global.server.is_some() || global.test_dc {
        bail!("tgdl bench starts its own localdc: --server and --test-dc do not apply");
    }
    let size = parse_size(&args.size)?;
    if args.files == 0 || size == 0 {
        bail!("--files and --size must be above zero");
    }
    if size > 4 << 30 {
        bail!("--size {}: Telegram files are at most 4 GiB", args.size);
    }
    if !(1..=server::MAX_DCS).contains(&args.dcs) {
        bail!("--dcs must be 1 to {}", server::MAX_DCS);
    }
    let floor_size = parse_size(&args.floor_size)?;
    let fixture = server::fixture(args.files, size, args.dcs);
    if let Some(path) = &args.write_fixture {
        let json = fixture.to_json().context("serializing the fixture")?;
        std::fs::write(path, json)
            .with_context(|| format!("cannot write the fixture to {}", path.display()))?;
        return Ok(());
    }
    let binary = if args.localdc_inprocess {
        None
    } else {
        Some(server::find_binary(args.localdc.as_deref())?)
    };

    let scratch = match &args.dir {
        Some(dir) => tempfile::Builder::new()
            .prefix("tgdl-bench-")
            .tempdir_in(dir),
        None => tempfile::Builder::new().prefix("tgdl-bench-").tempdir(),
    }
    .context("cannot create the scratch directory")?;
    let dir = scratch.path();
    let world = Arc::new(World::from_fixture(fixture.clone()).context("the bench fixture")?);
    let ready = dir.join("ready.json");
    let say = |text: &str| {
        if !args.json {
            output::note(text);
        }
    };
    say(&format!(
        "bench: {} files of {} on {} DC(s), profile {profile}",
        args.files,
        human_bytes(size),
        args.dcs
    ));
    let mut localdc = match &binary {
        Some(binary) => {
            let fixture_path = dir.join("fixture.json");
            std::fs::write(
                &fixture_path,
                fixture.to_json().context("serializing the fixture")?,
            )
            .context("cannot write the fixture")?;
            server::start_process(binary, &fixture_path, &ready, profile, dir).await?
        }
        None => server::start_in_process(Arc::clone(&world), profile, &ready)?,
    };

    let client = connect(global, &ready, dir).await?;
    let transfer = transfer(&client, args, dir).await;
    if let Err(error) = client.close().await {
        tracing::debug!(%error, "closing the bench session");
    }
    localdc.stop();
    let transfer = transfer?;

    say(&format!(
        "bench: measuring the crypto floor over {}",
        human_bytes(floor_size)
    ));
    let floor = tokio::task::spawn_blocking(move || floor::measure(floor_size))
        .await
        .context("the floor measurement stopped")??;
    say("bench: verifying the files");
    let results = {
        let world = Arc::clone(&world);
        let files = transfer.files.clone();
        tokio::task::spawn_blocking(move || verify(&world, &files))
            .await
            .context("the verification stopped")?
    };

    let report = report(
        args,
        profile,
        localdc.mode(),
        size,
        &transfer,
        &floor,
        results,
    );
    drop(localdc);
    let printed = output::to_stdout(|out| {
        if args.json {
            output::write_json_line(out, &report)
        } else {
            write_table(out, &report)
        }
    });
    drop(scratch);
    // Files that are not right outrank a stdout that could not be written: a closed pipe
    // must not turn them into a success.
    if !report.all_verified {
        bail!(
            "{} of {} files did not download or verify",
            report.files - report.files_verified,
            report.files
        );
    }
    printed
}

/// A client for the server of `ready`, logged in with the fixture account's code (the
/// client's own login path), its session in `dir`.
async fn connect(global: &GlobalArgs, ready: &Path, dir: &Path) -> Result<Client> {
    let mut global = global.clone();
    global.server = Some(ready.to_owned());
    global.profile = None;
    let server = server_config::server_config(&global)?;
    let store =
        SessionStore::open(dir.join("bench.session")).context("cannot create the bench session")?;
    let client = Client::new(
        ClientConfig::new(API_ID, API_HASH).with_server(server),
        store,
    )
    .map_err(errors::client_error)?;
    let request = client
        .request_login_code(server::PHONE)
        .await
        .map_err(errors::login_error)?;
    client
        .sign_in(&request, server::CODE)
        .await
        .map_err(errors::login_error)?;
    Ok(client)
}

/// What the measured transfer gave.
#[derive(Debug)]
struct Transfer {
    bytes: u64,
    elapsed: Duration,
    cpu: Duration,
    user_system: Option<(Duration, Duration)>,
    peak_rss: Option<u64>,
    peak_reset: bool,
    files: Vec<Downloaded>,
}

/// One file as the engine left it.
#[derive(Debug, Clone)]
struct Downloaded {
    msg_id: i32,
    media_id: i64,
    dc: i32,
    size: u64,
    path: PathBuf,
    /// What the engine said, when it failed.
    error: Option<String>,
}

/// Lists the channel's files and downloads them all; measures the download only.
async fn transfer(client: &Client, args: &BenchArgs, dir: &Path) -> Result<Transfer> {
    let peer = super::resolve_chat(client, &format!("@{}", server::CHANNEL)).await?;
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
            let path = out.join(format!("bench-{msg_id}.bin"));
            files.push(Downloaded {
                msg_id,
                media_id: media.id.id,
                dc: media.dc_id,
                size: media.size,
                path: path.clone(),
                error: None,
            });
            DownloadJob::from_message(media, path, peer.clone(), msg_id)
        })
        .collect();
    let options = DownloadOptions {
        parts_in_flight: args.parts_in_flight.max(1),
        parallel_files: args.parallel_files.map(|files| files.max(1)),
        connections_per_dc: args.connections.max(1),
        verify_server_hashes: !args.no_server_hashes,
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
fn verify(world: &World, files: &[Downloaded]) -> Vec<FileResult> {
    files
        .iter()
        .map(|file| {
            let key = FileKey::document(file.media_id);
            let (expected, actual) = std::thread::scope(|scope| {
                let expected = scope.spawn(|| world.file_sha256(&key));
                let actual = (file.error.is_none()).then(|| sha256_file(&file.path));
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

fn report(
    args: &BenchArgs,
    profile: WanProfile,
    mode: &'static str,
    size: u64,
    transfer: &Transfer,
    floor: &floor::Floor,
    results: Vec<FileResult>,
) -> Report {
    let seconds = transfer.elapsed.as_secs_f64().max(1e-6);
    let throughput = transfer.bytes as f64 / MIB / seconds;
    let cpu_per_gib = floor::per_gib(transfer.cpu, transfer.bytes);
    let floor_per_gib = floor.seconds_per_gib();
    let check_passes = if args.no_server_hashes { 1 } else { 2 };
    let checks_floor_per_gib =
        floor_per_gib + f64::from(check_passes) * floor.sha_seconds_per_gib();
    // The DCs that actually hold files.
    let dcs_used = args.dcs.min(args.files) as f64;
    let wan = profile.settings();
    let account_cap = wan.account_rate.map(|rate| rate as f64 / MIB * dcs_used);
    let connection_cap = wan
        .conn_rate
        .map(|rate| rate as f64 / MIB * args.connections.max(1) as f64 * dcs_used);
    let cap = match (account_cap, connection_cap) {
        (Some(a), Some(c)) => Some(a.min(c)),
        (a, c) => a.or(c),
    };
    let files_verified = results.iter().filter(|r| r.verified).count();
    Report {
        profile: profile.name().to_owned(),
        localdc: mode,
        files: args.files,
        file_size: size,
        dcs: args.dcs,
        parallel_files: args.parallel_files,
        parts_in_flight: args.parts_in_flight,
        connections: args.connections,
        server_hashes: !args.no_server_hashes,
        bytes: transfer.bytes,
        seconds,
        throughput_mib_s: throughput,
        cpu_seconds: transfer.cpu.as_secs_f64(),
        cpu_user_seconds: transfer.user_system.map(|(u, _)| u.as_secs_f64()),
        cpu_system_seconds: transfer.user_system.map(|(_, s)| s.as_secs_f64()),
        cpu_seconds_per_gib: cpu_per_gib,
        cpu_cores: transfer.cpu.as_secs_f64() / seconds,
        peak_rss_mib: transfer.peak_rss.map(|b| b as f64 / MIB),
        peak_rss_transfer_only: transfer.peak_reset,
        floor_seconds_per_gib: floor_per_gib,
        floor_bytes: floor.bytes,
        cpu_floor_ratio: ratio(cpu_per_gib, floor_per_gib),
        check_passes,
        checks_floor_seconds_per_gib: checks_floor_per_gib,
        cpu_checks_floor_ratio: ratio(cpu_per_gib, checks_floor_per_gib),
        account_cap_mib_s: account_cap,
        connection_cap_mib_s: connection_cap,
        cap_mib_s: cap,
        cap_ratio: cap.map(|c| throughput / c),
        account_cap_ratio: account_cap.map(|c| throughput / c),
        files_verified,
        all_verified: files_verified == args.files,
        results,
    }
}

/// `value / base`, or 0 when there is no base.
fn ratio(value: f64, base: f64) -> f64 {
    if base > 0.0 { value / base } else { 0.0 }
}

fn write_table(out: &mut impl Write, report: &Report) -> std::io::Result<()> {
    let opt = |value: Option<f64>, unit: &str| {
        value.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2}{unit}"))
    };
    writeln!(
        out,
        "tgdl bench: {} x {} on {} DC(s), profile {}, localdc {}",
        report.files,
        human_bytes(report.file_size),
        report.dcs,
        report.profile,
        report.localdc
    )?;
    writeln!(
        out,
        "  engine:      {} files at once, {} parts in flight, {} connections per DC, server hashes {}",
        report
            .parallel_files
            .map_or_else(|| "budget-bound".to_owned(), |files| files.to_string()),
        report.parts_in_flight,
        report.connections,
        if report.server_hashes { "on" } else { "off" }
    )?;
    writeln!(
        out,
        "  throughput:  {:.1} MiB/s ({} in {:.2} s)",
        report.throughput_mib_s,
        human_bytes(report.bytes),
        report.seconds
    )?;
    writeln!(
        out,
        "  client CPU:  {:.3} s/GiB ({:.2} s: user {}, system {}; {:.2} cores busy)",
        report.cpu_seconds_per_gib,
        report.cpu_seconds,
        opt(report.cpu_user_seconds, " s"),
        opt(report.cpu_system_seconds, " s"),
        report.cpu_cores
    )?;
    writeln!(
        out,
        "  crypto floor: {:.3} s/GiB (AES-256-IGE decrypt + SHA-256, one core, {})",
        report.floor_seconds_per_gib,
        human_bytes(report.floor_bytes)
    )?;
    writeln!(out, "  CPU / floor: {:.2}x", report.cpu_floor_ratio)?;
    writeln!(
        out,
        "  with checks: {:.3} s/GiB (the floor + {} SHA-256 pass{}: {}); CPU / that: {:.2}x",
        report.checks_floor_seconds_per_gib,
        report.check_passes,
        if report.check_passes == 1 { "" } else { "es" },
        if report.server_hashes {
            "server chunk hashes, file read back"
        } else {
            "file read back"
        },
        report.cpu_checks_floor_ratio
    )?;
    writeln!(
        out,
        "  peak RSS:    {}{}",
        opt(report.peak_rss_mib, " MiB"),
        if report.peak_rss_transfer_only {
            " (during the transfer)"
        } else {
            " (whole process)"
        }
    )?;
    if let Some(cap) = report.cap_mib_s {
        writeln!(
            out,
            "  network cap: {cap:.1} MiB/s (account {}, connections {}); throughput / cap {}, / account cap {}",
            opt(report.account_cap_mib_s, " MiB/s"),
            opt(report.connection_cap_mib_s, " MiB/s"),
            opt(report.cap_ratio.map(|r| r * 100.0), "%"),
            opt(report.account_cap_ratio.map(|r| r * 100.0), "%"),
        )?;
    }
    writeln!(
        out,
        "  verified:    {} of {} files (SHA-256 against localdc's bytes)",
        report.files_verified, report.files
    )?;
    for failed in report.results.iter().filter(|r| !r.verified) {
        writeln!(
            out,
            "    message {}: {}",
            failed.msg_id,
            failed.error.as_deref().unwrap_or("not verified")
        )?;
    }
    Ok(())
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for next in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    if value.fract() == 0.0 {
        format!("{value:.0} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(3 << 20), "3 MiB");
        assert_eq!(human_bytes(1 << 30), "1 GiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12), "12 B");
    }
}
