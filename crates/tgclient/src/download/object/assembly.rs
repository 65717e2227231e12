//! In-order assembly of a file's 1 MiB parts (which arrive out of order within a window)
//! into multipart parts of `part_size`, hashing the whole file as the bytes fall in place.
//! Parts that arrive ahead of their turn wait in memory while the run's hold budget has
//! room, then in the bounded spill file. At most two multipart parts of a file are in
//! memory: the one being built, and the one waiting for or under upload; while both are
//! full, bytes in order wait like the others. Pure apart from the spill file.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::sha::{ResumableSha256, SAVED_LEN};
use super::spill::{Slot, Spill};
use crate::download::fetch::PartBytes;

/// Bytes of out-of-order parts held in memory by all files of a run, with a cap (the rest
/// of the fetch budget stays free for the parts they wait for).
#[derive(Debug)]
pub(crate) struct HoldBudget {
    held: AtomicU64,
    cap: u64,
}

impl HoldBudget {
    pub(crate) fn new(cap: u64) -> Self {
        Self {
            held: AtomicU64::new(0),
            cap,
        }
    }

    fn try_take(&self, bytes: u64) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held + bytes <= self.cap).then_some(held + bytes)
            })
            .is_ok()
    }

    /// Takes `bytes` whatever the cap (the spill file full: rare, see `Assembly::accepts`).
    fn force_take(&self, bytes: u64) {
        self.held.fetch_add(bytes, Ordering::AcqRel);
    }

    fn give(&self, bytes: u64) {
        self.held.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Where an upload continues: the first byte not uploaded, the number of the part that
/// starts there, and the whole file's hash up to it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resume {
    pub(crate) at: u64,
    pub(crate) next_number: u32,
    pub(crate) whole: ResumableSha256,
}

/// A multipart part assembled and ready to go up.
#[derive(Debug)]
pub(crate) struct ReadyPart {
    pub(crate) number: u32,
    /// The file offset of its first byte.
    pub(crate) start: u64,
    pub(crate) bytes: Vec<u8>,
    /// The whole file's hash state after it (none for a last part off the block grid).
    pub(crate) hash_state: Option<[u8; SAVED_LEN]>,
}

/// A part that came ahead of its turn.
#[derive(Debug)]
enum Waiting {
    Memory(PartBytes),
    Spilled(Slot),
}

/// Limits of one file's assembly.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) size: u64,
    /// Bytes per multipart part (a multiple of 1 MiB); the file's size for a single PUT.
    pub(crate) part_size: u64,
    /// How far past the assembled bytes parts may be fetched.
    pub(crate) lookahead: u64,
}

/// One file's assembly.
#[derive(Debug)]
pub(crate) struct Assembly {
    shape: Shape,
    /// File offset of the next byte in order.
    appended: u64,
    /// Number of the part being built.
    number: u32,
    current: Vec<u8>,
    whole: ResumableSha256,
    ready: Option<ReadyPart>,
    uploading: bool,
    waiting: BTreeMap<u64, Waiting>,
    hold: Arc<HoldBudget>,
    /// Of the hold budget, what this file holds.
    held_here: u64,
    spill: Spill,
}

impl Assembly {
    pub(crate) fn new(shape: Shape, resume: Resume, hold: Arc<HoldBudget>, spill: Spill) -> Self {
        Self {
            shape,
            appended: resume.at,
            number: resume.next_number.max(1),
            current: Vec::new(),
            whole: resume.whole,
            ready: None,
            uploading: false,
            waiting: BTreeMap::new(),
            hold,
            held_here: 0,
            spill,
        }
    }

    /// Whether the part at `offset` may be fetched now (within the window).
    pub(crate) fn accepts(&self, offset: u64) -> bool {
        offset < self.appended.saturating_add(self.shape.lookahead)
    }

    /// Takes the checked part at `offset`. The offsets whose bytes no longer take memory
    /// of the fetch budget (in place, or spilled) are returned: their budget goes back.
    pub(crate) fn accept(&mut self, offset: u64, part: PartBytes) -> io::Result<Vec<u64>> {
        let mut released = vec![offset];
        if offset < self.appended || self.waiting.contains_key(&offset) {
            // Already had (a part fetched twice): nothing to keep.
            return Ok(released);
        }
        let len = part.len() as u64;
        if offset == self.appended && self.room() {
            self.append(bytes_of(&part));
        } else if self.hold.try_take(len) {
            self.held_here += len;
            self.waiting.insert(offset, Waiting::Memory(part));
            released.clear();
        } else if let Some(slot) = self.spill.put(bytes_of(&part))? {
            self.waiting.insert(offset, Waiting::Spilled(slot));
        } else {
            // The spill file is full (the window keeps this from happening unless the
            // window is larger than the file): memory, over the cap.
            self.hold.force_take(len);
            self.held_here += len;
            self.waiting.insert(offset, Waiting::Memory(part));
            released.clear();
        }
        released.extend(self.pump()?);
        Ok(released)
    }

