//! Downloads from localdc over real sockets, as a client makes them: `upload.getFile` with
//! Telegram's offset/limit rules, `FILE_MIGRATE_X` and authorization transfer, file
//! references that expire, `upload.getFileHashes`, CDN redirects with encrypted parts,
//! corrupted chunks and reuploads, offsets past 4 GiB, empty files, flood limits, deleted
//! messages, and the served-bytes accounting.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use localdc::world::fixture::{
    AttributeSpec, DocumentSpec, FloodRule, MediaSpec, MessageSpec, SizeSpec,
};
use localdc::world::{FileKey, Fixture, World, media, mint_session};
use localdc::{Config, Registry, RpcError, RunningServer, Server};
use mtcrypto::{AesCtr, AuthKey, RsaPrivateKey, RsaPublicKey};
use mtnet::{AuthState, Endpoint, InvokeError, Sender, SenderConfig};
use sha2::{Digest, Sha256};
use tl_types::api::{enums, functions, types};
use tl_types::{RemoteCall, Serialize};

use crate::common;

const TEST_TIME: Duration = Duration::from_mins(3);
const MIB: u64 = 1 << 20;
const CDN_DC: i32 = 203;
const CHANNEL: i64 = 501;
/// Extra media added to the demo fixture's channel.
const CDN_DOC: i64 = 79_001;
const CDN_DOC_SIZE: u64 = 3 * MIB + 12_345;
const HUGE_DOC: i64 = 79_002;
const HUGE_DOC_SIZE: u64 = (5 << 30) + 4097;
const EMPTY_DOC: i64 = 79_003;
/// From the demo fixture: a 2.5 MB PDF on DC 2 (message 5), a 10 MiB video with a thumb
/// on DC 4 (message 4), and a photo on DC 2 (message 2).
const PDF: i64 = 78_002;
const VIDEO: i64 = 78_001;
const PHOTO: i64 = 77_001;

/// RSA keys are made once for every test of this file.
fn keys() -> (Arc<RsaPrivateKey>, Arc<RsaPrivateKey>) {
    static KEYS: OnceLock<(Arc<RsaPrivateKey>, Arc<RsaPrivateKey>)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::rngs::OsRng;
        (
            Arc::new(RsaPrivateKey::generate(&mut rng).unwrap()),
            Arc::new(RsaPrivateKey::generate(&mut rng).unwrap()),
        )
    })
    .clone()
}

struct Env {
    server: RunningServer,
    key: RsaPublicKey,
    world: Arc<World>,
}

fn document(id: i64, size: u64, cdn: bool) -> MediaSpec {
    MediaSpec::Document(DocumentSpec {
        id,
        dc: 2,
        size,
        mime_type: "application/octet-stream".into(),
        attributes: vec![AttributeSpec::FileName {
            file_name: format!("{id}.bin"),
        }],
        thumbs: Vec::<SizeSpec>::new(),
        cdn,
    })
}

fn fixture() -> Fixture {
    let mut fixture = Fixture::from_json(include_str!("../../fixtures/demo.json")).unwrap();
    let channel = fixture.chats.iter_mut().find(|c| c.id == CHANNEL).unwrap();
    for (msg, media) in [
        (10, document(CDN_DOC, CDN_DOC_SIZE, true)),
        (11, document(HUGE_DOC, HUGE_DOC_SIZE, false)),
        (12, document(EMPTY_DOC, 0, false)),
    ] {
        channel.messages.push(MessageSpec {
            id: msg,
            date: 1_700_000_500 + msg,
            media: Some(media),
            ..MessageSpec::default()
        });
    }
    fixture
}

async fn start(fixture: Fixture) -> Env {
    let world = Arc::new(World::from_fixture(fixture).unwrap());
    let mut registry = Registry::with_defaults();
    localdc::world::register(&mut registry, Arc::clone(&world));
    let (main_key, cdn_key) = keys();
    let config = Config {
        rsa_key: Some(main_key),
        cdn_dcs: vec![CDN_DC],
        cdn_rsa_key: Some(cdn_key),
        ..Config::default()
    };
    let server = Server::start_with(config, registry).await.unwrap();
    let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
    Env { server, key, world }
}

