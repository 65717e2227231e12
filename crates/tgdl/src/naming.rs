//! Where a downloaded file goes: a naming template (default
//! `{chat}/{msg_id}{edit}_{file_name}`) filled from the message, every value made safe for a
//! file name, and collisions resolved. Names come from other people (senders choose file
//! names, admins choose chat titles), so a value can never add a directory level, climb
//! out of the output directory, or carry control characters: `/` in a template makes
//! directories, `/` in a value does not.
//!
//! Fields: `{chat}` (username, else title), `{chat_id}`, `{msg_id}`, `{date}` (UTC,
//! `YYYY-MM-DD`; `{date:%Y%m%d_%H%M%S}` formats with `%Y %m %d %H %M %S`), `{sender}`
//! (sender id, empty for channel posts), `{type}` (photo, video, ...), `{file_name}` (the
//! sender's name, else `<msg_id>.<ext>`), `{stem}`, `{ext}`, `{media_id}`, `{edit}` (empty
//! for the media a message was first archived with; for a media an edit put in its place,
//! the edit date as `-editYYYYmmdd-HHMMSS`, or formatted like `{date}` with
//! `{edit:FORMAT}`). With `{edit}` in the default template an edited message's new media
//! gets a name of its own beside the old file, and the names of originals are the same as
//! before the field existed.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use anyhow::{Result, bail};

/// Longest file name component, in bytes (what common filesystems allow).
const MAX_COMPONENT: usize = 200;

/// The default template.
pub const DEFAULT_TEMPLATE: &str = "{chat}/{msg_id}{edit}_{file_name}";

/// How `{edit}` formats the edit date of a replaced media.
const DEFAULT_EDIT_FORMAT: &str = "-edit%Y%m%d-%H%M%S";

/// What a template can say about one file.
#[derive(Debug, Clone, Default)]
pub struct NameFields {
    pub chat: String,
    pub chat_id: i64,
    pub msg_id: i32,
    /// Unix seconds.
    pub date: i64,
    pub sender: Option<i64>,
    pub kind: String,
    pub file_name: Option<String>,
    pub ext: Option<String>,
    pub media_id: i64,
    /// For a media that replaced an archived one of the same message: the edit date
    /// (Unix seconds) that names it. `None` for the first media archived of a message.
    pub edit: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(Field),
    Separator,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Chat,
    ChatId,
    MsgId,
    Date(String),
    Sender,
    Kind,
    FileName,
    Stem,
    Ext,
    MediaId,
    Edit(String),
}

/// A parsed naming template.
#[derive(Debug, Clone)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// [`Template::parse`] as a clap `value_parser`: a bad template fails while parsing the
/// command line.
pub fn template_arg(text: &str) -> std::result::Result<Template, String> {
    Template::parse(text).map_err(|error| error.to_string())
}

impl Template {
    /// Parses `text`; unknown fields and unbalanced braces are errors.
    pub fn parse(text: &str) -> Result<Self> {
        if text.trim().is_empty() {
            bail!("the naming template is empty");
        }
        if text.starts_with('/') {
            bail!("the naming template must be relative to the output directory");
        }
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => bail!("unclosed `{{` in the naming template"),
                        }
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Field(parse_field(&name)?));
                }
                '}' => bail!("unmatched `}}` in the naming template"),
                '/' => {
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Separator);
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Self { pieces })
    }

    /// The relative path for `fields`: one sanitized component per template level.
    pub fn render(&self, fields: &NameFields) -> PathBuf {
        let mut path = PathBuf::new();
        let mut component = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => component.push_str(text),
                Piece::Field(field) => component.push_str(&value(field, fields)),
                Piece::Separator => {
                    push_component(&mut path, &component);
                    component.clear();
                }
            }
        }
        push_component(&mut path, &component);
        if path.as_os_str().is_empty() {
            path.push(format!("{}", fields.msg_id));
        }
        path
    }
}

fn parse_field(name: &str) -> Result<Field> {
    let (name, format) = match name.split_once(':') {
        Some((name, format)) => (name, Some(format)),
        None => (name, None),
    };
    Ok(match (name, format) {
        ("chat", None) => Field::Chat,
        ("chat_id", None) => Field::ChatId,
        ("msg_id", None) => Field::MsgId,
        ("date", format) => Field::Date(format.unwrap_or("%Y-%m-%d").to_owned()),
        ("sender", None) => Field::Sender,
        ("type", None) => Field::Kind,
        ("file_name", None) => Field::FileName,
        ("stem", None) => Field::Stem,
        ("ext", None) => Field::Ext,
        ("media_id", None) => Field::MediaId,
        ("edit", format) => Field::Edit(format.unwrap_or(DEFAULT_EDIT_FORMAT).to_owned()),
        _ => bail!(
            "unknown template field `{{{name}}}`; known: chat, chat_id, msg_id, date, sender, \
             type, file_name, stem, ext, media_id, edit"
        ),
    })
}

