//! MTProto over HTTP: `POST /api`, one packet per body, long polls held by the server.
//!
//! Each request body is one MTProto packet (plain or encrypted, with no transport framing)
//! and each response body carries at most one packet from the server, or nothing. The
//! server only ever speaks in responses: it holds a request while it has nothing for the
//! client (a long poll, bounded by the `http_wait` the packet carried) and answers it as
//! soon as something is queued, or with an empty body when the hold ends.
//!
//! # Client
//!
//! [`connect`](crate::connect()) with [`Carrier::Http`](crate::Carrier::Http) returns the
//! usual [`PacketReader`] and [`PacketWriter`]. They run over in-memory pipes to a driver
//! task: each packet written becomes one `POST` on a pool of at most [`MAX_CONNECTIONS`]
//! keep-alive connections (with all of them waiting for responses, the next packet waits
//! for one to come back; an idle connection the server closed is replaced and the request
//! sent once more); every non-empty `200` body is a packet for the reader; a `404`, `429`
//! or `444` status is the transport error -404, -429 or -444, after which the carrier ends
//! as a stream connection would (localdc answers them so, with the 4-byte code as the
//! body; that Telegram does the same is UNCONFIRMED); any other status is
//! [`HttpError::Status`]. Responses come
//! back in whatever order the server answers. Quick acks do not exist over HTTP: a request
//! for one is dropped. The halves report the intermediate framing they use on the pipes;
//! [`Endpoint::transport`](crate::Endpoint::transport) is not used.
//!
//! # What a sender must do: `http_wait`
//!
//! The packet halves sit below the session layer and cannot keep a long poll alive by
//! themselves (an empty `POST` is not MTProto), and the server has no other way to reach
//! the client. A sender on an endpoint for which
//! [`Endpoint::is_http`](crate::Endpoint::is_http) holds must therefore:
//!
//! 1. push an `http_wait` into the session each time it flushes it (after queueing
//!    requests, after every packet received, and when nothing was received for `max_wait`),
//!    so that every packet carries one and a packet goes out — an `http_wait` alone if
//!    nothing else is queued — after each response, leaving a request open for what the
//!    server sends next;
//! 2. use `max_delay = 0`, `wait_after = 0` and a `max_wait` well below
//!    [`RESPONSE_TIMEOUT`] (25 000 ms is customary).
//!
//! localdc holds only the newest request of a session: when a newer one arrives, the older
//! is answered at once with an empty body and what is queued goes to the newer. A sender
//! following these rules therefore never has more than one long poll occupying a
//! connection of the pool. (How Telegram's servers treat several held requests of one
//! session is not documented; these rules work either way, at worst with a connection
//! held until `max_wait`.)
//!
//! # Server
//!
//! [`server_halves`] splits a connection that transport detection handed over as
//! [`Accepted::Http`](crate::Accepted::Http) into a [`RequestReader`] and a
//! [`ResponseWriter`]; holding requests is the server's business.

mod client;
mod driver;
mod error;
mod head;
mod pipe;
mod server;

use std::sync::Arc;
use std::time::Duration;

use mtproto::transport::{Codec, TransportKind};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

pub use error::HttpError;
pub use server::{HttpServerConfig, RequestReader, ResponseWriter, server_halves};

use crate::connect::Endpoint;
use crate::framed::{Framing, PacketReader, PacketWriter};
use client::{HttpConnection, Target};
use driver::{Driver, FailureSlot};
use pipe::{PipeReader, PipeWriter};

/// The path Telegram serves MTProto over HTTP on.
pub const DEFAULT_PATH: &str = "/api";
/// HTTP connections one client carrier opens at most.
pub const MAX_CONNECTIONS: usize = 2;
/// Longest a client waits for one response, long polls included.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_mins(1);
/// Bytes buffered in each direction between the packet halves and the driver task.
const PIPE_BUFFER: usize = 64 * 1024;

/// Starts an HTTP carrier to `endpoint` on `first`, a connection made by
/// [`connect`](crate::connect()) (so that an unreachable server fails there); further
/// connections are made when needed.
pub(crate) fn open(
    first: TcpStream,
    endpoint: &Endpoint,
    path: &str,
) -> (PacketReader, PacketWriter) {
    let (writer_end, from_writer) = tokio::io::duplex(PIPE_BUFFER);
    let (reader_end, to_reader) = tokio::io::duplex(PIPE_BUFFER);
    let (alive, reader_gone) = oneshot::channel();
    let failure = FailureSlot::default();
    let driver = Driver {
        endpoint: Arc::new(endpoint.clone()),
        target: Arc::new(Target {
            authority: endpoint.address.to_string(),
            path: path.to_owned(),
            max_body: endpoint.max_packet,
        }),
        idle: vec![HttpConnection::new(first)],
        from_writer,
        to_reader,
        reader_gone,
        failure: Arc::clone(&failure),
    };
    tokio::spawn(driver.run());
    let codec = Codec::client(TransportKind::Intermediate)
        .without_init_tag()
        .with_max_packet(endpoint.max_packet);
    Framing::new(codec, None).from_halves(
        Box::new(PipeReader::new(reader_end, failure, alive)),
        Box::new(PipeWriter::new(writer_end)),
    )
}
