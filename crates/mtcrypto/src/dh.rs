//! Diffie–Hellman for the auth-key handshake (and the group checks SRP
//! reuses): parameter validation, key pairs for both roles, the shared key.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Mutex, OnceLock, PoisonError};

use num_bigint::BigUint;
use num_traits::{CheckedSub, One, ToPrimitive};
use rand_core::CryptoRngCore;

use crate::Error;
use crate::auth_key::AuthKey;
use crate::bigint::to_fixed_be;
use crate::hash::sha256;
use crate::prime::{has_small_factor, is_probable_prime};
use crate::secret::SecretArray;

/// Telegram's well-known 2048-bit safe prime (sent in `server_DH_inner_data`
/// by the production servers; valid with g = 3, 4 and 7).
pub const TELEGRAM_DH_PRIME: [u8; 256] = [
    0xC7, 0x1C, 0xAE, 0xB9, 0xC6, 0xB1, 0xC9, 0x04, 0x8E, 0x6C, 0x52, 0x2F, 0x70, 0xF1, 0x3F, 0x73,
    0x98, 0x0D, 0x40, 0x23, 0x8E, 0x3E, 0x21, 0xC1, 0x49, 0x34, 0xD0, 0x37, 0x56, 0x3D, 0x93, 0x0F,
    0x48, 0x19, 0x8A, 0x0A, 0xA7, 0xC1, 0x40, 0x58, 0x22, 0x94, 0x93, 0xD2, 0x25, 0x30, 0xF4, 0xDB,
    0xFA, 0x33, 0x6F, 0x6E, 0x0A, 0xC9, 0x25, 0x13, 0x95, 0x43, 0xAE, 0xD4, 0x4C, 0xCE, 0x7C, 0x37,
    0x20, 0xFD, 0x51, 0xF6, 0x94, 0x58, 0x70, 0x5A, 0xC6, 0x8C, 0xD4, 0xFE, 0x6B, 0x6B, 0x13, 0xAB,
    0xDC, 0x97, 0x46, 0x51, 0x29, 0x69, 0x32, 0x84, 0x54, 0xF1, 0x8F, 0xAF, 0x8C, 0x59, 0x5F, 0x64,
    0x24, 0x77, 0xFE, 0x96, 0xBB, 0x2A, 0x94, 0x1D, 0x5B, 0xCD, 0x1D, 0x4A, 0xC8, 0xCC, 0x49, 0x88,
    0x07, 0x08, 0xFA, 0x9B, 0x37, 0x8E, 0x3C, 0x4F, 0x3A, 0x90, 0x60, 0xBE, 0xE6, 0x7C, 0xF9, 0xA4,
    0xA4, 0xA6, 0x95, 0x81, 0x10, 0x51, 0x90, 0x7E, 0x16, 0x27, 0x53, 0xB5, 0x6B, 0x0F, 0x6B, 0x41,
    0x0D, 0xBA, 0x74, 0xD8, 0xA8, 0x4B, 0x2A, 0x14, 0xB3, 0x14, 0x4E, 0x0E, 0xF1, 0x28, 0x47, 0x54,
    0xFD, 0x17, 0xED, 0x95, 0x0D, 0x59, 0x65, 0xB4, 0xB9, 0xDD, 0x46, 0x58, 0x2D, 0xB1, 0x17, 0x8D,
    0x16, 0x9C, 0x6B, 0xC4, 0x65, 0xB0, 0xD6, 0xFF, 0x9C, 0xA3, 0x92, 0x8F, 0xEF, 0x5B, 0x9A, 0xE4,
    0xE4, 0x18, 0xFC, 0x15, 0xE8, 0x3E, 0xBE, 0xA0, 0xF8, 0x7F, 0xA9, 0xFF, 0x5E, 0xED, 0x70, 0x05,
    0x0D, 0xED, 0x28, 0x49, 0xF4, 0x7B, 0xF9, 0x59, 0xD9, 0x56, 0x85, 0x0C, 0xE9, 0x29, 0x85, 0x1F,
    0x0D, 0x81, 0x15, 0xF6, 0x35, 0xB1, 0x05, 0xEE, 0x2E, 0x4E, 0x15, 0xD0, 0x4B, 0x24, 0x54, 0xBF,
    0x6F, 0x4F, 0xAD, 0xF0, 0x34, 0xB1, 0x04, 0x03, 0x11, 0x9C, 0xD8, 0xE3, 0xB9, 0x2F, 0xCC, 0x5B,
];

