//! Containers for secret bytes: wiped on drop, never printed.

use std::fmt;
use std::ops::Deref;

use zeroize::{Zeroize, Zeroizing};

use crate::hash::ct_eq;

/// A heap buffer of secret bytes (decrypted inner data, passwords, keys).
///
/// The memory is overwritten with zeros when the value is dropped, and
/// `Debug` shows only the length.
#[derive(Clone, Default)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Takes ownership of `bytes`; they are wiped when this value is dropped.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Copies `bytes` into a new secret buffer.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self::new(bytes.to_vec())
    }

    /// The secret bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Deref for SecretBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for SecretBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(bytes)
    }
}

// Equality runs in time independent of where the bytes differ.
impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl Eq for SecretBytes {}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes, redacted)", self.0.len())
    }
}

/// A fixed-size secret array, wiped on drop and redacted in `Debug`.
///
/// Used for DH and SRP exponents and other 256-byte secrets.
#[derive(Clone)]
pub struct SecretArray<const N: usize>([u8; N]);

impl<const N: usize> SecretArray<N> {
    /// Wraps `bytes`.
    pub fn new(bytes: [u8; N]) -> Self {
        Self(bytes)
    }

    /// The secret bytes.
    pub fn as_bytes(&self) -> &[u8; N] {
        &self.0
    }

    /// Fills a new array from `rng`.
    pub fn random(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        let mut out = Self([0u8; N]);
        rng.fill_bytes(&mut out.0);
        out
    }
}

impl<const N: usize> Drop for SecretArray<N> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<const N: usize> PartialEq for SecretArray<N> {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl<const N: usize> Eq for SecretArray<N> {}

impl<const N: usize> fmt::Debug for SecretArray<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretArray<{N}>(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretBytes::from_slice(b"hunter2");
        let d = format!("{s:?}");
        assert!(!d.contains("hunter2"));
        assert!(!d.contains("104")); // 'h' as a decimal byte
        assert!(d.contains("7 bytes"));

        let a = SecretArray::new([0xABu8; 4]);
        let d = format!("{a:?}");
        assert!(!d.to_lowercase().contains("ab"));
        assert!(!d.contains("171"));
    }

    #[test]
    fn equality() {
        assert_eq!(
            SecretBytes::from_slice(b"ab"),
            SecretBytes::new(b"ab".to_vec())
        );
        assert_ne!(
            SecretBytes::from_slice(b"ab"),
            SecretBytes::from_slice(b"abc")
        );
        assert_ne!(SecretArray::new([1u8; 4]), SecretArray::new([2u8; 4]));
    }

    #[test]
    fn deref_gives_bytes() {
        let s = SecretBytes::new(vec![1, 2, 3]);
        assert_eq!(&*s, &[1, 2, 3]);
        assert_eq!(s.as_bytes(), &[1, 2, 3]);
    }
}
