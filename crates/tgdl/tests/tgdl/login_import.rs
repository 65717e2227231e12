//! `tgdl login --from-desktop | --from-telethon | --from-pyrogram`, the real binary against an
//! in-process localdc, on logins written by independent writers: Telethon 1.45.0 and
//! kurigram 2.2.26 sessions (files and strings) made by logging those clients in to the
//! server (`tests/interop/make_source_sessions.py`), and Telegram Desktop `tdata` folders
//! written from the Telethon login by opentele-ng 1.5.0
//! (`tgclient/tests/interop/make_tdata.py`). Needs Python 3 and PyPI access once (the venv of
//! `scripts/setup-python-tests.sh`); fails, never skips, without.
//!
//! - each way in makes tgdl a login of its own: one more authorization of the user, with
//!   tgdl's device info; a command works on it; the source login still works afterwards;
//! - `--share-key` makes no authorization and says what it costs (tgdl's logout then ends
//!   the source's login too, after which a handoff from it fails and writes nothing);
//! - bad input (wrong passcode, not a tdata folder, unknown version, truncated and tampered
//!   files, another format, a garbage string) fails naming the file and writes no session;
//! - a folder with several accounts needs `--account`; each account logged in to a profile
//!   of its own is listed by `tgdl profiles`, and `logout --profile` ends only that login;
//! - a 2FA account is asked for its password after the handoff;
//! - nothing secret (keys, passcode, session strings, login tokens) in any output at
//!   `-vvv` and `RUST_LOG=trace`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use localdc::world::{Fixture, World};
use localdc::{Config, Registry, RunningServer, Server};
use serde_json::{Value, json};
use tl_types::api::{enums, functions};
use tl_types::{Deserialize, Identifiable};

use crate::download::finish;
use crate::secrets::{Secret, hex, leaks, session_keys, wrap};

const ALICE: i64 = 1001;
const ALICE_WHO: (i64, &str) = (ALICE, "alice");
const ALICE_PHONE: &str = "15550201";
const ALICE_CODE: &str = "40917";
const BOB: i64 = 1002;
const BOB_PHONE: &str = "15550202";
const BOB_CODE: &str = "51308";
const BOB_PASSWORD: &str = "gull-Wing 9 over the quay";
const WRONG_PASSWORD: &str = "gull-wing-8";
const CAROL: i64 = 1003;
const CAROL_PHONE: &str = "15550203";
const CAROL_CODE: &str = "77314";
const PASSCODE: &str = "lantern-7 Ünïcode";
const WRONG_PASSCODE: &str = "lantern-8";
/// Base64 that is no session of any kind.
const GARBAGE_STRING: &str = "AgAAAAEwcmFuZG9tIGdhcmJhZ2UhIQ";
/// What tgdl says after a handoff.
const HANDED_OFF: &str = "tgdl has a login of its own now";
const API_HASH: &str = "9d1f3c9a7b2d4e6f8a0b1c2d3e4f5a61";

fn fixture() -> Fixture {
    let json = json!({
        "seed": 41,
        "users": [
            { "id": ALICE, "first_name": "Alice", "username": "alice", "phone": ALICE_PHONE },
            { "id": BOB, "first_name": "Bob", "username": "bob", "phone": BOB_PHONE },
            { "id": CAROL, "first_name": "Carol", "username": "carol", "phone": CAROL_PHONE }
        ],
        "accounts": [
            { "phone": ALICE_PHONE, "user_id": ALICE, "code": ALICE_CODE, "home_dc": 2 },
            { "phone": BOB_PHONE, "user_id": BOB, "code": BOB_CODE, "home_dc": 4,
              "password": BOB_PASSWORD, "hint": "the long one" },
            { "phone": CAROL_PHONE, "user_id": CAROL, "code": CAROL_CODE, "home_dc": 4 }
        ],
        "chats": [ {
            "id": 901, "kind": "channel", "title": "Harbour Log", "username": "harbour",
            "creator": ALICE, "members": [ALICE, BOB, CAROL], "date": 1_700_000_000,
            "messages": [ { "id": 1, "date": 1_700_000_100, "text": "ahoy" } ]
        } ]
    });
    Fixture::from_json(&json.to_string()).unwrap()
}

