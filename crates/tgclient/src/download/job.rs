//! What a download is asked to do and what it reports: the jobs, the options, the
//! events and the outcomes.

use std::path::PathBuf;
use std::time::Duration;

use tl_types::api::enums;

use super::error::FileFailure;
use crate::media::MediaFile;

/// How hard to push.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// The budget of requests in flight across all files, in 1 MiB parts: memory holds
    /// about this many MiB of answers. A part of a small file takes only its size from it,
    /// so small files run as many at once as the budget allows.
    pub parts_in_flight: usize,
    /// At most this many files at once (`None`: as many as the budget allows).
    pub parallel_files: Option<usize>,
    /// Connections per DC for file parts.
    pub connections_per_dc: usize,
    /// Attempts per part before the file is given up (its parts so far are kept).
    pub max_attempts: u32,
    /// Check finished files against `upload.getFileHashes`.
    pub verify_server_hashes: bool,
    /// How often finished ranges are committed to the ledger.
    pub commit_interval: Duration,
    /// Accept CDN redirects (parts then come from the CDN DC, checked against the hashes
    /// the file's DC gives).
    pub cdn: bool,
    /// A clean stop when raised: no new part starts, what is on disk is recorded, the
    /// unfinished files are `NotRun` (resumed by the next run).
    pub stop: Option<super::StopSignal>,
    /// Where verified files go: the local directory (each job's `path`) or object
    /// storage (each job's `path` is its key under the target's prefix).
    pub output: super::object::Output,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            parts_in_flight: 16,
            parallel_files: None,
            connections_per_dc: 8,
            max_attempts: 10,
            verify_server_hashes: true,
            commit_interval: Duration::from_millis(250),
            cdn: true,
            stop: None,
            output: super::object::Output::Directory,
        }
    }
}

/// Where a file came from, so an expired file reference can be renewed.
#[derive(Debug, Clone)]
pub struct MessageSource {
    pub peer: enums::InputPeer,
    pub msg_id: i32,
}

/// One file to download.
#[derive(Debug, Clone)]
pub struct DownloadJob {
    /// The ledger key (the same key on the next run resumes this download).
    pub key: String,
    pub media: MediaFile,
    /// Where the verified file goes; `<path>.part` holds it meanwhile. For object
    /// storage, its key under the target's prefix (relative, `/`-separated).
    pub path: PathBuf,
    pub source: Option<MessageSource>,
}

impl DownloadJob {
    /// The file `media` of message `msg_id` in `peer`, going to `path`, which also keys it
    /// in the ledger (the same path on the next run resumes it).
    pub fn from_message(
        media: MediaFile,
        path: PathBuf,
        peer: enums::InputPeer,
        msg_id: i32,
    ) -> Self {
        Self {
            key: path.display().to_string(),
            media,
            path,
            source: Some(MessageSource { peer, msg_id }),
        }
    }
}

/// What happened to a job.
#[derive(Debug)]
pub enum FileOutcome {
    /// Downloaded (or completed from an earlier run) and verified.
    Done {
        sha256: [u8; 32],
        /// Bytes fetched on this run (less than the size when resumed).
        fetched: u64,
        /// Whether the server's hashes were checked too (not only the size).
        server_hashes: ServerHashes,
    },
    /// Already downloaded and verified by an earlier run.
    AlreadyDone { sha256: [u8; 32] },
    /// Could not be had; the others went on.
    Failed(FileFailure),
    /// Not attempted: the run stopped first.
    NotRun,
}

/// Whether a finished file's parts were checked against the server's hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerHashes {
    /// Every part was (for CDN files always: their bytes are not MTProto-authenticated).
    Checked,
    /// The server refused or could not give them after a few tries; the file (from its own
    /// DC, whose bytes MTProto's msg_key authenticates) was finished on its size alone.
    Unavailable,
    /// Turned off by the caller (`verify_server_hashes: false`).
    Off,
}

impl ServerHashes {
    /// As the manifest writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerHashes::Checked => "checked",
            ServerHashes::Unavailable => "unavailable",
            ServerHashes::Off => "off",
        }
    }
}

/// Progress, as it happens.
#[derive(Debug, Clone)]
pub enum DownloadEvent {
    /// A job started; `resumed` bytes were already on disk.
    Started {
        index: usize,
        size: u64,
        resumed: u64,
    },
    /// `bytes` more bytes of job `index` are on disk.
    Progress { index: usize, bytes: u64 },
    /// Job `index` ended (see the outcome returned by [`download`](super::download)).
    Finished { index: usize, ok: bool },
}
