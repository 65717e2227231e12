//! Why a client call failed.

use std::time::Duration;

use mtnet::{InvokeError, NetError};
use mtproto::session::RpcError;

use crate::policy::ErrorKind;
use crate::store::StoreError;

/// An error of the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The session store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server answered with an error the client does not handle by itself.
    #[error("{method}: Telegram answered {error}")]
    Rpc {
        /// The TL name of the request (`auth.signIn`).
        method: &'static str,
        /// What the server said.
        error: RpcError,
    },
    /// The server asked to wait longer than the flood policy allows.
    #[error(
        "Telegram asks to wait {wait:?} before repeating this request (the limit is {limit:?})"
    )]
    FloodWait {
        /// What the server asked.
        wait: Duration,
        /// The policy's limit.
        limit: Duration,
    },
    /// No address is known for this DC.
    #[error("no address is known for DC {0}")]
    UnknownDc(i32),
    /// No connection could be made to a DC.
    #[error("cannot connect to DC {dc}: {source}")]
    Connect {
        /// The DC.
        dc: i32,
        /// Why.
        source: NetError,
    },
    /// The request failed below the API (timeout, lost connection, malformed answer).
    #[error("{method}: request to DC {dc} failed: {source}")]
    Invoke {
        /// The DC.
        dc: i32,
        /// The TL name of the request (`upload.getFile`).
        method: &'static str,
        /// Why.
        source: InvokeError,
    },
    /// The answer to a request did not parse as its result type.
    #[error("{method}: malformed answer: {source}")]
    Answer {
        /// The TL name of the request.
        method: &'static str,
        /// Why it did not parse.
        source: tl_types::Error,
    },
    /// Redirections went in circles.
    #[error("too many DC migrations for one request (last: DC {0})")]
    TooManyMigrations(i32),
    /// The answer did not parse as the request's result type.
    #[error("malformed answer: {0}")]
    Decode(#[from] tl_types::Error),
    /// The client needs a login for this.
    #[error("not logged in")]
    NotLoggedIn,
    /// The server no longer accepts the session's login (it said so twice); the session
    /// dropped it and is now logged out.
    #[error("the server no longer accepts this session's login ({reason}); it was removed")]
    LoginLost {
        /// What the server said.
        reason: String,
    },
    /// Telegram will not start a takeout session yet (`TAKEOUT_INIT_DELAY_X`): the user
    /// must confirm the export in another Telegram app, or wait this long and try again.
    #[error(
        "Telegram will start the export (takeout) session only after {wait:?}: confirm it in \
         another Telegram app or try again then"
    )]
    TakeoutInitDelay {
        /// How long to wait before calling `start_takeout` again.
        wait: Duration,
    },
    /// Randomness could not be had from the operating system.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

impl ClientError {
    /// What the failure means, when it is a failure of a request or a connection (the
    /// recovery policy's reading; the CLI's advice follows it too).
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            ClientError::Rpc { error, .. } => Some(ErrorKind::of_rpc(error)),
            ClientError::Invoke { source, .. } => Some(ErrorKind::of_invoke(source)),
            ClientError::Connect { source, .. } => Some(ErrorKind::of_net(source)),
            ClientError::FloodWait { wait, .. } => Some(ErrorKind::FloodWait(*wait)),
            ClientError::LoginLost { .. } | ClientError::NotLoggedIn => Some(ErrorKind::LostLogin),
            ClientError::Answer { .. } | ClientError::Decode(_) => Some(ErrorKind::Malformed),
            _ => None,
        }
    }

    /// The RPC error, if the server answered with one.
    pub fn rpc(&self) -> Option<&RpcError> {
        match self {
            ClientError::Rpc { error, .. } => Some(error),
            _ => None,
        }
    }
}
