//! The byte stream inside fake TLS: application-data records unwrapped on reading and
//! wrapped on writing, so packet streams run over it unchanged.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use mtproto::transport::fake_tls::{
    CHANGE_CIPHER_SPEC, ContentType, FakeTlsError, MAX_SEND_PAYLOAD, RECORD_HEADER_LEN,
    application_data_header, parse_record_header,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::NetError;

/// Read buffer size: two full records, so that a fast peer's records are unwrapped with few
/// reads.
const READ_BUF: usize = 2 * (RECORD_HEADER_LEN + MAX_SEND_PAYLOAD);

/// An `AsyncRead + AsyncWrite` over the record layer of an MTProxy fake-TLS connection,
/// after the handshake (see [`super::client_handshake`] and [`accept`](crate::accept())).
///
/// Reading yields the payloads of application-data records; ChangeCipherSpec records are
/// skipped before the first of them, and anything else (an alert, a handshake record, a
/// record over TLS's size limit) is an error. Each write becomes one application-data
/// record of at most 16 KiB (the client role puts its one ChangeCipherSpec record in front
/// of the first). Memory is bounded: a fixed read buffer and one record being written.
///
/// Errors surface as `io::Error`s carrying a [`NetError::FakeTls`], which
/// `NetError::from(io::Error)` unwraps.
#[derive(Debug)]
pub struct FakeTlsStream<S> {
    io: S,
    read: ReadHalf,
    write: WriteHalf,
}

impl<S> FakeTlsStream<S> {
    /// The client's stream, once the proxy's answer checked out; `received` holds the bytes
    /// read after that answer. A ChangeCipherSpec record goes out before the first write.
    pub fn client(io: S, received: Vec<u8>) -> Self {
        Self::new(io, received, true)
    }

    /// The proxy's stream, once its answer went out; `received` holds the bytes read after
    /// the ClientHello.
    pub fn server(io: S, received: Vec<u8>) -> Self {
        Self::new(io, received, false)
    }

    fn new(io: S, received: Vec<u8>, change_cipher_spec: bool) -> Self {
        let mut buf = received;
        let end = buf.len();
        buf.resize(READ_BUF.max(end), 0);
        Self {
            io,
            read: ReadHalf {
                buf: buf.into_boxed_slice(),
                start: 0,
                end,
                remaining: 0,
                seen_data: false,
            },
            write: WriteHalf {
                out: Vec::new(),
                sent: 0,
                change_cipher_spec,
            },
        }
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.io
    }
}

/// Unwrapping state.
#[derive(Debug)]
struct ReadHalf {
    /// Bytes received; `start..end` not consumed yet.
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// Payload bytes of the current application-data record not delivered yet.
    remaining: usize,
    /// Whether an application-data record was seen (ChangeCipherSpec is refused after).
    seen_data: bool,
}

impl ReadHalf {
    fn poll_read<S: AsyncRead + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if out.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let pending = self.buf.get(self.start..self.end).unwrap_or_default();
            if self.remaining > 0 {
                if pending.is_empty() {
                    if ready!(self.fill(io, cx))? == 0 {
                        return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                    }
                    continue;
                }
                let n = self.remaining.min(pending.len()).min(out.remaining());
                out.put_slice(pending.get(..n).unwrap_or_default());
                self.start += n;
                self.remaining -= n;
                return Poll::Ready(Ok(()));
            }
            let header = match parse_record_header(pending) {
                Ok(header) => header,
                Err(error) => return Poll::Ready(Err(to_io(error))),
            };
            let Some(header) = header else {
                if ready!(self.fill(io, cx))? == 0 {
                    return Poll::Ready(if self.start == self.end {
                        Ok(())
                    } else {
                        Err(io::ErrorKind::UnexpectedEof.into())
                    });
                }
                continue;
            };
            match header.content_type {
                ContentType::ApplicationData => {
                    self.start += RECORD_HEADER_LEN;
                    self.remaining = header.len;
                    self.seen_data = true;
                }
                ContentType::ChangeCipherSpec if !self.seen_data => {
                    match pending.get(..CHANGE_CIPHER_SPEC.len()) {
                        Some(record) if record == CHANGE_CIPHER_SPEC => {
                            self.start += CHANGE_CIPHER_SPEC.len();
                        }
                        Some(_) => {
                            return Poll::Ready(Err(to_io(FakeTlsError::Malformed {
                                what: "record",
                                reason: "ChangeCipherSpec is not the single byte 01",
                            })));
                        }
                        None => {
                            if ready!(self.fill(io, cx))? == 0 {
                                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                            }
                        }
                    }
                }
                other => {
                    return Poll::Ready(Err(to_io(FakeTlsError::UnexpectedRecord {
                        content_type: other.byte(),
                    })));
                }
            }
        }
    }

    /// Reads more bytes after those pending, moving the pending ones to the front first.
    /// Returns how many were read (0 at end of stream).
    fn fill<S: AsyncRead + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let Some(spare) = self
            .buf
            .get_mut(self.end..)
            .filter(|spare| !spare.is_empty())
        else {
            // Only reached with a full buffer at a record boundary, which needs 6 bytes.
            return Poll::Ready(Err(io::Error::other("fake-TLS read buffer full")));
        };
        let mut spare = ReadBuf::new(spare);
        ready!(Pin::new(io).poll_read(cx, &mut spare))?;
        let read = spare.filled().len();
        self.end += read;
        Poll::Ready(Ok(read))
    }
}

