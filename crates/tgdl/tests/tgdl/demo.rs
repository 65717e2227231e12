//! `tgdl demo`, the real binary: it downloads every file of the bundled demo world into
//! the output directory, each one matching the SHA-256 the world gives (computed here from
//! the same fixture, not from what tgdl reports); a second run finds everything already
//! there; a file damaged on disk afterwards fails the run.

// Without the `demo` feature the binary has no `demo` subcommand.
#![cfg(feature = "demo")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Stdio};

use localdc::world::fixture::{ChatKind, MediaSpec, MessageSpec};
use localdc::world::{FileKey, Fixture, World};
use serde_json::Value;
use sha2::{Digest, Sha256};

const FIXTURE: &str = include_str!("../../fixtures/demo-world.json");
const MIB: u64 = 1 << 20;

/// One file the demo must produce.
struct Expected {
    chat_id: i64,
    msg_id: i32,
    key: FileKey,
    size: u64,
    dc: i32,
    cdn: bool,
    sha256: String,
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        write!(s, "{b:02x}").unwrap();
        s
    })
}

fn file_of(chat_id: i64, message: &MessageSpec) -> Option<(i64, i32, FileKey, u64, i32, bool)> {
    Some(match message.media.as_ref()? {
        MediaSpec::Document(d) => (
            chat_id,
            message.id,
            FileKey::document(d.id),
            d.size,
            d.dc,
            d.cdn,
        ),
        MediaSpec::Photo(p) => {
            let largest = p.sizes.iter().max_by_key(|s| s.size).unwrap();
            (
                chat_id,
                message.id,
                FileKey::sized(p.id, &largest.kind),
                largest.size,
                p.dc,
                false,
            )
        }
    })
}

/// Every file of the account's chats, with the world's SHA-256.
fn expected() -> (Fixture, Vec<Expected>) {
    let fixture = Fixture::from_json(FIXTURE).unwrap();
    let world = World::from_fixture(fixture.clone()).unwrap();
    let me = fixture.accounts[0].user_id;
    let mut files = Vec::new();
    for chat in &fixture.chats {
        if chat.creator != me && !chat.members.contains(&me) {
            continue;
        }
        let chat_id = match chat.kind {
            ChatKind::Group => -chat.id,
            _ => -(1_000_000_000_000 + chat.id),
        };
        files.extend(chat.messages.iter().filter_map(|m| file_of(chat_id, m)));
    }
    for chat in fixture.private_chats.iter().filter(|c| c.user == me) {
        files.extend(chat.messages.iter().filter_map(|m| file_of(chat.peer, m)));
    }
    let files = files
        .into_iter()
        .map(|(chat_id, msg_id, key, size, dc, cdn)| Expected {
            chat_id,
            msg_id,
            sha256: hex(&world.file_sha256(&key).unwrap()),
            key,
            size,
            dc,
            cdn,
        })
        .collect();
    (fixture, files)
}

