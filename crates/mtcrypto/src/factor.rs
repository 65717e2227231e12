//! The handshake's proof of work: factor `pq` into primes `p < q` (client),
//! and make such a `pq` (server).

use num_integer::Integer;
use rand_core::CryptoRngCore;

use crate::Error;

/// Smallest prime the server picks: top bit of a u32 set.
const PRIME_LOW: u32 = 1 << 31;
/// Largest prime the server picks: floor(sqrt(2^63 - 1)), so that the product
/// of two stays below 2^63.
const PRIME_HIGH: u32 = 3_037_000_499;
/// Pollard–Brent gives up on a polynomial once its cycle search passes this
/// length. A composite u64 has a factor below 2^32, which rho finds after
/// about 2^16 steps, so this is far beyond what a good polynomial needs.
const RHO_MAX_CYCLE: u64 = 1 << 22;
/// Polynomials `x^2 + c` tried before giving up.
const RHO_MAX_POLYNOMIALS: u64 = 32;
/// Draws allowed when searching for a random prime (about 1 in 11 odd
/// numbers near 2^31 is prime).
const PRIME_SEARCH_TRIES: usize = 100_000;

/// A `pq` challenge with its factors, as the server generates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pq {
    /// The product, below 2^63.
    pub pq: u64,
    /// The smaller prime factor.
    pub p: u32,
    /// The larger prime factor.
    pub q: u32,
}

/// Splits `pq` into two primes `p < q` that fit in 32 bits.
///
/// Anything else (0, 1, a prime, a square, three factors, a factor above
/// 2^32) is an error, and the search is bounded.
pub fn factorize_pq(pq: u64) -> Result<(u32, u32), Error> {
    let not_semiprime = Error::NotSemiprime { pq };
    let factor = find_factor(pq).ok_or(not_semiprime.clone())?;
    let cofactor = pq / factor;
    let (p, q) = (factor.min(cofactor), factor.max(cofactor));
    if p == q || !is_prime_u64(p) || !is_prime_u64(q) {
        return Err(not_semiprime);
    }
    match (u32::try_from(p), u32::try_from(q)) {
        (Ok(p), Ok(q)) => Ok((p, q)),
        _ => Err(not_semiprime),
    }
}

/// [`factorize_pq`] on the big-endian bytes of `resPQ.pq` (at most 8).
pub fn factorize_pq_be(pq_be: &[u8]) -> Result<(u32, u32), Error> {
    if pq_be.len() > 8 {
        return Err(Error::TooLong {
            what: "pq",
            max: 8,
            actual: pq_be.len(),
        });
    }
    let mut buf = [0u8; 8];
    if let Some(dst) = buf.get_mut(8 - pq_be.len()..) {
        dst.copy_from_slice(pq_be);
    }
    factorize_pq(u64::from_be_bytes(buf))
}

/// Makes a new challenge: two distinct random primes in
/// `2^31 ..= floor(sqrt(2^63 - 1))` and their product, which is below 2^63.
pub fn generate_pq(rng: &mut impl CryptoRngCore) -> Result<Pq, Error> {
    let p = random_prime(rng)?;
    let mut q = random_prime(rng)?;
    // A collision has probability ~2^-26; redraw rather than fail.
    for _ in 0..PRIME_SEARCH_TRIES {
        if q != p {
            break;
        }
        q = random_prime(rng)?;
    }
    let (p, q) = if p < q { (p, q) } else { (q, p) };
    let pq = u64::from(p)
        .checked_mul(u64::from(q))
        .filter(|&pq| pq < 1 << 63 && p != q)
        .ok_or(Error::RetriesExhausted { what: "pq" })?;
    Ok(Pq { pq, p, q })
}

fn random_prime(rng: &mut impl CryptoRngCore) -> Result<u32, Error> {
    let span = PRIME_HIGH - PRIME_LOW + 1;
    for _ in 0..PRIME_SEARCH_TRIES {
        // The modulo bias is irrelevant here: the primes only need to be
        // unpredictable, not exactly uniform.
        let candidate = (PRIME_LOW + rng.next_u32() % span) | 1;
        if candidate <= PRIME_HIGH && is_prime_u64(u64::from(candidate)) {
            return Ok(candidate);
        }
    }
    Err(Error::RetriesExhausted {
        what: "32-bit prime",
    })
}

fn mul_mod(a: u64, b: u64, m: u64) -> u64 {
    (u128::from(a) * u128::from(b) % u128::from(m)) as u64
}

fn pow_mod(mut base: u64, mut exp: u64, m: u64) -> u64 {
    let mut acc = 1 % m;
    base %= m;
    while exp > 0 {
        if exp & 1 == 1 {
            acc = mul_mod(acc, base, m);
        }
        base = mul_mod(base, base, m);
        exp >>= 1;
    }
    acc
}

/// Deterministic Miller–Rabin: these 12 bases are exact for all n < 3.3e24.
pub(crate) fn is_prime_u64(n: u64) -> bool {
    const BASES: [u64; 12] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];
    if n < 2 {
        return false;
    }
    for p in BASES {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let s = (n - 1).trailing_zeros();
    let d = (n - 1) >> s;
    'bases: for a in BASES {
        let mut x = pow_mod(a, d, n);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = mul_mod(x, x, n);
            if x == n - 1 {
                continue 'bases;
            }
        }
        return false;
    }
    true
}

