//! The world's update boxes (one per channel, one common box per account, as Telegram
//! keeps them: core.telegram.org/api/updates) and their TL forms: the updates pushed
//! after a change, and the answers of `updates.getDifference` and
//! `updates.getChannelDifference`. The pts arithmetic is [`super::pts`]'s.

use std::collections::{BTreeSet, HashMap};

use tl_types::api::{enums, types};

use super::fixture::{MessageSpec, TimelineEntry, UpdateLimits};
use super::pts::{Difference, Logged, UpdateBox};
use super::store::{Store, Thread};
use super::{World, convert};

/// Where a message lives: a group, supergroup or channel, or a private chat as `user`
/// sees it (with `peer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChatRef {
    Chat(i64),
    Private { user: i64, peer: i64 },
}

impl ChatRef {
    /// The thread in `store`, if it exists.
    pub(super) fn thread(self, store: &Store) -> Option<Thread<'_>> {
        match self {
            Self::Chat(id) => store.chats.get(&id).map(Thread::Chat),
            Self::Private { user, peer } => store.privates.get(&(user, peer)).map(Thread::Private),
        }
    }
}

/// What happened to a thread.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Change {
    /// A new message, as posted.
    New(MessageSpec),
    /// A message as edited.
    Edit(MessageSpec),
    /// Messages deleted.
    Delete(Vec<i32>),
}

/// One event of a box.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Event {
    pub thread: ChatRef,
    pub change: Change,
}

/// The boxes, their limits, and the counters of what posting makes.
#[derive(Debug)]
pub(super) struct Boxes {
    limits: UpdateLimits,
    channels: HashMap<i64, UpdateBox<Event>>,
    users: HashMap<i64, UpdateBox<Event>>,
    /// The fixture's timeline, until the server takes it to play.
    pub timeline: Vec<TimelineEntry>,
    /// The next media id a post makes.
    next_media: i64,
    /// The next id in the common message space (basic groups and private chats share
    /// it in localdc: see the fixture docs).
    next_box_id: i32,
    /// The highest id each channel has used, deleted or not (ids are never reused).
    channel_ids: HashMap<i64, i32>,
    /// The changes made so far, for a state dir.
    pub saved: SavedLive,
}

/// What a state dir keeps of a live world (`live.json`): every change made while serving,
/// in order, with its date, and how many timeline entries were played. Replaying them on
/// the fixture gives the same world: ids and media ids are taken in the same order.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SavedLive {
    pub changes: Vec<SavedChange>,
    pub timeline_played: usize,
}

/// One change made while serving: where and what (as a timeline entry, `after_ms` unused),
/// and when.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SavedChange {
    pub date: i32,
    pub change: TimelineEntry,
}

impl Boxes {
    /// Boxes for `store`: a channel's pts starts at its top message id, an account's at
    /// the number of messages in its box (at least 1), as if each had been one event.
    pub fn new(store: &Store, limits: UpdateLimits, timeline: Vec<TimelineEntry>) -> Self {
        let now = now();
        let keep = usize::try_from(limits.keep).unwrap_or(usize::MAX);
        let channels = store
            .chats
            .values()
            .filter(|c| c.is_channel())
            .map(|c| (c.spec.id, UpdateBox::new(c.pts, now, keep)))
            .collect();
        let users = store
            .users
            .keys()
            .map(|&user| {
                let groups: usize = store
                    .chats
                    .values()
                    .filter(|c| !c.is_channel() && c.members.contains(&user))
                    .map(|c| c.messages.len())
                    .sum();
                let privates: usize = store.privates_of(user).map(|p| p.messages.len()).sum();
                let pts = i32::try_from(groups + privates).unwrap_or(i32::MAX).max(1);
                (user, UpdateBox::new(pts, now, keep))
            })
            .collect();
        let basic_ids = store
            .chats
            .values()
            .filter(|c| !c.is_channel())
            .filter_map(|c| c.top().map(|m| m.id));
        let private_ids = store
            .privates
            .values()
            .filter_map(|p| p.messages.last().map(|m| m.id));
        let next_box_id = basic_ids
            .chain(private_ids)
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        let next_media = store
            .files
            .keys()
            .map(|k| k.media_id)
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        Self {
            limits,
            channels,
            users,
            timeline,
            next_media,
            next_box_id,
            channel_ids: HashMap::new(),
            saved: SavedLive::default(),
        }
    }

