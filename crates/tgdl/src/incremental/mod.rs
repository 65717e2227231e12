//! Incremental reruns (archive mode): `tgdl download CHAT` lists only what is newer than
//! what earlier runs with the same filters archived, re-checks the newest messages below
//! that for edits that replaced their media, and never puts a file over an archived one.
//!
//! - [`listing`]: which listings of a chat a run makes, from the chat's mark (pure).
//! - [`versions`]: whether a listed message's media is archived, and the `{edit}` name of
//!   a new version.
//! - [`place`]: a path that is free, or already this media's.
//! - [`Archive`]: what a plan keeps for the session: the marks it may move and the
//!   versions it archives, recorded by [`Archive::record`] once the files are done.
//!
//! The mark of a chat under a filter set ([`crate::filters::Filters::digest`]) is the
//! highest message id below which every file those filters want was downloaded and
//! verified. It moves only after the run: up to the top of a complete listing, and never
//! past a file that did not finish (a failed or interrupted run leaves it below that file,
//! so the next run lists it again). A crash before the record leaves the old mark: the
//! next run lists a little more than needed, and the engine skips the verified files.

pub mod listing;
pub mod place;
pub mod versions;

use std::collections::HashMap;
use std::ops::Range;

use tgclient::Client;
use tgclient::download::FileOutcome;
use tgclient::store::{ListingMark, MessageVersion};
use tl_types::api::{enums, types};

use crate::output;
pub use listing::{Coverage, Lister, Request, Role};
pub use versions::{Judged, Versions};

/// The marked id of the chat `peer` names (`self_id` for the account's own chat); `None`
/// for a peer that names none.
pub fn marked_chat_id(peer: &enums::InputPeer, self_id: Option<i64>) -> Option<i64> {
    use enums::InputPeer as P;
    let peer = match peer {
        P::User(p) => enums::Peer::User(Box::new(types::PeerUser { user_id: p.user_id })),
        P::UserFromMessage(p) => {
            enums::Peer::User(Box::new(types::PeerUser { user_id: p.user_id }))
        }
        P::Chat(p) => enums::Peer::Chat(Box::new(types::PeerChat { chat_id: p.chat_id })),
        P::Channel(p) => enums::Peer::Channel(Box::new(types::PeerChannel {
            channel_id: p.channel_id,
        })),
        P::ChannelFromMessage(p) => enums::Peer::Channel(Box::new(types::PeerChannel {
            channel_id: p.channel_id,
        })),
        P::InputPeerSelf => return self_id,
        P::Empty => return None,
    };
    Some(output::marked_id(&peer))
}

/// One chat listed under a mark.
#[derive(Debug, Clone)]
pub struct MarkedListing {
    pub chat_id: i64,
    pub filter: String,
    /// The mark the listing started from.
    pub mark: Option<i32>,
    pub coverage: Coverage,
    /// Its files, as indices into the plan's files.
    pub files: Range<usize>,
}

/// One planned file, as the archive records it once done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchivedFile {
    pub chat_id: i64,
    pub msg_id: i32,
    pub media_id: i64,
    /// The edit date its version is recorded with (0: an unedited message's first media).
    pub edit_date: i32,
}

/// What a plan keeps for the session: whether marks are used, the listings made under
/// them, the versions known, and what each planned file is.
#[derive(Debug, Default)]
pub struct Archive {
    /// Chats are listed from their marks (`tgdl download` without `--full`).
    pub use_marks: bool,
    /// Listings record their marks (`tgdl download`, `--full` too).
    pub keep_marks: bool,
    pub listings: Vec<MarkedListing>,
    pub versions: Versions,
    /// Per planned file (by index), what to record once it is done.
    pub files: HashMap<usize, ArchivedFile>,
}

impl Archive {
    /// Loads the recorded versions of `chat_id`, once per chat.
    ///
    /// # Errors
    /// The session store's.
    pub fn load_versions(
        &mut self,
        client: &Client,
        chat_id: i64,
    ) -> Result<(), tgclient::StoreError> {
        if !self.versions.has(chat_id) {
            let versions = client.with_store(|s| s.message_versions(chat_id))?;
            self.versions.insert(chat_id, versions);
        }
        Ok(())
    }

    /// The marks and versions to record after a run whose files (in plan order) ended
    /// with `outcomes` (fewer outcomes than files: the rest did not run).
    pub fn to_record(&self, outcomes: &[FileOutcome]) -> (Vec<ListingMark>, Vec<MessageVersion>) {
        let finished = |index: usize| is_finished(outcomes, index);
        let mut versions: Vec<MessageVersion> = self
            .files
            .iter()
            .filter(|(index, _)| finished(**index))
            .map(|(_, file)| MessageVersion {
                chat_id: file.chat_id,
                msg_id: file.msg_id,
                media_id: file.media_id,
                edit_date: file.edit_date,
            })
            .collect();
        // Oldest version first within a message, so the store keeps their order.
        versions.sort_by_key(|v| (v.chat_id, v.msg_id, v.edit_date));
        let marks = self
            .next_marks(outcomes)
            .filter(|(listing, next, _)| Some(next.max_id) != listing.mark)
            .map(|(_, next, _)| next)
            .collect();
        (marks, versions)
    }

