//! Parsing what users type to name a chat or a message: `@username`, `username`, numeric
//! ids (Bot API style, `-100…` for channels), `t.me` links (public, private `c/<id>`,
//! invites `+hash` and `joinchat/hash`) and `tg://resolve?domain=…`.
//!
//! The parser is pure: nothing is looked up. [`crate::Client::resolve`] turns a
//! [`PeerLink`] into an input peer.

use crate::store::PeerKind;

/// The longest username Telegram allows.
const MAX_USERNAME: usize = 32;

/// The hosts `t.me` links may use.
const HOSTS: [&str; 4] = ["t.me", "telegram.me", "telegram.dog", "www.t.me"];

/// The peer a reference names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PeerRef {
    /// A public username, without `@` (as typed; usernames compare case-insensitively).
    Username(String),
    /// A numeric id as the Bot API marks it: positive for users, `-id` for basic groups,
    /// `-100…id` for channels and supergroups.
    Id(i64),
    /// A channel or supergroup by its bare id (`t.me/c/<id>/…`).
    Channel(i64),
    /// An invite link's hash (`t.me/+hash`, `t.me/joinchat/hash`).
    Invite(String),
}

/// A parsed reference: a peer and, for message links, the message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerLink {
    /// The peer.
    pub peer: PeerRef,
    /// The message a link points at, if any.
    pub message_id: Option<i32>,
}

/// Why a reference did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// Nothing was given.
    #[error("empty chat reference")]
    Empty,
    /// Not a valid username (letters, digits and `_`, starting with a letter, at most 32).
    #[error("{0:?} is not a valid username")]
    InvalidUsername(String),
    /// A number that is not a valid id.
    #[error("{0:?} is not a valid chat id")]
    InvalidId(String),
    /// A message part that is not a valid message id.
    #[error("{0:?} is not a valid message id")]
    InvalidMessageId(String),
    /// An invite link without a usable hash.
    #[error("{0:?} is not a valid invite hash")]
    InvalidInvite(String),
    /// A link to a site other than Telegram's.
    #[error("{0:?} is not a Telegram link (expected t.me)")]
    UnsupportedHost(String),
    /// A Telegram link of a kind that names no chat (stickers, proxies, ...).
    #[error("{0:?} is not a link to a chat or message")]
    UnsupportedLink(String),
}

impl PeerRef {
    /// The kind and bare id a Bot API style id names.
    pub fn split_marked(marked: i64) -> (PeerKind, i64) {
        const CHANNEL_BASE: i64 = -1_000_000_000_000;
        if marked > 0 {
            (PeerKind::User, marked)
        } else if marked < CHANNEL_BASE {
            (PeerKind::Channel, CHANNEL_BASE - marked)
        } else {
            (PeerKind::Chat, marked.saturating_neg())
        }
    }
}

/// Parses what a user typed to name a chat or message.
/// First path segments of t.me links that are not chats (stickers, proxies, login...).
const RESERVED_PATHS: &[&str] = &[
    "addstickers",
    "addemoji",
    "proxy",
    "socks",
    "share",
    "login",
    "joinchat",
    "setlanguage",
    "addtheme",
    "invoice",
    "boost",
    "addlist",
];

pub fn parse(input: &str) -> Result<PeerLink, LinkError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(LinkError::Empty);
    }
    if let Some(rest) = strip_prefix_ci(text, "tg://") {
        return parse_tg(text, rest);
    }
    let (had_scheme, rest) =
        match strip_prefix_ci(text, "https://").or_else(|| strip_prefix_ci(text, "http://")) {
            Some(rest) => (true, rest),
            None => (false, text),
        };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if HOSTS.iter().any(|h| host.eq_ignore_ascii_case(h)) {
        return parse_path(text, path);
    }
    if had_scheme || text.contains('/') {
        return Err(LinkError::UnsupportedHost(text.to_owned()));
    }
    if let Some(name) = text.strip_prefix('@') {
        return Ok(plain(PeerRef::Username(username(name)?)));
    }
    if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return match text.parse::<i64>() {
            Ok(id) if id != 0 => Ok(plain(PeerRef::Id(id))),
            _ => Err(LinkError::InvalidId(text.to_owned())),
        };
    }
    Ok(plain(PeerRef::Username(username(text)?)))
}

fn plain(peer: PeerRef) -> PeerLink {
    PeerLink {
        peer,
        message_id: None,
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

fn username(name: &str) -> Result<String, LinkError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_USERNAME
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(name.to_owned())
    } else {
        Err(LinkError::InvalidUsername(name.to_owned()))
    }
}

