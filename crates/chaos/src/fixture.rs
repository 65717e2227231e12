//! The chaos world: one public channel, `@chaos`, whose messages each carry one document.
//! Sizes are seeded: a few edge cases (one byte, exactly one part, one part and a byte, the
//! largest size), the rest log-uniform between one byte and `--max-size`, so most files are
//! small and a few are large. Documents are spread over DCs 1-5; every fourth one is served
//! through the CDN DC.
//!
//! A second channel, `@chaos_live`, starts with a few small documents and gets new posts
//! while the round runs (see `live.rs`); its channel differences answer "too long" past
//! [`LIVE_TOO_LONG`] events, and tell clients to ask again every [`LIVE_TIMEOUT`] seconds.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use localdc::world::{FileKey, Fixture, World};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::live::{LiveFile, live_path};

/// The account tgdl logs in as.
pub const PHONE: &str = "15550001";
/// Its login code.
pub const CODE: &str = "12345";
/// Its home DC (whose auth key the schedule never makes the server forget: that would log
/// the account out, as on Telegram).
pub const HOME_DC: i32 = 2;
/// The CDN DC.
pub const CDN_DC: i32 = 201;
/// The main DCs.
pub const DCS: u8 = 5;
/// The channel's username, which is also the directory tgdl's default template uses.
pub const CHAT: &str = "chaos";
const CHAT_ID: i64 = 9001;
/// The live channel's username (and the watcher's directory).
pub const LIVE_CHAT: &str = "chaos_live";
/// The live channel's id.
pub const LIVE_CHAT_ID: i64 = 9002;
/// Events past which a channel difference is `channelDifferenceTooLong`.
pub const LIVE_TOO_LONG: u32 = 40;
/// The `timeout` of channel differences: how often an idle follower asks again.
const LIVE_TIMEOUT: i32 = 2;
/// Documents the live channel has before anything is posted.
const LIVE_INITIAL: i32 = 4;
const USER_ID: i64 = 1001;
const MEDIA_BASE: i64 = 500_000;
const PART: u64 = 1 << 20;

/// One file of the world and where tgdl will put it.
#[derive(Debug, Clone)]
pub struct FileSpec {
    pub media_id: i64,
    pub size: u64,
    pub dc: i32,
    pub cdn: bool,
}

/// A generated world and its files, by final path.
#[derive(Debug)]
pub struct Plan {
    pub fixture: Fixture,
    pub files: BTreeMap<PathBuf, FileSpec>,
    /// The live channel's initial files.
    pub live_files: BTreeMap<PathBuf, LiveFile>,
}

