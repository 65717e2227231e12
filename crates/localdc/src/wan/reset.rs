//! Resetting a connection: a second descriptor of the accepted socket, kept aside because
//! the stream itself disappears into the transport layer's halves. Socket options belong
//! to the socket, so `SO_LINGER` 0 set through it makes the socket's final close a reset
//! that discards what is still queued. (tokio's write half shuts down on drop, so a FIN
//! precedes the reset.)

use std::os::fd::AsFd;

use tokio::net::TcpStream;

/// A handle that can turn a connection's close into a reset. Without one (the descriptor
/// could not be duplicated) the connection simply closes.
#[derive(Debug)]
pub(crate) struct ResetHandle {
    socket: Option<std::net::TcpStream>,
}

impl ResetHandle {
    /// A handle on `stream`'s socket.
    pub(crate) fn new(stream: &TcpStream) -> Self {
        let socket = match stream.as_fd().try_clone_to_owned() {
            Ok(fd) => Some(std::net::TcpStream::from(fd)),
            Err(error) => {
                tracing::debug!(%error, "no reset handle: drops will close cleanly");
                None
            }
        };
        Self { socket }
    }

    /// Writes `bytes` straight to the socket, past the transport layer (fault injection: a
    /// frame cut short). Best effort: what the socket takes without blocking.
    pub(crate) fn write_raw(&self, bytes: &[u8]) -> std::io::Result<usize> {
        use std::io::Write;
        match &self.socket {
            Some(socket) => {
                let mut socket: &std::net::TcpStream = socket;
                socket.write(bytes)
            }
            None => Err(std::io::ErrorKind::Unsupported.into()),
        }
    }

    /// Makes the socket's last close a reset. Call it before the connection's halves are
    /// dropped; the reset goes out when the last of them is.
    pub(crate) fn arm(mut self) {
        let Some(socket) = self.socket.take() else {
            return;
        };
        // The duplicate shares the original's non-blocking flag, as tokio requires.
        match TcpStream::from_std(socket) {
            Ok(socket) => {
                if let Err(error) = socket.set_zero_linger() {
                    tracing::debug!(%error, "SO_LINGER 0 refused: the drop closes cleanly");
                }
            }
            Err(error) => tracing::debug!(%error, "no reset: the drop closes cleanly"),
        }
    }
}
