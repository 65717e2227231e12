//! The run's manifest: one JSON line per file — which message, where it went, its size,
//! its SHA-256 and what happened — written as each file ends, so a killed run still
//! leaves a record of what it finished. With object storage as the output it lives in the
//! bucket beside the files (`PREFIX/.tgdl/manifests/<run>.jsonl`), rewritten whole at each
//! checkpoint (an object cannot be appended to), so a killed run leaves the last one.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use objstore::Target;
use serde::Serialize;

/// One file's line.
#[derive(Debug, Serialize)]
pub struct ManifestEntry<'a> {
    pub chat_id: i64,
    pub msg_id: i32,
    pub path: &'a str,
    pub size: u64,
    /// Hex; absent when the file was not had.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// `downloaded`, `already_downloaded`, `failed`, `not_run`, or `leased_elsewhere`
    /// (another process archiving into the same bucket has it; `error` says who).
    pub status: &'static str,
    /// For a file downloaded now: `checked` (every part against the server's hashes),
    /// `unavailable` (the server could not give them; finished on MTProto's own integrity)
    /// or `off` (`--no-server-hashes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_hashes: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where a run's manifest goes.
#[derive(Debug, Clone)]
pub enum ManifestPlace {
    /// A local file, appended to.
    File(PathBuf),
    /// An object under the output's prefix (and a local copy when `--manifest` names one).
    Object {
        target: Target,
        /// Relative to the target's prefix.
        key: String,
        copy: Option<PathBuf>,
    },
}

impl std::fmt::Display for ManifestPlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Object { target, key, copy } => {
                let url = target.url().to_string();
                write!(f, "{}/{key}", url.trim_end_matches('/'))?;
                match copy {
                    Some(path) => write!(f, " (and {})", path.display()),
                    None => Ok(()),
                }
            }
        }
    }
}

/// An open manifest.
#[derive(Debug)]
pub struct Manifest {
    file: Option<(PathBuf, BufWriter<File>)>,
    object: Option<Pending>,
}

/// The manifest object and its lines so far.
#[derive(Debug)]
struct Pending {
    target: Target,
    key: String,
    lines: Vec<u8>,
    /// Lines recorded since the last checkpoint.
    dirty: bool,
}

impl Manifest {
    /// Creates the manifest at `path` (appending if it exists).
    pub fn create(path: &Path) -> Result<Self> {
        Ok(Self {
            file: Some(open_file(path)?),
            object: None,
        })
    }

    /// Opens the manifest `place` names.
    pub fn open(place: &ManifestPlace) -> Result<Self> {
        match place {
            ManifestPlace::File(path) => Self::create(path),
            ManifestPlace::Object { target, key, copy } => Ok(Self {
                file: copy.as_deref().map(open_file).transpose()?,
                object: Some(Pending {
                    target: target.clone(),
                    key: key.clone(),
                    lines: Vec::new(),
                    dirty: false,
                }),
            }),
        }
    }

    /// Appends `entry` and flushes it (to the object at the next checkpoint).
    pub fn record(&mut self, entry: &ManifestEntry<'_>) -> Result<()> {
        let mut line = serde_json::to_vec(entry)?;
        line.push(b'\n');
        if let Some(object) = &mut self.object {
            object.lines.extend_from_slice(&line);
            object.dirty = true;
        }
        if let Some((path, out)) = &mut self.file {
            out.write_all(&line)
                .and_then(|()| out.flush())
                .with_context(|| format!("cannot write the manifest {}", path.display()))?;
        }
        Ok(())
    }

    /// Writes the manifest object with every line so far (nothing to do for a file, which
    /// is flushed line by line, or when nothing was recorded since the last checkpoint).
    ///
    /// # Errors
    /// The service refused the write or could not be reached.
    pub async fn checkpoint(&mut self) -> Result<()> {
        let Some(object) = self.object.as_mut().filter(|o| o.dirty) else {
            return Ok(());
        };
        let text = String::from_utf8_lossy(&object.lines);
        let (target, key) = (&object.target, &object.key);
        crate::storage::retrying("writing the manifest", || target.put_text(key, &text))
            .await
            .with_context(|| format!("cannot write the manifest {key}"))?;
        object.dirty = false;
        Ok(())
    }
}

fn open_file(path: &Path) -> Result<(PathBuf, BufWriter<File>)> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot write the manifest {}", path.display()))?;
    Ok((path.to_owned(), BufWriter::new(file)))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
