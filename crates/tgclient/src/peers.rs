//! Resolving parsed references ([`crate::links`]) to input peers, and caching the access
//! hashes every answer carries.

use tl_types::api::{enums, functions, types};

use crate::client::Client;
use crate::error::ClientError;
use crate::links::{self, LinkError, PeerLink, PeerRef};
use crate::store::{PeerKind, PeerRecord};

/// Why a reference could not be resolved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The reference did not parse.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// No such username.
    #[error("no chat or user is called @{0}")]
    UnknownUsername(String),
    /// A numeric id the session has not seen (its access hash is unknown): resolve it
    /// once by username or link, or open a chat that mentions it.
    #[error("{kind:?} {id} is not known to this session; use its username or a link first")]
    UnknownId {
        /// The kind looked up.
        kind: PeerKind,
        /// The bare id.
        id: i64,
    },
    /// The invite link is invalid or expired.
    #[error("the invite link {0:?} is invalid or expired")]
    InvalidInvite(String),
    /// The invite link is valid but the account is not a member of its chat.
    #[error("not a member of {title:?}; join it through the invite link first")]
    NotJoined {
        /// The chat's title.
        title: String,
    },
    /// The request failed.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// A resolved reference.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedLink {
    /// The peer, ready for requests.
    pub peer: enums::InputPeer,
    /// The message the reference pointed at, if any.
    pub message_id: Option<i32>,
}

/// The cache records of users and chats from an answer. `min` constructors carry no usable
/// access hash, so theirs is left out (the cache keeps a known one).
pub(crate) fn peer_records(users: &[enums::User], chats: &[enums::Chat]) -> Vec<PeerRecord> {
    let users = users.iter().filter_map(|user| match user {
        enums::User::User(u) => Some(PeerRecord {
            kind: PeerKind::User,
            id: u.id,
            access_hash: u.access_hash.filter(|_| !u.min),
            username: u.username.clone(),
        }),
        enums::User::Empty(_) => None,
    });
    let chats = chats.iter().filter_map(|chat| match chat {
        enums::Chat::Chat(c) => Some(PeerRecord {
            kind: PeerKind::Chat,
            id: c.id,
            access_hash: None,
            username: None,
        }),
        enums::Chat::Forbidden(c) => Some(PeerRecord {
            kind: PeerKind::Chat,
            id: c.id,
            access_hash: None,
            username: None,
        }),
        enums::Chat::Channel(c) => Some(PeerRecord {
            kind: PeerKind::Channel,
            id: c.id,
            access_hash: c.access_hash.filter(|_| !c.min),
            username: c.username.clone(),
        }),
        enums::Chat::ChannelForbidden(c) => Some(PeerRecord {
            kind: PeerKind::Channel,
            id: c.id,
            access_hash: Some(c.access_hash),
            username: None,
        }),
        _ => None,
    });
    users.chain(chats).collect()
}

/// The input peer of a cached record (`None` when a needed access hash is missing).
pub(crate) fn input_peer(record: &PeerRecord) -> Option<enums::InputPeer> {
    Some(match record.kind {
        PeerKind::User => types::InputPeerUser {
            user_id: record.id,
            access_hash: record.access_hash?,
        }
        .into(),
        PeerKind::Chat => types::InputPeerChat { chat_id: record.id }.into(),
        PeerKind::Channel => types::InputPeerChannel {
            channel_id: record.id,
            access_hash: record.access_hash?,
        }
        .into(),
    })
}

/// The kind and id a `Peer` names.
pub(crate) fn peer_key(peer: &enums::Peer) -> (PeerKind, i64) {
    match peer {
        enums::Peer::User(p) => (PeerKind::User, p.user_id),
        enums::Peer::Chat(p) => (PeerKind::Chat, p.chat_id),
        enums::Peer::Channel(p) => (PeerKind::Channel, p.channel_id),
    }
}

impl Client {
    /// Caches the users and chats of an answer (ids, access hashes, usernames).
    pub fn cache_peers(
        &self,
        users: &[enums::User],
        chats: &[enums::Chat],
    ) -> Result<(), ClientError> {
        let records = peer_records(users, chats);
        if !records.is_empty() {
            self.with_store(|s| s.upsert_peers(&records))?;
        }
        Ok(())
    }

