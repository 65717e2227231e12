//! The ClientHello an `ee`-secret client opens with, built the way current Telegram clients
//! build theirs, plus the older 517-byte form.
//!
//! The shape follows the hello description in TDLib's `td/mtproto/TlsInit.cpp` (the
//! non-Apple one, which Telegram Desktop and Android share): a Chrome-like TLS 1.3 hello
//! with GREASE values, 15 cipher suites, and 16 extensions in a fresh random order for every
//! hello between a leading and a trailing GREASE extension: server_name (the secret's
//! domain), status_request, supported_groups (GREASE, X25519MLKEM768, x25519, secp256r1,
//! secp384r1), ec_point_formats, signature_algorithms, ALPN (h2, http/1.1),
//! signed_certificate_timestamp, extended_master_secret, compress_certificate (brotli),
//! session_ticket, supported_versions (GREASE, TLS 1.3, TLS 1.2), psk_key_exchange_modes,
//! key_share (a GREASE share, an X25519MLKEM768 share of 1216 bytes and an x25519 share),
//! application_settings (h2), encrypted_client_hello (an outer ECH of random contents) and
//! renegotiation_info. With the post-quantum share the hello is 1.7 to 1.8 KB, past the 517
//! bytes a padding extension would fill up to, so it carries none.

use rand_core::RngCore;

use super::digest::hmac_sha256;
use super::key_share::{ML_KEM_768_LEN, X25519_LEN, ml_kem_768_public, x25519_public};
use super::{FakeTlsError, RANDOM_AT, RANDOM_LEN, SESSION_ID_LEN};

/// The length hellos shorter than it are padded to, and the exact length of a
/// [`ClientHello::legacy`] hello: 5 bytes of record header and 512 of handshake message.
pub const PADDED_HELLO_LEN: usize = 517;
/// Longest domain a ClientHello carries: TDLib's `ProxySecret::MAX_DOMAIN_LENGTH`, which
/// keeps the 517-byte form within its size.
pub const MAX_DOMAIN_LEN: usize = 182;

/// The cipher suites after the leading GREASE value: the TLS 1.3 suites, then the ECDHE,
/// RSA and legacy ones a browser still offers.
const CIPHER_SUITES: [u16; 15] = [
    0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c,
    0x009d, 0x002f, 0x0035,
];
/// Extension type of server_name.
const SERVER_NAME: u16 = 0x0000;
/// Extension type of padding.
const PADDING: u16 = 0x0015;
/// A hello shorter than this gets a padding extension that brings it to
/// [`PADDED_HELLO_LEN`] (the extension's 4-byte header comes on top).
const PAD_BELOW: usize = PADDED_HELLO_LEN - 4;
/// Named group X25519MLKEM768.
const X25519_ML_KEM_768: u16 = 0x11ec;
/// Named group x25519.
const X25519: u16 = 0x001d;
/// The client's clock is in the last 4 bytes of the digest.
const TIME_AT: usize = RANDOM_LEN - 4;

/// A ClientHello ready to send, and what the client needs to check the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// The record to send.
    pub bytes: Vec<u8>,
    /// The random field as sent (digest with the time mixed in); the server's answer is
    /// keyed with it.
    pub random: [u8; RANDOM_LEN],
}

impl ClientHello {
    /// Builds the hello current Telegram clients send (see the module documentation) for a
    /// proxy with `key` posing as `domain`, stamped with the client's `unix_time`. The
    /// randomness (session id, GREASE values, key shares, extension order, ECH payload
    /// length) comes from `rng`.
    pub fn new<R: RngCore + ?Sized>(
        key: &[u8; 16],
        domain: &str,
        unix_time: u32,
        rng: &mut R,
    ) -> Result<Self, FakeTlsError> {
        check_domain(domain)?;
        let grease = greases(rng);
        let mut extensions = current_extensions(domain, &grease, rng);
        shuffle(&mut extensions, rng);
        Self::assemble(key, unix_time, &grease, &extensions, rng)
    }

