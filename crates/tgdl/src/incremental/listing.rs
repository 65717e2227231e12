//! Which listings of a chat a run makes, given the chat's mark: a pure state machine,
//! driven by the planner ([`Lister::next_listing`], [`Lister::observe`] per message,
//! [`Lister::ended`] per listing).
//!
//! Without a mark (a first run, `--full`): one listing of everything the filters bound.
//! With a mark M:
//! 1. one page of the newest [`PAGE`] messages: those above M are new, those at or below
//!    it are re-checked for edits that replaced their media. With fewer than a page of new
//!    messages (the usual rerun) this one call is the whole listing.
//! 2. when the whole page was new, the rest down to the mark (`min_id` paging, newest
//!    first, ending at the mark), then
//! 3. one page of the newest messages at or below M, to re-check.
//!
//! So a rerun after N new messages makes about N/100 + 1 history calls, however long the
//! history. The listing is *complete* when it went down to the mark (or to the bottom of
//! what the filters allow) without being cut short; only a complete listing may advance
//! the mark.

/// Telegram's largest history page; also how many of the newest messages below the mark
/// are re-checked when the first page does not reach them.
pub const PAGE: usize = 100;

/// One listing to make: ids bounds (inclusive) and a cap on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Request {
    pub min_id: Option<i32>,
    pub max_id: Option<i32>,
    pub limit: Option<usize>,
}

/// What a listed message is to the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Newer than the mark (or listed in full): planned when the filters want it.
    New,
    /// At or below the mark: planned only if its media is not archived yet (an edit
    /// replaced it, or added one).
    Recheck,
}

/// What the listings covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Coverage {
    /// The highest id listed as new.
    pub top: Option<i32>,
    /// Whether everything between the mark (or the bottom) and `top` was listed.
    pub complete: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Everything, once.
    Full,
    /// The first page above and around the mark.
    First,
    /// The rest down to the mark, below `below`.
    Rest {
        below: i32,
    },
    /// The newest page at or below the mark.
    Recheck,
    Done,
}

/// The listings of one chat.
#[derive(Debug, Clone)]
pub struct Lister {
    mark: Option<i32>,
    /// The filters' id bounds (inclusive).
    min_id: Option<i32>,
    max_id: Option<i32>,
    stage: Stage,
    /// Messages seen by the listing in progress, and the lowest id among them.
    seen: usize,
    lowest: Option<i32>,
    coverage: Coverage,
}

impl Lister {
    /// The listings of a chat whose mark is `mark` (none: list everything), within the
    /// filters' id bounds.
    pub fn new(mark: Option<i32>, min_id: Option<i32>, max_id: Option<i32>) -> Self {
        Self {
            mark,
            min_id,
            max_id,
            stage: if mark.is_some() {
                Stage::First
            } else {
                Stage::Full
            },
            seen: 0,
            lowest: None,
            coverage: Coverage::default(),
        }
    }

    /// The listing to make next; `None` once done.
    pub fn next_listing(&mut self) -> Option<Request> {
        self.seen = 0;
        self.lowest = None;
        let bounds = Request {
            min_id: self.min_id,
            max_id: self.max_id,
            limit: None,
        };
        match (self.stage, self.mark) {
            (Stage::Full, _) => Some(bounds),
            (Stage::First, _) => Some(Request {
                limit: Some(PAGE),
                ..bounds
            }),
            (Stage::Rest { below }, Some(mark)) => {
                let lowest_new = self.min_id.map_or(mark.saturating_add(1), |min| {
                    min.max(mark.saturating_add(1))
                });
                if below <= lowest_new {
                    // The first page ended right at the mark: nothing between.
                    self.coverage.complete = true;
                    self.stage = Stage::Recheck;
                    return self.next_listing();
                }
                Some(Request {
                    min_id: Some(lowest_new),
                    max_id: Some(below.saturating_sub(1)),
                    limit: None,
                })
            }
            (Stage::Recheck, Some(mark)) => {
                let top = self.max_id.map_or(mark, |max| max.min(mark));
                if self.min_id.is_some_and(|min| min > top) {
                    self.stage = Stage::Done;
                    return None;
                }
                Some(Request {
                    min_id: self.min_id,
                    max_id: Some(top),
                    limit: Some(PAGE),
                })
            }
            _ => None,
        }
    }

