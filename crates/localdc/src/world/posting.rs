//! Changing a world while it is served: posting, editing and deleting messages in any
//! chat, from the Rust API, the fixture's timeline or the control port. Each change makes
//! the next snapshot of the store, logs an event in the update boxes it touches (the
//! channel's, or the common box of every account that sees the message) and pushes the
//! update to the sessions subscribed to those accounts.

use std::collections::BTreeSet;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tl_types::Serialize as _;

use super::World;
use super::fixture::{
    AttributeSpec, ChatKind, DocumentSpec, EditSpec, MediaSpec, MessageSpec, NewMedia, PhotoSpec,
    PostSpec, PrivateRef, SizeSpec, TimelineEntry, UpdateLimits,
};
use super::pts::Logged;
use super::store::{Store, WorldError};
pub use super::updates::ChatRef;
use super::updates::{self, Boxes, Change, Event, SavedChange, SavedLive};
use crate::rpc::Pushed;
use crate::sync::lock;

/// Why a change cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("no chat {0}")]
    NoSuchChat(i64),
    #[error("no private chat of user {user} with {peer}")]
    NoSuchPrivate { user: i64, peer: i64 },
    #[error("no message {id} in {chat:?}")]
    NoSuchMessage { chat: ChatRef, id: i32 },
    #[error("unknown user {0}")]
    UnknownUser(i64),
    #[error(transparent)]
    World(#[from] WorldError),
}

/// The DC new media go to when a post does not name one and the chat's owner has no home.
const FALLBACK_DC: i32 = 2;

impl World {
    /// Posts a message in `chat` now; its id. The message gets the next id of the chat
    /// (a channel) or of the common message space (groups, private chats), the current date,
    /// and new media when the post has some. In a private chat whose other side has the
    /// conversation too, that side gets its own copy (its own id), as Telegram does.
    pub fn post(&self, chat: ChatRef, post: &PostSpec) -> Result<i32, LiveError> {
        self.post_at(chat, post, updates::now())
    }

    fn post_at(&self, chat: ChatRef, post: &PostSpec, date: i32) -> Result<i32, LiveError> {
        let mut boxes = lock(&self.boxes);
        let mut copies = Vec::new();
        {
            let mut guard = self.store.write().unwrap_or_else(PoisonError::into_inner);
            let store = Arc::make_mut(&mut guard);
            let owner = Owner::of(store, chat)?;
            let from = post.from.or(owner.sender);
            if let Some(from) = from
                && !store.users.contains_key(&from)
            {
                return Err(LiveError::UnknownUser(from));
            }
            let media = post
                .media
                .as_ref()
                .map(|m| new_media(boxes.take_media_id(), m, owner.dc));
            store.index_media(media.as_ref())?;
            let id = match (chat, owner.channel_top) {
                (ChatRef::Chat(channel), Some(top)) => boxes.take_channel_id(channel, top),
                _ => boxes.take_box_id(),
            };
            let message = MessageSpec {
                id,
                date,
                from,
                text: post.text.clone(),
                reply_to: post.reply_to,
                fwd_from: None,
                grouped_id: post.grouped_id,
                edit_date: None,
                media,
            };
            copies.push((chat, message.clone()));
            if let ChatRef::Private { user, peer } = chat
                && user != peer
                && store.privates.contains_key(&(peer, user))
            {
                let twin = MessageSpec {
                    id: boxes.take_box_id(),
                    ..message
                };
                copies.push((
                    ChatRef::Private {
                        user: peer,
                        peer: user,
                    },
                    twin,
                ));
            }
            for (thread, message) in &copies {
                if let Some(messages) = messages_mut(store, *thread) {
                    messages.push(message.clone());
                }
            }
            for (thread, message) in copies.iter().cloned() {
                self.log(&mut boxes, store, thread, Change::New(message), 1, date);
            }
        }
        let id = copies.first().map_or(0, |(_, m)| m.id);
        self.journal(&mut boxes, date, chat, Action::Post(post));
        Ok(id)
    }

    /// Edits message `edit.id` of `chat` now: its text and/or media replaced, `edit_date`
    /// set. The old media stays served (a client may still be fetching it).
    pub fn edit(&self, chat: ChatRef, edit: &EditSpec) -> Result<(), LiveError> {
        self.edit_at(chat, edit, updates::now())
    }

