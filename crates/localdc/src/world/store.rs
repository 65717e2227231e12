//! The world indexed for serving: users, chats and files by id, usernames, phones, bot
//! tokens and invite hashes, messages sorted by id. Built once from a [`Fixture`] and
//! checked on the way (unknown references and duplicates are refused).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use mtcrypto::hash::sha256_concat;

use super::fixture::{
    AccountSpec, BotSpec, ChatKind, ChatSpec, Fixture, FloodRule, MediaSpec, MessageSpec, UserSpec,
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
    #[error("no such file: media {media_id} size {thumb:?}")]
    NoSuchFile { media_id: i64, thumb: String },
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
    pub messages: Vec<MessageSpec>,
    pub members: BTreeSet<i64>,
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

impl Paged for MessageSpec {
    fn id(&self) -> i32 {
        self.id
    }
    fn date(&self) -> i32 {
        self.date
    }
}

/// The static world.
#[derive(Debug, Clone, Default)]
pub struct Store {
    pub seed: u64,
    pub users: BTreeMap<i64, UserSpec>,
    pub usernames: HashMap<String, Named>,
    pub accounts: HashMap<String, AccountSpec>,
    pub bots: HashMap<String, BotSpec>,
    /// Home DC of every account and bot user.
    pub home_dc: HashMap<i64, i32>,
    pub chats: BTreeMap<i64, ChatRecord>,
    pub invites: HashMap<String, i64>,
    pub files: HashMap<FileKey, FileInfo>,
    pub flood: Vec<FloodRule>,
    pub qr_auto_accept: Option<i64>,
    pub code_ttl_secs: u32,
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
            flood: fixture.flood,
            qr_auto_accept: fixture.qr_auto_accept,
            code_ttl_secs: fixture.code_ttl_secs.unwrap_or(300),
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
                messages,
                members,
            };
            if store.chats.insert(id, record).is_some() {
                return Err(dup("chat", &id));
            }
        }
        Ok(store)
    }

    fn index_media(&mut self, media: Option<&MediaSpec>) -> Result<(), WorldError> {
        let mut add = |key: FileKey, info: FileInfo| {
            // The same media may be attached to several messages (forwards): same file.
            match self.files.insert(key.clone(), info) {
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
                    },
                )?;
                for thumb in &doc.thumbs {
                    add(
                        FileKey::sized(doc.id, &thumb.kind),
                        FileInfo {
                            size: thumb.size,
                            dc: doc.dc,
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

    /// The chats `user` is a member of, fixture members plus `joined`.
    pub fn is_member(&self, chat: &ChatRecord, user: i64, joined: &BTreeSet<(i64, i64)>) -> bool {
        chat.members.contains(&user) || joined.contains(&(chat.spec.id, user))
    }

    /// The basic group holding message `id` (basic groups share one id space).
    pub fn basic_group_of(&self, id: i32) -> Option<&ChatRecord> {
        self.chats
            .values()
            .filter(|c| !c.is_channel())
            .find(|c| c.message(id).is_some())
    }
}
