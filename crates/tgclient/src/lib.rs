//! The tgdl client library: a persistent session, connections to Telegram's DCs with
//! migration and flood-wait handling, login, and parsing of peers and links.
//!
//! - [`store`]: the SQLite session (keys, DC list, self user, peers, download state).
//! - [`Client`]: one sender per DC, `invokeWithLayer(initConnection)` on each new
//!   connection, `*_MIGRATE_X` followed, exported authorization, the [`FloodPolicy`].
//! - [`ServerConfig`]: Telegram's production DCs and key by default; anything else (a test
//!   DC, localdc) is configuration.

pub mod builtin;
mod client;
mod config;
mod error;
mod login;
pub mod rpc_error;
pub mod store;

pub use client::{Client, Route};
pub use config::{ClientConfig, ConnectOptions, EndpointStyle, FloodPolicy, ServerConfig};
pub use error::ClientError;
pub use login::{CodeKind, CodeRequest, LoginError, QrLogin, QrStatus};
pub use store::{DcAddress, DcFlags, PeerKind, PeerRecord, SelfUser, SessionStore, StoreError};
