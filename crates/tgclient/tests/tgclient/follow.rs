//! `Client::follow` against localdc's live world: posts arrive as events in order, once;
//! pushed updates dropped by the fault knob are recovered through the channel difference;
//! a follow started again from the committed state delivers exactly what was posted while
//! none ran, through `getChannelDifference`, or by listing the history past the last
//! message handled when the difference is too long.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::Duration;

use localdc::rpc::CallCounts;
use localdc::world::World;
use localdc::world::fixture::{EditSpec, PostSpec, UpdateLimits};
use localdc::world::posting::ChatRef;
use localdc::{Config, RunningServer};
use tgclient::updates::{Follow, FollowEvent, convert};
use tgclient::{Client, SessionStore};
use tl_types::Identifiable;
use tl_types::api::{enums, functions};

use crate::common;

const CHANNEL: i64 = 631;
const TOO_LONG: u32 = 5;
const WAIT: Duration = Duration::from_mins(1);

struct Env {
    server: RunningServer,
    world: Arc<World>,
    calls: Arc<CallCounts>,
    client: Client,
    peer: enums::InputPeer,
    dir: tempfile::TempDir,
}

impl Env {
    async fn start() -> Env {
        let messages = serde_json::json!([
            { "id": 1, "date": 1_700_000_100, "text": "one" },
            { "id": 2, "date": 1_700_000_200, "text": "two" }
        ]);
        let mut fixture = common::files_channel(31, CHANNEL, &messages);
        fixture.updates = Some(UpdateLimits {
            channel_too_long: TOO_LONG,
            ..UpdateLimits::default()
        });
        let world = Arc::new(World::from_fixture(fixture).unwrap());
        let mut calls = None;
        let server = common::serve(Config::default(), &world, |registry| {
            calls = Some(Arc::clone(registry.calls()));
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let client = common::open_client(
            &dir.path().join("s.session"),
            common::server_config(&server),
        );
        let peer = common::open_files_channel(&client).await;
        Env {
            server,
            world,
            calls: calls.unwrap(),
            client,
            peer,
            dir,
        }
    }

    fn post(&self, text: &str) -> i32 {
        let post = PostSpec {
            text: text.into(),
            ..PostSpec::default()
        };
        self.world.post(ChatRef::Chat(CHANNEL), &post).unwrap()
    }

    fn channel_differences(&self) -> u64 {
        self.calls
            .of(functions::updates::GetChannelDifference::CONSTRUCTOR_ID)
    }

    /// Closes the client and opens a new one on the same session (a new process).
    async fn restart(self) -> Env {
        let Env {
            server,
            world,
            calls,
            client,
            peer,
            dir,
        } = self;
        client.close().await.unwrap();
        drop(client);
        let session = dir.path().join("s.session");
        let mut store = None;
        for _ in 0..100 {
            if let Ok(opened) = SessionStore::open(&session) {
                store = Some(opened);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let config = common::client_config(common::server_config(&server));
        let client = Client::new(config, store.expect("the session is released")).unwrap();
        Env {
            server,
            world,
            calls,
            client,
            peer,
            dir,
        }
    }
}

/// The next `n` events, each within [`WAIT`].
async fn events(follow: &mut Follow, n: usize) -> Vec<FollowEvent> {
    let mut got = Vec::new();
    while got.len() < n {
        let event = tokio::time::timeout(WAIT, follow.next())
            .await
            .unwrap_or_else(|_| panic!("only {got:?}"))
            .unwrap();
        got.push(event);
    }
    got
}

fn new_ids(events: &[FollowEvent]) -> Vec<i32> {
    events
        .iter()
        .map(|e| match e {
            FollowEvent::New { chat_id, message } => {
                assert_eq!(*chat_id, convert::channel_marked_id(CHANNEL));
                convert::message_id(message)
            }
            other => panic!("{other:?}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_edits_and_deletions_arrive_in_order_and_dropped_updates_are_recovered() {
    let env = Env::start().await;
    let mut follow = env
        .client
        .follow(std::slice::from_ref(&env.peer))
        .await
        .unwrap();
    let posted: Vec<i32> = (0..3).map(|i| env.post(&format!("live {i}"))).collect();
    assert_eq!(new_ids(&events(&mut follow, 3).await), posted);

    // Two pushed updates lost: the third shows the gap, the difference fills it.
    let faults = env.server.dc(2).unwrap().faults();
    let before = env.channel_differences();
    faults.drop_next_updates(2);
    let posted: Vec<i32> = (0..3).map(|i| env.post(&format!("gap {i}"))).collect();
    assert_eq!(new_ids(&events(&mut follow, 3).await), posted);
    assert_eq!(faults.updates_dropped(), 2);
    assert!(env.channel_differences() > before);

    let edited = posted[0];
    env.world
        .edit(
            ChatRef::Chat(CHANNEL),
            &EditSpec {
                id: edited,
                text: Some("changed".into()),
                media: None,
            },
        )
        .unwrap();
    env.world
        .delete(ChatRef::Chat(CHANNEL), &[posted[1]])
        .unwrap();
    let got = events(&mut follow, 2).await;
    assert!(
        matches!(&got[0], FollowEvent::Edited { message, .. } if convert::message_id(message) == edited),
        "{got:?}"
    );
    assert!(
        matches!(&got[1], FollowEvent::Deleted { chat_id: Some(_), ids } if ids == &[posted[1]]),
        "{got:?}"
    );
    // Nothing more: every message was delivered once.
    assert!(follow.try_next().is_none());
    env.client.close().await.unwrap();
    env.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_lost_before_a_reconnect_is_fetched_after_it() {
    let env = Env::start().await;
    let mut follow = env
        .client
        .follow(std::slice::from_ref(&env.peer))
        .await
        .unwrap();
    let faults = env.server.dc(2).unwrap().faults();
    // Lost, and nothing after it to show the gap; then the connection drops.
    faults.drop_next_updates(1);
    let lost = env.post("lost");
    assert_eq!(faults.updates_dropped(), 1);
    faults.disconnect_all();
    // The sender reconnects by itself and says updates may have been lost: the
    // differences bring the post (the channel would otherwise be polled in 15 minutes).
    assert_eq!(new_ids(&events(&mut follow, 1).await), vec![lost]);
    env.client.close().await.unwrap();
    env.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_cancelled_during_a_difference_loses_nothing_and_repeats_nothing() {
    let env = Env::start().await;
    let mut follow = env
        .client
        .follow(std::slice::from_ref(&env.peer))
        .await
        .unwrap();
    // Past the first channel difference a new follow makes.
    let warm = env.post("warm");
    assert_eq!(new_ids(&events(&mut follow, 1).await), vec![warm]);
    let faults = env.server.dc(2).unwrap().faults();
    // The first post is lost, the second shows the gap; the difference that fills it
    // answers slowly, and the wait for the next event gives up while it is under way.
    faults.set_response_delay(Duration::from_millis(800));
    faults.drop_next_updates(1);
    let before = env.channel_differences();
    let posted = vec![env.post("lost"), env.post("gap")];
    assert!(
        tokio::time::timeout(Duration::from_millis(900), follow.next())
            .await
            .is_err(),
        "the difference answered before the wait gave up"
    );
    faults.set_response_delay(Duration::ZERO);
    assert_eq!(new_ids(&events(&mut follow, 2).await), posted);
    assert!(follow.try_next().is_none());
    // The cancelled difference was asked again.
    assert!(env.channel_differences() >= before + 2);
    env.client.close().await.unwrap();
    env.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_follow_resumes_from_the_commit_through_the_difference_or_a_relisting() {
    let mut env = Env::start().await;
    let mut follow = env
        .client
        .follow(std::slice::from_ref(&env.peer))
        .await
        .unwrap();
    let first = env.post("seen");
    assert_eq!(new_ids(&events(&mut follow, 1).await), vec![first]);
    follow.commit().unwrap();
    // Delivered but not committed (the consumer crashed before recording it): again.
    let uncommitted = env.post("not recorded");
    assert_eq!(new_ids(&events(&mut follow, 1).await), vec![uncommitted]);
    drop(follow);
    env = env.restart().await;

    // A few posts while none ran: the channel difference brings them.
    let mut away: Vec<i32> = vec![uncommitted];
    away.extend((0..2).map(|i| env.post(&format!("away {i}"))));
    let mut follow = env
        .client
        .follow(std::slice::from_ref(&env.peer))
        .await
        .unwrap();
    assert_eq!(new_ids(&events(&mut follow, away.len()).await), away);
    follow.commit().unwrap();
    drop(follow);
    env = env.restart().await;

    // More than the difference answers: too long, so the history past the last message
    // handled is listed, and nothing older.
    let history_before = env
        .calls
        .of(functions::messages::GetHistory::CONSTRUCTOR_ID);
    let away: Vec<i32> = (0..TOO_LONG + 3)
        .map(|i| env.post(&format!("long away {i}")))
        .collect();
    let mut follow = env
        .client
        .follow(std::slice::from_ref(&env.peer))
        .await
        .unwrap();
    assert_eq!(new_ids(&events(&mut follow, away.len()).await), away);
    assert!(
        env.calls
            .of(functions::messages::GetHistory::CONSTRUCTOR_ID)
            > history_before
    );
    // Live again after the relisting.
    let live = env.post("live again");
    assert_eq!(new_ids(&events(&mut follow, 1).await), vec![live]);
    assert!(follow.try_next().is_none());
    env.client.close().await.unwrap();
    env.server.shutdown().await;
}
