//! The world indexed for serving: users, chats and files by id, usernames, phones, bot
//! tokens and invite hashes, messages sorted by id. Built once from a [`Fixture`] and
//! checked on the way (unknown references and duplicates are refused).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use mtcrypto::hash::sha256_concat;

use super::fixture::{
    AccountSpec, BotSpec, ChatKind, ChatSpec, Fixture, FloodRule, MediaSpec, MessageSpec,
    PrivateChatSpec, UserSpec,
};
use super::media::{FileInfo, FileKey};
use super::paging::Paged;

/// Why a fixture cannot become a world.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("the fixture is not valid JSON for localdc: {0}")]
    Json(#[from] serde_json::Error),
    #[error("reading the fixture: {0}")]
    Io(#[from] std::io::Error),
    #[error("{what} {id} is defined twice")]
    Duplicate { what: &'static str, id: String },
    #[error("{what} refers to unknown user {id}")]
    UnknownUser { what: String, id: i64 },
    #[error("basic group {chat}: message id {id} is already used by another basic group")]
    SharedMessageId { chat: i64, id: i32 },
    #[error(
        "private chat of user {user} with {peer}: message id {id} is already used in \
         that user's message box (basic groups and its other private chats)"
    )]
    PrivateMessageId { user: i64, peer: i64, id: i32 },
    #[error("private chat of user {user} with {peer}: message {id} is not from either of them")]
    PrivateSender { user: i64, peer: i64, id: i32 },
    #[error("no such file: media {media_id} size {thumb:?}")]
    NoSuchFile { media_id: i64, thumb: String },
    #[error("timeline: {0}")]
    Timeline(String),
    #[error("range {offset}+{len} is past the end of a file of {size} bytes")]
    OutOfRange { offset: u64, len: usize, size: u64 },
}

/// Someone a username points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    User(i64),
    Chat(i64),
}

/// A chat and its messages, sorted by id.
#[derive(Debug, Clone)]
pub struct ChatRecord {
    /// The chat as the fixture describes it (its `messages` moved to `messages`).
    pub spec: ChatSpec,
    /// Shared between snapshots of the store: a change copies it only while a reader
    /// still holds the previous snapshot.
    pub messages: Arc<Vec<MessageSpec>>,
    pub members: BTreeSet<i64>,
    /// A channel's pts as of this snapshot (its top message id at first; then moved by
    /// every change, see `world::posting`), so that an answer reads messages and pts from
    /// one snapshot. Unused for basic groups.
    pub pts: i32,
}

impl ChatRecord {
    /// Whether it is a channel-type chat (supergroup or broadcast).
    pub fn is_channel(&self) -> bool {
        self.spec.kind != ChatKind::Group
    }

    /// A message by id.
    pub fn message(&self, id: i32) -> Option<&MessageSpec> {
        self.messages
            .binary_search_by_key(&id, |m| m.id)
            .ok()
            .and_then(|i| self.messages.get(i))
    }

    /// The newest message.
    pub fn top(&self) -> Option<&MessageSpec> {
        self.messages.last()
    }

    /// Telegram's marked peer id: chats negative, channels `-(10^12 + id)`; a total order
    /// over peers for global paging.
    pub fn marked_id(&self) -> i64 {
        if self.is_channel() {
            -(1_000_000_000_000 + self.spec.id)
        } else {
            -self.spec.id
        }
    }
}

/// A private chat as its owner sees it, messages sorted by id.
#[derive(Debug, Clone)]
pub struct PrivateRecord {
    /// The viewer whose message box holds it.
    pub owner: i64,
    /// The other side.
    pub peer: i64,
    pub messages: Arc<Vec<MessageSpec>>,
}

