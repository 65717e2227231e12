//! The integration tests of `tl-types`, one binary: each module was a test file of
//! its own (one link instead of one per file).

mod samples;

mod accepted_foreign;
mod auth_key_sample;
mod hostile_input;
mod roundtrip;
