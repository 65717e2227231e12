//! RSA for the auth-key handshake: server key fingerprints, RSA_PAD
//! encryption of `p_q_inner_data` (client), its decryption (server, including
//! the legacy SHA1 layout older clients send), and server key management.
//!
//! The arithmetic is plain modular exponentiation on `num-bigint`; the `rsa`
//! crate is used only to generate keys and to read and write PEM.
//! Decryption is not constant-time: it is meant for a local test server, not
//! for a production key exposed to timing measurements.

use std::fmt;

use num_bigint::BigUint;
use num_traits::One;
use rand_core::CryptoRngCore;
use rsa::pkcs1::{
    DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPrivateKey, EncodeRsaPublicKey,
};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, LineEnding};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use sha1::{Digest, Sha1};
use zeroize::{Zeroize, Zeroizing};

use crate::Error;
use crate::bigint::to_fixed_be;
use crate::hash::{ct_eq, sha1, sha256, sha256_concat};
use crate::ige::{ige_decrypt, ige_encrypt};
use crate::secret::{SecretArray, SecretBytes};

/// Largest `data` RSA_PAD accepts.
pub const RSA_PAD_MAX_DATA: usize = 144;
/// Size of `data_with_padding` in RSA_PAD (what the server decrypts to).
pub const RSA_PAD_DATA_WITH_PADDING: usize = 192;
/// Largest `data` the legacy SHA1 layout carries (255 - 20).
pub const LEGACY_MAX_DATA: usize = 235;

/// Bits of every key usable in the handshake.
const HANDSHAKE_KEY_BITS: u64 = 2048;
/// Bound on RSA_PAD's "retry while >= n" loop. Each try fails with
/// probability below 1/2 for a 2048-bit modulus, so reaching it means a
/// broken RNG, not bad luck.
const RSA_PAD_MAX_TRIES: usize = 128;

/// An RSA public key `(n, e)` as Telegram identifies it: by fingerprint.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    n: BigUint,
    e: BigUint,
    fingerprint: i64,
}

impl RsaPublicKey {
    /// Builds a key from big-endian modulus and exponent bytes (leading zeros
    /// allowed). The modulus must be odd and 512..=4096 bits; the exponent
    /// odd, at least 3 and below the modulus.
    pub fn from_components(n_be: &[u8], e_be: &[u8]) -> Result<Self, Error> {
        let n = BigUint::from_bytes_be(n_be);
        let e = BigUint::from_bytes_be(e_be);
        let bits = n.bits();
        if !(512..=4096).contains(&bits) || !n.bit(0) {
            return Err(Error::InvalidRsaKey(format!(
                "modulus must be odd and 512..=4096 bits, got {bits} bits"
            )));
        }
        if e < BigUint::from(3u32) || !e.bit(0) || e >= n {
            return Err(Error::InvalidRsaKey(
                "public exponent must be odd, >= 3 and below the modulus".into(),
            ));
        }
        let fingerprint = fingerprint_of(&n, &e);
        Ok(Self { n, e, fingerprint })
    }