/// A message list a user can read: a group, supergroup or channel, or a private chat.
#[derive(Debug, Clone, Copy)]
pub enum Thread<'a> {
    Chat(&'a ChatRecord),
    Private(&'a PrivateRecord),
}

impl<'a> Thread<'a> {
    /// Its messages, oldest first.
    pub fn messages(self) -> &'a [MessageSpec] {
        match self {
            Thread::Chat(c) => &c.messages,
            Thread::Private(p) => &p.messages,
        }
    }

    /// A message by id.
    pub fn message(self, id: i32) -> Option<&'a MessageSpec> {
        let messages = self.messages();
        messages
            .binary_search_by_key(&id, |m| m.id)
            .ok()
            .and_then(|i| messages.get(i))
    }

    /// The newest message.
    pub fn top(self) -> Option<&'a MessageSpec> {
        self.messages().last()
    }

    /// The group or channel, if it is one.
    pub fn chat(self) -> Option<&'a ChatRecord> {
        match self {
            Thread::Chat(c) => Some(c),
            Thread::Private(_) => None,
        }
    }

    /// Telegram's marked peer id (users positive): a total order over peers.
    pub fn marked_id(self) -> i64 {
        match self {
            Thread::Chat(c) => c.marked_id(),
            Thread::Private(p) => p.peer,
        }
    }

    /// When the dialog starts when it has no message.
    pub fn date(self) -> i32 {
        match self {
            Thread::Chat(c) => c.spec.date,
            Thread::Private(_) => 0,
        }
    }
}

impl Paged for MessageSpec {
    fn id(&self) -> i32 {
        self.id
    }
    fn date(&self) -> i32 {
        self.date
    }
}

/// The world's contents: built from the fixture, then changed only through
/// [`super::World`]'s live methods, each change making the next snapshot.
#[derive(Debug, Clone, Default)]
pub struct Store {
    pub seed: u64,
    /// The fixture's quirks seed (see [`crate::quirks`]), for the server to use.
    pub quirks: Option<u64>,
    pub users: BTreeMap<i64, UserSpec>,
    pub usernames: HashMap<String, Named>,
    pub accounts: HashMap<String, AccountSpec>,
    pub bots: HashMap<String, BotSpec>,
    /// Home DC of every account and bot user.
    pub home_dc: HashMap<i64, i32>,
    pub chats: BTreeMap<i64, ChatRecord>,
    /// Private chats by (owner, peer).
    pub privates: BTreeMap<(i64, i64), PrivateRecord>,
    pub invites: HashMap<String, i64>,
    pub files: Arc<HashMap<FileKey, FileInfo>>,
    pub flood: Vec<FloodRule>,
    pub qr_auto_accept: Option<i64>,
    pub code_ttl_secs: u32,
    /// How old a login must be to end another (`account.resetAuthorization`).
    pub fresh_reset_secs: u32,
    pub network_dc: Option<i32>,
    /// Rate limits answering `420 FLOOD_PREMIUM_WAIT_X`.
    pub flood_premium: Vec<FloodRule>,
    /// The code a phone number with no account is sent.
    pub signup_code: String,
    pub revoked_bot_tokens: HashSet<String>,
    /// Registered apps: `api_id` to `api_hash` (empty: every app is good).
    pub apps: HashMap<i32, String>,
    /// What changes about media while serving: file reference generations, deletions, CDN
    /// state, served-bytes accounting (shared, so message conversion sees fresh references).
    pub media: std::sync::Arc<super::live::MediaLive>,
}

fn dup(what: &'static str, id: &dyn std::fmt::Display) -> WorldError {
    WorldError::Duplicate {
        what,
        id: id.to_string(),
    }
}

/// Usernames are case-insensitive.
pub fn username_key(name: &str) -> String {
    name.trim_start_matches('@').to_ascii_lowercase()
}

