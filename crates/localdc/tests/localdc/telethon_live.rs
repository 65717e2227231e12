#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Telethon 1.45.0, an unmodified real client, following localdc's live world: channel
//! posts pushed as `updateNewChannelMessage`, one push dropped by the fault knob, which
//! Telethon must notice as a pts gap and fill with `updates.getChannelDifference`, and
//! basic-group posts pushed as `updateShortChatMessage` (text) and `updates` (a photo).
//! Needs Python 3; the venv is made by `scripts/setup-python-tests.sh`.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use localdc::rpc::CallCounts;
use localdc::world::fixture::{NewMedia, PostSpec};
use localdc::world::posting::ChatRef;
use localdc::world::{Fixture, World, mint_session};
use localdc::{Config, serve};
use serde_json::Value;
use tl_types::Identifiable;
use tl_types::api::functions::updates::GetChannelDifference;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::venv;

const SCRIPT_TIME: Duration = Duration::from_mins(2);
const CHANNEL: i64 = 501;
/// A basic group Alice is in (messages 100 and 101 in the fixture).
const GROUP: i64 = 503;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telethon_follows_a_channel_and_a_group_and_fills_a_dropped_push() {
    let python = venv::python().await;
    let fixture = Fixture::from_json(include_str!("../../fixtures/demo.json")).unwrap();
    let world = Arc::new(World::from_fixture(fixture).unwrap());
    let calls = Arc::new(CallCounts::default());
    let server = serve(Config::default())
        .world(&world)
        .counting_into(&calls)
        .start()
        .await
        .unwrap();
    let minted = mint_session(&server, &world, "15550001", None).unwrap();

    let dir = std::env::temp_dir().join(format!("localdc-telethon-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("server_pub.pem");
    std::fs::write(&pem, server.public_key_pem()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/telethon_live.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .arg(&pem)
        .arg(&minted.string_session)
        .arg("demo_news")
        .arg("3")
        .arg(GROUP.to_string())
        .arg("2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let run = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line == "READY" {
                break;
            }
        }
        let post = |text: &str| {
            let post = PostSpec {
                text: text.into(),
                ..PostSpec::default()
            };
            world.post(ChatRef::Chat(CHANNEL), &post).unwrap()
        };
        let dc = server.dc(2).unwrap();
        assert_eq!(post("pushed"), 6);
        dc.faults().drop_next_updates(1);
        assert_eq!(post("dropped"), 7);
        assert_eq!(post("pushed after the gap"), 8);
        assert_eq!(dc.faults().updates_dropped(), 1);
        // In the basic group: text (updateShortChatMessage), then a photo (updates).
        let group = |post: &PostSpec| world.post(ChatRef::Chat(GROUP), post).unwrap();
        let first = group(&PostSpec {
            text: "short".into(),
            ..PostSpec::default()
        });
        let second = group(&PostSpec {
            text: "with a photo".into(),
            media: Some(NewMedia::Photo {
                size: 2048,
                dc: None,
            }),
            ..PostSpec::default()
        });
        assert_eq!((first, second), (102, 103));
        let mut result = None;
        while let Some(line) = lines.next_line().await.unwrap() {
            println!("{line}");
            if let Some(json) = line.strip_prefix("RESULT ") {
                result = Some(serde_json::from_str::<Value>(json).unwrap());
            }
        }
        result
    };
    let result = tokio::time::timeout(SCRIPT_TIME, run)
        .await
        .unwrap_or_else(|_| panic!("the Telethon script took longer than {SCRIPT_TIME:?}"));
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "Telethon failed ({}):\n{stderr}",
        output.status
    );
    let result = result.unwrap_or_else(|| panic!("no RESULT line; stderr:\n{stderr}"));
    let mut ids: Vec<i64> = result["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    // Every post once: the dropped one through Telethon's getChannelDifference.
    assert_eq!(ids, vec![6, 7, 8]);
    let group: Vec<i64> = result["group"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(group, vec![102, 103]);
    assert!(calls.of(GetChannelDifference::CONSTRUCTOR_ID) >= 1);
    server.shutdown().await;
}
