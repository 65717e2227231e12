//! DC routing against localdc: `initConnection` on new connections, `FILE_MIGRATE_X` with
//! the login exported once per DC, and flood waits that delay only the call concerned.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use localdc::world::{Fixture, World};
use localdc::{Config, Handler, HandlerFuture, Registry, RequestContext, RpcError, Server};
use mtcrypto::RsaPublicKey;
use tgclient::{
    Client, ClientConfig, ClientError, DcAddress, FloodPolicy, ServerConfig, SessionStore,
};
use tl_types::api::{enums, functions, types};
use tl_types::{Identifiable, LAYER, Serialize};

use crate::common;

const FIXTURE: &str = r#"{
  "users": [ { "id": 2001, "first_name": "Bot", "username": "bot", "bot": true } ],
  "accounts": [],
  "bots": [ { "token": "2001:t", "user_id": 2001, "home_dc": 2 } ],
  "chats": []
}"#;

/// Counts the calls of a handler it wraps.
struct Counted(Arc<dyn Handler>, Arc<AtomicUsize>);

impl Handler for Counted {
    fn call(&self, ctx: RequestContext, body: Vec<u8>) -> HandlerFuture {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.call(ctx, body)
    }
}

fn count(registry: &mut Registry, id: u32) -> Arc<AtomicUsize> {
    let (name, handler) = registry.get(id).unwrap();
    let counter = Arc::new(AtomicUsize::new(0));
    registry.insert(id, name, Arc::new(Counted(handler, counter.clone())));
    counter
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_connection_file_migrate_exported_login_and_flood_waits() {
    tokio::time::timeout(Duration::from_mins(2), async {
        let world = Arc::new(World::from_fixture(Fixture::from_json(FIXTURE).unwrap()).unwrap());
        let mut registry = Registry::with_defaults();
        localdc::world::register(&mut registry, world.clone());
        let exports = count(
            &mut registry,
            functions::auth::ExportAuthorization::CONSTRUCTOR_ID,
        );
        let imports = count(
            &mut registry,
            functions::auth::ImportAuthorization::CONSTRUCTOR_ID,
        );

        // help.getNearestDc stands for a file request: it lives on DC 4 and needs the login
        // there. It also records what initConnection said.
        let clients = Arc::new(Mutex::new(Vec::new()));
        let seen = clients.clone();
        let on_dc4 = world.clone();
        registry.register_typed(
            move |ctx: &RequestContext, _: functions::help::GetNearestDc| {
                seen.lock()
                    .unwrap()
                    .push((ctx.dc_id(), ctx.layer(), ctx.key.state().client));
                if ctx.dc_id() != 4 {
                    return Err(RpcError::new(303, "FILE_MIGRATE_4"));
                }
                if on_dc4.logged_in_user(4, ctx.key.id()).is_none() {
                    return Err(RpcError::new(401, "AUTH_KEY_UNREGISTERED"));
                }
                Ok(types::NearestDc {
                    country: "XX".into(),
                    this_dc: 4,
                    nearest_dc: 4,
                }
                .into())
            },
        );
        // help.getAppConfig floods: it asks for the wait set in `flood_next` (once), then
        // answers.
        let flood_next = Arc::new(AtomicU64::new(0));
        let app_configs = Arc::new(AtomicUsize::new(0));
        let (next, calls) = (flood_next.clone(), app_configs.clone());
        registry.register_sync(
            functions::help::GetAppConfig::CONSTRUCTOR_ID,
            "help.getAppConfig",
            move |_, _| {
                calls.fetch_add(1, Ordering::SeqCst);
                match next.swap(0, Ordering::SeqCst) {
                    0 => Ok(enums::help::AppConfig::NotModified.to_bytes()),
                    wait => Err(RpcError::new(420, format!("FLOOD_WAIT_{wait}"))),
                }
            },
        );

        let server = Server::start_with(Config::default(), registry)
            .await
            .unwrap();
        let mut config = ClientConfig::new(4, "hash").with_server(common::server_config(&server));
        config.request_timeout = Duration::from_secs(30);
        let client = Client::new(config.clone(), SessionStore::in_memory().unwrap()).unwrap();
        client.bot_sign_in("2001:t").await.unwrap();

        // FILE_MIGRATE_4 from DC 2: the login is exported to DC 4 once, the call repeated.
        for _ in 0..3 {
            let enums::NearestDc::NearestDc(nearest) = client
                .invoke(&functions::help::GetNearestDc {})
                .await
                .unwrap();
            assert_eq!(nearest.this_dc, 4);
        }
        assert_eq!(exports.load(Ordering::SeqCst), 1);
        assert_eq!(imports.load(Ordering::SeqCst), 1);
        assert!(common::authorized_on(&client, 4));

        // DC 4 drops the imported login (AUTH_KEY_UNREGISTERED there): imported again, once.
        let dc4_keys = server.dc(4).unwrap().keys().key_ids();
        world.forget_key_logins(4, &dc4_keys);
        let enums::NearestDc::NearestDc(nearest) = client
            .invoke(&functions::help::GetNearestDc {})
            .await
            .unwrap();
        assert_eq!(nearest.this_dc, 4);
        assert_eq!(exports.load(Ordering::SeqCst), 2);
        assert_eq!(imports.load(Ordering::SeqCst), 2);
        assert_eq!(
            client.home_dc(),
            2,
            "FILE_MIGRATE does not move the home DC"
        );
        for (dc, layer, info) in clients.lock().unwrap().iter() {
            assert_eq!(*layer, LAYER, "DC {dc}");
            let info = info.as_ref().expect("initConnection was sent");
            assert_eq!(info.api_id, 4);
            assert!(info.device_model.starts_with("tgdl"));
            assert_eq!(info.app_version, env!("CARGO_PKG_VERSION"));
        }

        // A flood wait delays its own call only: while one call sits out a wait far longer
        // than anything else here, another call on the same connection is answered.
        flood_next.store(50, Ordering::SeqCst);
        let waiting = {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .invoke(&functions::help::GetAppConfig { hash: 0 })
                    .await
            })
        };
        while app_configs.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        client.invoke(&functions::help::GetConfig {}).await.unwrap();
        assert!(!waiting.is_finished(), "the flooded call is still waiting");
        assert_eq!(
            app_configs.load(Ordering::SeqCst),
            1,
            "and not yet repeated"
        );
        waiting.abort();

        // After the wait the call is repeated once and answered.
        app_configs.store(0, Ordering::SeqCst);
        flood_next.store(1, Ordering::SeqCst);
        client
            .invoke(&functions::help::GetAppConfig { hash: 0 })
            .await
            .unwrap();
        assert_eq!(app_configs.load(Ordering::SeqCst), 2);

        // Over the policy's limit: a typed error, without a second request.
        app_configs.store(0, Ordering::SeqCst);
        flood_next.store(1, Ordering::SeqCst);
        let mut impatient = config;
        impatient.flood = FloodPolicy {
            max_wait: Duration::ZERO,
            max_retries: 5,
        };
        let strict = Client::new(impatient, SessionStore::in_memory().unwrap()).unwrap();
        let error = strict
            .invoke(&functions::help::GetAppConfig { hash: 0 })
            .await
            .unwrap_err();
        assert!(
            matches!(error, ClientError::FloodWait { wait, .. } if wait == Duration::from_secs(1)),
            "{error}"
        );
        assert_eq!(app_configs.load(Ordering::SeqCst), 1, "not repeated");

        client.close().await.unwrap();
        strict.close().await.unwrap();
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

/// A DC that refuses connections for a moment (a restart, a flapping network) is retried
/// with backoff until it answers; past `connect_patience` the call fails with a typed
/// error, and the calls after it try once until the DC is back; a DC signing with another
/// RSA key fails at once (no retry can fix that). Tries are counted as the connections a
/// relay in front of DC 2 accepts, against one pass over the endpoints (a client without
/// patience): no clock is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_dc_is_retried_within_the_patience_and_a_wrong_key_is_not() {
    tokio::time::timeout(
        Duration::from_mins(2),
        Box::pin(async {
            let server = Server::start(Config::default()).await.unwrap();
            let addr = server.addr(2).unwrap();
            let mut config = dc2_only(&server);
            config.connect_patience = Duration::from_secs(20);
            let dc2 = server.dc(2).unwrap().clone();
            let faults = dc2.faults();

            // Refused until the DC is reopened: the call goes through, after it.
            faults.set_refuse_connections(true);
            until_refused(addr).await;
            let reopened = Arc::new(AtomicBool::new(false));
            let reopen = tokio::spawn({
                let (dc2, reopened) = (dc2.clone(), reopened.clone());
                async move {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    reopened.store(true, Ordering::SeqCst);
                    dc2.faults().set_refuse_connections(false);
                }
            });
            let client = Client::new(config.clone(), SessionStore::in_memory().unwrap()).unwrap();
            client.invoke(&functions::help::GetConfig {}).await.unwrap();
            assert!(reopened.load(Ordering::SeqCst), "answered while refusing");
            reopen.await.unwrap();
            client.close().await.unwrap();

            // A DC that takes connections and drops them at once, for longer than the patience.
            let relay = Relay::start(addr).await;
            let through_relay = |patience| {
                let mut config = config.clone();
                config.server.dcs = vec![DcAddress::new(2, relay.addr.ip(), relay.addr.port())];
                config.server.use_server_dc_list = false;
                config.connect_patience = patience;
                Client::new(config, SessionStore::in_memory().unwrap()).unwrap()
            };
            relay.forward.store(false, Ordering::SeqCst);
            let one_pass = relay
                .failed_connections(&through_relay(Duration::ZERO))
                .await;
            assert!(one_pass >= 1);
            // Retried with backoff until the patience is used up, then a connect error; the
            // call after it tries once.
            let impatient = through_relay(Duration::from_secs(3));
            let first = relay.failed_connections(&impatient).await;
            assert!(
                first >= 2 * one_pass,
                "{first} connections, one pass is {one_pass}"
            );
            let second = relay.failed_connections(&impatient).await;
            assert_eq!(second, one_pass, "tried once");
            // Back: the call goes through.
            relay.forward.store(true, Ordering::SeqCst);
            impatient
                .invoke(&functions::help::GetConfig {})
                .await
                .unwrap();
            impatient.close().await.unwrap();

            // The wrong server key: the handshake fails, and is not repeated although the
            // patience would allow it.
            let other = mtcrypto::RsaPrivateKey::generate(&mut rand::rngs::OsRng).unwrap();
            let wrong_key = |patience| {
                let client = through_relay(patience);
                let mut config = client.config().clone();
                config.server.rsa_keys = vec![other.public_key().clone()];
                Client::new(config, SessionStore::in_memory().unwrap()).unwrap()
            };
            let one_pass = relay.failed_connections(&wrong_key(Duration::ZERO)).await;
            let patient = relay
                .failed_connections(&wrong_key(Duration::from_secs(20)))
                .await;
            assert_eq!(patient, one_pass, "not repeated");
            server.shutdown().await;
        }),
    )
    .await
    .expect("test timed out");
}

/// A TCP relay in front of a DC that counts the connections it accepts, and either forwards
/// them or drops them at once.
struct Relay {
    addr: std::net::SocketAddr,
    forward: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
}

impl Relay {
    async fn start(target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let forward = Arc::new(AtomicBool::new(true));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (forwarding, counter) = (forward.clone(), accepted.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                if !forwarding.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self {
            addr,
            forward,
            accepted,
        }
    }

    /// The connections accepted while a call of `client` failed to connect.
    async fn failed_connections(&self, client: &Client) -> usize {
        let before = self.accepted.load(Ordering::SeqCst);
        Box::pin(call_fails_to_connect(client)).await;
        self.accepted.load(Ordering::SeqCst) - before
    }
}

/// A client configuration that knows DC 2 of `server` only.
fn dc2_only(server: &localdc::RunningServer) -> ClientConfig {
    let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
    let addr = server.addr(2).unwrap();
    let dcs = vec![DcAddress::new(2, addr.ip(), addr.port())];
    common::client_config(ServerConfig::custom(dcs, vec![key]))
}

/// Waits until the listener has closed its socket (the fault acts asynchronously).
async fn until_refused(addr: std::net::SocketAddr) {
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A call of `client` fails with a connect error to DC 2.
async fn call_fails_to_connect(client: &Client) {
    let error = client
        .invoke(&functions::help::GetConfig {})
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::Connect { dc: 2, .. }),
        "{error}"
    );
}

/// A `bad_msg_notification` storm longer than the session's resends: the session gives the
/// request up, and the call is sent again after a pause until the storm is over; a storm
/// without end ends in a typed error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_outlasts_a_bad_msg_storm_longer_than_the_session_resends() {
    tokio::time::timeout(Duration::from_mins(2), async {
        let server = Server::start(Config::default()).await.unwrap();
        let client = Client::new(dc2_only(&server), SessionStore::in_memory().unwrap()).unwrap();
        client.invoke(&functions::help::GetConfig {}).await.unwrap();
        let faults = server.dc(2).unwrap().faults();

        // Twice the session's resends, and some.
        faults.bad_msg_storm(2 * u64::from(mtproto::session::MAX_RESENDS) + 3);
        client.invoke(&functions::help::GetConfig {}).await.unwrap();

        faults.bad_msg_storm(u64::MAX);
        let error = client
            .invoke(&functions::help::GetConfig {})
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                ClientError::Invoke {
                    dc: 2,
                    source: mtnet::InvokeError::Rejected(_),
                    ..
                }
            ),
            "{error}"
        );
        faults.bad_msg_storm(0);
        client.close().await.unwrap();
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

/// One -404 (a server that could not open a packet of a broken connection, or lost track
/// of the key for a moment) does not cost the login: the client reconnects and the key
/// stays. A key the server really forgot ends the login once and consistently: the call
/// fails with `LoginLost`, the session is logged out, and `verify_login` agrees.
/// (Before the fix, one -404 replaced the logged-in key with a fresh unauthorised one
/// while the session still named its user: "run tgdl login" / "already logged in".)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_minus_404_keeps_the_login_and_a_forgotten_key_logs_out_consistently() {
    tokio::time::timeout(Duration::from_mins(2), async {
        let options = localdc::world::generate::GenOptions {
            messages: 20,
            chats: 2,
            media_bytes: 0,
            seed: 404,
            dcs: 2,
        };
        let env =
            common::start_logged_in(localdc::world::generate::generate(&options), |_| {}).await;
        let client = &env.client;
        let home = client.home_dc();
        let key_of = |client: &Client| {
            client
                .with_store(|s| s.dc_auth(home))
                .unwrap()
                .map(|auth| auth.auth.auth_key.key_id())
        };
        let key = key_of(client).expect("a key");
        let faults = env.server.dc(home).unwrap().faults();

        faults.spurious_key_errors(1);
        client
            .invoke(&functions::updates::GetState {})
            .await
            .unwrap();
        assert_eq!(
            key_of(client),
            Some(key),
            "one -404 must not replace the key"
        );
        assert!(client.is_logged_in());
        assert!(client.verify_login().await.unwrap().is_some());

        faults.forget_keys();
        let error = client
            .invoke(&functions::updates::GetState {})
            .await
            .unwrap_err();
        assert!(matches!(error, ClientError::LoginLost { .. }), "{error}");
        assert!(
            !client.is_logged_in(),
            "the session must agree with the server"
        );
        assert!(client.verify_login().await.unwrap().is_none());
        env.finish().await;
    })
    .await
    .expect("test timed out");
}

