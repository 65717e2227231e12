//! Login against localdc's world: phone code, 2FA, bot token, QR, an account on another DC
//! than the first contacted (migration), reuse of the stored session, logout. The client is
//! configured exactly as for Telegram, with localdc's addresses and key as the server.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use localdc::world::{Fixture, World};
use localdc::{Config, Registry, RequestContext, RunningServer};
use tgclient::{Client, LoginError, QrStatus, ServerConfig, SessionStore};
use tl_types::api::{enums, functions, types};

use crate::common;

const TEST_TIME: Duration = Duration::from_mins(2);

const FIXTURE: &str = r#"{
  "seed": 11,
  "users": [
    { "id": 1001, "first_name": "Alice", "username": "alice", "phone": "15550001" },
    { "id": 1002, "first_name": "Bob", "username": "bob", "phone": "15550002" },
    { "id": 1003, "first_name": "Carol", "phone": "15550003" },
    { "id": 2001, "first_name": "Demo Bot", "username": "demo_bot", "bot": true }
  ],
  "accounts": [
    { "phone": "15550001", "user_id": 1001, "code": "11111", "home_dc": 2 },
    { "phone": "15550002", "user_id": 1002, "code": "22222", "home_dc": 4,
      "password": "hunter2", "hint": "the usual" },
    { "phone": "15550003", "user_id": 1003, "code": "33333", "home_dc": 3 }
  ],
  "bots": [ { "token": "2001:demo-token", "user_id": 2001, "home_dc": 2 } ],
  "revoked_bot_tokens": [ "2001:revoked-token" ],
  "chats": []
}"#;

struct Env {
    server: RunningServer,
    world: Arc<World>,
    server_config: ServerConfig,
    _dir: tempfile::TempDir,
    session: std::path::PathBuf,
}

async fn start() -> Env {
    start_customized(|_| {}).await
}

/// The server with its registry adjusted by `customize`.
async fn start_customized(customize: impl FnOnce(&mut Registry)) -> Env {
    let world = Arc::new(World::from_fixture(Fixture::from_json(FIXTURE).unwrap()).unwrap());
    let server = common::serve(Config::default(), &world, customize).await;
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("test.session");
    Env {
        server_config: common::server_config(&server),
        server,
        world,
        _dir: dir,
        session,
    }
}

impl Env {
    fn client(&self) -> Client {
        common::open_client(&self.session, self.server_config.clone())
    }
}

/// `users.getUsers([inputUserSelf])` as a logged-in check.
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

/// Runs `test` with a new server and a client of it, then closes both.
async fn with_client(test: impl AsyncFnOnce(&Env, &Client)) {
    timed(Box::pin(async {
        let env = start().await;
        let client = env.client();
        test(&env, &client).await;
        client.close().await.unwrap();
        env.server.shutdown().await;
    }))
    .await;
}

