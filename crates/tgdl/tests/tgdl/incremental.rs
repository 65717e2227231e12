//! Incremental reruns of `tgdl download`, against localdc: a rerun after N new posts makes
//! about N/100 + 1 history calls (localdc's call counters) and fetches exactly the new
//! files (its served-bytes counters); `--full` lists everything again and fetches nothing;
//! other filters have their own mark; an edit that replaced a message's media lands beside
//! the old file; a deleted message's file stays; a run whose file failed does not move the
//! mark past that file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use localdc::Config;
use localdc::world::Fixture;
use localdc::world::fixture::{EditSpec, NewMedia, PostSpec};
use localdc::world::posting::ChatRef;
use serde_json::{Value, json};
use tgclient::SessionStore;
use tgdl::filters::Filters;

use crate::download::{Env, finish, sha256_of};

const CHANNEL: i64 = 701;
/// The channel's id as tgdl marks it.
const MARKED: i64 = -1_000_000_000_701;

/// A channel `@vault` of `count` messages; those whose id `has_media` picks carry a
/// document `f<id>.bin` (media id 10000 + id) of `size(id)` bytes.
fn channel(count: i32, has_media: impl Fn(i32) -> bool, size: impl Fn(i32) -> u64) -> Fixture {
    let messages: Vec<Value> = (1..=count)
        .map(|id| {
            let mut message = json!({ "id": id, "date": 1_700_000_000 + id * 60,
                "text": format!("post {id}") });
            if has_media(id) {
                message["media"] = json!({ "type": "document", "id": 10_000 + id, "dc": 2,
                    "size": size(id), "mime_type": "application/octet-stream",
                    "attributes": [ { "type": "file_name", "file_name": format!("f{id}.bin") } ] });
            }
            message
        })
        .collect();
    let json = json!({
        "seed": 9,
        "users": [ { "id": 1001, "first_name": "Alice", "username": "alice", "phone": "15550001" } ],
        "accounts": [ { "phone": "15550001", "user_id": 1001, "code": "12345", "home_dc": 2 } ],
        "chats": [ { "id": CHANNEL, "kind": "channel", "title": "Vault", "username": "vault",
                     "creator": 1001, "members": [1001], "date": 1_700_000_000, "messages": messages } ]
    });
    Fixture::from_json(&json.to_string()).unwrap()
}

/// The mark of the channel under the default filters, and the ids of its messages whose
/// versions are recorded, from the session (no tgdl running).
fn recorded(env: &Env) -> (Option<i32>, Vec<i32>) {
    let store = SessionStore::open(env.dir.path().join("s.session")).unwrap();
    let mark = store
        .listing_mark(MARKED, &Filters::default().digest())
        .unwrap();
    let versions = store
        .message_versions(MARKED)
        .unwrap()
        .iter()
        .map(|v| v.msg_id)
        .collect();
    (mark, versions)
}

#[test]
fn a_run_whose_file_failed_does_not_move_the_mark_past_it() {
    // Message 5, the newest, is large: the run is still on it when message 3 is deleted,
    // whose file then cannot be had.
    let env = Env::start(
        channel(5, |_| true, |id| if id == 5 { 8 << 20 } else { 3000 }),
        Config::default(),
    );
    let out = env.out();
    let mut child = env
        .command(&[
            "download",
            "@vault",
            "-o",
            out.to_str().unwrap(),
            "--json",
            "--parallel-files",
            "1",
        ])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    // Stdout is read on a thread of its own, drained to the end so the run is never
    // blocked on it; the events come through a channel, waited for at most 2 minutes.
    let stdout = child.stdout.take().unwrap();
    let (events, received) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let _ = events.send(line.unwrap());
        }
    });
    loop {
        let line = received
            .recv_timeout(Duration::from_mins(2))
            .expect("no file started");
        let event: Value = serde_json::from_str(&line).unwrap();
        if event["event"] == "started" {
            assert_eq!(event["index"], 0);
            assert!(env.world.delete_message(CHANNEL, 3));
            break;
        }
    }
    let (code, _, stderr) = finish(child, "");
    reader.join().unwrap();
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("4 downloaded"), "{stderr}");
    assert!(stderr.contains("1 failed"), "{stderr}");
    // Every wanted file up to 2 is archived; 3 is not, so the mark stays below it though 4
    // and 5 are done.
    let (mark, mut versions) = recorded(&env);
    versions.sort_unstable();
    assert_eq!(mark, Some(2));
    assert_eq!(versions, vec![1, 2, 4, 5]);

    // The rerun lists from 3 up again: 4 and 5 are there, 3 is gone; now the mark moves.
    env.world.reset_served();
    let (code, _, stderr) = env.download(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("2 already there"), "{stderr}");
    assert_eq!(env.world.served_total(), 0);
    assert_eq!(recorded(&env).0, Some(5));
    for id in [1, 2, 4, 5] {
        let file = out.join("vault").join(format!("{id}_f{id}.bin"));
        assert_eq!(
            sha256_of(&file),
            env.world
                .file_sha256(&localdc::world::FileKey::document(10_000 + i64::from(id)))
                .unwrap()
        );
    }
}

