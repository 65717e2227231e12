//! Tokio I/O around the sans-IO MTProto core, for the client and for a server (localdc).
//!
//! - [`framed`]: packet streams, a transport codec (and obfuscation) over any byte stream,
//!   split into a [`PacketReader`] and a [`PacketWriter`].
//! - [`connect`](mod@connect): the client side, opening a stream to an [`Endpoint`] over
//!   TCP or WebSocket, directly or through SOCKS5.
//! - [`accept`](mod@accept): the server side, detecting what a connection speaks on a
//!   shared port.
//! - [`handshake`]: the auth-key handshake driven over a packet stream, either role.
//! - [`http`]: MTProto over HTTP, both roles: the client carrier's connection pool, the
//!   server's request and response halves, and what a sender must do (`http_wait`).
//! - [`mtproxy`]: the client side of MTProxy (plain, `dd` and fake-TLS `ee` secrets).
//! - [`sender`]: the connection task callers share: multiplexed requests, acks, pings,
//!   reconnection with resend, transport fallback.
//! - [`ws`] and [`prefixed`]: byte-stream adapters (a WebSocket as a stream; a stream with
//!   bytes put back in front).

pub mod accept;
pub mod clock;
pub mod connect;
mod error;
pub mod framed;
pub mod handshake;
pub mod http;
mod log_limit;
mod msg_id;
pub mod mtproxy;
pub mod prefixed;
mod rng;
pub mod sender;
pub mod ws;

pub use accept::{AcceptConfig, Accepted, CarrierKind, StreamInfo, accept};
pub use connect::{Address, Carrier, Endpoint, Proxy, Socks5Proxy, connect};
pub use error::{DetectError, NetError, describe_transport_error};
pub use framed::{Framing, Incoming, PacketReader, PacketWriter};
pub use handshake::{DEFAULT_HANDSHAKE_TIMEOUT, client_handshake, server_handshake};
pub use msg_id::PlainMsgIds;
pub use sender::{AuthState, Backoff, InvokeError, Sender, SenderConfig, SenderStatus};
