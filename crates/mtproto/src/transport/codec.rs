//! [`Codec`]: the framing of one connection, for any transport kind and either role.

use rand_core::RngCore;

use super::full::Seqs;
use super::intermediate::Padding;
use super::{CodecError, Decoded, PaddingStyle, Role, TransportKind, abridged, full, intermediate};

/// Default largest payload a codec accepts: 16 MiB plus room for MTProto's own envelope.
/// Longer length prefixes are rejected as soon as they are read, before any buffering.
pub const DEFAULT_MAX_PACKET: usize = (16 << 20) + 4096;

/// Framing for one connection: encodes outgoing packets, decodes incoming ones.
///
/// Dispatches on the [`TransportKind`]; the [`Role`] decides who sends the init tag, what a
/// flagged length means, and who may send quick-ack tokens and transport errors.
#[derive(Debug, Clone)]
pub struct Codec {
    kind: TransportKind,
    role: Role,
    max_packet: usize,
    /// Client: the init tag still has to go out before the first packet.
    send_tag: bool,
    /// Server: the init tag still has to be checked and skipped.
    expect_tag: bool,
    /// Packet counters; only the full transport uses them.
    seqs: Seqs,
    /// How much padded intermediate pads what this end sends.
    padding: PaddingStyle,
}

impl Codec {
    /// A codec for a plain stream: the client sends the kind's init tag before its first
    /// packet and the server checks and skips it.
    ///
    /// Padded intermediate pads as each side does in practice (see [`PaddingStyle`]): a
    /// client with up to 15 bytes, as TDLib does, a server with up to 3, as Telegram does.
    pub fn new(kind: TransportKind, role: Role) -> Self {
        let has_tag = !kind.init_tag().is_empty();
        Self {
            kind,
            role,
            max_packet: DEFAULT_MAX_PACKET,
            send_tag: has_tag && role == Role::Client,
            expect_tag: has_tag && role == Role::Server,
            seqs: Seqs::default(),
            padding: match role {
                Role::Client => PaddingStyle::FullRange,
                Role::Server => PaddingStyle::Deployed,
            },
        }
    }

    /// Shorthand for `Codec::new(kind, Role::Client)`.
    pub fn client(kind: TransportKind) -> Self {
        Self::new(kind, Role::Client)
    }

    /// Shorthand for `Codec::new(kind, Role::Server)`.
    pub fn server(kind: TransportKind) -> Self {
        Self::new(kind, Role::Server)
    }

    /// No init tag on the stream: for obfuscated connections, where the tag travels inside
    /// the 64-byte header, or when the tag was already consumed by the caller.
    #[must_use]
    pub fn without_init_tag(mut self) -> Self {
        self.send_tag = false;
        self.expect_tag = false;
        self
    }

    /// Sets the largest payload accepted in both directions (default [`DEFAULT_MAX_PACKET`]).
    #[must_use]
    pub fn with_max_packet(mut self, max_packet: usize) -> Self {
        self.max_packet = max_packet;
        self
    }

    /// Sets how padded intermediate pads the packets this end sends (other kinds do not
    /// pad). Decoding is unaffected: up to 15 bytes of padding are always accepted.
    #[must_use]
    pub fn with_padding(mut self, padding: PaddingStyle) -> Self {
        self.padding = padding;
        self
    }

    /// How padded intermediate pads what this end sends.
    pub fn padding(&self) -> PaddingStyle {
        self.padding
    }

    /// The transport kind.
    pub fn kind(&self) -> TransportKind {
        self.kind
    }

    /// The role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The largest payload accepted.
    pub fn max_packet(&self) -> usize {
        self.max_packet
    }

    /// Decodes the first frame of `input`, the unconsumed bytes received so far.
    ///
    /// Returns [`Decoded::NeedMore`] without consuming anything while the frame is
    /// incomplete; a length prefix above the maximum is an error at once. Payloads are
    /// returned as ranges into `input` (see [`Frame`](super::Frame)).
    pub fn decode(&mut self, input: &[u8]) -> Result<Decoded, CodecError> {
        let skip = self.incoming_tag_len(input)?;
        let rest = input.get(skip..).unwrap_or_default();
        let decoded = match self.kind {
            TransportKind::Abridged => abridged::decode(rest, self.role, self.max_packet),
            TransportKind::Intermediate => {
                intermediate::decode(rest, self.role, self.max_packet, false)
            }
            TransportKind::PaddedIntermediate => {
                intermediate::decode(rest, self.role, self.max_packet, true)
            }
            TransportKind::Full => full::decode(rest, self.role, self.max_packet, &mut self.seqs),
        }?;
        Ok(match decoded {
            Decoded::NeedMore { at_least } => Decoded::NeedMore {
                at_least: at_least + skip,
            },
            Decoded::Frame { consumed, frame } => {
                self.expect_tag = false;
                Decoded::Frame {
                    consumed: consumed + skip,
                    frame: frame.shifted(skip),
                }
            }
        })
    }

