//! What can go wrong reading a `tdata` folder; every error names the file it is about and
//! none carries a secret.

use std::path::PathBuf;

use thiserror::Error;

/// Why a `tdata` folder could not be read.
#[derive(Debug, Error)]
pub enum TdataError {
    /// The folder has no `key_datas` (nor its `0`/`1` variants): not a Desktop `tdata`
    /// folder, or one from a Desktop too old to have several accounts.
    #[error("{dir}: not a Telegram Desktop tdata folder (no key_datas in it)")]
    NotTdata {
        /// The folder given.
        dir: PathBuf,
    },
    /// A file the folder's index names is missing.
    #[error("{file}: missing (the tdata folder is incomplete)")]
    Missing {
        /// The file's base path (without its `s`/`0`/`1` suffix).
        file: PathBuf,
    },
    /// The file exists but could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with Desktop's `TDF$` magic.
    #[error("{file}: not a Telegram Desktop data file (no TDF$ magic)")]
    NotDesktopFile {
        /// The file.
        file: PathBuf,
    },
    /// The file's version field is not a Telegram Desktop version this reader knows.
    #[error("{file}: unknown Telegram Desktop data version {version}")]
    UnknownVersion {
        /// The file.
        file: PathBuf,
        /// The version it claims.
        version: i32,
    },
    /// The file ends before its header and checksum.
    #[error("{file}: truncated")]
    Truncated {
        /// The file.
        file: PathBuf,
    },
    /// The file is larger than any Desktop writes; not read further.
    #[error("{file}: larger than {limit} bytes, not a Telegram Desktop data file")]
    TooLarge {
        /// The file.
        file: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The file's checksum or the check inside its encrypted part does not match.
    #[error("{file}: damaged or tampered with ({check} check failed)")]
    Tampered {
        /// The file.
        file: PathBuf,
        /// Which check failed.
        check: Check,
    },
    /// The passcode does not decrypt the folder's local key.
    #[error("{file}: wrong local passcode")]
    WrongPasscode {
        /// The file (`key_datas`).
        file: PathBuf,
    },
    /// The file's checks pass but its content is not laid out as Desktop writes it.
    #[error("{file}: malformed ({what})")]
    Malformed {
        /// The file.
        file: PathBuf,
        /// What is wrong, without any of the file's bytes.
        what: &'static str,
    },
    /// The account list has a count Desktop never writes.
    #[error("{file}: unsupported account count {count} (Telegram Desktop keeps 1 to {max})")]
    UnsupportedAccountCount {
        /// The file (`key_datas`).
        file: PathBuf,
        /// The count it claims.
        count: i32,
        /// The most Desktop keeps.
        max: i32,
    },
    /// No account in the folder is logged in.
    #[error("{file}: no logged-in account in this tdata folder")]
    NoAccounts {
        /// The file (`key_datas`).
        file: PathBuf,
    },
}

/// Which integrity check a file failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The MD5 signature at the end of the file.
    Md5,
    /// The SHA-1 of the decrypted part against the key it was decrypted with.
    Decrypt,
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Md5 => "md5",
            Self::Decrypt => "decryption",
        })
    }
}
