//! Session-level methods: `updates.getState`, `updates.getDifference`,
//! `updates.getChannelDifference` (answered from the world's update boxes) and takeout
//! sessions.

use std::sync::Arc;

use tl_types::api::functions::account::{FinishTakeoutSession, InitTakeoutSession};
use tl_types::api::functions::updates::{GetChannelDifference, GetDifference, GetState};
use tl_types::api::{enums, types};

use super::peers::input_channel;
use super::{Call, Need, error, random_id, typed};
use crate::RpcError;
use crate::rpc::Registry;
use crate::world::World;

pub(super) fn register(registry: &mut Registry, world: &Arc<World>) {
    typed(registry, world, Need::Home, get_state);
    typed(registry, world, Need::Home, get_difference);
    typed(registry, world, Need::Home, get_channel_difference);
    typed(registry, world, Need::Home, init_takeout);
    typed(registry, world, Need::Login, finish_takeout);
}

/// The most events one `updates.getChannelDifference` answers: what Telegram documents
/// for bots, and what it tells users to pass at most (core.telegram.org/method/
/// updates.getChannelDifference: "max 100000; ordinary (non-bot) users are supposed to
/// pass 10-100"; Telethon and TDLib ask 100 as users, 100000 as bots).
const BOT_CHANNEL_LIMIT: i32 = 100_000;
const USER_CHANNEL_LIMIT: i32 = 100;

fn get_state(call: &Call<'_>, _: GetState) -> Result<enums::updates::State, RpcError> {
    let me = call.me()?;
    Ok(call.world.update_state(me).into())
}

fn get_difference(
    call: &Call<'_>,
    req: GetDifference,
) -> Result<enums::updates::Difference, RpcError> {
    let me = call.me()?;
    Ok(call.world.difference(me, req.pts, req.pts_total_limit))
}

fn get_channel_difference(
    call: &Call<'_>,
    req: GetChannelDifference,
) -> Result<enums::updates::ChannelDifference, RpcError> {
    let me = call.me()?;
    let record = input_channel(call, &req.channel)?;
    if req.pts <= 0 {
        return Err(error(400, "PERSISTENT_TIMESTAMP_EMPTY"));
    }
    let bot = call.store.users.get(&me).is_some_and(|u| u.bot);
    let most = if bot {
        BOT_CHANNEL_LIMIT
    } else {
        USER_CHANNEL_LIMIT
    };
    let limit = usize::try_from(req.limit.clamp(1, most)).unwrap_or(1);
    // One reading of the docs: "too long" as soon as more than `limit` is owed.
    let too_long_at = call
        .ctx
        .dc
        .quirks()
        .channel_too_long_at_limit(call.ctx.key.id())
        .then(|| u32::try_from(limit).unwrap_or(u32::MAX));
    call.world
        .channel_difference(record.spec.id, req.pts, limit, too_long_at, me)
        .ok_or_else(|| error(400, "CHANNEL_INVALID"))
}

fn init_takeout(
    call: &Call<'_>,
    _: InitTakeoutSession,
) -> Result<enums::account::Takeout, RpcError> {
    let me = call.me()?;
    let id = random_id();
    call.world.logins.takeout_start(id, me);
    Ok(types::account::Takeout { id }.into())
}

fn finish_takeout(call: &Call<'_>, _: FinishTakeoutSession) -> Result<bool, RpcError> {
    // Must itself run inside invokeWithTakeout (the guard checked the id is live).
    let id = call
        .ctx
        .takeout_id()
        .ok_or_else(|| error(400, "TAKEOUT_REQUIRED"))?;
    if call.world.logins.takeout_finish(id) {
        Ok(true)
    } else {
        Err(error(400, "TAKEOUT_INVALID"))
    }
}