/// What a run of tgdl printed.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn text(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
    }

    fn ok(self) -> Self {
        assert_eq!(self.code, 0, "tgdl failed\n{}", self.text());
        self
    }

    fn failed(self) -> Self {
        assert_eq!(self.code, 1, "tgdl should have failed\n{}", self.text());
        self
    }
}

/// A localdc serving [`fixture`], the login tokens it handed out, and a directory.
struct Env {
    runtime: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    world: Arc<World>,
    tokens: Arc<Mutex<Vec<Vec<u8>>>>,
    dir: tempfile::TempDir,
    ready: PathBuf,
    /// Every run's output, for the leak search.
    output: Mutex<Vec<u8>>,
}

impl Env {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let world = Arc::new(World::from_fixture(fixture()).unwrap());
        let tokens = Arc::new(Mutex::new(Vec::new()));
        let server = runtime.block_on(async {
            let mut registry = Registry::with_defaults();
            localdc::world::register(&mut registry, Arc::clone(&world));
            let seen = Arc::clone(&tokens);
            wrap(
                &mut registry,
                functions::auth::ExportLoginToken::CONSTRUCTOR_ID,
                move |_, result| {
                    if let Ok(body) = result
                        && let Ok(enums::auth::LoginToken::LoginToken(token)) =
                            enums::auth::LoginToken::from_bytes(body)
                    {
                        seen.lock().unwrap().push(token.token);
                    }
                },
            );
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
            world,
            tokens,
            dir,
            ready,
            output: Mutex::new(Vec::new()),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn session(&self, name: &str) -> PathBuf {
        self.path(&format!("{name}.session"))
    }

    /// Runs `tgdl -vvv --session NAME.session ARGS` with `stdin`, at trace level.
    fn tgdl(&self, session: &str, args: &[&str], stdin: &str) -> Run {
        let session = self.session(session);
        let mut full = vec!["--session", session.to_str().unwrap()];
        full.extend_from_slice(args);
        self.tgdl_args(&full, stdin)
    }

    /// Runs `tgdl -vvv ARGS` with `stdin`, at trace level (the profiles in the test's home).
    fn tgdl_args(&self, args: &[&str], stdin: &str) -> Run {
        let home = self.path("home");
        let mut command = Command::new(env!("CARGO_BIN_EXE_tgdl"));
        command
            .arg("-vvv")
            .arg("--server")
            .arg(&self.ready)
            .args(args)
            .env("TGDL_API_ID", "4")
            .env("TGDL_API_HASH", API_HASH)
            .env("RUST_LOG", "trace")
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let (code, stdout, stderr) = finish(command.spawn().unwrap(), stdin);
        let mut output = self.output.lock().unwrap();
        output.extend_from_slice(stdout.as_bytes());
        output.extend_from_slice(stderr.as_bytes());
        Run {
            code,
            stdout,
            stderr,
        }
    }

    /// The user's logins as localdc lists them, by device.
    fn devices(&self, user: i64) -> Vec<String> {
        self.world
            .authorizations(user)
            .into_iter()
            .map(|a| a.device_model)
            .collect()
    }

    /// `tgdl chats --json` on the session works and lists the channel.
    fn chats_work(&self, session: &str) {
        let run = self.tgdl(session, &["chats", "--json"], "").ok();
        let titles: Vec<Value> = run
            .stdout
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["title"].clone())
            .collect();
        assert_eq!(titles, [json!("Harbour Log")], "{}", run.text());
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

// ------------------------------------------------------------------ the writers

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's python, made (once per test binary) by the project's setup script.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let root = workspace();
        let venv = std::env::var_os("LOCALDC_PY_VENV")
            .map_or_else(|| root.join("target/py-venv"), PathBuf::from);
        let out = Command::new("bash")
            .arg(root.join("scripts/setup-python-tests.sh"))
            .arg(&venv)
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "setup-python-tests.sh failed (needs python3 with venv and PyPI access once):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        venv.join("bin/python")
    })
}

/// Runs the Python `script` with `request` as JSON on stdin (secrets never on a command
/// line); its stdout, or its stderr when it failed.
fn try_python(script: &Path, request: &Value) -> Result<String, String> {
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let done = child.wait_with_output().unwrap();
    if done.status.success() {
        Ok(String::from_utf8(done.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&done.stderr).into_owned())
    }
}

