//! A SHA-256 whose state can be saved and restored: the whole file's hash is kept at each
//! finished multipart part, so a rerun continues hashing where the upload continues and
//! never fetches the uploaded bytes again to hash them. Built on `sha2`'s compression
//! function (its `Sha256` hides its state); the padding is FIPS 180-4's.

use sha2::compress256;
use sha2::digest::generic_array::GenericArray;

const BLOCK: usize = 64;

/// FIPS 180-4, 5.3.3.
const INITIAL: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// Length of [`ResumableSha256::save`]'s encoding.
pub(crate) const SAVED_LEN: usize = 40;

/// An incremental SHA-256 whose state is saved between 64-byte blocks.
#[derive(Debug, Clone)]
pub(crate) struct ResumableSha256 {
    state: [u32; 8],
    /// Bytes hashed so far.
    len: u64,
    /// The start of a block not yet full.
    pending: Vec<u8>,
}

impl Default for ResumableSha256 {
    fn default() -> Self {
        Self {
            state: INITIAL,
            len: 0,
            pending: Vec::with_capacity(BLOCK),
        }
    }
}

impl ResumableSha256 {
    /// Bytes hashed so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn update(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        if !self.pending.is_empty() {
            let take = (BLOCK - self.pending.len()).min(bytes.len());
            let (head, rest) = bytes.split_at(take);
            self.pending.extend_from_slice(head);
            bytes = rest;
            if self.pending.len() < BLOCK {
                return;
            }
            compress256(&mut self.state, &[*GenericArray::from_slice(&self.pending)]);
            self.pending.clear();
        }
        let mut blocks = bytes.chunks_exact(BLOCK);
        for block in &mut blocks {
            compress256(&mut self.state, &[*GenericArray::from_slice(block)]);
        }
        self.pending.extend_from_slice(blocks.remainder());
    }

    /// The digest of what was hashed (the state is left as it was).
    pub(crate) fn digest(&self) -> [u8; 32] {
        let mut last = self.clone();
        let bits = self.len.wrapping_mul(8);
        last.update_padding(&[0x80]);
        while last.pending.len() != BLOCK - 8 {
            last.update_padding(&[0]);
        }
        last.update_padding(&bits.to_be_bytes());
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(last.state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    /// Padding goes through the blocks without counting towards the length.
    fn update_padding(&mut self, bytes: &[u8]) {
        let len = self.len;
        self.update(bytes);
        self.len = len;
    }

    /// The state, when it sits on a block boundary (as it does after every multipart
    /// part: parts are whole MiB); `None` in the middle of a block.
    pub(crate) fn save(&self) -> Option<[u8; SAVED_LEN]> {
        if !self.pending.is_empty() {
            return None;
        }
        let mut out = [0u8; SAVED_LEN];
        let (words, len) = out.split_at_mut(32);
        for (chunk, word) in words.chunks_exact_mut(4).zip(self.state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        len.copy_from_slice(&self.len.to_be_bytes());
        Some(out)
    }

    /// The state [`save`](Self::save) gave; `None` for anything else.
    pub(crate) fn restore(saved: &[u8]) -> Option<Self> {
        let (words, len) = saved.split_first_chunk::<32>()?;
        let len = u64::from_be_bytes(*<&[u8; 8]>::try_from(len).ok()?);
        if len % BLOCK as u64 != 0 {
            return None;
        }
        let mut state = [0u32; 8];
        for (word, chunk) in state.iter_mut().zip(words.chunks_exact(4)) {
            *word = u32::from_be_bytes(chunk.try_into().ok()?);
        }
        Some(Self {
            state,
            len,
            pending: Vec::with_capacity(BLOCK),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    use super::*;

    proptest! {
        #[test]
        fn matches_sha2_whatever_the_pieces(
            data in proptest::collection::vec(any::<u8>(), 0..700),
            cuts in proptest::collection::vec(0usize..700, 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut hasher = ResumableSha256::default();
            let mut at = 0;
            for cut in cuts.into_iter().chain([data.len()]) {
                hasher.update(&data[at..cut]);
                at = cut;
            }
            prop_assert_eq!(hasher.len(), data.len() as u64);
            prop_assert_eq!(hasher.digest(), <[u8; 32]>::from(Sha256::digest(&data)));
        }
    }

    #[test]
    fn a_saved_state_continues_where_it_stopped() {
        let data: Vec<u8> = (0..3 * 64 * 1000 + 17)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut first = ResumableSha256::default();
        first.update(&data[..64 * 1000]);
        let saved = first.save().unwrap();
        let mut second = ResumableSha256::restore(&saved).unwrap();
        second.update(&data[64 * 1000..]);
        assert_eq!(second.digest(), <[u8; 32]>::from(Sha256::digest(&data)));
        // Off a block boundary there is no state to save; a damaged one is refused.
        first.update(&[1]);
        assert!(first.save().is_none());
        assert!(ResumableSha256::restore(&saved[..39]).is_none());
        let mut odd = saved;
        odd[39] = 1;
        assert!(ResumableSha256::restore(&odd).is_none());
        assert_eq!(
            ResumableSha256::default().digest(),
            <[u8; 32]>::from(Sha256::digest(b""))
        );
    }
}
