use thiserror::Error;

use crate::MessageError;

use super::container::ContainerError;
use super::gzip::GzipError;

/// Why a packet was refused or a message cannot be sent. A refused packet changes nothing in
/// the session: the next good packet is handled as if the bad one had never come.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SessionError {
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error("malformed message: {0}")]
    Tl(#[from] tl_types::Error),
    #[error("bad container: {0}")]
    Container(#[from] ContainerError),
    #[error("bad gzip_packed: {0}")]
    Gzip(#[from] GzipError),
    #[error("message for session {received:#018x}, this is session {expected:#018x}")]
    WrongSession { expected: i64, received: i64 },
    #[error("msg_id {msg_id:#018x} was already received")]
    Duplicate { msg_id: i64 },
    #[error("msg_id {msg_id:#018x} has the wrong low bits for a message from the {sender}")]
    BadMsgIdParity { msg_id: i64, sender: &'static str },
    #[error("body of {len} bytes cannot be sent (at most {max}, a multiple of 4)")]
    BadBody { len: usize, max: usize },
}
