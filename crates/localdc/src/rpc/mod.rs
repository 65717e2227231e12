//! RPC dispatch: the `invoke*` wrappers come off, what they say is recorded on the auth
//! key, and the inner method goes to its handler in the [`Registry`].

mod context;
pub mod errors;
mod help;
mod layers;
pub mod mutate;
mod registry;
mod service;
mod wrappers;

use std::sync::Arc;

pub use context::{DcView, KeyView, Pushed, RequestContext, SessionPush};
pub use help::config;
pub use mutate::{HostileMutator, Mutator, MutatorHook};
pub use registry::{CallCounts, Handler, HandlerFuture, Registry, RpcResult};
pub use wrappers::{Invocation, MAX_WRAPPERS, constructor_of, unwrap};

use crate::dc::DcState;
use crate::keys::KeyEntry;

pub(crate) use context::Wake;

/// A request ready to run: its handler found (or its answer already known).
pub(crate) enum Prepared {
    /// Run this handler with this context and inner body.
    Call {
        name: &'static str,
        handler: Arc<dyn Handler>,
        ctx: RequestContext,
        body: Vec<u8>,
    },
    /// Answered without a handler (malformed wrapper, unknown method).
    Answered(RpcResult),
}

impl Prepared {
    /// Whether the request came wrapped in `initConnection`.
    pub(crate) fn inits_connection(&self) -> bool {
        matches!(self, Prepared::Call { ctx, .. } if ctx.invocation.client.is_some())
    }
}

/// Takes the wrappers off a request, records on the key what they said (the layer and
/// the client belong to the key, so later connections without `initConnection` keep
/// them), and finds the handler of the inner method. `init_due`: the connection has not
/// sent this key's `initConnection` yet and the server wants one (a quirk), so a request
/// without it is refused.
pub(crate) fn prepare(
    dc: &Arc<DcState>,
    key: &Arc<KeyEntry>,
    session_id: i64,
    msg_id: i64,
    body: &[u8],
    push: SessionPush,
    init_due: bool,
) -> Prepared {
    let (invocation, inner) = match unwrap(body) {
        Ok(unwrapped) => unwrapped,
        Err(error) => return Prepared::Answered(Err(error)),
    };
    if init_due && invocation.client.is_none() {
        return Prepared::Answered(Err(errors::connection_not_inited()));
    }
    if invocation.layer.is_some() || invocation.client.is_some() || invocation.takeout_id.is_some()
    {
        key.update_state(|state| {
            if let Some(layer) = invocation.layer {
                state.layer = Some(layer);
            }
            if let Some(client) = &invocation.client {
                state.client = Some(Arc::clone(client));
            }
            if let Some(takeout) = invocation.takeout_id {
                state.takeout_id = Some(takeout);
            }
        });
    }
    // A client of an older layer: its request read in its layer, its answer written in it.
    let declared = invocation
        .layer
        .or_else(|| key.state().layer)
        .unwrap_or(tl_types::LAYER);
    let old_layer = layers::old_layer(declared);
    let upgraded;
    let inner = match old_layer {
        Some(layer) => match layers::upgrade(inner, layer) {
            Ok(body) => {
                upgraded = body;
                upgraded.as_slice()
            }
            Err(error) => return Prepared::Answered(Err(error)),
        },
        None => inner,
    };
    let id = constructor_of(inner);
    let Some((name, handler)) = dc.registry.get(id) else {
        tracing::debug!(dc = dc.id, constructor = %format_args!("{id:#010x}"),
            "no handler: INPUT_METHOD_INVALID");
        return Prepared::Answered(Err(errors::method_invalid()));
    };
    dc.registry.calls().count(id);
    // Hostile-server mode: the answer goes through the armed mutator, after the handler.
    let mut handler = dc.registry.mutator().wrap(id, inner, handler);
    if let Some(layer) = old_layer {
        handler = Arc::new(layers::Downgrading {
            inner: handler,
            method: id,
            layer,
        });
    }
    let push = push.for_key(key);
    Prepared::Call {
        name,
        handler,
        ctx: RequestContext {
            dc: DcView::of(dc),
            key: KeyView::of(key),
            session_id,
            msg_id,
            invocation,
            push,
        },
        body: inner.to_vec(),
    }
}
