//! Peer resolution and the message iterators against localdc serving a generated world:
//! usernames, ids and links resolve (and the cache learns access hashes), history pages
//! over thousands of messages without gaps or duplicates, per-chat search by text and by
//! media filter matches the fixture, and global search pages across chats.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use localdc::world::fixture::{ChatKind, ChatSpec, FloodRule, MediaSpec, MessageSpec};
use localdc::world::generate::{self, GenOptions};
use localdc::{Handler, HandlerFuture, Registry, RequestContext};
use tgclient::{PeerKind, ResolveError};
use tl_types::Identifiable;
use tl_types::api::{enums, functions};

use crate::common;
use common::Env;

/// Generated chats: 1 is a public channel (`@chat1`), 2 a private supergroup
/// (`+invite2`), 3 a basic group (`@chat3`), with 4,000 messages each.
const MESSAGES: usize = 12_000;

/// Generated worlds: `messages` spread over `chats` chats.
fn world(messages: usize, chats: usize) -> GenOptions {
    GenOptions {
        messages,
        chats,
        media_bytes: 1 << 20,
        seed: 42,
        dcs: 2,
    }
}

async fn start() -> Env {
    start_with(world(MESSAGES, 3), Vec::new(), |_| {}).await
}

/// A server over the generated world `options` with `flood` rules, its registry adjusted
/// by `customize`, and a client logged in as the first generated account.
async fn start_with(
    options: GenOptions,
    flood: Vec<FloodRule>,
    customize: impl FnOnce(&mut Registry),
) -> Env {
    let mut fixture = generate::generate(&options);
    fixture.flood = flood;
    common::start_logged_in(fixture, customize).await
}

/// `start_with`, recording every `messages.getHistory` call; the log.
async fn start_recording_history(
    options: GenOptions,
    flood: Vec<FloodRule>,
) -> (Env, Arc<Mutex<Vec<Received>>>) {
    let mut log = None;
    let env = start_with(options, flood, |registry| {
        let history = record(registry, functions::messages::GetHistory::CONSTRUCTOR_ID);
        record_into(
            registry,
            functions::users::GetUsers::CONSTRUCTOR_ID,
            &history,
        );
        log = Some(history);
    })
    .await;
    (env, log.unwrap())
}

/// Runs `test` against the default world (`start`), then closes the client and the server.
async fn with_default_world(test: impl AsyncFnOnce(&Env)) {
    timed(Box::pin(async {
        let env = start().await;
        test(&env).await;
        env.finish().await;
    }))
    .await;
}

/// One call the server received: when (to order calls, never to measure them), which
/// method, and the error it answered.
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    method: u32,
    error: Option<String>,
}

/// Records every call of the handler it wraps.
struct Recorded(Arc<dyn Handler>, Arc<Mutex<Vec<Received>>>);

impl Handler for Recorded {
    fn call(&self, ctx: RequestContext, body: Vec<u8>) -> HandlerFuture {
        let at = Instant::now();
        let method = tl_types::Reader::new(&body).read_u32().unwrap_or_default();
        let log = Arc::clone(&self.1);
        let answer = self.0.call(ctx, body);
        Box::pin(async move {
            let answer = answer.await;
            log.lock().unwrap().push(Received {
                at,
                method,
                error: answer.as_ref().err().map(|e| e.message.clone()),
            });
            answer
        })
    }
}

/// Wraps method `id` of `registry` in a recorder; its log, oldest call first once sorted.
fn record(registry: &mut Registry, id: u32) -> Arc<Mutex<Vec<Received>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    record_into(registry, id, &log);
    log
}

/// Wraps method `id` of `registry` in a recorder writing to `log`.
fn record_into(registry: &mut Registry, id: u32, log: &Arc<Mutex<Vec<Received>>>) {
    let (name, handler) = registry.get(id).unwrap();
    registry.insert(id, name, Arc::new(Recorded(handler, Arc::clone(log))));
}

fn sorted(log: &Mutex<Vec<Received>>) -> Vec<Received> {
    let mut calls = log.lock().unwrap().clone();
    calls.sort_by_key(|c| c.at);
    calls
}

impl Env {
    fn chat(&self, id: i64) -> &ChatSpec {
        self.fixture.chats.iter().find(|c| c.id == id).unwrap()
    }
}

