//! The receiving half of a packet stream.

use std::fmt;

use mtproto::transport::{Codec, Decoded, Frame, Role, TransportKind};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{Incoming, SharedObfuscation};
use crate::NetError;

/// Smallest read attempted: small packets arrive many per read.
const READ_CHUNK: usize = 64 * 1024;
/// Buffer capacity kept between packets; more is released once the buffer drains, so one
/// large packet does not pin its memory for the connection's lifetime.
const KEEP_CAPACITY: usize = 2 * 1024 * 1024 + READ_CHUNK;

/// Receives MTProto packets from a byte stream.
///
/// Bytes are read into one growing buffer, decrypted in place when obfuscated, and decoded
/// without copying; each packet's payload is copied out once. The buffer is sized by what
/// the codec asks for, which the codec bounds by its maximum packet size.
///
/// [`PacketReader::recv`] is cancel-safe: bytes already read stay buffered, so it can be a
/// branch of `select!`.
pub struct PacketReader {
    io: Box<dyn AsyncRead + Unpin + Send>,
    codec: Codec,
    obfuscation: Option<SharedObfuscation>,
    buf: Vec<u8>,
    /// Start of the bytes not yet decoded; everything before it is consumed.
    start: usize,
}

impl fmt::Debug for PacketReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketReader")
            .field("kind", &self.codec.kind())
            .field("role", &self.codec.role())
            .field("obfuscated", &self.obfuscation.is_some())
            .field("buffered", &self.buffered())
            .finish_non_exhaustive()
    }
}

impl PacketReader {
    /// A reader over `io`. `initial` holds bytes already read from the stream (by transport
    /// detection, say), still encrypted if the stream is obfuscated.
    pub(crate) fn new(
        io: Box<dyn AsyncRead + Unpin + Send>,
        codec: Codec,
        obfuscation: Option<SharedObfuscation>,
        mut initial: Vec<u8>,
    ) -> Self {
        if let Some(obfuscation) = &obfuscation {
            obfuscation.decrypt(&mut initial);
        }
        Self {
            io,
            codec,
            obfuscation,
            buf: initial,
            start: 0,
        }
    }

    /// The transport kind.
    pub fn kind(&self) -> TransportKind {
        self.codec.kind()
    }

    /// The role this end plays.
    pub fn role(&self) -> Role {
        self.codec.role()
    }

    /// Whether the stream is obfuscated.
    pub fn is_obfuscated(&self) -> bool {
        self.obfuscation.is_some()
    }

    /// Receives the next packet, quick ack or transport error.
    ///
    /// A clean close between frames is [`NetError::Closed`]; a close inside a frame is
    /// [`NetError::UnexpectedEof`]; a framing violation is [`NetError::Codec`].
    pub async fn recv(&mut self) -> Result<Incoming, NetError> {
        loop {
            let input = self.buf.get(self.start..).unwrap_or_default();
            match self.codec.decode(input)? {
                Decoded::Frame { consumed, frame } => {
                    let incoming = match frame {
                        Frame::Packet {
                            payload,
                            quick_ack_requested,
                        } => {
                            let bytes = input
                                .get(payload)
                                .ok_or(NetError::Internal("codec returned a range out of input"))?
                                .to_vec();
                            if quick_ack_requested {
                                Incoming::PacketWithQuickAck(bytes)
                            } else {
                                Incoming::Packet(bytes)
                            }
                        }
                        Frame::QuickAck(token) => Incoming::QuickAck(token),
                        Frame::TransportError(code) => Incoming::TransportError(code),
                    };
                    self.consume(consumed);
                    return Ok(incoming);
                }
                Decoded::NeedMore { at_least } => self.fill(at_least).await?,
            }
        }
    }

    /// Receives the next packet's bytes: quick acks are skipped and a transport error
    /// becomes [`NetError::Transport`]. For request/response exchanges like the handshake.
    pub async fn recv_packet(&mut self) -> Result<Vec<u8>, NetError> {
        loop {
            match self.recv().await? {
                Incoming::Packet(bytes) | Incoming::PacketWithQuickAck(bytes) => return Ok(bytes),
                Incoming::QuickAck(_) => {}
                Incoming::TransportError(code) => return Err(NetError::Transport { code }),
            }
        }
    }

    /// Bytes received but not yet decoded.
    fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    fn consume(&mut self, consumed: usize) {
        self.start = self.start.saturating_add(consumed).min(self.buf.len());
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf.shrink_to(READ_CHUNK);
            }
        }
    }

    /// Reads until at least `at_least` undecoded bytes are buffered. `at_least` is bounded by
    /// the codec (maximum packet plus framing), so reserving it is safe.
    async fn fill(&mut self, at_least: usize) -> Result<(), NetError> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let missing = at_least.saturating_sub(self.buf.len());
        self.buf.reserve(missing.max(READ_CHUNK));
        while self.buf.len() < at_least {
            let before = self.buf.len();
            let read = self.io.read_buf(&mut self.buf).await?;
            if read == 0 {
                return Err(if before == 0 {
                    NetError::Closed
                } else {
                    NetError::UnexpectedEof { buffered: before }
                });
            }
            if let (Some(obfuscation), Some(fresh)) =
                (&self.obfuscation, self.buf.get_mut(before..))
            {
                obfuscation.decrypt(fresh);
            }
        }
        Ok(())
    }
}
