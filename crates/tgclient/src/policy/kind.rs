//! The one table from what went wrong (an `rpc_error`, a failed invoke, a failed connect)
//! to what it means: an [`ErrorKind`]. Names follow Telegram's "Error handling" page
//! (<https://core.telegram.org/api/errors>) and what TDLib and Telethon do with them.

use std::time::Duration;

use mtnet::{InvokeError, NetError};
use mtproto::session::{RpcError, resending_helps};

/// Why a request is to be repeated on another DC (`303 SEE_OTHER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// What a failure means, whatever the request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Repeat on DC `dc` (`*_MIGRATE_X`).
    Migrate {
        /// Why.
        why: MigrateKind,
        /// Where.
        dc: i32,
    },
    /// Wait this long, then repeat (`420 FLOOD_WAIT_X`, `SLOWMODE_WAIT_X`, ...).
    FloodWait(Duration),
    /// The wait Telegram imposes on accounts without Premium, mostly on file transfers
    /// (`420 FLOOD_PREMIUM_WAIT_X`).
    PremiumFloodWait(Duration),
    /// The DC no longer accepts the login bound to this key: the `401` family but
    /// `SESSION_PASSWORD_NEEDED` (`AUTH_KEY_UNREGISTERED`, `SESSION_REVOKED`, ...), and
    /// `406 AUTH_KEY_DUPLICATED`.
    LostLogin,
    /// The DC does not know the auth key (transport error -404, confirmed by the sender).
    AuthKeyUnknown,
    /// The server failed for a moment and said so (`5xx`, negative codes such as
    /// `-503 Timeout`, `*_TIMEOUT`, `RPC_CALL_FAIL`), or a connection could not be made for
    /// a reason that passes (refused, reset, timed out).
    Transient,
    /// The connection task ended under the request (shut down, or broken beyond repair).
    ConnectionLost,
    /// No answer within the request timeout; the request may have run.
    TimedOut,
    /// The session gave the request up on `bad_msg_notification`s that a later try may
    /// not meet (a storm, a salt or the clock being sorted out).
    RefusedBySession,
    /// An at-most-once request was sent, the connection broke, and its fate is unknown.
    Uncertain,
    /// The file reference is too old (`FILE_REFERENCE_EXPIRED`, `FILE_REFERENCE_INVALID`):
    /// re-reading the message renews it.
    FileReferenceExpired,
    /// The account may not read this (`CHANNEL_PRIVATE`, `CHAT_FORBIDDEN`, `403`, ...).
    NoAccess,
    /// The file does not exist (any more) (`FILE_ID_INVALID`, `LOCATION_INVALID`, ...).
    FileGone,
    /// The answer did not parse.
    Malformed,
    /// The request itself was refused (other `4xx`, login steps such as
    /// `SESSION_PASSWORD_NEEDED`, `TAKEOUT_INIT_DELAY_X`): the caller reads the name.
    InvalidInput,
    /// The request cannot be sent: too large or malformed, a `bad_msg_notification` no
    /// resend cures, a connection that can never be made (wrong key, bad proxy secret).
    Unsendable,
}

/// The highest DC id believed (Telegram's are single digits; test DCs add 10000 on the
/// wire, never in errors).
const MAX_DC_ID: u32 = 1000;

/// The `401`s that are a step of the login, not its loss.
const LOGIN_STEPS_401: [&str; 1] = ["SESSION_PASSWORD_NEEDED"];

/// The login bound to the key is gone, whatever the code says. The `401` family (every
/// `401` but [`LOGIN_STEPS_401`] counts, as in TDLib) and `406 AUTH_KEY_DUPLICATED` (the
/// key was used from two places at once and was dropped).
const LOST_LOGIN: [&str; 9] = [
    "AUTH_KEY_UNREGISTERED",
    "AUTH_KEY_INVALID",
    "AUTH_KEY_PERM_EMPTY",
    "SESSION_REVOKED",
    "SESSION_EXPIRED",
    "USER_DEACTIVATED",
    "USER_DEACTIVATED_BAN",
    "ACTIVE_USER_REQUIRED",
    "AUTH_KEY_DUPLICATED",
];

const FILE_REFERENCE: [&str; 2] = ["FILE_REFERENCE_EXPIRED", "FILE_REFERENCE_INVALID"];

const FILE_GONE: [&str; 3] = ["FILE_ID_INVALID", "LOCATION_INVALID", "MEDIA_EMPTY"];

const NO_ACCESS: [&str; 9] = [
    "CHANNEL_PRIVATE",
    "CHANNEL_INVALID",
    "CHANNEL_PUBLIC_GROUP_NA",
    "CHANNEL_BANNED",
    "CHAT_FORBIDDEN",
    "CHAT_ID_INVALID",
    "CHAT_ADMIN_REQUIRED",
    "PEER_ID_INVALID",
    "USER_BANNED_IN_CHANNEL",
];

