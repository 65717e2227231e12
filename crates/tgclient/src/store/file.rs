//! Creating session files readable by their owner only, and checking existing ones.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// The first 16 bytes of every SQLite 3 database.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Opens (creating if needed) `path` with `options`; a file it creates has mode 0600.
pub(crate) fn open_private(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    options.create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Creates an empty session file with mode 0600 if none exists. Returns whether it made one.
pub(crate) fn create_if_missing(path: &Path) -> io::Result<bool> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error),
    }
}

/// What the first bytes of an existing file say.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Header {
    /// Zero bytes: a file we (or someone) created and never wrote. Safe to initialize.
    Empty,
    /// An SQLite database.
    Sqlite,
    /// Anything else.
    Other,
}

/// Reads the header of `path` (which must exist).
pub(crate) fn header(path: &Path) -> io::Result<Header> {
    let mut file = File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is a directory, not a session file",
        ));
    }
    let mut head = [0u8; 16];
    let mut filled = 0;
    while filled < head.len() {
        let Some(rest) = head.get_mut(filled..) else {
            break;
        };
        match file.read(rest)? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(match filled {
        0 => Header::Empty,
        16 if &head == SQLITE_MAGIC => Header::Sqlite,
        _ => Header::Other,
    })
}

/// Whether `path` can be read by its group or by others (Unix permission bits).
pub(crate) fn is_exposed(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}
