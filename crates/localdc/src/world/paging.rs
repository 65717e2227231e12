//! Telegram's history paging (<https://core.telegram.org/api/offsets>) over a list of
//! messages sorted by id, oldest first.
//!
//! The window is taken in the newest-first order clients see: `min_id`/`max_id` bound the
//! candidates (exclusive, 0 = no bound); the window starts at the first message older than
//! `offset_id` (or, when `offset_id` is 0 and `offset_date` is not, the first one sent
//! before `offset_date`; else at the newest); `add_offset` shifts that start (negative
//! shifts towards newer messages, so `offset_id = X, add_offset = -n, limit = n` gives the
//! n messages from X upwards, X included); at most `limit` (capped at 100) are returned.

/// The largest page Telegram returns.
pub const MAX_LIMIT: i32 = 100;

/// The paging parameters of `messages.getHistory`/`messages.search`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub offset_id: i32,
    pub offset_date: i32,
    pub add_offset: i32,
    pub limit: i32,
    pub max_id: i32,
    pub min_id: i32,
}

/// What an item exposes to paging.
pub trait Paged {
    fn id(&self) -> i32;
    fn date(&self) -> i32;
}

/// The page of `items` (sorted by id ascending) that `window` selects, newest first.
pub fn page<'a, T: Paged>(items: &[&'a T], window: &Window) -> Vec<&'a T> {
    // Candidates within (min_id, max_id), still oldest first.
    let lo = items.partition_point(|m| window.min_id > 0 && m.id() <= window.min_id);
    let hi = if window.max_id > 0 {
        items.partition_point(|m| m.id() < window.max_id)
    } else {
        items.len()
    };
    let candidates = items.get(lo..hi.max(lo)).unwrap_or_default();
    // Index, in newest-first order, of the first message the window may start at.
    let newer_than_start = if window.offset_id > 0 {
        candidates.len() - candidates.partition_point(|m| m.id() < window.offset_id)
    } else if window.offset_date > 0 {
        // Dates grow with ids in every world localdc serves, but do not rely on it:
        // count the candidates sent at or after offset_date.
        candidates
            .iter()
            .filter(|m| m.date() >= window.offset_date)
            .count()
    } else {
        0
    };
    let start = i64::try_from(newer_than_start).unwrap_or(i64::MAX) + i64::from(window.add_offset);
    let limit = i64::from(window.limit.clamp(0, MAX_LIMIT));
    let (from, to) = (start.max(0), (start + limit).max(0));
    let len = i64::try_from(candidates.len()).unwrap_or(i64::MAX);
    let (from, to) = (from.min(len) as usize, to.min(len) as usize);
    candidates
        .iter()
        .rev()
        .skip(from)
        .take(to - from)
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct M(i32);
    impl Paged for M {
        fn id(&self) -> i32 {
            self.0
        }
        fn date(&self) -> i32 {
            1000 + self.0 * 10
        }
    }

    fn ids(items: &[M], w: Window) -> Vec<i32> {
        let refs: Vec<&M> = items.iter().collect();
        page(&refs, &w).iter().map(|m| m.0).collect()
    }

    fn w(offset_id: i32, add_offset: i32, limit: i32) -> Window {
        Window {
            offset_id,
            add_offset,
            limit,
            ..Window::default()
        }
    }

    #[test]
    fn pages_like_telegram() {
        let items: Vec<M> = (1..=10).map(M).collect();
        assert_eq!(ids(&items, w(0, 0, 3)), vec![10, 9, 8]);
        assert_eq!(ids(&items, w(8, 0, 3)), vec![7, 6, 5]);
        assert_eq!(ids(&items, w(2, 0, 3)), vec![1]);
        assert_eq!(ids(&items, w(5, -2, 4)), vec![6, 5, 4, 3]);
        assert_eq!(ids(&items, w(5, -3, 3)), vec![7, 6, 5]);
        assert_eq!(ids(&items, w(0, 8, 5)), vec![2, 1]);
        assert_eq!(ids(&items, w(0, -5, 3)), Vec::<i32>::new());
        assert_eq!(ids(&items, w(0, 0, 500)).len(), 10);
        let bounded = Window {
            max_id: 9,
            min_id: 3,
            limit: 100,
            ..Window::default()
        };
        assert_eq!(ids(&items, bounded), vec![8, 7, 6, 5, 4]);
        let by_date = Window {
            offset_date: 1000 + 40,
            limit: 2,
            ..Window::default()
        };
        assert_eq!(ids(&items, by_date), vec![3, 2]);
    }

    #[test]
    fn paging_by_offset_id_visits_everything_once() {
        let items: Vec<M> = (1..=1000).map(M).collect();
        let mut seen = Vec::new();
        let mut offset = 0;
        loop {
            let page = ids(&items, w(offset, 0, 100));
            let Some(last) = page.last() else { break };
            offset = *last;
            seen.extend(page);
        }
        assert_eq!(seen, (1..=1000).rev().collect::<Vec<_>>());
    }
}
