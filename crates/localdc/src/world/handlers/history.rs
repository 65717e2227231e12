//! Reading messages: dialogs, history, per-chat and global search, messages by id.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::sync::Arc;

use tl_types::api::functions::channels::GetMessages as GetChannelMessages;
use tl_types::api::functions::messages::{
    GetDialogs, GetHistory, GetMessages, Search, SearchGlobal,
};
use tl_types::api::{enums, types};

use super::peers::{PeerTarget, chat_obj, input_channel, input_peer, user_obj};
use super::{Call, Need, error, typed};
use crate::RpcError;
use crate::rpc::Registry;
use crate::world::World;
use crate::world::convert;
use crate::world::fixture::{AttributeSpec, ChatKind, MediaSpec, MessageSpec};
use crate::world::paging::{self, MAX_LIMIT, Window};
use crate::world::store::{ChatRecord, Thread};

pub(super) fn register(registry: &mut Registry, world: &Arc<World>) {
    typed(registry, world, Need::Home, get_dialogs);
    typed(registry, world, Need::Home, get_history);
    typed(registry, world, Need::Home, search);
    typed(registry, world, Need::Home, search_global);
    typed(registry, world, Need::Home, get_messages);
    typed(registry, world, Need::Home, get_channel_messages);
}

/// Messages with the users and chats they mention.
#[derive(Default)]
struct Bundle {
    messages: Vec<enums::Message>,
    users: BTreeSet<i64>,
    chats: BTreeSet<i64>,
}

impl Bundle {
    fn push(&mut self, call: &Call<'_>, thread: Thread<'_>, message: &MessageSpec) {
        let me = call.user.unwrap_or_default();
        self.messages
            .push(convert::thread_message(call.store, thread, message, me));
        self.users.extend(convert::message_users(message));
        self.mention(thread);
    }

    /// Lists the thread's peer in `chats` or `users`.
    fn mention(&mut self, thread: Thread<'_>) {
        match thread {
            Thread::Chat(record) => {
                self.chats.insert(record.spec.id);
            }
            Thread::Private(private) => {
                self.users.insert(private.peer);
            }
        }
    }

    fn users(&self, call: &Call<'_>) -> Vec<enums::User> {
        self.users
            .iter()
            .filter_map(|id| user_obj(call, *id))
            .collect()
    }

    fn chats(&self, call: &Call<'_>) -> Vec<enums::Chat> {
        self.chats
            .iter()
            .filter_map(|id| call.store.chats.get(id))
            .map(|record| chat_obj(call, record))
            .collect()
    }

    /// `messages.messages` when everything is here, else a slice (or, for a channel,
    /// `messages.channelMessages`).
    fn into_messages(
        self,
        call: &Call<'_>,
        count: usize,
        channel: Option<&ChatRecord>,
    ) -> enums::messages::Messages {
        let users = self.users(call);
        let chats = self.chats(call);
        let total = i32::try_from(count).unwrap_or(i32::MAX);
        if let Some(record) = channel {
            return types::messages::ChannelMessages {
                inexact: false,
                pts: record.pts,
                count: total,
                offset_id_offset: None,
                messages: self.messages,
                topics: Vec::new(),
                chats,
                users,
            }
            .into();
        }
        if count <= self.messages.len() {
            return types::messages::Messages {
                messages: self.messages,
                topics: Vec::new(),
                chats,
                users,
            }
            .into();
        }
        types::messages::MessagesSlice {
            inexact: false,
            count: total,
            next_rate: None,
            offset_id_offset: None,
            search_flood: None,
            messages: self.messages,
            topics: Vec::new(),
            chats,
            users,
        }
        .into()
    }
}

fn empty_messages() -> enums::messages::Messages {
    types::messages::Messages {
        messages: Vec::new(),
        topics: Vec::new(),
        chats: Vec::new(),
        users: Vec::new(),
    }
    .into()
}

/// The thread an `InputPeer` names, when the caller may read it: a group or channel, or
/// the caller's private chat with a user (`None` when they never talked).
fn thread<'w>(call: &Call<'w>, input: &enums::InputPeer) -> Result<Option<Thread<'w>>, RpcError> {
    Ok(match input_peer(call, input)? {
        PeerTarget::Chat(record) => Some(Thread::Chat(record)),
        PeerTarget::User(id) => {
            let me = call.me()?;
            call.store.privates.get(&(me, id)).map(Thread::Private)
        }
    })
}

/// The channel a thread is, for `messages.channelMessages`.
fn channel_of(thread: Thread<'_>) -> Option<&ChatRecord> {
    thread.chat().filter(|record| record.is_channel())
}

