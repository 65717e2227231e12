//! One process per session: an advisory lock on a sidecar `<session>.lock` file.
//!
//! `flock`-style locks (what [`std::fs::File::try_lock`] takes on Unix; `LockFileEx` on
//! Windows) belong to the open file and vanish when the process exits or crashes, so a stale
//! lock file never blocks anyone: its existence means nothing, only the lock does. The lock
//! lives on a separate file rather than on the database so that it does not interfere with
//! SQLite's own byte-range locks, and it is taken before SQLite opens the database, so a
//! second process never touches the database at all.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::StoreError;

/// The held lock; released when dropped.
#[derive(Debug)]
pub(crate) struct SessionLock {
    _file: File,
}

/// The lock file of the session at `path`.
pub(crate) fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl SessionLock {
    /// Takes the lock of the session at `path`, or fails at once with
    /// [`StoreError::InUse`].
    pub(crate) fn acquire(path: &Path) -> Result<Self, StoreError> {
        let lock = lock_path(path);
        let file = super::file::open_private(&lock, OpenOptions::new().read(true).write(true))
            .map_err(|source| StoreError::Io {
                path: lock.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => Err(StoreError::InUse {
                path: path.to_path_buf(),
            }),
            Err(TryLockError::Error(source)) => Err(StoreError::Io { path: lock, source }),
        }
    }
}
