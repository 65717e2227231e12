//! What tgdl takes from an export: its chats, each with the Telegram peer it names, and the
//! ids of the messages it lists. See `docs/desktop-export.md` for the format itself.

use tgclient::PeerKind;

/// Which tool wrote a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// Telegram Desktop, "Export chat history" of one chat: the chat object is the root.
    DesktopChat,
    /// Telegram Desktop, "Export Telegram data": `chats.list` and `left_chats.list`.
    DesktopAccount,
    /// tdl's `chat export`: `{"id": ..., "messages": [...]}` with no chat type.
    Tdl,
}

impl ExportKind {
    /// How the kind is named to the user.
    pub fn describe(self) -> &'static str {
        match self {
            ExportKind::DesktopChat => "Telegram Desktop chat export",
            ExportKind::DesktopAccount => "Telegram Desktop account export",
            ExportKind::Tdl => "tdl chat export",
        }
    }
}

/// A parsed export file.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub kind: ExportKind,
    pub chats: Vec<ExportChat>,
}

/// One chat of an export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportChat {
    /// Where the chat is in the file (`(root)`, `chats.list[3]`, `left_chats.list[0]`).
    pub place: String,
    /// The chat's name as written (none for saved messages and tdl exports).
    pub name: Option<String>,
    /// Desktop's chat type (`personal_chat`, `private_channel`, ...); none in tdl exports.
    pub chat_type: Option<String>,
    /// The chat's id as written.
    pub id: i64,
    /// The messages listed, in file order.
    pub messages: Vec<ExportMessage>,
    /// Messages skipped because they belong to the basic group this supergroup was
    /// migrated from (Desktop writes them with ids shifted below zero).
    pub migrated_skipped: usize,
}

/// One message of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportMessage {
    pub id: i32,
    /// Whether the export says it carries a file (a `photo` or `file` field, written even
    /// when the file itself was not exported), or cannot tell (tdl).
    pub has_media: bool,
}

/// Desktop's internal peer ids before April 2021 (tdesktop commit 4625e761): users `1 << 32 | id`,
/// basic groups and channels alike `2 << 32 | id`; the chat type tells the two apart.
const OLD_SHIFT_LIMIT: i64 = 1 << 32;

/// Where to look for the peer an export chat names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerCandidates {
    /// The chat type says which kind of peer the id is.
    Known(PeerKind, i64),
    /// No type (tdl) or one tgdl does not know: a marked id (Bot API style) as written,
    /// else the bare id tried as a channel, a user and a basic group, in that order.
    Guess(i64),
}

impl ExportChat {
    /// The peers this chat may be, from its type and id.
    pub fn candidates(&self) -> PeerCandidates {
        // Old exports wrote internal ids: the low 32 bits are the bare id.
        let bare = if self.id >= OLD_SHIFT_LIMIT {
            self.id & 0xFFFF_FFFF
        } else {
            self.id
        };
        let kind = match self.chat_type.as_deref() {
            Some(
                "personal_chat" | "bot_chat" | "saved_messages" | "replies" | "verification_codes",
            ) => Some(PeerKind::User),
            Some("private_group") => Some(PeerKind::Chat),
            Some(
                "private_supergroup" | "public_supergroup" | "private_channel" | "public_channel",
            ) => Some(PeerKind::Channel),
            _ => None,
        };
        match kind {
            Some(kind) if bare > 0 => PeerCandidates::Known(kind, bare),
            _ => PeerCandidates::Guess(self.id),
        }
    }

    /// How the chat is named in messages: its place, name and id.
    pub fn describe(&self) -> String {
        let kind = self.chat_type.as_deref().unwrap_or("chat");
        match &self.name {
            Some(name) => format!("{} {name:?} ({kind} {})", self.place, self.id),
            None => format!("{} ({kind} {})", self.place, self.id),
        }
    }
}

/// The Bot API style id of a bare id of `kind` (what `tgdl` accepts as a chat).
pub fn marked_id(kind: PeerKind, bare: i64) -> i64 {
    match kind {
        PeerKind::User => bare,
        PeerKind::Chat => -bare,
        PeerKind::Channel => -1_000_000_000_000 - bare,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(chat_type: Option<&str>, id: i64) -> ExportChat {
        ExportChat {
            place: "(root)".to_owned(),
            name: None,
            chat_type: chat_type.map(str::to_owned),
            id,
            messages: Vec::new(),
            migrated_skipped: 0,
        }
    }

    #[test]
    fn chat_types_name_peer_kinds_and_old_internal_ids_lose_their_shift() {
        let cases = [
            (
                Some("personal_chat"),
                777,
                PeerCandidates::Known(PeerKind::User, 777),
            ),
            (
                Some("bot_chat"),
                93,
                PeerCandidates::Known(PeerKind::User, 93),
            ),
            (
                Some("saved_messages"),
                5,
                PeerCandidates::Known(PeerKind::User, 5),
            ),
            (
                Some("private_group"),
                4242,
                PeerCandidates::Known(PeerKind::Chat, 4242),
            ),
            (
                Some("public_channel"),
                1_234_567_890,
                PeerCandidates::Known(PeerKind::Channel, 1_234_567_890),
            ),
            (
                Some("private_supergroup"),
                (2 << 32) + 1_300_000_000,
                PeerCandidates::Known(PeerKind::Channel, 1_300_000_000),
            ),
            (
                Some("personal_chat"),
                (1 << 32) + 100,
                PeerCandidates::Known(PeerKind::User, 100),
            ),
            (None, -1_001_234, PeerCandidates::Guess(-1_001_234)),
            (Some("something_new"), 9, PeerCandidates::Guess(9)),
        ];
        for (chat_type, id, expected) in cases {
            assert_eq!(
                chat(chat_type, id).candidates(),
                expected,
                "{chat_type:?} {id}"
            );
        }
    }

    #[test]
    fn marked_ids_follow_the_bot_api() {
        assert_eq!(marked_id(PeerKind::User, 7), 7);
        assert_eq!(marked_id(PeerKind::Chat, 7), -7);
        assert_eq!(marked_id(PeerKind::Channel, 7), -1_000_000_000_007);
    }
}
