//! A message's text and entities as Telegram Desktop writes them: the text cut into parts
//! at the entities (taken in order; one that starts inside an earlier one, is empty or
//! runs past the end is dropped, as Desktop does), written twice: `text` (a plain string
//! when there is one plain part, else an array mixing strings and typed objects) and
//! `text_entities` (always an array of typed objects).

use tl_types::api::enums;

use super::json::Json;

/// One part of a text: a Desktop type name (`plain` for text outside entities), the
/// part's text, and the type's extra field, if it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct TextPart {
    pub kind: &'static str,
    pub text: String,
    pub extra: Extra,
}

/// A part type's extra field (`href`, `language`, `user_id`...): its name and value.
pub type Extra = Option<(&'static str, Json)>;

/// `text` cut at `entities`, whose offsets and lengths count UTF-16 code units.
pub fn parts(text: &str, entities: &[enums::MessageEntity]) -> Vec<TextPart> {
    let units: Vec<u16> = text.encode_utf16().collect();
    let slice =
        |from: usize, to: usize| String::from_utf16_lossy(units.get(from..to).unwrap_or_default());
    let mut result = Vec::new();
    let mut offset = 0usize;
    for entity in entities {
        let Some((kind, start, length, extra)) = describe(entity) else {
            continue;
        };
        let (Ok(start), Ok(length)) = (usize::try_from(start), usize::try_from(length)) else {
            continue;
        };
        if start < offset || length == 0 || start + length > units.len() {
            continue;
        }
        if start > offset {
            result.push(plain(slice(offset, start)));
        }
        result.push(TextPart {
            kind,
            text: slice(start, start + length),
            extra,
        });
        offset = start + length;
    }
    if offset < units.len() {
        result.push(plain(slice(offset, units.len())));
    }
    result
}

fn plain(text: String) -> TextPart {
    TextPart {
        kind: "plain",
        text,
        extra: None,
    }
}

/// Desktop's name, offset, length and extra field of an entity; none for entity kinds
/// newer than Desktop's export knows.
fn describe(entity: &enums::MessageEntity) -> Option<(&'static str, i32, i32, Extra)> {
    use enums::MessageEntity as E;
    Some(match entity {
        E::Unknown(e) => ("unknown", e.offset, e.length, None),
        E::Mention(e) => ("mention", e.offset, e.length, None),
        E::Hashtag(e) => ("hashtag", e.offset, e.length, None),
        E::BotCommand(e) => ("bot_command", e.offset, e.length, None),
        E::Url(e) => ("link", e.offset, e.length, None),
        E::Email(e) => ("email", e.offset, e.length, None),
        E::Bold(e) => ("bold", e.offset, e.length, None),
        E::Italic(e) => ("italic", e.offset, e.length, None),
        E::Code(e) => ("code", e.offset, e.length, None),
        E::Pre(e) => (
            "pre",
            e.offset,
            e.length,
            Some(("language", Json::from(e.language.as_str()))),
        ),
        E::TextUrl(e) => (
            "text_link",
            e.offset,
            e.length,
            Some(("href", Json::from(e.url.as_str()))),
        ),
        E::MentionName(e) => (
            "mention_name",
            e.offset,
            e.length,
            Some(("user_id", Json::from(e.user_id))),
        ),
        E::InputMessageEntityMentionName(e) => ("mention_name", e.offset, e.length, None),
        E::Phone(e) => ("phone", e.offset, e.length, None),
        E::Cashtag(e) => ("cashtag", e.offset, e.length, None),
        E::Underline(e) => ("underline", e.offset, e.length, None),
        E::Strike(e) => ("strikethrough", e.offset, e.length, None),
        E::BankCard(e) => ("bank_card", e.offset, e.length, None),
        E::Spoiler(e) => ("spoiler", e.offset, e.length, None),
        // Desktop writes the document id as a string.
        E::CustomEmoji(e) => (
            "custom_emoji",
            e.offset,
            e.length,
            Some(("document_id", Json::from(e.document_id.to_string()))),
        ),
        E::Blockquote(e) => (
            "blockquote",
            e.offset,
            e.length,
            Some(("collapsed", Json::from(e.collapsed))),
        ),
        _ => return None,
    })
}

fn part_object(part: &TextPart) -> Json {
    let mut fields = vec![
        ("type".to_owned(), Json::from(part.kind)),
        ("text".to_owned(), Json::from(part.text.as_str())),
    ];
    if let Some((name, value)) = &part.extra {
        fields.push(((*name).to_owned(), value.clone()));
    }
    Json::Object(fields)
}

/// The `text` field: `""` when empty, the string itself when it is one plain part, else
/// an array of plain strings and typed objects.
pub fn text_field(parts: &[TextPart]) -> Json {
    match parts {
        [] => Json::from(""),
        [only] if only.kind == "plain" => Json::from(only.text.as_str()),
        _ => Json::Array(
            parts
                .iter()
                .map(|part| {
                    if part.kind == "plain" {
                        Json::from(part.text.as_str())
                    } else {
                        part_object(part)
                    }
                })
                .collect(),
        ),
    }
}

/// The `text_entities` field: every part as a typed object.
pub fn entities_field(parts: &[TextPart]) -> Json {
    Json::Array(parts.iter().map(part_object).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tl_types::api::types;

    use super::*;

    fn bold(offset: i32, length: i32) -> enums::MessageEntity {
        enums::MessageEntity::Bold(Box::new(types::MessageEntityBold { offset, length }))
    }

    #[test]
    fn entities_cut_the_text_in_utf16_units_and_overlaps_are_dropped() {
        // "😀" is two UTF-16 units: the bold part starts after it.
        let text = "😀 hi there";
        let entities = vec![
            bold(3, 2),
            bold(4, 3), // starts inside the previous one
            enums::MessageEntity::TextUrl(Box::new(types::MessageEntityTextUrl {
                offset: 6,
                length: 5,
                url: "https://example.com".to_owned(),
            })),
            bold(20, 1), // past the end
        ];
        let parts = parts(text, &entities);
        let texts: Vec<(&str, &str)> = parts.iter().map(|p| (p.kind, p.text.as_str())).collect();
        assert_eq!(
            texts,
            [
                ("plain", "😀 "),
                ("bold", "hi"),
                ("plain", " "),
                ("text_link", "there")
            ]
        );
        let text_json = serde_json::to_value(text_field(&parts)).unwrap();
        assert_eq!(
            text_json,
            serde_json::json!(["😀 ", {"type": "bold", "text": "hi"}, " ",
                {"type": "text_link", "text": "there", "href": "https://example.com"}])
        );
        let entities_json = serde_json::to_value(entities_field(&parts)).unwrap();
        assert_eq!(
            entities_json[0],
            serde_json::json!({"type": "plain", "text": "😀 "})
        );
        assert_eq!(entities_json.as_array().unwrap().len(), 4);
    }

    #[test]
    fn plain_text_is_a_string_and_no_text_is_empty() {
        let one = parts("hello", &[]);
        assert_eq!(text_field(&one), Json::from("hello"));
        assert_eq!(
            serde_json::to_value(entities_field(&one)).unwrap(),
            serde_json::json!([{"type": "plain", "text": "hello"}])
        );
        let none = parts("", &[]);
        assert_eq!(text_field(&none), Json::from(""));
        assert_eq!(entities_field(&none), Json::Array(Vec::new()));
        // One entity covering everything is still an array.
        let all_bold = parts("hey", &[bold(0, 3)]);
        assert_eq!(
            serde_json::to_value(text_field(&all_bold)).unwrap(),
            serde_json::json!([{"type": "bold", "text": "hey"}])
        );
    }
}
