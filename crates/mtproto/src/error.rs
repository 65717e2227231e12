use thiserror::Error;

/// Why a packet is not an acceptable MTProto message. Every one of these means the packet is
/// dropped (a real server closes the connection); none is reachable as a panic.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageError {
    #[error("packet of {len} bytes is too short for an MTProto message")]
    TooShort { len: usize },
    #[error("expected a plain message (auth_key_id 0)")]
    NotPlain,
    #[error("message for auth key {received:#018x}, not {expected:#018x}")]
    WrongAuthKey { expected: u64, received: u64 },
    #[error("msg_key does not match the decrypted contents")]
    MsgKeyMismatch,
    #[error("message length {length} does not fit the {available} bytes available")]
    BadLength { length: usize, available: usize },
    #[error("padding of {padding} bytes is outside 12..=1024")]
    BadPadding { padding: usize },
    #[error("message of {len} bytes is too large to send")]
    TooLarge { len: usize },
}
