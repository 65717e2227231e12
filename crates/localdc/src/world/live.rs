//! What changes about media while a world is served, and the knobs tests turn:
//!
//! - **File references.** A reference is `generation (u32 LE) ++ mac (8 bytes)`, the mac
//!   keyed by the seed over (media id, generation). The current generation is the sum of
//!   the rotations asked for ([`World::rotate_file_references`]) and, with the fixture's
//!   `file_reference_ttl_secs`, the number of whole TTL periods since the epoch. An older
//!   generation answers `FILE_REFERENCE_EXPIRED` (core.telegram.org/api/file_reference:
//!   re-read the message for a fresh one); a reference that is not one of ours, or names
//!   media whose message was deleted, answers `FILE_REFERENCE_INVALID`.
//! - **Deleted media**: the photos and documents of messages deleted while serving
//!   ([`World::delete`]) are no longer served.
//! - **CDN state**: files the CDN lacks (`upload.cdnFileReuploadNeeded` until
//!   `upload.reuploadCdnFile`), pending request tokens, chunks to corrupt once.
//! - **Accounting**: bytes served per file and in all, and a log of the ranges served.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use mtcrypto::hash::sha256_concat;

use super::World;
use super::media::FileKey;
use crate::sync::lock;

/// The most ranges [`World::served_log`] keeps (the oldest are dropped past it).
pub const SERVED_LOG_CAP: usize = 1 << 18;

/// Why a file reference is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// `400 FILE_REFERENCE_EXPIRED`: it was good once; re-read the message.
    #[error("FILE_REFERENCE_EXPIRED")]
    Expired,
    /// `400 FILE_REFERENCE_INVALID`: not a reference to this media (or its message is gone).
    #[error("FILE_REFERENCE_INVALID")]
    Invalid,
}

impl ReferenceError {
    /// The `rpc_error` message.
    pub fn message(self) -> &'static str {
        match self {
            Self::Expired => "FILE_REFERENCE_EXPIRED",
            Self::Invalid => "FILE_REFERENCE_INVALID",
        }
    }
}

/// One range served by `upload.getFile` or `upload.getCdnFile`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedRange {
    pub key: FileKey,
    pub offset: u64,
    /// Bytes actually sent (less than asked for at the end of the file, 0 past it).
    pub len: u64,
    /// The DC that served it.
    pub dc: i32,
    /// Served by a CDN DC (`upload.getCdnFile`).
    pub cdn: bool,
}

/// The live media state of a world (see the module docs).
#[derive(Debug, Default)]
pub struct MediaLive {
    ttl_secs: Option<u32>,
    state: Mutex<State>,
    served: Mutex<Served>,
}

#[derive(Debug, Default)]
struct State {
    rotations_all: u32,
    rotations: HashMap<i64, u32>,
    deleted_media: HashSet<i64>,
    /// Media the CDN does not hold (getCdnFile answers cdnFileReuploadNeeded).
    cdn_missing: HashSet<i64>,
    /// Request tokens handed out by the CDN: token -> (media id, offset asked).
    reupload_tokens: HashMap<Vec<u8>, (i64, u64)>,
    /// (media id, byte offset) to serve wrongly once from the CDN.
    cdn_corrupt: Vec<(i64, u64)>,
}

#[derive(Debug, Default)]
struct Served {
    per_file: HashMap<FileKey, u64>,
    total: u64,
    log: VecDeque<ServedRange>,
}

impl MediaLive {
    /// Live state whose references expire every `ttl_secs` seconds (never when `None`).
    pub fn new(ttl_secs: Option<u32>) -> Self {
        Self {
            ttl_secs: ttl_secs.filter(|t| *t > 0),
            ..Self::default()
        }
    }

    /// The generation of media `media_id`'s reference at `now_secs` (unix seconds).
    fn generation(&self, state: &State, media_id: i64, now_secs: u32) -> u32 {
        let epoch = self.ttl_secs.map_or(0, |ttl| now_secs / ttl);
        epoch
            .wrapping_add(state.rotations_all)
            .wrapping_add(state.rotations.get(&media_id).copied().unwrap_or(0))
    }

    /// The current file reference of media `media_id`.
    pub fn reference(&self, seed: u64, media_id: i64) -> Vec<u8> {
        self.reference_at(seed, media_id, wall_secs())
    }

    /// The file reference of media `media_id` at `now_secs` (unix seconds).
    fn reference_at(&self, seed: u64, media_id: i64, now_secs: u32) -> Vec<u8> {
        let generation = self.generation(&lock(&self.state), media_id, now_secs);
        encode_reference(seed, media_id, generation)
    }

    /// Checks a file reference sent for media `media_id`.
    pub fn check_reference(
        &self,
        seed: u64,
        media_id: i64,
        reference: &[u8],
    ) -> Result<(), ReferenceError> {
        self.check_reference_at(seed, media_id, reference, wall_secs())
    }

