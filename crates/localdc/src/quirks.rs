//! Where Telegram's documentation allows more than one behaviour, localdc can follow each of
//! them: with a quirks seed, every session (or key, for what belongs to the key) gets one
//! reading, picked by hashing the seed with its ids, so that one run meets them all and a
//! failing case comes back with the same seed. Without a seed, localdc behaves as deployed
//! servers do as far as real clients show. `QUIRKS.md` lists each reading, where it comes
//! from and which test covers it.

use mtproto::session::{AckTiming, FirstMsgId, NewSessionNotice, ServerQuirks};

/// How `upload.getFileHashes` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileHashes {
    /// Answered.
    Present,
    /// Answered after [`SLOW_FILE_HASHES`].
    Slow,
    /// `500 NOT_IMPLEMENTED` (a server without the method).
    Unimplemented,
}

/// How long a slow `upload.getFileHashes` takes.
pub const SLOW_FILE_HASHES: std::time::Duration = std::time::Duration::from_millis(300);

/// The quirks seed of a DC: `None` for the deployed behaviour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quirks {
    seed: Option<u64>,
    /// Every session refuses `http_wait`, whatever the seed says (for a test aimed at it).
    always_refuse_http_wait: bool,
    /// Every session follows these readings, whatever the seed says.
    pinned: Option<ServerQuirks>,
    /// `upload.getFileHashes` is always served, whatever the seed says.
    keep_file_hashes: bool,
    /// Every key gets `channelDifferenceTooLong` past its own `limit`, whatever the seed
    /// says.
    always_too_long_at_limit: bool,
    /// How long `initConnection` is remembered.
    init: InitKept,
}

/// How long the server remembers a key's `initConnection`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum InitKept {
    /// With the key: later connections may call bare.
    #[default]
    WithTheKey,
    /// On one connection: each new one must send it again first.
    PerConnection,
}

impl Quirks {
    /// Every reading picked by `seed`.
    pub fn seeded(seed: u64) -> Self {
        Self {
            seed: Some(seed),
            ..Self::default()
        }
    }

    /// These readings, with every session following `session` (for a test aimed at one).
    #[must_use]
    pub fn pinning(mut self, session: ServerQuirks) -> Self {
        self.pinned = Some(session);
        self
    }

    /// These readings, with `upload.getFileHashes` always served: for a hostile server that
    /// also corrupts file bytes, since no client can tell bytes a server lied about once the
    /// server has no hashes to check them against.
    #[must_use]
    pub fn keeping_file_hashes(mut self) -> Self {
        self.keep_file_hashes = true;
        self
    }

    /// These readings, with `updates.getChannelDifference` "too long" past the request's
    /// `limit` for every key.
    #[must_use]
    pub fn too_long_past_limit(mut self) -> Self {
        self.always_too_long_at_limit = true;
        self
    }

    /// These readings, with `initConnection` wanted again on every new connection: the
    /// first call of a key on a connection that is not wrapped in it answers
    /// `400 CONNECTION_NOT_INITED`. Never picked by a seed: only a test aimed at it turns
    /// it on (see `QUIRKS.md`).
    #[must_use]
    pub fn requiring_init_per_connection(mut self) -> Self {
        self.init = InitKept::PerConnection;
        self
    }

    /// Whether each connection must send `initConnection` before its first call of a key.
    pub fn requires_init_per_connection(&self) -> bool {
        self.init == InitKept::PerConnection
    }

    /// These readings, with `http_wait` refused by every session.
    #[must_use]
    pub fn refusing_http_wait(mut self) -> Self {
        self.always_refuse_http_wait = true;
        self
    }

    /// The seed, if any.
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    /// The readings of session `session_id` of key `key_id`; `reopened` when the key had
    /// sessions before (a client that reconnected with a new session id).
    pub fn session(&self, key_id: u64, session_id: i64, reopened: bool) -> ServerQuirks {
        if let Some(pinned) = self.pinned {
            return pinned;
        }
        let Some(seed) = self.seed else {
            return ServerQuirks::default();
        };
        let pick = |what: u64, n: u64| mix(&[seed, what, key_id, session_id as u64]) % n;
        let new_session = match pick(2, 3) {
            0 => NewSessionNotice::First,
            1 => NewSessionNotice::AfterFirstAnswer,
            // Only a reopened session goes without the notice: the first one of a key is
            // always announced, as the docs and every server do.
            _ if reopened => NewSessionNotice::Never,
            _ => NewSessionNotice::First,
        };
        ServerQuirks {
            first_msg_id: if pick(1, 2) == 0 {
                FirstMsgId::FirstMessage
            } else {
                FirstMsgId::Container
            },
            new_session,
            acks: match pick(3, 3) {
                0 => AckTiming::Prompt,
                1 => AckTiming::Late,
                _ => AckTiming::Batched,
            },
            answers_alone: pick(4, 2) == 1,
            ignore_state_requests: pick(5, 4) == 0,
        }
    }

