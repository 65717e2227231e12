//! Deterministic file contents: a file's bytes are the AES-256-CTR keystream of a key
//! derived from (world seed, media id, size letter), with the 128-bit counter starting at
//! zero. Any range is computed on its own (the counter for byte `o` is `o / 16`), so a
//! world can hold files of many GiB without disk, and a client's download can be checked
//! against [`file_sha256`] independently of the server.

use mtcrypto::AesCtr;
use mtcrypto::hash::sha256_concat;
use sha2::{Digest, Sha256};

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

/// One file the world stores: how large, and on which DC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileInfo {
    pub size: u64,
    pub dc: i32,
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
