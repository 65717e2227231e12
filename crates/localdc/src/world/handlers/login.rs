//! Phone, 2FA and bot login, logout, and authorization transfer between DCs.

use std::sync::Arc;
use std::time::Instant;

use mtcrypto::dh::DhParams;
use mtcrypto::hash::sha256_concat;
use mtcrypto::{SrpServerSession, srp_verifier};
use tl_types::api::functions::account::GetPassword;
use tl_types::api::functions::auth::{
    CheckPassword, ExportAuthorization, ImportAuthorization, ImportBotAuthorization, LogOut,
    SendCode, SignIn, SignUp,
};
use tl_types::api::{enums, types};

use super::{Call, Need, blocking, error, random_bytes, random_id, typed};
use crate::RpcError;
use crate::rpc::Registry;
use crate::sync::lock;
use crate::world::World;
use crate::world::convert;
use crate::world::logins::{Login, PendingCode, PendingSrp};
use crate::world::store::phone_key;

/// The SRP group Telegram uses: its 2048-bit DH prime with g = 3.
const SRP_G: u32 = 3;

/// A stored 2FA password: salts and verifier.
#[derive(Debug)]
pub(crate) struct Verifier {
    salt1: Vec<u8>,
    salt2: Vec<u8>,
    v: [u8; 256],
}

pub(super) fn register(registry: &mut Registry, world: &Arc<World>) {
    typed(registry, world, Need::Nothing, send_code);
    typed(registry, world, Need::Nothing, sign_in);
    typed(
        registry,
        world,
        Need::Nothing,
        |call: &Call<'_>, req: SignUp| {
            // localdc registers no new accounts.
            let known = call
                .store
                .accounts
                .contains_key(&phone_key(&req.phone_number));
            Err(error(
                400,
                if known {
                    "PHONE_NUMBER_OCCUPIED"
                } else {
                    "PHONE_NUMBER_INVALID"
                },
            ))
        },
    );
    blocking(registry, world, Need::Nothing, get_password);
    blocking(registry, world, Need::Nothing, check_password);
    typed(registry, world, Need::Nothing, import_bot);
    typed(
        registry,
        world,
        Need::Login,
        |call: &Call<'_>, _: LogOut| {
            call.world.logins.log_out(call.key);
            Ok(types::auth::LoggedOut {
                future_auth_token: None,
            }
            .into())
        },
    );
    typed(registry, world, Need::Login, export_authorization);
    typed(registry, world, Need::Nothing, import_authorization);
}

/// `auth.authorization` for `user`, as that user sees it.
pub(super) fn authorization(
    world: &World,
    user: i64,
) -> Result<enums::auth::Authorization, RpcError> {
    let store = world.store();
    let spec = store
        .users
        .get(&user)
        .ok_or_else(|| error(500, "INTERNAL"))?;
    Ok(types::auth::Authorization {
        setup_password_required: false,
        otherwise_relogin_days: None,
        tmp_sessions: None,
        future_auth_token: None,
        user: convert::user(&store, spec, user),
    }
    .into())
}

/// Completes a login as `user` on the caller's key: straight in, or 2FA first. `hash` is
/// the new login's id when it was already promised (a login token).
pub(super) fn finish_login(
    call: &Call<'_>,
    user: i64,
    hash: Option<i64>,
) -> Result<enums::auth::Authorization, RpcError> {
    let has_password = call
        .store
        .accounts
        .values()
        .any(|a| a.user_id == user && a.password.is_some());
    let client = call.ctx.key.state().client;
    call.world
        .logins
        .sign_in(call.key, user, has_password, hash, client);
    if has_password {
        return Err(error(401, "SESSION_PASSWORD_NEEDED"));
    }
    authorization(call.world, user)
}

/// `303 NETWORK_MIGRATE_X` for a login method sent, before login, to a DC other than
/// the one nearest the client's network (the fixture's `network_dc`) and other than
/// `home`, the DC that would serve it: Telegram sends a new client to its network's DC
/// first; from there `PHONE_MIGRATE_X`/`USER_MIGRATE_X` lead to the account's home.
pub(super) fn network_migrate(call: &Call<'_>, home: Option<i32>) -> Result<(), RpcError> {
    match call.store.network_dc {
        Some(network) if call.user.is_none() && network != call.dc() && home != Some(call.dc()) => {
            Err(error(303, &format!("NETWORK_MIGRATE_{network}")))
        }
        _ => Ok(()),
    }
}

/// With registered apps in the fixture, `api_id`/`api_hash` must be one of them, as
/// Telegram wants an app registered at my.telegram.org.
pub(super) fn check_app(call: &Call<'_>, api_id: i32, api_hash: &str) -> Result<(), RpcError> {
    let apps = &call.store.apps;
    if apps.is_empty() || apps.get(&api_id).is_some_and(|hash| hash == api_hash) {
        Ok(())
    } else {
        Err(error(400, "API_ID_INVALID"))
    }
}

