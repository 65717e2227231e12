//! Telegram Desktop's export format in and out, against localdc: `tgdl export` writes
//! Desktop's `result.json` and folders, `tgdl download --from-export` reads it back (and
//! tdl's export) and fetches the same files; a rerun of the export appends; a damaged
//! file stops everything before a single request; the real exports kept as fixtures read.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use localdc::rpc::CallCounts;
use localdc::world::{FileKey, Fixture, World};
use localdc::{Config, Registry, RunningServer, Server, WanProfile};
use serde_json::{Value, json};
use tgclient::PeerKind;
use tgdl::desktop_export::model::{ExportKind, ExportMessage, PeerCandidates};
use tgdl::desktop_export::reader;
use tl_types::api::{enums, functions, types};
use tl_types::{Deserialize, Identifiable, Serialize};

use super::download::{files_under, finish, sha256_of};

const CHANNEL: i64 = 702;
/// Messages 11.. are small documents, enough for two `channels.getMessages` batches.
const SMALL_FILES: i64 = 120;
const LAST_ID: i64 = 10 + SMALL_FILES;

fn document(id: i64, size: u64, mime: &str, attributes: &Value) -> Value {
    json!({ "type": "document", "id": id, "dc": 2, "size": size, "mime_type": mime,
            "attributes": attributes })
}

/// A public channel with one message of every kind of media Desktop tells apart, a
/// reply, a forward and an edit, then many small files; `report` is the size of the
/// document of message 2.
fn fixture(report: u64) -> Fixture {
    let date = |id: i64| 1_700_000_000 + id * 60;
    let mut messages = vec![
        json!({ "id": 1, "date": date(1), "text": "harbour",
                "media": { "type": "photo", "id": 501, "dc": 2, "sizes": [
                    { "type": "m", "w": 320, "h": 240, "size": 4000 },
                    { "type": "y", "w": 1280, "h": 960, "size": 60_000 } ] } }),
        json!({ "id": 2, "date": date(2), "text": "the report", "reply_to": 1,
                "media": document(601, report, "application/pdf",
                    &json!([{ "type": "file_name", "file_name": "report.pdf" }])) }),
        json!({ "id": 3, "date": date(3), "text": "",
                "media": document(602, 90_000, "video/mp4",
                    &json!([{ "type": "video", "duration": 12.5, "w": 640, "h": 360 }])) }),
        json!({ "id": 4, "date": date(4), "text": "",
                "media": document(603, 8000, "audio/ogg",
                    &json!([{ "type": "audio", "duration": 7, "voice": true }])) }),
        json!({ "id": 5, "date": date(5), "text": "",
                "media": document(604, 20_000, "video/mp4",
                    &json!([{ "type": "video", "duration": 5.0, "w": 240, "h": 240, "round": true }])) }),
        json!({ "id": 6, "date": date(6), "text": "",
                "media": document(605, 9000, "image/webp",
                    &json!([{ "type": "sticker", "alt": "😀" }, { "type": "image_size", "w": 512, "h": 512 }])) }),
        json!({ "id": 7, "date": date(7), "text": "",
                "media": document(606, 30_000, "video/mp4",
                    &json!([{ "type": "animated" }, { "type": "video", "duration": 3.0, "w": 320, "h": 240 }])) }),
        json!({ "id": 8, "date": date(8), "text": "",
                "media": document(607, 50_000, "audio/mpeg",
                    &json!([{ "type": "audio", "duration": 200, "title": "Song", "performer": "Band" },
                           { "type": "file_name", "file_name": "song.mp3" }])) }),
        json!({ "id": 9, "date": date(9), "text": "forwarded words",
                "fwd_from": { "from_user": 1001, "date": 1_600_000_000 } }),
        json!({ "id": 10, "date": date(10), "text": "notes, fixed", "edit_date": date(10) + 30,
                "media": document(608, 3000, "text/plain",
                    &json!([{ "type": "file_name", "file_name": "notes.txt" }])) }),
    ];
    for i in 0..SMALL_FILES {
        let id = 11 + i;
        messages.push(
            json!({ "id": id, "date": date(id), "text": format!("part {i}"),
            "media": document(700 + i, 1000, "application/octet-stream",
                &json!([{ "type": "file_name", "file_name": format!("n{i}.bin") }])) }),
        );
    }
    let fixture = json!({
        "seed": 9,
        "users": [ { "id": 1001, "first_name": "Alice", "username": "alice", "phone": "15550001" },
                   { "id": 1002, "first_name": "Bob", "last_name": "Stone", "username": "bob" } ],
        "private_chats": [ { "user": 1001, "peer": 1002, "messages": [
            { "id": 501, "date": date(501), "from": 1002, "text": "from bob",
              "media": document(901, 5000, "text/plain",
                  &json!([{ "type": "file_name", "file_name": "bob.txt" }])) },
            { "id": 502, "date": date(502), "from": 1001, "text": "",
              "media": { "type": "photo", "id": 902, "dc": 2, "sizes": [
                  { "type": "x", "w": 800, "h": 600, "size": 7000 } ] } } ] } ],
        "accounts": [ { "phone": "15550001", "user_id": 1001, "code": "12345", "home_dc": 2 } ],
        "chats": [ { "id": CHANNEL, "kind": "channel", "title": "Archive", "username": "archive",
                     "creator": 1001, "members": [1001], "date": 1_700_000_000, "messages": messages } ]
    });
    Fixture::from_json(&fixture.to_string()).unwrap()
}

