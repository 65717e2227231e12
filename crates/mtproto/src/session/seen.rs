//! The msg_ids recently received from the other side (with their seq_no), in a bounded
//! window: replays and duplicates are found here, and the server checks seq_no order
//! against the neighbours of a new message. Containers are recorded without a seq_no: they
//! only take part in finding duplicates.

use std::collections::BTreeMap;

/// How many containers a neighbour search steps over at most.
const NEIGHBOUR_SCAN: usize = 16;

/// What the window knows of a msg_id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    New,
    Duplicate,
    /// At or below an id the window had to forget: it may or may not have been received.
    Forgotten,
}

#[derive(Debug, Clone)]
pub(crate) struct SeenIds {
    ids: BTreeMap<i64, Option<i32>>,
    capacity: usize,
    /// The highest id evicted for lack of room.
    floor: Option<i64>,
}

impl SeenIds {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            ids: BTreeMap::new(),
            capacity: capacity.max(1),
            floor: None,
        }
    }

    pub(crate) fn check(&self, msg_id: i64) -> Seen {
        if self.ids.contains_key(&msg_id) {
            Seen::Duplicate
        } else if self.floor.is_some_and(|floor| msg_id <= floor) {
            Seen::Forgotten
        } else {
            Seen::New
        }
    }

    /// Records a message, forgetting the lowest id when the window is full.
    pub(crate) fn insert(&mut self, msg_id: i64, seq_no: i32) {
        self.record(msg_id, Some(seq_no));
    }

    /// Records a container's msg_id.
    pub(crate) fn insert_container(&mut self, msg_id: i64) {
        self.record(msg_id, None);
    }

    fn record(&mut self, msg_id: i64, seq_no: Option<i32>) {
        self.ids.insert(msg_id, seq_no);
        while self.ids.len() > self.capacity {
            if let Some((evicted, _)) = self.ids.pop_first() {
                self.floor = Some(self.floor.map_or(evicted, |f| f.max(evicted)));
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn seq_no(&self, msg_id: i64) -> Option<i32> {
        self.ids.get(&msg_id).copied().flatten()
    }

    /// The closest recorded message (not container) below `msg_id`. Only a few containers
    /// are stepped over, so a run of empty containers cannot make this slow.
    pub(crate) fn before(&self, msg_id: i64) -> Option<(i64, i32)> {
        self.ids
            .range(..msg_id)
            .rev()
            .take(NEIGHBOUR_SCAN)
            .find_map(|(id, seq)| seq.map(|seq| (*id, seq)))
    }

    /// The closest recorded message (not container) above `msg_id`.
    pub(crate) fn after(&self, msg_id: i64) -> Option<(i64, i32)> {
        self.ids
            .range(msg_id.saturating_add(1)..)
            .take(NEIGHBOUR_SCAN)
            .find_map(|(id, seq)| seq.map(|seq| (*id, seq)))
    }

    pub(crate) fn lowest(&self) -> Option<i64> {
        self.ids.first_key_value().map(|(id, _)| *id)
    }

    #[cfg(test)]
    pub(crate) fn highest(&self) -> Option<i64> {
        self.ids.last_key_value().map(|(id, _)| *id)
    }

    #[cfg(test)]
    pub(crate) fn floor(&self) -> Option<i64> {
        self.floor
    }

    /// Drops ids below `msg_id` that a time check refuses anyway, without raising the floor.
    pub(crate) fn prune_below(&mut self, msg_id: i64) {
        self.ids = self.ids.split_off(&msg_id);
    }

    /// The `msgs_state_info` status byte for `msg_id`: 4 received (+16 when it needed no
    /// acknowledgment), 3 not received and above everything received, 2 not received within
    /// the range of received ids, 1 nothing known (below the window).
    pub(crate) fn state_of(&self, msg_id: i64) -> u8 {
        if let Some(seq_no) = self.ids.get(&msg_id) {
            return if seq_no.is_some_and(|s| s & 1 == 1) {
                4
            } else {
                4 + 16
            };
        }
        let (Some((&lowest, _)), Some((&highest, _))) =
            (self.ids.first_key_value(), self.ids.last_key_value())
        else {
            return 1;
        };
        if self.floor.is_some_and(|floor| msg_id <= floor) || msg_id < lowest {
            1
        } else if msg_id > highest {
            3
        } else {
            2
        }
    }

    pub(crate) fn clear(&mut self) {
        self.ids.clear();
        self.floor = None;
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_forgotten() {
        let mut seen = SeenIds::new(3);
        for id in [10, 20, 30] {
            assert_eq!(seen.check(id), Seen::New);
            seen.insert(id, 1);
        }
        assert_eq!(seen.check(20), Seen::Duplicate);
        assert_eq!(seen.check(5), Seen::New, "nothing forgotten yet");
        seen.insert(40, 3);
        assert_eq!(seen.len(), 3);
        assert_eq!(seen.check(10), Seen::Forgotten);
        assert_eq!(seen.check(5), Seen::Forgotten);
        assert_eq!(seen.check(15), Seen::New);
        assert_eq!(seen.floor(), Some(10));
        assert_eq!(seen.highest(), Some(40));
    }

    #[test]
    fn neighbours_and_pruning() {
        let mut seen = SeenIds::new(10);
        for (id, seq) in [(10, 1), (20, 3), (30, 4)] {
            seen.insert(id, seq);
        }
        seen.insert_container(25);
        assert_eq!(seen.check(25), Seen::Duplicate);
        assert_eq!(seen.before(20), Some((10, 1)));
        assert_eq!(seen.after(20), Some((30, 4)));
        assert_eq!(seen.before(10), None);
        assert_eq!(seen.after(30), None);
        assert_eq!(seen.seq_no(20), Some(3));
        seen.prune_below(20);
        assert_eq!(seen.len(), 3);
        assert_eq!(seen.check(10), Seen::New);
        assert_eq!(seen.state_of(20), 4);
        assert_eq!(seen.state_of(30), 20);
        assert_eq!(seen.state_of(25), 20);
        assert_eq!(seen.state_of(27), 2);
        assert_eq!(seen.state_of(35), 3);
        assert_eq!(seen.state_of(5), 1);
        seen.clear();
        assert_eq!(seen.len(), 0);
        assert_eq!(seen.state_of(20), 1);
        assert_eq!(seen.after(i64::MAX), None);
    }
}
