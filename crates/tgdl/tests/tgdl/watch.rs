//! `tgdl watch` against localdc's live world: files posted while it runs land verified;
//! pushed updates dropped by the fault knob are recovered through the difference; a
//! watcher SIGKILLed while more is posted than the channel difference answers (so the
//! too-long path runs) fetches exactly the missing files when started again; nothing is
//! fetched twice (localdc's served-bytes counters). And SIGTERM stops `tgdl download`
//! cleanly: status 143, the ledger kept, the rerun fetches only what it did not record.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use localdc::world::fixture::{MediaSpec, NewMedia, PostSpec};
use localdc::world::posting::ChatRef;
use localdc::world::{FileKey, Fixture};
use localdc::{Config, WanProfile};
use serde_json::{Value, json};
use tl_types::Identifiable;
use tl_types::api::functions;

use crate::download::{Env, finish, sha256_of};

const MIB: u64 = 1 << 20;
const CHANNEL: i64 = 711;
/// More pts owed than this and the channel difference is "too long".
const CHANNEL_TOO_LONG: u32 = 5;
const WAIT: Duration = Duration::from_mins(2);

fn fixture(files: &[(i64, u64)]) -> Fixture {
    let messages: Vec<Value> = files
        .iter()
        .enumerate()
        .map(|(i, (id, size))| {
            json!({ "id": i + 1, "date": 1_700_000_000 + i as i64 * 60,
                "media": { "type": "document", "id": id, "dc": 2, "size": size,
                    "mime_type": "application/octet-stream",
                    "attributes": [ { "type": "file_name", "file_name": format!("old{i}.bin") } ] } })
        })
        .collect();
    let json = json!({
        "seed": 9,
        "users": [ { "id": 1001, "first_name": "Alice", "username": "alice", "phone": "15550001" } ],
        "accounts": [ { "phone": "15550001", "user_id": 1001, "code": "12345", "home_dc": 2 } ],
        "chats": [ { "id": CHANNEL, "kind": "channel", "title": "Live", "username": "live",
                     "creator": 1001, "members": [1001], "date": 1_700_000_000, "messages": messages } ],
        "updates": { "channel_too_long": CHANNEL_TOO_LONG, "channel_timeout": 300 }
    });
    Fixture::from_json(&json.to_string()).unwrap()
}

/// Helpers of the watch tests on the shared [`Env`].
/// Starts `tgdl -v watch @live --json`; its stdout lines come through the receiver.
fn watch(env: &Env) -> Watcher {
    let out = env.out();
    watch_into(env, out.to_str().unwrap(), &[])
}

/// [`watch`] into `output` (a directory or a URL), with `vars` in its environment.
fn watch_into(env: &Env, output: &str, vars: &[(&str, String)]) -> Watcher {
    let mut child = env
        .command(&["-v", "watch", "@live", "-o", output, "--json"])
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let stderr = child.stderr.take().unwrap();
    let (notes, errors) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if notes.send(line).is_err() {
                return;
            }
        }
    });
    Watcher {
        child,
        lines: received,
        errors,
        seen: String::new(),
    }
}

/// Posts a document of `size` bytes in the channel; its message id and file key.
fn post(env: &Env, size: u64) -> (i32, FileKey) {
    let post = PostSpec {
        media: Some(NewMedia::Document {
            size,
            file_name: Some("new.bin".into()),
            mime_type: None,
            dc: None,
        }),
        ..PostSpec::default()
    };
    let id = env.world.post(ChatRef::Chat(CHANNEL), &post).unwrap();
    let store = env.world.store();
    let message = store.chats[&CHANNEL].message(id).unwrap();
    let Some(MediaSpec::Document(doc)) = &message.media else {
        panic!("{message:?}");
    };
    (id, FileKey::document(doc.id))
}

fn channel_differences(env: &Env) -> u64 {
    env.calls
        .of(functions::updates::GetChannelDifference::CONSTRUCTOR_ID)
}