    fn edit_at(&self, chat: ChatRef, edit: &EditSpec, date: i32) -> Result<(), LiveError> {
        let mut boxes = lock(&self.boxes);
        {
            let mut guard = self.store.write().unwrap_or_else(PoisonError::into_inner);
            let store = Arc::make_mut(&mut guard);
            let owner = Owner::of(store, chat)?;
            let missing = || LiveError::NoSuchMessage { chat, id: edit.id };
            // The message is found before any media id is taken: a refused edit takes
            // nothing, so a replay (`restore_live`) takes the same ids.
            let index = chat
                .thread(store)
                .and_then(|t| t.messages().binary_search_by_key(&edit.id, |m| m.id).ok())
                .ok_or_else(missing)?;
            let media = edit
                .media
                .as_ref()
                .map(|m| new_media(boxes.take_media_id(), m, owner.dc));
            store.index_media(media.as_ref())?;
            let message = messages_mut(store, chat)
                .and_then(|messages| messages.get_mut(index))
                .ok_or_else(missing)?;
            if let Some(text) = &edit.text {
                message.text.clone_from(text);
            }
            if media.is_some() {
                message.media = media;
            }
            message.edit_date = Some(date);
            let edited = message.clone();
            self.log(&mut boxes, store, chat, Change::Edit(edited), 1, date);
        }
        self.journal(&mut boxes, date, chat, Action::Edit(edit));
        Ok(())
    }

    /// Deletes messages `ids` of `chat` now: they leave the history, read as
    /// `messageEmpty`, and their photos and documents are no longer served
    /// (`FILE_REFERENCE_INVALID`). How many existed.
    pub fn delete(&self, chat: ChatRef, ids: &[i32]) -> Result<usize, LiveError> {
        self.delete_at(chat, ids, updates::now())
    }

    fn delete_at(&self, chat: ChatRef, ids: &[i32], date: i32) -> Result<usize, LiveError> {
        let mut boxes = lock(&self.boxes);
        let mut guard = self.store.write().unwrap_or_else(PoisonError::into_inner);
        let store = Arc::make_mut(&mut guard);
        Owner::of(store, chat)?;
        let wanted: BTreeSet<i32> = ids.iter().copied().collect();
        let Some(messages) = messages_mut(store, chat) else {
            return Ok(0);
        };
        let (removed, kept): (Vec<MessageSpec>, _) = std::mem::take(messages)
            .into_iter()
            .partition(|m| wanted.contains(&m.id));
        *messages = kept;
        for message in &removed {
            if let Some(media_id) = message.media.as_ref().map(media_id) {
                self.media.forget_media(media_id);
            }
        }
        let gone: Vec<i32> = removed.iter().map(|m| m.id).collect();
        if !gone.is_empty() {
            let count = i32::try_from(gone.len()).unwrap_or(i32::MAX);
            self.log(&mut boxes, store, chat, Change::Delete(gone), count, date);
            drop(guard);
            self.journal(&mut boxes, date, chat, Action::Delete(ids));
        }
        Ok(removed.len())
    }

    /// Deletes message `id` of group, supergroup or channel `chat` (see
    /// [`World::delete`]); whether it existed.
    pub fn delete_message(&self, chat: i64, id: i32) -> bool {
        self.delete(ChatRef::Chat(chat), &[id]).is_ok_and(|n| n > 0)
    }

    /// Applies one timeline entry now: the id posted, for a post.
    pub fn apply(&self, entry: &TimelineEntry) -> Result<Option<i32>, LiveError> {
        self.apply_at(entry, updates::now())
    }

    /// Applies one timeline entry as if at `date`.
    fn apply_at(&self, entry: &TimelineEntry, date: i32) -> Result<Option<i32>, LiveError> {
        let (chat, action) = entry
            .parts()
            .map_err(|why| LiveError::World(WorldError::Timeline(why)))?;
        match action {
            Action::Post(post) => self.post_at(chat, post, date).map(Some),
            Action::Edit(edit) => self.edit_at(chat, edit, date).map(|()| None),
            Action::Delete(ids) => self.delete_at(chat, ids, date).map(|_| None),
        }
    }

    /// What a state dir keeps of the changes made while serving.
    pub fn saved_live(&self) -> SavedLive {
        lock(&self.boxes).saved.clone()
    }