/// The account of `phone`, served by this DC; `None` for a valid number with no account,
/// which Telegram serves on the DC nearest the client (a code is sent so that it can sign
/// up).
fn account_for<'a>(
    call: &'a Call<'_>,
    phone: &str,
) -> Result<Option<&'a crate::world::fixture::AccountSpec>, RpcError> {
    let phone = phone_key(phone);
    if phone.len() < 5 || phone.len() > 15 {
        return Err(error(400, "PHONE_NUMBER_INVALID"));
    }
    let account = call.store.accounts.get(&phone);
    network_migrate(call, account.map(|a| a.home_dc))?;
    if let Some(account) = account
        && account.home_dc != call.dc()
    {
        return Err(error(303, &format!("PHONE_MIGRATE_{}", account.home_dc)));
    }
    Ok(account)
}

fn send_code(call: &Call<'_>, req: SendCode) -> Result<enums::auth::SentCode, RpcError> {
    check_app(call, req.api_id, &req.api_hash)?;
    let account = account_for(call, &req.phone_number)?;
    let hash = hex::encode(random_bytes().get(..8).unwrap_or_default());
    call.world.logins.code_sent(
        call.key,
        PendingCode {
            phone: phone_key(&req.phone_number),
            hash: hash.clone(),
            sent: Instant::now(),
        },
    );
    let r#type = match account {
        Some(account) => types::auth::SentCodeTypeApp {
            length: i32::try_from(account.code.len()).unwrap_or(5),
        }
        .into(),
        // No account, so no app to send it to: Telegram texts it.
        None => types::auth::SentCodeTypeSms {
            length: i32::try_from(call.store.signup_code.len()).unwrap_or(5),
        }
        .into(),
    };
    Ok(types::auth::SentCode {
        r#type,
        phone_code_hash: hash,
        next_type: None,
        timeout: None,
    }
    .into())
}

/// A right code logs an account in; for a number with no account Telegram answers
/// `auth.authorizationSignUpRequired` (the client may then call `auth.signUp`).
fn sign_in(call: &Call<'_>, req: SignIn) -> Result<enums::auth::Authorization, RpcError> {
    let account = account_for(call, &req.phone_number)?;
    let phone = phone_key(&req.phone_number);
    let pending = call
        .world
        .logins
        .pending_code(call.key)
        .filter(|p| p.phone == phone && p.hash == req.phone_code_hash)
        .ok_or_else(|| error(400, "PHONE_CODE_EXPIRED"))?;
    let ttl = u64::from(call.store.code_ttl_secs);
    if pending.sent.elapsed().as_secs() >= ttl {
        return Err(error(400, "PHONE_CODE_EXPIRED"));
    }
    let expected = account.map_or(&call.store.signup_code, |a| &a.code);
    match req.phone_code.as_deref() {
        None | Some("") => Err(error(400, "PHONE_CODE_EMPTY")),
        Some(code) if code != expected => Err(error(400, "PHONE_CODE_INVALID")),
        Some(_) => match account {
            Some(account) => finish_login(call, account.user_id, None),
            None => Ok(types::auth::AuthorizationSignUpRequired {
                terms_of_service: None,
            }
            .into()),
        },
    }
}

/// The verifier of `user`'s password, computed once.
fn verifier(world: &World, user: i64, password: &str) -> Result<Arc<Verifier>, RpcError> {
    if let Some(v) = lock(&world.verifiers).get(&user) {
        return Ok(Arc::clone(v));
    }
    let seed = world.seed().to_le_bytes();
    let salt = |label: &[u8]| sha256_concat(&[label, &seed, &user.to_le_bytes()]);
    // salt1 is 40 bytes in Telegram's algo (the client may extend it), salt2 16.
    let mut salt1 = salt(b"localdc srp salt1").to_vec();
    salt1.extend_from_slice(salt(b"localdc srp salt1b").get(..8).unwrap_or_default());
    let salt2 = salt(b"localdc srp salt2")
        .get(..16)
        .unwrap_or_default()
        .to_vec();
    let prime = DhParams::telegram().prime_be().to_vec();
    let v = srp_verifier(password.as_bytes(), &salt1, &salt2, SRP_G, &prime)
        .map_err(|_| error(500, "INTERNAL"))?;
    let verifier = Arc::new(Verifier { salt1, salt2, v });
    lock(&world.verifiers).insert(user, Arc::clone(&verifier));
    Ok(verifier)
}

fn algo(salt1: Vec<u8>, salt2: Vec<u8>) -> enums::PasswordKdfAlgo {
    types::PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow {
        salt1,
        salt2,
        g: SRP_G as i32,
        p: DhParams::telegram().prime_be().to_vec(),
    }
    .into()
}