    /// Each listing with the mark it allows after `outcomes` and whether it is settled:
    /// complete, with every wanted file it listed archived (its mark is then the top of the
    /// chat as listed, and a watch may move it on with what it follows).
    fn next_marks<'a>(
        &'a self,
        outcomes: &'a [FileOutcome],
    ) -> impl Iterator<Item = (&'a MarkedListing, ListingMark, bool)> + 'a {
        let finished = |index: usize| is_finished(outcomes, index);
        self.listings
            .iter()
            .filter(|_| self.keep_marks)
            .filter_map(move |listing| {
                let unfinished = listing
                    .files
                    .clone()
                    .filter(|index| !finished(*index))
                    .filter_map(|index| self.files.get(&index).map(|f| f.msg_id))
                    .min();
                let max_id = listing::next_mark(listing.mark, listing.coverage, unfinished)?;
                let settled = listing.coverage.complete && unfinished.is_none();
                let next = ListingMark {
                    chat_id: listing.chat_id,
                    filter: listing.filter.clone(),
                    max_id,
                };
                Some((listing, next, settled))
            })
    }

    /// The marks of the settled listings after `outcomes` (see [`Archive::next_marks`]).
    pub fn settled_marks(&self, outcomes: &[FileOutcome]) -> Vec<ListingMark> {
        self.next_marks(outcomes)
            .filter(|(_, _, settled)| *settled)
            .map(|(_, next, _)| next)
            .collect()
    }

    /// Records what a run archived in `client`'s session (see [`Archive::to_record`]).
    ///
    /// # Errors
    /// The session store's.
    pub fn record(
        &mut self,
        client: &Client,
        outcomes: &[FileOutcome],
    ) -> Result<(), tgclient::StoreError> {
        let (marks, versions) = self.to_record(outcomes);
        if marks.is_empty() && versions.is_empty() {
            return Ok(());
        }
        client.with_store(|s| s.record_archived(&marks, &versions))?;
        // A later batch of the same process (a watch) judges edits against these too.
        for version in versions {
            self.versions.remember(version);
        }
        Ok(())
    }

    /// Forgets the files and listings recorded, keeping the versions: a watch plans its
    /// next batch from an empty list.
    pub fn clear_batch(&mut self) {
        self.files.clear();
        self.listings.clear();
    }
}

/// Whether planned file `index` finished (downloaded now or before) in `outcomes`.
fn is_finished(outcomes: &[FileOutcome], index: usize) -> bool {
    outcomes.get(index).is_some_and(finished)
}

/// Whether a file's outcome leaves it archived (downloaded now or before).
pub fn finished(outcome: &FileOutcome) -> bool {
    matches!(
        outcome,
        FileOutcome::Done { .. } | FileOutcome::AlreadyDone { .. }
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tgclient::download::{FileFailure, ServerHashes};

    use super::*;

    const CHAT: i64 = -100_501;

    fn done() -> FileOutcome {
        FileOutcome::Done {
            sha256: [0; 32],
            fetched: 1,
            server_hashes: ServerHashes::Checked,
        }
    }

    fn archive(msg_ids: &[i32], mark: Option<i32>) -> Archive {
        let mut archive = Archive {
            use_marks: true,
            keep_marks: true,
            ..Archive::default()
        };
        for (index, msg_id) in msg_ids.iter().enumerate() {
            archive.files.insert(
                index,
                ArchivedFile {
                    chat_id: CHAT,
                    msg_id: *msg_id,
                    media_id: i64::from(*msg_id) * 10,
                    edit_date: 0,
                },
            );
        }
        archive.listings.push(MarkedListing {
            chat_id: CHAT,
            filter: "v1:f".into(),
            mark,
            coverage: Coverage {
                top: Some(120),
                complete: true,
            },
            files: 0..msg_ids.len(),
        });
        archive
    }

    #[test]
    fn only_finished_files_are_versions_and_the_mark_stops_below_the_rest() {
        let archive = archive(&[120, 110, 105, 101], Some(100));
        let outcomes = [
            done(),
            FileOutcome::Failed(FileFailure::Gone("deleted".into())),
            FileOutcome::AlreadyDone { sha256: [1; 32] },
        ];
        // The fourth file did not run at all (the run stopped).
        let (marks, versions) = archive.to_record(&outcomes);
        let msgs: Vec<i32> = versions.iter().map(|v| v.msg_id).collect();
        assert_eq!(msgs, vec![105, 120]);
        // 101 did not run: nothing above 100 can be marked.
        assert!(marks.is_empty(), "{marks:?}");
        let outcomes = [
            done(),
            FileOutcome::Failed(FileFailure::Gone("deleted".into())),
            done(),
            done(),
        ];
        let (marks, _) = archive.to_record(&outcomes);
        assert_eq!(marks.len(), 1);
        assert_eq!(marks.first().unwrap().max_id, 109);
        let (marks, _) = archive.to_record(&[done(), done(), done(), done()]);
        assert_eq!(marks.first().unwrap().max_id, 120);
    }

    #[test]
    fn marks_are_kept_only_when_asked() {
        let mut archive = archive(&[120], None);
        archive.keep_marks = false;
        let (marks, versions) = archive.to_record(&[done()]);
        assert!(marks.is_empty());
        assert_eq!(versions.len(), 1);
    }

    #[test]
    fn chat_ids_are_marked_like_messages_say_them() {
        let channel = enums::InputPeer::Channel(Box::new(types::InputPeerChannel {
            channel_id: 501,
            access_hash: 9,
        }));
        assert_eq!(marked_chat_id(&channel, None), Some(-1_000_000_000_501));
        let chat = enums::InputPeer::Chat(Box::new(types::InputPeerChat { chat_id: 12 }));
        assert_eq!(marked_chat_id(&chat, None), Some(-12));
        assert_eq!(
            marked_chat_id(&enums::InputPeer::InputPeerSelf, Some(1001)),
            Some(1001)
        );
        assert_eq!(marked_chat_id(&enums::InputPeer::Empty, Some(1001)), None);
    }
}
