//! Just enough of an HTTP/1.1 request head to route a connection: the method, the path, and
//! whether it asks for a WebSocket upgrade. Anything more is the HTTP handler's business.

use tokio::io::AsyncRead;

use super::sniff::read_more;
use crate::{DetectError, NetError};

/// The end of a request head.
const HEAD_END: &[u8] = b"\r\n\r\n";

/// What routing needs from a request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestHead {
    /// The method, as sent.
    pub(crate) method: String,
    /// The path, without the query string.
    pub(crate) path: String,
    /// `Upgrade: websocket` with `Connection: upgrade`.
    pub(crate) websocket_upgrade: bool,
}

/// Reads until `buf` holds a whole request head (it may hold more: the start of a body),
/// and returns the head's length.
pub(crate) async fn read_head<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut Vec<u8>,
    limit: usize,
) -> Result<usize, NetError> {
    // Where to resume searching: a slow client sending a byte at a time must not make the
    // search quadratic.
    let mut scanned = 0;
    loop {
        let window = buf.get(scanned..).unwrap_or_default();
        if let Some(at) = window.windows(HEAD_END.len()).position(|w| w == HEAD_END) {
            return Ok(scanned + at + HEAD_END.len());
        }
        scanned = buf.len().saturating_sub(HEAD_END.len() - 1);
        if buf.len() >= limit {
            return Err(DetectError::HttpHeadTooLarge { limit }.into());
        }
        read_more(io, buf, limit).await?;
    }
}

/// Parses the request line and the two headers routing needs.
pub(crate) fn parse_head(head: &[u8]) -> Result<RequestHead, DetectError> {
    let text = std::str::from_utf8(head).map_err(|_| DetectError::BadHttp)?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().ok_or(DetectError::BadHttp)?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(DetectError::BadHttp);
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || target.is_empty() {
        return Err(DetectError::BadHttp);
    }
    let path = target.split('?').next().unwrap_or(target);
    let mut upgrade_websocket = false;
    let mut connection_upgrade = false;
    for line in lines.take_while(|line| !line.is_empty()) {
        let (name, value) = line.split_once(':').ok_or(DetectError::BadHttp)?;
        let has_token = |token: &str| {
            value
                .split(',')
                .any(|item| item.trim().eq_ignore_ascii_case(token))
        };
        if name.trim().eq_ignore_ascii_case("upgrade") {
            upgrade_websocket |= has_token("websocket");
        } else if name.trim().eq_ignore_ascii_case("connection") {
            connection_upgrade |= has_token("upgrade");
        }
    }
    Ok(RequestHead {
        method: method.to_owned(),
        path: path.to_owned(),
        websocket_upgrade: method == "GET" && upgrade_websocket && connection_upgrade,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_upgrade_recognized() {
        let head = b"GET /apiws?x=1 HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n\
                     upgrade: WebSocket\r\nSec-WebSocket-Protocol: binary\r\n\r\n";
        let parsed = parse_head(head).unwrap();
        assert_eq!(parsed.method, "GET");
        assert_eq!(parsed.path, "/apiws");
        assert!(parsed.websocket_upgrade);
    }

    #[test]
    fn post_is_not_an_upgrade() {
        let head = b"POST /api HTTP/1.1\r\nContent-Length: 4\r\n\r\n";
        let parsed = parse_head(head).unwrap();
        assert_eq!(parsed.method, "POST");
        assert!(!parsed.websocket_upgrade);
    }

    #[test]
    fn garbage_rejected() {
        for bad in [
            &b"GET\r\n\r\n"[..],
            b"GET / HTTP/1.1 extra\r\n\r\n",
            b"GET / SPDY/3\r\n\r\n",
            b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
            b"GET / HTTP/1.1\r\n\xff: x\r\n\r\n",
        ] {
            assert_eq!(parse_head(bad), Err(DetectError::BadHttp));
        }
    }

    #[tokio::test]
    async fn head_limit_enforced() {
        let mut input: &[u8] = &[b'a'; 100];
        let mut buf = Vec::new();
        let err = read_head(&mut input, &mut buf, 50).await.unwrap_err();
        assert!(matches!(
            err,
            NetError::Detect(DetectError::HttpHeadTooLarge { limit: 50 })
        ));
    }
}
