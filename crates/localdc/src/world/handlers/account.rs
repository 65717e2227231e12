//! The account's logins: `account.getAuthorizations` and `account.resetAuthorization`.

use std::sync::Arc;

use tl_types::api::functions::account::{GetAuthorizations, ResetAuthorization};
use tl_types::api::{enums, types};

use super::{Call, Need, error, typed};
use crate::RpcError;
use crate::rpc::Registry;
use crate::world::{AuthorizationInfo, World};
use mtnet::clock::unix_secs;

/// What Telegram answers for `authorization_ttl_days` when the user set nothing (the
/// default of account.setAuthorizationTTL's setting, 6 months).
const AUTHORIZATION_TTL_DAYS: i32 = 180;

pub(super) fn register(registry: &mut Registry, world: &Arc<World>) {
    typed(registry, world, Need::Home, get_authorizations);
    typed(registry, world, Need::Home, reset_authorization);
}

/// A login as `authorization` describes it; `current` for the caller's own, which
/// Telegram sends with hash 0 (the caller ends it with `auth.logOut`, not by hash).
pub(super) fn authorization_tl(info: &AuthorizationInfo, current: bool) -> enums::Authorization {
    types::Authorization {
        current,
        official_app: false,
        password_pending: info.password_pending,
        encrypted_requests_disabled: false,
        call_requests_disabled: false,
        unconfirmed: false,
        hash: if current { 0 } else { info.hash },
        device_model: info.device_model.clone(),
        // localdc knows no app registry: the platform is unknown and the app is named by
        // its api_id.
        platform: String::new(),
        system_version: info.system_version.clone(),
        api_id: info.api_id,
        app_name: format!("app {}", info.api_id),
        app_version: info.app_version.clone(),
        date_created: info.date_created,
        date_active: info.date_active,
        ip: "127.0.0.1".into(),
        country: "XX".into(),
        region: String::new(),
    }
    .into()
}

fn get_authorizations(
    call: &Call<'_>,
    _: GetAuthorizations,
) -> Result<enums::account::Authorizations, RpcError> {
    let me = call.me()?;
    let mine = call.world.logins.authorization_of(call.key).map(|a| a.hash);
    let mut listed = call.world.authorizations(me);
    // The caller's own login first, as Telegram's apps show it.
    listed.sort_by_key(|info| Some(info.hash) != mine);
    Ok(types::account::Authorizations {
        authorization_ttl_days: AUTHORIZATION_TTL_DAYS,
        authorizations: listed
            .iter()
            .map(|info| authorization_tl(info, Some(info.hash) == mine))
            .collect(),
    }
    .into())
}

/// Ends another login of the caller's account. Telegram refuses this to a login younger
/// than a day (`406 FRESH_RESET_AUTHORISATION_FORBIDDEN`; the fixture's
/// `fresh_reset_secs` sets the age, 0 allows it at once) and answers `400 HASH_INVALID`
/// for a hash that is not another login's (0, the caller's own, is one).
fn reset_authorization(call: &Call<'_>, req: ResetAuthorization) -> Result<bool, RpcError> {
    let me = call.me()?;
    let mine = call.world.logins.authorization_of(call.key);
    if let Some(mine) = &mine
        && i64::from(unix_secs()) - i64::from(mine.date_created)
            < i64::from(call.store.fresh_reset_secs)
    {
        return Err(error(406, "FRESH_RESET_AUTHORISATION_FORBIDDEN"));
    }
    if req.hash == 0 || mine.is_some_and(|m| m.hash == req.hash) {
        return Err(error(400, "HASH_INVALID"));
    }
    if call.world.logins.reset(me, req.hash) {
        Ok(true)
    } else {
        Err(error(400, "HASH_INVALID"))
    }
}
