//! Small big-integer helpers shared by RSA, DH and SRP.

use num_bigint::BigUint;

/// Encodes `x` big-endian, left-padded with zeros to exactly `N` bytes.
/// `None` if `x` does not fit.
pub(crate) fn to_fixed_be<const N: usize>(x: &BigUint) -> Option<[u8; N]> {
    let bytes = x.to_bytes_be();
    let start = N.checked_sub(bytes.len())?;
    let mut out = [0u8; N];
    out.get_mut(start..)?.copy_from_slice(&bytes);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_be_pads_and_rejects() {
        let x = BigUint::from(0x0102u32);
        assert_eq!(to_fixed_be::<4>(&x), Some([0, 0, 1, 2]));
        assert_eq!(to_fixed_be::<1>(&x), None);
        assert_eq!(to_fixed_be::<2>(&BigUint::from(0u32)), Some([0, 0]));
    }
}
