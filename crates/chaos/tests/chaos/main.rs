//! The integration tests of `chaos`, one binary: each module was a test file of
//! its own (one link instead of one per file).

mod bench;
mod short;
