//! Telegram's update types in the machine's terms: which box an update belongs to, its
//! `pts` and `pts_count` (the list is Telethon's and grammers'), and what a follower is
//! told about it.

use tl_types::api::enums;

use super::machine::{
    Batch, ChannelDifference, CommonState, Difference, Entry, Incoming, Item, PtsUpdate,
};

/// What a follower is told, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum FollowEvent {
    /// A new message in a followed chat.
    New {
        chat_id: i64,
        message: enums::Message,
    },
    /// A message of a followed chat was edited (its media may have been replaced).
    Edited {
        chat_id: i64,
        message: enums::Message,
    },
    /// Messages were deleted: in `chat_id`, or, for the common box, wherever these ids are
    /// (Telegram does not say which private chat or basic group).
    Deleted { chat_id: Option<i64>, ids: Vec<i32> },
}

impl FollowEvent {
    /// The chat the event is about, when Telegram says.
    pub fn chat_id(&self) -> Option<i64> {
        match self {
            FollowEvent::New { chat_id, .. } | FollowEvent::Edited { chat_id, .. } => {
                Some(*chat_id)
            }
            FollowEvent::Deleted { chat_id, .. } => *chat_id,
        }
    }
}

/// What the machine carries: an event, or nothing for updates that only move a sequence.
pub(crate) type Payload = Option<FollowEvent>;

/// The marked id of a peer: users as is, basic groups negated, channels below -10^12.
pub fn marked_id(peer: &enums::Peer) -> i64 {
    match peer {
        enums::Peer::User(p) => p.user_id,
        enums::Peer::Chat(p) => p.chat_id.saturating_neg(),
        enums::Peer::Channel(p) => channel_marked_id(p.channel_id),
    }
}

/// The marked id of channel `id`.
pub fn channel_marked_id(id: i64) -> i64 {
    -1_000_000_000_000_i64 - id
}

/// The chat of a message (`None` for an empty message without one).
pub fn message_chat(message: &enums::Message) -> Option<&enums::Peer> {
    match message {
        enums::Message::Message(m) => Some(&m.peer_id),
        enums::Message::Service(m) => Some(&m.peer_id),
        enums::Message::Empty(m) => m.peer_id.as_ref(),
    }
}

/// The id of a message.
pub fn message_id(message: &enums::Message) -> i32 {
    match message {
        enums::Message::Message(m) => m.id,
        enums::Message::Service(m) => m.id,
        enums::Message::Empty(m) => m.id,
    }
}

/// A new message as an event (`None` when it names no chat).
pub(crate) fn new_message(message: enums::Message) -> Payload {
    let chat_id = marked_id(message_chat(&message)?);
    Some(FollowEvent::New { chat_id, message })
}

fn edited_message(message: enums::Message) -> Payload {
    let chat_id = marked_id(message_chat(&message)?);
    Some(FollowEvent::Edited { chat_id, message })
}

fn channel_of(message: &enums::Message) -> Option<i64> {
    match message_chat(message)? {
        enums::Peer::Channel(p) => Some(p.channel_id),
        _ => None,
    }
}

fn pts(entry: Entry, pts: i32, pts_count: i32, payload: Payload) -> Item<Payload> {
    Item::Pts(PtsUpdate {
        entry,
        pts,
        pts_count,
        payload,
    })
}

