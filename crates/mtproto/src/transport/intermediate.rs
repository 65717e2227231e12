//! Intermediate framing (a 4-byte little-endian length before each packet) and its padded
//! variant (the sender appends random bytes, counted in the length: up to 15 as the transport
//! documentation allows, or up to 3 as deployed servers do; see [`PaddingStyle`]).
//!
//! The top bit of the length word is a quick-ack request from the client; from the server a
//! word with the top bit set is itself the quick-ack token, with nothing after it.

use rand_core::RngCore;

use super::wire::{error_code, need, u32_le_at};
use super::{CodecError, Decoded, Frame, Role};

/// How many random bytes a padded-intermediate sender appends to each packet.
///
/// Receivers must accept up to 15, since that is what the transport documentation allows and
/// what clients send: TDLib's `IntermediateTransport::write_prepare_inplace`
/// (`td/mtproto/TcpTransport.cpp`) appends `secure_uint32() % 16` bytes. Telegram's side
/// pads less: the official MTProxy (github TelegramMessenger/MTProxy) appends
/// `lrand48_j() & 3` bytes to what it sends a padded client (`tcp_rpc_write_packet_compact`
/// in `net/net-tcp-rpc-common.c`, under flag `RPC_F_PAD`) and cuts what it reads down to a
/// multiple of 4 (`tcp_rpcs_compact_parse_execute` in `net/net-tcp-rpc-ext-server.c`).
/// Clients written against that, such as Telethon's `RandomizedIntermediatePacketCodec`,
/// strip only `len % 4` bytes and break on longer padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PaddingStyle {
    /// 0..=3 bytes, as Telegram's servers and proxies send.
    #[default]
    Deployed,
    /// 0..=15 bytes, the whole range the documentation allows (and what TDLib sends as a
    /// client).
    FullRange,
}

impl PaddingStyle {
    /// The most bytes this style appends.
    pub fn max_len(self) -> usize {
        match self {
            PaddingStyle::Deployed => 3,
            PaddingStyle::FullRange => MAX_PADDING,
        }
    }
}

/// Top bit of the length word.
const TOP_BIT: u32 = 0x8000_0000;
/// Most padding a padded-intermediate sender appends.
pub(crate) const MAX_PADDING: usize = 15;
/// Longest packet (payload plus padding) the 31-bit length can describe.
pub(crate) const MAX_LEN: usize = 0x7fff_ffff;

/// Decodes one frame from the start of `input`. With `padded`, packets may exceed `max` by the
/// padding, so that `max` bounds the payload alike for every transport.
pub(crate) fn decode(
    input: &[u8],
    role: Role,
    max: usize,
    padded: bool,
) -> Result<Decoded, CodecError> {
    let Some(word) = u32_le_at(input, 0) else {
        return Ok(need(4));
    };
    let flagged = word & TOP_BIT != 0;
    if flagged && role == Role::Client {
        return Ok(Decoded::Frame {
            consumed: 4,
            frame: Frame::QuickAck(word),
        });
    }
    let len = (word & !TOP_BIT) as usize;
    let limit = if padded {
        max.saturating_add(MAX_PADDING)
    } else {
        max
    };
    if len > limit {
        return Err(CodecError::TooLarge { len, max: limit });
    }
    let end = 4 + len;
    let Some(payload) = input.get(4..end) else {
        return Ok(need(end));
    };
    // A padded server may pad its error too; no MTProto message is shorter than 20 bytes.
    let error_len = if padded { 4..=4 + MAX_PADDING } else { 4..=4 };
    let frame = match error_code(payload) {
        Some(code) if role == Role::Client && error_len.contains(&len) => {
            Frame::TransportError(code)
        }
        _ => Frame::Packet {
            payload: 4..end,
            quick_ack_requested: flagged,
        },
    };
    Ok(Decoded::Frame {
        consumed: end,
        frame,
    })
}

/// Random padding for one padded-intermediate packet: up to [`MAX_PADDING`] random bytes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Padding {
    bytes: [u8; MAX_PADDING],
    len: usize,
}

impl Padding {
    /// No padding (plain intermediate, and transport errors).
    pub(crate) fn none() -> Self {
        Self::default()
    }

    /// A random length within `style`'s range and random bytes, from one call to the random
    /// source.
    pub(crate) fn random<R: RngCore + ?Sized>(rng: &mut R, style: PaddingStyle) -> Self {
        let mut random = [0u8; 1 + MAX_PADDING];
        rng.fill_bytes(&mut random);
        let [len, bytes @ ..] = random;
        Self {
            bytes,
            len: usize::from(len) % (style.max_len() + 1),
        }
    }

    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// Appends one packet followed by `padding`. The caller has checked that the payload plus
/// [`MAX_PADDING`] fits in [`MAX_LEN`].
pub(crate) fn write_packet(
    payload: &[u8],
    quick_ack_request: bool,
    padding: &Padding,
    out: &mut Vec<u8>,
) {
    let padding = padding.as_slice();
    let len = payload.len() + padding.len();
    let flag = if quick_ack_request { TOP_BIT } else { 0 };
    out.reserve(4 + len);
    out.extend_from_slice(&(len as u32 | flag).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(padding);
}

/// Appends a server quick-ack token: the length word with the top bit set.
pub(crate) fn write_quick_ack(token: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&(token | TOP_BIT).to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    /// Which padding lengths 500 packets of `style` carry.
    fn lengths_seen(style: PaddingStyle) -> [bool; MAX_PADDING + 1] {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut seen = [false; MAX_PADDING + 1];
        for _ in 0..500 {
            let mut out = Vec::new();
            write_packet(&[7; 8], false, &Padding::random(&mut rng, style), &mut out);
            let len = u32_le_at(&out, 0).unwrap() as usize;
            assert_eq!(out.len(), 4 + len);
            assert_eq!(&out[4..12], &[7; 8]);
            seen[len - 8] = true;
        }
        seen
    }

    #[test]
    fn full_range_padding_takes_every_length_up_to_15() {
        assert!(
            lengths_seen(PaddingStyle::FullRange).iter().all(|s| *s),
            "every padding length 0..=15 occurs"
        );
    }

    #[test]
    fn deployed_padding_takes_every_length_up_to_3_and_no_more() {
        let seen = lengths_seen(PaddingStyle::Deployed);
        assert_eq!(seen[..4], [true; 4], "every padding length 0..=3 occurs");
        assert_eq!(seen[4..], [false; MAX_PADDING - 3], "nothing longer");
    }

    #[test]
    fn padded_error_with_padding_is_recognized() {
        let mut packet = 7u32.to_le_bytes().to_vec();
        packet.extend_from_slice(&(-429i32).to_le_bytes());
        packet.extend_from_slice(&[1, 2, 3]);
        let expected = Ok(Decoded::Frame {
            consumed: 11,
            frame: Frame::TransportError(-429),
        });
        assert_eq!(decode(&packet, Role::Client, 1 << 20, true), expected);
        // Unpadded intermediate: only an exact 4-byte packet is an error.
        assert!(matches!(
            decode(&packet, Role::Client, 1 << 20, false),
            Ok(Decoded::Frame {
                frame: Frame::Packet { .. },
                ..
            })
        ));
    }
}
