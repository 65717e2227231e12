//! Hostile-server mode: a [`Mutator`] rewrites serialized results after their handler ran
//! and before the session wraps and encrypts them, so the server's own state stays
//! consistent while what the client receives lies. Armed on a [`MutatorHook`] (shared by
//! every DC of a server, see [`Registry::mutator`](super::Registry::mutator)), with a seed:
//! the randomness of each answer comes from the seed, the method, the request's bytes and
//! how many times that very request was seen, so a run is reproducible whatever order
//! concurrent requests are served in.
//!
//! [`HostileMutator`] is the stock mutator: at a given rate it flips bits, truncates or
//! extends answers, swaps constructor ids, plants huge vector counts and lying `bytes`
//! lengths, substitutes gzip bombs, and for the file methods tells file-level lies (parts
//! longer or shorter than asked, corrupted bytes, wrong hashes, out-of-range hash offsets
//! and limits, wrong CDN keys).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use tl_types::api::functions::upload::{
    GetCdnFile, GetCdnFileHashes, GetFile, GetFileHashes, ReuploadCdnFile,
};
use tl_types::api::{enums, types};
use tl_types::{Deserialize, Identifiable, Serialize};

use super::context::RequestContext;
use super::registry::{Handler, HandlerFuture};

/// Rewrites the serialized (boxed) result of one call of `method` (its constructor id).
pub trait Mutator: Send + Sync + 'static {
    /// Changes `result` in place (or leaves it alone), drawing randomness from `rng`.
    fn mutate(&self, method: u32, result: &mut Vec<u8>, rng: &mut StdRng);
}

/// Requests remembered to tell repeated ones apart; past it the memory starts over.
const MAX_REMEMBERED: usize = 1 << 16;

struct Armed {
    mutator: Arc<dyn Mutator>,
    seed: u64,
    seen: Mutex<HashMap<u64, u64>>,
}

/// Where a [`Mutator`] is armed, live: [`MutatorHook::set`] and [`MutatorHook::clear`]
/// take effect for the next request.
#[derive(Default)]
pub struct MutatorHook {
    armed: RwLock<Option<Arc<Armed>>>,
}

impl std::fmt::Debug for MutatorHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let armed = self
            .armed
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        f.debug_struct("MutatorHook")
            .field("armed", &armed)
            .finish()
    }
}

impl MutatorHook {
    /// Arms `mutator` with `seed` (replacing any other).
    pub fn set(&self, mutator: Arc<dyn Mutator>, seed: u64) {
        *self.armed.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(Armed {
            mutator,
            seed,
            seen: Mutex::default(),
        }));
    }

    /// Disarms the mutator: answers go out as the handlers made them.
    pub fn clear(&self) {
        *self.armed.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Wraps `handler` so that its result goes through the armed mutator, if any.
    pub(crate) fn wrap(
        &self,
        method: u32,
        request: &[u8],
        handler: Arc<dyn Handler>,
    ) -> Arc<dyn Handler> {
        let Some(armed) = self
            .armed
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        else {
            return handler;
        };
        let digest = fnv1a(method, request);
        let occurrence = {
            let mut seen = armed.seen.lock().unwrap_or_else(PoisonError::into_inner);
            if seen.len() >= MAX_REMEMBERED {
                seen.clear();
            }
            let count = seen.entry(digest).or_insert(0);
            *count += 1;
            *count
        };
        let seed = splitmix(armed.seed ^ splitmix(digest ^ splitmix(occurrence)));
        Arc::new(Mutating {
            inner: handler,
            mutator: Arc::clone(&armed.mutator),
            method,
            seed,
        })
    }
}

struct Mutating {
    inner: Arc<dyn Handler>,
    mutator: Arc<dyn Mutator>,
    method: u32,
    seed: u64,
}

impl Handler for Mutating {
    fn call(&self, ctx: RequestContext, body: Vec<u8>) -> HandlerFuture {
        let answer = self.inner.call(ctx, body);
        let mutator = Arc::clone(&self.mutator);
        let (method, seed) = (self.method, self.seed);
        Box::pin(async move {
            let mut result = answer.await;
            if let Ok(object) = &mut result {
                mutator.mutate(method, object, &mut StdRng::seed_from_u64(seed));
            }
            result
        })
    }
}