fn get_history(call: &Call<'_>, req: GetHistory) -> Result<enums::messages::Messages, RpcError> {
    let Some(thread) = thread(call, &req.peer)? else {
        return Ok(empty_messages());
    };
    let all: Vec<&MessageSpec> = thread.messages().iter().collect();
    let window = Window {
        offset_id: req.offset_id,
        offset_date: req.offset_date,
        add_offset: req.add_offset,
        limit: req.limit,
        max_id: req.max_id,
        min_id: req.min_id,
    };
    let mut bundle = Bundle::default();
    for message in paging::page(&all, &window) {
        bundle.push(call, thread, message);
    }
    bundle.mention(thread);
    Ok(bundle.into_messages(call, all.len(), channel_of(thread)))
}

/// Whether a message passes a `messages.search` media filter.
fn filter_matches(filter: &enums::MessagesFilter, message: &MessageSpec) -> bool {
    use enums::MessagesFilter as F;
    let attrs: &[AttributeSpec] = match &message.media {
        Some(MediaSpec::Document(doc)) => &doc.attributes,
        _ => &[],
    };
    let is_doc = matches!(message.media, Some(MediaSpec::Document(_)));
    let photo = matches!(message.media, Some(MediaSpec::Photo(_)));
    let video = attrs
        .iter()
        .any(|a| matches!(a, AttributeSpec::Video { round: false, .. }));
    let round = attrs
        .iter()
        .any(|a| matches!(a, AttributeSpec::Video { round: true, .. }));
    let voice = attrs
        .iter()
        .any(|a| matches!(a, AttributeSpec::Audio { voice: true, .. }));
    let music = attrs
        .iter()
        .any(|a| matches!(a, AttributeSpec::Audio { voice: false, .. }));
    let gif = attrs.iter().any(|a| matches!(a, AttributeSpec::Animated));
    let sticker = attrs
        .iter()
        .any(|a| matches!(a, AttributeSpec::Sticker { .. }));
    match filter {
        F::InputMessagesFilterEmpty => true,
        F::InputMessagesFilterPhotos => photo,
        F::InputMessagesFilterVideo => video && !gif,
        F::InputMessagesFilterPhotoVideo => photo || (video && !gif),
        F::InputMessagesFilterDocument => {
            is_doc && !video && !round && !voice && !music && !gif && !sticker
        }
        F::InputMessagesFilterGif => gif,
        F::InputMessagesFilterVoice => voice,
        F::InputMessagesFilterMusic => music,
        F::InputMessagesFilterRoundVoice => voice || round,
        F::InputMessagesFilterRoundVideo => round,
        F::InputMessagesFilterUrl => {
            let text = message.text.to_ascii_lowercase();
            text.contains("http://") || text.contains("https://") || text.contains("t.me/")
        }
        // Not modelled: no message matches.
        _ => false,
    }
}

/// Whether a message's text matches a query: every word of `q` starts a word of the
/// text, case-insensitively (how Telegram's search treats words).
fn text_matches(q: &str, text: &str) -> bool {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .all(|needle| words.iter().any(|w| w.starts_with(&needle)))
}

/// The common conditions of both searches.
struct Query<'a> {
    q: &'a str,
    filter: &'a enums::MessagesFilter,
    min_date: i32,
    max_date: i32,
    from: Option<i64>,
}

impl Query<'_> {
    fn matches(&self, message: &MessageSpec) -> bool {
        (self.min_date == 0 || message.date >= self.min_date)
            && (self.max_date == 0 || message.date <= self.max_date)
            && self.from.is_none_or(|f| message.from == Some(f))
            && filter_matches(self.filter, message)
            && text_matches(self.q, &message.text)
    }
}

fn search(call: &Call<'_>, req: Search) -> Result<enums::messages::Messages, RpcError> {
    let Some(thread) = thread(call, &req.peer)? else {
        return Ok(empty_messages());
    };
    let from = match &req.from_id {
        None => None,
        Some(peer) => match input_peer(call, peer) {
            Ok(PeerTarget::User(id)) => Some(id),
            _ => return Err(error(400, "PEER_ID_INVALID")),
        },
    };
    let query = Query {
        q: &req.q,
        filter: &req.filter,
        min_date: req.min_date,
        max_date: req.max_date,
        from,
    };
    let found: Vec<&MessageSpec> = thread
        .messages()
        .iter()
        .filter(|m| query.matches(m))
        .collect();
    let window = Window {
        offset_id: req.offset_id,
        offset_date: 0,
        add_offset: req.add_offset,
        limit: req.limit,
        max_id: req.max_id,
        min_id: req.min_id,
    };
    let mut bundle = Bundle::default();
    for message in paging::page(&found, &window) {
        bundle.push(call, thread, message);
    }
    bundle.mention(thread);
    Ok(bundle.into_messages(call, found.len(), channel_of(thread)))
}

