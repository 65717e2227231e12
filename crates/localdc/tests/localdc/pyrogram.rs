#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Pyrogram-style clients against localdc. Pyrogram and its forks put the `InputPeer` that
//! `resolve_peer` returns wherever the schema wants an `InputChannel` or `InputUser`, as
//! Telegram allows: localdc reads those requests as Telegram does (checked here over the
//! wire), and kurigram 2.2.26, an unmodified real client, starting on a minted logged-in
//! key, reads a channel's messages by id and the channel itself. Needs Python 3; the venv
//! is made by `scripts/setup-python-tests.sh` (PyPI access needed once).

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use localdc::world::fixture::ChatSpec;
use localdc::world::{Fixture, MintedSession, World, mint_session};
use localdc::{Config, Registry, RunningServer, Server};
use mtcrypto::{AuthKey, RsaPublicKey};
use mtnet::{AuthState, Endpoint, InvokeError, Sender, SenderConfig};
use serde_json::{Value, json};
use tl_types::api::{enums, functions, types};
use tl_types::{Deserialize, Identifiable, Serialize};
use tokio::process::Command;

use crate::common;
use crate::venv;

/// The whole script, venv setup excluded, ends within this.
const SCRIPT_TIME: Duration = Duration::from_mins(2);

async fn start() -> (RunningServer, Arc<World>, Fixture) {
    let fixture = Fixture::from_json(include_str!("../../fixtures/demo.json")).unwrap();
    let world = Arc::new(World::from_fixture(fixture.clone()).unwrap());
    let mut registry = Registry::with_defaults();
    localdc::world::register(&mut registry, Arc::clone(&world));
    let server = Server::start_with(Config::default(), registry)
        .await
        .unwrap();
    (server, world, fixture)
}

fn demo_news(fixture: &Fixture) -> &ChatSpec {
    fixture
        .chats
        .iter()
        .find(|c| c.username.as_deref() == Some("demo_news"))
        .unwrap()
}

/// A sender on a minted key, its connection initialized as clients do.
async fn connect(server: &RunningServer, minted: &MintedSession) -> Sender {
    let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
    let endpoint = Endpoint::new(minted.addr, i16::try_from(minted.dc).unwrap());
    let config = SenderConfig::new(vec![endpoint], minted.dc, vec![key]);
    let auth = AuthState {
        auth_key: AuthKey::from_bytes(minted.auth_key),
        salt: minted.salt,
        time_offset: 0,
    };
    let (sender, _updates) = Sender::start(config, Some(auth)).await.unwrap();
    let init = common::with_init(functions::help::GetConfig {}.to_bytes());
    sender
        .invoke_raw(init, Duration::from_secs(30))
        .await
        .unwrap();
    sender
}

/// `body` sent as it is; the answer read as `T`.
async fn call<T: Deserialize>(sender: &Sender, body: Vec<u8>) -> Result<T, (i32, String)> {
    match sender.invoke_raw(body, Duration::from_mins(1)).await {
        Ok(bytes) => Ok(T::from_bytes(&bytes).unwrap()),
        Err(InvokeError::Rpc(error)) => Err((error.code, error.message)),
        Err(other) => panic!("transport failure: {other}"),
    }
}

