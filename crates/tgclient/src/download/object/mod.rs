//! Downloads written straight to object storage (S3 and what `objstore` offers). The
//! 1 MiB parts are assembled in order into multipart parts (`assembly`), each uploaded
//! with its SHA-256 and recorded in the session store with the whole file's hash state
//! after it (`file`), so a rerun continues the same upload at the first missing part.
//! The upload goes to a staging key; only once the whole file's SHA-256 is known and the
//! service's parts are checked against what was sent is it completed and published under
//! its final key with its SHA-256. Files smaller than one part go up in one PUT, after
//! the same checks.

mod assembly;
mod file;
mod memory;
mod sha;
mod spill;
mod target;

use std::path::PathBuf;
use std::sync::Arc;

pub(crate) use assembly::HoldBudget;
pub(crate) use file::{ObjectFile, Opened, PartUploaded, open, upload_gone, upload_part};
pub use memory::MemoryTarget;
pub use target::{
    ObjectError, ObjectErrorKind, ObjectFuture, ObjectInfo, ObjectTarget, PartReceipt,
};

use super::PART_SIZE;

/// Where a download's verified files go.
#[derive(Debug, Clone, Default)]
pub enum Output {
    /// The local filesystem: each job's `path`, through `<path>.part`.
    #[default]
    Directory,
    /// Object storage: each job's `path` is its key under the target's prefix.
    Objects(ObjectOutput),
}

/// Object storage as the output, and how files are assembled for it.
#[derive(Debug, Clone)]
pub struct ObjectOutput {
    pub target: Arc<dyn ObjectTarget>,
    /// Bytes per multipart part: rounded up to whole MiB and to the target's minimum.
    /// Files smaller than one part go up in one PUT.
    pub part_size: u64,
    /// Memory for assembling parts, across the run: a multipart file takes two parts of
    /// it (the one being built, the one under upload), a smaller file its size. Files
    /// wait for it before they start (one file always runs, whatever its need).
    pub assembly_memory: u64,
    /// How far past its assembled bytes a file's parts are fetched. Parts that came ahead
    /// of their turn wait in memory (within half the fetch budget, across the run), then
    /// in a spill file that never holds more than this.
    pub lookahead: u64,
    /// Where the spill file is made (unlinked at once; nothing stays there).
    pub spill_dir: PathBuf,
    /// How a storage call that fails for now (network, a restarting service) is tried
    /// again.
    pub retry: objstore::Retry,
}

impl ObjectOutput {
    /// `target` with the defaults: 8 MiB parts, 32 MiB of assembly memory, 64 MiB of
    /// lookahead, the spill file in the temporary directory, 8 tries 0.5 s apart and more.
    pub fn new(target: Arc<dyn ObjectTarget>) -> Self {
        Self {
            target,
            part_size: 8 << 20,
            assembly_memory: 32 << 20,
            lookahead: 64 << 20,
            spill_dir: std::env::temp_dir(),
            retry: objstore::Retry::default(),
        }
    }

    /// The part size in force: whole MiB (so every part but the last ends on a SHA-256
    /// block and a Telegram part boundary), at least the target's minimum.
    pub(crate) fn effective_part_size(&self) -> u64 {
        let unit = u64::from(PART_SIZE);
        self.part_size
            .max(self.target.min_part_size())
            .max(unit)
            .div_ceil(unit)
            .saturating_mul(unit)
    }
}

/// What the files of one run going to object storage share.
#[derive(Debug)]
pub(crate) struct ObjectRun {
    pub(crate) output: ObjectOutput,
    pub(crate) hold: Arc<HoldBudget>,
}

/// The key of `path` under the target's prefix (`/`-separated, no leading `/`).
pub(crate) fn object_key(path: &std::path::Path) -> String {
    let parts: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    parts.join("/")
}
