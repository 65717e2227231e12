//! The integration tests of `tgdl`, one binary: each module was a test file of
//! its own (one link instead of one per file).

mod cli;
mod demo;
mod desktop_export;
mod download;
mod incremental;
mod login_import;
mod object_storage;
mod secrets;
mod watch;
