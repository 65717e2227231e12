//! A message's media as Telegram Desktop's export sees it: which field holds the file
//! (`photo` or `file`), the folder and file name Desktop gives it, and the fields written
//! beside it (`media_type`, `mime_type`, `duration_seconds`, `width`, `height`, ...).

use std::collections::HashSet;

use tl_types::api::enums;

use crate::naming::sanitize_component;

/// What Desktop writes instead of a path when the file was not exported because of its
/// type (`--media` off, or a filter that left it out).
pub const NOT_INCLUDED: &str = "(File not included. Change data exporting settings to download.)";
/// ... because of its size (`--max-size`).
pub const TOO_LARGE: &str =
    "(File exceeds maximum size. Change data exporting settings to download.)";
/// ... because the download failed.
pub const UNAVAILABLE: &str = "(File unavailable, please try again later)";

/// What Desktop knows of a message's file. The flags are Desktop's own, which combine (a
/// GIF is animated and a video file), so they stay flags.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DesktopMedia {
    /// A photo (`photo` field) rather than a document (`file` field).
    pub photo: bool,
    pub file_name: Option<String>,
    pub size: u64,
    pub mime_type: Option<String>,
    pub is_sticker: bool,
    pub sticker_emoji: Option<String>,
    pub is_video_message: bool,
    pub is_voice_message: bool,
    pub is_animated: bool,
    pub is_video_file: bool,
    pub is_audio_file: bool,
    pub performer: Option<String>,
    pub title: Option<String>,
    pub duration: Option<i64>,
    pub width: Option<i32>,
    pub height: Option<i32>,
}

impl DesktopMedia {
    /// The file of `media`, if it has one Desktop exports (photos and documents).
    pub fn of(media: &enums::MessageMedia) -> Option<Self> {
        match media {
            enums::MessageMedia::Photo(p) => match p.photo.as_ref()? {
                enums::Photo::Photo(photo) => {
                    let (w, h, size) = photo
                        .sizes
                        .iter()
                        .filter_map(stored_size)
                        .max_by_key(|s| s.2)?;
                    Some(Self {
                        photo: true,
                        size,
                        width: Some(w),
                        height: Some(h),
                        mime_type: Some("image/jpeg".to_owned()),
                        ..Self::default()
                    })
                }
                enums::Photo::Empty(_) => None,
            },
            enums::MessageMedia::Document(d) => match d.document.as_ref()? {
                enums::Document::Document(doc) => {
                    let mut result = Self {
                        size: u64::try_from(doc.size).unwrap_or(0),
                        mime_type: Some(doc.mime_type.clone()),
                        ..Self::default()
                    };
                    for attribute in &doc.attributes {
                        result.apply(attribute);
                    }
                    Some(result)
                }
                enums::Document::Empty(_) => None,
            },
            _ => None,
        }
    }

    /// Reads one attribute the way Desktop's export does.
    fn apply(&mut self, attribute: &enums::DocumentAttribute) {
        use enums::DocumentAttribute as A;
        match attribute {
            A::ImageSize(a) => {
                self.width = Some(a.w);
                self.height = Some(a.h);
            }
            A::Animated => self.is_animated = true,
            A::Sticker(a) => {
                self.is_sticker = true;
                self.sticker_emoji = Some(a.alt.clone());
            }
            A::CustomEmoji(a) => {
                self.is_sticker = true;
                self.sticker_emoji = Some(a.alt.clone());
            }
            A::Video(a) => {
                if a.round_message {
                    self.is_video_message = true;
                } else {
                    self.is_video_file = true;
                }
                self.width = Some(a.w);
                self.height = Some(a.h);
                self.duration = Some(a.duration as i64);
            }
            A::Audio(a) => {
                if a.voice {
                    self.is_voice_message = true;
                } else {
                    self.is_audio_file = true;
                }
                self.performer.clone_from(&a.performer);
                self.title.clone_from(&a.title);
                self.duration = Some(i64::from(a.duration));
            }
            A::Filename(a) => self.file_name = Some(a.file_name.clone()),
            A::HasStickers => {}
        }
    }

