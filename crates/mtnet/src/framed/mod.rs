//! Packet streams: a [`Codec`] (and optionally an [`Obfuscation`]) over any byte stream, split
//! into a [`PacketReader`] and a [`PacketWriter`] that can live in different tasks.
//!
//! [`Framing`] describes one connection's framing and does the split.

mod incoming;
mod reader;
mod writer;

use std::sync::{Arc, Mutex, PoisonError};

use mtcrypto::CryptoRngCore;
use mtproto::transport::{Codec, Obfuscation, Role, TransportKind};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

pub use incoming::Incoming;
pub use reader::PacketReader;
pub use writer::PacketWriter;

use crate::NetError;

/// The framing of one connection, before it is attached to a byte stream.
#[derive(Debug)]
pub struct Framing {
    codec: Codec,
    obfuscation: Option<Obfuscation>,
    preamble: Vec<u8>,
    initial: Vec<u8>,
}

impl Framing {
    /// Any codec, with optional obfuscation. Nothing is sent before the first packet except
    /// what the codec itself emits (a client codec's init tag); for an obfuscated stream the
    /// codec must have no init tag ([`Codec::without_init_tag`]) and the 64-byte header is
    /// added with [`Framing::with_preamble`].
    pub fn new(codec: Codec, obfuscation: Option<Obfuscation>) -> Self {
        Self {
            codec,
            obfuscation,
            preamble: Vec::new(),
            initial: Vec::new(),
        }
    }

    /// A client on a plain stream: the init tag goes first, on its own if
    /// [`PacketWriter::flush_preamble`] is called before the first packet.
    pub fn client(kind: TransportKind, max_packet: usize) -> Self {
        Self::new(
            Codec::client(kind)
                .without_init_tag()
                .with_max_packet(max_packet),
            None,
        )
        .with_preamble(kind.init_tag().to_vec())
    }

    /// A client on an obfuscated stream: draws the 64-byte header (bound to an MTProxy
    /// `secret` if given) and sends it first. `dc_id` goes into the header.
    pub fn client_obfuscated<R: CryptoRngCore + ?Sized>(
        kind: TransportKind,
        dc_id: i16,
        secret: Option<&[u8; 16]>,
        max_packet: usize,
        rng: &mut R,
    ) -> Result<Self, NetError> {
        let (header, obfuscation) = Obfuscation::client(kind, dc_id, secret, rng)?;
        Ok(Self::new(
            Codec::client(kind)
                .without_init_tag()
                .with_max_packet(max_packet),
            Some(obfuscation),
        )
        .with_preamble(header.to_vec()))
    }

    /// A server on a plain stream; the client's init tag is expected at the start of the
    /// stream (or of the bytes given with [`Framing::with_initial`]).
    pub fn server(kind: TransportKind, max_packet: usize) -> Self {
        Self::new(Codec::server(kind).with_max_packet(max_packet), None)
    }

    /// A server on an obfuscated stream whose header was accepted with
    /// [`Obfuscation::server`].
    pub fn server_obfuscated(
        kind: TransportKind,
        obfuscation: Obfuscation,
        max_packet: usize,
    ) -> Self {
        Self::new(
            Codec::server(kind)
                .without_init_tag()
                .with_max_packet(max_packet),
            Some(obfuscation),
        )
    }

    /// Raw bytes the writer sends before its first packet, unencrypted (the init tag or the
    /// obfuscation header).
    #[must_use]
    pub fn with_preamble(mut self, preamble: Vec<u8>) -> Self {
        self.preamble = preamble;
        self
    }

    /// Bytes already read from the stream (as received, still encrypted if obfuscated) that
    /// the reader must decode first.
    #[must_use]
    pub fn with_initial(mut self, initial: Vec<u8>) -> Self {
        self.initial = initial;
        self
    }

    /// The transport kind.
    pub fn kind(&self) -> TransportKind {
        self.codec.kind()
    }

    /// The role.
    pub fn role(&self) -> Role {
        self.codec.role()
    }

    /// Attaches the framing to any byte stream. Reads and writes go through a lock the two
    /// halves share only for the duration of each poll.
    pub fn split<S>(self, io: S) -> (PacketReader, PacketWriter)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (read, write) = tokio::io::split(io);
        self.from_halves(Box::new(read), Box::new(write))
    }

    /// Attaches the framing to a TCP stream, whose halves need no lock.
    pub fn split_tcp(self, stream: TcpStream) -> (PacketReader, PacketWriter) {
        let (read, write) = stream.into_split();
        self.from_halves(Box::new(read), Box::new(write))
    }

    /// Attaches the framing to separate read and write halves.
    pub fn from_halves(
        self,
        read: Box<dyn AsyncRead + Unpin + Send>,
        write: Box<dyn AsyncWrite + Unpin + Send>,
    ) -> (PacketReader, PacketWriter) {
        let obfuscation = self.obfuscation.map(SharedObfuscation::new);
        let reader = PacketReader::new(read, self.codec.clone(), obfuscation.clone(), self.initial);
        let writer = PacketWriter::new(write, self.codec, obfuscation, self.preamble);
        (reader, writer)
    }
}

/// The obfuscation streams shared by the two halves. `Obfuscation` keeps both directions in
/// one value; the reader only decrypts and the writer only encrypts, so the lock is held for
/// one buffer's AES-CTR at a time and is never contended for long.
#[derive(Debug, Clone)]
pub(crate) struct SharedObfuscation(Arc<Mutex<Obfuscation>>);

impl SharedObfuscation {
    fn new(obfuscation: Obfuscation) -> Self {
        Self(Arc::new(Mutex::new(obfuscation)))
    }

    pub(crate) fn encrypt(&self, buf: &mut [u8]) {
        // A poisoned lock only means another thread panicked mid-call; the cipher state is
        // still a valid keystream position, and the connection is broken anyway in that case.
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .encrypt(buf);
    }

    pub(crate) fn decrypt(&self, buf: &mut [u8]) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .decrypt(buf);
    }
}
