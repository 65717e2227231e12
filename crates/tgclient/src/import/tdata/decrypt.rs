//! Desktop's local encryption (`DecryptLocal`): a 16-byte key (the first 16 bytes of the
//! SHA-1 of the plaintext) followed by AES-256-IGE ciphertext, whose key and iv come from
//! the MTProto 1.0 KDF over the local key and that 16-byte key. The plaintext starts with
//! its own length (a little-endian `u32`) and is padded to 16 bytes.

use std::path::Path;

use mtcrypto::hash::{sha1, sha1_concat};
use mtcrypto::{AesKeyIv, AuthKey, SecretBytes, Zeroizing, ige_decrypt};

use super::error::{Check, TdataError};

/// Why an encrypted part did not decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DecryptError {
    /// Not 16 bytes of key and whole AES blocks after them.
    BadSize,
    /// The SHA-1 of the plaintext is not the key it came with: another key, or damage.
    Check,
    /// The length prefix does not fit the plaintext.
    BadLength,
}

const MSG_KEY_LEN: usize = 16;
const LEN_PREFIX: usize = 4;

/// Decrypts one encrypted part; the plaintext after the length prefix.
pub(super) fn decrypt_local(encrypted: &[u8], key: &AuthKey) -> Result<SecretBytes, DecryptError> {
    let (msg_key, cipher) = encrypted
        .split_first_chunk::<MSG_KEY_LEN>()
        .ok_or(DecryptError::BadSize)?;
    if cipher.is_empty() || cipher.len() % 16 != 0 {
        return Err(DecryptError::BadSize);
    }
    let mut plain = Zeroizing::new(cipher.to_vec());
    let keys = old_kdf(key, msg_key);
    ige_decrypt(&keys.key, &keys.iv, &mut plain).map_err(|_| DecryptError::BadSize)?;
    if sha1(&plain).get(..MSG_KEY_LEN) != Some(msg_key.as_slice()) {
        return Err(DecryptError::Check);
    }
    let len = plain
        .first_chunk::<LEN_PREFIX>()
        .map(|b| u32::from_le_bytes(*b))
        .and_then(|n| usize::try_from(n).ok())
        .ok_or(DecryptError::BadLength)?;
    // Desktop pads with fewer than 16 bytes, so the length is within the last block.
    let full = plain.len();
    if len > full || len + MSG_KEY_LEN <= full || len < LEN_PREFIX {
        return Err(DecryptError::BadLength);
    }
    Ok(SecretBytes::from_slice(
        plain.get(LEN_PREFIX..len).unwrap_or_default(),
    ))
}

/// [`decrypt_local`] of the part `what` of `file`, with the file's errors: a failed check
/// (the file's MD5 held, so this is not the key it was written with) is tampering.
pub(super) fn decrypt_part(
    file: &Path,
    what: &'static str,
    encrypted: &[u8],
    key: &AuthKey,
) -> Result<SecretBytes, TdataError> {
    decrypt_local(encrypted, key).map_err(|e| match e {
        DecryptError::Check => TdataError::Tampered {
            file: file.to_path_buf(),
            check: Check::Decrypt,
        },
        DecryptError::BadSize | DecryptError::BadLength => TdataError::Malformed {
            file: file.to_path_buf(),
            what,
        },
    })
}

/// The MTProto 1.0 key derivation with `x = 8`, which Desktop uses for local files in
/// both directions: four SHA-1s over the message key and slices of the local key, whose
/// pieces make up the AES key and iv.
fn old_kdf(local_key: &AuthKey, msg_key: &[u8; 16]) -> AesKeyIv {
    let key = local_key.as_bytes();
    let part = |from: usize, len: usize| key.get(from + 8..from + 8 + len).unwrap_or_default();
    let sha_a = Zeroizing::new(sha1_concat(&[msg_key, part(0, 32)]));
    let sha_b = Zeroizing::new(sha1_concat(&[part(32, 16), msg_key, part(48, 16)]));
    let sha_c = Zeroizing::new(sha1_concat(&[part(64, 32), msg_key]));
    let sha_d = Zeroizing::new(sha1_concat(&[msg_key, part(96, 32)]));
    let mut out = AesKeyIv {
        key: [0; 32],
        iv: [0; 32],
    };
    let key_pieces = piece(&sha_a, 0, 8)
        .chain(piece(&sha_b, 8, 12))
        .chain(piece(&sha_c, 4, 12));
    for (dst, src) in out.key.iter_mut().zip(key_pieces) {
        *dst = *src;
    }
    let iv_pieces = piece(&sha_a, 8, 12)
        .chain(piece(&sha_b, 0, 8))
        .chain(piece(&sha_c, 16, 4))
        .chain(piece(&sha_d, 0, 8));
    for (dst, src) in out.iv.iter_mut().zip(iv_pieces) {
        *dst = *src;
    }
    out
}

/// `len` bytes of a digest from `from` on.
fn piece(sha: &[u8; 20], from: usize, len: usize) -> impl Iterator<Item = &u8> {
    sha.iter().skip(from).take(len)
}

/// The inverse of [`decrypt_local`], for building test folders.
#[cfg(test)]
pub(super) fn encrypt_local(data: &[u8], key: &AuthKey) -> Vec<u8> {
    let mut plain = (u32::try_from(data.len() + LEN_PREFIX).unwrap_or(u32::MAX))
        .to_le_bytes()
        .to_vec();
    plain.extend_from_slice(data);
    while plain.len() % 16 != 0 {
        plain.push(0xA5);
    }
    let mut msg_key = [0u8; MSG_KEY_LEN];
    msg_key.copy_from_slice(&sha1(&plain)[..MSG_KEY_LEN]);
    let keys = old_kdf(key, &msg_key);
    let _ = mtcrypto::ige_encrypt(&keys.key, &keys.iv, &mut plain);
    let mut out = msg_key.to_vec();
    out.extend_from_slice(&plain);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> AuthKey {
        AuthKey::from_bytes(std::array::from_fn(|i| (i as u8).wrapping_mul(31) ^ seed))
    }

    #[test]
    fn round_trips_every_length_around_a_block() {
        for len in 0..40 {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let sealed = encrypt_local(&data, &key(1));
            assert_eq!(sealed.len() % 16, 0);
            assert_eq!(
                decrypt_local(&sealed, &key(1)).map(|p| p.to_vec()),
                Ok(data)
            );
        }
    }

    #[test]
    fn another_key_fails_the_check() {
        let sealed = encrypt_local(b"secret", &key(1));
        assert_eq!(
            decrypt_local(&sealed, &key(2)).err(),
            Some(DecryptError::Check)
        );
    }

    #[test]
    fn sizes_that_are_not_whole_blocks_are_refused() {
        for len in [0, 15, 16, 17, 33] {
            assert_eq!(
                decrypt_local(&vec![0u8; len], &key(1)).err(),
                Some(DecryptError::BadSize)
            );
        }
    }
}
