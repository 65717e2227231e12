//! What a client speaks, from the first bytes it sent to a server port.
//!
//! Rules, in order (the order settles every overlap):
//! 1. first byte `ef`: abridged;
//! 2. first word `ee ee ee ee` / `dd dd dd dd`: intermediate / padded intermediate;
//! 3. first word `POST`, `GET `, `HEAD` or `OPTI`: HTTP (the caller tells a WebSocket
//!    upgrade from a plain POST, and rejects other methods);
//! 4. `16 03 01` or `16 03 03` and a record length up to 2^14: fake TLS (a TLS handshake
//!    record, the ClientHello an MTProxy client sends; current clients send about 1.7 KB,
//!    older ones 512 + 5 bytes). tgdl's obfuscated headers avoid all of these, but TDLib's
//!    avoid only `16 03 01 02` (`ObfuscatedTransport::init`) and Telethon's none, so about
//!    one of their headers in 2^25 also matches and that connection is refused;
//! 5. bytes 4..8 zero: full, if the first word is a plausible first-packet length
//!    (12 framing bytes up to the maximum, quick-ack bit ignored); otherwise no valid client;
//! 6. anything else: obfuscated, once its 64-byte header is in.
//!
//! Apart from that, the rules never contradict a well-behaved client: an obfuscated header
//! avoids the other prefixes above and has non-zero bytes 4..8, which a full stream's first
//! sequence number (0) never has. Nor does a full stream hit rules 1-4: its lengths are
//! multiples of 4 (so never start with `ef` or `16`), and every other tagged word read as a
//! length is far above the default maximum. Detection only classifies; the codec or
//! [`Obfuscation::server`] that takes over may still reject the stream.
//!
//! [`Obfuscation::server`]: super::Obfuscation::server

use super::DEFAULT_MAX_PACKET;
use super::fake_tls::is_hello_record_start;
use super::obfuscation::HEADER_LEN;
use super::wire::u32_le_at;

/// The outcome of [`detect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Detected {
    /// Not enough bytes to tell; nothing is decided until the input is `at_least` long.
    NeedMore {
        /// Input length needed for the next attempt to make progress.
        at_least: usize,
    },
    /// Abridged; the stream starts with its `ef` tag.
    Abridged,
    /// Intermediate; the stream starts with its tag.
    Intermediate,
    /// Padded intermediate; the stream starts with its tag.
    PaddedIntermediate,
    /// An HTTP request (MTProto over HTTP, or a WebSocket upgrade).
    Http,
    /// A TLS ClientHello: an MTProxy fake-TLS client.
    FakeTls,
    /// The full transport, first packet at byte 0.
    Full,
    /// An obfuscated stream; its 64-byte header is in the input.
    Obfuscated,
    /// No valid client starts like this (bytes 4..8 zero but not a plausible full packet).
    Unrecognized,
}

/// First words that decide the protocol on their own.
const TAGGED: [([u8; 4], Detected); 6] = [
    ([0xee; 4], Detected::Intermediate),
    ([0xdd; 4], Detected::PaddedIntermediate),
    (*b"POST", Detected::Http),
    (*b"GET ", Detected::Http),
    (*b"HEAD", Detected::Http),
    (*b"OPTI", Detected::Http),
];
/// Highest first byte of a ClientHello record's length: TLS bounds a plaintext record by
/// 2^14 bytes.
const MAX_HELLO_LEN_HIGH: u8 = 0x40;

/// Classifies a stream from its first bytes, with full-transport lengths bounded by
/// [`DEFAULT_MAX_PACKET`]. See the module documentation for the rules.
pub fn detect(input: &[u8]) -> Detected {
    detect_with_max(input, DEFAULT_MAX_PACKET)
}

/// Like [`detect`], with full-transport payloads bounded by `max_packet`.
pub fn detect_with_max(input: &[u8], max_packet: usize) -> Detected {
    let Some(&first) = input.first() else {
        return Detected::NeedMore { at_least: 1 };
    };
    if first == 0xef {
        return Detected::Abridged;
    }
    let head = input.get(..4).unwrap_or(input);
    for (word, detected) in TAGGED {
        if word.starts_with(head) {
            return if head.len() == 4 {
                detected
            } else {
                Detected::NeedMore { at_least: 4 }
            };
        }
    }
    if is_hello_record_start(head) || (head.len() < 3 && [0x16, 0x03].starts_with(head)) {
        return match head.get(3) {
            Some(&high) if high <= MAX_HELLO_LEN_HIGH => Detected::FakeTls,
            Some(_) => fall_through(input, max_packet),
            None => Detected::NeedMore { at_least: 4 },
        };
    }
    fall_through(input, max_packet)
}

/// Rules 5 and 6.
fn fall_through(input: &[u8], max_packet: usize) -> Detected {
    // Bytes 4..8 split the rest: zero for full (seq 0), never zero for obfuscated.
    if input.iter().skip(4).take(4).all(|&b| b == 0) {
        if input.len() < 8 {
            return Detected::NeedMore { at_least: 8 };
        }
        let plausible = u32_le_at(input, 0)
            .map(|word| (word & 0x7fff_ffff) as usize)
            .and_then(|len| len.checked_sub(12))
            .is_some_and(|payload| payload <= max_packet);
        return if plausible {
            Detected::Full
        } else {
            Detected::Unrecognized
        };
    }
    if input.len() < HEADER_LEN {
        Detected::NeedMore {
            at_least: HEADER_LEN,
        }
    } else {
        Detected::Obfuscated
    }
}
