//! Primality testing for big integers (used by the DH prime checks).
//!
//! Miller–Rabin with bases derived from SHA-256 of the candidate: the test
//! is deterministic (no RNG needed, results can be cached), yet a malicious
//! server cannot pick a composite for known bases, since changing the
//! candidate changes every base; forging one passing composite would take on
//! the order of 4^rounds tries.

use num_bigint::BigUint;
use num_traits::{One, ToPrimitive, Zero};

use crate::hash::sha256_concat;

/// Odd numbers up to this bound are tried as divisors before Miller–Rabin.
const TRIAL_DIVISION_BOUND: u32 = 2000;

/// `true` if `n` has an odd divisor `d` with `3 <= d < 2000, d != n`, or is
/// even and not 2 — i.e. it is certainly composite (or 0/1).
pub(crate) fn has_small_factor(n: &BigUint) -> bool {
    if n <= &BigUint::one() {
        return true;
    }
    if !n.bit(0) {
        return n != &BigUint::from(2u32);
    }
    (3..TRIAL_DIVISION_BOUND)
        .step_by(2)
        .any(|d| (n % d).is_zero() && n != &BigUint::from(d))
}

/// Miller–Rabin with `rounds` bases, after trial division. Small inputs
/// (below 2000) are answered exactly by trial division.
#[expect(
    clippy::many_single_char_names,
    reason = "the textbook names of Miller–Rabin"
)]
pub(crate) fn is_probable_prime(n: &BigUint, rounds: u32) -> bool {
    if has_small_factor(n) {
        return false;
    }
    // No factor below the bound and below its square: prime.
    if n.to_u64()
        .is_some_and(|v| v < u64::from(TRIAL_DIVISION_BOUND).pow(2))
    {
        return true;
    }
    let one = BigUint::one();
    let n_minus_1 = n - &one;
    let s = n_minus_1.trailing_zeros().unwrap_or(0);
    let d = &n_minus_1 >> s;
    let n_minus_3 = n - 3u32;
    let seed = n.to_bytes_be();

    'bases: for round in 0..rounds {
        // Base in [2, n-2].
        let a = derive_base(&seed, round, n.bits()) % &n_minus_3 + 2u32;
        let mut x = a.modpow(&d, n);
        if x == one || x == n_minus_1 {
            continue;
        }
        for _ in 1..s {
            x = &x * &x % n;
            if x == n_minus_1 {
                continue 'bases;
            }
            if x == one {
                return false;
            }
        }
        return false;
    }
    true
}

/// A pseudo-random number of `bits + 64` bits from SHA-256 in counter mode
/// over `(seed, round)`; the extra 64 bits make the reduction nearly uniform.
fn derive_base(seed: &[u8], round: u32, bits: u64) -> BigUint {
    let bytes_needed = usize::try_from(bits.div_ceil(8) + 8).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(bytes_needed + 32);
    let mut block = 0u32;
    while out.len() < bytes_needed {
        out.extend_from_slice(&sha256_concat(&[
            b"mtcrypto-mr-base",
            seed,
            &round.to_le_bytes(),
            &block.to_le_bytes(),
        ]));
        block = block.wrapping_add(1);
    }
    out.truncate(bytes_needed);
    BigUint::from_bytes_be(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_is_prime(n: u64) -> bool {
        n >= 2
            && (2..n)
                .take_while(|d| d * d <= n)
                .all(|d| !n.is_multiple_of(d))
    }

    #[test]
    fn agrees_with_naive_on_small_numbers() {
        for n in 0u64..5000 {
            assert_eq!(
                is_probable_prime(&BigUint::from(n), 8),
                naive_is_prime(n),
                "n = {n}"
            );
        }
    }

    #[test]
    fn carmichael_and_strong_pseudoprimes_rejected() {
        // Carmichael numbers and strong pseudoprimes to small bases.
        for n in [
            561u64,
            41041,
            825_265,
            3_215_031_751,
            3_825_123_056_546_413_051,
        ] {
            assert!(!is_probable_prime(&BigUint::from(n), 16), "n = {n}");
        }
    }

    #[test]
    fn known_large_primes() {
        // 2^127 - 1 and 2^521 - 1 are Mersenne primes.
        let m127 = (BigUint::one() << 127u32) - 1u32;
        let m521 = (BigUint::one() << 521u32) - 1u32;
        assert!(is_probable_prime(&m127, 16));
        assert!(is_probable_prime(&m521, 16));
        // Product of two large primes.
        assert!(!is_probable_prime(&(&m127 * &m127), 16));
        assert!(!is_probable_prime(&((BigUint::one() << 128u32) + 1u32), 16));
    }
}