struct Client {
    sender: Sender,
    _updates: tokio::sync::mpsc::Receiver<Vec<u8>>,
}

impl Client {
    async fn connect_with(env: &Env, dc: i32, key: RsaPublicKey, auth: Option<AuthState>) -> Self {
        let endpoint = Endpoint::new(env.server.addr(dc).unwrap(), dc as i16);
        let mut config = SenderConfig::new(vec![endpoint], dc, vec![key]);
        config.request_timeout = Duration::from_mins(1);
        let (sender, updates) = Sender::start(config, auth).await.unwrap();
        let init = common::with_init(functions::help::GetNearestDc {}.to_bytes());
        sender
            .invoke_raw(init, Duration::from_secs(30))
            .await
            .unwrap();
        Self {
            sender,
            _updates: updates,
        }
    }

    async fn connect(env: &Env, dc: i32) -> Self {
        Self::connect_with(env, dc, env.key.clone(), None).await
    }

    /// Alice, logged in on her home DC 2.
    async fn alice(env: &Env) -> Self {
        let minted = mint_session(&env.server, &env.world, "15550001", None).unwrap();
        let auth = AuthState {
            auth_key: AuthKey::from_bytes(minted.auth_key),
            salt: minted.salt,
            time_offset: 0,
        };
        Self::connect_with(env, minted.dc, env.key.clone(), Some(auth)).await
    }

    async fn rpc<R: RemoteCall>(&self, request: &R) -> Result<R::Return, RpcError> {
        match self.sender.invoke(request).await {
            Ok(value) => Ok(value),
            Err(InvokeError::Rpc(error)) => Err(error),
            Err(other) => panic!("transport failure: {other}"),
        }
    }

    async fn get_file(
        &self,
        location: &enums::InputFileLocation,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<u8>, RpcError> {
        self.get_file_with(location, offset, limit, false).await
    }

    async fn get_file_with(
        &self,
        location: &enums::InputFileLocation,
        offset: u64,
        limit: u64,
        precise: bool,
    ) -> Result<Vec<u8>, RpcError> {
        match self
            .rpc(&get_file(location, offset, limit, precise, false))
            .await?
        {
            enums::upload::File::File(file) => Ok(file.bytes),
            other @ enums::upload::File::CdnRedirect(_) => {
                panic!("expected upload.file, got {other:?}")
            }
        }
    }

    /// A whole file in `part`-sized requests.
    async fn download(&self, location: &enums::InputFileLocation, part: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let bytes = self
                .get_file(location, out.len() as u64, part)
                .await
                .unwrap();
            let done = (bytes.len() as u64) < part;
            out.extend_from_slice(&bytes);
            if done {
                return out;
            }
        }
    }

    /// Message `id` of the demo channel, read again.
    async fn message(&self, env: &Env, id: i32) -> enums::Message {
        let answer = self
            .rpc(&functions::channels::GetMessages {
                channel: types::InputChannel {
                    channel_id: CHANNEL,
                    access_hash: env.world.store().channel_hash(CHANNEL),
                }
                .into(),
                id: vec![types::InputMessageID { id }.into()],
            })
            .await
            .unwrap();
        let enums::messages::Messages::ChannelMessages(messages) = answer else {
            panic!("{answer:?}");
        };
        messages.messages.into_iter().next().unwrap()
    }

    /// The location of message `id`'s media (see [`location`]), read again.
    async fn location(&self, env: &Env, id: i32, thumb: &str) -> enums::InputFileLocation {
        location(&self.message(env, id).await, thumb)
    }

    /// `upload.getFileHashes` from `offset`.
    async fn file_hashes(
        &self,
        location: &enums::InputFileLocation,
        offset: i64,
    ) -> Result<Vec<types::FileHash>, RpcError> {
        self.rpc(&functions::upload::GetFileHashes {
            location: location.clone(),
            offset,
        })
        .await
        .map(hashes)
    }
}

fn get_file(
    location: &enums::InputFileLocation,
    offset: u64,
    limit: u64,
    precise: bool,
    cdn_supported: bool,
) -> functions::upload::GetFile {
    functions::upload::GetFile {
        precise,
        cdn_supported,
        location: location.clone(),
        offset: offset as i64,
        limit: limit as i32,
    }
}

