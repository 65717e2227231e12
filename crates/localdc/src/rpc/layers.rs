//! Answering each client in the layer it declared (`invokeWithLayer`, recorded on its key):
//! requests written in an older layer are upgraded to the one localdc speaks, answers and
//! pushed updates downgraded (`tl_layers`). A client of the newest layer pays nothing.

use std::sync::Arc;

use super::registry::{Handler, HandlerFuture};
use super::{RequestContext, errors};
use crate::RpcError;

/// The pinned layer serving a client that declared `declared` (`None`: the newest, nothing
/// to transcode).
pub(crate) fn old_layer(declared: i32) -> Option<i32> {
    let serving = tl_layers::serving(declared);
    if serving != declared {
        tracing::debug!(declared, serving, "layer not pinned: served as the nearest");
    }
    (serving != tl_layers::newest()).then_some(serving)
}

/// The request `body` of a client of `layer`, in the newest layer. A request the client's
/// layer cannot read answers `400 INPUT_FETCH_ERROR`, as a malformed one does.
pub(crate) fn upgrade(body: &[u8], layer: i32) -> Result<Vec<u8>, RpcError> {
    tl_layers::upgrade_request(body, layer).map_err(|error| {
        tracing::debug!(%error, layer, "request does not follow its layer");
        errors::fetch_error()
    })
}

/// A pushed update (boxed `Updates`) for a client of `layer`; `None` when that layer
/// cannot express it (Telegram does not send it then).
pub(crate) fn downgrade_push(updates: Vec<u8>, layer: i32) -> Option<Vec<u8>> {
    match tl_layers::downgrade_object(&updates, layer) {
        Ok(downgraded) => downgraded,
        Err(error) => {
            // localdc wrote it: a failure here is a schema gap, so send it as it is.
            tracing::warn!(%error, layer, "update not downgraded");
            Some(updates)
        }
    }
}

/// A handler whose answers are downgraded to the client's layer.
pub(crate) struct Downgrading {
    pub(crate) inner: Arc<dyn Handler>,
    /// The method called, by its newest-layer id.
    pub(crate) method: u32,
    pub(crate) layer: i32,
}

impl Handler for Downgrading {
    fn call(&self, ctx: RequestContext, body: Vec<u8>) -> HandlerFuture {
        let answer = self.inner.call(ctx, body);
        let (method, layer) = (self.method, self.layer);
        Box::pin(async move {
            let object = answer.await?;
            match tl_layers::downgrade_answer(method, &object, layer) {
                Ok(downgraded) => Ok(downgraded),
                Err(error) => {
                    // A lying answer (hostile mode) or a schema gap: sent as it is.
                    tracing::warn!(%error, layer, method = %format_args!("{method:#010x}"),
                        "answer not downgraded");
                    Ok(object)
                }
            }
        })
    }
}
