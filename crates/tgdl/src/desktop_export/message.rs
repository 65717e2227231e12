//! One message as a Telegram Desktop `result.json` entry, its fields in Desktop's order:
//! `id`, `type`, `date`, `date_unixtime`, `edited`, `edited_unixtime`, `from`, `from_id`,
//! `author`, `forwarded_from`, `saved_from`, `reply_to_message_id`, `via_bot`, the media
//! fields, `text`, `text_entities`.

use std::collections::HashMap;

use tgclient::{PeerInfo, PeerKind};
use tl_types::api::enums;

use super::json::Json;
use super::media::{DesktopMedia, desktop_date};
use super::{action, text};

/// Names and kinds of the peers messages mention.
pub type Peers = HashMap<(PeerKind, i64), PeerInfo>;

/// Where a message's file is, or why it is not there: a path relative to the export
/// directory, or one of Desktop's texts ([`super::media::NOT_INCLUDED`], ...).
pub type FileField = String;

/// The kind and bare id of a peer.
pub fn peer_key(peer: &enums::Peer) -> (PeerKind, i64) {
    match peer {
        enums::Peer::User(p) => (PeerKind::User, p.user_id),
        enums::Peer::Chat(p) => (PeerKind::Chat, p.chat_id),
        enums::Peer::Channel(p) => (PeerKind::Channel, p.channel_id),
    }
}

/// Desktop's `from_id`: `user123`, `chat123` or `channel123`.
fn wrapped_id(peer: &enums::Peer) -> String {
    match peer_key(peer) {
        (PeerKind::User, id) => format!("user{id}"),
        (PeerKind::Chat, id) => format!("chat{id}"),
        (PeerKind::Channel, id) => format!("channel{id}"),
    }
}

/// A peer's name, or null when unknown or empty (as Desktop writes a deleted account).
fn name_of(peers: &Peers, peer: &enums::Peer) -> Json {
    peers
        .get(&peer_key(peer))
        .map(|info| info.name.as_str())
        .filter(|name| !name.is_empty())
        .map_or(Json::Null, Json::from)
}

/// The peers `message` mentions whose names the entry shows.
pub fn mentioned_peers(message: &enums::Message) -> Vec<(PeerKind, i64)> {
    let mut peers = Vec::new();
    match message {
        enums::Message::Message(m) => {
            peers.push(peer_key(m.from_id.as_ref().unwrap_or(&m.peer_id)));
            if let Some(enums::MessageFwdHeader::MessageFwdHeader(fwd)) = &m.fwd_from {
                peers.extend(fwd.from_id.iter().chain(&fwd.saved_from_peer).map(peer_key));
            }
            peers.extend(m.via_bot_id.map(|bot| (PeerKind::User, bot)));
        }
        enums::Message::Service(m) => {
            peers.push(peer_key(m.from_id.as_ref().unwrap_or(&m.peer_id)));
            let users = action::mentioned_users(&m.action);
            peers.extend(users.into_iter().map(|id| (PeerKind::User, id)));
        }
        enums::Message::Empty(_) => {}
    }
    peers
}

/// The entry of `message`; `file` says what to write in its media's `photo`/`file` field.
/// `None` for an empty (deleted) message.
pub fn message_entry(
    message: &enums::Message,
    peers: &Peers,
    file: Option<&FileField>,
) -> Option<Json> {
    let mut fields: Vec<(String, Json)> = Vec::new();
    let mut push = |key: &str, value: Json| fields.push((key.to_owned(), value));
    match message {
        enums::Message::Empty(_) => return None,
        enums::Message::Service(m) => {
            push("id", Json::from(i64::from(m.id)));
            push("type", Json::from("service"));
            push_date(&mut push, "date", m.date);
            // Desktop's actor is the sender, else the chat itself.
            let actor = m.from_id.as_ref().unwrap_or(&m.peer_id);
            push("actor", name_of(peers, actor));
            push("actor_id", Json::from(wrapped_id(actor)));
            let reply_to = match &m.reply_to {
                Some(enums::MessageReplyHeader::MessageReplyHeader(reply)) => reply.reply_to_msg_id,
                _ => None,
            };
            action::push_action(&mut push, &m.action, reply_to, peers);
            push("text", Json::from(""));
            push("text_entities", Json::Array(Vec::new()));
        }
        enums::Message::Message(m) => {
            push("id", Json::from(i64::from(m.id)));
            push("type", Json::from("message"));
            push_date(&mut push, "date", m.date);
            if let Some(edited) = m.edit_date {
                push_date(&mut push, "edited", edited);
            }
            // Desktop's sender is `from_id`, else the chat itself (a channel's posts).
            let from = m.from_id.as_ref().unwrap_or(&m.peer_id);
            push("from", name_of(peers, from));
            push("from_id", Json::from(wrapped_id(from)));
            if let Some(author) = m.post_author.as_deref().filter(|a| !a.is_empty()) {
                push("author", Json::from(author));
            }
            if let Some(enums::MessageFwdHeader::MessageFwdHeader(fwd)) = &m.fwd_from {
                if let Some(from) = &fwd.from_id {
                    push("forwarded_from", name_of(peers, from));
                } else if let Some(name) = fwd.from_name.as_deref().filter(|n| !n.is_empty()) {
                    push("forwarded_from", Json::from(name));
                }
                if let Some(saved) = &fwd.saved_from_peer {
                    push("saved_from", name_of(peers, saved));
                }
            }
            if let Some(enums::MessageReplyHeader::MessageReplyHeader(reply)) = &m.reply_to
                && let Some(id) = reply.reply_to_msg_id
            {
                push("reply_to_message_id", Json::from(i64::from(id)));
                if let Some(peer) = &reply.reply_to_peer_id {
                    push("reply_to_peer_id", Json::from(wrapped_id(peer)));
                }
            }
            if let Some(username) = m
                .via_bot_id
                .and_then(|bot| peers.get(&(PeerKind::User, bot)))
                .and_then(|info| info.username.as_deref())
                .filter(|name| !name.is_empty())
            {
                push("via_bot", Json::from(format!("@{username}")));
            }
            if let Some(media) = m.media.as_ref().and_then(DesktopMedia::of) {
                push_media(&mut push, &media, file);
            }
            let parts = text::parts(&m.message, m.entities.as_deref().unwrap_or_default());
            push("text", text::text_field(&parts));
            push("text_entities", text::entities_field(&parts));
        }
    }
    Some(Json::Object(fields))
}

