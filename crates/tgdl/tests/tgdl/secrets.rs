//! Secrets and local security, with the real binary against an in-process localdc:
//!
//! - code, 2FA and bot-token logins (the token on the command line, in `TGDL_BOT_TOKEN` or
//!   on stdin) and a download, all at `-vvv` (and `RUST_LOG=trace`), and `--help`, print
//!   none of the login code, the 2FA password (nor a wrong guess), the bot token or
//!   its secret part, the api_hash, the phone code hash, the SRP verifier and proof, the
//!   exported authorization, or any auth key of the sessions (as hex, base64, a Debug byte
//!   list or raw bytes, in any 16-byte window);
//! - session files are private (0600, and so are their lock and SQLite sidecar files), the
//!   directories tgdl creates are private (0700), and a session readable by others makes
//!   tgdl warn and still work.
//!
//! Values only the server knows (the phone code hash, the SRP parameters, the exported
//! authorization) are captured by wrapping localdc's handlers of the methods carrying them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use localdc::world::{Fixture, World};
use localdc::{Config, Registry, RpcResult, RunningServer, Server};
use serde_json::{Value, json};
use tgclient::SessionStore;
use tl_types::api::{enums, functions};
use tl_types::{Deserialize, Identifiable};

const ALICE_PHONE: &str = "15550101";
const ALICE_CODE: &str = "80417362";
const BOB_PHONE: &str = "15550102";
const BOB_CODE: &str = "59263718";
const BOB_PASSWORD: &str = "Tr0ub4dor&3-horse-battery";
const WRONG_PASSWORD: &str = "correct-Staple-guess-41";
const BOT_TOKEN: &str = "7001:AAHk9Zq2xWvR7sYtU3pLmN0bC4dE5fG6hI";
const API_HASH: &str = "5e1f3c9a7b2d4e6f8a0b1c2d3e4f5a6b";
const RUN_LIMIT: Duration = Duration::from_mins(2);

fn fixture() -> Fixture {
    let document = |id: i64, dc: i32, size: u64, name: &str| {
        json!({ "type": "document", "id": id, "dc": dc, "size": size,
            "mime_type": "application/octet-stream",
            "attributes": [ { "type": "file_name", "file_name": name } ] })
    };
    let json = json!({
        "seed": 33,
        "users": [
            { "id": 1001, "first_name": "Alice", "username": "alice", "phone": ALICE_PHONE },
            { "id": 1002, "first_name": "Bob", "username": "bob", "phone": BOB_PHONE },
            { "id": 7001, "first_name": "Vault Bot", "username": "vault_bot", "bot": true }
        ],
        "accounts": [
            { "phone": ALICE_PHONE, "user_id": 1001, "code": ALICE_CODE, "home_dc": 2 },
            { "phone": BOB_PHONE, "user_id": 1002, "code": BOB_CODE, "home_dc": 4,
              "password": BOB_PASSWORD, "hint": "the long one" }
        ],
        "bots": [ { "token": BOT_TOKEN, "user_id": 7001, "home_dc": 2 } ],
        "chats": [ {
            "id": 801, "kind": "channel", "title": "Secret Vault", "username": "svault",
            "creator": 1002, "members": [1001, 1002], "date": 1_700_000_000,
            "messages": [
                { "id": 1, "date": 1_700_000_100, "text": "ledger",
                  "media": document(91_001, 2, 1_600_000, "ledger.bin") },
                { "id": 2, "date": 1_700_000_200, "text": "photo",
                  "media": { "type": "photo", "id": 92_001, "dc": 1, "sizes": [
                      { "type": "m", "w": 320, "h": 240, "size": 25_000 } ] } },
                { "id": 3, "date": 1_700_000_300, "text": "notes",
                  "media": document(91_002, 4, 300_000, "notes.txt") },
                { "id": 4, "date": 1_700_000_400, "text": "archive",
                  "media": document(91_003, 3, 2_200_000, "archive.zip") }
            ]
        } ]
    });
    Fixture::from_json(&json.to_string()).unwrap()
}

/// The SRP parameters of an `account.getPassword` answer.
struct SrpParams {
    salt1: Vec<u8>,
    salt2: Vec<u8>,
    g: i32,
    p: Vec<u8>,
}