/// Miller–Rabin rounds for (p-1)/2; p itself then follows from one
/// Pocklington step.
const MILLER_RABIN_ROUNDS: u32 = 40;
/// Bound on the draw-until-in-range loops. A fresh random exponent fails the
/// range check with probability about 2^-63.
const MAX_TRIES: usize = 64;

/// Safe primes already proven here, keyed by SHA-256 of their 256-byte form.
fn checked_primes() -> &'static Mutex<HashSet<[u8; 32]>> {
    static CACHE: OnceLock<Mutex<HashSet<[u8; 32]>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Validates DH parameters from a server: `dh_prime` must be a 2048-bit safe
/// prime and `g` (2..=7) must generate the subgroup of order (p-1)/2, which
/// Telegram states as a condition on p mod a small number per g.
///
/// The primality proof takes a noticeable fraction of a second, so primes
/// that passed are remembered for the life of the process, and Telegram's
/// own prime is known good from the start.
pub fn check_dh_params(dh_prime_be: &[u8], g: u32) -> Result<(), Error> {
    let p = BigUint::from_bytes_be(dh_prime_be);
    check_dh_params_num(&p, g)
}

fn check_dh_params_num(p: &BigUint, g: u32) -> Result<(), Error> {
    if p.bits() != 2048 {
        return Err(Error::DhPrimeSize { bits: p.bits() });
    }
    // A remainder below m always fits in u32.
    let rem = |m: u32| (p % m).to_u32().unwrap_or(u32::MAX);
    let fits = match g {
        2 => rem(8) == 7,
        3 => rem(3) == 2,
        4 => true,
        5 => matches!(rem(5), 1 | 4),
        6 => matches!(rem(24), 19 | 23),
        7 => matches!(rem(7), 3 | 5 | 6),
        _ => return Err(Error::DhGeneratorOutOfRange { g }),
    };
    if !fits {
        return Err(Error::DhGeneratorMismatch { g });
    }
    let p_be = to_fixed_be::<256>(p).ok_or(Error::DhPrimeSize { bits: p.bits() })?;
    if p_be == TELEGRAM_DH_PRIME {
        return Ok(());
    }
    let cache_key = sha256(&p_be);
    let cache = checked_primes();
    if cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contains(&cache_key)
    {
        return Ok(());
    }
    if !is_safe_prime(p) {
        return Err(Error::DhPrimeNotSafe);
    }
    cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(cache_key);
    Ok(())
}

/// `p` and `q = (p-1)/2` both prime. Only q needs Miller–Rabin: with q prime
/// and q > sqrt(p), Pocklington's criterion proves p prime when
/// 2^(p-1) = 1 (mod p) and gcd(2^2 - 1, p) = 1 (3 does not divide p).
fn is_safe_prime(p: &BigUint) -> bool {
    // p = 2q + 1 with q odd means p = 3 (mod 4).
    if !p.bit(0) || !p.bit(1) {
        return false;
    }
    let q: BigUint = p >> 1u32;
    if has_small_factor(p) || has_small_factor(&q) {
        return false;
    }
    if !is_probable_prime(&q, MILLER_RABIN_ROUNDS) {
        return false;
    }
    let p_minus_1 = p - 1u32;
    BigUint::from(2u32).modpow(&p_minus_1, p).is_one()
}

/// Checks a DH public value (g_a, g_b, or SRP's A/B) against the prime:
/// `1 < value < p - 1` and `2^1984 <= value <= p - 2^1984`.
pub fn check_g_a(g_a: &[u8], dh_prime: &[u8]) -> Result<(), Error> {
    check_public_num(
        &BigUint::from_bytes_be(g_a),
        &BigUint::from_bytes_be(dh_prime),
    )
}

pub(crate) fn check_public_num(value: &BigUint, p: &BigUint) -> Result<(), Error> {
    let one = BigUint::one();
    let bound = BigUint::one() << (2048u32 - 64);
    let p_minus_1 = p.checked_sub(&one).ok_or(Error::DhValueOutOfRange)?;
    let upper = p.checked_sub(&bound).ok_or(Error::DhValueOutOfRange)?;
    if value > &one && value < &p_minus_1 && value >= &bound && value <= &upper {
        Ok(())
    } else {
        Err(Error::DhValueOutOfRange)
    }
}

/// Validated DH parameters: a 2048-bit safe prime and a matching generator.
#[derive(Clone, PartialEq, Eq)]
pub struct DhParams {
    p: BigUint,
    p_be: [u8; 256],
    g: u32,
}

