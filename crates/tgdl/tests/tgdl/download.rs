//! `tgdl download` as a user runs it, against localdc: every file lands verified, names
//! chosen by senders stay inside the output directory, a second run fetches nothing, and a
//! run killed with SIGKILL resumes without fetching again what its ledger recorded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use localdc::rpc::CallCounts;
use localdc::world::{FileKey, Fixture, World};
use localdc::{Config, RunningServer, WanProfile};
use serde_json::{Value, json};
use sha2::Digest;

const MIB: u64 = 1 << 20;
const CHANNEL: i64 = 701;

fn fixture(sizes: &[(i64, u64, i32, &str)]) -> Fixture {
    let messages: Vec<Value> = sizes
        .iter()
        .enumerate()
        .map(|(i, (id, size, dc, name))| {
            json!({ "id": i + 1, "date": 1_700_000_000 + i as i64 * 60, "text": format!("file {i}"),
                "media": { "type": "document", "id": id, "dc": dc, "size": size,
                    "mime_type": "application/octet-stream",
                    "attributes": [ { "type": "file_name", "file_name": name } ] } })
        })
        .collect();
    let json = json!({
        "seed": 5,
        "users": [ { "id": 1001, "first_name": "Alice", "username": "alice", "phone": "15550001" } ],
        "accounts": [ { "phone": "15550001", "user_id": 1001, "code": "12345", "home_dc": 2 } ],
        "chats": [ { "id": CHANNEL, "kind": "channel", "title": "Vault", "username": "vault",
                     "creator": 1001, "members": [1001], "date": 1_700_000_000, "messages": messages } ]
    });
    Fixture::from_json(&json.to_string()).unwrap()
}

/// A localdc serving a world (its requests counted per method), a logged-in session, and
/// a directory for the output (shared with the other modules' tests of `tgdl download`).
pub(crate) struct Env {
    runtime: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    pub(crate) world: Arc<World>,
    pub(crate) calls: Arc<CallCounts>,
    pub(crate) dir: tempfile::TempDir,
    ready: PathBuf,
}