/// [`try_python`], which must succeed.
fn run_python(script: &Path, request: &Value) -> String {
    try_python(script, request)
        .unwrap_or_else(|stderr| panic!("{} failed:\n{stderr}", script.display()))
}

/// An account for opentele-ng to write into a `tdata` folder, from its key.
fn key_account(dc_id: i32, user_id: i64, key: &[u8]) -> Value {
    json!({ "dc_id": dc_id, "user_id": user_id, "auth_key_hex": hex(key) })
}

/// An account for opentele-ng to write, from a Telethon session file (which has no user id).
fn telethon_account(file: &Path, user_id: i64) -> Value {
    json!({ "telethon_session": file, "user_id": user_id })
}

/// Has opentele-ng write a `tdata` folder at `out`.
fn write_tdata(out: &Path, passcode: &str, accounts: &[Value]) {
    run_python(
        &workspace().join("crates/tgclient/tests/interop/make_tdata.py"),
        &json!({ "out": out, "passcode": passcode, "accounts": accounts }),
    );
}

/// Copies the folder `from` (and the folders in it) to `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Bytes that pass for an auth key nobody uses.
fn unused_key(seed: u8) -> Vec<u8> {
    (0..=255u8)
        .map(|b| b.wrapping_mul(29).wrapping_add(seed))
        .collect()
}

// ------------------------------------------------------------------ bad input

/// The files and folders of the bad-input cases, and what each error must say.
struct BadCase {
    what: &'static str,
    args: Vec<String>,
    stdin: String,
    /// The error names this file or folder ...
    names: PathBuf,
    /// ... and says this.
    says: &'static str,
}

fn bad_cases(env: &Env) -> Vec<BadCase> {
    let arg = |p: &Path| p.to_str().unwrap().to_owned();
    let clean = env.path("bad/clean/tdata");
    write_tdata(&clean, "", &[key_account(2, ALICE, &unused_key(1))]);
    let locked = env.path("bad/locked/tdata");
    write_tdata(&locked, PASSCODE, &[key_account(2, ALICE, &unused_key(2))]);
    let copy = |name: &str| {
        let to = env.path(&format!("bad/{name}/tdata"));
        copy_dir(&clean, &to);
        to
    };
    // The version field follows the 4-byte magic.
    let unknown = copy("unknown-version");
    let key_datas = unknown.join("key_datas");
    let mut bytes = std::fs::read(&key_datas).unwrap();
    bytes[4..8].copy_from_slice(&999i32.to_le_bytes());
    std::fs::write(&key_datas, bytes).unwrap();
    // The account's MTP file, cut and flipped.
    let account_file = "D877F783D5D3EF8Cs";
    let truncated = copy("truncated");
    let file = truncated.join(account_file);
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..6]).unwrap();
    let tampered = copy("tampered");
    let tampered_file = tampered.join(account_file);
    let mut bytes = std::fs::read(&tampered_file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&tampered_file, bytes).unwrap();
    let empty = env.path("bad/not-tdata");
    std::fs::create_dir_all(empty.join("user_data")).unwrap();
    std::fs::write(empty.join("notes.txt"), b"hello").unwrap();

    vec![
        BadCase {
            what: "no Desktop folder where Desktop keeps it",
            args: vec!["--from-desktop".into()],
            stdin: String::new(),
            names: env.path("home/data/TelegramDesktop/tdata"),
            says: "no Telegram Desktop data folder found",
        },
        BadCase {
            what: "a wrong passcode",
            args: vec![
                "--from-desktop".into(),
                arg(&locked),
                "--passcode".into(),
                "-".into(),
            ],
            stdin: format!("{WRONG_PASSCODE}\n"),
            names: locked.join("key_datas"),
            says: "wrong local passcode",
        },
        BadCase {
            what: "a folder that is not tdata",
            args: vec!["--from-desktop".into(), arg(&empty)],
            stdin: String::new(),
            names: empty.clone(),
            says: "not a Telegram Desktop tdata folder",
        },
        BadCase {
            what: "an unknown tdata version",
            args: vec!["--from-desktop".into(), arg(&unknown)],
            stdin: String::new(),
            names: unknown.join("key_datas"),
            says: "unknown Telegram Desktop data version 999",
        },
        BadCase {
            what: "a truncated file",
            args: vec!["--from-desktop".into(), arg(&truncated)],
            stdin: String::new(),
            names: file,
            says: "truncated",
        },
        BadCase {
            what: "a tampered file",
            args: vec!["--from-desktop".into(), arg(&tampered)],
            stdin: String::new(),
            names: tampered_file,
            says: "tampered",
        },
    ]
}

