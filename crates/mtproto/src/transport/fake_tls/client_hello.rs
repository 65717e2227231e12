//! The ClientHello: built by the client with its digest, checked by the proxy.

use rand_core::RngCore;

use super::cursor::Cursor;
use super::digest::{ct_eq, hmac_sha256};
use super::record::{MAX_RECORD_PAYLOAD, RECORD_HEADER_LEN};
use super::{FakeTlsError, Progress, RANDOM_AT, RANDOM_LEN, SESSION_ID_LEN};
use crate::transport::ProxySecret;
use crate::transport::wire::array_at;

/// Length of the ClientHello record clients send: 5 bytes of record header and 512 of
/// handshake message.
pub const CLIENT_HELLO_LEN: usize = 517;
/// Longest domain [`ClientHello::new`] fits into [`CLIENT_HELLO_LEN`] bytes.
pub const MAX_DOMAIN_LEN: usize = 215;

/// Record header (handshake, TLS 1.0, 512 bytes), handshake header (ClientHello, 508
/// bytes), legacy version TLS 1.2: the first 11 bytes of every hello built here.
const PREFIX: [u8; RANDOM_AT] = [
    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
];
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
/// The client's clock is in the last 4 bytes of the digest.
const TIME_AT: usize = RANDOM_LEN - 4;

/// A ClientHello ready to send, and what the client needs to check the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// The [`CLIENT_HELLO_LEN`]-byte record to send.
    pub bytes: Vec<u8>,
    /// The random field as sent (digest with the time mixed in); the server's answer is
    /// keyed with it.
    pub random: [u8; RANDOM_LEN],
}

/// What the proxy learned from a ClientHello whose digest one of its secrets produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedHello {
    /// Index of the matching secret in the list given to [`check_client_hello`].
    pub secret_index: usize,
    /// The random field as received; the answer's digest covers it.
    pub client_random: [u8; RANDOM_LEN],
    /// The session id, which the answer echoes.
    pub session_id: [u8; SESSION_ID_LEN],
    /// The client's unix time, recovered from the digest.
    pub client_time: u32,
}

impl ClientHello {
    /// Builds the hello for a proxy with `key` posing as `domain`, stamped with the
    /// client's `unix_time`. The randomness (session id, GREASE values, key share,
    /// extension order) comes from `rng`.
    pub fn new<R: RngCore + ?Sized>(
        key: &[u8; 16],
        domain: &str,
        unix_time: u32,
        rng: &mut R,
    ) -> Result<Self, FakeTlsError> {
        if domain.len() > MAX_DOMAIN_LEN {
            return Err(FakeTlsError::DomainTooLong {
                len: domain.len(),
                max: MAX_DOMAIN_LEN,
            });
        }
        let grease = greases(rng);
        let mut out = Vec::with_capacity(CLIENT_HELLO_LEN);
        out.extend_from_slice(&PREFIX);
        out.extend_from_slice(&[0; RANDOM_LEN]);
        out.push(SESSION_ID_LEN as u8);
        let mut session_id = [0u8; SESSION_ID_LEN];
        rng.fill_bytes(&mut session_id);
        out.extend_from_slice(&session_id);
        out.extend_from_slice(&((CIPHER_SUITES.len() as u16 + 1) * 2).to_be_bytes());
        out.extend_from_slice(&grease[0].to_be_bytes());
        for suite in CIPHER_SUITES {
            out.extend_from_slice(&suite.to_be_bytes());
        }
        // One compression method: none.
        out.extend_from_slice(&[0x01, 0x00]);
        let extensions_at = out.len();
        out.extend_from_slice(&[0, 0]);
        extension(&mut out, grease[2], &[]);
        let mut middle = middle_extensions(domain, &grease, rng);
        shuffle(&mut middle, rng);
        for ext in middle {
            out.extend_from_slice(&ext);
        }
        extension(&mut out, grease[3], &[0]);
        // The padding extension's 4-byte header always fits: MAX_DOMAIN_LEN is chosen so.
        let padding = CLIENT_HELLO_LEN.saturating_sub(out.len() + 4);
        extension(&mut out, PADDING, &vec![0; padding]);
        let extensions_len = out.len().saturating_sub(extensions_at + 2) as u16;
        if let Some(slot) = out.get_mut(extensions_at..extensions_at + 2) {
            slot.copy_from_slice(&extensions_len.to_be_bytes());
        }
        if out.len() != CLIENT_HELLO_LEN {
            return Err(FakeTlsError::DomainTooLong {
                len: domain.len(),
                max: MAX_DOMAIN_LEN,
            });
        }

        let digest = hmac_sha256(key, &[&out])?;
        let mut random = digest;
        for (byte, time) in random.iter_mut().skip(TIME_AT).zip(unix_time.to_le_bytes()) {
            *byte ^= time;
        }
        if let Some(slot) = out.get_mut(RANDOM_AT..RANDOM_AT + RANDOM_LEN) {
            slot.copy_from_slice(&random);
        }
        Ok(Self { bytes: out, random })
    }
}