/// `messages.getHistory` calls so far.
fn history_calls(env: &Env) -> u64 {
    use tl_types::Identifiable;
    env.calls
        .of(tl_types::api::functions::messages::GetHistory::CONSTRUCTOR_ID)
}

/// Runs `tgdl download @vault` with `extra`; its history calls and stderr.
fn counted_run(env: &Env, extra: &[&str]) -> (u64, String) {
    let before = history_calls(env);
    let (code, _, stderr) = env.download(extra);
    assert_eq!(code, 0, "{stderr}");
    (history_calls(env) - before, stderr)
}

#[test]
fn a_rerun_lists_only_what_is_new_and_full_or_other_filters_list_again() {
    // 3,000 messages, one in a hundred with a small document.
    let env = Env::start(
        channel(
            3000,
            |id| id % 100 == 0,
            |id| 2000 + u64::try_from(id).unwrap(),
        ),
        Config::default(),
    );
    let (calls, stderr) = counted_run(&env, &[]);
    assert!(stderr.contains("30 downloaded"), "{stderr}");
    assert!(calls >= 30, "{calls} history calls for 3,000 messages");
    assert_eq!(recorded(&env).0, Some(3000));

    // Nothing new: one page (the newest messages, re-checked for edits), nothing fetched.
    env.world.reset_served();
    let (calls, stderr) = counted_run(&env, &[]);
    assert_eq!(calls, 1, "{stderr}");
    assert!(stderr.contains("nothing to download"), "{stderr}");

    // `--full` lists everything again; the engine skips every verified file.
    let (calls, stderr) = counted_run(&env, &["--full"]);
    assert!(calls >= 30, "{calls}");
    assert!(stderr.contains("30 already there"), "{stderr}");
    // Other filters want other messages: their first run lists everything, then they
    // have their own mark.
    let (calls, stderr) = counted_run(&env, &["--type", "document"]);
    assert!(calls >= 30, "{calls}");
    assert!(stderr.contains("30 already there"), "{stderr}");
    let (calls, _) = counted_run(&env, &["--type", "document"]);
    assert_eq!(calls, 1);
    assert_eq!(env.world.served_total(), 0);
}

/// Posts a message now: a document `name` of `size` bytes, or only text without a size.
fn post(env: &Env, name: &str, size: Option<u64>) -> i32 {
    let media = size.map(|size| NewMedia::Document {
        size,
        file_name: Some(name.to_owned()),
        mime_type: None,
        dc: None,
    });
    env.world
        .post(
            ChatRef::Chat(CHANNEL),
            &PostSpec {
                text: name.to_owned(),
                media,
                ..PostSpec::default()
            },
        )
        .unwrap()
}

#[test]
fn a_rerun_after_n_posts_makes_about_n_over_100_history_calls_and_fetches_only_them() {
    let env = Env::start(
        channel(
            3000,
            |id| id % 100 == 0,
            |id| 2000 + u64::try_from(id).unwrap(),
        ),
        Config::default(),
    );
    let (first, stderr) = counted_run(&env, &[]);
    assert!(stderr.contains("30 downloaded"), "{stderr}");
    // N new posts, one in `every` with a document.
    for (n, every) in [(10_u64, 1_u64), (250, 5)] {
        let (mut files, mut bytes) = (0, 0);
        for i in 0..n {
            if i % every == 0 {
                let size = 1000 + i;
                post(&env, &format!("new{n}-{i}.bin"), Some(size));
                files += 1;
                bytes += size;
            } else {
                post(&env, "text", None);
            }
        }
        env.world.reset_served();
        let (calls, stderr) = counted_run(&env, &[]);
        assert!(stderr.contains(&format!("{files} downloaded")), "{stderr}");
        assert!(stderr.contains(" 0 already there"), "{stderr}");
        // Exactly the new files, each once.
        assert_eq!(env.world.served_total(), bytes, "{n} new");
        assert!(calls <= n / 100 + 3, "{n} new posts: {calls} history calls");
        if n < 100 {
            assert_eq!(calls, 1, "{n} new posts");
        }
        println!("{n} new posts: {calls} history calls (the first run made {first})");
    }
    assert_eq!(recorded(&env).0, Some(3260));

    // `--full` lists all 3,260 again and fetches nothing.
    env.world.reset_served();
    let (calls, stderr) = counted_run(&env, &["--full"]);
    assert!(calls >= 33, "{calls}");
    assert!(stderr.contains("90 already there"), "{stderr}");
    assert_eq!(env.world.served_total(), 0);
}

