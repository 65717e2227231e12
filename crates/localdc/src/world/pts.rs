//! Update boxes: the event log behind Telegram's `pts`, and the answer to a difference
//! request read from it. Pure: no TL, no clock, no locks (the world owns the boxes and
//! turns events into TL objects).
//!
//! Telegram keeps one box per channel and one common box per account (basic groups and
//! private chats; core.telegram.org/api/updates). Every event moves the box's `pts` by its
//! `pts_count` (1 for a new or edited message, the number of messages for a deletion) and
//! carries the `pts` after it. A client holding `pts = p` is owed every event whose `pts`
//! is above `p`.

use std::collections::VecDeque;

/// One event in a box: the box's `pts` after it, how much it moved it, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged<E> {
    pub pts: i32,
    pub pts_count: i32,
    pub date: i32,
    pub event: E,
}

/// What a box answers a client at `pts`.
#[derive(Debug, PartialEq, Eq)]
pub enum Difference<'a, E> {
    /// Nothing is owed: the client is at the box's `pts`.
    Empty { pts: i32 },
    /// The events owed, oldest first, at most the limit asked for: `pts` is the state after
    /// them, and `last` says whether they reach the box's current `pts`.
    Events {
        events: Vec<&'a Logged<E>>,
        pts: i32,
        last: bool,
    },
    /// Too much is owed (more than the too-long limit, events the box no longer keeps, or
    /// a `pts` the box never had): the client must start over from `pts`.
    TooLong { pts: i32 },
}

/// An event log with its `pts`.
#[derive(Debug, Clone)]
pub struct UpdateBox<E> {
    pts: i32,
    /// The `pts` before the oldest event kept.
    floor: i32,
    /// When the newest event happened (the box's `date`).
    date: i32,
    events: VecDeque<Logged<E>>,
    /// Events kept at most; older ones are forgotten (a client behind them gets `TooLong`).
    keep: usize,
}

impl<E> UpdateBox<E> {
    /// A box at `pts`, with no event before it, keeping at most `keep` events.
    pub fn new(pts: i32, date: i32, keep: usize) -> Self {
        Self {
            pts,
            floor: pts,
            date,
            events: VecDeque::new(),
            keep: keep.max(1),
        }
    }

    /// The current `pts`.
    pub fn pts(&self) -> i32 {
        self.pts
    }

    /// When the newest event happened (or the box was made).
    pub fn date(&self) -> i32 {
        self.date
    }

    /// Keeps at most `keep` events from now on (forgetting the oldest past it).
    pub fn set_keep(&mut self, keep: usize) {
        self.keep = keep.max(1);
        self.trim(self.keep);
    }

    /// Forgets the oldest events until at most `room` are left.
    fn trim(&mut self, room: usize) {
        while self.events.len() > room {
            if let Some(old) = self.events.pop_front() {
                self.floor = old.pts;
            }
        }
    }

    /// Appends an event moving `pts` by `pts_count` (at least 1); the `pts` after it.
    pub fn push(&mut self, pts_count: i32, date: i32, event: E) -> i32 {
        let pts_count = pts_count.max(1);
        self.pts = self.pts.saturating_add(pts_count);
        self.date = self.date.max(date);
        self.trim(self.keep - 1);
        self.events.push_back(Logged {
            pts: self.pts,
            pts_count,
            date,
            event,
        });
        self.pts
    }

    /// What a client at `from` is owed: at most `limit` events (at least one), or
    /// `TooLong` when more than `too_long` pts are owed.
    pub fn difference(&self, from: i32, limit: usize, too_long: u32) -> Difference<'_, E> {
        if from == self.pts {
            return Difference::Empty { pts: self.pts };
        }
        let owed = i64::from(self.pts) - i64::from(from);
        if from > self.pts || from < self.floor || owed > i64::from(too_long) {
            return Difference::TooLong { pts: self.pts };
        }
        let events: Vec<&Logged<E>> = self
            .events
            .iter()
            .filter(|e| e.pts > from)
            .take(limit.max(1))
            .collect();
        let pts = events.last().map_or(self.pts, |e| e.pts);
        Difference::Events {
            events,
            pts,
            last: pts == self.pts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(n: i32) -> UpdateBox<i32> {
        let mut b = UpdateBox::new(10, 100, 1000);
        for i in 0..n {
            b.push(1, 100 + i, i);
        }
        b
    }

    fn events(d: &Difference<'_, i32>) -> Vec<i32> {
        match d {
            Difference::Events { events, .. } => events.iter().map(|e| e.event).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn a_client_at_the_current_pts_is_owed_nothing() {
        let b = filled(3);
        assert_eq!(b.pts(), 13);
        assert_eq!(b.difference(13, 100, 1000), Difference::Empty { pts: 13 });
    }

    #[test]
    fn small_limits_page_through_every_event_once_and_the_last_page_says_so() {
        let b = filled(7);
        let mut at = 10;
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let d = b.difference(at, 3, 1000);
            seen.extend(events(&d));
            pages += 1;
            match d {
                Difference::Events { pts, last, .. } => {
                    at = pts;
                    if last {
                        break;
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(seen, (0..7).collect::<Vec<_>>());
        assert_eq!(pages, 3);
        assert_eq!(at, 17);
        assert_eq!(b.difference(at, 3, 1000), Difference::Empty { pts: 17 });
    }

    #[test]
    fn deletions_move_pts_by_their_count() {
        let mut b = filled(2);
        assert_eq!(b.push(3, 200, 99), 15);
        assert_eq!(b.date(), 200);
        // A client in the middle of the deletion's range still gets it.
        assert_eq!(events(&b.difference(13, 10, 1000)), vec![99]);
        assert_eq!(events(&b.difference(11, 10, 1000)), vec![1, 99]);
    }

    #[test]
    fn too_much_owed_forgotten_or_unknown_pts_are_too_long() {
        let b = filled(20);
        assert_eq!(b.difference(10, 5, 19), Difference::TooLong { pts: 30 });
        assert_eq!(events(&b.difference(10, 5, 20)).len(), 5);
        // Ahead of the box: a pts it never had.
        assert_eq!(b.difference(31, 5, 100), Difference::TooLong { pts: 30 });
        // Before the box was made.
        assert_eq!(b.difference(9, 5, 100), Difference::TooLong { pts: 30 });
        // Events past `keep` are forgotten.
        let mut small = UpdateBox::new(0, 0, 4);
        for i in 0..6 {
            small.push(1, 0, i);
        }
        assert_eq!(small.difference(1, 10, 100), Difference::TooLong { pts: 6 });
        assert_eq!(events(&small.difference(2, 10, 100)), vec![2, 3, 4, 5]);
        small.set_keep(2);
        assert_eq!(small.difference(3, 10, 100), Difference::TooLong { pts: 6 });
        assert_eq!(events(&small.difference(4, 10, 100)), vec![4, 5]);
    }
}
