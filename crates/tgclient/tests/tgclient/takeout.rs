//! Takeout sessions against localdc: `account.initTakeoutSession`, history paged inside
//! `invokeWithTakeout`, `account.finishTakeoutSession`, and `TAKEOUT_INIT_DELAY_X` as a
//! typed error.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use localdc::world::generate::{self, GenOptions};
use localdc::{Handler, HandlerFuture, Registry, RequestContext, RpcError};
use tgclient::{ClientError, TakeoutOptions};
use tl_types::Identifiable;
use tl_types::api::{enums, functions};

use crate::common;
use common::Env;

/// A 600-message public channel (`@chat1`), the client logged in as its creator.
async fn start(customize: impl FnOnce(&mut Registry)) -> Env {
    let fixture = generate::generate(&GenOptions {
        messages: 600,
        chats: 1,
        media_bytes: 1 << 20,
        seed: 7,
        dcs: 2,
    });
    common::start_logged_in(fixture, customize).await
}

/// Records the takeout id of every call of the handler it wraps.
struct Recorded(Arc<dyn Handler>, Arc<Mutex<Vec<Option<i64>>>>);

impl Handler for Recorded {
    fn call(&self, ctx: RequestContext, body: Vec<u8>) -> HandlerFuture {
        self.1.lock().unwrap().push(ctx.takeout_id());
        self.0.call(ctx, body)
    }
}

fn ids(messages: &[enums::Message]) -> Vec<i32> {
    messages
        .iter()
        .map(|m| match m {
            enums::Message::Message(m) => m.id,
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

async fn timed<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(Duration::from_mins(1), f)
        .await
        .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_runs_inside_the_takeout_until_it_is_finished() {
    timed(Box::pin(async {
        let log = Arc::new(Mutex::new(Vec::new()));
        let recorder = Arc::clone(&log);
        let env = start(move |registry| {
            let id = functions::messages::GetHistory::CONSTRUCTOR_ID;
            let (name, handler) = registry.get(id).unwrap();
            registry.insert(id, name, Arc::new(Recorded(handler, recorder)));
        })
        .await;
        let peer = env.client.resolve_str("@chat1").await.unwrap().peer;
        let mut want: Vec<i32> = env.fixture.chats[0].messages.iter().map(|m| m.id).collect();
        want.sort_unstable_by(|a, b| b.cmp(a));

        let takeout = env
            .client
            .start_takeout(TakeoutOptions::everything(Some(1 << 30)))
            .await
            .unwrap();
        let got = takeout.history(peer.clone()).collect().await.unwrap();
        assert_eq!(ids(&got), want);
        let pages = want.len().div_ceil(100);
        assert_eq!(
            *log.lock().unwrap(),
            vec![Some(takeout.id()); pages],
            "every page inside the takeout"
        );
        let limited = env
            .client
            .history(peer.clone())
            .in_takeout(&takeout)
            .limit(150)
            .collect()
            .await
            .unwrap();
        assert_eq!(ids(&limited), want[..150].to_vec());
        assert_eq!(log.lock().unwrap().last(), Some(&Some(takeout.id())));
        // Outside the takeout, nothing is wrapped.
        env.client
            .history(peer.clone())
            .limit(10)
            .collect()
            .await
            .unwrap();
        assert_eq!(log.lock().unwrap().last(), Some(&None));

        takeout.clone().finish(true).await.unwrap();
        // A finished session is refused by the server.
        let error = takeout.history(peer).collect().await.unwrap_err();
        assert_eq!(
            error.rpc().map(|r| r.message.as_str()),
            Some("TAKEOUT_INVALID"),
            "{error}"
        );
        let error = takeout.finish(true).await.unwrap_err();
        assert_eq!(
            error.rpc().map(|r| r.message.as_str()),
            Some("TAKEOUT_INVALID"),
            "{error}"
        );
        env.finish().await;
    }))
    .await;
}

/// `TAKEOUT_INIT_DELAY_X` is the caller's to read (the policy does not wait it out): one
/// request, then the typed error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takeout_init_delay_is_a_typed_error_at_once() {
    timed(Box::pin(async {
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        let env = start(move |registry| {
            registry.register_typed(
                move |_: &RequestContext, _: functions::account::InitTakeoutSession| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    Err::<enums::account::Takeout, _>(RpcError::new(
                        420,
                        "TAKEOUT_INIT_DELAY_86400",
                    ))
                },
            );
        })
        .await;
        let error = env
            .client
            .start_takeout(TakeoutOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(error, ClientError::TakeoutInitDelay { wait } if wait == Duration::from_hours(24)),
            "{error:?}"
        );
        assert!(error.to_string().contains("86400s"), "{error}");
        assert_eq!(requests.load(Ordering::SeqCst), 1, "asked once, not repeated");
        env.finish().await;
    }))
    .await;
}