    /// New limits; every box keeps at most `keep` events from now on.
    pub fn set_limits(&mut self, limits: UpdateLimits) {
        self.limits = limits;
        let keep = self.keep();
        for update_box in self.channels.values_mut().chain(self.users.values_mut()) {
            update_box.set_keep(keep);
        }
    }

    fn keep(&self) -> usize {
        usize::try_from(self.limits.keep).unwrap_or(usize::MAX)
    }

    /// The limits in force.
    pub fn limits(&self) -> &UpdateLimits {
        &self.limits
    }

    /// Channel `id`'s box.
    pub fn channel(&self, id: i64) -> Option<&UpdateBox<Event>> {
        self.channels.get(&id)
    }

    /// The common box of `user`.
    pub fn user(&self, user: i64) -> Option<&UpdateBox<Event>> {
        self.users.get(&user)
    }

    /// Channel `id`'s box, made at pts 1 if it has none yet.
    pub fn channel_mut(&mut self, id: i64) -> &mut UpdateBox<Event> {
        let keep = self.keep();
        self.channels
            .entry(id)
            .or_insert_with(|| UpdateBox::new(1, now(), keep))
    }

    /// The common box of `user`, made at pts 1 if it has none yet.
    pub fn user_mut(&mut self, user: i64) -> &mut UpdateBox<Event> {
        let keep = self.keep();
        self.users
            .entry(user)
            .or_insert_with(|| UpdateBox::new(1, now(), keep))
    }

    /// A fresh id in the common message space.
    pub fn take_box_id(&mut self) -> i32 {
        let id = self.next_box_id;
        self.next_box_id = id.saturating_add(1);
        id
    }

    /// A fresh message id in channel `id`, whose newest message is now `top`.
    pub fn take_channel_id(&mut self, id: i64, top: i32) -> i32 {
        let used = self.channel_ids.entry(id).or_insert(0);
        *used = (*used).max(top).saturating_add(1);
        *used
    }

    /// A fresh media id.
    pub fn take_media_id(&mut self) -> i64 {
        let id = self.next_media;
        self.next_media = id.saturating_add(1);
        id
    }
}

/// The wall clock as TL dates carry it.
pub(super) fn now() -> i32 {
    mtnet::clock::unix_secs()
}

/// The users and chats a list of updates or messages mentions, as TL objects for `viewer`.
#[derive(Default)]
pub(super) struct Mentions {
    users: BTreeSet<i64>,
    chats: BTreeSet<i64>,
}

impl Mentions {
    fn note(&mut self, thread: ChatRef, message: Option<&MessageSpec>) {
        match thread {
            ChatRef::Chat(id) => {
                self.chats.insert(id);
            }
            ChatRef::Private { peer, .. } => {
                self.users.insert(peer);
            }
        }
        if let Some(message) = message {
            self.users.extend(convert::message_users(message));
        }
    }

    fn users(&self, store: &Store, viewer: i64) -> Vec<enums::User> {
        self.users
            .iter()
            .filter_map(|id| store.users.get(id))
            .map(|spec| convert::user(store, spec, viewer))
            .collect()
    }

    fn chats(&self, world: &World, store: &Store, viewer: i64) -> Vec<enums::Chat> {
        self.chats
            .iter()
            .filter_map(|id| store.chats.get(id))
            .map(|record| convert::chat(store, record, viewer, world.is_member(record, viewer)))
            .collect()
    }
}

/// The message of an event as `viewer` sees it.
fn message(
    store: &Store,
    thread: ChatRef,
    spec: &MessageSpec,
    viewer: i64,
) -> Option<enums::Message> {
    let thread = thread.thread(store)?;
    Some(convert::thread_message(store, thread, spec, viewer))
}

