//! Reading a connection's first bytes until the transport is known.

use mtproto::transport::{Detected, detect_with_max};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::{DetectError, NetError};

/// Most bytes read per call while detecting: detection needs at most 64 bytes, and whatever
/// is read past them is handed on, so large reads gain nothing.
const CHUNK: usize = 4096;

/// Reads into `buf` until [`detect_with_max`] decides, and returns its verdict (never
/// `NeedMore`). `buf` keeps every byte read, including any past the detected prefix.
pub(crate) async fn sniff<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut Vec<u8>,
    max_packet: usize,
    limit: usize,
) -> Result<Detected, NetError> {
    loop {
        match detect_with_max(buf, max_packet) {
            Detected::NeedMore { .. } => read_more(io, buf, limit).await?,
            decided => return Ok(decided),
        }
    }
}

/// Appends what the next read yields to `buf`, never letting it grow past `limit`. End of
/// stream is an error: the caller still waits for bytes it needs.
pub(crate) async fn read_more<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut Vec<u8>,
    limit: usize,
) -> Result<(), NetError> {
    let room = limit.saturating_sub(buf.len()).min(CHUNK);
    if room == 0 {
        return Err(DetectError::Unrecognized.into());
    }
    buf.reserve(room);
    let read = io.take(room as u64).read_buf(buf).await?;
    if read == 0 {
        return Err(DetectError::ClosedEarly {
            received: buf.len(),
        }
        .into());
    }
    Ok(())
}