fn message_id(part: &str) -> Result<i32, LinkError> {
    match part.parse::<i32>() {
        Ok(id) if id > 0 && part.bytes().all(|b| b.is_ascii_digit()) => Ok(id),
        _ => Err(LinkError::InvalidMessageId(part.to_owned())),
    }
}

fn invite(hash: &str) -> Result<PeerRef, LinkError> {
    let valid = !hash.is_empty()
        && hash
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(PeerRef::Invite(hash.to_owned()))
    } else {
        Err(LinkError::InvalidInvite(hash.to_owned()))
    }
}

/// The path of a `t.me` link (after the host), query and fragment ignored.
fn parse_path(text: &str, path: &str) -> Result<PeerLink, LinkError> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [] => Err(LinkError::UnsupportedLink(text.to_owned())),
        [first, ..] if first.starts_with('+') && parts.len() == 1 => {
            Ok(plain(invite(first.trim_start_matches('+'))?))
        }
        ["joinchat", hash] => Ok(plain(invite(hash)?)),
        ["c", id, rest @ ..] => {
            let channel = match id.parse::<i64>() {
                Ok(n) if n > 0 && id.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(LinkError::InvalidId((*id).to_owned())),
            };
            let message_id = match rest {
                [] => None,
                // `c/<id>/<msg>` or, in forum topics, `c/<id>/<topic>/<msg>`.
                [msg] | [_, msg] => Some(message_id(msg)?),
                _ => return Err(LinkError::UnsupportedLink(text.to_owned())),
            };
            Ok(PeerLink {
                peer: PeerRef::Channel(channel),
                message_id,
            })
        }
        ["s", name] => Ok(plain(PeerRef::Username(username(name)?))),
        [name, rest @ ..] => {
            if RESERVED_PATHS.contains(name) {
                return Err(LinkError::UnsupportedLink(text.to_owned()));
            }
            let name = username(name)?;
            let message_id = match rest {
                [] => None,
                [msg] | [_, msg] => Some(message_id(msg)?),
                _ => return Err(LinkError::UnsupportedLink(text.to_owned())),
            };
            Ok(PeerLink {
                peer: PeerRef::Username(name),
                message_id,
            })
        }
    }
}

