//! Readings of the spec a server session follows where Telegram's documentation allows more
//! than one. A client must work under every one of them; localdc picks one per session
//! (seeded), so that its clients meet them all. Which document or client each comes from is
//! in localdc's `QUIRKS.md`.

use std::time::Duration;

use super::server::{SERVER_ACK_DELAY, SERVER_ACK_THRESHOLD};

/// What `new_session_created.first_msg_id` names when the packet that opened the session
/// was a container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FirstMsgId {
    /// The first (lowest) message accepted from it.
    #[default]
    FirstMessage,
    /// The container itself (the transport-level message), whose id is above its messages'.
    Container,
}

/// When `new_session_created` is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NewSessionNotice {
    /// Ahead of everything else, as soon as the first message is accepted.
    #[default]
    First,
    /// After the answer to the first request.
    AfterFirstAnswer,
    /// Not at all (servers skip it for a session opened on a reconnect).
    Never,
}

/// How acknowledgments of client messages are sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AckTiming {
    /// With the next packet, or alone after [`SERVER_ACK_THRESHOLD`] of them or
    /// [`SERVER_ACK_DELAY`].
    #[default]
    Prompt,
    /// Only alone, after 5 s (or 16 of them): never riding along with answers.
    Late,
    /// With the next packet once 64 accumulated, or after 10 s.
    Batched,
}

impl AckTiming {
    /// (acknowledgments that make a packet of their own, how long the oldest may wait,
    /// whether they ride along with other messages before that).
    pub(super) fn rule(self) -> (usize, Duration, bool) {
        match self {
            AckTiming::Prompt => (SERVER_ACK_THRESHOLD, SERVER_ACK_DELAY, true),
            AckTiming::Late => (SERVER_ACK_THRESHOLD, Duration::from_secs(5), false),
            AckTiming::Batched => (64, Duration::from_secs(10), false),
        }
    }
}

/// The readings one server session follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerQuirks {
    pub first_msg_id: FirstMsgId,
    pub new_session: NewSessionNotice,
    pub acks: AckTiming,
    /// Every message in a packet of its own (no containers, but for messages that go again
    /// under their old msg_id, which may only travel inside one).
    pub answers_alone: bool,
    /// `msgs_state_req` is not answered (the docs do not oblige a server to).
    pub ignore_state_requests: bool,
}