/// What the server saw that the client must keep to itself.
#[derive(Default)]
struct Captured {
    phone_code_hashes: Vec<String>,
    /// Of every `account.getPassword` answer.
    srp_params: Vec<SrpParams>,
    /// `M1` of every `auth.checkPassword`.
    srp_proofs: Vec<Vec<u8>>,
    /// `bytes` of every `auth.exportAuthorization` answer.
    exported: Vec<Vec<u8>>,
}

/// Replaces the handler of `id` by one that calls it and shows `inspect` the request body
/// and the answer.
pub(crate) fn wrap(
    registry: &mut Registry,
    id: u32,
    inspect: impl Fn(&[u8], &RpcResult) + Send + Sync + 'static,
) {
    let (name, original) = registry.get(id).expect("the world serves the method");
    let inspect = Arc::new(inspect);
    registry.register_async(id, name, move |ctx, body| {
        let original = Arc::clone(&original);
        let inspect = Arc::clone(&inspect);
        async move {
            let request = body.clone();
            let result = original.call(ctx, body).await;
            inspect(&request, &result);
            result
        }
    });
}

fn capture(registry: &mut Registry, captured: &Arc<Mutex<Captured>>) {
    let seen = Arc::clone(captured);
    wrap(
        registry,
        functions::auth::SendCode::CONSTRUCTOR_ID,
        move |_, result| {
            if let Ok(body) = result
                && let Ok(enums::auth::SentCode::SentCode(sent)) =
                    enums::auth::SentCode::from_bytes(body)
            {
                seen.lock()
                    .unwrap()
                    .phone_code_hashes
                    .push(sent.phone_code_hash);
            }
        },
    );
    let seen = Arc::clone(captured);
    wrap(
        registry,
        functions::account::GetPassword::CONSTRUCTOR_ID,
        move |_, result| {
            if let Ok(body) = result
                && let Ok(enums::account::Password::Password(password)) =
                    enums::account::Password::from_bytes(body)
                && let Some(
                    enums::PasswordKdfAlgo::SHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
                        algo,
                    ),
                ) = password.current_algo
            {
                seen.lock().unwrap().srp_params.push(SrpParams {
                    salt1: algo.salt1.clone(),
                    salt2: algo.salt2.clone(),
                    g: algo.g,
                    p: algo.p.clone(),
                });
            }
        },
    );
    let seen = Arc::clone(captured);
    wrap(
        registry,
        functions::auth::CheckPassword::CONSTRUCTOR_ID,
        move |request, _| {
            if let Ok(check) = functions::auth::CheckPassword::from_bytes(request)
                && let enums::InputCheckPasswordSRP::InputCheckPasswordSRP(srp) = check.password
            {
                seen.lock().unwrap().srp_proofs.push(srp.m1);
            }
        },
    );
    let seen = Arc::clone(captured);
    wrap(
        registry,
        functions::auth::ExportAuthorization::CONSTRUCTOR_ID,
        move |_, result| {
            if let Ok(body) = result
                && let Ok(enums::auth::ExportedAuthorization::ExportedAuthorization(exported)) =
                    enums::auth::ExportedAuthorization::from_bytes(body)
            {
                seen.lock().unwrap().exported.push(exported.bytes);
            }
        },
    );
}

struct Env {
    runtime: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    captured: Arc<Mutex<Captured>>,
    dir: tempfile::TempDir,
    ready: PathBuf,
}

struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Run {
    fn text(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&self.stdout),
            String::from_utf8_lossy(&self.stderr)
        )
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    fn ok(self) -> Self {
        assert_eq!(self.code, Some(0), "tgdl failed\n{}", self.text());
        self
    }
}

impl Env {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let world = Arc::new(World::from_fixture(fixture()).unwrap());
        let captured = Arc::new(Mutex::new(Captured::default()));
        let server = runtime.block_on(async {
            let mut registry = Registry::with_defaults();
            localdc::world::register(&mut registry, world);
            capture(&mut registry, &captured);
            Server::start_with(Config::default(), registry)
                .await
                .unwrap()
        });
        let dir = tempfile::tempdir().unwrap();
        let ready = dir.path().join("ready.json");
        std::fs::write(&ready, server.ready_info().to_json()).unwrap();
        Self {
            runtime,
            server: Some(server),
            captured,
            dir,
            ready,
        }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn session(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.session"))
    }

