//! The server packet stream, on top of mtnet: [`mtnet::accept()`] detects what a connection
//! speaks (abridged, intermediate, padded intermediate, full, each of the first three also
//! obfuscated, and all of that inside a WebSocket on `/apiws`; MTProxy clients with one of
//! the configured secrets, fake TLS included) and splits it into halves;
//! this module adds what the server needs around them: a clean-close signal, and the byte
//! budget of the fault knobs. MTProto over HTTP (`POST /api`) gets request and response
//! halves with the same interface: each request body is a packet, each packet sent (or an
//! empty body) answers the oldest request.

use std::time::Duration;

use mtnet::http::{HttpServerConfig, RequestReader, ResponseWriter};
use mtnet::{AcceptConfig, Accepted, CarrierKind, Incoming, NetError, StreamInfo};
use mtproto::transport::{PaddingStyle, ProxySecret, TransportKind};
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

impl TransportError {
    /// For an HTTP request that cannot be served: the status to answer it with.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            TransportError::Net(NetError::Http(error)) => error.status(),
            _ => None,
        }
    }
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
    /// For an MTProxy client, which of the configured secrets it used.
    pub secret_index: Option<usize>,
    /// MTProto over HTTP: no framing, one packet per request body (`kind` then says
    /// intermediate, the framing closest to it, and nothing else applies).
    pub http: bool,
}

impl From<StreamInfo> for TransportInfo {
    fn from(info: StreamInfo) -> Self {
        Self {
            kind: info.kind,
            obfuscated: info.obfuscated,
            websocket: info.carrier == CarrierKind::WebSocket,
            dc_id: info.dc_id,
            secret_index: info.secret_index,
            http: false,
        }
    }
}

impl TransportInfo {
    /// MTProto over HTTP.
    fn http() -> Self {
        Self {
            kind: TransportKind::Intermediate,
            obfuscated: false,
            websocket: false,
            dc_id: None,
            secret_index: None,
            http: true,
        }
    }
}

impl std::fmt::Display for TransportInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.http {
            return write!(f, "HTTP");
        }
        if self.obfuscated {
            write!(f, "obfuscated ")?;
        }
        write!(f, "{:?}", self.kind)?;
        if self.websocket {
            write!(f, " over WebSocket")?;
        }
        if let Some(index) = self.secret_index {
            write!(f, " via MTProxy secret #{index}")?;
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
    inner: ReaderHalf,
}

#[derive(Debug)]
enum ReaderHalf {
    Stream(mtnet::PacketReader),
    Http(RequestReader),
}

/// The writing half: packets, quick acks and transport errors to the client.
#[derive(Debug)]
pub struct PacketWriter {
    inner: WriterHalf,
    /// Bytes sent so far (framing counted, padding and WebSocket framing not; over HTTP,
    /// bodies only).
    sent: u64,
}

#[derive(Debug)]
enum WriterHalf {
    Stream {
        writer: mtnet::PacketWriter,
        kind: TransportKind,
    },
    Http(ResponseWriter),
}

/// Detects the transport of `stream` and opens its packet stream, within `timeout`, with
/// packets bounded by `max_packet`; MTProxy clients with one of `secrets` are accepted too
/// (besides clients without a secret). Padded intermediate is padded as `padding` says. A
/// plain HTTP request (not a WebSocket upgrade) is MTProto over HTTP.
pub async fn accept(
    stream: TcpStream,
    max_packet: usize,
    timeout: Duration,
    secrets: &[ProxySecret],
    padding: PaddingStyle,
) -> Result<(TransportInfo, PacketReader, PacketWriter), TransportError> {
    let config = AcceptConfig::default()
        .with_detect_timeout(timeout)
        .with_max_packet(max_packet)
        .with_secrets(secrets.to_vec())
        .with_padding(padding);
    match mtnet::accept(stream, &config).await? {
        Accepted::Packets {
            reader,
            writer,
            info,
        } => Ok((
            info.into(),
            PacketReader {
                inner: ReaderHalf::Stream(reader),
            },
            PacketWriter {
                inner: WriterHalf::Stream {
                    writer,
                    kind: info.kind,
                },
                sent: 0,
            },
        )),
        Accepted::Http(tcp, received) => {
            let config = HttpServerConfig::default().with_max_body(max_packet);
            let (reader, writer) = mtnet::http::server_halves(tcp, received, &config);
            Ok((
                TransportInfo::http(),
                PacketReader {
                    inner: ReaderHalf::Http(reader),
                },
                PacketWriter {
                    inner: WriterHalf::Http(writer),
                    sent: 0,
                },
            ))
        }
    }
}