    /// Parses a PEM public key: PKCS#1 (`BEGIN RSA PUBLIC KEY`, the form
    /// Telegram publishes) or SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`).
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let key = match rsa::RsaPublicKey::from_pkcs1_pem(pem) {
            Ok(key) => key,
            Err(pkcs1_err) => rsa::RsaPublicKey::from_public_key_pem(pem).map_err(|_| {
                Error::InvalidRsaKey(format!("not a PKCS#1 or SPKI RSA public key: {pkcs1_err}"))
            })?,
        };
        Self::from_components(&key.n().to_bytes_be(), &key.e().to_bytes_be())
    }

    /// Encodes the key as PKCS#1 PEM (`BEGIN RSA PUBLIC KEY`).
    pub fn to_pkcs1_pem(&self) -> Result<String, Error> {
        let key = rsa::RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(&self.n.to_bytes_be()),
            rsa::BigUint::from_bytes_be(&self.e.to_bytes_be()),
        )
        .map_err(|e| Error::RsaKeyEncoding(e.to_string()))?;
        key.to_pkcs1_pem(LineEnding::LF)
            .map_err(|e| Error::RsaKeyEncoding(e.to_string()))
    }

    /// The modulus, big-endian without leading zeros.
    pub fn n_be(&self) -> Vec<u8> {
        self.n.to_bytes_be()
    }

    /// The public exponent, big-endian without leading zeros.
    pub fn e_be(&self) -> Vec<u8> {
        self.e.to_bytes_be()
    }

    /// Size of the modulus in bits.
    pub fn bits(&self) -> u64 {
        self.n.bits()
    }

    /// Telegram's key fingerprint: the last 8 bytes of
    /// `SHA1(tl_bytes(n) ++ tl_bytes(e))` read as a little-endian `i64`,
    /// as it appears in `resPQ.server_public_key_fingerprints`.
    pub fn fingerprint(&self) -> i64 {
        self.fingerprint
    }

    /// RSA_PAD-encrypts `data` (at most 144 bytes, usually a serialized
    /// `p_q_inner_data_*`) for `req_DH_params.encrypted_data`.
    ///
    /// The key must have a 2048-bit modulus.
    pub fn encrypt_rsa_pad(
        &self,
        data: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<[u8; 256], Error> {
        self.require_handshake_size()?;
        if data.len() > RSA_PAD_MAX_DATA {
            return Err(Error::TooLong {
                what: "RSA_PAD data",
                max: RSA_PAD_MAX_DATA,
                actual: data.len(),
            });
        }
        let mut data_with_padding = Zeroizing::new([0u8; RSA_PAD_DATA_WITH_PADDING]);
        let (head, pad) = data_with_padding.split_at_mut(data.len());
        head.copy_from_slice(data);
        rng.fill_bytes(pad);

        for _ in 0..RSA_PAD_MAX_TRIES {
            let temp_key = SecretArray::<32>::random(rng);
            let mut key_aes_encrypted = Zeroizing::new([0u8; 256]);
            let (temp_key_xor, aes_part) = key_aes_encrypted.split_at_mut(32);
            {
                let (reversed, hash) = aes_part.split_at_mut(RSA_PAD_DATA_WITH_PADDING);
                for (dst, src) in reversed.iter_mut().zip(data_with_padding.iter().rev()) {
                    *dst = *src;
                }
                hash.copy_from_slice(&sha256_concat(&[
                    temp_key.as_bytes(),
                    data_with_padding.as_slice(),
                ]));
            }
            ige_encrypt(temp_key.as_bytes(), &[0u8; 32], aes_part)?;
            let aes_hash = sha256(aes_part);
            for ((dst, k), h) in temp_key_xor
                .iter_mut()
                .zip(temp_key.as_bytes())
                .zip(aes_hash)
            {
                *dst = k ^ h;
            }
            let m = BigUint::from_bytes_be(key_aes_encrypted.as_slice());
            if m >= self.n {
                continue;
            }
            return self.raw_encrypt(&m);
        }
        Err(Error::RetriesExhausted {
            what: "RSA_PAD (random block never below the modulus)",
        })
    }

    /// Encrypts `data` (at most 235 bytes) with the pre-RSA_PAD layout old
    /// clients use: `SHA1(data) ++ data ++ random padding` to 255 bytes, then
    /// raw RSA. Provided so a server's support for it can be tested.
    pub fn encrypt_legacy(
        &self,
        data: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<[u8; 256], Error> {
        self.require_handshake_size()?;
        if data.len() > LEGACY_MAX_DATA {
            return Err(Error::TooLong {
                what: "legacy RSA data",
                max: LEGACY_MAX_DATA,
                actual: data.len(),
            });
        }
        let mut block = Zeroizing::new([0u8; 255]);
        let (hash, rest) = block.split_at_mut(20);
        hash.copy_from_slice(&sha1(data));
        let (body, pad) = rest.split_at_mut(data.len());
        body.copy_from_slice(data);
        rng.fill_bytes(pad);
        // 255 bytes < 2^2040 < n for a 2048-bit modulus.
        self.raw_encrypt(&BigUint::from_bytes_be(block.as_slice()))
    }

    fn raw_encrypt(&self, m: &BigUint) -> Result<[u8; 256], Error> {
        to_fixed_be::<256>(&m.modpow(&self.e, &self.n))
            .ok_or_else(|| Error::InvalidRsaKey("modulus larger than 2048 bits".into()))
    }

    fn require_handshake_size(&self) -> Result<(), Error> {
        if self.bits() == HANDSHAKE_KEY_BITS {
            Ok(())
        } else {
            Err(Error::InvalidRsaKey(format!(
                "the handshake needs a 2048-bit modulus, this key has {} bits",
                self.bits()
            )))
        }
    }
}

impl fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaPublicKey")
            .field("bits", &self.bits())
            .field(
                "fingerprint",
                &format_args!("{:#018x}", self.fingerprint as u64),
            )
            .finish_non_exhaustive()
    }
}