/// The access hash localdc gives the channel, learned as a client learns it.
async fn input_peer_channel(sender: &Sender, username: &str) -> types::InputPeerChannel {
    let request = functions::contacts::ResolveUsername {
        username: username.into(),
        referer: None,
    };
    let resolved: enums::contacts::ResolvedPeer = call(sender, request.to_bytes()).await.unwrap();
    let enums::contacts::ResolvedPeer::ResolvedPeer(resolved) = resolved;
    let Some(enums::Chat::Channel(channel)) = resolved.chats.first() else {
        panic!("{resolved:?}")
    };
    types::InputPeerChannel {
        channel_id: channel.id,
        access_hash: channel.access_hash.unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_and_user_methods_take_input_peers_as_pyrogram_sends_them() {
    let (server, world, fixture) = start().await;
    let minted = mint_session(&server, &world, "15550001", None).unwrap();
    let sender = connect(&server, &minted).await;
    let news = demo_news(&fixture);
    let peer = input_peer_channel(&sender, "demo_news").await;

    // channels.getMessages{channel: inputPeerChannel, id: [1, 4, 999]}.
    let mut body = functions::channels::GetMessages::CONSTRUCTOR_ID
        .to_le_bytes()
        .to_vec();
    peer.serialize(&mut body);
    let ids = [1, 4, 999];
    ids.iter()
        .map(|id| enums::InputMessage::from(types::InputMessageID { id: *id }))
        .collect::<Vec<_>>()
        .serialize(&mut body);
    let answer: enums::messages::Messages = call(&sender, body).await.unwrap();
    let enums::messages::Messages::ChannelMessages(answer) = answer else {
        panic!("{answer:?}")
    };
    let got: Vec<(i32, Option<String>)> = answer
        .messages
        .iter()
        .map(|m| match m {
            enums::Message::Message(m) => (m.id, Some(m.message.clone())),
            enums::Message::Empty(m) => (m.id, None),
            enums::Message::Service(m) => panic!("{m:?}"),
        })
        .collect();
    let text = |id: i32| {
        news.messages
            .iter()
            .find(|m| m.id == id)
            .map(|m| m.text.clone())
    };
    assert_eq!(
        got,
        [(1, text(1)), (4, text(4)), (999, None)],
        "the fixture's texts, and an empty message for an id it lacks"
    );
    assert!(text(1).is_some_and(|t| !t.is_empty()));

    // channels.getFullChannel{channel: inputPeerChannel}.
    let mut body = functions::channels::GetFullChannel::CONSTRUCTOR_ID
        .to_le_bytes()
        .to_vec();
    peer.serialize(&mut body);
    let full: enums::messages::ChatFull = call(&sender, body).await.unwrap();
    let enums::messages::ChatFull::ChatFull(full) = full;
    let enums::ChatFull::ChannelFull(full) = full.full_chat else {
        panic!("not a channel")
    };
    assert_eq!(full.id, news.id);

    // The access hash is still checked.
    let mut body = functions::channels::GetFullChannel::CONSTRUCTOR_ID
        .to_le_bytes()
        .to_vec();
    types::InputPeerChannel {
        access_hash: peer.access_hash ^ 1,
        ..peer
    }
    .serialize(&mut body);
    let wrong = call::<enums::messages::ChatFull>(&sender, body).await;
    assert_eq!(wrong.unwrap_err(), (400, "CHANNEL_INVALID".to_owned()));

    // users.getUsers{id: [inputPeerSelf]} and users.getFullUser{id: inputPeerSelf}.
    let mut body = functions::users::GetUsers::CONSTRUCTOR_ID
        .to_le_bytes()
        .to_vec();
    tl_types::wire::write_vector_header(&mut body, 1, true);
    types::InputPeerSelf {}.serialize(&mut body);
    let users: Vec<enums::User> = call(&sender, body).await.unwrap();
    assert!(matches!(&users[..], [enums::User::User(u)] if u.id == 1001 && u.self_));
    let mut body = functions::users::GetFullUser::CONSTRUCTOR_ID
        .to_le_bytes()
        .to_vec();
    types::InputPeerSelf {}.serialize(&mut body);
    let full: enums::users::UserFull = call(&sender, body).await.unwrap();
    let enums::users::UserFull::UserFull(full) = full;
    let enums::UserFull::UserFull(full) = full.full_user;
    assert_eq!(full.id, 1001);

    sender.shutdown().await;
    server.shutdown().await;
}

/// A message row as the script prints it, expected from the fixture.
fn row(chat: i64, id: i32, text: Option<&str>) -> Value {
    json!({
        "id": id,
        "empty": text.is_none(),
        "chat": text.map(|_| chat),
        "text": text.unwrap_or_default(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kurigram_reads_a_channels_messages_by_id() {
    let python = venv::python().await;
    let (server, world, fixture) = start().await;
    let minted = mint_session(&server, &world, "15550001", None).unwrap();
    let news = demo_news(&fixture);
    let marked = -(1_000_000_000_000 + news.id);
    // Every message of the channel, newest first, and an id it does not have.
    let mut ids: Vec<i32> = news.messages.iter().map(|m| m.id).rev().collect();
    ids.push(999);
    let expected: Vec<Value> = ids
        .iter()
        .map(|id| {
            let text = news
                .messages
                .iter()
                .find(|m| m.id == *id)
                .map(|m| m.text.as_str());
            row(marked, *id, text)
        })
        .collect();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/pyrogram_messages.py");
    let ids_arg: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let child = Command::new(&python)
        .arg(&script)
        .arg(minted.addr.port().to_string())
        .arg(minted.dc.to_string())
        .arg(hex::encode(minted.auth_key))
        .arg(minted.user_id.to_string())
        .arg("demo_news")
        .arg(ids_arg.join(","))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    // On timeout the child is dropped, and killed with it.
    let output = tokio::time::timeout(SCRIPT_TIME, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the kurigram script took longer than {SCRIPT_TIME:?}"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "kurigram failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line:\n{stdout}\n{stderr}"));
    let result: Value = serde_json::from_str(line).unwrap();
    assert_eq!(result["me"], json!(1001), "{result}");
    assert_eq!(result["users_me"], json!(1001), "{result}");
    assert_eq!(result["chat"], json!(marked), "{result}");
    assert_eq!(result["title"], json!(news.title), "{result}");
    let members = news.members.iter().chain([&news.creator]);
    let members: std::collections::BTreeSet<&i64> = members.collect();
    assert_eq!(result["members"], json!(members.len()), "{result}");
    assert_eq!(result["by_username"], Value::Array(expected.clone()));
    assert_eq!(result["by_id"], Value::Array(expected));
    server.shutdown().await;
}
