//! What a handler knows about the request it serves.

use std::sync::Arc;

use crate::dc::DcState;
use crate::keys::KeyEntry;

use super::wrappers::Invocation;

/// The request being served: where it came from and what its wrappers said.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The DC serving it (its id, the directory of all DCs, its key store...).
    pub dc: Arc<DcState>,
    /// The auth key the request was encrypted with.
    pub key: Arc<KeyEntry>,
    /// The client's session.
    pub session_id: i64,
    /// The request's msg_id.
    pub msg_id: i64,
    /// What the `invoke*` wrappers around this very request said.
    pub invocation: Invocation,
}

impl RequestContext {
    /// The id of the DC serving the request.
    pub fn dc_id(&self) -> i32 {
        self.dc.id()
    }

    /// The client's layer: this request's `invokeWithLayer`, else the one recorded on the
    /// key, else this crate's.
    pub fn layer(&self) -> i32 {
        self.invocation
            .layer
            .or(self.key.state().layer)
            .unwrap_or(tl_types::LAYER)
    }

    /// The takeout session the request runs in, if any.
    pub fn takeout_id(&self) -> Option<i64> {
        self.invocation.takeout_id
    }
}

/// The wall clock in unix seconds, as TL dates want it.
pub use mtnet::clock::unix_secs as unix_now;