impl DhParams {
    /// Checks `(dh_prime, g)` with [`check_dh_params`] and keeps them.
    pub fn new(dh_prime_be: &[u8], g: u32) -> Result<Self, Error> {
        let p = BigUint::from_bytes_be(dh_prime_be);
        check_dh_params_num(&p, g)?;
        let p_be = to_fixed_be::<256>(&p).ok_or(Error::DhPrimeSize { bits: p.bits() })?;
        Ok(Self { p, p_be, g })
    }

    /// Telegram's prime with g = 3, the parameters its servers send.
    pub fn telegram() -> Self {
        Self {
            p: BigUint::from_bytes_be(&TELEGRAM_DH_PRIME),
            p_be: TELEGRAM_DH_PRIME,
            g: 3,
        }
    }

    /// The prime, 256 bytes big-endian.
    pub fn prime_be(&self) -> &[u8; 256] {
        &self.p_be
    }

    /// The generator.
    pub fn g(&self) -> u32 {
        self.g
    }

    /// Checks a peer's public value with [`check_g_a`].
    pub fn check_public(&self, value: &[u8]) -> Result<(), Error> {
        check_public_num(&BigUint::from_bytes_be(value), &self.p)
    }

    pub(crate) fn p(&self) -> &BigUint {
        &self.p
    }

    /// `g^exponent mod p` as 256 big-endian bytes.
    pub(crate) fn pow_g(&self, exponent: &BigUint) -> [u8; 256] {
        let value = BigUint::from(self.g).modpow(exponent, &self.p);
        // Below p, so it always fits 256 bytes.
        to_fixed_be::<256>(&value).unwrap_or([0; 256])
    }
}

impl fmt::Debug for DhParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DhParams")
            .field("g", &self.g)
            .field("telegram_prime", &(self.p_be == TELEGRAM_DH_PRIME))
            .finish_non_exhaustive()
    }
}

/// One side's DH key pair: a secret 2048-bit exponent and `g^secret mod p`.
///
/// The client uses it as `(b, g_b)`, the server as `(a, g_a)`. The secret is
/// wiped on drop and never printed.
#[derive(Clone)]
pub struct DhKeyPair {
    secret: SecretArray<256>,
    public: [u8; 256],
}

impl DhKeyPair {
    /// Draws a random 2048-bit exponent whose public value passes
    /// [`check_g_a`] (redrawing in the rare case it does not).
    pub fn generate(params: &DhParams, rng: &mut impl CryptoRngCore) -> Result<Self, Error> {
        for _ in 0..MAX_TRIES {
            let secret = SecretArray::<256>::random(rng);
            if let Ok(pair) = Self::from_secret(params, secret.as_bytes()) {
                return Ok(pair);
            }
        }
        Err(Error::RetriesExhausted {
            what: "DH exponent",
        })
    }

    /// Uses a given exponent (big-endian, at most 256 bytes), e.g. to replay a
    /// recorded handshake. Fails if the public value is out of range.
    pub fn from_secret(params: &DhParams, secret_be: &[u8]) -> Result<Self, Error> {
        let mut secret = [0u8; 256];
        let start = 256usize
            .checked_sub(secret_be.len())
            .ok_or(Error::TooLong {
                what: "DH secret exponent",
                max: 256,
                actual: secret_be.len(),
            })?;
        if let Some(dst) = secret.get_mut(start..) {
            dst.copy_from_slice(secret_be);
        }
        let secret = SecretArray::new(secret);
        let public = params.pow_g(&BigUint::from_bytes_be(secret.as_bytes()));
        params.check_public(&public)?;
        Ok(Self { secret, public })
    }

    /// The public value (`g_a` or `g_b`), 256 bytes big-endian.
    pub fn public(&self) -> &[u8; 256] {
        &self.public
    }

    /// `auth_key = peer_public^secret mod p`, after checking `peer_public`
    /// with [`check_g_a`].
    pub fn compute_auth_key(
        &self,
        params: &DhParams,
        peer_public: &[u8],
    ) -> Result<AuthKey, Error> {
        let peer = BigUint::from_bytes_be(peer_public);
        check_public_num(&peer, params.p())?;
        let shared = peer.modpow(&BigUint::from_bytes_be(self.secret.as_bytes()), params.p());
        let bytes = to_fixed_be::<256>(&shared).ok_or(Error::DhValueOutOfRange)?;
        Ok(AuthKey::from_bytes(bytes))
    }
}

impl fmt::Debug for DhKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DhKeyPair { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn telegram_p() -> BigUint {
        BigUint::from_bytes_be(&TELEGRAM_DH_PRIME)
    }

