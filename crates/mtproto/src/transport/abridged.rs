//! Abridged framing: the length in 4-byte words, in one byte when below 0x7f, else `0x7f`
//! followed by three little-endian bytes.
//!
//! The client marks a quick-ack request with the top bit of the first length byte. The
//! server sends a quick-ack token as four big-endian bytes with the top bit set, which a
//! length byte (at most 0x7f) never has.

use super::wire::{error_code, need};
use super::{CodecError, Decoded, Frame, Role};

/// First-byte value announcing a 3-byte length.
const EXTENDED: u8 = 0x7f;
/// Top bit of the first byte: quick-ack request (client) or token (server).
const QUICK_ACK_BIT: u8 = 0x80;
/// Longest payload the 3-byte word count can describe.
pub(crate) const MAX_LEN: usize = 0x00ff_ffff * 4;

/// Decodes one frame from the start of `input`.
pub(crate) fn decode(input: &[u8], role: Role, max: usize) -> Result<Decoded, CodecError> {
    let Some(&first) = input.first() else {
        return Ok(need(1));
    };
    let flagged = first & QUICK_ACK_BIT != 0;
    if flagged && role == Role::Client {
        let Some(token) = input.first_chunk::<4>() else {
            return Ok(need(4));
        };
        return Ok(Decoded::Frame {
            consumed: 4,
            frame: Frame::QuickAck(u32::from_be_bytes(*token)),
        });
    }
    let marker = first & !QUICK_ACK_BIT;
    let (header, words) = if marker < EXTENDED {
        (1, usize::from(marker))
    } else {
        let Some(&[_, a, b, c]) = input.first_chunk::<4>() else {
            return Ok(need(4));
        };
        (4, u32::from_le_bytes([a, b, c, 0]) as usize)
    };
    let len = words * 4;
    if len > max {
        return Err(CodecError::TooLarge { len, max });
    }
    let end = header + len;
    let Some(payload) = input.get(header..end) else {
        return Ok(need(end));
    };
    let frame = match error_code(payload) {
        // Only the server sends transport errors; a client's 4-byte packet is just a packet.
        Some(code) if role == Role::Client && len == 4 => Frame::TransportError(code),
        _ => Frame::Packet {
            payload: header..end,
            quick_ack_requested: flagged,
        },
    };
    Ok(Decoded::Frame {
        consumed: end,
        frame,
    })
}

/// Appends one packet. The caller has checked that the length is a multiple of 4 and at most
/// [`MAX_LEN`].
pub(crate) fn write_packet(payload: &[u8], quick_ack_request: bool, out: &mut Vec<u8>) {
    let words = payload.len() / 4;
    let flag = if quick_ack_request { QUICK_ACK_BIT } else { 0 };
    out.reserve(4 + payload.len());
    if words < usize::from(EXTENDED) {
        out.push(words as u8 | flag);
    } else {
        let [a, b, c, _] = (words as u32).to_le_bytes();
        out.extend_from_slice(&[EXTENDED | flag, a, b, c]);
    }
    out.extend_from_slice(payload);
}

/// Appends a server quick-ack token: big-endian, top bit set.
pub(crate) fn write_quick_ack(token: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&(token | 0x8000_0000).to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_extended_headers() {
        let mut out = Vec::new();
        write_packet(&[0; 0x7e * 4], false, &mut out);
        assert_eq!(out[0], 0x7e);
        assert_eq!(out.len(), 1 + 0x7e * 4);

        out.clear();
        write_packet(&[0; 0x7f * 4], true, &mut out);
        assert_eq!(&out[..4], &[0xff, 0x7f, 0, 0]);

        out.clear();
        write_packet(&vec![0; 0x1_0203 * 4], false, &mut out);
        assert_eq!(&out[..4], &[0x7f, 0x03, 0x02, 0x01]);
    }

    #[test]
    fn server_reads_request_flag_client_reads_token() {
        let mut out = Vec::new();
        write_packet(&[1, 2, 3, 4, 5, 6, 7, 8], true, &mut out);
        assert_eq!(
            decode(&out, Role::Server, 1 << 20),
            Ok(Decoded::Frame {
                consumed: 9,
                frame: Frame::Packet {
                    payload: 1..9,
                    quick_ack_requested: true
                }
            })
        );
        let token = [0x81, 0x02, 0x03, 0x04];
        assert_eq!(
            decode(&token, Role::Client, 1 << 20),
            Ok(Decoded::Frame {
                consumed: 4,
                frame: Frame::QuickAck(0x8102_0304)
            })
        );
        assert_eq!(decode(&token[..3], Role::Client, 1 << 20), Ok(need(4)));
    }

    #[test]
    fn oversize_rejected_from_header_alone() {
        // 0x04_0001 words = 1 MiB + 4 bytes: one word over the maximum.
        let header = [0x7f, 0x01, 0x00, 0x04];
        assert_eq!(
            decode(&header, Role::Server, 1 << 20),
            Err(CodecError::TooLarge {
                len: (1 << 20) + 4,
                max: 1 << 20
            })
        );
        assert_eq!(
            decode(&[0x7f, 0x00, 0x00, 0x04], Role::Server, 1 << 20),
            Ok(need(4 + (1 << 20)))
        );
    }
}