    /// Appends `payload` as one packet to `out` (after the init tag, for a client's first
    /// packet). `rng` is only used for padded intermediate's padding.
    pub fn encode<R: RngCore + ?Sized>(
        &mut self,
        payload: &[u8],
        out: &mut Vec<u8>,
        rng: &mut R,
    ) -> Result<(), CodecError> {
        self.encode_packet(payload, false, out, rng)
    }

    /// Like [`Codec::encode`], asking the server for a quick ack of this packet. Client only.
    pub fn encode_quick_ack_request<R: RngCore + ?Sized>(
        &mut self,
        payload: &[u8],
        out: &mut Vec<u8>,
        rng: &mut R,
    ) -> Result<(), CodecError> {
        self.require(Role::Client, "request a quick ack")?;
        self.encode_packet(payload, true, out, rng)
    }

    /// Appends a quick-ack token. The top bit is always set on the wire, since that is what
    /// marks the word as a token. Server only.
    pub fn encode_quick_ack(&mut self, token: u32, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.require(Role::Server, "send a quick-ack token")?;
        match self.kind {
            TransportKind::Abridged => abridged::write_quick_ack(token, out),
            TransportKind::Intermediate | TransportKind::PaddedIntermediate => {
                intermediate::write_quick_ack(token, out);
            }
            TransportKind::Full => full::write_quick_ack(token, out),
        }
        Ok(())
    }

    /// Appends a transport error: a packet holding exactly the 4-byte negative `code`.
    /// Server only.
    ///
    /// Padded intermediate sends it unpadded: clients that only recognize an exact 4-byte
    /// packet still see the error, and the client decoder accepts both forms.
    pub fn encode_transport_error(
        &mut self,
        code: i32,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        self.require(Role::Server, "send a transport error")?;
        if code >= 0 {
            return Err(CodecError::NotAnErrorCode { code });
        }
        let payload = code.to_le_bytes();
        match self.kind {
            TransportKind::Abridged => abridged::write_packet(&payload, false, out),
            TransportKind::Intermediate | TransportKind::PaddedIntermediate => {
                intermediate::write_packet(&payload, false, &Padding::none(), out);
            }
            TransportKind::Full => full::write_packet(&payload, false, &mut self.seqs, out),
        }
        Ok(())
    }

    fn encode_packet<R: RngCore + ?Sized>(
        &mut self,
        payload: &[u8],
        quick_ack_request: bool,
        out: &mut Vec<u8>,
        rng: &mut R,
    ) -> Result<(), CodecError> {
        self.check_payload(payload.len())?;
        if self.send_tag {
            out.extend_from_slice(self.kind.init_tag());
            self.send_tag = false;
        }
        match self.kind {
            TransportKind::Abridged => abridged::write_packet(payload, quick_ack_request, out),
            TransportKind::Intermediate => {
                intermediate::write_packet(payload, quick_ack_request, &Padding::none(), out);
            }
            TransportKind::PaddedIntermediate => {
                let padding = Padding::random(rng, self.padding);
                intermediate::write_packet(payload, quick_ack_request, &padding, out);
            }
            TransportKind::Full => {
                full::write_packet(payload, quick_ack_request, &mut self.seqs, out);
            }
        }
        Ok(())
    }

    /// Rejects payloads the peer would refuse or the framing cannot express.
    fn check_payload(&self, len: usize) -> Result<(), CodecError> {
        let structural = match self.kind {
            TransportKind::Abridged => abridged::MAX_LEN,
            TransportKind::Intermediate => intermediate::MAX_LEN,
            TransportKind::PaddedIntermediate => intermediate::MAX_LEN - intermediate::MAX_PADDING,
            TransportKind::Full => full::MAX_LEN,
        };
        let max = self.max_packet.min(structural);
        if len > max {
            return Err(CodecError::TooLarge { len, max });
        }
        if self.kind == TransportKind::Abridged && len & 3 != 0 {
            return Err(CodecError::Misaligned { len });
        }
        Ok(())
    }

    fn require(&self, allowed: Role, operation: &'static str) -> Result<(), CodecError> {
        if self.role == allowed {
            Ok(())
        } else {
            Err(CodecError::WrongRole { allowed, operation })
        }
    }

    /// How many leading bytes are the client's init tag (server role, before the first
    /// frame); errors as soon as a received byte differs from the tag.
    fn incoming_tag_len(&self, input: &[u8]) -> Result<usize, CodecError> {
        if !self.expect_tag {
            return Ok(0);
        }
        let tag = self.kind.init_tag();
        if input.iter().zip(tag).any(|(got, want)| got != want) {
            return Err(CodecError::BadInitTag { kind: self.kind });
        }
        Ok(tag.len())
    }
}
