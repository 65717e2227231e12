//! Transport layer: how MTProto packets travel over a byte stream.
//!
//! - [`Codec`]: framing for the four transports (abridged, intermediate, padded intermediate,
//!   full), in the client or the server role, with a streaming zero-copy decoder.
//! - [`Obfuscation`]: the AES-256-CTR layer keyed by a 64-byte random header, optionally bound to
//!   an MTProxy secret; it sits under any codec except full.
//! - [`detect`]: what a client speaks, from the first bytes it sent to a server port.
//! - [`ProxySecret`]: MTProxy secrets from their hex and base64 forms.
//! - [`fake_tls`]: the TLS-looking handshake and records of `ee` (fake-TLS) MTProxy secrets.
//!
//! Everything here is sans-IO: bytes in, bytes out, randomness injected.

mod abridged;
mod codec;
mod detect;
mod error;
pub mod fake_tls;
mod frame;
mod full;
mod intermediate;
mod kind;
mod obfuscation;
mod proxy_secret;
mod wire;

pub use codec::{Codec, DEFAULT_MAX_PACKET};
pub use detect::{Detected, detect, detect_with_max};
pub use error::CodecError;
pub use frame::{Decoded, Frame};
pub use intermediate::PaddingStyle;
pub use kind::{Role, TransportKind};
pub use obfuscation::{Accepted, HEADER_LEN, Obfuscation, ObfuscationError};
pub use proxy_secret::{ProxySecret, SecretError};