/// The update Telegram sends for a logged event, with its pts and pts_count.
pub(super) fn update(store: &Store, logged: &Logged<Event>, viewer: i64) -> Option<enums::Update> {
    let Logged {
        pts,
        pts_count,
        event,
        ..
    } = logged;
    let (pts, pts_count) = (*pts, *pts_count);
    let channel = match event.thread {
        ChatRef::Chat(id) => store.chats.get(&id).filter(|c| c.is_channel()).map(|_| id),
        ChatRef::Private { .. } => None,
    };
    Some(match (&event.change, channel) {
        (Change::New(spec), Some(_)) => types::UpdateNewChannelMessage {
            message: message(store, event.thread, spec, viewer)?,
            pts,
            pts_count,
        }
        .into(),
        (Change::New(spec), None) => types::UpdateNewMessage {
            message: message(store, event.thread, spec, viewer)?,
            pts,
            pts_count,
        }
        .into(),
        (Change::Edit(spec), Some(_)) => types::UpdateEditChannelMessage {
            message: message(store, event.thread, spec, viewer)?,
            pts,
            pts_count,
        }
        .into(),
        (Change::Edit(spec), None) => types::UpdateEditMessage {
            message: message(store, event.thread, spec, viewer)?,
            pts,
            pts_count,
        }
        .into(),
        (Change::Delete(ids), Some(channel_id)) => types::UpdateDeleteChannelMessages {
            channel_id,
            messages: ids.clone(),
            pts,
            pts_count,
        }
        .into(),
        (Change::Delete(ids), None) => types::UpdateDeleteMessages {
            messages: ids.clone(),
            pts,
            pts_count,
        }
        .into(),
    })
}

/// What is pushed to `viewer`'s sessions for one logged event: a new message without
/// media in a basic group or a private chat as `updateShortChatMessage` /
/// `updateShortMessage`, as Telegram sends them (core.telegram.org/api/updates: the short
/// forms carry what fits in them), anything else as `updates` with `seq` 0: pts-carrying
/// updates are ordered by their pts, not by the account's seq (Telegram sends 0 when the
/// seq "doesn't matter"; Telethon's and grammers' message boxes skip the check at 0).
pub(super) fn pushed(
    world: &World,
    store: &Store,
    logged: &Logged<Event>,
    viewer: i64,
) -> Option<enums::Updates> {
    if let Some(short) = short(store, logged, viewer) {
        return Some(short);
    }
    let update = update(store, logged, viewer)?;
    let mut mentions = Mentions::default();
    let spec = match &logged.event.change {
        Change::New(spec) | Change::Edit(spec) => Some(spec),
        Change::Delete(_) => None,
    };
    mentions.note(logged.event.thread, spec);
    Some(
        types::Updates {
            updates: vec![update],
            users: mentions.users(store, viewer),
            chats: mentions.chats(world, store, viewer),
            date: logged.date,
            seq: 0,
        }
        .into(),
    )
}

/// The short form of a new text message in a basic group or a private chat, if it is one.
fn short(store: &Store, logged: &Logged<Event>, viewer: i64) -> Option<enums::Updates> {
    let Change::New(spec) = &logged.event.change else {
        return None;
    };
    if spec.media.is_some() {
        return None;
    }
    let out = spec.from == Some(viewer);
    let fwd_from = spec.fwd_from.as_ref().map(convert::fwd_header);
    let reply_to = spec.reply_to.map(convert::reply_header);
    match logged.event.thread {
        ChatRef::Private { peer, .. } => Some(
            types::UpdateShortMessage {
                out,
                mentioned: false,
                media_unread: false,
                silent: false,
                id: spec.id,
                user_id: peer,
                message: spec.text.clone(),
                pts: logged.pts,
                pts_count: logged.pts_count,
                date: spec.date,
                fwd_from,
                via_bot_id: None,
                reply_to,
                entities: None,
                ttl_period: None,
            }
            .into(),
        ),
        ChatRef::Chat(id) => {
            let group = store.chats.get(&id).filter(|c| !c.is_channel())?;
            Some(
                types::UpdateShortChatMessage {
                    out,
                    mentioned: false,
                    media_unread: false,
                    silent: false,
                    id: spec.id,
                    from_id: spec.from?,
                    chat_id: group.spec.id,
                    message: spec.text.clone(),
                    pts: logged.pts,
                    pts_count: logged.pts_count,
                    date: spec.date,
                    fwd_from,
                    via_bot_id: None,
                    reply_to,
                    entities: None,
                    ttl_period: None,
                }
                .into(),
            )
        }
    }
}

/// What a difference carries: new messages apart, everything else as updates.
struct Split {
    new_messages: Vec<enums::Message>,
    other_updates: Vec<enums::Update>,
    mentions: Mentions,
}

