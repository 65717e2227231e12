//! The client side of the fake-TLS handshake.

use mtproto::transport::fake_tls::{ClientHello, Progress, check_server_hello, server_hello_len};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::FakeTlsStream;
use crate::NetError;
use crate::rng::secure_rng;

/// Smallest read while waiting for the proxy's answer.
const READ_CHUNK: usize = 4096;

/// Runs the client side of an MTProxy fake-TLS handshake on `io`: sends a ClientHello to
/// `domain` keyed with the secret's `key` and stamped with the current time, reads the
/// proxy's three-record answer (each record bounded by TLS's size limit) and checks its
/// digest. Returns the record stream to run the obfuscated MTProto stream in.
///
/// A proxy that does not know the secret closes the connection or answers without the
/// right digest; both are errors. Not bounded in time by itself: [`connect`](crate::connect()) runs it
/// within the endpoint's connect timeout.
pub async fn client_handshake<S>(
    mut io: S,
    key: &[u8; 16],
    domain: &str,
) -> Result<FakeTlsStream<S>, NetError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let hello = ClientHello::new(key, domain, unix_now(), &mut secure_rng()?)?;
    io.write_all(&hello.bytes).await?;
    io.flush().await?;
    let mut received = Vec::new();
    let len = loop {
        match server_hello_len(&received)? {
            Progress::Complete { len } => break len,
            Progress::NeedMore { at_least } => {
                // `at_least` is bounded by three maximal records.
                received.reserve(at_least.saturating_sub(received.len()).max(READ_CHUNK));
                if io.read_buf(&mut received).await? == 0 {
                    return Err(if received.is_empty() {
                        NetError::Closed
                    } else {
                        NetError::UnexpectedEof {
                            buffered: received.len(),
                        }
                    });
                }
            }
        }
    };
    let after = received.split_off(len.min(received.len()));
    check_server_hello(&received, key, &hello.random)?;
    tracing::debug!(answer = len, "fake-TLS handshake done");
    Ok(FakeTlsStream::client(io, after))
}

/// The wall clock in unix seconds, as the ClientHello carries it (0 before 1970, wrapping
/// in 2106 like every client's).
pub(crate) fn unix_now() -> u32 {
    crate::clock::unix_time().as_secs() as u32
}
