//! The client session's timer table: delayed acknowledgments, the keepalive ping and its
//! pong deadline, the HTTP long poll, and the wait for the server's word on at-most-once
//! requests after a reconnect.
//!
//! Deadlines are on the monotonic clock ([`Instant`]); the caller sleeps until
//! [`ClientSession::poll_timeout`] and then calls [`ClientSession::handle_timeout`], which
//! decides what to send (a ping, an `http_wait`, acknowledgments) and what to report (a
//! stalled connection, requests given up).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tl_types::Serialize;
use tl_types::mtproto::functions::PingDelayDisconnect;

use super::client::{
    CLIENT_ACK_DELAY, ClientEvent, ClientSession, RequestId, STATE_ANSWER_TIMEOUT,
};
use super::timer::Timer;

/// How long an HTTP long poll may be held by the server (`http_wait.max_wait`, ms); below
/// the HTTP carrier's response timeout.
pub const HTTP_MAX_WAIT_MS: i32 = 25_000;
/// A long poll is renewed after this long even when nothing came back.
pub const HTTP_POLL_LIFETIME: Duration = Duration::from_secs(25);
/// A long poll that came back with nothing for us (a server that does not hold requests,
/// or answers `http_wait` with an error) is renewed after this pause, doubling each time
/// up to [`HTTP_BACKOFF_BUSY`] while requests wait for answers and [`HTTP_BACKOFF_IDLE`]
/// otherwise; anything useful received resets it.
pub const HTTP_BACKOFF_MIN: Duration = Duration::from_millis(25);
pub const HTTP_BACKOFF_BUSY: Duration = Duration::from_secs(1);
pub const HTTP_BACKOFF_IDLE: Duration = Duration::from_secs(10);

/// How the connection under the session carries packets: it decides whether the session
/// must keep a long poll open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// TCP, WebSocket: the server sends whenever it likes.
    Stream,
    /// MTProto over HTTP: the server can only answer requests, so an `http_wait` must
    /// always be on its way.
    Http,
}

/// Pinging to tell a live connection from a stalled one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// How often to ping. The server is asked (`ping_delay_disconnect`) to close the
    /// connection if no ping follows within `interval + pong_timeout`.
    pub interval: Duration,
    /// A ping not answered within this long means the connection stalled.
    pub pong_timeout: Duration,
}

/// The long poll over HTTP.
#[derive(Debug, Clone, Copy)]
struct HttpPoll {
    /// Something was sent or received since the last `http_wait`: one must ride along.
    due: bool,
    /// When the last long poll runs out.
    renew: Timer,
    /// No new long poll before this (off: none to wait for).
    paced: Timer,
    backoff: Duration,
}

/// Every deadline of a [`ClientSession`].
#[derive(Debug, Default)]
pub(super) struct ClientTimers {
    /// The last monotonic reading, from `handle_timeout` or `start_connection`.
    clock: Option<Instant>,
    /// Acknowledgments owed go alone when this fires.
    pub(super) ack: Timer,
    keepalive: Option<Keepalive>,
    /// The next keepalive ping.
    ping: Timer,
    /// The ping on its way and the deadline for its pong.
    pong: Option<(RequestId, Timer)>,
    pings_sent: u64,
    http: Option<HttpPoll>,
    /// At-most-once requests the server was asked about, and when (oldest first, as they
    /// are asked in clock order). Entries of requests settled or asked again meanwhile are
    /// skipped when their time comes.
    state_checks: VecDeque<(Instant, RequestId)>,
}

impl ClientSession {
    /// Pings over every connection from now on (see [`start_connection`](Self::start_connection)).
    pub fn set_keepalive(&mut self, keepalive: Keepalive) {
        self.timers.keepalive = Some(keepalive);
    }

