//! The sender: one task per DC connection that owns the socket and the MTProto session.
//!
//! Callers [`invoke`](Sender::invoke) requests from any task; many are in flight at once and
//! small ones travel together in containers. The session decides what to send and when
//! (acknowledgments, pings to find stalled connections, HTTP long polls: its timer table);
//! the task only sleeps until the session's next deadline on tokio's clock
//! ([`crate::clock`]), feeds it calls, packets and timeouts, writes what it yields, delivers
//! server-pushed updates on a channel, and when the connection breaks or stalls it reconnects with
//! backoff (falling back through the configured transports) and resends every request that
//! was not answered. A `-404` from the server (auth key unknown) ends the sender with
//! [`InvokeError::AuthKeyUnknown`] so that the caller can make a new key.

mod config;
mod connection;
mod error;
mod handle;
mod task;
#[cfg(test)]
mod tests;

pub use config::{AuthState, Backoff, SenderConfig};
pub use error::InvokeError;
pub use handle::{Sender, SenderStatus};
