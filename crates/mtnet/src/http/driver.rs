//! The task behind a client's HTTP carrier: packets from the writer's pipe become `POST`s on
//! a small pool of keep-alive connections, and response bodies go into the reader's pipe.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mtproto::transport::CodecError;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::client::{HttpConnection, Response, Target};
use super::head::{READ_CHUNK, read_at_most};
use super::{HttpError, MAX_CONNECTIONS, RESPONSE_TIMEOUT};
use crate::NetError;
use crate::connect::{Endpoint, dial};

/// The quick-ack flag of an intermediate length word; HTTP has no quick acks.
const QUICK_ACK_FLAG: u32 = 0x8000_0000;

/// Where the driver's failure waits for the reader.
pub(crate) type FailureSlot = Arc<Mutex<Option<NetError>>>;

/// Everything the driver task owns.
pub(crate) struct Driver {
    pub(crate) endpoint: Arc<Endpoint>,
    pub(crate) target: Arc<Target>,
    /// Connections waiting for a request, at most [`MAX_CONNECTIONS`].
    pub(crate) idle: Vec<HttpConnection>,
    /// Packets written by the client, intermediate-framed.
    pub(crate) from_writer: DuplexStream,
    /// Packets for the client's reader, intermediate-framed.
    pub(crate) to_reader: DuplexStream,
    /// Resolves when the client's reader is dropped.
    pub(crate) reader_gone: oneshot::Receiver<()>,
    pub(crate) failure: FailureSlot,
}

/// The outcome of one request.
struct Exchanged {
    response: Response,
    connection: HttpConnection,
}

impl Driver {
    /// Runs until the client is gone, the writer closed and every response arrived, or
    /// something failed; a failure is left in the slot for the reader to report.
    pub(crate) async fn run(mut self) {
        let result = self.pump().await;
        if let Err(error) = result {
            tracing::debug!(%error, "HTTP carrier stopped");
            *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
        }
        // Dropping the pipes (after the failure is stored) ends both client halves.
    }

    async fn pump(&mut self) -> Result<(), NetError> {
        let mut frames = FrameReader::new(self.endpoint.max_packet);
        let mut exchanges: JoinSet<Result<Exchanged, NetError>> = JoinSet::new();
        let mut writer_open = true;
        loop {
            if !writer_open && exchanges.is_empty() {
                return Ok(());
            }
            tokio::select! {
                biased;
                _ = &mut self.reader_gone => return Ok(()),
                Some(joined) = exchanges.join_next() => {
                    let exchanged = joined
                        .map_err(|_| NetError::Internal("HTTP exchange task failed"))??;
                    if exchanged.response.reusable && self.idle.len() < MAX_CONNECTIONS {
                        self.idle.push(exchanged.connection);
                    }
                    if !self.deliver(exchanged.response).await? {
                        return Ok(());
                    }
                }
                frame = frames.next(&mut self.from_writer),
                    if writer_open && exchanges.len() < MAX_CONNECTIONS =>
                {
                    match frame? {
                        Some(packet) => {
                            let connection = self.idle.pop();
                            exchanges.spawn(exchange(
                                connection,
                                Arc::clone(&self.endpoint),
                                Arc::clone(&self.target),
                                packet,
                            ));
                        }
                        None => writer_open = false,
                    }
                }
            }
        }
    }

    /// Hands a response to the reader. `false` after a transport error, which ends the
    /// carrier as it ends a stream connection.
    async fn deliver(&mut self, response: Response) -> Result<bool, NetError> {
        match response.status {
            200 if response.body.is_empty() => Ok(true),
            200 => {
                write_frame(&mut self.to_reader, &response.body).await?;
                Ok(true)
            }
            status @ (404 | 429 | 444) => {
                let code = -i32::from(status);
                write_frame(&mut self.to_reader, &code.to_le_bytes()).await?;
                Ok(false)
            }
            code => Err(HttpError::Status { code }.into()),
        }
    }
}

/// Sends one packet and waits for its response, on `connection` if one was idle (and once
/// more on a fresh one if that idle connection turns out closed), within
/// [`RESPONSE_TIMEOUT`].
async fn exchange(
    connection: Option<HttpConnection>,
    endpoint: Arc<Endpoint>,
    target: Arc<Target>,
    packet: Vec<u8>,
) -> Result<Exchanged, NetError> {
    let work = async {
        if let Some(mut connection) = connection {
            match connection.exchange(&target, &packet).await {
                Ok(response) => {
                    return Ok(Exchanged {
                        response,
                        connection,
                    });
                }
                Err(failed) if failed.before_response => {
                    tracing::debug!(error = %failed.error, "idle HTTP connection unusable; retrying");
                }
                Err(failed) => return Err(failed.error),
            }
        }
        let mut connection = open(&endpoint).await?;
        let response = connection
            .exchange(&target, &packet)
            .await
            .map_err(|failed| failed.error)?;
        Ok(Exchanged {
            response,
            connection,
        })
    };
    tokio::time::timeout(RESPONSE_TIMEOUT, work)
        .await
        .map_err(|_| NetError::timeout("HTTP response", RESPONSE_TIMEOUT))?
}

/// A new connection of the pool, within the endpoint's connect timeout.
pub(crate) async fn open(endpoint: &Endpoint) -> Result<HttpConnection, NetError> {
    let limit: Duration = endpoint.connect_timeout;
    let tcp = tokio::time::timeout(limit, dial(&endpoint.address, endpoint.proxy.as_ref()))
        .await
        .map_err(|_| NetError::timeout("connect", limit))??;
    Ok(HttpConnection::new(tcp))
}

/// Writes one intermediate frame.
async fn write_frame<W: AsyncWrite + Unpin>(io: &mut W, payload: &[u8]) -> Result<(), NetError> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|len| len & QUICK_ACK_FLAG == 0)
        .ok_or(NetError::Internal("packet too large for a frame"))?;
    io.write_all(&len.to_le_bytes()).await?;
    io.write_all(payload).await?;
    Ok(())
}

/// Reads the intermediate frames the client's packet writer produces. Cancel-safe.
struct FrameReader {
    buf: Vec<u8>,
    max_packet: usize,
}

impl FrameReader {
    fn new(max_packet: usize) -> Self {
        Self {
            buf: Vec::new(),
            max_packet,
        }
    }

    /// The next packet; `None` when the writer closed between packets.
    async fn next<R: AsyncRead + Unpin>(
        &mut self,
        io: &mut R,
    ) -> Result<Option<Vec<u8>>, NetError> {
        loop {
            let wanted = match self.buf.first_chunk::<4>() {
                None => 4,
                Some(word) => {
                    // A quick-ack request means nothing over HTTP: the flag is dropped.
                    let len = (u32::from_le_bytes(*word) & !QUICK_ACK_FLAG) as usize;
                    if len > self.max_packet {
                        return Err(CodecError::TooLarge {
                            len,
                            max: self.max_packet,
                        }
                        .into());
                    }
                    if let Some(packet) = self.buf.get(4..4 + len) {
                        let packet = packet.to_vec();
                        self.buf.drain(..4 + len);
                        return Ok(Some(packet));
                    }
                    4 + len
                }
            };
            let missing = wanted.saturating_sub(self.buf.len());
            if read_at_most(io, &mut self.buf, missing.max(READ_CHUNK)).await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(NetError::UnexpectedEof {
                        buffered: self.buf.len(),
                    })
                };
            }
        }
    }
}