/// How long the ClientHello at the start of `input` is, once its record header is in:
/// a handshake record, legacy version TLS 1.0, at most [`MAX_RECORD_PAYLOAD`] bytes.
pub fn client_hello_len(input: &[u8]) -> Result<Progress, FakeTlsError> {
    let Some(&[kind, major, minor, hi, lo]) = input.first_chunk::<RECORD_HEADER_LEN>() else {
        return Ok(Progress::NeedMore {
            at_least: RECORD_HEADER_LEN,
        });
    };
    if [kind, major, minor] != [0x16, 0x03, 0x01] {
        return Err(FakeTlsError::Malformed {
            what: "ClientHello",
            reason: "not a TLS 1.0 handshake record",
        });
    }
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if len > MAX_RECORD_PAYLOAD {
        return Err(FakeTlsError::RecordTooLarge {
            len,
            max: MAX_RECORD_PAYLOAD,
        });
    }
    let total = RECORD_HEADER_LEN + len;
    Ok(if input.len() < total {
        Progress::NeedMore { at_least: total }
    } else {
        Progress::Complete { len: total }
    })
}

/// Checks a complete ClientHello record (exactly the bytes [`client_hello_len`] measured)
/// against the fake-TLS secrets among `secrets`: the digest must come from one of them,
/// the server name must be that secret's domain (ASCII case ignored), and the client's
/// clock must be within `window` seconds of `now` (unix time).
///
/// Other secrets in the list are skipped, so the index returned points into the list as
/// given. The structure is parsed strictly (every length must add up) but the extensions
/// may come in any order and any number.
pub fn check_client_hello(
    hello: &[u8],
    secrets: &[ProxySecret],
    now: u32,
    window: u32,
) -> Result<AcceptedHello, FakeTlsError> {
    let parsed = parse(hello)?;
    let mut zeroed = hello.to_vec();
    if let Some(random) = zeroed.get_mut(RANDOM_AT..RANDOM_AT + RANDOM_LEN) {
        random.fill(0);
    }
    let sent_head: [u8; TIME_AT] = array_at(&parsed.random, 0);
    let mut tried = 0;
    for (secret_index, secret) in secrets.iter().enumerate() {
        let ProxySecret::FakeTls { key, domain } = secret else {
            continue;
        };
        tried += 1;
        let digest = hmac_sha256(key, &[&zeroed])?;
        let expected_head: [u8; TIME_AT] = array_at(&digest, 0);
        if !ct_eq(&expected_head, &sent_head) {
            continue;
        }
        if !parsed
            .server_name
            .is_some_and(|name| name.eq_ignore_ascii_case(domain.as_bytes()))
        {
            return Err(FakeTlsError::WrongDomain);
        }
        let mut time: [u8; 4] = array_at(&parsed.random, TIME_AT);
        for (byte, mask) in time.iter_mut().zip(digest.iter().skip(TIME_AT)) {
            *byte ^= mask;
        }
        let client_time = u32::from_le_bytes(time);
        let skew = i64::from(client_time) - i64::from(now);
        if skew.unsigned_abs() > u64::from(window) {
            return Err(FakeTlsError::ClockSkew { skew, window });
        }
        return Ok(AcceptedHello {
            secret_index,
            client_random: parsed.random,
            session_id: parsed.session_id,
            client_time,
        });
    }
    Err(FakeTlsError::NoSecretMatched { tried })
}

/// The fields of a ClientHello the proxy uses.
struct Parsed<'a> {
    random: [u8; RANDOM_LEN],
    session_id: [u8; SESSION_ID_LEN],
    server_name: Option<&'a [u8]>,
}

/// Parses the record strictly: every length prefix must match what follows it.
fn parse(hello: &[u8]) -> Result<Parsed<'_>, FakeTlsError> {
    let mut input = Cursor::new(hello, "ClientHello");
    if input.array::<3>("no record header")? != [0x16, 0x03, 0x01] {
        return Err(input.malformed("not a TLS 1.0 handshake record"));
    }
    let mut record = input.block16("record shorter than its length")?;
    if !input.is_empty() {
        return Err(input.malformed("bytes after the record"));
    }
    if record.u8("empty record")? != 0x01 {
        return Err(record.malformed("not a ClientHello"));
    }
    let len = record.u24("no handshake length")?;
    let mut body = Cursor::new(
        record.take(len, "handshake message shorter than its length")?,
        "ClientHello",
    );
    if !record.is_empty() {
        return Err(record.malformed("record longer than the handshake message"));
    }
    if body.array::<2>("no version")? != [0x03, 0x03] {
        return Err(body.malformed("legacy version is not TLS 1.2"));
    }
    let random = body.array::<RANDOM_LEN>("no random")?;
    if usize::from(body.u8("no session id")?) != SESSION_ID_LEN {
        return Err(body.malformed("session id is not 32 bytes"));
    }
    let session_id = body.array::<SESSION_ID_LEN>("session id cut short")?;
    let suites = body.bytes16("cipher suites cut short")?;
    if suites.is_empty() || suites.len() % 2 != 0 {
        return Err(body.malformed("cipher suite list of odd or zero length"));
    }
    let compression = usize::from(body.u8("no compression methods")?);
    body.take(compression, "compression methods cut short")?;
    let mut extensions = body.block16("extensions cut short")?;
    if !body.is_empty() {
        return Err(body.malformed("bytes after the extensions"));
    }
    let mut server_name = None;
    while !extensions.is_empty() {
        let kind = extensions.u16("extension type cut short")?;
        let data = extensions.block16("extension cut short")?;
        if kind == SERVER_NAME {
            server_name = parse_server_name(data)?;
        }
    }
    Ok(Parsed {
        random,
        session_id,
        server_name,
    })
}

