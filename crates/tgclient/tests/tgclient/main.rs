//! The integration tests of `tgclient`, one binary: each module was a test file of
//! its own (one link instead of one per file).

mod common;

mod desktop_tdata;
mod download;
mod follow;
mod handoff;
mod hostile_server;
mod login;
mod object_garage;
mod object_output;
mod peers_and_history;
mod routing;
mod takeout;