    /// The input peer of a cached peer, if the session knows its access hash.
    pub fn cached_input_peer(
        &self,
        kind: PeerKind,
        id: i64,
    ) -> Result<Option<enums::InputPeer>, ClientError> {
        let record = self.with_store(|s| s.peer(kind, id))?;
        Ok(record.as_ref().and_then(input_peer))
    }

    /// Parses and resolves what a user typed ([`links::parse`]).
    pub async fn resolve_str(&self, input: &str) -> Result<ResolvedLink, ResolveError> {
        self.resolve(&links::parse(input)?).await
    }

    /// Resolves a parsed reference: usernames from the cache or `contacts.resolveUsername`,
    /// numeric ids from the cache, invite links through `messages.checkChatInvite`.
    pub async fn resolve(&self, link: &PeerLink) -> Result<ResolvedLink, ResolveError> {
        let peer = self.resolve_peer(&link.peer).await?;
        Ok(ResolvedLink {
            peer,
            message_id: link.message_id,
        })
    }

    /// Resolves a peer reference to an input peer.
    pub async fn resolve_peer(&self, peer: &PeerRef) -> Result<enums::InputPeer, ResolveError> {
        match peer {
            PeerRef::Username(name) => self.resolve_username(name).await,
            PeerRef::Id(marked) => {
                let (kind, id) = PeerRef::split_marked(*marked);
                self.cached_or_unknown(kind, id)
            }
            PeerRef::Channel(id) => self.cached_or_unknown(PeerKind::Channel, *id),
            PeerRef::Invite(hash) => self.resolve_invite(hash).await,
        }
    }

    fn cached_or_unknown(&self, kind: PeerKind, id: i64) -> Result<enums::InputPeer, ResolveError> {
        if let Some(self_user) = self.self_user()?
            && kind == PeerKind::User
            && self_user.id == id
        {
            return Ok(enums::InputPeer::InputPeerSelf);
        }
        self.cached_input_peer(kind, id)?
            .ok_or(ResolveError::UnknownId { kind, id })
    }

    async fn resolve_username(&self, name: &str) -> Result<enums::InputPeer, ResolveError> {
        if let Some(peer) = self
            .with_store(|s| s.peer_by_username(name))
            .map_err(ClientError::from)?
            .as_ref()
            .and_then(input_peer)
        {
            return Ok(peer);
        }
        let request = functions::contacts::ResolveUsername {
            username: name.to_owned(),
            referer: None,
        };
        let enums::contacts::ResolvedPeer::ResolvedPeer(resolved) =
            match self.invoke(&request).await {
                Ok(resolved) => resolved,
                Err(error)
                    if error.rpc().is_some_and(|e| {
                        e.message == "USERNAME_NOT_OCCUPIED" || e.message == "USERNAME_INVALID"
                    }) =>
                {
                    return Err(ResolveError::UnknownUsername(name.to_owned()));
                }
                Err(error) => return Err(error.into()),
            };
        self.cache_peers(&resolved.users, &resolved.chats)?;
        let (kind, id) = peer_key(&resolved.peer);
        self.cached_or_unknown(kind, id)
    }

    async fn resolve_invite(&self, hash: &str) -> Result<enums::InputPeer, ResolveError> {
        let request = functions::messages::CheckChatInvite {
            hash: hash.to_owned(),
        };
        let invite = match self.invoke(&request).await {
            Ok(invite) => invite,
            Err(error)
                if error
                    .rpc()
                    .is_some_and(|e| e.message.starts_with("INVITE_HASH")) =>
            {
                return Err(ResolveError::InvalidInvite(hash.to_owned()));
            }
            Err(error) => return Err(error.into()),
        };
        let chat = match invite {
            enums::ChatInvite::Already(already) => already.chat,
            enums::ChatInvite::Peek(peek) => peek.chat,
            enums::ChatInvite::ChatInvite(invite) => {
                return Err(ResolveError::NotJoined {
                    title: invite.title,
                });
            }
        };
        let records = peer_records(&[], std::slice::from_ref(&chat));
        self.with_store(|s| s.upsert_peers(&records))
            .map_err(ClientError::from)?;
        let record = records
            .first()
            .ok_or_else(|| ResolveError::InvalidInvite(hash.to_owned()))?;
        self.cached_or_unknown(record.kind, record.id)
    }
}