#[test]
fn bad_input_fails_naming_the_file_and_writes_no_session() {
    let env = Env::start();
    let mut cases = bad_cases(&env);
    let sources = alice_sources(&env);
    cases.push(BadCase {
        what: "a Pyrogram file given as Telethon's",
        args: vec![
            "--from-telethon".into(),
            sources.pyrogram_file.to_str().unwrap().into(),
        ],
        stdin: String::new(),
        names: sources.pyrogram_file.clone(),
        says: "not a Telethon session",
    });
    cases.push(BadCase {
        what: "a Telethon file given as Pyrogram's",
        args: vec![
            "--from-pyrogram".into(),
            sources.telethon_file.to_str().unwrap().into(),
        ],
        stdin: String::new(),
        names: sources.telethon_file.clone(),
        says: "not a Pyrogram session",
    });
    let key_datas = env.path("bad/clean/tdata/key_datas");
    cases.push(BadCase {
        what: "a Desktop data file given as a Telethon session",
        args: vec!["--from-telethon".into(), key_datas.to_str().unwrap().into()],
        stdin: String::new(),
        names: key_datas.clone(),
        says: "not a Telethon session",
    });
    cases.push(BadCase {
        what: "a garbage session string",
        args: vec!["--from-pyrogram".into(), "-".into()],
        stdin: format!("{GARBAGE_STRING}\n"),
        names: PathBuf::from("the session string"),
        says: "session string",
    });

    // A session that exists (logged in elsewhere, so it holds keys) stays byte for byte.
    env.tgdl(
        "kept",
        &["login", "--phone", CAROL_PHONE],
        &format!("{CAROL_CODE}\n"),
    )
    .ok();
    let kept = env.session("kept");
    let before = std::fs::read(&kept).unwrap();
    let devices = env.devices(ALICE).len();
    for case in &cases {
        let mut args = vec!["login"];
        args.extend(case.args.iter().map(String::as_str));
        let run = env.tgdl("new", &args, &case.stdin).failed();
        let named = case.names.to_str().unwrap();
        assert!(
            run.stderr.contains(named) && run.stderr.contains(case.says),
            "{}: the error should name {named} and say {:?}\n{}",
            case.what,
            case.says,
            run.text()
        );
        assert!(
            !env.session("new").exists(),
            "{}: a session was written",
            case.what
        );
        let run = env.tgdl("kept", &args, &case.stdin).failed();
        assert!(
            run.stderr.contains(case.says),
            "{}\n{}",
            case.what,
            run.text()
        );
        assert_eq!(
            std::fs::read(&kept).unwrap(),
            before,
            "{}: the existing session changed",
            case.what
        );
    }
    assert_eq!(env.devices(ALICE).len(), devices, "a login was made");
    // A passcode on the command line is refused before anything is read.
    let run = env
        .tgdl(
            "new",
            &["login", "--from-desktop", ".", "--passcode", WRONG_PASSCODE],
            "",
        )
        .failed();
    assert!(
        run.stderr.contains("--passcode takes only `-`"),
        "{}",
        run.text()
    );
    assert!(!run.stderr.contains(WRONG_PASSCODE), "{}", run.text());

    let mut secrets = sources.secrets();
    secrets.extend([
        Secret::text("a wrong local passcode", WRONG_PASSCODE),
        Secret::text("a garbage session string", GARBAGE_STRING),
        Secret::bytes("a key in a tdata folder", &unused_key(1)),
        Secret::bytes("a key in a locked tdata folder", &unused_key(2)),
    ]);
    no_leaks(&env, &secrets);
}

// ------------------------------------------------------------------ the ways in

/// A user's logins made by the real clients: Telethon's and Pyrogram's, each as a session
/// file and as a session string (the same login).
struct Sources {
    telethon_file: PathBuf,
    telethon_string: String,
    pyrogram_file: PathBuf,
    pyrogram_string: String,
}

