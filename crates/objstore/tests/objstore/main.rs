//! objstore's integration tests: the storage layer against a real S3 service (a single
//! Garage node on loopback, started per test) and against a local path.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod credentials_env;
mod garage_errors;
mod garage_leases;
mod garage_multipart;
mod garage_objects;
mod killed_upload;
mod leases;
mod local_path;
