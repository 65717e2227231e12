//! The `rpc_error`s the plumbing itself answers with. The names are Telegram's.

use crate::RpcError;

/// A method nobody registered: `400 INPUT_METHOD_INVALID`. Telegram answers unknown
/// constructors this way (sometimes with the id appended); clients treat any 400 as final.
pub fn method_invalid() -> RpcError {
    RpcError::new(400, "INPUT_METHOD_INVALID")
}

/// A request that does not parse: `400 INPUT_FETCH_ERROR`.
pub fn fetch_error() -> RpcError {
    RpcError::new(400, "INPUT_FETCH_ERROR")
}

/// Wrappers nested absurdly deep: `400 INPUT_REQUEST_TOO_LONG` (Telegram's error for a
/// request it will not unpack).
pub fn too_deep() -> RpcError {
    RpcError::new(400, "INPUT_REQUEST_TOO_LONG")
}

/// A call before `initConnection` where the server wants one first (the quirk
/// [`crate::quirks::Quirks::requiring_init_per_connection`]): `400 CONNECTION_NOT_INITED`,
/// the name Telegram's apps handle (its MTProtoKit re-sends `initConnection` on it).
pub fn connection_not_inited() -> RpcError {
    RpcError::new(400, "CONNECTION_NOT_INITED")
}

/// The key is not bound to a user: `401 AUTH_KEY_UNREGISTERED`.
pub fn auth_key_unregistered() -> RpcError {
    RpcError::new(401, "AUTH_KEY_UNREGISTERED")
}

/// A handler that failed on its own: `500 INTERNAL`.
pub fn internal() -> RpcError {
    RpcError::new(500, "INTERNAL")
}