impl Sources {
    /// The keys and strings that must never show.
    fn secrets(&self) -> Vec<Secret> {
        let telethon = tgclient::import::telethon::read_file(&self.telethon_file).unwrap();
        let pyrogram = tgclient::import::pyrogram::read_file(&self.pyrogram_file).unwrap();
        vec![
            Secret::bytes("Telethon's auth key", telethon.auth_key.as_bytes()),
            Secret::bytes("Pyrogram's auth key", pyrogram.auth_key.as_bytes()),
            Secret::text("the Telethon session string", &self.telethon_string),
            Secret::text("the Pyrogram session string", &self.pyrogram_string),
        ]
    }
}

/// The fixture script of the real clients.
fn sessions_script() -> PathBuf {
    workspace().join("crates/tgdl/tests/interop/make_source_sessions.py")
}

/// Logs Telethon and kurigram in to the server with `phone` (and the 2FA `password`), as
/// `user`, and keeps their sessions under `name`.
fn make_sources(
    env: &Env,
    name: &str,
    (phone, code, password): (&str, &str, Option<&str>),
    user: i64,
) -> Sources {
    let out = env.path(name);
    let answer = run_python(
        &sessions_script(),
        &json!({ "ready_file": env.ready, "out": out, "phone": phone, "code": code,
                 "password": password, "api_id": 4, "api_hash": API_HASH }),
    );
    let made: Value = serde_json::from_str(answer.trim()).unwrap();
    assert_eq!(made["telethon"]["user_id"], user, "{made}");
    assert_eq!(made["pyrogram"]["user_id"], user, "{made}");
    let string = |file: &str| {
        std::fs::read_to_string(out.join(file))
            .unwrap()
            .trim()
            .to_owned()
    };
    Sources {
        telethon_file: out.join("telethon.session"),
        telethon_string: string("telethon.string"),
        pyrogram_file: out.join("pyrogram.session"),
        pyrogram_string: string("pyrogram.string"),
    }
}

/// Alice's sources.
fn alice_sources(env: &Env) -> Sources {
    make_sources(env, "alice-sources", (ALICE_PHONE, ALICE_CODE, None), ALICE)
}

/// The account the real client (`telethon` or `pyrogram`) gets with the session `file`
/// (`get_me`, then the dialogs: a real request on the account's DC), or why it got none.
fn source_user(env: &Env, library: &str, file: &Path) -> Result<i64, String> {
    let answer = try_python(
        &sessions_script(),
        &json!({ "ready_file": env.ready, "check": { "library": library, "file": file } }),
    )?;
    let checked: Value = serde_json::from_str(answer.trim()).unwrap();
    checked["user_id"].as_i64().ok_or(answer)
}

/// Whether the real client still gets `user`'s account with the session `file`.
fn source_works(env: &Env, library: &str, file: &Path, user: i64) -> bool {
    source_user(env, library, file) == Ok(user)
}

/// Logs in with `args` into a new session `name`: a new device of the `(user id,
/// username)` `who`, with tgdl's device info and tgdl's own key, and a command works on it.
fn logs_in_as_a_new_device(
    env: &Env,
    (user, username): (i64, &str),
    name: &str,
    args: &[&str],
    stdin: &str,
) -> Run {
    let before = env.world.authorizations(user);
    let mut full = vec!["login"];
    full.extend_from_slice(args);
    let run = env.tgdl(name, &full, stdin).ok();
    assert_eq!(
        run.stdout.trim(),
        format!("logged in as @{username} (user {user})"),
        "{name}"
    );
    assert!(run.stderr.contains(HANDED_OFF), "{name}: {}", run.text());
    let after = env.world.authorizations(user);
    let new: Vec<_> = after
        .iter()
        .filter(|a| !before.iter().any(|b| b.key_id == a.key_id))
        .collect();
    assert_eq!(new.len(), 1, "{name}: {after:#?}");
    assert_eq!(after.len(), before.len() + 1, "{name}: a login was ended");
    assert!(
        new[0].device_model.starts_with("tgdl"),
        "{name}: {:?}",
        new[0]
    );
    assert_eq!(new[0].api_id, 4, "{name}");
    // tgdl's own key: not one of the source's.
    let keys = session_keys(&env.session(name));
    assert!(
        keys.iter()
            .any(|(_, key)| mtcrypto::AuthKey::from_slice(key).unwrap().key_id() == new[0].key_id),
        "{name}: the new device is not tgdl's key"
    );
    env.chats_work(name);
    run
}

