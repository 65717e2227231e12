//! What the tgclient test binaries share: localdc serving a world, clients configured exactly
//! as for Telegram with localdc's addresses and key as the server, a generated world with a
//! logged-in client, and the `@files` channel of the download tests.

// The test files that declared this module allowed these at their root.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use localdc::world::generate;
use localdc::world::{Fixture, World};
use localdc::{Config, Registry, RunningServer, Server};
use mtcrypto::RsaPublicKey;
use tgclient::download::{DownloadJob, MessageSource};
use tgclient::media::MediaFile;
use tgclient::{Client, ClientConfig, DcAddress, ServerConfig, SessionStore};
use tl_types::api::enums;

/// localdc started with `config`, serving `world`: the default registry with the world's
/// handlers, adjusted by `customize`.
pub async fn serve(
    config: Config,
    world: &Arc<World>,
    customize: impl FnOnce(&mut Registry),
) -> RunningServer {
    let mut registry = Registry::with_defaults();
    localdc::world::register(&mut registry, Arc::clone(world));
    customize(&mut registry);
    Server::start_with(config, registry).await.unwrap()
}

/// `server` as a client sees it: its five DCs and its RSA key.
pub fn server_config(server: &RunningServer) -> ServerConfig {
    let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
    let dcs = (1..=5)
        .map(|id| {
            let addr = server.addr(id).unwrap();
            DcAddress::new(id, addr.ip(), addr.port())
        })
        .collect();
    ServerConfig::custom(dcs, vec![key])
}

/// A client's configuration for `server`, waiting up to 30 s for each answer.
pub fn client_config(server: ServerConfig) -> ClientConfig {
    let mut config = ClientConfig::new(4, "0123456789abcdef").with_server(server);
    config.request_timeout = Duration::from_secs(30);
    config
}

/// A client of `server` on the session file `session`.
pub fn open_client(session: &Path, server: ServerConfig) -> Client {
    Client::new(client_config(server), SessionStore::open(session).unwrap()).unwrap()
}

/// Whether `client`'s session holds an authorized key for DC `dc`.
pub fn authorized_on(client: &Client, dc: i32) -> bool {
    client
        .with_store(|s| s.dc_auth(dc))
        .unwrap()
        .unwrap()
        .authorized
}

/// A server over a generated world and a client logged in as its first account.
pub struct Env {
    pub server: RunningServer,
    pub fixture: Fixture,
    pub client: Client,
    _dir: tempfile::TempDir,
}

/// A server over the generated `fixture`, its registry adjusted by `customize`, and a client
/// logged in as the first generated account.
pub async fn start_logged_in(fixture: Fixture, customize: impl FnOnce(&mut Registry)) -> Env {
    let world = Arc::new(World::from_fixture(fixture.clone()).unwrap());
    let server = serve(Config::default(), &world, customize).await;
    let dir = tempfile::tempdir().unwrap();
    let client = open_client(&dir.path().join("s.session"), server_config(&server));
    let (phone, user_id, code, _) = generate::ACCOUNTS[0];
    let request = client.request_login_code(phone).await.unwrap();
    assert_eq!(client.sign_in(&request, code).await.unwrap().id, user_id);
    Env {
        server,
        fixture,
        client,
        _dir: dir,
    }
}

impl Env {
    pub async fn finish(self) {
        self.client.close().await.unwrap();
        self.server.shutdown().await;
    }
}

/// A document for a fixture message: `size` bytes named `name` on DC `dc`, behind the CDN
/// if `cdn`.
pub fn document(id: i64, dc: i32, size: u64, name: &str, cdn: bool) -> serde_json::Value {
    serde_json::json!({ "type": "document", "id": id, "dc": dc, "size": size,
        "mime_type": "application/octet-stream", "cdn": cdn,
        "attributes": [ { "type": "file_name", "file_name": name } ] })
}

/// A world of one user, Alice (home DC 2), and her public channel `@files` (id `channel`)
/// holding `messages`.
pub fn files_channel(seed: u64, channel: i64, messages: &serde_json::Value) -> Fixture {
    let json = serde_json::json!({
        "seed": seed,
        "users": [ { "id": 1001, "first_name": "Alice", "username": "alice", "phone": "15550001" } ],
        "accounts": [ { "phone": "15550001", "user_id": 1001, "code": "12345", "home_dc": 2 } ],
        "chats": [ { "id": channel, "kind": "channel", "title": "Files", "username": "files",
                     "creator": 1001, "members": [1001], "date": 1_700_000_000,
                     "messages": messages } ]
    });
    Fixture::from_json(&json.to_string()).unwrap()
}

/// Logs `client` in as Alice of [`files_channel`]; her channel.
pub async fn open_files_channel(client: &Client) -> enums::InputPeer {
    let request = client.request_login_code("15550001").await.unwrap();
    client.sign_in(&request, "12345").await.unwrap();
    client.resolve_str("@files").await.unwrap().peer
}

/// The download of message `msg_id`'s `media` in `peer` to `path`.
pub fn download_job(
    peer: &enums::InputPeer,
    msg_id: i32,
    media: MediaFile,
    path: PathBuf,
) -> DownloadJob {
    DownloadJob {
        key: path.display().to_string(),
        media,
        path,
        source: Some(MessageSource {
            peer: peer.clone(),
            msg_id,
        }),
    }
}

pub fn file_sha256(path: &Path) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap()).into()
}