    /// The next part to upload, if one is ready and none is under upload.
    pub(crate) fn take_ready(&mut self) -> Option<ReadyPart> {
        if self.uploading {
            return None;
        }
        let ready = self.ready.take()?;
        self.uploading = true;
        Some(ready)
    }

    /// The part taken last is up: assembly goes on. Offsets released, as `accept`.
    pub(crate) fn uploaded(&mut self) -> io::Result<Vec<u64>> {
        self.uploading = false;
        self.pump()
    }

    /// Every byte was assembled, and every part taken for upload.
    pub(crate) fn drained(&self) -> bool {
        self.appended == self.shape.size
            && self.current.is_empty()
            && self.ready.is_none()
            && !self.uploading
    }

    /// The whole file's SHA-256 (once every byte is assembled).
    pub(crate) fn sha256(&self) -> Option<[u8; 32]> {
        (self.appended == self.shape.size).then(|| self.whole.digest())
    }

    /// The most bytes the spill file held.
    pub(crate) fn spill_peak(&self) -> u64 {
        self.spill.peak()
    }

    fn room(&mut self) -> bool {
        self.seal();
        (self.current.len() as u64) < self.shape.part_size
    }

    fn append(&mut self, bytes: &[u8]) {
        self.whole.update(bytes);
        self.current.extend_from_slice(bytes);
        self.appended += bytes.len() as u64;
    }

    /// Appends what waits in order, while there is room.
    fn pump(&mut self) -> io::Result<Vec<u64>> {
        let mut released = Vec::new();
        while self.room() {
            let Some(entry) = self.waiting.first_entry() else {
                break;
            };
            if *entry.key() != self.appended {
                break;
            }
            let offset = *entry.key();
            match entry.remove() {
                Waiting::Memory(part) => {
                    let len = part.len() as u64;
                    self.append(bytes_of(&part));
                    self.hold.give(len);
                    self.held_here -= len;
                    released.push(offset);
                }
                Waiting::Spilled(slot) => {
                    let bytes = self.spill.take(slot)?;
                    self.append(&bytes);
                }
            }
        }
        self.seal();
        Ok(released)
    }

    /// Moves a full part (or the file's last) into the upload slot, when it is free.
    fn seal(&mut self) {
        let full = self.current.len() as u64 >= self.shape.part_size
            || (self.appended == self.shape.size && !self.current.is_empty());
        if !full || self.ready.is_some() || self.uploading {
            return;
        }
        let bytes = std::mem::take(&mut self.current);
        let start = self.appended - bytes.len() as u64;
        self.ready = Some(ReadyPart {
            number: self.number,
            start,
            bytes,
            hash_state: self.whole.save(),
        });
        self.number += 1;
    }
}

impl Drop for Assembly {
    fn drop(&mut self) {
        self.hold.give(self.held_here);
    }
}

