//! `tgdl logout`: ends the login on the server and forgets it in the session (the session
//! file stays, with the DC list).

use std::io::Write;

use anyhow::{Context, Result};
use tgclient::Client;

use super::describe_user;
use crate::cli::GlobalArgs;
use crate::config::{self, ProcessEnv};
use crate::{errors, output};

/// Fails when the session `global` names does not exist: a mistyped `--profile` must not
/// become a new, empty profile.
pub fn check_exists(global: &GlobalArgs) -> Result<()> {
    let path = config::session_path(
        &ProcessEnv,
        global.session.as_deref(),
        global.profile.as_deref(),
    )?;
    if path.exists() {
        return Ok(());
    }
    match &global.profile {
        Some(profile) => {
            anyhow::bail!("there is no profile {profile:?} (`tgdl profiles` lists them)")
        }
        None => anyhow::bail!("there is no session {}: nothing to log out", path.display()),
    }
}

/// Runs `tgdl logout`.
pub async fn run(client: &Client) -> Result<()> {
    let Some(me) = client.self_user().map_err(errors::client_error)? else {
        output::note("not logged in");
        return Ok(());
    };
    client
        .log_out()
        .await
        .map_err(errors::client_error)
        .context("logout failed")?;
    output::to_stdout(|out| writeln!(out, "logged out {}", describe_user(&me)))
}
