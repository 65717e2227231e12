//! Reading an export file: Telegram Desktop's `result.json` (one chat, or a whole account)
//! or tdl's `chat export`. The whole file is parsed before anything is returned, so a
//! truncated or malformed file yields an error naming the place and no chat at all.

use std::path::{Path, PathBuf};

use super::json::Json;
use super::model::{Export, ExportChat, ExportKind, ExportMessage};

/// Why an export could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("{}: {source}", file.display())]
    Io {
        file: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid JSON (a truncated file ends here too).
    #[error("{}: line {line}, column {column}: {message}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// Valid JSON, but not shaped like an export at `path` (`chats.list[3].messages[17].id`).
    #[error("{}: at {path}: {message}", file.display())]
    Shape {
        file: PathBuf,
        path: String,
        message: String,
    },
}

/// Reads and parses every file in `files`; the first that fails stops it.
pub fn read_all(files: &[PathBuf]) -> Result<Vec<Export>, ReadError> {
    files.iter().map(|file| read_file(file)).collect()
}

/// Reads and parses the export at `file`.
pub fn read_file(file: &Path) -> Result<Export, ReadError> {
    let bytes = std::fs::read(file).map_err(|source| ReadError::Io {
        file: file.to_owned(),
        source,
    })?;
    parse(&bytes, file)
}

/// Parses an export; `file` names it in errors.
pub fn parse(bytes: &[u8], file: &Path) -> Result<Export, ReadError> {
    parse_keeping_text(bytes, file).map(|(_, export)| export)
}

/// Reads the export at `file`, and its whole JSON too (to be written back with more).
pub fn read_keeping_text(file: &Path) -> Result<(Json, Export), ReadError> {
    let bytes = std::fs::read(file).map_err(|source| ReadError::Io {
        file: file.to_owned(),
        source,
    })?;
    parse_keeping_text(&bytes, file)
}

fn parse_keeping_text(bytes: &[u8], file: &Path) -> Result<(Json, Export), ReadError> {
    let root: Json = serde_json::from_slice(bytes).map_err(|error| ReadError::Syntax {
        file: file.to_owned(),
        line: error.line(),
        column: error.column(),
        message: syntax_message(&error),
    })?;
    let shape = |path: String, message: String| ReadError::Shape {
        file: file.to_owned(),
        path,
        message,
    };
    let export = parse_root(&root).map_err(|(path, message)| shape(path, message))?;
    Ok((root, export))
}

/// serde_json's message without its own " at line L column C" tail (said once, in front).
fn syntax_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let message = match text.rfind(" at line ") {
        Some(at) => text.get(..at).unwrap_or(&text).to_owned(),
        None => text,
    };
    if error.is_eof() {
        format!("{message} (the file ends early: truncated?)")
    } else {
        message
    }
}

/// A shape error: where, and what is wrong there.
type ShapeError = (String, String);

fn parse_root(root: &Json) -> Result<Export, ShapeError> {
    const ROOT: &str = "(root)";
    if !matches!(root, Json::Object(_)) {
        return Err((
            ROOT.to_owned(),
            format!("expected an object, found {}", root.kind()),
        ));
    }
    let is_account = ["chats", "left_chats", "personal_information"]
        .iter()
        .any(|key| root.get(key).is_some());
    if is_account {
        let mut chats = Vec::new();
        for list in ["chats", "left_chats"] {
            let Some(section) = root.get(list) else {
                continue;
            };
            let items = array_at(section.get("list"), &format!("{list}.list"))?;
            for (index, chat) in items.iter().enumerate() {
                chats.push(parse_chat(chat, &format!("{list}.list[{index}]"), true)?);
            }
        }
        return Ok(Export {
            kind: ExportKind::DesktopAccount,
            chats,
        });
    }
    if root.get("messages").is_none() {
        return Err((
            ROOT.to_owned(),
            "not an export: no `messages`, `chats` or `left_chats`".to_owned(),
        ));
    }
    // Desktop always writes the chat's type; tdl writes only `id` and `messages`.
    let desktop = root.get("type").is_some();
    let chat = parse_chat(root, "", desktop)?;
    Ok(Export {
        kind: if desktop {
            ExportKind::DesktopChat
        } else {
            ExportKind::Tdl
        },
        chats: vec![chat],
    })
}

