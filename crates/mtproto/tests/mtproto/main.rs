//! The integration tests of `mtproto`, one binary: each module was a test file of
//! its own (one link instead of one per file).

mod encrypted;
mod end_to_end;
mod handshake;
mod handshake_props;
mod session_client;
mod session_pair;
mod session_props;
mod session_server;
mod session_tamper;
mod transport_codec;
mod transport_detect;
mod transport_fake_tls;
mod transport_obfuscation;
mod transport_padding;
mod transport_props;
mod transport_proxy_secret;
