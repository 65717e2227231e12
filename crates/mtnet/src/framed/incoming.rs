//! What a packet reader hands back.

/// One unit received from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// An MTProto packet. With padded intermediate it ends with the sender's 0..=15 random
    /// padding bytes; MTProto messages carry their own length, so the upper layer ignores them.
    Packet(Vec<u8>),
    /// Server role: a packet whose sender asked for a quick ack (answer with
    /// [`PacketWriter::send_quick_ack`](super::PacketWriter::send_quick_ack)).
    PacketWithQuickAck(Vec<u8>),
    /// Client role: a quick-ack token from the server, top bit set as received.
    QuickAck(u32),
    /// Client role: a transport error code from the server (-404, -429, -444, ...). The
    /// server closes the connection after it.
    TransportError(i32),
}

impl Incoming {
    /// The packet bytes, if this is a packet (with or without a quick-ack request).
    pub fn into_packet(self) -> Option<Vec<u8>> {
        match self {
            Incoming::Packet(bytes) | Incoming::PacketWithQuickAck(bytes) => Some(bytes),
            Incoming::QuickAck(_) | Incoming::TransportError(_) => None,
        }
    }
}
