//! `tgdl-chaos`: runs `tgdl download` against localdc on a seeded, generated world while a
//! seeded fault schedule fires (dropped, reset, stalled and cut connections, salt rotation,
//! forgotten auth keys, server restarts from the state dir, refused connections, blocked raw
//! TCP, the MTProxy front going down, flood waits, expired file references, corrupted and
//! missing CDN chunks, throttling) and the client is SIGKILLed and restarted (every other run
//! through localdc's MTProxy front), then proves that no file was ever corrupt or lost, and
//! prints one line:
//!
//! `faults=<n> kills=<n> files=<n> bytes=<n> corrupt=<n> lost=<n> ... wall=<s>`
//!
//! `--output s3` downloads into a Garage on loopback instead (restarted at seeded moments
//! as one more fault); the end check reads every object back, checks that each carries its
//! SHA-256 and that no staging object or other leftover remains.
//!
//! localdc runs inside this process (its knobs are turned directly; a restart goes through
//! its state dir); the client is this same binary re-executed as `tgdl-chaos client ARGS...`, which
//! runs tgdl's command line, so that it can be killed like any process.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;

mod faults;
mod fixture;
mod live;
mod run;
mod s3;
mod server;
mod watch;

/// Chaos suite for tgdl: downloads under a seeded fault schedule, proving no file is ever
/// corrupt or lost.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Seed of the world, the fault schedule and the kill times.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The short run: one round of a small world (40 files up to 24 MiB, 3 kills).
    #[arg(long)]
    short: bool,
    /// Keep running rounds (fresh worlds and directories) until this much time is used,
    /// then summarize (30m, 90s, 2h). Long mode default: 30m.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Files per world (long mode default 300).
    #[arg(long)]
    files: Option<usize>,
    /// Largest file (e.g. 24M, 1G; long mode default 1G).
    #[arg(long, value_parser = parse_size)]
    max_size: Option<u64>,
    /// Client kills per round (long mode default 20).
    #[arg(long)]
    kills: Option<u32>,
    /// Mean seconds between faults.
    #[arg(long, default_value_t = 2.0)]
    fault_gap: f64,
    /// Faults stop this long into a round (default: 60s in the short run, the whole
    /// duration otherwise).
    #[arg(long, value_parser = parse_duration)]
    fault_window: Option<Duration>,
    /// Bytes per second each connection receives at most, as a base WAN under the faults
    /// (0: no limit; default 256K in the short run, no limit otherwise).
    #[arg(long, value_parser = parse_size)]
    rate: Option<u64>,
    /// DC i listens on port N+i (the CDN DC on N+201); moved up if taken unless given.
    #[arg(long)]
    port_base: Option<u16>,
    /// Where rounds keep their worlds' output, sessions and logs (a temporary directory by
    /// default); a failed round's directory is kept.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Print every fault, kill and round.
    #[arg(long, short)]
    verbose: bool,
    /// Where the downloads go: a directory, or a Garage on loopback (s3), restarted at
    /// seeded moments as one more fault, every object read back at the end.
    #[arg(long, value_enum, default_value = "dir")]
    output: OutputArg,
}

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OutputArg {
    /// A local directory.
    Dir,
    /// S3 (a single-node Garage started here).
    S3,
}

fn main() -> ExitCode {
    let mut argv = std::env::args_os();
    let _ = argv.next();
    let rest: Vec<OsString> = argv.collect();
    if rest.first().is_some_and(|a| a == "client") {
        return client(rest.into_iter().skip(1));
    }
    let args = Args::parse();
    match chaos(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("tgdl-chaos: error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// `tgdl-chaos client ARGS...`: tgdl's command line, in this process.
fn client(args: impl Iterator<Item = OsString>) -> ExitCode {
    let argv = std::iter::once(OsString::from("tgdl")).chain(args);
    let cli = match tgdl::cli::Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    tgdl::logging::init(cli.global.verbose);
    match tgdl::run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", tgdl::errors::report(&error));
            ExitCode::FAILURE
        }
    }
}

fn chaos(args: &Args) -> Result<bool> {
    let (files, max_size, kills, duration, window) = if args.short {
        (40, 24 << 20, 3, Duration::ZERO, Duration::from_mins(1))
    } else {
        (300, 1 << 30, 20, Duration::from_mins(30), Duration::MAX)
    };
    let work_dir = args
        .work_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("tgdl-chaos-{}", std::process::id())));
    let duration = args.duration.unwrap_or(duration);
    let settings = run::Settings {
        seed: args.seed,
        files: args.files.unwrap_or(files),
        max_size: args.max_size.unwrap_or(max_size),
        kills: args.kills.unwrap_or(kills),
        duration,
        fault_window: args
            .fault_window
            .or((window != Duration::MAX).then_some(window)),
        mean_gap: Duration::from_secs_f64(args.fault_gap.clamp(0.05, 3600.0)),
        rate: match args.rate {
            Some(0) => None,
            Some(rate) => Some(rate),
            None if args.short => Some(256 << 10),
            None => None,
        },
        // Below the range localdc's tests pick free ports from (20000..32768) and the
        // kernel's ephemeral ports.
        port_base: args
            .port_base
            .unwrap_or(10_000 + (std::process::id() % 16) as u16 * 300),
        search_ports: args.port_base.is_none(),
        work_dir: work_dir.clone(),
        verbose: args.verbose,
        s3: args.output == OutputArg::S3,
    };
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("creating {}", work_dir.display()))?;
    let start = Instant::now();
    let totals = run::run(&settings)?;
    if totals.ok() {
        let _ = std::fs::remove_dir_all(&work_dir);
    }
    if totals.unverified
        + totals.leftovers
        + totals.panics
        + totals.failures
        + totals.hangs
        + totals.unclean_stops
        > 0
    {
        eprintln!(
            "chaos: rounds={} unverified={} leftovers={} panics={} failures={} hangs={} \
             unclean_stops={}",
            totals.rounds,
            totals.unverified,
            totals.leftovers,
            totals.panics,
            totals.failures,
            totals.hangs,
            totals.unclean_stops
        );
    }
    println!(
        "faults={} kills={} files={} bytes={} corrupt={} lost={} posted={} missed={} \
         watch_kills={} garage_restarts={} wall={}",
        totals.faults,
        totals.kills,
        totals.files,
        totals.bytes,
        totals.corrupt + totals.unverified,
        totals.lost,
        totals.posted,
        totals.missed,
        totals.watch_kills,
        totals.garage_restarts,
        start.elapsed().as_secs()
    );
    Ok(totals.ok())
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 90s, 30m, 2h)"))?;
    let scale = match unit {
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (s, m or h)")),
    };
    Duration::try_from_secs_f64(number * scale).map_err(|e| e.to_string())
}

fn parse_size(text: &str) -> Result<u64, String> {
    localdc::world::generate::parse_size(text)
        .ok_or_else(|| format!("{text:?} is not a size (e.g. 4096, 64K, 24M, 1G)"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_mins(30));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_mins(90));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3d").is_err());
    }
}
