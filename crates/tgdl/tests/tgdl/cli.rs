//! The `tgdl` binary against localdc serving `fixtures/cli.json`: logins (code, 2FA, bot
//! token, QR), chats, history (limits, date ranges, every way of naming a chat), search
//! (per chat, global, by media type), logout, and the errors users meet, among them an
//! output that cannot be written (a full disk, a closed pipe). Expectations are computed
//! from the fixture.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use localdc::world::fixture::{AppSpec, AttributeSpec, ChatKind, ChatSpec, MediaSpec, MessageSpec};
use localdc::world::{Fixture, World};
use localdc::{Config, Registry, RunningServer, Server};
use serde_json::{Value, json};

const FIXTURE: &str = include_str!("../fixtures/cli.json");
/// Longest a single run of the binary may take.
const RUN_LIMIT: Duration = Duration::from_secs(90);
/// Day starts (UTC) of the fixture's dates.
const NOV_15: i32 = 1_700_006_400;
const NOV_17: i32 = 1_700_179_200;

struct Env {
    runtime: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    fixture: Fixture,
    dir: tempfile::TempDir,
    ready: PathBuf,
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Self {
        assert_eq!(
            self.code,
            Some(0),
            "tgdl failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    fn failed(self) -> Self {
        assert!(
            self.code.is_some_and(|c| c != 0),
            "tgdl should have failed (status {:?})\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked"),
            "tgdl panicked: {}",
            self.stderr
        );
        self
    }

    fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }

    fn ids(&self) -> Vec<i64> {
        self.json_lines()
            .iter()
            .map(|m| m["id"].as_i64().unwrap())
            .collect()
    }
}

impl Env {
    fn start() -> Self {
        Self::start_with(Fixture::from_json(FIXTURE).unwrap())
    }

    fn start_with(fixture: Fixture) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let world = Arc::new(World::from_fixture(fixture.clone()).unwrap());
        let server = runtime.block_on(async {
            let mut registry = Registry::with_defaults();
            localdc::world::register(&mut registry, world);
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
            fixture,
            dir,
            ready,
        }
    }

    fn session(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.session"))
    }

    /// Runs tgdl against the server with `session`, the credentials set, `stdin` piped.
    fn tgdl(&self, session: &str, args: &[&str], stdin: &str) -> Run {
        run_with_limit(self.tgdl_command(session, args), stdin)
    }

    /// The command of [`Env::tgdl`], for a test to change before running it.
    fn tgdl_command(&self, session: &str, args: &[&str]) -> Command {
        self.tgdl_command_as(session, args, ("4", "0123456789abcdef"))
    }

    /// [`Env::tgdl_command`] with the app's `(api_id, api_hash)`.
    fn tgdl_command_as(&self, session: &str, args: &[&str], app: (&str, &str)) -> Command {
        let session = self.session(session);
        let mut full = vec![
            "--server",
            self.ready.to_str().unwrap(),
            "--session",
            session.to_str().unwrap(),
        ];
        full.extend_from_slice(args);
        self.command(&full, &[("TGDL_API_ID", app.0), ("TGDL_API_HASH", app.1)])
    }

    /// Runs tgdl with `args` only, HOME and the XDG dirs inside the test's directory.
    fn run(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
        run_with_limit(self.command(args, env), stdin)
    }

    /// The command of [`Env::run`], its standard streams piped.
    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let home = self.dir.path().join("home");
        let mut command = Command::new(env!("CARGO_BIN_EXE_tgdl"));
        command
            .args(args)
            .env_remove("TGDL_API_ID")
            .env_remove("TGDL_API_HASH")
            .env_remove("TGDL_BOT_TOKEN")
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    fn chat(&self, id: i64) -> &ChatSpec {
        self.fixture.chats.iter().find(|c| c.id == id).unwrap()
    }

