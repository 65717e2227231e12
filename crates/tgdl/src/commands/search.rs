//! `tgdl search QUERY`: messages matching words and/or a media type, in one chat
//! (`messages.search`) or in every chat (`messages.searchGlobal`), as JSON lines.

use anyhow::{Result, bail};
use tgclient::Client;
use tl_types::api::enums::MessagesFilter;

use super::{history::print_messages, require_login, resolve_chat};
use crate::cli::{MediaFilterArg, SearchArgs};

/// Runs `tgdl search`.
pub async fn run(client: &Client, args: &SearchArgs) -> Result<()> {
    let me = require_login(client)?;
    let filter = args
        .media_type
        .map_or(MessagesFilter::InputMessagesFilterEmpty, filter);
    let query = args.query.trim();
    let mut messages = match &args.chat {
        Some(chat) => client.search(resolve_chat(client, chat).await?, query, filter),
        None if query.is_empty() && args.media_type.is_none() => {
            bail!("give words to search for, or a --type, to search all chats")
        }
        None => client.search_global(query, filter),
    };
    if let Some(limit) = args.limit {
        messages = messages.limit(limit);
    }
    print_messages(messages, me.id).await
}

/// The server-side filter of a `--type`.
fn filter(kind: MediaFilterArg) -> MessagesFilter {
    match kind {
        MediaFilterArg::Photo => MessagesFilter::InputMessagesFilterPhotos,
        MediaFilterArg::Video => MessagesFilter::InputMessagesFilterVideo,
        MediaFilterArg::PhotoVideo => MessagesFilter::InputMessagesFilterPhotoVideo,
        MediaFilterArg::Document => MessagesFilter::InputMessagesFilterDocument,
        MediaFilterArg::Audio | MediaFilterArg::Music => MessagesFilter::InputMessagesFilterMusic,
        MediaFilterArg::Voice => MessagesFilter::InputMessagesFilterVoice,
        MediaFilterArg::Gif => MessagesFilter::InputMessagesFilterGif,
        MediaFilterArg::Url => MessagesFilter::InputMessagesFilterUrl,
        MediaFilterArg::Round => MessagesFilter::InputMessagesFilterRoundVideo,
    }
}
