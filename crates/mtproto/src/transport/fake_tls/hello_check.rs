//! The proxy's side of the ClientHello: measuring the record, parsing it strictly and
//! checking its digest.
//!
//! Any well-formed TLS 1.3 ClientHello is accepted, whatever its size (up to TLS's 2^14-byte
//! record), extension order and GREASE values, so that the hellos of current clients (about
//! 1.7 KB with a post-quantum key share) pass as well as the older 517-byte ones. Two
//! restrictions real clients never hit: the hello must fit in one record, and its session id
//! must be 32 bytes, since the answer echoes 32 bytes as the official MTProxy's does.

use std::collections::HashSet;

use super::cursor::Cursor;
use super::digest::{ct_eq, hmac_sha256};
use super::record::RECORD_HEADER_LEN;
use super::{FakeTlsError, Progress, RANDOM_AT, RANDOM_LEN, SESSION_ID_LEN};
use crate::transport::ProxySecret;
use crate::transport::wire::array_at;

/// Largest ClientHello record payload: TLS's limit on a plaintext record, 2^14 bytes.
pub const MAX_HELLO_PAYLOAD: usize = 1 << 14;
/// Smallest record payload that holds a ClientHello's fixed fields: handshake header (4),
/// version (2), random (32), session id (33), one cipher suite (4), one compression method
/// (2) and the extensions' length (2).
const MIN_HELLO_PAYLOAD: usize = 4 + 2 + RANDOM_LEN + 1 + SESSION_ID_LEN + 4 + 2 + 2;
/// The client's clock is in the last 4 bytes of the digest.
const TIME_AT: usize = RANDOM_LEN - 4;
/// Extension type of server_name.
const SERVER_NAME: u16 = 0x0000;
/// Extension type of supported_versions.
const SUPPORTED_VERSIONS: u16 = 0x002b;
/// Extension type of key_share.
const KEY_SHARE: u16 = 0x0033;
/// Extension type of pre_shared_key, which must come last.
const PRE_SHARED_KEY: u16 = 0x0029;
/// TLS 1.3's version number.
const TLS_1_3: u16 = 0x0304;
/// What the message is called in errors.
const WHAT: &str = "ClientHello";

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
    /// The first TLS 1.3 cipher suite the client offered, which the answer picks.
    pub cipher_suite: u16,
}

/// Whether a record starts with a ClientHello's header: handshake type, and the legacy
/// record version TLS 1.3 allows on a first hello (TLS 1.0, or TLS 1.2).
pub(crate) fn is_hello_record_start(head: &[u8]) -> bool {
    matches!(head, [0x16, 0x03, 0x01 | 0x03, ..])
}

/// How long the ClientHello at the start of `input` is, once its record header is in: a
/// handshake record with legacy version TLS 1.0 or 1.2, its payload no longer than
/// [`MAX_HELLO_PAYLOAD`] and long enough for a hello's fixed fields.
pub fn client_hello_len(input: &[u8]) -> Result<Progress, FakeTlsError> {
    let Some(&[kind, major, minor, hi, lo]) = input.first_chunk::<RECORD_HEADER_LEN>() else {
        return Ok(Progress::NeedMore {
            at_least: RECORD_HEADER_LEN,
        });
    };
    if !is_hello_record_start(&[kind, major, minor]) {
        return Err(FakeTlsError::Malformed {
            what: WHAT,
            reason: "not a TLS handshake record",
        });
    }
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if len > MAX_HELLO_PAYLOAD {
        return Err(FakeTlsError::RecordTooLarge {
            len,
            max: MAX_HELLO_PAYLOAD,
        });
    }
    if len < MIN_HELLO_PAYLOAD {
        return Err(FakeTlsError::Malformed {
            what: WHAT,
            reason: "record too short for a ClientHello",
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
/// against the fake-TLS secrets among `secrets`: it must be a well-formed TLS 1.3
/// ClientHello, its digest must come from one of them, the server name must be that
/// secret's domain (ASCII case ignored), and the client's clock must be within `window`
/// seconds of `now` (unix time).
///
/// Other secrets in the list are skipped, so the index returned points into the list as
/// given.
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
        if !parsed.server_name.eq_ignore_ascii_case(domain.as_bytes()) {
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
            cipher_suite: parsed.cipher_suite,
        });
    }
    Err(FakeTlsError::NoSecretMatched { tried })
}

/// The fields of a ClientHello the proxy uses.
struct Parsed<'a> {
    random: [u8; RANDOM_LEN],
    session_id: [u8; SESSION_ID_LEN],
    server_name: &'a [u8],
    cipher_suite: u16,
}

