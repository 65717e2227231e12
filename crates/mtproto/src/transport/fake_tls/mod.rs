//! MTProxy fake TLS, sans-IO: the ClientHello an `ee`-secret client opens with, the proxy's
//! answer, and the TLS record framing that carries the obfuscated stream afterwards.
//!
//! Nothing here is TLS: no key is agreed and nothing is encrypted by it. The exchange only has
//! to look like a TLS 1.3 handshake to a passive observer, while proving to each side that
//! the other knows the 16-byte secret. The obfuscated MTProto stream ([`super::Obfuscation`],
//! keyed with the same secret) then travels inside application-data records.
//!
//! # The exchange, as Telegram's clients and the official MTProxy do it
//!
//! 1. **ClientHello.** One handshake record (`16 03 01` + a big-endian length), shaped like
//!    a browser's TLS 1.3 hello: a 32-byte random at offset 11, a 32-byte random session
//!    id, GREASE and the usual cipher suites, and extensions including server_name (the
//!    secret's domain). Current clients send about 1.7 KB, with a post-quantum key share
//!    (see [`ClientHello::new`]); older ones sent exactly 517 bytes, filled up by a padding
//!    extension ([`ClientHello::legacy`]). The proxy accepts any well-formed TLS 1.3 hello
//!    ([`check_client_hello`]).
//! 2. **Client digest.** The random field is HMAC-SHA256(key = the secret's 16-byte key,
//!    message = the whole record with the random field zeroed), and its last 4 bytes
//!    are then XORed with the client's unix time as a little-endian `u32`. The proxy
//!    recomputes the HMAC, compares the first 28 bytes, and XORs the last 4 to recover the
//!    client's clock, which must be close to its own (a replayed hello soon goes stale).
//! 3. **Server answer.** Three records in one write: a ServerHello (`16 03 03 00 7a`,
//!    handshake `02 00 00 76`, version `03 03`, a 32-byte random at offset 11, the client's
//!    session id echoed, the client's first TLS 1.3 cipher suite, and the key_share (x25519,
//!    32 random bytes) and supported_versions (TLS 1.3) extensions, in either order), a
//!    ChangeCipherSpec record (`14 03 03 00 01 01`), and an application-data record of random
//!    bytes standing in for the encrypted certificate. The ServerHello random is
//!    HMAC-SHA256(key, client random as sent ++ the whole answer with that random zeroed);
//!    the client checks it before sending anything else.
//! 4. **Data.** Both directions are application-data records, `17 03 03` + a big-endian
//!    `u16` length + payload. The client sends one ChangeCipherSpec record of its own just
//!    before its first application record, which starts with the 64-byte obfuscation header.
//!    Records carry at most [`MAX_SEND_PAYLOAD`] bytes when sent and are accepted up to
//!    [`MAX_RECORD_PAYLOAD`] (TLS 1.3's limit on a ciphertext record).
//!
//! Like TDLib, the builder shuffles the extensions between the two GREASE ones for every
//! hello and makes its key shares look valid (an X25519 point, reduced ML-KEM coefficients).

mod client_hello;
mod cursor;
mod digest;
mod error;
mod hello_check;
mod key_share;
mod record;
mod server_hello;

pub use client_hello::{ClientHello, MAX_DOMAIN_LEN, PADDED_HELLO_LEN};
pub use error::FakeTlsError;
pub(crate) use hello_check::is_hello_record_start;
pub use hello_check::{AcceptedHello, MAX_HELLO_PAYLOAD, check_client_hello, client_hello_len};
pub use record::{
    CHANGE_CIPHER_SPEC, ContentType, MAX_RECORD_PAYLOAD, MAX_SEND_PAYLOAD, RECORD_HEADER_LEN,
    RecordHeader, application_data_header, parse_record_header,
};
pub use server_hello::{check_server_hello, server_hello, server_hello_len};

/// How far reading a length-delimited handshake message has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Not enough bytes yet; come back with at least this many.
    NeedMore {
        /// Input length needed for the next attempt to make progress.
        at_least: usize,
    },
    /// The message is complete and takes the first `len` bytes of the input.
    Complete {
        /// Length of the whole message, record headers included.
        len: usize,
    },
}

/// Offset of the 32-byte random (digest) in the ClientHello and the ServerHello records:
/// record header (5), handshake header (4), legacy version (2).
const RANDOM_AT: usize = 11;
/// Length of the random (digest) field.
const RANDOM_LEN: usize = 32;
/// Length of the session id clients send and the server echoes.
const SESSION_ID_LEN: usize = 32;

#[cfg(test)]
mod tests;
