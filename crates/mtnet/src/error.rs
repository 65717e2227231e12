//! The errors of this crate.

use std::io;
use std::time::Duration;

use mtproto::MessageError;
use mtproto::handshake::HandshakeError;
use mtproto::transport::fake_tls::FakeTlsError;
use mtproto::transport::{CodecError, ObfuscationError, TransportKind};
use tokio_tungstenite::tungstenite;

use crate::http::HttpError;

/// Why a connection, a packet, a detection or a handshake failed.
///
/// Every error means the connection is no longer usable: drop both halves and reconnect.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The socket failed.
    #[error("I/O error: {0}")]
    Io(io::Error),
    /// An operation did not finish in time.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// What timed out ("connect", "transport detection", "handshake", ...).
        operation: &'static str,
        /// The limit that was exceeded.
        after: Duration,
    },
    /// The peer closed the connection between two frames.
    #[error("connection closed by the peer")]
    Closed,
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed by the peer in the middle of a frame ({buffered} bytes pending)")]
    UnexpectedEof {
        /// Bytes of the unfinished frame already received.
        buffered: usize,
    },
    /// The byte stream does not follow the transport's framing.
    #[error("transport framing: {0}")]
    Codec(#[from] CodecError),
    /// The obfuscation header could not be produced or accepted.
    #[error("transport obfuscation: {0}")]
    Obfuscation(#[from] ObfuscationError),
    /// The server sent a transport error code (e.g. -404, -429, -444).
    #[error("transport error {code} from the server ({})", describe_transport_error(*code))]
    Transport {
        /// The negative code.
        code: i32,
    },
    /// A packet that is not the plain message the handshake expects.
    #[error("handshake message: {0}")]
    Message(#[from] MessageError),
    /// The auth-key handshake failed.
    #[error("auth-key handshake: {0}")]
    Handshake(#[from] HandshakeError),
    /// The WebSocket layer failed (upgrade refused, protocol violation, ...).
    #[error("WebSocket: {0}")]
    WebSocket(Box<tungstenite::Error>),
    /// The SOCKS5 proxy refused or failed.
    #[error("SOCKS5 proxy: {0}")]
    Socks(#[from] tokio_socks::Error),
    /// The server could not tell what the client speaks.
    #[error("transport detection: {0}")]
    Detect(#[from] DetectError),
    /// The endpoint configuration cannot work.
    #[error("invalid endpoint: {0}")]
    InvalidEndpoint(&'static str),
    /// The operating system's random source failed.
    #[error("OS random source: {0}")]
    Random(#[from] rand::Error),
    /// An HTTP message that cannot be served or understood (MTProto over HTTP).
    #[error("HTTP: {0}")]
    Http(#[from] HttpError),
    /// The MTProxy fake-TLS handshake or record layer failed (either side).
    #[error("MTProxy fake TLS: {0}")]
    FakeTls(#[from] FakeTlsError),
    /// A bug in this crate or below it, reported instead of panicking.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// Why server-side detection refused a connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DetectError {
    /// The first bytes match no transport.
    #[error("the first bytes match no MTProto transport")]
    Unrecognized,
    /// An MTProxy fake-TLS ClientHello, but no fake-TLS (`ee`) secret is configured.
    #[error("MTProxy fake TLS is not served here (no fake-TLS secret configured)")]
    FakeTlsUnsupported,
    /// A client without an MTProxy secret, where only MTProxy clients are served.
    #[error("only MTProxy clients are served here")]
    SecretRequired,
    /// A `dd` MTProxy secret, but the client chose another framing than padded
    /// intermediate.
    #[error("a dd MTProxy secret allows padded intermediate only, not {kind:?}")]
    PaddingRequired {
        /// The framing the client chose.
        kind: TransportKind,
    },
    /// The HTTP request head did not end within the byte limit.
    #[error("HTTP request head longer than {limit} bytes")]
    HttpHeadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The HTTP request line or a header is malformed.
    #[error("malformed HTTP request head")]
    BadHttp,
    /// Inside a WebSocket, the stream must be MTProto, not another HTTP request or TLS.
    #[error("unexpected protocol inside the WebSocket")]
    BadWebSocketPayload,
    /// The connection closed before the transport could be told.
    #[error("connection closed after {received} bytes, before the transport was known")]
    ClosedEarly {
        /// Bytes received.
        received: usize,
    },
}

impl NetError {
    /// The transport error code, if this is one.
    pub fn transport_code(&self) -> Option<i32> {
        match self {
            NetError::Transport { code } => Some(*code),
            _ => None,
        }
    }

    /// A timeout error for `operation`.
    pub(crate) fn timeout(operation: &'static str, after: Duration) -> Self {
        NetError::Timeout { operation, after }
    }
}

impl From<io::Error> for NetError {
    /// Unwraps WebSocket errors that travelled through the byte-stream adapter as I/O errors.
    fn from(err: io::Error) -> Self {
        // An error of ours that travelled through a byte-stream adapter (the HTTP carrier).
        if err
            .get_ref()
            .is_some_and(<dyn std::error::Error + Send + Sync>::is::<NetError>)
        {
            if let Some(inner) = err.into_inner() {
                return match inner.downcast::<NetError>() {
                    Ok(ours) => *ours,
                    Err(other) => NetError::Io(io::Error::other(other)),
                };
            }
            return NetError::Internal("I/O error lost its source");
        }
        let is_ws = err
            .get_ref()
            .is_some_and(<dyn std::error::Error + Send + Sync>::is::<tungstenite::Error>);
        if is_ws {
            if let Some(inner) = err.into_inner() {
                return match inner.downcast::<tungstenite::Error>() {
                    Ok(ws) => NetError::WebSocket(ws),
                    Err(other) => NetError::Io(io::Error::other(other)),
                };
            }
            return NetError::Internal("I/O error lost its source");
        }
        NetError::Io(err)
    }
}

impl From<tungstenite::Error> for NetError {
    fn from(err: tungstenite::Error) -> Self {
        NetError::WebSocket(Box::new(err))
    }
}

/// What a transport error code usually means, for messages.
pub fn describe_transport_error(code: i32) -> &'static str {
    match code {
        -404 => "auth key not found, or the message could not be processed",
        -429 => "transport flood: too many connections or packets",
        -444 => "invalid DC id",
        _ => "unknown code",
    }
}
