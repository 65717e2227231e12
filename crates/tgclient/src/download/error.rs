//! Why a download failed: one file (the others go on), or the whole run.

use std::path::PathBuf;
use std::time::Duration;

use super::ledger::LedgerError;
use super::object::ObjectError;
use super::part_file::FileError;
use crate::error::ClientError;

/// Why one file could not be had. The run goes on with the other files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileFailure {
    /// The message or its media is gone (deleted, or the reference cannot be renewed).
    #[error("the file is no longer available ({0})")]
    Gone(String),
    /// The account may not read this file.
    #[error("no access to the file ({0})")]
    NoAccess(String),
    /// Telegram refused the request for a reason the client cannot fix.
    #[error("Telegram refused the file request: {0}")]
    Refused(String),
    /// The server kept failing; the parts fetched so far are kept for the next run.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp {
        /// Attempts made for one part.
        attempts: u32,
        /// The last error.
        last: String,
    },
    /// A flood wait longer than the policy allows.
    #[error("Telegram asks to wait {0:?} before more requests for this file")]
    FloodWait(Duration),
    /// The server sent a different amount of data than the file's size announces.
    #[error("the server sent {got} bytes at offset {offset}, expected {expected}")]
    BadLength {
        /// Where.
        offset: u64,
        /// What the part should have held.
        expected: u64,
        /// What came.
        got: u64,
    },
    /// The downloaded bytes do not match the server's hashes; the `.part` was discarded.
    #[error("verification failed: {0}")]
    Verification(String),
    /// Object storage would not take this file (other content at its key, an upload the
    /// service dropped); the other files go on.
    #[error("object storage: {0}")]
    Storage(String),
}

/// Why the whole run stopped. What was saved stays saved: `.part` files and their
/// recorded ranges are resumed by the next run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// The disk is full: free space and run again to resume.
    #[error("disk full while writing {path}; free some space and run again to resume")]
    DiskFull {
        /// The file being written.
        path: PathBuf,
    },
    /// A file could not be created or written.
    #[error(transparent)]
    File(FileError),
    /// The download ledger could not be written.
    #[error("cannot record download progress: {0}")]
    Ledger(#[from] LedgerError),
    /// The client failed in a way that concerns every file (not logged in, no connection).
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Object storage refuses or cannot be reached (credentials, bucket, quota, network
    /// after retries): what was uploaded is recorded and the next run goes on from it.
    #[error(transparent)]
    Storage(ObjectError),
}

impl From<FileError> for DownloadError {
    fn from(error: FileError) -> Self {
        if error.is_disk_full() {
            DownloadError::DiskFull { path: error.path }
        } else {
            DownloadError::File(error)
        }
    }
}