fn assert_error<T: std::fmt::Debug>(result: Result<T, RpcError>, code: i32, message: &str) {
    let error = result.expect_err(message);
    assert_eq!((error.code, error.message.as_str()), (code, message));
}

/// The location of a message's document (thumb "" for the file itself) or photo size.
pub(crate) fn location(message: &enums::Message, thumb: &str) -> enums::InputFileLocation {
    let enums::Message::Message(message) = message else {
        panic!("{message:?}");
    };
    match message.media.as_ref().unwrap() {
        enums::MessageMedia::Document(media) => {
            let Some(enums::Document::Document(doc)) = &media.document else {
                panic!("{media:?}");
            };
            types::InputDocumentFileLocation {
                id: doc.id,
                access_hash: doc.access_hash,
                file_reference: doc.file_reference.clone(),
                thumb_size: thumb.into(),
            }
            .into()
        }
        enums::MessageMedia::Photo(media) => {
            let Some(enums::Photo::Photo(photo)) = &media.photo else {
                panic!("{media:?}");
            };
            types::InputPhotoFileLocation {
                id: photo.id,
                access_hash: photo.access_hash,
                file_reference: photo.file_reference.clone(),
                thumb_size: thumb.into(),
            }
            .into()
        }
        other => panic!("{other:?}"),
    }
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn hashes(answer: Vec<enums::FileHash>) -> Vec<types::FileHash> {
    answer
        .into_iter()
        .map(|h| {
            let enums::FileHash::FileHash(h) = h;
            *h
        })
        .collect()
}

async fn timed(test: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(TEST_TIME, test)
        .await
        .expect("test timed out");
}

/// Runs `test` with Alice's client against a new server over `fixture`, then shuts the
/// server down.
async fn as_alice(fixture: Fixture, test: impl AsyncFnOnce(&Env, &Client)) {
    let env = start(fixture).await;
    let alice = Client::alice(&env).await;
    test(&env, &alice).await;
    env.server.shutdown().await;
}

/// [`as_alice`] over [`fixture`], within [`TEST_TIME`].
async fn with_alice(test: impl AsyncFnOnce(&Env, &Client)) {
    timed(as_alice(fixture(), test)).await;
}

/// A 420 error `{prefix}{seconds}` asking to wait 1 to `max` seconds.
fn assert_flood_wait<T: std::fmt::Debug>(result: Result<T, RpcError>, prefix: &str, max: u32) {
    let error = result.unwrap_err();
    assert_eq!(error.code, 420);
    let wait: u32 = error.message.strip_prefix(prefix).unwrap().parse().unwrap();
    assert!((1..=max).contains(&wait), "{wait}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_files_download_byte_exact_and_are_counted() {
    with_alice(async |env, alice| {
        let pdf = alice.location(env, 5, "").await;
        let data = alice.download(&pdf, 512 << 10).await;
        let key = FileKey::document(PDF);
        assert_eq!(data.len(), 2_500_000);
        assert_eq!(sha256(&data), env.world.file_sha256(&key).unwrap());
        // A photo size, with its JPEG type.
        let photo = alice.location(env, 2, "x").await;
        let answer = alice
            .rpc(&get_file(&photo, 0, MIB, false, false))
            .await
            .unwrap();
        let enums::upload::File::File(file) = answer else {
            panic!("{answer:?}")
        };
        assert_eq!(file.r#type, enums::storage::FileType::FileJpeg);
        let photo_key = FileKey::sized(PHOTO, "x");
        assert_eq!(file.bytes.len(), 310_000);
        assert_eq!(
            sha256(&file.bytes),
            env.world.file_sha256(&photo_key).unwrap()
        );

        // Accounting: every byte once, the ranges contiguous, the empty read at the end too.
        assert_eq!(env.world.served_bytes(&key), 2_500_000);
        assert_eq!(env.world.served_bytes(&photo_key), 310_000);
        assert_eq!(env.world.served_total(), 2_810_000);
        let log: Vec<_> = env
            .world
            .served_log()
            .into_iter()
            .filter(|r| r.key == key)
            .collect();
        assert_eq!(log.len(), 5);
        let mut next = 0;
        for range in &log {
            assert_eq!((range.offset, range.dc, range.cdn), (next, 2, false));
            next += range.len;
        }
        assert_eq!(next, 2_500_000);
        env.world.reset_served();
        assert_eq!(env.world.served_total(), 0);
        assert!(env.world.served_log().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_and_limit_follow_telegrams_rules() {
    with_alice(async |env, alice| {
        let pdf = alice.location(env, 5, "").await;
        let key = FileKey::document(PDF);
        let expect = |offset: u64, len: usize| media::bytes(7, &key, offset, len);
        // Valid: every power-of-two limit from 4 KiB to 1 MiB, at aligned offsets.
        for limit in [
            4 << 10,
            8 << 10,
            64 << 10,
            128 << 10,
            256 << 10,
            512 << 10,
            MIB,
        ] {
            let bytes = alice.get_file(&pdf, MIB, limit).await.unwrap();
            assert_eq!(bytes, expect(MIB, limit as usize), "limit {limit}");
        }
        let bytes = alice.get_file(&pdf, 12 << 10, 4096).await.unwrap();
        assert_eq!(bytes, expect(12 << 10, 4096));
        for (offset, limit, precise, error) in [
            // Offsets: 4 KiB aligned.
            (1024, 4096, false, "OFFSET_INVALID"),
            // Limits: 4 KiB multiples dividing 1 MiB, positive, at most 1 MiB.
            (0, 1000, false, "LIMIT_INVALID"),
            (0, 12 << 10, false, "LIMIT_INVALID"),
            (0, 0, false, "LIMIT_INVALID"),
            (0, 2 * MIB, false, "LIMIT_INVALID"),
            // No part crosses a 1 MiB boundary.
            (MIB - 4096, 8192, false, "LIMIT_INVALID"),
            // precise: 1 KiB units and any limit up to 1 MiB, still inside one fragment.
            (512, 1024, true, "OFFSET_INVALID"),
            (0, 1536, true, "LIMIT_INVALID"),
            (0, MIB + 1024, true, "LIMIT_INVALID"),
            (MIB - 1024, 2048, true, "LIMIT_INVALID"),
        ] {
            let result = alice.get_file_with(&pdf, offset, limit, precise).await;
            assert_error(result, 400, error);
        }
        // Offsets are not negative.
        assert_error(
            alice
                .rpc(&functions::upload::GetFile {
                    offset: -4096,
                    ..get_file(&pdf, 0, 4096, false, false)
                })
                .await,
            400,
            "OFFSET_INVALID",
        );
        let bytes = alice
            .get_file_with(&pdf, 3 << 10, 5 << 10, true)
            .await
            .unwrap();
        assert_eq!(bytes, expect(3 << 10, 5 << 10));
        // Past the end: what is left, then nothing.
        let last = 2_500_000 - 2_500_000 % (64 << 10);
        let tail = alice.get_file(&pdf, last, 64 << 10).await.unwrap();
        assert_eq!(tail, expect(last, (2_500_000 - last) as usize));
        assert!(alice.get_file(&pdf, 3 * MIB, MIB).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_on_other_dcs_migrate_and_download_after_import() {
    with_alice(async |env, alice| {
        let message = alice.message(env, 4).await;
        let video = location(&message, "");
        assert_error(alice.get_file(&video, 0, MIB).await, 303, "FILE_MIGRATE_4");
        let dc4 = Client::connect(env, 4).await;
        assert_error(
            dc4.get_file(&video, 0, MIB).await,
            401,
            "AUTH_KEY_UNREGISTERED",
        );
        let enums::auth::ExportedAuthorization::ExportedAuthorization(exported) = alice
            .rpc(&functions::auth::ExportAuthorization { dc_id: 4 })
            .await
            .unwrap();
        dc4.rpc(&functions::auth::ImportAuthorization {
            id: exported.id,
            bytes: exported.bytes,
        })
        .await
        .unwrap();
        let data = dc4.download(&video, MIB).await;
        assert_eq!(data.len() as u64, 10 * MIB);
        let key = FileKey::document(VIDEO);
        assert_eq!(sha256(&data), env.world.file_sha256(&key).unwrap());
        assert!(
            env.world
                .served_log()
                .iter()
                .all(|r| r.key != key || r.dc == 4)
        );
        // Its thumbnail lives there too.
        let thumb = dc4
            .get_file(&location(&message, "m"), 0, MIB)
            .await
            .unwrap();
        assert_eq!(thumb, media::bytes(7, &FileKey::sized(VIDEO, "m"), 0, 9000));
        // And a DC 2 file from DC 4 migrates back.
        let pdf = alice.location(env, 5, "").await;
        assert_error(dc4.get_file(&pdf, 0, MIB).await, 303, "FILE_MIGRATE_2");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_expire_and_are_refreshed_by_reading_the_message_again() {
    timed(async {
        as_alice(fixture(), async |env, alice| {
            let old = alice.location(env, 5, "").await;
            alice.get_file(&old, 0, 4096).await.unwrap();
            env.world.rotate_file_references();
            assert_error(
                alice.get_file(&old, 0, 4096).await,
                400,
                "FILE_REFERENCE_EXPIRED",
            );
            let fresh = alice.location(env, 5, "").await;
            assert_ne!(fresh, old);
            alice.get_file(&fresh, 0, 4096).await.unwrap();
            // One media only: the others keep theirs.
            let photo = alice.location(env, 2, "m").await;
            env.world.rotate_file_reference(PDF);
            assert_error(
                alice.get_file(&fresh, 0, 4096).await,
                400,
                "FILE_REFERENCE_EXPIRED",
            );
            alice.get_file(&photo, 0, 4096).await.unwrap();

            // Not ours at all; wrong hash; wrong kind; unknown size; unsupported location.
            let types_of = |loc: &enums::InputFileLocation| {
                let enums::InputFileLocation::InputDocumentFileLocation(l) = loc else {
                    panic!()
                };
                (**l).clone()
            };
            let doc = types_of(&alice.location(env, 5, "").await);
            let forged = types::InputDocumentFileLocation {
                file_reference: vec![1, 2, 3],
                ..doc.clone()
            };
            let wrong_hash = types::InputDocumentFileLocation {
                access_hash: doc.access_hash ^ 1,
                ..doc.clone()
            };
            let as_photo = types::InputPhotoFileLocation {
                id: doc.id,
                access_hash: doc.access_hash,
                file_reference: doc.file_reference.clone(),
                thumb_size: "m".into(),
            };
            let no_thumb = types::InputDocumentFileLocation {
                thumb_size: "w".into(),
                ..doc
            };
            for (location, error) in [
                (
                    enums::InputFileLocation::from(forged),
                    "FILE_REFERENCE_INVALID",
                ),
                (wrong_hash.into(), "FILE_ID_INVALID"),
                (as_photo.into(), "FILE_ID_INVALID"),
                (no_thumb.into(), "LOCATION_INVALID"),
                (
                    enums::InputFileLocation::InputTakeoutFileLocation,
                    "LOCATION_INVALID",
                ),
            ] {
                assert_error(alice.get_file(&location, 0, 4096).await, 400, error);
            }
        })
        .await;

        // With a TTL, references age out by themselves.
        let mut short = fixture();
        short.file_reference_ttl_secs = Some(1);
        as_alice(short, async |env, alice| {
            let old = alice.location(env, 5, "").await;
            // Served until the next whole second of the server's clock, then expired (the
            // periods are tested with explicit seconds in `world::live`).
            let mut looks = 0;
            while alice.get_file(&old, 0, 4096).await.is_ok() {
                looks += 1;
                assert!(looks < 100, "the reference never expired");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert_error(
                alice.get_file(&old, 0, 4096).await,
                400,
                "FILE_REFERENCE_EXPIRED",
            );
            let fresh = alice.location(env, 5, "").await;
            alice.get_file(&fresh, 0, 4096).await.unwrap();
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_hashes_cover_128_kib_chunks_eight_at_a_time() {
    with_alice(async |env, alice| {
        let pdf = alice.location(env, 5, "").await;
        let data = alice.download(&pdf, MIB).await;
        let mut covered = 0u64;
        while covered < data.len() as u64 {
            let answer = alice.file_hashes(&pdf, covered as i64).await.unwrap();
            assert!(!answer.is_empty() && answer.len() <= 8);
            for hash in answer {
                assert_eq!(hash.offset as u64, covered);
                let end = (covered + hash.limit as u64).min(data.len() as u64);
                assert!(hash.limit as u64 == 128 << 10 || end == data.len() as u64);
                assert_eq!(
                    hash.hash,
                    sha256(&data[covered as usize..end as usize]).to_vec()
                );
                covered = end;
            }
        }
        // A mid-chunk offset starts at its chunk; the end has none.
        let mid = alice.file_hashes(&pdf, (128 << 10) + 5).await.unwrap();
        assert_eq!(mid[0].offset, 128 << 10);
        assert_eq!(mid.len(), 8);
        let end = alice.file_hashes(&pdf, 2_500_000).await.unwrap();
        assert!(end.is_empty());
        assert_error(alice.file_hashes(&pdf, -1).await, 400, "OFFSET_INVALID");
    })
    .await;
}

/// `upload.getCdnFile` for part `offset..offset + limit` of `redirect`'s file.
fn get_cdn_file(
    redirect: &types::upload::FileCdnRedirect,
    offset: u64,
    limit: u64,
) -> functions::upload::GetCdnFile {
    functions::upload::GetCdnFile {
        file_token: redirect.file_token.clone(),
        offset: offset as i64,
        limit: limit as i32,
    }
}

/// Part `offset..offset + limit` of `redirect`'s file from the CDN, decrypted.
async fn cdn_part(
    cdn: &Client,
    redirect: &types::upload::FileCdnRedirect,
    offset: u64,
    limit: u64,
) -> Vec<u8> {
    let answer = cdn
        .rpc(&get_cdn_file(redirect, offset, limit))
        .await
        .unwrap();
    let enums::upload::CdnFile::CdnFile(part) = answer else {
        panic!("{answer:?}")
    };
    let mut part = part.bytes;
    decrypt_cdn_part(
        &redirect.encryption_key,
        &redirect.encryption_iv,
        offset,
        &mut part,
    );
    part
}

fn decrypt_cdn_part(key: &[u8], iv: &[u8], offset: u64, part: &mut [u8]) {
    // core.telegram.org/cdn: the iv's last 4 bytes become offset / 16, big-endian.
    let mut iv: [u8; 16] = iv.try_into().unwrap();
    iv[12..].copy_from_slice(&((offset / 16) as u32).to_be_bytes());
    AesCtr::new(key.try_into().unwrap(), &iv).apply(part);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdn_redirects_encrypted_parts_hashes_corruption_and_reupload() {
    with_alice(async |env, alice| {
        let doc = alice.location(env, 10, "").await;
        // Without cdn_supported the main DC serves it itself.
        let direct = alice.get_file(&doc, 0, MIB).await.unwrap();
        let key = FileKey::document(CDN_DOC);
        assert_eq!(direct, media::bytes(7, &key, 0, MIB as usize));
        let answer = alice
            .rpc(&get_file(&doc, 0, MIB, false, true))
            .await
            .unwrap();
        let enums::upload::File::CdnRedirect(redirect) = answer else {
            panic!("{answer:?}")
        };
        assert_eq!(redirect.dc_id, CDN_DC);
        assert_eq!(
            (redirect.encryption_key.len(), redirect.encryption_iv.len()),
            (32, 16)
        );
        assert_eq!(redirect.file_hashes.len(), 8);

        // The CDN DC: listed with the cdn flag, its own RSA key from help.getCdnConfig.
        let enums::Config::Config(config) =
            alice.rpc(&functions::help::GetConfig {}).await.unwrap();
        let option = config
            .dc_options
            .iter()
            .map(|o| {
                let enums::DcOption::DcOption(o) = o;
                o
            })
            .find(|o| o.id == CDN_DC)
            .unwrap();
        assert!(option.cdn);
        assert_eq!(
            option.port,
            i32::from(env.server.addr(CDN_DC).unwrap().port())
        );
        let enums::CdnConfig::CdnConfig(cdn_config) =
            alice.rpc(&functions::help::GetCdnConfig {}).await.unwrap();
        let enums::CdnPublicKey::CdnPublicKey(cdn_key) = &cdn_config.public_keys[0];
        assert_eq!(cdn_key.dc_id, CDN_DC);
        let cdn_rsa = RsaPublicKey::from_pem(&cdn_key.public_key).unwrap();
        assert_ne!(cdn_rsa.fingerprint(), env.key.fingerprint());
        // No login on the CDN: a fresh key is enough.
        let cdn = Client::connect_with(env, CDN_DC, cdn_rsa, None).await;
        let get_cdn = |offset: u64, limit: u64| get_cdn_file(&redirect, offset, limit);
        let reupload = |request_token: Vec<u8>| functions::upload::ReuploadCdnFile {
            file_token: redirect.file_token.clone(),
            request_token,
        };

        let mut hashes_known = hashes(redirect.file_hashes.clone());
        let mut data = Vec::new();
        env.world.corrupt_cdn_chunk_once(CDN_DOC, MIB + 200_000);
        let mut refetched = 0;
        while (data.len() as u64) < CDN_DOC_SIZE {
            let offset = data.len() as u64;
            let part = cdn_part(&cdn, &redirect, offset, MIB).await;
            if !hashes_known.iter().any(|h| h.offset as u64 == offset) {
                hashes_known.extend(hashes(
                    alice
                        .rpc(&functions::upload::GetCdnFileHashes {
                            file_token: redirect.file_token.clone(),
                            offset: offset as i64,
                        })
                        .await
                        .unwrap(),
                ));
            }
            let bad = hashes_known.iter().any(|h| {
                let start = h.offset as u64;
                start >= offset && start < offset + part.len() as u64 && {
                    let from = (start - offset) as usize;
                    let to = (from + h.limit as usize).min(part.len());
                    h.hash != sha256(&part[from..to]).to_vec()
                }
            });
            if bad {
                refetched += 1;
                continue;
            }
            data.extend_from_slice(&part);
        }
        assert_eq!(
            refetched, 1,
            "the corrupted chunk is caught once, then served right"
        );
        assert_eq!(sha256(&data), env.world.file_sha256(&key).unwrap());
        assert!(
            env.world
                .served_log()
                .iter()
                .any(|r| r.cdn && r.dc == CDN_DC && r.offset == MIB)
        );

        // The CDN loses the file: reupload through the file's DC, then it serves again.
        env.world.set_cdn_missing(CDN_DOC, true);
        let answer = cdn.rpc(&get_cdn(0, MIB)).await.unwrap();
        let enums::upload::CdnFile::ReuploadNeeded(needed) = answer else {
            panic!("{answer:?}")
        };
        assert_error(
            alice.rpc(&reupload(vec![9; 8])).await,
            400,
            "REQUEST_TOKEN_INVALID",
        );
        let rehashed = hashes(
            alice
                .rpc(&reupload(needed.request_token.clone()))
                .await
                .unwrap(),
        );
        assert_eq!(rehashed[0].offset, 0);
        let part = cdn_part(&cdn, &redirect, 0, 4096).await;
        assert_eq!(part, media::bytes(7, &key, 0, 4096));
        // The token is good once.
        assert_error(
            alice.rpc(&reupload(needed.request_token)).await,
            400,
            "REQUEST_TOKEN_INVALID",
        );

        // Rules and refusals: same part rules, forged tokens, methods on the wrong side.
        assert_error(cdn.rpc(&get_cdn(1024, 4096)).await, 400, "OFFSET_INVALID");
        assert_error(
            cdn.rpc(&get_cdn(MIB - 4096, 8192)).await,
            400,
            "LIMIT_INVALID",
        );
        let mut forged = get_cdn(0, 4096);
        forged.file_token[10] ^= 1;
        assert_error(cdn.rpc(&forged).await, 400, "FILE_TOKEN_INVALID");
        assert_error(
            alice.rpc(&get_cdn(0, 4096)).await,
            400,
            "FILE_TOKEN_INVALID",
        );
        assert_error(
            cdn.rpc(&get_file(&doc, 0, 4096, false, true)).await,
            400,
            "CDN_METHOD_INVALID",
        );
        let answer = cdn.rpc(&get_cdn(4 * MIB, MIB)).await.unwrap();
        let enums::upload::CdnFile::CdnFile(past_end) = answer else {
            panic!("{answer:?}")
        };
        assert!(past_end.bytes.is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_past_4_gib_and_empty_files() {
    with_alice(async |env, alice| {
        let huge = alice.location(env, 11, "").await;
        let key = FileKey::document(HUGE_DOC);
        let offset = (4 << 30) + MIB;
        let part = alice.get_file(&huge, offset, MIB).await.unwrap();
        assert_eq!(part, media::bytes(7, &key, offset, MIB as usize));
        let last = HUGE_DOC_SIZE - HUGE_DOC_SIZE % MIB;
        let tail = alice.get_file(&huge, last, MIB).await.unwrap();
        assert_eq!(tail.len(), 4097);
        assert_eq!(tail, media::bytes(7, &key, last, 4097));
        let near_end = alice.file_hashes(&huge, last as i64).await.unwrap();
        assert_eq!(near_end.len(), 1);
        assert_eq!((near_end[0].offset as u64, near_end[0].limit), (last, 4097));
        assert_eq!(near_end[0].hash, sha256(&tail).to_vec());

        let empty = alice.location(env, 12, "").await;
        assert!(alice.get_file(&empty, 0, MIB).await.unwrap().is_empty());
        let none = alice.file_hashes(&empty, 0).await.unwrap();
        assert!(none.is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_requests_hit_flood_and_premium_limits() {
    with_alice(async |env, alice| {
        let pdf = alice.location(env, 5, "").await;
        let rule = |max_calls, per_seconds| FloodRule {
            method: "upload.getFile".into(),
            max_calls,
            per_seconds,
            user_id: None,
        };
        env.world.flood().set_rules(vec![rule(2, 30)]);
        alice.get_file(&pdf, 0, 4096).await.unwrap();
        alice.get_file(&pdf, 4096, 4096).await.unwrap();
        assert_flood_wait(alice.get_file(&pdf, 8192, 4096).await, "FLOOD_WAIT_", 30);
        // Other methods are not limited by it.
        alice.file_hashes(&pdf, 0).await.unwrap();

        env.world.flood().set_rules(Vec::new());
        env.world.flood().set_premium_rules(vec![rule(1, 20)]);
        alice.get_file(&pdf, 0, 4096).await.unwrap();
        assert_flood_wait(
            alice.get_file(&pdf, 4096, 4096).await,
            "FLOOD_PREMIUM_WAIT_",
            20,
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_messages_are_gone_and_so_are_their_files() {
    with_alice(async |env, alice| {
        let pdf = alice.location(env, 5, "").await;
        alice.get_file(&pdf, 0, 4096).await.unwrap();
        assert!(env.world.delete_message(CHANNEL, 5));
        assert!(!env.world.delete_message(CHANNEL, 999));
        assert_error(
            alice.get_file(&pdf, 0, 4096).await,
            400,
            "FILE_REFERENCE_INVALID",
        );
        assert!(matches!(
            alice.message(env, 5).await,
            enums::Message::Empty(_)
        ));
        // Other files are untouched.
        let photo = alice.location(env, 2, "m").await;
        alice.get_file(&photo, 0, 4096).await.unwrap();
    })
    .await;
}

#[test]
fn generated_worlds_can_serve_some_documents_via_the_cdn() {
    use localdc::world::generate::{self, GenOptions};
    let mut fixture = generate::generate(&GenOptions {
        messages: 300,
        ..GenOptions::default()
    });
    let marked = generate::serve_via_cdn(&mut fixture, 3);
    assert!(marked > 0);
    let world = World::from_fixture(fixture).unwrap();
    let cdn = world.store().files.values().filter(|f| f.cdn).count();
    assert_eq!(cdn, marked);
    let dcs: std::collections::BTreeSet<i32> = world.store().files.values().map(|f| f.dc).collect();
    assert!(dcs.len() > 1, "media on several DCs: {dcs:?}");
}
