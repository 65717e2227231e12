//! Deterministic file contents: a file's bytes are the AES-256-CTR keystream of a key
//! derived from (world seed, media id, size letter), with the 128-bit counter starting at
//! zero. Any range is computed on its own (the counter for byte `o` is `o / 16`), so a
//! world can hold files of many GiB without disk, and a client's download can be checked
//! against [`file_sha256`] independently of the server.
//!
//! It also holds Telegram's download rules ([`check_range`]), the per-chunk hashes of
//! `upload.getFileHashes` ([`chunk_hashes`]) and the CDN encryption of a file
//! ([`cdn_secrets`], [`cdn_encrypt`]).

use mtcrypto::AesCtr;
use mtcrypto::hash::sha256_concat;
use sha2::{Digest, Sha256};

/// 1 MiB: the largest part, and the fragment no request may cross.
pub const MAX_PART: u64 = 1 << 20;
/// `upload.getFileHashes` hashes 128 KiB chunks (gramjs issue #775 observes 131072-byte
/// chunks, and TDLib and Telegram Android check CDN parts in 128 KiB pieces).
pub const HASH_CHUNK: u64 = 128 << 10;
/// How many hashes one `upload.getFileHashes` answer carries (8, as observed in gramjs
/// issue #775: one answer covers 1 MiB).
pub const HASHES_PER_CALL: usize = 8;

/// Which download parameter breaks Telegram's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// `400 OFFSET_INVALID`.
    #[error("OFFSET_INVALID")]
    Offset,
    /// `400 LIMIT_INVALID`.
    #[error("LIMIT_INVALID")]
    Limit,
}

impl RangeError {
    /// The `rpc_error` message Telegram answers with.
    pub fn message(self) -> &'static str {
        match self {
            Self::Offset => "OFFSET_INVALID",
            Self::Limit => "LIMIT_INVALID",
        }
    }
}

/// Checks `upload.getFile`/`upload.getCdnFile` parameters as core.telegram.org/api/files
/// and /cdn state them. Without `precise`: offset and limit divisible by 4 KiB and 1 MiB
/// divisible by limit. With `precise`: offset and limit divisible by 1 KiB, limit at most
/// 1 MiB. Either way the part stays within one 1 MiB fragment:
/// `offset / 1 MiB == (offset + limit - 1) / 1 MiB`. The checked (offset, limit).
pub fn check_range(offset: i64, limit: i32, precise: bool) -> Result<(u64, u64), RangeError> {
    let offset = u64::try_from(offset).map_err(|_| RangeError::Offset)?;
    let limit = u64::try_from(limit)
        .ok()
        .filter(|l| *l > 0)
        .ok_or(RangeError::Limit)?;
    let unit = if precise { 1 << 10 } else { 4 << 10 };
    if !offset.is_multiple_of(unit) {
        return Err(RangeError::Offset);
    }
    if !limit.is_multiple_of(unit) || limit > MAX_PART {
        return Err(RangeError::Limit);
    }
    if !precise && !MAX_PART.is_multiple_of(limit) {
        return Err(RangeError::Limit);
    }
    let last = offset.checked_add(limit - 1).ok_or(RangeError::Offset)?;
    if offset / MAX_PART != last / MAX_PART {
        return Err(RangeError::Limit);
    }
    Ok((offset, limit))
}

/// How many of `limit` bytes from `offset` a file of `size` bytes has (0 at or past the end).
pub fn available(size: u64, offset: u64, limit: u64) -> u64 {
    size.saturating_sub(offset).min(limit)
}

/// One [`HASH_CHUNK`] of a file and the SHA-256 of its bytes (the last chunk of a file is
/// shorter, and so is its `limit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkHash {
    pub offset: u64,
    pub limit: u32,
    pub hash: [u8; 32],
}

/// The hashes `upload.getFileHashes(offset)` answers: up to [`HASHES_PER_CALL`] chunks from
/// the chunk holding `offset`; none at or past the end.
pub fn chunk_hashes(seed: u64, key: &FileKey, size: u64, offset: u64) -> Vec<ChunkHash> {
    let mut hashes = Vec::new();
    if offset >= size {
        return hashes;
    }
    let mut start = offset - offset % HASH_CHUNK;
    let mut buf = vec![0u8; HASH_CHUNK as usize];
    while start < size && hashes.len() < HASHES_PER_CALL {
        let len = available(size, start, HASH_CHUNK);
        let Some(chunk) = buf.get_mut(..len as usize) else {
            break;
        };
        fill(seed, key, start, chunk);
        hashes.push(ChunkHash {
            offset: start,
            limit: len as u32,
            hash: Sha256::digest(&*chunk).into(),
        });
        start += HASH_CHUNK;
    }
    hashes
}

