//! The watcher: polls the output directory throughout a round and records every file that
//! shows up at a final (non-`.part`) name: its size the moment it was first seen and its
//! SHA-256 right after. A download is only done when verified, so a file must never appear
//! at its final name with the wrong size or bytes, not even for a moment.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// How often the directory is listed.
const POLL: Duration = Duration::from_millis(25);

/// What the watcher saw of one final-name file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    /// Its size when first seen.
    pub size: u64,
    /// Its SHA-256 right after (`None` if it could not be read: it vanished).
    pub sha256: Option<[u8; 32]>,
}

/// The watcher thread.
#[derive(Debug)]
pub struct Watcher {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<BTreeMap<PathBuf, Sighting>>,
}

impl Watcher {
    /// Starts watching `root` (which need not exist yet).
    pub fn start(root: PathBuf) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut seen = BTreeMap::new();
            loop {
                // One last look after the stop, so nothing that appeared is missed.
                let last = flag.load(Ordering::Relaxed);
                poll(&root, &mut seen);
                if last {
                    return seen;
                }
                std::thread::sleep(POLL);
            }
        });
        Self { stop, thread }
    }

    /// Stops and returns every final-name file seen, by path relative to the root.
    pub fn stop(self) -> BTreeMap<PathBuf, Sighting> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

fn poll(root: &Path, seen: &mut BTreeMap<PathBuf, Sighting>) {
    // First the sizes of everything new (cheap, so "at appearance" is close), then hashes.
    let mut fresh = Vec::new();
    for (path, size) in final_files(root) {
        if let std::collections::btree_map::Entry::Vacant(slot) = seen.entry(path.clone()) {
            slot.insert(Sighting { size, sha256: None });
            fresh.push(path);
        }
    }
    for path in fresh {
        let hash = sha256_of(&root.join(&path)).ok();
        if let Some(sighting) = seen.get_mut(&path) {
            sighting.sha256 = hash;
        }
    }
}

/// Every regular file under `root` that is not a `.part` file, with its size, by relative
/// path.
pub fn final_files(root: &Path) -> Vec<(PathBuf, u64)> {
    all_files(root)
        .into_iter()
        .filter(|(path, _)| !is_part(path))
        .collect()
}

/// Every regular file under `root`, with its size, by relative path.
pub fn all_files(root: &Path) -> Vec<(PathBuf, u64)> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file()
                && let Ok(relative) = path.strip_prefix(root)
            {
                found.push((relative.to_owned(), meta.len()));
            }
        }
    }
    found.sort();
    found
}

pub fn is_part(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "part")
}

/// The SHA-256 of a file, streamed.
pub fn sha256_of(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn sees_a_file_written_in_place_as_it_first_appeared() {
        let dir = std::env::temp_dir().join(format!("tgdl-chaos-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("c")).unwrap();
        let watcher = Watcher::start(dir.clone());
        // Written in place (no rename): the watcher must catch it short.
        let target = dir.join("c/bad.bin");
        std::fs::write(&target, b"x").unwrap();
        std::thread::sleep(Duration::from_millis(150));
        std::fs::write(&target, vec![7u8; 4096]).unwrap();
        // Written as .part then renamed: seen whole.
        std::fs::write(dir.join("c/good.bin.part"), b"abc").unwrap();
        std::fs::rename(dir.join("c/good.bin.part"), dir.join("c/good.bin")).unwrap();
        let seen = watcher.stop();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[Path::new("c/bad.bin")].size, 1);
        let good = &seen[Path::new("c/good.bin")];
        assert_eq!(good.size, 3);
        assert_eq!(good.sha256, Some(Sha256::digest(b"abc").into()));
    }
}
