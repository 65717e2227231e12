//! The MTProto session layer, for both roles: what sits between the encrypted-message codec
//! ([`crate::encrypted`]) and the application.
//!
//! A session is identified by (auth key, session_id). Within it, every message gets a
//! time-based `msg_id` and a `seq_no`; content-related messages are acknowledged; several
//! messages travel together in a `msg_container`; large bodies may be `gzip_packed`; the
//! server salt changes over time; either side tells the other when a message was bad.
//!
//! - [`ClientSession`]: queues requests, builds packets, matches answers to requests, and
//!   recovers by itself from `bad_server_salt`, a wrong clock and the other
//!   `bad_msg_notification` codes.
//! - [`ServerSession`]: checks what a client sends as Telegram does (time window, msg_id
//!   parity, duplicates, seq_no, salt), answers the service messages itself (`ping`,
//!   `msgs_state_req`, `get_future_salts`...) and hands everything else to the application.
//! - The building blocks: [`MsgIdGenerator`], [`SeqNo`], [`container`], [`gzip`],
//!   [`SaltSchedule`].
//!
//! Nothing here reads a clock or a global random source: `now` and `rng` are passed in, so
//! both roles run deterministically in tests. Two clocks, each for its own job: wall time
//! ([`UnixTime`]) where the protocol needs it (msg_ids, the server time offset, salts), and
//! the monotonic clock ([`std::time::Instant`]) for every deadline. Each session keeps its
//! deadlines in a timer table: the caller sleeps until `poll_timeout()` and then calls
//! `handle_timeout(now)`, which decides what to send (acknowledgments, a keepalive ping,
//! an `http_wait`) and reports what happened (a stall, requests given up).

mod client;
mod client_dispatch;
mod client_timers;
pub mod container;
mod error;
mod future_salts;
pub mod gzip;
mod http_hold;
mod incoming;
mod msg_id;
mod outgoing;
pub mod rpc;
mod salt_schedule;
mod seen;
mod seq_no;
mod server;
mod server_checks;
mod server_dispatch;
mod server_quirks;
mod service;
mod time;
mod timer;

pub use client::{
    CLIENT_ACK_DELAY, CLIENT_ACK_THRESHOLD, ClientEvent, ClientSession, Delivery, MAX_RESENDS,
    RequestId, RequestState, STATE_ANSWER_TIMEOUT, Transmit,
};
pub use client_dispatch::resending_helps;
pub use client_timers::{
    HTTP_BACKOFF_BUSY, HTTP_BACKOFF_IDLE, HTTP_BACKOFF_MIN, HTTP_MAX_WAIT_MS, HTTP_POLL_LIFETIME,
    Keepalive, Link,
};
pub use error::SessionError;
pub use http_hold::HttpHold;
pub use msg_id::{MsgIdGenerator, MsgIdKind, msg_id_from_time, msg_id_secs};
pub use rpc::RpcError;
pub use salt_schedule::{DEFAULT_SALT_PERIOD, MAX_FUTURE_SALTS, SaltSchedule};
pub use seq_no::{Relatedness, SeqNo, classify, is_content_related};
pub use server::{
    SERVER_ACK_DELAY, SERVER_ACK_THRESHOLD, ServerEvent, ServerSession, open_client_packet,
};
pub use server_checks::{MAX_MSG_ID_FUTURE, MAX_MSG_ID_PAST};
pub use server_quirks::{AckTiming, FirstMsgId, NewSessionNotice, ServerQuirks};
pub use time::UnixTime;
