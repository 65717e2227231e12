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

#[cfg(test)]
mod tests {
    use super::*;

    /// The older reading agrees with the policy's table.
    #[test]
    fn the_older_reading_follows_the_kinds() {
        let rpc = RpcError::new;
        assert_eq!(
            classify(&rpc(303, "FILE_MIGRATE_4")),
            RpcAction::Migrate {
                kind: MigrateKind::File,
                dc: 4
            }
        );
        assert_eq!(
            classify(&rpc(420, "FLOOD_PREMIUM_WAIT_3")),
            RpcAction::FloodWait(Duration::from_secs(3))
        );
        assert_eq!(classify(&rpc(400, "FILE_ID_INVALID")), RpcAction::Fail);
        assert!(is_lost_login(&rpc(401, "SESSION_EXPIRED")));
        assert!(!is_lost_login(&rpc(401, "SESSION_PASSWORD_NEEDED")));
    }
}