    /// Whether the first message of key `key_id` under the handshake's salt is refused
    /// with `bad_server_salt` (the docs let a server change salts at any time).
    pub fn refuses_initial_salt(&self, key_id: u64) -> bool {
        self.seed
            .is_some_and(|seed| mix(&[seed, 6, key_id]) % 2 == 1)
    }

    /// Whether the transport's quick acks are answered for key `key_id` (the docs let a
    /// server skip them; a client must not wait for one).
    pub fn gives_quick_acks(&self, key_id: u64) -> bool {
        self.seed
            .is_none_or(|seed| mix(&[seed, 10, key_id]).is_multiple_of(2))
    }

    /// Whether `http_wait` is refused in this session: answered at once with an error
    /// instead of holding the HTTP request.
    pub fn refuses_http_wait(&self, key_id: u64, session_id: i64) -> bool {
        self.always_refuse_http_wait
            || self
                .seed
                .is_some_and(|seed| mix(&[seed, 7, key_id, session_id as u64]).is_multiple_of(3))
    }

    /// Whether padded intermediate answers carry 0-15 bytes of padding (the spec's range)
    /// instead of the 0-3 deployed servers send; one choice for the whole server.
    pub fn pads_full_range(&self) -> bool {
        self.seed.is_some_and(|seed| mix(&[seed, 9]) % 2 == 1)
    }

    /// Whether `updates.getChannelDifference` answers `channelDifferenceTooLong` to key
    /// `key_id` as soon as more than the request's `limit` events are owed ("the provided
    /// pts + limit < remote pts", one description of the constructor), rather than only
    /// past the server's own threshold of events kept (another: "updates older than
    /// latestPts - 100000"); see `QUIRKS.md`.
    pub fn channel_too_long_at_limit(&self, key_id: u64) -> bool {
        self.always_too_long_at_limit
            || self
                .seed
                .is_some_and(|seed| mix(&[seed, 11, key_id]).is_multiple_of(2))
    }

    /// How `upload.getFileHashes` is served to key `key_id`.
    pub fn file_hashes(&self, key_id: u64) -> FileHashes {
        match self.seed.map(|seed| mix(&[seed, 8, key_id]) % 3) {
            None | Some(0) => FileHashes::Present,
            Some(1) => FileHashes::Slow,
            _ if self.keep_file_hashes => FileHashes::Present,
            Some(_) => FileHashes::Unimplemented,
        }
    }
}

/// A well-spread hash of `parts` (splitmix64 steps).
pub(crate) fn mix(parts: &[u64]) -> u64 {
    parts.iter().fold(0x9e37_79b9_7f4a_7c15, |acc: u64, part| {
        let mut z = acc ^ part.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn without_a_seed_everything_is_the_default() {
        let quirks = Quirks::default();
        assert_eq!(quirks.session(1, 2, true), ServerQuirks::default());
        assert!(!quirks.refuses_initial_salt(1));
        assert_eq!(quirks.file_hashes(1), FileHashes::Present);
        assert!(!quirks.refuses_http_wait(1, 2));
        assert!(!quirks.pads_full_range());
        assert!(quirks.gives_quick_acks(1));
        assert!(!quirks.channel_too_long_at_limit(1));
        assert!(!quirks.requires_init_per_connection());
        assert!(!Quirks::seeded(42).requires_init_per_connection());
        assert!(
            quirks
                .requiring_init_per_connection()
                .requires_init_per_connection()
        );
    }

    #[test]
    fn a_seed_spreads_every_reading_over_sessions_and_is_repeatable() {
        let quirks = Quirks::seeded(42);
        let sessions: Vec<ServerQuirks> = (0..400).map(|s| quirks.session(7, s, true)).collect();
        let distinct = |f: &dyn Fn(&ServerQuirks) -> String| {
            sessions.iter().map(f).collect::<HashSet<_>>().len()
        };
        assert_eq!(distinct(&|q| format!("{:?}", q.first_msg_id)), 2);
        assert_eq!(distinct(&|q| format!("{:?}", q.new_session)), 3);
        assert_eq!(distinct(&|q| format!("{:?}", q.acks)), 3);
        assert_eq!(distinct(&|q| format!("{}", q.answers_alone)), 2);
        assert_eq!(distinct(&|q| format!("{}", q.ignore_state_requests)), 2);
        assert!(
            (0..400).all(|s| quirks.session(7, s, false).new_session != NewSessionNotice::Never)
        );
        assert_eq!(sessions[5], Quirks::seeded(42).session(7, 5, true));
        let hashes: HashSet<_> = (0..60)
            .map(|k| format!("{:?}", quirks.file_hashes(k)))
            .collect();
        assert_eq!(hashes.len(), 3);
        assert!((0..60).any(|k| quirks.refuses_initial_salt(k)));
        assert!((0..60).any(|k| !quirks.gives_quick_acks(k)));
        assert!((0..60).any(|k| !quirks.refuses_initial_salt(k)));
        assert!((0..60).any(|k| quirks.channel_too_long_at_limit(k)));
        assert!((0..60).any(|k| !quirks.channel_too_long_at_limit(k)));
    }
}