    #[test]
    fn telegram_prime_is_a_safe_prime() {
        // Proves the hard-coded constant instead of trusting it.
        assert!(is_safe_prime(&telegram_p()));
    }

    #[test]
    fn generator_conditions() {
        // p mod 8 = 3, mod 3 = 2, mod 5 = 3, mod 24 = 11, mod 7 = 6.
        for (g, ok) in [
            (2, false),
            (3, true),
            (4, true),
            (5, false),
            (6, false),
            (7, true),
        ] {
            assert_eq!(
                check_dh_params(&TELEGRAM_DH_PRIME, g).is_ok(),
                ok,
                "g = {g}"
            );
        }
        assert_eq!(
            check_dh_params(&TELEGRAM_DH_PRIME, 8),
            Err(Error::DhGeneratorOutOfRange { g: 8 })
        );
        assert_eq!(
            check_dh_params(&TELEGRAM_DH_PRIME, 1),
            Err(Error::DhGeneratorOutOfRange { g: 1 })
        );
    }

    #[test]
    fn rejects_wrong_size_and_composites() {
        assert!(matches!(
            check_dh_params(&TELEGRAM_DH_PRIME[1..], 3),
            Err(Error::DhPrimeSize { .. })
        ));
        assert!(matches!(
            check_dh_params(&[], 3),
            Err(Error::DhPrimeSize { bits: 0 })
        ));
        // p + 12 keeps p mod 3 and p mod 4, so only the primality test can
        // reject it.
        let p = telegram_p() + 12u32;
        assert_eq!(
            check_dh_params(&p.to_bytes_be(), 3),
            Err(Error::DhPrimeNotSafe)
        );
        // 2^2048 - 1 is divisible by 3 (rejected quickly by g=4, no residue rule).
        let p = (BigUint::one() << 2048u32) - 1u32;
        assert_eq!(
            check_dh_params(&p.to_bytes_be(), 4),
            Err(Error::DhPrimeNotSafe)
        );
    }

    /// RFC 3526 group 14: another 2048-bit safe prime (p = 7 mod 8, so g = 2).
    const MODP_2048_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1\
        29024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437\
        4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5\
        AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F\
        83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C\
        32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718\
        3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF";

    #[test]
    fn other_safe_prime_passes_and_is_cached() {
        let p = hex::decode(MODP_2048_HEX.split_whitespace().collect::<String>()).unwrap();
        assert_eq!(p.len(), 256);
        let key = sha256(&p);
        let started = std::time::Instant::now();
        check_dh_params(&p, 2).unwrap();
        let first = started.elapsed();
        assert!(checked_primes().lock().unwrap().contains(&key));
        let started = std::time::Instant::now();
        check_dh_params(&p, 2).unwrap();
        let second = started.elapsed();
        eprintln!("safe-prime check: first {first:?}, cached {second:?}");
        // The generator rules still apply to a cached prime (this one fits
        // every g in 2..=7).
        for g in 2..=7 {
            check_dh_params(&p, g).unwrap();
        }
        assert_eq!(
            check_dh_params(&p, 9),
            Err(Error::DhGeneratorOutOfRange { g: 9 })
        );
    }

    #[test]
    fn public_value_range() {
        let p = telegram_p();
        let p_be = TELEGRAM_DH_PRIME;
        let bound = BigUint::one() << 1984u32;
        let ok = |v: &BigUint| check_g_a(&v.to_bytes_be(), &p_be).is_ok();
        assert!(ok(&bound));
        assert!(!ok(&(&bound - 1u32)));
        assert!(ok(&(&p - &bound)));
        assert!(!ok(&(&p - &bound + 1u32)));
        assert!(!ok(&BigUint::one()));
        assert!(!ok(&(&p - 1u32)));
        assert!(!ok(&p));
        // A tiny or empty prime must not underflow.
        assert!(check_g_a(&[5], &[7]).is_err());
        assert!(check_g_a(&[], &[]).is_err());
    }

    #[test]
    fn both_sides_agree() {
        let params = DhParams::telegram();
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let server = DhKeyPair::generate(&params, &mut rng).unwrap();
        let client = DhKeyPair::generate(&params, &mut rng).unwrap();
        let k1 = server.compute_auth_key(&params, client.public()).unwrap();
        let k2 = client.compute_auth_key(&params, server.public()).unwrap();
        assert_eq!(k1, k2);
        assert!(client.compute_auth_key(&params, &[1]).is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let params = DhParams::telegram();
        let pair = DhKeyPair::from_secret(&params, &[0x77; 256]).unwrap();
        assert_eq!(format!("{pair:?}"), "DhKeyPair { .. }");
    }
}
