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

use super::polls::{PollSignal, PollTicket};
use super::writer::Outbound;
use super::{Bound, Connection, End};
use crate::keys::lock;

/// How one request may be held, from its `http_wait` or the defaults.
#[derive(Debug, Clone, Copy)]
struct HoldLimits {
    max_delay: Duration,
    wait_after: Duration,
    max_wait: Duration,
}

/// The request being answered.
pub(super) struct Hold {
    since: Instant,
    limits: HoldLimits,
    /// The session the packet belongs to, once opened, and its place in the session's
    /// signals.
    session: Option<(Bound, PollTicket)>,
    /// When output for the session was first and last seen during the hold.
    first_output: Option<Instant>,
    last_output: Option<Instant>,
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

fn millis(ms: i32) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
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
                since: mtnet::clock::now(),
                limits: HoldLimits {
                    max_delay: Duration::ZERO,
                    wait_after: Duration::ZERO,
                    max_wait: http.max_wait,
                },
                session: None,
                first_output: None,
                last_output: None,
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
        let Some(http) = self.http.as_mut() else {
            return;
        };
        let cap = http.max_wait;
        if let Some(hold) = http.hold.as_mut() {
            hold.limits = HoldLimits {
                max_delay: millis(max_delay).min(cap),
                wait_after: millis(wait_after).min(cap),
                max_wait: millis(max_wait).min(cap),
            };
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
                Wake::Signal(PollSignal::Output) => {
                    if hold.first_output.is_some() {
                        hold.last_output = Some(mtnet::clock::now());
                    }
                }
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
        let due_at = if lock(&bound.session).has_pending_output() {
            // Output waits `wait_after` past the latest message for more to join it, and
            // `max_delay` at most.
            let first = *hold.first_output.get_or_insert(now);
            let last = *hold.last_output.get_or_insert(now);
            (last + hold.limits.wait_after).min(first + hold.limits.max_delay)
        } else {
            hold.since + hold.limits.max_wait
        };
        if now < due_at {
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