fn bytes_of(part: &PartBytes) -> &[u8] {
    part.body.get(part.bytes.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use sha2::{Digest, Sha256};

    use super::*;

    const MIB: u64 = 1 << 20;

    fn file(size: u64) -> Vec<u8> {
        (0..size).map(|i| (i * 31 % 253) as u8).collect()
    }

    fn part(data: &[u8], offset: u64) -> PartBytes {
        let end = (offset + MIB).min(data.len() as u64);
        // Framed like an answer: the file bytes sit inside a larger body.
        let mut body = vec![9; 3];
        body.extend_from_slice(&data[offset as usize..end as usize]);
        body.push(9);
        PartBytes {
            bytes: 3..body.len() - 1,
            body,
        }
    }

    struct Run {
        assembly: Assembly,
        hold: Arc<HoldBudget>,
        uploaded: Vec<ReadyPart>,
        _dir: tempfile::TempDir,
    }

    fn run(size: u64, part_size: u64, hold_cap: u64, spill: u64, resume: Resume) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let hold = Arc::new(HoldBudget::new(hold_cap));
        let shape = Shape {
            size,
            part_size,
            lookahead: 64 * MIB,
        };
        let spill = Spill::new(dir.path().to_owned(), spill);
        Run {
            assembly: Assembly::new(shape, resume, Arc::clone(&hold), spill),
            hold,
            uploaded: Vec::new(),
            _dir: dir,
        }
    }

    impl Run {
        /// Uploads whatever is ready (each upload finishing at once).
        fn upload_all(&mut self) {
            while let Some(ready) = self.assembly.take_ready() {
                self.uploaded.push(ready);
                self.assembly.uploaded().unwrap();
            }
        }
    }

    #[test]
    fn parts_in_any_order_assemble_into_whole_parts_in_order() {
        let size = 20 * MIB + 12_345;
        let data = file(size);
        let mut run = run(size, 8 * MIB, 4 * MIB, 32 * MIB, Resume::default());
        // Every third part first, then the others backwards.
        let mut order: Vec<u64> = (0..21).filter(|i| i % 3 == 1).collect();
        order.extend((0..21).filter(|i| i % 3 != 1).rev());
        for i in order {
            run.assembly.accept(i * MIB, part(&data, i * MIB)).unwrap();
            run.upload_all();
        }
        assert!(run.assembly.drained());
        let numbers: Vec<u32> = run.uploaded.iter().map(|p| p.number).collect();
        assert_eq!(numbers, vec![1, 2, 3]);
        let sizes: Vec<usize> = run.uploaded.iter().map(|p| p.bytes.len()).collect();
        assert_eq!(sizes, vec![8 << 20, 8 << 20, (4 << 20) + 12_345]);
        let joined: Vec<u8> = run.uploaded.iter().flat_map(|p| p.bytes.clone()).collect();
        assert_eq!(joined, data);
        assert_eq!(
            run.assembly.sha256().unwrap(),
            <[u8; 32]>::from(Sha256::digest(&data))
        );
        // Held memory never passed the cap; the rest went to the spill file and came back.
        assert!(run.assembly.spill_peak() > 0);
        assert_eq!(run.hold.held.load(Ordering::Acquire), 0);
    }

    #[test]
    fn memory_beyond_the_cap_spills_and_budget_is_released_for_spilled_parts() {
        let size = 6 * MIB;
        let data = file(size);
        let mut run = run(size, 8 * MIB, 2 * MIB, 2 * MIB, Resume::default());
        // Parts 5, 4 wait in memory (the cap), 3 and 2 spill (the spill's two slots),
        // 1 is kept in memory over the cap (the spill is full): its budget stays taken.
        let kept: Vec<Vec<u64>> = (1..6)
            .rev()
            .map(|i| run.assembly.accept(i * MIB, part(&data, i * MIB)).unwrap())
            .collect();
        assert_eq!(
            kept,
            vec![vec![], vec![], vec![3 * MIB], vec![2 * MIB], vec![]]
        );
        assert_eq!(run.hold.held.load(Ordering::Acquire), 3 * MIB);
        assert_eq!(run.assembly.spill_peak(), 2 * MIB);
        // Part 0 lets everything fall in place: the memory ones are released.
        let mut released = run.assembly.accept(0, part(&data, 0)).unwrap();
        released.sort_unstable();
        assert_eq!(released, vec![0, MIB, 4 * MIB, 5 * MIB]);
        assert_eq!(run.hold.held.load(Ordering::Acquire), 0);
        run.upload_all();
        assert_eq!(run.uploaded.len(), 1);
        assert_eq!(run.uploaded[0].bytes, data);
    }

    #[test]
    fn a_full_part_waits_for_the_upload_before_the_next_is_built() {
        let size = 24 * MIB;
        let data = file(size);
        let mut run = run(size, 8 * MIB, 64 * MIB, 0, Resume::default());
        for i in 0..24 {
            run.assembly.accept(i * MIB, part(&data, i * MIB)).unwrap();
        }
        // Part 1 is ready, part 2 built; part 3's bytes wait (in memory, counted).
        assert_eq!(run.hold.held.load(Ordering::Acquire), 8 * MIB);
        assert!(run.assembly.accepts(24 * MIB) && !run.assembly.accepts(80 * MIB));
        let first = run.assembly.take_ready().unwrap();
        assert!(run.assembly.take_ready().is_none(), "one upload at a time");
        let released = run.assembly.uploaded().unwrap();
        assert_eq!(released.len(), 8);
        run.uploaded.push(first);
        run.upload_all();
        assert!(run.assembly.drained());
        let joined: Vec<u8> = run.uploaded.iter().flat_map(|p| p.bytes.clone()).collect();
        assert_eq!(joined, data);
    }

    #[test]
    fn a_resumed_assembly_continues_the_hash_and_the_numbering() {
        let size = 10 * MIB + 7;
        let data = file(size);
        let mut whole = ResumableSha256::default();
        whole.update(&data[..(5 * MIB) as usize]);
        let saved = whole.save().unwrap();
        let resume = Resume {
            at: 5 * MIB,
            next_number: 2,
            whole: ResumableSha256::restore(&saved).unwrap(),
        };
        let mut run = run(size, 5 * MIB, 64 * MIB, 0, resume);
        assert!(!run.assembly.accepts(70 * MIB));
        for i in 5..11 {
            run.assembly.accept(i * MIB, part(&data, i * MIB)).unwrap();
            run.upload_all();
        }
        let numbers: Vec<u32> = run.uploaded.iter().map(|p| p.number).collect();
        assert_eq!(numbers, vec![2, 3]);
        assert_eq!(run.uploaded[0].start, 5 * MIB);
        assert!(run.uploaded[0].hash_state.is_some());
        assert_eq!(
            run.assembly.sha256().unwrap(),
            <[u8; 32]>::from(Sha256::digest(&data))
        );
    }
}
