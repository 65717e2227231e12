//! The server role: MTProto packets out of `POST` requests, responses back.
//!
//! [`server_halves`] takes a connection that transport detection handed over as
//! [`Accepted::Http`](crate::Accepted::Http) and splits it into a [`RequestReader`], which
//! yields the body of each request, and a [`ResponseWriter`], which answers them in order.
//! The halves only frame messages; when to answer (at once, or after holding the request
//! for a long poll) is the caller's decision.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mtproto::transport::DEFAULT_MAX_PACKET;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::head::{Framing, MAX_HEADERS, READ_CHUNK, find_head_end, read_at_most, reason};
use super::{DEFAULT_PATH, HttpError};
use crate::NetError;
use crate::accept::DEFAULT_MAX_HEAD;

/// `u64::MAX` in [`Shared::close_after`]: no request asked to close.
const NEVER: u64 = u64::MAX;
/// Bodies up to this size are copied after the head to go out in one write.
const COPY_LIMIT: usize = 16 * 1024;

/// What the server side accepts.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpServerConfig {
    /// The one path MTProto is served on (`/api`); other paths get 404.
    pub path: String,
    /// Longest request head accepted (431 beyond).
    pub max_head: usize,
    /// Largest body (one packet) accepted (413 beyond).
    pub max_body: usize,
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        Self {
            path: DEFAULT_PATH.to_owned(),
            max_head: DEFAULT_MAX_HEAD,
            max_body: DEFAULT_MAX_PACKET,
        }
    }
}

impl HttpServerConfig {
    /// Sets the largest body accepted.
    #[must_use]
    pub fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body;
        self
    }
}

/// What the two halves share: which response must close the connection.
#[derive(Debug)]
struct Shared {
    /// Number of the request (counted from 1) whose response is the last one, because the
    /// client asked to close (or spoke HTTP/1.0 without keep-alive).
    close_after: AtomicU64,
}

/// Splits an HTTP connection into its request and response halves. `received` is what
/// detection already read: a complete request head, and possibly more.
pub fn server_halves(
    tcp: TcpStream,
    received: Vec<u8>,
    config: &HttpServerConfig,
) -> (RequestReader, ResponseWriter) {
    let (read, write) = tcp.into_split();
    let shared = Arc::new(Shared {
        close_after: AtomicU64::new(NEVER),
    });
    let reader = RequestReader {
        io: Box::new(read),
        buf: received,
        scanned: 0,
        body: None,
        config: config.clone(),
        read: 0,
        shared: Arc::clone(&shared),
    };
    let writer = ResponseWriter {
        io: Box::new(write),
        out: Vec::new(),
        written: 0,
        shared,
        closed: false,
    };
    (reader, writer)
}

/// Reads requests and hands out their bodies, one MTProto packet each.
///
/// [`RequestReader::recv`] is cancel-safe: bytes read stay buffered. Pipelined requests are
/// read one at a time, as the caller asks for them.
pub struct RequestReader {
    io: Box<dyn AsyncRead + Unpin + Send>,
    buf: Vec<u8>,
    /// Where the search for the end of the current head resumes.
    scanned: usize,
    /// The current request's head length and body length, once its head was accepted.
    body: Option<(usize, usize)>,
    config: HttpServerConfig,
    /// Requests read so far.
    read: u64,
    shared: Arc<Shared>,
}

impl fmt::Debug for RequestReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestReader")
            .field("path", &self.config.path)
            .field("buffered", &self.buf.len())
            .field("requests", &self.read)
            .finish_non_exhaustive()
    }
}

impl RequestReader {
    /// The body of the next `POST` to the configured path; `None` when the client closed the
    /// connection between requests.
    ///
    /// A request that cannot be served is [`NetError::Http`]: answer it with
    /// [`HttpError::status`] and close the connection (the stream cannot be trusted to be
    /// in step any more). A close in the middle of a request is
    /// [`NetError::UnexpectedEof`].
    pub async fn recv(&mut self) -> Result<Option<Vec<u8>>, NetError> {
        loop {
            let Some((head_len, body_len)) = self.body else {
                if let Some(head_len) = find_head_end(&self.buf, &mut self.scanned) {
                    self.accept_head(head_len)?;
                    continue;
                }
                if self.buf.len() >= self.config.max_head {
                    return Err(self.head_too_large());
                }
                let room = self.config.max_head - self.buf.len();
                if !self.fill(room.min(READ_CHUNK)).await? {
                    return Ok(None);
                }
                continue;
            };
            let end = head_len.saturating_add(body_len);
            if let Some(body) = self.buf.get(head_len..end) {
                let body = body.to_vec();
                self.buf.drain(..end);
                self.scanned = 0;
                self.body = None;
                return Ok(Some(body));
            }
            let missing = end.saturating_sub(self.buf.len());
            if !self.fill(missing).await? {
                return Err(NetError::UnexpectedEof {
                    buffered: self.buf.len(),
                });
            }
        }
    }

