//! The server side: telling what an accepted connection speaks, as Telegram's servers do on
//! one port, and opening a server-role packet stream for it.
//!
//! From the first bytes: abridged, intermediate, padded intermediate, full, obfuscated (a
//! 64-byte header, optionally bound to MTProxy secrets), or HTTP. An HTTP WebSocket upgrade to
//! the configured path is completed and detection runs again inside it; any other HTTP request
//! is handed back as [`Accepted::Http`] for an HTTP transport handler. A TLS ClientHello is an
//! MTProxy fake-TLS client: with an `ee` secret configured, the handshake is answered and the
//! obfuscated stream is read from inside the TLS records ([`CarrierKind::FakeTls`]). Detection
//! is bounded in time and bytes.
//!
//! MTProxy secrets ([`AcceptConfig::secrets`]) make the server an MTProxy front: a header
//! that opens with a secret (and only with it) is an MTProxy client, reported with
//! [`StreamInfo::secret_index`] and the DC id it asked for; a `dd` secret admits padded
//! intermediate only, an `ee` secret only fake TLS. Clients without a secret are served as
//! well unless [`AcceptConfig::allow_direct`] is off.

mod fake_tls;
mod http;
mod sniff;
mod websocket;

use std::time::Duration;

use mtproto::transport::{
    self, Codec, DEFAULT_MAX_PACKET, Detected, HEADER_LEN, Obfuscation, ObfuscationError,
    PaddingStyle, ProxySecret, TransportKind,
};
use tokio::net::TcpStream;

use crate::framed::{Framing, PacketReader, PacketWriter};
use crate::ws::DEFAULT_PATH;
use crate::{DetectError, NetError};

/// Default limit on detection, WebSocket upgrade included.
pub const DEFAULT_DETECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit on the bytes read during detection (an HTTP request head must fit).
pub const DEFAULT_MAX_HEAD: usize = 8 * 1024;
/// Default largest difference between a fake-TLS client's clock and the server's.
pub const DEFAULT_FAKE_TLS_WINDOW: Duration = Duration::from_mins(2);

/// How [`accept`] detects and what it accepts.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AcceptConfig {
    /// Limit on everything before the packet stream is ready: first bytes, HTTP head,
    /// WebSocket upgrade, the obfuscation header inside it.
    pub detect_timeout: Duration,
    /// Limit on the bytes read before the transport is known, HTTP request head included.
    pub max_head: usize,
    /// MTProxy secrets obfuscation headers may be bound to: plain ones for any obfuscated
    /// framing, `dd` ones for padded intermediate only, `ee` ones inside fake TLS only.
    pub secrets: Vec<ProxySecret>,
    /// Whether clients without a secret are served too (plain transports and headers made
    /// without a secret). On by default; off makes a pure MTProxy front.
    pub allow_direct: bool,
    /// How far a fake-TLS client's clock, read from its ClientHello, may be from the
    /// server's either way.
    pub fake_tls_window: Duration,
    /// The path WebSocket upgrades are accepted on.
    pub websocket_path: String,
    /// Largest packet accepted in either direction.
    pub max_packet: usize,
    /// How padded intermediate pads what the server sends (by default as Telegram's servers
    /// do, at most 3 bytes).
    pub padding: PaddingStyle,
}

