//! `tgdl history CHAT`: a chat's messages as JSON lines, newest first, optionally between
//! two dates. The date bounds go to the server: paging starts at the upper bound and stops
//! at the first message older than the lower one.

use anyhow::Result;
use tgclient::{Client, Messages};

use super::{require_login, resolve_chat};
use crate::cli::HistoryArgs;
use crate::dates::{self, DateArg};
use crate::{errors, output};

/// Runs `tgdl history`.
pub async fn run(client: &Client, args: &HistoryArgs) -> Result<()> {
    let me = require_login(client)?;
    let from = args.from_date.as_deref().map(DateArg::parse).transpose()?;
    let to = args.to_date.as_deref().map(DateArg::parse).transpose()?;
    dates::check_range(from, to)?;
    let peer = resolve_chat(client, &args.chat).await?;
    let mut messages = client.history(peer);
    if let Some(limit) = args.limit {
        messages = messages.limit(limit);
    }
    if let Some(from) = from {
        messages = messages.min_date(dates::to_api_date(from.lower()));
    }
    if let Some(to) = to {
        messages = messages.max_date(dates::to_api_date(to.upper()));
    }
    print_messages(messages, me.id).await
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
