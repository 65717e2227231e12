//! The run's manifest: one JSON line per file — which message, where it went, its size,
//! its SHA-256 and what happened — written as each file ends, so a killed run still
//! leaves a record of what it finished.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
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
    /// `downloaded`, `already_downloaded`, `failed` or `not_run`.
    pub status: &'static str,
    /// For a file downloaded now: `checked` (every part against the server's hashes),
    /// `unavailable` (the server could not give them; finished on MTProto's own integrity)
    /// or `off` (`--no-server-hashes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_hashes: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An open manifest file.
#[derive(Debug)]
pub struct Manifest {
    path: PathBuf,
    out: BufWriter<File>,
}

impl Manifest {
    /// Creates the manifest at `path` (appending if it exists).
    pub fn create(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot write the manifest {}", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            out: BufWriter::new(file),
        })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `entry` and flushes it.
    pub fn record(&mut self, entry: &ManifestEntry<'_>) -> Result<()> {
        serde_json::to_writer(&mut self.out, entry)?;
        self.out.write_all(b"\n")?;
        self.out
            .flush()
            .with_context(|| format!("cannot write the manifest {}", self.path.display()))
    }
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
