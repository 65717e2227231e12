//! `tgdl chats`: the account's chats, as a table or JSON lines.

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
    output::to_stdout(|out| {
        if args.json {
            chats
                .iter()
                .try_for_each(|chat| output::write_json_line(out, chat))
        } else {
            output::write_chat_table(out, &chats)
        }
    })
}
