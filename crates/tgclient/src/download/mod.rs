//! The download engine: many files, each in 1 MiB parts, under one budget of bytes in
//! flight, over a few connections per DC; resumable from the ledger in the session store;
//! every file verified before it takes its final name. The output is a local directory
//! or object storage (`object`: multipart uploads resumed at the part). Each file's decisions (which part,
//! from where, what an answer means) are a pure state machine (`machine`); the executor
//! (`executor`, `file_run`) carries out its actions.
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
mod error;
mod executor;
mod fetch;
mod file_run;
mod gates;
mod job;
mod ledger;
mod machine;
pub mod object;
mod part_file;
mod pool;
mod ranges;
mod stop;
mod verify;

pub use error::{DownloadError, FileFailure};
pub use executor::download;
pub use job::{
    DownloadEvent, DownloadJob, DownloadOptions, FileOutcome, MessageSource, ServerHashes,
};
pub use ledger::{FileState, LedgerError};
pub use machine::PART_SIZE;
pub use part_file::{FileError, part_path};
pub use ranges::RangeSet;
pub use stop::StopSignal;
