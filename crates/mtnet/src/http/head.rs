//! The parts of HTTP/1.1 both roles share: finding the end of a head, the headers that frame
//! a body or end a connection, and reading into a bounded buffer.

use tokio::io::{AsyncRead, AsyncReadExt};

use super::HttpError;

/// The blank line that ends a head.
const HEAD_END: &[u8] = b"\r\n\r\n";
/// Header lines parsed at most; more is [`HttpError::HeadTooLarge`].
pub(crate) const MAX_HEADERS: usize = 64;
/// Most bytes asked of the socket per read while a head is incomplete.
pub(crate) const READ_CHUNK: usize = 16 * 1024;

/// Searches `buf` for the end of a head, resuming where the previous search of the same
/// head stopped (`scanned`), so that a head arriving a byte at a time costs linear time.
/// Returns the head's length, blank line included.
pub(crate) fn find_head_end(buf: &[u8], scanned: &mut usize) -> Option<usize> {
    let window = buf.get(*scanned..).unwrap_or_default();
    if let Some(at) = window.windows(HEAD_END.len()).position(|w| w == HEAD_END) {
        return Some(*scanned + at + HEAD_END.len());
    }
    *scanned = buf.len().saturating_sub(HEAD_END.len() - 1);
    None
}

/// What the headers of a message say about its body and its connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Framing {
    /// `Content-Length`, when given (every copy agreeing).
    pub(crate) content_length: Option<u64>,
    /// Any `Transfer-Encoding` header.
    pub(crate) transfer_encoding: bool,
    /// `Connection: close`.
    pub(crate) close: bool,
    /// `Connection: keep-alive`.
    pub(crate) keep_alive: bool,
}

impl Framing {
    /// Reads the framing headers.
    pub(crate) fn of(headers: &[httparse::Header<'_>]) -> Result<Self, HttpError> {
        let mut framing = Framing::default();
        for header in headers {
            if header.name.eq_ignore_ascii_case("content-length") {
                let length = parse_content_length(header.value)?;
                if framing.content_length.is_some_and(|seen| seen != length) {
                    return Err(HttpError::BadContentLength);
                }
                framing.content_length = Some(length);
            } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                framing.transfer_encoding = true;
            } else if header.name.eq_ignore_ascii_case("connection") {
                for token in header.value.split(|b| *b == b',') {
                    let token = token.trim_ascii();
                    framing.close |= token.eq_ignore_ascii_case(b"close");
                    framing.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
        }
        Ok(framing)
    }

    /// Whether the connection stays open after this message: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    pub(crate) fn persistent(&self, minor_version: u8) -> bool {
        !self.close && (minor_version >= 1 || self.keep_alive)
    }
}

/// A `Content-Length` value: decimal digits only (optional surrounding blanks), at most 19
/// of them so that it fits a `u64`.
fn parse_content_length(value: &[u8]) -> Result<u64, HttpError> {
    let digits = value.trim_ascii();
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(HttpError::BadContentLength);
    }
    digits.iter().try_fold(0u64, |total, digit| {
        total
            .checked_mul(10)
            .and_then(|total| total.checked_add(u64::from(digit - b'0')))
            .ok_or(HttpError::BadContentLength)
    })
}

/// Reads at most `max` more bytes into `buf`; returns how many (0 at end of stream).
/// Cancel-safe: nothing is lost if the future is dropped.
pub(crate) async fn read_at_most<S: AsyncRead + Unpin + ?Sized>(
    io: &mut S,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<usize> {
    buf.reserve(max);
    (&mut *io).take(max as u64).read_buf(buf).await
}

/// The reason phrase sent with a status.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        444 => "Invalid DC",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_end_found_across_calls() {
        let mut scanned = 0;
        let mut buf = b"POST /api HTTP/1.1\r\nA: b\r\n\r".to_vec();
        assert_eq!(find_head_end(&buf, &mut scanned), None);
        assert!(scanned > 0);
        buf.extend_from_slice(b"\nbody");
        assert_eq!(find_head_end(&buf, &mut scanned), Some(buf.len() - 4));
    }

    #[test]
    fn content_length_strict() {
        assert_eq!(parse_content_length(b" 42 "), Ok(42));
        assert_eq!(parse_content_length(b"0"), Ok(0));
        for bad in [
            &b""[..],
            b"-1",
            b"+1",
            b"1 2",
            b"0x10",
            b"99999999999999999999",
            b"1,1",
        ] {
            assert_eq!(parse_content_length(bad), Err(HttpError::BadContentLength));
        }
        assert_eq!(
            parse_content_length(b"9999999999999999999"),
            Ok(9_999_999_999_999_999_999)
        );
    }

    #[test]
    fn framing_headers() {
        let headers = [
            httparse::Header {
                name: "Content-Length",
                value: b"5",
            },
            httparse::Header {
                name: "content-length",
                value: b"5",
            },
            httparse::Header {
                name: "Connection",
                value: b"Keep-Alive, foo",
            },
        ];
        let framing = Framing::of(&headers).unwrap();
        assert_eq!(framing.content_length, Some(5));
        assert!(framing.keep_alive && !framing.close && framing.persistent(0));
        let conflicting = [
            httparse::Header {
                name: "Content-Length",
                value: b"5",
            },
            httparse::Header {
                name: "Content-Length",
                value: b"6",
            },
        ];
        assert_eq!(Framing::of(&conflicting), Err(HttpError::BadContentLength));
        let close = [httparse::Header {
            name: "connection",
            value: b"close",
        }];
        assert!(!Framing::of(&close).unwrap().persistent(1));
    }
}
