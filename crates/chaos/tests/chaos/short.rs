//! The short seeded chaos run: a small world downloaded by tgdl while the fault schedule
//! fires and the client is SIGKILLed at least three times, and a watcher follows a channel
//! that gets new posts, SIGKILLed too; every file must end up whole, none may ever appear
//! at its final name unverified, no posted message may be missed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn field(summary: &str, name: &str) -> u64 {
    summary
        .split_whitespace()
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {summary:?}"))
        .parse()
        .unwrap()
}

#[test]
fn short_seeded_run_loses_and_corrupts_nothing() {
    let work = std::env::temp_dir().join(format!("tgdl-chaos-test-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_tgdl-chaos"))
        .args(["--short", "--seed", "7", "--verbose", "--work-dir"])
        .arg(&work)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("faults="))
        .unwrap_or_else(|| panic!("no summary line\n{stdout}\n{stderr}"));
    assert!(output.status.success(), "{summary}\n{stderr}");
    assert_eq!(field(summary, "corrupt"), 0, "{stderr}");
    assert_eq!(field(summary, "lost"), 0, "{stderr}");
    // The 40 files of the download, the live channel's 4 and every one posted.
    assert_eq!(
        field(summary, "files"),
        44 + field(summary, "posted"),
        "{summary}\n{stderr}"
    );
    assert!(field(summary, "posted") > 0, "{summary}\n{stderr}");
    assert_eq!(field(summary, "missed"), 0, "{stderr}");
    assert!(field(summary, "watch_kills") >= 1, "{summary}\n{stderr}");
    assert!(field(summary, "kills") >= 3, "{summary}\n{stderr}");
    assert!(field(summary, "faults") >= 10, "{summary}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // A passing run cleans up after itself.
    assert!(!work.exists());
}

/// The same short run with object storage as the output: a Garage on loopback, restarted
/// at seeded moments; every object read back at the end.
#[test]
fn short_seeded_s3_run_loses_and_corrupts_nothing() {
    let work = std::env::temp_dir().join(format!("tgdl-chaos-s3-test-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_tgdl-chaos"))
        .args([
            "--short",
            "--seed",
            "7",
            "--output",
            "s3",
            "--verbose",
            "--work-dir",
        ])
        .arg(&work)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("faults="))
        .unwrap_or_else(|| panic!("no summary line\n{stdout}\n{stderr}"));
    assert!(output.status.success(), "{summary}\n{stderr}");
    assert_eq!(field(summary, "corrupt"), 0, "{stderr}");
    assert_eq!(field(summary, "lost"), 0, "{stderr}");
    assert_eq!(
        field(summary, "files"),
        44 + field(summary, "posted"),
        "{summary}\n{stderr}"
    );
    assert!(
        field(summary, "garage_restarts") >= 1,
        "{summary}\n{stderr}"
    );
    assert!(field(summary, "kills") >= 3, "{summary}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!work.exists());
}
