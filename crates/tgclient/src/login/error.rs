//! Why a login step failed.

use mtproto::session::RpcError;

use crate::error::ClientError;
use crate::import::ImportSource;
use crate::policy;

/// An error of a login step. Wrong codes and passwords carry the server's message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The phone number was refused (`PHONE_NUMBER_INVALID`, `PHONE_NUMBER_BANNED`, ...).
    #[error("the phone number was refused: {0}")]
    InvalidPhone(String),
    /// The code is wrong (`PHONE_CODE_INVALID`, `PHONE_CODE_EMPTY`).
    #[error("wrong login code ({0})")]
    InvalidCode(String),
    /// The code expired (`PHONE_CODE_EXPIRED`): ask for a new one.
    #[error("the login code expired ({0}); request a new one")]
    CodeExpired(String),
    /// The account has a 2FA password: call `check_password`.
    #[error("this account is protected by a password{}", hint.as_deref().map(|h| format!(" (hint: {h})")).unwrap_or_default())]
    PasswordRequired {
        /// The password's hint, if set.
        hint: Option<String>,
    },
    /// The password is wrong (`PASSWORD_HASH_INVALID`).
    #[error("wrong password ({0})")]
    WrongPassword(String),
    /// A password was given but the account has none.
    #[error("the account has no password")]
    NoPassword,
    /// The phone number has no account (`auth.authorizationSignUpRequired`, or
    /// `PHONE_NUMBER_UNOCCUPIED` in old layers); this client does not create accounts.
    #[error("no Telegram account uses this phone number (sign up in an official app first)")]
    SignUpRequired,
    /// No bot has this token (`ACCESS_TOKEN_INVALID`).
    #[error("no bot has this token ({0})")]
    InvalidBotToken(String),
    /// The bot's token was revoked in @BotFather and replaced (`ACCESS_TOKEN_EXPIRED`).
    #[error("the bot token was revoked ({0})")]
    RevokedBotToken(String),
    /// Telegram refused the app's `api_id`/`api_hash` (`API_ID_INVALID`: not a registered
    /// pair; `API_ID_PUBLISHED_FLOOD`: the pair was published and is limited).
    #[error("the api_id/api_hash pair was refused ({0})")]
    AppRefused(String),
    /// The QR login token was refused or expired.
    #[error("the QR login token was refused ({0})")]
    InvalidQrToken(String),
    /// Nobody accepted the QR code in time.
    #[error("the QR code was not accepted in time")]
    QrTimeout,
    /// The imported login is no longer valid on the server (logged out, revoked, or its
    /// key forgotten): nothing to hand off.
    #[error(
        "the {client} login is not valid any more ({reason}); log in there again, or log in to tgdl directly"
    )]
    SourceLoginInvalid {
        /// The client it came from.
        client: ImportSource,
        /// The server's error.
        reason: String,
    },
    /// The server refused the imported login's `auth.acceptLoginToken`.
    #[error("the {client} login could not approve tgdl's login ({reason})")]
    HandoffRefused {
        /// The client it came from.
        client: ImportSource,
        /// The server's error, or what went wrong.
        reason: String,
    },
    /// A bot's session cannot hand its login off: login tokens are for users.
    #[error(
        "the {client} session is a bot's, and only users can approve a new login; log in with the bot token, or share the session's key"
    )]
    BotHandoff {
        /// The client it came from.
        client: ImportSource,
    },
    /// The handoff logged in another account than the imported one (the new login was
    /// logged out again).
    #[error(
        "the handoff logged in user {got}, not the imported account's user {expected}; logged out again"
    )]
    OtherAccount {
        /// The imported login's user.
        expected: i64,
        /// The user the server logged in.
        got: i64,
    },
    /// The session already holds a login; log out first.
    #[error(
        "this session is already logged in (as user {0}); log out first or use another profile"
    )]
    AlreadyLoggedIn(i64),
    /// The server offered something this client does not support.
    #[error("unsupported by this client: {0}")]
    Unsupported(&'static str),
    /// The server answered something impossible.
    #[error("unexpected answer: {0}")]
    Unexpected(&'static str),
    /// Below the login itself (network, store, other RPC errors).
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl From<crate::store::StoreError> for LoginError {
    fn from(error: crate::store::StoreError) -> Self {
        LoginError::Client(ClientError::Store(error))
    }
}

/// The login error for an RPC error refusing the app itself, which any login method may get.
pub(crate) fn app_refusal(rpc: &RpcError) -> Option<LoginError> {
    (policy::is(rpc, "API_ID_INVALID") || policy::is(rpc, "API_ID_PUBLISHED_FLOOD"))
        .then(|| LoginError::AppRefused(rpc.message.clone()))
}

/// The login error for a refused `auth.importBotAuthorization`.
pub(crate) fn bot_refusal(rpc: &RpcError) -> Option<LoginError> {
    if policy::is(rpc, "ACCESS_TOKEN_INVALID") {
        Some(LoginError::InvalidBotToken(rpc.message.clone()))
    } else if policy::is(rpc, "ACCESS_TOKEN_EXPIRED") {
        Some(LoginError::RevokedBotToken(rpc.message.clone()))
    } else {
        app_refusal(rpc)
    }
}