/// The AES-256-CTR key and iv a CDN copy of file `key` is encrypted with (derived from the
/// seed: the same file always gets the same redirect).
pub fn cdn_secrets(seed: u64, key: &FileKey) -> ([u8; 32], [u8; 16]) {
    let id = key.media_id.to_le_bytes();
    let seed = seed.to_le_bytes();
    let aes_key = sha256_concat(&[b"localdc cdn key", &seed, &id, key.thumb.as_bytes()]);
    let digest = sha256_concat(&[b"localdc cdn iv", &seed, &id, key.thumb.as_bytes()]);
    let mut iv = [0u8; 16];
    iv.copy_from_slice(digest.first_chunk::<16>().unwrap_or(&[0; 16]));
    (aes_key, iv)
}

/// Encrypts (or decrypts) the CDN part at `offset` in place. core.telegram.org/cdn: AES-256-CTR
/// with `encryption_iv` whose last 4 bytes are replaced by `offset / 16` big-endian. A part
/// never crosses a 1 MiB boundary, so within one part the counter never carries out of
/// those 4 bytes; past 64 GiB they wrap, as a 32-bit field must.
pub fn cdn_encrypt(aes_key: &[u8; 32], iv: &[u8; 16], offset: u64, buf: &mut [u8]) {
    let wrapped = offset % (1 << 36);
    if let Ok(mut ctr) = AesCtr::for_cdn_offset(aes_key, iv, wrapped - wrapped % 16) {
        ctr.apply(buf);
    }
}

/// Which file of a media item: a document's main file has an empty `thumb`; a photo size
/// or a document thumbnail has its size letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey {
    /// The photo or document id.
    pub media_id: i64,
    /// `""` for a document itself, else the size letter (`"m"`, `"x"`...).
    pub thumb: String,
}

impl FileKey {
    /// A document's main file.
    pub fn document(media_id: i64) -> Self {
        Self {
            media_id,
            thumb: String::new(),
        }
    }

    /// A photo size or thumbnail.
    pub fn sized(media_id: i64, thumb: &str) -> Self {
        Self {
            media_id,
            thumb: thumb.to_owned(),
        }
    }
}

/// One file the world stores: how large, on which DC, and whether it is served through
/// a CDN DC (to clients that set `cdn_supported`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileInfo {
    pub size: u64,
    pub dc: i32,
    pub cdn: bool,
}

/// The keystream generator of one file.
fn cipher_at(seed: u64, key: &FileKey, offset: u64) -> AesCtr {
    let aes_key = sha256_concat(&[
        b"localdc media v1",
        &seed.to_le_bytes(),
        &key.media_id.to_le_bytes(),
        key.thumb.as_bytes(),
    ]);
    // High half zero, low half the block index: no overflow below 2^68 bytes.
    let mut iv = [0u8; 16];
    let (_, low) = iv.split_at_mut(8);
    low.copy_from_slice(&(offset / 16).to_be_bytes());
    let mut cipher = AesCtr::new(&aes_key, &iv);
    // Skip into the first block.
    let mut skip = [0u8; 16];
    if let Some(head) = skip.get_mut(..(offset % 16) as usize) {
        cipher.apply(head);
    }
    cipher
}

/// Fills `out` with the bytes of file `key` starting at `offset`. The caller bounds the
/// range by the file's size.
pub fn fill(seed: u64, key: &FileKey, offset: u64, out: &mut [u8]) {
    out.fill(0);
    cipher_at(seed, key, offset).apply(out);
}

/// `len` bytes of file `key` from `offset`.
pub fn bytes(seed: u64, key: &FileKey, offset: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    fill(seed, key, offset, &mut out);
    out
}