    /// Takes note of message `id` of the listing in progress: what it is to the plan.
    pub fn observe(&mut self, id: i32) -> Role {
        self.seen += 1;
        self.lowest = Some(self.lowest.map_or(id, |low| low.min(id)));
        let new = match self.stage {
            Stage::Recheck => false,
            _ => self.mark.is_none_or(|mark| id > mark),
        };
        if new {
            self.coverage.top = Some(self.coverage.top.map_or(id, |top| top.max(id)));
            Role::New
        } else {
            Role::Recheck
        }
    }

    /// The listing in progress ended: by itself, or `stopped` by the plan (full).
    pub fn ended(&mut self, stopped: bool) {
        if stopped {
            // A listing cut short says nothing about what is below where it stopped (a
            // re-check cut short loses nothing: everything new was listed before it).
            if self.stage != Stage::Recheck {
                self.coverage.complete = false;
            }
            self.stage = Stage::Done;
            return;
        }
        self.stage = match (self.stage, self.mark, self.lowest) {
            // Reached the mark, or the page was not full: nothing more is new.
            (Stage::First, Some(mark), Some(lowest)) if lowest > mark && self.seen >= PAGE => {
                Stage::Rest { below: lowest }
            }
            (Stage::Rest { .. }, _, _) => {
                self.coverage.complete = true;
                Stage::Recheck
            }
            (Stage::Full | Stage::First, _, _) => {
                self.coverage.complete = true;
                Stage::Done
            }
            _ => Stage::Done,
        };
    }

    /// What was covered (final once [`Lister::next_listing`] returned `None`).
    pub fn coverage(&self) -> Coverage {
        self.coverage
    }
}