/// Server-side failures named without a `5xx` code.
/// (`INTERDC_X_CALL_ERROR` and `INTERDC_X_CALL_RICH_ERROR` are matched by prefix.)
const TRANSIENT: [&str; 4] = [
    "RPC_CALL_FAIL",
    "RPC_MCGET_FAIL",
    "AUTH_RESTART",
    "WORKER_BUSY_TOO_LONG_RETRY",
];

impl ErrorKind {
    /// What the server's `rpc_error` means.
    pub fn of_rpc(error: &RpcError) -> Self {
        let message = error.message.as_str();
        let (name, value) = split_value(message).map_or((message, None), |(n, v)| (n, Some(v)));
        if let Some(why) = migrate_kind(name) {
            return match value {
                Some(dc @ 1..=MAX_DC_ID) => ErrorKind::Migrate {
                    why,
                    dc: i32::try_from(dc).unwrap_or(i32::MAX),
                },
                _ => ErrorKind::InvalidInput,
            };
        }
        if let (Some(seconds), true) = (value, is_flood_wait(error.code, name)) {
            let wait = Duration::from_secs(u64::from(seconds));
            return if name == "FLOOD_PREMIUM_WAIT" {
                ErrorKind::PremiumFloodWait(wait)
            } else {
                ErrorKind::FloodWait(wait)
            };
        }
        if LOST_LOGIN.contains(&message) || error.code == 401 && !LOGIN_STEPS_401.contains(&message)
        {
            return ErrorKind::LostLogin;
        }
        if FILE_REFERENCE.contains(&message) {
            return ErrorKind::FileReferenceExpired;
        }
        if FILE_GONE.contains(&message) {
            return ErrorKind::FileGone;
        }
        if NO_ACCESS.contains(&message) || error.code == 403 {
            return ErrorKind::NoAccess;
        }
        if error.code >= 500
            || error.code < 0
            || message.contains("TIMEOUT")
            || TRANSIENT.contains(&message)
            || message.starts_with("INTERDC_")
        {
            return ErrorKind::Transient;
        }
        ErrorKind::InvalidInput
    }

    /// What a failed invoke means.
    pub fn of_invoke(error: &InvokeError) -> Self {
        match error {
            InvokeError::Rpc(rpc) => Self::of_rpc(rpc),
            InvokeError::Timeout(_) => ErrorKind::TimedOut,
            InvokeError::AuthKeyUnknown => ErrorKind::AuthKeyUnknown,
            InvokeError::Uncertain => ErrorKind::Uncertain,
            InvokeError::Rejected(code) if resending_helps(*code) => ErrorKind::RefusedBySession,
            InvokeError::Decode(_) => ErrorKind::Malformed,
            InvokeError::Connect(net) => Self::of_net(net),
            InvokeError::Stopped => ErrorKind::ConnectionLost,
            // A refusal no resend cures, a request too large or malformed to queue, and
            // whatever mtnet may add later: nothing known cures them.
            _ => ErrorKind::Unsendable,
        }
    }

    /// What a failed connection attempt means: [`ErrorKind::Transient`] when it may succeed
    /// if repeated soon (the network or the peer was down or busy, -429), else
    /// [`ErrorKind::Unsendable`] (a wrong key, secret, DC or configuration).
    pub fn of_net(error: &NetError) -> Self {
        match error {
            NetError::Io(_)
            | NetError::Timeout { .. }
            | NetError::Closed
            | NetError::UnexpectedEof { .. }
            | NetError::Transport { code: -429 }
            | NetError::WebSocket(_)
            | NetError::Socks(_)
            | NetError::Http(_) => ErrorKind::Transient,
            _ => ErrorKind::Unsendable,
        }
    }
}

fn migrate_kind(name: &str) -> Option<MigrateKind> {
    Some(match name {
        "PHONE_MIGRATE" => MigrateKind::Phone,
        "USER_MIGRATE" => MigrateKind::User,
        "NETWORK_MIGRATE" => MigrateKind::Network,
        "FILE_MIGRATE" => MigrateKind::File,
        "STATS_MIGRATE" => MigrateKind::Stats,
        _ => return None,
    })
}

/// `FLOOD_WAIT_X` under any code (as it always was read), and any `420 *_WAIT_X`
/// (`FLOOD_PREMIUM_WAIT_X`, `SLOWMODE_WAIT_X`, `FLOOD_TEST_PHONE_WAIT_X`).
fn is_flood_wait(code: i32, name: &str) -> bool {
    name == "FLOOD_WAIT" || code == 420 && name.ends_with("_WAIT")
}

/// Splits `NAME_123` into (`NAME`, 123).
pub fn split_value(message: &str) -> Option<(&str, u32)> {
    let (name, value) = message.rsplit_once('_')?;
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((name, value.parse().ok()?))
}

/// Whether `error` is `name` (exactly, or with a numeric suffix).
pub fn is(error: &RpcError, name: &str) -> bool {
    error.message == name || split_value(&error.message).is_some_and(|(n, _)| n == name)
}
