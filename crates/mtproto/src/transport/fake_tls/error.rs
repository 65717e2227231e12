//! Why a fake-TLS message was refused.

/// Why a fake-TLS handshake message or record was refused, or could not be built.
///
/// A refusal on either side means the connection must be closed; nothing in the error
/// depends on the secret, so it can be logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FakeTlsError {
    /// The bytes do not have the shape of the expected message.
    #[error("malformed fake-TLS {what}: {reason}")]
    Malformed {
        /// The message being read ("ClientHello", "server answer", "record").
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A record longer than TLS allows.
    #[error("TLS record of {len} bytes exceeds the maximum of {max}")]
    RecordTooLarge {
        /// The record's payload length.
        len: usize,
        /// The largest accepted.
        max: usize,
    },
    /// A record type that has no place at this point of the stream.
    #[error("unexpected TLS record of type {content_type:#04x}")]
    UnexpectedRecord {
        /// The record's content type byte.
        content_type: u8,
    },
    /// The ClientHello's digest matches none of the fake-TLS secrets.
    #[error("ClientHello digest matches none of the {tried} fake-TLS secrets")]
    NoSecretMatched {
        /// How many fake-TLS secrets were tried.
        tried: usize,
    },
    /// The client's clock, read from the digest, is too far from the server's.
    #[error("ClientHello time is {skew} s off the server clock (at most {window} s allowed)")]
    ClockSkew {
        /// Client time minus server time, in seconds.
        skew: i64,
        /// The largest skew allowed either way.
        window: u32,
    },
    /// The ClientHello names another server than the secret's domain.
    #[error("ClientHello server name is not the secret's domain")]
    WrongDomain,
    /// The server's answer does not carry the digest the secret gives.
    #[error("server answer digest does not match the secret")]
    BadServerDigest,
    /// The secret's domain is too long for the 517-byte ClientHello.
    #[error("domain of {len} bytes does not fit in a ClientHello (at most {max})")]
    DomainTooLong {
        /// The domain's length.
        len: usize,
        /// The longest that fits.
        max: usize,
    },
    /// The HMAC implementation refused the key (never happens with HMAC).
    #[error("HMAC refused the key")]
    BadKey,
}
