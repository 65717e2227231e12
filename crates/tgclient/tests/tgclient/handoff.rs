//! Logging in from another client's login against localdc: the source is another tgclient
//! client logged in with a code, its key read back from its session as an importer would
//! read it from a Telethon, Pyrogram or Desktop file. The handoff must make a second login
//! (a key of our own), accept the token exactly once on the source's key (bare, without
//! updates), and leave the source working; failures leave our session as it was.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use localdc::world::{Fixture, World};
use localdc::{Config, Handler, HandlerFuture, Registry, RequestContext, RunningServer};
use mtcrypto::AuthKey;
use tgclient::import::{ImportSource, ImportedLogin};
use tgclient::{Client, ImportMode, LoginError, ServerConfig};
use tl_types::Identifiable;
use tl_types::api::{enums, functions};

use crate::common;

const TEST_TIME: Duration = Duration::from_mins(2);

const FIXTURE: &str = r#"{
  "seed": 15,
  "users": [
    { "id": 1001, "first_name": "Alice", "username": "alice", "phone": "15550001" },
    { "id": 1002, "first_name": "Bob", "username": "bob", "phone": "15550002" },
    { "id": 1004, "first_name": "Dan", "username": "dan", "phone": "15550004" },
    { "id": 2001, "first_name": "Demo Bot", "username": "demo_bot", "bot": true }
  ],
  "accounts": [
    { "phone": "15550001", "user_id": 1001, "code": "11111", "home_dc": 2 },
    { "phone": "15550002", "user_id": 1002, "code": "22222", "home_dc": 4,
      "password": "hunter2", "hint": "the usual" },
    { "phone": "15550004", "user_id": 1004, "code": "44444", "home_dc": 4 }
  ],
  "bots": [ { "token": "2001:demo-token", "user_id": 2001, "home_dc": 2 } ],
  "chats": []
}"#;

/// One `auth.acceptLoginToken` as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Accept {
    key_id: u64,
    /// The `initConnection` around it, if any: its `api_id` and `app_version`.
    init: Option<(i32, String)>,
    without_updates: bool,
}

/// How the server treats `auth.acceptLoginToken`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    /// As localdc does.
    Plain,
    /// Answers `CONNECTION_NOT_INITED` to a bare accept (a server that wants
    /// `initConnection` on a connection before anything else).
    WantsInit,
    /// Accepts a bare accept but answers it with bytes this layer cannot read.
    OddAnswer,
    /// Accepts, then answers with an error, as if the answer were lost on the way.
    LostAnswer,
}

/// Records each accept (and the tokens accepted) and answers as `server` says.
struct Accepts {
    inner: Arc<dyn Handler>,
    log: Arc<Mutex<Vec<Accept>>>,
    tokens: Arc<Mutex<Vec<Vec<u8>>>>,
    server: Server,
}

impl Handler for Accepts {
    fn call(&self, ctx: RequestContext, body: Vec<u8>) -> HandlerFuture {
        let init = ctx
            .invocation
            .client
            .as_ref()
            .map(|c| (c.api_id, c.app_version.clone()));
        if let Ok(request) =
            <functions::auth::AcceptLoginToken as tl_types::Deserialize>::from_bytes(&body)
        {
            self.tokens.lock().unwrap().push(request.token);
        }
        self.log.lock().unwrap().push(Accept {
            key_id: ctx.key.id(),
            init: init.clone(),
            without_updates: ctx.invocation.without_updates,
        });
        if self.server == Server::WantsInit && init.is_none() {
            return Box::pin(std::future::ready(Err(localdc::RpcError::new(
                400,
                "CONNECTION_NOT_INITED",
            ))));
        }
        let answer = self.inner.call(ctx, body);
        let server = self.server;
        Box::pin(async move {
            let answer = answer.await;
            match server {
                Server::OddAnswer if init.is_none() && answer.is_ok() => {
                    Ok(vec![0xde, 0xad, 0xbe, 0xef])
                }
                Server::LostAnswer => Err(localdc::RpcError::new(500, "INTERNAL_SERVER_ERROR")),
                _ => answer,
            }
        })
    }
}