fn value(field: &Field, fields: &NameFields) -> String {
    // Values never make directories: their separators become `_` here, before the
    // component as a whole is sanitized.
    let raw = match field {
        Field::Chat => fields.chat.clone(),
        Field::ChatId => fields.chat_id.to_string(),
        Field::MsgId => fields.msg_id.to_string(),
        Field::Date(format) => format_date(fields.date, format),
        Field::Sender => fields.sender.map(|s| s.to_string()).unwrap_or_default(),
        Field::Kind => fields.kind.clone(),
        Field::FileName => file_name(fields),
        Field::Stem => {
            let name = file_name(fields);
            match name.rsplit_once('.') {
                Some((stem, _)) if !stem.is_empty() => stem.to_owned(),
                _ => name,
            }
        }
        Field::Ext => fields.ext.clone().unwrap_or_default(),
        Field::MediaId => fields.media_id.to_string(),
        Field::Edit(format) => fields
            .edit
            .map(|date| format_date(date, format))
            .unwrap_or_default(),
    };
    raw.replace(['/', '\\'], "_")
}

fn file_name(fields: &NameFields) -> String {
    match fields.file_name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => match &fields.ext {
            Some(ext) => format!("{}.{ext}", fields.msg_id),
            None => fields.msg_id.to_string(),
        },
    }
}

/// `%Y %m %d %H %M %S` of a unix time, UTC.
fn format_date(unix: i64, format: &str) -> String {
    let iso = crate::dates::rfc3339(unix); // YYYY-MM-DDTHH:MM:SSZ
    let part = |range: std::ops::Range<usize>| iso.get(range).unwrap_or("00").to_owned();
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&part(0..4)),
            Some('m') => out.push_str(&part(5..7)),
            Some('d') => out.push_str(&part(8..10)),
            Some('H') => out.push_str(&part(11..13)),
            Some('M') => out.push_str(&part(14..16)),
            Some('S') => out.push_str(&part(17..19)),
            Some('%') | None => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
        }
    }
    out
}

/// Appends `raw` to `path` as one safe component (skipped when nothing is left of it).
fn push_component(path: &mut PathBuf, raw: &str) {
    let safe = sanitize_component(raw);
    if !safe.is_empty() {
        path.push(safe);
    }
}

/// One file name component that is safe on Linux, macOS and Windows: no separators,
/// control characters or characters Windows forbids, not `.`/`..`, no leading or
/// trailing dots and spaces, not a reserved device name, at most [`MAX_COMPONENT`] bytes
/// (the extension kept when shortened). Empty if nothing usable remains.
pub fn sanitize_component(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| c == '.' || c.is_whitespace());
    if trimmed.is_empty() {
        return String::new();
    }
    let mut name = trimmed.to_owned();
    let stem = name.split('.').next().unwrap_or("").to_ascii_lowercase();
    let reserved = matches!(stem.as_str(), "con" | "prn" | "aux" | "nul")
        || (stem.len() == 4
            && (stem.starts_with("com") || stem.starts_with("lpt"))
            && stem.ends_with(|c: char| c.is_ascii_digit()));
    if reserved {
        name.insert(0, '_');
    }
    shorten(&name, MAX_COMPONENT)
}

/// `name` cut to at most `max` bytes on a character boundary, keeping a short extension.
fn shorten(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| ext.len() <= 16);
    let keep = max - ext.map_or(0, |e| e.len() + 1);
    let mut cut = keep;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = name.get(..cut).unwrap_or_default().trim_end_matches('.');
    match ext {
        Some(ext) => format!("{head}.{ext}"),
        None => head.to_owned(),
    }
}

/// Whether `relative` stays inside the directory it is joined to.
pub fn is_contained(relative: &Path) -> bool {
    relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        && relative.components().next().is_some()
}

/// Gives each file of a run its own path: a second file wanting a taken name gets
/// ` (2)`, ` (3)`... before its extension.
#[derive(Debug, Default)]
pub struct Claims {
    taken: HashSet<PathBuf>,
}

