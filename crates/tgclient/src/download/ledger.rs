//! The durable record of each download: which file it is, which byte ranges are on disk,
//! and, once verified, its SHA-256. Kept in the session store's `downloads` table, written
//! in batches: the `.part` files are synced first, then the batch is committed, so a range
//! the ledger calls done is on disk whatever happens to the process or the machine.

use std::collections::HashMap;
use std::fs::File;
use std::sync::{Arc, Mutex, PoisonError};

use super::ranges::RangeSet;
use crate::Client;
use crate::media::MediaId;
use crate::store::StoreError;

/// Format version of [`FileState`]'s encoding.
const VERSION: u8 = 1;

/// What the ledger knows about one download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    /// The stored object; a different object at the same key restarts the download.
    pub media: MediaId,
    pub size: u64,
    /// Ranges written to the `.part` file and synced.
    pub done: RangeSet,
    /// Set once the file is verified and at its final name.
    pub sha256: Option<[u8; 32]>,
}

impl FileState {
    /// A download not yet started.
    pub fn new(media: MediaId, size: u64) -> Self {
        Self {
            media,
            size,
            done: RangeSet::new(),
            sha256: None,
        }
    }

    /// The encoding stored in the session.
    pub fn to_bytes(&self) -> Vec<u8> {
        let thumb = self.media.thumb.as_bytes();
        let mut out = Vec::with_capacity(64 + thumb.len() + self.done.ranges().len() * 16);
        out.push(VERSION);
        out.extend_from_slice(&self.media.id.to_le_bytes());
        out.push(u8::try_from(thumb.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(thumb.get(..usize::from(u8::MAX)).unwrap_or(thumb));
        out.extend_from_slice(&self.size.to_le_bytes());
        match &self.sha256 {
            Some(hash) => {
                out.push(1);
                out.extend_from_slice(hash);
            }
            None => out.push(0),
        }
        out.extend_from_slice(&self.done.to_bytes());
        out
    }

    /// Decodes [`FileState::to_bytes`]; `None` for anything else (the download restarts).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (&version, rest) = bytes.split_first()?;
        if version != VERSION {
            return None;
        }
        let (id, rest) = rest.split_first_chunk::<8>()?;
        let (&thumb_len, rest) = rest.split_first()?;
        let (thumb, rest) = rest.split_at_checked(usize::from(thumb_len))?;
        let (size, rest) = rest.split_first_chunk::<8>()?;
        let (&has_hash, rest) = rest.split_first()?;
        let (sha256, rest) = match has_hash {
            0 => (None, rest),
            1 => {
                let (hash, rest) = rest.split_first_chunk::<32>()?;
                (Some(*hash), rest)
            }
            _ => return None,
        };
        let size = u64::from_le_bytes(*size);
        let done = RangeSet::from_bytes(rest)?;
        if done.ranges().last().is_some_and(|r| r.end > size) {
            return None;
        }
        Some(Self {
            media: MediaId {
                id: i64::from_le_bytes(*id),
                thumb: String::from_utf8(thumb.to_vec()).ok()?,
            },
            size,
            done,
            sha256,
        })
    }
}

/// Batches ledger updates and commits them after syncing the files they describe.
#[derive(Debug, Clone)]
pub(crate) struct Ledger {
    client: Client,
    pending: Arc<Mutex<Pending>>,
    /// Held while a batch is taken and written, and while a single state is written: a
    /// batch taken before a file completed must not land on top of its final state.
    writing: Arc<Mutex<()>>,
}

#[derive(Debug, Default)]
struct Pending {
    states: HashMap<String, Vec<u8>>,
    /// Files written since the last commit, synced before it.
    files: HashMap<String, Arc<File>>,
}

impl Ledger {
    pub(crate) fn new(client: Client) -> Self {
        Self {
            client,
            pending: Arc::default(),
            writing: Arc::default(),
        }
    }

    /// The saved state under `key`, if it decodes.
    pub(crate) fn load(&self, key: &str) -> Result<Option<FileState>, StoreError> {
        Ok(self
            .client
            .with_store(|s| s.download_state(key))?
            .and_then(|bytes| FileState::from_bytes(&bytes)))
    }

    /// Queues `state` for the next commit; `file` (the `.part` being written) is synced
    /// before that commit.
    pub(crate) fn stage(&self, key: &str, state: &FileState, file: Option<&Arc<File>>) {
        let mut pending = lock(&self.pending);
        pending.states.insert(key.to_owned(), state.to_bytes());
        if let Some(file) = file {
            pending.files.insert(key.to_owned(), Arc::clone(file));
        }
    }

    /// Syncs the staged files and commits the staged states in one transaction.
    pub(crate) async fn commit(&self) -> Result<(), LedgerError> {
        let (client, pending, writing) = (
            self.client.clone(),
            Arc::clone(&self.pending),
            Arc::clone(&self.writing),
        );
        let result = tokio::task::spawn_blocking(move || {
            let _turn = lock(&writing);
            let (states, files) = {
                let mut pending = lock(&pending);
                (
                    std::mem::take(&mut pending.states),
                    std::mem::take(&mut pending.files),
                )
            };
            if states.is_empty() {
                return Ok(());
            }
            for file in files.values() {
                file.sync_data().map_err(LedgerError::Sync)?;
            }
            let entries: Vec<(String, Vec<u8>)> = states.into_iter().collect();
            client
                .with_store(|s| s.set_download_states(&entries))
                .map_err(LedgerError::Store)
        })
        .await;
        result.unwrap_or_else(|join| Err(LedgerError::Sync(std::io::Error::other(join))))
    }

    /// Saves `state` at once (completion, restart), after any batch being written.
    pub(crate) async fn save_now(&self, key: &str, state: &FileState) -> Result<(), LedgerError> {
        let (client, pending, writing) = (
            self.client.clone(),
            Arc::clone(&self.pending),
            Arc::clone(&self.writing),
        );
        let (key, bytes) = (key.to_owned(), state.to_bytes());
        tokio::task::spawn_blocking(move || {
            let _turn = lock(&writing);
            lock(&pending).states.remove(&key);
            client
                .with_store(|s| s.set_download_state(&key, &bytes))
                .map_err(LedgerError::Store)
        })
        .await
        .unwrap_or_else(|join| Err(LedgerError::Sync(std::io::Error::other(join))))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why the ledger could not be written.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot sync a .part file to disk: {0}")]
    Sync(std::io::Error),
    #[error(transparent)]
    Store(StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_rejects_damage() {
        let mut state = FileState::new(
            MediaId {
                id: -42,
                thumb: "y".into(),
            },
            5 << 30,
        );
        state.done.insert(0..1 << 20);
        state.done.insert(3 << 20..4 << 20);
        let bytes = state.to_bytes();
        assert_eq!(FileState::from_bytes(&bytes), Some(state.clone()));
        state.sha256 = Some([7; 32]);
        let bytes = state.to_bytes();
        assert_eq!(FileState::from_bytes(&bytes), Some(state));
        for cut in 0..bytes.len() {
            let prefix = bytes.get(..cut).unwrap();
            if let Some(decoded) = FileState::from_bytes(prefix) {
                // A cut at a range boundary is still a valid (smaller) state.
                assert!(decoded.done.covered() < 2 << 20);
            }
        }
        assert_eq!(FileState::from_bytes(&[2]), None);
    }
}