    /// Desktop's `media_type`, checked in Desktop's order.
    pub fn media_type(&self) -> Option<&'static str> {
        if self.photo {
            None
        } else if self.is_sticker {
            Some("sticker")
        } else if self.is_video_message {
            Some("video_message")
        } else if self.is_voice_message {
            Some("voice_message")
        } else if self.is_animated {
            Some("animation")
        } else if self.is_video_file {
            Some("video_file")
        } else if self.is_audio_file {
            Some("audio_file")
        } else {
            None
        }
    }

    /// Desktop's folder. Its order differs from `media_type`'s: a GIF (animated and a
    /// video) lands in `video_files`, as in Desktop.
    pub fn folder(&self) -> &'static str {
        if self.photo {
            "photos"
        } else if self.is_video_file {
            "video_files"
        } else if self.is_animated {
            "animations"
        } else if self.is_sticker {
            "stickers"
        } else if self.is_voice_message {
            "voice_messages"
        } else if self.is_video_message {
            "round_video_messages"
        } else {
            "files"
        }
    }

    /// The extension for a file without a name, from its MIME type.
    fn extension(&self) -> Option<&'static str> {
        Some(match self.mime_type.as_deref()? {
            "image/jpeg" => "jpg",
            "image/png" => "png",
            "image/gif" => "gif",
            "image/webp" => "webp",
            "video/mp4" => "mp4",
            "video/quicktime" => "mov",
            "video/webm" => "webm",
            "audio/mpeg" | "audio/mp3" => "mp3",
            "audio/ogg" => "ogg",
            "audio/mp4" | "audio/m4a" => "m4a",
            "application/pdf" => "pdf",
            "application/zip" => "zip",
            "application/x-tgsticker" => "tgs",
            "text/plain" => "txt",
            _ => return None,
        })
    }
}

/// A photo size stored on the server: (width, height, bytes).
fn stored_size(size: &enums::PhotoSize) -> Option<(i32, i32, u64)> {
    match size {
        enums::PhotoSize::PhotoSize(s) => Some((s.w, s.h, u64::try_from(s.size).ok()?)),
        enums::PhotoSize::Progressive(s) => {
            Some((s.w, s.h, u64::try_from(*s.sizes.iter().max()?).ok()?))
        }
        _ => None,
    }
}

/// Names files as Desktop does: `photos/photo_3@05-12-2026_23-41-04.jpg`, a document's
/// own name in its folder, or `video_N@date.ext`, `audio_N@date.ogg`, `file_N@date.ext`
/// for documents without one; a taken name gets ` (1)`, ` (2)`... before its first dot.
/// Dates are UTC (Desktop uses the exporting machine's local time).
#[derive(Debug, Default)]
pub struct Namer {
    photos: u32,
    videos: u32,
    audios: u32,
    files: u32,
    taken: HashSet<String>,
}

impl Namer {
    /// A namer that will not hand out `taken` (paths an existing export already uses).
    pub fn new(taken: impl IntoIterator<Item = String>) -> Self {
        Self {
            taken: taken.into_iter().collect(),
            ..Self::default()
        }
    }

    /// The relative path (with `/`) for `media` of a message sent at `date`, claimed.
    pub fn name(&mut self, media: &DesktopMedia, date: i64) -> String {
        let stamp = file_date(date);
        let name = if media.photo {
            self.photos += 1;
            format!("photo_{}@{stamp}.jpg", self.photos)
        } else if let Some(name) = media
            .file_name
            .as_deref()
            .map(sanitize_component)
            .filter(|name| !name.is_empty())
        {
            name
        } else if media.is_voice_message {
            self.audios += 1;
            let ext = if media.mime_type.as_deref() == Some("audio/mp3") {
                "mp3"
            } else {
                "ogg"
            };
            format!("audio_{}@{stamp}.{ext}", self.audios)
        } else if media.is_video_file {
            self.videos += 1;
            format!(
                "video_{}@{stamp}.{}",
                self.videos,
                media.extension().unwrap_or("mov")
            )
        } else {
            self.files += 1;
            format!(
                "file_{}@{stamp}.{}",
                self.files,
                media.extension().unwrap_or("unknown")
            )
        };
        self.claim(&format!("{}/{name}", media.folder()))
    }