/// The host name in a server_name extension, if it has one.
fn parse_server_name(mut data: Cursor<'_>) -> Result<Option<&[u8]>, FakeTlsError> {
    let mut list = data.block16("server name list cut short")?;
    while !list.is_empty() {
        let name_type = list.u8("server name type cut short")?;
        let name = list.bytes16("server name cut short")?;
        if name_type == 0 {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// Eight GREASE values (RFC 8701: `0x?a?a`), consecutive pairs distinct: index 0 for the
/// cipher suites, 2 and 3 for the two GREASE extensions, 4 for the groups and the key
/// share, 6 for the versions.
fn greases<R: RngCore + ?Sized>(rng: &mut R) -> [u16; 8] {
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

/// The extensions between the two GREASE ones, in a browser's usual set; their order is
/// shuffled by the caller.
fn middle_extensions<R: RngCore + ?Sized>(
    domain: &str,
    grease: &[u16; 8],
    rng: &mut R,
) -> Vec<Vec<u8>> {
    let name = domain.as_bytes();
    let name_len = name.len() as u16;
    let mut server_name = Vec::with_capacity(name.len() + 5);
    server_name.extend_from_slice(&(name_len + 3).to_be_bytes());
    server_name.push(0);
    server_name.extend_from_slice(&name_len.to_be_bytes());
    server_name.extend_from_slice(name);

    let [g4hi, g4lo] = grease[4].to_be_bytes();
    let [g6hi, g6lo] = grease[6].to_be_bytes();
    // x25519, secp256r1, secp384r1 after a GREASE group.
    let groups = [0x00, 0x08, g4hi, g4lo, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18];
    let mut key = [0u8; 32];
    rng.fill_bytes(&mut key);
    if let Some(last) = key.last_mut() {
        *last &= 0x7f;
    }
    // A one-byte share for the GREASE group, then a 32-byte x25519 share.
    let mut key_share = vec![
        0x00, 0x29, g4hi, g4lo, 0x00, 0x01, 0x00, 0x00, 0x1d, 0x00, 0x20,
    ];
    key_share.extend_from_slice(&key);
    let signature_algorithms = [
        0x00, 0x10, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03, 0x08, 0x05, 0x05, 0x01, 0x08,
        0x06, 0x06, 0x01,
    ];
    let alpn = [
        0x00, 0x0c, 0x02, b'h', b'2', 0x08, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1',
    ];

    let list: [(u16, &[u8]); 15] = [
        (SERVER_NAME, &server_name),
        (0x0017, &[]),                                         // extended_master_secret
        (0xff01, &[0x00]),                                     // renegotiation_info
        (0x000a, &groups),                                     // supported_groups
        (0x000b, &[0x01, 0x00]),                               // ec_point_formats
        (0x0023, &[]),                                         // session_ticket
        (0x0010, &alpn),                                       // ALPN: h2, http/1.1
        (0x0005, &[0x01, 0x00, 0x00, 0x00, 0x00]),             // status_request (OCSP)
        (0x000d, &signature_algorithms),                       // signature_algorithms
        (0x0012, &[]),                                         // signed_certificate_timestamp
        (0x0033, &key_share),                                  // key_share
        (0x002d, &[0x01, 0x01]),                               // psk_key_exchange_modes
        (0x002b, &[0x06, g6hi, g6lo, 0x03, 0x04, 0x03, 0x03]), // supported_versions
        (0x001b, &[0x02, 0x00, 0x02]),                         // compress_certificate: brotli
        (0x4469, &[0x00, 0x03, 0x02, b'h', b'2']),             // application_settings: h2
    ];
    list.iter()
        .map(|(kind, body)| {
            let mut ext = Vec::with_capacity(body.len() + 4);
            extension(&mut ext, *kind, body);
            ext
        })
        .collect()
}

/// Appends one extension: type, length, body.
fn extension(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
}

/// Fisher-Yates over `items` (the slight modulo bias is irrelevant for an ordering).
fn shuffle<T, R: RngCore + ?Sized>(items: &mut [T], rng: &mut R) {
    for i in (1..items.len()).rev() {
        let j = rng.next_u32() as usize % (i + 1);
        items.swap(i, j);
    }
}
