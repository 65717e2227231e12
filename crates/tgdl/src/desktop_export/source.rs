//! `tgdl download --from-export FILE`: the chats of parsed exports resolved to peers the
//! account can see, and the messages they list fetched by id (100 per request) and planned
//! like any listing, with the run's filters.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use tgclient::{Client, PeerKind};
use tl_types::api::enums;

use super::model::{Export, ExportChat, PeerCandidates, marked_id};
use crate::commands::download::Plan;
use crate::commands::resolve_chat;
use crate::filters::Filters;
use crate::{dialogs, errors, output};

/// The most ids `messages.getMessages` and `channels.getMessages` take at once.
const BATCH: usize = 100;

/// Plans the files of every message `exports` list (each parsed from the file beside it).
pub async fn plan_exports(
    plan: &mut Plan,
    client: &Client,
    exports: &[(PathBuf, Export)],
    filters: &Filters,
) -> Result<()> {
    for (file, export) in exports {
        for chat in &export.chats {
            if plan.is_full() {
                return Ok(());
            }
            let place = format!("{}: {}", file.display(), chat.describe());
            let peer = resolve(client, chat)
                .await
                .with_context(|| format!("{place}: this account cannot open the chat"))?;
            add_chat(plan, client, &peer, chat, filters)
                .await
                .with_context(|| format!("{place}: cannot read its messages"))?;
            if chat.migrated_skipped > 0 {
                output::note(format_args!(
                    "{place}: {} messages from the group before it became a supergroup are skipped",
                    chat.migrated_skipped
                ));
            }
        }
    }
    Ok(())
}

/// Fetches the listed messages that may carry a file and plans them.
async fn add_chat(
    plan: &mut Plan,
    client: &Client,
    peer: &enums::InputPeer,
    chat: &ExportChat,
    filters: &Filters,
) -> Result<()> {
    let ids: Vec<i32> = chat
        .messages
        .iter()
        .filter(|m| m.has_media)
        .map(|m| m.id)
        .collect();
    let mut missing = 0usize;
    for batch in ids.chunks(BATCH) {
        let found = fetch_batch(client, peer, batch).await?;
        missing += batch.len().saturating_sub(found.len());
        if !found
            .iter()
            .all(|message| plan.take(client, message, peer, "", filters))
        {
            break;
        }
    }
    if missing > 0 {
        output::note(format_args!(
            "{}: {missing} of the {} listed messages with media no longer exist in the chat",
            chat.describe(),
            ids.len()
        ));
    }
    Ok(())
}

/// Messages `ids` of the chat `peer`, fetched 100 per request; those deleted, or not of
/// this chat, are left out.
pub async fn fetch_by_id(
    client: &Client,
    peer: &enums::InputPeer,
    ids: &[i32],
) -> Result<Vec<enums::Message>> {
    let mut found = Vec::with_capacity(ids.len());
    for batch in ids.chunks(BATCH) {
        found.extend(fetch_batch(client, peer, batch).await?);
    }
    Ok(found)
}

/// One request's worth (at most [`BATCH`] ids) of [`fetch_by_id`].
async fn fetch_batch(
    client: &Client,
    peer: &enums::InputPeer,
    ids: &[i32],
) -> Result<Vec<enums::Message>> {
    let expected = expected_chat(client, peer)?;
    let messages = client
        .messages_by_id(peer, ids)
        .await
        .map_err(errors::client_error)?;
    // Outside channels message ids are the account's own, across all its chats: an id
    // may name a message of another chat (an export made by another account).
    Ok(messages
        .into_iter()
        .filter(|m| message_chat(m).is_some_and(|chat| expected.is_none_or(|e| e == chat)))
        .collect())
}

/// The Bot API id of the chat `peer` is, when its messages must be checked against it
/// (channels number their messages themselves, so theirs need no check).
fn expected_chat(client: &Client, peer: &enums::InputPeer) -> Result<Option<i64>> {
    Ok(match peer {
        enums::InputPeer::User(u) => Some(u.user_id),
        enums::InputPeer::Chat(c) => Some(-c.chat_id),
        enums::InputPeer::InputPeerSelf => client
            .self_user()
            .map_err(errors::client_error)?
            .map(|user| user.id),
        _ => None,
    })
}

/// The Bot API id of the chat a message is in; none for an empty (deleted) one.
fn message_chat(message: &enums::Message) -> Option<i64> {
    match message {
        enums::Message::Message(m) => Some(output::marked_id(&m.peer_id)),
        enums::Message::Service(m) => Some(output::marked_id(&m.peer_id)),
        enums::Message::Empty(_) => None,
    }
}

/// The peer an export chat names, from the session's cache (after listing the account's
/// chats once if the id is not cached).
async fn resolve(client: &Client, chat: &ExportChat) -> Result<enums::InputPeer> {
    match chat.candidates() {
        PeerCandidates::Known(kind, bare) => {
            resolve_chat(client, &marked_id(kind, bare).to_string()).await
        }
        PeerCandidates::Guess(id) if id < 0 => resolve_chat(client, &id.to_string()).await,
        PeerCandidates::Guess(bare) => {
            if let Some(peer) = cached_any(client, bare)? {
                return Ok(peer);
            }
            dialogs::list(client, None)
                .await
                .map_err(errors::client_error)
                .context("cannot list the chats to find the id")?;
            cached_any(client, bare)?.ok_or_else(|| {
                anyhow!("no chat of this account has the id {bare} (as a channel, user or group)")
            })
        }
    }
}

/// A bare id without a kind (tdl writes none), tried as a channel, a user and a group.
fn cached_any(client: &Client, bare: i64) -> Result<Option<enums::InputPeer>> {
    for kind in [PeerKind::Channel, PeerKind::User, PeerKind::Chat] {
        if let Some(peer) = client
            .cached_input_peer(kind, bare)
            .map_err(errors::client_error)?
        {
            return Ok(Some(peer));
        }
    }
    Ok(None)
}