fn tgdl(home: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_tgdl"))
        .args(args)
        .env_remove("TGDL_API_ID")
        .env_remove("TGDL_API_HASH")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn assert_ok(run: &Run) {
    assert_eq!(
        run.code,
        Some(0),
        "tgdl demo failed\nstdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
}

/// The manifest's lines by (chat, message).
fn manifest(out: &Path) -> HashMap<(i64, i32), Value> {
    let text = std::fs::read_to_string(out.join("tgdl-manifest.jsonl")).unwrap();
    text.lines()
        .map(|line| {
            let entry: Value = serde_json::from_str(line).unwrap();
            let key = (
                entry["chat_id"].as_i64().unwrap(),
                i32::try_from(entry["msg_id"].as_i64().unwrap()).unwrap(),
            );
            (key, entry)
        })
        .collect()
}

fn sha256_of(path: &Path) -> String {
    hex(&Sha256::digest(std::fs::read(path).unwrap()))
}

/// Every expected file is in the manifest with `status`, on disk with the world's bytes.
fn assert_files(out: &Path, files: &[Expected], status: &str) {
    let entries = manifest(out);
    assert_eq!(entries.len(), files.len(), "{entries:?}");
    for file in files {
        let entry = &entries[&(file.chat_id, file.msg_id)];
        assert_eq!(entry["status"], status, "{entry}");
        assert_eq!(entry["size"].as_u64(), Some(file.size), "{entry}");
        assert_eq!(
            entry["sha256"].as_str(),
            Some(file.sha256.as_str()),
            "{entry}"
        );
        let path = out.join(entry["path"].as_str().unwrap());
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            file.size,
            "{}",
            path.display()
        );
        assert_eq!(sha256_of(&path), file.sha256, "{}", path.display());
    }
}

#[test]
fn the_demo_world_shows_what_the_engine_does() {
    let (fixture, files) = expected();
    let home_dc = fixture.accounts[0].home_dc;
    let total: u64 = files.iter().map(|f| f.size).sum();
    assert!((150 * MIB..300 * MIB).contains(&total), "{total} bytes");
    assert!(files.len() >= 15);
    let kinds: BTreeSet<&str> = fixture
        .chats
        .iter()
        .map(|c| match c.kind {
            ChatKind::Channel => "channel",
            _ => "group",
        })
        .collect();
    assert_eq!(kinds.len(), 2);
    assert!(!fixture.private_chats.is_empty());
    let dcs: BTreeSet<i32> = files.iter().map(|f| f.dc).collect();
    assert!(dcs.len() >= 4 && dcs.contains(&home_dc), "{dcs:?}");
    assert!(files.iter().any(|f| f.cdn));
    assert!(files.iter().any(|f| f.size > 64 * MIB));
    assert!(files.iter().any(|f| f.size % MIB == 0 && f.size > MIB));
    assert!(files.iter().any(|f| f.size % MIB != 0 && f.size > MIB));
    // Photos come at their largest size, one of several.
    assert!(files.iter().any(|f| !f.key.thumb.is_empty()));
}

#[test]
fn the_demo_downloads_and_verifies_everything_and_a_second_run_finds_it_there() {
    let (_, files) = expected();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo out");
    let out_arg = out.to_str().unwrap();
    let verified = format!("verified {n}/{n}", n = files.len());

    let first = tgdl(dir.path(), &["demo", "--output", out_arg]);
    assert_ok(&first);
    assert!(first.stderr.contains(&verified), "{}", first.stderr);
    assert!(
        first
            .stderr
            .contains(&format!("{} downloaded, 0 already there", files.len())),
        "{}",
        first.stderr
    );
    assert_files(&out, &files, "downloaded");
    let names: BTreeSet<String> = manifest(&out)
        .values()
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains("Aurora Field Notes/5_kvaloya-aurora-timelapse-4k.mp4"));
    assert!(names.contains("Mika Lindqvist/51_DSC_4471.NEF"));
    assert!(
        !out.join("Aurora Field Notes/5_kvaloya-aurora-timelapse-4k.mp4.part")
            .exists()
    );

    // Again, with JSON: nothing is fetched, everything is checked.
    let second = tgdl(dir.path(), &["demo", "--output", out_arg, "--json"]);
    assert_ok(&second);
    assert!(second.stderr.contains(&verified), "{}", second.stderr);
    let lines: Vec<Value> = second
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let finished = lines.iter().filter(|l| l["event"] == "finished").count();
    assert_eq!(finished, files.len(), "{}", second.stdout);
    let summary = lines.last().unwrap();
    assert_eq!(summary["event"], "summary", "{summary}");
    assert_eq!(summary["files"].as_u64(), Some(files.len() as u64));
    // Every file the first run finished is recorded as verified: none is fetched again.
    assert_eq!(
        summary["already_downloaded"].as_u64(),
        Some(files.len() as u64),
        "the second run fetched files again: {summary}\n{}",
        second.stderr
    );
    assert_eq!(summary["downloaded"].as_u64(), Some(0), "{summary}");
    assert_eq!(summary["fetched_bytes"].as_u64(), Some(0), "{summary}");
    assert_eq!(summary["verified"].as_u64(), Some(files.len() as u64));
    assert_files(&out, &files, "already_downloaded");

    // A file changed on disk behind tgdl's back (same size) fails the check.
    let entries = manifest(&out);
    let damaged = entries
        .values()
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .find(|p| p.contains("aurora-hunting-guide"))
        .unwrap();
    let path = out.join(&damaged);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[1000] ^= 0x55;
    std::fs::write(&path, bytes).unwrap();
    let third = tgdl(dir.path(), &["demo", "--output", out_arg]);
    assert_ne!(third.code, Some(0), "{}", third.stderr);
    assert!(!third.stderr.contains("panicked"), "{}", third.stderr);
    assert!(
        third
            .stderr
            .contains(&format!("{damaged}: SHA-256 mismatch")),
        "{}",
        third.stderr
    );
    assert!(
        third
            .stderr
            .contains(&format!("verified {}/{}", files.len() - 1, files.len())),
        "{}",
        third.stderr
    );
}

#[test]
fn the_demo_refuses_options_that_name_another_server_or_session() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    for args in [
        vec!["--session", "x.session", "demo", "--output", out],
        vec!["--test-dc", "demo", "--output", out],
        vec!["--profile", "work", "demo", "--output", out],
    ] {
        let run = tgdl(dir.path(), &args);
        assert_eq!(run.code, Some(1), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("tgdl demo"), "{}", run.stderr);
        assert!(!dir.path().join("out").exists(), "{args:?}");
    }
}
