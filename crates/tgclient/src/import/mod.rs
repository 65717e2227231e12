//! Reading logins that other Telegram clients keep on disk, as an [`ImportedLogin`]: enough
//! to act as that client once (the handoff, `Client::import_login`).
//!
//! - [`tdata`]: Telegram Desktop's `tdata` folder (accounts, user ids, main DCs, auth keys).
//! - [`telethon`]: Telethon's SQLite session file and its `StringSession`.
//! - [`pyrogram`]: Pyrogram's (and kurigram's) SQLite session file and session strings.
//!
//! Readers never write: session files are opened read-only. Keys are [`AuthKey`]s (wiped
//! on drop, `Debug` shows the key id only) and no error carries a byte of a key or a string.

mod error;
pub mod pyrogram;
mod sqlite;
pub mod tdata;
pub mod telethon;
#[cfg(test)]
mod tests;

use mtcrypto::AuthKey;

pub use error::{Format, ImportError, Origin};
pub use tdata::DcAuthKey;

/// A login another client keeps on disk: enough to act as that client once.
#[derive(Debug, Clone)]
pub struct ImportedLogin {
    /// Where it came from (for messages, and the identity of a fallback `initConnection`).
    pub source: ImportSource,
    /// The account's main DC.
    pub dc_id: i32,
    /// The main DC's auth key.
    pub auth_key: AuthKey,
    /// Keys for other DCs (Desktop keeps them; only a shared-key login uses them).
    pub other_keys: Vec<DcAuthKey>,
    /// The account's user id, when the source stores it (Telethon does not).
    pub user_id: Option<i64>,
    /// Whether the account is a bot, when the source stores it.
    pub is_bot: Option<bool>,
}

/// Which client a login comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportSource {
    /// Telegram Desktop, with the version that wrote its `tdata`.
    Desktop {
        /// Desktop's version number (`major * 1_000_000 + minor * 1_000 + patch`).
        app_version: i32,
    },
    /// A Telethon session.
    Telethon,
    /// A Pyrogram session, with the `api_id` it stored (sessions before its version 3
    /// did not).
    Pyrogram {
        /// The `api_id` Pyrogram logged in with.
        api_id: Option<i32>,
    },
}

impl std::fmt::Display for ImportSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Desktop { .. } => "Telegram Desktop",
            Self::Telethon => "Telethon",
            Self::Pyrogram { .. } => "Pyrogram",
        })
    }
}

/// Length of every MTProto auth key.
const KEY_LEN: usize = 256;

/// The auth key in `bytes`: an empty or all-zero key means the source holds no login (both
/// Telethon and Pyrogram keep such a row before logging in); any length but 256 is an error.
fn auth_key(origin: &Origin, bytes: &[u8]) -> Result<AuthKey, ImportError> {
    if bytes.iter().all(|&b| b == 0) {
        return Err(ImportError::NotLoggedIn {
            origin: origin.clone(),
        });
    }
    if bytes.len() != KEY_LEN {
        return Err(ImportError::KeyLength {
            origin: origin.clone(),
            len: bytes.len(),
        });
    }
    AuthKey::from_slice(bytes).map_err(|_| ImportError::KeyLength {
        origin: origin.clone(),
        len: bytes.len(),
    })
}

/// The key of a session row read as [`sqlite::KEY_COLUMNS`]: at most 256 bytes of it and
/// its full length, so that a hostile file's huge blob is never read into memory.
fn stored_key(
    origin: &Origin,
    bytes: Option<&[u8]>,
    len: Option<i64>,
) -> Result<AuthKey, ImportError> {
    let bytes = bytes.unwrap_or_default();
    match len {
        None | Some(0) => auth_key(origin, &[]),
        Some(len) if usize::try_from(len).ok() == Some(KEY_LEN) => auth_key(origin, bytes),
        Some(len) => Err(ImportError::KeyLength {
            origin: origin.clone(),
            len: usize::try_from(len).unwrap_or(usize::MAX),
        }),
    }
}

/// A DC id a real session can hold (Telegram's are 1 to 5; test and media DCs run higher,
/// and localdc may number others), so a field read from hostile input is checked.
fn dc_id(origin: &Origin, value: i64) -> Result<i32, ImportError> {
    i32::try_from(value)
        .ok()
        .filter(|dc| (1..=1000).contains(dc))
        .ok_or_else(|| ImportError::Malformed {
            origin: origin.clone(),
            what: "a DC id out of range",
        })
}