    /// Runs tgdl with the session `name` at the most verbose level.
    fn verbose(&self, name: &str, args: &[&str], stdin: &str) -> Run {
        self.verbose_with(name, args, stdin, &[])
    }

    /// [`Env::verbose`] with `vars` added to the environment.
    fn verbose_with(&self, name: &str, args: &[&str], stdin: &str, vars: &[(&str, &str)]) -> Run {
        let session = self.session(name);
        let mut full = vec!["-vvv", "--session", session.to_str().unwrap()];
        full.extend_from_slice(args);
        self.run_with(&full, stdin, vars)
    }

    /// Runs tgdl against the server with `args`, HOME and the XDG dirs in the test's
    /// directory, the credentials in the environment.
    fn run(&self, args: &[&str], stdin: &str) -> Run {
        self.run_with(args, stdin, &[])
    }

    /// [`Env::run`] with `vars` added to the environment.
    fn run_with(&self, args: &[&str], stdin: &str, vars: &[(&str, &str)]) -> Run {
        let home = self.home();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tgdl"));
        command
            .arg("--server")
            .arg(&self.ready)
            .args(args)
            .env_remove("TGDL_BOT_TOKEN")
            .envs(vars.iter().copied())
            .env("TGDL_API_ID", "4")
            .env("TGDL_API_HASH", API_HASH)
            .env("RUST_LOG", "trace")
            .env("RUST_BACKTRACE", "1")
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        run_with_limit(command, stdin)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

/// Runs `command` with `stdin`, killing it past [`RUN_LIMIT`].
fn run_with_limit(mut command: Command, stdin: &str) -> Run {
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        out.read_to_end(&mut bytes).unwrap();
        bytes
    });
    let err_reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        err.read_to_end(&mut bytes).unwrap();
        bytes
    });
    let deadline = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "tgdl took longer than {RUN_LIMIT:?}: {command:?}\nstderr:\n{}",
                String::from_utf8_lossy(&err_reader.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = Run {
        code: status.code(),
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    };
    assert!(!run.stderr().contains("panicked"), "{}", run.text());
    run
}

// ------------------------------------------------------------------ leak search

/// A secret and how it could show in text output (also used by `login_import`).
pub(crate) struct Secret {
    label: String,
    /// Exact strings that must not appear.
    texts: Vec<String>,
    /// Secret bytes, searched in every printable form (see [`leaks_of_bytes`]).
    bytes: Option<Vec<u8>>,
}

impl Secret {
    pub(crate) fn text(label: &str, text: &str) -> Self {
        Self {
            label: label.to_owned(),
            texts: vec![text.to_owned()],
            bytes: None,
        }
    }

    pub(crate) fn bytes(label: impl Into<String>, bytes: &[u8]) -> Self {
        Self {
            label: label.into(),
            texts: Vec::new(),
            bytes: Some(bytes.to_vec()),
        }
    }
}

const BASE64_STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 of `bytes` without padding.
fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Whether some `len`-character window of a maximal run of `is_part` characters of
/// `output` is in `needles`.
fn window_in_runs(
    output: &str,
    is_part: impl Fn(char) -> bool,
    len: usize,
    needles: &HashSet<String>,
) -> bool {
    output
        .split(|c: char| !is_part(c))
        .filter(|run| run.len() >= len)
        .any(|run| (0..=run.len() - len).any(|at| needles.contains(&run[at..at + len])))
}

/// The byte lists Debug prints (`[12, 34, ...]`, also pretty-printed across lines), as
/// runs of values.
fn debug_byte_lists(output: &str) -> Vec<Vec<u8>> {
    let mut lists = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut rest = output;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            let skip = rest.chars().next().map_or(1, char::len_utf8);
            rest = &rest[skip..];
            if !current.is_empty() {
                lists.push(std::mem::take(&mut current));
            }
            continue;
        }
        match rest[..digits].parse::<u8>() {
            Ok(value) => current.push(value),
            Err(_) => {
                if !current.is_empty() {
                    lists.push(std::mem::take(&mut current));
                }
            }
        }
        rest = &rest[digits..];
        // A list goes on only through `,` and whitespace.
        let after = rest.trim_start_matches(char::is_whitespace);
        if let Some(next) = after.strip_prefix(',') {
            rest = next.trim_start_matches(char::is_whitespace);
        } else if !current.is_empty() {
            lists.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        lists.push(current);
    }
    lists
}