/// Wrapping state: at most one record in flight.
#[derive(Debug)]
struct WriteHalf {
    /// The record being written; `sent` bytes of it are out.
    out: Vec<u8>,
    sent: usize,
    /// Whether a ChangeCipherSpec record still has to go before the first record.
    change_cipher_spec: bool,
}

impl WriteHalf {
    fn poll_write<S: AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_drain(io, cx))?;
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let chunk = data.get(..MAX_SEND_PAYLOAD).unwrap_or(data);
        let header = application_data_header(chunk.len()).map_err(to_io)?;
        if std::mem::take(&mut self.change_cipher_spec) {
            self.out.extend_from_slice(&CHANGE_CIPHER_SPEC);
        }
        self.out.extend_from_slice(&header);
        self.out.extend_from_slice(chunk);
        // The record is ours to deliver now; push what the socket takes, the rest on flush.
        if let Poll::Ready(Err(error)) = self.poll_drain(io, cx) {
            return Poll::Ready(Err(error));
        }
        Poll::Ready(Ok(chunk.len()))
    }

    /// Writes out the record in flight.
    fn poll_drain<S: AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while let Some(rest) = self.out.get(self.sent..).filter(|rest| !rest.is_empty()) {
            let written = ready!(Pin::new(&mut *io).poll_write(cx, rest))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += written;
        }
        self.out.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FakeTlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.read.poll_read(&mut this.io, cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FakeTlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.write.poll_write(&mut this.io, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.write.poll_drain(&mut this.io, cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.write.poll_drain(&mut this.io, cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

/// A record-layer error as an I/O error that `NetError::from` turns back into
/// [`NetError::FakeTls`].
fn to_io(error: FakeTlsError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, NetError::FakeTls(error))
}

#[cfg(test)]
mod tests {
    use mtproto::transport::fake_tls::MAX_RECORD_PAYLOAD;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    use super::*;

    /// Records of application data around each of `payloads`.
    fn records(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for payload in payloads {
            out.extend(application_data_header(payload.len()).unwrap());
            out.extend(*payload);
        }
        out
    }

    #[tokio::test]
    async fn writes_become_records_led_by_one_change_cipher_spec() {
        let (near, mut far) = duplex(1 << 20);
        let mut stream = FakeTlsStream::client(near, Vec::new());
        let big = vec![0x42; MAX_SEND_PAYLOAD + 10];
        stream.write_all(b"header").await.unwrap();
        stream.write_all(&big).await.unwrap();
        stream.flush().await.unwrap();
        drop(stream);
        let mut wire = Vec::new();
        far.read_to_end(&mut wire).await.unwrap();
        let mut want = CHANGE_CIPHER_SPEC.to_vec();
        want.extend(records(&[
            b"header",
            &big[..MAX_SEND_PAYLOAD],
            &big[MAX_SEND_PAYLOAD..],
        ]));
        assert_eq!(wire, want);
    }

    #[tokio::test]
    async fn reads_unwrap_records_split_anyhow() {
        let mut wire = CHANGE_CIPHER_SPEC.to_vec();
        wire.extend(records(&[b"abc", b"", b"defgh"]));
        // Bytes already read by the handshake, then the rest one byte per write.
        let (near, mut far) = duplex(4);
        let (initial, rest) = wire.split_at(4);
        let mut stream = FakeTlsStream::server(near, initial.to_vec());
        let rest = rest.to_vec();
        let writer = tokio::spawn(async move {
            for byte in rest {
                far.write_all(&[byte]).await.unwrap();
            }
        });
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        assert_eq!(got, b"abcdefgh");
    }

    async fn read_error(wire: Vec<u8>) -> io::Error {
        let (near, _far) = duplex(16);
        let mut stream = FakeTlsStream::client(near, wire);
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap_err()
    }

    fn fake_tls_error(error: io::Error) -> FakeTlsError {
        match NetError::from(error) {
            NetError::FakeTls(error) => error,
            other => panic!("expected a fake-TLS error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn bad_records_are_errors() {
        let alert = vec![0x15, 3, 3, 0, 2, 2, 40];
        assert_eq!(
            fake_tls_error(read_error(alert).await),
            FakeTlsError::UnexpectedRecord { content_type: 0x15 }
        );
        let mut late_ccs = records(&[b"x"]);
        late_ccs.extend(CHANGE_CIPHER_SPEC);
        assert_eq!(
            fake_tls_error(read_error(late_ccs).await),
            FakeTlsError::UnexpectedRecord { content_type: 0x14 }
        );
        let too_long = (MAX_RECORD_PAYLOAD + 1) as u16;
        let mut oversized = vec![0x17, 3, 3];
        oversized.extend(too_long.to_be_bytes());
        assert!(matches!(
            fake_tls_error(read_error(oversized).await),
            FakeTlsError::RecordTooLarge { .. }
        ));
        let bad_ccs = vec![0x14, 3, 3, 0, 1, 2];
        assert!(matches!(
            fake_tls_error(read_error(bad_ccs).await),
            FakeTlsError::Malformed { .. }
        ));
    }

    #[tokio::test]
    async fn end_of_stream_inside_a_record_is_an_error() {
        let (near, far) = duplex(64);
        drop(far);
        let mut stream = FakeTlsStream::client(near, vec![0x17, 3, 3, 0, 9, 1, 2]);
        let mut got = Vec::new();
        let error = stream.read_to_end(&mut got).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(got, [1, 2]);
        // Between records, it is a clean end.
        let (near, far) = duplex(64);
        drop(far);
        let mut stream = FakeTlsStream::client(near, records(&[b"ok"]));
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"ok");
    }
}
