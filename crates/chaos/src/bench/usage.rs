//! What this process spent: CPU time (user + system, all threads: what `getrusage
//! (RUSAGE_SELF)` sums, read through the process CPU clock at nanosecond resolution) and
//! the peak resident set (`VmHWM`), which can be reset so that it covers one phase only.

use std::time::Duration;

use rustix::time::{ClockId, clock_gettime};

/// CPU time of the whole process so far (every thread, user + system).
pub fn process_cpu() -> Duration {
    timespec(clock_gettime(ClockId::ProcessCPUTime))
}

/// CPU time of the calling thread so far.
pub fn thread_cpu() -> Duration {
    timespec(clock_gettime(ClockId::ThreadCPUTime))
}

fn timespec(ts: rustix::time::Timespec) -> Duration {
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u32::try_from(ts.tv_nsec).unwrap_or(0);
    Duration::new(secs, nanos)
}

/// User and system CPU time of the process from `/proc/self/stat` (10 ms resolution:
/// clock ticks of `USER_HZ`, 100 on Linux), when available.
pub fn user_system() -> Option<(Duration, Duration)> {
    const USER_HZ: u64 = 100;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    // rest starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = |t: u64| Duration::from_millis(t * 1000 / USER_HZ);
    Some((ticks(utime), ticks(stime)))
}

/// The peak resident set size of the process in bytes (`VmHWM`), when available.
pub fn peak_rss() -> Option<u64> {
    status_kib("VmHWM:").map(|kib| kib * 1024)
}

/// Starts a new peak: `VmHWM` is set back to the current resident set (Linux 4.0+,
/// `/proc/self/clear_refs` value 5). Whether it worked.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", b"5").is_ok()
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.get(field.len()..)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clocks_and_the_peak_read() {
        let before = process_cpu();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(process_cpu() >= before);
        assert!(thread_cpu() > Duration::ZERO);
        if cfg!(target_os = "linux") {
            assert!(peak_rss().is_some_and(|bytes| bytes > 0));
            assert!(user_system().is_some());
        }
    }
}