async fn timed<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(TEST_TIME, f)
        .await
        .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_login_then_reuse_the_session_then_log_out() {
    timed(Box::pin(async {
        let env = start().await;
        {
            let client = env.client();
            assert!(!client.is_logged_in());
            let request = client.request_login_code("15550001").await.unwrap();
            let wrong = client.sign_in(&request, "00000").await.unwrap_err();
            assert!(
                matches!(wrong, LoginError::InvalidCode(ref m) if m.starts_with("PHONE_CODE")),
                "{wrong}"
            );
            let user = client.sign_in(&request, "11111").await.unwrap();
            assert_eq!(user.id, 1001);
            assert_eq!(user.username.as_deref(), Some("alice"));
            assert_eq!(me(&client).await.unwrap(), 1001);
            client.close().await.unwrap();
        }
        {
            // The stored session: logged in at once, no new key.
            let client = env.client();
            assert_eq!(client.self_user().unwrap().unwrap().id, 1001);
            assert_eq!(client.home_dc(), 2);
            assert_eq!(me(&client).await.unwrap(), 1001);
            let dc_list = client.with_store(|s| s.dc_options()).unwrap();
            assert_eq!(dc_list.len(), 5, "the DC list came from help.getConfig");
            client.log_out().await.unwrap();
            assert!(!client.is_logged_in());
            assert!(client.with_store(|s| s.dc_auths()).unwrap().is_empty());
            // A new key is made and it is not logged in.
            let error = me(&client).await.unwrap_err();
            assert_eq!(error.rpc().map(|r| r.code), Some(401), "{error}");
            assert!(
                error.to_string().contains("AUTH_KEY_UNREGISTERED"),
                "{error}"
            );
            client.close().await.unwrap();
        }
        {
            // The session file remembers the logout.
            let client = env.client();
            assert!(!client.is_logged_in());
            assert!(client.self_user().unwrap().is_none());
            let error = me(&client).await.unwrap_err();
            assert_eq!(
                error.rpc().map(|r| r.message.as_str()),
                Some("AUTH_KEY_UNREGISTERED"),
                "{error}"
            );
            client.close().await.unwrap();
        }
        env.server.shutdown().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_login_on_another_dc_follows_the_migration() {
    with_client(async |_, client| {
        assert_eq!(client.home_dc(), 2);
        let request = client.request_login_code("15550002").await.unwrap();
        assert_eq!(client.home_dc(), 4, "PHONE_MIGRATE_4 moved the home DC");
        let needed = client.sign_in(&request, "22222").await.unwrap_err();
        match needed {
            LoginError::PasswordRequired { hint } => assert_eq!(hint.as_deref(), Some("the usual")),
            other => panic!("{other}"),
        }
        let wrong = client.check_password("wrong").await.unwrap_err();
        assert!(
            matches!(wrong, LoginError::WrongPassword(ref m) if m == "PASSWORD_HASH_INVALID"),
            "{wrong}"
        );
        let user = client.check_password("hunter2").await.unwrap();
        assert_eq!(user.id, 1002);
        assert_eq!(client.with_store(|s| s.home_dc()).unwrap(), Some(4));
        assert!(common::authorized_on(client, 4));
        assert_eq!(me(client).await.unwrap(), 1002);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_login_and_a_wrong_token() {
    with_client(async |_, client| {
        let wrong = client.bot_sign_in("2001:nope").await.unwrap_err();
        assert!(matches!(wrong, LoginError::InvalidBotToken(_)), "{wrong}");
        let user = client.bot_sign_in("2001:demo-token").await.unwrap();
        assert!(user.bot);
        assert_eq!(user.id, 2001);
        assert_eq!(me(client).await.unwrap(), 2001);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_bot_token_is_told_from_a_wrong_one() {
    with_client(async |_, client| {
        let revoked = client.bot_sign_in("2001:revoked-token").await.unwrap_err();
        assert!(
            matches!(revoked, LoginError::RevokedBotToken(ref m) if m == "ACCESS_TOKEN_EXPIRED"),
            "{revoked}"
        );
        let wrong = client.bot_sign_in("2001:nope").await.unwrap_err();
        assert!(
            matches!(wrong, LoginError::InvalidBotToken(ref m) if m == "ACCESS_TOKEN_INVALID"),
            "{wrong}"
        );
        assert!(me(client).await.is_err(), "no login after refusals");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_without_an_account_must_sign_up_first() {
    with_client(async |_, client| {
        let request = client.request_login_code("+1 555 0099").await.unwrap();
        assert_eq!(request.kind, tgclient::CodeKind::Sms);
        let wrong = client.sign_in(&request, "00000").await.unwrap_err();
        assert!(matches!(wrong, LoginError::InvalidCode(_)), "{wrong}");
        // The fixture's default code for numbers with no account.
        let unknown = client.sign_in(&request, "12345").await.unwrap_err();
        assert!(matches!(unknown, LoginError::SignUpRequired), "{unknown}");
        assert!(me(client).await.is_err(), "no login without an account");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_login_accepted_for_an_account_on_another_dc() {
    with_client(async |env, client| {
        let mut qr = client.qr_login(Vec::new()).await.unwrap();
        assert!(qr.url().starts_with("tg://login?token="));
        assert!(!format!("{qr:?}").contains("token"));
        // Nobody scans it and nothing is pushed: a timeout.
        let error = client
            .qr_wait(&mut qr, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(matches!(error, LoginError::QrTimeout), "{error}");
        qr.poll_interval = Some(Duration::from_millis(100));
        // Carol (home DC 3) scans the code shown now.
        let pending = env.world.pending_login_tokens();
        assert!(!pending.is_empty());
        for token in &pending {
            env.world.approve_login_token(token, 1003);
        }
        let user = loop {
            match client
                .qr_wait(&mut qr, Duration::from_secs(10))
                .await
                .unwrap()
            {
                QrStatus::LoggedIn(user) => break user,
                QrStatus::Refreshed => {
                    for token in env.world.pending_login_tokens() {
                        env.world.approve_login_token(&token, 1003);
                    }
                }
            }
        };
        assert_eq!(user.id, 1003);
        assert_eq!(
            client.home_dc(),
            3,
            "auth.loginTokenMigrateTo moved the home DC"
        );
        assert_eq!(me(client).await.unwrap(), 1003);
    })
    .await;
}

/// Approves every pending QR token for `user`; how many.
fn approve_all(world: &World, user: i64) -> usize {
    let pending = world.pending_login_tokens();
    for token in &pending {
        world.approve_login_token(token, user);
    }
    pending.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_login_of_a_password_account_continues_with_2fa() {
    with_client(async |env, client| {
        assert_eq!(client.home_dc(), 2);
        let mut qr = client.qr_login(Vec::new()).await.unwrap();
        qr.poll_interval = Some(Duration::from_millis(100));
        // Bob (home DC 4, with a password) scans it.
        assert!(approve_all(&env.world, 1002) > 0);
        let needed = loop {
            match client.qr_wait(&mut qr, Duration::from_secs(10)).await {
                Ok(QrStatus::Refreshed) => {
                    approve_all(&env.world, 1002);
                }
                Ok(QrStatus::LoggedIn(user)) => panic!("logged in without the password: {user:?}"),
                Err(error) => break error,
            }
        };
        match needed {
            LoginError::PasswordRequired { hint } => assert_eq!(hint.as_deref(), Some("the usual")),
            other => panic!("{other}"),
        }
        assert_eq!(client.home_dc(), 4, "the token was imported on DC 4");
        assert!(!client.is_logged_in());
        let wrong = client.check_password("hunter3").await.unwrap_err();
        assert!(
            matches!(wrong, LoginError::WrongPassword(ref m) if m == "PASSWORD_HASH_INVALID"),
            "{wrong}"
        );
        let user = client.check_password("hunter2").await.unwrap();
        assert_eq!(user.id, 1002);
        assert_eq!(me(client).await.unwrap(), 1002);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_qr_token_is_replaced_by_a_fresh_one() {
    timed(Box::pin(async {
        // Tokens that live one second, each one new.
        let minted = Arc::new(AtomicU8::new(0));
        let counter = Arc::clone(&minted);
        let env = start_customized(move |registry| {
            registry.register_typed(
                move |_: &RequestContext, _: functions::auth::ExportLoginToken| {
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
                    Ok(enums::auth::LoginToken::from(types::auth::LoginToken {
                        expires: i32::try_from(now.as_secs()).unwrap() + 1,
                        token: vec![n; 16],
                    }))
                },
            );
        })
        .await;
        let client = env.client();
        let mut qr = client.qr_login(Vec::new()).await.unwrap();
        let first = qr.url();
        // The wait is far longer than the token's life: `Refreshed` (not `QrTimeout`)
        // says the token was replaced when it expired, not when the wait ran out.
        let status = client
            .qr_wait(&mut qr, Duration::from_mins(1))
            .await
            .unwrap();
        assert!(matches!(status, QrStatus::Refreshed), "{status:?}");
        assert_ne!(qr.url(), first, "a new code to show");
        assert_eq!(
            minted.load(Ordering::SeqCst),
            2,
            "exported exactly once more"
        );
        assert!(qr.expires() > SystemTime::now() - Duration::from_secs(1));
        client.close().await.unwrap();
        env.server.shutdown().await;
    }))
    .await;
}

/// Needs localdc to push `updateShort{updateLoginToken}` to the exporting session when a
/// token is accepted: then no polling is needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_login_completes_on_the_pushed_update_without_polling() {
    with_client(async |env, client| {
        let mut qr = client.qr_login(Vec::new()).await.unwrap();
        assert_eq!(qr.poll_interval, None);
        let accept = {
            let world = Arc::clone(&env.world);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                assert_eq!(approve_all(&world, 1001), 1);
            })
        };
        // No poll interval, and a wait that ends before the token expires (localdc's live
        // 30 s): the only thing that can wake the wait before it runs out is the pushed
        // update, so `LoggedIn` (not `QrTimeout`) says the push was followed.
        let wait = Duration::from_secs(20);
        let until_expiry = qr.expires().duration_since(SystemTime::now()).unwrap();
        assert!(until_expiry > wait, "{until_expiry:?}");
        let status = client.qr_wait(&mut qr, wait).await.unwrap();
        accept.await.unwrap();
        let QrStatus::LoggedIn(user) = status else {
            panic!("{status:?}")
        };
        assert_eq!(user.id, 1001);
        assert_eq!(me(client).await.unwrap(), 1001);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_client_on_the_same_session_is_refused() {
    timed(Box::pin(async {
        let env = start().await;
        let client = env.client();
        let error = SessionStore::open(&env.session).unwrap_err();
        assert!(
            matches!(error, tgclient::StoreError::InUse { .. }),
            "{error}"
        );
        drop(client);
        env.server.shutdown().await;
    }))
    .await;
}
