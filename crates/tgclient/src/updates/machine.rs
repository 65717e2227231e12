//! Telegram's update sequences as a pure state machine, on explicit instants.
//!
//! The rules are core.telegram.org/api/updates, read the way Telethon's `messagebox.py`,
//! grammers' `message_box` and TDLib's `UpdatesManager` carry them out:
//!
//! - The common box (private chats and basic groups) has `pts`, `qts`, `seq` and `date`;
//!   each channel has a `pts` of its own.
//! - An update with `pts` and `pts_count` applies when `local_pts + pts_count == pts`, was
//!   already applied when the left side is larger, and shows a gap when it is smaller: the
//!   update is held for [`POSSIBLE_GAP_TIMEOUT`] in case the missing ones arrive out of
//!   order, then the difference is fetched (`updates.getDifference`, or
//!   `updates.getChannelDifference` for a channel).
//! - A container with `seq` applies when `local_seq + 1 == seq_start`; an older one was
//!   already applied; a newer one means a gap, recovered with a difference at once (as
//!   Telethon and grammers do).
//! - `updatesTooLong` and `updateChannelTooLong` ask for a difference; a `differenceSlice`
//!   continues from its `intermediate_state`; `differenceTooLong` resets the common `pts`
//!   and `channelDifferenceTooLong` the channel's, and both mean the history of the chats
//!   involved must be listed again from the last message known ([`Output::Relist`]).
//! - A channel difference that is not `final` is continued at once; its `timeout` is how
//!   long to wait before polling the channel again. Without updates for
//!   [`NO_UPDATES_TIMEOUT`] the common box is polled too.
//!
//! Updates that arrive while a difference for their box is in flight are held and checked
//! again against the state the difference leaves (Telethon drops them; holding loses
//! nothing the server sent between its answer and ours).
//!
//! The payload `T` is whatever the caller wants delivered (the client's event type; plain
//! numbers in the tests). The machine decides order and duplicates, never reads a clock
//! and does no I/O: the driver (`updates::follow`) asks [`Machine::next_request`] what to
//! fetch and feeds the answers back.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long an update that shows a gap is held before the difference is fetched (Telethon
/// and grammers wait 0.5 s; TDLib waits about as long).
pub const POSSIBLE_GAP_TIMEOUT: Duration = Duration::from_millis(500);

/// How long without any update before the difference is fetched anyway (Telethon,
/// grammers and TDLib poll after about 15 minutes).
pub const NO_UPDATES_TIMEOUT: Duration = Duration::from_mins(15);

/// `limit` of `updates.getChannelDifference` for a user account (Telegram allows bots more;
/// grammers uses 100 and 100,000).
pub const CHANNEL_DIFFERENCE_LIMIT_USER: i32 = 100;
/// `limit` of `updates.getChannelDifference` for a bot.
pub const CHANNEL_DIFFERENCE_LIMIT_BOT: i32 = 100_000;

/// A box with a sequence of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entry {
    /// The common box: private chats, basic groups.
    Common,
    /// One channel (or supergroup), by its bare id.
    Channel(i64),
}

/// The state of the common box, as `updates.getState` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommonState {
    pub pts: i32,
    pub qts: i32,
    pub seq: i32,
    pub date: i32,
}

/// An update that belongs to a `pts` sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtsUpdate<T> {
    pub entry: Entry,
    pub pts: i32,
    pub pts_count: i32,
    pub payload: T,
}

/// One update, as far as sequencing cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<T> {
    /// Checked against its box's `pts`.
    Pts(PtsUpdate<T>),
    /// Outside any sequence (or in one the machine does not keep, like `qts`): applied as
    /// it comes.
    Plain(T),
    /// `updateChannelTooLong`: the channel has news to fetch with a difference.
    ChannelTooLong { channel_id: i64, pts: Option<i32> },
}

/// A container of updates (`updates`, `updatesCombined`, `updateShort...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch<T> {
    /// `seq_start` (`seq` for `updates`); 0 when the container has no sequence.
    pub seq_start: i32,
    pub seq: i32,
    pub date: i32,
    pub items: Vec<Item<T>>,
}

