//! The client's side of the pipes to the driver task, as the byte streams a
//! [`PacketReader`](crate::PacketReader) and a [`PacketWriter`](crate::PacketWriter) run on.

use std::io;
use std::pin::Pin;
use std::sync::PoisonError;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio::sync::oneshot;

use super::driver::FailureSlot;

/// What the packet reader reads: the frames the driver writes and, once the driver stops
/// because something failed, that failure (as an I/O error wrapping the [`NetError`],
/// which [`NetError`]'s `From<io::Error>` unwraps).
///
/// [`NetError`]: crate::NetError
#[derive(Debug)]
pub(crate) struct PipeReader {
    inner: DuplexStream,
    failure: FailureSlot,
    /// Dropped with the reader: tells the driver that nobody listens any more.
    _alive: oneshot::Sender<()>,
}

impl PipeReader {
    pub(crate) fn new(
        inner: DuplexStream,
        failure: FailureSlot,
        alive: oneshot::Sender<()>,
    ) -> Self {
        Self {
            inner,
            failure,
            _alive: alive,
        }
    }
}

impl AsyncRead for PipeReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let at_end = buf.filled().len() == before && buf.remaining() > 0;
        if at_end {
            let failure = this
                .failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(error) = failure {
                return Poll::Ready(Err(io::Error::other(error)));
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// What the packet writer writes to: the driver reads frames from it. Shutting it down
/// tells the driver that no more packets come; responses still in flight are delivered.
#[derive(Debug)]
pub(crate) struct PipeWriter {
    inner: DuplexStream,
}

impl PipeWriter {
    pub(crate) fn new(inner: DuplexStream) -> Self {
        Self { inner }
    }
}

/// A write after the driver stopped.
fn stopped(error: io::Error) -> io::Error {
    if error.kind() == io::ErrorKind::BrokenPipe {
        io::Error::new(io::ErrorKind::BrokenPipe, "the HTTP carrier has stopped")
    } else {
        error
    }
}

impl AsyncWrite for PipeWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_write(cx, buf)
            .map_err(stopped)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_flush(cx)
            .map_err(stopped)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_shutdown(cx)
            .map_err(stopped)
    }
}
