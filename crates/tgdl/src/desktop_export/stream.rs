//! The export read as a stream: serde seeds that keep of each message only its id, type
//! and whether it names a file, and skip everything else as it goes by, so memory grows
//! with the number of messages, not the size of the file. Each seed knows its JSON path;
//! a value of the wrong shape fails with that path in the error (see [`shape_error`]).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::model::{Export, ExportChat, ExportKind, ExportMessage};

/// Brackets the path inside a serde error message, to be found again by [`shape_error`].
const PATH_START: char = '\u{1}';
const PATH_END: char = '\u{2}';

fn at<E: de::Error>(path: &str, message: impl fmt::Display) -> E {
    E::custom(format_args!("{PATH_START}{path}{PATH_END}{message}"))
}

/// The path and message of an error made by [`at`]; none for serde's own errors.
pub fn shape_error(message: &str) -> Option<(String, String)> {
    let (_, rest) = message.split_once(PATH_START)?;
    let (path, message) = rest.split_once(PATH_END)?;
    Some((path.to_owned(), message.to_owned()))
}

/// Reads a whole export.
#[derive(Debug, Clone, Copy)]
pub struct ExportSeed;

impl<'de> DeserializeSeed<'de> for ExportSeed {
    type Value = Export;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Export, D::Error> {
        let root = deserializer.deserialize_any(ChatVisitor::new(String::new()))?;
        finish_root(root)
    }
}

/// What was read of a chat object (or of the root, which may be one).
#[derive(Debug, Default)]
struct RawChat {
    place: String,
    id: Option<i64>,
    name: Option<String>,
    chat_type: Option<String>,
    has_type: bool,
    messages: Option<Vec<RawMessage>>,
    /// The chats of `chats.list` and `left_chats.list` (the root of an account export).
    sections: Vec<RawChat>,
    account: bool,
}

#[derive(Debug)]
struct RawMessage {
    id: i32,
    /// `message`, `service`, ...; none when left out.
    kind: Option<String>,
    /// A `photo` or `file` field is there.
    names_file: bool,
}

fn finish_root<E: de::Error>(root: RawChat) -> Result<Export, E> {
    if root.account {
        let chats = root
            .sections
            .into_iter()
            .map(|chat| finish_chat(chat, true))
            .collect::<Result<_, E>>()?;
        return Ok(Export {
            kind: ExportKind::DesktopAccount,
            chats,
        });
    }
    if root.messages.is_none() {
        return Err(at(
            "(root)",
            "not an export: no `messages`, `chats` or `left_chats`",
        ));
    }
    // Desktop always writes the chat's type; tdl writes only `id` and `messages`.
    let desktop = root.has_type;
    let chat = finish_chat(root, desktop)?;
    Ok(Export {
        kind: if desktop {
            ExportKind::DesktopChat
        } else {
            ExportKind::Tdl
        },
        chats: vec![chat],
    })
}

/// `desktop`: whether a message's file fields tell if it has media (tdl's do not).
fn finish_chat<E: de::Error>(chat: RawChat, desktop: bool) -> Result<ExportChat, E> {
    let path = |field: &str| join(&chat.place, field);
    let id = chat.id.ok_or_else(|| at(&path("id"), "missing"))?;
    let raw = chat
        .messages
        .ok_or_else(|| at(&path("messages"), "missing"))?;
    let mut messages = Vec::with_capacity(raw.len());
    let mut migrated_skipped = 0;
    for message in raw {
        // Service messages carry no file of the chat's own; unsupported ones nothing.
        if message
            .kind
            .as_deref()
            .is_some_and(|kind| kind != "message")
        {
            continue;
        }
        // Desktop shifts the ids of a migrated basic group's messages below zero.
        if message.id <= 0 {
            migrated_skipped += 1;
            continue;
        }
        messages.push(ExportMessage {
            id: message.id,
            has_media: !desktop || message.names_file,
        });
    }
    Ok(ExportChat {
        place: if chat.place.is_empty() {
            "(root)".to_owned()
        } else {
            chat.place
        },
        name: chat.name,
        chat_type: chat.chat_type,
        id,
        messages,
        migrated_skipped,
    })
}

