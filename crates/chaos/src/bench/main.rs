//! `tgdl-bench`, a developer program: downloads a set of files from a local localdc with
//! tgdl's download engine (with the options `tgdl download` passes) and prints, from one
//! run: throughput, the client's CPU seconds per GiB (its own CPU clock, over the transfer
//! only), its peak resident set during the transfer, and what that CPU must cost at least,
//! measured right then on this machine: the crypto floor (AES-256-IGE decryption + SHA-256
//! of the same bytes, one core), the SHA-256 passes the engine's checks add, and writing the
//! same bytes to the output filesystem the way the engine does (positioned 1 MiB writes,
//! sync, read back). For shaped networks it also prints throughput against the emulated
//! network's cap. Every file is checked against the SHA-256 of localdc's deterministic
//! bytes, computed here from the same fixture. `--listing N` measures listing instead: a
//! channel of N messages paged through as `tgdl history` and the download planner do.
//!
//! localdc runs as a separate process (the `localdc` binary next to this one, or
//! `--localdc PATH`) so that the numbers are the client's alone; `--localdc-inprocess`
//! runs it on a thread of this process instead (tests: numbers then include the server).
//!
//! ```sh
//! cargo build --release -p chaos -p localdc
//! target/release/tgdl-bench --network wan --files 400 --size 200KiB
//! ```
mod connect;
mod floor;
mod listing;
mod objects;
mod report;
mod server;
mod transfer;
mod usage;
mod write;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Parser;
use localdc::WanProfile;
use localdc::world::World;
use tgdl::filters::size_arg;
use tgdl::{errors, output};

use report::human_bytes;

/// Benchmark tgdl's download engine against a local localdc: throughput, CPU per GiB
/// against what the crypto, the checks and the disk cost, peak memory, every file verified.
#[derive(Debug, Clone, Parser)]
#[command(name = "tgdl-bench", version)]
pub struct BenchArgs {
    /// The network localdc emulates: lan (no limits), wan (100 ms RTT, 8 MiB/s per
    /// connection, 64 MiB/s per account) or mobile (300 ms RTT, 1 MiB/s per connection,
    /// dropped connections).
    #[arg(long, value_name = "PROFILE", default_value_t = WanProfile::Lan)]
    pub network: WanProfile,
    /// How many files to download.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub files: usize,
    /// The size of each file (256MiB, 1GiB...).
    #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = size_arg)]
    pub size: u64,
    /// Spread the files over this many DCs, round-robin from the account's home DC (1-5;
    /// files on other DCs go through exported authorizations). The emulated per-account
    /// bandwidth is per DC.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub dcs: usize,
    /// At most this many files at once (default: as many as the parts budget allows).
    #[arg(long, value_name = "N")]
    pub parallel_files: Option<usize>,
    /// 1 MiB parts requested at once across all files.
    #[arg(long, value_name = "N", default_value_t = tgdl::cli::DEFAULT_PARTS_IN_FLIGHT)]
    pub parts_in_flight: usize,
    /// Connections per DC for file parts.
    #[arg(long, value_name = "N", default_value_t = tgdl::cli::DEFAULT_CONNECTIONS)]
    pub connections: usize,
    /// Do not check parts against the server's hashes (as `tgdl download` offers).
    #[arg(long)]
    pub no_server_hashes: bool,
    /// Print one JSON object with every measurement instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The localdc binary (default: `localdc` next to this program).
    #[arg(long, value_name = "PATH", conflicts_with = "localdc_inprocess")]
    pub localdc: Option<PathBuf>,
    /// Run localdc on a thread of this process (for tests: CPU and memory then include the
    /// server's).
    #[arg(long)]
    pub localdc_inprocess: bool,
    /// How many bytes the crypto floor is measured over.
    #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = size_arg)]
    pub floor_size: u64,
    /// Where the scratch directory (fixture, session, downloaded files; deleted after)
    /// goes (default: the system's temporary directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Only write the benchmark's fixture (for `localdc --fixture`) to this file and exit.
    #[arg(long, value_name = "PATH")]
    pub write_fixture: Option<PathBuf>,
    /// Measure listing instead of downloading: a channel of this many messages (each with
    /// a small file) paged through as `tgdl history` prints it and as `tgdl download` plans
    /// it; messages per second against one page of 100 per round trip.
    #[arg(long, value_name = "MESSAGES")]
    pub listing: Option<usize>,
    /// Where the files go: a local directory (dir), or both (s3): the same transfer to a
    /// Garage started on loopback (the objstore harness) and to a local directory, printed
    /// side by side with their ratio.
    #[arg(long, value_enum, default_value = "dir")]
    pub output: OutputArg,
}

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputArg {
    /// A local directory.
    Dir,
    /// Garage on loopback, compared with a local directory.
    S3,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = BenchArgs::parse();
    tgdl::logging::init(0);
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            output::note(format_args!(
                "tgdl-bench: error: {}",
                errors::report(&error)
            ));
            ExitCode::FAILURE
        }
    }
}

