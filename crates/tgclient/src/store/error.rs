//! Why the session store could not be opened, read or written.

use std::path::PathBuf;

/// An error of the session store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process (or another store in this one) has the session open.
    #[error("session {path} is in use by another tgdl process; close it or use another session")]
    InUse {
        /// The session file.
        path: PathBuf,
    },
    /// The file exists but is not an SQLite database, or SQLite found it damaged. It was
    /// left untouched.
    #[error("session {path} is damaged or not a session file ({detail}); it was left untouched")]
    Corrupt {
        /// The session file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The file is an SQLite database of some other program. It was left untouched.
    #[error("{path} is an SQLite database but not a tgdl session; it was left untouched")]
    Foreign {
        /// The file.
        path: PathBuf,
    },
    /// The session was written by a newer tgdl.
    #[error(
        "session {path} has schema version {found}, newer than this tgdl understands ({supported})"
    )]
    TooNew {
        /// The session file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// The file or its lock file could not be opened, created or read.
    #[error("cannot access session {path}: {source}")]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A stored value is out of range (e.g. an auth key of the wrong length).
    #[error("session {path} holds an invalid value: {detail}")]
    Invalid {
        /// The session file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// SQLite failed while the store was open.
    #[error("session database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    /// Maps an SQLite error met while opening `path`: damage and "not a database" become
    /// [`StoreError::Corrupt`], anything else stays an SQLite error.
    pub(crate) fn from_open(path: &std::path::Path, error: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match error.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
                path: path.to_path_buf(),
                detail: error.to_string(),
            },
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::InUse {
                path: path.to_path_buf(),
            },
            Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied | ErrorCode::ReadOnly) => {
                StoreError::Io {
                    path: path.to_path_buf(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::PermissionDenied,
                        error.to_string(),
                    ),
                }
            }
            _ => StoreError::Sqlite(error),
        }
    }
}
