//! The server's hashes of one file as far as known, and the requests for more.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use tokio::time::Instant;

use crate::download::verify::RangeHash;

/// Whether parts are checked against `upload.getFileHashes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HashMode {
    /// The caller turned it off.
    Off,
    /// Checked.
    Wanted,
    /// The server refused them or could not give them: the file goes on without.
    Unavailable,
}

#[derive(Debug, Default)]
struct Ask {
    in_flight: bool,
    tries: u32,
    retry_at: Option<Instant>,
}

#[derive(Debug)]
pub(super) struct HashBook {
    mode: HashMode,
    /// Known hashes by the offset they start at.
    known: BTreeMap<u64, RangeHash>,
    /// Requests made or to be made again, by offset.
    asks: BTreeMap<u64, Ask>,
}

impl HashBook {
    pub(super) fn new(mode: HashMode) -> Self {
        Self {
            mode,
            known: BTreeMap::new(),
            asks: BTreeMap::new(),
        }
    }

    pub(super) fn wanted(&self) -> bool {
        self.mode == HashMode::Wanted
    }

    /// The first offset of `range` no known hash covers.
    pub(super) fn gap(&self, range: &Range<u64>) -> Option<u64> {
        let mut at = range.start;
        while at < range.end {
            match self.known.get(&at) {
                Some(hash) => at = at.saturating_add(hash.limit),
                None => return Some(at),
            }
        }
        None
    }

    /// The hashes covering `range`, when all are known.
    pub(super) fn covering(&self, range: &Range<u64>) -> Option<Vec<RangeHash>> {
        let mut at = range.start;
        let mut found = Vec::new();
        while at < range.end {
            let hash = self.known.get(&at)?;
            at = at.saturating_add(hash.limit);
            found.push(hash.clone());
        }
        Some(found)
    }

    /// Whether the hashes at `at` may be asked for now.
    pub(super) fn may_ask(&self, at: u64, now: Instant) -> bool {
        self.asks
            .get(&at)
            .is_none_or(|ask| !ask.in_flight && ask.retry_at.is_none_or(|t| t <= now))
    }

    pub(super) fn asking(&mut self, at: u64) {
        let ask = self.asks.entry(at).or_default();
        ask.in_flight = true;
        ask.retry_at = None;
    }

    /// Takes an answer to the request at `at`; why it is unusable if it does not start
    /// there (each answer must move forward, or a hostile server could keep us asking).
    pub(super) fn answered(&mut self, at: u64, hashes: Vec<RangeHash>) -> Result<(), String> {
        self.asks.remove(&at);
        if !hashes.iter().any(|h| h.offset == at) {
            return Err(format!("the server's hashes do not cover bytes from {at}"));
        }
        for hash in hashes {
            self.known.insert(hash.offset, hash);
        }
        Ok(())
    }

    pub(super) fn answered_badly(&mut self, at: u64) {
        self.asks.remove(&at);
    }

    /// No answer came for `at`: ask again after a pause, or go on without hashes after
    /// `tries` requests.
    pub(super) fn failed(&mut self, at: u64, (tries, pause): (u32, Duration), now: Instant) {
        let ask = self.asks.entry(at).or_default();
        ask.in_flight = false;
        ask.tries += 1;
        if ask.tries >= tries {
            self.refused();
        } else {
            ask.retry_at = Some(now + pause.saturating_mul(1 << (ask.tries - 1).min(8)));
        }
    }

    /// The server gives no hashes for this file.
    pub(super) fn refused(&mut self) {
        if self.mode == HashMode::Wanted {
            self.mode = HashMode::Unavailable;
        }
        self.asks.clear();
    }

    /// Forgets the hashes within `range` (they or the bytes were wrong).
    pub(super) fn forget(&mut self, range: &Range<u64>) {
        self.known.retain(|offset, _| !range.contains(offset));
    }

    /// When a request is to be made again.
    pub(super) fn next_retry(&self) -> Option<Instant> {
        if !self.wanted() {
            return None;
        }
        self.asks
            .values()
            .filter(|a| !a.in_flight)
            .filter_map(|a| a.retry_at)
            .min()
    }
}