    fn login_alice(&self) {
        let run = self
            .tgdl("alice", &["login", "--phone", "15550001"], "12345\n")
            .ok();
        assert_eq!(run.stdout.trim(), "logged in as @alice (user 1001)");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

/// Reads all of `stream` on a thread; an empty text for a stream that is not piped.
fn read_all(stream: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut stream) = stream {
            stream.read_to_string(&mut text).unwrap();
        }
        text
    })
}

/// Runs `command` with `stdin`, killing it past [`RUN_LIMIT`].
fn run_with_limit(mut command: Command, stdin: &str) -> Run {
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    // The binary may exit without reading everything (a refused flag).
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let out_reader = read_all(child.stdout.take());
    let err_reader = read_all(child.stderr.take());
    let deadline = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "tgdl took longer than {RUN_LIMIT:?}: {:?}\nstderr:\n{}",
                command,
                err_reader.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// The Bot API id of a fixture chat.
fn marked(chat: &ChatSpec) -> i64 {
    match chat.kind {
        ChatKind::Group => -chat.id,
        ChatKind::Supergroup | ChatKind::Channel => -(1_000_000_000_000 + chat.id),
    }
}

/// What `tgdl history` must print for a fixture message (without `date_iso`, checked
/// separately against hand-computed values).
fn expected_message(chat: &ChatSpec, m: &MessageSpec) -> Value {
    let media = m.media.as_ref().map(|media| match media {
        MediaSpec::Photo(photo) => json!({
            "type": "photo",
            "file_name": null,
            "mime_type": "image/jpeg",
            "size": photo.sizes.iter().map(|s| s.size).max(),
            "dc_id": photo.dc,
        }),
        MediaSpec::Document(doc) => {
            let mut kind = "document";
            let mut file_name = None;
            for attribute in &doc.attributes {
                match attribute {
                    AttributeSpec::FileName { file_name: name } => file_name = Some(name.clone()),
                    AttributeSpec::Video { round, .. } => {
                        kind = if *round { "round" } else { "video" };
                    }
                    AttributeSpec::Audio { voice, .. } => {
                        kind = if *voice { "voice" } else { "audio" };
                    }
                    _ => {}
                }
            }
            json!({
                "type": kind,
                "file_name": file_name,
                "mime_type": doc.mime_type,
                "size": doc.size,
                "dc_id": doc.dc,
            })
        }
    });
    json!({
        "chat_id": marked(chat),
        "id": m.id,
        "date": m.date,
        "from_id": m.from,
        "text": m.text,
        "reply_to": m.reply_to,
        "grouped_id": m.grouped_id,
        "edit_date": m.edit_date,
        "forwarded": m.fwd_from.is_some(),
        "service": false,
        "media": media,
    })
}

/// The fixture's messages of `chat` that `keep` selects, newest first, as printed.
fn expected_history(chat: &ChatSpec, keep: impl Fn(&MessageSpec) -> bool) -> Vec<Value> {
    let mut messages: Vec<&MessageSpec> = chat.messages.iter().filter(|m| keep(m)).collect();
    messages.sort_by_key(|m| std::cmp::Reverse(m.id));
    messages
        .into_iter()
        .map(|m| expected_message(chat, m))
        .collect()
}

/// The printed messages without `date_iso`.
fn without_iso(messages: Vec<Value>) -> Vec<Value> {
    messages
        .into_iter()
        .map(|mut m| {
            assert!(m["date_iso"].is_string(), "{m}");
            m.as_object_mut().unwrap().remove("date_iso");
            m
        })
        .collect()
}

/// Telegram's (and localdc's) word-prefix matching.
fn text_matches(query: &str, text: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .any(|w| !w.is_empty() && w.to_lowercase().starts_with(query))
}

#[test]
fn code_login_then_chats_history_search_and_logout() {
    let env = Env::start();
    env.login_alice();
    let again = env.tgdl("alice", &["login"], "").ok();
    assert!(
        again.stdout.contains("already logged in as @alice"),
        "{}",
        again.stdout
    );

    // chats: exactly alice's chats, newest activity first.
    let mut mine: Vec<&ChatSpec> = env
        .fixture
        .chats
        .iter()
        .filter(|c| c.members.contains(&1001) || c.creator == 1001)
        .collect();
    mine.sort_by_key(|c| {
        let top = c.messages.iter().max_by_key(|m| m.id).unwrap();
        std::cmp::Reverse((top.date, top.id, marked(c)))
    });
    let expected_chats: Vec<Value> = mine
        .iter()
        .map(|c| {
            json!({
                "id": marked(c),
                "kind": match c.kind {
                    ChatKind::Group => "group",
                    ChatKind::Supergroup => "supergroup",
                    ChatKind::Channel => "channel",
                },
                "title": c.title,
                "username": c.username,
            })
        })
        .collect();
    let chats = env.tgdl("alice", &["chats", "--json"], "").ok();
    assert_eq!(chats.json_lines(), expected_chats);
    let limited = env
        .tgdl("alice", &["chats", "--json", "--limit", "2"], "")
        .ok();
    assert_eq!(limited.json_lines(), expected_chats[..2].to_vec());
    let table = env.tgdl("alice", &["chats"], "").ok();
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), mine.len() + 1, "{}", table.stdout);
    assert!(lines[0].contains("ID") && lines[0].contains("TITLE"));
    for (line, chat) in lines[1..].iter().zip(&mine) {
        assert!(
            line.trim_start().starts_with(&marked(chat).to_string()),
            "{line}"
        );
        assert!(line.contains(&chat.title), "{line}");
        if let Some(name) = &chat.username {
            assert!(line.ends_with(&format!("@{name}")), "{line}");
        }
    }

    // history: the newest N, then everything, by every way of naming the chat.
    let news = env.chat(501);
    let all_news = expected_history(news, |_| true);
    let newest = env
        .tgdl("alice", &["history", "@archive_news", "--limit", "3"], "")
        .ok();
    assert_eq!(without_iso(newest.json_lines()), all_news[..3].to_vec());
    let full = env
        .tgdl("alice", &["history", "https://t.me/archive_news"], "")
        .ok();
    let printed = full.json_lines();
    assert_eq!(without_iso(printed.clone()), all_news);
    let iso = |id: i64| {
        printed.iter().find(|m| m["id"] == id).unwrap()["date_iso"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(iso(2), "2023-11-14T23:59:59Z");
    assert_eq!(iso(3), "2023-11-15T00:00:00Z");
    let team = env.chat(502);
    for reference in ["https://t.me/+TeamInvite1", "-1000000000502"] {
        let run = env.tgdl("alice", &["history", reference], "").ok();
        assert_eq!(
            without_iso(run.json_lines()),
            expected_history(team, |_| true)
        );
    }
    let friends = env.chat(503);
    let run = env.tgdl("alice", &["history", "-503"], "").ok();
    assert_eq!(
        without_iso(run.json_lines()),
        expected_history(friends, |_| true)
    );
    // Inside a takeout session: the same messages.
    let run = env
        .tgdl("alice", &["history", "-503", "--takeout"], "")
        .ok();
    assert_eq!(
        without_iso(run.json_lines()),
        expected_history(friends, |_| true)
    );

    // Date ranges: whole days (inclusive to the last second), RFC 3339, one-sided.
    let in_range =
        |from: i32, to: i32| expected_history(news, move |m| m.date >= from && m.date <= to);
    let days = env
        .tgdl(
            "alice",
            &[
                "history",
                "@archive_news",
                "--from-date",
                "2023-11-15",
                "--to-date",
                "2023-11-16",
            ],
            "",
        )
        .ok();
    let expected = in_range(NOV_15, NOV_17 - 1);
    assert_eq!(
        expected
            .iter()
            .map(|m| m["id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [7, 6, 5, 4, 3]
    );
    assert_eq!(without_iso(days.json_lines()), expected);
    let rfc = env
        .tgdl(
            "alice",
            &[
                "history",
                "@archive_news",
                "--from-date",
                "2023-11-15T02:00:00+02:00",
                "--to-date",
                "2023-11-16T23:59:59Z",
            ],
            "",
        )
        .ok();
    assert_eq!(without_iso(rfc.json_lines()), expected);
    let since = env
        .tgdl(
            "alice",
            &["history", "@archive_news", "--from-date", "2023-11-17"],
            "",
        )
        .ok();
    assert_eq!(without_iso(since.json_lines()), in_range(NOV_17, i32::MAX));
    let until = env
        .tgdl(
            "alice",
            &[
                "history",
                "@archive_news",
                "--to-date",
                "2023-11-15",
                "--limit",
                "2",
            ],
            "",
        )
        .ok();
    assert_eq!(
        without_iso(until.json_lines()),
        in_range(0, NOV_17 - 86_400 - 1)[..2].to_vec()
    );
    let backwards = env
        .tgdl(
            "alice",
            &[
                "history",
                "@archive_news",
                "--from-date",
                "2023-11-16",
                "--to-date",
                "2023-11-15",
            ],
            "",
        )
        .failed();
    assert!(
        backwards.stderr.contains("--from-date is after --to-date"),
        "{}",
        backwards.stderr
    );

    // Search in one chat: by text, by media type.
    let found = env
        .tgdl(
            "alice",
            &["search", "report", "--chat", "@archive_news"],
            "",
        )
        .ok();
    assert_eq!(
        without_iso(found.json_lines()),
        expected_history(news, |m| text_matches("report", &m.text))
    );
    for (kind, expected_ids) in [
        ("photo", vec![6, 5, 2]),
        ("video", vec![4]),
        ("document", vec![3]),
        ("voice", vec![7]),
        ("music", vec![8]),
        ("url", vec![9]),
    ] {
        let run = env
            .tgdl(
                "alice",
                &["search", "", "--chat", "@archive_news", "--type", kind],
                "",
            )
            .ok();
        assert_eq!(run.ids(), expected_ids, "--type {kind}");
    }
    let limited = env
        .tgdl(
            "alice",
            &[
                "search",
                "report",
                "--chat",
                "@archive_news",
                "--limit",
                "2",
            ],
            "",
        )
        .ok();
    assert_eq!(limited.ids(), [9, 7]);

    // Global search: alice's chats only, newest first.
    let global = env.tgdl("alice", &["search", "report"], "").ok();
    let printed = global.json_lines();
    let mut got: Vec<(i64, i64)> = printed
        .iter()
        .map(|m| (m["chat_id"].as_i64().unwrap(), m["id"].as_i64().unwrap()))
        .collect();
    let dates: Vec<i64> = printed
        .iter()
        .map(|m| m["date"].as_i64().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");
    let mut expected: Vec<(i64, i64)> = mine
        .iter()
        .flat_map(|c| {
            c.messages
                .iter()
                .filter(|m| text_matches("report", &m.text))
                .map(|m| (marked(c), i64::from(m.id)))
        })
        .collect();
    got.sort_unstable();
    expected.sort_unstable();
    assert_eq!(got, expected);
    let empty = env.tgdl("alice", &["search", " "], "").failed();
    assert!(
        empty.stderr.contains("give words to search for"),
        "{}",
        empty.stderr
    );

    // A chat that does not exist, and one that is not alice's.
    let missing = env.tgdl("alice", &["history", "@nobody_here"], "").failed();
    assert!(
        missing.stderr.contains("chat not found: @nobody_here"),
        "{}",
        missing.stderr
    );
    let unknown_id = env
        .tgdl("alice", &["history", "-1000000000999"], "")
        .failed();
    assert!(
        unknown_id.stderr.contains("chat not found"),
        "{}",
        unknown_id.stderr
    );
    let not_a_chat = env
        .tgdl("alice", &["history", "https://example.com/x"], "")
        .failed();
    assert!(
        not_a_chat.stderr.contains("does not name a chat"),
        "{}",
        not_a_chat.stderr
    );

    // Logout, after which the session has no login.
    let out = env.tgdl("alice", &["logout"], "").ok();
    assert!(out.stdout.contains("logged out @alice"), "{}", out.stdout);
    let after = env.tgdl("alice", &["chats"], "").failed();
    assert!(
        after.stderr.contains("not logged in; run `tgdl login`"),
        "{}",
        after.stderr
    );
    let history = env
        .tgdl("alice", &["history", "@archive_news"], "")
        .failed();
    assert!(
        history.stderr.contains("not logged in"),
        "{}",
        history.stderr
    );
}

#[test]
fn two_factor_login_refuses_a_wrong_password_and_accepts_the_right_one() {
    let env = Env::start();
    let wrong_code = env
        .tgdl("bob", &["login", "--phone", "15550002"], "00000\n")
        .failed();
    assert!(
        wrong_code.stderr.contains("the code is wrong"),
        "{}",
        wrong_code.stderr
    );
    let wrong = env
        .tgdl("bob", &["login", "--phone", "15550002"], "54321\nnot-it\n")
        .failed();
    assert!(wrong.stderr.contains("hint: the usual"), "{}", wrong.stderr);
    assert!(
        wrong
            .stderr
            .contains("error: login failed: the 2FA password is wrong"),
        "{}",
        wrong.stderr
    );
    assert!(!wrong.stderr.contains("not-it"), "the password was echoed");
    let not_logged = env.tgdl("bob", &["chats"], "").failed();
    assert!(
        not_logged.stderr.contains("not logged in"),
        "{}",
        not_logged.stderr
    );
    let right = env
        .tgdl(
            "bob",
            &["login", "--phone", "+1 555 0002"],
            "54321\nnope\nhunter2\n",
        )
        .ok();
    assert!(
        right.stderr.contains("That password is wrong."),
        "{}",
        right.stderr
    );
    assert_eq!(right.stdout.trim(), "logged in as @bob (user 1002)");
    // Bob's home DC is 4: the session follows him there.
    let chats = env.tgdl("bob", &["chats", "--json"], "").ok();
    let ids: Vec<i64> = chats
        .json_lines()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    let mut expected: Vec<i64> = env
        .fixture
        .chats
        .iter()
        .filter(|c| c.members.contains(&1002) || c.creator == 1002)
        .map(marked)
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    expected.sort_unstable();
    assert_eq!(sorted, expected);
}

#[test]
fn bot_token_and_qr_logins() {
    let env = Env::start();
    let bad = env
        .tgdl("bot", &["login", "--bot-token", "2001:wrong"], "")
        .failed();
    assert!(bad.stderr.contains("bot token"), "{}", bad.stderr);
    let bot = env
        .tgdl("bot", &["login", "--bot-token", "2001:archive-token"], "")
        .ok();
    assert_eq!(bot.stdout.trim(), "logged in as @archive_bot (bot 2001)");
    assert!(!bot.stderr.contains("archive-token"), "{}", bot.stderr);
    // The fixture's scripted second device (carol) accepts every QR code.
    let qr = env.tgdl("qr", &["login", "--qr"], "").ok();
    assert!(qr.stderr.contains("tg://login?token="), "{}", qr.stderr);
    assert!(
        qr.stderr.contains('█') || qr.stderr.contains('▀'),
        "no QR code drawn"
    );
    assert_eq!(qr.stdout.trim(), "logged in as @carol (user 1003)");
}

/// A file on a full disk: every write fails with ENOSPC.
#[cfg(target_os = "linux")]
fn full_disk() -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn output_that_cannot_be_written_fails_cleanly_and_a_closed_pipe_ends_quietly() {
    let env = Env::start();
    env.login_alice();
    // The table, JSON lines, a single line: each fails with the reason, not a panic (101).
    for args in [
        &["chats"][..],
        &["chats", "--json"],
        &["history", "@archive_news", "--limit", "3"],
        &["login"],
    ] {
        let mut command = env.tgdl_command("alice", args);
        command.stdout(full_disk());
        let run = run_with_limit(command, "");
        assert_eq!(run.code, Some(1), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("error: cannot write to stdout")
                && run.stderr.contains("No space left on device"),
            "{args:?}: {}",
            run.stderr
        );
    }
    // Progress lines of a download: the files still arrive, the summary is said, then the
    // run fails.
    let out = env.dir.path().join("downloads");
    let mut command = env.tgdl_command(
        "alice",
        &[
            "download",
            "-1000000000502",
            "--json",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    command.stdout(full_disk());
    let run = run_with_limit(command, "");
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("1 downloaded") && run.stderr.contains("error: cannot write to stdout"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    // Nowhere to report the error either: still a plain failure.
    let mut command = env.tgdl_command("alice", &["chats"]);
    command.stdout(full_disk()).stderr(full_disk());
    assert_eq!(run_with_limit(command, "").code, Some(1));
    // Messages on stderr are not worth failing for.
    let mut command = env.tgdl_command("nobody", &["logout"]);
    command.stderr(full_disk());
    assert_eq!(run_with_limit(command, "").code, Some(0));

    // The reader went away (`tgdl history ... | head`): success, and nothing said.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut command = env.tgdl_command("alice", &["history", "@archive_news"]);
    command.stdout(writer);
    let run = run_with_limit(command, "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stderr, "");
}

#[test]
fn credentials_profiles_and_usage_errors() {
    let env = Env::start();
    let ready = env.ready.to_str().unwrap().to_owned();
    let missing = env.run(&["--server", &ready, "chats"], "", &[]).failed();
    assert!(
        missing.stderr.contains("https://my.telegram.org/apps"),
        "{}",
        missing.stderr
    );
    assert!(missing.stderr.contains("TGDL_API_ID"), "{}", missing.stderr);
    assert!(missing.stderr.contains("config.toml"), "{}", missing.stderr);

    // Credentials from the config file; the session in the profile's data directory.
    let config_dir = env.dir.path().join("home/config/tgdl");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.toml"),
        "api_id = 4\napi_hash = \"abc\"\n",
    )
    .unwrap();
    let login = env
        .run(
            &[
                "--server",
                &ready,
                "--profile",
                "work",
                "login",
                "--phone",
                "15550001",
            ],
            "12345\n",
            &[],
        )
        .ok();
    assert!(login.stdout.contains("@alice"), "{}", login.stdout);
    let data_dir = env.dir.path().join("home/data/tgdl");
    assert!(data_dir.join("work.session").is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&data_dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    let default_profile = env.run(&["--server", &ready, "chats"], "", &[]).failed();
    assert!(
        default_profile.stderr.contains("not logged in"),
        "{}",
        default_profile.stderr
    );
    let bad_profile = env
        .run(&["--server", &ready, "--profile", "../x", "chats"], "", &[])
        .failed();
    assert!(
        bad_profile.stderr.contains("invalid profile name"),
        "{}",
        bad_profile.stderr
    );

    // Usage errors are clap's: status 2.
    for args in [
        &["history", "--bogus"][..],
        &["search", "x", "--type", "nope"],
        &["history"],
        &["--session", "a", "--profile", "b", "chats"],
        &["login", "--phone", "1", "--qr"],
        // Typed flags: a bad value fails while parsing, before credentials, a session or a
        // connection (this environment has no credentials, so anything later would fail on
        // those instead).
        &["download", "@x", "--from-date", "yesterday"],
        &["download", "@x", "--to-date", "2024-02-30"],
        &["download", "@x", "--type", "photo,hologram"],
        &["download", "@x", "--min-size", "big"],
        &["download", "@x", "--max-size", "5 parsecs"],
        &["history", "@x", "--from-date", "2024-13-01"],
        &["download", "@x", "--template", "{nope}"],
    ] {
        let run = env.run(args, "", &[]);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert!(
            !run.stderr.contains("TGDL_API_ID"),
            "{args:?}: {}",
            run.stderr
        );
    }
    // Ranges that are empty are refused before anything is opened too.
    for (args, message) in [
        (
            &["download", "@x", "--min-size", "2M", "--max-size", "1M"][..],
            "--min-size is larger than --max-size",
        ),
        (
            &[
                "history",
                "@x",
                "--from-date",
                "2024-01-02",
                "--to-date",
                "2024-01-01",
            ],
            "--from-date is after --to-date",
        ),
    ] {
        let run = env.run(args, "", &[]).failed();
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
        assert!(
            !run.stderr.contains("TGDL_API_ID"),
            "{args:?}: {}",
            run.stderr
        );
    }

    // A server that is not there, and a server file that is not one.
    let nowhere = env.dir.path().join("nowhere.json");
    std::fs::write(
        &nowhere,
        json!({"dcs": [{"id": 2, "host": "127.0.0.1", "port": 1}],
        "rsa_public_key_pem": env.server.as_ref().unwrap().public_key_pem()})
        .to_string(),
    )
    .unwrap();
    let unreachable = env
        .run(
            &[
                "--server",
                nowhere.to_str().unwrap(),
                "--session",
                &session_str(&env, "x"),
                "login",
                "--phone",
                "15550001",
            ],
            "12345\n",
            &[("TGDL_API_ID", "4"), ("TGDL_API_HASH", "abc")],
        )
        .failed();
    assert!(
        unreachable.stderr.contains("cannot connect to Telegram"),
        "{}",
        unreachable.stderr
    );
    let garbage = env.dir.path().join("garbage.json");
    std::fs::write(&garbage, "not json").unwrap();
    let run = env
        .run(
            &["--server", garbage.to_str().unwrap(), "chats"],
            "",
            &[("TGDL_API_ID", "4"), ("TGDL_API_HASH", "abc")],
        )
        .failed();
    assert!(
        run.stderr.contains("is not a server ready file"),
        "{}",
        run.stderr
    );
}

fn session_str(env: &Env, name: &str) -> String {
    let path: &Path = &env.session(name);
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_phone_number_without_an_account_is_told_to_sign_up_in_an_app() {
    let env = Env::start();
    // Telegram texts a code to a number with no account; the right code (the fixture's
    // default for such numbers) answers auth.authorizationSignUpRequired.
    let run = env
        .tgdl("new", &["login", "--phone", "+1 555 0099"], "12345\n")
        .failed();
    assert!(run.stderr.contains("sent by SMS"), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "error: login failed: this phone number has no Telegram account; sign it up in \
             an official Telegram app first (tgdl does not create accounts)"
        ),
        "{}",
        run.stderr
    );
    let after = env.tgdl("new", &["chats"], "").failed();
    assert!(after.stderr.contains("not logged in"), "{}", after.stderr);
}

#[test]
fn refused_logins_say_which_refusal_and_why() {
    let mut fixture = Fixture::from_json(FIXTURE).unwrap();
    fixture.revoked_bot_tokens = vec!["2001:revoked-token".into()];
    fixture.apps = vec![AppSpec {
        api_id: 4,
        api_hash: "0123456789abcdef".into(),
    }];
    let env = Env::start_with(fixture);
    let login = |token: &str, app: (&str, &str)| {
        let command = env.tgdl_command_as("bot", &["login", "--bot-token", token], app);
        run_with_limit(command, "").failed()
    };
    let app = ("4", "0123456789abcdef");
    for (token, app, advice, cause) in [
        (
            "2001:wrong",
            app,
            "the bot token is wrong, no bot has it; copy it again from @BotFather",
            "ACCESS_TOKEN_INVALID",
        ),
        (
            "2001:revoked-token",
            app,
            "this bot token was revoked in @BotFather",
            "ACCESS_TOKEN_EXPIRED",
        ),
        (
            "2001:archive-token",
            ("4", "fedcba9876543210"),
            "Telegram does not accept this api_id/api_hash pair",
            "API_ID_INVALID",
        ),
    ] {
        let run = login(token, app);
        assert!(
            run.stderr
                .contains(&format!("error: login failed: {advice}")),
            "{token}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(cause), "{token}: {}", run.stderr);
        assert!(!run.stderr.contains(token), "the token is not shown");
    }
    // An app Telegram does not know is refused whichever way the login goes.
    let other_app = ("4", "fedcba9876543210");
    for args in [&["login", "--phone", "15550001"][..], &["login", "--qr"]] {
        let command = env.tgdl_command_as("app", args, other_app);
        let run = run_with_limit(command, "12345\n").failed();
        assert!(
            run.stderr.contains(
                "error: login failed: Telegram does not accept this api_id/api_hash pair"
            ),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stderr.contains("API_ID_INVALID"), "{}", run.stderr);
    }
    // The registered app with the current token logs in.
    let bot = env
        .tgdl("bot", &["login", "--bot-token", "2001:archive-token"], "")
        .ok();
    assert_eq!(bot.stdout.trim(), "logged in as @archive_bot (bot 2001)");
}

#[test]
fn profiles_name_their_accounts_and_logout_ends_only_the_one_named() {
    let env = Env::start();
    let ready = env.ready.to_str().unwrap().to_owned();
    let creds = [("TGDL_API_ID", "4"), ("TGDL_API_HASH", "abc")];
    let in_profile = |profile: &str, args: &[&str], stdin: &str| {
        let mut full = vec!["--server", ready.as_str(), "--profile", profile];
        full.extend_from_slice(args);
        env.run(&full, stdin, &creds)
    };
    let none = env.run(&["profiles"], "", &[]).ok();
    assert!(none.stdout.is_empty(), "{}", none.stdout);
    assert!(none.stderr.contains("no profiles"), "{}", none.stderr);

    in_profile("work", &["login", "--phone", "15550001"], "12345\n").ok();
    in_profile(
        "robot",
        &["login", "--bot-token", "-"],
        "2001:archive-token\n",
    )
    .ok();
    // No server, no credentials needed: the files say who is logged in.
    let table = env.run(&["--profile", "robot", "profiles"], "", &[]).ok();
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", table.stdout);
    assert!(lines[1].starts_with("* robot") && lines[1].contains("@archive_bot (bot 2001)"));
    assert!(lines[2].starts_with("  work") && lines[2].contains("@alice (user 1001)"));
    let json = env.run(&["profiles", "--json"], "", &[]).ok().json_lines();
    assert_eq!(json[1]["profile"], "work");
    assert_eq!(json[1]["user_id"], 1001);
    assert_eq!(json[1]["dc"], 2);
    assert_eq!(json[1]["selected"], false);

    let out = in_profile("work", &["logout"], "").ok();
    assert_eq!(out.stdout.trim(), "logged out @alice (user 1001)");
    let gone = in_profile("work", &["chats"], "").failed();
    assert!(gone.stderr.contains("not logged in"), "{}", gone.stderr);
    // The other profile's login is untouched, as the server sees it.
    let still = in_profile("robot", &["login"], "").ok();
    assert!(
        still.stdout.contains("already logged in as @archive_bot"),
        "{}",
        still.stdout
    );
    let after = env.run(&["profiles", "--json"], "", &[]).ok().json_lines();
    assert_eq!(after[0]["user_id"], 2001);
    assert!(after[1]["user_id"].is_null());

    let typo = in_profile("wrok", &["logout"], "").failed();
    assert!(
        typo.stderr.contains("no profile \"wrok\""),
        "{}",
        typo.stderr
    );
    assert!(!env.dir.path().join("home/data/tgdl/wrok.session").exists());
}
