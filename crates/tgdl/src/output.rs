//! What tgdl prints: messages as JSON lines, chats as JSON lines or an aligned table.
//!
//! # Message JSON (one object per line, stable)
//!
//! ```json
//! {"chat_id": -1001234, "id": 42, "date": 1700000000, "date_iso": "2023-11-14T22:13:20Z",
//!  "from_id": 1001, "text": "hello", "reply_to": 41, "grouped_id": null,
//!  "edit_date": null, "forwarded": false, "service": false,
//!  "media": {"type": "document", "file_name": "notes.pdf", "mime_type": "application/pdf",
//!            "size": 2500000, "dc_id": 2}}
//! ```
//!
//! - `chat_id` and `from_id` are Bot API style ids: users positive, basic groups `-id`,
//!   channels and supergroups `-100…id`. `from_id` is null for channel posts; in private
//!   chats it is the sender (the other user, or the account for outgoing messages).
//! - `date` and `edit_date` are Unix times; `date_iso` is `date` in RFC 3339, UTC.
//! - `reply_to` is the id of the message replied to, in the same chat.
//! - `service` is true for service messages (joins, pins, ...), whose `text` is empty.
//! - `media` is null or has `type`: `photo`, `video`, `round`, `animation`, `sticker`,
//!   `voice`, `audio`, `document`, or the kind of a non-file media (`webpage`, `geo`,
//!   `contact`, `poll`, ...). `file_name`, `mime_type`, `size` (bytes; a photo's largest
//!   size) and `dc_id` (the DC storing the file) are null when unknown.
//!
//! # Chat JSON (`tgdl chats --json`)
//!
//! `{"id": -1001234, "kind": "user"|"group"|"supergroup"|"channel", "title": "...",
//! "username": "name" | null}` with `id` Bot API style.
//!
//! # Writing
//!
//! Nothing is printed with `println!`/`eprintln!`, which panic when the write fails (a
//! file on a full disk). Results go through [`to_stdout`], whose errors fail the command;
//! messages for the user go through [`note`], which ignores them.

use std::fmt::{Display, Write as _};
use std::io::{self, Write};

use anyhow::Context;
use serde::Serialize;
use tl_types::api::{enums, types};

use crate::dates;

/// The Bot API id of a channel or supergroup is -(this + id).
const CHANNEL_ID_BASE: i64 = 1_000_000_000_000;

/// A message as printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageJson {
    pub chat_id: i64,
    pub id: i32,
    pub date: i64,
    pub date_iso: String,
    pub from_id: Option<i64>,
    pub text: String,
    pub reply_to: Option<i32>,
    pub grouped_id: Option<i64>,
    pub edit_date: Option<i64>,
    pub forwarded: bool,
    pub service: bool,
    pub media: Option<MediaJson>,
}

/// A message's media as printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediaJson {
    #[serde(rename = "type")]
    pub kind: String,
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
    pub size: Option<i64>,
    pub dc_id: Option<i32>,
}

/// A chat as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatJson {
    pub id: i64,
    pub kind: &'static str,
    pub title: String,
    pub username: Option<String>,
}

/// The Bot API style id of a peer.
pub fn marked_id(peer: &enums::Peer) -> i64 {
    match peer {
        enums::Peer::User(p) => p.user_id,
        enums::Peer::Chat(p) => -p.chat_id,
        enums::Peer::Channel(p) => -(CHANNEL_ID_BASE + p.channel_id),
    }
}

/// The printed form of `message`; `None` for empty (deleted) messages. `self_id` is the
/// logged-in account, the sender of outgoing private messages.
pub fn message_json(message: &enums::Message, self_id: i64) -> Option<MessageJson> {
    match message {
        enums::Message::Empty(_) => None,
        enums::Message::Message(m) => Some(MessageJson {
            chat_id: marked_id(&m.peer_id),
            id: m.id,
            date: i64::from(m.date),
            date_iso: dates::rfc3339(i64::from(m.date)),
            from_id: sender(m.from_id.as_ref(), &m.peer_id, m.out, self_id),
            text: m.message.clone(),
            reply_to: reply_to(m.reply_to.as_ref()),
            grouped_id: m.grouped_id,
            edit_date: m.edit_date.map(i64::from),
            forwarded: m.fwd_from.is_some(),
            service: false,
            media: m.media.as_ref().and_then(media_json),
        }),
        enums::Message::Service(m) => Some(MessageJson {
            chat_id: marked_id(&m.peer_id),
            id: m.id,
            date: i64::from(m.date),
            date_iso: dates::rfc3339(i64::from(m.date)),
            from_id: sender(m.from_id.as_ref(), &m.peer_id, m.out, self_id),
            text: String::new(),
            reply_to: reply_to(m.reply_to.as_ref()),
            grouped_id: None,
            edit_date: None,
            forwarded: false,
            service: true,
            media: None,
        }),
    }
}

