//! The world's API methods, registered through [`register`]. Every call goes through one
//! guard: a takeout id must be live, the key must be logged in when the method needs it
//! (`401 AUTH_KEY_UNREGISTERED`), on the user's home DC when it reads the user's data
//! (`303 USER_MIGRATE_X`), and within the flood rules (`420 FLOOD_WAIT_X`).

// Handlers take the parsed request by value: that is the registry's handler signature.
#![allow(clippy::needless_pass_by_value)]

mod account;
mod cdn;
mod files;
mod history;
mod login;
mod peers;
mod qr;
mod session;

use std::sync::Arc;
use std::time::Instant;

use tl_types::{Deserialize, Identifiable, RemoteCall, Serialize};

pub(crate) use login::Verifier;

use super::World;
use super::flood::Caller;
use super::logins::KeyRef;
use crate::RpcError;
use crate::rpc::{Registry, RequestContext, errors};

/// What a method requires of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Nothing (login methods).
    Nothing,
    /// A logged-in key, on any DC.
    Login,
    /// A logged-in key on the user's home DC.
    Home,
}

/// One call being served.
struct Call<'a> {
    world: &'a World,
    /// The world as this call sees it (one snapshot for the whole call).
    store: &'a super::Store,
    ctx: &'a RequestContext,
    key: KeyRef,
    /// The logged-in user (always `Some` for `Need::Login`/`Need::Home` methods).
    user: Option<i64>,
}

impl Call<'_> {
    /// The logged-in user; the guard made sure there is one.
    fn me(&self) -> Result<i64, RpcError> {
        self.user.ok_or_else(errors::auth_key_unregistered)
    }

    fn dc(&self) -> i32 {
        self.ctx.dc_id()
    }
}

/// Registers every world method into `registry`, replacing the placeholder
/// `users.getUsers` of [`Registry::with_defaults`].
pub fn register(registry: &mut Registry, world: Arc<World>) {
    login::register(registry, &world);
    account::register(registry, &world);
    qr::register(registry, &world);
    peers::register(registry, &world);
    history::register(registry, &world);
    session::register(registry, &world);
    files::register(registry, &world);
    cdn::register(registry, &world);
}

/// `code` `NAME`.
fn error(code: i32, name: &str) -> RpcError {
    RpcError::new(code, name)
}

/// The checks every world method starts with; the logged-in user, if any.
fn guard(
    world: &World,
    ctx: &RequestContext,
    method: &str,
    need: Need,
) -> Result<Option<i64>, RpcError> {
    let key = (ctx.dc_id(), ctx.key.id());
    let user = world.logins.user(key);
    if user.is_some() {
        world.logins.touch(key, ctx.key.state().client.as_ref());
    }
    if let Some(takeout) = ctx.takeout_id()
        && (user.is_none() || world.logins.takeout_user(takeout) != user)
    {
        return Err(error(400, "TAKEOUT_INVALID"));
    }
    if need != Need::Nothing {
        let me = user.ok_or_else(errors::auth_key_unregistered)?;
        let home = world.store().home_dc.get(&me).copied();
        if need == Need::Home
            && let Some(home) = home
            && home != ctx.dc_id()
        {
            return Err(error(303, &format!("USER_MIGRATE_{home}")));
        }
        // A call as the logged-in user on the home DC subscribes the session to the
        // account's updates; file queries do not (see `world::push`).
        if home.is_none_or(|home| home == ctx.dc_id())
            && !ctx.invocation.without_updates
            && !method.starts_with("upload.")
        {
            world.pushes.subscribe(me, key, ctx.session_push());
        }
    }
    let caller = user.map_or(
        Caller::Key {
            dc: key.0,
            key_id: key.1,
        },
        Caller::User,
    );
    world
        .flood
        .check_detailed(method, caller, Instant::now())
        .map_err(|refusal| error(420, &refusal.message()))?;
    Ok(user)
}

/// Registers a typed, quick method behind the guard.
fn typed<M, F>(registry: &mut Registry, world: &Arc<World>, need: Need, handler: F)
where
    M: RemoteCall + Deserialize + Identifiable,
    M::Return: Serialize,
    F: Fn(&Call<'_>, M) -> Result<M::Return, RpcError> + Send + Sync + 'static,
{
    let world = Arc::clone(world);
    registry.register_typed(move |ctx: &RequestContext, request: M| {
        let user = guard(&world, ctx, M::TL_NAME, need)?;
        let store = world.store();
        let call = Call {
            world: &world,
            store: &store,
            ctx,
            key: (ctx.dc_id(), ctx.key.id()),
            user,
        };
        handler(&call, request)
    });
}

/// Registers a method whose work is CPU-heavy (SRP): it runs on the blocking pool so it
/// never stalls the connection's task.
fn blocking<M, F>(registry: &mut Registry, world: &Arc<World>, need: Need, handler: F)
where
    M: RemoteCall + Deserialize + Identifiable + Send + 'static,
    M::Return: Serialize,
    F: Fn(&Call<'_>, M) -> Result<M::Return, RpcError> + Send + Sync + 'static,
{
    let world = Arc::clone(world);
    let handler = Arc::new(handler);
    registry.register_async(M::CONSTRUCTOR_ID, M::TL_NAME, move |ctx, body| {
        let world = Arc::clone(&world);
        let handler = Arc::clone(&handler);
        async move {
            let request = M::from_bytes(&body).map_err(|_| errors::fetch_error())?;
            let user = guard(&world, &ctx, M::TL_NAME, need)?;
            let task = tokio::task::spawn_blocking(move || {
                let store = world.store();
                let call = Call {
                    world: &world,
                    store: &store,
                    ctx: &ctx,
                    key: (ctx.dc_id(), ctx.key.id()),
                    user,
                };
                handler(&call, request).map(|result| result.to_bytes())
            });
            task.await.map_err(|_| errors::internal())?
        }
    });
}

/// 32 random bytes (tokens, exported authorizations).
fn random_bytes() -> Vec<u8> {
    use rand::RngCore;
    let mut out = vec![0u8; 32];
    rand::thread_rng().fill_bytes(&mut out);
    out
}

/// A random id.
fn random_id() -> i64 {
    use rand::Rng;
    rand::thread_rng().r#gen::<i64>().wrapping_abs().max(1)
}