/// What the server pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming<T> {
    /// `updatesTooLong`, or anything else that means "fetch the difference" (the server
    /// started a new session, or the connection was down: pushed updates may have been
    /// lost). Every box fetches its difference.
    TooLong,
    Batch(Batch<T>),
}

/// An answer to `updates.getDifference`, in the machine's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference<T> {
    Empty {
        date: i32,
        seq: i32,
    },
    /// `updates.difference` (`done`) or `updates.differenceSlice` (not done: `state` is the
    /// intermediate state to continue from).
    Some {
        new_messages: Vec<T>,
        other_updates: Vec<Item<T>>,
        state: CommonState,
        done: bool,
    },
    TooLong {
        pts: i32,
    },
}

/// An answer to `updates.getChannelDifference`, in the machine's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelDifference<T> {
    Empty {
        pts: i32,
        timeout: Option<i32>,
    },
    Some {
        is_final: bool,
        pts: i32,
        timeout: Option<i32>,
        new_messages: Vec<T>,
        other_updates: Vec<Item<T>>,
    },
    /// `channelDifferenceTooLong`: `pts` is the dialog's, `top_message` its newest message.
    TooLong {
        pts: i32,
        timeout: Option<i32>,
        top_message: i32,
    },
}

/// What the driver must fetch next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Difference(CommonState),
    ChannelDifference {
        channel_id: i64,
        pts: i32,
        limit: i32,
    },
}

impl Request {
    /// The box the request is for.
    pub fn entry(&self) -> Entry {
        match self {
            Request::Difference(_) => Entry::Common,
            Request::ChannelDifference { channel_id, .. } => Entry::Channel(*channel_id),
        }
    }
}

/// What the machine hands the driver, in the order it must be handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output<T> {
    Apply(T),
    /// Updates were lost for good: list the history of the chats of `entry` again, newer
    /// than the last message known (up to `top_message` when the server said it).
    Relist {
        entry: Entry,
        top_message: Option<i32>,
    },
}

