//! Small byte helpers shared by the codecs. None of them can panic.

use super::Decoded;

/// The little-endian `u32` at `at`, if the input is long enough.
pub(crate) fn u32_le_at(input: &[u8], at: usize) -> Option<u32> {
    input
        .get(at..)
        .and_then(<[u8]>::first_chunk::<4>)
        .map(|b| u32::from_le_bytes(*b))
}

/// The code of a transport error, if `payload` starts with a negative little-endian `i32`.
/// Callers decide which payload lengths may carry one.
pub(crate) fn error_code(payload: &[u8]) -> Option<i32> {
    payload
        .first_chunk::<4>()
        .map(|b| i32::from_le_bytes(*b))
        .filter(|code| *code < 0)
}

/// "Come back with `at_least` bytes."
pub(crate) fn need(at_least: usize) -> Decoded {
    Decoded::NeedMore { at_least }
}

/// Copies `N` bytes starting at `at` out of a buffer the caller knows to be long enough
/// (fixed-size headers); missing bytes would stay zero rather than panic.
pub(crate) fn array_at<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    for (dst, src) in out.iter_mut().zip(bytes.iter().skip(at)) {
        *dst = *src;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(u32_le_at(&[1, 2, 3, 4, 5], 1), Some(0x0504_0302));
        assert_eq!(u32_le_at(&[1, 2, 3], 0), None);
        assert_eq!(u32_le_at(&[1, 2, 3], 9), None);
        assert_eq!(error_code(&(-404i32).to_le_bytes()), Some(-404));
        assert_eq!(error_code(&5i32.to_le_bytes()), None);
        assert_eq!(error_code(&[0xff]), None);
        assert_eq!(array_at::<2>(&[1, 2, 3], 1), [2, 3]);
    }
}