/// Runs the benchmark.
async fn run(args: &BenchArgs) -> Result<()> {
    let size = args.size;
    if args.files == 0 || size == 0 || args.listing == Some(0) {
        bail!("--files, --size and --listing must be above zero");
    }
    if size > 4 << 30 {
        bail!(
            "--size {}: Telegram files are at most 4 GiB",
            human_bytes(size)
        );
    }
    if !(1..=server::MAX_DCS).contains(&args.dcs) {
        bail!("--dcs must be 1 to {}", server::MAX_DCS);
    }
    let fixture = match args.listing {
        Some(messages) => listing::fixture(messages),
        None => server::fixture(args.files, size, args.dcs),
    };
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
    let profile = args.network;
    match args.listing {
        Some(messages) => say(
            args,
            format_args!("bench: listing a channel of {messages} messages, network {profile}"),
        ),
        None => say(
            args,
            format_args!(
                "bench: {} files of {} on {} DC(s), network {profile}",
                args.files,
                human_bytes(size),
                args.dcs
            ),
        ),
    }
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
    let client = connect::connect(&ready, dir).await?;
    let outcome = match args.listing {
        Some(_) => listing::run(&client, args, dir).await,
        None if args.output == OutputArg::S3 => objects::compare(&client, args, dir, &world).await,
        None => download(&client, args, dir, &world, localdc.mode()).await,
    };
    if let Err(error) = client.close().await {
        tracing::debug!(%error, "closing the bench session");
    }
    localdc.stop();
    drop(scratch);
    outcome
}

/// Prints a progress line on stderr, unless the output is JSON.
fn say(args: &BenchArgs, text: impl std::fmt::Display) {
    if !args.json {
        output::note(text);
    }
}

/// The download benchmark: the transfer, the floors, the verification, the report.
async fn download(
    client: &tgclient::Client,
    args: &BenchArgs,
    dir: &Path,
    world: &Arc<World>,
    mode: &'static str,
) -> Result<()> {
    let size = args.size;
    let transfer = transfer::transfer(client, args, dir, None).await?;
    let floor_size = args.floor_size;
    say(
        args,
        format_args!(
            "bench: measuring the crypto floor over {}",
            human_bytes(floor_size)
        ),
    );
    let floor = tokio::task::spawn_blocking(move || floor::measure(floor_size))
        .await
        .context("the floor measurement stopped")??;
    say(args, "bench: verifying the files");
    let results = {
        let world = Arc::clone(world);
        let files = transfer.files.clone();
        tokio::task::spawn_blocking(move || transfer::verify(&world, &files))
            .await
            .context("the verification stopped")?
    };
    say(
        args,
        format_args!(
            "bench: measuring writing {} to {}",
            human_bytes(size * args.files as u64),
            dir.display()
        ),
    );
    let write = {
        let (dir, files) = (dir.to_owned(), args.files);
        tokio::task::spawn_blocking(move || write::measure(&dir, files, size))
            .await
            .context("the write measurement stopped")??
    };

    let report = report::report(args, mode, &transfer, (&floor, &write), results);
    let printed = output::to_stdout(|out| {
        if args.json {
            output::write_json_line(out, &report)
        } else {
            report::write_table(out, &report)
        }
    });
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