    fn claim(&mut self, wanted: &str) -> String {
        if self.taken.insert(wanted.to_owned()) {
            return wanted.to_owned();
        }
        let (dir, file) = wanted.rsplit_once('/').unwrap_or(("", wanted));
        let (base, ext) = match file.find('.') {
            Some(at) => file.split_at(at),
            None => (file, ""),
        };
        let mut attempt = 1u32;
        loop {
            let candidate = format!("{dir}/{base} ({attempt}){ext}");
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
            attempt += 1;
        }
    }
}

/// Desktop's date part of a file name: `dd-mm-yyyy_HH-MM-SS`.
fn file_date(unix: i64) -> String {
    // `2023-11-14T22:13:20Z`, rearranged.
    let iso = crate::dates::rfc3339(unix);
    let part = |range: std::ops::Range<usize>| iso.get(range).unwrap_or_default();
    format!(
        "{}-{}-{}_{}-{}-{}",
        part(8..10),
        part(5..7),
        part(0..4),
        part(11..13),
        part(14..16),
        part(17..19)
    )
}

/// Desktop's `date`: ISO 8601 without a zone (`2023-11-14T22:13:20`), here in UTC.
pub fn desktop_date(unix: i64) -> String {
    crate::dates::rfc3339(unix).trim_end_matches('Z').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(f: impl FnOnce(&mut DesktopMedia)) -> DesktopMedia {
        let mut media = DesktopMedia {
            mime_type: Some("video/mp4".to_owned()),
            ..DesktopMedia::default()
        };
        f(&mut media);
        media
    }

    #[test]
    fn folders_and_media_types_follow_desktop_orders() {
        let gif = doc(|m| {
            m.is_animated = true;
            m.is_video_file = true;
        });
        assert_eq!(
            (gif.folder(), gif.media_type()),
            ("video_files", Some("animation"))
        );
        let round = doc(|m| m.is_video_message = true);
        assert_eq!(
            (round.folder(), round.media_type()),
            ("round_video_messages", Some("video_message"))
        );
        let voice = doc(|m| m.is_voice_message = true);
        assert_eq!(
            (voice.folder(), voice.media_type()),
            ("voice_messages", Some("voice_message"))
        );
        let music = doc(|m| m.is_audio_file = true);
        assert_eq!(
            (music.folder(), music.media_type()),
            ("files", Some("audio_file"))
        );
        let sticker = doc(|m| m.is_sticker = true);
        assert_eq!(
            (sticker.folder(), sticker.media_type()),
            ("stickers", Some("sticker"))
        );
    }

    #[test]
    fn names_count_per_kind_carry_the_date_and_avoid_taken_paths() {
        let mut namer = Namer::new(["files/report.pdf".to_owned()]);
        let photo = DesktopMedia {
            photo: true,
            ..DesktopMedia::default()
        };
        assert_eq!(
            namer.name(&photo, 1_700_000_000),
            "photos/photo_1@14-11-2023_22-13-20.jpg"
        );
        assert_eq!(
            namer.name(&photo, 1_700_000_060),
            "photos/photo_2@14-11-2023_22-14-20.jpg"
        );
        let report = doc(|m| m.file_name = Some("report.pdf".to_owned()));
        assert_eq!(namer.name(&report, 0), "files/report (1).pdf");
        assert_eq!(namer.name(&report, 0), "files/report (2).pdf");
        let archive = doc(|m| m.file_name = Some("a.tar.gz".to_owned()));
        assert_eq!(namer.name(&archive, 0), "files/a.tar.gz");
        assert_eq!(namer.name(&archive, 0), "files/a (1).tar.gz");
        let video = doc(|m| m.is_video_file = true);
        assert_eq!(
            namer.name(&video, 0),
            "video_files/video_1@01-01-1970_00-00-00.mp4"
        );
        let voice = doc(|m| {
            m.is_voice_message = true;
            m.mime_type = Some("audio/ogg".to_owned());
        });
        assert_eq!(
            namer.name(&voice, 0),
            "voice_messages/audio_1@01-01-1970_00-00-00.ogg"
        );
        let evil = doc(|m| m.file_name = Some("../../etc/passwd".to_owned()));
        assert_eq!(namer.name(&evil, 0), "files/_.._etc_passwd");
    }

    #[test]
    fn dates_are_written_without_a_zone() {
        assert_eq!(desktop_date(1_700_000_000), "2023-11-14T22:13:20");
    }
}