/// The one file under `dir` whose name starts with `prefix` and ends with `suffix`.
fn find(dir: &std::path::Path, prefix: &str, suffix: &str) -> std::path::PathBuf {
    let found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix) && n.ends_with(suffix))
        .collect();
    assert_eq!(found.len(), 1, "{prefix}*{suffix} in {found:?}");
    dir.join(&found[0])
}

#[test]
fn an_edited_media_lands_beside_the_old_file_and_a_deleted_messages_file_stays() {
    // 150 messages; 120, 130, 140 and 150 carry documents.
    let env = Env::start(
        channel(
            150,
            |id| id >= 120 && id % 10 == 0,
            |id| 3000 + u64::try_from(id).unwrap(),
        ),
        Config::default(),
    );
    let out = env.out();
    let flat = env.dir.path().join("flat");
    let flat_template = ["--template", "{chat}/{msg_id}.{ext}"];
    let (code, _, stderr) = env.download(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("4 downloaded"), "{stderr}");
    // The same into another directory with a template that has no `{edit}` (`--full`:
    // the mark says these messages are archived already).
    let flat_run = || {
        let mut args = vec!["download", "@vault", "--full", "-o", flat.to_str().unwrap()];
        args.extend(flat_template);
        finish(env.command(&args).stdin(Stdio::null()).spawn().unwrap(), "")
    };
    let (code, _, stderr) = flat_run();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("4 downloaded"), "{stderr}");
    let vault = out.join("vault");
    let originals: Vec<(std::path::PathBuf, [u8; 32])> = [
        vault.join("130_f130.bin"),
        vault.join("140_f140.bin"),
        flat.join("vault/130.bin"),
        flat.join("vault/140.bin"),
    ]
    .into_iter()
    .map(|path| {
        let sha = sha256_of(&path);
        (path, sha)
    })
    .collect();

    // 130's document is replaced by an edit (same file name), 140 is deleted, 151 posted.
    env.world
        .edit(
            ChatRef::Chat(CHANNEL),
            &EditSpec {
                id: 130,
                text: None,
                media: Some(NewMedia::Document {
                    size: 5555,
                    file_name: Some("f130.bin".into()),
                    mime_type: None,
                    dc: None,
                }),
            },
        )
        .unwrap();
    assert_eq!(env.world.delete(ChatRef::Chat(CHANNEL), &[140]).unwrap(), 1);
    assert_eq!(post(&env, "f151.bin", Some(4444)), 151);

    env.world.reset_served();
    let (code, _, stderr) = env.download(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("2 downloaded"), "{stderr}");
    assert_eq!(env.world.served_total(), 5555 + 4444);
    let edited = find(&vault, "130-edit", "_f130.bin");
    assert_eq!(std::fs::metadata(&edited).unwrap().len(), 5555);
    assert_eq!(
        std::fs::metadata(vault.join("151_f151.bin")).unwrap().len(),
        4444
    );

    // Without `{edit}` the new version wants the old file's name: it gets its own.
    let (code, _, stderr) = flat_run();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("2 downloaded"), "{stderr}");
    assert_eq!(
        std::fs::metadata(flat.join("vault/130 (2).bin"))
            .unwrap()
            .len(),
        5555
    );
    // Nothing archived was replaced or removed.
    for (path, sha) in &originals {
        assert_eq!(&sha256_of(path), sha, "{}", path.display());
    }

    // Everything is archived: a rerun (and one with `--full`) plans nothing new and keeps
    // the edited version's name.
    env.world.reset_served();
    let (code, _, stderr) = env.download(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("nothing to download"), "{stderr}");
    let (code, _, stderr) = env.download(&["--full"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("4 already there"), "{stderr}");
    assert_eq!(env.world.served_total(), 0);
    assert_eq!(find(&vault, "130-edit", "_f130.bin"), edited);
}
