//! Why a call through the sender did not give a result.

use std::time::Duration;

use mtproto::session::{RpcError, SessionError};

use crate::NetError;

/// Why [`Sender::invoke`](super::Sender::invoke) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvokeError {
    /// The server answered with an error (`FLOOD_WAIT_X`, `*_MIGRATE_X`, ...).
    #[error("{0}")]
    Rpc(RpcError),
    /// No answer within the caller's limit. The request may still have been executed.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The server does not know our auth key: it said so (transport error -404) on two
    /// connections in a row with nothing decrypted in between. A new key is needed.
    #[error("the server does not know this auth key (-404): a new key is needed")]
    AuthKeyUnknown,
    /// A request that may run at most once was sent, the connection broke, and the server
    /// did not say whether it has it: it was not sent again.
    #[error(
        "the connection broke after the request was sent and the server did not say whether          it ran; it was not sent again, so that it runs at most once"
    )]
    Uncertain,
    /// The server kept refusing the message (`bad_msg_notification` with this code).
    #[error("the server refused the message (bad_msg_notification {0})")]
    Rejected(i32),
    /// The request could not be queued (too large, malformed).
    #[error("request not sent: {0}")]
    Session(#[from] SessionError),
    /// The answer did not parse as the function's result type.
    #[error("malformed answer: {0}")]
    Decode(#[from] tl_types::Error),
    /// No connection could be made at start.
    #[error("cannot connect: {0}")]
    Connect(#[from] NetError),
    /// The sender stopped (shut down, or ended after an unrecoverable error).
    #[error("the connection to the DC was shut down")]
    Stopped,
}

impl InvokeError {
    /// The RPC error, if the server answered with one.
    pub fn rpc(&self) -> Option<&RpcError> {
        match self {
            InvokeError::Rpc(error) => Some(error),
            _ => None,
        }
    }
}