    /// Checks a file reference sent for media `media_id` at `now_secs` (unix seconds).
    fn check_reference_at(
        &self,
        seed: u64,
        media_id: i64,
        reference: &[u8],
        now_secs: u32,
    ) -> Result<(), ReferenceError> {
        let state = lock(&self.state);
        if state.deleted_media.contains(&media_id) {
            return Err(ReferenceError::Invalid);
        }
        let current = self.generation(&state, media_id, now_secs);
        drop(state);
        let generation = reference
            .first_chunk::<4>()
            .map(|g| u32::from_le_bytes(*g))
            .ok_or(ReferenceError::Invalid)?;
        if encode_reference(seed, media_id, generation) != reference || generation > current {
            return Err(ReferenceError::Invalid);
        }
        if generation < current {
            return Err(ReferenceError::Expired);
        }
        Ok(())
    }

    /// Media `media_id` is gone with its message: no longer served.
    pub(crate) fn forget_media(&self, media_id: i64) {
        lock(&self.state).deleted_media.insert(media_id);
    }

    /// Whether media `media_id` is gone with its message.
    pub fn is_media_deleted(&self, media_id: i64) -> bool {
        lock(&self.state).deleted_media.contains(&media_id)
    }

    /// Whether the CDN holds media `media_id`.
    pub fn cdn_has(&self, media_id: i64) -> bool {
        !lock(&self.state).cdn_missing.contains(&media_id)
    }

    /// The CDN lacks media `media_id`: a request token for `upload.reuploadCdnFile`.
    pub(crate) fn cdn_request_reupload(&self, media_id: i64, offset: u64, token: Vec<u8>) {
        lock(&self.state)
            .reupload_tokens
            .insert(token, (media_id, offset));
    }

    /// Takes a request token for media `media_id`: the offset it was asked at, and the CDN
    /// holds the file again. `None` for an unknown token.
    pub(crate) fn cdn_reupload(&self, media_id: i64, token: &[u8]) -> Option<u64> {
        let mut state = lock(&self.state);
        match state.reupload_tokens.get(token) {
            Some((id, offset)) if *id == media_id => {
                let offset = *offset;
                state.reupload_tokens.remove(token);
                state.cdn_missing.remove(&media_id);
                Some(offset)
            }
            _ => None,
        }
    }

    /// Whether the CDN part of media `media_id` at `offset..offset + len` must be corrupted
    /// (each armed corruption fires once): the offsets inside the part to damage.
    pub(crate) fn take_cdn_corruption(&self, media_id: i64, offset: u64, len: u64) -> Vec<u64> {
        let mut state = lock(&self.state);
        if state.cdn_corrupt.is_empty() {
            return Vec::new();
        }
        let mut hits = Vec::new();
        state.cdn_corrupt.retain(|(id, at)| {
            let hit = *id == media_id && *at >= offset && *at < offset.saturating_add(len);
            if hit {
                hits.push(*at - offset);
            }
            !hit
        });
        hits
    }

    /// Counts a range served.
    pub(crate) fn record(&self, range: ServedRange) {
        let mut served = lock(&self.served);
        served.total = served.total.saturating_add(range.len);
        let per = served.per_file.entry(range.key.clone()).or_insert(0);
        *per = per.saturating_add(range.len);
        if served.log.len() >= SERVED_LOG_CAP {
            served.log.pop_front();
        }
        served.log.push_back(range);
    }
}

fn encode_reference(seed: u64, media_id: i64, generation: u32) -> Vec<u8> {
    let mac = sha256_concat(&[
        b"localdc file_reference",
        &seed.to_le_bytes(),
        &media_id.to_le_bytes(),
        &generation.to_le_bytes(),
    ]);
    let mut out = Vec::with_capacity(12);
    out.extend_from_slice(&generation.to_le_bytes());
    out.extend_from_slice(mac.first_chunk::<8>().unwrap_or(&[0; 8]));
    out
}

/// The CDN file token of media `media_id`: `id (8 bytes LE) ++ mac (16 bytes)`.
pub(crate) fn cdn_file_token(seed: u64, media_id: i64) -> Vec<u8> {
    let mac = sha256_concat(&[
        b"localdc cdn file_token",
        &seed.to_le_bytes(),
        &media_id.to_le_bytes(),
    ]);
    let mut out = Vec::with_capacity(24);
    out.extend_from_slice(&media_id.to_le_bytes());
    out.extend_from_slice(mac.first_chunk::<16>().unwrap_or(&[0; 16]));
    out
}

/// The media a CDN file token names, if it is one of ours.
pub(crate) fn parse_cdn_file_token(seed: u64, token: &[u8]) -> Option<i64> {
    let id = i64::from_le_bytes(*token.first_chunk::<8>()?);
    (cdn_file_token(seed, id) == token).then_some(id)
}

/// Control interface for tests and benchmarks: media knobs, turned while serving.
impl World {
    /// Every file reference handed out so far expires (`FILE_REFERENCE_EXPIRED`); messages
    /// read from now on carry fresh ones.
    pub fn rotate_file_references(&self) {
        let mut state = lock(&self.media.state);
        state.rotations_all = state.rotations_all.wrapping_add(1);
    }

