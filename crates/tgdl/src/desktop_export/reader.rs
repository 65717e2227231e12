//! Reading an export file: Telegram Desktop's `result.json` (one chat, or a whole account)
//! or tdl's `chat export`. The whole file is parsed before anything is returned, so a
//! truncated or malformed file yields an error naming the place and no chat at all. The
//! shapes are checked by [`super::stream`] as the file streams by.

use std::path::{Path, PathBuf};

use serde::de::DeserializeSeed;

use super::escapes::DesktopEscapes;
use super::json::Json;
use super::model::Export;
use super::stream::{ExportSeed, shape_error};

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
    #[error("{}: at {path}: {message} (line {line}, column {column})", file.display())]
    Shape {
        file: PathBuf,
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Reads and parses every file in `files`; the first that fails stops it.
pub fn read_all(files: &[PathBuf]) -> Result<Vec<Export>, ReadError> {
    files.iter().map(|file| read_file(file)).collect()
}

/// Reads and parses the export at `file`, streaming: only the messages' ids and kinds are
/// kept, whatever the file's size.
pub fn read_file(file: &Path) -> Result<Export, ReadError> {
    let opened = std::fs::File::open(file).map_err(|source| ReadError::Io {
        file: file.to_owned(),
        source,
    })?;
    parse_from(std::io::BufReader::new(opened), file)
}

/// Parses an export; `file` names it in errors.
pub fn parse(bytes: &[u8], file: &Path) -> Result<Export, ReadError> {
    parse_from(bytes, file)
}

/// Reads the export at `file`, and its whole JSON too (to be written back with more).
pub fn read_keeping_text(file: &Path) -> Result<(Json, Export), ReadError> {
    let bytes = std::fs::read(file).map_err(|source| ReadError::Io {
        file: file.to_owned(),
        source,
    })?;
    bytes_keeping_text(&bytes, file)
}

/// [`read_keeping_text`] of an export already in memory (read from a bucket); `file`
/// names it in errors.
pub fn bytes_keeping_text(bytes: &[u8], file: &Path) -> Result<(Json, Export), ReadError> {
    let export = parse(bytes, file)?;
    let root = serde_json::from_reader(DesktopEscapes::new(bytes))
        .map_err(|error| read_error(error, file))?;
    Ok((root, export))
}

fn parse_from(reader: impl std::io::Read, file: &Path) -> Result<Export, ReadError> {
    let mut deserializer = serde_json::Deserializer::from_reader(DesktopEscapes::new(reader));
    let export = ExportSeed
        .deserialize(&mut deserializer)
        .and_then(|export| deserializer.end().map(|()| export))
        .map_err(|error| read_error(error, file))?;
    Ok(export)
}

fn read_error(error: serde_json::Error, file: &Path) -> ReadError {
    let (line, column) = (error.line(), error.column());
    if error.is_io() {
        return ReadError::Io {
            file: file.to_owned(),
            source: error.into(),
        };
    }
    let text = error.to_string();
    // serde_json ends its messages with " at line L column C", said once here, apart.
    let message = text
        .rfind(" at line ")
        .and_then(|at| text.get(..at))
        .unwrap_or(&text);
    if let Some((path, message)) = shape_error(message) {
        return ReadError::Shape {
            file: file.to_owned(),
            path,
            line,
            column,
            message,
        };
    }
    let message = if error.is_eof() {
        format!("{message} (the file ends early: truncated?)")
    } else {
        message.to_owned()
    };
    ReadError::Syntax {
        file: file.to_owned(),
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use crate::desktop_export::model::{ExportKind, ExportMessage};

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
        let no_id = r#"{"type": "personal_chat", "id": 1, "messages": [{"id": 1}, {"type": "message", "x": [1, {"y": 2}]}]}"#;
        assert_eq!(shape_path(no_id), "messages[1].id");
        let huge_id = r#"{"type": "personal_chat", "id": 1, "messages": [{"id": 4294967296}]}"#;
        assert_eq!(shape_path(huge_id), "messages[0].id");
        let section = r#"{"left_chats": {"about": "x"}}"#;
        assert_eq!(shape_path(section), "left_chats.list");
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
    fn desktop_hex_escapes_in_text_do_not_stop_the_reader() {
        let text = r#"{"name": "A\x0Bb", "type": "personal_chat", "id": 1, "messages": [
            {"id": 4, "type": "message", "text": "bell\x07", "file": "files/a.bin"}]}"#;
        let export = parse_str(text).unwrap();
        assert_eq!(export.chats[0].name.as_deref(), Some("A\u{b}b"));
        assert_eq!(
            export.chats[0].messages,
            [ExportMessage {
                id: 4,
                has_media: true
            }]
        );
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
            "result.json: at messages[0].id: expected an integer, found a boolean (line 1, column 47)"
        );
    }

    fn shape_path_message(text: &str) -> String {
        parse_str(text).unwrap_err().to_string()
    }
}