    /// Replays the changes a state dir kept (a restarted server's), with their dates: the
    /// same ids, media, pts and dates come back. A world that has changed already (the
    /// same world served again in one process) keeps its state and replays nothing.
    pub fn restore_live(&self, saved: &SavedLive) -> Result<(), LiveError> {
        if !lock(&self.boxes).saved.changes.is_empty() {
            return Ok(());
        }
        for change in &saved.changes {
            self.apply_at(&change.change, change.date)?;
        }
        lock(&self.boxes).saved.timeline_played = saved.timeline_played;
        Ok(())
    }

    /// Calls `hook` after every change (a state dir saves them).
    pub(crate) fn on_live_changed(&self, hook: Arc<dyn Fn() + Send + Sync>) {
        *lock(&self.live_changed) = Some(super::logins::ChangeHook(hook));
    }

    /// Records a change made, for the state dir.
    fn journal(&self, boxes: &mut Boxes, date: i32, chat: ChatRef, action: Action<'_>) {
        let mut change = TimelineEntry::default();
        match chat {
            ChatRef::Chat(id) => change.chat = Some(id),
            ChatRef::Private { user, peer } => change.private = Some(PrivateRef { user, peer }),
        }
        match action {
            Action::Post(post) => change.post = Some(post.clone()),
            Action::Edit(edit) => change.edit = Some(edit.clone()),
            Action::Delete(ids) => change.delete = Some(ids.to_vec()),
        }
        boxes.saved.changes.push(SavedChange { date, change });
        let hook = lock(&self.live_changed).clone();
        if let Some(hook) = hook {
            (hook.0)();
        }
    }

    /// Plays the fixture's timeline from now on a task of its own: each entry at its
    /// `after_ms` (on tokio's clock, so paused-time tests drive it). Only the first call
    /// plays it; `None` when there is nothing (left) to play.
    pub fn play_timeline(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        let (mut entries, played) = {
            let mut boxes = lock(&self.boxes);
            (
                std::mem::take(&mut boxes.timeline),
                boxes.saved.timeline_played,
            )
        };
        // The stable sort keeps the fixture's order among entries of one offset.
        entries.sort_by_key(|e| e.after_ms);
        // Entries a restarted server already played before (see `restore_live`).
        let entries: Vec<TimelineEntry> = entries.into_iter().skip(played).collect();
        if entries.is_empty() {
            return None;
        }
        let world = Arc::clone(self);
        let start = mtnet::clock::now();
        Some(tokio::spawn(async move {
            for (index, entry) in entries.iter().enumerate() {
                let at = start.checked_add(Duration::from_millis(entry.after_ms));
                if let Some(at) = at {
                    mtnet::clock::sleep_until(at).await;
                }
                match world.apply(entry) {
                    Ok(posted) => tracing::debug!(index, ?posted, "timeline entry played"),
                    Err(error) => tracing::warn!(index, %error, "timeline entry refused"),
                }
                lock(&world.boxes).saved.timeline_played += 1;
            }
        }))
    }

    /// The pts of channel `chat`'s update box.
    pub fn channel_pts(&self, chat: i64) -> Option<i32> {
        lock(&self.boxes)
            .channel(chat)
            .map(super::pts::UpdateBox::pts)
    }

    /// The pts of `user`'s common update box.
    pub fn user_pts(&self, user: i64) -> Option<i32> {
        lock(&self.boxes).user(user).map(super::pts::UpdateBox::pts)
    }

    /// Changes the limits of the update boxes (how differences are sliced and when they
    /// are too long).
    pub fn set_update_limits(&self, limits: UpdateLimits) {
        lock(&self.boxes).set_limits(limits);
    }

    /// The limits of the update boxes in force.
    pub fn update_limits(&self) -> UpdateLimits {
        lock(&self.boxes).limits().clone()
    }

    /// How many sessions get `user`'s pushed updates.
    pub fn subscribed_sessions(&self, user: i64) -> usize {
        self.pushes.count(user)
    }