fn fnv1a(method: u32, bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for byte in method.to_le_bytes().iter().chain(bytes) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Constructor id of `vector`.
const VECTOR_ID: u32 = 0x1cb5_c415;
/// Ids a lying answer may start with: vector, gzip_packed, rpc_result, msg_container,
/// rpc_error, bool true/false, upload.file, upload.cdnFile.
const TRICKY_IDS: [u32; 9] = [
    VECTOR_ID,
    0x3072_cfa1,
    0xf35c_6d01,
    0x73f1_f8dc,
    0x2144_ca19,
    0x9972_75b5,
    0xbc79_9737,
    types::upload::File::CONSTRUCTOR_ID,
    types::upload::CdnFile::CONSTRUCTOR_ID,
];

/// The stock hostile mutator: each answer is mutated with probability `rate`, by a
/// file-level lie when the method serves files (most of the time) or else a generic one.
/// Counts what it did.
#[derive(Debug)]
pub struct HostileMutator {
    rate: f64,
    mutated: AtomicU64,
    seen: AtomicU64,
}

impl HostileMutator {
    /// Mutates each answer with probability `rate` (clamped to `0..=1`).
    pub fn new(rate: f64) -> Self {
        Self {
            rate: if rate.is_nan() {
                0.0
            } else {
                rate.clamp(0.0, 1.0)
            },
            mutated: AtomicU64::new(0),
            seen: AtomicU64::new(0),
        }
    }

    /// Answers mutated so far.
    pub fn mutated(&self) -> u64 {
        self.mutated.load(Ordering::Relaxed)
    }

    /// Answers seen so far (mutated or not).
    pub fn seen(&self) -> u64 {
        self.seen.load(Ordering::Relaxed)
    }
}

impl Mutator for HostileMutator {
    fn mutate(&self, method: u32, result: &mut Vec<u8>, rng: &mut StdRng) {
        self.seen.fetch_add(1, Ordering::Relaxed);
        if !rng.gen_bool(self.rate) {
            return;
        }
        self.mutated.fetch_add(1, Ordering::Relaxed);
        let file_lie = rng.gen_bool(0.7)
            && match method {
                GetFile::CONSTRUCTOR_ID => lie_file(result, rng),
                GetCdnFile::CONSTRUCTOR_ID => lie_cdn_file(result, rng),
                GetFileHashes::CONSTRUCTOR_ID
                | GetCdnFileHashes::CONSTRUCTOR_ID
                | ReuploadCdnFile::CONSTRUCTOR_ID => lie_hashes(result, rng),
                _ => false,
            };
        if !file_lie {
            generic(result, rng);
        }
    }
}

/// One generic mutation of a serialized object.
pub fn generic(result: &mut Vec<u8>, rng: &mut StdRng) {
    match rng.gen_range(0..8) {
        0 | 1 => flip_bits(result, rng),
        2 => {
            let keep = rng.gen_range(0..=result.len());
            result.truncate(keep);
        }
        3 => {
            let more = rng.gen_range(1..=4096);
            let start = result.len();
            result.resize(start + more, 0);
            if let Some(tail) = result.get_mut(start..) {
                rng.fill_bytes(tail);
            }
        }
        4 => {
            let id = if rng.gen_bool(0.5) {
                TRICKY_IDS
                    .get(rng.gen_range(0..TRICKY_IDS.len()))
                    .copied()
                    .unwrap_or(VECTOR_ID)
            } else {
                rng.next_u32()
            };
            put_u32(result, 0, id);
        }
        5 => huge_count(result, rng),
        6 => lying_bytes_length(result, rng),
        _ => *result = gzip_bomb().to_vec(),
    }
}

fn flip_bits(bytes: &mut [u8], rng: &mut StdRng) {
    if bytes.is_empty() {
        return;
    }
    for _ in 0..rng.gen_range(1..=8) {
        let at = rng.gen_range(0..bytes.len());
        if let Some(byte) = bytes.get_mut(at) {
            *byte ^= 1 << rng.gen_range(0..8);
        }
    }
}

fn put_u32(bytes: &mut Vec<u8>, at: usize, value: u32) {
    if bytes.len() < at + 4 {
        bytes.resize(at + 4, 0);
    }
    if let Some(slot) = bytes.get_mut(at..at + 4) {
        slot.copy_from_slice(&value.to_le_bytes());
    }
}

fn huge_value(rng: &mut StdRng) -> u32 {
    [0x7fff_ffff, 0xffff_ffff, 1 << 24, 1 << 20, 0x8000_0000]
        .get(rng.gen_range(0..5))
        .copied()
        .unwrap_or(u32::MAX)
}

/// A vector's count (the first vector found, else any aligned word) set to a huge value.
fn huge_count(result: &mut Vec<u8>, rng: &mut StdRng) {
    let vectors: Vec<usize> = (0..result.len().saturating_sub(7))
        .step_by(4)
        .filter(|at| {
            result
                .get(*at..*at + 4)
                .is_some_and(|id| id == VECTOR_ID.to_le_bytes())
        })
        .collect();
    let at = if vectors.is_empty() {
        rng.gen_range(0..=result.len() / 4) * 4
    } else {
        vectors
            .get(rng.gen_range(0..vectors.len()))
            .copied()
            .unwrap_or(0)
            + 4
    };
    let value = huge_value(rng);
    put_u32(result, at, value);
}

/// An aligned word replaced by a long `bytes` prefix claiming up to 16 MiB.
fn lying_bytes_length(result: &mut Vec<u8>, rng: &mut StdRng) {
    let at = rng.gen_range(0..=result.len() / 4) * 4;
    let len: u32 = rng.gen_range(254..(1 << 24));
    put_u32(result, at, 0xfe | (len << 8));
}

/// `gzip_packed` of 24 MiB of zeros: a few dozen KiB that expand past the 16 MiB a
/// `gzip_packed` may hold.
fn gzip_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| mtproto::session::gzip::pack(&vec![0u8; 24 << 20]).unwrap_or_default())
}