fn get_password(call: &Call<'_>, _: GetPassword) -> Result<enums::account::Password, RpcError> {
    let Some(Login::PasswordNeeded(user) | Login::User(user)) = call.world.logins.get(call.key)
    else {
        return Err(crate::rpc::errors::auth_key_unregistered());
    };
    let account = call.store.accounts.values().find(|a| a.user_id == user);
    let new_salt = random_bytes();
    let new_algo = algo(
        new_salt.clone(),
        new_salt.get(..16).unwrap_or_default().to_vec(),
    );
    let new_secure_algo = types::SecurePasswordKdfAlgoPBKDF2HMACSHA512iter100000 {
        salt: new_salt.get(..8).unwrap_or_default().to_vec(),
    }
    .into();
    let Some((account, password)) = account.and_then(|a| a.password.as_ref().map(|p| (a, p)))
    else {
        return Ok(types::account::Password {
            has_recovery: false,
            has_secure_values: false,
            has_password: false,
            current_algo: None,
            srp_b: None,
            srp_id: None,
            hint: None,
            email_unconfirmed_pattern: None,
            new_algo,
            new_secure_algo,
            secure_random: random_bytes(),
            pending_reset_date: None,
            login_email_pattern: None,
        }
        .into());
    };
    let stored = verifier(call.world, user, password)?;
    let prime = DhParams::telegram().prime_be().to_vec();
    let mut rng = rand::rngs::OsRng;
    let session = SrpServerSession::new(
        &stored.v,
        &stored.salt1,
        &stored.salt2,
        SRP_G,
        &prime,
        &mut rng,
    )
    .map_err(|_| error(500, "INTERNAL"))?;
    let srp_b = session.srp_b().to_vec();
    let srp_id = random_id();
    call.world.logins.srp_offered(
        call.key,
        PendingSrp {
            srp_id,
            user,
            session: Arc::new(session),
        },
    );
    Ok(types::account::Password {
        has_recovery: false,
        has_secure_values: false,
        has_password: true,
        current_algo: Some(algo(stored.salt1.clone(), stored.salt2.clone())),
        srp_b: Some(srp_b),
        srp_id: Some(srp_id),
        hint: account.hint.clone(),
        email_unconfirmed_pattern: None,
        new_algo,
        new_secure_algo,
        secure_random: random_bytes(),
        pending_reset_date: None,
        login_email_pattern: None,
    }
    .into())
}

fn check_password(
    call: &Call<'_>,
    req: CheckPassword,
) -> Result<enums::auth::Authorization, RpcError> {
    let user = match call.world.logins.get(call.key) {
        Some(Login::PasswordNeeded(user)) => user,
        Some(Login::User(user)) => return authorization(call.world, user),
        None => return Err(crate::rpc::errors::auth_key_unregistered()),
    };
    let enums::InputCheckPasswordSRP::InputCheckPasswordSRP(proof) = req.password else {
        return Err(error(400, "PASSWORD_HASH_INVALID"));
    };
    let (srp_id, srp_user, session) = call
        .world
        .logins
        .pending_srp(call.key)
        .ok_or_else(|| error(400, "SRP_ID_INVALID"))?;
    if srp_id != proof.srp_id || srp_user != user {
        return Err(error(400, "SRP_ID_INVALID"));
    }
    session
        .verify(&proof.a, &proof.m1)
        .map_err(|_| error(400, "PASSWORD_HASH_INVALID"))?;
    call.world.logins.password_checked(call.key, user);
    authorization(call.world, user)
}

fn import_bot(
    call: &Call<'_>,
    req: ImportBotAuthorization,
) -> Result<enums::auth::Authorization, RpcError> {
    check_app(call, req.api_id, &req.api_hash)?;
    let bot = call.store.bots.get(&req.bot_auth_token);
    network_migrate(call, bot.map(|b| b.home_dc))?;
    if call.store.revoked_bot_tokens.contains(&req.bot_auth_token) {
        return Err(error(400, "ACCESS_TOKEN_EXPIRED"));
    }
    let bot = bot.ok_or_else(|| error(400, "ACCESS_TOKEN_INVALID"))?;
    if bot.home_dc != call.dc() {
        return Err(error(303, &format!("USER_MIGRATE_{}", bot.home_dc)));
    }
    let client = call.ctx.key.state().client;
    call.world
        .logins
        .sign_in(call.key, bot.user_id, false, None, client);
    authorization(call.world, bot.user_id)
}

fn export_authorization(
    call: &Call<'_>,
    req: ExportAuthorization,
) -> Result<enums::auth::ExportedAuthorization, RpcError> {
    let me = call.me()?;
    // Telegram refuses to export to the DC the request is on (the key is already there).
    if req.dc_id == call.dc() || !call.ctx.dc.directory().iter().any(|d| d.id == req.dc_id) {
        return Err(error(400, "DC_ID_INVALID"));
    }
    let bytes = random_bytes();
    call.world
        .logins
        .export(bytes.clone(), me, req.dc_id, call.key);
    Ok(types::auth::ExportedAuthorization { id: me, bytes }.into())
}

fn import_authorization(
    call: &Call<'_>,
    req: ImportAuthorization,
) -> Result<enums::auth::Authorization, RpcError> {
    match call.world.logins.take_export(&req.bytes) {
        Some((user, dc, exporter)) if user == req.id && dc == call.dc() => {
            call.world.logins.imported(call.key, user, exporter);
            authorization(call.world, user)
        }
        _ => Err(error(400, "AUTH_BYTES_INVALID")),
    }
}