/// The media of the fixture: (message id, stored file, size).
fn fixture_files() -> Vec<(i64, FileKey)> {
    let mut files = vec![(1, FileKey::sized(501, "y"))];
    for (msg, doc) in [
        (2, 601),
        (3, 602),
        (4, 603),
        (5, 604),
        (6, 605),
        (7, 606),
        (8, 607),
        (10, 608),
    ] {
        files.push((msg, FileKey::document(doc)));
    }
    for i in 0..SMALL_FILES {
        files.push((11 + i, FileKey::document(700 + i)));
    }
    files
}

/// The entities of message 9 ("forwarded words"): the fixture format has none, so the
/// history answers get them on the way out, as Telegram sends them.
fn message_9_entities() -> Vec<enums::MessageEntity> {
    vec![
        enums::MessageEntity::Bold(Box::new(types::MessageEntityBold {
            offset: 0,
            length: 9,
        })),
        enums::MessageEntity::TextUrl(Box::new(types::MessageEntityTextUrl {
            offset: 10,
            length: 5,
            url: "https://example.com/w".to_owned(),
        })),
    ]
}

/// Wraps `messages.getHistory` so that message 9 carries [`message_9_entities`].
fn with_entities(registry: &mut Registry) {
    let id = functions::messages::GetHistory::CONSTRUCTOR_ID;
    let (name, original) = registry.get(id).expect("the world serves the method");
    registry.register_async(id, name, move |ctx, body| {
        let original = Arc::clone(&original);
        async move {
            let body = original.call(ctx, body).await?;
            let Ok(mut answer) = enums::messages::Messages::from_bytes(&body) else {
                return Ok(body);
            };
            let messages = match &mut answer {
                enums::messages::Messages::Messages(m) => &mut m.messages,
                enums::messages::Messages::Slice(m) => &mut m.messages,
                enums::messages::Messages::ChannelMessages(m) => &mut m.messages,
                enums::messages::Messages::NotModified(_) => return Ok(body),
            };
            for message in messages.iter_mut() {
                if let enums::Message::Message(m) = message
                    && m.id == 9
                {
                    m.entities = Some(message_9_entities());
                }
            }
            Ok(answer.to_bytes())
        }
    });
}

