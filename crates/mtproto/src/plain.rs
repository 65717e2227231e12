//! Unencrypted messages (auth_key_id = 0), used only by the auth-key handshake:
//! `auth_key_id (8) | msg_id (8) | length (4) | body`.

use crate::error::MessageError;

/// One decoded plain message, borrowing the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainMessage<'a> {
    pub msg_id: i64,
    pub body: &'a [u8],
}

const HEADER: usize = 20;

/// Appends a plain message carrying `body` to `out`.
pub fn encode_plain(msg_id: i64, body: &[u8], out: &mut Vec<u8>) {
    out.reserve(HEADER + body.len());
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&msg_id.to_le_bytes());
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(body);
}

/// Reads a plain message. Bytes after the announced length are ignored: the padded
/// intermediate transport appends up to 15 random bytes.
pub fn decode_plain(packet: &[u8]) -> Result<PlainMessage<'_>, MessageError> {
    let Some((header, rest)) = packet.split_first_chunk::<HEADER>() else {
        return Err(MessageError::TooShort { len: packet.len() });
    };
    let (key_id, header) = header.split_at(8);
    if key_id != [0; 8] {
        return Err(MessageError::NotPlain);
    }
    let (msg_id, len) = header.split_at(8);
    let msg_id = i64::from_le_bytes(msg_id.try_into().unwrap_or_default());
    let len = u32::from_le_bytes(len.try_into().unwrap_or_default()) as usize;
    let body = rest.get(..len).ok_or(MessageError::BadLength {
        length: len,
        available: rest.len(),
    })?;
    Ok(PlainMessage { msg_id, body })
}