/// Appends `data` as TL `bytes`: a 1-byte length (below 254) or 0xFE plus a
/// 3-byte little-endian length, the data, then zeros up to a multiple of 4.
fn push_tl_bytes(out: &mut Vec<u8>, data: &[u8]) {
    let len = data.len();
    let header = if len < 254 {
        out.push(len as u8);
        1
    } else {
        out.push(0xFE);
        out.extend_from_slice(&(len as u32).to_le_bytes()[..3]);
        4
    };
    out.extend_from_slice(data);
    let padding = (4 - (header + len) % 4) % 4;
    out.resize(out.len() + padding, 0);
}

fn fingerprint_of(n: &BigUint, e: &BigUint) -> i64 {
    let mut tl = Vec::with_capacity(272);
    push_tl_bytes(&mut tl, &n.to_bytes_be());
    push_tl_bytes(&mut tl, &e.to_bytes_be());
    let digest = sha1(&tl);
    let mut low = [0u8; 8];
    low.copy_from_slice(&digest[12..20]);
    i64::from_le_bytes(low)
}

/// What a server recovers from `req_DH_params.encrypted_data`.
#[derive(Debug, Clone)]
pub enum InnerDataPlain {
    /// RSA_PAD, hash verified: the 192-byte `data_with_padding`. The caller
    /// parses the TL object from its start and ignores the padding.
    RsaPad(SecretBytes),
    /// The legacy layout `SHA1(data) ++ data ++ padding`: `rest` is the 235
    /// bytes after the hash. The data length is only known once the caller
    /// has parsed the TL object; confirm it with
    /// [`InnerDataPlain::verify_data_len`].
    Legacy {
        /// SHA1 of the data, as sent.
        sha1: [u8; 20],
        /// Data followed by random padding.
        rest: SecretBytes,
    },
}

impl InnerDataPlain {
    /// The bytes to parse the TL inner data from.
    pub fn data(&self) -> &[u8] {
        match self {
            Self::RsaPad(data) => data,
            Self::Legacy { rest, .. } => rest,
        }
    }

    /// Confirms that the first `len` bytes of [`Self::data`] are the
    /// authenticated data: for the legacy layout, their SHA1 must match;
    /// RSA_PAD was already authenticated as a whole, so only the bound is
    /// checked.
    pub fn verify_data_len(&self, len: usize) -> Result<(), Error> {
        match self {
            Self::RsaPad(data) => {
                if len <= data.len() {
                    Ok(())
                } else {
                    Err(Error::TooLong {
                        what: "RSA_PAD inner data",
                        max: data.len(),
                        actual: len,
                    })
                }
            }
            Self::Legacy {
                sha1: expected,
                rest,
            } => {
                let prefix = rest.get(..len).ok_or(Error::LegacyHashMismatch { len })?;
                if ct_eq(&sha1(prefix), expected) {
                    Ok(())
                } else {
                    Err(Error::LegacyHashMismatch { len })
                }
            }
        }
    }
}

/// An RSA private key for the server side of the handshake (2048 bits).
pub struct RsaPrivateKey {
    inner: rsa::RsaPrivateKey,
    public: RsaPublicKey,
}

