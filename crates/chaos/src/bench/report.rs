//! What one run measured: the `--json` object and the table.

use std::io::Write;

use serde::Serialize;

use super::BenchArgs;
use super::floor::{self, Floor};
use super::transfer::Transfer;
use super::write::WriteFloor;

const MIB: f64 = 1024.0 * 1024.0;

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
    /// Writing the same bytes to the output filesystem as the engine does (preallocated
    /// files, positioned 1 MiB writes, sync, read back), CPU seconds per GiB.
    pub write_seconds_per_gib: f64,
    pub write_bytes: u64,
    /// Crypto + checks + write: what any client must spend per GiB on this machine.
    pub engine_floor_seconds_per_gib: f64,
    /// Client CPU per GiB over that: what the engine itself costs.
    pub cpu_engine_floor_ratio: f64,
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
/// What the run measured, with the ratios.
pub fn report(
    args: &BenchArgs,
    mode: &'static str,
    transfer: &Transfer,
    floors: (&Floor, &WriteFloor),
    results: Vec<FileResult>,
) -> Report {
    let (floor, write) = floors;
    let profile = args.network;
    let size = args.size;
    let seconds = transfer.elapsed.as_secs_f64().max(1e-6);
    let throughput = transfer.bytes as f64 / MIB / seconds;
    let cpu_per_gib = floor::per_gib(transfer.cpu, transfer.bytes);
    let floor_per_gib = floor.seconds_per_gib();
    let check_passes = if args.no_server_hashes { 1 } else { 2 };
    let checks_floor_per_gib =
        floor_per_gib + f64::from(check_passes) * floor.sha_seconds_per_gib();
    let write_per_gib = write.seconds_per_gib();
    let engine_floor_per_gib = checks_floor_per_gib + write_per_gib;
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
        write_seconds_per_gib: write_per_gib,
        write_bytes: write.bytes,
        engine_floor_seconds_per_gib: engine_floor_per_gib,
        cpu_engine_floor_ratio: ratio(cpu_per_gib, engine_floor_per_gib),
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

pub fn write_table(out: &mut impl Write, report: &Report) -> std::io::Result<()> {
    let opt = |value: Option<f64>, unit: &str| {
        value.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2}{unit}"))
    };
    writeln!(
        out,
        "tgdl-bench: {} x {} on {} DC(s), profile {}, localdc {}",
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
        "  disk write:  {:.3} s/GiB (positioned 1 MiB writes, sync, read back; {})",
        report.write_seconds_per_gib,
        human_bytes(report.write_bytes)
    )?;
    writeln!(
        out,
        "  engine floor: {:.3} s/GiB (crypto + checks + write); CPU / that: {:.2}x",
        report.engine_floor_seconds_per_gib, report.cpu_engine_floor_ratio
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

/// `3 MiB`, `1.5 KiB`.
pub fn human_bytes(bytes: u64) -> String {
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