/// `bytes` of a part changed: shorter, longer, emptied or corrupted.
fn lie_about_bytes(bytes: &mut Vec<u8>, rng: &mut StdRng) {
    match rng.gen_range(0..5) {
        0 => {
            let keep = rng.gen_range(0..bytes.len().max(1));
            bytes.truncate(keep);
        }
        1 => {
            // Longer than asked: up to another part's worth.
            let more = if rng.gen_bool(0.5) {
                rng.gen_range(1..=16)
            } else {
                rng.gen_range(1..=1 << 20)
            };
            let start = bytes.len();
            bytes.resize(start + more, 0);
            if let Some(tail) = bytes.get_mut(start..) {
                rng.fill_bytes(tail);
            }
        }
        2 => bytes.clear(),
        _ => flip_bits(bytes, rng),
    }
}

/// `upload.file` with the wrong bytes, or a redirect with wrong hashes or secrets.
fn lie_file(result: &mut Vec<u8>, rng: &mut StdRng) -> bool {
    match enums::upload::File::from_bytes(result) {
        Ok(enums::upload::File::File(mut file)) => {
            lie_about_bytes(&mut file.bytes, rng);
            *result = enums::upload::File::File(file).to_bytes();
            true
        }
        Ok(enums::upload::File::CdnRedirect(mut redirect)) => {
            match rng.gen_range(0..4) {
                0 => flip_bits(&mut redirect.encryption_key, rng),
                1 => redirect.encryption_iv.truncate(rng.gen_range(0..16)),
                2 => redirect.dc_id = rng.gen_range(-3..300),
                _ => lie_hash_list(&mut redirect.file_hashes, rng),
            }
            *result = enums::upload::File::CdnRedirect(redirect).to_bytes();
            true
        }
        Err(_) => false,
    }
}

/// `upload.cdnFile` with the wrong bytes, or a reupload request with a bogus token.
fn lie_cdn_file(result: &mut Vec<u8>, rng: &mut StdRng) -> bool {
    match enums::upload::CdnFile::from_bytes(result) {
        Ok(enums::upload::CdnFile::CdnFile(mut file)) => {
            lie_about_bytes(&mut file.bytes, rng);
            *result = enums::upload::CdnFile::CdnFile(file).to_bytes();
            true
        }
        Ok(enums::upload::CdnFile::ReuploadNeeded(mut reupload)) => {
            flip_bits(&mut reupload.request_token, rng);
            *result = enums::upload::CdnFile::ReuploadNeeded(reupload).to_bytes();
            true
        }
        Err(_) => false,
    }
}

/// A `Vector<FileHash>` answer with lies in it.
fn lie_hashes(result: &mut Vec<u8>, rng: &mut StdRng) -> bool {
    let Ok(mut hashes) = Vec::<enums::FileHash>::from_bytes(result) else {
        return false;
    };
    lie_hash_list(&mut hashes, rng);
    *result = hashes.to_bytes();
    true
}

