//! Authorizations (one per login) over real sockets: a login token accepted by one key of
//! an account logs another in as a second device (across DCs, and with 2FA), which
//! `account.getAuthorizations` lists and `account.resetAuthorization` ends with the keys
//! it imported; and the quirk that wants `initConnection` on every new connection.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::Duration;

use localdc::quirks::Quirks;
use localdc::world::{AuthorizationInfo, Fixture, World, mint_session};
use localdc::{Config, FaultSettings, Registry, Server};
use mtcrypto::{AuthKey, RsaPublicKey};
use mtnet::{AuthState, Endpoint, InvokeError, Sender, SenderConfig};
use tl_types::api::functions::{InitConnection, InvokeWithLayer};
use tl_types::api::{enums, functions, types};
use tl_types::{Blob, LAYER, Serialize};

use crate::world::{
    Client, Env, assert_error, authorized_user, check_password, code_hash, demo, export_token,
    get_self, sign_in, start,
};

const TEST_TIME: Duration = Duration::from_mins(3);

/// `query` wrapped as an app describing itself as `device` version `version` wraps it.
fn init_as(device: &str, version: &str, query: Vec<u8>) -> Vec<u8> {
    InvokeWithLayer {
        layer: LAYER,
        query: InitConnection {
            api_id: 6,
            device_model: device.into(),
            system_version: "Linux".into(),
            app_version: version.into(),
            system_lang_code: "en".into(),
            lang_pack: String::new(),
            lang_code: "en".into(),
            proxy: None,
            params: None,
            query: Blob(query),
        },
    }
    .to_bytes()
}

/// A connection to `dc` (a new key unless `auth`) whose first call, `help.getConfig`,
/// announces `device` version `version`. A logged-in key then reads itself, so that its
/// login (which notes the app on the account's methods) shows the app.
async fn connect_as(
    env: &Env,
    dc: i32,
    auth: Option<AuthState>,
    device: &str,
    version: &str,
) -> Client {
    let init = init_as(device, version, functions::help::GetConfig {}.to_bytes());
    let logged_in = auth.is_some();
    let sender = sender(env, dc, auth).await;
    sender
        .0
        .invoke_raw(init, Duration::from_secs(30))
        .await
        .unwrap();
    let client = Client {
        sender: sender.0,
        updates: sender.1,
    };
    if logged_in {
        client.rpc(&get_self()).await.unwrap();
    }
    client
}

/// A sender on a new connection to `dc`, nothing sent yet.
async fn sender(
    env: &Env,
    dc: i32,
    auth: Option<AuthState>,
) -> (Sender, tokio::sync::mpsc::Receiver<Vec<u8>>) {
    let endpoint = Endpoint::new(env.server.addr(dc).unwrap(), dc as i16);
    let mut config = SenderConfig::new(vec![endpoint], dc, vec![env.key.clone()]);
    config.request_timeout = Duration::from_mins(1);
    Sender::start(config, auth).await.unwrap()
}

/// A key minted as logged in for `phone`: its DC and how to connect with it.
fn minted(env: &Env, phone: &str) -> (i32, AuthState) {
    let minted = mint_session(&env.server, &env.world, phone, None).unwrap();
    let auth = AuthState {
        auth_key: AuthKey::from_bytes(minted.auth_key),
        salt: minted.salt,
        time_offset: 0,
    };
    (minted.dc, auth)
}

fn token_of(answer: enums::auth::LoginToken) -> Vec<u8> {
    match answer {
        enums::auth::LoginToken::LoginToken(token) => token.token,
        other => panic!("expected a token, got {other:?}"),
    }
}

fn listed(answer: enums::account::Authorizations) -> Vec<types::Authorization> {
    let enums::account::Authorizations::Authorizations(list) = answer;
    assert_eq!(list.authorization_ttl_days, 180);
    list.authorizations
        .into_iter()
        .map(|enums::Authorization::Authorization(a)| *a)
        .collect()
}

async fn authorizations_seen_by(client: &Client) -> Vec<types::Authorization> {
    listed(
        client
            .rpc(&functions::account::GetAuthorizations {})
            .await
            .unwrap(),
    )
}