#[test]
fn each_way_in_makes_a_new_device_and_the_source_keeps_working() {
    let env = Env::start();
    let sources = alice_sources(&env);
    // Where Desktop keeps its data on Linux ($XDG_DATA_HOME is the test's home/data).
    let default_place = env.path("home/data/TelegramDesktop/tdata");
    let alice = telethon_account(&sources.telethon_file, ALICE);
    write_tdata(&default_place, "", std::slice::from_ref(&alice));
    let working_dir = env.path("locked");
    let locked = working_dir.join("tdata");
    write_tdata(&locked, PASSCODE, &[alice]);
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    let telethon_file = path(&sources.telethon_file);
    let pyrogram_file = path(&sources.pyrogram_file);

    logs_in_as_a_new_device(&env, ALICE_WHO, "desktop", &["--from-desktop"], "");
    // The folder holding tdata (Desktop's working folder) names it too.
    let piped = logs_in_as_a_new_device(
        &env,
        ALICE_WHO,
        "desktop-stdin",
        &["--from-desktop", &path(&working_dir), "--passcode", "-"],
        &format!("{PASSCODE}\n"),
    );
    assert!(!piped.stderr.contains("wrong"), "{}", piped.text());
    // Without --passcode: asked for (piped here), a wrong guess and then the right one.
    let asked = logs_in_as_a_new_device(
        &env,
        ALICE_WHO,
        "desktop-asked",
        &["--from-desktop", &path(&locked)],
        &format!("{WRONG_PASSCODE}\n{PASSCODE}\n"),
    );
    assert!(asked.stderr.contains("local passcode"), "{}", asked.text());
    assert!(
        asked.stderr.contains("That passcode is wrong."),
        "{}",
        asked.text()
    );
    assert!(source_works(
        &env,
        "telethon",
        &sources.telethon_file,
        ALICE
    ));

    logs_in_as_a_new_device(
        &env,
        ALICE_WHO,
        "telethon",
        &["--from-telethon", &telethon_file],
        "",
    );
    let quiet = logs_in_as_a_new_device(
        &env,
        ALICE_WHO,
        "telethon-stdin",
        &["--from-telethon", "-"],
        &format!("{}\n", sources.telethon_string),
    );
    assert!(!quiet.stderr.contains("`ps`"), "{}", quiet.text());
    assert!(source_works(
        &env,
        "telethon",
        &sources.telethon_file,
        ALICE
    ));

    logs_in_as_a_new_device(
        &env,
        ALICE_WHO,
        "pyrogram",
        &["--from-pyrogram", &pyrogram_file],
        "",
    );
    // A string on the command line works, with a warning.
    let visible = logs_in_as_a_new_device(
        &env,
        ALICE_WHO,
        "pyrogram-argv",
        &["--from-pyrogram", &sources.pyrogram_string],
        "",
    );
    assert!(visible.stderr.contains("`ps`"), "{}", visible.text());
    assert!(source_works(
        &env,
        "pyrogram",
        &sources.pyrogram_file,
        ALICE
    ));

    // A second import into a logged-in session changes nothing.
    let again = env
        .tgdl(
            "telethon",
            &["login", "--from-telethon", &telethon_file],
            "",
        )
        .ok();
    assert!(
        again.stdout.contains("already logged in"),
        "{}",
        again.text()
    );

    let mut secrets = sources.secrets();
    secrets.push(Secret::text("the local passcode", PASSCODE));
    secrets.push(Secret::text("a wrong local passcode", WRONG_PASSCODE));
    for name in [
        "desktop",
        "desktop-stdin",
        "desktop-asked",
        "telethon",
        "telethon-stdin",
        "pyrogram",
        "pyrogram-argv",
    ] {
        for (dc, key) in session_keys(&env.session(name)) {
            secrets.push(Secret::bytes(format!("{name}'s key of DC {dc}"), &key));
        }
    }
    let tokens = env.tokens.lock().unwrap().clone();
    assert!(tokens.len() >= 7, "only {} login tokens", tokens.len());
    for token in &tokens {
        secrets.push(Secret::bytes("a login token", token));
    }
    no_leaks(&env, &secrets);
}

