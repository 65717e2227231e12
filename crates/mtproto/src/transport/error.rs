//! Errors of the framing codecs.

use super::{Role, TransportKind};

/// Why a codec refused to encode or decode.
///
/// A decode error means the stream is broken (or hostile): the connection should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// A packet longer than the configured maximum (or than the framing can express).
    #[error("packet of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Length of the packet.
        len: usize,
        /// Largest accepted length.
        max: usize,
    },
    /// An abridged payload whose length is not a multiple of 4.
    #[error("payload of {len} bytes is not a multiple of 4, as abridged framing requires")]
    Misaligned {
        /// Length of the payload.
        len: usize,
    },
    /// The stream did not start with the transport's init tag.
    #[error("stream does not start with the {kind:?} init tag")]
    BadInitTag {
        /// The transport the codec was set up for.
        kind: TransportKind,
    },
    /// A full-transport length word below the 12 framing bytes.
    #[error("full-transport length {len} is shorter than its 12 framing bytes")]
    BadLength {
        /// The length word as received (top bit cleared).
        len: u32,
    },
    /// A full-transport packet with an unexpected sequence number.
    #[error("full-transport sequence number {actual}, expected {expected}")]
    BadSeq {
        /// The number the next packet must carry.
        expected: u32,
        /// The number it carried.
        actual: u32,
    },
    /// A full-transport packet whose CRC32 does not match its contents.
    #[error("full-transport CRC32 {actual:#010x}, computed {expected:#010x}")]
    BadCrc {
        /// CRC32 computed over the received length, sequence number and payload.
        expected: u32,
        /// CRC32 the packet carried.
        actual: u32,
    },
    /// An operation only the other role may perform (e.g. a client sending a transport error).
    #[error("only the {allowed:?} role may {operation}")]
    WrongRole {
        /// The role allowed to do it.
        allowed: Role,
        /// What was attempted.
        operation: &'static str,
    },
    /// A transport error code that is not negative.
    #[error("transport error code {code} is not negative")]
    NotAnErrorCode {
        /// The rejected code.
        code: i32,
    },
}
