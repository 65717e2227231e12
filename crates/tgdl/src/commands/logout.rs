//! `tgdl logout`: ends the login on the server and forgets it in the session (the session
//! file stays, with the DC list).

use std::io::Write;

use anyhow::{Context, Result};
use tgclient::Client;

use super::describe_user;
use crate::cli::GlobalArgs;
use crate::{errors, output};

/// Whether there is a session to log out of. A missing named profile is an error (a
/// mistyped `--profile` must not become a new, empty profile); a missing session file is
/// "not logged in", and is not created either.
pub fn session_exists(global: &GlobalArgs) -> Result<bool> {
    if super::session_path(global)?.exists() {
        return Ok(true);
    }
    if let Some(profile) = &global.profile {
        anyhow::bail!("there is no profile {profile:?} (`tgdl profiles` lists them)");
    }
    output::note("not logged in");
    Ok(false)
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