/// Nothing of `secrets` in any output of the test's runs (which did log).
fn no_leaks(env: &Env, secrets: &[Secret]) {
    let output = env.output.lock().unwrap();
    let text = String::from_utf8_lossy(&output);
    for expected in ["DEBUG", "TRACE"] {
        assert!(text.contains(expected), "no {expected} in the output");
    }
    // The argv string was given on purpose: it shows in `ps`, never in the output.
    let found = leaks(secrets, &output);
    assert!(found.is_empty(), "secrets in the output: {found:#?}");
}

#[test]
fn a_shared_key_makes_no_new_device_and_says_what_it_costs() {
    let env = Env::start();
    let sources = alice_sources(&env);
    let before = env.world.authorizations(ALICE).len();
    let run = env
        .tgdl(
            "shared",
            &[
                "login",
                "--from-telethon",
                sources.telethon_file.to_str().unwrap(),
                "--share-key",
            ],
            "",
        )
        .ok();
    assert_eq!(run.stdout.trim(), "logged in as @alice (user 1001)");
    for warned in ["--share-key", "AUTH_KEY_DUPLICATED", "tgdl logout"] {
        assert!(run.stderr.contains(warned), "{warned}: {}", run.text());
    }
    assert!(!run.stderr.contains(HANDED_OFF), "{}", run.text());
    assert_eq!(env.world.authorizations(ALICE).len(), before);
    env.chats_work("shared");
    let telethon = tgclient::import::telethon::read_file(&sources.telethon_file).unwrap();
    assert!(
        session_keys(&env.session("shared"))
            .iter()
            .any(|(_, key)| key.as_slice() == telethon.auth_key.as_bytes()),
        "the session does not hold Telethon's key"
    );
    assert!(source_works(
        &env,
        "telethon",
        &sources.telethon_file,
        ALICE
    ));

    // One login for two programs: tgdl's logout ends Telethon's too ...
    env.tgdl("shared", &["logout"], "").ok();
    assert_eq!(env.world.authorizations(ALICE).len(), before - 1);
    let gone = source_user(&env, "telethon", &sources.telethon_file);
    assert!(gone.is_err(), "Telethon still logged in: {gone:?}");
    // ... and a handoff from a login that is gone fails, writing no session.
    let failed = env
        .tgdl(
            "after-logout",
            &[
                "login",
                "--from-telethon",
                sources.telethon_file.to_str().unwrap(),
            ],
            "",
        )
        .failed();
    assert!(
        failed
            .stderr
            .contains("the Telethon login is not valid any more"),
        "{}",
        failed.text()
    );
    assert!(!env.session("after-logout").exists());
    // Into the logged-out session that exists: left byte for byte as it was.
    let logged_out = std::fs::read(env.session("shared")).unwrap();
    env.tgdl(
        "shared",
        &[
            "login",
            "--from-telethon",
            sources.telethon_file.to_str().unwrap(),
        ],
        "",
    )
    .failed();
    assert_eq!(std::fs::read(env.session("shared")).unwrap(), logged_out);
    assert_eq!(env.world.authorizations(ALICE).len(), before - 1);
    no_leaks(&env, &sources.secrets());
}

#[test]
fn a_2fa_account_asks_for_its_password_after_the_handoff() {
    let env = Env::start();
    let sources = make_sources(
        &env,
        "bob-sources",
        (BOB_PHONE, BOB_CODE, Some(BOB_PASSWORD)),
        BOB,
    );
    let run = logs_in_as_a_new_device(
        &env,
        (BOB, "bob"),
        "bob",
        &["--from-pyrogram", "-"],
        &format!(
            "{}\n{WRONG_PASSWORD}\n{BOB_PASSWORD}\n",
            sources.pyrogram_string
        ),
    );
    for said in ["hint: the long one", "That password is wrong."] {
        assert!(run.stderr.contains(said), "{said}: {}", run.text());
    }
    assert!(
        env.world
            .authorizations(BOB)
            .iter()
            .all(|a| !a.password_pending),
        "a login waits for its password"
    );
    assert!(source_works(&env, "pyrogram", &sources.pyrogram_file, BOB));
    let mut secrets = sources.secrets();
    secrets.push(Secret::text("the 2FA password", BOB_PASSWORD));
    secrets.push(Secret::text("a wrong 2FA password", WRONG_PASSWORD));
    for (dc, key) in session_keys(&env.session("bob")) {
        secrets.push(Secret::bytes(format!("tgdl's key of DC {dc}"), &key));
    }
    no_leaks(&env, &secrets);
}