/// `tg://resolve?domain=name[&post=N]` and `tg://join?invite=hash`.
fn parse_tg(text: &str, rest: &str) -> Result<PeerLink, LinkError> {
    let (action, query) = rest.split_once('?').unwrap_or((rest, ""));
    let param = |key: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    };
    match action.trim_end_matches('/') {
        "resolve" => {
            let domain = param("domain").ok_or_else(|| LinkError::UnsupportedLink(text.into()))?;
            let message_id = param("post").map(message_id).transpose()?;
            Ok(PeerLink {
                peer: PeerRef::Username(username(domain)?),
                message_id,
            })
        }
        "privatepost" => {
            let channel = param("channel")
                .ok_or_else(|| LinkError::UnsupportedLink(text.into()))?
                .parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| LinkError::InvalidId(text.into()))?;
            let message_id = param("post").map(message_id).transpose()?;
            Ok(PeerLink {
                peer: PeerRef::Channel(channel),
                message_id,
            })
        }
        "join" => {
            Ok(plain(invite(param("invite").ok_or_else(|| {
                LinkError::UnsupportedLink(text.into())
            })?)?))
        }
        _ => Err(LinkError::UnsupportedLink(text.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    fn ok(input: &str) -> (PeerRef, Option<i32>) {
        let link = parse(input).unwrap();
        (link.peer, link.message_id)
    }

    fn user(name: &str) -> PeerRef {
        PeerRef::Username(name.to_owned())
    }

    #[test]
    fn usernames() {
        assert_eq!(ok("@durov"), (user("durov"), None));
        assert_eq!(ok("  durov "), (user("durov"), None));
        assert_eq!(ok("https://t.me/durov"), (user("durov"), None));
        assert_eq!(ok("http://T.ME/durov/"), (user("durov"), None));
        assert_eq!(ok("t.me/durov"), (user("durov"), None));
        assert_eq!(ok("telegram.me/durov?start=x"), (user("durov"), None));
        assert_eq!(ok("t.me/s/durov"), (user("durov"), None));
        assert_eq!(ok("tg://resolve?domain=durov"), (user("durov"), None));
    }

    #[test]
    fn message_links() {
        assert_eq!(ok("https://t.me/durov/42"), (user("durov"), Some(42)));
        assert_eq!(ok("t.me/durov/42?single"), (user("durov"), Some(42)));
        assert_eq!(ok("t.me/c/1234/56"), (PeerRef::Channel(1234), Some(56)));
        assert_eq!(ok("t.me/c/1234/7/56"), (PeerRef::Channel(1234), Some(56)));
        assert_eq!(ok("t.me/c/1234"), (PeerRef::Channel(1234), None));
        assert_eq!(
            ok("tg://resolve?domain=durov&post=9"),
            (user("durov"), Some(9))
        );
        assert_eq!(
            ok("tg://privatepost?channel=77&post=3"),
            (PeerRef::Channel(77), Some(3))
        );
    }

    #[test]
    fn ids() {
        assert_eq!(ok("12345"), (PeerRef::Id(12345), None));
        assert_eq!(ok("-4321"), (PeerRef::Id(-4321), None));
        assert_eq!(ok("-1001234"), (PeerRef::Id(-100_1234), None));
        assert_eq!(PeerRef::split_marked(12345), (PeerKind::User, 12345));
        assert_eq!(PeerRef::split_marked(-4321), (PeerKind::Chat, 4321));
        assert_eq!(
            PeerRef::split_marked(-1_000_000_000_501),
            (PeerKind::Channel, 501)
        );
    }

    #[test]
    fn invites() {
        let invite = |h: &str| (PeerRef::Invite(h.to_owned()), None);
        assert_eq!(ok("https://t.me/+AbCd_-9"), invite("AbCd_-9"));
        assert_eq!(ok("t.me/joinchat/AbCdEfGh"), invite("AbCdEfGh"));
        assert_eq!(ok("tg://join?invite=xyz"), invite("xyz"));
    }

    #[test]
    fn errors() {
        assert_eq!(parse("  "), Err(LinkError::Empty));
        assert!(matches!(parse("@"), Err(LinkError::InvalidUsername(_))));
        assert!(matches!(parse("1abc"), Err(LinkError::InvalidId(_))));
        assert!(matches!(parse("0"), Err(LinkError::InvalidId(_))));
        assert!(matches!(parse("a b"), Err(LinkError::InvalidUsername(_))));
        assert!(matches!(
            parse("https://example.com/durov"),
            Err(LinkError::UnsupportedHost(_))
        ));
        assert!(matches!(parse("t.me/"), Err(LinkError::UnsupportedLink(_))));
        assert!(matches!(
            parse("t.me/addstickers/pack"),
            Err(LinkError::UnsupportedLink(_))
        ));
        assert!(matches!(
            parse("t.me/durov/abc"),
            Err(LinkError::InvalidMessageId(_))
        ));
        assert!(matches!(parse("t.me/c/x/1"), Err(LinkError::InvalidId(_))));
        assert!(matches!(parse("t.me/+"), Err(LinkError::InvalidInvite(_))));
        assert!(matches!(
            parse("tg://settings"),
            Err(LinkError::UnsupportedLink(_))
        ));
        assert!(matches!(
            parse(&"a".repeat(33)),
            Err(LinkError::InvalidUsername(_))
        ));
    }

    proptest! {
        #[test]
        fn never_panics(input in ".{0,64}") {
            let _ = parse(&input);
        }

        #[test]
        fn never_panics_on_link_shapes(
            prefix in prop::sample::select(vec!["", "@", "t.me/", "https://t.me/", "tg://resolve?domain=", "t.me/c/", "t.me/+", "-100"]),
            rest in "[a-zA-Z0-9_/+?=&#.-]{0,40}",
        ) {
            let _ = parse(&format!("{prefix}{rest}"));
        }

        #[test]
        // Telegram usernames are 5 to 32 characters, so they never collide with the
        // one-letter `t.me/s/` and `t.me/c/` prefixes; the longer reserved paths are skipped.
        fn valid_usernames_round_trip(name in "[a-zA-Z][a-zA-Z0-9_]{4,31}") {
            prop_assume!(!RESERVED_PATHS.contains(&name.to_ascii_lowercase().as_str()));
            prop_assert_eq!(parse(&format!("@{name}")).unwrap().peer, PeerRef::Username(name.clone()));
            prop_assert_eq!(parse(&format!("https://t.me/{name}/7")).unwrap().message_id, Some(7));
        }
    }
}
