//! AES-256 in Infinite Garble Extension (IGE) mode, as MTProto uses it.
//!
//! IGE chains both ways: `c_i = E(p_i ^ c_{i-1}) ^ p_{i-1}`. Telegram's
//! 32-byte iv holds the two initial chaining values: `iv[0..16]` is the
//! "previous ciphertext" `c_0`, `iv[16..32]` the "previous plaintext" `p_0`
//! (the OpenSSL `AES_ige_encrypt` convention).
//!
//! Both directions are inherently sequential, so the speed comes from AES-NI
//! on single blocks (the `aes` crate detects it at run time) and from doing no
//! allocation and no key expansion per call.

use std::fmt;

use aes::Aes256;
use cipher::generic_array::GenericArray;
use cipher::typenum::U16;
use cipher::{BlockDecrypt, BlockEncrypt, BlockSizeUser, KeyInit};
use zeroize::Zeroize;

use crate::Error;

type Block = GenericArray<u8, U16>;

/// AES-256-IGE with an expanded key, reusable for any number of messages.
#[derive(Clone)]
pub struct AesIge {
    cipher: Aes256,
}

impl AesIge {
    /// Expands `key` once; encrypt and decrypt then reuse the key schedule.
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256::new(key.into()),
        }
    }

    /// Encrypts `buf` in place. Its length must be a multiple of 16.
    pub fn encrypt(&self, iv: &[u8; 32], buf: &mut [u8]) -> Result<(), Error> {
        encrypt_with(&self.cipher, iv, buf)
    }

    /// Decrypts `buf` in place. Its length must be a multiple of 16.
    pub fn decrypt(&self, iv: &[u8; 32], buf: &mut [u8]) -> Result<(), Error> {
        decrypt_with(&self.cipher, iv, buf)
    }
}

impl fmt::Debug for AesIge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesIge { .. }")
    }
}

/// An AES-256 key with its 32-byte IGE iv (the keys of one MTProto message,
/// or the handshake's temporary key); wiped on drop, redacted in `Debug`.
#[derive(Clone)]
pub struct AesKeyIv {
    /// AES-256 key.
    pub key: [u8; 32],
    /// IGE iv: previous-ciphertext half, then previous-plaintext half.
    pub iv: [u8; 32],
}

impl AesKeyIv {
    /// Encrypts `buf` in place with this key and iv.
    pub fn encrypt(&self, buf: &mut [u8]) -> Result<(), Error> {
        ige_encrypt(&self.key, &self.iv, buf)
    }

    /// Decrypts `buf` in place with this key and iv.
    pub fn decrypt(&self, buf: &mut [u8]) -> Result<(), Error> {
        ige_decrypt(&self.key, &self.iv, buf)
    }
}

impl Drop for AesKeyIv {
    fn drop(&mut self) {
        self.key.zeroize();
        self.iv.zeroize();
    }
}

impl fmt::Debug for AesKeyIv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesKeyIv { .. }")
    }
}

/// One-shot AES-256-IGE encryption of `buf` in place.
pub fn ige_encrypt(key: &[u8; 32], iv: &[u8; 32], buf: &mut [u8]) -> Result<(), Error> {
    AesIge::new(key).encrypt(iv, buf)
}

/// One-shot AES-256-IGE decryption of `buf` in place.
pub fn ige_decrypt(key: &[u8; 32], iv: &[u8; 32], buf: &mut [u8]) -> Result<(), Error> {
    AesIge::new(key).decrypt(iv, buf)
}

fn check_aligned(buf: &[u8]) -> Result<(), Error> {
    if buf.len().is_multiple_of(16) {
        Ok(())
    } else {
        Err(Error::NotBlockAligned { len: buf.len() })
    }
}

/// Splits the 32-byte iv into (previous ciphertext, previous plaintext).
fn split_iv(iv: &[u8; 32]) -> (Block, Block) {
    let (c, p) = iv.split_at(16);
    (Block::clone_from_slice(c), Block::clone_from_slice(p))
}

#[inline]
fn xor_into(dst: &mut Block, src: &Block) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= s;
    }
}