/// `prefix` is the chat's path (empty for the root); `desktop` whether a message's file
/// fields tell if it has media (tdl's do not).
fn parse_chat(chat: &Json, prefix: &str, desktop: bool) -> Result<ExportChat, ShapeError> {
    let place = if prefix.is_empty() {
        "(root)".to_owned()
    } else {
        prefix.to_owned()
    };
    if !matches!(chat, Json::Object(_)) {
        return Err((
            place,
            format!("expected a chat object, found {}", chat.kind()),
        ));
    }
    let path = |field: &str| {
        if prefix.is_empty() {
            field.to_owned()
        } else {
            format!("{prefix}.{field}")
        }
    };
    let id = integer_at(chat.get("id"), &path("id"))?;
    let name = optional_string(chat.get("name"), &path("name"))?;
    let chat_type = optional_string(chat.get("type"), &path("type"))?;
    let items = array_at(chat.get("messages"), &path("messages"))?;
    let mut messages = Vec::with_capacity(items.len());
    let mut migrated_skipped = 0;
    for (index, message) in items.iter().enumerate() {
        let at = path(&format!("messages[{index}]"));
        if !matches!(message, Json::Object(_)) {
            return Err((
                at,
                format!("expected a message object, found {}", message.kind()),
            ));
        }
        let id = integer_at(message.get("id"), &format!("{at}.id"))?;
        let kind = optional_string(message.get("type"), &format!("{at}.type"))?;
        if kind.as_deref().is_some_and(|kind| kind != "message") {
            // Service messages carry no downloadable file of the chat's own; unsupported
            // ones nothing at all.
            continue;
        }
        // Desktop shifts the ids of a migrated basic group's messages below zero.
        let Ok(id) = i32::try_from(id) else {
            return Err((format!("{at}.id"), format!("{id} is not a message id")));
        };
        if id <= 0 {
            migrated_skipped += 1;
            continue;
        }
        let has_media = !desktop || message.get("photo").is_some() || message.get("file").is_some();
        messages.push(ExportMessage { id, has_media });
    }
    Ok(ExportChat {
        place,
        name,
        chat_type,
        id,
        messages,
        migrated_skipped,
    })
}

fn integer_at(value: Option<&Json>, path: &str) -> Result<i64, ShapeError> {
    match value {
        None => Err((path.to_owned(), "missing".to_owned())),
        Some(value) => value.as_i64().ok_or_else(|| {
            (
                path.to_owned(),
                format!("expected an integer, found {}", value.kind()),
            )
        }),
    }
}

fn array_at<'a>(value: Option<&'a Json>, path: &str) -> Result<&'a [Json], ShapeError> {
    match value {
        None => Err((path.to_owned(), "missing".to_owned())),
        Some(Json::Array(items)) => Ok(items),
        Some(other) => Err((
            path.to_owned(),
            format!("expected an array, found {}", other.kind()),
        )),
    }
}

