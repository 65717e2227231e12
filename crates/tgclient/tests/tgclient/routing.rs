//! DC routing against localdc: `initConnection` on new connections, `FILE_MIGRATE_X` with
//! the login exported once per DC, and flood waits that delay only the call concerned.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
        // help.getAppConfig floods: the first call waits 1 s, the next goes through.
        let floods = Arc::new(AtomicUsize::new(0));
        let flooded = floods.clone();
        registry.register_sync(
            functions::help::GetAppConfig::CONSTRUCTOR_ID,
            "help.getAppConfig",
            move |_, _| {
                if flooded.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err(RpcError::new(420, "FLOOD_WAIT_1"))
                } else {
                    Ok(enums::help::AppConfig::NotModified.to_bytes())
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

        // A flood wait delays its own call only.
        let started = Instant::now();
        let waiting = {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .invoke(&functions::help::GetAppConfig { hash: 0 })
                    .await
                    .unwrap();
                started.elapsed()
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let other = Instant::now();
        client.invoke(&functions::help::GetConfig {}).await.unwrap();
        assert!(
            other.elapsed() < Duration::from_millis(800),
            "{:?}",
            other.elapsed()
        );
        let waited = waiting.await.unwrap();
        assert!(waited >= Duration::from_secs(1), "{waited:?}");
        assert_eq!(floods.load(Ordering::SeqCst), 2);

        // Over the policy's limit: a typed error, at once.
        floods.store(0, Ordering::SeqCst);
        let mut impatient = config;
        impatient.flood = FloodPolicy {
            max_wait: Duration::ZERO,
            max_retries: 5,
        };
        let strict = Client::new(impatient, SessionStore::in_memory().unwrap()).unwrap();
        let started = Instant::now();
        let error = strict
            .invoke(&functions::help::GetAppConfig { hash: 0 })
            .await
            .unwrap_err();
        assert!(
            matches!(error, ClientError::FloodWait { wait, .. } if wait == Duration::from_secs(1)),
            "{error}"
        );
        assert!(started.elapsed() < Duration::from_secs(1));

        client.close().await.unwrap();
        strict.close().await.unwrap();
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

/// A DC that refuses connections for a moment (a restart, a flapping network) is retried
/// with backoff until it answers; past `connect_patience` the call fails with a typed
/// error; a DC signing with another RSA key fails at once (no retry can fix that).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_dc_is_retried_within_the_patience_and_a_wrong_key_is_not() {
    tokio::time::timeout(Duration::from_mins(2), async {
        let server = Server::start(Config::default()).await.unwrap();
        let addr = server.addr(2).unwrap();
        let mut config = dc2_only(&server);
        config.connect_patience = Duration::from_secs(20);
        let dc2 = server.dc(2).unwrap().clone();
        let faults = dc2.faults();

        // Refused for 1.5 s, then back: the call goes through.
        faults.set_refuse_connections(true);
        until_refused(addr).await;
        let reopen = tokio::spawn({
            let dc2 = dc2.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                dc2.faults().set_refuse_connections(false);
            }
        });
        let client = Client::new(config.clone(), SessionStore::in_memory().unwrap()).unwrap();
        let started = Instant::now();
        client.invoke(&functions::help::GetConfig {}).await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(1400));
        reopen.await.unwrap();
        client.close().await.unwrap();

        // Refused for longer than the patience: a connect error, soon after it; the calls
        // after it try once (they do not each wait out the patience) until the DC is back.
        faults.set_refuse_connections(true);
        until_refused(addr).await;
        let mut impatient = config.clone();
        impatient.connect_patience = Duration::from_secs(5);
        let client = connect_fails_within(impatient, Duration::from_secs(8)).await;
        call_fails_to_connect_within(&client, Duration::from_secs(2)).await;
        faults.set_refuse_connections(false);
        client.invoke(&functions::help::GetConfig {}).await.unwrap();

        // The wrong server key: the handshake fails, and is not repeated for 20 s.
        let other = mtcrypto::RsaPrivateKey::generate(&mut rand::rngs::OsRng).unwrap();
        let mut wrong = config;
        wrong.server.rsa_keys = vec![other.public_key().clone()];
        connect_fails_within(wrong, Duration::from_secs(5)).await;
        server.shutdown().await;
    })
    .await
    .expect("test timed out");
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

/// A first call with `config` fails with a connect error to DC 2 within `limit`; the client.
async fn connect_fails_within(config: ClientConfig, limit: Duration) -> Client {
    let client = Client::new(config, SessionStore::in_memory().unwrap()).unwrap();
    call_fails_to_connect_within(&client, limit).await;
    client
}

/// A call of `client` fails with a connect error to DC 2 within `limit`.
async fn call_fails_to_connect_within(client: &Client, limit: Duration) {
    let started = Instant::now();
    let error = client
        .invoke(&functions::help::GetConfig {})
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::Connect { dc: 2, .. }),
        "{error}"
    );
    assert!(started.elapsed() < limit, "{:?}", started.elapsed());
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