impl RsaPrivateKey {
    /// Generates a new 2048-bit key with e = 65537.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Result<Self, Error> {
        let inner = rsa::RsaPrivateKey::new(rng, 2048)
            .map_err(|e| Error::RsaKeyGeneration(e.to_string()))?;
        Self::from_inner(inner)
    }

    /// Parses a private key PEM: PKCS#1 (`BEGIN RSA PRIVATE KEY`) or
    /// unencrypted PKCS#8 (`BEGIN PRIVATE KEY`). The modulus must be 2048 bits.
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let inner = match rsa::RsaPrivateKey::from_pkcs1_pem(pem) {
            Ok(key) => key,
            Err(pkcs1_err) => rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|_| {
                Error::InvalidRsaKey(format!(
                    "not a PKCS#1 or PKCS#8 RSA private key: {pkcs1_err}"
                ))
            })?,
        };
        Self::from_inner(inner)
    }

    fn from_inner(inner: rsa::RsaPrivateKey) -> Result<Self, Error> {
        inner
            .validate()
            .map_err(|e| Error::InvalidRsaKey(e.to_string()))?;
        let public =
            RsaPublicKey::from_components(&inner.n().to_bytes_be(), &inner.e().to_bytes_be())?;
        public.require_handshake_size()?;
        Ok(Self { inner, public })
    }

    /// Encodes the key as PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`); the string is
    /// wiped when dropped.
    pub fn to_pkcs1_pem(&self) -> Result<Zeroizing<String>, Error> {
        self.inner
            .to_pkcs1_pem(LineEnding::LF)
            .map_err(|e| Error::RsaKeyEncoding(e.to_string()))
    }

    /// The matching public key.
    pub fn public_key(&self) -> &RsaPublicKey {
        &self.public
    }

    /// Decrypts `req_DH_params.encrypted_data` (at most 256 bytes, read as a
    /// big-endian number) and undoes the padding: RSA_PAD if its hash checks
    /// out, else the legacy SHA1 layout if some prefix of the data matches
    /// the SHA1 in front. Anything else is an error.
    pub fn decrypt_inner_data(&self, encrypted: &[u8]) -> Result<InnerDataPlain, Error> {
        if encrypted.len() > 256 {
            return Err(Error::TooLong {
                what: "RSA ciphertext",
                max: 256,
                actual: encrypted.len(),
            });
        }
        let c = BigUint::from_bytes_be(encrypted);
        if c >= self.public.n {
            return Err(Error::RsaCiphertextOutOfRange);
        }
        let m = self.raw_decrypt(&c)?;
        if let Some(data) = unpad_rsa_pad(&m) {
            return Ok(InnerDataPlain::RsaPad(data));
        }
        if let Some((sha1, rest)) = unpad_legacy(&m) {
            return Ok(InnerDataPlain::Legacy { sha1, rest });
        }
        Err(Error::RsaInnerDataInvalid)
    }

    /// `c^d mod n` with the CRT when the key has two primes, checked by
    /// re-encrypting.
    #[expect(
        clippy::many_single_char_names,
        reason = "the textbook names of RSA-CRT"
    )]
    fn raw_decrypt(&self, c: &BigUint) -> Result<Zeroizing<[u8; 256]>, Error> {
        let n = &self.public.n;
        let to_num = |x: &rsa::BigUint| BigUint::from_bytes_be(&Zeroizing::new(x.to_bytes_be()));
        let m = match self.inner.primes() {
            [p, q] => {
                let (p, q) = (to_num(p), to_num(q));
                let d = to_num(self.inner.d());
                let one = BigUint::one();
                let dp = &d % (&p - &one);
                let dq = &d % (&q - &one);
                // p is prime, so q^(p-2) is q's inverse mod p.
                let q_inv = (&q % &p).modpow(&(&p - 2u32), &p);
                let m1 = c.modpow(&dp, &p);
                let m2 = c.modpow(&dq, &q);
                let h = (&q_inv * ((&m1 + &p) - (&m2 % &p))) % &p;
                m2 + h * &q
            }
            _ => c.modpow(&to_num(self.inner.d()), n),
        };
        // Re-encrypting catches a key whose parts do not fit together.
        if &m.modpow(&self.public.e, n) != c {
            return Err(Error::InvalidRsaKey(
                "private key does not match its modulus".into(),
            ));
        }
        to_fixed_be::<256>(&m)
            .map(Zeroizing::new)
            .ok_or_else(|| Error::InvalidRsaKey("modulus larger than 2048 bits".into()))
    }
}

impl fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaPrivateKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// Undoes RSA_PAD: recover temp_key, IGE-decrypt, check the SHA256.
fn unpad_rsa_pad(m: &[u8; 256]) -> Option<SecretBytes> {
    let (temp_key_xor, aes_encrypted) = m.split_at(32);
    let aes_hash = sha256(aes_encrypted);
    let mut key = [0u8; 32];
    for ((dst, x), h) in key.iter_mut().zip(temp_key_xor).zip(aes_hash) {
        *dst = x ^ h;
    }
    let temp_key = SecretArray::new(key);
    key.zeroize();

    let mut data_with_hash = Zeroizing::new([0u8; 224]);
    data_with_hash.copy_from_slice(aes_encrypted);
    ige_decrypt(
        temp_key.as_bytes(),
        &[0u8; 32],
        data_with_hash.as_mut_slice(),
    )
    .ok()?;
    let (reversed, hash) = data_with_hash.split_at(RSA_PAD_DATA_WITH_PADDING);
    let data: Vec<u8> = reversed.iter().rev().copied().collect();
    let data = SecretBytes::new(data);
    let expected = sha256_concat(&[temp_key.as_bytes(), &data]);
    ct_eq(&expected, hash).then_some(data)
}

