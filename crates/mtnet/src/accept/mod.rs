//! The server side: telling what an accepted connection speaks, as Telegram's servers do on
//! one port, and opening a server-role packet stream for it.
//!
//! From the first bytes: abridged, intermediate, padded intermediate, full, obfuscated (a
//! 64-byte header, optionally bound to MTProxy secrets), or HTTP. An HTTP WebSocket upgrade to
//! the configured path is completed and detection runs again inside it; any other HTTP request
//! is handed back as [`Accepted::Http`] for an HTTP transport handler. Detection is bounded in
//! time and bytes.

mod http;
mod sniff;
mod websocket;

use std::time::Duration;

use mtproto::transport::{DEFAULT_MAX_PACKET, Detected, HEADER_LEN, Obfuscation, TransportKind};
use tokio::net::TcpStream;

use crate::framed::{Framing, PacketReader, PacketWriter};
use crate::ws::DEFAULT_PATH;
use crate::{DetectError, NetError};

/// Default limit on detection, WebSocket upgrade included.
pub const DEFAULT_DETECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit on the bytes read during detection (an HTTP request head must fit).
pub const DEFAULT_MAX_HEAD: usize = 8 * 1024;

/// How [`accept`] detects and what it accepts.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AcceptConfig {
    /// Limit on everything before the packet stream is ready: first bytes, HTTP head,
    /// WebSocket upgrade, the obfuscation header inside it.
    pub detect_timeout: Duration,
    /// Limit on the bytes read before the transport is known, HTTP request head included.
    pub max_head: usize,
    /// MTProxy secrets obfuscation headers may be bound to; empty for a plain server, which
    /// accepts headers made without a secret.
    pub secrets: Vec<[u8; 16]>,
    /// The path WebSocket upgrades are accepted on.
    pub websocket_path: String,
    /// Largest packet accepted in either direction.
    pub max_packet: usize,
}

impl Default for AcceptConfig {
    fn default() -> Self {
        Self {
            detect_timeout: DEFAULT_DETECT_TIMEOUT,
            max_head: DEFAULT_MAX_HEAD,
            secrets: Vec::new(),
            websocket_path: DEFAULT_PATH.to_owned(),
            max_packet: DEFAULT_MAX_PACKET,
        }
    }
}

impl AcceptConfig {
    /// Sets the detection timeout.
    #[must_use]
    pub fn with_detect_timeout(mut self, timeout: Duration) -> Self {
        self.detect_timeout = timeout;
        self
    }

    /// Sets the MTProxy secrets.
    #[must_use]
    pub fn with_secrets(mut self, secrets: Vec<[u8; 16]>) -> Self {
        self.secrets = secrets;
        self
    }

    /// Sets the largest packet accepted.
    #[must_use]
    pub fn with_max_packet(mut self, max_packet: usize) -> Self {
        self.max_packet = max_packet;
        self
    }
}

/// What carried an accepted stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CarrierKind {
    /// Directly over TCP.
    Tcp,
    /// Inside a WebSocket.
    WebSocket,
}

/// What detection found out about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamInfo {
    /// The framing.
    pub kind: TransportKind,
    /// Whether the stream is obfuscated.
    pub obfuscated: bool,
    /// What carries it.
    pub carrier: CarrierKind,
    /// The DC id from the obfuscation header (obfuscated streams only).
    pub dc_id: Option<i16>,
    /// Which of the configured MTProxy secrets the header matched.
    pub secret_index: Option<usize>,
}

/// An accepted connection.
#[derive(Debug)]
pub enum Accepted {
    /// An MTProto packet stream, server role.
    Packets {
        /// The receiving half.
        reader: PacketReader,
        /// The sending half.
        writer: PacketWriter,
        /// What was detected.
        info: StreamInfo,
    },
    /// An HTTP request other than a WebSocket upgrade to the configured path (MTProto over
    /// HTTP is a `POST /api`): the connection and every byte read from it so far, which
    /// start with a complete request head.
    Http(TcpStream, Vec<u8>),
}