    /// Builds the 517-byte hello Telegram clients sent before they offered a post-quantum
    /// key share (and the only size the 2019 release of the official MTProxy recognises):
    /// x25519 only, fewer extensions, and a padding extension up to [`PADDED_HELLO_LEN`].
    pub fn legacy<R: RngCore + ?Sized>(
        key: &[u8; 16],
        domain: &str,
        unix_time: u32,
        rng: &mut R,
    ) -> Result<Self, FakeTlsError> {
        check_domain(domain)?;
        let grease = greases(rng);
        let mut extensions = legacy_extensions(domain, &grease, rng);
        shuffle(&mut extensions, rng);
        Self::assemble(key, unix_time, &grease, &extensions, rng)
    }

    /// The record around `extensions` (already in their order), padded if short, with the
    /// digest stamped into the random.
    pub(super) fn assemble<R: RngCore + ?Sized>(
        key: &[u8; 16],
        unix_time: u32,
        grease: &[u16; 8],
        extensions: &[Vec<u8>],
        rng: &mut R,
    ) -> Result<Self, FakeTlsError> {
        let mut w = Writer::default();
        w.bytes(&[0x16, 0x03, 0x01]);
        w.open();
        // Handshake type ClientHello; the top byte of its 24-bit length is always 0 here.
        w.bytes(&[0x01, 0x00]);
        w.open();
        w.bytes(&[0x03, 0x03]);
        w.bytes(&[0; RANDOM_LEN]);
        w.bytes(&[SESSION_ID_LEN as u8]);
        w.random(SESSION_ID_LEN, rng);
        w.u16((CIPHER_SUITES.len() as u16 + 1) * 2);
        w.u16(grease[0]);
        for suite in CIPHER_SUITES {
            w.u16(suite);
        }
        // One compression method: none.
        w.bytes(&[0x01, 0x00]);
        w.open();
        w.u16(grease[2]);
        w.u16(0);
        for extension in extensions {
            w.bytes(extension);
        }
        w.u16(grease[3]);
        w.bytes(&[0x00, 0x01, 0x00]);
        if let Some(padding) = PAD_BELOW.checked_sub(w.len()).filter(|n| *n > 0) {
            w.u16(PADDING);
            w.open();
            w.bytes(&vec![0; padding]);
            w.close();
        }
        w.close();
        w.close();
        w.close();
        let mut bytes = w.finish();

        let digest = hmac_sha256(key, &[&bytes])?;
        let mut random = digest;
        for (byte, time) in random.iter_mut().skip(TIME_AT).zip(unix_time.to_le_bytes()) {
            *byte ^= time;
        }
        if let Some(slot) = bytes.get_mut(RANDOM_AT..RANDOM_AT + RANDOM_LEN) {
            slot.copy_from_slice(&random);
        }
        Ok(Self { bytes, random })
    }
}

fn check_domain(domain: &str) -> Result<(), FakeTlsError> {
    if domain.len() > MAX_DOMAIN_LEN {
        return Err(FakeTlsError::DomainTooLong {
            len: domain.len(),
            max: MAX_DOMAIN_LEN,
        });
    }
    Ok(())
}

/// Appends bytes, with big-endian `u16` length prefixes filled in when their block closes.
#[derive(Debug, Default)]
struct Writer {
    out: Vec<u8>,
    /// Where each open block's length prefix sits.
    open: Vec<usize>,
}