fn split(store: &Store, events: &[&Logged<Event>], viewer: i64) -> Split {
    let mut out = Split {
        new_messages: Vec::new(),
        other_updates: Vec::new(),
        mentions: Mentions::default(),
    };
    for logged in events {
        let event = &logged.event;
        match &event.change {
            Change::New(spec) => {
                out.mentions.note(event.thread, Some(spec));
                out.new_messages
                    .extend(message(store, event.thread, spec, viewer));
            }
            change => {
                let spec = match change {
                    Change::Edit(spec) => Some(spec),
                    _ => None,
                };
                out.mentions.note(event.thread, spec);
                out.other_updates.extend(update(store, logged, viewer));
            }
        }
    }
    out
}

/// `updates.getChannelDifference` for `viewer` on channel `channel` from `pts`, at most
/// `limit` events; "too long" past the limits' `channel_too_long`, or `too_long_at` when
/// it is lower. `None` when the channel has no box.
pub(super) fn channel_difference(
    world: &World,
    channel: i64,
    pts: i32,
    limit: usize,
    too_long_at: Option<u32>,
    viewer: i64,
) -> Option<enums::updates::ChannelDifference> {
    // The store read under the boxes' lock: changes take the lock first, so the snapshot
    // and the boxes agree (a dialog's pts never runs ahead of its messages).
    let boxes = crate::sync::lock(&world.boxes);
    let store = world.store();
    let limits = &boxes.limits;
    let timeout = Some(limits.channel_timeout);
    let threshold = too_long_at.map_or(limits.channel_too_long, |at| {
        at.min(limits.channel_too_long)
    });
    let channel_box = boxes.channel(channel)?;
    Some(match channel_box.difference(pts, limit, threshold) {
        Difference::Empty { pts } => types::updates::ChannelDifferenceEmpty {
            r#final: true,
            pts,
            timeout,
        }
        .into(),
        Difference::Events { events, pts, last } => {
            let split = split(&store, &events, viewer);
            types::updates::ChannelDifference {
                r#final: last,
                pts,
                timeout,
                new_messages: split.new_messages,
                other_updates: split.other_updates,
                chats: split.mentions.chats(world, &store, viewer),
                users: split.mentions.users(&store, viewer),
            }
            .into()
        }
        Difference::TooLong { pts } => {
            too_long(world, &store, channel, pts, limit, timeout, viewer)?
        }
    })
}

/// `channelDifferenceTooLong`: the dialog (top message, read state, the pts to go on
/// from) and the latest messages, up to `limit` (core.telegram.org: "the latest messages,
/// not starting from the passed pts").
fn too_long(
    world: &World,
    store: &Store,
    channel: i64,
    pts: i32,
    limit: usize,
    timeout: Option<i32>,
    viewer: i64,
) -> Option<enums::updates::ChannelDifference> {
    let record = store.chats.get(&channel)?;
    let thread = ChatRef::Chat(channel);
    let latest: Vec<&MessageSpec> = record.messages.iter().rev().take(limit.max(1)).collect();
    let mut mentions = Mentions::default();
    mentions.note(thread, None);
    let messages = latest
        .iter()
        .map(|spec| {
            mentions.note(thread, Some(spec));
            convert::thread_message(store, Thread::Chat(record), spec, viewer)
        })
        .collect();
    let top = record.top().map_or(0, |m| m.id);
    Some(
        types::updates::ChannelDifferenceTooLong {
            r#final: true,
            timeout,
            dialog: types::Dialog {
                pinned: false,
                unread_mark: false,
                view_forum_as_messages: false,
                peer: convert::chat_peer(record),
                top_message: top,
                read_inbox_max_id: top,
                read_outbox_max_id: top,
                unread_count: 0,
                unread_mentions_count: 0,
                unread_reactions_count: 0,
                unread_poll_votes_count: 0,
                notify_settings: convert::notify_settings(),
                pts: Some(pts),
                draft: None,
                folder_id: None,
                ttl_period: None,
            }
            .into(),
            messages,
            chats: mentions.chats(world, store, viewer),
            users: mentions.users(store, viewer),
        }
        .into(),
    )
}

/// The `updates.state` of `user`'s common box.
pub(super) fn state(boxes: &Boxes, user: i64) -> types::updates::State {
    let (pts, date) = boxes
        .user(user)
        .map_or((1, now()), |b| (b.pts(), b.date().max(now())));
    types::updates::State {
        pts,
        qts: 0,
        date,
        // No seq-ordered updates are ever sent (see `pushed`): the seq never moves.
        seq: 0,
        unread_count: 0,
    }
}

