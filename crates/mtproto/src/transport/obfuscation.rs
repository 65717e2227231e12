//! Transport obfuscation: AES-256-CTR over the whole stream, keyed from a 64-byte random
//! header the client sends first.
//!
//! Header layout: bytes 8..40 and 40..56 are the client-to-server key and iv; the same 48
//! bytes reversed give the server-to-client key and iv. With an MTProxy secret each key
//! becomes `SHA256(key ++ secret)`. Bytes 56..60 hold the protocol tag and 60..62 the DC id
//! (i16 LE); the client sends them encrypted, everything before them in the clear.

use mtcrypto::AesCtr;
use mtcrypto::hash::sha256_concat;
use rand_core::RngCore;

use super::TransportKind;
use super::wire::array_at;

/// Length of the obfuscation header.
pub const HEADER_LEN: usize = 64;

/// Offset of the protocol tag; the encrypted part of the sent header starts here.
const TAG_AT: usize = 56;
/// Offset of the DC id.
const DC_AT: usize = 60;
/// Draws allowed before giving up on the random source: a fair source is rejected about
/// once in 60 draws, so reaching this means it is broken (e.g. constant).
const MAX_DRAWS: usize = 1000;
/// First words the client must avoid, so that the server can tell an obfuscated stream from
/// HTTP, fake TLS and the plain intermediate transports.
const FORBIDDEN_FIRST_WORDS: [[u8; 4]; 7] = [
    *b"HEAD",
    *b"POST",
    *b"GET ",
    *b"OPTI",
    [0xdd; 4],
    [0xee; 4],
    [0x16, 0x03, 0x01, 0x02],
];

/// Why an obfuscated connection could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ObfuscationError {
    /// The full transport has no obfuscated form.
    #[error("the {kind:?} transport cannot be obfuscated")]
    NotObfuscatable {
        /// The kind asked for.
        kind: TransportKind,
    },
    /// The decrypted header does not carry a known protocol tag.
    #[error("obfuscation header carries no known protocol tag")]
    UnknownTag,
    /// With every configured secret, the decrypted header carries no known protocol tag.
    #[error("obfuscation header matches none of the {tried} proxy secrets")]
    NoSecretMatched {
        /// How many secrets were tried.
        tried: usize,
    },
    /// The random source produced no acceptable header in many draws.
    #[error("random source produced no acceptable obfuscation header")]
    RandomSourceStuck,
}

/// The two AES-256-CTR streams of an obfuscated connection, one per direction.
///
/// Both keystreams continue across calls, so buffers of any size can be passed in stream
/// order. Sits under any codec: encode, then [`Obfuscation::encrypt`]; receive, then
/// [`Obfuscation::decrypt`], then decode. Not `Clone`: two copies of a stream would encrypt
/// different bytes with the same keystream.
#[derive(Debug)]
pub struct Obfuscation {
    encryptor: AesCtr,
    decryptor: AesCtr,
}

/// What the server learned from a client's obfuscation header.
#[derive(Debug)]
pub struct Accepted {
    /// The transport the client will speak, without an init tag on the stream.
    pub kind: TransportKind,
    /// The DC id the client asked for (negative for media DCs, +10000 for test DCs).
    pub dc_id: i16,
    /// Index of the matching secret, when secrets were given.
    pub secret_index: Option<usize>,
    /// The server's streams, positioned after the header.
    pub obfuscation: Obfuscation,
}

impl Obfuscation {
    /// Starts a client connection: returns the 64 bytes to send first and the streams for
    /// everything after them.
    ///
    /// `dc_id` is the DC to reach (negative for media DCs, +10000 for test DCs); `secret` is
    /// the 16-byte MTProxy key, if connecting through one.
    pub fn client<R: RngCore + ?Sized>(
        kind: TransportKind,
        dc_id: i16,
        secret: Option<&[u8; 16]>,
        rng: &mut R,
    ) -> Result<([u8; HEADER_LEN], Obfuscation), ObfuscationError> {
        let tag = kind
            .obfuscation_tag()
            .ok_or(ObfuscationError::NotObfuscatable { kind })?;
        let mut header = random_header(rng)?;
        let trailer = header.iter_mut().skip(TAG_AT);
        for (dst, src) in trailer.zip(tag.iter().chain(&dc_id.to_le_bytes())) {
            *dst = *src;
        }
        let (mut encryptor, decryptor) = streams(&header, secret);
        // The whole header goes through the encryptor, so its keystream continues at byte 64,
        // but only bytes 56..64 (tag, DC id, two random bytes) are sent encrypted.
        let mut encrypted = header;
        encryptor.apply(&mut encrypted);
        for (dst, src) in header.iter_mut().zip(encrypted).skip(TAG_AT) {
            *dst = src;
        }
        Ok((
            header,
            Obfuscation {
                encryptor,
                decryptor,
            },
        ))
    }

