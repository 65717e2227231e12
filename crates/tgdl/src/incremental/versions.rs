//! Which version of a message's media a listed message carries, against the versions the
//! session recorded as archived: the first media archived of a message keeps the plain
//! name; a media an edit put in its place is new, named after the edit date (`{edit}`), and
//! lands beside the old file.

use std::collections::{HashMap, HashSet};

use tgclient::store::MessageVersion;

/// A listed message's media, judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judged {
    /// The media is archived already (as this message's first or a later version).
    pub archived: bool,
    /// The edit date that names it (`{edit}`); `None` for a message's first version.
    pub edit: Option<i32>,
}

/// The recorded versions of the messages of the chats loaded so far.
#[derive(Debug, Default)]
pub struct Versions {
    loaded: HashSet<i64>,
    /// Per (chat, message), oldest first.
    by_message: HashMap<(i64, i32), Vec<MessageVersion>>,
}

impl Versions {
    /// Whether the versions of `chat_id` are loaded.
    pub fn has(&self, chat_id: i64) -> bool {
        self.loaded.contains(&chat_id)
    }

    /// Adds the versions of `chat_id` (oldest first per message, as the store gives them).
    pub fn insert(&mut self, chat_id: i64, versions: Vec<MessageVersion>) {
        self.loaded.insert(chat_id);
        for version in versions {
            self.by_message
                .entry((version.chat_id, version.msg_id))
                .or_default()
                .push(version);
        }
    }

    /// Adds a version just recorded, if its chat is loaded (an unloaded chat reads it from
    /// the store when it is).
    pub fn remember(&mut self, version: MessageVersion) {
        if self.has(version.chat_id) {
            self.by_message
                .entry((version.chat_id, version.msg_id))
                .or_default()
                .push(version);
        }
    }

    /// Judges media `media_id` of message `msg_id` of `chat_id`, which was sent at `date`
    /// and last edited at `edit_date`.
    pub fn judge(
        &self,
        chat_id: i64,
        msg_id: i32,
        media_id: i64,
        date: i32,
        edit_date: Option<i32>,
    ) -> Judged {
        let versions = self
            .by_message
            .get(&(chat_id, msg_id))
            .map(Vec::as_slice)
            .unwrap_or_default();
        match versions.iter().position(|v| v.media_id == media_id) {
            // The first media archived of the message: the plain name, as it was archived.
            Some(0) => Judged {
                archived: true,
                edit: None,
            },
            // A later version: the edit date its file was named after.
            Some(index) => Judged {
                archived: true,
                edit: versions.get(index).map(|v| v.edit_date),
            },
            // Nothing archived of this message yet: this is its first version.
            None if versions.is_empty() => Judged {
                archived: false,
                edit: None,
            },
            // An edit replaced the archived media. Telegram sets `edit_date` on every
            // edit; without one, the send date still tells the names apart.
            None => Judged {
                archived: false,
                edit: Some(edit_date.unwrap_or(date)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAT: i64 = -100_501;

    fn version(msg_id: i32, media_id: i64, edit_date: i32) -> MessageVersion {
        MessageVersion {
            chat_id: CHAT,
            msg_id,
            media_id,
            edit_date,
        }
    }

    #[test]
    fn versions_are_judged_by_media_and_keep_their_names() {
        let mut versions = Versions::default();
        assert!(!versions.has(CHAT));
        versions.insert(
            CHAT,
            vec![
                version(7, 70, 0),
                version(8, 80, 1500),
                version(8, 81, 2000),
            ],
        );
        assert!(versions.has(CHAT));
        let plain = Judged {
            archived: true,
            edit: None,
        };
        // Unchanged, or only its text edited: archived under the plain name.
        assert_eq!(versions.judge(CHAT, 7, 70, 1000, None), plain);
        assert_eq!(versions.judge(CHAT, 7, 70, 1000, Some(1800)), plain);
        // First archived already edited: still the plain name.
        assert_eq!(versions.judge(CHAT, 8, 80, 1000, Some(1500)), plain);
        // A later version keeps the date its file was named after, whatever edits since.
        assert_eq!(
            versions.judge(CHAT, 8, 81, 1000, Some(2600)),
            Judged {
                archived: true,
                edit: Some(2000)
            }
        );
        // An edit replaced message 7's media: new, named after the edit.
        assert_eq!(
            versions.judge(CHAT, 7, 71, 1000, Some(3000)),
            Judged {
                archived: false,
                edit: Some(3000)
            }
        );
        assert_eq!(
            versions.judge(CHAT, 7, 71, 1000, None),
            Judged {
                archived: false,
                edit: Some(1000)
            }
        );
        // A message never archived, or of another chat.
        let first = Judged {
            archived: false,
            edit: None,
        };
        assert_eq!(versions.judge(CHAT, 9, 90, 1000, Some(1200)), first);
        assert_eq!(versions.judge(CHAT + 1, 7, 70, 1000, None), first);
    }
}
