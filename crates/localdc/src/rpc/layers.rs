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

#[cfg(test)]
mod tests {
    use tl_types::Serialize;
    use tl_types::api::{enums, types};

    use super::*;

    #[test]
    fn only_older_layers_are_transcoded() {
        assert_eq!(old_layer(tl_types::LAYER), None);
        // Newer than any pinned: answered in the newest, as is.
        assert_eq!(old_layer(tl_types::LAYER + 40), None);
        assert_eq!(old_layer(198), Some(198));
        // Not pinned: the nearest older; older than all: the oldest.
        assert_eq!(old_layer(215), Some(214));
        assert_eq!(old_layer(100), Some(198));
    }

    #[test]
    fn a_push_198_cannot_read_is_not_sent_and_one_it_can_is_rewritten() {
        let unknown: enums::Update = types::UpdateStarGiftAuctionState {
            gift_id: 1,
            state: enums::StarGiftAuctionState::NotModified,
        }
        .into();
        let short: enums::Updates = types::UpdateShort {
            update: unknown,
            date: 5,
        }
        .into();
        assert_eq!(downgrade_push(short.to_bytes(), 198), None);

        let deleted: enums::Update = types::UpdateDeleteMessages {
            messages: vec![3],
            pts: 10,
            pts_count: 1,
        }
        .into();
        let known: enums::Updates = types::UpdateShort {
            update: deleted,
            date: 5,
        }
        .into();
        // updateShort and updateDeleteMessages have the same ids in 198: same bytes.
        assert_eq!(
            downgrade_push(known.to_bytes(), 198),
            Some(known.to_bytes())
        );
    }

    #[test]
    fn a_request_that_does_not_parse_in_its_layer_is_a_fetch_error() {
        assert_eq!(upgrade(&[1, 2, 3], 198), Err(errors::fetch_error()));
        assert_eq!(
            upgrade(&0xdead_beef_u32.to_le_bytes(), 198),
            Err(errors::fetch_error())
        );
    }
}
