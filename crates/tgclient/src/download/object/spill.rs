//! The local buffer out-of-order parts spill to when memory is full: one file of 1 MiB
//! slots, at most `max_slots` of them, slots reused as parts leave. The file is unlinked
//! as soon as it is created, so nothing is left behind whatever ends the process.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use crate::download::PART_SIZE;

/// Where a spilled part sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    index: u64,
    len: usize,
}

/// A bounded spill file (created on first use).
#[derive(Debug)]
pub(crate) struct Spill {
    dir: PathBuf,
    file: Option<File>,
    max_slots: u64,
    /// Slots used so far (the file's length in slots).
    used: u64,
    free: Vec<u64>,
    /// Bytes in it now, and the most there ever were.
    held: u64,
    peak: u64,
}

impl Spill {
    pub(crate) fn new(dir: PathBuf, max_bytes: u64) -> Self {
        Self {
            dir,
            file: None,
            max_slots: max_bytes / u64::from(PART_SIZE),
            used: 0,
            free: Vec::new(),
            held: 0,
            peak: 0,
        }
    }

    /// The most bytes the buffer held at once.
    pub(crate) fn peak(&self) -> u64 {
        self.peak
    }

    /// Writes `bytes` (at most 1 MiB) to a free slot; `None` when the buffer is full.
    pub(crate) fn put(&mut self, bytes: &[u8]) -> io::Result<Option<Slot>> {
        let index = match self.free.pop() {
            Some(index) => index,
            None if self.used < self.max_slots => {
                self.used += 1;
                self.used - 1
            }
            None => return Ok(None),
        };
        let at = index * u64::from(PART_SIZE);
        if let Err(error) = self.file()?.write_all_at(bytes, at) {
            self.free.push(index);
            return Err(error);
        }
        self.held += bytes.len() as u64;
        self.peak = self.peak.max(self.held);
        Ok(Some(Slot {
            index,
            len: bytes.len(),
        }))
    }

    /// Reads a spilled part back and frees its slot.
    pub(crate) fn take(&mut self, slot: Slot) -> io::Result<Vec<u8>> {
        let mut bytes = vec![0; slot.len];
        self.file()?
            .read_exact_at(&mut bytes, slot.index * u64::from(PART_SIZE))?;
        self.free.push(slot.index);
        self.held -= slot.len as u64;
        Ok(bytes)
    }

    fn file(&mut self) -> io::Result<&File> {
        if self.file.is_none() {
            std::fs::create_dir_all(&self.dir)?;
            let path = self.dir.join(format!(
                "tgdl-spill-{}-{:016x}",
                std::process::id(),
                rand::random::<u64>()
            ));
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)?;
            // Unlinked at once: the open file is all that is needed, and nothing is left
            // behind if the process is killed.
            std::fs::remove_file(&path)?;
            self.file = Some(file);
        }
        self.file
            .as_ref()
            .ok_or_else(|| io::Error::other("spill file not open"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn slots_are_bounded_reused_and_the_file_leaves_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::new(dir.path().to_owned(), 2 * u64::from(PART_SIZE));
        let a = spill.put(&[1; 10]).unwrap().unwrap();
        let b = spill.put(&[2; 20]).unwrap().unwrap();
        assert_eq!(spill.put(&[3; 5]).unwrap(), None, "full at two slots");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "unlinked"
        );
        assert_eq!(spill.take(a).unwrap(), vec![1; 10]);
        let c = spill.put(&[3; 5]).unwrap().unwrap();
        assert_eq!(spill.take(b).unwrap(), vec![2; 20]);
        assert_eq!(spill.take(c).unwrap(), vec![3; 5]);
        assert_eq!(spill.peak(), 30);
    }
}
