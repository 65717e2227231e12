//! The live world over real sockets: messages posted, edited and deleted while serving,
//! seen by history and served as files; updates pushed to subscribed sessions with their
//! pts; `updates.getChannelDifference` and `updates.getDifference` paging and "too long"
//! answers; the fault knob that drops pushed updates; the control-port commands.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::time::Duration;

use localdc::control::Control;
use localdc::world::FileKey;
use localdc::world::Fixture;
use localdc::world::fixture::{
    EditSpec, NewMedia, PostSpec, PrivateChatSpec, TimelineEntry, UpdateLimits,
};
use localdc::world::posting::ChatRef;
use tl_types::api::{enums, functions, types};
use tl_types::{Deserialize, Serialize};

use crate::media::location;
use crate::world::{Client, Env, demo, start};

const TEST_TIME: Duration = Duration::from_mins(3);
const CHANNEL: i64 = 501;
const GROUP: i64 = 503;
const ALICE: i64 = 1001;
const BOB: i64 = 1002;

fn text(text: &str) -> PostSpec {
    PostSpec {
        text: text.into(),
        ..PostSpec::default()
    }
}

fn input_channel(env: &Env) -> enums::InputChannel {
    types::InputChannel {
        channel_id: CHANNEL,
        access_hash: env.world.store().channel_hash(CHANNEL),
    }
    .into()
}

fn channel_difference(env: &Env, pts: i32, limit: i32) -> functions::updates::GetChannelDifference {
    functions::updates::GetChannelDifference {
        force: false,
        channel: input_channel(env),
        filter: enums::ChannelMessagesFilter::Empty,
        pts,
        limit,
    }
}

fn difference(pts: i32, pts_total_limit: Option<i32>) -> functions::updates::GetDifference {
    functions::updates::GetDifference {
        pts,
        pts_limit: None,
        pts_total_limit,
        date: 1,
        qts: 0,
        qts_limit: None,
    }
}

fn message_id(message: &enums::Message) -> i32 {
    match message {
        enums::Message::Message(m) => m.id,
        enums::Message::Service(m) => m.id,
        enums::Message::Empty(m) => m.id,
    }
}

async fn get_state(client: &Client) -> types::updates::State {
    let enums::updates::State::State(state) =
        client.rpc(&functions::updates::GetState {}).await.unwrap();
    *state
}

async fn channel_message(client: &Client, env: &Env, id: i32) -> enums::Message {
    let answer = client
        .rpc(&functions::channels::GetMessages {
            channel: input_channel(env),
            id: vec![types::InputMessageID { id }.into()],
        })
        .await
        .unwrap();
    let enums::messages::Messages::ChannelMessages(answer) = answer else {
        panic!("{answer:?}");
    };
    answer.messages.into_iter().next().unwrap()
}

async fn history_ids(client: &Client, env: &Env) -> Vec<i32> {
    let answer = client
        .rpc(&functions::messages::GetHistory {
            peer: types::InputPeerChannel {
                channel_id: CHANNEL,
                access_hash: env.world.store().channel_hash(CHANNEL),
            }
            .into(),
            offset_id: 0,
            offset_date: 0,
            add_offset: 0,
            limit: 100,
            max_id: 0,
            min_id: 0,
            hash: 0,
        })
        .await
        .unwrap();
    let enums::messages::Messages::ChannelMessages(answer) = answer else {
        panic!("{answer:?}");
    };
    answer.messages.iter().map(message_id).collect()
}

/// The next object pushed.
async fn next_updates(client: &mut Client) -> enums::Updates {
    let body = client.updates.recv().await.expect("updates channel closed");
    enums::Updates::from_bytes(&body).unwrap()
}

/// The next pushed `updates` object's single update.
async fn next_update(client: &mut Client) -> enums::Update {
    match next_updates(client).await {
        enums::Updates::Updates(updates) => {
            assert_eq!(updates.seq, 0, "pts updates are not seq-ordered");
            assert_eq!(updates.updates.len(), 1, "{updates:?}");
            updates.updates.into_iter().next().unwrap()
        }
        other => panic!("{other:?}"),
    }
}

