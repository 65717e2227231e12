//! AES-256-CTR keystream for transport obfuscation and CDN file chunks.

use std::fmt;

use aes::Aes256;
use cipher::{KeyIvInit, StreamCipher};

use crate::Error;

type Ctr = ctr::Ctr128BE<Aes256>;

/// An AES-256-CTR stream with a 128-bit big-endian counter.
///
/// The counter position is kept between calls, so one value encrypts (or
/// decrypts: it is the same operation) a whole connection direction in
/// pieces of any size.
#[derive(Clone)]
pub struct AesCtr {
    inner: Ctr,
}

impl AesCtr {
    /// Starts a stream at counter block `iv`.
    pub fn new(key: &[u8; 32], iv: &[u8; 16]) -> Self {
        Self {
            inner: Ctr::new(key.into(), iv.into()),
        }
    }

    /// XORs the next `buf.len()` keystream bytes into `buf`.
    pub fn apply(&mut self, buf: &mut [u8]) {
        // A 128-bit counter cannot run out within any real stream
        // (2^128 blocks), so the keystream never ends here.
        self.inner.apply_keystream(buf);
    }

    /// A stream positioned for a CDN chunk at byte `offset` of the file:
    /// Telegram replaces the last 4 bytes of the file's iv with
    /// `offset / 16` as a big-endian u32.
    pub fn for_cdn_offset(key: &[u8; 32], iv: &[u8; 16], offset: u64) -> Result<Self, Error> {
        Ok(Self::new(key, &cdn_iv(iv, offset)?))
    }
}

impl fmt::Debug for AesCtr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesCtr { .. }")
    }
}

/// The CDN iv for a chunk at byte `offset`: `iv[0..12] ++ be32(offset / 16)`.
/// `offset` must be 16-byte aligned and below 2^36 (64 GiB).
pub fn cdn_iv(iv: &[u8; 16], offset: u64) -> Result<[u8; 16], Error> {
    if !offset.is_multiple_of(16) {
        return Err(Error::CdnOffset { offset });
    }
    let block = u32::try_from(offset / 16).map_err(|_| Error::CdnOffset { offset })?;
    let mut out = *iv;
    let (_, tail) = out.split_at_mut(12);
    tail.copy_from_slice(&block.to_be_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::BlockEncrypt;
    use cipher::KeyInit;

    #[test]
    fn nist_sp800_38a_ctr_aes256() {
        // NIST SP 800-38A F.5.5 (CTR-AES256.Encrypt), first two blocks.
        let key: [u8; 32] =
            hex::decode("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
                .unwrap()
                .try_into()
                .unwrap();
        let iv: [u8; 16] = hex::decode("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
            .unwrap()
            .try_into()
            .unwrap();
        let mut data =
            hex::decode("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51")
                .unwrap();
        let mut ctr = AesCtr::new(&key, &iv);
        // Split mid-block to check that the position carries over calls.
        let (a, b) = data.split_at_mut(5);
        ctr.apply(a);
        ctr.apply(b);
        assert_eq!(
            hex::encode(&data),
            "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
        );
    }

    #[test]
    fn cdn_iv_layout() {
        let iv = [0xAA; 16];
        let out = cdn_iv(&iv, 0x10 * 0x0102_0304).unwrap();
        assert_eq!(&out[..12], &[0xAA; 12]);
        assert_eq!(&out[12..], &[1, 2, 3, 4]);
        assert!(cdn_iv(&iv, 15).is_err());
        assert!(cdn_iv(&iv, 16 << 32).is_err());
    }

    #[test]
    fn cdn_stream_matches_manual_counter() {
        let key = [3u8; 32];
        let iv = [9u8; 16];
        let mut ctr = AesCtr::for_cdn_offset(&key, &iv, 32).unwrap();
        let mut buf = [0u8; 16];
        ctr.apply(&mut buf);
        // Keystream block = AES(key, iv[0..12] ++ be32(2)).
        let mut counter = iv;
        counter[12..].copy_from_slice(&2u32.to_be_bytes());
        let aes = Aes256::new(&key.into());
        let mut expected = counter.into();
        aes.encrypt_block(&mut expected);
        assert_eq!(buf.as_slice(), expected.as_slice());
    }
}
