//! The integration tests of `localdc`, one binary: each module was a test file of
//! its own (one link instead of one per file).

mod common;
mod node;
mod setup;
mod venv;

mod authorizations;
mod chaos_faults;
mod cli;
mod faults;
mod gramjs;
mod handoff;
mod hostile;
mod hostile_clients;
mod http;
mod live;
mod media;
mod mtproxy;
mod pyrogram;
mod quirks;
mod sender;
mod server;
mod session_memory;
mod telethon;
mod telethon_live;
mod telethon_media;
mod telethon_mtproxy;
mod wan;
mod world;
