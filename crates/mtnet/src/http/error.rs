//! What can be wrong with an HTTP message, in either direction.

/// Why an HTTP request or response was refused.
///
/// On the server side, [`HttpError::status`] is the status to answer with before closing the
/// connection; on the client side every one of these ends the carrier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The head (request or status line and headers) did not end within the limit, or has
    /// too many header lines.
    #[error("HTTP head longer than {limit} bytes or with too many headers")]
    HeadTooLarge {
        /// The byte limit.
        limit: usize,
    },
    /// The body announced is larger than the largest packet accepted.
    #[error("HTTP body of {length} bytes exceeds the limit of {limit}")]
    BodyTooLarge {
        /// The announced length.
        length: u64,
        /// The limit.
        limit: usize,
    },
    /// The start line or a header does not parse.
    #[error("malformed HTTP message: {0}")]
    Malformed(&'static str),
    /// `Content-Length` is not a number, or is given twice with different values.
    #[error("invalid Content-Length")]
    BadContentLength,
    /// A request body without `Content-Length`.
    #[error("request without Content-Length")]
    LengthRequired,
    /// A `Transfer-Encoding` (chunked bodies are not used by MTProto over HTTP).
    #[error("Transfer-Encoding is not supported")]
    TransferEncoding,
    /// Not HTTP/1.0 or HTTP/1.1.
    #[error("HTTP version not supported")]
    UnsupportedVersion,
    /// A request for another path than the MTProto one.
    #[error("no MTProto endpoint at this path")]
    NotFound,
    /// A request with another method than `POST`.
    #[error("method not allowed: MTProto over HTTP takes POST")]
    MethodNotAllowed,
    /// A `POST` without a body: every request must carry one MTProto packet.
    #[error("empty request body: an MTProto packet was expected")]
    EmptyBody,
    /// Client side: the server answered with a status that is neither 200 nor a transport
    /// error code.
    #[error("HTTP status {code} from the server")]
    Status {
        /// The status code.
        code: u16,
    },
}

impl HttpError {
    /// The status a server answers this request error with; `None` for errors that are
    /// about responses.
    pub fn status(&self) -> Option<u16> {
        Some(match self {
            HttpError::HeadTooLarge { .. } => 431,
            HttpError::BodyTooLarge { .. } => 413,
            HttpError::Malformed(_) | HttpError::BadContentLength | HttpError::EmptyBody => 400,
            HttpError::LengthRequired => 411,
            HttpError::TransferEncoding => 501,
            HttpError::UnsupportedVersion => 505,
            HttpError::NotFound => 404,
            HttpError::MethodNotAllowed => 405,
            HttpError::Status { .. } => return None,
        })
    }
}