/// How `secret` shows in `raw` (the output's bytes), if it does: any window of 16 bytes
/// (or the whole secret if shorter) as hex (either case), base64 (standard or URL-safe, at
/// any alignment), raw bytes, or a window of 8 values of a Debug byte list.
fn leaks_of_bytes(secret: &[u8], raw: &[u8]) -> Vec<&'static str> {
    let mut found = Vec::new();
    let text = String::from_utf8_lossy(raw);
    let lower = text.to_ascii_lowercase();
    let window = secret.len().min(16);
    if window == 0 {
        return found;
    }
    let hex_needles: HashSet<String> = secret.windows(window).map(hex).collect();
    if window_in_runs(&lower, |c| c.is_ascii_hexdigit(), 2 * window, &hex_needles) {
        found.push("hex");
    }
    // base64 of bytes starting at offset 3k + r is the base64 of secret[r..] from char 4k
    // on; 15 bytes (20 characters) are enough to recognize a window.
    for (alphabet, name) in [(BASE64_STD, "base64"), (BASE64_URL, "base64url")] {
        let chars = 20.min(4 * (secret.len() / 3).max(1));
        let mut needles = HashSet::new();
        for r in 0..3.min(secret.len()) {
            let encoded = base64(&secret[r..], alphabet);
            let complete = 4 * ((secret.len() - r) / 3);
            let mut at = 0;
            while at + chars <= complete {
                needles.insert(encoded[at..at + chars].to_owned());
                at += 4;
            }
        }
        let in_alphabet = |c: char| c.is_ascii() && alphabet.contains(&(c as u8));
        if window_in_runs(&text, in_alphabet, chars, &needles) {
            found.push(name);
        }
    }
    let raw_needles: HashSet<&[u8]> = secret.windows(window).collect();
    if raw.windows(window).any(|w| raw_needles.contains(w)) {
        found.push("raw bytes");
    }
    let list_window = secret.len().min(8);
    let list_needles: HashSet<&[u8]> = secret.windows(list_window).collect();
    if debug_byte_lists(&text)
        .iter()
        .any(|list| list.windows(list_window).any(|w| list_needles.contains(w)))
    {
        found.push("Debug byte list");
    }
    found
}

/// Every way a secret shows in `raw`, one line each.
pub(crate) fn leaks(secrets: &[Secret], raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let mut found = Vec::new();
    for secret in secrets {
        for needle in &secret.texts {
            if text.contains(needle.as_str()) {
                found.push(format!("{}: {needle:?}", secret.label));
            }
        }
        if let Some(bytes) = &secret.bytes {
            for form in leaks_of_bytes(bytes, raw) {
                found.push(format!("{} as {form}", secret.label));
            }
        }
    }
    found
}

/// The auth keys stored in a session file.
pub(crate) fn session_keys(path: &Path) -> Vec<(i32, Vec<u8>)> {
    let store = SessionStore::open(path).unwrap();
    store
        .dc_auths()
        .unwrap()
        .into_iter()
        .map(|dc| (dc.dc_id, dc.auth.auth_key.as_bytes().to_vec()))
        .collect()
}

