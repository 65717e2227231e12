//! The sending half of a packet stream.

use std::fmt;

use mtproto::transport::{Codec, Role, TransportKind};
use rand::rngs::StdRng;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::SharedObfuscation;
use crate::NetError;
use crate::rng::padding_rng;

/// Output buffer capacity kept between sends; see the reader's counterpart.
const KEEP_CAPACITY: usize = 2 * 1024 * 1024 + 64 * 1024;

/// Sends MTProto packets over a byte stream.
///
/// Each call encodes into one reused buffer, encrypts it in place when obfuscated and hands it
/// to the socket with a single `write_all` and a flush. The stream's preamble (the client's
/// init tag or 64-byte obfuscation header) goes out with the first write.
///
/// Sends are not cancel-safe: a send dropped halfway leaves a partial frame on the wire, so
/// the connection must then be dropped.
pub struct PacketWriter {
    io: Box<dyn AsyncWrite + Unpin + Send>,
    codec: Codec,
    obfuscation: Option<SharedObfuscation>,
    /// Raw bytes still to be sent before anything else (never encrypted here).
    preamble: Vec<u8>,
    out: Vec<u8>,
    /// Boxed: the generator's state is a few hundred bytes, and writers get moved around.
    rng: Box<StdRng>,
}

impl fmt::Debug for PacketWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketWriter")
            .field("kind", &self.codec.kind())
            .field("role", &self.codec.role())
            .field("obfuscated", &self.obfuscation.is_some())
            .field("preamble_pending", &!self.preamble.is_empty())
            .finish_non_exhaustive()
    }
}

impl PacketWriter {
    pub(crate) fn new(
        io: Box<dyn AsyncWrite + Unpin + Send>,
        codec: Codec,
        obfuscation: Option<SharedObfuscation>,
        preamble: Vec<u8>,
    ) -> Self {
        Self {
            io,
            codec,
            obfuscation,
            preamble,
            out: Vec::new(),
            rng: Box::new(padding_rng()),
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

    /// The largest payload accepted.
    pub fn max_packet(&self) -> usize {
        self.codec.max_packet()
    }

    /// Sends one packet.
    pub async fn send(&mut self, packet: &[u8]) -> Result<(), NetError> {
        self.begin();
        self.codec
            .encode(packet, &mut self.out, self.rng.as_mut())?;
        self.finish().await
    }

    /// Sends several packets with one write.
    pub async fn send_many<P: AsRef<[u8]>>(&mut self, packets: &[P]) -> Result<(), NetError> {
        self.begin();
        for packet in packets {
            self.codec
                .encode(packet.as_ref(), &mut self.out, self.rng.as_mut())?;
        }
        self.finish().await
    }

    /// Sends one packet asking the server for a quick ack. Client role only.
    pub async fn send_quick_ack_request(&mut self, packet: &[u8]) -> Result<(), NetError> {
        self.begin();
        self.codec
            .encode_quick_ack_request(packet, &mut self.out, self.rng.as_mut())?;
        self.finish().await
    }

    /// Sends a quick-ack token (its top bit is set on the wire). Server role only.
    pub async fn send_quick_ack(&mut self, token: u32) -> Result<(), NetError> {
        self.begin();
        self.codec.encode_quick_ack(token, &mut self.out)?;
        self.finish().await
    }

    /// Sends a transport error such as -404. Server role only; the connection should be
    /// closed afterwards.
    pub async fn send_transport_error(&mut self, code: i32) -> Result<(), NetError> {
        self.begin();
        self.codec.encode_transport_error(code, &mut self.out)?;
        self.finish().await
    }

    /// Sends the preamble now if it has not gone out yet, so that the server can detect the
    /// transport before the first packet.
    pub async fn flush_preamble(&mut self) -> Result<(), NetError> {
        if self.preamble.is_empty() {
            return Ok(());
        }
        self.begin();
        self.finish().await
    }

    /// Closes the sending direction (TCP FIN, WebSocket close frame).
    pub async fn shutdown(&mut self) -> Result<(), NetError> {
        self.flush_preamble().await?;
        self.io.shutdown().await?;
        Ok(())
    }

    /// Starts a write: the pending preamble, then whatever gets encoded after it. The
    /// preamble is only dropped once written, so a refused encode does not lose it.
    fn begin(&mut self) {
        self.out.clear();
        self.out.extend_from_slice(&self.preamble);
    }

    /// Encrypts what was encoded after the preamble and writes everything.
    async fn finish(&mut self) -> Result<(), NetError> {
        let encoded_from = self.preamble.len();
        if let (Some(obfuscation), Some(encoded)) =
            (&self.obfuscation, self.out.get_mut(encoded_from..))
        {
            obfuscation.encrypt(encoded);
        }
        if !self.out.is_empty() {
            self.io.write_all(&self.out).await?;
            self.io.flush().await?;
        }
        self.preamble.clear();
        if self.out.capacity() > KEEP_CAPACITY {
            self.out = Vec::new();
        }
        Ok(())
    }
}
