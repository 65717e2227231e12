//! `--takeout` of `tgdl history` and `tgdl download`: list messages inside a takeout
//! session (<https://core.telegram.org/api/takeout>), the export session the user confirms
//! in another Telegram app, under which Telegram's flood limits on paging through history
//! are looser (what exporters such as Telegram Desktop's use). Files are fetched as usual.

use anyhow::Result;
use tgclient::{Client, Takeout, TakeoutOptions};

use crate::errors;

/// Starts a takeout session for listing the messages of every kind of chat.
pub async fn start(client: &Client) -> Result<Takeout> {
    let options = TakeoutOptions {
        message_users: true,
        message_chats: true,
        message_megagroups: true,
        message_channels: true,
        ..TakeoutOptions::default()
    };
    client
        .start_takeout(options)
        .await
        .map_err(errors::client_error)
}

/// Ends `takeout`, telling Telegram whether the listing completed; a failure to end it is
/// only logged (Telegram ends it by itself later).
pub async fn finish(takeout: Option<Takeout>, success: bool) {
    if let Some(takeout) = takeout
        && let Err(error) = takeout.finish(success).await
    {
        tracing::warn!(%error, "could not finish the takeout session");
    }
}
