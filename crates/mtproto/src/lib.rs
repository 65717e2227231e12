//! Sans-IO MTProto: bytes in, bytes out, with the clock and the random source injected, so
//! that the client (`mtnet`) and the local server (`localdc`) share this very code and tests
//! are deterministic.
//!
//! - [`transport`]: framing (abridged, intermediate, padded, full) and obfuscation.
//! - [`plain`] and [`encrypted`]: the two message formats inside a transport packet.
//! - [`handshake`]: the auth-key handshake, client and server roles.
//! - [`session`]: msg_ids, seq_no, acks, containers, gzip, salts and service messages.
//! - [`base64`]: the lenient base64 of MTProxy secrets and session strings.

pub mod base64;
pub mod encrypted;
mod error;
pub mod handshake;
pub mod plain;
pub mod session;
pub mod transport;

pub use error::MessageError;
