//! The tgdl client library: a persistent session, connections to Telegram's DCs with
//! migration and flood-wait handling, login, and parsing of peers and links.
//!
//! - [`store`]: the SQLite session (keys, DC list, self user, peers, download state).
//! - [`Client`]: one sender per DC, `invokeWithLayer(initConnection)` on each new
//!   connection, exported authorization, and a routing loop that carries out the
//!   [`policy`]: every failure read once as an [`policy::ErrorKind`], the next step
//!   (migrate, wait out a flood, re-import the login, retry, give up...) decided by a pure
//!   function, with the [`FloodPolicy`]'s limits.
//! - [`links`]: parsing `@name`, ids and `t.me` links; [`Client::resolve`] turns them into
//!   input peers, caching access hashes.
//! - [`Messages`]: lazy history, search and global search with Telegram's paging.
//! - [`download`]: the download engine (parts in parallel, resumable, verified), with
//!   [`media::MediaFile`] naming the file of a message.
//! - [`updates`]: following chats through Telegram's updates ([`Client::follow`]): the
//!   pure update-sequence machine and its driver.
//! - [`import`]: logins other clients keep on disk (Telegram Desktop's `tdata`, Telethon and
//!   Pyrogram sessions), which [`Client::import_login`] hands off to a login of our own.
//! - [`ServerConfig`]: Telegram's production DCs and key by default; anything else (a test
//!   DC, localdc) is configuration.

pub mod builtin;
mod client;
mod config;
pub mod download;
mod error;
pub mod import;
mod iter;
pub mod links;
mod login;
pub mod media;
mod messages;
mod peer_info;
mod peers;
pub mod policy;
pub mod store;
mod takeout;
pub mod updates;

pub use client::{Client, Route};
pub use config::{ClientConfig, ConnectOptions, EndpointStyle, FloodPolicy, ServerConfig};
pub use error::ClientError;
pub use iter::Messages;
pub use links::{LinkError, PeerLink, PeerRef};
pub use login::{CodeKind, CodeRequest, ImportMode, LoginError, QrLogin, QrStatus};
pub use peer_info::PeerInfo;
pub use peers::{ResolveError, ResolvedLink};
pub use store::{
    DcAddress, DcFlags, PeerKind, PeerRecord, SelfUser, SessionPeek, SessionStore, StoreError,
};
pub use takeout::{Takeout, TakeoutOptions};
