//! `-o s3://bucket/prefix` as a user runs it, against localdc and a real Garage on
//! loopback (the objstore harness): every object's SHA-256 is the world's, each carries its
//! SHA-256, nothing is left in staging, the manifest is in the bucket; a rerun fetches
//! nothing; a bad storage setup fails before any Telegram request; a file another process
//! holds is skipped and says who has it; `export` writes result.json to the bucket.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::{Command, Stdio};

use localdc::world::{FileKey, Fixture};
use localdc::{Config, WanProfile};
use objstore::garage::Garage;
use objstore::{Holder, LeaseOutcome, Target};
use serde_json::{Value, json};
use tl_types::Identifiable;
use tl_types::api::functions as F;

use super::download::{Env, finish};

const MIB: u64 = 1 << 20;

/// A channel `@vault` with one document per `(media id, size, name)`.
fn fixture(files: &[(i64, u64, &str)]) -> Fixture {
    let messages: Vec<Value> = files
        .iter()
        .enumerate()
        .map(|(i, (id, size, name))| {
            json!({ "id": i + 1, "date": 1_700_000_000 + i as i64 * 60, "text": format!("file {i}"),
                "media": { "type": "document", "id": id, "dc": 2, "size": size,
                    "mime_type": "application/octet-stream",
                    "attributes": [ { "type": "file_name", "file_name": name } ] } })
        })
        .collect();
    let json = json!({
        "seed": 11,
        "users": [ { "id": 1001, "first_name": "Alice", "username": "alice", "phone": "15550001" } ],
        "accounts": [ { "phone": "15550001", "user_id": 1001, "code": "12345", "home_dc": 2 } ],
        "chats": [ { "id": 702, "kind": "channel", "title": "Vault", "username": "vault",
                     "creator": 1001, "members": [1001], "date": 1_700_000_000, "messages": messages } ]
    });
    Fixture::from_json(&json.to_string()).unwrap()
}

/// localdc, a logged-in session, and a Garage whose endpoint is in the config file's
/// `[storage]` section; the credentials go in the environment of each run.
struct S3Env {
    env: Env,
    garage: Garage,
}

impl S3Env {
    fn start(files: &[(i64, u64, &str)]) -> Self {
        Self::with_config(files, Config::default())
    }

    fn with_config(files: &[(i64, u64, &str)], config: Config) -> Self {
        let env = Env::start(fixture(files), config);
        let garage = env.runtime().block_on(Garage::start()).unwrap();
        let config_dir = env.dir.path().join("home/config/tgdl");
        std::fs::create_dir_all(&config_dir).unwrap();
        std::fs::write(
            config_dir.join("config.toml"),
            format!(
                "[storage]\nendpoint = \"{}\"\nregion = \"garage\"\npath_style = true\n",
                garage.endpoint()
            ),
        )
        .unwrap();
        Self { env, garage }
    }

    fn secret(&self) -> String {
        self.garage
            .config()
            .credentials
            .unwrap()
            .secret_access_key
            .clone()
    }

    /// `tgdl ARGS` with the key in the AWS variables (`secret` in place of the real one
    /// when given).
    fn command(&self, args: &[&str], secret: Option<&str>) -> Command {
        let credentials = self.garage.config().credentials.unwrap();
        let mut command = self.env.command(args);
        command
            .env("AWS_ACCESS_KEY_ID", &credentials.access_key_id)
            .env(
                "AWS_SECRET_ACCESS_KEY",
                secret.unwrap_or(&credentials.secret_access_key),
            )
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        finish(self.command(args, None).spawn().unwrap(), "")
    }

    fn target(&self, prefix: &str) -> Target {
        self.env
            .runtime()
            .block_on(self.garage.target(prefix))
            .unwrap()
    }

    fn block_on<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        self.env.runtime().block_on(future)
    }

    fn expected(&self, media_id: i64) -> [u8; 32] {
        self.env
            .world
            .file_sha256(&FileKey::document(media_id))
            .unwrap()
    }
}

/// The manifest lines under `.tgdl/manifests/` of `target`.
fn manifest_lines(s3: &S3Env, target: &Target) -> Vec<Value> {
    let keys = s3.block_on(target.list(".tgdl/manifests/")).unwrap();
    let mut lines = Vec::new();
    for key in keys {
        let text = s3.block_on(target.read(&key)).unwrap();
        lines.extend(
            String::from_utf8(text.to_vec())
                .unwrap()
                .lines()
                .map(|line| serde_json::from_str::<Value>(line).unwrap()),
        );
    }
    lines
}