/// One update, sequenced.
pub(crate) fn item(update: enums::Update) -> Item<Payload> {
    use enums::Update as U;
    match update {
        U::NewMessage(u) => pts(Entry::Common, u.pts, u.pts_count, new_message(u.message)),
        U::EditMessage(u) => pts(Entry::Common, u.pts, u.pts_count, edited_message(u.message)),
        U::DeleteMessages(u) => pts(
            Entry::Common,
            u.pts,
            u.pts_count,
            Some(FollowEvent::Deleted {
                chat_id: None,
                ids: u.messages,
            }),
        ),
        U::ReadHistoryInbox(u) => pts(Entry::Common, u.pts, u.pts_count, None),
        U::ReadHistoryOutbox(u) => pts(Entry::Common, u.pts, u.pts_count, None),
        U::WebPage(u) => pts(Entry::Common, u.pts, u.pts_count, None),
        U::ReadMessagesContents(u) => pts(Entry::Common, u.pts, u.pts_count, None),
        U::FolderPeers(u) => pts(Entry::Common, u.pts, u.pts_count, None),
        U::PinnedMessages(u) => pts(Entry::Common, u.pts, u.pts_count, None),
        U::NewChannelMessage(u) => match channel_of(&u.message) {
            Some(channel) => pts(
                Entry::Channel(channel),
                u.pts,
                u.pts_count,
                new_message(u.message),
            ),
            None => Item::Plain(None),
        },
        U::EditChannelMessage(u) => match channel_of(&u.message) {
            Some(channel) => pts(
                Entry::Channel(channel),
                u.pts,
                u.pts_count,
                edited_message(u.message),
            ),
            None => Item::Plain(None),
        },
        U::DeleteChannelMessages(u) => pts(
            Entry::Channel(u.channel_id),
            u.pts,
            u.pts_count,
            Some(FollowEvent::Deleted {
                chat_id: Some(channel_marked_id(u.channel_id)),
                ids: u.messages,
            }),
        ),
        U::ChannelWebPage(u) => pts(Entry::Channel(u.channel_id), u.pts, u.pts_count, None),
        U::PinnedChannelMessages(u) => pts(Entry::Channel(u.channel_id), u.pts, u.pts_count, None),
        U::ChannelTooLong(u) => Item::ChannelTooLong {
            channel_id: u.channel_id,
            pts: u.pts,
        },
        // Everything else has no sequence the machine keeps (qts updates included: a
        // follower of chats has no use for them).
        _ => Item::Plain(None),
    }
}

/// A pushed `Updates`, with the users and chats it carried (to cache).
pub(crate) fn incoming(
    updates: enums::Updates,
) -> (Incoming<Payload>, Vec<enums::User>, Vec<enums::Chat>) {
    use enums::Updates as U;
    let batch = |seq_start, seq, date, items| {
        Incoming::Batch(Batch {
            seq_start,
            seq,
            date,
            items,
        })
    };
    match updates {
        U::TooLong => (Incoming::TooLong, Vec::new(), Vec::new()),
        // Short messages are text: only their pts matters here.
        U::UpdateShortMessage(u) => (
            batch(
                0,
                0,
                u.date,
                vec![pts(Entry::Common, u.pts, u.pts_count, None)],
            ),
            Vec::new(),
            Vec::new(),
        ),
        U::UpdateShortChatMessage(u) => (
            batch(
                0,
                0,
                u.date,
                vec![pts(Entry::Common, u.pts, u.pts_count, None)],
            ),
            Vec::new(),
            Vec::new(),
        ),
        U::UpdateShortSentMessage(u) => (
            batch(
                0,
                0,
                u.date,
                vec![pts(Entry::Common, u.pts, u.pts_count, None)],
            ),
            Vec::new(),
            Vec::new(),
        ),
        U::UpdateShort(u) => (
            batch(0, 0, u.date, vec![item(u.update)]),
            Vec::new(),
            Vec::new(),
        ),
        U::Combined(u) => {
            let u = *u;
            let items = u.updates.into_iter().map(item).collect();
            (batch(u.seq_start, u.seq, u.date, items), u.users, u.chats)
        }
        U::Updates(u) => {
            let u = *u;
            let items = u.updates.into_iter().map(item).collect();
            (batch(u.seq, u.seq, u.date, items), u.users, u.chats)
        }
    }
}

fn common_state(state: &enums::updates::State) -> CommonState {
    let enums::updates::State::State(s) = state;
    CommonState {
        pts: s.pts,
        qts: s.qts,
        seq: s.seq,
        date: s.date,
    }
}

/// `updates.getState`'s answer.
pub(crate) fn state(state: &enums::updates::State) -> CommonState {
    common_state(state)
}

/// An answer to `updates.getDifference`, with its users and chats.
pub(crate) fn difference(
    answer: enums::updates::Difference,
) -> (Difference<Payload>, Vec<enums::User>, Vec<enums::Chat>) {
    use enums::updates::Difference as D;
    let some =
        |messages: Vec<enums::Message>, other: Vec<enums::Update>, state, done| Difference::Some {
            new_messages: messages.into_iter().map(new_message).collect(),
            other_updates: other.into_iter().map(item).collect(),
            state,
            done,
        };
    match answer {
        D::Empty(d) => (
            Difference::Empty {
                date: d.date,
                seq: d.seq,
            },
            Vec::new(),
            Vec::new(),
        ),
        D::Difference(d) => {
            let d = *d;
            let state = common_state(&d.state);
            (
                some(d.new_messages, d.other_updates, state, true),
                d.users,
                d.chats,
            )
        }
        D::Slice(d) => {
            let d = *d;
            let state = common_state(&d.intermediate_state);
            (
                some(d.new_messages, d.other_updates, state, false),
                d.users,
                d.chats,
            )
        }
        D::TooLong(d) => (Difference::TooLong { pts: d.pts }, Vec::new(), Vec::new()),
    }
}

