//! The crate's single error type.

/// Everything that can go wrong in `mtcrypto`.
///
/// Inputs that come from the network (ciphertexts, DH values, keys, `pq`) are
/// rejected with one of these variants; no input can make the crate panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A block-cipher buffer whose length is not a multiple of 16 bytes.
    #[error("buffer length {len} is not a multiple of the 16-byte AES block")]
    NotBlockAligned {
        /// Length of the rejected buffer.
        len: usize,
    },

    /// An input of fixed size had the wrong length.
    #[error("{what}: expected {expected} bytes, got {actual}")]
    InvalidLength {
        /// What the input is.
        what: &'static str,
        /// Required length.
        expected: usize,
        /// Length that was passed.
        actual: usize,
    },

    /// Data longer than the scheme can carry.
    #[error("{what}: at most {max} bytes allowed, got {actual}")]
    TooLong {
        /// What the input is.
        what: &'static str,
        /// Largest accepted length.
        max: usize,
        /// Length that was passed.
        actual: usize,
    },

    /// A CDN file offset that is not 16-byte aligned or too large for the
    /// 32-bit block counter.
    #[error("CDN offset {offset} is not a 16-byte aligned offset below 64 GiB")]
    CdnOffset {
        /// The rejected offset.
        offset: u64,
    },

    /// An RSA key that could not be parsed or is unusable.
    #[error("invalid RSA key: {0}")]
    InvalidRsaKey(String),

    /// RSA key generation failed.
    #[error("RSA key generation failed: {0}")]
    RsaKeyGeneration(String),

    /// Encoding an RSA key as PEM failed.
    #[error("RSA key encoding failed: {0}")]
    RsaKeyEncoding(String),

    /// An RSA ciphertext that is not below the modulus.
    #[error("RSA ciphertext is not smaller than the modulus")]
    RsaCiphertextOutOfRange,

    /// Decrypted RSA inner data matched neither RSA_PAD nor the legacy
    /// SHA1-prefixed layout.
    #[error("RSA inner data is neither valid RSA_PAD nor the legacy SHA1 layout")]
    RsaInnerDataInvalid,

    /// The SHA1 of the legacy inner data did not match the claimed data length.
    #[error("legacy RSA inner data: SHA1 does not match the first {len} bytes")]
    LegacyHashMismatch {
        /// Data length that was checked.
        len: usize,
    },

    /// The SHA1 in front of a handshake answer matched no padding length.
    #[error("handshake answer: SHA1 prefix does not match the data")]
    AnswerHashMismatch,

    /// The DH prime does not have 2048 bits.
    #[error("DH prime has {bits} bits, 2048 required")]
    DhPrimeSize {
        /// Bit length of the rejected prime.
        bits: u64,
    },

    /// The DH prime is not a safe prime.
    #[error("DH prime is not a safe prime")]
    DhPrimeNotSafe,

    /// The DH generator is outside 2..=7.
    #[error("DH generator {g} is outside 2..=7")]
    DhGeneratorOutOfRange {
        /// The rejected generator.
        g: u32,
    },

    /// The generator does not generate the subgroup of order (p-1)/2.
    #[error("DH generator {g} does not fit the prime (wrong residue of p)")]
    DhGeneratorMismatch {
        /// The rejected generator.
        g: u32,
    },

    /// A DH public value (g_a, g_b, SRP A or B) outside the safe range.
    #[error("DH public value is outside 2^1984 ..= p - 2^1984")]
    DhValueOutOfRange,

    /// `pq` could not be split into two 32-bit primes.
    #[error("pq = {pq} is not a product of two 32-bit primes")]
    NotSemiprime {
        /// The rejected value.
        pq: u64,
    },

    /// A loop that draws random values until one is usable gave up; the
    /// RNG is broken (the bound is far beyond what bad luck reaches).
    #[error("gave up drawing random values for {what}")]
    RetriesExhausted {
        /// What was being generated.
        what: &'static str,
    },

    /// The SRP proof `M1` did not match (wrong password, or a forged proof).
    #[error("SRP proof mismatch")]
    SrpProofMismatch,

    /// An SRP value that makes the protocol degenerate (e.g. u = 0).
    #[error("SRP parameters are degenerate")]
    SrpDegenerate,
}