struct Env {
    server: RunningServer,
    world: Arc<World>,
    server_config: ServerConfig,
    accepts: Arc<Mutex<Vec<Accept>>>,
    tokens: Arc<Mutex<Vec<Vec<u8>>>>,
    dir: tempfile::TempDir,
}

async fn start(server: Server) -> Env {
    let world = Arc::new(World::from_fixture(Fixture::from_json(FIXTURE).unwrap()).unwrap());
    let accepts = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&accepts);
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let token_log = Arc::clone(&tokens);
    let server = common::serve(Config::default(), &world, move |registry: &mut Registry| {
        let id = functions::auth::AcceptLoginToken::CONSTRUCTOR_ID;
        let (name, inner) = registry.get(id).unwrap();
        let accepts = Accepts {
            inner,
            log,
            tokens: token_log,
            server,
        };
        registry.insert(id, name, Arc::new(accepts));
    })
    .await;
    Env {
        server_config: common::server_config(&server),
        server,
        world,
        accepts,
        tokens,
        dir: tempfile::tempdir().unwrap(),
    }
}

impl Env {
    /// A client on the session file `name`.
    fn client(&self, name: &str) -> Client {
        common::open_client(&self.dir.path().join(name), self.server_config.clone())
    }

    /// The source: a client of `phone` logged in with its code (and `password`), and its
    /// login as an importer reads it.
    async fn source(
        &self,
        phone: &str,
        code: &str,
        password: Option<&str>,
    ) -> (Client, ImportedLogin) {
        let mut config = common::client_config(self.server_config.clone());
        config.device_model = "source device".into();
        let store = tgclient::SessionStore::open(self.dir.path().join("source.session")).unwrap();
        let client = Client::new(config, store).unwrap();
        let request = client.request_login_code(phone).await.unwrap();
        let me = match client.sign_in(&request, code).await {
            Ok(me) => me,
            Err(LoginError::PasswordRequired { .. }) => {
                client.check_password(password.unwrap()).await.unwrap()
            }
            Err(other) => panic!("{other}"),
        };
        let dc = client.home_dc();
        let key = client
            .with_store(|s| s.dc_auth(dc))
            .unwrap()
            .unwrap()
            .auth
            .auth_key;
        let login = ImportedLogin {
            source: ImportSource::Telethon,
            dc_id: dc,
            auth_key: key,
            other_keys: Vec::new(),
            user_id: Some(me.id),
            is_bot: None,
        };
        (client, login)
    }

    /// The logins of `user` (password done), as the world lists them in
    /// `account.getAuthorizations`: DC, key id, device model.
    fn logins_of(&self, user: i64) -> Vec<(i32, u64, String)> {
        self.world
            .authorizations(user)
            .into_iter()
            .filter(|a| !a.password_pending)
            .map(|a| (a.dc, a.key_id, a.device_model))
            .collect()
    }

    fn accepts(&self) -> Vec<Accept> {
        self.accepts.lock().unwrap().clone()
    }
}

/// `users.getUsers([inputUserSelf])`: a real call that needs the login.
async fn me(client: &Client) -> Result<i64, tgclient::ClientError> {
    let users = client
        .invoke(&functions::users::GetUsers {
            id: vec![enums::InputUser::InputUserSelf],
        })
        .await?;
    match users.into_iter().next() {
        Some(enums::User::User(user)) => Ok(user.id),
        other => panic!("unexpected {other:?}"),
    }
}

/// What a failed import must leave: no account, no key, no home DC.
fn assert_untouched(client: &Client) {
    assert!(client.self_user().unwrap().is_none());
    assert!(client.with_store(|s| s.dc_auths()).unwrap().is_empty());
    assert_eq!(client.with_store(|s| s.home_dc()).unwrap(), None);
}

