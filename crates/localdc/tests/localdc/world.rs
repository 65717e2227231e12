//! The world over real sockets: logins (code, 2FA, bot, QR, across DCs), history and
//! search paging against generated worlds, flood waits and takeout — through mtnet's
//! sender, as a client would.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common;

use common::send_code;
use localdc::world::fixture::{
    AccountSpec, AppSpec, ChatKind, ChatSpec, FloodRule, MediaSpec, MessageSpec, PrivateChatSpec,
    UserSpec,
};
use localdc::world::generate::{self, GenOptions};
use localdc::world::{Fixture, World, mint_session};
use localdc::{Config, Registry, RpcError, RunningServer, Server};
use mtcrypto::{AuthKey, RsaPublicKey};
use mtnet::{AuthState, Endpoint, InvokeError, Sender, SenderConfig};
use tl_types::api::{enums, functions, types};
use tl_types::{Blob, Deserialize, RemoteCall, Serialize};

const TEST_TIME: Duration = Duration::from_mins(3);

pub(crate) struct Env {
    pub(crate) server: RunningServer,
    pub(crate) key: RsaPublicKey,
    pub(crate) world: Arc<World>,
}

pub(crate) async fn start(fixture: Fixture) -> Env {
    let world = Arc::new(World::from_fixture(fixture).unwrap());
    let mut registry = Registry::with_defaults();
    localdc::world::register(&mut registry, Arc::clone(&world));
    let server = Server::start_with(Config::default(), registry)
        .await
        .unwrap();
    let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
    Env { server, key, world }
}

pub(crate) fn demo() -> Fixture {
    Fixture::from_json(include_str!("../../fixtures/demo.json")).unwrap()
}

/// A client connection to one DC, the first call wrapped as clients wrap it.
pub(crate) struct Client {
    pub(crate) sender: Sender,
    pub(crate) updates: tokio::sync::mpsc::Receiver<Vec<u8>>,
}

impl Client {
    pub(crate) async fn connect(env: &Env, dc: i32, auth: Option<AuthState>) -> Self {
        let endpoint = Endpoint::new(env.server.addr(dc).unwrap(), dc as i16);
        let mut config = SenderConfig::new(vec![endpoint], dc, vec![env.key.clone()]);
        config.request_timeout = Duration::from_mins(1);
        let (sender, updates) = Sender::start(config, auth).await.unwrap();
        let init = common::with_init(functions::help::GetConfig {}.to_bytes());
        sender
            .invoke_raw(init, Duration::from_secs(30))
            .await
            .unwrap();
        Self { sender, updates }
    }

    /// A client on an auth key minted as already logged in.
    pub(crate) async fn minted(env: &Env, phone: &str) -> Self {
        let minted = mint_session(&env.server, &env.world, phone, None).unwrap();
        let auth = AuthState {
            auth_key: AuthKey::from_bytes(minted.auth_key),
            salt: minted.salt,
            time_offset: 0,
        };
        Self::connect(env, minted.dc, Some(auth)).await
    }

    pub(crate) async fn rpc<R: RemoteCall>(&self, request: &R) -> Result<R::Return, RpcError> {
        match self.sender.invoke(request).await {
            Ok(value) => Ok(value),
            Err(InvokeError::Rpc(error)) => Err(error),
            Err(other) => panic!("transport failure: {other}"),
        }
    }

    async fn raw(&self, body: Vec<u8>) -> Result<Vec<u8>, RpcError> {
        match self.sender.invoke_raw(body, Duration::from_mins(1)).await {
            Ok(value) => Ok(value),
            Err(InvokeError::Rpc(error)) => Err(error),
            Err(other) => panic!("transport failure: {other}"),
        }
    }
}

pub(crate) fn assert_error<T: std::fmt::Debug>(
    result: Result<T, RpcError>,
    code: i32,
    message: &str,
) {
    let error = result.expect_err(message);
    assert_eq!((error.code, error.message.as_str()), (code, message));
}

pub(crate) fn sign_in(phone: &str, hash: &str, code: &str) -> functions::auth::SignIn {
    functions::auth::SignIn {
        phone_number: phone.into(),
        phone_code_hash: hash.into(),
        phone_code: Some(code.into()),
        email_verification: None,
    }
}

pub(crate) async fn code_hash(client: &Client, phone: &str) -> String {
    match client.rpc(&send_code(phone)).await.unwrap() {
        enums::auth::SentCode::SentCode(sent) => sent.phone_code_hash,
        other => panic!("{other:?}"),
    }
}

pub(crate) fn authorized_user(auth: &enums::auth::Authorization) -> i64 {
    match auth {
        enums::auth::Authorization::Authorization(a) => match &a.user {
            enums::User::User(u) => {
                assert!(u.self_);
                u.id
            }
            other @ enums::User::Empty(_) => panic!("{other:?}"),
        },
        other @ enums::auth::Authorization::SignUpRequired(_) => panic!("{other:?}"),
    }
}