/// The sender: `from_id` when given; in a private chat without it, the other user (or
/// the account itself for outgoing messages); none for channel posts.
fn sender(from: Option<&enums::Peer>, chat: &enums::Peer, out: bool, self_id: i64) -> Option<i64> {
    match (from, chat) {
        (Some(from), _) => Some(marked_id(from)),
        (None, enums::Peer::User(user)) => Some(if out { self_id } else { user.user_id }),
        (None, _) => None,
    }
}

fn reply_to(header: Option<&enums::MessageReplyHeader>) -> Option<i32> {
    match header? {
        enums::MessageReplyHeader::MessageReplyHeader(h) if h.reply_to_peer_id.is_none() => {
            h.reply_to_msg_id
        }
        _ => None,
    }
}

fn bare(kind: &str) -> MediaJson {
    MediaJson {
        kind: kind.to_owned(),
        file_name: None,
        mime_type: None,
        size: None,
        dc_id: None,
    }
}

/// The printed form of a message's media (`None` for no media).
fn media_json(media: &enums::MessageMedia) -> Option<MediaJson> {
    use enums::MessageMedia as M;
    Some(match media {
        M::Empty => return None,
        M::Photo(p) => match &p.photo {
            Some(enums::Photo::Photo(photo)) => photo_json(photo),
            _ => bare("photo"),
        },
        M::Document(d) => match &d.document {
            Some(enums::Document::Document(document)) => document_json(document, d),
            _ => bare("document"),
        },
        M::Geo(_) | M::GeoLive(_) | M::Venue(_) => bare("geo"),
        M::Contact(_) => bare("contact"),
        M::WebPage(_) => bare("webpage"),
        M::Game(_) => bare("game"),
        M::Invoice(_) => bare("invoice"),
        M::Poll(_) => bare("poll"),
        M::Dice(_) => bare("dice"),
        M::Story(_) => bare("story"),
        M::Giveaway(_) | M::GiveawayResults(_) => bare("giveaway"),
        M::PaidMedia(_) => bare("paid_media"),
        M::ToDo(_) => bare("todo"),
        M::VideoStream(_) => bare("video_stream"),
        M::Unsupported => bare("unsupported"),
    })
}

fn photo_json(photo: &types::Photo) -> MediaJson {
    let largest = photo
        .sizes
        .iter()
        .filter_map(|size| match size {
            enums::PhotoSize::PhotoSize(s) => Some(i64::from(s.size)),
            enums::PhotoSize::Progressive(s) => s.sizes.iter().max().map(|v| i64::from(*v)),
            enums::PhotoSize::PhotoCachedSize(s) => i64::try_from(s.bytes.len()).ok(),
            _ => None,
        })
        .max();
    MediaJson {
        kind: "photo".to_owned(),
        file_name: None,
        mime_type: Some("image/jpeg".to_owned()),
        size: largest,
        dc_id: Some(photo.dc_id),
    }
}

fn document_json(document: &types::Document, media: &types::MessageMediaDocument) -> MediaJson {
    use enums::DocumentAttribute as A;
    let mut kind = "document";
    let mut file_name = None;
    for attribute in &document.attributes {
        match attribute {
            A::Filename(f) => file_name = Some(f.file_name.clone()),
            A::Sticker(_) => kind = "sticker",
            A::Animated if kind != "sticker" => kind = "animation",
            A::Video(v) if kind == "document" || kind == "audio" => {
                kind = if v.round_message { "round" } else { "video" };
            }
            A::Audio(a) if kind == "document" => {
                kind = if a.voice { "voice" } else { "audio" };
            }
            _ => {}
        }
    }
    // The message's own flags win where they are set.
    if media.round {
        kind = "round";
    } else if media.voice {
        kind = "voice";
    }
    MediaJson {
        kind: kind.to_owned(),
        file_name,
        mime_type: Some(document.mime_type.clone()),
        size: Some(document.size),
        dc_id: Some(document.dc_id),
    }
}