/// Any of the lost-login family on the home DC (here `SESSION_EXPIRED`, which the download
/// engine once took for a refusal of one file) is asked again on a fresh connection, then
/// ends the login consistently: `LoginLost`, the session logged out. A `401` that is a step
/// of the login (`SESSION_PASSWORD_NEEDED`) is the caller's and costs nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lost_login_name_on_the_home_dc_logs_out_after_one_recheck() {
    tokio::time::timeout(Duration::from_mins(1), async {
        let options = localdc::world::generate::GenOptions {
            messages: 0,
            chats: 1,
            media_bytes: 0,
            seed: 401,
            dcs: 2,
        };
        let asked = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(Mutex::new("SESSION_PASSWORD_NEEDED"));
        let (counted, answered) = (asked.clone(), answer.clone());
        let env =
            common::start_logged_in(localdc::world::generate::generate(&options), |registry| {
                registry.register_sync(
                    functions::help::GetNearestDc::CONSTRUCTOR_ID,
                    "help.getNearestDc",
                    move |_, _| {
                        counted.fetch_add(1, Ordering::SeqCst);
                        Err(RpcError::new(401, *answered.lock().unwrap()))
                    },
                );
            })
            .await;
        let client = &env.client;

        let error = client
            .invoke(&functions::help::GetNearestDc {})
            .await
            .unwrap_err();
        assert_eq!(error.rpc().unwrap().message, "SESSION_PASSWORD_NEEDED");
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        assert!(client.is_logged_in());

        *answer.lock().unwrap() = "SESSION_EXPIRED";
        asked.store(0, Ordering::SeqCst);
        let error = client
            .invoke(&functions::help::GetNearestDc {})
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ClientError::LoginLost { reason } if reason == "SESSION_EXPIRED"),
            "{error}"
        );
        assert_eq!(
            asked.load(Ordering::SeqCst),
            2,
            "asked once more before believing it"
        );
        assert!(
            !client.is_logged_in(),
            "the session must agree with the server"
        );
        env.finish().await;
    })
    .await
    .expect("test timed out");
}

