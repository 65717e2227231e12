//! Takeout sessions (<https://core.telegram.org/api/takeout>): an export session the user
//! agrees to, under which Telegram serves history and files with looser flood limits.
//!
//! [`Client::start_takeout`] calls `account.initTakeoutSession`; every call of the
//! resulting [`Takeout`] is wrapped in `invokeWithTakeout(takeout_id, query)`, iterators run
//! in it through [`crate::Messages::in_takeout`] (or [`Takeout::history`] and friends), and
//! [`Takeout::finish`] ends it with `account.finishTakeoutSession`. Telegram may refuse to
//! start one yet (`TAKEOUT_INIT_DELAY_X`): that is [`ClientError::TakeoutInitDelay`], with
//! how long to wait.

use std::time::Duration;

use tl_types::api::{enums, functions};
use tl_types::{Blob, RemoteCall, Serialize};

use crate::client::{Client, Route};
use crate::error::ClientError;
use crate::iter::Messages;
use crate::policy;

/// What a takeout session may export (`account.initTakeoutSession`'s flags). The default
/// asks for nothing; [`TakeoutOptions::everything`] asks for all of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // One flag per TL flag.
pub struct TakeoutOptions {
    /// Contacts.
    pub contacts: bool,
    /// Private chats' messages.
    pub message_users: bool,
    /// Basic groups' messages.
    pub message_chats: bool,
    /// Supergroups' messages.
    pub message_megagroups: bool,
    /// Channels' messages.
    pub message_channels: bool,
    /// Files (media).
    pub files: bool,
    /// With `files`: the largest file to export, in bytes (`None`: Telegram's default).
    pub file_max_size: Option<i64>,
}

impl TakeoutOptions {
    /// Contacts, every kind of chat's messages and files up to `file_max_size` bytes.
    pub fn everything(file_max_size: Option<i64>) -> Self {
        Self {
            contacts: true,
            message_users: true,
            message_chats: true,
            message_megagroups: true,
            message_channels: true,
            files: true,
            file_max_size,
        }
    }
}

/// A live takeout session. Cheap to clone; every clone is the same session. End it with
/// [`Takeout::finish`] (Telegram keeps an unfinished one open until it expires).
#[derive(Debug, Clone)]
pub struct Takeout {
    client: Client,
    id: i64,
}

impl Client {
    /// Starts a takeout session (`account.initTakeoutSession`). Telegram may first ask the
    /// user to confirm in another app and answer `TAKEOUT_INIT_DELAY_X`:
    /// [`ClientError::TakeoutInitDelay`] says how long to wait before trying again.
    pub async fn start_takeout(&self, options: TakeoutOptions) -> Result<Takeout, ClientError> {
        let request = functions::account::InitTakeoutSession {
            contacts: options.contacts,
            message_users: options.message_users,
            message_chats: options.message_chats,
            message_megagroups: options.message_megagroups,
            message_channels: options.message_channels,
            files: options.files,
            file_max_size: if options.files {
                options.file_max_size
            } else {
                None
            },
        };
        let enums::account::Takeout::Takeout(takeout) =
            self.invoke(&request).await.map_err(init_delay)?;
        tracing::info!("takeout session started");
        Ok(Takeout {
            client: self.clone(),
            id: takeout.id,
        })
    }

    /// Calls `request` where `route` says, inside takeout session `takeout_id` when given.
    pub(crate) async fn invoke_in_takeout<R: RemoteCall>(
        &self,
        route: Route,
        takeout_id: Option<i64>,
        request: &R,
    ) -> Result<R::Return, ClientError> {
        let body = match takeout_id {
            Some(takeout_id) => functions::InvokeWithTakeout {
                takeout_id,
                query: Blob(request.to_bytes()),
            }
            .to_bytes(),
            None => request.to_bytes(),
        };
        let answer = self.invoke_bytes(route, R::TL_NAME, body).await?;
        super::client::decode_answer::<R>(&answer)
    }
}

/// `TAKEOUT_INIT_DELAY_X` as its typed error; anything else unchanged.
fn init_delay(error: ClientError) -> ClientError {
    let delay = error
        .rpc()
        .and_then(|rpc| policy::split_value(&rpc.message))
        .and_then(|(name, seconds)| (name == "TAKEOUT_INIT_DELAY").then_some(seconds));
    match delay {
        Some(seconds) => ClientError::TakeoutInitDelay {
            wait: Duration::from_secs(u64::from(seconds)),
        },
        None => error,
    }
}

impl Takeout {
    /// The session's id.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The client the session runs on.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Calls `request` on the home DC inside the session.
    pub async fn invoke<R: RemoteCall>(&self, request: &R) -> Result<R::Return, ClientError> {
        self.invoke_routed(Route::Home, request).await
    }

    /// Calls `request` where `route` says, inside the session.
    pub async fn invoke_routed<R: RemoteCall>(
        &self,
        route: Route,
        request: &R,
    ) -> Result<R::Return, ClientError> {
        self.client
            .invoke_in_takeout(route, Some(self.id), request)
            .await
    }

    /// [`Client::history`] inside the session.
    pub fn history(&self, peer: enums::InputPeer) -> Messages {
        self.client.history(peer).in_takeout(self)
    }

    /// [`Client::search`] inside the session.
    pub fn search(
        &self,
        peer: enums::InputPeer,
        query: impl Into<String>,
        filter: enums::MessagesFilter,
    ) -> Messages {
        self.client.search(peer, query, filter).in_takeout(self)
    }

    /// [`Client::search_global`] inside the session.
    pub fn search_global(
        &self,
        query: impl Into<String>,
        filter: enums::MessagesFilter,
    ) -> Messages {
        self.client.search_global(query, filter).in_takeout(self)
    }

    /// Ends the session (`account.finishTakeoutSession`, itself inside the session);
    /// `success` tells Telegram whether the export completed.
    pub async fn finish(self, success: bool) -> Result<(), ClientError> {
        self.invoke(&functions::account::FinishTakeoutSession { success })
            .await?;
        tracing::info!(success, "takeout session finished");
        Ok(())
    }
}