fn optional_string(value: Option<&Json>, path: &str) -> Result<Option<String>, ShapeError> {
    match value {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err((
            path.to_owned(),
            format!("expected a string or null, found {}", other.kind()),
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    fn parse_str(text: &str) -> Result<Export, ReadError> {
        parse(text.as_bytes(), Path::new("result.json"))
    }

    const ACCOUNT: &str = r#"{
 "about": "x",
 "personal_information": {"user_id": 5},
 "chats": {"about": "y", "list": [
  {"name": "A", "type": "personal_chat", "id": 10, "messages": [
   {"id": 1, "type": "message", "photo": "(File not included. Change data exporting settings to download.)"},
   {"id": 2, "type": "service", "action": "pin_message"},
   {"id": 3, "type": "message", "text": "no media"}
  ]},
  {"name": "B", "type": "private_supergroup", "id": 20, "messages": [
   {"id": -999999990, "type": "message", "file": "files/a.txt"},
   {"id": 7, "type": "message", "file": "files/b.txt"}
  ]}
 ]},
 "left_chats": {"about": "z", "list": [
  {"name": "C", "type": "public_channel", "id": 30, "messages": [{"id": 9, "type": "message"}]}
 ]}
}"#;

    #[test]
    fn an_account_export_lists_chats_and_left_chats_with_their_messages() {
        let export = parse_str(ACCOUNT).unwrap();
        assert_eq!(export.kind, ExportKind::DesktopAccount);
        let places: Vec<&str> = export.chats.iter().map(|c| c.place.as_str()).collect();
        assert_eq!(
            places,
            ["chats.list[0]", "chats.list[1]", "left_chats.list[0]"]
        );
        let first = &export.chats[0];
        assert_eq!(first.name.as_deref(), Some("A"));
        assert_eq!(
            first.messages,
            [
                ExportMessage {
                    id: 1,
                    has_media: true
                },
                ExportMessage {
                    id: 3,
                    has_media: false
                }
            ]
        );
        assert_eq!(export.chats[1].migrated_skipped, 1);
        assert_eq!(
            export.chats[1].messages,
            [ExportMessage {
                id: 7,
                has_media: true
            }]
        );
    }

    #[test]
    fn a_tdl_export_has_no_chat_type_and_every_message_may_have_media() {
        let export =
            parse_str(r#"{"id": 1234, "messages": [{"id": 5, "type": "message", "file": "a.jpg"}, {"id": 6, "type": "message", "file": ""}]}"#)
                .unwrap();
        assert_eq!(export.kind, ExportKind::Tdl);
        assert_eq!(export.chats[0].chat_type, None);
        assert!(export.chats[0].messages.iter().all(|m| m.has_media));
    }

    fn shape_path(text: &str) -> String {
        match parse_str(text) {
            Err(ReadError::Shape { path, .. }) => path,
            other => panic!("not a shape error: {other:?}"),
        }
    }

    #[test]
    fn shape_errors_name_the_json_path() {
        let wrong_id = ACCOUNT.replace(r#""id": 7,"#, r#""id": "7","#);
        assert_eq!(shape_path(&wrong_id), "chats.list[1].messages[1].id");
        let no_messages = r#"{"name": "A", "type": "personal_chat", "id": 1}"#;
        assert_eq!(shape_path(no_messages), "(root)");
        let no_messages_in_list = ACCOUNT.replace(
            r#""messages": [{"id": 9, "type": "message"}]"#,
            r#""m": []"#,
        );
        assert_eq!(
            shape_path(&no_messages_in_list),
            "left_chats.list[0].messages"
        );
        let list_not_array = r#"{"chats": {"list": {}}}"#;
        assert_eq!(shape_path(list_not_array), "chats.list");
        assert_eq!(shape_path("[1, 2]"), "(root)");
        let chat_id = r#"{"type": "personal_chat", "id": null, "messages": []}"#;
        assert_eq!(shape_path(chat_id), "id");
        let message_type =
            r#"{"type": "personal_chat", "id": 1, "messages": [{"id": 1, "type": 3}]}"#;
        assert_eq!(shape_path(message_type), "messages[0].type");
    }

    #[test]
    fn a_file_cut_anywhere_is_a_syntax_error_with_a_line_and_column() {
        // Every proper prefix of a valid export that is not itself valid JSON.
        for cut in (1..ACCOUNT.len()).step_by(7) {
            let Some(prefix) = ACCOUNT.get(..cut) else {
                continue;
            };
            match parse_str(prefix) {
                Err(ReadError::Syntax {
                    line,
                    column,
                    message,
                    ..
                }) => {
                    assert!(
                        line >= 1 && column <= prefix.len(),
                        "{cut}: {line}:{column}"
                    );
                    assert!(message.contains("truncated"), "{cut}: {message}");
                }
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn errors_name_the_file() {
        let error = parse_str("{").unwrap_err().to_string();
        assert!(
            error.starts_with("result.json: line 1, column 1"),
            "{error}"
        );
        let error = shape_path_message(r#"{"type": "x", "id": 1, "messages": [{"id": true}]}"#);
        assert_eq!(
            error,
            "result.json: at messages[0].id: expected an integer, found a boolean"
        );
    }

    fn shape_path_message(text: &str) -> String {
        parse_str(text).unwrap_err().to_string()
    }
}