/// Parses the record strictly: every length prefix must match what follows it, and the
/// hello must be TLS 1.3's (see [`parse_extensions`]).
fn parse(hello: &[u8]) -> Result<Parsed<'_>, FakeTlsError> {
    let mut input = Cursor::new(hello, WHAT);
    if !is_hello_record_start(&input.array::<3>("no record header")?) {
        return Err(input.malformed("not a TLS handshake record"));
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
        WHAT,
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
    let cipher_suite = suites
        .chunks_exact(2)
        .filter_map(|pair| <[u8; 2]>::try_from(pair).ok())
        .map(u16::from_be_bytes)
        .find(|suite| (0x1301..=0x1305).contains(suite))
        .ok_or_else(|| body.malformed("no TLS 1.3 cipher suite offered"))?;
    // TLS 1.3 hellos offer exactly one compression method: none.
    if body.bytes8("compression methods cut short")? != [0x00] {
        return Err(body.malformed("compression methods other than none alone"));
    }
    let extensions = body.block16("extensions cut short")?;
    if !body.is_empty() {
        return Err(body.malformed("bytes after the extensions"));
    }
    let server_name = parse_extensions(extensions)?;
    Ok(Parsed {
        random,
        session_id,
        server_name,
        cipher_suite,
    })
}

/// Walks the extensions, any order and any number, and returns the host name: no type may
/// repeat, pre_shared_key may only come last, server_name must hold a host name,
/// supported_versions must offer TLS 1.3, and key_share must be a well-formed share list.
/// Other extensions (GREASE ones included) are skipped unread.
fn parse_extensions(mut extensions: Cursor<'_>) -> Result<&[u8], FakeTlsError> {
    let mut seen = HashSet::new();
    let mut server_name = None;
    let mut tls_1_3 = false;
    let mut after_psk = false;
    while !extensions.is_empty() {
        if after_psk {
            return Err(extensions.malformed("pre_shared_key is not the last extension"));
        }
        let kind = extensions.u16("extension type cut short")?;
        let mut data = extensions.block16("extension cut short")?;
        if !seen.insert(kind) {
            return Err(extensions.malformed("an extension type appears twice"));
        }
        match kind {
            SERVER_NAME => server_name = parse_server_name(data)?,
            SUPPORTED_VERSIONS => tls_1_3 = offers_tls_1_3(data)?,
            KEY_SHARE => check_key_shares(&mut data)?,
            PRE_SHARED_KEY => after_psk = true,
            _ => {}
        }
    }
    if !tls_1_3 {
        return Err(extensions.malformed("TLS 1.3 not among the supported versions"));
    }
    server_name.ok_or_else(|| extensions.malformed("no server name"))
}

/// The host name in a server_name extension, if it has one.
fn parse_server_name(mut data: Cursor<'_>) -> Result<Option<&[u8]>, FakeTlsError> {
    let mut list = data.block16("server name list cut short")?;
    if !data.is_empty() {
        return Err(data.malformed("bytes after the server name list"));
    }
    let mut host = None;
    while !list.is_empty() {
        let name_type = list.u8("server name type cut short")?;
        let name = list.bytes16("server name cut short")?;
        if name.is_empty() {
            return Err(list.malformed("empty server name"));
        }
        if name_type == 0 && host.is_none() {
            host = Some(name);
        }
    }
    Ok(host)
}

/// Whether a supported_versions list (one-byte length, then `u16`s) offers TLS 1.3.
fn offers_tls_1_3(mut data: Cursor<'_>) -> Result<bool, FakeTlsError> {
    let versions = data.bytes8("supported versions cut short")?;
    if !data.is_empty() || versions.is_empty() || versions.len() % 2 != 0 {
        return Err(data.malformed("supported versions list of bad length"));
    }
    Ok(versions
        .chunks_exact(2)
        .any(|pair| pair == TLS_1_3.to_be_bytes()))
}

/// A key_share list: entries of a group and a non-empty key, lengths adding up.
fn check_key_shares(data: &mut Cursor<'_>) -> Result<(), FakeTlsError> {
    let mut shares = data.block16("key share list cut short")?;
    if !data.is_empty() {
        return Err(data.malformed("bytes after the key share list"));
    }
    while !shares.is_empty() {
        shares.u16("key share group cut short")?;
        if shares.bytes16("key share cut short")?.is_empty() {
            return Err(shares.malformed("empty key share"));
        }
    }
    Ok(())
}