/// Some factor `1 < d < n`, or `None` for n < 4, primes and (never in
/// practice) when every polynomial fails.
fn find_factor(n: u64) -> Option<u64> {
    if n < 4 || is_prime_u64(n) {
        return None;
    }
    if n.is_multiple_of(2) {
        return Some(2);
    }
    (1..=RHO_MAX_POLYNOMIALS).find_map(|c| pollard_brent(n, c))
}

/// Brent's variant of Pollard's rho on `x -> x^2 + c mod n`, multiplying
/// `|x - y|` into a batch and taking one gcd per batch.
#[expect(
    clippy::many_single_char_names,
    reason = "the textbook names of Brent's algorithm"
)]
fn pollard_brent(n: u64, c: u64) -> Option<u64> {
    const BATCH: u64 = 128;
    let f = |x: u64| ((u128::from(x) * u128::from(x) + u128::from(c)) % u128::from(n)) as u64;
    let mut y = 2 % n;
    let mut x = y;
    let mut ys = y;
    let mut r = 1u64;
    let mut q = 1u64;
    let mut g = 1u64;
    while g == 1 {
        x = y;
        for _ in 0..r {
            y = f(y);
        }
        let mut k = 0;
        while k < r && g == 1 {
            ys = y;
            for _ in 0..BATCH.min(r - k) {
                y = f(y);
                q = mul_mod(q, x.abs_diff(y), n);
            }
            g = q.gcd(&n);
            k += BATCH;
        }
        r *= 2;
        if r > RHO_MAX_CYCLE {
            return None;
        }
    }
    if g == n {
        // The batch overshot: step through it one element at a time.
        g = 1;
        for _ in 0..r {
            ys = f(ys);
            g = x.abs_diff(ys).gcd(&n);
            if g != 1 {
                break;
            }
        }
    }
    (g != 1 && g != n).then_some(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn sample_pq() {
        let started = std::time::Instant::now();
        let got = factorize_pq(2_694_724_800_268_887_959).unwrap();
        let elapsed = started.elapsed();
        assert_eq!(got, (1_513_098_571, 1_780_931_429));
        eprintln!("factorize_pq(sample) took {elapsed:?}");
    }

    #[test]
    fn from_big_endian_bytes() {
        let be = 2_694_724_800_268_887_959u64.to_be_bytes();
        assert_eq!(
            factorize_pq_be(&be).unwrap(),
            (1_513_098_571, 1_780_931_429)
        );
        assert!(factorize_pq_be(&[0; 9]).is_err());
        assert!(factorize_pq_be(&[]).is_err());
        // 15 = 3 * 5 from a single byte.
        assert_eq!(factorize_pq_be(&[15]).unwrap(), (3, 5));
    }

    #[test]
    fn rejects_non_semiprimes() {
        for n in [
            0u64,
            1,
            2,
            3,
            4,                             // 2 * 2: equal factors
            8,                             // three factors
            30,                            // three factors
            97,                            // prime
            18_446_744_073_709_551_557,    // largest prime below 2^64
            4_294_967_291 * 4_294_967_291, // square of a prime
            2 * 9_223_372_036_854_775_783, // a factor above 2^32
            3 * 5 * 7 * 11 * 13 * 17 * 19,
            (1 << 62) + (1 << 61),
        ] {
            assert!(
                matches!(factorize_pq(n), Err(Error::NotSemiprime { pq }) if pq == n),
                "n = {n}"
            );
        }
    }

    #[test]
    fn largest_32_bit_primes() {
        let (p, q) = (4_294_967_279u64, 4_294_967_291u64);
        assert_eq!(factorize_pq(p * q).unwrap(), (p as u32, q as u32));
    }

    #[test]
    fn small_semiprimes_match_naive() {
        for n in 4u64..3000 {
            let naive = (2..n)
                .find(|d| n % d == 0)
                .map(|d| (d, n / d))
                .filter(|&(a, b)| a < b && is_prime_u64(a) && is_prime_u64(b));
            let got = factorize_pq(n)
                .ok()
                .map(|(a, b)| (u64::from(a), u64::from(b)));
            assert_eq!(got, naive, "n = {n}");
        }
    }

    #[test]
    fn generated_pq_round_trips() {
        let mut rng = ChaCha20Rng::seed_from_u64(42);
        for _ in 0..20 {
            let c = generate_pq(&mut rng).unwrap();
            assert!(c.p < c.q);
            assert!(c.p >= PRIME_LOW && c.q <= PRIME_HIGH);
            assert!(c.pq >= 1 << 62 && c.pq < 1 << 63);
            assert_eq!(u64::from(c.p) * u64::from(c.q), c.pq);
            assert_eq!(factorize_pq(c.pq).unwrap(), (c.p, c.q));
        }
    }

    #[test]
    fn prime_test_matches_naive() {
        for n in 0u64..20_000 {
            let naive = n >= 2
                && (2..n)
                    .take_while(|d| d * d <= n)
                    .all(|d| !n.is_multiple_of(d));
            assert_eq!(is_prime_u64(n), naive, "n = {n}");
        }
        // A strong pseudoprime to every prime base up to 23.
        assert!(!is_prime_u64(3_825_123_056_546_413_051));
    }
}
