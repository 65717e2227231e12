//! Reading what a session file says about its login without opening it for use: no lock,
//! no migration, no write. `tgdl profiles` lists sessions this way, including ones a running
//! tgdl holds.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::schema::{self, Identity, SCHEMA_VERSION};
use super::{SelfUser, SessionStore, StoreError, file};

/// What a session file records about its login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPeek {
    /// The logged-in account, if any.
    pub self_user: Option<SelfUser>,
    /// The account's home DC, once known.
    pub home_dc: Option<i32>,
}

impl SessionStore {
    /// Reads the login recorded in the session at `path`, read-only. An empty or
    /// never-initialised file reads as no login.
    ///
    /// # Errors
    /// The file cannot be read, is not a tgdl session, or was written by a newer tgdl.
    pub fn peek(path: impl AsRef<Path>) -> Result<SessionPeek, StoreError> {
        let path = path.as_ref();
        let nothing = SessionPeek {
            self_user: None,
            home_dc: None,
        };
        match file::header(path).map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        })? {
            file::Header::Empty => return Ok(nothing),
            file::Header::Sqlite => {}
            file::Header::Other => {
                return Err(StoreError::Corrupt {
                    path: path.to_path_buf(),
                    detail: "not an SQLite database".into(),
                });
            }
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::from_open(path, e))?;
        match schema::identify(&conn).map_err(|e| StoreError::from_open(path, e))? {
            Identity::Fresh => return Ok(nothing),
            Identity::Foreign => {
                return Err(StoreError::Foreign {
                    path: path.to_path_buf(),
                });
            }
            Identity::Session(found) if found > SCHEMA_VERSION => {
                return Err(StoreError::TooNew {
                    path: path.to_path_buf(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            // Every schema version keeps the login in `meta` under the same keys.
            Identity::Session(_) => {}
        }
        let store = Self {
            conn,
            path: Some(path.to_path_buf()),
            exposed: false,
            _lock: None,
        };
        Ok(SessionPeek {
            self_user: store.self_user()?,
            home_dc: store.home_dc()?,
        })
    }
}
