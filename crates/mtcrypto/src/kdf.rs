//! MTProto 2.0 `msg_key` and the AES key/iv derived from it.

use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::auth_key::AuthKey;
use crate::ige::AesKeyIv;

/// Which way a message travels; selects `x` in the key derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to server (`x = 0`).
    ClientToServer,
    /// Server to client (`x = 8`).
    ServerToClient,
}

impl Direction {
    /// The `x` offset into the auth key for this direction.
    pub fn x(self) -> usize {
        match self {
            Self::ClientToServer => 0,
            Self::ServerToClient => 8,
        }
    }
}

/// The slices of the auth key that one direction uses: the `msg_key` salt
/// (32 bytes at 88+x) and the two 36-byte KDF inputs (at x and 40+x).
fn key_parts(auth_key: &AuthKey, direction: Direction) -> (&[u8], &[u8], &[u8]) {
    let k = auth_key.as_bytes();
    match direction {
        Direction::ClientToServer => (&k[88..120], &k[0..36], &k[40..76]),
        Direction::ServerToClient => (&k[96..128], &k[8..44], &k[48..84]),
    }
}

/// `msg_key_large = SHA256(auth_key[88+x..88+x+32] ++ plaintext)`, where
/// `plaintext` includes the random padding.
pub fn msg_key_large(
    auth_key: &AuthKey,
    plaintext_with_padding: &[u8],
    direction: Direction,
) -> [u8; 32] {
    let (salt, _, _) = key_parts(auth_key, direction);
    let mut h = Sha256::new();
    h.update(salt);
    h.update(plaintext_with_padding);
    h.finalize().into()
}

/// `msg_key`: the middle 128 bits (bytes 8..24) of [`msg_key_large`].
pub fn msg_key(
    auth_key: &AuthKey,
    plaintext_with_padding: &[u8],
    direction: Direction,
) -> [u8; 16] {
    middle_of(&msg_key_large(auth_key, plaintext_with_padding, direction))
}

/// The first 4 bytes of [`msg_key_large`], from which transports build the
/// quick-ack token (the server sets the top bit before sending it).
pub fn msg_key_large_prefix(
    auth_key: &AuthKey,
    plaintext_with_padding: &[u8],
    direction: Direction,
) -> [u8; 4] {
    let large = msg_key_large(auth_key, plaintext_with_padding, direction);
    let (head, _) = large.split_at(4);
    let mut out = [0u8; 4];
    out.copy_from_slice(head);
    out
}

fn middle_of(large: &[u8; 32]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&large[8..24]);
    out
}

/// Derives the message's AES key and iv from `msg_key`:
/// `a = SHA256(msg_key ++ auth_key[x..x+36])`,
/// `b = SHA256(auth_key[40+x..40+x+36] ++ msg_key)`,
/// `key = a[0..8] ++ b[8..24] ++ a[24..32]`,
/// `iv = b[0..8] ++ a[8..24] ++ b[24..32]`.
pub fn derive_aes_key_iv(auth_key: &AuthKey, msg_key: &[u8; 16], direction: Direction) -> AesKeyIv {
    let (_, a_part, b_part) = key_parts(auth_key, direction);
    let mut a: [u8; 32] = Sha256::new()
        .chain_update(msg_key)
        .chain_update(a_part)
        .finalize()
        .into();
    let mut b: [u8; 32] = Sha256::new()
        .chain_update(b_part)
        .chain_update(msg_key)
        .finalize()
        .into();
    let mut keys = AesKeyIv {
        key: [0; 32],
        iv: [0; 32],
    };
    keys.key[0..8].copy_from_slice(&a[0..8]);
    keys.key[8..24].copy_from_slice(&b[8..24]);
    keys.key[24..32].copy_from_slice(&a[24..32]);
    keys.iv[0..8].copy_from_slice(&b[0..8]);
    keys.iv[8..24].copy_from_slice(&a[8..24]);
    keys.iv[24..32].copy_from_slice(&b[24..32]);
    a.zeroize();
    b.zeroize();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AuthKey {
        let mut bytes = [0u8; 256];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(7).wrapping_add(3);
        }
        AuthKey::from_bytes(bytes)
    }

    #[test]
    fn directions_differ() {
        let k = key();
        let data = [1u8; 64];
        let c2s = msg_key(&k, &data, Direction::ClientToServer);
        let s2c = msg_key(&k, &data, Direction::ServerToClient);
        assert_ne!(c2s, s2c);
        let a = derive_aes_key_iv(&k, &c2s, Direction::ClientToServer);
        let b = derive_aes_key_iv(&k, &c2s, Direction::ServerToClient);
        assert_ne!(a.key, b.key);
        assert_ne!(a.iv, b.iv);
    }

    #[test]
    fn prefix_is_start_of_large() {
        let k = key();
        let large = msg_key_large(&k, b"abc", Direction::ClientToServer);
        assert_eq!(
            msg_key_large_prefix(&k, b"abc", Direction::ClientToServer),
            large[..4]
        );
        assert_eq!(msg_key(&k, b"abc", Direction::ClientToServer), large[8..24]);
    }
}