/// `updates.getDifference` for `user` from `pts`; `total_limit` is the client's
/// `pts_total_limit`, when it gave one.
pub(super) fn difference(
    world: &World,
    user: i64,
    pts: i32,
    total_limit: Option<i32>,
) -> enums::updates::Difference {
    let boxes = crate::sync::lock(&world.boxes);
    let store = world.store();
    let limits = &boxes.limits;
    let too_long = total_limit
        .and_then(|l| u32::try_from(l).ok())
        .map_or(limits.difference_too_long, |l| {
            l.min(limits.difference_too_long)
        });
    let slice = usize::try_from(limits.difference_slice).unwrap_or(usize::MAX);
    let state = state(&boxes, user);
    let Some(user_box) = boxes.user(user) else {
        return types::updates::DifferenceEmpty {
            date: state.date,
            seq: state.seq,
        }
        .into();
    };
    match user_box.difference(pts, slice, too_long) {
        Difference::Empty { .. } => types::updates::DifferenceEmpty {
            date: state.date,
            seq: state.seq,
        }
        .into(),
        Difference::TooLong { pts } => types::updates::DifferenceTooLong { pts }.into(),
        Difference::Events { events, pts, last } => {
            let date = events.last().map_or(state.date, |e| e.date);
            let split = split(&store, &events, user);
            let chats = split.mentions.chats(world, &store, user);
            let users = split.mentions.users(&store, user);
            if last {
                types::updates::Difference {
                    new_messages: split.new_messages,
                    new_encrypted_messages: Vec::new(),
                    other_updates: split.other_updates,
                    chats,
                    users,
                    state: state.into(),
                }
                .into()
            } else {
                types::updates::DifferenceSlice {
                    new_messages: split.new_messages,
                    new_encrypted_messages: Vec::new(),
                    other_updates: split.other_updates,
                    chats,
                    users,
                    intermediate_state: types::updates::State { pts, date, ..state }.into(),
                }
                .into()
            }
        }
    }
}

/// The update methods' answers, for the handlers.
impl World {
    /// `updates.getState` for `user`.
    pub(super) fn update_state(&self, user: i64) -> types::updates::State {
        state(&crate::sync::lock(&self.boxes), user)
    }

    /// `updates.getDifference` for `user` (see [`difference`]).
    pub(super) fn difference(
        &self,
        user: i64,
        pts: i32,
        total_limit: Option<i32>,
    ) -> enums::updates::Difference {
        difference(self, user, pts, total_limit)
    }

    /// `updates.getChannelDifference` (see [`channel_difference`]).
    pub(super) fn channel_difference(
        &self,
        channel: i64,
        pts: i32,
        limit: usize,
        too_long_at: Option<u32>,
        viewer: i64,
    ) -> Option<enums::updates::ChannelDifference> {
        channel_difference(self, channel, pts, limit, too_long_at, viewer)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use tl_types::Serialize as _;

    use super::*;
    use crate::world::fixture::{Fixture, NewMedia, PostSpec};

    #[test]
    fn pushed_posts_are_rewritten_for_the_oldest_layer_served() {
        let fixture = Fixture::from_json(include_str!("../../fixtures/demo.json")).unwrap();
        let world = World::from_fixture(fixture).unwrap();
        let post = PostSpec {
            text: "with a photo".into(),
            media: Some(NewMedia::Photo {
                size: 5000,
                dc: None,
            }),
            ..PostSpec::default()
        };
        world.post(ChatRef::Chat(501), &post).unwrap();
        let store = world.store();
        let boxes = crate::sync::lock(&world.boxes);
        let Difference::Events { events, .. } = boxes.channel(501).unwrap().difference(5, 10, 100)
        else {
            panic!("no event");
        };
        let logged = events.first().unwrap();
        let updates = pushed(&world, &store, logged, 1001).unwrap().to_bytes();
        // A GramJS of layer 198 reads it: rewritten, not left out.
        let old = tl_layers::downgrade_object(&updates, 198).unwrap().unwrap();
        assert!(!old.is_empty());
        assert_ne!(old, updates, "layer 198's message differs from 229's");
    }
}