#[test]
fn files_go_to_the_bucket_verified_with_their_sha256_and_the_manifest_beside_them() {
    let sizes = [
        (91, 0, "empty.bin"),
        (92, 1, "one.bin"),
        (93, 5 * MIB - 1, "under.bin"),
        (94, 5 * MIB, "exact.bin"),
        (95, 19 * MIB + 3, "multi.bin"),
    ];
    let s3 = S3Env::start(&sizes);
    let url = s3.garage.url("arch");
    // The most verbose logging (to a file: a pipe nobody reads would fill): the secret
    // must still not show.
    let log = s3.env.dir.path().join("trace.log");
    let child = s3
        .command(&["download", "@vault", "-o", &url, "-vvv"], None)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let (code, stdout, _) = finish(child, "");
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        code,
        0,
        "{}",
        stderr
            .get(stderr.len().saturating_sub(4000)..)
            .unwrap_or("")
    );
    assert!(stderr.contains("5 downloaded"), "{stderr}");
    assert!(
        stderr.contains("s3://tgdl-test/arch/.tgdl/manifests/"),
        "{stderr}"
    );
    let secret = s3.secret();
    assert!(!stderr.contains(&secret) && !stdout.contains(&secret));

    let target = s3.target("arch");
    for (msg, (media, size, name)) in (1..).zip(sizes) {
        let key = format!("vault/{msg}_{name}");
        let bytes = s3.block_on(target.read(&key)).unwrap();
        assert_eq!(bytes.len() as u64, size, "{key}");
        assert_eq!(objstore::sha256_of(&bytes), s3.expected(media), "{key}");
        let info = s3.block_on(target.stat(&key)).unwrap().unwrap();
        assert_eq!(
            info.sha256,
            Some(s3.expected(media)),
            "{key} carries its sha256"
        );
    }
    assert_eq!(
        s3.block_on(target.list(".tgdl/incoming/")).unwrap(),
        Vec::<String>::new(),
        "no staging object is left"
    );
    let manifest = manifest_lines(&s3, &target);
    assert_eq!(manifest.len(), 5);
    for entry in &manifest {
        assert_eq!(entry["status"], "downloaded", "{entry}");
        let media = 90 + entry["msg_id"].as_i64().unwrap();
        assert_eq!(
            entry["sha256"],
            tgdl::manifest::hex(&s3.expected(media)).as_str()
        );
    }

    // A rerun fetches nothing from Telegram and uploads nothing.
    s3.env.world.reset_served();
    let (code, _, stderr) = s3.run(&["download", "@vault", "-o", &url, "--full"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("5 already there"), "{stderr}");
    assert_eq!(s3.env.world.served_total(), 0);
}

