//! The downloadable file of a message: which location to ask for, how large it is, where it
//! lives and what it is. Photos are taken at their largest size.

use tl_types::api::{enums, types};

/// What kind of media a file is, as a user filters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Photo,
    Video,
    /// A round video message.
    Round,
    Audio,
    Voice,
    Sticker,
    /// A GIF-like looping video.
    Animation,
    Document,
}

impl MediaKind {
    /// The lowercase name used in filters, templates and JSON.
    pub fn name(self) -> &'static str {
        match self {
            MediaKind::Photo => "photo",
            MediaKind::Video => "video",
            MediaKind::Round => "round",
            MediaKind::Audio => "audio",
            MediaKind::Voice => "voice",
            MediaKind::Sticker => "sticker",
            MediaKind::Animation => "animation",
            MediaKind::Document => "document",
        }
    }

    /// Every kind, for parsing and help texts.
    pub const ALL: [MediaKind; 8] = [
        MediaKind::Photo,
        MediaKind::Video,
        MediaKind::Round,
        MediaKind::Audio,
        MediaKind::Voice,
        MediaKind::Sticker,
        MediaKind::Animation,
        MediaKind::Document,
    ];

    /// The kind named `name` (as [`MediaKind::name`] gives it).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Which stored object a file is: stable across file-reference refreshes, so it names the
/// file in the download ledger and finds it again in a re-read message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MediaId {
    /// The photo or document id.
    pub id: i64,
    /// The photo size letter; empty for a document itself.
    pub thumb: String,
}

impl std::fmt::Display for MediaId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.thumb.is_empty() {
            write!(f, "{}", self.id)
        } else {
            write!(f, "{}:{}", self.id, self.thumb)
        }
    }
}

/// One downloadable file.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaFile {
    pub kind: MediaKind,
    pub id: MediaId,
    /// What `upload.getFile` is asked for (carries the file reference).
    pub location: enums::InputFileLocation,
    /// The DC storing the file.
    pub dc_id: i32,
    pub size: u64,
    /// The name the sender gave the file, as sent (not sanitized).
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
}

impl MediaFile {
    /// The file of `message`, if it carries one.
    pub fn from_message(message: &enums::Message) -> Option<Self> {
        match message {
            enums::Message::Message(m) => Self::from_media(m.media.as_ref()?),
            _ => None,
        }
    }

    /// The file of `media`, if it has one.
    pub fn from_media(media: &enums::MessageMedia) -> Option<Self> {
        match media {
            enums::MessageMedia::Photo(p) => match p.photo.as_ref()? {
                enums::Photo::Photo(photo) => Self::from_photo(photo),
                enums::Photo::Empty(_) => None,
            },
            enums::MessageMedia::Document(d) => match d.document.as_ref()? {
                enums::Document::Document(doc) => Some(Self::from_document(doc, d)),
                enums::Document::Empty(_) => None,
            },
            _ => None,
        }
    }

    fn from_photo(photo: &types::Photo) -> Option<Self> {
        let (thumb, size) = photo
            .sizes
            .iter()
            .filter_map(stored_size)
            .max_by_key(|s| s.1)?;
        Some(Self {
            kind: MediaKind::Photo,
            id: MediaId {
                id: photo.id,
                thumb: thumb.clone(),
            },
            location: enums::InputFileLocation::InputPhotoFileLocation(Box::new(
                types::InputPhotoFileLocation {
                    id: photo.id,
                    access_hash: photo.access_hash,
                    file_reference: photo.file_reference.clone(),
                    thumb_size: thumb,
                },
            )),
            dc_id: photo.dc_id,
            size,
            file_name: None,
            mime_type: Some("image/jpeg".to_owned()),
        })
    }

    fn from_document(doc: &types::Document, media: &types::MessageMediaDocument) -> Self {
        let mut kind = MediaKind::Document;
        let mut file_name = None;
        for attribute in &doc.attributes {
            match attribute {
                enums::DocumentAttribute::Filename(f) => file_name = Some(f.file_name.clone()),
                enums::DocumentAttribute::Video(v) if v.round_message => kind = MediaKind::Round,
                enums::DocumentAttribute::Video(_) if kind == MediaKind::Document => {
                    kind = MediaKind::Video;
                }
                enums::DocumentAttribute::Audio(a) => {
                    kind = if a.voice {
                        MediaKind::Voice
                    } else {
                        MediaKind::Audio
                    };
                }
                enums::DocumentAttribute::Sticker(_) => kind = MediaKind::Sticker,
                enums::DocumentAttribute::Animated => kind = MediaKind::Animation,
                _ => {}
            }
        }
        if media.round {
            kind = MediaKind::Round;
        } else if media.voice {
            kind = MediaKind::Voice;
        }
        Self {
            kind,
            id: MediaId {
                id: doc.id,
                thumb: String::new(),
            },
            location: enums::InputFileLocation::InputDocumentFileLocation(Box::new(
                types::InputDocumentFileLocation {
                    id: doc.id,
                    access_hash: doc.access_hash,
                    file_reference: doc.file_reference.clone(),
                    thumb_size: String::new(),
                },
            )),
            dc_id: doc.dc_id,
            size: u64::try_from(doc.size).unwrap_or(0),
            file_name,
            mime_type: Some(doc.mime_type.clone()),
        }
    }

    /// The extension the file should get: from its name, else from its MIME type.
    pub fn extension(&self) -> Option<String> {
        if let Some(ext) = self
            .file_name
            .as_deref()
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, ext)| ext)
            .filter(|ext| !ext.is_empty() && ext.len() <= 10)
        {
            return Some(ext.to_ascii_lowercase());
        }
        let ext = match self.mime_type.as_deref()? {
            "image/jpeg" => "jpg",
            "image/png" => "png",
            "image/gif" => "gif",
            "image/webp" => "webp",
            "video/mp4" => "mp4",
            "video/quicktime" => "mov",
            "video/webm" => "webm",
            "audio/mpeg" => "mp3",
            "audio/ogg" => "ogg",
            "audio/mp4" | "audio/m4a" => "m4a",
            "application/pdf" => "pdf",
            "application/zip" => "zip",
            "application/x-tgsticker" => "tgs",
            "text/plain" => "txt",
            _ => return None,
        };
        Some(ext.to_owned())
    }

    /// The same file with the location (and its file reference) of `fresh`, if `fresh`
    /// is the same stored object.
    pub fn refreshed_from(&self, fresh: &MediaFile) -> Option<MediaFile> {
        (fresh.id == self.id).then(|| MediaFile {
            location: fresh.location.clone(),
            dc_id: fresh.dc_id,
            ..self.clone()
        })
    }
}

/// A photo size stored on the server (not inlined): (type letter, bytes).
fn stored_size(size: &enums::PhotoSize) -> Option<(String, u64)> {
    match size {
        enums::PhotoSize::PhotoSize(s) => Some((s.r#type.clone(), u64::try_from(s.size).ok()?)),
        enums::PhotoSize::Progressive(s) => Some((
            s.r#type.clone(),
            u64::try_from(*s.sizes.iter().max()?).ok()?,
        )),
        _ => None,
    }
}
