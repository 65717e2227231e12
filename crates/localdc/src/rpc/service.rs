//! MTProto service functions that reach the application because the session layer leaves
//! them to the server: `destroy_auth_key`.

use tl_types::mtproto::enums::DestroyAuthKeyRes;
use tl_types::mtproto::functions::DestroyAuthKey;

use super::context::RequestContext;
use super::registry::Registry;

/// Registers this module's functions.
pub(crate) fn register(registry: &mut Registry) {
    // The key is forgotten at once; the answer still goes out, sealed by the session's own
    // copy of the key, and the client's next packet under it gets -404.
    registry.register_typed(|ctx: &RequestContext, _: DestroyAuthKey| {
        let id = ctx.key.id();
        Ok(if ctx.destroy_own_key() {
            tracing::info!(key_id = %format_args!("{id:#018x}"), "auth key destroyed by its owner");
            DestroyAuthKeyRes::DestroyAuthKeyOk
        } else {
            DestroyAuthKeyRes::DestroyAuthKeyNone
        })
    });
}
