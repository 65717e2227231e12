//! The file a download is written into: `<name>.part`, preallocated to the full size,
//! written with positioned writes, then synced and renamed into place once verified.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A download's `.part` file.
#[derive(Debug, Clone)]
pub(crate) struct PartFile {
    file: Arc<File>,
    part_path: PathBuf,
    final_path: PathBuf,
}

/// Why a file operation failed, with the path it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{action} {path}: {source}")]
pub struct FileError {
    pub action: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl FileError {
    fn new(action: &'static str, path: &Path, source: io::Error) -> Self {
        Self {
            action,
            path: path.to_owned(),
            source,
        }
    }

    /// Whether the disk (or quota) is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self.source.kind(),
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
        )
    }
}

/// `name.ext` -> `name.ext.part`: where a download stays until it is verified.
pub fn part_path(final_path: &Path) -> PathBuf {
    let mut name = final_path.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

impl PartFile {
    /// Opens the `.part` of `final_path` for a file of `size` bytes. With `keep`, an
    /// existing `.part` of that size is kept as is (its recorded ranges are resumed);
    /// otherwise it is created afresh and preallocated, so a full disk shows now rather
    /// than in the middle of the download.
    pub(crate) fn open(
        final_path: &Path,
        size: u64,
        keep: bool,
    ) -> Result<(Self, bool), FileError> {
        let part_path = part_path(final_path);
        if let Some(dir) = final_path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| FileError::new("cannot create", dir, e))?;
        }
        let existing = std::fs::metadata(&part_path).ok();
        let kept = keep && existing.is_some_and(|m| m.is_file() && m.len() == size);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(!kept)
            .open(&part_path)
            .map_err(|e| FileError::new("cannot create", &part_path, e))?;
        if !kept {
            preallocate(&file, size)
                .map_err(|e| FileError::new("cannot allocate", &part_path, e))?;
        }
        Ok((
            Self {
                file: Arc::new(file),
                part_path,
                final_path: final_path.to_owned(),
            },
            kept,
        ))
    }

    /// Whether the `.part` of `final_path` exists with the full size, so that ranges the
    /// ledger records for it can be resumed.
    pub(crate) fn reusable(final_path: &Path, size: u64) -> bool {
        std::fs::metadata(part_path(final_path)).is_ok_and(|m| m.is_file() && m.len() == size)
    }

    /// Where the verified file goes.
    pub(crate) fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// The open file (the ledger syncs it before recording ranges).
    pub(crate) fn handle(&self) -> &Arc<File> {
        &self.file
    }

    /// Writes `buffer[range]` at `offset`, off the async threads (the buffer moves there,
    /// so the bytes are not copied).
    pub(crate) async fn write_at(
        &self,
        offset: u64,
        buffer: Vec<u8>,
        range: Range<usize>,
    ) -> Result<(), FileError> {
        let file = Arc::clone(&self.file);
        let path = self.part_path.clone();
        tokio::task::spawn_blocking(move || {
            let bytes = buffer.get(range).unwrap_or_default();
            file.write_all_at(bytes, offset)
                .map_err(|e| FileError::new("cannot write", &path, e))
        })
        .await
        .unwrap_or_else(|join| {
            Err(FileError::new(
                "cannot write",
                &self.part_path,
                io::Error::other(join),
            ))
        })
    }

    /// Reads the whole file in order, handing each chunk to `visit` (verification).
    pub(crate) fn read_chunks(
        &self,
        chunk: usize,
        mut visit: impl FnMut(u64, &[u8]),
    ) -> Result<u64, FileError> {
        let mut buffer = vec![0u8; chunk];
        let mut offset = 0u64;
        let mut reader_at = ReadAt {
            file: &self.file,
            offset: 0,
        };
        loop {
            let filled = read_full(&mut reader_at, &mut buffer)
                .map_err(|e| FileError::new("cannot read back", &self.part_path, e))?;
            if filled == 0 {
                return Ok(offset);
            }
            visit(offset, buffer.get(..filled).unwrap_or_default());
            offset += filled as u64;
        }
    }

    /// Syncs the file and renames it to its final name, then syncs the directory so the
    /// rename itself survives a crash.
    pub(crate) fn finish(&self) -> Result<(), FileError> {
        self.file
            .sync_all()
            .map_err(|e| FileError::new("cannot sync", &self.part_path, e))?;
        std::fs::rename(&self.part_path, &self.final_path)
            .map_err(|e| FileError::new("cannot rename into place", &self.final_path, e))?;
        if let Some(dir) = self.final_path.parent()
            && let Ok(dir) = File::open(dir)
        {
            // Directories cannot be synced on every filesystem; the data is already safe.
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

/// Reserves `size` bytes for `file`: real allocation where the filesystem supports it, a
/// sparse length otherwise.
fn preallocate(file: &File, size: u64) -> io::Result<()> {
    if size == 0 {
        return file.set_len(0);
    }
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, size) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::NOSPC) => Err(io::Error::from(io::ErrorKind::StorageFull)),
        Err(rustix::io::Errno::DQUOT) => Err(io::Error::from(io::ErrorKind::QuotaExceeded)),
        // Not supported here (tmpfs variants, network filesystems): a sparse file.
        Err(_) => file.set_len(size),
    }
}

/// Positioned reads through [`Read`].
struct ReadAt<'a> {
    file: &'a File,
    offset: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}

/// Fills `buffer` unless the end comes first; the number of bytes read.
fn read_full(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buffer.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
