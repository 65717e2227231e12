//! The fixture: the scripted world as a JSON document.
//!
//! Everything a world holds is listed here; [`World`](super::World) indexes it. Ids are
//! the fixture's own (user ids, chat ids, message ids, media ids); access hashes and file
//! references are derived from the seed, so the file stays short. Example (all keys but
//! `users`/`accounts`/`chats` may be left out):
//!
//! ```json
//! {
//!   "seed": 7,
//!   "users": [
//!     { "id": 1001, "first_name": "Alice", "username": "alice", "phone": "15550001" },
//!     { "id": 2001, "first_name": "Demo Bot", "username": "demo_bot", "bot": true }
//!   ],
//!   "accounts": [
//!     { "phone": "15550001", "user_id": 1001, "code": "12345", "home_dc": 2,
//!       "password": "hunter2", "hint": "the usual" }
//!   ],
//!   "bots": [ { "token": "2001:demo-token", "user_id": 2001, "home_dc": 2 } ],
//!   "chats": [
//!     { "id": 501, "kind": "channel", "title": "News", "username": "news",
//!       "creator": 1001, "members": [1001], "date": 1700000000,
//!       "messages": [
//!         { "id": 1, "date": 1700000100, "text": "hello" },
//!         { "id": 2, "date": 1700000200, "text": "a photo", "grouped_id": 9,
//!           "media": { "type": "photo", "id": 77, "dc": 4,
//!                      "sizes": [ { "type": "m", "w": 320, "h": 240, "size": 20000 } ] } },
//!         { "id": 3, "date": 1700000300, "reply_to": 1, "edit_date": 1700000400,
//!           "media": { "type": "document", "id": 78, "dc": 2, "size": 10485760,
//!                      "mime_type": "video/mp4",
//!                      "attributes": [ { "type": "video", "duration": 12.5, "w": 1280, "h": 720 },
//!                                      { "type": "file_name", "file_name": "clip.mp4" } ] } }
//!       ] }
//!   ],
//!   "private_chats": [
//!     { "user": 1001, "peer": 2001, "messages": [
//!         { "id": 1, "date": 1700000500, "from": 2001, "text": "hi Alice" },
//!         { "id": 2, "date": 1700000600, "from": 1001, "text": "hi bot" } ] }
//!   ],
//!   "network_dc": 1,
//!   "flood": [ { "method": "messages.getHistory", "max_calls": 30, "per_seconds": 10 } ]
//! }
//! ```
//!
//! `kind` is `group` (basic group), `supergroup` or `channel` (broadcast). Basic-group
//! message ids share one id space across all basic groups (as Telegram's per-account
//! message box does), so they must be unique among basic groups; channel and supergroup
//! ids are per chat. A public chat has a `username`, a private one an `invite_hash`.
//!
//! `timeline` lists changes the server makes while it runs, each `after_ms` from its start,
//! in a `chat` or a `private` chat (`{"user": .., "peer": ..}`): a `post` (`text`, `from`,
//! `reply_to`, `grouped_id`, `media`: `{"type": "photo", "size": N}` or
//! `{"type": "document", "size": N, "file_name": .., "mime_type": ..}`), an `edit` (`id`,
//! new `text` and/or `media`) or a `delete` (ids). `updates` sets the limits of
//! `updates.getDifference`/`getChannelDifference` ([`UpdateLimits`]).
//!
//! `private_chats` are 1:1 conversations as `user` sees them (a `peerUser` dialog with
//! `peer`): every message is `from` one of the two. Their ids are in `user`'s own message
//! box, as Telegram numbers non-channel messages per account, so they must not collide
//! with basic-group ids nor with `user`'s other private chats; the same conversation seen
//! by `peer` is another entry with `peer`'s ids. `network_dc` makes the login methods
//! sent before login to any other DC answer `303 NETWORK_MIGRATE_X`.

use serde::{Deserialize, Serialize};

