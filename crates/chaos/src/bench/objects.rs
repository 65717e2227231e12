//! `tgdl-bench --output s3`: the same transfer to a local directory and to a Garage on
//! loopback (the objstore harness), one after the other in one run, every file verified
//! (the objects read back); throughput and the client's CPU seconds per GiB of each, and
//! their ratio. Garage's own CPU is its process's, not counted here.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use localdc::world::World;
use objstore::garage::Garage;
use serde::Serialize;
use tgdl::output;

use super::report::human_bytes;
use super::transfer::{self, Transfer};
use super::{BenchArgs, floor, say};

const MIB: f64 = 1024.0 * 1024.0;

/// One side of the comparison.
#[derive(Debug, Serialize)]
struct Side {
    throughput_mib_s: f64,
    cpu_seconds_per_gib: f64,
    seconds: f64,
    bytes: u64,
    files_verified: usize,
}

/// What `--output s3` prints.
#[derive(Debug, Serialize)]
struct Comparison {
    network: String,
    files: usize,
    size: u64,
    directory: Side,
    s3: Side,
    /// S3 over directory.
    throughput_ratio: f64,
    cpu_per_gib_ratio: f64,
}

impl Side {
    fn of(transfer: &Transfer, verified: usize) -> Self {
        let seconds = transfer.elapsed.as_secs_f64().max(1e-6);
        Self {
            throughput_mib_s: transfer.bytes as f64 / MIB / seconds,
            cpu_seconds_per_gib: floor::per_gib(transfer.cpu, transfer.bytes),
            seconds,
            bytes: transfer.bytes,
            files_verified: verified,
        }
    }
}

/// Runs both transfers and prints the comparison.
pub async fn compare(
    client: &tgclient::Client,
    args: &BenchArgs,
    dir: &Path,
    world: &Arc<World>,
) -> Result<()> {
    say(args, "bench: starting Garage on loopback");
    let mut garage = Garage::start()
        .await
        .map_err(|e| anyhow!("starting Garage: {e}"))?;
    let target = garage
        .target("bench")
        .await
        .context("opening the bench prefix")?;

    say(args, "bench: to a local directory");
    let local = transfer::transfer(client, args, dir, None).await?;
    let local_verified = {
        let (world, files) = (Arc::clone(world), local.files.clone());
        tokio::task::spawn_blocking(move || transfer::verify(&world, &files))
            .await
            .context("the verification stopped")?
    };
    say(args, "bench: to Garage (s3)");
    let s3 = transfer::transfer(client, args, dir, Some(&target)).await?;
    let s3_verified = {
        let (world, files, target) = (Arc::clone(world), s3.files.clone(), target.clone());
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            transfer::verify_objects(&world, &files, &target, &runtime)
        })
        .await
        .context("the verification stopped")?
    };
    if let Err(error) = garage.stop().await {
        tracing::debug!(%error, "stopping Garage");
    }

    let count =
        |results: &[super::report::FileResult]| results.iter().filter(|r| r.verified).count();
    let (directory, s3) = (
        Side::of(&local, count(&local_verified)),
        Side::of(&s3, count(&s3_verified)),
    );
    let comparison = Comparison {
        network: args.network.to_string(),
        files: args.files,
        size: args.size,
        throughput_ratio: s3.throughput_mib_s / directory.throughput_mib_s.max(1e-9),
        cpu_per_gib_ratio: s3.cpu_seconds_per_gib / directory.cpu_seconds_per_gib.max(1e-9),
        directory,
        s3,
    };
    output::to_stdout(|out| {
        if args.json {
            output::write_json_line(out, &comparison)
        } else {
            write_table(out, &comparison)
        }
    })?;
    if comparison.directory.files_verified != args.files
        || comparison.s3.files_verified != args.files
    {
        bail!("not every file downloaded and verified on both sides");
    }
    Ok(())
}

fn write_table(out: &mut impl std::io::Write, c: &Comparison) -> std::io::Result<()> {
    writeln!(
        out,
        "tgdl-bench --output s3: {} files of {}, network {}",
        c.files,
        human_bytes(c.size),
        c.network
    )?;
    for (name, side) in [("directory", &c.directory), ("s3 (Garage)", &c.s3)] {
        writeln!(
            out,
            "  {name:<12} {:>8.1} MiB/s  {:>6.2} CPU s/GiB  ({} in {:.2} s, {} verified)",
            side.throughput_mib_s,
            side.cpu_seconds_per_gib,
            human_bytes(side.bytes),
            side.seconds,
            side.files_verified
        )?;
    }
    writeln!(
        out,
        "  s3 / directory: throughput {:.2}x, CPU per GiB {:.2}x (client only; Garage's CPU is its own process)",
        c.throughput_ratio, c.cpu_per_gib_ratio
    )
}