/// An answer that does not parse, and an error, name the request they answered, so that a
/// user (and a bug report) can tell which call a server got wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_answers_and_errors_name_their_request() {
    tokio::time::timeout(Duration::from_mins(1), async {
        let mut registry = Registry::with_defaults();
        registry.register_sync(
            functions::help::GetNearestDc::CONSTRUCTOR_ID,
            "help.getNearestDc",
            |_, _| Ok(vec![0x0d, 0xf0, 0xad, 0xba]),
        );
        registry.register_sync(
            functions::help::GetCdnConfig::CONSTRUCTOR_ID,
            "help.getCdnConfig",
            |_, _| Err(RpcError::new(400, "TEST_REFUSED")),
        );
        let server = Server::start_with(Config::default(), registry)
            .await
            .unwrap();
        let client = Client::new(dc2_only(&server), SessionStore::in_memory().unwrap()).unwrap();
        let error = client
            .invoke(&functions::help::GetNearestDc {})
            .await
            .unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with("help.getNearestDc: malformed answer: ")
                && text.contains("0xbaadf00d"),
            "{text}"
        );
        let error = client
            .invoke(&functions::help::GetCdnConfig {})
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "help.getCdnConfig: Telegram answered 400 TEST_REFUSED"
        );
        client.close().await.unwrap();
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}
