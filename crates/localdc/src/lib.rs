//! localdc: a local multi-DC Telegram server speaking the real protocol.
//!
//! One process serves several DCs, each on its own loopback port, to any MTProto client:
//! transport detection (abridged, intermediate, padded, full, obfuscated), the auth-key
//! handshake with the server's RSA key, MTProto 2.0 sessions, and API methods dispatched
//! through a [`Registry`] that later layers (the world of users, chats and files) fill.
//! Faults are knobs on each DC ([`Faults`]), adjustable while it runs. With
//! [`Config::mtproxy_secrets`], every DC port is also an MTProxy front (plain, `dd` and
//! fake-TLS `ee` secrets) that serves each proxied client as a client of the DC it asked for.
//!
//! ```no_run
//! # async fn demo() -> Result<(), localdc::Error> {
//! let server = localdc::Server::start(localdc::Config::default()).await?;
//! println!("DC 2 at {:?}", server.addr(2));
//! server.dc(2).unwrap().faults().set_drop_after_messages(Some(3));
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod config;
mod conn;
pub mod control;
mod dc;
mod error;
pub mod faults;
pub mod keys;
mod listener;
mod mtproxy;
pub mod quirks;
mod ready;
pub mod rpc;
mod serve;
mod server;
pub mod state;
mod sync;
pub mod transport;
pub mod wan;
pub mod world;

pub use config::{Config, DEFAULT_DCS, Limits};
pub use dc::{DcAddress, DcState};
pub use error::Error;
pub use faults::{Block, FaultSettings, Faults, TransportClass};
pub use mtproto::session::RpcError;
pub use ready::{ReadyDc, ReadyInfo};
pub use rpc::{Handler, HandlerFuture, Registry, RequestContext, RpcResult};
pub use serve::{Serve, serve};
pub use server::{DcHandle, RunningServer, Server, ShutdownHandle};
pub use wan::{DropRate, Wan, WanCounts, WanProfile, WanSettings};