    /// Reads up to `max` more bytes; `false` at the end of the stream, which is a clean
    /// close only with nothing buffered.
    async fn fill(&mut self, max: usize) -> Result<bool, NetError> {
        let read = read_at_most(&mut self.io, &mut self.buf, max).await?;
        if read > 0 {
            return Ok(true);
        }
        if self.buf.is_empty() {
            Ok(false)
        } else {
            Err(NetError::UnexpectedEof {
                buffered: self.buf.len(),
            })
        }
    }

    fn head_too_large(&self) -> NetError {
        HttpError::HeadTooLarge {
            limit: self.config.max_head,
        }
        .into()
    }

    /// Checks the head of the next request and records where its body ends.
    fn accept_head(&mut self, head_len: usize) -> Result<(), NetError> {
        if head_len > self.config.max_head {
            return Err(self.head_too_large());
        }
        let head = self.buf.get(..head_len).unwrap_or_default();
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(head) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => {
                return Err(HttpError::Malformed("incomplete request head").into());
            }
            Err(httparse::Error::TooManyHeaders) => return Err(self.head_too_large()),
            Err(httparse::Error::Version) => return Err(HttpError::UnsupportedVersion.into()),
            Err(_) => return Err(HttpError::Malformed("request line or header").into()),
        }
        let (Some(method), Some(target), Some(minor)) =
            (request.method, request.path, request.version)
        else {
            return Err(HttpError::Malformed("request line").into());
        };
        let path = target.split('?').next().unwrap_or(target);
        if path != self.config.path {
            return Err(HttpError::NotFound.into());
        }
        if method != "POST" {
            return Err(HttpError::MethodNotAllowed.into());
        }
        let framing = Framing::of(request.headers)?;
        if framing.transfer_encoding {
            return Err(HttpError::TransferEncoding.into());
        }
        let length = framing.content_length.ok_or(HttpError::LengthRequired)?;
        let body_len = usize::try_from(length)
            .ok()
            .filter(|len| *len <= self.config.max_body)
            .ok_or(HttpError::BodyTooLarge {
                length,
                limit: self.config.max_body,
            })?;
        if body_len == 0 {
            return Err(HttpError::EmptyBody.into());
        }
        self.read += 1;
        if !framing.persistent(minor) {
            // The first such request wins: nothing after it is answered anyway.
            let _ = self.shared.close_after.compare_exchange(
                NEVER,
                self.read,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        self.body = Some((head_len, body_len));
        Ok(())
    }
}

/// Answers requests, in the order they were read.
///
/// After the response to a request that asked to close, and after any error status, the
/// sending side is shut down. Not cancel-safe, like [`PacketWriter`](crate::PacketWriter).
pub struct ResponseWriter {
    io: Box<dyn AsyncWrite + Unpin + Send>,
    out: Vec<u8>,
    /// Responses written so far.
    written: u64,
    shared: Arc<Shared>,
    closed: bool,
}

impl fmt::Debug for ResponseWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseWriter")
            .field("responses", &self.written)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl ResponseWriter {
    /// Answers the oldest unanswered request with `200 OK` and `packet` as the body (empty:
    /// nothing to send this time).
    pub async fn send(&mut self, packet: &[u8]) -> Result<(), NetError> {
        self.respond(200, packet).await
    }

    /// Answers with an error status (an empty body) and closes the sending side.
    pub async fn send_error(&mut self, status: u16) -> Result<(), NetError> {
        self.respond(status, &[]).await?;
        self.shutdown().await
    }

    /// Answers with a transport error: its absolute value is the status (-404 is
    /// `404 Not Found`) and the 4-byte code, as a stream transport would send it, is the
    /// body. The sending side is closed after it, as a stream's would be.
    pub async fn send_transport_error(&mut self, code: i32) -> Result<(), NetError> {
        let status = u16::try_from(code.unsigned_abs())
            .ok()
            .filter(|status| (400..=599).contains(status))
            .unwrap_or(500);
        self.respond(status, &code.to_le_bytes()).await?;
        self.shutdown().await
    }

    /// Closes the sending side (TCP FIN).
    pub async fn shutdown(&mut self) -> Result<(), NetError> {
        if !self.closed {
            self.closed = true;
            self.io.shutdown().await?;
        }
        Ok(())
    }

    async fn respond(&mut self, status: u16, body: &[u8]) -> Result<(), NetError> {
        if self.closed {
            return Err(NetError::Closed);
        }
        self.written += 1;
        let last = status != 200 || self.written >= self.shared.close_after.load(Ordering::Relaxed);
        let connection = if last { "close" } else { "keep-alive" };
        self.out.clear();
        self.out.extend_from_slice(
            format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: application/octet-stream\r\n\
                 Content-Length: {}\r\nConnection: {connection}\r\n\
                 Access-Control-Allow-Origin: *\r\nCache-Control: no-store\r\n\r\n",
                reason(status),
                body.len()
            )
            .as_bytes(),
        );
        // Small bodies go out with the head in one write; large ones are not copied.
        if body.len() <= COPY_LIMIT {
            self.out.extend_from_slice(body);
            self.io.write_all(&self.out).await?;
        } else {
            self.io.write_all(&self.out).await?;
            self.io.write_all(body).await?;
        }
        self.io.flush().await?;
        if last && status == 200 {
            self.shutdown().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;

    /// A connected pair: the client's socket and the server's halves, `first` standing for
    /// what detection read.
    async fn pair(
        first: &[u8],
        config: &HttpServerConfig,
    ) -> (TcpStream, RequestReader, ResponseWriter) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (reader, writer) = server_halves(server, first.to_vec(), config);
        (client, reader, writer)
    }

    async fn read_all(client: &mut TcpStream) -> String {
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        String::from_utf8_lossy(&received).into_owned()
    }

    #[tokio::test]
    async fn pipelined_requests_in_order_and_http10_closes() {
        let config = HttpServerConfig::default();
        let first = b"POST /api HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcPOST /api?x HTTP/1.1\r\n";
        let (mut client, mut reader, mut writer) = pair(first, &config).await;
        client
            .write_all(b"content-length: 2\r\n\r\nde")
            .await
            .unwrap();
        client
            .write_all(b"POST /api HTTP/1.0\r\nContent-Length: 1\r\n\r\nf")
            .await
            .unwrap();
        assert_eq!(reader.recv().await.unwrap(), Some(b"abc".to_vec()));
        assert_eq!(reader.recv().await.unwrap(), Some(b"de".to_vec()));
        assert_eq!(reader.recv().await.unwrap(), Some(b"f".to_vec()));
        writer.send(b"one").await.unwrap();
        writer.send(&[]).await.unwrap();
        // The HTTP/1.0 request did not ask to keep the connection: its answer is the last.
        writer.send(b"three").await.unwrap();
        assert!(writer.send(b"four").await.is_err());
        let text = read_all(&mut client).await;
        assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 3);
        assert_eq!(text.matches("Connection: keep-alive").count(), 2);
        assert!(text.contains("Content-Length: 0\r\n"));
        assert!(text.ends_with("Connection: close\r\nAccess-Control-Allow-Origin: *\r\nCache-Control: no-store\r\n\r\nthree"));
        drop(client);
    }

