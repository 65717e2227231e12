//! Key shares that look like the real thing to anyone checking them: an X25519 public key
//! that is a point of the prime-order subgroup, and an ML-KEM-768 encapsulation key whose
//! coefficients are all reduced. Nobody ever uses the matching private keys; the shares only
//! have to pass a passive observer's checks, as TDLib's do (`td/mtproto/TlsInit.cpp`, ops
//! `Key` and `MlKem768Key`).

use num_bigint::BigUint;
use rand_core::RngCore;

/// Length of an X25519 public key.
pub(super) const X25519_LEN: usize = 32;
/// Length of an ML-KEM-768 encapsulation key: 384 packed pairs of 12-bit coefficients,
/// then the 32-byte seed.
pub(super) const ML_KEM_768_LEN: usize = 384 * 3 + 32;
/// ML-KEM's modulus: every coefficient is below it.
const ML_KEM_Q: u32 = 3329;

/// A fresh X25519 public key: the base point times a random clamped scalar (RFC 7748).
pub(super) fn x25519_public<R: RngCore + ?Sized>(rng: &mut R) -> [u8; X25519_LEN] {
    let mut scalar = [0u8; 32];
    rng.fill_bytes(&mut scalar);
    x25519_base(scalar)
}

/// An ML-KEM-768 encapsulation key's shape: 768 coefficients, each uniform below q and
/// packed two per 3 bytes (little-endian 12-bit), then 32 random bytes.
pub(super) fn ml_kem_768_public<R: RngCore + ?Sized>(rng: &mut R) -> Vec<u8> {
    let mut out = Vec::with_capacity(ML_KEM_768_LEN);
    for _ in 0..384 {
        // The modulo bias is far below what a 12-bit histogram could show.
        let a = rng.next_u32() % ML_KEM_Q;
        let b = rng.next_u32() % ML_KEM_Q;
        let packed = a | b << 12;
        out.extend_from_slice(packed.to_le_bytes().get(..3).unwrap_or_default());
    }
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    out.extend_from_slice(&seed);
    out
}

/// X25519(`scalar`, 9): the Montgomery ladder of RFC 7748 section 5, on big integers (a
/// handful per connection, so speed does not matter, and the key is public). The names are
/// the RFC's.
#[allow(clippy::many_single_char_names)]
fn x25519_base(mut scalar: [u8; 32]) -> [u8; X25519_LEN] {
    if let Some(first) = scalar.first_mut() {
        *first &= 0xf8;
    }
    if let Some(last) = scalar.last_mut() {
        *last = (*last & 0x7f) | 0x40;
    }
    let p = (BigUint::from(1u8) << 255u32) - BigUint::from(19u8);
    let a24 = BigUint::from(121_665u32);
    let add = |a: &BigUint, b: &BigUint| (a + b) % &p;
    let sub = |a: &BigUint, b: &BigUint| (a + &p - b) % &p;
    let mul = |a: &BigUint, b: &BigUint| (a * b) % &p;

    let x1 = BigUint::from(9u8);
    let (mut x2, mut z2) = (BigUint::from(1u8), BigUint::from(0u8));
    let (mut x3, mut z3) = (x1.clone(), BigUint::from(1u8));
    let mut swap = false;
    for bit in (0..255).rev() {
        let byte = scalar.get(bit / 8).copied().unwrap_or(0);
        let k = (byte >> (bit % 8)) & 1 == 1;
        if swap != k {
            std::mem::swap(&mut x2, &mut x3);
            std::mem::swap(&mut z2, &mut z3);
        }
        swap = k;
        let a = add(&x2, &z2);
        let aa = mul(&a, &a);
        let b = sub(&x2, &z2);
        let bb = mul(&b, &b);
        let e = sub(&aa, &bb);
        let c = add(&x3, &z3);
        let d = sub(&x3, &z3);
        let da = mul(&d, &a);
        let cb = mul(&c, &b);
        let sum = add(&da, &cb);
        let diff = sub(&da, &cb);
        x3 = mul(&sum, &sum);
        z3 = mul(&x1, &mul(&diff, &diff));
        x2 = mul(&aa, &bb);
        z2 = mul(&e, &add(&aa, &mul(&a24, &e)));
    }
    if swap {
        std::mem::swap(&mut x2, &mut x3);
        std::mem::swap(&mut z2, &mut z3);
    }
    let inverse = z2.modpow(&(&p - BigUint::from(2u8)), &p);
    let u = mul(&x2, &inverse);
    let mut out = [0u8; X25519_LEN];
    for (dst, src) in out.iter_mut().zip(u.to_bytes_le()) {
        *dst = src;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    /// RFC 7748 section 6.1: Alice's and Bob's public keys from their private keys.
    #[test]
    fn rfc7748_public_keys() {
        let pairs = [
            (
                "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
                "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
            ),
            (
                "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
                "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
            ),
        ];
        for (private, public) in pairs {
            let scalar: [u8; 32] = hex::decode(private).unwrap().try_into().unwrap();
            assert_eq!(hex::encode(x25519_base(scalar)), public);
        }
    }

    #[test]
    fn ml_kem_key_has_reduced_coefficients() {
        let key = ml_kem_768_public(&mut ChaCha20Rng::seed_from_u64(3));
        assert_eq!(key.len(), ML_KEM_768_LEN);
        for triple in key[..384 * 3].chunks_exact(3) {
            let packed = u32::from_le_bytes([triple[0], triple[1], triple[2], 0]);
            assert!(packed & 0xfff < ML_KEM_Q && packed >> 12 < ML_KEM_Q);
        }
    }
}