/// The SHA-256 of the first `size` bytes of file `key`, computed in 1 MiB steps (a 4 GiB
/// file takes a few seconds and no memory to speak of).
pub fn file_sha256(seed: u64, key: &FileKey, size: u64) -> [u8; 32] {
    const STEP: usize = 1 << 20;
    let mut hasher = Sha256::new();
    let mut cipher = cipher_at(seed, key, 0);
    let mut buf = vec![0u8; STEP];
    let mut left = size;
    while left > 0 {
        let n = usize::try_from(left).map_or(STEP, |l| l.min(STEP));
        let Some(chunk) = buf.get_mut(..n) else { break };
        chunk.fill(0);
        cipher.apply(chunk);
        hasher.update(&*chunk);
        left -= n as u64;
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_download_rules() {
        const K: i64 = 1024;
        // Valid without precise: 4 KiB aligned, 1 MiB divisible by limit, one fragment.
        for (offset, limit) in [
            (0, 4096),
            (0, 1 << 20),
            (1 << 20, 512 << 10),
            (12 * K, 4096),
        ] {
            assert!(
                check_range(offset, limit, false).is_ok(),
                "{offset}+{limit}"
            );
        }
        assert_eq!(check_range(1024, 4096, false), Err(RangeError::Offset));
        assert_eq!(check_range(-4096, 4096, false), Err(RangeError::Offset));
        assert_eq!(check_range(0, 1000, false), Err(RangeError::Limit));
        assert_eq!(check_range(0, 0, false), Err(RangeError::Limit));
        assert_eq!(check_range(0, -4096, false), Err(RangeError::Limit));
        // 12 KiB is 4 KiB aligned, but 1 MiB is not divisible by it.
        assert_eq!(check_range(0, 12 << 10, false), Err(RangeError::Limit));
        assert_eq!(check_range(0, 2 << 20, false), Err(RangeError::Limit));
        // Crossing a 1 MiB boundary.
        assert_eq!(
            check_range((1 << 20) - 4096, 8192, false),
            Err(RangeError::Limit)
        );
        // precise: 1 KiB units, any limit up to 1 MiB, still one fragment.
        assert_eq!(check_range(K, 3 * K as i32, true), Ok((1024, 3072)));
        assert_eq!(check_range(512, 1024, true), Err(RangeError::Offset));
        assert_eq!(check_range(0, 1500, true), Err(RangeError::Limit));
        assert_eq!(
            check_range(0, (1 << 20) + 1024, true),
            Err(RangeError::Limit)
        );
        assert_eq!(
            check_range((1 << 20) - 1024, 2048, true),
            Err(RangeError::Limit)
        );
        // Offsets past 4 GiB are longs.
        assert!(check_range(5 << 30, 1 << 20, false).is_ok());
    }

    #[test]
    fn chunk_hashes_cover_eight_chunks_and_stop_at_the_end() {
        let key = FileKey::document(9);
        let size = 10 * HASH_CHUNK + 100;
        let hashes = chunk_hashes(1, &key, size, 0);
        assert_eq!(hashes.len(), HASHES_PER_CALL);
        let data = bytes(1, &key, 0, HASH_CHUNK as usize);
        assert_eq!(hashes[0].hash, <[u8; 32]>::from(Sha256::digest(&data)));
        // From inside chunk 9: chunks 9 and the short 10th.
        let tail = chunk_hashes(1, &key, size, 9 * HASH_CHUNK + 5);
        assert_eq!(tail.len(), 2);
        assert_eq!(tail[0].offset, 9 * HASH_CHUNK);
        assert_eq!(tail[1].limit, 100);
        assert!(chunk_hashes(1, &key, size, size).is_empty());
        assert!(chunk_hashes(1, &key, 0, 0).is_empty());
    }

    #[test]
    fn cdn_parts_decrypt_with_the_replaced_iv() {
        let key = FileKey::document(3);
        let (aes_key, iv) = cdn_secrets(5, &key);
        let plain = bytes(5, &key, 1 << 20, 4096);
        let mut part = plain.clone();
        cdn_encrypt(&aes_key, &iv, 1 << 20, &mut part);
        assert_ne!(part, plain);
        // What a client does: iv[..12] ++ be32(offset / 16), AES-256-CTR.
        let mut client_iv = iv;
        client_iv[12..].copy_from_slice(&((1u32 << 20) / 16).to_be_bytes());
        let mut ctr = AesCtr::new(&aes_key, &client_iv);
        ctr.apply(&mut part);
        assert_eq!(part, plain);
    }

    #[test]
    fn any_range_matches_the_whole() {
        let key = FileKey::document(42);
        let whole = bytes(7, &key, 0, 1000);
        for (offset, len) in [(0, 1), (1, 15), (15, 2), (16, 16), (33, 500), (999, 1)] {
            let part = bytes(7, &key, offset as u64, len);
            assert_eq!(
                part.as_slice(),
                &whole[offset..offset + len],
                "{offset}+{len}"
            );
        }
    }

    #[test]
    fn files_differ_by_seed_id_and_size_letter() {
        let a = bytes(1, &FileKey::document(1), 0, 32);
        assert_ne!(a, bytes(2, &FileKey::document(1), 0, 32));
        assert_ne!(a, bytes(1, &FileKey::document(2), 0, 32));
        assert_ne!(a, bytes(1, &FileKey::sized(1, "m"), 0, 32));
    }

    #[test]
    fn the_hash_is_the_hash_of_the_bytes() {
        let key = FileKey::sized(5, "x");
        let size = (1 << 20) + 12_345;
        let data = bytes(3, &key, 0, size);
        let expected: [u8; 32] = Sha256::digest(&data).into();
        assert_eq!(file_sha256(3, &key, size as u64), expected);
    }
}
