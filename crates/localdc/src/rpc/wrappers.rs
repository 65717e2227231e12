//! Taking `invokeWithLayer`, `initConnection` and the other `invoke*` wrappers off a
//! request, remembering what each said.

use std::sync::Arc;

use tl_types::api::enums::MessageRange;
use tl_types::api::functions::{
    InitConnection, InvokeAfterMsg, InvokeAfterMsgs, InvokeWithLayer, InvokeWithMessagesRange,
    InvokeWithTakeout, InvokeWithoutUpdates,
};
use tl_types::{Deserialize, Identifiable, Reader};

use super::errors;
use crate::RpcError;
use crate::keys::ClientInfo;

/// The most wrappers one request may nest (real clients use two or three).
pub const MAX_WRAPPERS: usize = 16;

/// What the wrappers around a request said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Invocation {
    /// `invokeWithLayer`'s layer.
    pub layer: Option<i32>,
    /// `initConnection`'s description of the client.
    pub client: Option<Arc<ClientInfo>>,
    /// `invokeAfterMsg`/`invokeAfterMsgs`: requests this one must follow.
    pub after_msgs: Vec<i64>,
    /// `invokeWithoutUpdates`: the client wants no updates on this connection.
    pub without_updates: bool,
    /// `invokeWithMessagesRange`'s range (takeout).
    pub messages_range: Option<MessageRange>,
    /// `invokeWithTakeout`'s takeout id.
    pub takeout_id: Option<i64>,
}

/// A zero-width placeholder for the wrapped query: parsing a wrapper with it stops the
/// reader right where the query starts, so nothing is copied.
struct Tail;

impl Deserialize for Tail {
    fn deserialize(_: &mut Reader<'_>) -> Result<Self, tl_types::Error> {
        Ok(Tail)
    }
}

/// Splits `body` into what the wrappers said and the inner method (a slice of `body`).
/// A wrapper that does not parse answers `400 INPUT_FETCH_ERROR`.
pub fn unwrap(body: &[u8]) -> Result<(Invocation, &[u8]), RpcError> {
    let mut invocation = Invocation::default();
    let mut rest = body;
    for _ in 0..=MAX_WRAPPERS {
        match peel(rest, &mut invocation) {
            Ok(Some(inner)) => rest = inner,
            Ok(None) => return Ok((invocation, rest)),
            Err(error) => {
                tracing::debug!(%error, "malformed invoke wrapper");
                return Err(errors::fetch_error());
            }
        }
    }
    Err(errors::too_deep())
}

/// The constructor id a body starts with (0 for a body too short to have one).
pub fn constructor_of(body: &[u8]) -> u32 {
    body.first_chunk::<4>()
        .map_or(0, |id| u32::from_le_bytes(*id))
}

/// Takes one wrapper off `body`, or `None` when `body` is not a wrapper.
fn peel<'a>(
    body: &'a [u8],
    invocation: &mut Invocation,
) -> Result<Option<&'a [u8]>, tl_types::Error> {
    let mut reader = Reader::new(body);
    match constructor_of(body) {
        InvokeWithLayer::<Tail>::CONSTRUCTOR_ID => {
            let wrapper = InvokeWithLayer::<Tail>::deserialize(&mut reader)?;
            invocation.layer = Some(wrapper.layer);
        }
        InitConnection::<Tail>::CONSTRUCTOR_ID => {
            let init = InitConnection::<Tail>::deserialize(&mut reader)?;
            invocation.client = Some(Arc::new(ClientInfo {
                api_id: init.api_id,
                device_model: init.device_model,
                system_version: init.system_version,
                app_version: init.app_version,
                system_lang_code: init.system_lang_code,
                lang_pack: init.lang_pack,
                lang_code: init.lang_code,
            }));
        }
        InvokeAfterMsg::<Tail>::CONSTRUCTOR_ID => {
            let wrapper = InvokeAfterMsg::<Tail>::deserialize(&mut reader)?;
            invocation.after_msgs.push(wrapper.msg_id);
        }
        InvokeAfterMsgs::<Tail>::CONSTRUCTOR_ID => {
            let wrapper = InvokeAfterMsgs::<Tail>::deserialize(&mut reader)?;
            invocation.after_msgs.extend(wrapper.msg_ids);
        }
        InvokeWithoutUpdates::<Tail>::CONSTRUCTOR_ID => {
            InvokeWithoutUpdates::<Tail>::deserialize(&mut reader)?;
            invocation.without_updates = true;
        }
        InvokeWithMessagesRange::<Tail>::CONSTRUCTOR_ID => {
            let wrapper = InvokeWithMessagesRange::<Tail>::deserialize(&mut reader)?;
            invocation.messages_range = Some(wrapper.range);
        }
        InvokeWithTakeout::<Tail>::CONSTRUCTOR_ID => {
            let wrapper = InvokeWithTakeout::<Tail>::deserialize(&mut reader)?;
            invocation.takeout_id = Some(wrapper.takeout_id);
        }
        _ => return Ok(None),
    }
    Ok(Some(reader.remaining()))
}

#[cfg(test)]
mod tests {
    use tl_types::api::functions::help::GetConfig;
    use tl_types::api::types::MessageRange as Range;
    use tl_types::{Blob, Serialize};

    use super::*;

    fn init(query: Blob) -> InitConnection<Blob> {
        InitConnection {
            api_id: 7,
            device_model: "dev".into(),
            system_version: "sys".into(),
            app_version: "1.0".into(),
            system_lang_code: "en".into(),
            lang_pack: String::new(),
            lang_code: "en".into(),
            proxy: None,
            params: None,
            query,
        }
    }

    #[test]
    fn every_wrapper_comes_off() {
        let inner = GetConfig {}.to_bytes();
        let body = InvokeWithLayer {
            layer: 229,
            query: init(Blob(
                InvokeWithoutUpdates {
                    query: InvokeAfterMsgs {
                        msg_ids: vec![4, 8],
                        query: InvokeAfterMsg {
                            msg_id: 12,
                            query: InvokeWithTakeout {
                                takeout_id: 99,
                                query: InvokeWithMessagesRange {
                                    range: Range {
                                        min_id: 1,
                                        max_id: 2,
                                    }
                                    .into(),
                                    query: Blob(inner.clone()),
                                },
                            },
                        },
                    },
                }
                .to_bytes(),
            )),
        }
        .to_bytes();
        let (invocation, method) = unwrap(&body).unwrap();
        assert_eq!(method, inner.as_slice());
        assert_eq!(invocation.layer, Some(229));
        assert_eq!(invocation.client.unwrap().api_id, 7);
        assert_eq!(invocation.after_msgs, vec![4, 8, 12]);
        assert!(invocation.without_updates);
        assert_eq!(invocation.takeout_id, Some(99));
        assert!(invocation.messages_range.is_some());
    }

    #[test]
    fn hostile_wrappers_are_refused() {
        // Cut short inside initConnection.
        let body = InvokeWithLayer {
            layer: 229,
            query: init(Blob(GetConfig {}.to_bytes())),
        }
        .to_bytes();
        assert_eq!(unwrap(&body[..20]).unwrap_err(), errors::fetch_error());
        // Nested past the limit.
        let mut deep = GetConfig {}.to_bytes();
        for _ in 0..=MAX_WRAPPERS {
            deep = InvokeWithoutUpdates { query: Blob(deep) }.to_bytes();
        }
        assert_eq!(unwrap(&deep).unwrap_err(), errors::too_deep());
        // Not a wrapper at all: passed through, even when empty.
        assert_eq!(unwrap(&[]).unwrap().1, &[] as &[u8]);
    }
}
