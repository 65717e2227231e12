//! One keep-alive HTTP/1.1 connection of the client's pool: a `POST` out, its response in.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::HttpError;
use super::head::{Framing, MAX_HEADERS, READ_CHUNK, find_head_end, read_at_most};
use crate::NetError;

/// Longest response head accepted.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;
/// Interim (1xx) responses skipped before the real one, at most.
const MAX_INTERIM: usize = 4;

/// Where requests go.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// `host:port`, for the `Host` header.
    pub(crate) authority: String,
    /// The path, `/api` for Telegram.
    pub(crate) path: String,
    /// Largest response body accepted.
    pub(crate) max_body: usize,
}

/// A response: its status and, for `200`, its body.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    /// Whether the connection may carry another request.
    pub(crate) reusable: bool,
}

/// Why an exchange failed.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) error: NetError,
    /// Nothing of a response arrived: on a connection that sat idle, the server may have
    /// closed it in the meantime, and the request can go again on a fresh one.
    pub(crate) before_response: bool,
}

impl Failed {
    fn early(error: impl Into<NetError>) -> Self {
        Self {
            error: error.into(),
            before_response: true,
        }
    }

    fn late(error: impl Into<NetError>) -> Self {
        Self {
            error: error.into(),
            before_response: false,
        }
    }
}

/// One HTTP/1.1 connection; requests on it are never pipelined.
#[derive(Debug)]
pub(crate) struct HttpConnection {
    tcp: TcpStream,
    buf: Vec<u8>,
    head: Vec<u8>,
}

impl HttpConnection {
    pub(crate) fn new(tcp: TcpStream) -> Self {
        Self {
            tcp,
            buf: Vec::new(),
            head: Vec::new(),
        }
    }

    /// Sends `body` as a `POST` and reads the response.
    pub(crate) async fn exchange(
        &mut self,
        target: &Target,
        body: &[u8],
    ) -> Result<Response, Failed> {
        self.head.clear();
        self.head.extend_from_slice(
            format!(
                "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/octet-stream\r\n\
                 Content-Length: {}\r\nConnection: keep-alive\r\n\r\n",
                target.path,
                target.authority,
                body.len()
            )
            .as_bytes(),
        );
        self.head.extend_from_slice(body);
        self.tcp
            .write_all(&self.head)
            .await
            .map_err(Failed::early)?;
        if self.head.capacity() > READ_CHUNK {
            self.head = Vec::new();
        }
        self.buf.clear();
        self.read_response(target.max_body).await
    }

    async fn read_response(&mut self, max_body: usize) -> Result<Response, Failed> {
        for _ in 0..=MAX_INTERIM {
            let head_len = self.read_head().await?;
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            let parsed = response.parse(self.buf.get(..head_len).unwrap_or_default());
            match parsed {
                Ok(httparse::Status::Complete(_)) => {}
                Ok(httparse::Status::Partial) => {
                    return Err(Failed::late(HttpError::Malformed(
                        "incomplete response head",
                    )));
                }
                Err(httparse::Error::TooManyHeaders) => {
                    return Err(Failed::late(HttpError::HeadTooLarge {
                        limit: MAX_RESPONSE_HEAD,
                    }));
                }
                Err(httparse::Error::Version) => {
                    return Err(Failed::late(HttpError::UnsupportedVersion));
                }
                Err(_) => return Err(Failed::late(HttpError::Malformed("status line or header"))),
            }
            let (Some(status), Some(minor)) = (response.code, response.version) else {
                return Err(Failed::late(HttpError::Malformed("status line")));
            };
            if (100..200).contains(&status) && status != 101 {
                self.buf.drain(..head_len);
                continue;
            }
            if status != 200 {
                // A transport error or a failure: the carrier stops, the body does not matter.
                return Ok(Response {
                    status,
                    body: Vec::new(),
                    reusable: false,
                });
            }
            let framing = Framing::of(response.headers).map_err(Failed::late)?;
            if framing.transfer_encoding {
                return Err(Failed::late(HttpError::TransferEncoding));
            }
            let length = framing
                .content_length
                .ok_or(Failed::late(HttpError::Malformed(
                    "response without Content-Length",
                )))?;
            let body_len = usize::try_from(length)
                .ok()
                .filter(|len| *len <= max_body)
                .ok_or(Failed::late(HttpError::BodyTooLarge {
                    length,
                    limit: max_body,
                }))?;
            let body = self.read_body(head_len, body_len).await?;
            return Ok(Response {
                status,
                body,
                reusable: framing.persistent(minor) && self.buf.is_empty(),
            });
        }
        Err(Failed::late(HttpError::Malformed(
            "too many interim responses",
        )))
    }

    /// Reads until `buf` holds a whole response head; returns its length.
    async fn read_head(&mut self) -> Result<usize, Failed> {
        let mut scanned = 0;
        loop {
            if let Some(len) = find_head_end(&self.buf, &mut scanned) {
                if len > MAX_RESPONSE_HEAD {
                    break;
                }
                return Ok(len);
            }
            let room = MAX_RESPONSE_HEAD.saturating_sub(self.buf.len());
            if room == 0 {
                break;
            }
            self.fill(room.min(READ_CHUNK)).await?;
        }
        Err(Failed::late(HttpError::HeadTooLarge {
            limit: MAX_RESPONSE_HEAD,
        }))
    }

    /// Reads the body that follows a head of `head_len` bytes, and drops both from `buf`.
    async fn read_body(&mut self, head_len: usize, body_len: usize) -> Result<Vec<u8>, Failed> {
        let end = head_len + body_len;
        while self.buf.len() < end {
            self.fill(end - self.buf.len()).await?;
        }
        let body = self.buf.get(head_len..end).unwrap_or_default().to_vec();
        self.buf.drain(..end);
        Ok(body)
    }

    /// Reads up to `max` more bytes; the end of the stream is an error here.
    async fn fill(&mut self, max: usize) -> Result<(), Failed> {
        let read = read_at_most(&mut self.tcp, &mut self.buf, max)
            .await
            .map_err(|error| {
                if self.buf.is_empty() {
                    Failed::early(error)
                } else {
                    Failed::late(error)
                }
            })?;
        if read > 0 {
            return Ok(());
        }
        Err(if self.buf.is_empty() {
            Failed::early(NetError::Closed)
        } else {
            Failed::late(NetError::UnexpectedEof {
                buffered: self.buf.len(),
            })
        })
    }
}