#[test]
fn the_leak_search_finds_every_form() {
    let key: Vec<u8> = (0..=255u8)
        .map(|b| b.wrapping_mul(37).wrapping_add(11))
        .collect();
    let middle = &key[100..140];
    let forms = [
        hex(middle),
        hex(middle).to_ascii_uppercase(),
        base64(&key[31..90], BASE64_STD),
        base64(&key[32..90], BASE64_URL),
        format!("{:?}", &key[200..]),
        format!("{:#?}", &key[50..60]),
        format!("{:?}", &key[..8]).trim_end_matches(']').to_owned(),
    ];
    for form in &forms {
        let output = format!("2024-01-01 TRACE x: value={form} done");
        assert!(
            !leaks_of_bytes(&key, output.as_bytes()).is_empty(),
            "not found: {form}"
        );
    }
    let mut raw = b"binary: ".to_vec();
    raw.extend_from_slice(&key[7..30]);
    assert_eq!(leaks_of_bytes(&key, &raw), ["raw bytes"]);
    // Unrelated hex, base64 and numbers are not taken for the key.
    let other: Vec<u8> = (0..=255u8).map(|b| b.wrapping_mul(91)).collect();
    let clean = format!(
        "{} {} {:?} msg_id=7301234567890123456 [1, 2, 3, 4, 5, 6, 7, 8]",
        hex(&other),
        base64(&other, BASE64_STD),
        &other[..]
    );
    assert!(leaks_of_bytes(&key, clean.as_bytes()).is_empty());
}

// ------------------------------------------------------------------ the tests

#[test]
fn logins_and_a_download_at_trace_level_print_no_secret() {
    let env = Env::start();
    let mut runs = Vec::new();

    let alice = env
        .verbose(
            "alice",
            &["login", "--phone", ALICE_PHONE],
            &format!("{ALICE_CODE}\n"),
        )
        .ok();
    assert_eq!(alice.stdout().trim(), "logged in as @alice (user 1001)");
    runs.push(alice);

    let bob = env
        .verbose(
            "bob",
            &["login", "--phone", BOB_PHONE],
            &format!("{BOB_CODE}\n{WRONG_PASSWORD}\n{BOB_PASSWORD}\n"),
        )
        .ok();
    assert!(
        bob.stderr().contains("That password is wrong."),
        "{}",
        bob.text()
    );
    assert_eq!(bob.stdout().trim(), "logged in as @bob (user 1002)");
    runs.push(bob);

    let bot = env
        .verbose("bot", &["login", "--bot-token", BOT_TOKEN], "")
        .ok();
    assert_eq!(bot.stdout().trim(), "logged in as @vault_bot (bot 7001)");
    runs.push(bot);

    // Bob's home is DC 4; the files are on DCs 1 to 4, so his login is exported to three.
    let out = env.dir.path().join("out");
    let download = env
        .verbose(
            "bob",
            &["download", "@svault", "-o", out.to_str().unwrap(), "--json"],
            "",
        )
        .ok();
    for line in download.stdout().lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    for name in [
        "svault/1_ledger.bin",
        "svault/3_notes.txt",
        "svault/4_archive.zip",
    ] {
        assert!(out.join(name).is_file(), "{name}\n{}", download.text());
    }
    runs.push(download);
    runs.push(env.verbose("alice", &["chats", "--json"], "").ok());

    // The runs did log: a quiet binary would pass the search trivially.
    let all: Vec<u8> = runs
        .iter()
        .flat_map(|run| run.stdout.iter().chain(&run.stderr).copied())
        .collect();
    let text = String::from_utf8_lossy(&all);
    // -vvv adds protocol traces (every packet's msg_ids, container, acks) that -vv keeps
    // out.
    for expected in ["DEBUG", "INFO", "TRACE", "msg_ids=", "logged in"] {
        assert!(text.contains(expected), "no {expected} in the output");
    }
    let session = env.session("alice");
    let debug = env
        .run(
            &["-vv", "--session", session.to_str().unwrap(), "chats"],
            "",
        )
        .ok();
    let debug_text = String::from_utf8_lossy(&debug.stderr);
    assert!(debug_text.contains("DEBUG"), "{debug_text}");
    assert!(!debug_text.contains("msg_ids="), "-vv printed traces");

    let mut secrets = vec![
        Secret::text("alice's login code", ALICE_CODE),
        Secret::text("bob's login code", BOB_CODE),
        Secret::text("the 2FA password", BOB_PASSWORD),
        Secret::text("the wrong 2FA password", WRONG_PASSWORD),
        Secret::text("the bot token", BOT_TOKEN),
        Secret::text(
            "the bot token's secret",
            BOT_TOKEN.split_once(':').unwrap().1,
        ),
        Secret::text("the api_hash", API_HASH),
    ];
    let captured = env.captured.lock().unwrap();
    assert_eq!(captured.phone_code_hashes.len(), 2);
    for hash in &captured.phone_code_hashes {
        secrets.push(Secret::text("a phone code hash", hash));
    }
    assert!(captured.srp_params.len() >= 2, "no password check offered");
    for srp in &captured.srp_params {
        let verifier = mtcrypto::srp_verifier(
            BOB_PASSWORD.as_bytes(),
            &srp.salt1,
            &srp.salt2,
            u32::try_from(srp.g).unwrap(),
            &srp.p,
        )
        .unwrap();
        secrets.push(Secret::bytes("the SRP verifier", &verifier));
    }
    assert_eq!(captured.srp_proofs.len(), 2);
    for m1 in &captured.srp_proofs {
        secrets.push(Secret::bytes("an SRP proof (M1)", m1));
    }
    assert!(!captured.exported.is_empty(), "no login was exported");
    for bytes in &captured.exported {
        secrets.push(Secret::bytes("an exported authorization", bytes));
    }
    drop(captured);
    let mut key_count = 0;
    for name in ["alice", "bob", "bot"] {
        for (dc, key) in session_keys(&env.session(name)) {
            secrets.push(Secret::bytes(format!("{name}'s auth key of DC {dc}"), &key));
            key_count += 1;
        }
    }
    assert!(key_count >= 6, "only {key_count} auth keys in the sessions");

    let found = leaks(&secrets, &all);
    assert!(found.is_empty(), "secrets in the output: {found:#?}");
}