fn push_date(push: &mut impl FnMut(&str, Json), key: &str, unix: i32) {
    push(key, Json::from(desktop_date(i64::from(unix))));
    // Desktop writes the Unix time as a string.
    push(&format!("{key}_unixtime"), Json::from(unix.to_string()));
}

fn push_media(push: &mut impl FnMut(&str, Json), media: &DesktopMedia, file: Option<&FileField>) {
    let file = file.map_or(Json::from(super::media::NOT_INCLUDED), |f| {
        Json::from(f.as_str())
    });
    let size = Json::from(i64::try_from(media.size).unwrap_or(i64::MAX));
    if media.photo {
        push("photo", file);
        push("photo_file_size", size);
    } else {
        push("file", file);
        if let Some(name) = media.file_name.as_deref().filter(|n| !n.is_empty()) {
            push("file_name", Json::from(name));
        }
        push("file_size", size);
        if let Some(kind) = media.media_type() {
            push("media_type", Json::from(kind));
        }
        if media.is_sticker
            && let Some(emoji) = media.sticker_emoji.as_deref().filter(|e| !e.is_empty())
        {
            push("sticker_emoji", Json::from(emoji));
        }
        if media.media_type() == Some("audio_file") {
            if let Some(performer) = media.performer.as_deref().filter(|p| !p.is_empty()) {
                push("performer", Json::from(performer));
            }
            if let Some(title) = media.title.as_deref().filter(|t| !t.is_empty()) {
                push("title", Json::from(title));
            }
        }
        if let Some(mime) = media.mime_type.as_deref().filter(|m| !m.is_empty()) {
            push("mime_type", Json::from(mime));
        }
        if let Some(duration) = media.duration.filter(|d| *d != 0) {
            push("duration_seconds", Json::from(duration));
        }
    }
    if let (Some(w), Some(h)) = (media.width, media.height)
        && w != 0
        && h != 0
    {
        push("width", Json::from(i64::from(w)));
        push("height", Json::from(i64::from(h)));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tl_types::api::types;

    use super::*;

    fn user(id: i64) -> enums::Peer {
        enums::Peer::User(Box::new(types::PeerUser { user_id: id }))
    }

    /// A text message of user 7 in the private chat with user 7.
    fn message(text: &str, entities: Vec<enums::MessageEntity>) -> types::Message {
        types::Message {
            out: false,
            mentioned: false,
            media_unread: false,
            silent: false,
            post: false,
            from_scheduled: false,
            legacy: false,
            edit_hide: false,
            pinned: false,
            noforwards: false,
            invert_media: false,
            offline: false,
            video_processing_pending: false,
            paid_suggested_post_stars: false,
            paid_suggested_post_ton: false,
            id: 42,
            from_id: None,
            from_boosts_applied: None,
            from_rank: None,
            peer_id: user(7),
            saved_peer_id: None,
            fwd_from: None,
            via_bot_id: None,
            via_business_bot_id: None,
            guestchat_via_from: None,
            reply_to: None,
            date: 1_700_000_000,
            message: text.to_owned(),
            media: None,
            reply_markup: None,
            entities: Some(entities),
            views: None,
            forwards: None,
            replies: None,
            edit_date: None,
            post_author: None,
            grouped_id: None,
            reactions: None,
            restriction_reason: None,
            ttl_period: None,
            quick_reply_shortcut_id: None,
            effect: None,
            factcheck: None,
            report_delivery_until_date: None,
            paid_message_stars: None,
            suggested_post: None,
            schedule_repeat_period: None,
            summary_from_language: None,
            rich_message: None,
        }
    }

    #[test]
    fn a_message_with_entities_and_a_hidden_forward_reads_as_desktop_writes_it() {
        let mut m = message(
            "see docs now",
            vec![
                enums::MessageEntity::TextUrl(Box::new(types::MessageEntityTextUrl {
                    offset: 4,
                    length: 4,
                    url: "https://example.com".to_owned(),
                })),
                enums::MessageEntity::MentionName(Box::new(types::MessageEntityMentionName {
                    offset: 9,
                    length: 3,
                    user_id: 7,
                })),
            ],
        );
        m.via_bot_id = Some(93);
        m.fwd_from = Some(enums::MessageFwdHeader::MessageFwdHeader(Box::new(
            types::MessageFwdHeader {
                imported: false,
                saved_out: false,
                from_id: None,
                from_name: Some("Hidden Person".to_owned()),
                date: 1_600_000_000,
                channel_post: None,
                post_author: None,
                saved_from_peer: None,
                saved_from_msg_id: None,
                saved_from_id: None,
                saved_from_name: None,
                saved_date: None,
                psa_type: None,
            },
        )));
        let mut peers = Peers::new();
        peers.insert(
            (PeerKind::User, 7),
            PeerInfo {
                name: "Bob Stone".to_owned(),
                ..PeerInfo::default()
            },
        );
        peers.insert(
            (PeerKind::User, 93),
            PeerInfo {
                name: "Gif Bot".to_owned(),
                username: Some("gif".to_owned()),
                bot: true,
                ..PeerInfo::default()
            },
        );
        let entry = message_entry(&enums::Message::Message(Box::new(m)), &peers, None).unwrap();
        let value = serde_json::to_value(&entry).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "id": 42, "type": "message", "date": "2023-11-14T22:13:20",
                "date_unixtime": "1700000000", "from": "Bob Stone", "from_id": "user7",
                "forwarded_from": "Hidden Person", "via_bot": "@gif",
                "text": ["see ", {"type": "text_link", "text": "docs", "href": "https://example.com"},
                         " ", {"type": "mention_name", "text": "now", "user_id": 7}],
                "text_entities": [
                    {"type": "plain", "text": "see "},
                    {"type": "text_link", "text": "docs", "href": "https://example.com"},
                    {"type": "plain", "text": " "},
                    {"type": "mention_name", "text": "now", "user_id": 7}]
            })
        );
        let Json::Object(fields) = entry else {
            panic!("not an object");
        };
        let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "id",
                "type",
                "date",
                "date_unixtime",
                "from",
                "from_id",
                "forwarded_from",
                "via_bot",
                "text",
                "text_entities"
            ]
        );
    }

    #[test]
    fn a_service_message_has_its_actor_action_and_members() {
        let service = types::MessageService {
            out: false,
            mentioned: false,
            media_unread: false,
            reactions_are_possible: false,
            silent: false,
            post: false,
            legacy: false,
            id: 3,
            from_id: Some(user(7)),
            peer_id: enums::Peer::Chat(Box::new(types::PeerChat { chat_id: 55 })),
            saved_peer_id: None,
            reply_to: None,
            date: 1_700_000_000,
            action: enums::MessageAction::ChatAddUser(Box::new(types::MessageActionChatAddUser {
                users: vec![7, 8],
            })),
            reactions: None,
            ttl_period: None,
        };
        let message = enums::Message::Service(Box::new(service));
        assert_eq!(
            mentioned_peers(&message),
            [
                (PeerKind::User, 7),
                (PeerKind::User, 7),
                (PeerKind::User, 8)
            ]
        );
        let mut peers = Peers::new();
        peers.insert(
            (PeerKind::User, 7),
            PeerInfo {
                name: "Bob Stone".to_owned(),
                ..PeerInfo::default()
            },
        );
        let entry = message_entry(&message, &peers, None).unwrap();
        assert_eq!(
            serde_json::to_value(&entry).unwrap(),
            serde_json::json!({
                "id": 3, "type": "service", "date": "2023-11-14T22:13:20",
                "date_unixtime": "1700000000", "actor": "Bob Stone", "actor_id": "user7",
                "action": "invite_members", "members": ["Bob Stone", null],
                "text": "", "text_entities": []
            })
        );
    }

    #[test]
    fn an_unknown_sender_is_null_and_an_empty_message_has_no_entry() {
        let entry = message_entry(
            &enums::Message::Message(Box::new(message("", Vec::new()))),
            &Peers::new(),
            None,
        )
        .unwrap();
        assert_eq!(entry.get("from"), Some(&Json::Null));
        assert_eq!(entry.get("text"), Some(&Json::from("")));
        let empty = enums::Message::Empty(Box::new(types::MessageEmpty {
            id: 1,
            peer_id: None,
        }));
        assert_eq!(message_entry(&empty, &Peers::new(), None), None);
    }
}