    /// Like [`World::rotate_file_references`], for one photo or document only.
    pub fn rotate_file_reference(&self, media_id: i64) {
        let mut state = lock(&self.media.state);
        let rotation = state.rotations.entry(media_id).or_insert(0);
        *rotation = rotation.wrapping_add(1);
    }

    /// Whether the CDN lacks document `media_id`: its next `upload.getCdnFile` answers
    /// `upload.cdnFileReuploadNeeded`, until `upload.reuploadCdnFile` on the file's DC.
    pub fn set_cdn_missing(&self, media_id: i64, missing: bool) {
        let mut state = lock(&self.media.state);
        if missing {
            state.cdn_missing.insert(media_id);
        } else {
            state.cdn_missing.remove(&media_id);
        }
    }

    /// The next `upload.getCdnFile` part of document `media_id` covering byte `offset`
    /// carries a wrong byte there, once (the chunk's hash no longer matches; fetching it
    /// again gives the right bytes).
    pub fn corrupt_cdn_chunk_once(&self, media_id: i64, offset: u64) {
        lock(&self.media.state).cdn_corrupt.push((media_id, offset));
    }

    /// Bytes of file `key` served so far (by `upload.getFile` and `upload.getCdnFile`).
    pub fn served_bytes(&self, key: &FileKey) -> u64 {
        lock(&self.media.served)
            .per_file
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    /// Bytes of every file served so far.
    pub fn served_total(&self) -> u64 {
        lock(&self.media.served).total
    }

    /// The ranges served so far, oldest first (the last [`SERVED_LOG_CAP`]).
    pub fn served_log(&self) -> Vec<ServedRange> {
        lock(&self.media.served).log.iter().cloned().collect()
    }

    /// Forgets what was served (counters and log).
    pub fn reset_served(&self) {
        *lock(&self.media.served) = Served::default();
    }
}

/// The wall clock in unix seconds, as the TTL periods count them.
fn wall_secs() -> u32 {
    u32::try_from(mtnet::clock::unix_secs().max(0)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_age_out_with_the_ttl_period() {
        let live = MediaLive::new(Some(60));
        // A period starts at a multiple of the TTL.
        let start = 1_700_000_040;
        let old = live.reference_at(7, 42, start);
        assert_eq!(live.check_reference_at(7, 42, &old, start + 59), Ok(()));
        assert_eq!(
            live.check_reference_at(7, 42, &old, start + 60),
            Err(ReferenceError::Expired)
        );
        let fresh = live.reference_at(7, 42, start + 60);
        assert_eq!(live.check_reference_at(7, 42, &fresh, start + 119), Ok(()));
        // Handed out in a later period than the server is in: not ours.
        assert_eq!(
            live.check_reference_at(7, 42, &fresh, start),
            Err(ReferenceError::Invalid)
        );
        // Without a TTL, time does nothing.
        let forever = MediaLive::new(None);
        let reference = forever.reference_at(7, 42, start);
        assert_eq!(
            forever.check_reference_at(7, 42, &reference, u32::MAX),
            Ok(())
        );
    }

    #[test]
    fn references_expire_on_rotation_and_reject_forgeries() {
        let live = MediaLive::new(None);
        let old = live.reference(7, 42);
        assert_eq!(live.check_reference(7, 42, &old), Ok(()));
        assert_eq!(
            live.check_reference(7, 43, &old),
            Err(ReferenceError::Invalid)
        );
        assert_eq!(
            live.check_reference(8, 42, &old),
            Err(ReferenceError::Invalid)
        );
        assert_eq!(
            live.check_reference(7, 42, b""),
            Err(ReferenceError::Invalid)
        );
        lock(&live.state).rotations_all += 1;
        assert_eq!(
            live.check_reference(7, 42, &old),
            Err(ReferenceError::Expired)
        );
        let fresh = live.reference(7, 42);
        assert_eq!(live.check_reference(7, 42, &fresh), Ok(()));
        // A reference from the future is not one we handed out.
        lock(&live.state).rotations_all -= 1;
        assert_eq!(
            live.check_reference(7, 42, &fresh),
            Err(ReferenceError::Invalid)
        );
    }

    #[test]
    fn cdn_tokens_round_trip_and_reject_forgeries() {
        let token = cdn_file_token(3, 99);
        assert_eq!(parse_cdn_file_token(3, &token), Some(99));
        assert_eq!(parse_cdn_file_token(4, &token), None);
        let mut bad = token.clone();
        bad[20] ^= 1;
        assert_eq!(parse_cdn_file_token(3, &bad), None);
        assert_eq!(parse_cdn_file_token(3, &token[..8]), None);
    }

    #[test]
    fn corruption_fires_once_inside_the_part() {
        let live = MediaLive::new(None);
        lock(&live.state).cdn_corrupt.push((5, 4096 + 10));
        assert!(live.take_cdn_corruption(5, 0, 4096).is_empty());
        assert!(live.take_cdn_corruption(6, 4096, 4096).is_empty());
        assert_eq!(live.take_cdn_corruption(5, 4096, 4096), vec![10]);
        assert!(live.take_cdn_corruption(5, 4096, 4096).is_empty());
    }
}
