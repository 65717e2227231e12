//! Randomness: a cryptographic generator seeded from the operating system.

use rand::SeedableRng;
use rand::rngs::{OsRng, StdRng};

use crate::NetError;

/// A fresh ChaCha generator seeded from the OS. Fails only if the OS source fails, which
/// `OsRng`'s infallible methods would turn into a panic.
pub(crate) fn secure_rng() -> Result<StdRng, NetError> {
    Ok(StdRng::from_rng(OsRng)?)
}

/// A generator for padded-intermediate padding. The padding only blurs packet lengths and is
/// no secret, so if the OS source fails the clock seeds it rather than failing the stream.
pub(crate) fn padding_rng() -> StdRng {
    secure_rng().unwrap_or_else(|_| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        StdRng::seed_from_u64(nanos as u64)
    })
}