    /// Logs `change` of `thread` in every box it touches (a channel's pts goes into the
    /// store being changed too, so that a snapshot's messages and pts agree) and pushes it
    /// to the sessions subscribed to those boxes' accounts (under the boxes' lock, so each
    /// session gets its updates in pts order).
    fn log(
        &self,
        boxes: &mut Boxes,
        store: &mut Store,
        thread: ChatRef,
        change: Change,
        pts_count: i32,
        date: i32,
    ) {
        let event = Event { thread, change };
        match thread {
            ChatRef::Chat(id) => {
                let Some(record) = store.chats.get_mut(&id) else {
                    return;
                };
                let members: BTreeSet<i64> = record
                    .members
                    .iter()
                    .copied()
                    .chain(
                        lock(&self.joined)
                            .iter()
                            .filter(|(chat, _)| *chat == id)
                            .map(|(_, user)| *user),
                    )
                    .collect();
                if record.is_channel() {
                    let pts = boxes.channel_mut(id).push(pts_count, date, event.clone());
                    record.pts = pts;
                    let logged = Logged {
                        pts,
                        pts_count,
                        date,
                        event,
                    };
                    for user in members {
                        self.deliver(store, user, &logged);
                    }
                } else {
                    for user in members {
                        let pts = boxes.user_mut(user).push(pts_count, date, event.clone());
                        let logged = Logged {
                            pts,
                            pts_count,
                            date,
                            event: event.clone(),
                        };
                        self.deliver(store, user, &logged);
                    }
                }
            }
            ChatRef::Private { user, .. } => {
                let pts = boxes.user_mut(user).push(pts_count, date, event.clone());
                let logged = Logged {
                    pts,
                    pts_count,
                    date,
                    event,
                };
                self.deliver(store, user, &logged);
            }
        }
    }

    /// Pushes one logged event to `user`'s subscribed sessions.
    fn deliver(&self, store: &Store, user: i64, logged: &Logged<Event>) {
        let sessions = self.pushes.of(user);
        if sessions.is_empty() {
            return;
        }
        let Some(updates) = updates::pushed(self, store, logged, user) else {
            return;
        };
        let bytes = updates.to_bytes();
        for (key, session) in sessions {
            // A key logged out (or forgotten) since: its sessions are the user's no more.
            if self.logins.user(key) != Some(user) {
                self.pushes.drop_gone(user, session.target());
                continue;
            }
            match session.push_update(bytes.clone()) {
                Pushed::Queued => {}
                Pushed::Dropped => {
                    tracing::debug!(user, pts = logged.pts, "update dropped (fault)");
                }
                Pushed::Gone => self.pushes.drop_gone(user, session.target()),
            }
        }
    }
}

/// What a chat implies for a new message: the default sender, the DC of new media, and
/// a channel's top id (channels number their own messages).
struct Owner {
    sender: Option<i64>,
    dc: i32,
    channel_top: Option<i32>,
}

impl Owner {
    fn of(store: &Store, chat: ChatRef) -> Result<Self, LiveError> {
        match chat {
            ChatRef::Chat(id) => {
                let record = store.chats.get(&id).ok_or(LiveError::NoSuchChat(id))?;
                let creator = record.spec.creator;
                Ok(Self {
                    sender: (record.spec.kind != ChatKind::Channel).then_some(creator),
                    dc: store.home_dc.get(&creator).copied().unwrap_or(FALLBACK_DC),
                    channel_top: record
                        .is_channel()
                        .then(|| record.top().map_or(0, |m| m.id)),
                })
            }
            ChatRef::Private { user, peer } => {
                if !store.privates.contains_key(&(user, peer)) {
                    return Err(LiveError::NoSuchPrivate { user, peer });
                }
                Ok(Self {
                    sender: Some(peer),
                    dc: store.home_dc.get(&user).copied().unwrap_or(FALLBACK_DC),
                    channel_top: None,
                })
            }
        }
    }
}

/// The messages of `chat`, to change (copied first if a reader still holds them).
fn messages_mut(store: &mut Store, chat: ChatRef) -> Option<&mut Vec<MessageSpec>> {
    match chat {
        ChatRef::Chat(id) => store
            .chats
            .get_mut(&id)
            .map(|c| Arc::make_mut(&mut c.messages)),
        ChatRef::Private { user, peer } => store
            .privates
            .get_mut(&(user, peer))
            .map(|p| Arc::make_mut(&mut p.messages)),
    }
}