async fn with_alice(test: impl AsyncFnOnce(&Env, Client)) {
    with_alice_in(demo(), test).await;
}

async fn with_alice_in(fixture: Fixture, test: impl AsyncFnOnce(&Env, Client)) {
    tokio::time::timeout(TEST_TIME, async {
        let env = start(fixture).await;
        let alice = Client::minted(&env, "15550001").await;
        test(&env, alice).await;
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posted_edited_and_deleted_messages_show_in_history_and_their_files_are_served() {
    with_alice(async |env, alice| {
        let post = PostSpec {
            media: Some(NewMedia::Document {
                size: 300_000,
                file_name: Some("live.bin".into()),
                mime_type: None,
                dc: None,
            }),
            ..text("live")
        };
        let id = env.world.post(ChatRef::Chat(CHANNEL), &post).unwrap();
        assert_eq!(history_ids(&alice, env).await, vec![6, 5, 4, 3, 2, 1]);
        let message = channel_message(&alice, env, id).await;
        let location = location(&message, "");
        let enums::InputFileLocation::InputDocumentFileLocation(doc) = &location else {
            panic!("{location:?}");
        };
        let key = FileKey::document(doc.id);
        let mut bytes = Vec::new();
        loop {
            let part = alice
                .rpc(&functions::upload::GetFile {
                    precise: false,
                    cdn_supported: false,
                    location: location.clone(),
                    offset: bytes.len() as i64,
                    limit: 131_072,
                })
                .await
                .unwrap();
            let enums::upload::File::File(part) = part else {
                panic!("{part:?}");
            };
            let done = part.bytes.len() < 131_072;
            bytes.extend_from_slice(&part.bytes);
            if done {
                break;
            }
        }
        assert_eq!(bytes.len(), 300_000);
        assert_eq!(env.world.file_bytes(&key, 0, 300_000).unwrap(), bytes);
        assert_eq!(env.world.served_bytes(&key), 300_000);

        let edit = EditSpec {
            id,
            text: Some("edited".into()),
            media: None,
        };
        env.world.edit(ChatRef::Chat(CHANNEL), &edit).unwrap();
        let enums::Message::Message(edited) = channel_message(&alice, env, id).await else {
            panic!("not a message");
        };
        assert_eq!(edited.message, "edited");
        assert!(edited.edit_date.is_some());

        env.world.delete(ChatRef::Chat(CHANNEL), &[id]).unwrap();
        assert!(matches!(
            channel_message(&alice, env, id).await,
            enums::Message::Empty(_)
        ));
        assert_eq!(history_ids(&alice, env).await, vec![5, 4, 3, 2, 1]);
        assert_eq!(env.world.channel_pts(CHANNEL), Some(8));
    })
    .await;
}

/// The demo world with a private chat between Alice and Bob, seen from both sides.
fn with_private_chats() -> Fixture {
    let mut fixture = demo();
    for (user, peer) in [(ALICE, BOB), (BOB, ALICE)] {
        fixture.private_chats.push(PrivateChatSpec {
            user,
            peer,
            messages: Vec::new(),
        });
    }
    fixture
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribed_sessions_get_each_change_pushed_with_its_pts() {
    with_alice_in(with_private_chats(), async |env, mut alice| {
        // Connecting (help.getConfig) is not a call as the user: no updates yet.
        assert_eq!(env.world.subscribed_sessions(ALICE), 0);
        let state = get_state(&alice).await;
        assert_eq!(env.world.subscribed_sessions(ALICE), 1);

        env.world
            .post(ChatRef::Chat(CHANNEL), &text("one"))
            .unwrap();
        let enums::Update::NewChannelMessage(new) = next_update(&mut alice).await else {
            panic!("expected updateNewChannelMessage");
        };
        assert_eq!(
            (new.pts, new.pts_count, message_id(&new.message)),
            (6, 1, 6)
        );

        // Text in a basic group or a private chat comes in the short forms.
        env.world
            .post(ChatRef::Chat(GROUP), &text("group"))
            .unwrap();
        let enums::Updates::UpdateShortChatMessage(short) = next_updates(&mut alice).await else {
            panic!("expected updateShortChatMessage");
        };
        assert_eq!((short.pts, short.pts_count), (state.pts + 1, 1));
        assert_eq!(
            (short.chat_id, short.from_id, short.out),
            (GROUP, BOB, false)
        );
        // Bob writes to Alice (from his side): Alice gets her own copy.
        let post = PostSpec {
            from: Some(BOB),
            ..text("hi Alice")
        };
        let private = ChatRef::Private {
            user: BOB,
            peer: ALICE,
        };
        env.world.post(private, &post).unwrap();
        let enums::Updates::UpdateShortMessage(short) = next_updates(&mut alice).await else {
            panic!("expected updateShortMessage");
        };
        assert_eq!(
            (short.pts, short.user_id, short.out),
            (state.pts + 2, BOB, false)
        );
        assert_eq!(short.message, "hi Alice");
        // With media, the full form.
        let post = PostSpec {
            media: Some(NewMedia::Photo {
                size: 1000,
                dc: None,
            }),
            ..text("a photo")
        };
        let private = ChatRef::Private {
            user: ALICE,
            peer: BOB,
        };
        env.world.post(private, &post).unwrap();
        let enums::Update::NewMessage(new) = next_update(&mut alice).await else {
            panic!("expected updateNewMessage");
        };
        assert_eq!((new.pts, new.pts_count), (state.pts + 3, 1));

        let edit = EditSpec {
            id: 6,
            text: Some("uno".into()),
            media: None,
        };
        env.world.edit(ChatRef::Chat(CHANNEL), &edit).unwrap();
        let enums::Update::EditChannelMessage(edited) = next_update(&mut alice).await else {
            panic!("expected updateEditChannelMessage");
        };
        assert_eq!((edited.pts, edited.pts_count), (7, 1));

        env.world.delete(ChatRef::Chat(CHANNEL), &[6, 5]).unwrap();
        let enums::Update::DeleteChannelMessages(deleted) = next_update(&mut alice).await else {
            panic!("expected updateDeleteChannelMessages");
        };
        assert_eq!(
            (deleted.channel_id, deleted.pts, deleted.pts_count),
            (CHANNEL, 9, 2)
        );
        assert_eq!(
            deleted.messages.iter().copied().collect::<BTreeSet<_>>(),
            BTreeSet::from([5, 6])
        );

        // The state moved with the common box only.
        assert_eq!(get_state(&alice).await.pts, state.pts + 3);

        // Another session whose calls say invokeWithoutUpdates is not subscribed.
        let quiet = Client::minted(env, "15550001").await;
        let mut body = 0xbf94_59b7_u32.to_le_bytes().to_vec();
        body.extend_from_slice(&functions::updates::GetState {}.to_bytes());
        quiet.sender.invoke_raw(body, TEST_TIME).await.unwrap();
        assert_eq!(env.world.subscribed_sessions(ALICE), 1);

        // Logged out, the session is Alice's no more: the next change drops it.
        alice.rpc(&functions::auth::LogOut {}).await.unwrap();
        env.world
            .post(ChatRef::Chat(CHANNEL), &text("after logout"))
            .unwrap();
        assert_eq!(env.world.subscribed_sessions(ALICE), 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_follow_a_session_to_its_new_connection() {
    with_alice(async |env, mut alice| {
        get_state(&alice).await;
        env.server.dc(2).unwrap().faults().disconnect_all();
        // The client reconnects under the same session, which stays subscribed.
        get_state(&alice).await;
        env.world
            .post(ChatRef::Chat(CHANNEL), &text("after"))
            .unwrap();
        let enums::Update::NewChannelMessage(new) = next_update(&mut alice).await else {
            panic!("expected updateNewChannelMessage");
        };
        assert_eq!(new.pts, 6);
        assert_eq!(env.world.subscribed_sessions(ALICE), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_pushes_leave_a_gap_the_channel_difference_fills() {
    with_alice(async |env, mut alice| {
        get_state(&alice).await;
        let dc = env.server.dc(2).unwrap();
        let faults = dc.faults();
        faults.drop_next_updates(1);
        env.world
            .post(ChatRef::Chat(CHANNEL), &text("lost"))
            .unwrap();
        env.world
            .post(ChatRef::Chat(CHANNEL), &text("seen"))
            .unwrap();
        let enums::Update::NewChannelMessage(seen) = next_update(&mut alice).await else {
            panic!("expected updateNewChannelMessage");
        };
        // pts 7 after 5 with pts_count 1: pts 6 is missing.
        assert_eq!((seen.pts, seen.pts_count), (7, 1));
        assert_eq!(faults.updates_dropped(), 1);
        let answer = alice.rpc(&channel_difference(env, 5, 100)).await.unwrap();
        let enums::updates::ChannelDifference::ChannelDifference(answer) = answer else {
            panic!("{answer:?}");
        };
        assert!(answer.r#final);
        assert_eq!(answer.pts, 7);
        assert_eq!(
            answer
                .new_messages
                .iter()
                .map(message_id)
                .collect::<Vec<_>>(),
            vec![6, 7]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_differences_page_every_event_once_then_answer_too_long() {
    with_alice(async |env, alice| {
        for i in 0..7 {
            env.world
                .post(ChatRef::Chat(CHANNEL), &text(&format!("post {i}")))
                .unwrap();
        }
        env.world.delete(ChatRef::Chat(CHANNEL), &[1]).unwrap();
        let mut pts = 5;
        let mut seen = Vec::new();
        let mut deleted = Vec::new();
        let mut calls = 0;
        loop {
            calls += 1;
            let answer = alice.rpc(&channel_difference(env, pts, 3)).await.unwrap();
            match answer {
                enums::updates::ChannelDifference::ChannelDifference(d) => {
                    seen.extend(d.new_messages.iter().map(message_id));
                    for update in &d.other_updates {
                        let enums::Update::DeleteChannelMessages(u) = update else {
                            panic!("{update:?}");
                        };
                        deleted.extend(u.messages.iter().copied());
                    }
                    assert!(d.pts > pts);
                    pts = d.pts;
                    assert_eq!(d.r#final, pts == 13, "final only on the last page");
                    assert_eq!(d.timeout, Some(30));
                }
                enums::updates::ChannelDifference::Empty(e) => {
                    assert!(e.r#final);
                    assert_eq!(e.pts, 13);
                    break;
                }
                other @ enums::updates::ChannelDifference::TooLong(_) => panic!("{other:?}"),
            }
        }
        assert_eq!(seen, (6..=12).collect::<Vec<_>>());
        assert_eq!(deleted, vec![1]);
        // 8 events, 3 per page: 3 pages, then the empty answer.
        assert_eq!(calls, 4);

        env.world.set_update_limits(UpdateLimits {
            channel_too_long: 4,
            ..UpdateLimits::default()
        });
        let answer = alice.rpc(&channel_difference(env, 5, 3)).await.unwrap();
        let enums::updates::ChannelDifference::TooLong(long) = answer else {
            panic!("{answer:?}");
        };
        let enums::Dialog::Dialog(dialog) = &long.dialog else {
            panic!("{:?}", long.dialog);
        };
        assert_eq!((dialog.pts, dialog.top_message), (Some(13), 12));
        // The latest messages, newest first, as many as the limit.
        assert_eq!(
            long.messages.iter().map(message_id).collect::<Vec<_>>(),
            vec![12, 11, 10]
        );
        // Within the limit, the difference is still answered.
        let answer = alice.rpc(&channel_difference(env, 10, 3)).await.unwrap();
        assert!(matches!(
            answer,
            enums::updates::ChannelDifference::ChannelDifference(_)
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quirk_answers_too_long_past_the_request_limit() {
    tokio::time::timeout(TEST_TIME, async {
        let world = std::sync::Arc::new(localdc::world::World::from_fixture(demo()).unwrap());
        let mut config = localdc::Config::default();
        config.faults.quirks = localdc::quirks::Quirks::default().too_long_past_limit();
        let server = localdc::serve(config).world(&world).start().await.unwrap();
        let key = mtcrypto::RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
        let env = Env { server, key, world };
        let alice = Client::minted(&env, "15550001").await;
        for i in 0..4 {
            env.world
                .post(ChatRef::Chat(CHANNEL), &text(&format!("post {i}")))
                .unwrap();
        }
        // Four owed, three asked: too long under this reading.
        let answer = alice.rpc(&channel_difference(&env, 5, 3)).await.unwrap();
        assert!(
            matches!(answer, enums::updates::ChannelDifference::TooLong(_)),
            "{answer:?}"
        );
        let answer = alice.rpc(&channel_difference(&env, 6, 3)).await.unwrap();
        let enums::updates::ChannelDifference::ChannelDifference(d) = answer else {
            panic!("{answer:?}");
        };
        assert!(d.r#final);
        assert_eq!(
            d.new_messages.iter().map(message_id).collect::<Vec<_>>(),
            vec![7, 8, 9]
        );
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differences_slice_past_the_limit_and_are_too_long_past_the_total() {
    with_alice(async |env, alice| {
        env.world.set_update_limits(UpdateLimits {
            difference_slice: 2,
            ..UpdateLimits::default()
        });
        let start = get_state(&alice).await.pts;
        let empty = alice.rpc(&difference(start, None)).await.unwrap();
        assert!(matches!(empty, enums::updates::Difference::Empty(_)));
        for i in 0..5 {
            env.world
                .post(ChatRef::Chat(GROUP), &text(&format!("group {i}")))
                .unwrap();
        }
        let mut pts = start;
        let mut seen = Vec::new();
        let mut slices = 0;
        loop {
            match alice.rpc(&difference(pts, None)).await.unwrap() {
                enums::updates::Difference::Slice(slice) => {
                    slices += 1;
                    seen.extend(slice.new_messages.iter().map(message_id));
                    let enums::updates::State::State(state) = slice.intermediate_state;
                    pts = state.pts;
                }
                enums::updates::Difference::Difference(last) => {
                    seen.extend(last.new_messages.iter().map(message_id));
                    let enums::updates::State::State(state) = last.state;
                    pts = state.pts;
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(slices, 2);
        assert_eq!(pts, start + 5);
        assert_eq!(seen, (102..=106).collect::<Vec<_>>());
        // More owed than the client's pts_total_limit: too long.
        let answer = alice.rpc(&difference(start, Some(4))).await.unwrap();
        let enums::updates::Difference::TooLong(long) = answer else {
            panic!("{answer:?}");
        };
        assert_eq!(long.pts, start + 5);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_world_plays_its_timeline() {
    tokio::time::timeout(TEST_TIME, async {
        let mut fixture = demo();
        fixture.timeline = vec![TimelineEntry {
            after_ms: 50,
            chat: Some(CHANNEL),
            post: Some(PostSpec {
                media: Some(NewMedia::Photo {
                    size: 4096,
                    dc: None,
                }),
                ..text("from the timeline")
            }),
            ..TimelineEntry::default()
        }];
        let world = std::sync::Arc::new(localdc::world::World::from_fixture(fixture).unwrap());
        let server = localdc::serve(localdc::Config::default())
            .world(&world)
            .start()
            .await
            .unwrap();
        while world.channel_pts(CHANNEL) == Some(5) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let store = world.store();
        let posted = store.chats[&CHANNEL].top().unwrap();
        assert_eq!((posted.id, posted.text.as_str()), (6, "from the timeline"));
        assert!(posted.media.is_some());
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_keeps_what_was_posted_and_the_timeline_it_played() {
    tokio::time::timeout(TEST_TIME, async {
        let dir = std::env::temp_dir().join(format!("localdc-live-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut fixture = demo();
        fixture.timeline = vec![TimelineEntry {
            after_ms: 0,
            chat: Some(CHANNEL),
            post: Some(text("from the timeline")),
            ..TimelineEntry::default()
        }];
        let config = localdc::Config {
            state_dir: Some(dir.clone()),
            ..localdc::Config::default()
        };
        let world =
            std::sync::Arc::new(localdc::world::World::from_fixture(fixture.clone()).unwrap());
        let server = localdc::serve(config.clone())
            .world(&world)
            .start()
            .await
            .unwrap();
        while world.channel_pts(CHANNEL) == Some(5) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        world
            .post(ChatRef::Chat(CHANNEL), &text("by hand"))
            .unwrap();
        server.shutdown().await;
        let before = world.store().chats[&CHANNEL].messages.clone();
        assert_eq!(before.len(), 7);

        // A new process: the fixture again, the state dir's changes replayed, the timeline
        // not played twice.
        let again = std::sync::Arc::new(localdc::world::World::from_fixture(fixture).unwrap());
        let server = localdc::serve(config).world(&again).start().await.unwrap();
        assert_eq!(again.store().chats[&CHANNEL].messages, before);
        assert_eq!(again.channel_pts(CHANNEL), Some(7));
        assert_eq!(
            again.post(ChatRef::Chat(CHANNEL), &text("after")).unwrap(),
            8
        );
        server.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_port_commands_post_edit_delete_and_drop_updates() {
    with_alice(async |env, _alice| {
        let control = Control::new(&env.server, Some(std::sync::Arc::clone(&env.world)));
        assert_eq!(
            control.execute("post 501 photo 5000 a photo, two words"),
            "ok 6"
        );
        let store = env.world.store();
        let posted = store.chats[&CHANNEL].message(6).unwrap();
        assert_eq!(posted.text, "a photo, two words");
        assert!(posted.media.is_some());
        assert_eq!(control.execute("post 501 just text"), "ok 7");
        assert_eq!(control.execute("edit 501 7 document 1000 now a file"), "ok");
        let edited = env.world.store().chats[&CHANNEL]
            .message(7)
            .cloned()
            .unwrap();
        assert_eq!(edited.text, "now a file");
        assert!(edited.edit_date.is_some());
        assert_eq!(control.execute("delete 501 6 7 99"), "ok 2");
        assert_eq!(control.execute("pts 501"), "ok 10");
        assert!(control.execute("post 999 x").starts_with("error"));
        assert!(control.execute("edit 501 1").starts_with("error"));
        assert_eq!(control.execute("drop-updates 2 next 3"), "ok");
        assert_eq!(control.execute("drop-updates all rate 0.5"), "ok");
        let dc = env.server.dc(2).unwrap();
        let faults = dc.faults();
        assert!((faults.update_drop_rate() - 0.5).abs() < 1e-9);
        assert_eq!(control.execute("drop-updates all off"), "ok");
        assert!(faults.update_drop_rate().abs() < 1e-9);
        assert!(
            control
                .execute("drop-updates all rate 2")
                .starts_with("error")
        );
        assert_eq!(
            control.execute("update-limits channel_too_long 40"),
            "ok channel_too_long=40 difference_slice=1000 difference_too_long=100000 \
             keep=100000 channel_timeout=30"
        );
        assert_eq!(env.world.update_limits().channel_too_long, 40);
        assert!(
            control
                .execute("update-limits bogus 1")
                .starts_with("error")
        );
    })
    .await;
}
