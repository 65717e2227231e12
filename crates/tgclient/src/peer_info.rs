//! Names and kinds of peers the session has cached (`users.getUsers`,
//! `channels.getChannels`, `messages.getChats`), for writers that show who wrote what
//! (the Telegram Desktop export). The history answers carry the same objects, but the
//! listing keeps only their ids and access hashes.

use std::collections::HashMap;

use tl_types::api::{enums, functions, types};

use crate::Client;
use crate::error::ClientError;
use crate::store::PeerKind;

/// The most ids one request names: Telegram's own page size.
const BATCH: usize = 100;

/// What a peer is called and what it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerInfo {
    /// A user's first and last name, or a chat's title; empty for a deleted account.
    pub name: String,
    /// The public username, without `@`.
    pub username: Option<String>,
    /// A user that is a bot.
    pub bot: bool,
    /// A broadcast channel (not a supergroup).
    pub broadcast: bool,
    /// A channel or supergroup with a public username.
    pub public: bool,
}

impl Client {
    /// The names and kinds of `peers` the server tells. Peers whose access hash the
    /// session does not know are left out, as are basic groups when the server does not
    /// answer `messages.getChats`.
    pub async fn peer_info(
        &self,
        peers: &[(PeerKind, i64)],
    ) -> Result<HashMap<(PeerKind, i64), PeerInfo>, ClientError> {
        let mut found = HashMap::new();
        let self_id = self.self_user()?.map(|user| user.id);
        let mut users = Vec::new();
        let mut channels = Vec::new();
        let mut chats = Vec::new();
        for &(kind, id) in peers {
            let record = self.with_store(|s| s.peer(kind, id))?;
            let access_hash = record.and_then(|r| r.access_hash);
            match kind {
                PeerKind::User if self_id == Some(id) => {
                    users.push(enums::InputUser::InputUserSelf);
                }
                PeerKind::User => {
                    if let Some(access_hash) = access_hash {
                        users.push(enums::InputUser::InputUser(Box::new(types::InputUser {
                            user_id: id,
                            access_hash,
                        })));
                    }
                }
                PeerKind::Channel => {
                    if let Some(access_hash) = access_hash {
                        channels.push(enums::InputChannel::InputChannel(Box::new(
                            types::InputChannel {
                                channel_id: id,
                                access_hash,
                            },
                        )));
                    }
                }
                PeerKind::Chat => chats.push(id),
            }
        }
        for batch in users.chunks(BATCH) {
            let request = functions::users::GetUsers { id: batch.to_vec() };
            for user in self.invoke(&request).await? {
                if let enums::User::User(user) = user {
                    found.insert((PeerKind::User, user.id), user_info(&user));
                }
            }
        }
        for batch in channels.chunks(BATCH) {
            let request = functions::channels::GetChannels { id: batch.to_vec() };
            insert_chats(&mut found, self.invoke(&request).await?);
        }
        for batch in chats.chunks(BATCH) {
            let request = functions::messages::GetChats { id: batch.to_vec() };
            match self.invoke(&request).await {
                Ok(answer) => insert_chats(&mut found, answer),
                // A name is a nicety: a server without the method leaves it unknown.
                Err(error) if error.rpc().is_some() => {
                    tracing::debug!(%error, "messages.getChats failed; group names unknown");
                }
                Err(error) => return Err(error),
            }
        }
        Ok(found)
    }
}

fn user_info(user: &types::User) -> PeerInfo {
    let name = [user.first_name.as_deref(), user.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    PeerInfo {
        name,
        username: user.username.clone(),
        bot: user.bot,
        ..PeerInfo::default()
    }
}

fn insert_chats(found: &mut HashMap<(PeerKind, i64), PeerInfo>, answer: enums::messages::Chats) {
    let chats = match answer {
        enums::messages::Chats::Chats(c) => c.chats,
        enums::messages::Chats::Slice(c) => c.chats,
    };
    for chat in chats {
        match chat {
            enums::Chat::Chat(c) => {
                found.insert(
                    (PeerKind::Chat, c.id),
                    PeerInfo {
                        name: c.title,
                        ..PeerInfo::default()
                    },
                );
            }
            enums::Chat::Channel(c) => {
                let public = c.username.is_some()
                    || c.usernames.as_ref().is_some_and(|names| !names.is_empty());
                found.insert(
                    (PeerKind::Channel, c.id),
                    PeerInfo {
                        name: c.title,
                        username: c.username,
                        broadcast: c.broadcast,
                        public,
                        ..PeerInfo::default()
                    },
                );
            }
            _ => {}
        }
    }
}
