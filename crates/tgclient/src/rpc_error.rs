//! What an `rpc_error` asks the client to do.

use std::time::Duration;

use mtproto::session::RpcError;

/// Why a request is to be repeated on another DC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrateKind {
    /// `PHONE_MIGRATE_X`: the phone number's account lives on DC X.
    Phone,
    /// `USER_MIGRATE_X`: the user's account lives on DC X.
    User,
    /// `NETWORK_MIGRATE_X`: the client's network is served by DC X.
    Network,
    /// `FILE_MIGRATE_X`: the file is stored on DC X.
    File,
    /// `STATS_MIGRATE_X`: statistics are served by DC X.
    Stats,
}

/// What an RPC error means for the caller.
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

/// The highest DC id believed (Telegram's are single digits; test DCs add 10000 on the
/// wire, never in errors).
const MAX_DC_ID: u32 = 1000;

/// Splits `NAME_123` into (`NAME`, 123).
pub fn split_value(message: &str) -> Option<(&str, u32)> {
    let (name, value) = message.rsplit_once('_')?;
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((name, value.parse().ok()?))
}

/// Whether `error` says the key is not (or no longer) logged in on the DC that answered.
pub fn is_lost_login(error: &RpcError) -> bool {
    matches!(
        error.message.as_str(),
        "AUTH_KEY_UNREGISTERED" | "SESSION_REVOKED"
    )
}

/// Classifies `error`.
pub fn classify(error: &RpcError) -> RpcAction {
    let Some((name, value)) = split_value(&error.message) else {
        return RpcAction::Fail;
    };
    let kind = match name {
        "PHONE_MIGRATE" => Some(MigrateKind::Phone),
        "USER_MIGRATE" => Some(MigrateKind::User),
        "NETWORK_MIGRATE" => Some(MigrateKind::Network),
        "FILE_MIGRATE" => Some(MigrateKind::File),
        "STATS_MIGRATE" => Some(MigrateKind::Stats),
        _ => None,
    };
    if let Some(kind) = kind {
        return if (1..=MAX_DC_ID).contains(&value) {
            RpcAction::Migrate {
                kind,
                dc: value as i32,
            }
        } else {
            RpcAction::Fail
        };
    }
    if error.code == 420 && name.starts_with("FLOOD_") && name.ends_with("_WAIT")
        || name == "FLOOD_WAIT"
    {
        return RpcAction::FloodWait(Duration::from_secs(u64::from(value)));
    }
    RpcAction::Fail
}

/// Whether `error` is `name` (exactly, or with a numeric suffix).
pub fn is(error: &RpcError, name: &str) -> bool {
    error.message == name || split_value(&error.message).is_some_and(|(n, _)| n == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rpc(code: i32, message: &str) -> RpcError {
        RpcError::new(code, message)
    }

    #[test]
    fn migrations_and_waits_are_recognized() {
        let migrate = |kind, dc| RpcAction::Migrate { kind, dc };
        assert_eq!(
            classify(&rpc(303, "PHONE_MIGRATE_4")),
            migrate(MigrateKind::Phone, 4)
        );
        assert_eq!(
            classify(&rpc(303, "USER_MIGRATE_2")),
            migrate(MigrateKind::User, 2)
        );
        assert_eq!(
            classify(&rpc(303, "NETWORK_MIGRATE_5")),
            migrate(MigrateKind::Network, 5)
        );
        assert_eq!(
            classify(&rpc(303, "FILE_MIGRATE_1")),
            migrate(MigrateKind::File, 1)
        );
        assert_eq!(
            classify(&rpc(303, "STATS_MIGRATE_3")),
            migrate(MigrateKind::Stats, 3)
        );
        assert_eq!(
            classify(&rpc(420, "FLOOD_WAIT_30")),
            RpcAction::FloodWait(Duration::from_secs(30))
        );
        assert_eq!(
            classify(&rpc(420, "FLOOD_PREMIUM_WAIT_3")),
            RpcAction::FloodWait(Duration::from_secs(3))
        );
        for fail in [
            "PHONE_MIGRATE_0",
            "PHONE_MIGRATE_",
            "PHONE_MIGRATE_x",
            "FILE_MIGRATE_99999999999",
            "PHONE_CODE_INVALID",
            "",
            "_",
            "FLOOD_WAIT",
        ] {
            assert_eq!(classify(&rpc(400, fail)), RpcAction::Fail, "{fail}");
        }
        assert!(is(&rpc(400, "PHONE_CODE_INVALID"), "PHONE_CODE_INVALID"));
        assert!(is(&rpc(420, "FLOOD_WAIT_3"), "FLOOD_WAIT"));
        assert!(!is(&rpc(420, "FLOOD_WAIT_3"), "FLOOD"));
    }

    proptest! {
        #[test]
        fn any_message_classifies_without_panic(code in any::<i32>(), message in ".{0,40}") {
            let _ = classify(&rpc(code, &message));
        }

        #[test]
        fn migrate_round_trips(dc in 1u32..=1000) {
            let action = classify(&rpc(303, &format!("USER_MIGRATE_{dc}")));
            prop_assert_eq!(action, RpcAction::Migrate { kind: MigrateKind::User, dc: dc as i32 });
        }
    }
}
