//! The 2048-bit MTProto authorization key.

use std::fmt;

use zeroize::Zeroize;

use crate::Error;
use crate::hash::{ct_eq, sha1};

/// A 256-byte authorization key.
///
/// The bytes are wiped on drop and never printed: `Debug` shows only the key
/// id, which travels in clear on the wire anyway.
#[derive(Clone)]
pub struct AuthKey {
    bytes: [u8; 256],
    // Both come from one SHA1 of the key; cache them since the id is needed
    // for every outgoing message.
    id: u64,
    aux_hash: [u8; 8],
}

impl AuthKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 256]) -> Self {
        let digest = sha1(&bytes);
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[12..20]);
        let mut aux_hash = [0u8; 8];
        aux_hash.copy_from_slice(&digest[..8]);
        Self {
            bytes,
            id: u64::from_le_bytes(id),
            aux_hash,
        }
    }

    /// Copies a key from a slice, which must be exactly 256 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, Error> {
        let arr: [u8; 256] = bytes.try_into().map_err(|_| Error::InvalidLength {
            what: "auth key",
            expected: 256,
            actual: bytes.len(),
        })?;
        Ok(Self::from_bytes(arr))
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 256] {
        &self.bytes
    }

    /// The wire `auth_key_id`: the last 8 bytes of SHA1(key) read as a
    /// little-endian u64.
    pub fn key_id(&self) -> u64 {
        self.id
    }

    /// `auth_key_aux_hash`: the first 8 bytes of SHA1(key), used in
    /// `new_nonce_hash` and as `retry_id`.
    pub fn aux_hash(&self) -> [u8; 8] {
        self.aux_hash
    }
}

impl Drop for AuthKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl PartialEq for AuthKey {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.bytes, &other.bytes)
    }
}

impl Eq for AuthKey {}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthKey {{ id: {:#018x} }}", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_and_aux_hash_come_from_sha1() {
        let mut bytes = [0u8; 256];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8;
        }
        let key = AuthKey::from_bytes(bytes);
        let digest = sha1(&bytes);
        assert_eq!(
            key.key_id(),
            u64::from_le_bytes(digest[12..20].try_into().unwrap())
        );
        assert_eq!(key.aux_hash(), digest[..8]);
    }

    #[test]
    fn debug_shows_only_id() {
        let key = AuthKey::from_bytes([0x42; 256]);
        let s = format!("{key:?}");
        assert_eq!(s, format!("AuthKey {{ id: {:#018x} }}", key.key_id()));
        assert!(!s.contains("42, 42"));
    }

    #[test]
    fn from_slice_checks_length() {
        assert!(AuthKey::from_slice(&[0; 255]).is_err());
        assert!(AuthKey::from_slice(&[0; 256]).is_ok());
    }
}