    /// A connection was made (the first, or one replacing a broken one) at `now`: requests
    /// sent and unanswered go again or are asked about ([`requeue_unanswered`](Self::requeue_unanswered)),
    /// a ping goes at once when pinging, and over HTTP a long poll is kept open.
    pub fn start_connection(&mut self, now: Instant, link: Link) {
        self.timers.clock = Some(now);
        // The ping of a broken connection tells nothing about the new one.
        if let Some((ping, _)) = self.timers.pong.take() {
            self.forget(ping);
        }
        self.requeue_unanswered(now);
        self.timers.ping = match self.timers.keepalive {
            Some(_) => Timer::At(now),
            None => Timer::Off,
        };
        self.timers.http = (link == Link::Http).then_some(HttpPoll {
            due: true,
            renew: Timer::At(now),
            paced: Timer::Off,
            backoff: Duration::ZERO,
        });
    }

    /// When [`handle_timeout`](Self::handle_timeout) has something to do: acknowledgments
    /// that waited long enough, a ping, a pong deadline, a long poll, a request to give up.
    /// A timer started by input since the last `handle_timeout` makes this the last reading
    /// (already past): call `handle_timeout` after feeding input, before sleeping.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let timers = &self.timers;
        let clock = timers.clock;
        let http = timers.http.iter().flat_map(|http| {
            let paced = if http.due {
                // Off means no pause: due now.
                http.paced.deadline(clock).or(clock)
            } else {
                None
            };
            [http.renew.deadline(clock), paced]
        });
        [
            timers.ack.deadline(clock),
            timers.ping.deadline(clock),
            timers.pong.and_then(|(_, pong)| pong.deadline(clock)),
            timers
                .state_checks
                .front()
                .map(|(asked, _)| state_deadline(*asked)),
        ]
        .into_iter()
        .chain(http)
        .flatten()
        .min()
    }

    /// Runs the timers due at `now` (and dates those started by input since the last call).
    /// Returns what the application must hear: [`ClientEvent::Uncertain`] for at-most-once
    /// requests the server said nothing about within [`STATE_ANSWER_TIMEOUT`], and
    /// [`ClientEvent::Stalled`] when a ping went unanswered for the pong timeout.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<ClientEvent> {
        let mut events = Vec::new();
        self.timers.clock = Some(now);
        self.timers.ack.date(now);
        if self.timers.ack.expired(now) {
            self.timers.ack = Timer::Off;
            self.flush_acks();
        }
        self.expire_state_checks(now, &mut events);
        self.keep_alive(now, &mut events);
        self.keep_http_poll_open(now);
        events
    }

    /// Remembers that the server was asked at `now` whether it has request `id`.
    pub(super) fn check_state_by(&mut self, id: RequestId, now: Instant) {
        self.timers.state_checks.push_back((now, id));
    }

    /// Starts the acknowledgment delay when the first acknowledgment is owed.
    pub(super) fn ack_owed(&mut self) {
        if self.timers.ack.is_off() {
            self.timers.ack = Timer::Starting(CLIENT_ACK_DELAY);
        }
    }

    /// Acknowledgments were sent: the delay starts over for those still owed, if any.
    pub(super) fn acks_sent(&mut self) {
        self.timers.ack = if self.pending_acks.is_empty() {
            Timer::Off
        } else {
            Timer::Starting(CLIENT_ACK_DELAY)
        };
    }

    /// A request is settled (answered, rejected, cancelled): if it was the ping, the
    /// connection is alive.
    pub(super) fn settled(&mut self, id: RequestId) {
        if self.timers.pong.is_some_and(|(ping, _)| ping == id) {
            self.timers.pong = None;
        }
    }

    /// A request was queued: over HTTP an `http_wait` goes with it, without pause.
    pub(super) fn request_queued(&mut self) {
        if let Some(http) = &mut self.timers.http {
            http.due = true;
            http.paced = Timer::Off;
            http.backoff = Duration::ZERO;
        }
    }

    /// A packet came (over HTTP: the answer to one HTTP request, so a new long poll is due).
    /// One that brought nothing for the application (a long poll the server did not hold)
    /// delays the next long poll, more each time; a useful one lets it go at once.
    pub(super) fn packet_received(&mut self, events: Option<&[ClientEvent]>) {
        let busy = self.requests.values().any(|r| !r.silent);
        let Some(http) = &mut self.timers.http else {
            return;
        };
        http.due = true;
        let Some(events) = events else {
            return;
        };
        let useful = events.iter().any(|event| {
            matches!(
                event,
                ClientEvent::Response { .. }
                    | ClientEvent::Update(_)
                    | ClientEvent::Rejected { .. }
                    | ClientEvent::Uncertain { .. }
            )
        });
        if useful {
            http.backoff = Duration::ZERO;
            http.paced = Timer::Off;
            return;
        }
        let cap = if busy {
            HTTP_BACKOFF_BUSY
        } else {
            HTTP_BACKOFF_IDLE
        };
        http.backoff = (http.backoff * 2).clamp(HTTP_BACKOFF_MIN, cap);
        http.paced = Timer::Starting(http.backoff);
    }

    fn expire_state_checks(&mut self, now: Instant, events: &mut Vec<ClientEvent>) {
        while let Some(&(asked, id)) = self.timers.state_checks.front() {
            if state_deadline(asked) > now {
                break;
            }
            self.timers.state_checks.pop_front();
            // Still waiting for the server's word since then (not answered, resent or
            // asked again).
            let waiting = self
                .requests
                .get(&id)
                .is_some_and(|r| r.state_asked == Some(asked));
            if waiting {
                self.give_up_uncertain(id, events);
            }
        }
    }

    /// Sends a ping when one is due, or reports a stall if the last went unanswered.
    fn keep_alive(&mut self, now: Instant, events: &mut Vec<ClientEvent>) {
        let Some(keepalive) = self.timers.keepalive else {
            return;
        };
        if let Some((ping, pong)) = self.timers.pong
            && pong.expired(now)
        {
            // Reported once; the caller replaces the connection (`start_connection`).
            self.timers.pong = None;
            self.forget(ping);
            self.timers.ping = Timer::Off;
            events.push(ClientEvent::Stalled {
                silent_for: keepalive.pong_timeout,
            });
            return;
        }
        if !self.timers.ping.expired(now) {
            return;
        }
        self.timers.ping = Timer::after(now, keepalive.interval);
        if self.timers.pong.is_some() {
            // The last ping is still out: its deadline decides.
            return;
        }
        let grace = keepalive.interval + keepalive.pong_timeout;
        self.timers.pings_sent += 1;
        let body = PingDelayDisconnect {
            // Unique within the session is all a ping_id needs.
            ping_id: self
                .session_id
                .wrapping_add_unsigned(self.timers.pings_sent),
            disconnect_delay: i32::try_from(grace.as_secs()).unwrap_or(i32::MAX).max(1),
        }
        .to_bytes();
        let id = self.enqueue(body, true);
        self.timers.pong = Some((id, Timer::after(now, keepalive.pong_timeout)));
    }

    /// Over HTTP: queues an `http_wait` when something was sent or received since the last
    /// one (and the backoff allows), or when the last long poll ran out.
    fn keep_http_poll_open(&mut self, now: Instant) {
        let Some(http) = &mut self.timers.http else {
            return;
        };
        http.paced.date(now);
        http.renew.date(now);
        let paced = http.paced.is_off() || http.paced.expired(now);
        if !(http.due && paced || http.renew.expired(now)) {
            return;
        }
        http.due = false;
        http.renew = Timer::after(now, HTTP_POLL_LIFETIME);
        self.push_http_wait(0, 0, HTTP_MAX_WAIT_MS);
    }
}

/// When an at-most-once request asked about at `asked` is given up.
fn state_deadline(asked: Instant) -> Instant {
    asked.checked_add(STATE_ANSWER_TIMEOUT).unwrap_or(asked)
}