/// The whole world.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// Keys access hashes, file references and the media byte streams.
    #[serde(default)]
    pub seed: u64,
    /// With a value, the server follows every reading of the spec the docs allow, one per
    /// session, picked by this seed (see localdc's `QUIRKS.md`); `--quirks` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quirks: Option<u64>,
    /// Every user, including the accounts' and bots' own.
    #[serde(default)]
    pub users: Vec<UserSpec>,
    /// Users that can log in with a phone number.
    #[serde(default)]
    pub accounts: Vec<AccountSpec>,
    /// Users that can log in with a bot token.
    #[serde(default)]
    pub bots: Vec<BotSpec>,
    /// Groups, supergroups and channels, with their messages.
    #[serde(default)]
    pub chats: Vec<ChatSpec>,
    /// Rate limits answering `FLOOD_WAIT_X`.
    #[serde(default)]
    pub flood: Vec<FloodRule>,
    /// QR login: when set, every login token is accepted by this user as soon as it is
    /// exported (a scripted "second device").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_auto_accept: Option<i64>,
    /// How long a login code stays valid, in seconds (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_ttl_secs: Option<u32>,
    /// How old, in seconds, a login must be before it may end another with
    /// `account.resetAuthorization` (Telegram: a day, `406
    /// FRESH_RESET_AUTHORISATION_FORBIDDEN` before; default 86400, 0 allows it at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh_reset_secs: Option<u32>,
    /// One-to-one conversations between an account and another user.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub private_chats: Vec<PrivateChatSpec>,
    /// The DC nearest the clients' network: before login, `auth.sendCode`,
    /// `auth.exportLoginToken` and `auth.importBotAuthorization` sent to a DC that is
    /// neither it nor the account's home answer `303 NETWORK_MIGRATE_X`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_dc: Option<i32>,
    /// File references expire after this many seconds (`400 FILE_REFERENCE_EXPIRED`; a
    /// message read again carries a fresh one). Never, when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_reference_ttl_secs: Option<u32>,
    /// Rate limits answering `420 FLOOD_PREMIUM_WAIT_X` (Telegram's download speed limit
    /// for accounts without Premium) instead of `FLOOD_WAIT_X`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flood_premium: Vec<FloodRule>,
    /// The code `auth.signIn` accepts for a phone number with no account, before it answers
    /// `auth.authorizationSignUpRequired` (default `12345`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signup_code: Option<String>,
    /// Bot tokens revoked in @BotFather: logging in with one answers `ACCESS_TOKEN_EXPIRED`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked_bot_tokens: Vec<String>,
    /// The registered apps. When any are listed, `auth.sendCode`,
    /// `auth.importBotAuthorization` and `auth.exportLoginToken` with another
    /// `api_id`/`api_hash` pair answer `API_ID_INVALID`; when none are, every pair is good.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<AppSpec>,
    /// How `updates.getDifference` and `updates.getChannelDifference` answer (defaults:
    /// [`UpdateLimits::default`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates: Option<UpdateLimits>,
    /// Changes the server makes while it runs, each at an offset from its start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<TimelineEntry>,
}

/// The limits of the update boxes (see `world::pts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpdateLimits {
    /// `updates.getChannelDifference` answers `channelDifferenceTooLong` when more than this
    /// many pts are owed. Telegram's own threshold is undocumented ("usually
    /// latestPts - 100000" for the events it keeps); tests set it low.
    pub channel_too_long: u32,
    /// `updates.getDifference` answers at most this many events per call
    /// (`differenceSlice` with an `intermediate_state` past it).
    pub difference_slice: u32,
    /// `updates.getDifference` answers `differenceTooLong` when more than this many pts
    /// are owed (or the client's `pts_total_limit`, when it is lower).
    pub difference_too_long: u32,
    /// Events each box keeps; a client behind the oldest is answered "too long".
    pub keep: u32,
    /// The `timeout` (seconds) of channel differences: when to ask again.
    pub channel_timeout: i32,
}

impl Default for UpdateLimits {
    fn default() -> Self {
        Self {
            channel_too_long: 100_000,
            difference_slice: 1000,
            difference_too_long: 100_000,
            keep: 100_000,
            channel_timeout: 30,
        }
    }
}

/// One change in the fixture's timeline: after `after_ms` from the server's start, in
/// `chat` (a group, supergroup or channel) or in the private chat `private`, one of
/// `post`, `edit` or `delete`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineEntry {
    pub after_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private: Option<PrivateRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post: Option<PostSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit: Option<EditSpec>,
    /// Message ids to delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<Vec<i32>>,
}

/// A private chat as `user` sees it (with `peer`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateRef {
    pub user: i64,
    pub peer: i64,
}

/// A message posted while serving; its id and date are the server's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostSpec {
    /// The sender: by default none in a broadcast channel, the creator in a group, the
    /// peer in a private chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grouped_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<NewMedia>,
}

/// An edit of message `id`: new text, new media, or both (`edit_date` is set).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditSpec {
    pub id: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<NewMedia>,
}

/// Media made for a post or an edit: a new photo or document with a fresh id, its bytes
/// derived from the seed like every file of the world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum NewMedia {
    /// A photo whose largest size (`y`) is `size` bytes, with a small `m` size.
    Photo {
        size: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dc: Option<i32>,
    },
    /// A document of `size` bytes.
    Document {
        size: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dc: Option<i32>,
    },
}