async fn timed<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(TEST_TIME, f)
        .await
        .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handoff_makes_a_login_of_our_own_and_the_source_keeps_working() {
    timed(Box::pin(async {
        let env = start(Server::Plain).await;
        let (source, login) = env.source("15550001", "11111", None).await;
        assert_eq!(env.logins_of(1001).len(), 1);

        let client = env.client("ours.session");
        let me_ours = client
            .import_login(&login, ImportMode::Handoff)
            .await
            .unwrap();
        assert_eq!(me_ours.id, 1001);

        // A second login, on a key of our own, as our device; the source's entry is as
        // the source made it.
        let logins = env.logins_of(1001);
        assert_eq!(logins.len(), 2, "{logins:?}");
        let ours = client.with_store(|s| s.dc_auth(2)).unwrap().unwrap();
        assert!(ours.authorized);
        assert_ne!(ours.auth.auth_key.key_id(), login.auth_key.key_id());
        let device = client.config().device_model.clone();
        assert_ne!(device, "source device");
        assert!(
            logins.contains(&(2, ours.auth.auth_key.key_id(), device)),
            "{logins:?}"
        );
        assert!(
            logins.contains(&(2, login.auth_key.key_id(), "source device".to_owned())),
            "{logins:?}"
        );
        // The account's device list, asked by us, shows both.
        let enums::account::Authorizations::Authorizations(listed) = client
            .invoke(&functions::account::GetAuthorizations {})
            .await
            .unwrap();
        assert_eq!(listed.authorizations.len(), 2);
        // Exactly one accept, on the source's key, bare and without updates.
        assert_eq!(
            env.accepts(),
            vec![Accept {
                key_id: login.auth_key.key_id(),
                init: None,
                without_updates: true,
            }]
        );
        // Both work, and the session file keeps ours.
        assert_eq!(me(&client).await.unwrap(), 1001);
        assert_eq!(me(&source).await.unwrap(), 1001);
        client.close().await.unwrap();
        drop(client);
        let reopened = env.client("ours.session");
        assert_eq!(reopened.self_user().unwrap().unwrap().id, 1001);
        assert_eq!(me(&reopened).await.unwrap(), 1001);
        reopened.close().await.unwrap();
        source.close().await.unwrap();
        env.server.shutdown().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handoff_of_an_account_on_another_dc_makes_our_key_there() {
    timed(Box::pin(async {
        let env = start(Server::Plain).await;
        let (source, login) = env.source("15550004", "44444", None).await;
        assert_eq!(login.dc_id, 4);
        let client = env.client("ours.session");
        assert_eq!(client.home_dc(), 2, "the client starts on DC 2");
        let me_ours = client
            .import_login(&login, ImportMode::Handoff)
            .await
            .unwrap();
        assert_eq!(me_ours.id, 1004);
        assert_eq!(client.home_dc(), 4);
        assert_eq!(client.with_store(|s| s.home_dc()).unwrap(), Some(4));
        assert!(common::authorized_on(&client, 4));
        assert_eq!(env.logins_of(1004).len(), 2);
        assert_eq!(me(&client).await.unwrap(), 1004);
        assert_eq!(me(&source).await.unwrap(), 1004);
        client.close().await.unwrap();
        source.close().await.unwrap();
        env.server.shutdown().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handoff_of_a_password_account_continues_with_2fa() {
    timed(Box::pin(async {
        let env = start(Server::Plain).await;
        let (source, login) = env.source("15550002", "22222", Some("hunter2")).await;
        let client = env.client("ours.session");
        match client.import_login(&login, ImportMode::Handoff).await {
            Err(LoginError::PasswordRequired { hint }) => {
                assert_eq!(hint.as_deref(), Some("the usual"));
            }
            other => panic!("{other:?}"),
        }
        assert!(client.self_user().unwrap().is_none());
        assert_eq!(
            env.logins_of(1002).len(),
            1,
            "not logged in before the password"
        );
        let me_ours = client.check_password("hunter2").await.unwrap();
        assert_eq!(me_ours.id, 1002);
        assert_eq!(env.logins_of(1002).len(), 2);
        assert_eq!(env.accepts().len(), 1);
        assert_eq!(me(&source).await.unwrap(), 1002);
        client.close().await.unwrap();
        source.close().await.unwrap();
        env.server.shutdown().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logged_out_or_unknown_source_key_is_a_typed_error_and_nothing_is_stored() {
    timed(Box::pin(async {
        let env = start(Server::Plain).await;
        let (source, login) = env.source("15550001", "11111", None).await;
        source.log_out().await.unwrap();
        source.close().await.unwrap();

        let client = env.client("ours.session");
        let error = client.import_login(&login, ImportMode::Handoff).await.unwrap_err();
        assert!(
            matches!(&error, LoginError::SourceLoginInvalid { reason, .. } if reason == "AUTH_KEY_UNREGISTERED"),
            "{error}"
        );
        assert_untouched(&client);
        assert!(env.logins_of(1001).is_empty());

        let error = client.import_login(&login, ImportMode::ShareKey).await.unwrap_err();
        assert!(matches!(&error, LoginError::SourceLoginInvalid { .. }), "{error}");
        assert_untouched(&client);

        // A key the server never made.
        let unknown = ImportedLogin {
            auth_key: AuthKey::from_bytes([7; 256]),
            ..login.clone()
        };
        let error = client.import_login(&unknown, ImportMode::Handoff).await.unwrap_err();
        assert!(matches!(&error, LoginError::SourceLoginInvalid { .. }), "{error}");
        assert_untouched(&client);
        client.close().await.unwrap();
        env.server.shutdown().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_of_another_user_than_the_imported_one_is_logged_out_again() {
    timed(Box::pin(async {
        let env = start(Server::Plain).await;
        let (source, login) = env.source("15550001", "11111", None).await;
        let claimed = ImportedLogin {
            user_id: Some(1004),
            ..login.clone()
        };
        let client = env.client("ours.session");
        let error = client
            .import_login(&claimed, ImportMode::Handoff)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                LoginError::OtherAccount {
                    expected: 1004,
                    got: 1001
                }
            ),
            "{error}"
        );
        assert!(client.self_user().unwrap().is_none());
        assert_eq!(env.logins_of(1001).len(), 1, "the new login was logged out");
        assert_eq!(me(&source).await.unwrap(), 1001);
        client.close().await.unwrap();
        source.close().await.unwrap();
        env.server.shutdown().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_session_cannot_hand_off_but_can_share_its_key() {
    timed(Box::pin(async {
        let env = start(Server::Plain).await;
        let source = env.client("bot-source.session");
        source.bot_sign_in("2001:demo-token").await.unwrap();
        let key = source
            .with_store(|s| s.dc_auth(2))
            .unwrap()
            .unwrap()
            .auth
            .auth_key;
        let login = ImportedLogin {
            source: ImportSource::Pyrogram { api_id: Some(4) },
            dc_id: 2,
            auth_key: key,
            other_keys: Vec::new(),
            user_id: Some(2001),
            is_bot: Some(true),
        };
        let client = env.client("ours.session");
        let error = client
            .import_login(&login, ImportMode::Handoff)
            .await
            .unwrap_err();
        assert!(matches!(error, LoginError::BotHandoff { .. }), "{error}");
        assert_untouched(&client);
        assert!(env.accepts().is_empty());

        let me_ours = client
            .import_login(&login, ImportMode::ShareKey)
            .await
            .unwrap();
        assert!(me_ours.bot);
        assert_eq!(me(&client).await.unwrap(), 2001);
        client.close().await.unwrap();
        source.close().await.unwrap();
        env.server.shutdown().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_wants_init_connection_gets_one_retry_naming_the_source_app() {
    timed(Box::pin(async {
        let env = start(Server::WantsInit).await;
        let (source, mut login) = env.source("15550001", "11111", None).await;
        login.source = ImportSource::Desktop {
            app_version: 5_010_003,
        };
        let client = env.client("ours.session");
        let me_ours = client
            .import_login(&login, ImportMode::Handoff)
            .await
            .unwrap();
        assert_eq!(me_ours.id, 1001);
        let key_id = login.auth_key.key_id();
        assert_eq!(
            env.accepts(),
            vec![
                Accept {
                    key_id,
                    init: None,
                    without_updates: true
                },
                Accept {
                    key_id,
                    init: Some((2040, "5.10.3".to_owned())),
                    without_updates: true
                },
            ]
        );
        assert_eq!(env.logins_of(1001).len(), 2);
        assert_eq!(me(&source).await.unwrap(), 1001);
        client.close().await.unwrap();
        source.close().await.unwrap();
        env.server.shutdown().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_key_uses_the_source_key_itself_and_refuses_a_logged_in_session() {
    timed(Box::pin(async {
        let env = start(Server::Plain).await;
        let (source, login) = env.source("15550004", "44444", None).await;
        let client = env.client("ours.session");
        let me_ours = client
            .import_login(&login, ImportMode::ShareKey)
            .await
            .unwrap();
        assert_eq!(me_ours.id, 1004);
        assert_eq!(env.logins_of(1004).len(), 1, "no second login");
        assert!(env.accepts().is_empty());
        let stored = client.with_store(|s| s.dc_auth(4)).unwrap().unwrap();
        assert_eq!(stored.auth.auth_key.key_id(), login.auth_key.key_id());
        assert!(stored.authorized);
        assert_eq!(client.with_store(|s| s.home_dc()).unwrap(), Some(4));
        assert_eq!(me(&client).await.unwrap(), 1004);
        assert_eq!(me(&source).await.unwrap(), 1004);

        let again = client
            .import_login(&login, ImportMode::Handoff)
            .await
            .unwrap_err();
        assert!(
            matches!(again, LoginError::AlreadyLoggedIn(1004)),
            "{again}"
        );
        client.close().await.unwrap();
        source.close().await.unwrap();
        env.server.shutdown().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_odd_or_lost_accept_answer_still_ends_in_our_login() {
    timed(Box::pin(async {
        for server in [Server::OddAnswer, Server::LostAnswer] {
            let env = start(server).await;
            let (source, mut login) = env.source("15550001", "11111", None).await;
            login.source = ImportSource::Pyrogram { api_id: Some(777) };
            let client = env.client("ours.session");
            let me_ours = client
                .import_login(&login, ImportMode::Handoff)
                .await
                .unwrap();
            assert_eq!(me_ours.id, 1001, "{server:?}");
            assert_eq!(env.logins_of(1001).len(), 2, "{server:?}");
            let accepts = env.accepts();
            if server == Server::OddAnswer {
                // An unreadable answer is retried once with initConnection naming
                // Pyrogram's api_id; the server says the token was accepted already.
                assert_eq!(accepts.len(), 2);
                assert_eq!(accepts[1].init.as_ref().map(|i| i.0), Some(777));
            } else {
                // An error after the fact is not retried: our key's answer decides.
                assert_eq!(accepts.len(), 1);
            }
            assert_eq!(me(&source).await.unwrap(), 1001);
            client.close().await.unwrap();
            source.close().await.unwrap();
            env.server.shutdown().await;
        }
    }))
    .await;
}

/// Log output, kept for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Ways `secret` could show in a log line: hex either case, a `Debug` byte list, base64.
fn spellings(secret: &[u8]) -> Vec<String> {
    let head = &secret[..8];
    let hex = head.iter().fold(String::new(), |mut out, b| {
        use std::fmt::Write;
        write!(out, "{b:02x}").unwrap();
        out
    });
    let list = format!("{:?}", &head[..4]);
    vec![
        hex.clone(),
        hex.to_uppercase(),
        list[..list.len() - 1].to_owned(),
        common_base64(&head[..6]),
    ]
}

fn common_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    bytes
        .chunks(3)
        .flat_map(|c| {
            let n = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
            (0..4).map(move |i| char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]))
        })
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn no_log_line_at_any_level_shows_the_key_or_the_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // A current-thread runtime: the server, the clients and the sender tasks all log here.
    let _guard = tracing::subscriber::set_default(subscriber);
    timed(Box::pin(async {
        let env = start(Server::WantsInit).await;
        let (source, login) = env.source("15550001", "11111", None).await;
        let client = env.client("ours.session");
        client
            .import_login(&login, ImportMode::Handoff)
            .await
            .unwrap();
        let shared = env.client("shared.session");
        shared
            .import_login(&login, ImportMode::ShareKey)
            .await
            .unwrap();
        let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(
            logs.contains("logging in from an imported login"),
            "the capture works"
        );
        let tokens = env.tokens.lock().unwrap().clone();
        assert_eq!(tokens.len(), 2);
        for secret in [login.auth_key.as_bytes().as_slice(), &tokens[0]] {
            for spelling in spellings(secret) {
                assert!(!logs.contains(&spelling), "{spelling} in the logs");
            }
        }
        for c in [client, shared, source] {
            c.close().await.unwrap();
        }
        env.server.shutdown().await;
    }))
    .await;
}
