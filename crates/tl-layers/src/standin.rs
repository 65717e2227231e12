//! What a layer gets in place of a constructor it does not know.
//!
//! Telegram sends an old layer the "unsupported" form of a type where the schema has one
//! (`messageMediaUnsupported`, which TDLib and Telegram Desktop show as "this message is not
//! supported by your version"; `messageActionEmpty`; `messageEntityUnknown`, which keeps the
//! entity's offset and length; `pageBlockUnsupported`), turns an update stream it cannot
//! express into `updatesTooLong` (the client then refetches with `updates.getDifference`),
//! and leaves out of a list what the layer cannot know (an `Update` in `updates.updates`,
//! a `MessageEntity`...). Types with an `...Empty` constructor (`userEmpty`, `chatEmpty`,
//! `messageEmpty`, `photoEmpty`, `documentEmpty`) get it, keeping the fields it has (the id).

use crate::table::{Combinator, Schema};

/// What to do with an object whose constructor the target layer lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Write this constructor instead, carrying over the fields it shares.
    Replace(&'static Combinator),
    /// Leave the object out (of its vector; a required field gets its zero value).
    Drop,
}

/// Explicit stand-ins, by type.
const STAND_INS: [(&str, &str); 5] = [
    ("MessageMedia", "messageMediaUnsupported"),
    ("MessageAction", "messageActionEmpty"),
    ("MessageEntity", "messageEntityUnknown"),
    ("PageBlock", "pageBlockUnsupported"),
    ("Updates", "updatesTooLong"),
];

/// Types whose unknown objects are left out of their lists rather than replaced.
const DROPPED: [&str; 1] = ["Update"];

/// The replacement for an object of type `ty` whose constructor `target` lacks.
pub fn replacement(target: &'static Schema, ty: &str) -> Missing {
    if DROPPED.contains(&ty) {
        return Missing::Drop;
    }
    let explicit = STAND_INS
        .iter()
        .find(|(name, _)| *name == ty)
        .and_then(|(_, standin)| target.by_name(standin));
    explicit
        .or_else(|| empty_constructor(target, ty))
        .map_or(Missing::Drop, Missing::Replace)
}

/// The constructor a required field of type `ty` gets when the source has no value for it:
/// the type's stand-in or `...Empty` constructor, else its constructor with fewest fields.
pub fn zero_constructor(target: &'static Schema, ty: &str) -> Option<&'static Combinator> {
    if let Missing::Replace(found) = replacement(target, ty) {
        return Some(found);
    }
    target
        .constructors_of(ty)
        .iter()
        .min_by_key(|comb| comb.params.iter().filter(|p| p.flag.is_none()).count())
        .copied()
}

fn empty_constructor(target: &'static Schema, ty: &str) -> Option<&'static Combinator> {
    target
        .constructors_of(ty)
        .iter()
        .find(|comb| comb.name.ends_with("Empty"))
        .copied()
}

/// Fields whose type became an object between layers, by the object's constructor: the old
/// layer's value is this one field of it (`user.stories_max_id` was an `int`, now a
/// `recentStory` with `max_id`; `account.updateColor`'s `color` became a `peerColor`).
const WRAPPED: [(&str, &str, &str); 2] = [
    ("RecentStory", "recentStory", "max_id"),
    ("PeerColor", "peerColor", "color"),
];

/// `Bool` fields that became a type: which constructor means `true` and which `false`
/// (`private` of paid reactions: anonymous or not).
const AS_BOOL: [(&str, &str, &str); 1] = [(
    "PaidReactionPrivacy",
    "paidReactionPrivacyAnonymous",
    "paidReactionPrivacyDefault",
)];

/// The field that stands for an object of constructor `name` where a layer has a plain value.
pub fn unwrapped_field(name: &str) -> Option<&'static str> {
    WRAPPED
        .iter()
        .find(|(_, constructor, _)| *constructor == name)
        .map(|(_, _, field)| *field)
}

/// The constructor of type `ty` that wraps a plain value, and the field it goes in.
pub fn wrapper(target: &'static Schema, ty: &str) -> Option<(&'static Combinator, &'static str)> {
    let (_, constructor, field) = WRAPPED.iter().find(|(t, _, _)| *t == ty)?;
    Some((target.by_name(constructor)?, *field))
}

/// The `Bool` an object of constructor `name` stands for.
pub fn as_bool(name: &str) -> Option<bool> {
    AS_BOOL.iter().find_map(|(_, yes, no)| {
        if *yes == name {
            Some(true)
        } else if *no == name {
            Some(false)
        } else {
            None
        }
    })
}

/// The constructor of type `ty` that stands for `value`.
pub fn from_bool(target: &'static Schema, ty: &str, value: bool) -> Option<&'static Combinator> {
    let (_, yes, no) = AS_BOOL.iter().find(|(t, _, _)| *t == ty)?;
    target.by_name(if value { yes } else { no })
}