struct Watcher {
    child: Child,
    lines: Receiver<String>,
    errors: Receiver<String>,
    /// Its stderr so far.
    seen: String,
}

impl Watcher {
    /// Waits until it says it is following the chats (what was there is downloaded).
    fn wait_watching(&mut self) {
        self.wait_stderr("watching 1 chat");
    }

    /// Waits until its stderr says `text`.
    fn wait_stderr(&mut self, text: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.seen.contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.errors.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                }
                Err(error) => panic!("the watcher never said {text:?} ({error}): {}", self.seen),
            }
        }
    }

    /// Its whole stderr (once it ended).
    fn stderr(&mut self) -> String {
        while let Ok(line) = self.errors.recv_timeout(WAIT) {
            self.seen.push_str(&line);
            self.seen.push('\n');
        }
        std::mem::take(&mut self.seen)
    }

    /// Waits for the `file` events of messages `ids`; their paths by message id.
    fn files(&mut self, ids: &BTreeSet<i32>) -> BTreeMap<i32, String> {
        let deadline = Instant::now() + WAIT;
        let mut landed = BTreeMap::new();
        while landed.len() < ids.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.lines.recv_timeout(left) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => panic!("missing files: {ids:?}, got {landed:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("the watcher ended; got {landed:?}"),
            };
            let event: Value = serde_json::from_str(&line).unwrap();
            if event["event"] != "file" {
                continue;
            }
            let id = i32::try_from(event["msg_id"].as_i64().unwrap()).unwrap();
            if !ids.contains(&id) {
                // One of the files that were there before (reported as they land too).
                continue;
            }
            assert_eq!(event["status"], "downloaded", "{event}");
            assert!(
                landed
                    .insert(id, event["path"].as_str().unwrap().to_owned())
                    .is_none(),
                "{event}"
            );
        }
        landed
    }

    fn kill(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.stderr()
    }

    /// Sends SIGTERM; the exit status and stderr.
    fn terminate(mut self) -> (i32, String) {
        signal(&self.child, "TERM");
        let deadline = Instant::now() + WAIT;
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the watcher did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        let status = self.child.wait().unwrap();
        (status.code().unwrap_or(-1), self.stderr())
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits (at most [`WAIT`]); (status, stdout, stderr).
#[test]
fn a_watcher_fetches_every_post_once_across_dropped_updates_and_a_kill() {
    let initial = [(91, 300_000), (92, 2 * MIB + 5)];
    let env = Env::start(fixture(&initial), Config::default());
    let out = env.out();
    let mut watcher = watch(&env);
    watcher.wait_watching();
    // What was there is reported file by file too.
    watcher.files(&BTreeSet::from([1, 2]));
    let mut posted: BTreeMap<i32, (FileKey, u64)> = BTreeMap::new();
    let mut batch = BTreeSet::new();
    for size in [100_000, MIB + 3, 7000] {
        let (id, key) = post(&env, size);
        posted.insert(id, (key, size));
        batch.insert(id);
    }
    watcher.files(&batch);

    // Pushed updates lost on the way: the next one shows the gap, the difference fills it.
    let home = env.server().dc(2).unwrap().faults();
    let differences = channel_differences(&env);
    home.drop_next_updates(2);
    let mut batch = BTreeSet::new();
    for size in [50_000, 60_000, 70_000] {
        let (id, key) = post(&env, size);
        posted.insert(id, (key, size));
        batch.insert(id);
    }
    watcher.files(&batch);
    assert_eq!(home.updates_dropped(), 2);
    assert!(
        channel_differences(&env) > differences,
        "the gap was not filled by updates.getChannelDifference"
    );

    // Killed; more posted meanwhile than one channel difference answers.
    watcher.kill();
    let mut batch = BTreeSet::new();
    for i in 0..(CHANNEL_TOO_LONG + 3) {
        let (id, key) = post(&env, 20_000 + u64::from(i));
        posted.insert(id, (key, 20_000 + u64::from(i)));
        batch.insert(id);
    }
    // On restart the history listing finds them; the channel difference answers "too
    // long", and the follow lists the history past the last message it handled (finding
    // the same files, which are not planned twice).
    let mut watcher = watch(&env);
    watcher.wait_watching();
    watcher.wait_stderr("listing the history again");
    // One more while it follows, so that its mark moves past what it listed.
    let (last, key) = post(&env, 30_000);
    posted.insert(last, (key, 30_000));
    watcher.files(&BTreeSet::from([last]));
    let (code, stderr) = watcher.terminate();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");

    // The watch moved the chat's mark with what it followed: a rerun lists from there.
    let rerun = env
        .command(&["-v", "download", "@live", "-o", out.to_str().unwrap()])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let (code, _, stderr) = finish(rerun, "");
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(&format!("mark={last}")), "{stderr}");

    // Every file once, verified; none fetched twice.
    for (id, (key, size)) in &posted {
        let path = out.join("live").join(format!("{id}_new.bin"));
        assert_eq!(
            sha256_of(&path),
            env.world.file_sha256(key).unwrap(),
            "{}",
            path.display()
        );
        assert_eq!(env.world.served_bytes(key), *size, "message {id}");
    }
    for (i, (media, size)) in initial.iter().enumerate() {
        let key = FileKey::document(*media);
        assert_eq!(env.world.served_bytes(&key), *size, "old file {i}");
    }
}