impl Env {
    pub(crate) fn start(fixture: Fixture, config: Config) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let world = Arc::new(World::from_fixture(fixture).unwrap());
        let calls = Arc::new(CallCounts::default());
        let server = runtime.block_on(async {
            localdc::serve(config)
                .world(&world)
                .counting_into(&calls)
                .start()
                .await
                .unwrap()
        });
        let dir = tempfile::tempdir().unwrap();
        let ready = dir.path().join("ready.json");
        std::fs::write(&ready, server.ready_info().to_json()).unwrap();
        let env = Self {
            runtime,
            server: Some(server),
            world,
            calls,
            dir,
            ready,
        };
        let login = env
            .command(&["login", "--phone", "15550001"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        finish(login, "12345\n");
        env
    }

    pub(crate) fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    pub(crate) fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    pub(crate) fn server(&self) -> &RunningServer {
        self.server
            .as_ref()
            .expect("the server runs until the Env is dropped")
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let home = self.dir.path().join("home");
        let mut command = Command::new(env!("CARGO_BIN_EXE_tgdl"));
        command
            .arg("--server")
            .arg(&self.ready)
            .arg("--session")
            .arg(self.dir.path().join("s.session"))
            .args(args)
            .env("TGDL_API_ID", "4")
            .env("TGDL_API_HASH", "0123456789abcdef")
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    pub(crate) fn download(&self, extra: &[&str]) -> (i32, String, String) {
        let out = self.out();
        let mut args = vec!["download", "@vault", "-o", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        let child = self.command(&args).stdin(Stdio::null()).spawn().unwrap();
        finish(child, "")
    }

    fn expected(&self, media_id: i64) -> [u8; 32] {
        self.world
            .file_sha256(&FileKey::document(media_id))
            .unwrap()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

/// Feeds `stdin`, waits (at most 2 minutes), returns (status, stdout, stderr).
pub(crate) fn finish(mut child: Child, stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    let deadline = Instant::now() + Duration::from_mins(2);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "tgdl did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (output.status.code().unwrap_or(-1), stdout, stderr)
}

pub(crate) fn sha256_of(path: &Path) -> [u8; 32] {
    sha2::Sha256::digest(std::fs::read(path).unwrap()).into()
}

/// Every regular file under `dir`, relative.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().to_owned());
            }
        }
    }
    found.sort();
    found
}

fn manifest_lines(out: &Path) -> Vec<Value> {
    let mut lines = Vec::new();
    for file in files_under(out) {
        if file.to_string_lossy().starts_with("tgdl-manifest-") {
            let text = std::fs::read_to_string(out.join(&file)).unwrap();
            lines.extend(
                text.lines()
                    .map(|l| serde_json::from_str::<Value>(l).unwrap()),
            );
        }
    }
    lines
}

#[test]
fn files_arrive_verified_with_safe_names_and_a_rerun_fetches_nothing() {
    let env = Env::start(
        fixture(&[
            (81, 3 * MIB + 17, 2, "report.pdf"),
            (82, 2 * MIB, 4, "../../escape"),
            (83, 5000, 2, "/etc/passwd"),
            (84, 0, 2, "con.txt\u{0}x"),
            (85, 700_000, 3, "report.pdf"),
        ]),
        Config {
            cdn_dcs: vec![201],
            ..Config::default()
        },
    );
    let (code, _, stderr) = env.download(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("5 downloaded"), "{stderr}");
    let out = env.out();
    let mut names: Vec<String> = files_under(&out)
        .iter()
        .map(|p| p.display().to_string())
        .filter(|p| !p.starts_with("tgdl-manifest-"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "vault/1_report.pdf",
            "vault/2_.._.._escape",
            "vault/3__etc_passwd",
            "vault/4_con.txt_x",
            "vault/5_report.pdf",
        ]
    );
    for (name, media) in names.iter().zip(81..) {
        assert_eq!(sha256_of(&out.join(name)), env.expected(media), "{name}");
    }
    assert!(!env.dir.path().join("escape").exists());
    let manifest = manifest_lines(&out);
    assert_eq!(manifest.len(), 5);
    for entry in &manifest {
        assert_eq!(entry["status"], "downloaded");
        let media = 80 + entry["msg_id"].as_i64().unwrap();
        let expected = tgdl::manifest::hex(&env.expected(media));
        assert_eq!(entry["sha256"], expected.as_str());
    }

    env.world.reset_served();
    let (code, _, stderr) = env.download(&["--type", "document"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("5 already there"), "{stderr}");
    assert_eq!(env.world.served_total(), 0);

    // Filters: only the files of at least 1 MiB.
    let (code, _, stderr) = env.download(&["--min-size", "1MiB", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("2 already there"), "{stderr}");

    // Listed inside a takeout session, the same plan (`--full`: the first run's filters
    // already archived everything, so a plain rerun plans nothing); an id range plans
    // only its messages.
    let (code, _, stderr) = env.download(&["--takeout", "--full"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("5 already there"), "{stderr}");
    let (code, _, stderr) = env.download(&["--takeout"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("nothing to download"), "{stderr}");
    let out = env.out();
    let child = env
        .command(&["download", "@vault/2-4", "-o", out.to_str().unwrap()])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let (code, _, stderr) = finish(child, "");
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("3 already there"), "{stderr}");
}

#[test]
fn a_killed_download_resumes_without_refetching_recorded_ranges() {
    let sizes = [
        (91, 24 * MIB, 2, "a.bin"),
        (92, 20 * MIB + 4321, 4, "b.bin"),
        (93, 16 * MIB, 2, "c.bin"),
    ];
    let env = Env::start(
        fixture(&sizes),
        Config::default().with_wan_profile(WanProfile::Wan),
    );
    let out = env.out();
    let mut child = env
        .command(&["download", "@vault", "-o", out.to_str().unwrap(), "--json"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it after 36 of 60 MiB have been written (several ledger commits in), at no
    // particular moment of a part.
    let reader = BufReader::new(child.stdout.take().unwrap());
    let mut written = 0;
    for line in reader.lines() {
        let event: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if event["event"] == "progress" {
            written += event["bytes"].as_u64().unwrap();
            if written >= 36 * MIB {
                break;
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // What the ledger recorded survives the kill.
    let store = tgclient::SessionStore::open(env.dir.path().join("s.session")).unwrap();
    let recorded_ranges: Vec<(i64, tgclient::download::RangeSet)> = sizes
        .iter()
        .enumerate()
        .map(|(i, (media, _, _, name))| {
            let key = out
                .canonicalize()
                .unwrap()
                .join("vault")
                .join(format!("{}_{name}", i + 1));
            let done = store
                .download_state(&key.display().to_string())
                .unwrap()
                .and_then(|b| tgclient::download::FileState::from_bytes(&b))
                .map(|s| s.done)
                .unwrap_or_default();
            (*media, done)
        })
        .collect();
    // Nor was any listing mark: the rerun lists the chat in full again.
    let filters = tgdl::filters::Filters::default().digest();
    assert_eq!(
        store.listing_mark(-1_000_000_000_701, &filters).unwrap(),
        None
    );
    drop(store);
    let recorded: u64 = recorded_ranges.iter().map(|(_, done)| done.covered()).sum();
    assert!(recorded > 0, "the ledger recorded nothing before the kill");
    let total: u64 = sizes.iter().map(|s| s.1).sum();
    assert!(recorded < total);

    env.world.reset_served();
    let (code, stdout, stderr) = env.download(&["--json"]);
    assert_eq!(code, 0, "{stderr}");
    let events: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
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
        "only the ranges the ledger did not record are fetched again"
    );
    // Requests the killed client left in flight may still be served after the reset (no
    // waiting for them: they are for ranges it had not recorded); a recorded range never is.
    for served in env.world.served_log() {
        let Some((_, done)) = recorded_ranges
            .iter()
            .find(|(media, _)| served.key == FileKey::document(*media))
        else {
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
    for (i, (media, _, _, name)) in sizes.iter().enumerate() {
        let path = out.join("vault").join(format!("{}_{name}", i + 1));
        assert_eq!(sha256_of(&path), env.expected(*media), "{name}");
        assert!(!tgclient::download::part_path(&path).exists());
    }
    let store = tgclient::SessionStore::open(env.dir.path().join("s.session")).unwrap();
    assert_eq!(
        store.listing_mark(-1_000_000_000_701, &filters).unwrap(),
        Some(3)
    );
}