fn lie_hash_list(hashes: &mut Vec<enums::FileHash>, rng: &mut StdRng) {
    if hashes.is_empty() || rng.gen_bool(0.1) {
        // Hashes for nothing, or for a range that was not asked.
        let offset = if rng.gen_bool(0.5) { -1 } else { i64::MAX };
        hashes.push(
            types::FileHash {
                offset,
                limit: rng.gen_range(i32::MIN..=i32::MAX),
                hash: vec![0; 32],
            }
            .into(),
        );
        return;
    }
    match rng.gen_range(0..6) {
        0 => hashes.clear(),
        1 => {
            let keep = rng.gen_range(0..hashes.len());
            hashes.truncate(keep);
        }
        2 => {
            // Repeated entries (a server padding its answer out).
            let copies = rng.gen_range(1..64);
            if let Some(first) = hashes.first().cloned() {
                hashes.extend(std::iter::repeat_n(first, copies));
            }
        }
        _ => {
            let at = rng.gen_range(0..hashes.len());
            if let Some(enums::FileHash::FileHash(hash)) = hashes.get_mut(at) {
                match rng.gen_range(0..6) {
                    0 => hash.offset = rng.gen_range(-(1 << 40)..(1 << 40)),
                    1 => {
                        hash.limit = [0, -1, 1, i32::MAX, i32::MIN, 4096]
                            .get(rng.gen_range(0..6))
                            .copied()
                            .unwrap_or(0);
                    }
                    2 => hash.hash.truncate(rng.gen_range(0..32)),
                    _ => flip_bits(&mut hash.hash, rng),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Flip;

    impl Mutator for Flip {
        fn mutate(&self, _: u32, result: &mut Vec<u8>, _: &mut StdRng) {
            result.reverse();
        }
    }

    #[test]
    fn the_hook_wraps_only_while_armed() {
        let hook = MutatorHook::default();
        let handler: Arc<dyn Handler> = Arc::new(Flip2);
        // Unarmed: the handler itself.
        assert!(Arc::ptr_eq(
            &hook.wrap(1, b"x", Arc::clone(&handler)),
            &handler
        ));
        hook.set(Arc::new(Flip), 9);
        assert!(!Arc::ptr_eq(
            &hook.wrap(1, b"x", Arc::clone(&handler)),
            &handler
        ));
        hook.clear();
        assert!(Arc::ptr_eq(
            &hook.wrap(1, b"x", Arc::clone(&handler)),
            &handler
        ));
    }

    struct Flip2;

    impl Handler for Flip2 {
        fn call(&self, _: RequestContext, _: Vec<u8>) -> HandlerFuture {
            Box::pin(std::future::ready(Ok(vec![1, 2, 3])))
        }
    }

    #[test]
    fn hostile_mutations_are_seeded_and_file_lies_change_the_answer() {
        let part = types::upload::File {
            r#type: tl_types::api::enums::storage::FileType::FilePartial,
            mtime: 1,
            bytes: vec![7; 4096],
        };
        let original = enums::upload::File::from(part).to_bytes();
        let mutator = HostileMutator::new(1.0);
        let run = |seed| {
            let mut answer = original.clone();
            mutator.mutate(
                GetFile::CONSTRUCTOR_ID,
                &mut answer,
                &mut StdRng::seed_from_u64(seed),
            );
            answer
        };
        let mut changed = 0;
        for seed in 0..200 {
            let a = run(seed);
            assert_eq!(a, run(seed), "seed {seed} is not reproducible");
            changed += usize::from(a != original);
        }
        // Only a bit flip landing twice on the same bit (or a no-op truncation) keeps it.
        assert!(changed > 190, "{changed} of 200 answers changed");
        assert_eq!(mutator.seen(), 400);
        assert_eq!(mutator.mutated(), 400);
        let none = HostileMutator::new(0.0);
        let mut answer = original.clone();
        none.mutate(
            GetFile::CONSTRUCTOR_ID,
            &mut answer,
            &mut StdRng::seed_from_u64(1),
        );
        assert_eq!(answer, original);
    }

    #[test]
    fn hash_lies_stay_well_formed_or_are_generic() {
        let hashes: Vec<enums::FileHash> = (0..8)
            .map(|i| {
                types::FileHash {
                    offset: i * 131_072,
                    limit: 131_072,
                    hash: vec![3; 32],
                }
                .into()
            })
            .collect();
        let original = hashes.to_bytes();
        for seed in 0..100 {
            let mut answer = original.clone();
            let mut rng = StdRng::seed_from_u64(seed);
            assert!(lie_hashes(&mut answer, &mut rng));
            assert_ne!(answer, original, "seed {seed}");
            assert!(Vec::<enums::FileHash>::from_bytes(&answer).is_ok());
        }
        assert!(gzip_bomb().len() < 1 << 20);
    }
}
