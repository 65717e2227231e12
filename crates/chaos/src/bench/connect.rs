//! The benchmark's client: logged in to the local server the way a user logs in.

use std::path::Path;

use anyhow::{Context, Result};
use tgclient::{Client, ClientConfig, SessionStore};
use tgdl::cli::GlobalArgs;
use tgdl::errors;

use super::server;

/// localdc accepts any api id and hash.
const API_ID: i32 = 4;
const API_HASH: &str = "0123456789abcdef";

/// A client for the server of `ready`, logged in with the fixture account's code (the
/// client's own login path), its session in `dir`.
pub async fn connect(ready: &Path, dir: &Path) -> Result<Client> {
    let global = GlobalArgs {
        session: None,
        profile: None,
        server: Some(ready.to_owned()),
        test_dc: false,
        proxy: None,
        transport: None,
        obfuscated: false,
        verbose: 0,
    };
    let server = tgdl::server::server_config(&global)?;
    let store =
        SessionStore::open(dir.join("bench.session")).context("cannot create the bench session")?;
    let client = Client::new(
        ClientConfig::new(API_ID, API_HASH).with_server(server),
        store,
    )
    .map_err(errors::client_error)?;
    let request = client
        .request_login_code(server::PHONE)
        .await
        .map_err(errors::login_error)?;
    client
        .sign_in(&request, server::CODE)
        .await
        .map_err(errors::login_error)?;
    Ok(client)
}