impl PacketReader {
    /// The next packet; `None` when the client closed the connection between packets.
    /// Cancel-safe (mtnet keeps partial reads buffered).
    pub async fn recv(&mut self) -> Result<Option<Packet>, TransportError> {
        let reader = match &mut self.inner {
            ReaderHalf::Stream(reader) => reader,
            ReaderHalf::Http(requests) => {
                let body = requests.recv().await?;
                return Ok(body.map(|payload| Packet {
                    payload,
                    quick_ack_requested: false,
                }));
            }
        };
        loop {
            let (payload, quick_ack_requested) = match reader.recv().await {
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
        match &mut self.inner {
            WriterHalf::Stream { writer, kind } => {
                let len = frame_len(*kind, payload.len());
                Self::spend(&mut self.sent, len, budget)?;
                Ok(writer.send(payload).await?)
            }
            WriterHalf::Http(responses) => {
                Self::spend(&mut self.sent, payload.len() as u64, budget)?;
                Ok(responses.send(payload).await?)
            }
        }
    }

    /// HTTP: answers the oldest request with an empty body (nothing to send this time).
    /// Nothing to do on a stream.
    pub async fn send_empty(&mut self) -> Result<(), TransportError> {
        match &mut self.inner {
            WriterHalf::Stream { .. } => Ok(()),
            WriterHalf::Http(responses) => Ok(responses.send(&[]).await?),
        }
    }

    /// HTTP: answers a request that cannot be served with `status`, and closes. Nothing to
    /// do on a stream.
    pub async fn send_http_error(&mut self, status: u16) -> Result<(), TransportError> {
        match &mut self.inner {
            WriterHalf::Stream { .. } => Ok(()),
            WriterHalf::Http(responses) => Ok(responses.send_error(status).await?),
        }
    }

    /// Sends a quick-ack token.
    pub async fn send_quick_ack(
        &mut self,
        token: u32,
        budget: Option<u64>,
    ) -> Result<(), TransportError> {
        match &mut self.inner {
            WriterHalf::Stream { writer, .. } => {
                Self::spend(&mut self.sent, 4, budget)?;
                Ok(writer.send_quick_ack(token).await?)
            }
            // HTTP has no quick acks.
            WriterHalf::Http(_) => Ok(()),
        }
    }

    /// Sends a transport error (e.g. -404) and closes the sending side. Over HTTP the code
    /// is the status (`404 Not Found`) and, as 4 bytes, the body.
    pub async fn send_transport_error(&mut self, code: i32) -> Result<(), TransportError> {
        match &mut self.inner {
            WriterHalf::Stream { writer, .. } => {
                writer.send_transport_error(code).await?;
                writer.shutdown().await?;
            }
            WriterHalf::Http(responses) => responses.send_transport_error(code).await?,
        }
        Ok(())
    }

    /// Bytes sent so far.
    pub fn bytes_sent(&self) -> u64 {
        self.sent
    }

    /// Closes the sending side.
    pub async fn shutdown(&mut self) {
        // The peer may be gone already; nothing to do about a failure here.
        let _ = match &mut self.inner {
            WriterHalf::Stream { writer, .. } => writer.shutdown().await,
            WriterHalf::Http(responses) => responses.shutdown().await,
        };
    }

    fn spend(sent: &mut u64, len: u64, budget: Option<u64>) -> Result<(), TransportError> {
        let total = sent.saturating_add(len);
        if budget.is_some_and(|budget| total > budget) {
            return Err(TransportError::BudgetSpent);
        }
        *sent = total;
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
