//! MTProto over HTTP on a connection: each request is held until the server has something
//! for its session, then answered with one packet.
//!
//! The packet a request carries goes through the same routing as a stream's packets. The
//! request is then held: it is answered as soon as its session has output queued (after
//! `wait_after`, and no later than `max_delay`, as the packet's `http_wait` asks), with an
//! empty body when a newer request of the same session is held (which takes what comes
//! next; see [`polls`](super::polls)), or after `max_wait` with the pending
//! acknowledgments or an empty body. A packet without
//! `http_wait` is held up to [`Limits::http_max_wait`](crate::Limits::http_max_wait), which
//! also caps what `http_wait` may ask. A plain (handshake) packet is answered at once; an
//! unknown auth key gets `404` with the transport error code as the body, and the connection
//! closes. The next request on the connection is only read once the current one is
//! answered.
//!
//! Answers to requests wake the holder at once, whichever connection carried the request;
//! output queued into a session from elsewhere (a pushed update) is seen at the next
//! timer tick, within 100 ms.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mtproto::session::HttpHold;

use super::polls::{PollSignal, PollTicket};
use super::writer::Outbound;
use super::{Bound, Connection, End};
use crate::sync::lock;

/// The request being answered.
pub(super) struct Hold {
    /// How long it may be held (its `http_wait`, when output came).
    timing: HttpHold,
    /// The session the packet belongs to, once opened, and its place in the session's
    /// signals.
    session: Option<(Bound, PollTicket)>,
    /// When to look again without any other event.
    wake_at: Option<Instant>,
    superseded: bool,
}

/// The HTTP side of a connection.
pub(super) struct HttpState {
    hold: Option<Hold>,
    /// The longest hold, and the hold without `http_wait`.
    max_wait: Duration,
}

impl HttpState {
    pub(super) fn new(max_wait: Duration) -> Self {
        Self {
            hold: None,
            max_wait,
        }
    }

    /// Whether the next request may be read: the current one was answered.
    pub(super) fn idle(&self) -> bool {
        self.hold.is_none()
    }

    /// A response went out: the request is answered.
    pub(super) fn answered(&mut self) {
        self.hold = None;
    }
}

/// What ended a wait for [`Connection::on_http_wake`].
#[derive(Debug, Clone, Copy)]
pub(super) enum Wake {
    Timer,
    Signal(PollSignal),
}

/// Waits until the held request needs a look: its timer, or a signal of its session.
/// Never returns without a held request. Cancel-safe.
pub(super) async fn wake(http: Option<&mut HttpState>) -> Wake {
    let Some(hold) = http.and_then(|http| http.hold.as_mut()) else {
        return std::future::pending().await;
    };
    let wake_at = hold.wake_at;
    let ticket = hold.session.as_mut().map(|(_, ticket)| ticket);
    let timer = async {
        match wake_at {
            Some(at) => mtnet::clock::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    let signal = async {
        match ticket {
            Some(ticket) => ticket.signal().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = timer => Wake::Timer,
        signal = signal => Wake::Signal(signal),
    }
}

impl Connection {
    /// Whether the connection may read the next packet (always, except while an HTTP
    /// request waits for its answer).
    pub(super) fn reading(&self) -> bool {
        self.http.as_ref().is_none_or(HttpState::idle)
    }

    /// An HTTP request arrived: it is held until answered.
    pub(super) fn http_request(&mut self) {
        if let Some(http) = &mut self.http {
            http.hold = Some(Hold {
                timing: HttpHold::new(mtnet::clock::now(), http.max_wait),
                session: None,
                wake_at: None,
                superseded: false,
            });
        }
    }

    /// The held request's packet belongs to `bound`'s session: its output answers it, and
    /// older holds of the session elsewhere let go.
    pub(super) fn http_bind(&mut self, bound: &Bound) {
        let polls = Arc::clone(&self.dc.http_polls);
        let Some(hold) = self.http.as_mut().and_then(|http| http.hold.as_mut()) else {
            return;
        };
        let session_id = lock(&bound.session).session_id();
        let ticket = polls.hold(bound.key.id(), session_id);
        hold.session = Some((bound.clone(), ticket));
    }

    /// `http_wait` in the held request's packet: how long it may be held.
    pub(super) fn http_wait(&mut self, max_delay: i32, wait_after: i32, max_wait: i32) {
        if let Some(hold) = self.http.as_mut().and_then(|http| http.hold.as_mut()) {
            hold.timing.set_wait(max_delay, wait_after, max_wait);
        }
    }

    /// `bound` may have output: answer the held request if it is for that session and due.
    /// (New output also arrives as a signal of the session, which is what moves
    /// `wait_after` on.)
    pub(super) async fn http_flush(&mut self, bound: &Bound) -> Result<(), End> {
        let Some(hold) = self.http.as_mut().and_then(|http| http.hold.as_mut()) else {
            return Ok(());
        };
        let ours = hold
            .session
            .as_ref()
            .is_some_and(|(held, _)| Arc::ptr_eq(&held.session, &bound.session));
        if !ours {
            return Ok(());
        }
        self.http_check().await
    }

    /// The held request's timer ran out or its session signalled.
    pub(super) async fn on_http_wake(&mut self, wake: Wake) -> Result<(), End> {
        if let Some(hold) = self.http.as_mut().and_then(|http| http.hold.as_mut()) {
            match wake {
                Wake::Timer => hold.wake_at = None,
                Wake::Signal(PollSignal::Superseded) => hold.superseded = true,
                Wake::Signal(PollSignal::Output) => hold.timing.output_queued(mtnet::clock::now()),
            }
        }
        self.http_check().await
    }

    /// Answers the held request if it is due, else sets when to look again.
    pub(super) async fn http_check(&mut self) -> Result<(), End> {
        let now = mtnet::clock::now();
        let Some(hold) = self.http.as_mut().and_then(|http| http.hold.as_mut()) else {
            return Ok(());
        };
        let Some((bound, _)) = &hold.session else {
            // Not opened yet (the routing answers plain packets itself).
            return Ok(());
        };
        if hold.superseded {
            // What is queued goes to the newer request.
            return self.send(Outbound::Empty).await;
        }
        let has_output = lock(&bound.session).has_pending_output();
        if let Some(due_at) = hold.timing.due(now, has_output) {
            hold.wake_at = Some(due_at);
            return Ok(());
        }
        let bound = bound.clone();
        let salts = bound.key.salts();
        let packet = {
            let mut session = lock(&bound.session);
            // Acknowledgments owed ride along, also on an otherwise empty answer.
            session.flush_acks();
            session.poll_transmit(&salts, self.dc.faults.now(), &mut self.rng)
        };
        match packet {
            Some(packet) => self.send(Outbound::Encrypted(packet)).await,
            None => self.send(Outbound::Empty).await,
        }
    }
}
