//! What can go wrong reading another client's login. Every error names the file (or "the
//! session string") and never carries a byte of a key or of the string.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

use super::tdata::TdataError;

/// Where a login was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A session file.
    File(PathBuf),
    /// A session string given directly (never shown).
    String,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::String => f.write_str("the session string"),
        }
    }
}

/// The session formats a file or string may turn out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Telethon's.
    Telethon,
    /// Pyrogram's (and kurigram's).
    Pyrogram,
    /// A Telegram Desktop data file (`TDF$`), from a `tdata` folder.
    Desktop,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Telethon => "Telethon",
            Self::Pyrogram => "Pyrogram",
            Self::Desktop => "Telegram Desktop",
        })
    }
}

/// Why another client's login could not be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file could not be read.
    #[error("{origin}: cannot read: {source}")]
    Io {
        /// The file.
        origin: Origin,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// Not a session of the expected format (and, when it can be told, which one it is).
    #[error("{origin}: not a {expected} session{}", found.map(|f| format!(" (it looks like a {f} one)")).unwrap_or_default())]
    OtherFormat {
        /// The file or string.
        origin: Origin,
        /// The format asked for.
        expected: Format,
        /// The format it looks like, when known.
        found: Option<Format>,
    },
    /// A version of the format this reader does not know.
    #[error("{origin}: {format} session version {version} is not one this reader knows")]
    UnknownVersion {
        /// The file or string.
        origin: Origin,
        /// Its format.
        format: Format,
        /// The version it claims.
        version: i64,
    },
    /// The session holds no login (no session row, or an empty key: never logged in, or
    /// logged out).
    #[error("{origin}: holds no login (log in with that client first)")]
    NotLoggedIn {
        /// The file or string.
        origin: Origin,
    },
    /// The auth key is not 256 bytes long.
    #[error("{origin}: the auth key is {len} bytes long; Telegram's are 256")]
    KeyLength {
        /// The file or string.
        origin: Origin,
        /// Its length.
        len: usize,
    },
    /// A login on Telegram's test servers, which tgdl does not talk to.
    #[error("{origin}: a login on Telegram's test servers, not the production ones tgdl uses")]
    TestMode {
        /// The file or string.
        origin: Origin,
    },
    /// The content is not laid out as the format defines.
    #[error("{origin}: malformed ({what})")]
    Malformed {
        /// The file or string.
        origin: Origin,
        /// What is wrong, without any of the content.
        what: &'static str,
    },
    /// SQLite could not read the file.
    #[error("{origin}: cannot read the session database: {reason}")]
    Database {
        /// The file.
        origin: Origin,
        /// SQLite's message (it never quotes the stored values).
        reason: String,
    },
    /// A Desktop account without a key for its main DC.
    #[error(
        "Telegram Desktop account {index} (user {user_id}): no auth key for its main DC {dc_id}"
    )]
    NoMainKey {
        /// Desktop's index of the account.
        index: i32,
        /// The account's user id.
        user_id: u64,
        /// Its main DC.
        dc_id: i32,
    },
    /// A Desktop account whose user id is beyond Telegram's 64-bit signed ids.
    #[error("Telegram Desktop account {index}: user id {user_id} is out of range")]
    DesktopUserId {
        /// Desktop's index of the account.
        index: i32,
        /// The user id it holds.
        user_id: u64,
    },
    /// Reading the `tdata` folder failed.
    #[error(transparent)]
    Tdata(#[from] TdataError),
}

impl ImportError {
    /// The error for content that is not laid out as the format defines.
    pub(super) fn malformed(origin: &Origin, what: &'static str) -> Self {
        Self::Malformed {
            origin: origin.clone(),
            what,
        }
    }
}
