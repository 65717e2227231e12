//! `tgdl-bench` end to end on a tiny set, with localdc on a thread of the tgdl process
//! (`--localdc-inprocess`: the localdc binary of another package may not be built when
//! tests run). Checks the JSON report's fields are sane and every file verified; the
//! numbers themselves are the benchmark's business, not a test's.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;

use serde_json::Value;

#[test]
fn bench_downloads_and_verifies_a_small_set() {
    let scratch = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_tgdl-bench"))
        .args([
            "--files",
            "2",
            "--size",
            "3MiB",
            "--dcs",
            "2",
            "--json",
            "--localdc-inprocess",
            "--floor-size",
            "4MiB",
            "--dir",
        ])
        .arg(scratch.path())
        .env("HOME", scratch.path())
        .env_remove("TGDL_API_ID")
        .env_remove("TGDL_API_HASH")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "tgdl-bench failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}):\n{stdout}"));
    let number = |key: &str| {
        report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} is not a number in {report}"))
    };
    assert_eq!(report["profile"], "lan");
    assert_eq!(report["localdc"], "in-process");
    assert_eq!(report["files"], 2);
    assert_eq!(report["file_size"], 3 << 20);
    assert_eq!(report["bytes"], 6 << 20);
    assert!(number("seconds") > 0.0);
    assert!(number("throughput_mib_s") > 0.0);
    assert!(number("cpu_seconds") > 0.0);
    assert!(number("cpu_seconds_per_gib") > 0.0);
    assert!(number("floor_seconds_per_gib") > 0.0);
    assert!(number("cpu_floor_ratio") > 0.0);
    // The checks add the file read back and the server chunk hashes to the floor.
    assert_eq!(report["check_passes"], 2);
    assert!(number("checks_floor_seconds_per_gib") > number("floor_seconds_per_gib"));
    assert!(number("cpu_checks_floor_ratio") < number("cpu_floor_ratio"));
    assert_eq!(report["floor_bytes"], 4 << 20);
    // Writing the same bytes as the engine did is measured too, and added to the floor.
    assert_eq!(report["write_bytes"], 6 << 20);
    assert!(number("write_seconds_per_gib") > 0.0);
    assert!(number("engine_floor_seconds_per_gib") > number("checks_floor_seconds_per_gib"));
    assert!(number("cpu_engine_floor_ratio") < number("cpu_checks_floor_ratio"));
    if cfg!(target_os = "linux") {
        assert!(number("peak_rss_mib") > 1.0);
    }
    // lan has no cap.
    assert!(report["cap_mib_s"].is_null());
    assert_eq!(report["files_verified"], 2);
    assert_eq!(report["all_verified"], true);
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    // Spread over two DCs: the home DC (2) and DC 1.
    assert_eq!(results[0]["dc"], 2);
    assert_eq!(results[1]["dc"], 1);
    for result in results {
        assert_eq!(result["verified"], true, "{result}");
        assert_eq!(result["sha256"], result["expected_sha256"]);
        assert_eq!(result["sha256"].as_str().unwrap().len(), 64);
    }
    // The scratch directory is gone: only what was there before remains.
    assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
}