/// What the machine remembers across runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub common: CommonState,
    /// Channel id and `pts` (`None` while not known yet).
    pub channels: Vec<(i64, Option<i32>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Diff {
    No,
    Wanted,
    InFlight,
}

/// One `pts` sequence: what is applied, what is held, when to look again.
#[derive(Debug)]
struct Sequence<T> {
    pts: Option<i32>,
    held: Vec<PtsUpdate<T>>,
    gap_deadline: Option<Instant>,
    poll_at: Instant,
    poll_every: Duration,
    diff: Diff,
}

impl<T> Sequence<T> {
    fn new(pts: Option<i32>, now: Instant) -> Self {
        Self {
            pts,
            held: Vec::new(),
            gap_deadline: None,
            poll_at: now + NO_UPDATES_TIMEOUT,
            poll_every: NO_UPDATES_TIMEOUT,
            diff: Diff::No,
        }
    }

    fn want_diff(&mut self) {
        if self.diff == Diff::No {
            self.diff = Diff::Wanted;
        }
    }

    /// Takes one update: applies it (into `out`), drops it as already applied, or holds it.
    fn offer(&mut self, update: PtsUpdate<T>, now: Instant, out: &mut Vec<Output<T>>) {
        if self.diff != Diff::No {
            self.held.push(update);
            return;
        }
        let Some(local) = self.pts else {
            // The first update of a box never seen: nothing to compare with (Telethon).
            self.apply(update, now, out);
            return;
        };
        match local.saturating_add(update.pts_count).cmp(&update.pts) {
            std::cmp::Ordering::Equal => {
                self.apply(update, now, out);
                self.drain_held(now, out);
            }
            std::cmp::Ordering::Greater => {
                tracing::trace!(pts = update.pts, local, "update already applied");
            }
            std::cmp::Ordering::Less => {
                tracing::debug!(pts = update.pts, local, "update gap; holding");
                self.held.push(update);
                self.gap_deadline.get_or_insert(now + POSSIBLE_GAP_TIMEOUT);
            }
        }
    }

    fn apply(&mut self, update: PtsUpdate<T>, now: Instant, out: &mut Vec<Output<T>>) {
        self.pts = Some(update.pts);
        self.poll_at = now + self.poll_every;
        out.push(Output::Apply(update.payload));
    }

    /// Applies the held updates that now fit, drops those already applied, keeps the rest
    /// (with the gap deadline they had, or a new one).
    fn drain_held(&mut self, now: Instant, out: &mut Vec<Output<T>>) {
        if self.held.is_empty() {
            self.gap_deadline = None;
            return;
        }
        let mut held = std::mem::take(&mut self.held);
        held.sort_by_key(|u| u.pts.saturating_sub(u.pts_count));
        for update in held {
            match self.pts {
                None => self.apply(update, now, out),
                Some(local) => match local.saturating_add(update.pts_count).cmp(&update.pts) {
                    std::cmp::Ordering::Equal => self.apply(update, now, out),
                    std::cmp::Ordering::Less => self.held.push(update),
                    std::cmp::Ordering::Greater => {}
                },
            }
        }
        if self.held.is_empty() {
            self.gap_deadline = None;
        } else if self.gap_deadline.is_none() {
            self.gap_deadline = Some(now + POSSIBLE_GAP_TIMEOUT);
        }
    }

    /// A difference for this box ended at `pts`: back to following pushed updates.
    fn end_diff(&mut self, now: Instant, out: &mut Vec<Output<T>>) {
        self.diff = Diff::No;
        self.gap_deadline = None;
        self.poll_at = now + self.poll_every;
        self.drain_held(now, out);
    }

    fn next_deadline(&self) -> Option<Instant> {
        if self.diff != Diff::No {
            return None;
        }
        Some(match self.gap_deadline {
            Some(gap) => gap.min(self.poll_at),
            None => self.poll_at,
        })
    }

    fn check_deadlines(&mut self, now: Instant) {
        if self.diff != Diff::No {
            return;
        }
        let gap_due = self.gap_deadline.is_some_and(|d| d <= now);
        if gap_due || self.poll_at <= now {
            if gap_due {
                tracing::debug!(held = self.held.len(), "update gap not filled in time");
            }
            self.diff = Diff::Wanted;
        }
    }
}

/// The update state of the common box and of the followed channels.
#[derive(Debug)]
pub struct Machine<T> {
    common: CommonState,
    common_seq: Sequence<T>,
    channels: BTreeMap<i64, Sequence<T>>,
    channel_limit: i32,
}

impl<T> Machine<T> {
    /// A machine resuming from `common` (from `updates.getState` or the session).
    pub fn new(common: CommonState, channel_limit: i32, now: Instant) -> Self {
        Self {
            common,
            common_seq: Sequence::new(Some(common.pts), now),
            channels: BTreeMap::new(),
            channel_limit,
        }
    }

    /// Follows channel `channel_id` from `pts` (`None`: from its first update). A known
    /// channel keeps its state.
    pub fn follow_channel(&mut self, channel_id: i64, pts: Option<i32>, now: Instant) {
        self.channels
            .entry(channel_id)
            .or_insert_with(|| Sequence::new(pts, now));
    }

    /// Stops following a channel (it became private, or we left it).
    pub fn unfollow_channel(&mut self, channel_id: i64) {
        self.channels.remove(&channel_id);
    }

    /// Whether `channel_id` is followed.
    pub fn follows_channel(&self, channel_id: i64) -> bool {
        self.channels.contains_key(&channel_id)
    }

    /// The state to save.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            common: CommonState {
                pts: self.common_seq.pts.unwrap_or(self.common.pts),
                ..self.common
            },
            channels: self.channels.iter().map(|(id, s)| (*id, s.pts)).collect(),
        }
    }

    /// Asks for a difference of `entry` as soon as the driver can (a new server session,
    /// a reconnect, a consumer's request).
    pub fn request_difference(&mut self, entry: Entry) {
        if let Some(sequence) = self.sequence_mut(entry) {
            sequence.want_diff();
        }
    }

    /// Takes what the server pushed.
    pub fn handle_incoming(&mut self, incoming: Incoming<T>, now: Instant) -> Vec<Output<T>> {
        let mut out = Vec::new();
        match incoming {
            // Whatever was lost may have been in any box: a channel's updates do not all
            // come back through the common difference (only as `updateChannelTooLong`, when
            // the server thinks of it), so every followed channel is asked too.
            Incoming::TooLong => {
                self.common_seq.want_diff();
                for sequence in self.channels.values_mut() {
                    sequence.want_diff();
                }
            }
            Incoming::Batch(batch) => self.handle_batch(batch, now, &mut out),
        }
        out
    }

    fn handle_batch(&mut self, batch: Batch<T>, now: Instant, out: &mut Vec<Output<T>>) {
        let sequenced = batch.seq_start != 0 && self.common_seq.diff == Diff::No;
        if sequenced {
            let expected = self.common.seq.saturating_add(1);
            let in_order = match expected.cmp(&batch.seq_start) {
                std::cmp::Ordering::Equal => true,
                std::cmp::Ordering::Greater => {
                    tracing::trace!(
                        seq = batch.seq_start,
                        local = self.common.seq,
                        "container already applied"
                    );
                    false
                }
                std::cmp::Ordering::Less => {
                    tracing::debug!(seq = batch.seq_start, local = self.common.seq, "seq gap");
                    self.common_seq.want_diff();
                    false
                }
            };
            if !in_order {
                // The common difference answers for the common box; a channel's updates
                // have their own pts to be judged by (they are not in that difference).
                for item in batch.items {
                    let channel = match &item {
                        Item::Pts(update) => matches!(update.entry, Entry::Channel(_)),
                        Item::ChannelTooLong { .. } => true,
                        Item::Plain(_) => false,
                    };
                    if channel {
                        self.offer_item(item, now, out);
                    }
                }
                return;
            }
        }
        for item in batch.items {
            self.offer_item(item, now, out);
        }
        if sequenced {
            self.common.seq = batch.seq;
            self.common.date = batch.date;
        }
    }

    fn offer_item(&mut self, item: Item<T>, now: Instant, out: &mut Vec<Output<T>>) {
        match item {
            Item::Plain(payload) => out.push(Output::Apply(payload)),
            Item::ChannelTooLong { channel_id, .. } => {
                if let Some(sequence) = self.channels.get_mut(&channel_id) {
                    sequence.want_diff();
                }
            }
            Item::Pts(update) => {
                if let Some(sequence) = self.sequence_mut(update.entry) {
                    sequence.offer(update, now, out);
                }
            }
        }
    }

    fn sequence_mut(&mut self, entry: Entry) -> Option<&mut Sequence<T>> {
        match entry {
            Entry::Common => Some(&mut self.common_seq),
            Entry::Channel(id) => self.channels.get_mut(&id),
        }
    }

    /// Runs what is due at `now` (gaps not filled in time, boxes quiet for too long).
    pub fn check_deadlines(&mut self, now: Instant) {
        self.common_seq.check_deadlines(now);
        for sequence in self.channels.values_mut() {
            sequence.check_deadlines(now);
        }
    }

    /// The next instant [`Machine::check_deadlines`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        std::iter::once(&self.common_seq)
            .chain(self.channels.values())
            .filter_map(Sequence::next_deadline)
            .min()
    }

    /// The next difference to fetch, if one is wanted; it is then in flight until its
    /// answer (or [`Machine::difference_failed`]) comes back. The common box goes first.
    pub fn next_request(&mut self) -> Option<Request> {
        if self.common_seq.diff == Diff::Wanted {
            self.common_seq.diff = Diff::InFlight;
            let pts = self.common_seq.pts.unwrap_or(self.common.pts);
            return Some(Request::Difference(CommonState { pts, ..self.common }));
        }
        let limit = self.channel_limit;
        for (id, sequence) in &mut self.channels {
            if sequence.diff != Diff::Wanted {
                continue;
            }
            // A channel whose pts is unknown cannot be asked; its next update sets it.
            let Some(pts) = sequence.pts else {
                sequence.diff = Diff::No;
                continue;
            };
            sequence.diff = Diff::InFlight;
            return Some(Request::ChannelDifference {
                channel_id: *id,
                pts,
                limit,
            });
        }
        None
    }

    /// The difference of `entry` could not be fetched: try again at `retry_at`.
    pub fn difference_failed(&mut self, entry: Entry, retry_at: Instant) {
        if let Some(sequence) = self.sequence_mut(entry) {
            sequence.diff = Diff::No;
            sequence.poll_at = retry_at;
        }
    }

    /// Takes the answer to `updates.getDifference`.
    pub fn handle_difference(&mut self, difference: Difference<T>, now: Instant) -> Vec<Output<T>> {
        let mut out = Vec::new();
        match difference {
            Difference::Empty { date, seq } => {
                self.common.date = date;
                self.common.seq = seq;
                self.common_seq.end_diff(now, &mut out);
            }
            Difference::Some {
                new_messages,
                other_updates,
                state,
                done,
            } => {
                out.extend(new_messages.into_iter().map(Output::Apply));
                for item in other_updates {
                    match item {
                        // The server counted these from our pts: they are the difference.
                        Item::Pts(update) if update.entry == Entry::Common => {
                            out.push(Output::Apply(update.payload));
                        }
                        other => self.offer_item(other, now, &mut out),
                    }
                }
                self.common = state;
                self.common_seq.pts = Some(state.pts);
                if done {
                    self.common_seq.end_diff(now, &mut out);
                } else {
                    self.common_seq.diff = Diff::Wanted;
                }
            }
            Difference::TooLong { pts } => {
                self.common.pts = pts;
                self.common_seq.pts = Some(pts);
                out.push(Output::Relist {
                    entry: Entry::Common,
                    top_message: None,
                });
                self.common_seq.end_diff(now, &mut out);
            }
        }
        out
    }

    /// Takes the answer to `updates.getChannelDifference` for `channel_id`.
    pub fn handle_channel_difference(
        &mut self,
        channel_id: i64,
        difference: ChannelDifference<T>,
        now: Instant,
    ) -> Vec<Output<T>> {
        let mut out = Vec::new();
        let Some(sequence) = self.channels.get_mut(&channel_id) else {
            return out;
        };
        let (pts, timeout, is_final) = match difference {
            ChannelDifference::Empty { pts, timeout } => (pts, timeout, true),
            ChannelDifference::Some {
                is_final,
                pts,
                timeout,
                new_messages,
                other_updates,
            } => {
                out.extend(new_messages.into_iter().map(Output::Apply));
                for item in other_updates {
                    match item {
                        Item::Pts(update) => out.push(Output::Apply(update.payload)),
                        Item::Plain(payload) => out.push(Output::Apply(payload)),
                        Item::ChannelTooLong { .. } => {}
                    }
                }
                (pts, timeout, is_final)
            }
            ChannelDifference::TooLong {
                pts,
                timeout,
                top_message,
            } => {
                out.push(Output::Relist {
                    entry: Entry::Channel(channel_id),
                    top_message: Some(top_message),
                });
                (pts, timeout, true)
            }
        };
        sequence.pts = Some(pts);
        if let Some(seconds) = timeout
            .and_then(|t| u64::try_from(t).ok())
            .filter(|t| *t > 0)
        {
            sequence.poll_every = Duration::from_secs(seconds);
        }
        if is_final {
            sequence.end_diff(now, &mut out);
        } else {
            sequence.diff = Diff::Wanted;
        }
        out
    }
}

#[cfg(test)]
mod tests;
