//! The integration tests of `mtcrypto`, one binary: each module was a test file of
//! its own (one link instead of one per file).

mod auth_key_sample;
mod kdf_vector;
mod roundtrip;
mod untrusted_input;
