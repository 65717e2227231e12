//! The auth-key handshake as two state machines over TL message bodies: [`ClientHandshake`]
//! and [`ServerHandshake`]. They do no I/O: the caller frames each body as a plain message
//! (see [`crate::plain`]) and carries it over a transport.
//!
//! `req_pq_multi -> resPQ -> req_DH_params -> server_DH_params_ok -> set_client_DH_params ->
//! dh_gen_ok | dh_gen_retry | dh_gen_fail`, with permanent keys (`p_q_inner_data_dc`) or
//! temporary ones (`p_q_inner_data_temp_dc`, for PFS binding).

mod client;
mod error;
mod server;

pub use client::{ClientHandshake, ClientStep, InnerDataEncryptor};
pub use error::HandshakeError;
pub use server::{ServerHandshake, ServerStep};

use mtcrypto::AuthKey;

/// What a completed handshake yields, on either side.
#[derive(Debug)]
pub struct HandshakeOutcome {
    pub auth_key: AuthKey,
    /// The first server salt: `new_nonce[0..8] XOR server_nonce[0..8]`.
    pub server_salt: i64,
    /// The server's clock during the handshake (unix seconds), to correct msg_ids with.
    pub server_time: i32,
    /// `Some(seconds)` for a temporary key.
    pub expires_in: Option<i32>,
    /// The DC the client asked for (`p_q_inner_data_dc`), if it said.
    pub dc_id: Option<i32>,
}

/// How many `dh_gen_retry` rounds either side accepts before giving up.
pub const MAX_RETRIES: u32 = 5;