impl Plan {
    /// The world of `files` documents of at most `max_size` bytes each, from `seed`.
    pub fn generate(seed: u64, files: usize, max_size: u64) -> Result<Self> {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x00c4_a05f_1e5e_ed00);
        let max_size = max_size.max(2);
        let edges = [1, PART, PART + 1, max_size];
        let mut specs = BTreeMap::new();
        let mut messages = Vec::new();
        for i in 0..files {
            let msg_id = i32::try_from(i + 1).context("too many files")?;
            let size = match edges.get(i) {
                Some(size) => (*size).min(max_size),
                None => log_uniform(&mut rng, max_size),
            };
            let dc = rng.gen_range(1..=i32::from(DCS));
            let cdn = i % 4 == 3;
            let media_id = MEDIA_BASE + i64::from(msg_id);
            let name = format!("f{msg_id}.bin");
            messages.push(json!({
                "id": msg_id, "date": 1_700_000_000 + i64::from(msg_id) * 60,
                "text": format!("chaos file {msg_id}"),
                "media": { "type": "document", "id": media_id, "dc": dc, "size": size,
                    "cdn": cdn, "mime_type": "application/octet-stream",
                    "attributes": [ { "type": "file_name", "file_name": name } ] }
            }));
            let path = PathBuf::from(CHAT).join(format!("{msg_id}_{name}"));
            specs.insert(
                path,
                FileSpec {
                    media_id,
                    size,
                    dc,
                    cdn,
                },
            );
        }
        let mut live_messages = Vec::new();
        let mut live_files = BTreeMap::new();
        for msg_id in 1..=LIVE_INITIAL {
            let size = log_uniform(&mut rng, 256 << 10);
            let media_id = MEDIA_BASE / 2 + i64::from(msg_id);
            let name = format!("initial{msg_id}.bin");
            live_messages.push(json!({
                "id": msg_id, "date": 1_700_000_000 + i64::from(msg_id) * 60,
                "media": { "type": "document", "id": media_id, "dc": HOME_DC, "size": size,
                    "mime_type": "application/octet-stream",
                    "attributes": [ { "type": "file_name", "file_name": name } ] }
            }));
            live_files.insert(live_path(msg_id, &name), LiveFile { media_id, size });
        }
        let fixture = json!({
            "seed": seed,
            "users": [ { "id": USER_ID, "first_name": "Chaos", "username": "chaos_user",
                         "phone": PHONE } ],
            "accounts": [ { "phone": PHONE, "user_id": USER_ID, "code": CODE,
                            "home_dc": HOME_DC } ],
            "chats": [ { "id": CHAT_ID, "kind": "channel", "title": "Chaos", "username": CHAT,
                         "creator": USER_ID, "members": [USER_ID], "date": 1_700_000_000,
                         "messages": Value::Array(messages) },
                       { "id": LIVE_CHAT_ID, "kind": "channel", "title": "Chaos live",
                         "username": LIVE_CHAT, "creator": USER_ID, "members": [USER_ID],
                         "date": 1_700_000_000, "messages": Value::Array(live_messages) } ],
            "updates": { "channel_too_long": LIVE_TOO_LONG, "channel_timeout": LIVE_TIMEOUT }
        });
        let fixture =
            Fixture::from_json(&fixture.to_string()).context("the generated fixture is invalid")?;
        Ok(Self {
            fixture,
            files: specs,
            live_files,
        })
    }

    /// Bytes in all.
    pub fn total_bytes(&self) -> u64 {
        self.files.values().map(|f| f.size).sum()
    }

    /// The SHA-256 of every file, from the world's deterministic media.
    pub fn expected_hashes(&self, world: &World) -> Result<BTreeMap<PathBuf, [u8; 32]>> {
        document_hashes(
            world,
            self.files.iter().map(|(path, spec)| (path, spec.media_id)),
        )
    }
}

/// The SHA-256 of each (path, document id), from the world's deterministic media.
pub fn document_hashes<'a>(
    world: &World,
    files: impl Iterator<Item = (&'a PathBuf, i64)>,
) -> Result<BTreeMap<PathBuf, [u8; 32]>> {
    files
        .map(|(path, media_id)| {
            let hash = world
                .file_sha256(&FileKey::document(media_id))
                .with_context(|| format!("media {media_id} is not in the world"))?;
            Ok((path.clone(), hash))
        })
        .collect()
}

/// A size between 1 and `max` bytes, log-uniform.
pub fn log_uniform(rng: &mut StdRng, max: u64) -> u64 {
    let exponent: f64 = rng.gen_range(0.0..=(max as f64).ln());
    (exponent.exp() as u64).clamp(1, max)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn same_seed_same_world_and_it_loads() {
        let a = Plan::generate(7, 40, 24 << 20).unwrap();
        let b = Plan::generate(7, 40, 24 << 20).unwrap();
        assert_eq!(a.fixture, b.fixture);
        assert_ne!(a.fixture, Plan::generate(8, 40, 24 << 20).unwrap().fixture);
        assert_eq!(a.files.len(), 40);
        assert!(a.files.values().all(|f| f.size >= 1 && f.size <= 24 << 20));
        assert!(a.files.values().any(|f| f.size == 24 << 20));
        assert_eq!(a.files.values().filter(|f| f.cdn).count(), 10);
        let world = World::from_fixture(a.fixture.clone()).unwrap();
        assert_eq!(a.expected_hashes(&world).unwrap().len(), 40);
    }
}
