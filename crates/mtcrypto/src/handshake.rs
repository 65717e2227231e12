//! Nonce-derived values of the auth-key handshake: the temporary AES key and
//! iv, `answer_with_hash` framing, `new_nonce_hash{1,2,3}` and the first
//! server salt.

use rand_core::CryptoRngCore;
use sha1::{Digest, Sha1};

use crate::Error;
use crate::auth_key::AuthKey;
use crate::hash::{ct_eq, sha1, sha1_concat};
use crate::ige::AesKeyIv;

/// The temporary key and iv that protect `server_DH_inner_data` and
/// `client_DH_inner_data`:
/// `key = SHA1(new_nonce ++ server_nonce) ++ SHA1(server_nonce ++ new_nonce)[0..12]`,
/// `iv = SHA1(server_nonce ++ new_nonce)[12..20] ++ SHA1(new_nonce ++ new_nonce) ++ new_nonce[0..4]`.
pub fn tmp_aes_key_iv(new_nonce: &[u8; 32], server_nonce: &[u8; 16]) -> AesKeyIv {
    let ns = sha1_concat(&[new_nonce, server_nonce]);
    let sn = sha1_concat(&[server_nonce, new_nonce]);
    let nn = sha1_concat(&[new_nonce, new_nonce]);
    let mut out = AesKeyIv {
        key: [0; 32],
        iv: [0; 32],
    };
    out.key[..20].copy_from_slice(&ns);
    out.key[20..].copy_from_slice(&sn[..12]);
    out.iv[..8].copy_from_slice(&sn[12..]);
    out.iv[8..28].copy_from_slice(&nn);
    out.iv[28..].copy_from_slice(&new_nonce[..4]);
    out
}

/// The three possible outcomes of `set_client_DH_params`, each with its own
/// `new_nonce_hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DhGenOutcome {
    /// `dh_gen_ok` (`new_nonce_hash1`).
    Ok,
    /// `dh_gen_retry` (`new_nonce_hash2`).
    Retry,
    /// `dh_gen_fail` (`new_nonce_hash3`).
    Fail,
}

impl DhGenOutcome {
    fn marker(self) -> u8 {
        match self {
            Self::Ok => 1,
            Self::Retry => 2,
            Self::Fail => 3,
        }
    }
}

/// `new_nonce_hash{1,2,3}`: the last 16 bytes of
/// `SHA1(new_nonce ++ [1|2|3] ++ auth_key_aux_hash)`.
pub fn new_nonce_hash(new_nonce: &[u8; 32], outcome: DhGenOutcome, auth_key: &AuthKey) -> [u8; 16] {
    let digest = sha1_concat(&[new_nonce, &[outcome.marker()], &auth_key.aux_hash()]);
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[4..]);
    out
}

/// The `new_nonce_hash` of `server_DH_params_fail`: the last 16 bytes of
/// `SHA1(new_nonce)`.
pub fn server_dh_params_fail_hash(new_nonce: &[u8; 32]) -> [u8; 16] {
    let digest = sha1(new_nonce);
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[4..]);
    out
}

/// The first server salt of a new key: `new_nonce[0..8] XOR server_nonce[0..8]`,
/// returned as the wire's little-endian `long`.
pub fn initial_server_salt(new_nonce: &[u8; 32], server_nonce: &[u8; 16]) -> i64 {
    let mut salt = [0u8; 8];
    for ((s, a), b) in salt.iter_mut().zip(new_nonce).zip(server_nonce) {
        *s = a ^ b;
    }
    i64::from_le_bytes(salt)
}

/// Frames and encrypts a handshake answer (`server_DH_inner_data` from the
/// server, `client_DH_inner_data` from the client):
/// `SHA1(answer) ++ answer ++ 0..15 random bytes` up to a multiple of 16,
/// AES-256-IGE with the temporary key.
pub fn encrypt_answer(
    answer: &[u8],
    tmp: &AesKeyIv,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, Error> {
    let unpadded = 20 + answer.len();
    let total = unpadded.next_multiple_of(16);
    let mut buf = Vec::with_capacity(total);
    buf.extend_from_slice(&sha1(answer));
    buf.extend_from_slice(answer);
    buf.resize(total, 0);
    if let Some(pad) = buf.get_mut(unpadded..) {
        rng.fill_bytes(pad);
    }
    tmp.encrypt(&mut buf)?;
    Ok(buf)
}

/// Decrypts a handshake answer and checks its SHA1, returning the answer
/// without hash and padding.
///
/// The padding is 0..=15 bytes, so the answer's length is one of 16
/// candidates; the one whose SHA1 matches is taken, which spares the caller a
/// separate hash check after parsing.
pub fn decrypt_answer(encrypted: &[u8], tmp: &AesKeyIv) -> Result<Vec<u8>, Error> {
    if encrypted.len() < 32 {
        return Err(Error::InvalidLength {
            what: "encrypted handshake answer (at least 32 bytes)",
            expected: 32,
            actual: encrypted.len(),
        });
    }
    let mut buf = encrypted.to_vec();
    tmp.decrypt(&mut buf)?;
    let (hash, body) = buf.split_at(20);
    let shortest = body.len().saturating_sub(15);
    let (head, tail) = body.split_at(shortest);
    let mut hasher = Sha1::new();
    hasher.update(head);
    let mut len = None;
    if ct_eq(&hasher.clone().finalize(), hash) {
        len = Some(shortest);
    }
    for (i, byte) in tail.iter().enumerate() {
        hasher.update([*byte]);
        if ct_eq(&hasher.clone().finalize(), hash) {
            // Keep the longest match, the only sensible one if two matched.
            len = Some(shortest + i + 1);
        }
    }
    let len = len.ok_or(Error::AnswerHashMismatch)?;
    Ok(body.get(..len).unwrap_or_default().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn answer_round_trip_every_padding() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let tmp = tmp_aes_key_iv(&[1; 32], &[2; 16]);
        for len in 0..100 {
            let answer: Vec<u8> = (0..len as u8).collect();
            let enc = encrypt_answer(&answer, &tmp, &mut rng).unwrap();
            assert_eq!(enc.len() % 16, 0);
            assert!(enc.len() - 20 - len < 16);
            assert_eq!(decrypt_answer(&enc, &tmp).unwrap(), answer, "len = {len}");
        }
    }

    #[test]
    fn tampered_answer_rejected() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let tmp = tmp_aes_key_iv(&[1; 32], &[2; 16]);
        let mut enc = encrypt_answer(&[5; 60], &tmp, &mut rng).unwrap();
        enc[40] ^= 1;
        assert_eq!(decrypt_answer(&enc, &tmp), Err(Error::AnswerHashMismatch));
        assert!(decrypt_answer(&enc[..31], &tmp).is_err());
        assert!(decrypt_answer(&enc[..33], &tmp).is_err());
    }

    #[test]
    fn outcomes_differ() {
        let key = AuthKey::from_bytes([9; 256]);
        let nonce = [4; 32];
        let h1 = new_nonce_hash(&nonce, DhGenOutcome::Ok, &key);
        let h2 = new_nonce_hash(&nonce, DhGenOutcome::Retry, &key);
        let h3 = new_nonce_hash(&nonce, DhGenOutcome::Fail, &key);
        assert!(h1 != h2 && h2 != h3 && h1 != h3);
        assert_eq!(server_dh_params_fail_hash(&nonce), sha1(&nonce)[4..]);
    }
}