/// The photo or document id of `media`.
fn media_id(media: &MediaSpec) -> i64 {
    match media {
        MediaSpec::Photo(photo) => photo.id,
        MediaSpec::Document(doc) => doc.id,
    }
}

/// New media `id` as `spec` describes it, on `default_dc` unless it names a DC.
fn new_media(id: i64, spec: &NewMedia, default_dc: i32) -> MediaSpec {
    match spec {
        NewMedia::Photo { size, dc } => MediaSpec::Photo(PhotoSpec {
            id,
            dc: dc.unwrap_or(default_dc),
            sizes: vec![
                SizeSpec {
                    kind: "m".into(),
                    w: 320,
                    h: 240,
                    size: (size / 16).max(1),
                },
                SizeSpec {
                    kind: "y".into(),
                    w: 1280,
                    h: 960,
                    size: (*size).max(1),
                },
            ],
        }),
        NewMedia::Document {
            size,
            file_name,
            mime_type,
            dc,
        } => MediaSpec::Document(DocumentSpec {
            id,
            dc: dc.unwrap_or(default_dc),
            size: *size,
            mime_type: mime_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into()),
            attributes: file_name
                .iter()
                .map(|name| AttributeSpec::FileName {
                    file_name: name.clone(),
                })
                .collect(),
            thumbs: Vec::new(),
            cdn: false,
        }),
    }
}