/// An answer to `updates.getChannelDifference`, with its users and chats; `None` when a
/// too-long answer carries no usable dialog (it must name the channel's `pts`).
pub(crate) fn channel_difference(
    answer: enums::updates::ChannelDifference,
) -> Option<(
    ChannelDifference<Payload>,
    Vec<enums::User>,
    Vec<enums::Chat>,
)> {
    use enums::updates::ChannelDifference as D;
    Some(match answer {
        D::Empty(d) => (
            ChannelDifference::Empty {
                pts: d.pts,
                timeout: d.timeout,
            },
            Vec::new(),
            Vec::new(),
        ),
        D::ChannelDifference(d) => {
            let d = *d;
            (
                ChannelDifference::Some {
                    is_final: d.r#final,
                    pts: d.pts,
                    timeout: d.timeout,
                    new_messages: d.new_messages.into_iter().map(new_message).collect(),
                    other_updates: d.other_updates.into_iter().map(item).collect(),
                },
                d.users,
                d.chats,
            )
        }
        D::TooLong(d) => {
            let d = *d;
            let enums::Dialog::Dialog(dialog) = &d.dialog else {
                return None;
            };
            (
                ChannelDifference::TooLong {
                    pts: dialog.pts?,
                    timeout: d.timeout,
                    top_message: dialog.top_message,
                },
                d.users,
                d.chats,
            )
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

    use tl_types::api::types;

    use super::*;

    fn delete_in_channel(pts: i32) -> enums::Update {
        types::UpdateDeleteChannelMessages {
            channel_id: 77,
            messages: vec![4, 5],
            pts,
            pts_count: 2,
        }
        .into()
    }

    #[test]
    fn channel_updates_go_to_the_channel_box_with_its_marked_id() {
        let Item::Pts(update) = item(delete_in_channel(12)) else {
            panic!("pts expected");
        };
        assert_eq!(update.entry, Entry::Channel(77));
        assert_eq!((update.pts, update.pts_count), (12, 2));
        assert_eq!(
            update.payload,
            Some(FollowEvent::Deleted {
                chat_id: Some(-1_000_000_000_077),
                ids: vec![4, 5],
            })
        );
        let too_long = types::UpdateChannelTooLong {
            channel_id: 77,
            pts: Some(40),
        };
        assert_eq!(
            item(too_long.into()),
            Item::ChannelTooLong {
                channel_id: 77,
                pts: Some(40)
            }
        );
    }

    #[test]
    fn containers_carry_their_sequence() {
        let combined = types::UpdatesCombined {
            updates: vec![delete_in_channel(3)],
            users: Vec::new(),
            chats: Vec::new(),
            date: 1000,
            seq_start: 7,
            seq: 8,
        };
        let (Incoming::Batch(batch), _, _) = incoming(combined.into()) else {
            panic!("batch expected");
        };
        assert_eq!((batch.seq_start, batch.seq, batch.date), (7, 8, 1000));
        assert_eq!(batch.items.len(), 1);
        let short = types::UpdateShort {
            update: delete_in_channel(4),
            date: 2000,
        };
        let (Incoming::Batch(batch), _, _) = incoming(short.into()) else {
            panic!("batch expected");
        };
        // No sequence: applied by pts alone.
        assert_eq!((batch.seq_start, batch.seq), (0, 0));
        assert_eq!(incoming(enums::Updates::TooLong).0, Incoming::TooLong);
    }

    #[test]
    fn marked_ids_follow_telegrams_convention() {
        assert_eq!(channel_marked_id(1234), -1_000_000_001_234);
        let chat: enums::Peer = types::PeerChat { chat_id: 5 }.into();
        assert_eq!(marked_id(&chat), -5);
        let user: enums::Peer = types::PeerUser { user_id: 9 }.into();
        assert_eq!(marked_id(&user), 9);
    }
}
