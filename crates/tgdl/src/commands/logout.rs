//! `tgdl logout`: ends the login on the server and forgets it in the session (the session
//! file stays, with the DC list).

use std::io::Write;

use anyhow::{Context, Result};
use tgclient::Client;

use super::describe_user;
use crate::{errors, output};

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
