#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Telethon 1.45.0, an unmodified real client, against localdc: handshake and
//! `help.getConfig`/`help.getNearestDc` over four TCP transports; and in the scripted world,
//! phone-code and 2FA logins across DC migrations, dialogs and history, checked against
//! the fixture. Needs Python 3; the venv is made by `scripts/setup-python-tests.sh`
//! (PyPI access needed once).

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use localdc::world::fixture::{ChatKind, MessageSpec, PrivateChatSpec};
use localdc::world::{Fixture, World};
use localdc::{Config, Registry, Server};
use serde_json::{Value, json};
use tokio::process::Command;

use crate::venv;

/// The whole test, venv setup included, ends within this.
const SCRIPT_TIME: Duration = Duration::from_mins(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telethon_gets_config_over_every_tcp_transport() {
    let python = venv::python().await;
    let server = Server::start(Config::default()).await.unwrap();
    let dir = std::env::temp_dir().join(format!("localdc-telethon-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("server_pub.pem");
    std::fs::write(&pem, server.public_key_pem()).unwrap();
    let port = server.addr(2).unwrap().port();
    std::fs::write(dir.join("dc2_port"), port.to_string()).unwrap();
    let ports: Vec<String> = server
        .dcs()
        .iter()
        .map(|dc| dc.addr().port().to_string())
        .collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/telethon_smoke.py");

    let child = Command::new(&python)
        .arg(&script)
        .arg(&pem)
        .arg(port.to_string())
        .arg(ports.join(","))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    // On timeout the child is dropped, and killed with it.
    let output = tokio::time::timeout(SCRIPT_TIME, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the Telethon script took longer than {SCRIPT_TIME:?}"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "Telethon failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    for transport in [
        "ConnectionTcpFull",
        "ConnectionTcpAbridged",
        "ConnectionTcpIntermediate",
        "ConnectionTcpObfuscated",
    ] {
        let line = format!("{transport}: ok this_dc=2 ");
        assert!(stdout.contains(&line), "no '{line}' in:\n{stdout}");
    }
    assert!(stdout.contains("all transports ok"));
    server.shutdown().await;
}

fn text_message(id: i32, date: i32, from: i64, text: &str) -> MessageSpec {
    MessageSpec {
        id,
        date,
        from: Some(from),
        text: text.into(),
        ..MessageSpec::default()
    }
}

/// The demo world, with private chats and clients' network nearest DC 3.
fn world_fixture() -> Fixture {
    let mut fixture = Fixture::from_json(include_str!("../../fixtures/demo.json")).unwrap();
    fixture.network_dc = Some(3);
    let carol = (0..150)
        .map(|n| {
            let from = if n % 3 == 0 { 1001 } else { 1003 };
            text_message(200 + n, 1_700_001_500 + n * 60, from, &format!("note {n}"))
        })
        .collect();
    fixture.private_chats = vec![
        PrivateChatSpec {
            user: 1001,
            peer: 1003,
            messages: carol,
        },
        PrivateChatSpec {
            user: 1001,
            peer: 1002,
            messages: vec![text_message(400, 1_700_001_250, 1002, "hello Alice")],
        },
        PrivateChatSpec {
            user: 1002,
            peer: 1001,
            messages: vec![
                text_message(1, 1_700_001_250, 1002, "hello Alice"),
                text_message(2, 1_700_009_000, 1001, "hello Bob"),
            ],
        },
    ];
    fixture
}

/// A message row as the script prints it, expected from the fixture.
fn row(message: &MessageSpec, me: i64, sender: Option<i64>) -> Value {
    json!({
        "id": message.id,
        "date": message.date,
        "text": message.text,
        "out": message.from == Some(me),
        "sender": sender,
    })
}

/// What Telethon must see for account `me`: its dialogs newest first, and the history of
/// the first private and the first channel-type dialog (newest first).
fn expected(fixture: &Fixture, me: i64) -> (Vec<Value>, Vec<(i64, Vec<Value>)>) {
    let name = |id: i64| {
        let user = fixture.users.iter().find(|u| u.id == id).unwrap();
        [Some(user.first_name.clone()), user.last_name.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    };
    // (top date, top id, marked id, dialog json, history rows newest first)
    let mut threads: Vec<(i32, i32, i64, Value, Vec<Value>)> = Vec::new();
    for chat in &fixture.chats {
        if chat.creator != me && !chat.members.contains(&me) {
            continue;
        }
        let channel = chat.kind != ChatKind::Group;
        let marked = if channel {
            -(1_000_000_000_000 + chat.id)
        } else {
            -chat.id
        };
        let mut messages: Vec<&MessageSpec> = chat.messages.iter().collect();
        messages.sort_by_key(|m| std::cmp::Reverse(m.id));
        let top = messages.first().unwrap();
        let rows = messages
            .iter()
            .map(|m| {
                let sender = m
                    .from
                    .or((chat.kind == ChatKind::Channel).then_some(marked));
                row(m, me, sender)
            })
            .collect();
        let dialog = json!({"id": marked, "name": chat.title, "top": top.id, "date": top.date,
                            "user": false, "channel": channel});
        threads.push((top.date, top.id, marked, dialog, rows));
    }
    for private in fixture.private_chats.iter().filter(|p| p.user == me) {
        let mut messages: Vec<&MessageSpec> = private.messages.iter().collect();
        messages.sort_by_key(|m| std::cmp::Reverse(m.id));
        let top = messages.first().unwrap();
        let rows = messages.iter().map(|m| row(m, me, m.from)).collect();
        let dialog = json!({"id": private.peer, "name": name(private.peer), "top": top.id,
                            "date": top.date, "user": true, "channel": false});
        threads.push((top.date, top.id, private.peer, dialog, rows));
    }
    threads.sort_by_key(|t| std::cmp::Reverse((t.0, t.1, t.2)));
    let dialogs = threads.iter().map(|t| t.3.clone()).collect();
    let first_user = threads.iter().find(|t| t.3["user"] == json!(true));
    let first_channel = threads.iter().find(|t| t.3["channel"] == json!(true));
    let histories = [first_user, first_channel]
        .into_iter()
        .flatten()
        .map(|t| (t.2, t.4.clone()))
        .collect();
    (dialogs, histories)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telethon_logs_in_across_migrations_and_reads_dialogs_and_history() {
    let python = venv::python().await;
    let fixture = world_fixture();
    let world = Arc::new(World::from_fixture(fixture.clone()).unwrap());
    let mut registry = Registry::with_defaults();
    localdc::world::register(&mut registry, Arc::clone(&world));
    let server = Server::start_with(Config::default(), registry)
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("localdc-telethon-world-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("server_pub.pem");
    std::fs::write(&pem, server.public_key_pem()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/telethon_world.py");
    // Telethon starts on DC 1: the network's DC is 3, Alice lives on DC 2, Bob (2FA) on 4.
    let child = Command::new(&python)
        .arg(&script)
        .arg(&pem)
        .arg("1")
        .arg(server.addr(1).unwrap().port().to_string())
        .arg("15550001:12345")
        .arg("15550002:54321:hunter2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let output = tokio::time::timeout(SCRIPT_TIME, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the Telethon script took longer than {SCRIPT_TIME:?}"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "Telethon failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    let results: Vec<Value> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("RESULT "))
        .map(|json| serde_json::from_str(json).unwrap())
        .collect();
    assert_eq!(results.len(), 2, "stdout:\n{stdout}\nstderr:\n{stderr}");
    for (result, (me, home)) in results.iter().zip([(1001, 2), (1002, 4)]) {
        assert_eq!(result["me"], json!(me), "{result}");
        assert_eq!(result["dc"], json!(home), "ended on the home DC: {result}");
        let (dialogs, histories) = expected(&fixture, me);
        assert_eq!(result["dialogs"], Value::Array(dialogs), "dialogs of {me}");
        let seen = result["history"].as_object().unwrap();
        assert_eq!(seen.len(), histories.len(), "{result}");
        for (peer, rows) in histories {
            let got = &seen[&peer.to_string()];
            assert_eq!(
                got["newest_first"],
                Value::Array(rows.clone()),
                "{me}: {peer}"
            );
            let mut oldest_first = rows.clone();
            oldest_first.reverse();
            assert_eq!(
                got["oldest_first"],
                Value::Array(oldest_first),
                "{me}: {peer}"
            );
            let after_top: Vec<Value> = rows.iter().skip(1).take(3).cloned().collect();
            assert_eq!(got["after_top_3"], Value::Array(after_top), "{me}: {peer}");
        }
    }
    // Both logins went DC 1 -> 3 (NETWORK_MIGRATE) -> home (PHONE_MIGRATE).
    let switches: Vec<&str> = stderr
        .lines()
        .filter_map(|line| line.split("Reconnecting to new data center ").nth(1))
        .collect();
    assert_eq!(switches, ["3", "2", "3", "4"], "stderr:\n{stderr}");
    // Alice's chat with Carol has 150 messages: iter_messages paged through getHistory.
    assert!(
        results[0]["history"]["1003"]["newest_first"]
            .as_array()
            .is_some_and(|rows| rows.len() == 150)
    );
    server.shutdown().await;
}
