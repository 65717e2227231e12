//! What a streaming decoder hands back.

use std::ops::Range;

/// The result of one [`Codec::decode`](super::Codec::decode) call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// The input holds no complete frame yet; nothing was consumed. Call again once the input
    /// is at least `at_least` bytes long (always more than the input given). The value is
    /// bounded by the codec's maximum packet size plus framing, so it is safe to reserve.
    NeedMore {
        /// Total input length needed before the next call can make progress.
        at_least: usize,
    },
    /// One frame was decoded from the start of the input.
    Frame {
        /// Bytes of the input this frame used (init tag and framing included); drop them
        /// before the next call.
        consumed: usize,
        /// The frame.
        frame: Frame,
    },
}

/// One unit of the transport stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A packet carrying an MTProto message. `payload` indexes the input that was decoded, so
    /// large packets are not copied.
    ///
    /// With padded intermediate the range covers the message and the sender's random padding:
    /// the transport does not know where the message ends, and MTProto messages carry their
    /// own length, so the upper layer ignores the trailing bytes.
    Packet {
        /// Where the payload lies in the decoded input.
        payload: Range<usize>,
        /// The client asked for a quick ack of this packet (server role only).
        quick_ack_requested: bool,
    },
    /// A quick-ack token from the server (client role only), with its top bit set as sent.
    QuickAck(u32),
    /// A transport error from the server (client role only): a negative code such as -404
    /// (auth key not found), -429 (transport flood) or -444 (bad DC id). The connection is
    /// finished after one of these.
    ///
    /// Read from a packet of exactly 4 bytes holding a negative little-endian `i32`; with
    /// padded intermediate, from any packet under 20 bytes that starts with one (the server
    /// may pad it, and no MTProto message is that short); with full, also from a bare
    /// top-bit word in -1024..=-1 (Telegram has been seen sending a bare `-429`).
    TransportError(i32),
}

impl Frame {
    /// Moves a packet range `by` bytes later, for input that had a prefix stripped.
    pub(crate) fn shifted(self, by: usize) -> Frame {
        match self {
            Frame::Packet {
                payload,
                quick_ack_requested,
            } => Frame::Packet {
                payload: payload.start + by..payload.end + by,
                quick_ack_requested,
            },
            other => other,
        }
    }
}
