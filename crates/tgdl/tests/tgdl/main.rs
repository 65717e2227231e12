//! The integration tests of `tgdl`, one binary: each module was a test file of
//! its own (one link instead of one per file).

mod cli;
mod demo;
mod download;
mod secrets;
mod watch;