/// Detects what the client on `tcp` speaks and opens the matching server-role stream.
pub async fn accept(tcp: TcpStream, config: &AcceptConfig) -> Result<Accepted, NetError> {
    // Small packets must not wait for Nagle on this side either.
    tcp.set_nodelay(true)?;
    let limit = config.detect_timeout;
    let accepted = tokio::time::timeout(limit, detect_and_open(tcp, config))
        .await
        .map_err(|_| NetError::timeout("transport detection", limit))??;
    match &accepted {
        Accepted::Packets { info, .. } => tracing::debug!(?info, "accepted MTProto stream"),
        Accepted::Http(_, received) => {
            tracing::debug!(bytes = received.len(), "accepted HTTP request");
        }
    }
    Ok(accepted)
}

async fn detect_and_open(mut tcp: TcpStream, config: &AcceptConfig) -> Result<Accepted, NetError> {
    let mut received = Vec::new();
    let detected =
        sniff::sniff(&mut tcp, &mut received, config.max_packet, config.max_head).await?;
    if detected == Detected::Http {
        return http_or_websocket(tcp, received, config).await;
    }
    let (framing, info) = framing_for(detected, received, config, CarrierKind::Tcp)?;
    let (reader, writer) = framing.split_tcp(tcp);
    Ok(Accepted::Packets {
        reader,
        writer,
        info,
    })
}

async fn http_or_websocket(
    mut tcp: TcpStream,
    mut received: Vec<u8>,
    config: &AcceptConfig,
) -> Result<Accepted, NetError> {
    let head_len = http::read_head(&mut tcp, &mut received, config.max_head).await?;
    let head = http::parse_head(received.get(..head_len).unwrap_or_default())?;
    if !head.websocket_upgrade || head.path != config.websocket_path {
        tracing::trace!(method = %head.method, path = %head.path, "plain HTTP request");
        return Ok(Accepted::Http(tcp, received));
    }
    let mut ws = websocket::upgrade(tcp, received, config.max_packet).await?;
    let mut inner = Vec::new();
    let detected = sniff::sniff(&mut ws, &mut inner, config.max_packet, config.max_head).await?;
    let (framing, info) = framing_for(detected, inner, config, CarrierKind::WebSocket)?;
    let (reader, writer) = framing.split(ws);
    Ok(Accepted::Packets {
        reader,
        writer,
        info,
    })
}

/// The server framing for a detected MTProto stream whose first bytes are `received`.
fn framing_for(
    detected: Detected,
    received: Vec<u8>,
    config: &AcceptConfig,
    carrier: CarrierKind,
) -> Result<(Framing, StreamInfo), NetError> {
    let kind = match detected {
        Detected::Abridged => TransportKind::Abridged,
        Detected::Intermediate => TransportKind::Intermediate,
        Detected::PaddedIntermediate => TransportKind::PaddedIntermediate,
        Detected::Full => TransportKind::Full,
        Detected::Obfuscated => return obfuscated_framing(&received, config, carrier),
        Detected::FakeTls => return Err(DetectError::FakeTlsUnsupported.into()),
        // Only reachable inside a WebSocket: the TCP path handles HTTP before this.
        Detected::Http => return Err(DetectError::BadWebSocketPayload.into()),
        Detected::Unrecognized | Detected::NeedMore { .. } => {
            return Err(DetectError::Unrecognized.into());
        }
    };
    let info = StreamInfo {
        kind,
        obfuscated: false,
        carrier,
        dc_id: None,
        secret_index: None,
    };
    // The init tag is still in `received`: the server codec checks and skips it.
    Ok((
        Framing::server(kind, config.max_packet).with_initial(received),
        info,
    ))
}

/// The server framing for an obfuscated stream: the header is checked against the
/// configured secrets, and the bytes after it are the encrypted stream.
fn obfuscated_framing(
    received: &[u8],
    config: &AcceptConfig,
    carrier: CarrierKind,
) -> Result<(Framing, StreamInfo), NetError> {
    let (header, rest) = received
        .split_first_chunk::<{ HEADER_LEN }>()
        .ok_or(NetError::Internal("obfuscation detected without a header"))?;
    let accepted = Obfuscation::server(header, &config.secrets)?;
    let info = StreamInfo {
        kind: accepted.kind,
        obfuscated: true,
        carrier,
        dc_id: Some(accepted.dc_id),
        secret_index: accepted.secret_index,
    };
    let framing =
        Framing::server_obfuscated(accepted.kind, accepted.obfuscation, config.max_packet)
            .with_initial(rest.to_vec());
    Ok((framing, info))
}
