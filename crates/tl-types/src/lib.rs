//! Telegram's TL schema as Rust types.
//!
//! [`api`] holds the application API (layer [`LAYER`]) and [`mtproto`] the service schema of
//! the protocol itself. Each has the same shape, generated from the vendored schema files:
//! `types` (one struct per constructor), `enums` (one enum per boxed type) and `functions`
//! (one struct per RPC function, with its result type as [`RemoteCall::Return`]).
//!
//! Values are written with [`Serialize`] (boxed: constructor id first) or [`BareSerialize`],
//! and read back from untrusted bytes with [`Deserialize`]/[`BareDeserialize`] through a
//! bounded [`Reader`]: malformed input gives an [`Error`], never a panic, and never makes the
//! reader allocate more than the input could describe.

mod error;
mod reader;
mod traits;
pub mod wire;

pub use error::Error;
pub use reader::{MAX_DEPTH, Reader};
pub use traits::{
    BareDeserialize, BareSerialize, Blob, Deserialize, Identifiable, RemoteCall, Serialize,
    deserialize_boxed, vec_for,
};

include!(concat!(env!("OUT_DIR"), "/layer.rs"));

/// The application API schema.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod api {
    include!(concat!(env!("OUT_DIR"), "/api.rs"));
}

/// The MTProto service schema (handshake, acks, salts, pings...). Its `string` fields are
/// binary on the wire and so are `Vec<u8>` here.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod mtproto {
    include!(concat!(env!("OUT_DIR"), "/mtproto.rs"));
}