#[test]
fn sigterm_stops_a_download_cleanly_and_the_rerun_fetches_only_the_rest() {
    let sizes = [(95, 12 * MIB), (96, 10 * MIB + 99)];
    let env = Env::start(
        fixture(&sizes),
        Config::default().with_wan_profile(WanProfile::Wan),
    );
    let out = env.out();
    let mut child = env
        .command(&["download", "@live", "-o", out.to_str().unwrap(), "--json"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let reader = BufReader::new(child.stdout.take().unwrap());
    let mut written = 0;
    for line in reader.lines() {
        let event: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if event["event"] == "progress" {
            written += event["bytes"].as_u64().unwrap();
            if written >= 6 * MIB {
                break;
            }
        }
    }
    signal(&child, "TERM");
    let (code, _, stderr) = finish(child, "");
    assert_eq!(code, 143, "{stderr}");
    assert!(stderr.contains("stopped by SIGTERM"), "{stderr}");

    let store = tgclient::SessionStore::open(env.dir.path().join("s.session")).unwrap();
    let recorded_ranges: Vec<(FileKey, tgclient::download::RangeSet)> = sizes
        .iter()
        .enumerate()
        .map(|(i, (media, _))| {
            let key = out
                .canonicalize()
                .unwrap()
                .join("live")
                .join(format!("{}_old{i}.bin", i + 1));
            let done = store
                .download_state(&key.display().to_string())
                .unwrap()
                .and_then(|b| tgclient::download::FileState::from_bytes(&b))
                .map(|s| s.done)
                .unwrap_or_default();
            (FileKey::document(*media), done)
        })
        .collect();
    drop(store);
    let recorded: u64 = recorded_ranges.iter().map(|(_, done)| done.covered()).sum();
    // At least what was reported written before the signal is in the ledger.
    assert!(
        recorded >= written,
        "recorded {recorded}, written {written}"
    );
    let total: u64 = sizes.iter().map(|s| s.1).sum();
    assert!(recorded < total);

    env.world.reset_served();
    let child = env
        .command(&["download", "@live", "-o", out.to_str().unwrap(), "--json"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let (code, stdout, stderr) = finish(child, "");
    assert_eq!(code, 0, "{stderr}");
    let events: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .collect();
    let sum = |kind: &str| -> u64 {
        events
            .iter()
            .filter(|e| e["event"] == kind)
            .map(|e| e["bytes"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(
        sum("started"),
        recorded,
        "the rerun resumes what was recorded"
    );
    assert_eq!(
        sum("progress"),
        total - recorded,
        "the rerun fetches only the rest"
    );
    // A recorded range is never served again (requests the stopped run left in flight may
    // still be answered after the reset: they are for ranges it did not record).
    for served in env.world.served_log() {
        let Some((_, done)) = recorded_ranges.iter().find(|(key, _)| *key == served.key) else {
            continue;
        };
        let range = served.offset..served.offset + served.len;
        assert!(
            !done
                .ranges()
                .iter()
                .any(|r| r.start < range.end && range.start < r.end),
            "recorded range served again: {served:?}"
        );
    }
    for (i, (media, _)) in sizes.iter().enumerate() {
        let path = out.join("live").join(format!("{}_old{i}.bin", i + 1));
        assert_eq!(
            sha256_of(&path),
            env.world.file_sha256(&FileKey::document(*media)).unwrap()
        );
    }
}

#[test]
fn watch_refuses_a_message_link_or_an_id_range_before_any_session() {
    let dir = tempfile::tempdir().unwrap();
    for target in ["https://t.me/live/5", "https://t.me/live/2-9"] {
        for args in [vec!["watch", target], vec!["download", "--follow", target]] {
            let output = Command::new(env!("CARGO_BIN_EXE_tgdl"))
                .arg("--session")
                .arg(dir.path().join("none.session"))
                .args(&args)
                .env("TGDL_API_ID", "4")
                .env("TGDL_API_HASH", "0123456789abcdef")
                .env("HOME", dir.path())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
            assert!(stderr.contains("follows whole chats"), "{args:?}: {stderr}");
            assert!(!dir.path().join("none.session").exists(), "{args:?}");
        }
    }
}

/// `tgdl watch -o s3://...`: the files there and each one posted go to the bucket with
/// their SHA-256, and the manifest in the bucket lists them once the batch is recorded.
#[test]
fn a_watcher_into_a_bucket_uploads_each_post_and_writes_the_manifest_there() {
    let env = Env::start(fixture(&[(61, 3 * MIB)]), Config::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let garage = runtime.block_on(objstore::garage::Garage::start()).unwrap();
    let config = env.dir.path().join("home/config/tgdl");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        format!(
            "[storage]\nendpoint = \"{}\"\nregion = \"garage\"\npath_style = true\n",
            garage.endpoint()
        ),
    )
    .unwrap();
    let credentials = garage.config().credentials.unwrap();
    let vars = [
        ("AWS_ACCESS_KEY_ID", credentials.access_key_id.clone()),
        (
            "AWS_SECRET_ACCESS_KEY",
            credentials.secret_access_key.clone(),
        ),
    ];
    let mut watcher = watch_into(&env, &garage.url("live"), &vars);
    watcher.files(&BTreeSet::from([1]));
    watcher.wait_watching();
    let (id, key) = post(&env, 6 * MIB + 7);
    let landed = watcher.files(&BTreeSet::from([id]));
    let (status, stderr) = watcher.terminate();
    assert_eq!(status, 0, "{stderr}");

    let target = runtime.block_on(garage.target("live")).unwrap();
    let path = &landed[&id];
    let bytes = runtime.block_on(target.read(path)).unwrap();
    assert_eq!(
        objstore::sha256_of(&bytes),
        env.world.file_sha256(&key).unwrap()
    );
    let info = runtime.block_on(target.stat(path)).unwrap().unwrap();
    assert_eq!(info.sha256, Some(objstore::sha256_of(&bytes)));
    let manifests = runtime.block_on(target.list(".tgdl/manifests/")).unwrap();
    assert_eq!(manifests.len(), 1, "{manifests:?}");
    let text = runtime.block_on(target.read(&manifests[0])).unwrap();
    let statuses: Vec<Value> = String::from_utf8(text.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        statuses
            .iter()
            .any(|e| e["msg_id"] == id && e["status"] == "downloaded"),
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .any(|e| e["msg_id"] == 1 && e["status"] == "downloaded"),
        "{statuses:?}"
    );
}
