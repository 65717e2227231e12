//! Archive mode's memory of what it already has (M9): per chat and filter set, the
//! listing mark (the highest message id below which every wanted file was archived), and
//! per message the media versions archived (an edit that replaced a message's media is
//! archived beside the old file, never over it).

use rusqlite::{OptionalExtension, params};

use super::{SessionStore, StoreError, unix_now};

/// A chat's listing mark under one filter set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingMark {
    /// The chat's marked id (channels `-100…`, basic groups negative, users positive).
    pub chat_id: i64,
    /// The digest of the filters that decide which messages are wanted.
    pub filter: String,
    /// Every wanted file of a message with an id up to this one is archived.
    pub max_id: i32,
}

/// One media a message carried when it was archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageVersion {
    pub chat_id: i64,
    pub msg_id: i32,
    /// The photo or document id.
    pub media_id: i64,
    /// The message's edit date when this media was archived (0: never edited). A media
    /// that replaced an archived one is named after it.
    pub edit_date: i32,
}

impl SessionStore {
    /// The listing mark of `chat_id` under the filter set `filter`, if a run recorded one.
    pub fn listing_mark(&self, chat_id: i64, filter: &str) -> Result<Option<i32>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT max_id FROM listing_marks WHERE chat_id = ?1 AND filter = ?2",
                params![chat_id, filter],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Every version archived of the messages of `chat_id`, by message, oldest first (the
    /// first one of a message is the media it was first archived with).
    pub fn message_versions(&self, chat_id: i64) -> Result<Vec<MessageVersion>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT msg_id, media_id, edit_date FROM message_versions WHERE chat_id = ?1
             ORDER BY msg_id, edit_date, rowid",
        )?;
        let rows = statement.query_map([chat_id], |r| {
            Ok(MessageVersion {
                chat_id,
                msg_id: r.get(0)?,
                media_id: r.get(1)?,
                edit_date: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records what a run archived, in one transaction: the versions (a version already
    /// known keeps its first edit date, which named its file) and the marks (each replaces
    /// the chat's mark under its filter set: the caller computed it from what finished, and
    /// may lower it so that a file that did not finish is listed again).
    pub fn record_archived(
        &mut self,
        marks: &[ListingMark],
        versions: &[MessageVersion],
    ) -> Result<(), StoreError> {
        let now = unix_now();
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO message_versions (chat_id, msg_id, media_id, edit_date)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            )?;
            for v in versions {
                insert.execute(params![v.chat_id, v.msg_id, v.media_id, v.edit_date])?;
            }
            let mut upsert = tx.prepare_cached(
                "INSERT INTO listing_marks (chat_id, filter, max_id, updated_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (chat_id, filter) DO UPDATE SET
                     max_id = excluded.max_id, updated_at = excluded.updated_at",
            )?;
            for mark in marks {
                upsert.execute(params![mark.chat_id, mark.filter, mark.max_id, now])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn version(msg_id: i32, media_id: i64, edit_date: i32) -> MessageVersion {
        MessageVersion {
            chat_id: -100_777,
            msg_id,
            media_id,
            edit_date,
        }
    }

    #[test]
    fn marks_are_per_chat_and_filter_set_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.session");
        let mut store = SessionStore::open(&path).unwrap();
        assert_eq!(store.listing_mark(-100_777, "f1").unwrap(), None);
        let mark = |chat_id, filter: &str, max_id| ListingMark {
            chat_id,
            filter: filter.into(),
            max_id,
        };
        store
            .record_archived(&[mark(-100_777, "f1", 500), mark(-100_777, "f2", 20)], &[])
            .unwrap();
        store.record_archived(&[mark(42, "f1", 7)], &[]).unwrap();
        // A later run may lower a mark (a file below it did not finish).
        store
            .record_archived(&[mark(-100_777, "f2", 12)], &[])
            .unwrap();
        drop(store);
        let store = SessionStore::open(&path).unwrap();
        assert_eq!(store.listing_mark(-100_777, "f1").unwrap(), Some(500));
        assert_eq!(store.listing_mark(-100_777, "f2").unwrap(), Some(12));
        assert_eq!(store.listing_mark(42, "f1").unwrap(), Some(7));
        assert_eq!(store.listing_mark(42, "f2").unwrap(), None);
    }

    #[test]
    fn versions_keep_their_first_edit_date_and_come_oldest_first() {
        let mut store = SessionStore::in_memory().unwrap();
        store
            .record_archived(&[], &[version(5, 900, 0), version(3, 800, 0)])
            .unwrap();
        // The edit that replaced message 5's media, then the same media seen again after a
        // text-only edit: the version keeps the date its file was named with.
        store
            .record_archived(&[], &[version(5, 901, 1_700_000_100)])
            .unwrap();
        store
            .record_archived(&[], &[version(5, 901, 1_700_000_200)])
            .unwrap();
        let versions = store.message_versions(-100_777).unwrap();
        assert_eq!(
            versions,
            vec![
                version(3, 800, 0),
                version(5, 900, 0),
                version(5, 901, 1_700_000_100)
            ]
        );
        assert!(store.message_versions(42).unwrap().is_empty());
    }
}