impl Writer {
    fn bytes(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    fn u16(&mut self, value: u16) {
        self.out.extend_from_slice(&value.to_be_bytes());
    }

    fn random<R: RngCore + ?Sized>(&mut self, len: usize, rng: &mut R) {
        let at = self.out.len();
        self.out.resize(at + len, 0);
        if let Some(slot) = self.out.get_mut(at..) {
            rng.fill_bytes(slot);
        }
    }

    /// Starts a block whose `u16` length prefix [`Writer::close`] fills in.
    fn open(&mut self) {
        self.open.push(self.out.len());
        self.out.extend_from_slice(&[0, 0]);
    }

    /// Ends the innermost open block. Every block built here stays far below 64 KiB (the
    /// domain is bounded), so the length cannot overflow.
    fn close(&mut self) {
        let Some(at) = self.open.pop() else {
            return;
        };
        let len = self.out.len().saturating_sub(at + 2);
        let len = u16::try_from(len).unwrap_or(u16::MAX);
        if let Some(slot) = self.out.get_mut(at..at + 2) {
            slot.copy_from_slice(&len.to_be_bytes());
        }
    }

    fn len(&self) -> usize {
        self.out.len()
    }

    fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// One extension: type, length, body.
pub(super) fn extension(kind: u16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// The server_name extension's body: a list holding one host name.
fn server_name_body(domain: &str) -> Vec<u8> {
    let name = domain.as_bytes();
    let name_len = name.len() as u16;
    let mut body = Vec::with_capacity(name.len() + 5);
    body.extend_from_slice(&(name_len + 3).to_be_bytes());
    body.push(0);
    body.extend_from_slice(&name_len.to_be_bytes());
    body.extend_from_slice(name);
    body
}

/// Random bytes of length `len`.
fn random_vec<R: RngCore + ?Sized>(len: usize, rng: &mut R) -> Vec<u8> {
    let mut out = vec![0; len];
    rng.fill_bytes(&mut out);
    out
}

/// The 16 extensions current clients shuffle (TDLib's `Permutation` op).
pub(super) fn current_extensions<R: RngCore + ?Sized>(
    domain: &str,
    grease: &[u16; 8],
    rng: &mut R,
) -> Vec<Vec<u8>> {
    let [g4hi, g4lo] = grease[4].to_be_bytes();
    let [g6hi, g6lo] = grease[6].to_be_bytes();
    let [pq_hi, pq_lo] = X25519_ML_KEM_768.to_be_bytes();
    // GREASE, X25519MLKEM768, x25519, secp256r1, secp384r1.
    let groups = [
        0x00, 0x0a, g4hi, g4lo, pq_hi, pq_lo, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18,
    ];
    let signature_algorithms = [
        0x00, 0x10, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03, 0x08, 0x05, 0x05, 0x01, 0x08,
        0x06, 0x06, 0x01,
    ];
    let alpn = [
        0x00, 0x0c, 0x02, b'h', b'2', 0x08, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1',
    ];

    // key_share: a one-byte GREASE share, then X25519MLKEM768 (the ML-KEM key followed by
    // an x25519 key, 1216 bytes), then x25519 on its own.
    let mut shares = vec![g4hi, g4lo, 0x00, 0x01, 0x00];
    shares.extend_from_slice(&X25519_ML_KEM_768.to_be_bytes());
    shares.extend_from_slice(&((ML_KEM_768_LEN + X25519_LEN) as u16).to_be_bytes());
    shares.extend_from_slice(&ml_kem_768_public(rng));
    shares.extend_from_slice(&x25519_public(rng));
    shares.extend_from_slice(&X25519.to_be_bytes());
    shares.extend_from_slice(&(X25519_LEN as u16).to_be_bytes());
    shares.extend_from_slice(&x25519_public(rng));
    let mut key_share = (shares.len() as u16).to_be_bytes().to_vec();
    key_share.extend_from_slice(&shares);

    // encrypted_client_hello, outer: HKDF-SHA256 with AES-128-GCM, a random config id, a
    // random 32-byte encapsulated key and a random payload of 144, 176, 208 or 240 bytes.
    let mut ech = vec![0x00, 0x00, 0x01, 0x00, 0x01];
    ech.extend(random_vec(1, rng));
    ech.extend_from_slice(&[0x00, 0x20]);
    ech.extend(random_vec(32, rng));
    let payload_len = 144 + 32 * (rng.next_u32() % 4) as usize;
    ech.extend_from_slice(&(payload_len as u16).to_be_bytes());
    ech.extend(random_vec(payload_len, rng));

    vec![
        extension(SERVER_NAME, &server_name_body(domain)),
        extension(0x0005, &[0x01, 0x00, 0x00, 0x00, 0x00]), // status_request (OCSP)
        extension(0x000a, &groups),                         // supported_groups
        extension(0x000b, &[0x01, 0x00]),                   // ec_point_formats
        extension(0x000d, &signature_algorithms),           // signature_algorithms
        extension(0x0010, &alpn),                           // ALPN: h2, http/1.1
        extension(0x0012, &[]),                             // signed_certificate_timestamp
        extension(0x0017, &[]),                             // extended_master_secret
        extension(0x001b, &[0x02, 0x00, 0x02]),             // compress_certificate: brotli
        extension(0x0023, &[]),                             // session_ticket
        extension(0x002b, &[0x06, g6hi, g6lo, 0x03, 0x04, 0x03, 0x03]), // supported_versions
        extension(0x002d, &[0x01, 0x01]),                   // psk_key_exchange_modes
        extension(0x0033, &key_share),                      // key_share
        extension(0x44cd, &[0x00, 0x03, 0x02, b'h', b'2']), // application_settings: h2
        extension(0xfe0d, &ech),                            // encrypted_client_hello
        extension(0xff01, &[0x00]),                         // renegotiation_info
    ]
}

/// The 15 extensions of the older hello: x25519 alone, no ECH.
fn legacy_extensions<R: RngCore + ?Sized>(
    domain: &str,
    grease: &[u16; 8],
    rng: &mut R,
) -> Vec<Vec<u8>> {
    let [g4hi, g4lo] = grease[4].to_be_bytes();
    let [g6hi, g6lo] = grease[6].to_be_bytes();
    // x25519, secp256r1, secp384r1 after a GREASE group.
    let groups = [0x00, 0x08, g4hi, g4lo, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18];
    // A one-byte share for the GREASE group, then a 32-byte x25519 share.
    let mut key_share = vec![
        0x00, 0x29, g4hi, g4lo, 0x00, 0x01, 0x00, 0x00, 0x1d, 0x00, 0x20,
    ];
    key_share.extend_from_slice(&x25519_public(rng));
    let signature_algorithms = [
        0x00, 0x10, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03, 0x08, 0x05, 0x05, 0x01, 0x08,
        0x06, 0x06, 0x01,
    ];
    let alpn = [
        0x00, 0x0c, 0x02, b'h', b'2', 0x08, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1',
    ];
    vec![
        extension(SERVER_NAME, &server_name_body(domain)),
        extension(0x0017, &[]),           // extended_master_secret
        extension(0xff01, &[0x00]),       // renegotiation_info
        extension(0x000a, &groups),       // supported_groups
        extension(0x000b, &[0x01, 0x00]), // ec_point_formats
        extension(0x0023, &[]),           // session_ticket
        extension(0x0010, &alpn),         // ALPN: h2, http/1.1
        extension(0x0005, &[0x01, 0x00, 0x00, 0x00, 0x00]), // status_request
        extension(0x000d, &signature_algorithms), // signature_algorithms
        extension(0x0012, &[]),           // signed_certificate_timestamp
        extension(0x0033, &key_share),    // key_share
        extension(0x002d, &[0x01, 0x01]), // psk_key_exchange_modes
        extension(0x002b, &[0x06, g6hi, g6lo, 0x03, 0x04, 0x03, 0x03]), // supported_versions
        extension(0x001b, &[0x02, 0x00, 0x02]), // compress_certificate: brotli
        extension(0x4469, &[0x00, 0x03, 0x02, b'h', b'2']), // application_settings (old id)
    ]
}

/// Eight GREASE values (RFC 8701: `0x?a?a`), consecutive pairs distinct, as TDLib draws
/// them: index 0 for the cipher suites, 2 and 3 for the two GREASE extensions, 4 for the
/// groups and the key share, 6 for the versions.
pub(super) fn greases<R: RngCore + ?Sized>(rng: &mut R) -> [u16; 8] {
    let mut bytes = [0u8; 8];
    rng.fill_bytes(&mut bytes);
    let mut high = bytes.map(|b| (b & 0xf0) | 0x0a);
    for pair in high.chunks_exact_mut(2) {
        if let [first, second] = pair
            && first == second
        {
            *second ^= 0x10;
        }
    }
    high.map(|b| u16::from_be_bytes([b, b]))
}

/// Fisher-Yates over `items` (the slight modulo bias is irrelevant for an ordering).
fn shuffle<T, R: RngCore + ?Sized>(items: &mut [T], rng: &mut R) {
    for i in (1..items.len()).rev() {
        let j = rng.next_u32() as usize % (i + 1);
        items.swap(i, j);
    }
}
