//! Reading `rpc_error` names. What an error means and what to do about it is the
//! [`crate::policy`]; this module keeps the name helpers and the older classification
//! the download engine still reads.

use std::time::Duration;

use mtproto::session::RpcError;

use crate::policy::ErrorKind;
pub use crate::policy::{MigrateKind, is, split_value};

/// What an RPC error means for the caller (the older, coarser reading of
/// [`ErrorKind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcAction {
    /// Repeat on DC `dc`.
    Migrate {
        /// Why.
        kind: MigrateKind,
        /// Where.
        dc: i32,
    },
    /// Wait this long, then repeat (`FLOOD_WAIT_X`, `FLOOD_PREMIUM_WAIT_X`, ...).
    FloodWait(Duration),
    /// Nothing the client can do by itself.
    Fail,
}

/// Whether `error` says the key is not (or no longer) logged in on the DC that answered.
pub fn is_lost_login(error: &RpcError) -> bool {
    ErrorKind::of_rpc(error) == ErrorKind::LostLogin
}

/// Classifies `error`.
pub fn classify(error: &RpcError) -> RpcAction {
    match ErrorKind::of_rpc(error) {
        ErrorKind::Migrate { why, dc } => RpcAction::Migrate { kind: why, dc },
        ErrorKind::FloodWait(wait) | ErrorKind::PremiumFloodWait(wait) => {
            RpcAction::FloodWait(wait)
        }
        _ => RpcAction::Fail,
    }
}
