//! Full framing: `len | seq | payload | crc32`, all little-endian, where `len` counts the 12
//! framing bytes, `seq` counts packets per direction from 0, and the CRC32 covers everything
//! before it.
//!
//! Quick acks work as in intermediate: the client sets the top bit of `len`; the server sends
//! a bare 4-byte token with the top bit set (no `seq`, no CRC, not counted).

use mtcrypto::hash::{Crc32, crc32};

use super::wire::{error_code, need, u32_le_at};
use super::{CodecError, Decoded, Frame, Role};

/// Top bit of the length word.
const TOP_BIT: u32 = 0x8000_0000;
/// Length, sequence number and CRC.
const FRAMING: usize = 12;
/// Longest payload the 31-bit length can describe.
pub(crate) const MAX_LEN: usize = 0x7fff_ffff - FRAMING;
/// Bare top-bit words from this value up to -1 are transport errors, not quick-ack tokens.
///
/// Telegram has been seen answering a full-transport client with a bare `-429` word in place
/// of a framed packet. Transport error codes are small, while a token is 31 hash bits, so a
/// token lands in this range about once in two million; misreading one only closes the
/// connection.
const BARE_ERROR_FLOOR: i32 = -1024;

/// Packet counters, one per direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Seqs {
    /// Number for the next packet sent.
    pub(crate) send: u32,
    /// Number the next packet received must carry.
    pub(crate) recv: u32,
}

/// Decodes one frame from the start of `input`, checking the CRC and the sequence number.
pub(crate) fn decode(
    input: &[u8],
    role: Role,
    max: usize,
    seqs: &mut Seqs,
) -> Result<Decoded, CodecError> {
    let Some(word) = u32_le_at(input, 0) else {
        return Ok(need(4));
    };
    let flagged = word & TOP_BIT != 0;
    if flagged && role == Role::Client {
        let frame = match word as i32 {
            code @ BARE_ERROR_FLOOR..=-1 => Frame::TransportError(code),
            _ => Frame::QuickAck(word),
        };
        return Ok(Decoded::Frame { consumed: 4, frame });
    }
    let len_word = word & !TOP_BIT;
    let len = len_word as usize;
    let Some(payload_len) = len.checked_sub(FRAMING) else {
        return Err(CodecError::BadLength { len: len_word });
    };
    if payload_len > max {
        return Err(CodecError::TooLarge {
            len: payload_len,
            max,
        });
    }
    let Some((body, crc)) = input.get(..len).and_then(<[u8]>::split_last_chunk::<4>) else {
        return Ok(need(len));
    };
    let actual = u32::from_le_bytes(*crc);
    let expected = crc32(body);
    if actual != expected {
        return Err(CodecError::BadCrc { expected, actual });
    }
    let seq = u32_le_at(body, 4).unwrap_or_default();
    if seq != seqs.recv {
        return Err(CodecError::BadSeq {
            expected: seqs.recv,
            actual: seq,
        });
    }
    seqs.recv = seqs.recv.wrapping_add(1);
    let payload = 8..len - 4;
    let frame = match body.get(payload.clone()).and_then(error_code) {
        Some(code) if role == Role::Client && payload_len == 4 => Frame::TransportError(code),
        _ => Frame::Packet {
            payload,
            quick_ack_requested: flagged,
        },
    };
    Ok(Decoded::Frame {
        consumed: len,
        frame,
    })
}

/// Appends one packet and advances the send counter. The caller has checked that the payload
/// is at most [`MAX_LEN`].
pub(crate) fn write_packet(
    payload: &[u8],
    quick_ack_request: bool,
    seqs: &mut Seqs,
    out: &mut Vec<u8>,
) {
    let flag = if quick_ack_request { TOP_BIT } else { 0 };
    let word = ((payload.len() + FRAMING) as u32 | flag).to_le_bytes();
    let seq = seqs.send.to_le_bytes();
    seqs.send = seqs.send.wrapping_add(1);
    let mut crc = Crc32::new();
    crc.update(&word);
    crc.update(&seq);
    crc.update(payload);
    out.reserve(FRAMING + payload.len());
    out.extend_from_slice(&word);
    out.extend_from_slice(&seq);
    out.extend_from_slice(payload);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
}

/// Appends a server quick-ack token: a bare word with the top bit set.
pub(crate) fn write_quick_ack(token: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&(token | TOP_BIT).to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_layout() {
        let mut seqs = Seqs::default();
        let mut out = Vec::new();
        write_packet(&[0xaa; 4], false, &mut seqs, &mut out);
        write_packet(&[], false, &mut seqs, &mut out);
        assert_eq!(&out[..8], &[16, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&out[8..12], &[0xaa; 4]);
        assert_eq!(&out[12..16], &crc32(&out[..12]).to_le_bytes());
        assert_eq!(&out[16..24], &[12, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(seqs.send, 2);
    }

    #[test]
    fn bare_negative_word_is_an_error_for_the_client() {
        let mut seqs = Seqs::default();
        let bytes = (-429i32).to_le_bytes();
        assert_eq!(
            decode(&bytes, Role::Client, 1 << 20, &mut seqs),
            Ok(Decoded::Frame {
                consumed: 4,
                frame: Frame::TransportError(-429)
            })
        );
        let token = 0x8123_4567u32.to_le_bytes();
        assert_eq!(
            decode(&token, Role::Client, 1 << 20, &mut seqs),
            Ok(Decoded::Frame {
                consumed: 4,
                frame: Frame::QuickAck(0x8123_4567)
            })
        );
        assert_eq!(seqs, Seqs::default(), "neither counts as a packet");
    }

    #[test]
    fn short_length_rejected() {
        let mut seqs = Seqs::default();
        assert_eq!(
            decode(&[11, 0, 0, 0], Role::Server, 1 << 20, &mut seqs),
            Err(CodecError::BadLength { len: 11 })
        );
    }
}