/// Recognizes the legacy layout: a 255-byte block (so the first byte of the
/// 256-byte number is zero) whose leading SHA1 matches some prefix of the
/// rest. Trying every prefix costs one SHA1 finalization per length, which is
/// cheap next to the RSA operation and lets garbage be rejected here.
fn unpad_legacy(m: &[u8; 256]) -> Option<([u8; 20], SecretBytes)> {
    let (&first, block) = m.split_first()?;
    if first != 0 {
        return None;
    }
    let (hash, rest) = block.split_at(20);
    let mut hasher = Sha1::new();
    let mut found = ct_eq(&hasher.clone().finalize(), hash);
    for byte in rest {
        if found {
            break;
        }
        hasher.update([*byte]);
        found = ct_eq(&hasher.clone().finalize(), hash);
    }
    if !found {
        return None;
    }
    let expected: [u8; 20] = hash.try_into().ok()?;
    Some((expected, SecretBytes::from_slice(rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tl_bytes_encoding() {
        let mut out = Vec::new();
        push_tl_bytes(&mut out, &[1, 2, 3]);
        assert_eq!(out, [3, 1, 2, 3]);
        out.clear();
        push_tl_bytes(&mut out, &[9; 4]);
        assert_eq!(out, [4, 9, 9, 9, 9, 0, 0, 0]);
        out.clear();
        push_tl_bytes(&mut out, &[7; 256]);
        assert_eq!(&out[..4], &[0xFE, 0x00, 0x01, 0x00]);
        assert_eq!(out.len(), 260);
        out.clear();
        push_tl_bytes(&mut out, &[7; 254]);
        assert_eq!(&out[..4], &[0xFE, 254, 0, 0]);
        assert_eq!(out.len(), 260);
    }

    #[test]
    fn components_are_validated() {
        let n = [0xFFu8; 256];
        assert!(RsaPublicKey::from_components(&n, &[1, 0, 1]).is_ok());
        assert!(RsaPublicKey::from_components(&n, &[2]).is_err());
        assert!(RsaPublicKey::from_components(&n, &[1]).is_err());
        assert!(RsaPublicKey::from_components(&[0xFE; 256], &[3]).is_err());
        assert!(RsaPublicKey::from_components(&[0xFF; 8], &[3]).is_err());
        assert!(RsaPublicKey::from_components(&[], &[]).is_err());
        let key = RsaPublicKey::from_components(&[0, 0, 0xFF, 0xFF, 0xFF], &[3]);
        assert!(key.is_err(), "24-bit modulus is too small");
        let key = RsaPublicKey::from_components(
            &[&[0u8, 0][..], &[0xFF; 128][..]].concat(),
            &[0, 1, 0, 1],
        )
        .unwrap();
        assert_eq!(key.n_be().len(), 128);
        assert_eq!(key.e_be(), [1, 0, 1]);
    }

    #[test]
    fn small_key_refuses_handshake_encryption() {
        let key = RsaPublicKey::from_components(&[0xFF; 128], &[1, 0, 1]).unwrap();
        let mut rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(1);
        assert!(matches!(
            key.encrypt_rsa_pad(b"x", &mut rng),
            Err(Error::InvalidRsaKey(_))
        ));
    }

    #[test]
    fn legacy_verify_len() {
        let data = b"hello world";
        let mut rest = data.to_vec();
        rest.resize(235, 0xEE);
        let plain = InnerDataPlain::Legacy {
            sha1: sha1(data),
            rest: SecretBytes::new(rest),
        };
        assert!(plain.verify_data_len(data.len()).is_ok());
        assert!(plain.verify_data_len(data.len() + 1).is_err());
        assert!(plain.verify_data_len(1000).is_err());
        assert_eq!(&plain.data()[..11], data);
    }
}