/// An app registered at my.telegram.org.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    pub api_id: i32,
    pub api_hash: String,
}

/// A private (1:1) chat as `user` sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateChatSpec {
    /// Whose dialog it is (the viewer: `out` marks this user's messages).
    pub user: i64,
    /// The other side (may be `user` itself: Saved Messages).
    pub peer: i64,
    /// In any order; every `from` is `user` or `peer`; ids in `user`'s message box.
    #[serde(default)]
    pub messages: Vec<MessageSpec>,
}

/// A user.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub id: i64,
    pub first_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bot: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
}

/// A phone login.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    /// Digits only (a leading `+` and spaces in requests are ignored).
    pub phone: String,
    pub user_id: i64,
    /// The login code `auth.signIn` accepts.
    pub code: String,
    /// The DC that holds the account; other DCs answer `PHONE_MIGRATE_X`/`USER_MIGRATE_X`.
    pub home_dc: i32,
    /// The 2FA password, when the account has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// A bot token login.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotSpec {
    pub token: String,
    pub user_id: i64,
    pub home_dc: i32,
}

/// What a chat is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatKind {
    /// A basic group (`chat`).
    #[default]
    Group,
    /// A megagroup (`channel` with `megagroup`).
    Supergroup,
    /// A broadcast channel.
    Channel,
}

/// A group, supergroup or channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatSpec {
    pub id: i64,
    pub kind: ChatKind,
    pub title: String,
    /// Public chats have one (`contacts.resolveUsername`, readable without joining).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Private chats can have one (`t.me/+HASH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
    pub creator: i64,
    /// Users in the chat (the creator is always one).
    #[serde(default)]
    pub members: Vec<i64>,
    pub date: i32,
    /// In any order; served by id.
    #[serde(default)]
    pub messages: Vec<MessageSpec>,
}

/// One message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSpec {
    pub id: i32,
    pub date: i32,
    /// The sender; none for a channel post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fwd_from: Option<FwdSpec>,
    /// Messages of one album share it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grouped_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit_date: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaSpec>,
}

/// Where a forwarded message came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FwdSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_user: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_name: Option<String>,
    pub date: i32,
}

/// A message's media.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MediaSpec {
    Photo(PhotoSpec),
    Document(DocumentSpec),
}

/// A photo: one file per size.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhotoSpec {
    pub id: i64,
    /// The DC storing its files.
    pub dc: i32,
    pub sizes: Vec<SizeSpec>,
}

/// One size of a photo, or a document thumbnail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeSpec {
    /// Telegram's size letter: `s`, `m`, `x`, `y`, `w`...
    #[serde(rename = "type")]
    pub kind: String,
    pub w: i32,
    pub h: i32,
    pub size: u64,
}

/// A document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentSpec {
    pub id: i64,
    /// The DC storing its file.
    pub dc: i32,
    pub size: u64,
    pub mime_type: String,
    #[serde(default)]
    pub attributes: Vec<AttributeSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thumbs: Vec<SizeSpec>,
    /// Served through the server's CDN DC to clients that set `cdn_supported`
    /// (`upload.fileCdnRedirect`); needs a server started with a CDN DC.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cdn: bool,
}

/// A document attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AttributeSpec {
    FileName {
        file_name: String,
    },
    Video {
        duration: f64,
        w: i32,
        h: i32,
        #[serde(default)]
        round: bool,
        #[serde(default)]
        supports_streaming: bool,
    },
    Audio {
        duration: i32,
        #[serde(default)]
        voice: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        performer: Option<String>,
    },
    Sticker {
        alt: String,
    },
    Animated,
    ImageSize {
        w: i32,
        h: i32,
    },
}

/// A rate limit: at most `max_calls` calls of `method` per `per_seconds`, counted per
/// account (or per auth key before login); past it `420 FLOOD_WAIT_X` with X the seconds
/// until a call is allowed again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloodRule {
    /// The TL name, e.g. `messages.getHistory`; `*` for every world method.
    pub method: String,
    pub max_calls: u32,
    pub per_seconds: u32,
    /// Limits to this account (user id) only; every account when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
}

impl Fixture {
    /// Parses a JSON fixture.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The fixture as pretty JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_fixture_parses() {
        let text = include_str!("../../fixtures/demo.json");
        let fixture = Fixture::from_json(text).unwrap();
        assert!(!fixture.accounts.is_empty());
        let again = Fixture::from_json(&fixture.to_json().unwrap()).unwrap();
        assert_eq!(fixture, again);
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(Fixture::from_json(r#"{"users": [], "bogus": 1}"#).is_err());
    }
}