/// IGE encryption over any 128-bit block cipher (generic so the OpenSSL
/// AES-128 vectors can exercise the same code path in tests).
pub(crate) fn encrypt_with<C>(cipher: &C, iv: &[u8; 32], buf: &mut [u8]) -> Result<(), Error>
where
    C: BlockEncrypt + BlockSizeUser<BlockSize = U16>,
{
    check_aligned(buf)?;
    let (mut c_prev, mut p_prev) = split_iv(iv);
    for chunk in buf.chunks_exact_mut(16) {
        let block = Block::from_mut_slice(chunk);
        let plain = *block;
        xor_into(block, &c_prev);
        cipher.encrypt_block(block);
        xor_into(block, &p_prev);
        c_prev = *block;
        p_prev = plain;
    }
    Ok(())
}

/// IGE decryption over any 128-bit block cipher.
pub(crate) fn decrypt_with<C>(cipher: &C, iv: &[u8; 32], buf: &mut [u8]) -> Result<(), Error>
where
    C: BlockDecrypt + BlockSizeUser<BlockSize = U16>,
{
    check_aligned(buf)?;
    let (mut c_prev, mut p_prev) = split_iv(iv);
    for chunk in buf.chunks_exact_mut(16) {
        let block = Block::from_mut_slice(chunk);
        let cipher_block = *block;
        xor_into(block, &p_prev);
        cipher.decrypt_block(block);
        xor_into(block, &c_prev);
        p_prev = *block;
        c_prev = cipher_block;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::Aes128;

    fn seq(n: u8) -> Vec<u8> {
        (0..n).collect()
    }

    // OpenSSL test/igetest.c, ige_test_vectors[0]: AES-128 (16-byte key),
    // encrypt. OpenSSL has no AES-256 IGE vector; AES-256 is covered by the
    // Telegram sample in tests/mtcrypto/auth_key_sample.rs.
    #[test]
    fn openssl_vector_0_aes128_encrypt() {
        let cipher = Aes128::new_from_slice(&seq(16)).unwrap();
        let iv: [u8; 32] = seq(32).try_into().unwrap();
        let mut buf = [0u8; 32];
        encrypt_with(&cipher, &iv, &mut buf).unwrap();
        assert_eq!(
            hex::encode_upper(buf),
            "1A8519A6557BE652E9DA8E43DA4EF4453CF456B4CA488AA383C79C98B34797CB"
        );
        decrypt_with(&cipher, &iv, &mut buf).unwrap();
        assert_eq!(buf, [0u8; 32]);
    }

    // ige_test_vectors[1]: AES-128, decrypt direction.
    #[test]
    fn openssl_vector_1_aes128_decrypt() {
        let cipher = Aes128::new_from_slice(b"This is an imple").unwrap();
        let iv: [u8; 32] = *b"mentation of IGE mode for OpenSS";
        let mut buf: [u8; 32] = *b"L. Let's hope Ben got it right!\n";
        decrypt_with(&cipher, &iv, &mut buf).unwrap();
        assert_eq!(
            hex::encode_upper(buf),
            "99706487A1CDE613BC6DE0B6F24B1C7AA448C8B9C3403E3467A8CAD89340F53B"
        );
    }

    #[test]
    fn rejects_unaligned() {
        let ige = AesIge::new(&[7; 32]);
        let mut buf = [0u8; 17];
        assert_eq!(
            ige.encrypt(&[0; 32], &mut buf),
            Err(Error::NotBlockAligned { len: 17 })
        );
        assert_eq!(
            ige.decrypt(&[0; 32], &mut buf[..15]),
            Err(Error::NotBlockAligned { len: 15 })
        );
    }

    #[test]
    fn empty_is_ok() {
        let mut buf = [];
        ige_encrypt(&[1; 32], &[2; 32], &mut buf).unwrap();
        ige_decrypt(&[1; 32], &[2; 32], &mut buf).unwrap();
    }

    #[test]
    fn debug_hides_key() {
        let s = format!("{:?}", AesIge::new(&[0x5A; 32]));
        assert_eq!(s, "AesIge { .. }");
    }
}