#[test]
fn a_desktop_folder_with_several_accounts_needs_a_choice_and_each_gets_a_profile() {
    let env = Env::start();
    let sources = alice_sources(&env);
    env.tgdl(
        "carol-source",
        &["login", "--phone", CAROL_PHONE],
        &format!("{CAROL_CODE}\n"),
    )
    .ok();
    let (carol_dc, carol_key) = session_keys(&env.session("carol-source"))
        .into_iter()
        .find(|(dc, _)| *dc == 4)
        .unwrap();
    let tdata = env.path("two/tdata");
    write_tdata(
        &tdata,
        "",
        &[
            telethon_account(&sources.telethon_file, ALICE),
            key_account(carol_dc, CAROL, &carol_key),
        ],
    );
    let folder = tdata.to_str().unwrap();
    let alice_dc = tgclient::import::telethon::read_file(&sources.telethon_file)
        .unwrap()
        .dc_id;

    let run = env
        .tgdl("pick", &["login", "--from-desktop", folder], "")
        .failed();
    for listed in [
        format!("0: user {ALICE}, DC {alice_dc}"),
        format!("1: user {CAROL}, DC 4"),
        "--account".to_owned(),
        folder.to_owned(),
    ] {
        assert!(run.stderr.contains(&listed), "{listed}: {}", run.text());
    }
    assert!(!env.session("pick").exists());

    // One profile per account, chosen by number and by user id.
    let carol = env
        .tgdl_args(
            &[
                "--profile",
                "carol",
                "login",
                "--from-desktop",
                folder,
                "--account",
                "1",
            ],
            "",
        )
        .ok();
    assert_eq!(carol.stdout.trim(), "logged in as @carol (user 1003)");
    let alice = env
        .tgdl_args(
            &[
                "--profile",
                "alice",
                "login",
                "--from-desktop",
                folder,
                "--account",
                &ALICE.to_string(),
            ],
            "",
        )
        .ok();
    assert_eq!(alice.stdout.trim(), "logged in as @alice (user 1001)");
    let profiles = env.tgdl_args(&["profiles", "--json"], "").ok();
    let listed: Vec<(String, i64)> = profiles
        .stdout
        .lines()
        .map(|line| {
            let row: Value = serde_json::from_str(line).unwrap();
            (
                row["profile"].as_str().unwrap().to_owned(),
                row["user_id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [("alice".to_owned(), ALICE), ("carol".to_owned(), CAROL)],
        "{}",
        profiles.text()
    );
    // Logging out one profile ends only tgdl's login of that account: the other profile
    // and the login Desktop's folder came from keep working.
    let carol_logins = env.world.authorizations(CAROL).len();
    env.tgdl_args(&["--profile", "carol", "logout"], "").ok();
    assert_eq!(env.world.authorizations(CAROL).len(), carol_logins - 1);
    env.tgdl_args(&["--profile", "alice", "chats"], "").ok();
    env.chats_work("carol-source");

    let missing = env
        .tgdl(
            "none",
            &["login", "--from-desktop", folder, "--account", "5"],
            "",
        )
        .failed();
    assert!(
        missing.stderr.contains("no account 5"),
        "{}",
        missing.text()
    );
    assert!(!env.session("none").exists());

    let mut secrets = sources.secrets();
    secrets.push(Secret::bytes("Carol's key in the tdata folder", &carol_key));
    let profiles = env.path("home/data/tgdl");
    for name in ["alice", "carol"] {
        for (dc, key) in session_keys(&profiles.join(format!("{name}.session"))) {
            secrets.push(Secret::bytes(
                format!("profile {name}'s key of DC {dc}"),
                &key,
            ));
        }
    }
    no_leaks(&env, &secrets);
}
