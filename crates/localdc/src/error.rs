//! The errors of starting a server.

use std::net::SocketAddr;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot be served.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A DC's port could not be bound.
    #[error("cannot listen for DC {dc} on {addr}: {source}")]
    Bind {
        dc: i32,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The RSA key could not be made or encoded.
    #[error("RSA key: {0}")]
    Rsa(#[from] mtcrypto::Error),
    /// A background task died.
    #[error("background task failed: {0}")]
    Task(String),
}
