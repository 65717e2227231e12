//! tgdl, the command-line tool: Telegram media and history downloader. The binary parses
//! the command line ([`cli`]) and calls [`run`]; everything else lives here so it can be
//! tested.
//!
//! - [`config`]: api credentials, where the session lives, the `[storage]` settings.
//! - [`destination`]: what `-o` names: a directory or `s3://bucket/prefix`.
//! - [`server`] and [`proxy`]: which server to talk to and how to connect.
//! - [`commands`]: one module per subcommand.
//! - [`output`]: the JSON lines and tables printed (the message format is documented
//!   there).
//! - [`naming`], [`filters`], [`progress`], [`manifest`]: what `tgdl download` names,
//!   takes, shows and records; [`incremental`]: what a rerun lists again.
//! - [`desktop_export`]: Telegram Desktop's export format, read and written.
//! - [`import_source`], [`desktop_path`], [`staged_login`]: `tgdl login --from-*`: the
//!   other app's login read before any session is opened, and written to the session only
//!   once tgdl's own login from it succeeded.
//! - [`signals`]: SIGINT and SIGTERM as a clean stop.
//! - [`dates`], [`dialogs`], [`prompt`], [`errors`], [`logging`]: helpers of the above.

// The print macros panic when the write fails (stdout or stderr a file on a full disk):
// output goes through `output::to_stdout` and `output::note` instead.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
pub mod commands;
pub mod config;
pub mod dates;
pub mod desktop_export;
pub mod desktop_path;
pub mod destination;
pub mod dialogs;
pub mod errors;
pub mod filters;
pub mod import_source;
pub mod incremental;
pub mod leases;
pub mod logging;
pub mod manifest;
pub mod naming;
pub mod output;
pub mod progress;
pub mod prompt;
pub mod proxy;
pub mod server;
pub mod signals;
pub mod staged_login;
pub mod storage;

use std::time::Duration;

use anyhow::{Context, Result};

/// How long the runtime is given to finish background tasks after the command.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Runs a parsed command line on a new multi-threaded runtime.
pub fn run(cli: &cli::Cli) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = runtime.block_on(commands::run(cli));
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    outcome
}