/// The mark after a run: the highest id below which every wanted file is archived.
/// `unfinished` is the lowest message id of the listing's files that did not finish
/// (failed, or not run because the run stopped): the mark goes just below it, lower than
/// before if need be, so that the next run lists it again. Only a complete listing moves
/// the mark up. `None`: nothing to record.
pub fn next_mark(old: Option<i32>, coverage: Coverage, unfinished: Option<i32>) -> Option<i32> {
    let reached = match (coverage.complete, coverage.top) {
        (true, Some(top)) => Some(old.map_or(top, |old| old.max(top))),
        // Complete and nothing new: the mark stands; a first run of an empty chat has
        // nothing to mark.
        _ => old,
    };
    match (reached, unfinished) {
        (Some(reached), Some(unfinished)) => Some(reached.min(unfinished.saturating_sub(1))),
        (reached, _) => reached,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    /// A chat of messages `1..=top` (every id present), listed the way the planner does
    /// with Telegram's paging: returns the requests made (one history call per page of
    /// `PAGE`, and the empty page that ends an unbounded listing), the messages by role,
    /// and the coverage. `stop_after` cuts the plan short after that many messages.
    fn drive(
        lister: &mut Lister,
        top: i32,
        stop_after: Option<usize>,
    ) -> (usize, Vec<i32>, Vec<i32>, Coverage) {
        let (mut calls, mut new, mut recheck) = (0, Vec::new(), Vec::new());
        let mut taken = 0;
        while let Some(request) = lister.next_listing() {
            let high = request.max_id.map_or(top, |max| max.min(top));
            let low = request.min_id.unwrap_or(1).max(1);
            let ids: Vec<i32> = (low..=high).rev().collect();
            let ids = match request.limit {
                Some(limit) => ids.into_iter().take(limit).collect::<Vec<_>>(),
                None => ids,
            };
            // Pages of 100, as `tgclient`'s iterator asks them: one that has all its
            // limit asks no more; otherwise an empty page tells it the listing is over.
            calls += match request.limit {
                Some(limit) if ids.len() >= limit => limit.div_ceil(PAGE),
                _ => ids.len().div_ceil(PAGE) + 1,
            };
            let mut stopped = false;
            for id in ids {
                if stop_after.is_some_and(|n| taken >= n) {
                    stopped = true;
                    break;
                }
                taken += 1;
                match lister.observe(id) {
                    Role::New => new.push(id),
                    Role::Recheck => recheck.push(id),
                }
            }
            lister.ended(stopped);
        }
        (calls, new, recheck, lister.coverage())
    }

    #[test]
    fn without_a_mark_everything_is_listed_once() {
        let mut lister = Lister::new(None, None, None);
        let (_, new, recheck, coverage) = drive(&mut lister, 1000, None);
        assert_eq!(new.len(), 1000);
        assert!(recheck.is_empty());
        assert_eq!(
            coverage,
            Coverage {
                top: Some(1000),
                complete: true
            }
        );
        assert_eq!(next_mark(None, coverage, None), Some(1000));
    }

    #[test]
    fn a_few_new_messages_take_one_call_and_the_rest_of_the_page_is_rechecked() {
        let mut lister = Lister::new(Some(100_000), None, None);
        let (calls, new, recheck, coverage) = drive(&mut lister, 100_010, None);
        assert_eq!(calls, 1);
        assert_eq!(new, (100_001..=100_010).rev().collect::<Vec<_>>());
        assert_eq!(recheck, (99_911..=100_000).rev().collect::<Vec<_>>());
        assert!(coverage.complete);
        assert_eq!(next_mark(Some(100_000), coverage, None), Some(100_010));
        // Nothing new: one call, the mark stands.
        let mut lister = Lister::new(Some(100_000), None, None);
        let (calls, new, recheck, coverage) = drive(&mut lister, 100_000, None);
        assert_eq!((calls, new.len(), recheck.len()), (1, 0, PAGE));
        assert_eq!(next_mark(Some(100_000), coverage, None), Some(100_000));
    }

    #[test]
    fn many_new_messages_page_down_to_the_mark_then_recheck_one_page() {
        for n in [100, 250, 1000] {
            let mut lister = Lister::new(Some(5000), None, None);
            let (calls, new, recheck, coverage) = drive(&mut lister, 5000 + n, None);
            assert_eq!(new, (5001..=5000 + n).rev().collect::<Vec<_>>(), "{n}");
            assert_eq!(recheck, (4901..=5000).rev().collect::<Vec<_>>(), "{n}");
            assert!(coverage.complete);
            let n = usize::try_from(n).unwrap();
            assert!(calls <= n / PAGE + 3, "{n} new: {calls} calls");
            assert_eq!(next_mark(Some(5000), coverage, None), Some(5000 + n as i32));
        }
    }

    #[test]
    fn filter_bounds_hold_in_every_listing() {
        // The filters want ids 4000..=5100; the mark is 5000.
        let mut lister = Lister::new(Some(5000), Some(4000), Some(5100));
        let (_, new, recheck, coverage) = drive(&mut lister, 9000, None);
        assert_eq!(new, (5001..=5100).rev().collect::<Vec<_>>());
        assert_eq!(recheck, (4901..=5000).rev().collect::<Vec<_>>());
        assert_eq!(coverage.top, Some(5100));
        // A mark below the filters' lowest id: nothing below it is wanted, no re-check.
        let mut lister = Lister::new(Some(10), Some(4000), None);
        let (_, new, recheck, _) = drive(&mut lister, 4150, None);
        assert_eq!(new.len(), 151);
        assert!(recheck.is_empty());
    }

    #[test]
    fn a_listing_cut_short_does_not_advance_the_mark() {
        let mut lister = Lister::new(None, None, None);
        let (_, _, _, coverage) = drive(&mut lister, 500, Some(50));
        assert!(!coverage.complete);
        assert_eq!(next_mark(None, coverage, None), None);
        let mut lister = Lister::new(Some(100), None, None);
        let (_, _, _, coverage) = drive(&mut lister, 500, Some(150));
        assert!(!coverage.complete);
        assert_eq!(next_mark(Some(100), coverage, None), Some(100));
        // Cut short in the re-check: everything new was listed.
        let mut lister = Lister::new(Some(100), None, None);
        let (_, new, _, coverage) = drive(&mut lister, 300, Some(210));
        assert_eq!(new.len(), 200);
        assert!(coverage.complete);
        assert_eq!(next_mark(Some(100), coverage, None), Some(300));
    }

    #[test]
    fn the_mark_stays_below_the_lowest_file_that_did_not_finish() {
        let listed = Coverage {
            top: Some(900),
            complete: true,
        };
        assert_eq!(next_mark(None, listed, Some(400)), Some(399));
        assert_eq!(next_mark(Some(300), listed, Some(400)), Some(399));
        // A re-checked file below the mark that did not finish lowers it, so that the
        // next run lists that message again.
        assert_eq!(next_mark(Some(500), listed, Some(450)), Some(449));
        assert_eq!(
            next_mark(Some(500), Coverage::default(), Some(450)),
            Some(449)
        );
        assert_eq!(next_mark(None, listed, Some(1)), Some(0));
    }
}