/// Phones are digits; `+`, spaces and dashes in requests are ignored.
pub fn phone_key(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

impl Store {
    /// Indexes and checks `fixture`.
    pub fn build(fixture: Fixture) -> Result<Self, WorldError> {
        let mut store = Store {
            seed: fixture.seed,
            quirks: fixture.quirks,
            flood: fixture.flood,
            qr_auto_accept: fixture.qr_auto_accept,
            code_ttl_secs: fixture.code_ttl_secs.unwrap_or(300),
            fresh_reset_secs: fixture.fresh_reset_secs.unwrap_or(86_400),
            network_dc: fixture.network_dc,
            flood_premium: fixture.flood_premium,
            signup_code: fixture.signup_code.unwrap_or_else(|| "12345".into()),
            revoked_bot_tokens: fixture.revoked_bot_tokens.into_iter().collect(),
            apps: fixture
                .apps
                .into_iter()
                .map(|app| (app.api_id, app.api_hash))
                .collect(),
            media: std::sync::Arc::new(super::live::MediaLive::new(
                fixture.file_reference_ttl_secs,
            )),
            ..Store::default()
        };
        for user in fixture.users {
            if let Some(name) = &user.username
                && store
                    .usernames
                    .insert(username_key(name), Named::User(user.id))
                    .is_some()
            {
                return Err(dup("username", &name));
            }
            if let Some(old) = store.users.insert(user.id, user) {
                return Err(dup("user", &old.id));
            }
        }
        let known = |users: &BTreeMap<i64, UserSpec>, what: String, id: i64| {
            if users.contains_key(&id) {
                Ok(())
            } else {
                Err(WorldError::UnknownUser { what, id })
            }
        };
        for account in fixture.accounts {
            known(
                &store.users,
                format!("account {}", account.phone),
                account.user_id,
            )?;
            store.home_dc.insert(account.user_id, account.home_dc);
            let key = phone_key(&account.phone);
            if store.accounts.insert(key.clone(), account).is_some() {
                return Err(dup("account", &key));
            }
        }
        for bot in fixture.bots {
            known(&store.users, "a bot token".into(), bot.user_id)?;
            store.home_dc.insert(bot.user_id, bot.home_dc);
            if store.bots.insert(bot.token.clone(), bot).is_some() {
                return Err(dup("bot token", &"(hidden)"));
            }
        }
        let mut basic_ids: HashMap<i32, i64> = HashMap::new();
        for mut spec in fixture.chats {
            let id = spec.id;
            known(&store.users, format!("chat {id} creator"), spec.creator)?;
            let mut members: BTreeSet<i64> = spec.members.iter().copied().collect();
            members.insert(spec.creator);
            for member in &members {
                known(&store.users, format!("chat {id} members"), *member)?;
            }
            let mut messages = std::mem::take(&mut spec.messages);
            messages.sort_by_key(|m| m.id);
            for pair in messages.windows(2) {
                if let [a, b] = pair
                    && a.id == b.id
                {
                    return Err(dup("message", &format!("{id}/{}", a.id)));
                }
            }
            for message in &messages {
                if let Some(from) = message.from {
                    known(&store.users, format!("message {id}/{}", message.id), from)?;
                }
                if spec.kind == ChatKind::Group && basic_ids.insert(message.id, id).is_some() {
                    return Err(WorldError::SharedMessageId {
                        chat: id,
                        id: message.id,
                    });
                }
                store.index_media(message.media.as_ref())?;
            }
            if let Some(name) = &spec.username
                && store
                    .usernames
                    .insert(username_key(name), Named::Chat(id))
                    .is_some()
            {
                return Err(dup("username", &name));
            }
            if let Some(hash) = &spec.invite_hash
                && store.invites.insert(hash.clone(), id).is_some()
            {
                return Err(dup("invite hash", &hash));
            }
            let record = ChatRecord {
                spec,
                pts: messages.last().map_or(1, |m| m.id.max(1)),
                messages: Arc::new(messages),
                members,
            };
            if store.chats.insert(id, record).is_some() {
                return Err(dup("chat", &id));
            }
        }
        for spec in fixture.private_chats {
            store.add_private(spec, &basic_ids)?;
        }
        Ok(store)
    }

    /// Indexes a private chat: both sides known, every message from one of them, ids free
    /// in the owner's message box.
    fn add_private(
        &mut self,
        spec: PrivateChatSpec,
        basic_ids: &HashMap<i32, i64>,
    ) -> Result<(), WorldError> {
        let PrivateChatSpec {
            user,
            peer,
            mut messages,
        } = spec;
        for id in [user, peer] {
            if !self.users.contains_key(&id) {
                return Err(WorldError::UnknownUser {
                    what: format!("private chat of {user} with {peer}"),
                    id,
                });
            }
        }
        messages.sort_by_key(|m| m.id);
        let taken: BTreeSet<i32> = self
            .privates_of(user)
            .flat_map(|p| p.messages.iter().map(|m| m.id))
            .collect();
        let mut previous = None;
        for message in &messages {
            let id = message.id;
            if previous == Some(id) || taken.contains(&id) || basic_ids.contains_key(&id) {
                return Err(WorldError::PrivateMessageId { user, peer, id });
            }
            previous = Some(id);
            if message.from != Some(user) && message.from != Some(peer) {
                return Err(WorldError::PrivateSender { user, peer, id });
            }
            if let Some(fwd) = message.fwd_from.as_ref().and_then(|f| f.from_user)
                && !self.users.contains_key(&fwd)
            {
                return Err(WorldError::UnknownUser {
                    what: format!("message {user}/{peer}/{id}"),
                    id: fwd,
                });
            }
            self.index_media(message.media.as_ref())?;
        }
        let record = PrivateRecord {
            owner: user,
            peer,
            messages: Arc::new(messages),
        };
        if self.privates.insert((user, peer), record).is_some() {
            return Err(dup("private chat", &format!("{user}/{peer}")));
        }
        Ok(())
    }

    /// The private chats `owner` sees.
    pub fn privates_of(&self, owner: i64) -> impl Iterator<Item = &PrivateRecord> {
        self.privates
            .range((owner, i64::MIN)..=(owner, i64::MAX))
            .map(|(_, p)| p)
    }

    /// Indexes the files of `media` (a message's, from the fixture or posted live).
    pub(super) fn index_media(&mut self, media: Option<&MediaSpec>) -> Result<(), WorldError> {
        let files = Arc::make_mut(&mut self.files);
        let mut add = |key: FileKey, info: FileInfo| {
            // The same media may be attached to several messages (forwards): same file.
            match files.insert(key.clone(), info) {
                Some(old) if old != info => Err(dup("media", &key.media_id)),
                _ => Ok(()),
            }
        };
        match media {
            None => Ok(()),
            Some(MediaSpec::Photo(photo)) => {
                for size in &photo.sizes {
                    add(
                        FileKey::sized(photo.id, &size.kind),
                        FileInfo {
                            size: size.size,
                            dc: photo.dc,
                            cdn: false,
                        },
                    )?;
                }
                Ok(())
            }
            Some(MediaSpec::Document(doc)) => {
                add(
                    FileKey::document(doc.id),
                    FileInfo {
                        size: doc.size,
                        dc: doc.dc,
                        cdn: doc.cdn,
                    },
                )?;
                for thumb in &doc.thumbs {
                    add(
                        FileKey::sized(doc.id, &thumb.kind),
                        FileInfo {
                            size: thumb.size,
                            dc: doc.dc,
                            cdn: false,
                        },
                    )?;
                }
                Ok(())
            }
        }
    }

    /// A deterministic 64-bit value for (`kind`, `id`): access hashes, file references.
    pub fn derive(&self, kind: &str, id: i64) -> i64 {
        let digest = sha256_concat(&[
            b"localdc derive",
            kind.as_bytes(),
            &self.seed.to_le_bytes(),
            &id.to_le_bytes(),
        ]);
        let mut first = [0u8; 8];
        first.copy_from_slice(digest.first_chunk::<8>().unwrap_or(&[0; 8]));
        i64::from_le_bytes(first)
    }

    /// The access hash of user `id`.
    pub fn user_hash(&self, id: i64) -> i64 {
        self.derive("user", id)
    }

    /// The access hash of channel `id`.
    pub fn channel_hash(&self, id: i64) -> i64 {
        self.derive("channel", id)
    }

    /// The basic group holding message `id` (basic groups share one id space).
    pub fn basic_group_of(&self, id: i32) -> Option<&ChatRecord> {
        self.chats
            .values()
            .filter(|c| !c.is_channel())
            .find(|c| c.message(id).is_some())
    }
}
