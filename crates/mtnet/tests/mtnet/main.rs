//! The integration tests of `mtnet`, one binary: each module was a test file of
//! its own (one link instead of one per file).

mod common;

mod exchange;
mod failures;
mod framing;
mod http;
mod mtproxy;
mod socks;
