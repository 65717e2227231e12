//! `tgdl chats`: the account's chats, as a table or JSON lines.

use std::io::Write;

use anyhow::Result;
use tgclient::Client;

use super::require_login;
use crate::cli::ChatsArgs;
use crate::{dialogs, errors, output};

/// Runs `tgdl chats`.
pub async fn run(client: &Client, args: &ChatsArgs) -> Result<()> {
    require_login(client)?;
    let chats = dialogs::list(client, args.limit)
        .await
        .map_err(errors::client_error)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        for chat in &chats {
            output::write_json_line(&mut out, chat)?;
        }
    } else {
        output::write_chat_table(&mut out, &chats)?;
    }
    out.flush()?;
    Ok(())
}
