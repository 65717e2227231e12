//! `tgdl history CHAT`: a chat's messages as JSON lines, newest first, optionally between
//! two dates. The date bounds go to the server: paging starts at the upper bound and stops
//! at the first message older than the lower one.

use anyhow::Result;
use tgclient::{Client, Messages};

use super::{require_login, resolve_chat, takeout};
use crate::cli::HistoryArgs;
use crate::dates;
use crate::{errors, output};

/// Runs `tgdl history`.
pub async fn run(client: &Client, args: &HistoryArgs) -> Result<()> {
    let me = require_login(client)?;
    let peer = resolve_chat(client, &args.chat).await?;
    let takeout = if args.takeout {
        Some(takeout::start(client).await?)
    } else {
        None
    };
    let mut messages = match &takeout {
        Some(takeout) => takeout.history(peer),
        None => client.history(peer),
    };
    if let Some(limit) = args.limit {
        messages = messages.limit(limit);
    }
    if let Some(from) = args.from_date {
        messages = messages.min_date(dates::to_api_date(from.lower()));
    }
    if let Some(to) = args.to_date {
        messages = messages.max_date(dates::to_api_date(to.upper()));
    }
    let printed = print_messages(messages, me.id).await;
    takeout::finish(takeout, printed.is_ok()).await;
    printed
}

/// Prints every message of `messages` as a JSON line, as they arrive.
pub async fn print_messages(mut messages: Messages, self_id: i64) -> Result<()> {
    while let Some(message) = messages.next().await.map_err(errors::client_error)? {
        if let Some(json) = output::message_json(&message, self_id) {
            // Locked per line: the lock cannot be held across the next page's await.
            output::to_stdout(|out| output::write_json_line(out, &json))?;
        }
    }
    Ok(())
}