#[test]
fn a_bad_storage_setup_fails_before_any_telegram_request() {
    let s3 = S3Env::start(&[(96, 1000, "a.bin")]);
    let history = || s3.env.calls.of(F::messages::GetHistory::CONSTRUCTOR_ID);
    let before = history();

    let wrong = "0".repeat(64);
    let child = s3
        .command(
            &["download", "@vault", "-o", &s3.garage.url("x")],
            Some(&wrong),
        )
        .spawn()
        .unwrap();
    let (code, _, stderr) = finish(child, "");
    assert_ne!(code, 0);
    assert!(stderr.contains("refused the credentials"), "{stderr}");
    assert!(!stderr.contains(&wrong) && !stderr.contains(&s3.secret()));

    let (code, _, stderr) = s3.run(&["download", "@vault", "-o", "s3://no-such-bucket/x"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("does not exist"), "{stderr}");

    // Malformed: refused by the flag's parser (clap's usage error, status 2).
    let (code, _, stderr) = s3.run(&["download", "@vault", "-o", "s3://Bad_Bucket/x"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("bucket name"), "{stderr}");
    let (code, _, stderr) = s3.run(&["export", "@vault", "-o", "gs://b/x"]);
    assert_eq!(code, 2, "{stderr}");

    // No credentials at all.
    let child = s3
        .env
        .command(&["download", "@vault", "-o", &s3.garage.url("x")])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let (code, _, stderr) = finish(child, "");
    assert_ne!(code, 0);
    assert!(stderr.contains("AWS_ACCESS_KEY_ID"), "{stderr}");

    assert_eq!(history(), before, "nothing was asked of Telegram");
}

#[test]
fn a_file_another_process_holds_is_skipped_and_says_who_has_it() {
    let s3 = S3Env::start(&[(97, 2000, "mine.bin"), (98, 3000, "theirs.bin")]);
    let target = s3.target("shared");
    let other = Holder {
        session: "user 4242".into(),
        host: "other-machine".into(),
        pid: 77,
    };
    let lease = tgdl::leases::lease_name("vault/2_theirs.bin");
    let taken = s3
        .block_on(target.lease(&lease, &other, std::time::Duration::from_mins(10)))
        .unwrap();
    assert!(matches!(taken, LeaseOutcome::Acquired(_)));

    let (code, _, stderr) = s3.run(&["download", "@vault", "-o", &s3.garage.url("shared")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("1 downloaded"), "{stderr}");
    assert!(
        stderr.contains(
            "vault/2_theirs.bin: another tgdl has it: session user 4242 on other-machine (pid 77)"
        ),
        "{stderr}"
    );
    assert!(
        s3.block_on(target.stat("vault/2_theirs.bin"))
            .unwrap()
            .is_none()
    );
    assert!(
        s3.block_on(target.stat("vault/1_mine.bin"))
            .unwrap()
            .is_some()
    );
    let manifest = manifest_lines(&s3, &target);
    let skipped: Vec<&Value> = manifest
        .iter()
        .filter(|e| e["status"] == "leased_elsewhere")
        .collect();
    assert_eq!(skipped.len(), 1, "{manifest:?}");
    assert!(
        skipped[0]["error"]
            .as_str()
            .unwrap()
            .contains("other-machine")
    );
    // Our own lease was released at the end: only the other holder's remains.
    let ours = tgdl::leases::lease_name("vault/1_mine.bin");
    let left = s3.block_on(target.list(".tgdl/leases/")).unwrap();
    assert!(
        left.iter().all(|key| !key.contains(&ours)),
        "{left:?} still holds ours"
    );
    assert!(left.iter().any(|key| key.contains(&lease)), "{left:?}");
}

#[test]
fn export_writes_result_json_to_the_bucket_after_the_media() {
    let s3 = S3Env::start(&[(99, 6 * MIB + 5, "video.bin")]);
    let url = s3.garage.url("export");
    let (code, _, stderr) = s3.run(&["export", "@vault", "-o", &url, "--media"]);
    assert_eq!(code, 0, "{stderr}");
    let target = s3.target("export");
    let result = s3.block_on(target.read("result.json")).unwrap();
    let result: Value = serde_json::from_slice(&result).unwrap();
    let file = result["messages"][0]["file"].as_str().unwrap().to_owned();
    let bytes = s3.block_on(target.read(&file)).unwrap();
    assert_eq!(objstore::sha256_of(&bytes), s3.expected(99), "{file}");
    // A rerun finds the export in the bucket and has nothing to add.
    let (code, _, stderr) = s3.run(&["export", "@vault", "-o", &url, "--media"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("no new messages"), "{stderr}");
}

#[test]
fn a_download_killed_mid_upload_resumes_the_same_multipart_upload() {
    // 5 parts of 8 MiB; a WAN-shaped localdc so the kill lands mid-file.
    let s3 = S3Env::with_config(
        &[(100, 40 * MIB, "big.bin")],
        Config::default().with_wan_profile(WanProfile::Wan),
    );
    let url = s3.garage.url("killed");
    let parts = || s3.block_on(s3.garage.requests("UploadPart")).unwrap();
    let mut child = s3
        .command(&["download", "@vault", "-o", &url], None)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Parts go up one at a time per file: a third begun means two are done and recorded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(2);
    while parts() < 3 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the kill"
        );
        assert!(std::time::Instant::now() < deadline, "no part went up");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let target = s3.target("killed");
    assert!(
        s3.block_on(target.stat("vault/1_big.bin"))
            .unwrap()
            .is_none(),
        "nothing is visible under the final key before the file is complete"
    );

    let before = parts();
    s3.env.world.reset_served();
    let (code, _, stderr) = s3.run(&["download", "@vault", "-o", &url]);
    assert_eq!(code, 0, "{stderr}");
    let rerun_parts = parts() - before;
    assert!(
        rerun_parts <= 3,
        "the rerun sent {rerun_parts} parts of 5: it did not continue the upload"
    );
    assert!(s3.env.world.served_total() < 40 * MIB);
    let bytes = s3.block_on(target.read("vault/1_big.bin")).unwrap();
    assert_eq!(objstore::sha256_of(&bytes), s3.expected(100));
    assert_eq!(
        s3.block_on(target.list(".tgdl/incoming/")).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn a_full_bucket_stops_the_run_with_a_clear_error_and_keeps_what_was_done() {
    let s3 = S3Env::start(&[(101, 3 * MIB, "first.bin"), (102, 3 * MIB, "second.bin")]);
    let url = s3.garage.url("full");
    // Room for one file, not two.
    s3.block_on(s3.garage.set_quota(Some(4 * MIB))).unwrap();
    let (code, _, stderr) = s3.run(&["download", "@vault", "-o", &url, "--parallel-files", "1"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("refuses writes"), "{stderr}");
    assert!(stderr.contains("raise the quota"), "{stderr}");
    let target = s3.target("full");
    // One file fit (whichever went first), verified; the other is not there at all.
    let stored: Vec<(String, i64)> = [("vault/1_first.bin", 101), ("vault/2_second.bin", 102)]
        .into_iter()
        .filter_map(|(key, media)| {
            let info = s3.block_on(target.stat(key)).unwrap()?;
            assert_eq!(info.sha256, Some(s3.expected(media)), "{key}");
            Some((key.to_owned(), media))
        })
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}\n{stderr}");

    // Room again: the rerun adds the missing file and keeps the first.
    s3.block_on(s3.garage.set_quota(None)).unwrap();
    let (code, _, stderr) = s3.run(&["download", "@vault", "-o", &url]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("1 downloaded"), "{stderr}");
    assert!(stderr.contains("1 already there"), "{stderr}");
    for (key, media) in [("vault/1_first.bin", 101), ("vault/2_second.bin", 102)] {
        let bytes = s3.block_on(target.read(key)).unwrap();
        assert_eq!(objstore::sha256_of(&bytes), s3.expected(media), "{key}");
    }
}
