//! The server packet stream, on top of mtnet: [`mtnet::accept`] detects what a connection
//! speaks (abridged, intermediate, padded intermediate, full, each of the first three also
//! obfuscated, and all of that inside a WebSocket on `/apiws`) and splits it into halves;
//! this module adds what the server needs around them: a clean-close signal, and the byte
//! budget of the fault knobs.

use std::time::Duration;

use mtnet::{AcceptConfig, Accepted, CarrierKind, Incoming, NetError, StreamInfo};
use mtproto::transport::TransportKind;
use rand::rngs::StdRng;
use tokio::net::TcpStream;

/// Why a connection's stream broke. Every one closes that connection only.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("{0} is not served on this port")]
    Unsupported(&'static str),
    #[error("the connection's byte budget is spent (fault injection)")]
    BudgetSpent,
}

/// How a client connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportInfo {
    /// The framing.
    pub kind: TransportKind,
    /// Whether the stream is obfuscated.
    pub obfuscated: bool,
    /// Whether it came inside a WebSocket.
    pub websocket: bool,
    /// The DC id an obfuscated header asked for.
    pub dc_id: Option<i16>,
}

impl From<StreamInfo> for TransportInfo {
    fn from(info: StreamInfo) -> Self {
        Self {
            kind: info.kind,
            obfuscated: info.obfuscated,
            websocket: info.carrier == CarrierKind::WebSocket,
            dc_id: info.dc_id,
        }
    }
}

impl std::fmt::Display for TransportInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.obfuscated {
            write!(f, "obfuscated ")?;
        }
        write!(f, "{:?}", self.kind)?;
        if self.websocket {
            write!(f, " over WebSocket")?;
        }
        Ok(())
    }
}

/// One packet from the client.
#[derive(Debug)]
pub struct Packet {
    pub payload: Vec<u8>,
    pub quick_ack_requested: bool,
}

/// The reading half: whole packets from the client.
#[derive(Debug)]
pub struct PacketReader {
    inner: mtnet::PacketReader,
}

/// The writing half: packets, quick acks and transport errors to the client.
#[derive(Debug)]
pub struct PacketWriter {
    inner: mtnet::PacketWriter,
    kind: TransportKind,
    /// Bytes sent so far (framing counted, padding and WebSocket framing not).
    sent: u64,
}

/// Detects the transport of `stream` and opens its packet stream, within `timeout`, with
/// packets bounded by `max_packet`. A plain HTTP request (not a WebSocket upgrade) is
/// refused: MTProto over HTTP is not served yet.
pub async fn accept(
    stream: TcpStream,
    max_packet: usize,
    timeout: Duration,
) -> Result<(TransportInfo, PacketReader, PacketWriter), TransportError> {
    let config = AcceptConfig::default()
        .with_detect_timeout(timeout)
        .with_max_packet(max_packet);
    match mtnet::accept(stream, &config).await? {
        Accepted::Packets {
            reader,
            writer,
            info,
        } => Ok((
            info.into(),
            PacketReader { inner: reader },
            PacketWriter {
                inner: writer,
                kind: info.kind,
                sent: 0,
            },
        )),
        Accepted::Http(..) => Err(TransportError::Unsupported("MTProto over HTTP")),
    }
}

impl PacketReader {
    /// The next packet; `None` when the client closed the connection between packets.
    /// Cancel-safe (mtnet keeps partial reads buffered).
    pub async fn recv(&mut self) -> Result<Option<Packet>, TransportError> {
        loop {
            let (payload, quick_ack_requested) = match self.inner.recv().await {
                Ok(Incoming::Packet(payload)) => (payload, false),
                Ok(Incoming::PacketWithQuickAck(payload)) => (payload, true),
                // Only a server sends these; a client that does is ignored.
                Ok(Incoming::QuickAck(_) | Incoming::TransportError(_)) => continue,
                Err(NetError::Closed) => return Ok(None),
                Err(error) => return Err(error.into()),
            };
            return Ok(Some(Packet {
                payload,
                quick_ack_requested,
            }));
        }
    }
}

impl PacketWriter {
    /// Sends one packet. With a byte `budget` (fault injection), a packet that would take
    /// the bytes sent past it is not sent: [`TransportError::BudgetSpent`] instead, and the
    /// connection closes between two frames.
    pub async fn send(
        &mut self,
        payload: &[u8],
        budget: Option<u64>,
    ) -> Result<(), TransportError> {
        self.spend(frame_len(self.kind, payload.len()), budget)?;
        Ok(self.inner.send(payload).await?)
    }

    /// Sends a quick-ack token.
    pub async fn send_quick_ack(
        &mut self,
        token: u32,
        budget: Option<u64>,
    ) -> Result<(), TransportError> {
        self.spend(4, budget)?;
        Ok(self.inner.send_quick_ack(token).await?)
    }

    /// Sends a transport error (e.g. -404) and closes the sending side.
    pub async fn send_transport_error(&mut self, code: i32) -> Result<(), TransportError> {
        self.inner.send_transport_error(code).await?;
        self.inner.shutdown().await?;
        Ok(())
    }

    /// Bytes sent so far.
    pub fn bytes_sent(&self) -> u64 {
        self.sent
    }

    /// Closes the sending side.
    pub async fn shutdown(&mut self) {
        // The peer may be gone already; nothing to do about a failure here.
        let _ = self.inner.shutdown().await;
    }

    fn spend(&mut self, len: u64, budget: Option<u64>) -> Result<(), TransportError> {
        let total = self.sent.saturating_add(len);
        if budget.is_some_and(|budget| total > budget) {
            return Err(TransportError::BudgetSpent);
        }
        self.sent = total;
        Ok(())
    }
}

/// The bytes a packet takes on the wire, padding aside.
fn frame_len(kind: TransportKind, payload: usize) -> u64 {
    let framing = match kind {
        TransportKind::Abridged if payload / 4 < 0x7f => 1,
        TransportKind::Abridged
        | TransportKind::Intermediate
        | TransportKind::PaddedIntermediate => 4,
        TransportKind::Full => 12,
    };
    (payload + framing) as u64
}

/// A fresh RNG for one connection.
pub fn connection_rng() -> StdRng {
    use rand::SeedableRng;
    StdRng::from_entropy()
}