/// The order of global search results, newest first: (date, peer, id) descending.
type GlobalKey = (i32, i64, i32);

fn search_global(
    call: &Call<'_>,
    req: SearchGlobal,
) -> Result<enums::messages::Messages, RpcError> {
    let me = call.me()?;
    if req.q.trim().is_empty()
        && matches!(req.filter, enums::MessagesFilter::InputMessagesFilterEmpty)
    {
        return Err(error(400, "SEARCH_QUERY_EMPTY"));
    }
    let query = Query {
        q: &req.q,
        filter: &req.filter,
        min_date: req.min_date,
        max_date: req.max_date,
        from: None,
    };
    let store = &call.store;
    let chats = store
        .chats
        .values()
        .filter(|record| {
            let kind = record.spec.kind;
            let broadcast = kind == ChatKind::Channel;
            let wanted = if req.users_only {
                false
            } else if req.broadcasts_only {
                broadcast
            } else if req.groups_only {
                !broadcast
            } else {
                true
            };
            wanted && call.world.is_member(record, me)
        })
        .map(Thread::Chat);
    let privates = store
        .privates_of(me)
        .filter(|_| !req.broadcasts_only && !req.groups_only)
        .map(Thread::Private);
    let mut found: Vec<(GlobalKey, Thread<'_>, &MessageSpec)> = Vec::new();
    for thread in chats.chain(privates) {
        let marked = thread.marked_id();
        found.extend(
            thread
                .messages()
                .iter()
                .filter(|m| query.matches(m))
                .map(|m| ((m.date, marked, m.id), thread, m)),
        );
    }
    found.sort_unstable_by_key(|entry| Reverse(entry.0));
    let total = found.len();
    let start = if req.offset_rate == 0 {
        0
    } else {
        let peer = match input_peer(call, &req.offset_peer) {
            Ok(PeerTarget::Chat(record)) => record.marked_id(),
            Ok(PeerTarget::User(id)) => id,
            Err(_) => i64::MAX,
        };
        let cursor: GlobalKey = (req.offset_rate, peer, req.offset_id);
        found.partition_point(|(key, _, _)| *key >= cursor)
    };
    let limit = usize::try_from(req.limit.clamp(1, MAX_LIMIT)).unwrap_or(1);
    let page = found.get(start..).unwrap_or_default();
    let taken = page.get(..limit.min(page.len())).unwrap_or_default();
    let more = page.len() > taken.len();
    let mut bundle = Bundle::default();
    for (_, thread, message) in taken {
        bundle.push(call, *thread, message);
    }
    let next_rate = if more {
        taken.last().map(|((date, _, _), _, _)| *date)
    } else {
        None
    };
    if start == 0 && !more {
        return Ok(bundle.into_messages(call, total, None));
    }
    let users = bundle.users(call);
    let chats = bundle.chats(call);
    Ok(types::messages::MessagesSlice {
        inexact: false,
        count: i32::try_from(total).unwrap_or(i32::MAX),
        next_rate,
        offset_id_offset: None,
        search_flood: None,
        messages: bundle.messages,
        topics: Vec::new(),
        chats,
        users,
    }
    .into())
}

/// The id an `InputMessage` names (`None` when it names nothing).
fn input_message(
    input: &enums::InputMessage,
    reply_of: &dyn Fn(i32) -> Option<i32>,
) -> Option<i32> {
    match input {
        enums::InputMessage::ID(m) => Some(m.id),
        enums::InputMessage::ReplyTo(m) => reply_of(m.id),
        // No pins or callback queries in the world.
        enums::InputMessage::Pinned | enums::InputMessage::CallbackQuery(_) => None,
    }
}

fn get_messages(call: &Call<'_>, req: GetMessages) -> Result<enums::messages::Messages, RpcError> {
    let me = call.me()?;
    let store = &call.store;
    // The caller's message box: its basic groups (which share one id space) and its
    // private chats.
    let find = |id: i32| {
        store
            .basic_group_of(id)
            .filter(|record| call.world.is_member(record, me))
            .map(Thread::Chat)
            .or_else(|| {
                store
                    .privates_of(me)
                    .map(Thread::Private)
                    .find(|thread| thread.message(id).is_some())
            })
            .and_then(|thread| thread.message(id).map(|m| (thread, m)))
    };
    let reply_of = |id: i32| find(id).and_then(|(_, m)| m.reply_to);
    let mut bundle = Bundle::default();
    for input in &req.id {
        let id = input_message(input, &reply_of);
        match id.and_then(find) {
            Some((thread, message)) => bundle.push(call, thread, message),
            None => bundle.messages.push(
                types::MessageEmpty {
                    id: id.unwrap_or(0),
                    peer_id: None,
                }
                .into(),
            ),
        }
    }
    let count = bundle.messages.len();
    Ok(bundle.into_messages(call, count, None))
}

fn get_channel_messages(
    call: &Call<'_>,
    req: GetChannelMessages,
) -> Result<enums::messages::Messages, RpcError> {
    let record = input_channel(call, &req.channel)?;
    let reply_of = |id: i32| record.message(id).and_then(|m| m.reply_to);
    let mut bundle = Bundle::default();
    for input in &req.id {
        let id = input_message(input, &reply_of);
        match id.and_then(|id| record.message(id)) {
            Some(message) => bundle.push(call, Thread::Chat(record), message),
            None => bundle.messages.push(
                types::MessageEmpty {
                    id: id.unwrap_or(0),
                    peer_id: Some(convert::chat_peer(record)),
                }
                .into(),
            ),
        }
    }
    bundle.chats.insert(record.spec.id);
    let count = bundle.messages.len();
    Ok(bundle.into_messages(call, count, Some(record)))
}

/// The order of dialogs, newest first: (top date, top id, peer) descending.
type DialogKey = (i32, i32, i64);

fn get_dialogs(call: &Call<'_>, req: GetDialogs) -> Result<enums::messages::Dialogs, RpcError> {
    let me = call.me()?;
    if req.folder_id.is_some_and(|folder| folder != 0) {
        // Nothing is archived.
        return Ok(types::messages::Dialogs {
            dialogs: Vec::new(),
            messages: Vec::new(),
            chats: Vec::new(),
            users: Vec::new(),
        }
        .into());
    }
    let store = &call.store;
    let chats = store
        .chats
        .values()
        .filter(|record| call.world.is_member(record, me))
        .map(Thread::Chat);
    let privates = store.privates_of(me).map(Thread::Private);
    let mut dialogs: Vec<(DialogKey, Thread<'_>)> = chats
        .chain(privates)
        .map(|thread| {
            let (date, id) = thread.top().map_or((thread.date(), 0), |m| (m.date, m.id));
            ((date, id, thread.marked_id()), thread)
        })
        .collect();
    dialogs.sort_unstable_by_key(|entry| Reverse(entry.0));
    let total = dialogs.len();
    let start = if req.offset_date == 0 && req.offset_id == 0 {
        0
    } else {
        let peer = match input_peer(call, &req.offset_peer) {
            Ok(PeerTarget::Chat(record)) => record.marked_id(),
            Ok(PeerTarget::User(id)) => id,
            Err(_) => i64::MAX,
        };
        let cursor: DialogKey = (req.offset_date, req.offset_id, peer);
        dialogs.partition_point(|(key, _)| *key >= cursor)
    };
    let limit = usize::try_from(req.limit.clamp(0, MAX_LIMIT)).unwrap_or(0);
    let rest = dialogs.get(start..).unwrap_or_default();
    let page = rest.get(..limit.min(rest.len())).unwrap_or_default();
    let mut bundle = Bundle::default();
    let mut list = Vec::new();
    for (_, thread) in page {
        let thread = *thread;
        let top = thread.top();
        if let Some(message) = top {
            bundle.push(call, thread, message);
        }
        bundle.mention(thread);
        let top_id = top.map_or(0, |m| m.id);
        list.push(
            types::Dialog {
                pinned: false,
                unread_mark: false,
                view_forum_as_messages: false,
                peer: convert::thread_peer(thread),
                top_message: top_id,
                read_inbox_max_id: top_id,
                read_outbox_max_id: top_id,
                unread_count: 0,
                unread_mentions_count: 0,
                unread_reactions_count: 0,
                unread_poll_votes_count: 0,
                notify_settings: convert::notify_settings(),
                pts: channel_of(thread).map(|c| c.pts),
                draft: None,
                folder_id: None,
                ttl_period: None,
            }
            .into(),
        );
    }
    let users = bundle.users(call);
    let chats = bundle.chats(call);
    if start == 0 && page.len() == total {
        return Ok(types::messages::Dialogs {
            dialogs: list,
            messages: bundle.messages,
            chats,
            users,
        }
        .into());
    }
    Ok(types::messages::DialogsSlice {
        count: i32::try_from(total).unwrap_or(i32::MAX),
        dialogs: list,
        messages: bundle.messages,
        chats,
        users,
    }
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_match_by_prefix_case_insensitively() {
        assert!(text_matches("hel", "Hello, world"));
        assert!(text_matches("WORLD hello", "Hello, world"));
        assert!(!text_matches("orld", "Hello, world"));
        assert!(text_matches("", "anything"));
    }
}