    /// Accepts a client's obfuscation header on the server side.
    ///
    /// With no `secrets`, the header must carry a known tag without one. Otherwise every
    /// secret is tried (as an MTProxy front does) and the first giving a known tag wins; the
    /// tag is the only check, so a wrong secret passes by chance about once in 1.4 billion.
    /// Which tags a given secret allows (e.g. only padded intermediate for a `dd` secret) is
    /// the caller's policy.
    pub fn server(
        header: &[u8; HEADER_LEN],
        secrets: &[[u8; 16]],
    ) -> Result<Accepted, ObfuscationError> {
        if secrets.is_empty() {
            return accept(header, None, None).ok_or(ObfuscationError::UnknownTag);
        }
        secrets
            .iter()
            .enumerate()
            .find_map(|(index, secret)| accept(header, Some(secret), Some(index)))
            .ok_or(ObfuscationError::NoSecretMatched {
                tried: secrets.len(),
            })
    }

    /// Encrypts outgoing bytes in place.
    pub fn encrypt(&mut self, buf: &mut [u8]) {
        self.encryptor.apply(buf);
    }

    /// Decrypts incoming bytes in place.
    pub fn decrypt(&mut self, buf: &mut [u8]) {
        self.decryptor.apply(buf);
    }
}

/// Draws random headers until one passes the client rules.
fn random_header<R: RngCore + ?Sized>(rng: &mut R) -> Result<[u8; HEADER_LEN], ObfuscationError> {
    let mut header = [0u8; HEADER_LEN];
    for _ in 0..MAX_DRAWS {
        rng.fill_bytes(&mut header);
        if acceptable(&header) {
            return Ok(header);
        }
    }
    Err(ObfuscationError::RandomSourceStuck)
}

/// The client rules: no leading `0xef` (abridged), no first word that another protocol
/// starts with, and non-zero bytes 4..8 (a full transport's first sequence number is 0).
fn acceptable(header: &[u8; HEADER_LEN]) -> bool {
    let first: [u8; 4] = array_at(header, 0);
    let second: [u8; 4] = array_at(header, 4);
    // TDLib avoids only `16 03 01 02`, the 517-byte hello's start; detection now takes any
    // ClientHello record start for fake TLS, so those are avoided as a whole.
    first[0] != 0xef
        && !FORBIDDEN_FIRST_WORDS.contains(&first)
        && !super::fake_tls::is_hello_record_start(&first)
        && second != [0; 4]
}

/// The client-to-server and server-to-client streams for `header`.
fn streams(header: &[u8; HEADER_LEN], secret: Option<&[u8; 16]>) -> (AesCtr, AesCtr) {
    let forward: [u8; 48] = array_at(header, 8);
    let mut backward = forward;
    backward.reverse();
    (stream(&forward, secret), stream(&backward, secret))
}

/// Key (first 32 bytes, hashed with the secret if any) and iv (last 16) from 48 bytes.
fn stream(material: &[u8; 48], secret: Option<&[u8; 16]>) -> AesCtr {
    let mut key: [u8; 32] = array_at(material, 0);
    let iv: [u8; 16] = array_at(material, 32);
    if let Some(secret) = secret {
        key = sha256_concat(&[&key, secret]);
    }
    AesCtr::new(&key, &iv)
}

/// The server's side of `header` under one secret, if it yields a known tag.
fn accept(
    header: &[u8; HEADER_LEN],
    secret: Option<&[u8; 16]>,
    secret_index: Option<usize>,
) -> Option<Accepted> {
    let (mut decryptor, encryptor) = streams(header, secret);
    let mut plain = *header;
    decryptor.apply(&mut plain);
    let kind = TransportKind::from_obfuscation_tag(array_at(&plain, TAG_AT))?;
    Some(Accepted {
        kind,
        dc_id: i16::from_le_bytes(array_at(&plain, DC_AT)),
        secret_index,
        obfuscation: Obfuscation {
            encryptor,
            decryptor,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_headers_rejected() {
        let mut header = [1u8; HEADER_LEN];
        assert!(acceptable(&header));
        header[0] = 0xef;
        assert!(!acceptable(&header));
        for word in FORBIDDEN_FIRST_WORDS {
            header[..4].copy_from_slice(&word);
            assert!(!acceptable(&header), "{word:?}");
        }
        for tls in [[0x16, 0x03, 0x01, 0x06], [0x16, 0x03, 0x03, 0x7f]] {
            header[..4].copy_from_slice(&tls);
            assert!(!acceptable(&header), "{tls:?}");
        }
        header[..4].copy_from_slice(&[1; 4]);
        header[4..8].copy_from_slice(&[0; 4]);
        assert!(!acceptable(&header));
    }

    #[test]
    fn stuck_random_source_is_an_error() {
        struct Zeros;
        impl RngCore for Zeros {
            fn next_u32(&mut self) -> u32 {
                0
            }
            fn next_u64(&mut self) -> u64 {
                0
            }
            fn fill_bytes(&mut self, dest: &mut [u8]) {
                dest.fill(0);
            }
            fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
                dest.fill(0);
                Ok(())
            }
        }
        assert_eq!(
            Obfuscation::client(TransportKind::Abridged, 2, None, &mut Zeros).err(),
            Some(ObfuscationError::RandomSourceStuck)
        );
    }
}