impl Default for AcceptConfig {
    fn default() -> Self {
        Self {
            detect_timeout: DEFAULT_DETECT_TIMEOUT,
            max_head: DEFAULT_MAX_HEAD,
            secrets: Vec::new(),
            allow_direct: true,
            fake_tls_window: DEFAULT_FAKE_TLS_WINDOW,
            websocket_path: DEFAULT_PATH.to_owned(),
            max_packet: DEFAULT_MAX_PACKET,
            padding: PaddingStyle::default(),
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
    pub fn with_secrets(mut self, secrets: Vec<ProxySecret>) -> Self {
        self.secrets = secrets;
        self
    }

    /// Sets whether clients without a secret are served.
    #[must_use]
    pub fn with_allow_direct(mut self, allow_direct: bool) -> Self {
        self.allow_direct = allow_direct;
        self
    }

    /// Sets the largest packet accepted.
    #[must_use]
    pub fn with_max_packet(mut self, max_packet: usize) -> Self {
        self.max_packet = max_packet;
        self
    }

    /// Sets how padded intermediate pads what the server sends.
    #[must_use]
    pub fn with_padding(mut self, padding: PaddingStyle) -> Self {
        self.padding = padding;
        self
    }

    /// The server codec for `kind`: a plain stream still carries its init tag, an
    /// obfuscated one has it inside the header.
    fn codec(&self, kind: TransportKind, tagged: bool) -> Codec {
        let codec = Codec::server(kind)
            .with_max_packet(self.max_packet)
            .with_padding(self.padding);
        if tagged {
            codec
        } else {
            codec.without_init_tag()
        }
    }
}

/// What carried an accepted stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CarrierKind {
    /// Directly over TCP.
    Tcp,
    /// Inside a WebSocket.
    WebSocket,
    /// Inside MTProxy fake-TLS records over TCP.
    FakeTls,
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
    /// Which of the configured MTProxy secrets the header matched (an index into
    /// [`AcceptConfig::secrets`]); `None` for a client without a secret.
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
    if detected == Detected::FakeTls {
        return fake_tls::open(tcp, received, config).await;
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
        // Only reachable inside a WebSocket: the TCP path handles HTTP and TLS before this.
        Detected::Http | Detected::FakeTls => {
            return Err(DetectError::BadWebSocketPayload.into());
        }
        Detected::Unrecognized | Detected::NeedMore { .. } => {
            return Err(DetectError::Unrecognized.into());
        }
    };
    if !config.allow_direct {
        return Err(DetectError::SecretRequired.into());
    }
    let info = StreamInfo {
        kind,
        obfuscated: false,
        carrier,
        dc_id: None,
        secret_index: None,
    };
    // The init tag is still in `received`: the server codec checks and skips it.
    Ok((
        Framing::new(config.codec(kind, true), None).with_initial(received),
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
    let accepted = open_header(header, config)?;
    let info = StreamInfo {
        kind: accepted.kind,
        obfuscated: true,
        carrier,
        dc_id: Some(accepted.dc_id),
        secret_index: accepted.secret_index,
    };
    let framing = Framing::new(
        config.codec(accepted.kind, false),
        Some(accepted.obfuscation),
    )
    .with_initial(rest.to_vec());
    Ok((framing, info))
}

/// Opens an obfuscation header as `config` allows: without a secret first (a direct client),
/// then with each plain and `dd` secret (`ee` secrets open headers inside fake TLS only). A
/// `dd` secret's client must speak padded intermediate. The secret index reported points
/// into [`AcceptConfig::secrets`].
fn open_header(
    header: &[u8; HEADER_LEN],
    config: &AcceptConfig,
) -> Result<transport::Accepted, NetError> {
    let direct = if config.allow_direct {
        match Obfuscation::server(header, &[]) {
            Ok(accepted) => return Ok(accepted),
            Err(error) => error,
        }
    } else {
        ObfuscationError::UnknownTag
    };
    let (indices, keys): (Vec<usize>, Vec<[u8; 16]>) = config
        .secrets
        .iter()
        .enumerate()
        .filter(|(_, secret)| !matches!(secret, ProxySecret::FakeTls { .. }))
        .map(|(index, secret)| (index, *secret.key()))
        .unzip();
    let keys = mtcrypto::Zeroizing::new(keys);
    if keys.is_empty() {
        return Err(if config.allow_direct {
            direct.into()
        } else {
            DetectError::SecretRequired.into()
        });
    }
    let mut accepted = Obfuscation::server(header, &keys)?;
    let index = accepted
        .secret_index
        .and_then(|matched| indices.get(matched).copied())
        .ok_or(NetError::Internal("matched secret out of range"))?;
    accepted.secret_index = Some(index);
    let required = config
        .secrets
        .get(index)
        .and_then(ProxySecret::required_transport);
    if required.is_some_and(|required| required != accepted.kind) {
        return Err(DetectError::PaddingRequired {
            kind: accepted.kind,
        }
        .into());
    }
    Ok(accepted)
}