pub(crate) fn get_self() -> functions::users::GetUsers {
    functions::users::GetUsers {
        id: vec![enums::InputUser::InputUserSelf],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_login_logout_and_errors() {
    tokio::time::timeout(TEST_TIME, async {
        let env = start(demo()).await;
        let client = Client::connect(&env, 2, None).await;
        assert_error(client.rpc(&get_self()).await, 401, "AUTH_KEY_UNREGISTERED");
        assert_error(
            client.rpc(&send_code("12")).await,
            400,
            "PHONE_NUMBER_INVALID",
        );
        // A number with no account is texted a code; the right one asks for a sign-up.
        let sent = client.rpc(&send_code("15559999")).await.unwrap();
        let enums::auth::SentCode::SentCode(sent) = sent else {
            panic!("{sent:?}")
        };
        assert!(matches!(sent.r#type, enums::auth::SentCodeType::Sms(_)));
        let unknown = |code: &str| sign_in("15559999", &sent.phone_code_hash, code);
        assert_error(
            client.rpc(&unknown("00000")).await,
            400,
            "PHONE_CODE_INVALID",
        );
        assert!(matches!(
            client.rpc(&unknown("12345")).await.unwrap(),
            enums::auth::Authorization::SignUpRequired(_)
        ));
        assert_error(client.rpc(&get_self()).await, 401, "AUTH_KEY_UNREGISTERED");
        let hash = code_hash(&client, "+1 555 0001").await;
        assert_error(
            client.rpc(&sign_in("15550001", &hash, "00000")).await,
            400,
            "PHONE_CODE_INVALID",
        );
        assert_error(
            client.rpc(&sign_in("15550001", "stale", "12345")).await,
            400,
            "PHONE_CODE_EXPIRED",
        );
        let signup = functions::auth::SignUp {
            no_joined_notifications: false,
            phone_number: "15550001".into(),
            phone_code_hash: hash.clone(),
            first_name: "A".into(),
            last_name: String::new(),
        };
        assert!(client.rpc(&signup).await.is_err(), "sign-up is refused");
        let auth = client
            .rpc(&sign_in("15550001", &hash, "12345"))
            .await
            .unwrap();
        assert_eq!(authorized_user(&auth), 1001);
        let users = client.rpc(&get_self()).await.unwrap();
        assert!(matches!(&users[..], [enums::User::User(u)] if u.id == 1001 && u.self_));
        client.rpc(&functions::auth::LogOut {}).await.unwrap();
        assert_error(client.rpc(&get_self()).await, 401, "AUTH_KEY_UNREGISTERED");
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

pub(crate) async fn check_password(
    client: &Client,
    password: &str,
) -> Result<enums::auth::Authorization, RpcError> {
    let enums::account::Password::Password(state) = client
        .rpc(&functions::account::GetPassword {})
        .await
        .unwrap();
    assert!(state.has_password);
    assert_eq!(state.hint.as_deref(), Some("the usual"));
    let Some(enums::PasswordKdfAlgo::SHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(algo)) =
        state.current_algo
    else {
        panic!("no SRP algo");
    };
    let srp_b = state.srp_b.unwrap();
    let password = password.to_owned();
    let proof = tokio::task::spawn_blocking(move || {
        mtcrypto::srp_client_proof(
            password.as_bytes(),
            &algo.salt1,
            &algo.salt2,
            algo.g as u32,
            &algo.p,
            &srp_b,
            &mut rand::rngs::OsRng,
        )
        .unwrap()
    })
    .await
    .unwrap();
    client
        .rpc(&functions::auth::CheckPassword {
            password: types::InputCheckPasswordSRP {
                srp_id: state.srp_id.unwrap(),
                a: proof.a.to_vec(),
                m1: proof.m1.to_vec(),
            }
            .into(),
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_2fa_and_authorization_transfer() {
    tokio::time::timeout(TEST_TIME, async {
        let env = start(demo()).await;
        let dc2 = Client::connect(&env, 2, None).await;
        // Bob lives on DC 4.
        assert_error(
            dc2.rpc(&send_code("15550002")).await,
            303,
            "PHONE_MIGRATE_4",
        );
        let dc4 = Client::connect(&env, 4, None).await;
        let hash = code_hash(&dc4, "15550002").await;
        assert_error(
            dc4.rpc(&sign_in("15550002", &hash, "54321")).await,
            401,
            "SESSION_PASSWORD_NEEDED",
        );
        assert_error(dc4.rpc(&get_self()).await, 401, "AUTH_KEY_UNREGISTERED");
        assert_error(
            check_password(&dc4, "wrong").await,
            400,
            "PASSWORD_HASH_INVALID",
        );
        let auth = check_password(&dc4, "hunter2").await.unwrap();
        assert_eq!(authorized_user(&auth), 1002);

        // Not to the DC the key is on.
        assert_error(
            dc4.rpc(&functions::auth::ExportAuthorization { dc_id: 4 })
                .await,
            400,
            "DC_ID_INVALID",
        );
        // Export to DC 2, import there on another key.
        let enums::auth::ExportedAuthorization::ExportedAuthorization(exported) = dc4
            .rpc(&functions::auth::ExportAuthorization { dc_id: 2 })
            .await
            .unwrap();
        assert_error(
            dc2.rpc(&functions::auth::ImportAuthorization {
                id: exported.id,
                bytes: vec![1, 2, 3],
            })
            .await,
            400,
            "AUTH_BYTES_INVALID",
        );
        let imported = dc2
            .rpc(&functions::auth::ImportAuthorization {
                id: exported.id,
                bytes: exported.bytes.clone(),
            })
            .await
            .unwrap();
        assert_eq!(authorized_user(&imported), 1002);
        // Good once only.
        let dc2b = Client::connect(&env, 2, None).await;
        assert_error(
            dc2b.rpc(&functions::auth::ImportAuthorization {
                id: exported.id,
                bytes: exported.bytes,
            })
            .await,
            400,
            "AUTH_BYTES_INVALID",
        );
        // The user's data is read on the home DC only.
        assert!(dc2.rpc(&get_self()).await.is_ok());
        assert_error(
            dc2.rpc(&functions::updates::GetState {}).await,
            303,
            "USER_MIGRATE_4",
        );
        assert!(dc4.rpc(&functions::updates::GetState {}).await.is_ok());
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_login() {
    tokio::time::timeout(TEST_TIME, async {
        let mut fixture = demo();
        fixture.revoked_bot_tokens = vec!["2001:revoked-token".into()];
        fixture.apps = vec![AppSpec {
            api_id: 4,
            api_hash: "x".into(),
        }];
        let env = start(fixture).await;
        let import = |token: &str| functions::auth::ImportBotAuthorization {
            flags: 0,
            api_id: 4,
            api_hash: "x".into(),
            bot_auth_token: token.into(),
        };
        let dc1 = Client::connect(&env, 1, None).await;
        assert_error(dc1.rpc(&import("nope")).await, 400, "ACCESS_TOKEN_INVALID");
        assert_error(
            dc1.rpc(&import("2001:revoked-token")).await,
            400,
            "ACCESS_TOKEN_EXPIRED",
        );
        let other_app = functions::auth::ImportBotAuthorization {
            api_hash: "y".into(),
            ..import("2001:demo-token")
        };
        assert_error(dc1.rpc(&other_app).await, 400, "API_ID_INVALID");
        assert_error(
            dc1.rpc(&import("2001:demo-token")).await,
            303,
            "USER_MIGRATE_2",
        );
        let dc2 = Client::connect(&env, 2, None).await;
        let auth = dc2.rpc(&import("2001:demo-token")).await.unwrap();
        assert_eq!(authorized_user(&auth), 2001);
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

pub(crate) fn export_token() -> functions::auth::ExportLoginToken {
    functions::auth::ExportLoginToken {
        api_id: 4,
        api_hash: "x".into(),
        except_ids: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_login_with_acceptance_and_migration() {
    tokio::time::timeout(TEST_TIME, async {
        let env = start(demo()).await;
        let alice = Client::minted(&env, "15550001").await;
        let fresh = Client::connect(&env, 2, None).await;
        let enums::auth::LoginToken::LoginToken(token) = fresh.rpc(&export_token()).await.unwrap()
        else {
            panic!("expected a token")
        };
        // Not accepted yet: a new token.
        assert!(matches!(
            fresh.rpc(&export_token()).await.unwrap(),
            enums::auth::LoginToken::LoginToken(_)
        ));
        let enums::auth::LoginToken::LoginToken(token2) = fresh.rpc(&export_token()).await.unwrap()
        else {
            panic!()
        };
        assert_error(
            alice
                .rpc(&functions::auth::AcceptLoginToken { token: token.token })
                .await,
            400,
            "AUTH_TOKEN_INVALIDX",
        );
        alice
            .rpc(&functions::auth::AcceptLoginToken {
                token: token2.token,
            })
            .await
            .unwrap();
        let enums::auth::LoginToken::Success(success) = fresh.rpc(&export_token()).await.unwrap()
        else {
            panic!("expected success")
        };
        assert_eq!(authorized_user(&success.authorization), 1001);

        // Accepted (through the control interface) by Bob, whose home is DC 4.
        let other = Client::connect(&env, 2, None).await;
        let enums::auth::LoginToken::LoginToken(token) = other.rpc(&export_token()).await.unwrap()
        else {
            panic!()
        };
        assert!(env.world.pending_login_tokens().contains(&token.token));
        assert!(env.world.approve_login_token(&token.token, 1002));
        let enums::auth::LoginToken::MigrateTo(migrate) = other.rpc(&export_token()).await.unwrap()
        else {
            panic!("expected a migration")
        };
        assert_eq!(migrate.dc_id, 4);
        let dc4 = Client::connect(&env, 4, None).await;
        assert_error(
            dc4.rpc(&functions::auth::ImportLoginToken {
                token: migrate.token,
            })
            .await,
            401,
            "SESSION_PASSWORD_NEEDED",
        );
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

/// The channel `@chatN` of a generated world, as an input peer.
async fn resolve(client: &Client, username: &str) -> (enums::InputPeer, enums::InputChannel) {
    let enums::contacts::ResolvedPeer::ResolvedPeer(resolved) = client
        .rpc(&functions::contacts::ResolveUsername {
            username: username.into(),
            referer: None,
        })
        .await
        .unwrap();
    let Some(enums::Chat::Channel(channel)) = resolved.chats.first() else {
        panic!("not a channel: {resolved:?}")
    };
    let hash = channel.access_hash.unwrap();
    (
        types::InputPeerChannel {
            channel_id: channel.id,
            access_hash: hash,
        }
        .into(),
        types::InputChannel {
            channel_id: channel.id,
            access_hash: hash,
        }
        .into(),
    )
}

fn message_ids(messages: &enums::messages::Messages) -> (Vec<i32>, i32) {
    let (list, count) = match messages {
        enums::messages::Messages::Messages(m) => (&m.messages, m.messages.len() as i32),
        enums::messages::Messages::Slice(m) => (&m.messages, m.count),
        enums::messages::Messages::ChannelMessages(m) => (&m.messages, m.count),
        enums::messages::Messages::NotModified(_) => panic!("not modified"),
    };
    let ids = list
        .iter()
        .map(|m| match m {
            enums::Message::Message(m) => m.id,
            other => panic!("{other:?}"),
        })
        .collect();
    (ids, count)
}

fn history(
    peer: &enums::InputPeer,
    offset_id: i32,
    add_offset: i32,
    limit: i32,
) -> functions::messages::GetHistory {
    functions::messages::GetHistory {
        peer: peer.clone(),
        offset_id,
        offset_date: 0,
        add_offset,
        limit,
        max_id: 0,
        min_id: 0,
        hash: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_ten_thousand_messages_once_in_order() {
    tokio::time::timeout(TEST_TIME, async {
        let fixture = generate::generate(&GenOptions {
            messages: 10_000,
            chats: 1,
            media_bytes: 1 << 30,
            seed: 5,
            dcs: 5,
        });
        let expected: Vec<i32> = fixture.chats[0]
            .messages
            .iter()
            .rev()
            .map(|m| m.id)
            .collect();
        let env = start(fixture).await;
        let client = Client::minted(&env, generate::ACCOUNTS[0].0).await;
        let (peer, channel) = resolve(&client, "chat1").await;
        let started = Instant::now();
        let mut seen = Vec::new();
        let mut offset = 0;
        loop {
            let page = client.rpc(&history(&peer, offset, 0, 100)).await.unwrap();
            let (ids, count) = message_ids(&page);
            assert_eq!(count, 10_000);
            let Some(last) = ids.last() else { break };
            offset = *last;
            seen.extend(ids);
        }
        println!("10,000 messages in 100 pages: {:?}", started.elapsed());
        assert_eq!(seen, expected);
        // Newer-than windows with a negative add_offset, and id bounds.
        let (ids, _) = message_ids(&client.rpc(&history(&peer, 5000, -3, 5)).await.unwrap());
        assert_eq!(ids, vec![5002, 5001, 5000, 4999, 4998]);
        let mut bounded = history(&peer, 0, 0, 100);
        bounded.max_id = 20;
        bounded.min_id = 10;
        let (ids, _) = message_ids(&client.rpc(&bounded).await.unwrap());
        assert_eq!(ids, (11..20).rev().collect::<Vec<_>>());
        // By id, through channels.getMessages.
        let got = client
            .rpc(&functions::channels::GetMessages {
                channel,
                id: vec![types::InputMessageID { id: 42 }.into()],
            })
            .await
            .unwrap();
        assert_eq!(message_ids(&got).0, vec![42]);
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

fn search(
    peer: &enums::InputPeer,
    q: &str,
    filter: enums::MessagesFilter,
    offset_id: i32,
) -> functions::messages::Search {
    functions::messages::Search {
        peer: peer.clone(),
        q: q.into(),
        from_id: None,
        saved_peer_id: None,
        saved_reaction: None,
        top_msg_id: None,
        filter,
        min_date: 0,
        max_date: 0,
        offset_id,
        add_offset: 0,
        limit: 100,
        max_id: 0,
        min_id: 0,
        hash: 0,
    }
}

async fn search_all(
    client: &Client,
    peer: &enums::InputPeer,
    q: &str,
    filter: &enums::MessagesFilter,
) -> Vec<i32> {
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let page = client
            .rpc(&search(peer, q, filter.clone(), offset))
            .await
            .unwrap();
        let (ids, _) = message_ids(&page);
        let Some(last) = ids.last() else { break };
        offset = *last;
        seen.extend(ids);
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_by_text_and_media_filter_matches_the_fixture() {
    tokio::time::timeout(TEST_TIME, async {
        let fixture = generate::generate(&GenOptions {
            messages: 6_000,
            chats: 1,
            media_bytes: 1 << 30,
            seed: 8,
            dcs: 5,
        });
        let messages = fixture.chats[0].messages.clone();
        let env = start(fixture).await;
        let client = Client::minted(&env, generate::ACCOUNTS[0].0).await;
        let (peer, _) = resolve(&client, "chat1").await;
        let expect = |pred: &dyn Fn(&localdc::world::fixture::MessageSpec) -> bool| -> Vec<i32> {
            messages
                .iter()
                .rev()
                .filter(|m| pred(m))
                .map(|m| m.id)
                .collect()
        };
        let needles = expect(&|m| m.text.split(' ').any(|w| w == generate::NEEDLE));
        assert!(!needles.is_empty());
        let found = search_all(
            &client,
            &peer,
            "NEEDLE",
            &enums::MessagesFilter::InputMessagesFilterEmpty,
        )
        .await;
        assert_eq!(found, needles);
        let photos = expect(&|m| matches!(m.media, Some(MediaSpec::Photo(_))));
        let found = search_all(
            &client,
            &peer,
            "",
            &enums::MessagesFilter::InputMessagesFilterPhotos,
        )
        .await;
        assert_eq!(found, photos);
        let voices = expect(
            &|m| matches!(&m.media, Some(MediaSpec::Document(d)) if d.mime_type == "audio/ogg"),
        );
        let found = search_all(
            &client,
            &peer,
            "",
            &enums::MessagesFilter::InputMessagesFilterVoice,
        )
        .await;
        assert_eq!(found, voices);
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_search_pages_across_chats() {
    tokio::time::timeout(TEST_TIME, async {
        let fixture = generate::generate(&GenOptions {
            messages: 9_000,
            chats: 6,
            media_bytes: 1 << 30,
            seed: 11,
            dcs: 5,
        });
        let mut expected: Vec<(i32, i64, i32)> = fixture
            .chats
            .iter()
            .flat_map(|c| {
                c.messages
                    .iter()
                    .filter(|m| m.text.split(' ').any(|w| w == generate::NEEDLE))
                    .map(move |m| (m.date, c.id, m.id))
            })
            .collect();
        expected.sort_unstable();
        let env = start(fixture).await;
        let client = Client::minted(&env, generate::ACCOUNTS[0].0).await;
        let mut seen: Vec<(i32, i64, i32)> = Vec::new();
        let (mut rate, mut peer, mut offset_id) = (0, enums::InputPeer::Empty, 0);
        let mut pages = 0;
        loop {
            let page = client
                .rpc(&functions::messages::SearchGlobal {
                    broadcasts_only: false,
                    groups_only: false,
                    users_only: false,
                    folder_id: None,
                    community: None,
                    q: generate::NEEDLE.into(),
                    filter: enums::MessagesFilter::InputMessagesFilterEmpty,
                    min_date: 0,
                    max_date: 0,
                    offset_rate: rate,
                    offset_peer: peer.clone(),
                    offset_id,
                    limit: 7,
                })
                .await
                .unwrap();
            pages += 1;
            let (messages, chats, next_rate) = match page {
                enums::messages::Messages::Messages(m) => (m.messages, m.chats, None),
                enums::messages::Messages::Slice(m) => (m.messages, m.chats, m.next_rate),
                other => panic!("{other:?}"),
            };
            for message in &messages {
                let enums::Message::Message(m) = message else {
                    panic!()
                };
                let chat = match &m.peer_id {
                    enums::Peer::Channel(c) => c.channel_id,
                    enums::Peer::Chat(c) => c.chat_id,
                    enums::Peer::User(_) => panic!("no private chats"),
                };
                seen.push((m.date, chat, m.id));
            }
            let Some(rate_next) = next_rate else { break };
            let enums::Message::Message(last) = messages.last().unwrap() else {
                panic!()
            };
            rate = rate_next;
            offset_id = last.id;
            peer = match &last.peer_id {
                enums::Peer::Chat(c) => types::InputPeerChat { chat_id: c.chat_id }.into(),
                enums::Peer::Channel(c) => {
                    let hash = chats
                        .iter()
                        .find_map(|chat| match chat {
                            enums::Chat::Channel(ch) if ch.id == c.channel_id => ch.access_hash,
                            _ => None,
                        })
                        .unwrap();
                    types::InputPeerChannel {
                        channel_id: c.channel_id,
                        access_hash: hash,
                    }
                    .into()
                }
                enums::Peer::User(_) => panic!(),
            };
        }
        assert!(pages > 2, "paged {pages} times");
        assert!(seen.windows(2).all(|w| w[0].0 >= w[1].0), "newest first");
        let unique: BTreeSet<_> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "no duplicates");
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, expected);
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

/// The chats `channels.getChannels` lists for `ids`, in order.
async fn get_channels(
    client: &Client,
    ids: Vec<enums::InputChannel>,
) -> Result<Vec<enums::Chat>, RpcError> {
    let listed = client
        .rpc(&functions::channels::GetChannels { id: ids })
        .await?;
    match listed {
        enums::messages::Chats::Chats(chats) => Ok(chats.chats),
        enums::messages::Chats::Slice(slice) => panic!("a slice: {slice:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_chats_lists_basic_groups_and_refuses_other_ids() {
    tokio::time::timeout(TEST_TIME, async {
        let mut fixture = demo();
        // Dave is in no chat; basic group 503 ("Old Friends") has Alice and Bob.
        fixture.users.push(UserSpec {
            id: 1004,
            first_name: "Dave".into(),
            phone: Some("15550004".into()),
            ..UserSpec::default()
        });
        fixture.accounts.push(AccountSpec {
            phone: "15550004".into(),
            user_id: 1004,
            code: "12345".into(),
            home_dc: 2,
            ..AccountSpec::default()
        });
        let env = start(fixture).await;
        let get = |client: Client, id: Vec<i64>| async move {
            client
                .rpc(&functions::messages::GetChats { id })
                .await
                .map(|chats| match chats {
                    enums::messages::Chats::Chats(chats) => chats.chats,
                    enums::messages::Chats::Slice(slice) => panic!("a slice: {slice:?}"),
                })
        };
        let alice = Client::minted(&env, "15550001").await;
        let chats = get(alice, vec![503]).await.unwrap();
        let [enums::Chat::Chat(group)] = chats.as_slice() else {
            panic!("{chats:?}")
        };
        assert_eq!((group.id, group.title.as_str()), (503, "Old Friends"));
        assert!(!group.left);

        let dave = Client::minted(&env, "15550004").await;
        let chats = get(dave, vec![503]).await.unwrap();
        assert_eq!(
            chats,
            vec![enums::Chat::from(types::ChatForbidden {
                id: 503,
                title: "Old Friends".into(),
            })]
        );
        // A channel's id or an unknown one is no basic group.
        for id in [501, 999] {
            let alice = Client::minted(&env, "15550001").await;
            assert_error(get(alice, vec![id]).await, 400, "CHAT_ID_INVALID");
        }
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_channels_lists_unreadable_channels_as_forbidden() {
    tokio::time::timeout(TEST_TIME, async {
        let mut fixture = demo();
        // Bob is in none of the channels: public @demo_news (501), private supergroup
        // 502, and a private broadcast channel 504.
        fixture.chats[0].members.retain(|&id| id != 1002);
        fixture.chats.push(ChatSpec {
            id: 504,
            kind: ChatKind::Channel,
            title: "Demo Private".into(),
            creator: 1001,
            members: vec![1001],
            date: 1_700_000_000,
            ..ChatSpec::default()
        });
        let env = start(fixture).await;
        let hash = |id| env.world.store().channel_hash(id);
        let input = |id| -> enums::InputChannel {
            types::InputChannel {
                channel_id: id,
                access_hash: hash(id),
            }
            .into()
        };
        let bob = Client::minted(&env, "15550002").await;

        let chats = get_channels(&bob, vec![input(501), input(502), input(504)])
            .await
            .unwrap();
        let [
            enums::Chat::Channel(public),
            enums::Chat::ChannelForbidden(group),
            enums::Chat::ChannelForbidden(channel),
        ] = chats.as_slice()
        else {
            panic!("{chats:?}")
        };
        // Public and not joined: the full channel, `left`.
        assert_eq!(public.id, 501);
        assert!(public.left && public.broadcast && !public.min);
        assert_eq!(public.access_hash, Some(hash(501)));
        assert_eq!(public.username.as_deref(), Some("demo_news"));
        // Private and not joined: id, hash, title and kind only.
        assert_eq!(
            **group,
            types::ChannelForbidden {
                broadcast: false,
                megagroup: true,
                monoforum: false,
                id: 502,
                access_hash: hash(502),
                title: "Demo Group".into(),
                until_date: None,
            }
        );
        assert_eq!(
            **channel,
            types::ChannelForbidden {
                broadcast: true,
                megagroup: false,
                monoforum: false,
                id: 504,
                access_hash: hash(504),
                title: "Demo Private".into(),
                until_date: None,
            }
        );
        // The full channel stays out of reach.
        assert_error(
            bob.rpc(&functions::channels::GetFullChannel {
                channel: input(502),
            })
            .await,
            400,
            "CHANNEL_PRIVATE",
        );

        // Members see the private ones in full.
        let alice = Client::minted(&env, "15550001").await;
        let chats = get_channels(&alice, vec![input(502), input(504)])
            .await
            .unwrap();
        let [enums::Chat::Channel(group), enums::Chat::Channel(channel)] = chats.as_slice() else {
            panic!("{chats:?}")
        };
        assert_eq!((group.id, group.left, group.megagroup), (502, false, true));
        assert_eq!(
            (channel.id, channel.left, channel.broadcast),
            (504, false, true)
        );

        // An input naming no channel fails the call, alone or among valid ones.
        let wrong_hash: enums::InputChannel = types::InputChannel {
            channel_id: 502,
            access_hash: hash(502) ^ 1,
        }
        .into();
        let unknown: enums::InputChannel = types::InputChannel {
            channel_id: 999,
            access_hash: hash(999),
        }
        .into();
        let basic_group: enums::InputChannel = types::InputChannel {
            channel_id: 503,
            access_hash: hash(503),
        }
        .into();
        for ids in [
            vec![wrong_hash.clone()],
            vec![unknown],
            vec![basic_group],
            vec![enums::InputChannel::Empty],
            vec![input(501), wrong_hash],
        ] {
            assert_error(get_channels(&bob, ids).await, 400, "CHANNEL_INVALID");
        }
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_wait_is_announced_and_honoured() {
    tokio::time::timeout(TEST_TIME, async {
        let mut fixture = demo();
        fixture.flood = vec![FloodRule {
            method: "users.getUsers".into(),
            max_calls: 2,
            per_seconds: 2,
            user_id: None,
        }];
        let env = start(fixture).await;
        let client = Client::minted(&env, "15550001").await;
        client.rpc(&get_self()).await.unwrap();
        client.rpc(&get_self()).await.unwrap();
        let error = client.rpc(&get_self()).await.unwrap_err();
        let secs = flood_wait_secs(&error);
        assert!((1..=2).contains(&secs), "{secs}");
        // Other methods are not limited.
        client.rpc(&functions::updates::GetState {}).await.unwrap();
        // Retrying early is refused again, the refusal not counted (the wait does not
        // grow); after the wait it announces it goes through. (The window's arithmetic
        // is tested with explicit instants in `world::flood`.)
        let wait = flood_wait_secs(&client.rpc(&get_self()).await.unwrap_err());
        assert!((1..=secs).contains(&wait), "{wait} after {secs}");
        tokio::time::sleep(Duration::from_secs(wait)).await;
        client.rpc(&get_self()).await.unwrap();
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

/// The X of a `420 FLOOD_WAIT_X` error.
fn flood_wait_secs(error: &RpcError) -> u64 {
    assert_eq!(error.code, 420, "{error:?}");
    error
        .message
        .strip_prefix("FLOOD_WAIT_")
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takeout_session() {
    tokio::time::timeout(TEST_TIME, async {
        let env = start(demo()).await;
        let client = Client::minted(&env, "15550001").await;
        let init = functions::account::InitTakeoutSession {
            contacts: false,
            message_users: false,
            message_chats: true,
            message_megagroups: true,
            message_channels: true,
            files: true,
            file_max_size: Some(1 << 30),
        };
        let enums::account::Takeout::Takeout(takeout) = client.rpc(&init).await.unwrap();
        let within = |id: i64, body: Vec<u8>| {
            functions::InvokeWithTakeout {
                takeout_id: id,
                query: Blob(body),
            }
            .to_bytes()
        };
        let dialogs = functions::messages::GetDialogs {
            exclude_pinned: false,
            folder_id: None,
            offset_date: 0,
            offset_id: 0,
            offset_peer: enums::InputPeer::Empty,
            limit: 100,
            hash: 0,
        };
        let body = client
            .raw(within(takeout.id, dialogs.to_bytes()))
            .await
            .unwrap();
        let enums::messages::Dialogs::Dialogs(list) =
            <enums::messages::Dialogs as tl_types::Deserialize>::from_bytes(&body).unwrap()
        else {
            panic!()
        };
        assert_eq!(list.dialogs.len(), 3);
        assert_error(
            client.raw(within(takeout.id + 1, dialogs.to_bytes())).await,
            400,
            "TAKEOUT_INVALID",
        );
        let finish = functions::account::FinishTakeoutSession { success: true };
        assert_error(client.rpc(&finish).await, 400, "TAKEOUT_REQUIRED");
        client
            .raw(within(takeout.id, finish.to_bytes()))
            .await
            .unwrap();
        assert_error(
            client.raw(within(takeout.id, dialogs.to_bytes())).await,
            400,
            "TAKEOUT_INVALID",
        );
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[test]
fn media_ranges_and_hashes_agree() {
    let world = World::from_fixture(demo()).unwrap();
    let key = localdc::world::FileKey::document(78001);
    let info = world.file(&key).unwrap();
    assert_eq!((info.size, info.dc), (10_485_760, 4));
    let whole = world.file_bytes(&key, 0, info.size as usize).unwrap();
    let digest: [u8; 32] =
        sha2::Digest::finalize(sha2::Digest::chain_update(sha2::Sha256::default(), &whole)).into();
    assert_eq!(world.file_sha256(&key).unwrap(), digest);
    let tail = world.file_bytes(&key, info.size - 10, 4096).unwrap();
    assert_eq!(tail.as_slice(), &whole[whole.len() - 10..]);
    assert!(world.file_bytes(&key, info.size + 1, 1).is_err());
}

fn text_message(id: i32, date: i32, from: i64, text: &str) -> MessageSpec {
    MessageSpec {
        id,
        date,
        from: Some(from),
        text: text.into(),
        ..MessageSpec::default()
    }
}

/// The demo world with private chats: Alice (1001) with Carol, Bob and the bot, in
/// Alice's message box (ids 200..); Bob's side of his chat with Alice in his own box.
fn with_private_chats(mut fixture: Fixture) -> Fixture {
    let carol: Vec<MessageSpec> = (0..5)
        .map(|n| {
            let from = if n % 2 == 0 { 1003 } else { 1001 };
            text_message(
                200 + n,
                1_700_001_500 + n * 300,
                from,
                &format!("carol chat {n}"),
            )
        })
        .collect();
    let alice_bob = vec![
        text_message(205, 1_700_001_250, 1001, "hello Bob"),
        text_message(206, 1_700_001_300, 1002, "hello Alice"),
    ];
    let bob_alice = vec![
        text_message(1, 1_700_001_250, 1001, "hello Bob"),
        text_message(2, 1_700_001_300, 1002, "hello Alice"),
    ];
    fixture.private_chats = vec![
        PrivateChatSpec {
            user: 1001,
            peer: 1003,
            messages: carol,
        },
        PrivateChatSpec {
            user: 1001,
            peer: 1002,
            messages: alice_bob,
        },
        PrivateChatSpec {
            user: 1002,
            peer: 1001,
            messages: bob_alice,
        },
        PrivateChatSpec {
            user: 1001,
            peer: 2001,
            messages: vec![text_message(207, 1_700_000_500, 2001, "/start")],
        },
    ];
    fixture
}

/// The messages of a `messages.Messages`, with the users listed.
fn messages_and_users(page: enums::messages::Messages) -> (Vec<types::Message>, Vec<i64>) {
    let (messages, users) = match page {
        enums::messages::Messages::Messages(m) => (m.messages, m.users),
        enums::messages::Messages::Slice(m) => (m.messages, m.users),
        enums::messages::Messages::ChannelMessages(m) => (m.messages, m.users),
        enums::messages::Messages::NotModified(_) => panic!("not modified"),
    };
    let messages = messages
        .into_iter()
        .map(|m| match m {
            enums::Message::Message(m) => *m,
            other => panic!("{other:?}"),
        })
        .collect();
    let users = users
        .iter()
        .map(|u| match u {
            enums::User::User(u) => u.id,
            enums::User::Empty(u) => u.id,
        })
        .collect();
    (messages, users)
}

fn user_peer(env: &Env, id: i64) -> enums::InputPeer {
    types::InputPeerUser {
        user_id: id,
        access_hash: env.world.store().user_hash(id),
    }
    .into()
}

#[test]
fn private_chat_ids_and_senders_are_checked() {
    let mut fixture = with_private_chats(demo());
    fixture.private_chats[0].messages[0].id = 100; // a basic group's id in Alice's box
    assert!(World::from_fixture(fixture).is_err());
    let mut fixture = with_private_chats(demo());
    fixture.private_chats[1].messages[0].id = 201; // used by Alice's chat with Carol
    assert!(World::from_fixture(fixture).is_err());
    let mut fixture = with_private_chats(demo());
    fixture.private_chats[0].messages[0].from = Some(1002); // Bob is not in this chat
    assert!(World::from_fixture(fixture).is_err());
    // The same ids in another user's box are fine.
    World::from_fixture(with_private_chats(demo())).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_chats_are_dialogs_with_history_search_and_ids_per_user() {
    tokio::time::timeout(TEST_TIME, async {
        let env = start(with_private_chats(demo())).await;
        let alice = Client::minted(&env, "15550001").await;
        let carol = user_peer(&env, 1003);

        // History: newest first, `out` on Alice's messages, from_id only on them.
        let (messages, users) =
            messages_and_users(alice.rpc(&history(&carol, 0, 0, 100)).await.unwrap());
        assert_eq!(
            messages.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![204, 203, 202, 201, 200]
        );
        for m in &messages {
            let mine = m.id % 2 == 1;
            assert_eq!(m.out, mine, "{m:?}");
            assert!(matches!(m.peer_id, enums::Peer::User(ref p) if p.user_id == 1003));
            match &m.from_id {
                Some(enums::Peer::User(p)) => assert!(mine && p.user_id == 1001),
                None => assert!(!mine),
                other => panic!("{other:?}"),
            }
        }
        assert!(users.contains(&1003) && users.contains(&1001), "{users:?}");
        // Paging as in any chat.
        let (page, _) = messages_and_users(alice.rpc(&history(&carol, 203, 0, 2)).await.unwrap());
        assert_eq!(page.iter().map(|m| m.id).collect::<Vec<_>>(), vec![202, 201]);
        let (page, _) = messages_and_users(alice.rpc(&history(&carol, 202, -2, 3)).await.unwrap());
        assert_eq!(page.iter().map(|m| m.id).collect::<Vec<_>>(), vec![203, 202, 201]);
        // A wrong access hash is refused; a user never talked to has an empty history.
        let forged: enums::InputPeer = types::InputPeerUser {
            user_id: 1003,
            access_hash: 1,
        }
        .into();
        assert_error(alice.rpc(&history(&forged, 0, 0, 10)).await, 400, "PEER_ID_INVALID");
        let (empty, _) =
            messages_and_users(alice.rpc(&history(&user_peer(&env, 1001), 0, 0, 10)).await.unwrap());
        assert!(empty.is_empty());

        // Search in the chat, by text and by sender.
        let (found, _) = messages_and_users(
            alice
                .rpc(&search(&carol, "chat 3", enums::MessagesFilter::InputMessagesFilterEmpty, 0))
                .await
                .unwrap(),
        );
        assert_eq!(found.iter().map(|m| m.id).collect::<Vec<_>>(), vec![203]);
        let mut by_carol = search(&carol, "", enums::MessagesFilter::InputMessagesFilterEmpty, 0);
        by_carol.from_id = Some(carol.clone());
        let (found, _) = messages_and_users(alice.rpc(&by_carol).await.unwrap());
        assert_eq!(found.iter().map(|m| m.id).collect::<Vec<_>>(), vec![204, 202, 200]);

        // Global search, users only: private chats alone.
        let (found, _) = messages_and_users(
            alice
                .rpc(&functions::messages::SearchGlobal {
                    broadcasts_only: false,
                    groups_only: false,
                    users_only: true,
                    folder_id: None,
                    community: None,
                    q: "hello".into(),
                    filter: enums::MessagesFilter::InputMessagesFilterEmpty,
                    min_date: 0,
                    max_date: 0,
                    offset_rate: 0,
                    offset_peer: enums::InputPeer::Empty,
                    offset_id: 0,
                    limit: 10,
                })
                .await
                .unwrap(),
        );
        assert_eq!(found.iter().map(|m| m.id).collect::<Vec<_>>(), vec![206, 205]);

        // getMessages looks in Alice's box: private chats and basic groups.
        let by_id = |ids: &[i32]| functions::messages::GetMessages {
            id: ids
                .iter()
                .map(|id| types::InputMessageID { id: *id }.into())
                .collect(),
        };
        let page = alice.rpc(&by_id(&[206, 100, 999])).await.unwrap();
        let list = match page {
            enums::messages::Messages::Messages(m) => m.messages,
            other => panic!("{other:?}"),
        };
        assert!(matches!(&list[0], enums::Message::Message(m)
            if m.id == 206 && !m.out && matches!(m.peer_id, enums::Peer::User(ref p) if p.user_id == 1002)));
        assert!(matches!(&list[1], enums::Message::Message(m)
            if m.id == 100 && matches!(m.peer_id, enums::Peer::Chat(_))));
        assert!(matches!(&list[2], enums::Message::Empty(m) if m.id == 999));

        // Dialogs: chats and private chats by top message, newest first; paging one at a
        // time with offset_date/offset_id/offset_peer visits each once, in the same order.
        let all = alice.rpc(&dialogs(0, 0, enums::InputPeer::Empty, 100)).await.unwrap();
        let enums::messages::Dialogs::Dialogs(all) = all else {
            panic!("expected every dialog at once: {all:?}")
        };
        let order: Vec<(enums::Peer, i32)> = all
            .dialogs
            .iter()
            .map(|d| match d {
                enums::Dialog::Dialog(d) => (d.peer.clone(), d.top_message),
                other => panic!("{other:?}"),
            })
            .collect();
        let expected = vec![
            (types::PeerUser { user_id: 1003 }.into(), 204),
            (types::PeerChat { chat_id: 503 }.into(), 101),
            (types::PeerUser { user_id: 1002 }.into(), 206),
            (types::PeerChannel { channel_id: 502 }.into(), 3),
            (types::PeerUser { user_id: 2001 }.into(), 207),
            (types::PeerChannel { channel_id: 501 }.into(), 5),
        ];
        assert_eq!(order, expected);
        let listed: BTreeSet<i64> = all
            .users
            .iter()
            .map(|u| match u {
                enums::User::User(u) => u.id,
                enums::User::Empty(u) => u.id,
            })
            .collect();
        assert!([1002, 1003, 2001].iter().all(|id| listed.contains(id)), "{listed:?}");
        let mut paged = Vec::new();
        let (mut date, mut id, mut peer) = (0, 0, enums::InputPeer::Empty);
        loop {
            let page = alice.rpc(&dialogs(date, id, peer.clone(), 1)).await.unwrap();
            let enums::messages::Dialogs::Slice(page) = page else {
                panic!("expected a slice: {page:?}")
            };
            assert_eq!(page.count, 6);
            let Some(enums::Dialog::Dialog(d)) = page.dialogs.first() else {
                break;
            };
            let top = page
                .messages
                .iter()
                .find_map(|m| match m {
                    enums::Message::Message(m) if m.id == d.top_message => Some(m.date),
                    _ => None,
                })
                .unwrap();
            paged.push((d.peer.clone(), d.top_message));
            (date, id) = (top, d.top_message);
            peer = match &d.peer {
                enums::Peer::User(u) => user_peer(&env, u.user_id),
                enums::Peer::Chat(c) => types::InputPeerChat { chat_id: c.chat_id }.into(),
                enums::Peer::Channel(c) => types::InputPeerChannel {
                    channel_id: c.channel_id,
                    access_hash: env.world.store().channel_hash(c.channel_id),
                }
                .into(),
            };
        }
        assert_eq!(paged, expected);

        // Bob sees the same conversation with his own ids, `out` the other way round.
        let bob = Client::minted(&env, "15550002").await;
        let (messages, _) =
            messages_and_users(bob.rpc(&history(&user_peer(&env, 1001), 0, 0, 10)).await.unwrap());
        let seen: Vec<(i32, bool, &str)> = messages
            .iter()
            .map(|m| (m.id, m.out, m.message.as_str()))
            .collect();
        assert_eq!(seen, vec![(2, true, "hello Alice"), (1, false, "hello Bob")]);
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

fn dialogs(
    offset_date: i32,
    offset_id: i32,
    offset_peer: enums::InputPeer,
    limit: i32,
) -> functions::messages::GetDialogs {
    functions::messages::GetDialogs {
        exclude_pinned: false,
        folder_id: None,
        offset_date,
        offset_id,
        offset_peer,
        limit,
        hash: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_migrate_comes_before_phone_and_user_migrate() {
    tokio::time::timeout(TEST_TIME, async {
        let mut fixture = demo();
        fixture.network_dc = Some(3);
        let env = start(fixture).await;
        let bot = |token: &str| functions::auth::ImportBotAuthorization {
            flags: 0,
            api_id: 4,
            api_hash: "x".into(),
            bot_auth_token: token.into(),
        };
        let dc1 = Client::connect(&env, 1, None).await;
        // Alice lives on DC 2: DC 1 sends her to the network's DC 3, which sends her home.
        assert_error(
            dc1.rpc(&send_code("15550001")).await,
            303,
            "NETWORK_MIGRATE_3",
        );
        assert_error(
            dc1.rpc(&send_code("15559999")).await,
            303,
            "NETWORK_MIGRATE_3",
        );
        assert_error(dc1.rpc(&export_token()).await, 303, "NETWORK_MIGRATE_3");
        assert_error(
            dc1.rpc(&bot("2001:demo-token")).await,
            303,
            "NETWORK_MIGRATE_3",
        );
        let dc3 = Client::connect(&env, 3, None).await;
        assert_error(
            dc3.rpc(&send_code("15550001")).await,
            303,
            "PHONE_MIGRATE_2",
        );
        // A number with no account is served by the network's DC.
        code_hash(&dc3, "15559999").await;
        assert_error(
            dc3.rpc(&bot("2001:demo-token")).await,
            303,
            "USER_MIGRATE_2",
        );
        assert!(matches!(
            dc3.rpc(&export_token()).await.unwrap(),
            enums::auth::LoginToken::LoginToken(_)
        ));
        // The home DC serves its accounts whatever the network.
        let dc2 = Client::connect(&env, 2, None).await;
        assert_error(
            dc2.rpc(&send_code("15550002")).await,
            303,
            "NETWORK_MIGRATE_3",
        );
        let hash = code_hash(&dc2, "15550001").await;
        let auth = dc2.rpc(&sign_in("15550001", &hash, "12345")).await.unwrap();
        assert_eq!(authorized_user(&auth), 1001);
        let dc4 = Client::connect(&env, 4, None).await;
        code_hash(&dc4, "15550002").await;
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}

/// Waits for `updateShort{updateLoginToken}` on a client's updates channel (the test's
/// time limit bounds the wait).
async fn login_token_update(client: &mut Client) {
    loop {
        let body = client.updates.recv().await.expect("updates channel closed");
        if let Ok(enums::Updates::UpdateShort(short)) = enums::Updates::from_bytes(&body)
            && matches!(short.update, enums::Update::LoginToken)
        {
            assert!(short.date > 0);
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_login_token_pushes_update_login_token() {
    tokio::time::timeout(TEST_TIME, async {
        let env = start(demo()).await;
        let alice = Client::minted(&env, "15550001").await;
        let mut fresh = Client::connect(&env, 2, None).await;
        let enums::auth::LoginToken::LoginToken(token) = fresh.rpc(&export_token()).await.unwrap()
        else {
            panic!("expected a token")
        };
        // Nothing is pushed before acceptance: an update would come ahead of the answer of
        // a later call on the same connection.
        fresh.rpc(&functions::help::GetNearestDc {}).await.unwrap();
        assert!(
            fresh.updates.try_recv().is_err(),
            "an update came before acceptance"
        );
        alice
            .rpc(&functions::auth::AcceptLoginToken { token: token.token })
            .await
            .unwrap();
        login_token_update(&mut fresh).await;
        assert!(matches!(
            fresh.rpc(&export_token()).await.unwrap(),
            enums::auth::LoginToken::Success(_)
        ));

        // Through the control interface.
        let mut other = Client::connect(&env, 2, None).await;
        let enums::auth::LoginToken::LoginToken(token) = other.rpc(&export_token()).await.unwrap()
        else {
            panic!()
        };
        assert!(env.world.approve_login_token(&token.token, 1001));
        login_token_update(&mut other).await;
        env.server.shutdown().await;

        // And through the fixture's auto-accept rule.
        let mut fixture = demo();
        fixture.qr_auto_accept = Some(1001);
        let env = start(fixture).await;
        let mut auto = Client::connect(&env, 2, None).await;
        auto.rpc(&export_token()).await.unwrap();
        login_token_update(&mut auto).await;
        assert!(matches!(
            auto.rpc(&export_token()).await.unwrap(),
            enums::auth::LoginToken::Success(_)
        ));
        env.server.shutdown().await;
    })
    .await
    .expect("test timed out");
}