fn by_device<'a>(logins: &'a [AuthorizationInfo], device: &str) -> &'a AuthorizationInfo {
    logins
        .iter()
        .find(|a| a.device_model == device)
        .unwrap_or_else(|| panic!("no login of {device}: {logins:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_accepted_by_one_key_logs_in_a_second_device_across_dcs() {
    tokio::time::timeout(TEST_TIME, async {
        let env = start(demo()).await;
        // Alice (home DC 2) is logged in on a key of an app "Desktop".
        let (home, source_auth) = minted(&env, "15550001");
        let source = connect_as(&env, home, Some(source_auth.clone()), "Desktop", "5.0").await;
        // The new device makes a key on DC 1 and asks for a token there.
        let exporter = connect_as(&env, 1, None, "tgdl", "0.9").await;
        let token = token_of(exporter.rpc(&export_token()).await.unwrap());

        let enums::Authorization::Authorization(accepted) = source
            .rpc(&functions::auth::AcceptLoginToken {
                token: token.clone(),
            })
            .await
            .unwrap();
        // The answer describes the new device, not the one accepting.
        assert_eq!(
            (
                accepted.device_model.as_str(),
                accepted.app_version.as_str(),
                accepted.api_id
            ),
            ("tgdl", "0.9", 6)
        );
        assert!(!accepted.current);
        assert_ne!(accepted.hash, 0);
        assert_error(
            source
                .rpc(&functions::auth::AcceptLoginToken { token })
                .await,
            400,
            "AUTH_TOKEN_ALREADY_ACCEPTED",
        );

        // The account lives on DC 2: the new device is sent there with its token.
        let enums::auth::LoginToken::MigrateTo(migrate) =
            exporter.rpc(&export_token()).await.unwrap()
        else {
            panic!("expected loginTokenMigrateTo")
        };
        assert_eq!(migrate.dc_id, home);
        let new = connect_as(&env, home, None, "tgdl", "0.9").await;
        let enums::auth::LoginToken::Success(success) = new
            .rpc(&functions::auth::ImportLoginToken {
                token: migrate.token,
            })
            .await
            .unwrap()
        else {
            panic!("expected loginTokenSuccess")
        };
        assert_eq!(authorized_user(&success.authorization), 1001);

        // Two logins: the source and the new key on DC 2 (the DC 1 key that only asked for
        // the token never logged in), under the hash the acceptance promised.
        let logins = env.world.authorizations(1001);
        assert_eq!(logins.len(), 2, "{logins:?}");
        let desktop = by_device(&logins, "Desktop");
        let tgdl = by_device(&logins, "tgdl");
        assert_eq!(tgdl.hash, accepted.hash);
        assert_eq!(tgdl.dc, home);
        assert_eq!(
            (desktop.dc, desktop.key_id),
            (home, source_auth.auth_key.key_id())
        );
        assert!(tgdl.date_created >= desktop.date_created);

        // Each sees itself as current with hash 0, first, and the other by its hash.
        for (client, me, other) in [(&source, "Desktop", tgdl), (&new, "tgdl", desktop)] {
            let seen = authorizations_seen_by(client).await;
            assert_eq!(seen.len(), 2);
            assert!(seen[0].current && seen[0].hash == 0 && seen[0].device_model == me);
            assert!(!seen[1].current);
            assert_eq!(seen[1].hash, other.hash);
            assert_eq!(seen[1].device_model, other.device_model);
            assert_eq!(seen[1].ip, "127.0.0.1");
        }
        // The source key still works.
        assert!(source.rpc(&get_self()).await.is_ok());

        // The app comes back in a new version on a new connection of the same key: the
        // login shows it, and stays one login.
        let updated = connect_as(&env, home, Some(source_auth), "Desktop", "5.1").await;
        assert!(updated.rpc(&get_self()).await.is_ok());
        let logins = env.world.authorizations(1001);
        assert_eq!(logins.len(), 2);
        assert_eq!(by_device(&logins, "Desktop").app_version, "5.1");
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_login_of_a_2fa_account_is_pending_until_the_password() {
    tokio::time::timeout(TEST_TIME, async {
        let env = start(demo()).await;
        // Bob (home DC 4) has a 2FA password.
        let (home, source_auth) = minted(&env, "15550002");
        let source = connect_as(&env, home, Some(source_auth), "Desktop", "5.0").await;
        let new = connect_as(&env, home, None, "tgdl", "0.9").await;
        let token = token_of(new.rpc(&export_token()).await.unwrap());
        source
            .rpc(&functions::auth::AcceptLoginToken { token })
            .await
            .unwrap();
        assert_error(
            new.rpc(&export_token()).await,
            401,
            "SESSION_PASSWORD_NEEDED",
        );
        assert_error(new.rpc(&get_self()).await, 401, "AUTH_KEY_UNREGISTERED");
        assert!(by_device(&env.world.authorizations(1002), "tgdl").password_pending);
        let seen = authorizations_seen_by(&source).await;
        assert!(seen.iter().any(|a| a.password_pending && !a.current));

        let auth = check_password(&new, "hunter2").await.unwrap();
        assert_eq!(authorized_user(&auth), 1002);
        let logins = env.world.authorizations(1002);
        assert_eq!(logins.len(), 2);
        assert!(logins.iter().all(|a| !a.password_pending), "{logins:?}");
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

/// The demo world, where a login may end others at once.
fn no_fresh_wait() -> Fixture {
    let mut fixture = demo();
    fixture.fresh_reset_secs = Some(0);
    fixture
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_authorization_ends_a_login_with_its_imported_keys() {
    tokio::time::timeout(TEST_TIME, async {
        let env = start(no_fresh_wait()).await;
        let (home, source_auth) = minted(&env, "15550001");
        let source = connect_as(&env, home, Some(source_auth), "Desktop", "5.0").await;
        // A second login by code, which exports its authorization to DC 4.
        let other = connect_as(&env, home, None, "phone", "1.0").await;
        let hash = code_hash(&other, "15550001").await;
        other
            .rpc(&sign_in("15550001", &hash, "12345"))
            .await
            .unwrap();
        let enums::auth::ExportedAuthorization::ExportedAuthorization(exported) = other
            .rpc(&functions::auth::ExportAuthorization { dc_id: 4 })
            .await
            .unwrap();
        let imported = connect_as(&env, 4, None, "phone", "1.0").await;
        imported
            .rpc(&functions::auth::ImportAuthorization {
                id: exported.id,
                bytes: exported.bytes,
            })
            .await
            .unwrap();
        // The imported key is part of the phone's login, not a third one.
        let logins = env.world.authorizations(1001);
        assert_eq!(logins.len(), 2, "{logins:?}");
        let phone = by_device(&logins, "phone").clone();
        assert_eq!(phone.children.len(), 1);
        assert_eq!(phone.children[0].0, 4);
        let mine = by_device(&logins, "Desktop").hash;

        // Not another login's hash: 0 (how the caller sees itself), its own, unknown.
        for hash in [0, mine, 12_345] {
            assert_error(
                source
                    .rpc(&functions::account::ResetAuthorization { hash })
                    .await,
                400,
                "HASH_INVALID",
            );
        }
        assert!(
            source
                .rpc(&functions::account::ResetAuthorization { hash: phone.hash })
                .await
                .unwrap()
        );
        // The login and the key it imported are logged out; the source is not.
        assert_error(other.rpc(&get_self()).await, 401, "AUTH_KEY_UNREGISTERED");
        assert_error(
            imported.rpc(&get_self()).await,
            401,
            "AUTH_KEY_UNREGISTERED",
        );
        assert!(source.rpc(&get_self()).await.is_ok());
        assert_eq!(env.world.authorizations(1001).len(), 1);
        assert_error(
            source
                .rpc(&functions::account::ResetAuthorization { hash: phone.hash })
                .await,
            400,
            "HASH_INVALID",
        );
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_a_login_ends_its_imported_keys_and_an_imported_key_only_itself() {
    tokio::time::timeout(TEST_TIME, async {
        let env = start(demo()).await;
        let (home, auth) = minted(&env, "15550001");
        let login = connect_as(&env, home, Some(auth), "Desktop", "5.0").await;
        let mut imported = Vec::new();
        for dc in [1, 4] {
            let enums::auth::ExportedAuthorization::ExportedAuthorization(exported) = login
                .rpc(&functions::auth::ExportAuthorization { dc_id: dc })
                .await
                .unwrap();
            let client = connect_as(&env, dc, None, "Desktop", "5.0").await;
            client
                .rpc(&functions::auth::ImportAuthorization {
                    id: exported.id,
                    bytes: exported.bytes,
                })
                .await
                .unwrap();
            imported.push(client);
        }
        assert_eq!(env.world.authorizations(1001)[0].children.len(), 2);
        // An imported key logging out leaves the login and its other keys.
        imported[0].rpc(&functions::auth::LogOut {}).await.unwrap();
        assert_error(
            imported[0].rpc(&get_self()).await,
            401,
            "AUTH_KEY_UNREGISTERED",
        );
        assert!(imported[1].rpc(&get_self()).await.is_ok());
        assert_eq!(env.world.authorizations(1001)[0].children.len(), 1);
        // The login's own key logging out ends the rest.
        login.rpc(&functions::auth::LogOut {}).await.unwrap();
        assert_error(
            imported[1].rpc(&get_self()).await,
            401,
            "AUTH_KEY_UNREGISTERED",
        );
        assert!(env.world.authorizations(1001).is_empty());
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_younger_than_a_day_may_not_end_others() {
    tokio::time::timeout(TEST_TIME, async {
        let env = start(demo()).await;
        let (home, first) = minted(&env, "15550001");
        let first = connect_as(&env, home, Some(first), "Desktop", "5.0").await;
        let (_, second) = minted(&env, "15550001");
        let second = connect_as(&env, home, Some(second), "phone", "1.0").await;
        let logins = env.world.authorizations(1001);
        let phone = by_device(&logins, "phone").hash;
        assert_error(
            first
                .rpc(&functions::account::ResetAuthorization { hash: phone })
                .await,
            406,
            "FRESH_RESET_AUTHORISATION_FORBIDDEN",
        );
        assert!(second.rpc(&get_self()).await.is_ok());
        assert_eq!(env.world.authorizations(1001).len(), 2);
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

/// A raw call on `sender`, its error as `RpcError`.
async fn raw(sender: &Sender, body: Vec<u8>) -> Result<Vec<u8>, localdc::RpcError> {
    match sender.invoke_raw(body, Duration::from_mins(1)).await {
        Ok(answer) => Ok(answer),
        Err(InvokeError::Rpc(error)) => Err(error),
        Err(other) => panic!("transport failure: {other}"),
    }
}

async fn start_with_quirks(quirks: Quirks) -> Env {
    let world = Arc::new(World::from_fixture(demo()).unwrap());
    let mut registry = Registry::with_defaults();
    localdc::world::register(&mut registry, Arc::clone(&world));
    let config = Config {
        faults: FaultSettings {
            quirks,
            ..FaultSettings::default()
        },
        ..Config::default()
    };
    let server = Server::start_with(config, registry).await.unwrap();
    let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
    Env { server, key, world }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_connection_is_wanted_on_each_new_connection_only_under_the_quirk() {
    tokio::time::timeout(TEST_TIME, async {
        for (quirks, refused) in [
            (Quirks::default().requiring_init_per_connection(), true),
            (Quirks::default(), false),
        ] {
            let env = start_with_quirks(quirks).await;
            let (home, auth) = minted(&env, "15550001");
            // The key announced itself once, on an earlier connection.
            let earlier = connect_as(&env, home, Some(auth.clone()), "Desktop", "5.0").await;
            assert!(earlier.rpc(&get_self()).await.is_ok());

            let (sender, _updates) = sender(&env, home, Some(auth)).await;
            let bare = raw(&sender, get_self().to_bytes()).await;
            if refused {
                assert_error(bare, 400, "CONNECTION_NOT_INITED");
                let wrapped = init_as("Desktop", "5.0", get_self().to_bytes());
                assert!(raw(&sender, wrapped).await.is_ok());
                // Once announced on this connection, bare calls are served.
                assert!(raw(&sender, get_self().to_bytes()).await.is_ok());
            } else {
                assert!(bare.is_ok(), "{bare:?}");
            }
            env.server.shutdown().await;
        }
    })
    .await
    .expect("test timed out");
}