impl Claims {
    /// A free path for `wanted` (relative), claimed.
    pub fn claim(&mut self, wanted: PathBuf) -> PathBuf {
        if self.taken.insert(wanted.clone()) {
            return wanted;
        }
        let name = wanted
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (stem, ext) = match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => (stem.to_owned(), format!(".{ext}")),
            _ => (name.clone(), String::new()),
        };
        for n in 2.. {
            let candidate =
                wanted.with_file_name(shorten(&format!("{stem} ({n}){ext}"), MAX_COMPONENT));
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
        }
        wanted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fields(file_name: Option<&str>) -> NameFields {
        NameFields {
            chat: "news".into(),
            chat_id: -100_501,
            msg_id: 42,
            date: 1_700_000_000,
            sender: Some(1001),
            kind: "document".into(),
            file_name: file_name.map(str::to_owned),
            ext: Some("bin".into()),
            media_id: 7,
            edit: None,
        }
    }

    #[test]
    fn default_template_and_fields() {
        let template = Template::parse(DEFAULT_TEMPLATE).unwrap();
        assert_eq!(
            template.render(&fields(Some("report.pdf"))),
            PathBuf::from("news/42_report.pdf")
        );
        assert_eq!(
            template.render(&fields(None)),
            PathBuf::from("news/42_42.bin")
        );
        let dated = Template::parse("{date:%Y/%m}/{type}-{date:%H%M%S}.{ext}").unwrap();
        // The `/` inside a field's format is a value character, not a directory.
        assert_eq!(
            dated.render(&fields(None)),
            PathBuf::from("2023_11/document-221320.bin")
        );
        assert!(Template::parse("{nope}").is_err());
        assert!(Template::parse("{chat").is_err());
        assert!(Template::parse("/abs/{chat}").is_err());
    }

    #[test]
    fn an_edited_media_gets_a_name_beside_the_original() {
        let template = Template::parse(DEFAULT_TEMPLATE).unwrap();
        // Originals keep the names the template gave before `{edit}` existed.
        let before = Template::parse("{chat}/{msg_id}_{file_name}").unwrap();
        assert_eq!(
            template.render(&fields(Some("a.jpg"))),
            before.render(&fields(Some("a.jpg")))
        );
        assert_eq!(template.render(&fields(None)), before.render(&fields(None)));
        let edited = NameFields {
            edit: Some(1_700_000_123),
            ..fields(Some("a.jpg"))
        };
        assert_eq!(
            template.render(&edited),
            PathBuf::from("news/42-edit20231114-221523_a.jpg")
        );
        let custom = Template::parse("{msg_id}{edit:.v%Y%m%d}.{ext}").unwrap();
        assert_eq!(custom.render(&edited), PathBuf::from("42.v20231114.bin"));
        assert_eq!(custom.render(&fields(None)), PathBuf::from("42.bin"));
    }

    #[test]
    fn hostile_names_stay_inside() {
        let template = Template::parse(DEFAULT_TEMPLATE).unwrap();
        for (name, expected) in [
            ("../../escape", "42_.._.._escape"),
            ("/etc/passwd", "42__etc_passwd"),
            ("con.txt\u{0}x", "42_con.txt_x"),
            ("..", "42_"),
        ] {
            let path = template.render(&fields(Some(name)));
            assert!(is_contained(&path), "{name:?} -> {path:?}");
            assert_eq!(path, Path::new("news").join(expected), "{name:?}");
        }
        assert_eq!(sanitize_component("con.txt"), "_con.txt");
        assert_eq!(sanitize_component("LPT1"), "_LPT1");
        assert_eq!(sanitize_component(" .. "), "");
        let long = format!("{}.mp4", "é".repeat(300));
        let short = sanitize_component(&long);
        assert!(short.len() <= MAX_COMPONENT);
        assert_eq!(Path::new(&short).extension().unwrap(), "mp4");
    }

    #[test]
    fn collisions_get_numbers() {
        let mut claims = Claims::default();
        assert_eq!(claims.claim("a/x.jpg".into()), PathBuf::from("a/x.jpg"));
        assert_eq!(claims.claim("a/x.jpg".into()), PathBuf::from("a/x (2).jpg"));
        assert_eq!(claims.claim("a/x.jpg".into()), PathBuf::from("a/x (3).jpg"));
        assert_eq!(claims.claim("a/noext".into()), PathBuf::from("a/noext"));
        assert_eq!(claims.claim("a/noext".into()), PathBuf::from("a/noext (2)"));
    }

