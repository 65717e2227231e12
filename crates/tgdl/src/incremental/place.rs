//! Where a planned file may go without ever replacing an archived file of another media.
//!
//! The engine today, given a path whose ledger record is for another media (or that it
//! has no record of), starts that path afresh and at the end renames its verified `.part`
//! over whatever is there: an edited message's new media named like the old one would
//! replace the archived file. So the planner only hands it paths that are free: no file
//! there, or the ledger records that very media there (a file to skip or resume). A taken
//! path gets the next ` (2)`, ` (3)`... name, the same on every run (the first free or
//! already-ours candidate), so a rerun resumes or skips it.

use std::path::{Path, PathBuf};

use tgclient::Client;
use tgclient::download::FileState;
use tgclient::media::MediaFile;

use crate::naming::Claims;

/// What the planner knows of a path under the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Occupant {
    /// No file there.
    Nothing,
    /// The ledger records this media there (downloaded, or partly).
    Same,
    /// A file the ledger does not record as this media: archived from another media, or
    /// not ours at all.
    Other,
}

/// Claims a path for `media` under `output`: `wanted` (relative) if free, else the first
/// free numbered variant. `occupant` tells what is at a path.
pub fn place(
    claims: &mut Claims,
    output: &Path,
    wanted: &Path,
    mut occupant: impl FnMut(&Path) -> Occupant,
) -> PathBuf {
    // Each claim of the same wanted name gives the next free variant of it; a taken
    // variant stays claimed, so the loop ends (there are only so many files).
    loop {
        let candidate = claims.claim(wanted.to_path_buf());
        if occupant(&output.join(&candidate)) != Occupant::Other {
            return candidate;
        }
        tracing::info!(
            path = %candidate.display(),
            "a file of another media is there; naming this one beside it"
        );
    }
}

/// What is at `path` for `media`, from the disk and the download ledger in `client`'s
/// session (the ledger keys a file by its path, as [`DownloadJob::from_message`] does).
///
/// [`DownloadJob::from_message`]: tgclient::download::DownloadJob::from_message
pub fn occupant(client: &Client, path: &Path, media: &MediaFile) -> Occupant {
    // `symlink_metadata`: a link there is something, wherever it points.
    if std::fs::symlink_metadata(path).is_err() {
        return Occupant::Nothing;
    }
    let recorded = client
        .with_store(|store| store.download_state(&path.display().to_string()))
        .ok()
        .flatten()
        .and_then(|bytes| FileState::from_bytes(&bytes));
    if recorded.is_some_and(|state| state.media == media.id && state.size == media.size) {
        Occupant::Same
    } else {
        Occupant::Other
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn taken_paths_get_the_first_free_or_own_variant() {
        let output = Path::new("/archive");
        let others = [
            PathBuf::from("/archive/news/42.jpg"),
            PathBuf::from("/archive/news/42 (2).jpg"),
        ];
        let ours = PathBuf::from("/archive/news/42 (3).jpg");
        let at = |path: &Path| {
            if others.iter().any(|o| o == path) {
                Occupant::Other
            } else if path == ours {
                Occupant::Same
            } else {
                Occupant::Nothing
            }
        };
        let mut claims = Claims::default();
        assert_eq!(
            place(&mut claims, output, Path::new("news/42.jpg"), at),
            PathBuf::from("news/42 (3).jpg")
        );
        // The next file wanting the name in the same run gets the next free one.
        assert_eq!(
            place(&mut claims, output, Path::new("news/42.jpg"), at),
            PathBuf::from("news/42 (4).jpg")
        );
        assert_eq!(
            place(&mut claims, output, Path::new("news/43.jpg"), at),
            PathBuf::from("news/43.jpg")
        );
    }

    #[test]
    fn a_file_on_disk_without_a_ledger_record_is_not_ours() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kept.bin");
        std::fs::write(&file, b"archived").unwrap();
        let client = tgclient::Client::new(
            tgclient::ClientConfig::new(4, "0123456789abcdef"),
            tgclient::SessionStore::in_memory().unwrap(),
        )
        .unwrap();
        let media = MediaFile {
            kind: tgclient::media::MediaKind::Document,
            id: tgclient::media::MediaId {
                id: 5,
                thumb: String::new(),
            },
            location: tl_types::api::enums::InputFileLocation::InputPhotoFileLocation(Box::new(
                tl_types::api::types::InputPhotoFileLocation {
                    id: 5,
                    access_hash: 0,
                    file_reference: Vec::new(),
                    thumb_size: String::new(),
                },
            )),
            dc_id: 2,
            size: 8,
            file_name: None,
            mime_type: None,
        };
        assert_eq!(occupant(&client, &file, &media), Occupant::Other);
        assert_eq!(
            occupant(&client, &dir.path().join("free.bin"), &media),
            Occupant::Nothing
        );
        let state = FileState::new(media.id.clone(), media.size);
        client
            .with_store(|s| s.set_download_state(&file.display().to_string(), &state.to_bytes()))
            .unwrap();
        assert_eq!(occupant(&client, &file, &media), Occupant::Same);
        let other = FileState::new(
            tgclient::media::MediaId {
                id: 6,
                thumb: String::new(),
            },
            media.size,
        );
        client
            .with_store(|s| s.set_download_state(&file.display().to_string(), &other.to_bytes()))
            .unwrap();
        assert_eq!(occupant(&client, &file, &media), Occupant::Other);
    }
}