/// What a timeline entry does.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    Post(&'a PostSpec),
    Edit(&'a EditSpec),
    Delete(&'a [i32]),
}

impl TimelineEntry {
    /// Where the entry acts and what it does; why not, when it names no chat or two, or
    /// no action or two.
    pub fn parts(&self) -> Result<(ChatRef, Action<'_>), String> {
        let chat = match (self.chat, self.private) {
            (Some(id), None) => ChatRef::Chat(id),
            (None, Some(p)) => ChatRef::Private {
                user: p.user,
                peer: p.peer,
            },
            _ => return Err("name exactly one of `chat` and `private`".into()),
        };
        let action = match (&self.post, &self.edit, &self.delete) {
            (Some(post), None, None) => Action::Post(post),
            (None, Some(edit), None) => Action::Edit(edit),
            (None, None, Some(ids)) => Action::Delete(ids),
            _ => return Err("give exactly one of `post`, `edit` and `delete`".into()),
        };
        Ok((chat, action))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::world::fixture::{Fixture, PrivateChatSpec, PrivateRef};
    use crate::world::updates::SavedLive;

    const CHANNEL: i64 = 501;
    const GROUP: i64 = 503;
    const ALICE: i64 = 1001;
    const BOB: i64 = 1002;

    fn demo() -> Fixture {
        Fixture::from_json(include_str!("../../fixtures/demo.json")).unwrap()
    }

    fn text(text: &str) -> PostSpec {
        PostSpec {
            text: text.into(),
            ..PostSpec::default()
        }
    }

    fn ids(world: &World, chat: ChatRef) -> Vec<i32> {
        let store = world.store();
        chat.thread(&store)
            .unwrap()
            .messages()
            .iter()
            .map(|m| m.id)
            .collect()
    }

    #[test]
    fn channel_posts_edits_and_deletes_change_the_store_and_the_channel_pts() {
        let world = World::from_fixture(demo()).unwrap();
        let chat = ChatRef::Chat(CHANNEL);
        assert_eq!(world.channel_pts(CHANNEL), Some(5));
        let post = PostSpec {
            media: Some(NewMedia::Document {
                size: 70_000,
                file_name: Some("live.bin".into()),
                mime_type: None,
                dc: None,
            }),
            ..text("live")
        };
        let id = world.post(chat, &post).unwrap();
        assert_eq!(id, 6);
        let store = world.store();
        let message = store.chats[&CHANNEL].message(6).unwrap().clone();
        assert_eq!(message.text, "live");
        // A broadcast channel's post has no sender; its file is served at once.
        assert_eq!(message.from, None);
        let Some(MediaSpec::Document(doc)) = &message.media else {
            panic!("{message:?}");
        };
        let key = crate::world::FileKey::document(doc.id);
        assert_eq!(world.file(&key).unwrap().size, 70_000);
        assert_eq!(world.file_bytes(&key, 0, 100).unwrap().len(), 100);

        let edit = EditSpec {
            id,
            text: Some("edited".into()),
            media: Some(NewMedia::Photo {
                size: 5000,
                dc: None,
            }),
        };
        world.edit(chat, &edit).unwrap();
        let edited = world.store().chats[&CHANNEL].message(6).unwrap().clone();
        assert_eq!(edited.text, "edited");
        assert!(edited.edit_date.is_some());
        assert!(matches!(edited.media, Some(MediaSpec::Photo(_))));
        // The snapshot read before the edit is unchanged.
        assert_eq!(store.chats[&CHANNEL].message(6).unwrap().text, "live");
        assert_eq!(world.channel_pts(CHANNEL), Some(7));

        assert_eq!(world.delete(chat, &[6, 5, 999]).unwrap(), 2);
        assert_eq!(ids(&world, chat), vec![1, 2, 3, 4]);
        // The deleted message's photo is gone; the document it replaced stays served.
        let Some(MediaSpec::Photo(photo)) = &edited.media else {
            panic!("{edited:?}");
        };
        assert!(world.media().is_media_deleted(photo.id));
        assert!(!world.media().is_media_deleted(doc.id));
        // A deletion moves pts by the number of messages deleted.
        assert_eq!(world.channel_pts(CHANNEL), Some(9));
        // The snapshot carries the same pts as its messages (history answers read both).
        assert_eq!(world.store().chats[&CHANNEL].pts, 9);
        assert_eq!(
            store.chats[&CHANNEL].pts, 6,
            "the snapshot taken after the post"
        );
        // Ids are never reused.
        assert_eq!(world.post(chat, &text("again")).unwrap(), 7);
        assert!(matches!(
            world.edit(
                chat,
                &EditSpec {
                    id: 6,
                    text: Some("x".into()),
                    media: None
                }
            ),
            Err(LiveError::NoSuchMessage { id: 6, .. })
        ));
        assert!(matches!(
            world.post(ChatRef::Chat(999), &text("x")),
            Err(LiveError::NoSuchChat(999))
        ));
    }

    #[test]
    fn group_and_private_posts_move_every_member_s_common_pts() {
        let mut fixture = demo();
        for (user, peer) in [(ALICE, BOB), (BOB, ALICE)] {
            fixture.private_chats.push(PrivateChatSpec {
                user,
                peer,
                messages: Vec::new(),
            });
        }
        let world = World::from_fixture(fixture).unwrap();
        let (alice, bob) = (world.user_pts(ALICE).unwrap(), world.user_pts(BOB).unwrap());
        let id = world.post(ChatRef::Chat(GROUP), &text("hi all")).unwrap();
        // Basic-group ids continue the common message space.
        assert_eq!(id, 102);
        assert_eq!(world.user_pts(ALICE), Some(alice + 1));
        assert_eq!(world.user_pts(BOB), Some(bob + 1));
        // The sender defaults to the group's creator.
        assert_eq!(
            world.store().chats[&GROUP].message(102).unwrap().from,
            Some(BOB)
        );

        let to_alice = ChatRef::Private {
            user: ALICE,
            peer: BOB,
        };
        let id = world.post(to_alice, &text("psst")).unwrap();
        // Each side keeps its own copy under its own id.
        assert_eq!(ids(&world, to_alice), vec![id]);
        let to_bob = ChatRef::Private {
            user: BOB,
            peer: ALICE,
        };
        let twin = ids(&world, to_bob);
        assert_eq!(twin.len(), 1);
        assert_ne!(twin, vec![id]);
        assert_eq!(world.user_pts(ALICE), Some(alice + 2));
        assert_eq!(world.user_pts(BOB), Some(bob + 2));
        world.delete(to_alice, &[id]).unwrap();
        assert_eq!(world.user_pts(ALICE), Some(alice + 3));
        assert_eq!(world.user_pts(BOB), Some(bob + 2));
        assert!(
            world
                .apply(&TimelineEntry {
                    private: Some(PrivateRef {
                        user: ALICE,
                        peer: 4242
                    }),
                    post: Some(text("x")),
                    ..TimelineEntry::default()
                })
                .is_err()
        );
    }

    #[test]
    fn a_saved_journal_replays_into_the_same_world() {
        let mut fixture = demo();
        for (user, peer) in [(ALICE, BOB), (BOB, ALICE)] {
            fixture.private_chats.push(PrivateChatSpec {
                user,
                peer,
                messages: Vec::new(),
            });
        }
        let first = World::from_fixture(fixture.clone()).unwrap();
        let photo = PostSpec {
            media: Some(NewMedia::Photo {
                size: 3000,
                dc: None,
            }),
            ..text("photo")
        };
        first.post(ChatRef::Chat(CHANNEL), &photo).unwrap();
        first.post(ChatRef::Chat(GROUP), &text("group")).unwrap();
        let private = ChatRef::Private {
            user: ALICE,
            peer: BOB,
        };
        first.post(private, &text("psst")).unwrap();
        let edit = EditSpec {
            id: 6,
            text: Some("edited".into()),
            media: Some(NewMedia::Document {
                size: 100,
                file_name: None,
                mime_type: None,
                dc: None,
            }),
        };
        // A refused edit takes no media id (the replay would not take it either).
        let refused = EditSpec {
            id: 999,
            ..edit.clone()
        };
        assert!(first.edit(ChatRef::Chat(CHANNEL), &refused).is_err());
        first.edit(ChatRef::Chat(CHANNEL), &edit).unwrap();
        first.delete(ChatRef::Chat(CHANNEL), &[2, 77]).unwrap();
        let saved = first.saved_live();
        assert_eq!(saved.changes.len(), 5);
        // Through JSON, as the state dir keeps it.
        let saved: SavedLive =
            serde_json::from_str(&serde_json::to_string(&saved).unwrap()).unwrap();

        let second = World::from_fixture(fixture).unwrap();
        second.restore_live(&saved).unwrap();
        for chat in [ChatRef::Chat(CHANNEL), ChatRef::Chat(GROUP), private] {
            let (a, b) = (first.store(), second.store());
            assert_eq!(
                chat.thread(&a).unwrap().messages(),
                chat.thread(&b).unwrap().messages()
            );
        }
        assert_eq!(first.store().files, second.store().files);
        assert_eq!(second.channel_pts(CHANNEL), first.channel_pts(CHANNEL));
        for user in [ALICE, BOB] {
            assert_eq!(second.user_pts(user), first.user_pts(user));
        }
        assert_eq!(
            second.post(ChatRef::Chat(CHANNEL), &text("next")).unwrap(),
            first.post(ChatRef::Chat(CHANNEL), &text("next")).unwrap()
        );
        // A world that has changed already replays nothing.
        let pts = second.channel_pts(CHANNEL);
        second.restore_live(&saved).unwrap();
        assert_eq!(second.channel_pts(CHANNEL), pts);
    }

    #[test]
    fn timeline_entries_must_name_one_chat_and_one_change() {
        let mut fixture = demo();
        fixture.timeline.push(TimelineEntry {
            chat: Some(CHANNEL),
            post: Some(text("a")),
            delete: Some(vec![1]),
            ..TimelineEntry::default()
        });
        assert!(matches!(
            World::from_fixture(fixture),
            Err(WorldError::Timeline(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn the_timeline_plays_at_its_offsets() {
        let mut fixture = demo();
        let entry = |after_ms, chat| TimelineEntry {
            after_ms,
            chat: Some(chat),
            ..TimelineEntry::default()
        };
        fixture.timeline = vec![
            TimelineEntry {
                delete: Some(vec![5]),
                ..entry(3000, CHANNEL)
            },
            TimelineEntry {
                post: Some(text("first")),
                ..entry(1000, CHANNEL)
            },
            TimelineEntry {
                edit: Some(EditSpec {
                    id: 6,
                    text: Some("second".into()),
                    media: None,
                }),
                ..entry(2000, CHANNEL)
            },
        ];
        let world = Arc::new(World::from_fixture(fixture).unwrap());
        let player = world.play_timeline().unwrap();
        assert!(world.play_timeline().is_none(), "played once");
        let top = |world: &World| world.store().chats[&CHANNEL].top().cloned().unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(top(&world).id, 5);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!((top(&world).id, top(&world).text), (6, "first".into()));
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(top(&world).text, "second");
        player.await.unwrap();
        assert_eq!(ids(&world, ChatRef::Chat(CHANNEL)), vec![1, 2, 3, 4, 6]);
        assert_eq!(world.channel_pts(CHANNEL), Some(8));
    }
}
