//! One message as a Telegram Desktop `result.json` entry, its fields in Desktop's order:
//! `id`, `type`, `date`, `date_unixtime`, `edited`, `edited_unixtime`, `from`, `from_id`,
//! `author`, `forwarded_from`, `reply_to_message_id`, the media fields, `text`,
//! `text_entities`.

use std::collections::HashMap;

use tgclient::{PeerInfo, PeerKind};
use tl_types::api::enums;

use super::json::Json;
use super::media::{DesktopMedia, desktop_date};
use super::text;

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
            if let Some(enums::MessageFwdHeader::MessageFwdHeader(fwd)) = &m.fwd_from
                && let Some(from) = &fwd.from_id
            {
                peers.push(peer_key(from));
            }
        }
        enums::Message::Service(m) => {
            peers.push(peer_key(m.from_id.as_ref().unwrap_or(&m.peer_id)));
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
            }
            if let Some(enums::MessageReplyHeader::MessageReplyHeader(reply)) = &m.reply_to
                && let Some(id) = reply.reply_to_msg_id
            {
                push("reply_to_message_id", Json::from(i64::from(id)));
                if let Some(peer) = &reply.reply_to_peer_id {
                    push("reply_to_peer_id", Json::from(wrapped_id(peer)));
                }
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