    /// Text that tries to escape: climbing, separators of every platform, NUL and other
    /// controls, a drive, a home, device names, unicode look-alikes, and anything else.
    fn hostile_text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("..".to_owned()),
            Just(".".to_owned()),
            Just("/".to_owned()),
            Just("\\".to_owned()),
            Just("\\..\\".to_owned()),
            Just("../".to_owned()),
            Just("\0".to_owned()),
            Just("\u{1b}[31m".to_owned()),
            Just("C:".to_owned()),
            Just("~".to_owned()),
            Just(" ".to_owned()),
            Just("CON".to_owned()),
            Just("\u{2215}\u{2024}\u{2024}".to_owned()),
            Just("\u{ff0f}".to_owned()),
            Just("é".to_owned()),
            "[./\\\\ ]{1,6}",
            any::<String>(),
        ]
    }

    /// One piece of a template: a field (every field of the set, dates with any format),
    /// literal text (without braces) or a separator.
    fn template_piece() -> impl Strategy<Value = String> {
        let field = prop_oneof![
            Just("{chat}".to_owned()),
            Just("{chat_id}".to_owned()),
            Just("{msg_id}".to_owned()),
            Just("{date}".to_owned()),
            hostile_text().prop_map(|f| format!("{{date:{}}}", f.replace(['{', '}'], ""))),
            Just("{date:%Y/%m/%d}".to_owned()),
            Just("{sender}".to_owned()),
            Just("{type}".to_owned()),
            Just("{file_name}".to_owned()),
            Just("{stem}".to_owned()),
            Just("{ext}".to_owned()),
            Just("{media_id}".to_owned()),
            Just("{edit}".to_owned()),
            hostile_text().prop_map(|f| format!("{{edit:{}}}", f.replace(['{', '}'], ""))),
        ];
        prop_oneof![
            3 => field,
            2 => hostile_text().prop_map(|t| t.replace(['{', '}'], "")),
            1 => Just("/".to_owned()),
        ]
    }

    fn name_fields() -> impl Strategy<Value = NameFields> {
        (
            (hostile_text(), any::<i64>(), any::<i32>(), any::<i64>()),
            (
                proptest::option::of(any::<i64>()),
                hostile_text(),
                proptest::option::of(hostile_text()),
                proptest::option::of(hostile_text()),
                any::<i64>(),
            ),
            proptest::option::of(any::<i64>()),
        )
            .prop_map(
                |(
                    (chat, chat_id, msg_id, date),
                    (sender, kind, file_name, ext, media_id),
                    edit,
                )| {
                    NameFields {
                        chat,
                        chat_id,
                        msg_id,
                        date,
                        sender,
                        kind,
                        file_name,
                        ext,
                        media_id,
                        edit,
                    }
                },
            )
    }

    /// `path` with `.` and `..` resolved without the filesystem.
    fn normalize(path: &Path) -> PathBuf {
        let mut out = PathBuf::new();
        for component in path.components() {
            match component {
                Component::ParentDir => {
                    out.pop();
                }
                Component::CurDir => {}
                other => out.push(other),
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn any_name_and_template_stay_inside(
            pieces in proptest::collection::vec(template_piece(), 0..10),
            fields in name_fields(),
        ) {
            let text: String = pieces.concat();
            let Ok(template) = Template::parse(&text) else {
                // Only these templates are refused; every other one must render.
                prop_assert!(text.starts_with('/') || text.trim().is_empty(), "{text:?}");
                return Ok(());
            };
            let relative = template.render(&fields);
            prop_assert!(is_contained(&relative), "{text:?} -> {relative:?}");
            let output = Path::new("/srv/archive/out");
            let joined = output.join(&relative);
            let normalized = normalize(&joined);
            prop_assert!(
                normalized.starts_with(output) && normalized != output,
                "{text:?} -> {joined:?}"
            );
            prop_assert_eq!(normalized.components().count(), joined.components().count());
            for component in relative.components() {
                prop_assert!(matches!(component, Component::Normal(_)), "{relative:?}");
                let text = component.as_os_str().to_string_lossy();
                prop_assert!(!text.is_empty() && text.len() <= MAX_COMPONENT);
                prop_assert!(text != "." && text != "..", "{relative:?}");
                prop_assert!(!text.chars().any(char::is_control), "{relative:?}");
                prop_assert!(!text.contains(['/', '\\', ':']), "{relative:?}");
                prop_assert!(!text.starts_with(['.', ' ']), "{relative:?}");
            }
            // A second file wanting the same name gets another one, as safe.
            let mut claims = Claims::default();
            let first = claims.claim(relative.clone());
            let second = claims.claim(relative.clone());
            prop_assert_eq!(&first, &relative);
            prop_assert!(second != first && is_contained(&second), "{second:?}");
            prop_assert_eq!(second.parent(), first.parent());
        }
    }
}
