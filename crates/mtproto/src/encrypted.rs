//! Encrypted messages (MTProto 2.0):
//! `auth_key_id (8) | msg_key (16) | AES-256-IGE(salt, session_id, msg_id, seq_no, length,
//! body, padding)`, with key and iv derived from `msg_key` and the auth key.

use mtcrypto::kdf::{Direction, derive_aes_key_iv, msg_key_large};
use mtcrypto::{AuthKey, RngCore};

use crate::error::MessageError;

/// The fields in front of the body of every encrypted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageHeader {
    pub salt: i64,
    pub session_id: i64,
    pub msg_id: i64,
    pub seq_no: i32,
}

/// One decrypted message, borrowing the decrypted packet.
#[derive(Debug, PartialEq, Eq)]
pub struct Decrypted<'a> {
    pub header: MessageHeader,
    pub body: &'a [u8],
    /// The quick-ack token this message earns: the first 32 bits of `msg_key_large` with the
    /// top bit set.
    pub quick_ack: u32,
}

/// auth_key_id + msg_key.
const OUTER: usize = 24;
/// salt + session_id + msg_id + seq_no + length.
const INNER: usize = 32;
const MIN_PADDING: usize = 12;
const MAX_PADDING: usize = 1024;
/// Messages this large cannot be framed by any transport.
pub const MAX_MESSAGE: usize = 16 << 20;

/// The auth_key_id a packet is addressed to, if it is long enough to say.
pub fn auth_key_id(packet: &[u8]) -> Option<u64> {
    packet.first_chunk::<8>().map(|id| u64::from_le_bytes(*id))
}

/// Appends the encrypted form of `body` to `out` and returns its quick-ack token.
///
/// The padding is 12 bytes or more, random in length (up to 15 extra blocks) and content,
/// so that message lengths leak less.
pub fn encrypt(
    auth_key: &AuthKey,
    direction: Direction,
    header: &MessageHeader,
    body: &[u8],
    rng: &mut impl RngCore,
    out: &mut Vec<u8>,
) -> Result<u32, MessageError> {
    if body.len() > MAX_MESSAGE || !body.len().is_multiple_of(4) {
        return Err(MessageError::TooLarge { len: body.len() });
    }
    let unpadded = INNER + body.len() + MIN_PADDING;
    let extra_blocks = (rng.next_u32() % 16) as usize;
    let plain_len = unpadded.next_multiple_of(16) + 16 * extra_blocks;

    let start = out.len();
    out.reserve(OUTER + plain_len);
    out.extend_from_slice(&auth_key.key_id().to_le_bytes());
    out.extend_from_slice(&[0; 16]);
    out.extend_from_slice(&header.salt.to_le_bytes());
    out.extend_from_slice(&header.session_id.to_le_bytes());
    out.extend_from_slice(&header.msg_id.to_le_bytes());
    out.extend_from_slice(&header.seq_no.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    let padding_start = out.len();
    out.resize(start + OUTER + plain_len, 0);

    let Some(packet) = out.get_mut(start..) else {
        return Err(MessageError::TooShort { len: 0 });
    };
    let (outer, plain) = packet.split_at_mut(OUTER);
    if let Some(padding) = plain.get_mut(padding_start - start - OUTER..) {
        rng.fill_bytes(padding);
    }
    let large = msg_key_large(auth_key, plain, direction);
    let msg_key = middle(&large);
    if let Some(key_slot) = outer.get_mut(8..) {
        key_slot.copy_from_slice(&msg_key);
    }
    derive_aes_key_iv(auth_key, &msg_key, direction)
        .encrypt(plain)
        .map_err(|_| MessageError::BadLength {
            length: plain_len,
            available: plain_len,
        })?;
    Ok(quick_ack_token(&large))
}

/// Decrypts `packet` in place and checks it: auth key id, `msg_key` against the decrypted
/// contents, the length field, and a padding of 12..=1024 bytes. Up to 15 trailing bytes
/// that do not fill a block (padded intermediate transport) are ignored.
pub fn decrypt<'a>(
    auth_key: &AuthKey,
    direction: Direction,
    packet: &'a mut [u8],
) -> Result<Decrypted<'a>, MessageError> {
    let len = packet.len();
    if len < OUTER + INNER + 16 {
        return Err(MessageError::TooShort { len });
    }
    let (outer, rest) = packet.split_at_mut(OUTER);
    let aligned = rest.len() - rest.len() % 16;
    let (plain, _) = rest.split_at_mut(aligned);
    let (key_id, received_key) = outer.split_at(8);
    let received = u64::from_le_bytes(key_id.try_into().unwrap_or_default());
    if received != auth_key.key_id() {
        return Err(MessageError::WrongAuthKey {
            expected: auth_key.key_id(),
            received,
        });
    }
    let received_key: [u8; 16] = received_key.try_into().unwrap_or_default();
    derive_aes_key_iv(auth_key, &received_key, direction)
        .decrypt(plain)
        .map_err(|_| MessageError::TooShort { len })?;
    let large = msg_key_large(auth_key, plain, direction);
    if !constant_time_eq(&middle(&large), &received_key) {
        return Err(MessageError::MsgKeyMismatch);
    }

    let (fields, payload) = plain.split_at(INNER);
    let word = |at: usize| -> [u8; 8] {
        fields
            .get(at..at + 8)
            .and_then(|s| s.try_into().ok())
            .unwrap_or_default()
    };
    let header = MessageHeader {
        salt: i64::from_le_bytes(word(0)),
        session_id: i64::from_le_bytes(word(8)),
        msg_id: i64::from_le_bytes(word(16)),
        seq_no: i32::from_le_bytes(word(24)[..4].try_into().unwrap_or_default()),
    };
    let length = u32::from_le_bytes(word(24)[4..].try_into().unwrap_or_default()) as usize;
    if length > payload.len() || !length.is_multiple_of(4) {
        return Err(MessageError::BadLength {
            length,
            available: payload.len(),
        });
    }
    let padding = payload.len() - length;
    if !(MIN_PADDING..=MAX_PADDING).contains(&padding) {
        return Err(MessageError::BadPadding { padding });
    }
    Ok(Decrypted {
        header,
        body: payload.get(..length).unwrap_or_default(),
        quick_ack: quick_ack_token(&large),
    })
}

fn middle(large: &[u8; 32]) -> [u8; 16] {
    let mut key = [0; 16];
    key.copy_from_slice(&large[8..24]);
    key
}

fn quick_ack_token(large: &[u8; 32]) -> u32 {
    u32::from_le_bytes([large[0], large[1], large[2], large[3]]) | 0x8000_0000
}

fn constant_time_eq(a: &[u8; 16], b: &[u8; 16]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
