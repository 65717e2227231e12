//! The subcommands. Each module has a `run` taking the open [`Client`] (or, for commands
//! that need no server, the global options) and its arguments; [`run`] opens the session,
//! dispatches, and saves the session whatever the outcome.

pub mod chats;
#[cfg(feature = "demo")]
pub mod demo;
pub mod download;
pub mod export;
pub mod history;
pub mod login;
pub mod logout;
pub mod profiles;
pub mod search;
pub mod takeout;
pub mod watch;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use tgclient::{Client, ClientConfig, ResolveError, SelfUser, SessionStore};
use tl_types::api::enums;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::config::{self, ProcessEnv};
use crate::errors::{self, NOT_LOGGED_IN};
use crate::{dialogs, server};

/// Runs the command line's subcommand.
pub async fn run(cli: &Cli) -> Result<()> {
    cli.command.check()?;
    // The demo brings its own server, account and session.
    #[cfg(feature = "demo")]
    if let Command::Demo(args) = &cli.command {
        return demo::run(&cli.global, args).await;
    }
    match &cli.command {
        // Reads the session files without opening any for use.
        Command::Profiles(args) => return profiles::run(&cli.global, args),
        // Logging out of a session that does not exist must not create it.
        Command::Logout if !logout::session_exists(&cli.global)? => return Ok(()),
        // Another app's login is read, and used, before the session is opened: bad input
        // must leave the session file as it was.
        Command::Login(args) if args.imports() => {
            return login::run_import(&cli.global, args).await;
        }
        _ => {}
    }
    let client = open_client(&cli.global)?;
    let outcome = match &cli.command {
        Command::Login(args) => login::run(&client, &cli.global, args).await,
        Command::Logout => logout::run(&client).await,
        Command::Chats(args) => chats::run(&client, args).await,
        Command::History(args) => history::run(&client, args).await,
        Command::Search(args) => search::run(&client, args).await,
        Command::Download(args) => download::run(&client, args).await,
        Command::Export(args) => export::run(&client, args).await,
        Command::Watch(args) => watch::run(&client, args).await,
        #[cfg(feature = "demo")]
        Command::Demo(_) => Ok(()),
        Command::Profiles(_) => Ok(()),
    };
    if let Err(error) = client.close().await {
        tracing::warn!(%error, "could not save the session");
    }
    outcome
}

/// The client the global options describe, over the session file they name.
pub fn open_client(global: &GlobalArgs) -> Result<Client> {
    let config = client_config(global)?;
    let path = session_path(global)?;
    let store = open_store(&path)?;
    Client::new(config, store).map_err(errors::client_error)
}

/// The client configuration the global options and the environment describe.
pub fn client_config(global: &GlobalArgs) -> Result<ClientConfig> {
    let credentials = config::credentials(&ProcessEnv)?;
    let server = server::server_config(global)?;
    Ok(ClientConfig::new(credentials.api_id, credentials.api_hash).with_server(server))
}

/// The session file the global options name.
pub fn session_path(global: &GlobalArgs) -> Result<PathBuf> {
    config::session_path(
        &ProcessEnv,
        global.session.as_deref(),
        global.profile.as_deref(),
    )
}

/// Opens (or creates) the session file at `path`.
pub fn open_store(path: &Path) -> Result<SessionStore> {
    tracing::debug!(session = %path.display(), "opening the session");
    SessionStore::open(path).with_context(|| format!("cannot open the session {}", path.display()))
}

/// The logged-in account, or the "run `tgdl login`" error.
pub fn require_login(client: &Client) -> Result<SelfUser> {
    client
        .self_user()
        .map_err(errors::client_error)?
        .ok_or_else(|| anyhow!(NOT_LOGGED_IN))
}

/// Resolves what the user typed to name a chat. A numeric id the session has not seen yet
/// is looked for among the account's chats (which caches them) before giving up.
pub async fn resolve_chat(client: &Client, input: &str) -> Result<enums::InputPeer> {
    match client.resolve_str(input).await {
        Ok(resolved) => Ok(resolved.peer),
        Err(ResolveError::UnknownId { .. }) => {
            dialogs::list(client, None)
                .await
                .map_err(errors::client_error)
                .context("cannot list the chats to find the id")?;
            client
                .resolve_str(input)
                .await
                .map(|resolved| resolved.peer)
                .map_err(|error| errors::resolve_error(input, error))
        }
        Err(error) => Err(errors::resolve_error(input, error)),
    }
}

/// How the account is named in messages.
pub fn describe_user(user: &SelfUser) -> String {
    let kind = if user.bot { "bot" } else { "user" };
    match &user.username {
        Some(name) => format!("@{name} ({kind} {})", user.id),
        None => format!("{kind} {}", user.id),
    }
}