#[test]
fn bot_tokens_from_the_environment_or_stdin_log_in_and_never_show() {
    const WRONG_TOKEN: &str = "7001:AAwrongZq2xWvR7sYtU3pLmN0bC4dE5fG6hI";
    let env = Env::start();
    let token_env = [("TGDL_BOT_TOKEN", BOT_TOKEN)];
    let mut runs = Vec::new();

    let from_env = env.verbose_with("bot-env", &["login"], "", &token_env).ok();
    assert_eq!(
        from_env.stdout().trim(),
        "logged in as @vault_bot (bot 7001)"
    );
    runs.push(from_env);
    // One line, surrounding whitespace ignored.
    let from_stdin = env
        .verbose(
            "bot-stdin",
            &["login", "--bot-token", "-"],
            &format!("  {BOT_TOKEN} \n"),
        )
        .ok();
    assert_eq!(
        from_stdin.stdout().trim(),
        "logged in as @vault_bot (bot 7001)"
    );
    runs.push(from_stdin);

    // Refusals name the problem, not the token.
    let wrong = env.verbose_with(
        "bot-wrong",
        &["login"],
        "",
        &[("TGDL_BOT_TOKEN", WRONG_TOKEN)],
    );
    assert_eq!(wrong.code, Some(1), "{}", wrong.text());
    assert!(wrong.stderr().contains("bot token"), "{}", wrong.text());
    runs.push(wrong);
    let empty = env.verbose("bot-empty", &["login", "--bot-token", "-"], "");
    assert_eq!(empty.code, Some(1), "{}", empty.text());
    assert!(
        empty.stderr().contains("no token on stdin"),
        "{}",
        empty.text()
    );
    runs.push(empty);
    let unset = env.verbose_with("bot-unset", &["login"], "", &[("TGDL_BOT_TOKEN", " ")]);
    assert_eq!(unset.code, Some(1), "{}", unset.text());
    assert!(
        unset.stderr().contains("the bot token is empty"),
        "{}",
        unset.text()
    );
    runs.push(unset);
    // A login method named on the command line wins over a token in the environment.
    let user = env
        .verbose_with(
            "phone-over-env",
            &["login", "--phone", ALICE_PHONE],
            &format!("{ALICE_CODE}\n"),
            &token_env,
        )
        .ok();
    assert_eq!(user.stdout().trim(), "logged in as @alice (user 1001)");
    runs.push(user);

    // --help names the variable and why, never its value.
    let help = env.run_with(&["login", "--help"], "", &token_env).ok();
    assert!(
        help.stdout().contains("TGDL_BOT_TOKEN") && help.stdout().contains("`ps`"),
        "{}",
        help.text()
    );
    runs.push(help);

    let all: Vec<u8> = runs
        .iter()
        .flat_map(|run| run.stdout.iter().chain(&run.stderr).copied())
        .collect();
    // The runs did log: a quiet binary would pass the search trivially.
    assert!(String::from_utf8_lossy(&all).contains("DEBUG"));
    let mut secrets = Vec::new();
    for token in [BOT_TOKEN, WRONG_TOKEN] {
        secrets.push(Secret::text("a bot token", token));
        secrets.push(Secret::text(
            "a bot token's secret",
            token.split_once(':').unwrap().1,
        ));
    }
    let found = leaks(&secrets, &all);
    assert!(found.is_empty(), "secrets in the output: {found:#?}");
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn session_files_and_directories_are_private_and_an_exposed_session_warns() {
    use std::os::unix::fs::PermissionsExt;

    const WARNING: &str = "session file is readable by other users";
    let env = Env::start();
    let home = env.home();

    // The profile's session: XDG data dirs created 0700, the file (and its lock and SQLite
    // sidecars) 0600 or stricter.
    let login = env
        .run(
            &["--profile", "work", "login", "--phone", ALICE_PHONE],
            &format!("{ALICE_CODE}\n"),
        )
        .ok();
    assert!(!login.stderr().contains(WARNING), "{}", login.text());
    let data = home.join("data");
    let tgdl_data = data.join("tgdl");
    assert_eq!(
        mode(&data),
        0o700,
        "the XDG data dir tgdl created: {:o}",
        mode(&data)
    );
    assert_eq!(
        mode(&tgdl_data),
        0o700,
        "tgdl's data dir: {:o}",
        mode(&tgdl_data)
    );
    let session = tgdl_data.join("work.session");
    assert_eq!(mode(&session), 0o600, "the session: {:o}", mode(&session));
    let mut sidecars = 0;
    for entry in std::fs::read_dir(&tgdl_data).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("work.session"), "unexpected file {name}");
        assert_eq!(mode(&path) & 0o077, 0, "{name} is readable by others");
        sidecars += usize::from(name != "work.session");
    }
    assert!(sidecars >= 1, "no lock file next to the session");
    // tgdl only reads its config: the config dir, if it ever makes it, is private too.
    let config = home.join("config/tgdl");
    if config.exists() {
        assert_eq!(
            mode(&config),
            0o700,
            "tgdl's config dir: {:o}",
            mode(&config)
        );
    }

    // A --session in directories that do not exist yet: they are made private.
    let nested = env.dir.path().join("made/by/tgdl/s.session");
    env.run(
        &[
            "--session",
            nested.to_str().unwrap(),
            "login",
            "--phone",
            ALICE_PHONE,
        ],
        &format!("{ALICE_CODE}\n"),
    )
    .ok();
    for dir in ["made", "made/by", "made/by/tgdl"] {
        let made = mode(&env.dir.path().join(dir));
        assert_eq!(made, 0o700, "{dir}: {made:o}");
    }
    assert_eq!(mode(&nested), 0o600);

    // Readable by group and others: a warning naming the fix, and the command still works.
    let quiet = env.run(&["--profile", "work", "chats"], "").ok();
    assert!(!quiet.stderr().contains(WARNING), "{}", quiet.text());
    std::fs::set_permissions(&session, std::fs::Permissions::from_mode(0o644)).unwrap();
    let exposed = env.run(&["--profile", "work", "chats", "--json"], "").ok();
    let stderr = exposed.stderr();
    assert!(stderr.contains(WARNING), "{}", exposed.text());
    assert!(stderr.contains("chmod 600"), "{}", exposed.text());
    assert!(
        stderr.contains(session.to_str().unwrap()),
        "{}",
        exposed.text()
    );
    let chats: Vec<Value> = exposed
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(chats.len(), 1, "{}", exposed.text());
    assert_eq!(chats[0]["title"], "Secret Vault");
    // Group-readable only is exposed too.
    std::fs::set_permissions(&session, std::fs::Permissions::from_mode(0o640)).unwrap();
    let group = env.run(&["--profile", "work", "chats"], "").ok();
    assert!(group.stderr().contains(WARNING), "{}", group.text());
}
