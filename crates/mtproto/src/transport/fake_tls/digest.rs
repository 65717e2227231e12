//! HMAC-SHA256 over concatenated parts, and a comparison without early exit.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::FakeTlsError;

/// HMAC-SHA256 of the concatenation of `parts` under `key`.
pub(super) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Result<[u8; 32], FakeTlsError> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| FakeTlsError::BadKey)?;
    for part in parts {
        mac.update(part);
    }
    Ok(mac.finalize().into_bytes().into())
}

/// Whether `a` and `b` are equal, looking at every byte whatever the first difference, so
/// that timing does not tell an attacker how much of a forged digest was right.
pub(super) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2.
    #[test]
    fn rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]).unwrap();
        let want = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let got = hex::encode(mac);
        assert_eq!(got, want);
    }

    #[test]
    fn ct_eq_compares() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
