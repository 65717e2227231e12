//! A WebSocket connection seen as a byte stream, so that the packet streams serve WebSocket
//! exactly as they serve TCP.
//!
//! Telegram's web transport carries the obfuscated byte stream in binary messages whose
//! boundaries mean nothing: a reader concatenates their payloads, a writer may cut the stream
//! anywhere.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message};

/// The URL path Telegram serves its WebSocket transport on.
pub const DEFAULT_PATH: &str = "/apiws";
/// The WebSocket subprotocol Telegram's web transport asks for.
pub const SUBPROTOCOL: &str = "binary";

/// Largest binary message this side sends; bigger writes are cut into several messages so
/// that peers with a modest message limit still accept them.
const MAX_SEND_MESSAGE: usize = 1024 * 1024;
/// Room for the transport framing around the largest packet in one received message.
const RECEIVE_SLACK: usize = 64 * 1024;

/// WebSocket limits for a connection whose packets are at most `max_packet` bytes: one
/// message may hold the largest packet with its framing, and no more, so that a peer cannot
/// make the WebSocket layer buffer more than the packet codec would.
pub fn config_for(max_packet: usize) -> WebSocketConfig {
    let limit = max_packet.saturating_add(RECEIVE_SLACK);
    WebSocketConfig::default()
        .max_message_size(Some(limit))
        .max_frame_size(Some(limit))
}

/// A [`WebSocketStream`] as an `AsyncRead + AsyncWrite` byte stream.
///
/// Reads return the payloads of binary messages in order; pings are answered by the WebSocket
/// layer, a close message or the end of the stream reads as end of file, and a text message is
/// an error. Each write sends one binary message (at most 1 MiB; `write_all` sends the rest).
/// WebSocket errors surface as I/O errors wrapping the `tungstenite::Error`.
#[derive(Debug)]
pub struct WsStream<S> {
    ws: WebSocketStream<S>,
    /// The rest of the message being read.
    pending: Bytes,
}

impl<S> WsStream<S> {
    /// Wraps an established WebSocket connection.
    pub fn new(ws: WebSocketStream<S>) -> Self {
        Self {
            ws,
            pending: Bytes::new(),
        }
    }

    /// The WebSocket connection.
    pub fn get_ref(&self) -> &WebSocketStream<S> {
        &self.ws
    }
}

fn to_io(err: WsError) -> io::Error {
    match err {
        WsError::Io(io) => io,
        other => io::Error::other(other),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.pending.is_empty() {
                let n = this.pending.len().min(buf.remaining());
                let chunk = this.pending.split_to(n);
                buf.put_slice(&chunk);
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => this.pending = data,
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "text message on a binary MTProto WebSocket",
                    )));
                }
                // Control messages: tungstenite answers pings itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_)) | Err(WsError::ConnectionClosed)) | None => {
                    return Poll::Ready(Ok(()));
                }
                Some(Err(err)) => return Poll::Ready(Err(to_io(err))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let this = self.get_mut();
        ready!(Pin::new(&mut this.ws).poll_ready(cx)).map_err(to_io)?;
        let n = buf.len().min(MAX_SEND_MESSAGE);
        let chunk = Bytes::copy_from_slice(buf.get(..n).unwrap_or(buf));
        Pin::new(&mut this.ws)
            .start_send(Message::Binary(chunk))
            .map_err(to_io)?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().ws)
            .poll_flush(cx)
            .map_err(to_io)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match ready!(Pin::new(&mut self.get_mut().ws).poll_close(cx)) {
            Ok(()) | Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => Poll::Ready(Ok(())),
            Err(err) => Poll::Ready(Err(to_io(err))),
        }
    }
}