/// `prefix.field`, or `field` at the root.
fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

/// Implements the visitor methods of every JSON kind but `$keep` as "expected X, found Y".
macro_rules! reject_others {
    ($expected:expr; $($method:ident($($arg:ty)?) => $found:expr),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self, $(_: $arg)?) -> Result<Self::Value, E> {
                Err(at(&self.path, format_args!("expected {}, found {}", $expected, $found)))
            }
        )*
    };
}

/// A chat object; with an empty prefix, the root (which may also be an account export).
struct ChatVisitor {
    prefix: String,
    /// The prefix, or `(root)`: where errors about the object itself are.
    path: String,
}

impl ChatVisitor {
    fn new(prefix: String) -> Self {
        let path = if prefix.is_empty() {
            "(root)".to_owned()
        } else {
            prefix.clone()
        };
        Self { prefix, path }
    }
}

impl<'de> Visitor<'de> for ChatVisitor {
    type Value = RawChat;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an export or chat object")
    }

    reject_others!("an object";
        visit_bool(bool) => "a boolean",
        visit_i64(i64) => "a number",
        visit_u64(u64) => "a number",
        visit_f64(f64) => "a number",
        visit_str(&str) => "a string",
        visit_unit() => "null",
    );

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<RawChat, A::Error> {
        Err(at(&self.path, "expected an object, found an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawChat, A::Error> {
        let root = self.prefix.is_empty();
        let mut chat = RawChat {
            place: self.prefix.clone(),
            ..RawChat::default()
        };
        while let Some(key) = map.next_key::<String>()? {
            let path = join(&self.prefix, &key);
            match key.as_str() {
                "id" => chat.id = Some(map.next_value_seed(Integer { path })?),
                "name" => chat.name = map.next_value_seed(OptionalString { path })?,
                "type" => {
                    chat.has_type = true;
                    chat.chat_type = map.next_value_seed(OptionalString { path })?;
                }
                "messages" => {
                    chat.messages = Some(map.next_value_seed(ListSeed::new(
                        path,
                        "a list of messages",
                        |path| MessageSeed { path },
                    ))?);
                }
                "chats" | "left_chats" if root => {
                    chat.account = true;
                    let list = map.next_value_seed(Section { path: key })?;
                    chat.sections.extend(list);
                }
                "personal_information" if root => {
                    chat.account = true;
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(chat)
    }
}

struct ChatSeed {
    prefix: String,
}

impl<'de> DeserializeSeed<'de> for ChatSeed {
    type Value = RawChat;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawChat, D::Error> {
        deserializer.deserialize_any(ChatVisitor::new(self.prefix))
    }
}

/// `chats` or `left_chats`: `{"about": ..., "list": [chat, ...]}`.
struct Section {
    /// `chats` or `left_chats`.
    path: String,
}

impl<'de> DeserializeSeed<'de> for Section {
    type Value = Vec<RawChat>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<RawChat>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Section {
    type Value = Vec<RawChat>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a chat list section")
    }

    reject_others!("an object";
        visit_bool(bool) => "a boolean",
        visit_i64(i64) => "a number",
        visit_u64(u64) => "a number",
        visit_f64(f64) => "a number",
        visit_str(&str) => "a string",
        visit_unit() => "null",
    );

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Vec<RawChat>, A::Error> {
        Err(at(&self.path, "expected an object, found an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<RawChat>, A::Error> {
        let mut chats = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "list" {
                chats = Some(map.next_value_seed(ListSeed::new(
                    format!("{}.list", self.path),
                    "a list of chats",
                    |prefix| ChatSeed { prefix },
                ))?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        chats.ok_or_else(|| at(&format!("{}.list", self.path), "missing"))
    }
}

/// An array whose element `i` is read by the seed `element` makes of its path `PATH[i]`.
struct ListSeed<F> {
    path: String,
    /// What the array holds, for serde's "expected" message.
    what: &'static str,
    element: F,
}

impl<F> ListSeed<F> {
    fn new(path: String, what: &'static str, element: F) -> Self {
        Self {
            path,
            what,
            element,
        }
    }
}

impl<'de, S, F> DeserializeSeed<'de> for ListSeed<F>
where
    S: DeserializeSeed<'de>,
    F: Fn(String) -> S,
{
    type Value = Vec<S::Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, S, F> Visitor<'de> for ListSeed<F>
where
    S: DeserializeSeed<'de>,
    F: Fn(String) -> S,
{
    type Value = Vec<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what)
    }

    reject_others!("an array";
        visit_bool(bool) => "a boolean",
        visit_i64(i64) => "a number",
        visit_u64(u64) => "a number",
        visit_f64(f64) => "a number",
        visit_str(&str) => "a string",
        visit_unit() => "null",
    );

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(at(&self.path, "expected an array, found an object"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let path = format!("{}[{}]", self.path, items.len());
            match seq.next_element_seed((self.element)(path))? {
                Some(item) => items.push(item),
                None => return Ok(items),
            }
        }
    }
}

/// One message: its id, type and whether it names a file; the rest skipped.
struct MessageSeed {
    path: String,
}

impl<'de> DeserializeSeed<'de> for MessageSeed {
    type Value = RawMessage;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawMessage, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MessageSeed {
    type Value = RawMessage;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message object")
    }

    reject_others!("a message object";
        visit_bool(bool) => "a boolean",
        visit_i64(i64) => "a number",
        visit_u64(u64) => "a number",
        visit_f64(f64) => "a number",
        visit_str(&str) => "a string",
        visit_unit() => "null",
    );

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<RawMessage, A::Error> {
        Err(at(&self.path, "expected a message object, found an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawMessage, A::Error> {
        let mut id = None;
        let mut kind = None;
        let mut names_file = false;
        while let Some(key) = map.next_key::<String>()? {
            let path = join(&self.path, &key);
            match key.as_str() {
                "id" => {
                    let value = map.next_value_seed(Integer { path: path.clone() })?;
                    let value = i32::try_from(value)
                        .map_err(|_| at(&path, format_args!("{value} is not a message id")))?;
                    id = Some(value);
                }
                "type" => kind = map.next_value_seed(OptionalString { path })?,
                "photo" | "file" => {
                    names_file = true;
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let id = id.ok_or_else(|| at(&join(&self.path, "id"), "missing"))?;
        Ok(RawMessage {
            id,
            kind,
            names_file,
        })
    }
}

/// An integer field.
struct Integer {
    path: String,
}

impl<'de> DeserializeSeed<'de> for Integer {
    type Value = i64;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<i64, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Integer {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| at(&self.path, format_args!("{v} is too large")))
    }

    reject_others!("an integer";
        visit_bool(bool) => "a boolean",
        visit_f64(f64) => "a number with a fraction",
        visit_str(&str) => "a string",
        visit_unit() => "null",
    );

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<i64, A::Error> {
        Err(at(&self.path, "expected an integer, found an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<i64, A::Error> {
        Err(at(&self.path, "expected an integer, found an object"))
    }
}

/// A string field that may be null.
struct OptionalString {
    path: String,
}

impl<'de> DeserializeSeed<'de> for OptionalString {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<String>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for OptionalString {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or null")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<String>, E> {
        Ok(Some(v.to_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> {
        Ok(None)
    }

    reject_others!("a string or null";
        visit_bool(bool) => "a boolean",
        visit_i64(i64) => "a number",
        visit_u64(u64) => "a number",
        visit_f64(f64) => "a number",
    );

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Option<String>, A::Error> {
        Err(at(&self.path, "expected a string or null, found an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Option<String>, A::Error> {
        Err(at(&self.path, "expected a string or null, found an object"))
    }
}
