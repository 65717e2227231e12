//! QR login: `auth.exportLoginToken` (polled by the new device), `auth.acceptLoginToken`
//! (the logged-in device scanning it), `auth.importLoginToken` (the new device on the
//! account's home DC after `auth.loginTokenMigrateTo`). Tokens live 30 seconds.

use std::sync::Arc;

use tl_types::api::functions::auth::{AcceptLoginToken, ExportLoginToken, ImportLoginToken};
use tl_types::api::{enums, types};

use super::account::authorization_tl;
use super::login::{check_app, finish_login, network_migrate};
use super::{Call, Need, error, random_bytes, typed};
use crate::RpcError;
use crate::rpc::Registry;
use crate::world::AuthorizationInfo;
use crate::world::World;
use crate::world::logins::{QrToken, new_hash};
use mtnet::clock::unix_secs;

/// How long a login token may be scanned.
const TOKEN_TTL: i32 = 30;

pub(super) fn register(registry: &mut Registry, world: &Arc<World>) {
    typed(registry, world, Need::Nothing, export_token);
    typed(registry, world, Need::Nothing, import_token);
    typed(registry, world, Need::Login, accept_token);
}

/// What an accepted token gives on this DC: success (a new login, with the id
/// `auth.acceptLoginToken` promised), or where to go.
fn redeem(
    call: &Call<'_>,
    token: Vec<u8>,
    qr: &QrToken,
    user: i64,
) -> Result<enums::auth::LoginToken, RpcError> {
    let home = call.store.home_dc.get(&user).copied().unwrap_or(call.dc());
    if home != call.dc() {
        return Ok(types::auth::LoginTokenMigrateTo { dc_id: home, token }.into());
    }
    call.world.logins.qr_remove(&token);
    let authorization = finish_login(call, user, Some(qr.hash))?;
    Ok(types::auth::LoginTokenSuccess { authorization }.into())
}

fn export_token(
    call: &Call<'_>,
    req: ExportLoginToken,
) -> Result<enums::auth::LoginToken, RpcError> {
    check_app(call, req.api_id, &req.api_hash)?;
    if let Some((token, qr)) = call.world.logins.qr_of(call.key)
        && let Some(user) = qr.accepted_by
    {
        return redeem(call, token, &qr, user);
    }
    network_migrate(call, None)?;
    let token = random_bytes();
    let expires = unix_secs().saturating_add(TOKEN_TTL);
    call.world.logins.qr_new(
        token.clone(),
        QrToken {
            owner: call.key,
            expires,
            accepted_by: None,
            exporter: Some(call.ctx.session_push()),
            hash: new_hash(),
            client: call.ctx.key.state().client,
        },
    );
    if let Some(user) = call.store.qr_auto_accept {
        call.world.logins.qr_accept(&token, user);
    }
    Ok(types::auth::LoginToken { expires, token }.into())
}

fn import_token(
    call: &Call<'_>,
    req: ImportLoginToken,
) -> Result<enums::auth::LoginToken, RpcError> {
    let qr = call
        .world
        .logins
        .qr_get(&req.token)
        .ok_or_else(|| error(400, "AUTH_TOKEN_INVALID"))?;
    match qr.accepted_by {
        Some(user) => redeem(call, req.token, &qr, user),
        None if qr.expires <= unix_secs() => Err(error(400, "AUTH_TOKEN_EXPIRED")),
        None => Ok(types::auth::LoginToken {
            expires: qr.expires,
            token: req.token,
        }
        .into()),
    }
}

fn accept_token(call: &Call<'_>, req: AcceptLoginToken) -> Result<enums::Authorization, RpcError> {
    let me = call.me()?;
    let qr = call
        .world
        .logins
        .qr_get(&req.token)
        // The name core.telegram.org lists for this method (importLoginToken's is
        // AUTH_TOKEN_INVALID).
        .ok_or_else(|| error(400, "AUTH_TOKEN_INVALIDX"))?;
    if qr.expires <= unix_secs() {
        return Err(error(400, "AUTH_TOKEN_EXPIRED"));
    }
    if qr.accepted_by.is_some() {
        return Err(error(400, "AUTH_TOKEN_ALREADY_ACCEPTED"));
    }
    call.world.logins.qr_accept(&req.token, me);
    // The new device as it will be listed once it logs in: the exporting key's app, under
    // the hash its login will get.
    let device = AuthorizationInfo::upcoming(qr.owner, qr.hash, qr.client.as_deref(), unix_secs());
    Ok(authorization_tl(&device, false))
}
