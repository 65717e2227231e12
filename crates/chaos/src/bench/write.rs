//! The write floor: what putting the downloaded bytes on the output filesystem costs the
//! client, measured on the filesystem the files went to, the way the engine writes them: a
//! preallocated `.part` file per file, positioned writes of 1 MiB parts, a sync, then the
//! file read back once for its SHA-256 (the hashing itself is counted with the checks, so
//! only the reads are timed here). On Linux the system CPU of this is about as large as the
//! crypto, so without it "CPU per GiB against the floor" mixes the engine's cost with the
//! kernel's.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

use super::floor::{BUFFER, per_gib};
use super::usage::thread_cpu;

/// What the write measurement found.
#[derive(Debug, Clone, Copy)]
pub struct WriteFloor {
    /// Bytes written and read back.
    pub bytes: u64,
    /// CPU time (user + system) of the measuring thread.
    pub cpu: Duration,
}

impl WriteFloor {
    /// CPU seconds per GiB.
    pub fn seconds_per_gib(&self) -> f64 {
        per_gib(self.cpu, self.bytes)
    }
}

/// Writes `files` files of `size` bytes into `dir` as the engine does, reads them back,
/// deletes them; blocks. The CPU is the calling thread's (the kernel's work for its
/// writes and reads included), from the first write to the last read.
pub fn measure(dir: &Path, files: usize, size: u64) -> Result<WriteFloor> {
    let buffer: Vec<u8> = (0..BUFFER).map(|i| (i * 197 + 29) as u8).collect();
    let mut read_buffer = vec![0u8; BUFFER];
    let mut cpu = Duration::ZERO;
    let mut bytes = 0;
    for index in 0..files {
        let path = dir.join(format!("write-floor-{index}.part"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let start = thread_cpu();
        let result = write_and_read(&file, size, &buffer, &mut read_buffer);
        cpu += thread_cpu().saturating_sub(start);
        drop(file);
        let _ = std::fs::remove_file(&path);
        bytes += result.with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(WriteFloor { bytes, cpu })
}

/// Preallocates, writes `size` bytes in parts, syncs, reads them back; the bytes written.
fn write_and_read(file: &File, size: u64, buffer: &[u8], read_buffer: &mut [u8]) -> Result<u64> {
    // Where the filesystem cannot preallocate, the engine makes a sparse file instead.
    if size > 0
        && rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, size).is_err()
    {
        file.set_len(size).context("cannot allocate")?;
    }
    let mut offset = 0;
    while offset < size {
        let length = usize::try_from((size - offset).min(BUFFER as u64)).unwrap_or(BUFFER);
        let part = buffer.get(..length).unwrap_or(buffer);
        file.write_all_at(part, offset).context("cannot write")?;
        offset += part.len() as u64;
    }
    file.sync_all().context("cannot sync")?;
    let mut read = 0;
    while read < size {
        let n = file
            .read_at(read_buffer, read)
            .context("cannot read back")?;
        if n == 0 {
            break;
        }
        read += n as u64;
    }
    std::hint::black_box(&read_buffer);
    Ok(offset)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn files_are_written_read_back_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let floor = measure(dir.path(), 2, 3 * BUFFER as u64 + 5).unwrap();
        assert_eq!(floor.bytes, 2 * (3 * BUFFER as u64 + 5));
        assert!(floor.cpu > Duration::ZERO);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
