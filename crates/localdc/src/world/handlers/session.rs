//! Session-level methods: `updates.getState`/`getDifference` and takeout sessions.

use std::sync::Arc;

use tl_types::api::functions::account::{FinishTakeoutSession, InitTakeoutSession};
use tl_types::api::functions::updates::{GetDifference, GetState};
use tl_types::api::{enums, types};

use super::{Call, Need, error, random_id, typed};
use crate::RpcError;
use crate::rpc::Registry;
use crate::world::World;
use mtnet::clock::unix_secs;

pub(super) fn register(registry: &mut Registry, world: &Arc<World>) {
    typed(registry, world, Need::Home, |_: &Call<'_>, _: GetState| {
        // The world does not change, so the update state never moves.
        Ok(enums::updates::State::from(types::updates::State {
            pts: 1,
            qts: 0,
            date: unix_secs(),
            seq: 0,
            unread_count: 0,
        }))
    });
    typed(
        registry,
        world,
        Need::Home,
        |_: &Call<'_>, _: GetDifference| {
            // Nothing ever happens in a fixture world.
            Ok(enums::updates::Difference::from(
                types::updates::DifferenceEmpty {
                    date: unix_secs(),
                    seq: 0,
                },
            ))
        },
    );
    typed(registry, world, Need::Home, init_takeout);
    typed(registry, world, Need::Login, finish_takeout);
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
