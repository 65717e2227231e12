//! Session files in SQLite, opened read-only (never created, changed or locked for
//! writing), and told apart by their tables: Telethon's `version` table has a `version`
//! column, Pyrogram's a `number` column.

use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::error::{Format, ImportError, Origin};

/// The first 16 bytes of every SQLite 3 database.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// The first 4 bytes of a Telegram Desktop data file.
const DESKTOP_MAGIC: &[u8; 4] = b"TDF$";

/// How a session row's `auth_key` is selected: its first 256 bytes and its length.
pub(super) const KEY_COLUMNS: &str = "substr(auth_key, 1, 256), length(auth_key)";

/// An open session database and where it is.
pub(super) struct SessionDb {
    pub(super) origin: Origin,
    conn: Connection,
}

/// Opens `path` read-only as a session of `expected`'s family: a file that is not SQLite
/// (or is SQLite of another layout) is [`ImportError::OtherFormat`], saying which format it
/// looks like when that can be told.
pub(super) fn open(path: &Path, expected: Format) -> Result<SessionDb, ImportError> {
    let origin = Origin::File(path.to_path_buf());
    let mut head = Vec::with_capacity(SQLITE_MAGIC.len());
    std::fs::File::open(path)
        .and_then(|f| f.take(SQLITE_MAGIC.len() as u64).read_to_end(&mut head))
        .map_err(|source| ImportError::Io {
            origin: origin.clone(),
            source,
        })?;
    if head.as_slice() != SQLITE_MAGIC {
        let found = head.starts_with(DESKTOP_MAGIC).then_some(Format::Desktop);
        return Err(ImportError::OtherFormat {
            origin,
            expected,
            found,
        });
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| database(&origin, &e))?;
    let db = SessionDb { origin, conn };
    let found = db.format()?;
    if found != Some(expected) {
        return Err(ImportError::OtherFormat {
            origin: db.origin,
            expected,
            found,
        });
    }
    Ok(db)
}

fn database(origin: &Origin, error: &rusqlite::Error) -> ImportError {
    ImportError::Database {
        origin: origin.clone(),
        reason: error.to_string(),
    }
}

impl SessionDb {
    /// Which client's layout the database has, if either.
    fn format(&self) -> Result<Option<Format>, ImportError> {
        if !self.has_column("sessions", "auth_key")? {
            return Ok(None);
        }
        Ok(if self.has_column("version", "version")? {
            Some(Format::Telethon)
        } else if self.has_column("version", "number")? {
            Some(Format::Pyrogram)
        } else {
            None
        })
    }

    /// Whether `table` has `column`.
    pub(super) fn has_column(&self, table: &str, column: &str) -> Result<bool, ImportError> {
        self.conn
            .query_row(
                "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2",
                [table, column],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(|e| self.error(&e))
    }

    /// The database's version: the first value of `column` in the `version` table.
    pub(super) fn version(&self, column: &str) -> Result<i64, ImportError> {
        // The column name is one of two constants, never input.
        let query = format!("SELECT {column} FROM version LIMIT 1");
        self.conn
            .query_row(&query, [], |row| row.get::<_, i64>(0))
            .optional()
            .map_err(|e| self.error(&e))?
            .ok_or_else(|| ImportError::malformed(&self.origin, "an empty version table"))
    }

    /// The first row `query` selects, read by `read` (`None` when there is none).
    pub(super) fn first_row<T>(
        &self,
        query: &str,
        read: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>, ImportError> {
        self.conn
            .query_row(query, [], read)
            .optional()
            .map_err(|e| self.error(&e))
    }

    /// A read failure: a value of the wrong type is the file's layout, anything else
    /// SQLite's own.
    fn error(&self, error: &rusqlite::Error) -> ImportError {
        match error {
            rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::IntegralValueOutOfRange(..) => {
                ImportError::malformed(&self.origin, "a session value of the wrong type")
            }
            _ => database(&self.origin, error),
        }
    }
}