async fn timed<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(Duration::from_mins(3), f)
        .await
        .expect("test timed out");
}

fn key(message: &enums::Message) -> (i64, i32, i32) {
    match message {
        enums::Message::Message(m) => {
            let peer = match &m.peer_id {
                enums::Peer::User(p) => p.user_id,
                enums::Peer::Chat(p) => -p.chat_id,
                enums::Peer::Channel(p) => -(1_000_000_000_000 + p.channel_id),
            };
            (peer, m.id, m.date)
        }
        other => panic!("unexpected {other:?}"),
    }
}

fn ids(messages: &[enums::Message]) -> Vec<i32> {
    messages.iter().map(|m| key(m).1).collect()
}

/// A search of `peer` for `query` in messages of every kind.
fn search_text(env: &Env, peer: &enums::InputPeer, query: &str) -> tgclient::Messages {
    env.client.search(
        peer.clone(),
        query,
        enums::MessagesFilter::InputMessagesFilterEmpty,
    )
}

/// Telegram's word-prefix matching, as the fixture is searched.
fn text_matches(query: &str, text: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .any(|w| w.to_lowercase().starts_with(query))
}

/// The ids of `chat`'s messages that `keep` selects, newest first.
fn newest_first(chat: &ChatSpec, keep: impl Fn(&MessageSpec) -> bool) -> Vec<i32> {
    let mut ids: Vec<i32> = chat
        .messages
        .iter()
        .filter(|m| keep(m))
        .map(|m| m.id)
        .collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usernames_ids_and_links_resolve_and_are_cached() {
    with_default_world(async |env| {
        let client = &env.client;
        let channel = client.resolve_str("@chat1").await.unwrap();
        let enums::InputPeer::Channel(input) = &channel.peer else {
            panic!("{channel:?}")
        };
        assert_eq!(input.channel_id, 1);
        let cached = client
            .with_store(|s| s.peer(PeerKind::Channel, 1))
            .unwrap()
            .unwrap();
        assert_eq!(cached.access_hash, Some(input.access_hash));
        assert_eq!(cached.username.as_deref(), Some("chat1"));

        let link = client.resolve_str("https://t.me/chat1/5").await.unwrap();
        assert_eq!(
            (link.peer.clone(), link.message_id),
            (channel.peer.clone(), Some(5))
        );
        let private = client.resolve_str("t.me/c/1/7").await.unwrap();
        assert_eq!(
            (private.peer, private.message_id),
            (channel.peer.clone(), Some(7))
        );
        let by_id = client.resolve_str("-1000000000001").await.unwrap();
        assert_eq!(by_id.peer, channel.peer);

        // A basic group: unknown by id until seen, then known.
        let unknown = client.resolve_str("-3").await.unwrap_err();
        assert!(
            matches!(
                unknown,
                ResolveError::UnknownId {
                    kind: PeerKind::Chat,
                    id: 3
                }
            ),
            "{unknown}"
        );
        let group = client
            .resolve_str("tg://resolve?domain=chat3")
            .await
            .unwrap();
        assert!(matches!(&group.peer, enums::InputPeer::Chat(c) if c.chat_id == 3));
        assert_eq!(client.resolve_str("-3").await.unwrap().peer, group.peer);

        // The private supergroup through its invite link.
        let invited = client.resolve_str("https://t.me/+invite2").await.unwrap();
        assert!(matches!(&invited.peer, enums::InputPeer::Channel(c) if c.channel_id == 2));
        let joinchat = client.resolve_str("t.me/joinchat/invite2").await.unwrap();
        assert_eq!(joinchat.peer, invited.peer);

        // Users come with the answers that mention them.
        let (_, me, _, _) = generate::ACCOUNTS[0];
        assert_eq!(
            client.resolve_str(&me.to_string()).await.unwrap().peer,
            enums::InputPeer::InputPeerSelf
        );

        let errors = [
            ("@nobody_here", "UnknownUsername"),
            ("t.me/+nope", "InvalidInvite"),
            ("987654321", "UnknownId"),
            ("https://example.com/x", "Link"),
        ];
        for (input, want) in errors {
            let error = client.resolve_str(input).await.unwrap_err();
            assert!(format!("{error:?}").starts_with(want), "{input}: {error:?}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_returns_every_message_once_newest_first() {
    with_default_world(async |env| {
        for (name, id) in [("@chat1", 1), ("@chat3", 3)] {
            let peer = env.client.resolve_str(name).await.unwrap().peer;
            let chat = env.chat(id);
            assert!(chat.messages.len() >= 3_000, "{}", chat.messages.len());
            let started = std::time::Instant::now();
            let got = env.client.history(peer.clone()).collect().await.unwrap();
            let want = newest_first(chat, |_| true);
            assert_eq!(ids(&got), want, "{name}");
            eprintln!("{name}: {} messages in {:?}", got.len(), started.elapsed());

            // A limit that is not a multiple of the page size.
            let limited = env.client.history(peer).limit(250).collect().await.unwrap();
            assert_eq!(ids(&limited), want[..250].to_vec());
        }
    })
    .await;
}

/// The ids of `chat`'s messages sent within `lo..=hi`, newest first.
fn dated(chat: &ChatSpec, lo: i32, hi: i32) -> Vec<i32> {
    newest_first(chat, |m| (lo..=hi).contains(&m.date))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_messages_once_each_and_date_bounds_are_exact() {
    timed(Box::pin(async {
        let (env, log) = start_recording_history(world(10_000, 1), Vec::new()).await;
        let peer = env.client.resolve_str("@chat1").await.unwrap().peer;
        let chat = env.chat(1);
        assert_eq!(chat.messages.len(), 10_000);
        let got = env.client.history(peer.clone()).collect().await.unwrap();
        let unique: HashSet<i32> = ids(&got).into_iter().collect();
        assert_eq!(unique.len(), 10_000, "duplicates");
        assert_eq!(ids(&got), dated(chat, 0, i32::MAX));

        let mut dates: Vec<i32> = chat.messages.iter().map(|m| m.date).collect();
        dates.sort_unstable();
        let (min, offset, max) = (dates[2_345], dates[5_000], dates[7_890]);
        let history = |build: &dyn Fn(tgclient::Messages) -> tgclient::Messages| {
            build(env.client.history(peer.clone())).collect()
        };

        let before = log.lock().unwrap().len();
        let bounded = history(&|m| m.min_date(min).max_date(max)).await.unwrap();
        let want = dated(chat, min, max);
        assert_eq!(ids(&bounded), want);
        let pages = log.lock().unwrap().len() - before;
        assert!(
            pages <= want.len() / 100 + 2,
            "{pages} pages for {} messages: paging went past min_date",
            want.len()
        );

        let older = history(&|m| m.offset_date(offset)).await.unwrap();
        assert_eq!(ids(&older), dated(chat, 0, offset - 1));
        let window = history(&|m| m.offset_date(offset).min_date(min))
            .await
            .unwrap();
        assert_eq!(ids(&window), dated(chat, min, offset - 1));
        let earlier_wins = history(&|m| m.offset_date(offset).max_date(max))
            .await
            .unwrap();
        assert_eq!(ids(&earlier_wins), dated(chat, 0, offset - 1));
        let limited = history(&|m| m.max_date(max).limit(150)).await.unwrap();
        assert_eq!(ids(&limited), dated(chat, 0, max)[..150].to_vec());
        // A bound on an exact message date keeps that message.
        let exact = history(&|m| m.min_date(max).max_date(max)).await.unwrap();
        assert_eq!(ids(&exact), dated(chat, max, max));
        assert_eq!(exact.len(), 1);

        // Id bounds: paging starts right below the highest id wanted and stops at the lowest.
        let mut all_ids: Vec<i32> = chat.messages.iter().map(|m| m.id).collect();
        all_ids.sort_unstable();
        let (lo, hi) = (all_ids[4_000], all_ids[4_450]);
        let before = log.lock().unwrap().len();
        let by_id = history(&|m| m.min_id(lo).max_id(hi)).await.unwrap();
        assert_eq!(
            ids(&by_id),
            newest_first(chat, |m| (lo..=hi).contains(&m.id))
        );
        let pages = log.lock().unwrap().len() - before;
        assert!(
            pages <= 451 / 100 + 2,
            "{pages} pages for 451 messages: paging did not start at the id range"
        );

        // Searches pass the bounds to the server.
        let searched = search_text(&env, &peer, "")
            .min_date(min)
            .max_date(max)
            .collect()
            .await
            .unwrap();
        assert_eq!(ids(&searched), want);
        let needles = search_text(&env, &peer, generate::NEEDLE)
            .offset_date(offset)
            .min_date(min)
            .collect()
            .await
            .unwrap();
        let want_needles = newest_first(chat, |m| {
            (min..offset).contains(&m.date) && text_matches(generate::NEEDLE, &m.text)
        });
        assert!(!want_needles.is_empty());
        assert_eq!(ids(&needles), want_needles);
        env.finish().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_by_text_and_by_media_filter_matches_the_fixture() {
    with_default_world(async |env| {
        let peer = env.client.resolve_str("t.me/+invite2").await.unwrap().peer;
        let chat = env.chat(2);
        assert_eq!(chat.kind, ChatKind::Supergroup);

        let got = search_text(env, &peer, generate::NEEDLE)
            .collect()
            .await
            .unwrap();
        let want = newest_first(chat, |m| text_matches(generate::NEEDLE, &m.text));
        assert!(!want.is_empty());
        assert_eq!(ids(&got), want);

        let photos = env
            .client
            .search(
                peer.clone(),
                "",
                enums::MessagesFilter::InputMessagesFilterPhotos,
            )
            .collect()
            .await
            .unwrap();
        let want = newest_first(chat, |m| matches!(m.media, Some(MediaSpec::Photo(_))));
        assert!(want.len() > 100, "several pages: {}", want.len());
        assert_eq!(ids(&photos), want);

        // One member's messages: the users came with the answers above, so the id resolves.
        let author = chat.messages.iter().rev().find_map(|m| m.from).unwrap();
        let user = env
            .client
            .resolve_str(&author.to_string())
            .await
            .unwrap()
            .peer;
        let by_author = newest_first(chat, |m| m.from == Some(author));
        assert!(by_author.len() > 100, "several pages: {}", by_author.len());
        let searched = search_text(env, &peer, "")
            .from_user(user.clone())
            .collect()
            .await
            .unwrap();
        assert_eq!(ids(&searched), by_author);
        let history = env
            .client
            .history(peer.clone())
            .from_user(user)
            .collect()
            .await
            .unwrap();
        assert_eq!(ids(&history), by_author);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_search_pages_across_chats_without_duplicates() {
    with_default_world(async |env| {
        let marked = |chat: &ChatSpec| match chat.kind {
            ChatKind::Group => -chat.id,
            _ => -(1_000_000_000_000 + chat.id),
        };
        let expected = |matches: &dyn Fn(&MessageSpec) -> bool| {
            let mut all: Vec<(i32, i64, i32)> = env
                .fixture
                .chats
                .iter()
                .flat_map(|c| {
                    c.messages
                        .iter()
                        .filter(|m| matches(m))
                        .map(move |m| (m.date, marked(c), m.id))
                })
                .collect();
            all.sort_unstable_by(|a, b| b.cmp(a));
            all
        };
        let check = |got: &[enums::Message], want: &[(i32, i64, i32)]| {
            let keys: Vec<(i32, i64, i32)> = got
                .iter()
                .map(|m| {
                    let (peer, id, date) = key(m);
                    (date, peer, id)
                })
                .collect();
            let unique: HashSet<_> = keys.iter().collect();
            assert_eq!(unique.len(), keys.len(), "duplicates");
            assert_eq!(keys, want);
            keys.iter().map(|k| k.1).collect::<HashSet<i64>>().len()
        };

        let needle = env
            .client
            .search_global(
                generate::NEEDLE,
                enums::MessagesFilter::InputMessagesFilterEmpty,
            )
            .collect()
            .await
            .unwrap();
        let want = expected(&|m| text_matches(generate::NEEDLE, &m.text));
        assert!(want.len() > 100, "several pages: {}", want.len());
        assert_eq!(check(&needle, &want), 3, "results from every chat");

        let photos = env
            .client
            .search_global("", enums::MessagesFilter::InputMessagesFilterPhotos)
            .collect()
            .await
            .unwrap();
        let want = expected(&|m| matches!(m.media, Some(MediaSpec::Photo(_))));
        assert_eq!(check(&photos, &want), 3, "results from every chat");

        let limited = env
            .client
            .search_global("", enums::MessagesFilter::InputMessagesFilterPhotos)
            .limit(150)
            .collect()
            .await
            .unwrap();
        check(&limited, &want[..150]);

        // Date bounds: exactly the results sent within them, across chats.
        let (lo, hi) = (want[want.len() * 3 / 4].0, want[want.len() / 4].0);
        let bounded = env
            .client
            .search_global("", enums::MessagesFilter::InputMessagesFilterPhotos)
            .min_date(lo)
            .max_date(hi)
            .collect()
            .await
            .unwrap();
        let want = expected(&|m| {
            (lo..=hi).contains(&m.date) && matches!(m.media, Some(MediaSpec::Photo(_)))
        });
        assert!(want.len() > 100, "several pages: {}", want.len());
        check(&bounded, &want);
        let before = env
            .client
            .search_global("", enums::MessagesFilter::InputMessagesFilterPhotos)
            .offset_date(hi)
            .collect()
            .await
            .unwrap();
        check(
            &before,
            &expected(&|m| m.date < hi && matches!(m.media, Some(MediaSpec::Photo(_)))),
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_page_is_requested_while_the_caller_works_and_only_that_one() {
    timed(Box::pin(async {
        let (env, log) = start_recording_history(world(1_000, 1), Vec::new()).await;
        let peer = env.client.resolve_str("@chat1").await.unwrap().peer;
        let calls = || log.lock().unwrap().len();
        let mut history = env.client.history(peer);
        let mut got = vec![history.next().await.unwrap().unwrap()];
        // The second page is on its way while the first is still being used...
        while calls() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // ...and no third: one request of a listing in flight at most.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(calls(), 2);
        while let Some(message) = history.next().await.unwrap() {
            got.push(message);
        }
        assert_eq!(ids(&got), newest_first(env.chat(1), |_| true));
        assert_eq!(calls(), 10, "one call per page, none after the last");
        env.finish().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_waits_out_flood_limits_exactly_without_stalling_other_calls() {
    timed(Box::pin(async {
        // 15 pages a second: the 40 pages of a 4,000-message chat need at least two waits.
        let (env, log) = start_recording_history(
            world(MESSAGES, 3),
            vec![FloodRule {
                method: "messages.getHistory".into(),
                max_calls: 15,
                per_seconds: 1,
                user_id: None,
            }],
        )
        .await;
        let peer = env.client.resolve_str("@chat1").await.unwrap().peer;
        let want = newest_first(env.chat(1), |_| true);
        let history = {
            let client = env.client.clone();
            tokio::spawn(async move { client.history(peer).collect().await.unwrap() })
        };
        // Meanwhile other calls on the same client go on.
        while !history.is_finished() {
            env.client
                .invoke(&functions::users::GetUsers {
                    id: vec![enums::InputUser::InputUserSelf],
                })
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let got = history.await.unwrap();
        assert_eq!(ids(&got), want);

        let calls = sorted(&log);
        let pages: Vec<&Received> = calls
            .iter()
            .filter(|c| c.method == functions::messages::GetHistory::CONSTRUCTOR_ID)
            .collect();
        let refused: Vec<usize> = pages
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                c.error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("FLOOD_WAIT_"))
            })
            .map(|(i, _)| i)
            .collect();
        let served = pages.iter().filter(|c| c.error.is_none()).count();
        assert_eq!(served, want.len().div_ceil(100), "one call per page");
        assert_eq!(pages.len(), served + refused.len(), "no other errors");
        assert!(refused.len() >= 2, "{} flood waits", refused.len());
        for i in refused {
            // The refused page was asked again only once the wait was over: localdc's
            // flood rule refuses a page asked for too early again.
            let (page, next) = (
                pages[i],
                pages.get(i + 1).expect("the refused call was repeated"),
            );
            assert!(next.error.is_none(), "repeated too early: {:?}", next.error);
            // And while the history waited, other calls were answered.
            let others = calls
                .iter()
                .filter(|c| c.method == functions::users::GetUsers::CONSTRUCTOR_ID)
                .filter(|c| page.at < c.at && c.at < next.at)
                .count();
            assert!(others >= 1, "no other call while the history waited");
        }
        env.finish().await;
    }))
    .await;
}
