//! The account's chats (`messages.getDialogs`), paged the way Telegram documents: each
//! page continues from the last dialog's top message (its date, id and peer). Every page's
//! users and chats go into the session's peer cache, so numeric ids resolve afterwards.

use std::collections::HashSet;

use tgclient::{Client, ClientError, PeerKind};
use tl_types::api::{enums, functions};

use crate::output::{self, ChatJson};

/// The largest page Telegram serves.
const PAGE: usize = 100;

/// The account's chats, newest activity first, at most `limit`.
pub async fn list(client: &Client, limit: Option<usize>) -> Result<Vec<ChatJson>, ClientError> {
    let mut chats = Vec::new();
    let mut seen = HashSet::new();
    let mut offset_date = 0;
    let mut offset_id = 0;
    let mut offset_peer = enums::InputPeer::Empty;
    loop {
        let wanted = limit.map_or(PAGE, |limit| limit.saturating_sub(chats.len()).min(PAGE));
        if wanted == 0 {
            break;
        }
        let request = functions::messages::GetDialogs {
            exclude_pinned: false,
            folder_id: None,
            offset_date,
            offset_id,
            offset_peer: offset_peer.clone(),
            limit: i32::try_from(wanted).unwrap_or(100),
            hash: 0,
        };
        let (page, total) = match client.invoke(&request).await? {
            enums::messages::Dialogs::Dialogs(d) => (*d, None),
            enums::messages::Dialogs::Slice(s) => {
                let s = *s;
                let page = tl_types::api::types::messages::Dialogs {
                    dialogs: s.dialogs,
                    messages: s.messages,
                    chats: s.chats,
                    users: s.users,
                };
                (page, usize::try_from(s.count).ok())
            }
            enums::messages::Dialogs::NotModified(_) => break,
        };
        client.cache_peers(&page.users, &page.chats)?;
        let mut fresh = 0;
        let mut last = None;
        for dialog in &page.dialogs {
            let enums::Dialog::Dialog(dialog) = dialog else {
                continue;
            };
            last = Some(dialog);
            if !seen.insert(output::marked_id(&dialog.peer)) {
                continue;
            }
            fresh += 1;
            if limit.is_none_or(|limit| chats.len() < limit) {
                chats.push(describe(&dialog.peer, &page));
            }
        }
        let complete = total.is_none_or(|total| seen.len() >= total);
        let Some(last) = last.filter(|_| fresh > 0 && !complete) else {
            break;
        };
        offset_id = last.top_message;
        offset_date = page
            .messages
            .iter()
            .find_map(|message| match message {
                enums::Message::Message(m)
                    if m.id == last.top_message && m.peer_id == last.peer =>
                {
                    Some(m.date)
                }
                enums::Message::Service(m)
                    if m.id == last.top_message && m.peer_id == last.peer =>
                {
                    Some(m.date)
                }
                _ => None,
            })
            .unwrap_or(0);
        let (kind, id) = peer_key(&last.peer);
        offset_peer = client
            .cached_input_peer(kind, id)?
            .unwrap_or(enums::InputPeer::Empty);
    }
    Ok(chats)
}

fn peer_key(peer: &enums::Peer) -> (PeerKind, i64) {
    match peer {
        enums::Peer::User(p) => (PeerKind::User, p.user_id),
        enums::Peer::Chat(p) => (PeerKind::Chat, p.chat_id),
        enums::Peer::Channel(p) => (PeerKind::Channel, p.channel_id),
    }
}

/// The printed form of a dialog's peer, from the page's users and chats.
fn describe(peer: &enums::Peer, page: &tl_types::api::types::messages::Dialogs) -> ChatJson {
    let marked = output::marked_id(peer);
    let found = match peer {
        enums::Peer::User(_) => page
            .users
            .iter()
            .filter_map(output::user_json)
            .find(|user| user.id == marked),
        enums::Peer::Chat(_) | enums::Peer::Channel(_) => page
            .chats
            .iter()
            .filter_map(output::chat_json)
            .find(|chat| chat.id == marked),
    };
    found.unwrap_or_else(|| ChatJson {
        id: marked,
        kind: match peer {
            enums::Peer::User(_) => "user",
            enums::Peer::Chat(_) => "group",
            enums::Peer::Channel(_) => "channel",
        },
        title: String::new(),
        username: None,
    })
}