struct Env {
    runtime: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    world: Arc<World>,
    calls: Arc<CallCounts>,
    dir: tempfile::TempDir,
    ready: PathBuf,
}

impl Env {
    fn start() -> Self {
        Self::start_with(Config::default(), 150_000)
    }

    fn start_with(config: Config, report: u64) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let world = Arc::new(World::from_fixture(fixture(report)).unwrap());
        let calls = Arc::new(CallCounts::default());
        let server = runtime.block_on(async {
            let mut registry = Registry::with_defaults().counting_into(Arc::clone(&calls));
            localdc::world::register(&mut registry, Arc::clone(&world));
            with_entities(&mut registry);
            Server::start_with(config, registry).await.unwrap()
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
        let (code, _, stderr) = finish(login, "12345\n");
        assert_eq!(code, 0, "{stderr}");
        env
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, args: &[&str]) -> Command {
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

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let child = self.command(args).stdin(Stdio::null()).spawn().unwrap();
        finish(child, "")
    }

    /// `tgdl download --from-export EXPORT -o OUT`.
    fn download_from_export(&self, export: &Path, out: &Path) -> (i32, String, String) {
        self.run(&[
            "download",
            "--from-export",
            export.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
    }

    fn calls_of<F: Identifiable>(&self) -> u64 {
        self.calls.of(F::CONSTRUCTOR_ID)
    }

    fn sha256_of_key(&self, key: &FileKey) -> [u8; 32] {
        self.world.file_sha256(key).unwrap()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The SHA-256 of every media file under `dir` (manifests and result.json left out),
/// counted.
fn media_hashes(dir: &Path) -> BTreeMap<[u8; 32], usize> {
    let mut hashes = BTreeMap::new();
    for file in files_under(dir) {
        let name = file.to_string_lossy();
        if name.starts_with("tgdl-manifest-") || name == "result.json" {
            continue;
        }
        *hashes.entry(sha256_of(&dir.join(&file))).or_default() += 1;
    }
    hashes
}

fn ids(messages: &Value) -> Vec<i64> {
    messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn an_export_has_desktops_shape_and_reads_back_as_the_same_messages_and_files() {
    let env = Env::start();
    let exp = env.path("exp");
    let (code, _, stderr) =
        env.run(&["export", "@archive", "-o", exp.to_str().unwrap(), "--media"]);
    assert_eq!(code, 0, "{stderr}");

    let text = std::fs::read_to_string(exp.join("result.json")).unwrap();
    // Desktop's top-level order and one-space indentation.
    assert!(
        text.starts_with("{\n \"name\": \"Archive\",\n \"type\": \"public_channel\",\n \"id\": 702,\n \"messages\": ["),
        "{}",
        &text[..200.min(text.len())]
    );
    let export: Value = serde_json::from_str(&text).unwrap();
    let messages = &export["messages"];
    assert_eq!(ids(messages), (1..=LAST_ID).collect::<Vec<_>>());
    let m = |id: usize| &messages[id - 1];
    let keys: Vec<&str> = m(2)
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 13, "{keys:?}");
    assert_eq!(m(1)["type"], "message");
    assert_eq!(m(1)["date"], "2023-11-14T22:14:20");
    assert_eq!(m(1)["date_unixtime"], "1700000060");
    assert_eq!(m(1)["from"], "Archive");
    assert_eq!(m(1)["from_id"], "channel702");
    assert!(
        m(1)["photo"]
            .as_str()
            .unwrap()
            .starts_with("photos/photo_1@14-11-2023_22-14-20")
    );
    assert_eq!(m(1)["photo_file_size"], 60_000);
    assert_eq!(
        (m(1)["width"].clone(), m(1)["height"].clone()),
        (json!(1280), json!(960))
    );
    assert_eq!(m(1)["text"], "harbour");
    assert_eq!(
        m(1)["text_entities"],
        json!([{ "type": "plain", "text": "harbour" }])
    );
    assert_eq!(m(2)["file"], "files/report.pdf");
    assert_eq!(m(2)["file_name"], "report.pdf");
    assert_eq!(m(2)["file_size"], 150_000);
    assert_eq!(m(2)["mime_type"], "application/pdf");
    assert_eq!(m(2)["reply_to_message_id"], 1);
    assert_eq!(m(3)["media_type"], "video_file");
    assert!(
        m(3)["file"]
            .as_str()
            .unwrap()
            .starts_with("video_files/video_1@")
    );
    assert_eq!(m(3)["duration_seconds"], 12);
    assert_eq!(m(4)["media_type"], "voice_message");
    assert!(
        m(4)["file"]
            .as_str()
            .unwrap()
            .starts_with("voice_messages/audio_1@")
    );
    assert_eq!(m(5)["media_type"], "video_message");
    assert!(
        m(5)["file"]
            .as_str()
            .unwrap()
            .starts_with("round_video_messages/")
    );
    assert_eq!(m(6)["media_type"], "sticker");
    assert_eq!(m(6)["sticker_emoji"], "😀");
    assert!(m(6)["file"].as_str().unwrap().starts_with("stickers/"));
    // A GIF is animated and a video: Desktop files it under video_files.
    assert_eq!(m(7)["media_type"], "animation");
    assert!(
        m(7)["file"]
            .as_str()
            .unwrap()
            .starts_with("video_files/video_2@")
    );
    assert_eq!(m(8)["media_type"], "audio_file");
    assert_eq!(
        (m(8)["performer"].clone(), m(8)["title"].clone()),
        (json!("Band"), json!("Song"))
    );
    assert_eq!(m(8)["file"], "files/song.mp3");
    assert_eq!(m(9)["forwarded_from"], "Alice");
    assert_eq!(
        m(9)["text"],
        json!([{ "type": "bold", "text": "forwarded" }, " ",
               { "type": "text_link", "text": "words", "href": "https://example.com/w" }])
    );
    assert_eq!(
        m(9)["text_entities"],
        json!([{ "type": "bold", "text": "forwarded" }, { "type": "plain", "text": " " },
               { "type": "text_link", "text": "words", "href": "https://example.com/w" }])
    );
    assert!(m(9).get("file").is_none() && m(9).get("photo").is_none());
    assert_eq!(m(10)["edited_unixtime"], (1_700_000_600 + 30).to_string());
    assert_eq!(m(10)["edited"], "2023-11-14T22:23:50");

    // Every file the export names is there, with the world's bytes.
    for (msg, key) in fixture_files() {
        let entry = m(msg as usize);
        let path = entry.get("photo").or_else(|| entry.get("file")).unwrap();
        let path = exp.join(path.as_str().unwrap());
        assert_eq!(sha256_of(&path), env.sha256_of_key(&key), "message {msg}");
    }

    // Read back: the same files, fetched by id in batches of 100.
    let batches_before = env.calls_of::<functions::channels::GetMessages>();
    let back = env.path("back");
    let result = exp.join("result.json");
    let (code, _, stderr) = env.download_from_export(&result, &back);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(media_hashes(&back), media_hashes(&exp));
    assert_eq!(
        media_hashes(&back).values().sum::<usize>(),
        fixture_files().len()
    );
    let media_messages = fixture_files().len() as u64;
    assert_eq!(
        env.calls_of::<functions::channels::GetMessages>() - batches_before,
        media_messages.div_ceil(100)
    );

    // tdl's export of two of the messages: bare id, no chat type.
    let tdl = env.path("tdl.json");
    std::fs::write(
        &tdl,
        r#"{"id":702,"messages":[{"id":8,"type":"message","file":"song.mp3"},{"id":2,"type":"message","file":"report.pdf"}]}"#,
    )
    .unwrap();
    let from_tdl = env.path("from-tdl");
    let (code, _, stderr) = env.run(&[
        "download",
        "--from-export",
        tdl.to_str().unwrap(),
        "-o",
        from_tdl.to_str().unwrap(),
        "--template",
        "{msg_id}.{ext}",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let got: Vec<PathBuf> = files_under(&from_tdl)
        .into_iter()
        .filter(|f| !f.to_string_lossy().starts_with("tgdl-manifest-"))
        .collect();
    assert_eq!(got, [PathBuf::from("2.pdf"), PathBuf::from("8.mp3")]);
    assert_eq!(
        sha256_of(&from_tdl.join("2.pdf")),
        env.sha256_of_key(&FileKey::document(601))
    );
}

#[test]
fn a_rerun_appends_the_new_messages_and_keeps_the_rest_as_it_was() {
    let env = Env::start();
    let exp = env.path("exp");
    let out = exp.to_str().unwrap();
    let (code, _, stderr) = env.run(&["export", "@archive", "-o", out, "--max-id", "5"]);
    assert_eq!(code, 0, "{stderr}");
    let first = read_json(&exp.join("result.json"));
    assert_eq!(ids(&first["messages"]), [1, 2, 3, 4, 5]);
    // Without --media the file fields say what Desktop writes.
    assert_eq!(
        first["messages"][0]["photo"],
        "(File not included. Change data exporting settings to download.)"
    );
    assert_eq!(media_hashes(&exp).len(), 0);

    let (code, _, stderr) =
        env.run(&["export", "@archive", "-o", out, "--max-id", "12", "--media"]);
    assert_eq!(code, 0, "{stderr}");
    let second = read_json(&exp.join("result.json"));
    assert_eq!(ids(&second["messages"]), (1..=12).collect::<Vec<_>>());
    for i in 0..5 {
        assert_eq!(
            second["messages"][i], first["messages"][i],
            "kept message {i}"
        );
    }
    // The appended messages' files are downloaded.
    for (msg, key) in fixture_files()
        .into_iter()
        .filter(|(msg, _)| (6..=12).contains(msg))
    {
        let entry = &second["messages"][msg as usize - 1];
        let path = entry.get("photo").or_else(|| entry.get("file")).unwrap();
        assert_eq!(
            sha256_of(&exp.join(path.as_str().unwrap())),
            env.sha256_of_key(&key)
        );
    }

    // A file an earlier run could not download is tried again by the next run with --media.
    let text = std::fs::read_to_string(exp.join("result.json")).unwrap();
    let marked = text.replacen(
        "\"file\": \"files/song.mp3\"",
        "\"file\": \"(File unavailable, please try again later)\"",
        1,
    );
    assert_ne!(marked, text);
    std::fs::write(exp.join("result.json"), marked).unwrap();
    std::fs::remove_file(exp.join("files/song.mp3")).unwrap();
    let (code, _, stderr) =
        env.run(&["export", "@archive", "-o", out, "--max-id", "12", "--media"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("1 files an earlier run could not download are there now"),
        "{stderr}"
    );
    assert_eq!(read_json(&exp.join("result.json")), second);
    assert_eq!(
        sha256_of(&exp.join("files/song.mp3")),
        env.sha256_of_key(&FileKey::document(607))
    );

    // Nothing new: the file is left as it is.
    let before = std::fs::read(exp.join("result.json")).unwrap();
    let (code, _, stderr) = env.run(&["export", "@archive", "-o", out, "--max-id", "12"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("no new messages"), "{stderr}");
    assert_eq!(std::fs::read(exp.join("result.json")).unwrap(), before);
}

#[test]
fn a_damaged_export_names_the_place_and_nothing_is_fetched() {
    let env = Env::start();
    let good = std::fs::read_to_string(fixture_path("account-two-chats.json")).unwrap();
    let mut cases: Vec<(String, String, &str)> = Vec::new();
    // Cut at several places: a syntax error with a line and column.
    for cut in [1, good.len() / 3, good.len() / 2, good.len() - 2] {
        cases.push((format!("cut{cut}"), good[..cut].to_owned(), "truncated"));
    }
    // Valid JSON, wrong shapes: the JSON path. The first chat is fine: still nothing runs.
    cases.push((
        "wrong-id".to_owned(),
        good.replace("\"id\": 2004,", "\"id\": \"2004\","),
        "at chats.list[1].messages[3].id: expected an integer",
    ));
    cases.push((
        "no-messages".to_owned(),
        good.replacen("\"messages\": [", "\"posts\": [", 2),
        "at chats.list[0].messages: missing",
    ));
    cases.push((
        "not-an-export".to_owned(),
        "[1, 2]".to_owned(),
        "at (root): expected an object",
    ));
    for (name, text, expected) in &cases {
        let file = env.path(&format!("{name}.json"));
        std::fs::write(&file, text).unwrap();
        let out = env.path(&format!("out-{name}"));
        let (code, _, stderr) = env.download_from_export(&file, &out);
        assert_ne!(code, 0, "{name}");
        assert!(
            stderr.contains(&*file.to_string_lossy()),
            "{name}: {stderr}"
        );
        assert!(stderr.contains(expected), "{name}: {stderr}");
        if name.starts_with("cut") {
            assert!(stderr.contains(": line "), "{name}: {stderr}");
        }
        assert!(!out.exists(), "{name}: the output directory was made");
    }
    assert_eq!(env.calls_of::<functions::messages::GetMessages>(), 0);
    assert_eq!(env.calls_of::<functions::channels::GetMessages>(), 0);
    assert_eq!(env.calls_of::<functions::upload::GetFile>(), 0);

    // `tgdl export` onto a damaged result.json stops before touching it.
    let exp = env.path("exp");
    std::fs::create_dir_all(&exp).unwrap();
    let damaged = &good[..good.len() / 2];
    std::fs::write(exp.join("result.json"), damaged).unwrap();
    let (code, _, stderr) =
        env.run(&["export", "@archive", "-o", exp.to_str().unwrap(), "--media"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("result.json: line "), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(exp.join("result.json")).unwrap(),
        damaged
    );
    assert_eq!(env.calls_of::<functions::upload::GetFile>(), 0);
}

#[test]
fn a_chat_the_account_cannot_see_is_named_in_the_error() {
    let env = Env::start();
    let file = env.path("secret.json");
    std::fs::write(
        &file,
        r#"{"name": "Secret", "type": "private_channel", "id": 999, "messages": [
            {"id": 1, "type": "message", "photo": "photos/photo_1@01-01-2024_00-00-00.jpg"}]}"#,
    )
    .unwrap();
    let out = env.path("out");
    let (code, _, stderr) = env.download_from_export(&file, &out);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("(root) \"Secret\" (private_channel 999)"),
        "{stderr}"
    );
    assert!(stderr.contains("cannot open the chat"), "{stderr}");
    assert_eq!(env.calls_of::<functions::upload::GetFile>(), 0);
}

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/desktop-export")
        .join(name)
}

#[test]
fn the_real_exports_read() {
    let chat = reader::read_file(&fixture_path("chat-personal.json")).unwrap();
    assert_eq!(chat.kind, ExportKind::DesktopChat);
    let [only] = chat.chats.as_slice() else {
        panic!("{chat:?}");
    };
    assert_eq!((only.name.as_deref(), only.id), (Some("Bob"), 700_000_000));
    assert_eq!(
        only.candidates(),
        PeerCandidates::Known(PeerKind::User, 700_000_000)
    );
    let listed: Vec<i32> = only.messages.iter().map(|m| m.id).collect();
    assert_eq!(listed, [3644, 3645, 3662, 3663, 3672, 3673]);
    let with_media: Vec<i32> = only
        .messages
        .iter()
        .filter(|m| m.has_media)
        .map(|m| m.id)
        .collect();
    assert_eq!(with_media, [3672, 3673]);

    let account = reader::read_file(&fixture_path("account-two-chats.json")).unwrap();
    assert_eq!(account.kind, ExportKind::DesktopAccount);
    let summary: Vec<(&str, Option<&str>, usize)> = account
        .chats
        .iter()
        .map(|c| (c.place.as_str(), c.chat_type.as_deref(), c.messages.len()))
        .collect();
    assert_eq!(
        summary,
        [
            ("chats.list[0]", Some("personal_chat"), 2),
            ("chats.list[1]", Some("private_group"), 3)
        ]
    );
    assert_eq!(
        account.chats[1].candidates(),
        PeerCandidates::Known(PeerKind::Chat, 700_000_002)
    );
    assert_eq!(
        account.chats[1].messages.last(),
        Some(&ExportMessage {
            id: 2004,
            has_media: true
        })
    );

    let tdl = reader::read_file(&fixture_path("tdl-chat-export.json")).unwrap();
    assert_eq!(tdl.kind, ExportKind::Tdl);
    assert_eq!(
        tdl.chats[0].candidates(),
        PeerCandidates::Guess(1_697_412_345)
    );
    let tdl_ids: Vec<i32> = tdl.chats[0].messages.iter().map(|m| m.id).collect();
    assert_eq!(tdl_ids, [318, 317, 311]);
}

#[test]
fn a_private_chat_round_trips_and_ids_of_other_chats_are_not_taken() {
    let env = Env::start();
    let exp = env.path("exp");
    let (code, _, stderr) = env.run(&["export", "1002", "-o", exp.to_str().unwrap(), "--media"]);
    assert_eq!(code, 0, "{stderr}");
    let export = read_json(&exp.join("result.json"));
    assert_eq!(
        (
            export["name"].clone(),
            export["type"].clone(),
            export["id"].clone()
        ),
        (json!("Bob Stone"), json!("personal_chat"), json!(1002))
    );
    let messages = &export["messages"];
    assert_eq!(ids(messages), [501, 502]);
    assert_eq!(
        (messages[0]["from"].clone(), messages[0]["from_id"].clone()),
        (json!("Bob Stone"), json!("user1002"))
    );
    assert_eq!(
        (messages[1]["from"].clone(), messages[1]["from_id"].clone()),
        (json!("Alice"), json!("user1001"))
    );
    assert_eq!(messages[0]["file"], "files/bob.txt");
    assert_eq!(
        sha256_of(&exp.join("files/bob.txt")),
        env.sha256_of_key(&FileKey::document(901))
    );

    let back = env.path("back");
    let result = exp.join("result.json");
    let (code, _, stderr) = env.download_from_export(&result, &back);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(media_hashes(&back), media_hashes(&exp));
    assert_eq!(media_hashes(&back).len(), 2);
    assert_eq!(env.calls_of::<functions::messages::GetMessages>(), 1);

    // An export naming a message id that is not this chat's (ids outside channels are the
    // account's, across its chats): it is not taken, and it is counted.
    let foreign = env.path("foreign.json");
    std::fs::write(
        &foreign,
        r#"{"name": "Bob Stone", "type": "personal_chat", "id": 1002, "messages": [
            {"id": 501, "type": "message", "file": "files/bob.txt"},
            {"id": 7, "type": "message", "file": "files/elsewhere.bin"}]}"#,
    )
    .unwrap();
    let other = env.path("other");
    let (code, _, stderr) = env.download_from_export(&foreign, &other);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("1 of the 2 listed messages with media no longer exist"),
        "{stderr}"
    );
    assert_eq!(media_hashes(&other).len(), 1);
}

#[test]
fn an_account_export_downloads_the_listed_messages_of_every_chat() {
    let env = Env::start();
    let account = env.path("account.json");
    std::fs::write(
        &account,
        r#"{
 "about": "Here is the data you requested.",
 "personal_information": {"user_id": 1001, "first_name": "Alice", "last_name": "", "phone_number": "+1 555 0001"},
 "chats": {"about": "chats", "list": [
  {"name": "Bob Stone", "type": "personal_chat", "id": 1002, "messages": [
   {"id": 501, "type": "message", "file": "chats/chat_1/files/bob.txt", "text": "from bob"},
   {"id": 502, "type": "service", "actor": "Alice", "action": "pin_message", "text": ""}
  ]},
  {"name": "Archive", "type": "public_channel", "id": 702, "messages": [
   {"id": 2, "type": "message", "file": "(File not included. Change data exporting settings to download.)"},
   {"id": 9, "type": "message", "text": "forwarded words"}
  ]}
 ]},
 "left_chats": {"about": "left", "list": [
  {"name": "Archive", "type": "public_channel", "id": 702, "messages": [
   {"id": 8, "type": "message", "file": "chats/chat_3/files/song.mp3"}
  ]}
 ]}
}"#,
    )
    .unwrap();
    let out = env.path("out");
    let (code, _, stderr) = env.download_from_export(&account, &out);
    assert_eq!(code, 0, "{stderr}");
    let expected: BTreeMap<[u8; 32], usize> = [601, 607, 901]
        .into_iter()
        .map(|doc| (env.sha256_of_key(&FileKey::document(doc)), 1))
        .collect();
    assert_eq!(media_hashes(&out), expected);
    // Only messages that name a file are fetched: one private batch, two channel batches.
    assert_eq!(env.calls_of::<functions::messages::GetMessages>(), 1);
    assert_eq!(env.calls_of::<functions::channels::GetMessages>(), 2);
}

#[test]
fn a_killed_export_leaves_no_result_and_the_rerun_resumes_the_same_files() {
    const MIB: u64 = 1 << 20;
    let size = 32 * MIB;
    let env = Env::start_with(Config::default().with_wan_profile(WanProfile::Wan), size);
    let exp = env.path("exp");
    let args = [
        "export",
        "@archive",
        "-o",
        exp.to_str().unwrap(),
        "--media",
        "--max-id",
        "2",
    ];
    let mut child = env
        .command(&[&args[..], &["--json"]].concat())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    // Killed once 20 of the 32 MiB are written (several ledger commits in).
    let reader = BufReader::new(child.stdout.take().unwrap());
    let mut written = 0;
    for line in reader.lines() {
        let event: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if event["event"] == "progress" {
            written += event["bytes"].as_u64().unwrap();
            if written >= 20 * MIB {
                break;
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !exp.join("result.json").exists(),
        "result.json is written only once the files are"
    );

    let report = exp.canonicalize().unwrap().join("files/report.pdf");
    let store = tgclient::SessionStore::open(env.path("s.session")).unwrap();
    let done = store
        .download_state(&report.display().to_string())
        .unwrap()
        .and_then(|bytes| tgclient::download::FileState::from_bytes(&bytes))
        .map(|state| state.done)
        .unwrap_or_default();
    drop(store);
    assert!(
        done.covered() > 0,
        "the ledger recorded nothing before the kill"
    );

    env.world.reset_served();
    let (code, _, stderr) = env.run(&args);
    assert_eq!(code, 0, "{stderr}");
    let export = read_json(&exp.join("result.json"));
    assert_eq!(export["messages"][1]["file"], "files/report.pdf");
    assert_eq!(
        sha256_of(&report),
        env.sha256_of_key(&FileKey::document(601))
    );
    // What the ledger recorded is not fetched again (requests the killed run left in
    // flight may still be served, for ranges it had not recorded).
    for served in env.world.served_log() {
        if served.key != FileKey::document(601) {
            continue;
        }
        let range = served.offset..served.offset + served.len;
        assert!(
            !done
                .ranges()
                .iter()
                .any(|r| r.start < range.end && range.start < r.end),
            "recorded range served again: {served:?}"
        );
    }
}