    #[tokio::test]
    async fn bad_requests_are_typed() {
        let config = HttpServerConfig::default().with_max_body(100);
        let cases: [(&[u8], HttpError); 6] = [
            (b"GET /api HTTP/1.1\r\n\r\n", HttpError::MethodNotAllowed),
            (
                b"POST /x HTTP/1.1\r\nContent-Length: 1\r\n\r\nx",
                HttpError::NotFound,
            ),
            (b"POST /api HTTP/1.1\r\n\r\n", HttpError::LengthRequired),
            (
                b"POST /api HTTP/1.1\r\nContent-Length: 101\r\n\r\n",
                HttpError::BodyTooLarge {
                    length: 101,
                    limit: 100,
                },
            ),
            (
                b"POST /api HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                HttpError::TransferEncoding,
            ),
            (
                b"POST /api HTTP/1.1\r\nbad header\r\n\r\n",
                HttpError::Malformed("request line or header"),
            ),
        ];
        for (request, expected) in cases {
            let (mut client, mut reader, mut writer) = pair(request, &config).await;
            let error = reader.recv().await.unwrap_err();
            let NetError::Http(error) = error else {
                panic!("{error:?}");
            };
            assert_eq!(error, expected);
            writer.send_error(error.status().unwrap()).await.unwrap();
            let text = read_all(&mut client).await;
            let status = format!("HTTP/1.1 {} ", error.status().unwrap());
            assert!(text.starts_with(&status), "{text}");
            assert!(text.contains("Connection: close"));
        }
    }

    #[tokio::test]
    async fn heads_and_bodies_are_bounded() {
        let config = HttpServerConfig {
            max_head: 64,
            ..HttpServerConfig::default()
        };
        // A head that never ends.
        let (mut client, mut reader, _writer) = pair(b"POST /api HTTP/1.1\r\n", &config).await;
        client.write_all(&[b'a'; 100]).await.unwrap();
        let error = reader.recv().await.unwrap_err();
        assert!(matches!(
            error,
            NetError::Http(HttpError::HeadTooLarge { limit: 64 })
        ));
        // A close in the middle of a body.
        let (mut client, mut reader, _writer) = pair(
            b"POST /api HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc",
            &config,
        )
        .await;
        client.shutdown().await.unwrap();
        assert!(matches!(
            reader.recv().await,
            Err(NetError::UnexpectedEof { .. })
        ));
        // A clean close between requests.
        let (client, mut reader, _writer) = pair(b"", &config).await;
        drop(client);
        assert_eq!(reader.recv().await.unwrap(), None);
    }

    #[tokio::test]
    async fn transport_errors_become_statuses() {
        let (mut client, mut reader, mut writer) = pair(
            b"POST /api HTTP/1.1\r\nContent-Length: 1\r\n\r\nx",
            &HttpServerConfig::default(),
        )
        .await;
        reader.recv().await.unwrap();
        writer.send_transport_error(-404).await.unwrap();
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        assert!(received.starts_with(b"HTTP/1.1 404 Not Found\r\n"));
        assert!(received.ends_with(&(-404i32).to_le_bytes()));
    }
}