/// The printed form of a chat or user.
pub fn chat_json(chat: &enums::Chat) -> Option<ChatJson> {
    Some(match chat {
        enums::Chat::Chat(c) => ChatJson {
            id: -c.id,
            kind: "group",
            title: c.title.clone(),
            username: None,
        },
        enums::Chat::Forbidden(c) => ChatJson {
            id: -c.id,
            kind: "group",
            title: c.title.clone(),
            username: None,
        },
        enums::Chat::Channel(c) => ChatJson {
            id: -(CHANNEL_ID_BASE + c.id),
            kind: if c.megagroup { "supergroup" } else { "channel" },
            title: c.title.clone(),
            username: c.username.clone(),
        },
        enums::Chat::ChannelForbidden(c) => ChatJson {
            id: -(CHANNEL_ID_BASE + c.id),
            kind: if c.megagroup { "supergroup" } else { "channel" },
            title: c.title.clone(),
            username: None,
        },
        _ => return None,
    })
}

/// The printed form of a user (a private chat).
pub fn user_json(user: &enums::User) -> Option<ChatJson> {
    let enums::User::User(u) = user else {
        return None;
    };
    let name = [u.first_name.as_deref(), u.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Some(ChatJson {
        id: u.id,
        kind: "user",
        title: if name.is_empty() && u.deleted {
            "Deleted Account".to_owned()
        } else {
            name
        },
        username: u.username.clone(),
    })
}

/// What a failed write to stdout says.
const STDOUT_FAILED: &str = "cannot write to stdout";

/// Writes to a locked stdout with `write`, then flushes. A failure fails the command: the
/// output is what was asked for (a closed pipe ends it quietly, see
/// [`crate::errors::is_broken_pipe`]).
pub fn to_stdout(
    write: impl FnOnce(&mut io::StdoutLock<'static>) -> io::Result<()>,
) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    write(&mut out)
        .and_then(|()| out.flush())
        .context(STDOUT_FAILED)
}

/// The command's error for a failed write to stdout.
pub fn stdout_error(error: io::Error) -> anyhow::Error {
    anyhow::Error::new(error).context(STDOUT_FAILED)
}

/// Writes a line for the user (a diagnostic, a summary, a warning) to stderr. A failed
/// write is ignored: the command's result does not depend on it, and the error report
/// would go to the same stderr.
pub fn note(line: impl Display) {
    let _ = writeln!(io::stderr(), "{line}");
}

/// Writes `value` as one JSON line.
pub fn write_json_line(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    // One write per line, so lines from a shared stdout never interleave.
    let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)
}

/// Writes chats as an aligned table with a header.
pub fn write_chat_table(out: &mut impl Write, chats: &[ChatJson]) -> io::Result<()> {
    let rows: Vec<[String; 4]> = chats
        .iter()
        .map(|c| {
            [
                c.id.to_string(),
                c.kind.to_owned(),
                c.title.replace(['\n', '\r', '\t'], " "),
                c.username
                    .as_deref()
                    .map(|u| format!("@{u}"))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["ID", "KIND", "TITLE", "USERNAME"].map(str::to_owned);
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (index, (cell, width)) in row.iter().zip(widths).enumerate() {
            if index > 0 {
                line.push_str("  ");
            }
            // Ids are right-aligned, text left-aligned.
            // Writing to a String cannot fail.
            let _ = if index == 0 {
                write!(line, "{cell:>width$}")
            } else {
                write!(line, "{cell:<width$}")
            };
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn ids_are_marked_like_the_bot_api() {
        let channel: enums::Peer = types::PeerChannel { channel_id: 501 }.into();
        assert_eq!(marked_id(&channel), -1_000_000_000_501);
        let chat: enums::Peer = types::PeerChat { chat_id: 7 }.into();
        assert_eq!(marked_id(&chat), -7);
        // The links parser reads them back to the same peer.
        assert_eq!(
            tgclient::PeerRef::split_marked(marked_id(&channel)),
            (tgclient::PeerKind::Channel, 501)
        );
    }

    #[test]
    fn the_table_is_aligned() {
        let chats = vec![
            ChatJson {
                id: -1_000_000_000_501,
                kind: "channel",
                title: "News".into(),
                username: Some("news".into()),
            },
            ChatJson {
                id: -7,
                kind: "group",
                title: "Friends\nand more".into(),
                username: None,
            },
        ];
        let mut out = Vec::new();
        write_chat_table(&mut out, &chats).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1], "-1000000000501  channel  News              @news");
        assert_eq!(lines[2], "            -7  group    Friends and more");
        assert!(lines[0].starts_with("            ID  KIND     TITLE"));
    }
}
