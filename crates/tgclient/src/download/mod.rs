//! The download engine: many files, each in 1 MiB parts, under one budget of requests in
//! flight, over a few connections per DC; resumable from the ledger in the session store;
//! every file verified before it takes its final name.
//!
//! ```no_run
//! # async fn demo(client: tgclient::Client, message: tl_types::api::enums::Message)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use tgclient::download::{DownloadJob, DownloadOptions, download};
//! use tgclient::media::MediaFile;
//! let media = MediaFile::from_message(&message).ok_or("no file")?;
//! let job = DownloadJob {
//!     key: "out/file.bin".into(),
//!     media,
//!     path: "out/file.bin".into(),
//!     source: None,
//! };
//! let outcomes = download(&client, vec![job], DownloadOptions::default(), None).await?;
//! # Ok(()) }
//! ```

mod cdn;
mod engine;
mod error;
mod fetch;
mod gates;
mod ledger;
mod part_file;
mod pool;
mod ranges;
mod verify;

pub use engine::{
    DownloadEvent, DownloadJob, DownloadOptions, FileOutcome, MessageSource, ServerHashes, download,
};
pub use error::{DownloadError, FileFailure};
pub use fetch::PART_SIZE;
pub use ledger::{FileState, LedgerError};
pub use part_file::{FileError, part_path};
pub use ranges::RangeSet;
