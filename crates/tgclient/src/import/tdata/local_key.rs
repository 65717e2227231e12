//! The key that encrypts everything in a `tdata` folder, and the key derived from the
//! local passcode that encrypts it (Desktop's `CreateLocalKey`).

use mtcrypto::hash::{pbkdf2_sha512, sha512_concat};
use mtcrypto::{AuthKey, Zeroizing};

/// The salt's length in `key_datas`.
pub(super) const SALT_LEN: usize = 32;

/// PBKDF2 rounds when a passcode is set; without one Desktop uses a single round.
const PASSCODE_ROUNDS: u32 = 100_000;

/// Derives the key that decrypts the local key:
/// `PBKDF2-HMAC-SHA512(password = SHA512(salt ‖ passcode ‖ salt), salt, rounds, 256 bytes)`.
pub(super) fn passcode_key(passcode: &[u8], salt: &[u8]) -> AuthKey {
    let password = Zeroizing::new(sha512_concat(&[salt, passcode, salt]));
    let rounds = if passcode.is_empty() {
        1
    } else {
        PASSCODE_ROUNDS
    };
    let mut key = Zeroizing::new([0u8; 256]);
    pbkdf2_sha512(password.as_slice(), salt, rounds, key.as_mut_slice());
    AuthKey::from_bytes(*key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_passcode_and_the_salt_both_change_the_key() {
        let salt = [7u8; SALT_LEN];
        let empty = passcode_key(b"", &salt);
        assert_eq!(empty.key_id(), passcode_key(b"", &salt).key_id());
        assert_ne!(empty.key_id(), passcode_key(b"", &[8u8; SALT_LEN]).key_id());
        assert_ne!(empty.key_id(), passcode_key(b"x", &salt).key_id());
    }
}
